//! The rule language's semantics, operator by operator (crate docs, "Semantics").

use streamer_model::{AtomMatch, Enrichment, Entity, Geo, Iocs, Media, Platform, Post, Severity};
use streamer_rules::{compile, compile_with, RuleSpec, Suppressions, WatchSpec};

fn post(text: &str) -> Post {
    let mut p = Post::new(Platform::X, "1", "783214");
    p.text = text.to_string();
    p
}

fn ids(rules: &[(&str, &str)], p: &Post, e: &Enrichment) -> Vec<String> {
    let specs: Vec<RuleSpec> = rules.iter().map(|(id, q)| RuleSpec::new(*id, *q)).collect();
    let c = compile(&specs, &WatchSpec::default()).unwrap_or_else(|e| panic!("{e:?}"));
    c.rules.matches(p, e).into_iter().map(|h| h.id).collect()
}

/// Does `query` match `p` with enrichment `e`?
fn m(query: &str, p: &Post, e: &Enrichment) -> bool {
    !ids(&[("r", query)], p, e).is_empty()
}

/// Does `query` match a post with this text and no enrichment?
fn mt(query: &str, text: &str) -> bool {
    m(query, &post(text), &Enrichment::default())
}

fn hit_atoms(query: &str, p: &Post, e: &Enrichment) -> Vec<AtomMatch> {
    let c = compile(&[RuleSpec::new("r", query)], &WatchSpec::default()).unwrap();
    let mut hits = c.rules.matches(p, e);
    assert_eq!(hits.len(), 1, "{query} should match");
    hits.remove(0).matched
}

fn chars(s: &str, span: Option<[usize; 2]>) -> String {
    let [a, b] = span.expect("span");
    s.chars().skip(a).take(b - a).collect()
}

#[test]
fn keywords_match_whole_tokens_case_insensitively() {
    assert!(mt("lockbit", "LockBit strikes again"));
    assert!(mt("LOCKBIT", "new lockbit variant"));
    assert!(!mt("lock", "lockbit strikes"));
    assert!(!mt("bit", "lockbit strikes"));
    assert!(!mt("lockbit", "lockbit3 is new"));
    assert!(!mt("lockbit", "lockbit_support"));
    assert!(mt("lockbit3", "LockBit3 is new"));
}

#[test]
fn tokens_at_text_edges() {
    assert!(mt("ransomware", "ransomware"));
    assert!(mt("ransomware", "ransomware!"));
    assert!(mt("ransomware", "(ransomware)"));
    assert!(mt("attack", "ransomware attack"));
    assert!(mt("attack", "attack"));
    assert!(!mt("attack", ""));
    assert!(mt("\"ransomware attack\"", "ransomware attack"));
}

#[test]
fn phrases_are_consecutive_tokens_across_punctuation() {
    assert!(mt("\"school district\"", "the Springfield School District"));
    assert!(mt("\"school district\"", "school-district"));
    assert!(mt("\"school district\"", "school,  district"));
    assert!(mt("\"school district\"", "school\ndistrict"));
    assert!(!mt("\"school district\"", "school board district"));
    assert!(!mt("\"school district\"", "district school"));
    assert!(!mt("\"school district\"", "preschool district"));
    // An unquoted word with punctuation is the phrase of its tokens.
    assert!(mt("co-op", "the co op store"));
    assert!(mt("example.gov", "see example[.]gov now"));
}

#[test]
fn overlapping_keywords_all_match() {
    let rules = [
        ("lock", "lock"),
        ("lockbit", "lockbit"),
        ("phrase", "\"lockbit ransomware\""),
        ("ransom", "ransomware"),
        ("bit-ransom", "\"bit ransomware\""),
    ];
    let got = ids(
        &rules,
        &post("lock lockbit ransomware"),
        &Enrichment::default(),
    );
    assert_eq!(got, ["lock", "lockbit", "phrase", "ransom"]);
}

#[test]
fn and_binds_tighter_than_or() {
    // apple OR (iphone ipad)
    assert!(mt("apple OR iphone ipad", "apple pie"));
    assert!(!mt("apple OR iphone ipad", "iphone only"));
    assert!(mt("apple OR iphone ipad", "iphone and ipad"));
    // (apple OR iphone) ipad
    assert!(!mt("(apple OR iphone) ipad", "apple pie"));
    assert!(mt("(apple OR iphone) ipad", "apple ipad"));
}

#[test]
fn negation_and_grouping() {
    assert!(mt("lockbit -test", "lockbit attack"));
    assert!(!mt("lockbit -test", "lockbit test"));
    assert!(mt("-test", "anything else"));
    assert!(!mt("-test", "a test"));
    assert!(mt("lockbit -(test OR demo)", "lockbit live"));
    assert!(!mt("lockbit -(test OR demo)", "lockbit demo"));
    assert!(mt("lockbit -(test demo)", "lockbit demo"));
    assert!(!mt("lockbit -(test demo)", "lockbit test demo"));
    assert!(mt("((a OR b) (c OR (d -e)))", "b d"));
    assert!(!mt("((a OR b) (c OR (d -e)))", "b d e"));
    assert!(mt("-\"school district\"", "school board"));
    assert!(!mt("-\"school district\"", "school district"));
}

#[test]
fn negated_atoms_are_not_reported() {
    let p = post("lockbit hits county");
    let atoms = hit_atoms(
        "lockbit (county OR city) -test -is:retweet",
        &p,
        &Enrichment::default(),
    );
    let kinds: Vec<(&str, &str)> = atoms
        .iter()
        .map(|a| (a.kind.as_str(), a.value.as_str()))
        .collect();
    assert_eq!(kinds, [("keyword", "lockbit"), ("keyword", "county")]);
}

#[test]
fn unicode_nfkc_case_and_scripts() {
    // Full-width and ligatures fold under NFKC.
    assert!(mt("lockbit", "ＬＯＣＫＢＩＴ attack"));
    assert!(mt("file", "ﬁle dropped"));
    // Combining sequences equal precomposed characters.
    assert!(mt("café", "cafe\u{301} hack"));
    assert!(mt("cafe\u{301}", "Café hack"));
    // Non-ASCII case mapping.
    assert!(mt("ПРИВЕТ", "привет мир"));
    assert!(mt("straße", "STRAßE"));
    assert!(mt("σύστημα", "ΣΎΣΤΗΜΑ down"));
    // A script change ends a token; digits and marks do not.
    assert!(mt("lockbit", "LockBitによる攻撃"));
    assert!(mt("による", "LockBitによる攻撃"));
    // Spaceless scripts match inside a run of their script.
    assert!(mt("攻撃", "大規模攻撃事件"));
    assert!(mt("แรนซัมแวร์", "การโจมตีแรนซัมแวร์ครั้งใหญ่"));
    assert!(!mt("攻撃", "大規模事件"));
    // But a Latin keyword never matches inside a Latin run.
    assert!(!mt("bit", "LockBitによる"));
    // Arabic and Devanagari are tokenised by spaces.
    assert!(mt("هجوم", "هجوم إلكتروني"));
    assert!(!mt("هجو", "هجوم إلكتروني"));
    assert!(mt("हमला", "साइबर हमला हुआ"));
    // Accents are not folded away (as on X).
    assert!(!mt("cafe", "café"));
}

#[test]
fn invisible_characters_neither_hide_nor_glue_keywords() {
    // A zero-width space inside the word does not hide it.
    assert!(mt("lockbit", "Lock\u{200B}Bit hit the county"));
    // The emoji's variation selector does not glue itself to the word after it.
    let text = "⚠\u{FE0F}LockBit hit the county — the portal’s down 🔥";
    assert!(mt("lockbit", text));
    assert!(mt("\"portal s down\"", text));
    let atoms = hit_atoms("lockbit county", &post(text), &Enrichment::default());
    assert_eq!(chars(text, atoms[0].span), "LockBit");
    assert_eq!(chars(text, atoms[1].span), "county");
    // Spans in text split in place count chars, not bytes.
    let text = "— “breach” at the city’s portal";
    let atoms = hit_atoms("\"city s portal\"", &post(text), &Enrichment::default());
    assert_eq!(chars(text, atoms[0].span), "city’s portal");
}

#[test]
fn terms_that_trigger_nothing_are_found_in_long_posts_too() {
    // `county` and the phrase trigger no rule (`lockbit` does): they are looked up only when
    // the rule is evaluated, through per-post occurrence chains once a post is long.
    let filler = "word ".repeat(300);
    let text = format!("LockBit {filler} the School  District, again school district");
    let atoms = hit_atoms(
        "lockbit (county OR \"school district\")",
        &post(&text),
        &Enrichment::default(),
    );
    assert_eq!(atoms.len(), 2);
    assert_eq!(chars(&text, atoms[1].span), "School  District");
    assert!(!mt("lockbit (county OR \"district school\")", &text));
    assert!(!mt("lockbit -word", &text));
    assert!(mt("lockbit -\"word lockbit\"", &text));
}

#[test]
fn spans_point_into_the_original_text_in_chars() {
    let text = "Ｗarning: ﬁle by LockBit—see “School-District” now";
    let p = post(text);
    let atoms = hit_atoms(
        "lockbit \"school district\" file",
        &p,
        &Enrichment::default(),
    );
    assert_eq!(chars(text, atoms[0].span), "LockBit");
    assert_eq!(chars(text, atoms[1].span), "School-District");
    assert_eq!(chars(text, atoms[2].span), "ﬁle");
    let p = post("a lockbit and LOCKBIT");
    let atoms = hit_atoms("lockbit", &p, &Enrichment::default());
    assert_eq!(atoms[0].span, Some([2, 9]), "the first occurrence");
    let text = "大規模攻撃事件";
    let atoms = hit_atoms("攻撃", &post(text), &Enrichment::default());
    assert_eq!(atoms[0].span, Some([3, 5]));
}

#[test]
fn hashtags_mentions_and_cashtags() {
    let mut p = post("Breaking: #Ransomware hits @LockBit_Supp. $BTC");
    p.hashtags = vec!["Ransomware".into()];
    p.mentions = vec!["LockBit_Supp".into()];
    p.cashtags = vec!["BTC".into()];
    let e = Enrichment::default();
    assert!(m("#ransomware", &p, &e));
    assert!(m("ransomware", &p, &e), "hashtag words are tokens");
    assert!(!m("#ransom", &p, &e));
    assert!(m("@lockbit_supp", &p, &e));
    assert!(m("$btc", &p, &e));
    assert!(!m("#btc", &p, &e));
    let atoms = hit_atoms("#ransomware @lockbit_supp $btc", &p, &e);
    assert_eq!(chars(&p.text, atoms[0].span), "#Ransomware");
    assert_eq!(chars(&p.text, atoms[1].span), "@LockBit_Supp");
    assert_eq!(chars(&p.text, atoms[2].span), "$BTC");
    // Bluesky-style mention: its words are tokens of the text too.
    let mut b = post("ping @lockbit-support.bsky.social");
    b.mentions = vec!["lockbit-support.bsky.social".into()];
    assert!(m("lockbit", &b, &e));
    assert!(m("@lockbit-support.bsky.social", &b, &e));
    // Hashtags fold with NFKC too.
    let mut f = post("x");
    f.hashtags = vec!["ＲＡＮＳＯＭ".into()];
    assert!(m("#ransom", &f, &e));
}

fn enr_hosts(hosts: &[&str]) -> Enrichment {
    Enrichment {
        hosts: hosts.iter().map(|h| h.to_string()).collect(),
        ..Enrichment::default()
    }
}

#[test]
fn domains_match_themselves_and_subdomains_only() {
    let p = post("x");
    assert!(m("domain:example.gov", &p, &enr_hosts(&["example.gov"])));
    assert!(m("domain:example.gov", &p, &enr_hosts(&["a.example.gov"])));
    assert!(m(
        "domain:example.gov",
        &p,
        &enr_hosts(&["x.y.example.gov."])
    ));
    assert!(!m(
        "domain:example.gov",
        &p,
        &enr_hosts(&["notexample.gov"])
    ));
    assert!(!m(
        "domain:example.gov",
        &p,
        &enr_hosts(&["example.gov.evil.com"])
    ));
    assert!(!m("domain:example.gov", &p, &enr_hosts(&["gov"])));
    assert!(m(
        "domain:EXAMPLE.gov",
        &p,
        &enr_hosts(&["Mail.Example.GOV"])
    ));
    assert!(m(
        "domain:state.tx.us",
        &p,
        &enr_hosts(&["dps.state.tx.us"])
    ));
    assert!(!m("domain:example.gov", &p, &Enrichment::default()));
}

#[test]
fn defanged_domains_in_text_and_rules() {
    // The IOC extractor refangs `evil[.]com` in the text into a host; the rule may be defanged
    // too, and the words still match as tokens.
    let p = post("payload at hxxps://cdn.evil[.]com/x.exe");
    let e = enr_hosts(&["cdn.evil.com"]);
    assert!(m("domain:evil[.]com", &p, &e));
    assert!(m("domain:evil.com", &p, &e));
    assert!(m("\"evil com\"", &p, &e));
    assert!(m("evil.com", &p, &e));
    assert!(!m("domain:cdn.evil.com.au", &p, &e));
}

#[test]
fn urls_are_case_insensitive_substrings_of_links_and_ioc_urls() {
    let mut p = post("see link");
    p.urls = vec!["https://Example.gov/Leak/Data.zip".into()];
    let e = Enrichment {
        iocs: Iocs {
            urls: vec!["http://evil.com/payload".into()],
            ..Iocs::default()
        },
        ..Enrichment::default()
    };
    assert!(m("url:\"example.gov/leak\"", &p, &e));
    assert!(m("url:data.zip", &p, &e));
    assert!(m("url:\"evil.com/pay\"", &p, &e));
    assert!(!m("url:\"other.gov\"", &p, &e));
}

#[test]
fn accounts_from_and_to() {
    let mut p = post("hello");
    p.author.handle = Some("LockBitSupp".into());
    p.reply_to_author = Some("999".into());
    let e = Enrichment::default();
    assert!(m("from:783214", &p, &e));
    assert!(m("from:x:783214", &p, &e));
    assert!(!m("from:78321", &p, &e));
    assert!(!m("from:bluesky:783214", &p, &e));
    assert!(m("to:999", &p, &e));
    assert!(!m("to:783214", &p, &e));
    assert!(m("from:@lockbitsupp", &p, &e));
    assert!(m("from:LockBitSupp", &p, &e));
    assert!(!m("from:@other", &p, &e));
    let mut b = Post::new(Platform::Bluesky, "at://x", "did:plc:abc");
    b.text = "x".into();
    assert!(m("from:bluesky:did:plc:abc", &b, &e));
    assert!(m("from:did:plc:abc", &b, &e));
    let mut md = Post::new(Platform::Mastodon, "u", "infosec.exchange:1090");
    md.text = "x".into();
    assert!(m("from:mastodon:infosec.exchange:1090", &md, &e));
    assert!(!m("from:mastodon:other.social:1090", &md, &e));
}

#[test]
fn flags_has_is_lang_platform() {
    let e = Enrichment::default();
    let mut p = post("text");
    assert!(!m("text has:links", &p, &e));
    p.urls = vec!["https://a.gov".into()];
    assert!(m("text has:links", &p, &e));
    assert!(!m("text has:media", &p, &e));
    p.media = vec![Media {
        kind: "photo".into(),
        url: None,
        alt_text: None,
    }];
    assert!(m("text has:media", &p, &e));
    assert!(!m("text has:geo", &p, &e));
    p.geo = Some(Geo {
        lat: Some(1.0),
        lon: Some(2.0),
        approximate: false,
        place: None,
        country: None,
    });
    assert!(m("text has:geo", &p, &e));
    assert!(!m("has:ioc", &p, &e));
    let ioc = Enrichment {
        iocs: Iocs {
            cves: vec!["CVE-2024-1234".into()],
            ..Iocs::default()
        },
        ..Enrichment::default()
    };
    assert!(m("has:ioc", &p, &ioc));
    assert!(!m("has:hashtags", &p, &e));
    p.hashtags = vec!["x".into()];
    assert!(m("has:hashtags", &p, &e));

    assert!(!m("is:retweet", &p, &e));
    assert!(m("-is:retweet", &p, &e));
    p.repost_of = Some("2".into());
    assert!(m("is:retweet", &p, &e));
    assert!(!m("text -is:retweet", &p, &e));
    assert!(!m("is:reply OR is:quote", &p, &e));
    p.reply_to = Some("3".into());
    assert!(m("is:reply", &p, &e));
    p.quote_of = Some("4".into());
    assert!(m("is:quote", &p, &e));

    assert!(!m("lang:en", &p, &e));
    p.lang = Some("en-US".into());
    assert!(m("lang:en", &p, &e));
    assert!(m("lang:EN", &p, &e));
    assert!(!m("lang:de", &p, &e));
    p.langs = vec!["en-US".into(), "de".into()];
    assert!(m("lang:de", &p, &e));

    assert!(m("platform:x", &p, &e));
    assert!(!m("platform:bluesky", &p, &e));
    p.platform = Platform::Bluesky;
    assert!(m("platform:bluesky", &p, &e));
}

fn entity(kind: &str, state: Option<&str>) -> Entity {
    Entity {
        domain: "a.gov".into(),
        name: None,
        kind: kind.into(),
        state: state.map(str::to_string),
        city: None,
        security_contact: None,
    }
}

#[test]
fn entities_sltt_and_state() {
    let p = post("x");
    let city = Enrichment {
        entities: vec![entity("City", Some("TX"))],
        ..Enrichment::default()
    };
    let fed = Enrichment {
        entities: vec![entity("Federal - Executive", Some("DC"))],
        ..Enrichment::default()
    };
    assert!(m("entity:sltt", &p, &city));
    assert!(!m("entity:sltt", &p, &fed));
    assert!(m("entity:state:TX", &p, &city));
    assert!(m("entity:state:tx", &p, &city));
    assert!(!m("entity:state:CA", &p, &city));
    assert!(!m("entity:state:DC", &p, &fed), "federal is not SLTT");
}

#[test]
fn regex_runs_on_the_original_text_case_insensitively() {
    let p = post("Call 555-0100 about LockBit 3.0");
    let e = Enrichment::default();
    assert!(m("regex:\"\\d{3}-\\d{4}\"", &p, &e));
    assert!(m("regex:\"lockbit\\s+3\\.0\"", &p, &e));
    assert!(!m("regex:\"(?-i)lockbit\"", &p, &e));
    let atoms = hit_atoms("regex:\"lockbit\\s+3\"", &p, &e);
    assert_eq!(chars(&p.text, atoms[0].span), "LockBit 3");
    assert!(compile(&[RuleSpec::new("r", "regex:\"(a\"")], &WatchSpec::default()).is_err());
    assert!(compile(
        &[RuleSpec::new("r", "regex:\"(?=x)\"")],
        &WatchSpec::default()
    )
    .is_err());
}

#[test]
fn watch_entries_are_rules_of_their_own() {
    let watch = WatchSpec {
        keywords: vec![
            "ransomware".into(),
            "lockbit".into(),
            "\"school district\"".into(),
        ],
        domains: vec!["example.gov".into()],
        accounts: vec!["x:783214".into(), "bluesky:did:plc:abc".into()],
        sltt_domains: true,
        severity: Severity::High,
    };
    let rules = [RuleSpec::new("mine", "lockbit")];
    let c = compile(&rules, &watch).unwrap();
    let all: Vec<&str> = c.rules.rule_ids().collect();
    assert_eq!(
        all,
        [
            "mine",
            "keyword:ransomware",
            "keyword:lockbit",
            "keyword:\"school district\"",
            "domain:example.gov",
            "account:x:783214",
            "account:bluesky:did:plc:abc",
            "sltt"
        ]
    );
    assert_eq!(c.rules.len(), 8);
    let p = post("LockBit hit the school district");
    let e = Enrichment {
        hosts: vec!["www.example.gov".into()],
        entities: vec![entity("County", Some("IL"))],
        ..Enrichment::default()
    };
    let hits = c.rules.matches(&p, &e);
    let got: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(
        got,
        [
            "mine",
            "keyword:lockbit",
            "keyword:\"school district\"",
            "domain:example.gov",
            "account:x:783214",
            "sltt"
        ]
    );
    assert_eq!(hits[1].severity, Severity::High);
    assert_eq!(hits[2].matched[0].kind, "phrase");
    assert_eq!(hits[3].matched[0].kind, "domain");
    assert_eq!(hits[3].matched[0].value, "example.gov");
    assert_eq!(hits[4].matched[0].kind, "account");
    assert_eq!(hits[4].matched[0].value, "x:783214");
    assert_eq!(hits[4].matched[0].span, None);
}

#[test]
fn errors_name_rule_line_column_and_expectation() {
    let mut spec = RuleSpec::new("bad", "lockbit\n  (county OR");
    spec.line = Some(40);
    let errs = compile(
        &[
            spec,
            RuleSpec::new("ok", "fine"),
            RuleSpec::new("worse", "a - b"),
        ],
        &WatchSpec::default(),
    )
    .unwrap_err();
    assert_eq!(errs.len(), 2, "every bad rule is reported: {errs:?}");
    assert_eq!(errs[0].rule_id, "bad");
    assert_eq!((errs[0].line, errs[0].column), (41, 13));
    assert_eq!(
        errs[0].to_string(),
        "rule bad: line 41, column 13: expected a term after OR, found the end of the query"
    );
    assert_eq!(
        (errs[1].rule_id.as_str(), errs[1].line, errs[1].column),
        ("worse", 1, 3)
    );
}

#[test]
fn duplicate_ids_and_bad_watch_entries_are_errors() {
    let watch = WatchSpec {
        keywords: vec!["a".into(), "a".into()],
        domains: vec!["not a domain/".into()],
        accounts: vec!["@handle".into()],
        ..WatchSpec::default()
    };
    let errs = compile(&[RuleSpec::new("x", "a"), RuleSpec::new("x", "b")], &watch).unwrap_err();
    let msgs: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    assert_eq!(errs.len(), 4, "{msgs:?}");
    assert!(msgs[0].contains("rule x:") && msgs[0].contains("duplicate"));
    assert!(msgs[1].contains("keyword:a") && msgs[1].contains("duplicate"));
    assert!(msgs[2].contains("expected a domain"));
    assert!(msgs[3].contains("expected PLATFORM:AUTHOR_ID"));
}

#[test]
fn warnings_for_rules_x_cannot_take() {
    let rules = [
        RuleSpec::new("local", "lockbit domain:example.gov"),
        RuleSpec::new("neg", "-lockbit"),
        RuleSpec::new("flags", "has:links -is:retweet"),
        RuleSpec::new("fine", "lockbit -is:retweet lang:en"),
        RuleSpec::new("handle", "from:@someone"),
        RuleSpec::new("plat", "platform:mastodon lockbit"),
    ];
    let c = compile(&rules, &WatchSpec::default()).unwrap();
    let warned: Vec<&str> = c.warnings.iter().map(|w| w.rule_id.as_str()).collect();
    for id in ["local", "neg", "flags", "handle", "plat"] {
        assert!(warned.contains(&id), "{id} should warn: {:?}", c.warnings);
    }
    assert!(!warned.contains(&"fine"), "{:?}", c.warnings);
    // They still run locally.
    assert!(c
        .rules
        .matches(&post("nothing"), &Enrichment::default())
        .iter()
        .any(|h| h.id == "neg"));
}

#[test]
fn suppressions_mute_authors_and_terms() {
    let sup = Suppressions {
        muted_authors: vec!["x:42".into()],
        suppressed_terms: vec!["\"red team\"".into()],
    };
    let c = compile_with(
        &[RuleSpec::new("r", "lockbit")],
        &WatchSpec::default(),
        &sup,
    )
    .unwrap();
    let e = Enrichment::default();
    assert_eq!(c.rules.matches(&post("lockbit"), &e).len(), 1);
    assert!(c
        .rules
        .matches(&post("lockbit red-team exercise"), &e)
        .is_empty());
    let mut muted = post("lockbit");
    muted.author.id = "42".into();
    assert!(c.rules.matches(&muted, &e).is_empty());
}

#[test]
fn hits_come_in_rule_order_with_positive_atoms_in_rule_order() {
    let rules = [
        ("z", "county"),
        ("a", "lockbit OR county"),
        ("m", "-nothing"),
    ];
    let p = post("county hit by lockbit");
    assert_eq!(ids(&rules, &p, &Enrichment::default()), ["z", "a", "m"]);
    let atoms = hit_atoms("lockbit OR county OR lockbit", &p, &Enrichment::default());
    let v: Vec<&str> = atoms.iter().map(|a| a.value.as_str()).collect();
    assert_eq!(v, ["lockbit", "county"]);
}

#[test]
fn one_scratch_serves_rule_sets_of_different_sizes() {
    let small = compile(&[RuleSpec::new("a", "x")], &WatchSpec::default()).unwrap();
    let big_rules: Vec<RuleSpec> = (0..500)
        .map(|i| RuleSpec::new(format!("r{i}"), format!("w{i}")))
        .collect();
    let big = compile(&big_rules, &WatchSpec::default()).unwrap();
    let mut s = streamer_rules::Scratch::new();
    let e = Enrichment::default();
    for _ in 0..3 {
        assert_eq!(small.rules.matches_with(&mut s, &post("x"), &e).len(), 1);
        assert_eq!(
            big.rules.matches_with(&mut s, &post("w499 w7"), &e).len(),
            2
        );
        assert!(small.rules.matches_with(&mut s, &post("w1"), &e).is_empty());
    }
}
