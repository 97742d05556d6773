//! A deterministic, realistic benchmark corpus and rule mix, shared by the criterion benchmark
//! and the `gen_corpus` example that writes it out for the Python baseline.
//!
//! Posts: 60–280 characters of English with some security vocabulary (4 % of words), hashtags,
//! mentions, links;
//! about a quarter carry an emoji or typographic quotes (so they take the non-ASCII path) and
//! one in twenty is Japanese or Russian. Rules: watch keywords (50 %), phrases (15 %), domains
//! (15 %), accounts (10 %) and boolean rules (10 %), drawn from a term space in which the
//! corpus hits a few per cent of posts, as a live filter would.

#![allow(dead_code)]

use streamer_model::{Enrichment, Platform, Post};
use streamer_rules::{RuleSpec, WatchSpec};

/// SplitMix64: small, fast and the same on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

const COMMON: &[&str] = &[
    "the",
    "a",
    "to",
    "of",
    "and",
    "in",
    "is",
    "for",
    "on",
    "that",
    "this",
    "with",
    "it",
    "was",
    "we",
    "our",
    "they",
    "are",
    "be",
    "at",
    "by",
    "from",
    "has",
    "have",
    "been",
    "new",
    "just",
    "today",
    "now",
    "more",
    "all",
    "after",
    "about",
    "says",
    "report",
    "update",
    "breaking",
    "officials",
    "news",
    "week",
    "people",
    "say",
    "public",
    "local",
    "state",
    "county",
    "city",
    "school",
    "district",
    "board",
    "meeting",
    "residents",
    "services",
    "systems",
    "online",
    "office",
    "offline",
    "network",
    "police",
    "department",
    "election",
    "water",
    "hospital",
    "outage",
    "statement",
    "working",
    "restore",
    "investigating",
    "incident",
    "issue",
    "data",
    "email",
    "phone",
    "website",
    "portal",
    "payments",
    "court",
    "records",
    "library",
    "closed",
    "open",
    "monday",
    "tuesday",
    "friday",
    "morning",
    "night",
    "thanks",
    "please",
    "help",
    "community",
    "support",
    "team",
    "time",
    "year",
    "first",
    "still",
    "back",
    "down",
    "up",
];

const SECURITY: &[&str] = &[
    "ransomware",
    "lockbit",
    "blackcat",
    "alphv",
    "clop",
    "akira",
    "rhysida",
    "play",
    "breach",
    "leak",
    "leaked",
    "hacked",
    "hackers",
    "attack",
    "cyberattack",
    "phishing",
    "malware",
    "exploit",
    "vulnerability",
    "cve",
    "ddos",
    "encrypted",
    "extortion",
    "darkweb",
    "threat",
    "actor",
    "ransom",
    "stolen",
    "credentials",
    "botnet",
    "zero-day",
    "patch",
];

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ren", "tu", "zor", "vex", "qua", "nil", "bro", "sta", "dex", "pha", "gri",
    "mon", "tel", "ux", "yar", "cor", "fen", "lis", "dra", "kin", "sol",
];

/// A pseudo-word from the rule term space; `i` picks it deterministically.
pub fn term(i: usize) -> String {
    let mut s = String::new();
    let mut n = i + 1;
    while n > 0 {
        s.push_str(SYLLABLES[n % SYLLABLES.len()]);
        n /= SYLLABLES.len();
    }
    s.push_str(&format!("{}", i % 7));
    s
}

/// How many distinct pseudo-terms posts draw from: rules draw from the same space.
pub const TERM_SPACE: usize = 1_000_000;

fn sentence_word(r: &mut Rng) -> String {
    match r.below(100) {
        0..=92 => r.pick(COMMON).to_string(),
        93..=96 => r.pick(SECURITY).to_string(),
        _ => term(r.below(TERM_SPACE)),
    }
}

pub struct BenchPost {
    pub post: Post,
    pub enrichment: Enrichment,
}

pub fn corpus(n: usize, seed: u64) -> Vec<BenchPost> {
    let mut r = Rng::new(seed);
    let emoji = ["🔥", "🚨", "⚠️", "👀", "💀", "✅"];
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let target = 60 + r.below(220);
        let mut text = String::new();
        let mut hashtags = Vec::new();
        let mut mentions = Vec::new();
        let mut urls = Vec::new();
        let mut hosts = Vec::new();
        let fancy = r.chance(25);
        let script = r.below(100);
        if script < 3 {
            text.push_str("ランサムウェア攻撃により市役所のシステムが停止 ");
        } else if script < 5 {
            text.push_str("Атака вымогателей на городскую больницу ");
        }
        while text.chars().count() < target {
            let w = sentence_word(&mut r);
            match r.below(100) {
                0..=3 => {
                    text.push('#');
                    text.push_str(&w);
                    hashtags.push(w);
                }
                4..=5 => {
                    let h = format!("{w}_{}", r.below(1000));
                    text.push('@');
                    text.push_str(&h);
                    mentions.push(h);
                }
                6 => {
                    let host = format!("www.city{}.gov", r.below(50_000));
                    text.push_str(&format!("https://{host}/news/{}", r.below(10_000)));
                    urls.push(format!("https://{host}/news"));
                    hosts.push(host);
                }
                7..=12 => {
                    let mut cs = w.chars();
                    if let Some(c) = cs.next() {
                        text.extend(c.to_uppercase());
                        text.push_str(cs.as_str());
                    }
                }
                _ => text.push_str(&w),
            }
            text.push_str(match r.below(12) {
                0 => ", ",
                1 => ". ",
                2 if fancy => " — ",
                3 if fancy => "’s ",
                _ => " ",
            });
        }
        if fancy {
            let e: &str = emoji[r.below(emoji.len())];
            text.push_str(e);
        }
        let mut post = Post::new(Platform::X, i.to_string(), r.below(2_000_000).to_string());
        post.text = text;
        post.lang = Some(
            if script < 3 {
                "ja"
            } else if script < 5 {
                "ru"
            } else {
                "en"
            }
            .into(),
        );
        post.hashtags = hashtags;
        post.mentions = mentions;
        post.urls = urls;
        if r.chance(20) {
            post.repost_of = Some("1".into());
        }
        let enrichment = Enrichment {
            hosts,
            ..Enrichment::default()
        };
        out.push(BenchPost { post, enrichment });
    }
    out
}

/// `n` rules in the documented mix, as `[[rules]]` and `[watch]` entries.
pub fn rules(n: usize, seed: u64) -> (Vec<RuleSpec>, WatchSpec) {
    let mut r = Rng::new(seed);
    let mut specs = Vec::new();
    let mut watch = WatchSpec::default();
    let mut used = std::collections::HashSet::new();
    let mut fresh = |r: &mut Rng| loop {
        // Mostly pseudo-terms, some real security words.
        let t = if r.chance(1) {
            r.pick(SECURITY).to_string()
        } else {
            term(r.below(TERM_SPACE))
        };
        if used.insert(t.clone()) {
            return t;
        }
    };
    for i in 0..n {
        match i % 20 {
            0..=9 => watch.keywords.push(fresh(&mut r)),
            10..=12 => watch
                .keywords
                .push(format!("\"{} {}\"", r.pick(COMMON), fresh(&mut r))),
            13..=15 => watch.domains.push(format!("city{}.gov", i)),
            16..=17 => watch
                .accounts
                .push(format!("x:{}", r.below(2_000_000) * 1_000_000 + i)),
            _ => {
                let q = match r.below(4) {
                    0 => format!(
                        "({} OR {}) ({} OR \"school district\") -is:retweet",
                        fresh(&mut r),
                        fresh(&mut r),
                        r.pick(COMMON)
                    ),
                    1 => format!("{} {} lang:en", fresh(&mut r), r.pick(COMMON)),
                    2 => format!(
                        "#{} OR \"{} {}\"",
                        fresh(&mut r),
                        r.pick(SECURITY),
                        fresh(&mut r)
                    ),
                    _ => format!("{} -{} has:links", fresh(&mut r), r.pick(COMMON)),
                };
                specs.push(RuleSpec::new(format!("rule-{i}"), q));
            }
        }
    }
    (specs, watch)
}
