//! The case table (`tests/data/cases.jsonl`): every defang style, every IOC kind and every
//! false-positive trap, with expected values. The same file feeds the Python comparison in
//! `bench/ioc/`, so "cases fully right" means the same thing for every extractor.

use serde_json::Value;
use std::collections::BTreeSet;

const CASES: &str = include_str!("data/cases.jsonl");
const KEYS: [&str; 10] = [
    "urls", "domains", "ipv4", "ipv6", "md5", "sha1", "sha256", "cves", "emails", "btc",
];

fn as_set(v: Option<&Value>) -> BTreeSet<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn case_table_is_fully_right() {
    let mut failures = Vec::new();
    let mut n = 0;
    for (lineno, line) in CASES.lines().enumerate() {
        let case: Value = serde_json::from_str(line).expect("case line is JSON");
        let text = case["text"].as_str().expect("text");
        let got = serde_json::to_value(streamer_ioc::extract(text)).expect("iocs serialise");
        for key in KEYS {
            let want = as_set(case["expect"].get(key));
            let have = as_set(got.get(key));
            if want != have {
                failures.push(format!(
                    "line {} [{}] {text:?}: {key}: want {want:?}, got {have:?}",
                    lineno + 1,
                    case["group"]
                ));
            }
        }
        n += 1;
    }
    assert!(n >= 200, "the table must hold at least 200 cases, has {n}");
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_group_of_the_brief_is_covered() {
    let groups: BTreeSet<String> = CASES
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|c| c["group"].as_str().map(str::to_owned))
        .collect();
    for g in [
        "defang",
        "url",
        "domain",
        "fp-domain",
        "ipv4",
        "fp-ipv4",
        "ipv6",
        "fp-ipv6",
        "hash",
        "fp-hash",
        "cve",
        "fp-cve",
        "email",
        "fp-email",
        "btc",
        "fp-btc",
        "prose",
        "post",
    ] {
        assert!(groups.contains(g), "no cases for {g}");
    }
}
