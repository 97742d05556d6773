//! Arbitrary rule text compiled, translated for X, and matched against a post built from the
//! rest of the input.
//!
//! Input layout (lossy UTF-8), so that seeds stay readable and editable:
//! - line 1: the rule query (also given as a `[watch]` keyword, which is parsed as a query);
//! - later lines `KEY=VALUE` set post fields: `platform` (x, mastodon, bluesky), `author`,
//!   `handle`, `lang`, `url`, `hashtag`, `mention`, `cashtag`, `reply_to_author`, `reply`,
//!   `repost`, `quote`, `domain` (a watched domain);
//! - every other line is post text.
//!
//! The post is enriched with `streamer_ioc::enrich`, as in the pipeline, so `domain:`,
//! `entity:` and `has:ioc` atoms see real hosts and entities.
#![no_main]

use libfuzzer_sys::fuzz_target;
use streamer_model::{Platform, Post};
use streamer_rules::{compile, to_x_rules, RuleSpec, WatchSpec, XLimits};

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let mut lines = input.split('\n');
    let query = lines.next().unwrap_or_default();

    let mut post = Post::new(Platform::X, "1", "783214");
    let mut watch = WatchSpec {
        keywords: vec![query.to_owned()],
        ..WatchSpec::default()
    };
    let mut text = Vec::new();
    for line in lines {
        let Some((key, value)) = line.split_once('=') else {
            text.push(line);
            continue;
        };
        let value = value.to_owned();
        match key {
            "platform" => {
                post.platform = match value.as_str() {
                    "mastodon" => Platform::Mastodon,
                    "bluesky" => Platform::Bluesky,
                    _ => Platform::X,
                }
            }
            "author" => post.author.id = value,
            "handle" => post.author.handle = Some(value),
            "lang" => {
                post.lang.get_or_insert_with(|| value.clone());
                post.langs.push(value);
            }
            "url" => post.urls.push(value),
            "hashtag" => post.hashtags.push(value),
            "mention" => post.mentions.push(value),
            "cashtag" => post.cashtags.push(value),
            "reply_to_author" => post.reply_to_author = Some(value),
            "reply" => post.reply_to = Some(value),
            "repost" => post.repost_of = Some(value),
            "quote" => post.quote_of = Some(value),
            "domain" => watch.domains.push(value),
            _ => text.push(line),
        }
    }
    post.text = text.join("\n");
    watch.sltt_domains = post.text.len() % 2 == 0;

    let rules = [RuleSpec::new("fuzz", query)];
    // X translation parses the same text on its own path; it must not panic either.
    let _ = to_x_rules(&rules, &watch, &XLimits::default(), "fuzz:");
    let Ok(compiled) = compile(&rules, &watch) else {
        return;
    };
    let enrichment = streamer_ioc::enrich(&post);
    let hits = compiled.rules.matches(&post, &enrichment);
    let chars = post.text.chars().count();
    for hit in &hits {
        for atom in &hit.matched {
            if let Some([start, end]) = atom.span {
                assert!(
                    start <= end && end <= chars,
                    "span {start}..{end} outside a text of {chars} chars"
                );
            }
        }
    }
});
