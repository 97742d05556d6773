//! Exports checked by their own ecosystems' tools: the STIX 2.1 bundle by the official
//! validator (`stix2-validator`), the MISP event by PyMISP, the CSV by a CSV reader.
//! The Python packages live in a virtualenv under `target/py-venv`, created on first use.

mod analytics_support;

use analytics_support::*;
use serde_json::Value;

const RULES: &str = "[[rules]]\nid = \"ransom\"\nquery = \"ransomware\"\nseverity = \"high\"\ntags = [\"ransomware\"]\n";

const SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn populated() -> Env {
    let env = Env::new(RULES);
    let text = format!(
        "Ransomware crew hit austintexas.gov, C2 hxxp://evil-c2[.]xyz/drop?id=1 at 185.220.101[.]4 \
         and internal 10.0.0.5, sample sha256 {SHA}, exploiting CVE-2024-3400, \
         contact leaks(at)evil-c2[.]xyz, pay 1BoatSLRHtKNngkdXEeobR76b53LETtpyT"
    );
    env.replay(&[
        x_post("901", "783214", "otter", &text, "2026-11-30T10:00:00.000Z"),
        x_post(
            "902",
            "555",
            "=cmd|' /C calc'!A0",
            "ransomware: =HYPERLINK(\"http://x\") in austintexas.gov",
            "2026-11-30T10:05:00.000Z",
        ),
        mastodon_post(
            "903",
            "1090",
            "otter",
            "ransomware note from mastodon",
            "2026-11-30T10:06:00.000Z",
        ),
        bsky_post(
            "did:plc:otter7x3k2q",
            "3kexp",
            "ransomware note from bluesky",
            "2026-11-30T10:07:00.000Z",
            1_764_500_000_000_009,
        ),
    ]);
    assert_eq!(env.records_of("ransom").len(), 4);
    env
}

fn python(py: &std::path::Path, script: &str, arg: &std::path::Path) -> String {
    let out = std::process::Command::new(py)
        .args(["-c", script])
        .arg(arg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn stix_bundle_passes_the_official_validator() {
    let env = populated();
    let path = env.path("bundle.json");
    let (code, _, err) = env.run(&[
        "export",
        "--format",
        "stix",
        "--since",
        "1d",
        "--tlp",
        "green",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let bundle: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(bundle["type"], "bundle");
    let objects = bundle["objects"].as_array().unwrap();
    let of = |t: &str| -> Vec<&Value> { objects.iter().filter(|o| o["type"] == t).collect() };
    let patterns: Vec<&str> = of("indicator")
        .iter()
        .map(|i| i["pattern"].as_str().unwrap())
        .collect();
    for needle in [
        "[url:value = 'http://evil-c2.xyz/drop?id=1']",
        "[domain-name:value = 'evil-c2.xyz']",
        "[ipv4-addr:value = '185.220.101.4']",
        "[email-addr:value = 'leaks@evil-c2.xyz']",
    ] {
        assert!(
            patterns.contains(&needle),
            "missing {needle} in {patterns:#?}"
        );
    }
    assert!(patterns
        .iter()
        .any(|p| p.contains(SHA) && p.contains("'SHA-256'")));
    assert!(
        !patterns.iter().any(|p| p.contains("10.0.0.5")),
        "a private IP is no indicator"
    );
    assert!(
        !patterns.iter().any(|p| p.contains("austintexas.gov")),
        "nor is the victim's domain"
    );
    assert!(
        objects
            .iter()
            .any(|o| o["type"] == "ipv4-addr" && o["value"] == "10.0.0.5"),
        "but it was observed"
    );
    assert_eq!(of("vulnerability")[0]["name"], "CVE-2024-3400");
    let actor = of("threat-actor");
    assert_eq!(actor.len(), 1);
    assert_eq!(actor[0]["name"], "Crimson Otter");
    assert!(of("identity")
        .iter()
        .any(|i| i["identity_class"] == "organization"
            && i["name"].as_str().unwrap().contains("Austin")));
    assert!(!of("sighting").is_empty() && of("observed-data").len() == 4 && of("note").len() == 4);
    let rels: Vec<&str> = of("relationship")
        .iter()
        .map(|r| r["relationship_type"].as_str().unwrap())
        .collect();
    for r in ["indicates", "targets", "attributed-to"] {
        assert!(rels.contains(&r), "{rels:?}");
    }
    assert!(objects
        .iter()
        .any(|o| o["id"] == "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"));
    assert!(of("indicator").iter().all(|i| i["object_marking_refs"][0]
        == "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"));

    let py = python_venv();
    let out = python(
        &py,
        "import sys\nfrom stix2validator import validate_file, print_results\n\
         r = validate_file(sys.argv[1])\nprint_results(r)\n\
         w = sum(len(o.warnings or []) for o in r.object_results)\n\
         print('WARNINGS', w)\nprint('VALID' if r.is_valid else 'INVALID')\n\
         sys.exit(0 if r.is_valid else 1)",
        &path,
    );
    assert!(out.contains("\nVALID"), "{out}");
    // Not even a best-practice warning (ids, vocabularies, relationship types).
    assert!(out.contains("WARNINGS 0"), "{out}");
}

#[test]
fn misp_event_loads_in_pymisp_with_types_to_ids_and_tlp() {
    let env = populated();
    let path = env.path("event.json");
    let (code, _, err) = env.run(&[
        "export",
        "--format",
        "misp",
        "--since",
        "1d",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let py = python_venv();
    let out = python(
        &py,
        "import sys, json\nfrom pymisp import MISPEvent\ne = MISPEvent()\ne.load(open(sys.argv[1]).read())\n\
         print(json.dumps({'info': e.info, 'tags': [t.name for t in e.tags],\n\
           'attrs': [[a.type, a.category, a.value, a.to_ids, a.comment] for a in e.attributes]}))",
        &path,
    );
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert!(v["tags"].as_array().unwrap().contains(&"tlp:amber".into()));
    assert!(v["tags"]
        .as_array()
        .unwrap()
        .contains(&"streamer:rule=\"ransom\"".into()));
    let attrs = v["attrs"].as_array().unwrap();
    let find = |t: &str, val: &str| -> &Value {
        attrs
            .iter()
            .find(|a| a[0] == t && a[2] == val)
            .unwrap_or_else(|| panic!("no {t} {val} in {attrs:#?}"))
    };
    assert_eq!(find("ip-dst", "185.220.101.4")[3], true);
    assert_eq!(
        find("ip-dst", "10.0.0.5")[3],
        false,
        "not actionable: no to_ids"
    );
    assert_eq!(find("url", "http://evil-c2.xyz/drop?id=1")[3], true);
    assert_eq!(find("sha256", SHA)[1], "Payload delivery");
    assert_eq!(find("vulnerability", "CVE-2024-3400")[3], false);
    assert_eq!(
        find("btc", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT")[1],
        "Financial fraud"
    );
    assert_eq!(find("threat-actor", "Crimson Otter")[3], false);
    assert_eq!(find("twitter-id", "otter")[1], "Social network");
    assert!(attrs
        .iter()
        .any(|a| a[0] == "target-org" && a[2].as_str().unwrap().contains("Austin")));
    assert!(attrs
        .iter()
        .any(|a| a[0] == "target-location" && a[2] == "TX"));
    let comment = find("domain", "evil-c2.xyz")[4]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        comment.contains("@otter")
            && comment.contains("ransom")
            && comment.contains("https://x.com/"),
        "{comment}"
    );
}

#[test]
fn csv_has_a_row_per_ioc_and_no_live_formulas() {
    let env = populated();
    let (code, out, err) = env.run(&["export", "--format", "csv", "--since", "1d"]);
    assert_eq!(code, 0, "{err}");
    let mut reader = csv::Reader::from_reader(out.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, streamer::export::CSV_HEADER);
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let otter: Vec<&csv::StringRecord> = rows
        .iter()
        .filter(|r| &r[col("author_id")] == "783214")
        .collect();
    let record = env
        .records()
        .into_iter()
        .find(|r| r["post"]["id"] == "901")
        .unwrap();
    let iocs: usize = record["iocs"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_array().unwrap().len())
        .sum();
    assert!(iocs >= 9, "{record:#?}");
    assert_eq!(otter.len(), iocs, "one row per IOC: {otter:#?}");
    let victim = otter
        .iter()
        .find(|r| &r[col("ioc_value")] == "austintexas.gov")
        .unwrap();
    assert_eq!(
        &victim[col("actionable")],
        "no",
        "the targeted entity's domain is no indicator"
    );
    assert!(otter
        .iter()
        .all(|r| &r[col("watched_actor")] == "Crimson Otter"));
    let private = otter
        .iter()
        .find(|r| &r[col("ioc_value")] == "10.0.0.5")
        .unwrap();
    assert_eq!(&private[col("actionable")], "no");
    let other = rows.iter().find(|r| &r[col("author_id")] == "555").unwrap();
    for cell in other.iter() {
        assert!(
            !cell.starts_with(['=', '+', '-', '@']),
            "live formula {cell:?}"
        );
    }
    assert!(other[col("author_handle")].starts_with("'="));
    assert!(other[col("states")].contains("TX"));
}
