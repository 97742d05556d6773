//! From rule specs to a [`RuleSet`]: parse every rule, de-duplicate atoms across rules, and
//! build one index per kind of atom.

use crate::syntax::{self, Account, Atom, Expr, HasFlag, IsFlag, Op};
use crate::tokens::{LazyPattern, TokenIndex};
use crate::{text, xrules, Compiled, RuleError, RuleSpec, RuleWarning, Suppressions, WatchSpec};
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use regex_automata::meta;
use regex_automata::util::syntax as re_syntax;
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::hash_map::Entry;
use streamer_model::{Platform, Severity};

/// A rule parsed, before compilation: shared with the X translation.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub id: String,
    pub expr: Expr,
    pub severity: Severity,
    pub tags: Vec<String>,
    /// Which watch list the rule came from, `None` for a `[[rules]]` entry.
    pub watch: Option<WatchKind>,
    /// [`RuleSpec::line`], for errors found after parsing.
    pub line: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WatchKind {
    Keyword,
    Domain,
    Account,
    Sltt,
}

/// Parses every rule and watch entry; errors and notices for all of them.
pub(crate) fn prepare(
    rules: &[RuleSpec],
    watch: &WatchSpec,
) -> (Vec<Prepared>, Vec<RuleError>, Vec<RuleWarning>) {
    let mut out = Vec::with_capacity(rules.len() + watch.keywords.len() + watch.domains.len());
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut seen: FxHashSet<String> = FxHashSet::default();
    let mut notices = Vec::new();
    let mut check_id = |id: &str, line: Option<usize>, errors: &mut Vec<RuleError>| -> bool {
        if id.trim().is_empty() {
            errors.push(RuleError {
                rule_id: id.to_string(),
                line: line.unwrap_or(1),
                column: 1,
                message: "expected a non-empty rule id".into(),
            });
            return false;
        }
        if !seen.insert(id.to_string()) {
            errors.push(RuleError {
                rule_id: id.to_string(),
                line: line.unwrap_or(1),
                column: 1,
                message:
                    "duplicate rule id: expected every rule and watch entry to have its own id"
                        .into(),
            });
            return false;
        }
        true
    };
    for spec in rules {
        let id_ok = check_id(&spec.id, spec.line, &mut errors);
        notices.clear();
        match syntax::parse(&spec.query, &mut notices) {
            Ok(expr) => {
                if id_ok {
                    for n in notices.drain(..) {
                        warnings.push(RuleWarning {
                            rule_id: spec.id.clone(),
                            message: n,
                        });
                    }
                    out.push(Prepared {
                        id: spec.id.clone(),
                        expr,
                        severity: spec.severity,
                        tags: spec.tags.clone(),
                        watch: None,
                        line: spec.line,
                    });
                }
            }
            Err(e) => errors.push(RuleError {
                rule_id: spec.id.clone(),
                line: spec.line.map_or(e.line, |l| l + e.line - 1),
                column: e.column,
                message: e.message,
            }),
        }
    }
    let mut push_watch = |id: String,
                          expr: Result<Expr, syntax::ParseError>,
                          kind,
                          errors: &mut Vec<RuleError>,
                          out: &mut Vec<Prepared>| {
        if !check_id(&id, None, errors) {
            return;
        }
        match expr {
            Ok(expr) => out.push(Prepared {
                id,
                expr,
                severity: watch.severity,
                tags: Vec::new(),
                watch: Some(kind),
                line: None,
            }),
            Err(e) => errors.push(RuleError {
                rule_id: id,
                line: e.line,
                column: e.column,
                message: e.message,
            }),
        }
    };
    let whole = |op: Option<Op>, raw: &str, message: &str| -> Result<Expr, syntax::ParseError> {
        match op {
            Some(op) => Ok(Expr::Atom(Atom {
                op,
                raw: raw.to_string(),
                line: 1,
                column: 1,
            })),
            None => Err(syntax::ParseError {
                line: 1,
                column: 1,
                message: message.to_string(),
            }),
        }
    };
    for k in &watch.keywords {
        notices.clear();
        let expr = syntax::parse(k, &mut notices);
        let id = format!("keyword:{k}");
        for n in notices.drain(..) {
            warnings.push(RuleWarning {
                rule_id: id.clone(),
                message: n,
            });
        }
        push_watch(id, expr, WatchKind::Keyword, &mut errors, &mut out);
    }
    for d in &watch.domains {
        let expr = whole(
            syntax::parse_domain(d).map(Op::Domain),
            d,
            "expected a domain such as example.gov",
        );
        push_watch(
            format!("domain:{d}"),
            expr,
            WatchKind::Domain,
            &mut errors,
            &mut out,
        );
    }
    for a in &watch.accounts {
        let expr = whole(
            syntax::parse_account(a).map(Op::Account),
            a,
            "expected PLATFORM:AUTHOR_ID such as x:783214, mastodon:infosec.exchange:1090 or bluesky:did:plc:abc",
        );
        push_watch(
            format!("account:{a}"),
            expr,
            WatchKind::Account,
            &mut errors,
            &mut out,
        );
    }
    if watch.sltt_domains {
        let expr = whole(Some(Op::EntitySltt), "sltt", "");
        push_watch("sltt".into(), expr, WatchKind::Sltt, &mut errors, &mut out);
    }
    (out, errors, warnings)
}

/// The key under which equal atoms of different rules share one slot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Text(String),
    Hashtag(String),
    Mention(String),
    Cashtag(String),
    From(Platform, String),
    FromHandle(String),
    To(Platform, String),
    Url(String),
    Domain(String),
    Has(HasFlag),
    Is(IsFlag),
    Lang(String),
    Platform(Platform),
    EntitySltt,
    EntityState(String),
    Regex(String),
}

/// Cheap per-post tests evaluated by scanning a short list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flag {
    Has(HasFlag),
    Is(IsFlag),
    Platform(Platform),
    EntitySltt,
}

/// How the matcher finds an atom's span once its rule has matched.
#[derive(Debug, Clone)]
pub(crate) enum SpanKind {
    None,
    /// Recorded during the Aho-Corasick scan.
    Text,
    /// The regex at this index of [`RuleSet::regexes`].
    Regex(usize),
    /// The first occurrence of sigil + tag in the text (case-insensitive).
    Tag(char, Box<str>),
}

/// One instruction of a rule's postfix program.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Inst {
    Atom(u32),
    Not,
    And(u32),
    Or(u32),
}

/// A positive atom of a rule, for [`streamer_model::AtomMatch`].
#[derive(Debug, Clone)]
pub(crate) struct Positive {
    pub atom: u32,
    pub kind: &'static str,
    pub value: Box<str>,
}

#[derive(Debug, Clone)]
pub(crate) struct CRule {
    pub id: Box<str>,
    pub severity: Severity,
    pub tags: Vec<String>,
    pub prog: (u32, u32),
    pub positives: (u32, u32),
}

/// Every rule compiled into indices built once: matching a post touches only what it holds.
///
/// `Send + Sync`: the binary shares one behind an `Arc` and swaps it on reload.
#[derive(Debug)]
pub struct RuleSet {
    pub(crate) rules: Vec<CRule>,
    pub(crate) insts: Vec<Inst>,
    pub(crate) positives: Vec<Positive>,
    pub(crate) n_atoms: usize,
    pub(crate) span_kinds: Vec<SpanKind>,
    /// CSR lists: rules that atom `a` triggers are `trig_rules[trig_start[a]..trig_start[a+1]]`.
    pub(crate) trig_start: Vec<u32>,
    pub(crate) trig_rules: Vec<u32>,
    /// Rules with no trigger atom: evaluated for every post.
    pub(crate) always: Vec<u32>,
    /// Keywords and phrases that match whole tokens and trigger a rule (or are suppressed).
    pub(crate) token_index: TokenIndex,
    /// Whole-token keywords and phrases that trigger no rule, looked up only while a rule that
    /// uses them is evaluated; `lazy_of[atom]` indexes `lazy`, `NOT_LAZY` for other atoms.
    pub(crate) lazy: Vec<LazyPattern>,
    pub(crate) lazy_of: Vec<u32>,
    /// Over the token stream, for patterns with an end in a script written without spaces;
    /// pattern `i` is `text_atoms[i]` = (atom, leading space, trailing space).
    pub(crate) text_ac: Option<AhoCorasick>,
    pub(crate) text_atoms: Vec<(u32, bool, bool)>,
    pub(crate) hashtags: FxHashMap<Box<str>, u32>,
    pub(crate) mentions: FxHashMap<Box<str>, u32>,
    pub(crate) cashtags: FxHashMap<Box<str>, u32>,
    /// Indexed by platform: author id to atom.
    pub(crate) from: [FxHashMap<Box<str>, u32>; 3],
    pub(crate) to: [FxHashMap<Box<str>, u32>; 3],
    pub(crate) from_handles: FxHashMap<Box<str>, u32>,
    pub(crate) url_ac: Option<AhoCorasick>,
    pub(crate) url_atoms: Vec<u32>,
    pub(crate) domains: FxHashMap<Box<str>, u32>,
    pub(crate) langs: FxHashMap<Box<str>, u32>,
    pub(crate) entity_states: FxHashMap<Box<str>, u32>,
    pub(crate) flags: Vec<(Flag, u32)>,
    pub(crate) regex_set: Option<meta::Regex>,
    pub(crate) regex_atoms: Vec<u32>,
    pub(crate) regexes: Vec<meta::Regex>,
    /// Suppressions: muted authors by platform, and the atom ids of suppressed terms.
    pub(crate) muted: [FxHashSet<Box<str>>; 3],
    pub(crate) suppress_atoms: Vec<u32>,
}

/// `RuleSet::lazy_of` for an atom that is not a lazy pattern.
pub(crate) const NOT_LAZY: u32 = u32::MAX;

/// An atom is worth this much as a trigger: cheap, frequent flags cost more than rare terms, so
/// an AND triggers on its rarest child.
fn weight(op: &Op) -> u32 {
    match op {
        Op::Has(_)
        | Op::Is(_)
        | Op::Lang(_)
        | Op::Platform(_)
        | Op::EntitySltt
        | Op::EntityState(_) => 1000,
        Op::Regex(_) => 10,
        _ => 1,
    }
}

fn platform_index(p: Platform) -> usize {
    match p {
        Platform::X => 0,
        Platform::Mastodon => 1,
        Platform::Bluesky => 2,
    }
}

/// Size limits for one regex and for the set: a rule cannot make compiling take unbounded
/// memory.
const REGEX_NFA_LIMIT: usize = 10 << 20;
const REGEX_SET_NFA_LIMIT: usize = 256 << 20;

fn regex_builder(limit: usize) -> meta::Builder {
    let mut b = meta::Builder::new();
    b.syntax(re_syntax::Config::new().case_insensitive(true))
        .configure(meta::Config::new().nfa_size_limit(Some(limit)));
    b
}

#[derive(Default)]
struct Builder {
    keys: FxHashMap<Key, u32>,
    span_kinds: Vec<SpanKind>,
    ops: Vec<Op>,
    trig: Vec<Vec<u32>>,
}

impl Builder {
    fn atom(&mut self, op: &Op) -> u32 {
        let (key, span) = match op {
            Op::Text { tokens, .. } => (Key::Text(text::pattern(tokens)), SpanKind::Text),
            Op::Hashtag(t) => (
                Key::Hashtag(t.clone()),
                SpanKind::Tag('#', t.as_str().into()),
            ),
            Op::Mention(t) => (
                Key::Mention(t.clone()),
                SpanKind::Tag('@', t.as_str().into()),
            ),
            Op::Cashtag(t) => (
                Key::Cashtag(t.clone()),
                SpanKind::Tag('$', t.as_str().into()),
            ),
            Op::From(a) | Op::Account(a) => (Key::From(a.platform, a.id.clone()), SpanKind::None),
            Op::FromHandle(h) => (Key::FromHandle(h.clone()), SpanKind::None),
            Op::To(a) => (Key::To(a.platform, a.id.clone()), SpanKind::None),
            Op::Url(u) => (Key::Url(u.clone()), SpanKind::None),
            Op::Domain(d) => (Key::Domain(d.clone()), SpanKind::None),
            Op::Has(h) => (Key::Has(*h), SpanKind::None),
            Op::Is(i) => (Key::Is(*i), SpanKind::None),
            Op::Lang(l) => (Key::Lang(l.clone()), SpanKind::None),
            Op::Platform(p) => (Key::Platform(*p), SpanKind::None),
            Op::EntitySltt => (Key::EntitySltt, SpanKind::None),
            Op::EntityState(s) => (Key::EntityState(s.clone()), SpanKind::None),
            Op::Regex(r) => (Key::Regex(r.clone()), SpanKind::None),
        };
        match self.keys.entry(key) {
            Entry::Occupied(e) => *e.get(),
            Entry::Vacant(e) => {
                let id = self.span_kinds.len() as u32;
                e.insert(id);
                self.span_kinds.push(span);
                self.ops.push(op.clone());
                self.trig.push(Vec::new());
                id
            }
        }
    }

    /// Emits the postfix program of `e` and collects its positive atoms.
    fn emit(&mut self, e: &Expr, negated: bool, insts: &mut Vec<Inst>, pos: &mut Vec<Positive>) {
        match e {
            Expr::Atom(a) => {
                let id = self.atom(&a.op);
                insts.push(Inst::Atom(id));
                if !negated
                    && !pos
                        .iter()
                        .any(|p| p.atom == id && p.kind == a.op.kind() && *p.value == *a.raw)
                {
                    pos.push(Positive {
                        atom: id,
                        kind: a.op.kind(),
                        value: a.raw.as_str().into(),
                    });
                }
            }
            Expr::And(v) | Expr::Or(v) => {
                for c in v {
                    self.emit(c, negated, insts, pos);
                }
                let n = v.len() as u32;
                insts.push(if matches!(e, Expr::And(_)) {
                    Inst::And(n)
                } else {
                    Inst::Or(n)
                });
            }
            Expr::Not(x) => {
                self.emit(x, !negated, insts, pos);
                insts.push(Inst::Not);
            }
        }
    }

    /// A set of atoms at least one of which is true whenever `e` is; `None` when there is none
    /// (the expression can be true with no positive atom true). Returns the set's weight too.
    fn triggers(&mut self, e: &Expr) -> Option<(Vec<u32>, u32)> {
        match e {
            Expr::Atom(a) => Some((vec![self.atom(&a.op)], weight(&a.op))),
            Expr::Not(_) => None,
            Expr::And(v) => v
                .iter()
                .filter_map(|c| self.triggers(c))
                .min_by_key(|(_, w)| *w),
            Expr::Or(v) => {
                let mut all = Vec::new();
                let mut w = 0u32;
                for c in v {
                    let (t, cw) = self.triggers(c)?;
                    all.extend(t);
                    w = w.saturating_add(cw);
                }
                Some((all, w))
            }
        }
    }
}

pub(crate) fn compile(
    specs: &[RuleSpec],
    watch: &WatchSpec,
    suppressions: &Suppressions,
) -> Result<Compiled, Vec<RuleError>> {
    let (prepared, mut errors, mut warnings) = prepare(specs, watch);
    let mut b = Builder::default();
    let mut rules = Vec::with_capacity(prepared.len());
    let mut insts = Vec::new();
    let mut positives = Vec::new();
    let mut always = Vec::new();
    let mut rule_pos = Vec::new();
    for (ri, p) in prepared.iter().enumerate() {
        let i0 = insts.len() as u32;
        let p0 = positives.len() as u32;
        rule_pos.clear();
        b.emit(&p.expr, false, &mut insts, &mut rule_pos);
        positives.append(&mut rule_pos);
        match b.triggers(&p.expr) {
            Some((mut t, _)) => {
                t.sort_unstable();
                t.dedup();
                for a in t {
                    b.trig[a as usize].push(ri as u32);
                }
            }
            None => always.push(ri as u32),
        }
        rules.push(CRule {
            id: p.id.as_str().into(),
            severity: p.severity,
            tags: p.tags.clone(),
            prog: (i0, insts.len() as u32),
            positives: (p0, positives.len() as u32),
        });
        if p.watch.is_none() || p.watch == Some(WatchKind::Keyword) {
            for m in xrules::push_notes(&p.expr) {
                warnings.push(RuleWarning {
                    rule_id: p.id.clone(),
                    message: m,
                });
            }
        }
    }

    // Suppressed terms are atoms that trigger nothing.
    let mut suppress_atoms = Vec::new();
    for term in &suppressions.suppressed_terms {
        let tokens = text::tokens(term.trim_matches('"'));
        if !tokens.is_empty() {
            suppress_atoms.push(b.atom(&Op::Text {
                tokens,
                quoted: true,
            }));
        }
    }
    let mut muted: [FxHashSet<Box<str>>; 3] = Default::default();
    for a in &suppressions.muted_authors {
        match syntax::parse_account(a) {
            Some(Account { platform, id }) => {
                muted[platform_index(platform)].insert(id.into());
            }
            None => errors.push(RuleError {
                rule_id: format!("muted:{a}"),
                line: 1,
                column: 1,
                message: "expected PLATFORM:AUTHOR_ID for a muted author".into(),
            }),
        }
    }

    let mut set = RuleSet {
        rules,
        insts,
        positives,
        n_atoms: b.ops.len(),
        span_kinds: Vec::new(),
        trig_start: Vec::with_capacity(b.ops.len() + 1),
        trig_rules: Vec::new(),
        always,
        token_index: TokenIndex::default(),
        lazy: Vec::new(),
        lazy_of: vec![NOT_LAZY; b.ops.len()],
        text_ac: None,
        text_atoms: Vec::new(),
        hashtags: FxHashMap::default(),
        mentions: FxHashMap::default(),
        cashtags: FxHashMap::default(),
        from: Default::default(),
        to: Default::default(),
        from_handles: FxHashMap::default(),
        url_ac: None,
        url_atoms: Vec::new(),
        domains: FxHashMap::default(),
        langs: FxHashMap::default(),
        entity_states: FxHashMap::default(),
        flags: Vec::new(),
        regex_set: None,
        regex_atoms: Vec::new(),
        regexes: Vec::new(),
        muted,
        suppress_atoms,
    };
    set.trig_start.push(0);
    for t in &b.trig {
        set.trig_rules.extend_from_slice(t);
        set.trig_start.push(set.trig_rules.len() as u32);
    }

    let suppressed: FxHashSet<u32> = set.suppress_atoms.iter().copied().collect();
    let mut text_pats: Vec<String> = Vec::new();
    let mut whole: Vec<(u32, &[String])> = Vec::new();
    let mut url_pats: Vec<String> = Vec::new();
    let mut regex_pats: Vec<String> = Vec::new();
    for (i, op) in b.ops.iter().enumerate() {
        let id = i as u32;
        match op {
            Op::Text { tokens, .. } => {
                let p = text::pattern(tokens);
                let triggers = b.trig[i].len() + usize::from(suppressed.contains(&id));
                if p.starts_with(' ') && p.ends_with(' ') && triggers == 0 {
                    set.lazy_of[i] = set.lazy.len() as u32;
                    set.lazy.push(LazyPattern::new(tokens));
                } else if p.starts_with(' ') && p.ends_with(' ') {
                    whole.push((id, tokens.as_slice()));
                } else {
                    set.text_atoms
                        .push((id, p.starts_with(' '), p.ends_with(' ')));
                    text_pats.push(p);
                }
            }
            Op::Hashtag(t) => {
                set.hashtags.insert(t.as_str().into(), id);
            }
            Op::Mention(t) => {
                set.mentions.insert(t.as_str().into(), id);
            }
            Op::Cashtag(t) => {
                set.cashtags.insert(t.as_str().into(), id);
            }
            Op::From(a) | Op::Account(a) => {
                set.from[platform_index(a.platform)].insert(a.id.as_str().into(), id);
            }
            Op::To(a) => {
                set.to[platform_index(a.platform)].insert(a.id.as_str().into(), id);
            }
            Op::FromHandle(h) => {
                set.from_handles.insert(h.as_str().into(), id);
            }
            Op::Url(u) => {
                set.url_atoms.push(id);
                url_pats.push(u.clone());
            }
            Op::Domain(d) => {
                set.domains.insert(d.as_str().into(), id);
            }
            Op::Lang(l) => {
                set.langs.insert(l.as_str().into(), id);
            }
            Op::EntityState(s) => {
                set.entity_states.insert(s.as_str().into(), id);
            }
            Op::Has(h) => set.flags.push((Flag::Has(*h), id)),
            Op::Is(f) => set.flags.push((Flag::Is(*f), id)),
            Op::Platform(p) => set.flags.push((Flag::Platform(*p), id)),
            Op::EntitySltt => set.flags.push((Flag::EntitySltt, id)),
            Op::Regex(r) => {
                match regex_builder(REGEX_NFA_LIMIT).build(r) {
                    Ok(re) => {
                        b.span_kinds[i] = SpanKind::Regex(set.regexes.len());
                        set.regexes.push(re);
                        set.regex_atoms.push(id);
                        regex_pats.push(r.clone());
                    }
                    Err(e) => {
                        // Report against every rule that uses it, at the atom's position.
                        for p in &prepared {
                            if let Some(a) = find_regex_atom(&p.expr, r) {
                                errors.push(RuleError {
                                    rule_id: p.id.clone(),
                                    line: p.line.map_or(a.line, |l| l + a.line - 1),
                                    column: a.column,
                                    message: format!("expected a valid regex (linear-time syntax: no look-around or back-references): {}", one_line(&e.to_string())),
                                });
                            }
                        }
                    }
                }
            }
        }
    }
    set.token_index = TokenIndex::new(&whole);
    set.span_kinds = b.span_kinds;
    if !errors.is_empty() {
        return Err(errors);
    }
    if !text_pats.is_empty() {
        set.text_ac = Some(build_ac(&text_pats, false).map_err(|m| vec![internal(m)])?);
    }
    if !url_pats.is_empty() {
        set.url_ac = Some(build_ac(&url_pats, true).map_err(|m| vec![internal(m)])?);
    }
    if !regex_pats.is_empty() {
        let re = regex_builder(REGEX_SET_NFA_LIMIT)
            .build_many(&regex_pats)
            .map_err(|e| {
                vec![internal(format!(
                    "the {} regexes together are too large to compile: {}",
                    regex_pats.len(),
                    one_line(&e.to_string())
                ))]
            })?;
        set.regex_set = Some(re);
    }
    Ok(Compiled {
        rules: set,
        warnings,
    })
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn internal(message: String) -> RuleError {
    RuleError {
        rule_id: "(all rules)".into(),
        line: 1,
        column: 1,
        message,
    }
}

fn find_regex_atom<'e>(e: &'e Expr, r: &str) -> Option<&'e Atom> {
    match e {
        Expr::Atom(a) => match &a.op {
            Op::Regex(x) if x == r => Some(a),
            _ => None,
        },
        Expr::And(v) | Expr::Or(v) => v.iter().find_map(|c| find_regex_atom(c, r)),
        Expr::Not(x) => find_regex_atom(x, r),
    }
}

/// Standard (overlapping) semantics so that every keyword is found; a DFA while the set is
/// small enough that its tables stay in cache, else a contiguous NFA.
fn build_ac(pats: &[String], ascii_ci: bool) -> Result<AhoCorasick, String> {
    let kind = if pats.len() <= 2_000 {
        Some(AhoCorasickKind::DFA)
    } else {
        Some(AhoCorasickKind::ContiguousNFA)
    };
    AhoCorasick::builder()
        .match_kind(MatchKind::Standard)
        .ascii_case_insensitive(ascii_ci)
        .kind(kind)
        // Every token pattern starts with a space: a start-byte prefilter would stop at every
        // space and slow the scan down several times.
        .prefilter(false)
        .build(pats)
        .map_err(|e| format!("the keyword automaton could not be built: {e}"))
}

impl RuleSet {
    /// How many rules (including watch entries) the set holds.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when no rule is configured: the pipeline can skip matching.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rule ids in rule order (`[[rules]]` first, then watch entries).
    pub fn rule_ids(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| &*r.id)
    }

    /// Heap bytes held by the automata, regexes and tables, approximately: for capacity
    /// planning and the benchmark report.
    pub fn heap_bytes(&self) -> usize {
        const ENTRY: usize = 16 + 8 + 8; // Box<str> + u32 + hash-table overhead
        let strs = |m: &FxHashMap<Box<str>, u32>| m.keys().map(|k| k.len() + ENTRY).sum::<usize>();
        let ac = |a: &Option<AhoCorasick>| a.as_ref().map_or(0, |a| a.memory_usage());
        let rules: usize = self
            .rules
            .iter()
            .map(|r| {
                std::mem::size_of::<CRule>()
                    + r.id.len()
                    + r.tags.iter().map(|t| t.len() + 24).sum::<usize>()
            })
            .sum();
        let positives: usize = self
            .positives
            .iter()
            .map(|p| p.value.len() + std::mem::size_of::<Positive>())
            .sum();
        let maps: usize = [
            &self.hashtags,
            &self.mentions,
            &self.cashtags,
            &self.from_handles,
            &self.domains,
            &self.langs,
            &self.entity_states,
        ]
        .into_iter()
        .chain(self.from.iter())
        .chain(self.to.iter())
        .map(strs)
        .sum();
        ac(&self.text_ac)
            + self.token_index.heap_bytes()
            + self.lazy.iter().map(|l| l.heap_bytes()).sum::<usize>()
            + self.lazy_of.len() * 4
            + ac(&self.url_ac)
            + rules
            + positives
            + maps
            + self.insts.len() * std::mem::size_of::<Inst>()
            + self.span_kinds.len() * std::mem::size_of::<SpanKind>()
            + (self.trig_start.len() + self.trig_rules.len() + self.always.len()) * 4
            + self.text_atoms.len() * std::mem::size_of::<(u32, bool, bool)>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn ruleset_is_send_and_sync() {
        assert_send_sync::<RuleSet>();
    }

    #[test]
    fn and_triggers_on_its_rarest_child_and_negations_always_run() {
        let specs = [
            RuleSpec::new("a", "has:links lockbit -is:retweet"),
            RuleSpec::new("b", "-lockbit"),
            RuleSpec::new("c", "lockbit OR -x"),
        ];
        let c = compile(&specs, &WatchSpec::default(), &Suppressions::default()).unwrap();
        let set = c.rules;
        assert_eq!(set.always, vec![1, 2]);
        let triggers_of_rule_0: Vec<usize> = (0..set.n_atoms)
            .filter(|&a| {
                set.trig_rules[set.trig_start[a] as usize..set.trig_start[a + 1] as usize]
                    .contains(&0)
            })
            .collect();
        assert_eq!(triggers_of_rule_0.len(), 1, "only its rarest atom");
        assert!(set
            .flags
            .iter()
            .all(|&(_, a)| a as usize != triggers_of_rule_0[0]));
    }
}
