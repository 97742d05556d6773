//! Property tests: arbitrary input never panics and every extracted value obeys its convention;
//! pathological megabyte lines (runs of dots, brackets, digits, hex) finish. Wall-clock time is
//! printed for people, never asserted (the benchmark measures it).

use proptest::prelude::*;
use std::time::Instant;
use streamer_ioc::{defang, extract, refang, registrable_domain};
use streamer_model::Iocs;

/// Every value must be in its canonical form, whatever the input was.
fn check_conventions(iocs: &Iocs) {
    for d in &iocs.domains {
        // A host under a known suffix, or a bare private suffix such as `github.io`.
        let known =
            registrable_domain(d).is_some() || registrable_domain(&format!("x.{d}")).is_some();
        assert!(known, "domain without a known public suffix: {d}");
        assert_eq!(d, &d.to_lowercase(), "domains are lower-case: {d}");
        assert!(!d.ends_with('.'), "{d}");
    }
    for ip in &iocs.ipv4 {
        let parsed: std::net::Ipv4Addr = ip.parse().unwrap_or_else(|_| panic!("ipv4 {ip}"));
        assert_eq!(&parsed.to_string(), ip);
    }
    for ip in &iocs.ipv6 {
        let parsed: std::net::Ipv6Addr = ip.parse().unwrap_or_else(|_| panic!("ipv6 {ip}"));
        assert_eq!(&parsed.to_string(), ip, "canonical form");
    }
    for (list, len) in [(&iocs.md5, 32), (&iocs.sha1, 40), (&iocs.sha256, 64)] {
        for h in list {
            assert_eq!(h.len(), len);
            assert!(
                h.bytes()
                    .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)),
                "{h}"
            );
        }
    }
    for c in &iocs.cves {
        assert!(c.starts_with("CVE-") && c.len() >= 13, "{c}");
    }
    for u in &iocs.urls {
        assert!(u.contains("://"), "{u}");
    }
    for e in &iocs.emails {
        assert_eq!(e.matches('@').count(), 1, "{e}");
    }
    for list in [
        &iocs.urls,
        &iocs.domains,
        &iocs.ipv4,
        &iocs.ipv6,
        &iocs.emails,
        &iocs.btc,
    ] {
        let set: std::collections::HashSet<&String> = list.iter().collect();
        assert_eq!(set.len(), list.len(), "de-duplicated: {list:?}");
    }
}

/// Text drawn mostly from the characters the scanner cares about.
fn ioc_soup() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "[.]",
        "(.)",
        "{.}",
        "[dot]",
        "(at)",
        "[@]",
        "hxxp",
        "hXXps",
        "://",
        "[:]//",
        ":\\\\",
        "[/]",
        ".",
        ":",
        "::",
        "@",
        "/",
        " ",
        "\n",
        "com",
        "gov",
        "evil",
        "1",
        "25",
        "255",
        "2001",
        "db8",
        "ffff",
        "cve-",
        "2024-",
        "3400",
        "bc1q",
        "0x",
        "d41d8cd98f00b204e9800998ecf8427e",
        "．",
        "。",
        "é",
        "访问",
        "(",
        ")",
        "[",
        "]",
        "\"",
        "'",
        ",",
        "-",
        "_",
        "k12",
        "tx",
        "us",
        "\u{2011}",
    ]);
    prop::collection::vec(atoms, 0..60).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_unicode_never_panics(s in any::<String>()) {
        check_conventions(&extract(&s));
        let _ = refang(&s);
        let _ = defang(&s);
    }

    #[test]
    fn ioc_soup_never_panics_and_obeys_conventions(s in ioc_soup()) {
        check_conventions(&extract(&s));
    }

    #[test]
    fn defanged_domains_and_urls_come_back_whole(
        labels in prop::collection::vec("[a-z][a-z0-9]{0,9}", 1..4),
        tld in prop::sample::select(vec!["com", "net", "org", "gov", "ms", "co.uk", "xyz"]),
        path in "[a-zA-Z0-9/]{0,12}",
    ) {
        let host = format!("{}.{tld}", labels.join("."));
        let url = format!("https://{host}/{path}");
        prop_assert_eq!(refang(&defang(&url)), url.clone());
        let iocs = extract(&format!("see {} now", defang(&url)));
        prop_assert_eq!(iocs.urls, vec![url]);
        prop_assert_eq!(iocs.domains, vec![host]);
    }
}

/// Pathological lines of about 1 MB each.
fn megabyte_lines() -> Vec<(&'static str, String)> {
    const MB: usize = 1 << 20;
    let rep = |unit: &str| unit.repeat(MB / unit.len());
    vec![
        ("dots", rep(".")),
        ("brackets", rep("[")),
        ("bracket dots", rep("[.]")),
        ("digits", rep("1")),
        ("digit dots", rep("1.")),
        ("quads", rep("1.2.3.4 ")),
        ("hex", rep("a")),
        ("hex words", rep("d41d8cd98f00b204e9800998ecf8427e ")),
        ("labels", rep("a.")),
        ("colons", rep(":")),
        ("hex colons", rep("1:")),
        ("ats", rep("a@")),
        ("schemes", rep("http://")),
        ("defanged schemes", rep("hxxp[:]//")),
        ("parens", rep("(dot)")),
        (
            "one url",
            format!("https://evil.com/{}", rep("a/").trim_end_matches('/')),
        ),
        ("base58", rep("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfN")),
        ("cve", rep("CVE-2024-")),
        ("wide dots", rep("a．")),
    ]
}

#[test]
fn megabyte_lines_finish() {
    for (name, line) in megabyte_lines() {
        let t = Instant::now();
        let iocs = extract(&line);
        check_conventions(&iocs);
        eprintln!("{name:>16}: {} bytes in {:?}", line.len(), t.elapsed());
    }
}

#[test]
fn megabyte_lines_yield_what_they_hold() {
    // A repeated quad is one IPv4; runs of one character are nothing.
    let lines = megabyte_lines();
    let get = |n: &str| &lines.iter().find(|(k, _)| *k == n).expect("line").1;
    assert_eq!(extract(get("quads")).ipv4, ["1.2.3.4"]);
    assert!(extract(get("dots")).is_empty());
    assert!(extract(get("digits")).is_empty());
    assert!(extract(get("hex")).is_empty());
    assert_eq!(
        extract(get("hex words")).md5,
        ["d41d8cd98f00b204e9800998ecf8427e"]
    );
    assert_eq!(extract(get("one url")).domains, ["evil.com"]);
}
