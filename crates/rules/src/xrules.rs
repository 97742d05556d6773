//! Translation to X filtered-stream rules.
//!
//! Every post X delivers is matched again locally, so an X rule only has to deliver *at least*
//! the X posts its local rule matches: where X cannot evaluate part of a rule, that part is
//! dropped from the pushed value if dropping it only widens the rule (an AND's operand, a
//! negation), and the rule is not pushed when nothing narrower than "everything" is left.
//! Specialised for X posts: `platform:x` is true, `platform:mastodon` and accounts of other
//! platforms are false. Each such decision is a [`RuleWarning`].
//!
//! `domain:D` is pushed as `url:"D" OR "D"` (links to the domain, and the domain written in the
//! text, which X tokenises like a phrase): the best X can do, but not guaranteed to find every
//! post whose IOCs name the domain, so it warns.

use crate::compile::{prepare, Prepared, WatchKind};
use crate::syntax::{Expr, HasFlag, IsFlag, Op};
use crate::{RuleSpec, RuleWarning, WatchSpec};
use streamer_model::Platform;

/// The X tier's limits on filtered-stream rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XLimits {
    /// Characters in one rule's value (1,024 on Pro and pay-per-use; 2,048 on Enterprise).
    pub max_rule_len: usize,
    /// Rules per project (1,000 on Pro and pay-per-use).
    pub max_rules: usize,
}

impl Default for XLimits {
    /// Pro and pay-per-use: 1,000 rules of at most 1,024 characters.
    fn default() -> Self {
        XLimits {
            max_rule_len: 1024,
            max_rules: 1000,
        }
    }
}

/// One rule for X's `POST /2/tweets/search/stream/rules` `add` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XRule {
    pub value: String,
    /// `tag_prefix` + the local rule id (or `watch:N` / `packed:N` for packed rules), so that
    /// Streamer recognises its own rules and never touches others.
    pub tag: String,
}

/// A translated expression.
#[derive(Debug, Clone, PartialEq)]
enum XE {
    /// A rendered atom; `standalone` when X accepts it without another term.
    Atom {
        text: String,
        standalone: bool,
    },
    Not(Box<XE>),
    And(Vec<XE>),
    Or(Vec<XE>),
}

#[derive(Debug, Clone, PartialEq)]
enum Approx {
    True,
    False,
    E(XE),
}

/// `(approximation, exact)`: exact when X evaluates it as Streamer does.
fn approx(e: &Expr, notes: &mut Vec<String>) -> (Approx, bool) {
    match e {
        Expr::Atom(a) => atom(&a.op, &a.raw, notes),
        Expr::Not(inner) => {
            let mut inner_notes = Vec::new();
            let (x, exact) = approx(inner, &mut inner_notes);
            if !exact {
                notes.extend(inner_notes);
                notes.push(
                    "a negation of something X cannot evaluate exactly is left out of the X push"
                        .into(),
                );
                return (Approx::True, false);
            }
            match x {
                Approx::True => (Approx::False, true),
                Approx::False => (Approx::True, true),
                Approx::E(a @ XE::Atom { .. }) => (Approx::E(XE::Not(Box::new(a))), true),
                Approx::E(_) => {
                    notes.push("X cannot negate a group: the negated group is left out of the X push (write -a -b for -(a OR b))".into());
                    (Approx::True, false)
                }
            }
        }
        Expr::And(v) => combine(v, true, notes),
        Expr::Or(v) => combine(v, false, notes),
    }
}

/// The AND (`and`) or OR of `children`: `False` decides an AND and `True` an OR outright; the
/// other constant drops out of the group.
fn combine(children: &[Expr], and: bool, notes: &mut Vec<String>) -> (Approx, bool) {
    let (decides, neutral) = if and {
        (Approx::False, Approx::True)
    } else {
        (Approx::True, Approx::False)
    };
    let mut items = Vec::new();
    let mut exact = true;
    for c in children {
        let (x, ex) = approx(c, notes);
        exact &= ex;
        match x {
            Approx::E(x) => items.push(x),
            x if x == decides => return (decides, exact),
            _ => {}
        }
    }
    match items.len() {
        0 => (neutral, exact),
        1 => (Approx::E(items.remove(0)), exact),
        _ if and => (Approx::E(XE::And(items)), exact),
        _ => (Approx::E(XE::Or(items)), exact),
    }
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn word(tokens: &[String]) -> String {
    if tokens.len() == 1 && tokens[0] != "or" {
        tokens[0].clone()
    } else {
        quote(&tokens.join(" "))
    }
}

fn a(text: String, standalone: bool) -> (Approx, bool) {
    (Approx::E(XE::Atom { text, standalone }), true)
}

fn atom(op: &Op, raw: &str, notes: &mut Vec<String>) -> (Approx, bool) {
    match op {
        Op::Text { tokens, quoted } => {
            if *quoted {
                a(quote(&tokens.join(" ")), true)
            } else {
                a(word(tokens), true)
            }
        }
        Op::Hashtag(t) => a(format!("#{t}"), true),
        Op::Mention(t) => a(format!("@{t}"), true),
        Op::Cashtag(t) => a(format!("${t}"), true),
        Op::From(acc) | Op::Account(acc) => {
            if acc.platform == Platform::X {
                a(format!("from:{}", acc.id), true)
            } else {
                (Approx::False, true)
            }
        }
        Op::FromHandle(h) => a(format!("from:{h}"), true),
        Op::To(acc) => {
            if acc.platform == Platform::X {
                a(format!("to:{}", acc.id), true)
            } else {
                (Approx::False, true)
            }
        }
        Op::Url(u) => a(format!("url:{}", quote(u)), true),
        Op::Domain(d) => {
            notes.push(format!(
                "domain:{raw} is evaluated locally; X is asked for url:\"{d}\" OR \"{d}\" (links and text), which can miss IOCs X does not see"
            ));
            (
                Approx::E(XE::Or(vec![
                    XE::Atom {
                        text: format!("url:{}", quote(d)),
                        standalone: true,
                    },
                    XE::Atom {
                        text: quote(d),
                        standalone: true,
                    },
                ])),
                false,
            )
        }
        Op::Has(h) => {
            let name = match h {
                HasFlag::Links => "links",
                HasFlag::Geo => "geo",
                HasFlag::Media => "media",
                HasFlag::Hashtags => "hashtags",
                HasFlag::Mentions => "mentions",
                HasFlag::Cashtags => "cashtags",
                HasFlag::Ioc => {
                    notes.push("has:ioc is evaluated locally only (left out of the X push)".into());
                    return (Approx::True, false);
                }
            };
            a(format!("has:{name}"), false)
        }
        Op::Is(i) => {
            let name = match i {
                IsFlag::Retweet => "retweet",
                IsFlag::Reply => "reply",
                IsFlag::Quote => "quote",
            };
            a(format!("is:{name}"), false)
        }
        Op::Lang(l) => a(format!("lang:{l}"), false),
        Op::Platform(p) => {
            notes.push(format!(
                "platform:{p} is evaluated locally (for X posts it is {})",
                *p == Platform::X
            ));
            (
                if *p == Platform::X {
                    Approx::True
                } else {
                    Approx::False
                },
                true,
            )
        }
        Op::EntitySltt | Op::EntityState(_) => {
            notes.push(format!(
                "entity:{raw} is evaluated locally only (left out of the X push)"
            ));
            (Approx::True, false)
        }
        Op::Regex(_) => {
            notes.push("regex: is evaluated locally only (left out of the X push)".into());
            (Approx::True, false)
        }
    }
}

/// True when X accepts the expression: every way to satisfy it includes a positive
/// standalone term.
fn has_standalone(x: &XE) -> bool {
    match x {
        XE::Atom { standalone, .. } => *standalone,
        XE::Not(_) => false,
        XE::And(v) => v.iter().any(has_standalone),
        XE::Or(v) => v.iter().all(has_standalone),
    }
}

fn render(x: &XE, out: &mut String, in_and: bool) {
    match x {
        XE::Atom { text, .. } => out.push_str(text),
        XE::Not(inner) => {
            out.push('-');
            render(inner, out, true);
        }
        XE::And(v) => {
            for (i, c) in v.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                render(c, out, true);
            }
        }
        XE::Or(v) => {
            if in_and {
                out.push('(');
            }
            for (i, c) in v.iter().enumerate() {
                if i > 0 {
                    out.push_str(" OR ");
                }
                render(c, out, false);
            }
            if in_and {
                out.push(')');
            }
        }
    }
}

fn rendered(x: &XE) -> String {
    let mut s = String::new();
    render(x, &mut s, false);
    s
}

/// How a rule translates: the X expression, or why it is not pushed; and the notes.
fn translate(e: &Expr) -> (Option<XE>, Vec<String>) {
    let mut notes = Vec::new();
    let (x, _exact) = approx(e, &mut notes);
    let x = match x {
        Approx::False => {
            notes.push(
                "matches no X post: not pushed to X (it still runs for other platforms)".into(),
            );
            None
        }
        Approx::True => {
            notes.push(
                "not pushed to X: nothing is left that X can filter on (it still runs locally)"
                    .into(),
            );
            None
        }
        Approx::E(x) if !has_standalone(&x) => {
            notes.push("not pushed to X: X needs a positive keyword, phrase, #tag, @mention, $cashtag, from:, to: or url: term in every alternative; negations, is:, has: and lang: only narrow (it still runs locally)".into());
            None
        }
        Approx::E(x) => Some(x),
    };
    (x, notes)
}

/// The warnings a rule earns for the X push (empty when it translates exactly).
pub(crate) fn push_notes(e: &Expr) -> Vec<String> {
    translate(e).1
}

/// Greedy packing of OR alternatives into values of at most `max` characters.
fn pack(items: &[String], max: usize) -> (Vec<String>, Vec<String>) {
    let mut out = Vec::new();
    let mut too_long = Vec::new();
    let mut cur = String::new();
    let mut cur_len = 0;
    for it in items {
        let n = it.chars().count();
        if n > max {
            too_long.push(it.clone());
            continue;
        }
        if cur.is_empty() {
            cur.push_str(it);
            cur_len = n;
        } else if cur_len + 4 + n <= max {
            cur.push_str(" OR ");
            cur.push_str(it);
            cur_len += 4 + n;
        } else {
            out.push(std::mem::take(&mut cur));
            cur.push_str(it);
            cur_len = n;
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    (out, too_long)
}

/// An OR alternative that can be joined with others: ANDs are parenthesised for clarity.
fn alternatives(x: &XE) -> Vec<String> {
    match x {
        XE::Or(v) => v.iter().flat_map(alternatives).collect(),
        XE::And(_) => vec![format!("({})", rendered(x))],
        _ => vec![rendered(x)],
    }
}

/// X filtered-stream rules for `rules` and `watch`, within `limits`.
///
/// Each `[[rules]]` entry that X can take becomes one X rule tagged `tag_prefix` + its id
/// (split at its top-level ORs if it is too long). Watch entries are packed, OR-ed, into as few
/// rules as `max_rule_len` allows, tagged `tag_prefix` + `watch:N`. If the total still exceeds
/// `max_rules`, everything is packed together (`packed:N`), and what does not fit is left out
/// with a warning. Rules that fail to parse, or that X cannot take, are warnings here (compile
/// reports the errors). Alerts always name the local rule: X's tags only route the stream.
pub fn to_x_rules(
    rules: &[RuleSpec],
    watch: &WatchSpec,
    limits: &XLimits,
    tag_prefix: &str,
) -> (Vec<XRule>, Vec<RuleWarning>) {
    let (prepared, errors, _) = prepare(rules, watch);
    let mut warnings: Vec<RuleWarning> = errors
        .into_iter()
        .map(|e| RuleWarning {
            rule_id: e.rule_id.clone(),
            message: format!("not pushed to X: {e}"),
        })
        .collect();
    let max = limits.max_rule_len.max(1);
    let mut own: Vec<(String, Vec<String>, bool)> = Vec::new(); // (tag, values, is_or_split)
    let mut watch_items: Vec<String> = Vec::new();
    let mut all_items: Vec<String> = Vec::new();
    for Prepared {
        id, expr, watch: w, ..
    } in &prepared
    {
        let (x, notes) = translate(expr);
        let quiet = matches!(w, Some(WatchKind::Account) | Some(WatchKind::Domain));
        if !quiet || (x.is_none() && *w != Some(WatchKind::Account)) {
            for n in notes {
                warnings.push(RuleWarning {
                    rule_id: id.clone(),
                    message: n,
                });
            }
        }
        let Some(x) = x else { continue };
        let alts = alternatives(&x);
        all_items.extend(alts.iter().cloned());
        if w.is_some() {
            watch_items.extend(alts);
            continue;
        }
        let value = rendered(&x);
        if value.chars().count() <= max {
            own.push((format!("{tag_prefix}{id}"), vec![value], false));
        } else if matches!(x, XE::Or(_)) {
            let (values, too_long) = pack(&alts, max);
            for t in too_long {
                warnings.push(RuleWarning {
                    rule_id: id.clone(),
                    message: format!("not fully pushed to X: the alternative {t} is longer than {max} characters"),
                });
            }
            own.push((format!("{tag_prefix}{id}"), values, true));
        } else {
            warnings.push(RuleWarning {
                rule_id: id.clone(),
                message: format!(
                    "not pushed to X: its X form is longer than {max} characters and has no top-level OR to split at"
                ),
            });
        }
    }
    let (watch_values, too_long) = pack(&watch_items, max);
    for t in too_long {
        warnings.push(RuleWarning {
            rule_id: "watch".into(),
            message: format!("not pushed to X: {t} is longer than {max} characters"),
        });
    }
    let mut out: Vec<XRule> = Vec::new();
    for (tag, values, _) in &own {
        for v in values {
            out.push(XRule {
                value: v.clone(),
                tag: tag.clone(),
            });
        }
    }
    for (i, v) in watch_values.into_iter().enumerate() {
        out.push(XRule {
            value: v,
            tag: format!("{tag_prefix}watch:{}", i + 1),
        });
    }
    if out.len() > limits.max_rules {
        let (values, _) = pack(&all_items, max);
        out = values
            .into_iter()
            .enumerate()
            .map(|(i, v)| XRule {
                value: v,
                tag: format!("{tag_prefix}packed:{}", i + 1),
            })
            .collect();
        warnings.push(RuleWarning {
            rule_id: "(all rules)".into(),
            message: format!(
                "more X rules than the tier's {} allowed: all rules were packed together (tags {tag_prefix}packed:N)",
                limits.max_rules
            ),
        });
        if out.len() > limits.max_rules {
            let dropped = out.len() - limits.max_rules;
            out.truncate(limits.max_rules);
            warnings.push(RuleWarning {
                rule_id: "(all rules)".into(),
                message: format!(
                    "{dropped} packed X rules do not fit within {} rules of {} characters and were left out: X will not deliver posts for their terms",
                    limits.max_rules, max
                ),
            });
        }
    }
    (out, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse;

    fn x(q: &str) -> Option<String> {
        let e = parse(q, &mut Vec::new()).unwrap();
        translate(&e).0.map(|x| rendered(&x))
    }

    #[test]
    fn exact_translations() {
        assert_eq!(x("a OR b c").as_deref(), Some("a OR b c"));
        assert_eq!(x("(a OR b) c -d").as_deref(), Some("(a OR b) c -d"));
        assert_eq!(
            x("\"School District\" #Tag @Who $btc").as_deref(),
            Some("\"school district\" #tag @who $btc")
        );
        assert_eq!(
            x("from:x:1 OR from:2 lang:en -is:retweet").as_deref(),
            Some("from:1 OR from:2 lang:en -is:retweet")
        );
        assert_eq!(
            x("url:\"a.gov/x\" has:links").as_deref(),
            Some("url:\"a.gov/x\" has:links")
        );
        assert_eq!(x("co-op").as_deref(), Some("\"co op\""));
    }

    #[test]
    fn widening_and_specialising_for_x() {
        assert_eq!(x("lockbit regex:\"x+\"").as_deref(), Some("lockbit"));
        assert_eq!(x("lockbit -(a OR b)").as_deref(), Some("lockbit"));
        assert_eq!(x("lockbit -regex:\"x\"").as_deref(), Some("lockbit"));
        assert_eq!(x("lockbit OR regex:\"x\""), None);
        assert_eq!(x("lockbit platform:x").as_deref(), Some("lockbit"));
        assert_eq!(x("lockbit platform:bluesky"), None);
        assert_eq!(x("a OR from:bluesky:did:plc:z").as_deref(), Some("a"));
        assert_eq!(x("a -platform:mastodon").as_deref(), Some("a"));
        assert_eq!(
            x("domain:a.gov").as_deref(),
            Some("url:\"a.gov\" OR \"a.gov\"")
        );
        assert_eq!(x("-a"), None);
        assert_eq!(x("has:links -is:retweet"), None);
        assert_eq!(x("has:links OR a"), None);
    }
}
