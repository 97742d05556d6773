//! Translation to X filtered-stream rules: values, tags, packing and limits.

use streamer_rules::{to_x_rules, RuleSpec, WatchSpec, XLimits};

fn watch(keywords: &[String]) -> WatchSpec {
    WatchSpec {
        keywords: keywords.to_vec(),
        ..WatchSpec::default()
    }
}

#[test]
fn user_rules_get_their_own_tagged_rule() {
    let rules = [
        RuleSpec::new(
            "ransom-local-gov",
            r#"(ransomware OR lockbit) (county OR city OR "school district") -is:retweet"#,
        ),
        RuleSpec::new("local-only", "regex:\"x+\""),
    ];
    let (x, warnings) = to_x_rules(
        &rules,
        &WatchSpec::default(),
        &XLimits::default(),
        "streamer:",
    );
    assert_eq!(x.len(), 1);
    assert_eq!(x[0].tag, "streamer:ransom-local-gov");
    assert_eq!(
        x[0].value,
        r#"(ransomware OR lockbit) (county OR city OR "school district") -is:retweet"#
    );
    assert!(warnings
        .iter()
        .any(|w| w.rule_id == "local-only" && w.message.contains("not pushed")));
}

#[test]
fn watch_lists_pack_into_few_rules_within_the_length_limit() {
    let kws: Vec<String> = (0..1000).map(|i| format!("keyword{i:04}")).collect();
    let mut w = watch(&kws);
    w.accounts = vec!["x:783214".into(), "bluesky:did:plc:abc".into()];
    w.domains = vec!["example.gov".into()];
    w.sltt_domains = true;
    let limits = XLimits::default();
    let (x, warnings) = to_x_rules(&[], &w, &limits, "s:");
    // 1000 × "keyword0000" (11 chars) + " OR " = 15 chars each: 68 fit in 1024.
    assert_eq!(
        x.len(),
        1000_usize.div_ceil(68),
        "{:?}",
        x.iter().map(|r| r.value.len()).collect::<Vec<_>>()
    );
    for r in &x {
        assert!(r.value.chars().count() <= 1024);
        assert!(r.tag.starts_with("s:watch:"));
    }
    let all: String = x
        .iter()
        .map(|r| r.value.clone())
        .collect::<Vec<_>>()
        .join(" OR ");
    for k in &kws {
        assert!(all.contains(k.as_str()), "{k} missing");
    }
    assert!(all.contains("from:783214"));
    assert!(
        !all.contains("did:plc"),
        "other platforms' accounts are not X rules"
    );
    assert!(all.contains("url:\"example.gov\" OR \"example.gov\""));
    assert!(warnings.iter().any(|w| w.rule_id == "sltt"));
}

#[test]
fn too_many_rules_are_packed_together_then_cut_with_a_warning() {
    let rules: Vec<RuleSpec> = (0..80)
        .map(|i| RuleSpec::new(format!("r{i}"), format!("alpha{i} beta{i}")))
        .collect();
    let limits = XLimits {
        max_rule_len: 100,
        max_rules: 10,
    };
    let (x, warnings) = to_x_rules(&rules, &WatchSpec::default(), &limits, "p:");
    assert!(x.len() <= 10);
    assert!(x
        .iter()
        .all(|r| r.tag.starts_with("p:packed:") && r.value.chars().count() <= 100));
    assert!(
        x[0].value.starts_with("(alpha0 beta0) OR (alpha1 beta1)"),
        "{}",
        x[0].value
    );
    assert!(warnings.iter().any(|w| w.message.contains("packed")));
    assert!(warnings.iter().any(|w| w.message.contains("left out")));

    let generous = XLimits {
        max_rule_len: 1024,
        max_rules: 10,
    };
    let (x, warnings) = to_x_rules(&rules, &WatchSpec::default(), &generous, "p:");
    assert_eq!(x.len(), 2);
    assert!(!warnings.iter().any(|w| w.message.contains("left out")));
}

#[test]
fn long_rules_split_at_top_level_or() {
    let q = (0..200)
        .map(|i| format!("term{i}"))
        .collect::<Vec<_>>()
        .join(" OR ");
    let (x, _) = to_x_rules(
        &[RuleSpec::new("big", q)],
        &WatchSpec::default(),
        &XLimits::default(),
        "",
    );
    assert!(x.len() > 1);
    assert!(x
        .iter()
        .all(|r| r.tag == "big" && r.value.chars().count() <= 1024));
    let (x, w) = to_x_rules(
        &[RuleSpec::new("and", "a ".repeat(600))],
        &WatchSpec::default(),
        &XLimits::default(),
        "",
    );
    assert!(x.is_empty());
    assert!(w[0].message.contains("longer than 1024"));
}

#[test]
fn rules_with_errors_are_warnings_here() {
    let (x, w) = to_x_rules(
        &[RuleSpec::new("bad", "(a")],
        &WatchSpec::default(),
        &XLimits::default(),
        "",
    );
    assert!(x.is_empty());
    assert!(w[0].message.contains("expected ')'"));
}
