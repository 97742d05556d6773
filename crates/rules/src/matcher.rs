//! Matching one post against a [`RuleSet`]: find the true atoms through the indices, evaluate
//! only the rules they trigger, and report the hits.

use crate::compile::{Flag, Inst, RuleSet, SpanKind, NOT_LAZY};
use crate::syntax::{HasFlag, IsFlag};
use crate::text::{self, CharRange};
use crate::tokens::{self, HashChains, Tokens};
use regex_automata::{Input, PatternSet};
use std::cell::RefCell;
use streamer_model::{AtomMatch, Enrichment, Platform, Post, RuleHit};

/// Reusable per-post buffers, so that matching allocates nothing but its result.
///
/// [`RuleSet::matches`] keeps one per thread; callers that manage their own threads can keep
/// one each and call [`RuleSet::matches_with`]. One `Scratch` serves any number of rule sets
/// (it grows to the largest), so it survives a hot reload.
#[derive(Debug, Default)]
pub struct Scratch {
    /// Bumped for every post: an atom or rule is "set" when its stamp equals it, so nothing is
    /// cleared between posts.
    generation: u32,
    atom_stamp: Vec<u32>,
    /// Stream byte range of each text atom's first occurrence.
    atom_span: Vec<[u32; 2]>,
    /// Lazy atoms looked up for this post (true or not).
    lazy_stamp: Vec<u32>,
    rule_stamp: Vec<u32>,
    true_atoms: Vec<u32>,
    candidates: Vec<u32>,
    stack: Vec<bool>,
    /// The post's token stream and its tokens, once built (`tokens_ready`).
    stream: Vec<u8>,
    toks: Tokens,
    tokens_ready: bool,
    /// Whether the post's text is all ASCII (set with the tokens).
    text_is_ascii: bool,
    /// Occurrences of each token hash, for lazy look-ups in long posts (`chains_ready`).
    chains: HashChains,
    chains_ready: bool,
    /// The stream again, with its map to original chars, built only when a span is reported.
    mapped: String,
    map: Vec<CharRange>,
    mapped_ready: bool,
    fold: String,
    patterns: Option<PatternSet>,
}

impl Scratch {
    /// Empty buffers; they grow on first use.
    pub fn new() -> Scratch {
        Scratch::default()
    }

    fn begin(&mut self, atoms: usize, rules: usize) {
        if self.generation == u32::MAX {
            self.generation = 0;
            self.atom_stamp.iter_mut().for_each(|s| *s = 0);
            self.lazy_stamp.iter_mut().for_each(|s| *s = 0);
            self.rule_stamp.iter_mut().for_each(|s| *s = 0);
        }
        self.generation += 1;
        if self.atom_stamp.len() < atoms {
            self.atom_stamp.resize(atoms, 0);
            self.atom_span.resize(atoms, [0, 0]);
            self.lazy_stamp.resize(atoms, 0);
        }
        if self.rule_stamp.len() < rules {
            self.rule_stamp.resize(rules, 0);
        }
        self.true_atoms.clear();
        self.candidates.clear();
        self.mapped_ready = false;
        self.tokens_ready = false;
        self.chains_ready = false;
    }

    #[inline]
    fn mark(&mut self, atom: u32, span: [u32; 2]) {
        let a = atom as usize;
        if self.atom_stamp[a] != self.generation {
            self.atom_stamp[a] = self.generation;
            self.atom_span[a] = span;
            self.true_atoms.push(atom);
        }
    }

    #[inline]
    fn is_true(&self, atom: u32) -> bool {
        self.atom_stamp[atom as usize] == self.generation
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::new());
}

fn platform_index(p: Platform) -> usize {
    match p {
        Platform::X => 0,
        Platform::Mastodon => 1,
        Platform::Bluesky => 2,
    }
}

const NO_SPAN: [u32; 2] = [0, 0];

impl RuleSet {
    /// The rules `post` matches, in rule order, each with the positive atoms that matched.
    ///
    /// Uses a thread-local [`Scratch`]; allocates only the returned hits.
    pub fn matches(&self, post: &Post, enrichment: &Enrichment) -> Vec<RuleHit> {
        SCRATCH
            .try_with(|s| match s.try_borrow_mut() {
                Ok(mut s) => self.matches_with(&mut s, post, enrichment),
                Err(_) => self.matches_with(&mut Scratch::new(), post, enrichment),
            })
            .unwrap_or_else(|_| self.matches_with(&mut Scratch::new(), post, enrichment))
    }

    /// [`RuleSet::matches`] with caller-owned scratch buffers.
    pub fn matches_with(
        &self,
        s: &mut Scratch,
        post: &Post,
        enrichment: &Enrichment,
    ) -> Vec<RuleHit> {
        if self.rules.is_empty() {
            return Vec::new();
        }
        s.begin(self.n_atoms, self.rules.len());
        let pi = platform_index(post.platform);
        if !self.muted[pi].is_empty() && self.muted[pi].contains(post.author.id.as_str()) {
            return Vec::new();
        }
        self.find_atoms(s, post, enrichment);
        if self.suppress_atoms.iter().any(|&a| s.is_true(a)) {
            return Vec::new();
        }

        let Scratch {
            true_atoms,
            rule_stamp,
            candidates,
            generation,
            ..
        } = &mut *s;
        for &a in true_atoms.iter() {
            let a = a as usize;
            let (lo, hi) = (self.trig_start[a] as usize, self.trig_start[a + 1] as usize);
            for &r in &self.trig_rules[lo..hi] {
                if rule_stamp[r as usize] != *generation {
                    rule_stamp[r as usize] = *generation;
                    candidates.push(r);
                }
            }
        }
        for &r in &self.always {
            if rule_stamp[r as usize] != *generation {
                rule_stamp[r as usize] = *generation;
                candidates.push(r);
            }
        }
        if candidates.is_empty() {
            return Vec::new();
        }
        candidates.sort_unstable();

        let mut hits = Vec::new();
        let cands = std::mem::take(&mut s.candidates);
        for &r in &cands {
            if self.eval(s, r as usize, post) {
                hits.push(self.hit(s, r as usize, post));
            }
        }
        s.candidates = cands;
        hits
    }

    /// Builds the post's token stream and tokens, once per post.
    fn ensure_tokens(&self, s: &mut Scratch, post: &Post) {
        if !s.tokens_ready {
            s.text_is_ascii = post.text.is_ascii();
            if s.text_is_ascii || text::separators_only(&post.text) {
                tokens::tokenise_in_place(post.text.as_bytes(), &mut s.toks);
            } else {
                text::normalise_bytes(&post.text, &mut s.stream, None);
                tokens::tokenise(&s.stream, &mut s.toks);
            }
            s.tokens_ready = true;
        }
    }

    /// Whether `atom` is true of the post, looking a lazy pattern up on first use.
    fn atom_value(&self, s: &mut Scratch, post: &Post, atom: u32) -> bool {
        if s.is_true(atom) {
            return true;
        }
        let a = atom as usize;
        let li = self.lazy_of[a];
        if li == NOT_LAZY || s.lazy_stamp[a] == s.generation {
            return false;
        }
        s.lazy_stamp[a] = s.generation;
        self.ensure_tokens(s, post);
        let chains = if s.toks.hashes.len() > HashChains::MIN_TOKENS {
            if !s.chains_ready {
                s.chains.build(&s.toks);
                s.chains_ready = true;
            }
            Some(&s.chains)
        } else {
            None
        };
        let src = s.toks.source(&post.text, &s.stream);
        match self.lazy[li as usize].find(src, &s.toks, chains) {
            Some(span) => {
                s.mark(atom, span);
                true
            }
            None => false,
        }
    }

    fn find_atoms(&self, s: &mut Scratch, post: &Post, enr: &Enrichment) {
        if !self.token_index.is_empty() || self.text_ac.is_some() {
            self.ensure_tokens(s, post);
            // Borrowed out of the scratch while `mark` writes to it; put back below.
            let stream = std::mem::take(&mut s.stream);
            let toks = std::mem::take(&mut s.toks);
            self.token_index.scan(
                toks.source(&post.text, &stream),
                &toks,
                |atom, start, end| s.mark(atom, [start, end]),
            );
            // Text split in place has no letter of a script written without spaces.
            if let Some(ac) = self.text_ac.as_ref().filter(|_| !toks.in_text) {
                if let Ok(iter) = ac.try_find_overlapping_iter(stream.as_slice()) {
                    for m in iter {
                        let (atom, lead, trail) = self.text_atoms[m.pattern().as_usize()];
                        let start = (m.start() + lead as usize) as u32;
                        let end = (m.end() - trail as usize) as u32;
                        s.mark(atom, [start, end]);
                    }
                }
            }
            s.stream = stream;
            s.toks = toks;
        }
        for (list, map) in [
            (&post.hashtags, &self.hashtags),
            (&post.mentions, &self.mentions),
            (&post.cashtags, &self.cashtags),
        ] {
            if map.is_empty() {
                continue;
            }
            for t in list {
                text::fold_into(t.trim_start_matches(['#', '@', '$']), &mut s.fold);
                if let Some(&a) = map.get(s.fold.as_str()) {
                    s.mark(a, NO_SPAN);
                }
            }
        }
        let pi = platform_index(post.platform);
        if let Some(&a) = self.from[pi].get(post.author.id.as_str()) {
            s.mark(a, NO_SPAN);
        }
        if let Some(t) = &post.reply_to_author {
            if let Some(&a) = self.to[pi].get(t.as_str()) {
                s.mark(a, NO_SPAN);
            }
        }
        if !self.from_handles.is_empty() {
            if let Some(h) = &post.author.handle {
                text::fold_into(h.trim_start_matches('@'), &mut s.fold);
                if let Some(&a) = self.from_handles.get(s.fold.as_str()) {
                    s.mark(a, NO_SPAN);
                }
            }
        }
        if let Some(ac) = &self.url_ac {
            for u in post.urls.iter().chain(enr.iocs.urls.iter()) {
                if let Ok(iter) = ac.try_find_overlapping_iter(u.as_str()) {
                    for m in iter {
                        s.mark(self.url_atoms[m.pattern().as_usize()], NO_SPAN);
                    }
                }
            }
        }
        if !self.domains.is_empty() {
            for h in &enr.hosts {
                let h = h.trim_end_matches('.');
                if h.bytes().any(|b| b.is_ascii_uppercase()) {
                    let mut f = std::mem::take(&mut s.fold);
                    f.clear();
                    f.push_str(h);
                    f.make_ascii_lowercase();
                    self.mark_domain(s, &f);
                    s.fold = f;
                } else {
                    self.mark_domain(s, h);
                }
            }
        }
        if !self.langs.is_empty() {
            for tag in post.lang.iter().chain(post.langs.iter()) {
                let primary = tag.split(['-', '_']).next().unwrap_or("");
                s.fold.clear();
                s.fold.push_str(primary);
                s.fold.make_ascii_lowercase();
                if let Some(&a) = self.langs.get(s.fold.as_str()) {
                    s.mark(a, NO_SPAN);
                }
            }
        }
        if !self.entity_states.is_empty() {
            for e in enr.entities.iter().filter(|e| e.is_sltt()) {
                if let Some(st) = &e.state {
                    s.fold.clear();
                    s.fold.push_str(st);
                    s.fold.make_ascii_uppercase();
                    if let Some(&a) = self.entity_states.get(s.fold.as_str()) {
                        s.mark(a, NO_SPAN);
                    }
                }
            }
        }
        for &(flag, a) in &self.flags {
            let yes = match flag {
                Flag::Has(h) => match h {
                    HasFlag::Links => !post.urls.is_empty(),
                    HasFlag::Geo => post.geo.is_some(),
                    HasFlag::Media => !post.media.is_empty(),
                    HasFlag::Ioc => !enr.iocs.is_empty(),
                    HasFlag::Hashtags => !post.hashtags.is_empty(),
                    HasFlag::Mentions => !post.mentions.is_empty(),
                    HasFlag::Cashtags => !post.cashtags.is_empty(),
                },
                Flag::Is(i) => match i {
                    IsFlag::Retweet => post.repost_of.is_some(),
                    IsFlag::Reply => post.reply_to.is_some(),
                    IsFlag::Quote => post.quote_of.is_some(),
                },
                Flag::Platform(p) => post.platform == p,
                Flag::EntitySltt => enr.entities.iter().any(|e| e.is_sltt()),
            };
            if yes {
                s.mark(a, NO_SPAN);
            }
        }
        if let Some(re) = &self.regex_set {
            let mut set = match s.patterns.take() {
                Some(p) if p.capacity() == re.pattern_len() => p,
                _ => PatternSet::new(re.pattern_len()),
            };
            set.clear();
            re.which_overlapping_matches(&Input::new(post.text.as_str()), &mut set);
            for pid in set.iter() {
                s.mark(self.regex_atoms[pid.as_usize()], NO_SPAN);
            }
            s.patterns = Some(set);
        }
    }

    /// Marks the domain atoms `host` falls under: itself and every parent at a label boundary.
    fn mark_domain(&self, s: &mut Scratch, host: &str) {
        if let Some(&a) = self.domains.get(host) {
            s.mark(a, NO_SPAN);
        }
        for (i, b) in host.bytes().enumerate() {
            if b == b'.' {
                if let Some(&a) = self.domains.get(&host[i + 1..]) {
                    s.mark(a, NO_SPAN);
                }
            }
        }
    }

    fn eval(&self, s: &mut Scratch, rule: usize, post: &Post) -> bool {
        let (lo, hi) = self.rules[rule].prog;
        s.stack.clear();
        for inst in &self.insts[lo as usize..hi as usize] {
            match *inst {
                Inst::Atom(a) => {
                    let v = self.atom_value(s, post, a);
                    s.stack.push(v);
                }
                Inst::Not => {
                    if let Some(v) = s.stack.last_mut() {
                        *v = !*v;
                    }
                }
                Inst::And(n) | Inst::Or(n) => {
                    let at = s.stack.len().saturating_sub(n as usize);
                    let v = if matches!(inst, Inst::And(_)) {
                        s.stack[at..].iter().all(|&b| b)
                    } else {
                        s.stack[at..].iter().any(|&b| b)
                    };
                    s.stack.truncate(at);
                    s.stack.push(v);
                }
            }
        }
        s.stack.pop() == Some(true)
    }

    fn hit(&self, s: &mut Scratch, rule: usize, post: &Post) -> RuleHit {
        let r = &self.rules[rule];
        let (lo, hi) = r.positives;
        let mut matched = Vec::new();
        for p in &self.positives[lo as usize..hi as usize] {
            if !s.is_true(p.atom) {
                continue;
            }
            let span = match &self.span_kinds[p.atom as usize] {
                SpanKind::None => None,
                // Tokens split in place have byte spans in the text (see `Tokens`).
                SpanKind::Text if s.toks.in_text => {
                    let [st, en] = s.atom_span[p.atom as usize];
                    Some(if s.text_is_ascii {
                        [st as usize, en as usize]
                    } else {
                        char_span(&post.text, st as usize, en as usize)
                    })
                }
                SpanKind::Text => {
                    if !s.mapped_ready {
                        text::normalise(&post.text, &mut s.mapped, Some(&mut s.map));
                        s.mapped_ready = true;
                    }
                    let [st, en] = s.atom_span[p.atom as usize];
                    match (
                        s.map.get(st as usize),
                        s.map.get((en as usize).wrapping_sub(1)),
                    ) {
                        (Some(a), Some(b)) if en > st => Some([a[0] as usize, b[1] as usize]),
                        _ => None,
                    }
                }
                SpanKind::Regex(i) => self.regexes[*i]
                    .find(post.text.as_str())
                    .map(|m| char_span(&post.text, m.start(), m.end())),
                SpanKind::Tag(sigil, tag) => find_tag(&post.text, *sigil, tag),
            };
            matched.push(AtomMatch {
                kind: p.kind.to_string(),
                value: p.value.to_string(),
                span,
            });
        }
        RuleHit {
            id: r.id.to_string(),
            severity: r.severity,
            tags: r.tags.clone(),
            matched,
        }
    }
}

/// Byte offsets to char offsets.
fn char_span(text: &str, start: usize, end: usize) -> [usize; 2] {
    let s = text.get(..start).map_or(0, |p| p.chars().count());
    let len = text.get(start..end).map_or(0, |p| p.chars().count());
    [s, s + len]
}

/// The first `sigil` + `tag` written in `text`, compared lower-cased, not followed by more of
/// the tag's characters; in chars.
fn find_tag(text: &str, sigil: char, tag: &str) -> Option<[usize; 2]> {
    let mut folded = String::new();
    for (ci, (b, c)) in text.char_indices().enumerate() {
        if c != sigil {
            continue;
        }
        // From the byte after the sigil: never rescanning the text from its start keeps a
        // post full of sigils linear.
        folded.clear();
        let mut n = 0;
        let mut rest = text[b + c.len_utf8()..].chars().peekable();
        while let Some(c) = rest.next() {
            folded.extend(c.to_lowercase());
            n += 1;
            if folded == tag {
                let boundary = rest.peek().is_none_or(|&d| !text::is_token_char(d));
                if boundary {
                    return Some([ci, ci + 1 + n]);
                }
            }
            if !tag.starts_with(folded.as_str()) {
                break;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{compile, RuleSpec, WatchSpec};

    /// Stamps wrap after 2^32 posts: a scratch about to wrap answers as a fresh one does, and
    /// nothing true of one post leaks into the next.
    #[test]
    fn a_scratch_answers_the_same_across_the_generation_wrap() {
        let rules = compile(
            &[
                RuleSpec::new("a", "lockbit (county OR \"school district\")"),
                RuleSpec::new("b", "-lockbit ransomware"),
            ],
            &WatchSpec::default(),
        )
        .unwrap()
        .rules;
        let texts = [
            "LockBit hit the county",
            "ransomware at the school district",
            "lockbit and the school district",
            "nothing",
            "ransomware, lockbit",
        ];
        let mut worn = Scratch::new();
        worn.generation = u32::MAX - 2;
        for round in 0..3 {
            for t in texts {
                let mut p = Post::new(Platform::X, "1", "2");
                p.text = t.to_string();
                let e = Enrichment::default();
                let want = rules.matches_with(&mut Scratch::new(), &p, &e);
                let got = rules.matches_with(&mut worn, &p, &e);
                assert_eq!(got, want, "round {round}: {t}");
            }
        }
        assert!(worn.generation < 100, "the generation wrapped");
    }
}
