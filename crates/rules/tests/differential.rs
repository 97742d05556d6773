//! Differential test: a naive evaluator, written plainly here from the documented semantics,
//! and the compiled matcher agree on generated rules × posts.
//!
//! The naive side normalises the whole text with `nfkc()`, splits it into a list of tokens and
//! compares token lists; the compiled side runs one Aho-Corasick automaton over a token stream
//! and evaluates only triggered rules. They share nothing but the spec.

use proptest::prelude::*;
use streamer_model::{Enrichment, Platform, Post};
use streamer_rules::{compile, RuleSpec, WatchSpec};
use unicode_normalization::UnicodeNormalization;
use unicode_script::{Script, UnicodeScript};

const VOCAB: &[&str] = &[
    "lockbit",
    "ransomware",
    "county",
    "city",
    "school",
    "district",
    "attack",
    "lock",
    "bit",
    "gov",
    "攻撃",
    "大規模",
    "による",
    "привет",
    "café",
    "x1",
    "data_leak",
    "σύστημα",
    "ﬁle",
    "3",
    "แรนซัม",
];
const HOSTS: &[&str] = &[
    "example.gov",
    "a.example.gov",
    "notexample.gov",
    "evil.com",
    "x.y.evil.com",
];
const DOMAINS: &[&str] = &["example.gov", "evil.com", "y.evil.com", "gov"];
const LANGS: &[&str] = &["en", "de", "ja"];

/// A rule as the test sees it.
#[derive(Debug, Clone)]
enum T {
    /// Tokens of a keyword (one) or phrase (several) as written in the rule.
    Text(Vec<String>),
    Hashtag(String),
    From(u32),
    Domain(String),
    HasLinks,
    IsRetweet,
    Lang(String),
    Not(Box<T>),
    And(Vec<T>),
    Or(Vec<T>),
}

fn render(t: &T) -> String {
    let group = |c: &T| match c {
        T::And(_) | T::Or(_) | T::Not(_) => format!("({})", render(c)),
        _ => render(c),
    };
    match t {
        T::Text(v) if v.len() == 1 => v[0].clone(),
        T::Text(v) => format!("\"{}\"", v.join(" ")),
        T::Hashtag(h) => format!("#{h}"),
        T::From(n) => format!("from:{n}"),
        T::Domain(d) => format!("domain:{d}"),
        T::HasLinks => "has:links".into(),
        T::IsRetweet => "is:retweet".into(),
        T::Lang(l) => format!("lang:{l}"),
        T::Not(x) => format!("-{}", group(x)),
        T::And(v) => v.iter().map(group).collect::<Vec<_>>().join(" "),
        T::Or(v) => v.iter().map(group).collect::<Vec<_>>().join(" OR "),
    }
}

/// Unicode's Default_Ignorable_Code_Point list, which matching drops after NFKC.
fn ignorable(c: char) -> bool {
    let c = c as u32;
    [
        (0xAD, 0xAD),
        (0x34F, 0x34F),
        (0x61C, 0x61C),
        (0x115F, 0x1160),
        (0x17B4, 0x17B5),
        (0x180B, 0x180F),
        (0x200B, 0x200F),
        (0x202A, 0x202E),
        (0x2060, 0x206F),
        (0x3164, 0x3164),
        (0xFE00, 0xFE0F),
        (0xFEFF, 0xFEFF),
        (0xFFA0, 0xFFA0),
        (0xFFF0, 0xFFF8),
        (0x1BCA0, 0x1BCA3),
        (0x1D173, 0x1D17A),
        (0xE0000, 0xE0FFF),
    ]
    .iter()
    .any(|&(lo, hi)| (lo..=hi).contains(&c))
}

fn fold(s: &str) -> String {
    s.nfkc()
        .filter(|&c| !ignorable(c))
        .collect::<String>()
        .to_lowercase()
}

fn script(c: char) -> Option<Script> {
    match c.script() {
        Script::Common | Script::Inherited | Script::Unknown => None,
        s => Some(s),
    }
}

fn spaceless(c: char) -> bool {
    matches!(
        c.script(),
        Script::Han
            | Script::Hiragana
            | Script::Katakana
            | Script::Thai
            | Script::Lao
            | Script::Khmer
            | Script::Myanmar
    )
}

/// DESIGN.md "Matching", read literally.
fn naive_tokens(text: &str) -> Vec<String> {
    let norm = fold(text);
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut last: Option<Script> = None;
    for c in norm.chars() {
        let tokenish =
            c.is_alphanumeric() || c == '_' || unicode_normalization::char::is_combining_mark(c);
        if !tokenish {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            last = None;
            continue;
        }
        if let (Some(a), Some(b)) = (last, script(c)) {
            if a != b && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        }
        if script(c).is_some() {
            last = script(c);
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn naive_text(post_tokens: &[String], kw: &[String]) -> bool {
    let k: Vec<String> = naive_tokens(&kw.join(" "));
    let n = k.len();
    if n == 0 || post_tokens.len() < n {
        return false;
    }
    let lead_free = k[0].chars().next().is_some_and(spaceless);
    let trail_free = k[n - 1].chars().last().is_some_and(spaceless);
    (0..=post_tokens.len() - n).any(|i| {
        (0..n).all(|j| {
            let p = &post_tokens[i + j];
            let w = &k[j];
            let first = j == 0 && lead_free;
            let last = j == n - 1 && trail_free;
            match (first, last) {
                (true, true) => p.contains(w.as_str()),
                (true, false) => p.ends_with(w.as_str()),
                (false, true) => p.starts_with(w.as_str()),
                (false, false) => p == w,
            }
        })
    })
}

fn naive(t: &T, post: &Post, tokens: &[String], hosts: &[String]) -> bool {
    match t {
        T::Text(v) => naive_text(tokens, v),
        T::Hashtag(h) => post.hashtags.iter().any(|x| fold(x) == fold(h)),
        T::From(n) => post.platform == Platform::X && post.author.id == n.to_string(),
        T::Domain(d) => hosts
            .iter()
            .any(|h| h == d || h.ends_with(&format!(".{d}"))),
        T::HasLinks => !post.urls.is_empty(),
        T::IsRetweet => post.repost_of.is_some(),
        T::Lang(l) => post
            .lang
            .iter()
            .any(|x| x.split('-').next().unwrap_or("").eq_ignore_ascii_case(l)),
        T::Not(x) => !naive(x, post, tokens, hosts),
        T::And(v) => v.iter().all(|c| naive(c, post, tokens, hosts)),
        T::Or(v) => v.iter().any(|c| naive(c, post, tokens, hosts)),
    }
}

fn vocab_word() -> impl Strategy<Value = String> {
    prop::sample::select(VOCAB).prop_map(str::to_string)
}

fn leaf() -> impl Strategy<Value = T> {
    prop_oneof![
        6 => prop::collection::vec(vocab_word(), 1..=2).prop_map(T::Text),
        1 => vocab_word().prop_map(T::Hashtag),
        1 => (1u32..4).prop_map(T::From),
        1 => prop::sample::select(DOMAINS).prop_map(|d| T::Domain(d.to_string())),
        1 => Just(T::HasLinks),
        1 => Just(T::IsRetweet),
        1 => prop::sample::select(LANGS).prop_map(|l| T::Lang(l.to_string())),
    ]
}

fn rule() -> impl Strategy<Value = T> {
    leaf().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(T::And),
            prop::collection::vec(inner.clone(), 2..4).prop_map(T::Or),
            inner.prop_map(|x| T::Not(Box::new(x))),
        ]
    })
}

/// How a word is written in a post: case and compatibility variants that normalise back.
fn spelled(w: &str, style: u8) -> String {
    match style % 5 {
        0 => w.to_string(),
        1 => w.to_uppercase(),
        2 => w
            .chars()
            .map(|c| match c {
                'a'..='z' => char::from_u32(c as u32 - 'a' as u32 + 0xFF41).unwrap_or(c),
                _ => c,
            })
            .collect(),
        3 => w.nfd().collect(),
        _ => {
            let mut cs = w.chars();
            cs.next()
                .map(|c| c.to_uppercase().collect::<String>() + cs.as_str())
                .unwrap_or_default()
        }
    }
}

const SEPS: &[&str] = &[
    " ",
    " ",
    " ",
    "-",
    ", ",
    "  ",
    "!",
    "\n",
    " #",
    "",
    "—",
    "[.]",
    " 🔥 ",
    "\u{200B}",
    " ⚠\u{FE0F}",
];

#[derive(Debug, Clone)]
struct GenPost {
    post: Post,
    hosts: Vec<String>,
}

fn gen_post() -> impl Strategy<Value = GenPost> {
    (
        prop::collection::vec((vocab_word(), 0u8..5, 0usize..SEPS.len()), 0..12),
        prop::collection::vec(vocab_word(), 0..3),
        1u32..4,
        prop::collection::vec(prop::sample::select(HOSTS), 0..3),
        prop::option::of(prop::sample::select(&["en", "en-US", "de", "ja-JP"][..])),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(words, tags, author, hosts, lang, links, rt)| {
            let mut text = String::new();
            for (w, style, sep) in &words {
                text.push_str(&spelled(w, *style));
                text.push_str(SEPS[*sep]);
            }
            let mut post = Post::new(Platform::X, "1", author.to_string());
            post.text = text;
            post.hashtags = tags;
            post.lang = lang.map(str::to_string);
            if links {
                post.urls = vec!["https://example.org/".into()];
            }
            if rt {
                post.repost_of = Some("2".into());
            }
            GenPost {
                post,
                hosts: hosts.into_iter().map(str::to_string).collect(),
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn compiled_matcher_agrees_with_naive_evaluator(
        rules in prop::collection::vec(rule(), 1..25),
        posts in prop::collection::vec(gen_post(), 1..25),
    ) {
        let specs: Vec<RuleSpec> = rules
            .iter()
            .enumerate()
            .map(|(i, t)| RuleSpec::new(format!("r{i}"), render(t)))
            .collect();
        let compiled = compile(&specs, &WatchSpec::default())
            .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        for gp in &posts {
            let enr = Enrichment { hosts: gp.hosts.clone(), ..Enrichment::default() };
            let tokens = naive_tokens(&gp.post.text);
            let expected: Vec<String> = rules
                .iter()
                .enumerate()
                .filter(|(_, t)| naive(t, &gp.post, &tokens, &gp.hosts))
                .map(|(i, _)| format!("r{i}"))
                .collect();
            let hits = compiled.rules.matches(&gp.post, &enr);
            let got: Vec<String> = hits.iter().map(|h| h.id.clone()).collect();
            prop_assert_eq!(
                &got, &expected,
                "text {:?} tokens {:?} rules {:?}", gp.post.text, tokens,
                specs.iter().map(|s| &s.query).collect::<Vec<_>>()
            );
            // Every reported text span covers text whose tokens hold the atom's tokens.
            for h in &hits {
                for a in &h.matched {
                    if let (Some([s, e]), "keyword" | "phrase") = (a.span, a.kind.as_str()) {
                        let sub: String = gp.post.text.chars().skip(s).take(e - s).collect();
                        let want = naive_tokens(&a.value).join(" ");
                        let have = naive_tokens(&sub).join(" ");
                        prop_assert!(have.contains(&want), "span {:?} = {:?} for {:?}", [s, e], sub, a.value);
                    }
                }
            }
        }
    }
}
