//! End-to-end tests of `streamer replay`: the real binary on recorded files.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_streamer");

fn demo_stream() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/demo-stream.jsonl")
}

/// A test config in `dir`: the demo rules, a jsonl sink and an eml sink.
fn write_config(dir: &Path, extra: &str) -> PathBuf {
    let demo = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/streamer.toml"),
    )
    .unwrap();
    // Keep the demo's watch lists and rules; replace storage and sinks.
    let rules_part: String = demo
        .split("[[sinks]]")
        .next()
        .unwrap()
        .replace("path = \"../demo/streamer.db\"", "path = \"streamer.db\"");
    let text = format!(
        "{rules_part}\n[[sinks]]\nkind = \"jsonl\"\npath = \"alerts.jsonl\"\n\n[[sinks]]\nkind = \"eml\"\ndir = \"outbox\"\nfrom = \"streamer@isac.example\"\nto = [\"soc@isac.example\"]\n{extra}"
    );
    let path = dir.join("streamer.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn replay(dir: &Path, config: &Path, inputs: &[&Path]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .arg("replay")
        .arg("--config")
        .arg(config);
    cmd.args(inputs);
    cmd.output().unwrap()
}

fn alerts(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("alerts.jsonl")).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn find<'a>(alerts: &'a [Value], post_id: &str) -> Vec<&'a Value> {
    alerts
        .iter()
        .filter(|a| a["post"]["id"] == post_id)
        .collect()
}

fn rule_ids(a: &Value) -> Vec<String> {
    a["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn demo_replay_writes_complete_alert_records() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let out = replay(dir.path(), &config, &[&demo_stream()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let alerts = alerts(dir.path());

    // X v2: the DDoS announcement against the City of Austin.
    let x = find(&alerts, "1862000000000000001");
    assert_eq!(x.len(), 1);
    let a = x[0];
    assert_eq!(a["alert_id"].as_str().unwrap().len(), 32);
    assert!(a["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        rule_ids(a),
        ["ddos-announcement", "domain:austintexas.gov", "sltt"]
    );
    let ddos = &a["rules"][0];
    assert_eq!(ddos["severity"], "high");
    assert_eq!(ddos["tags"], json!(["ddos"]));
    let text = a["post"]["text"].as_str().unwrap();
    let tango = ddos["matched"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["value"] == "tango down")
        .unwrap();
    let span = tango["span"].as_array().unwrap();
    let (s, e) = (
        span[0].as_u64().unwrap() as usize,
        span[1].as_u64().unwrap() as usize,
    );
    assert_eq!(
        text.chars().skip(s).take(e - s).collect::<String>(),
        "Tango down"
    );
    let p = &a["post"];
    assert_eq!(p["platform"], "x");
    assert_eq!(p["client"], "Twitter for Android");
    assert_eq!(p["lang"], "en");
    assert_eq!(p["created_at"], "2026-11-30T14:02:11.000Z");
    assert!(
        text.contains("https://www.austintexas.gov/department/it"),
        "t.co expanded: {text}"
    );
    assert!(!text.contains("t.co"));
    assert_eq!(
        p["urls"],
        json!(["https://www.austintexas.gov/department/it"])
    );
    assert_eq!(p["hashtags"], json!(["DDoS"]));
    assert_eq!(p["author"]["id"], "1500000000000000099");
    assert_eq!(p["author"]["handle"], "dd0s_brigade_demo");
    assert_eq!(p["author"]["name"], "DDoS Brigade (demo)");
    assert_eq!(p["author"]["followers"], 1200);
    assert_eq!(p["author"]["created_at"], "2023-02-11T09:00:00.000Z");
    assert_eq!(p["geo"]["approximate"], true);
    assert_eq!(p["geo"]["place"], "Springfield, IL");
    assert_eq!(p["geo"]["country"], "US");
    assert!((p["geo"]["lat"].as_f64().unwrap() - 39.78).abs() < 1e-6);
    assert!((p["geo"]["lon"].as_f64().unwrap() + 89.67).abs() < 1e-6);
    for key in ["reply_to", "repost_of", "quote_of"] {
        assert!(p[key].is_null(), "{key}");
    }
    assert_eq!(a["iocs"]["domains"], json!(["www.austintexas.gov"]));
    assert_eq!(
        a["entities"],
        json!([{"domain": "austintexas.gov", "name": "City of Austin", "type": "City", "state": "TX"}])
    );
    for key in [
        "urls", "domains", "ipv4", "ipv6", "md5", "sha1", "sha256", "cves", "emails", "btc",
    ] {
        assert!(a["iocs"][key].is_array(), "iocs.{key}");
    }

    // Defanged indicators are refanged in the record.
    let leak = find(&alerts, "1862000000000000002");
    assert_eq!(leak.len(), 1);
    assert_eq!(leak[0]["iocs"]["ipv4"], json!(["185.220.101.4"]));
    assert_eq!(
        leak[0]["iocs"]["md5"],
        json!(["5d41402abc4b2a76b9719d911017c592"])
    );
    assert!(leak[0]["iocs"]["urls"]
        .as_array()
        .unwrap()
        .contains(&json!("http://lockbit-demo-leaks.xyz/ashland")));
    assert_eq!(leak[0]["entities"][0]["type"], "School district");

    // A repost takes the original's text and names it.
    let rt = find(&alerts, "1862000000000000007");
    assert_eq!(rt[0]["post"]["repost_of"], "1862000000000000001");
    assert!(rt[0]["post"]["text"]
        .as_str()
        .unwrap()
        .starts_with("Tango down! The City of Austin portal"));

    // A watched account alerts without any keyword; its edit alerts again for the newly matched rule only.
    let actor = find(&alerts, "1862000000000000003");
    assert_eq!(actor.len(), 2, "{actor:?}");
    assert_eq!(rule_ids(actor[0]), ["account:x:1500000000000000001"]);
    assert_eq!(rule_ids(actor[1]), ["ddos-announcement"]);
    assert!(actor[1]["post"]["text"].as_str().unwrap().contains("DDoS"));
    assert_ne!(actor[0]["alert_id"], actor[1]["alert_id"]);
    assert_eq!(actor[0]["post"]["geo"]["approximate"], false);
    assert_eq!(actor[0]["post"]["geo"]["lat"], 30.2672);

    // Mastodon: id is the status URI, the author is qualified by instance, the spoiler leads.
    let m = find(
        &alerts,
        "https://infosec.exchange/users/threatintel_demo/statuses/113500000000000001",
    );
    assert_eq!(
        m.len(),
        1,
        "the edit matched no new rule, so it does not alert again"
    );
    let mp = &m[0]["post"];
    assert_eq!(mp["platform"], "mastodon");
    assert_eq!(mp["author"]["id"], "infosec.exchange:109876");
    assert_eq!(mp["author"]["handle"], "threatintel_demo@infosec.exchange");
    assert_eq!(mp["client"], "Ivory for iOS");
    assert!(mp["text"]
        .as_str()
        .unwrap()
        .starts_with("ransomware, local gov\n\nRansomware gang #Akira"));
    assert_eq!(
        mp["urls"],
        json!(["https://akira-demo-c2.example.net/upload"])
    );
    assert!(rule_ids(m[0]).contains(&"account:mastodon:infosec.exchange:109876".to_string()));
    // SSE framing (event: then data:) decodes too.
    assert_eq!(
        find(
            &alerts,
            "https://infosec.exchange/users/sse_demo/statuses/113500000000000003"
        )
        .len(),
        1
    );

    // Bluesky: the facet's full URI replaces the truncated link text.
    let b = find(
        &alerts,
        "at://did:plc:demoreporter2abc/app.bsky.feed.post/3lbdemo0001",
    );
    assert_eq!(b.len(), 1);
    assert!(b[0]["post"]["text"]
        .as_str()
        .unwrap()
        .ends_with("https://baltimorecity.gov/water-billing/defaced-page"));
    assert_eq!(b[0]["post"]["author"]["id"], "did:plc:demoreporter2abc");
    assert!(b[0]["post"]["author"]["handle"].is_null());

    // Nothing alerted on benign posts, likes or the notice line.
    assert!(find(&alerts, "1862000000000000004").is_empty());
    let summary = stderr(&out);
    assert!(summary.contains("1 bad lines skipped"), "{summary}");
}

#[test]
fn replaying_twice_alerts_once_and_a_second_run_reuses_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let first = replay(dir.path(), &config, &[&demo_stream()]);
    assert!(first.status.success(), "{}", stderr(&first));
    let n = alerts(dir.path()).len();
    assert!(n >= 10, "{n}");
    // The same file twice in one run, then again in a second run on the same database.
    let second = replay(dir.path(), &config, &[&demo_stream(), &demo_stream()]);
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(alerts(dir.path()).len(), n, "no alert twice");
    assert!(stderr(&second).contains(" 0 alerts"), "{}", stderr(&second));
    let emls = std::fs::read_dir(dir.path().join("outbox"))
        .unwrap()
        .count();
    assert!(
        emls < n,
        "identical reposts share one email: {emls} files for {n} alerts"
    );
}

#[test]
fn identical_reposts_make_one_email_that_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let out = replay(dir.path(), &config, &[&demo_stream()]);
    assert!(out.status.success());
    let alerts = alerts(dir.path());
    let first = find(&alerts, "1862000000000000002")[0]["alert_id"]
        .as_str()
        .unwrap()
        .to_string();
    let eml =
        std::fs::read_to_string(dir.path().join("outbox").join(format!("{first}.eml"))).unwrap();
    assert!(
        eml.contains("X-Streamer-Alert-Id: ") && eml.contains(&first),
        "{eml}"
    );
    let subject = eml.lines().find(|l| l.starts_with("Subject:")).unwrap();
    assert!(
        subject.contains("+2 identical") || eml.contains("+2 identical"),
        "{subject}"
    );
    for dup in ["1862000000000000010", "1862000000000000011"] {
        let id = find(&alerts, dup)[0]["alert_id"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            !dir.path().join("outbox").join(format!("{id}.eml")).exists(),
            "merged, no own email"
        );
    }
}

#[test]
fn bad_input_is_counted_and_skipped_without_losing_good_posts() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let mut input: Vec<u8> = Vec::new();
    input.extend_from_slice(b"not json at all\n");
    input.extend_from_slice(&[0xff, 0xfe, 0x00, 0x9f, b'{', b'\n']);
    input.extend_from_slice(b"{\"unknown\": \"shape\"}\n");
    // A 10 MB line of valid-looking JSON.
    input.extend_from_slice(b"{\"data\":{\"id\":\"1\",\"text\":\"");
    input.extend(std::iter::repeat_n(b'a', 10 * 1024 * 1024));
    input.extend_from_slice(b"\"}}\n");
    let demo = std::fs::read(demo_stream()).unwrap();
    input.extend_from_slice(&demo);
    input.extend_from_slice(b"{\"data\":{\"id\":\"2\",\"text\":\"truncated");
    let path = dir.path().join("junk.jsonl");
    std::fs::write(&path, &input).unwrap();

    let out = replay(dir.path(), &config, &[&path]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = stderr(&out);
    // 4 junk lines at the top, the demo's malformed line, and the truncated last line.
    assert!(summary.contains("6 bad lines skipped"), "{summary}");
    assert!(find(&alerts(dir.path()), "1862000000000000001").len() == 1);
}

#[test]
fn missing_input_bad_config_and_unusable_database_fail_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");

    let out = replay(dir.path(), &config, &[Path::new("no-such-file.jsonl")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("no-such-file.jsonl"), "{err}");

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[storage]\npath = \"x.db\"\n[watch]\nkeywordz = [\"a\"]\n",
    )
    .unwrap();
    let out = replay(dir.path(), &bad, &[&demo_stream()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("keywordz") && err.contains("line 4"), "{err}");

    let not_db = dir.path().join("not.db");
    std::fs::write(&not_db, vec![b'x'; 4096]).unwrap();
    let cfg = dir.path().join("notdb.toml");
    std::fs::write(
        &cfg,
        "[storage]\npath = \"not.db\"\n[[sinks]]\nkind = \"jsonl\"\npath = \"a.jsonl\"\n",
    )
    .unwrap();
    let out = replay(dir.path(), &cfg, &[&demo_stream()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("not.db"), "{err}");
}

#[test]
fn no_config_uses_builtin_defaults_in_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .args(["replay"])
        .arg(demo_stream())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.path().join("streamer.db").exists());
    // No rules and no watch lists by default: nothing alerts, but the run is clean.
    assert!(stderr(&out).contains("0 alerts"), "{}", stderr(&out));
}

#[test]
fn deletes_mark_posts_and_alerts_deleted_and_keep_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let status = json!({
        "id": "555", "uri": "https://infosec.exchange/users/x/statuses/555", "url": "https://infosec.exchange/@x/555",
        "created_at": "2026-11-30T10:00:00.000Z", "content": "<p>lockbit hit the county</p>", "spoiler_text": "",
        "visibility": "public", "language": "en", "reblog": null, "in_reply_to_id": null,
        "account": {"id": "7", "username": "x", "acct": "x", "display_name": "X", "url": "https://infosec.exchange/@x",
                    "created_at": "2022-01-01T00:00:00.000Z", "followers_count": 1},
        "media_attachments": [], "mentions": [], "tags": [], "emojis": []
    });
    let lines = [
        json!({"stream": ["public"], "event": "update", "payload": status.to_string()}).to_string(),
        json!({"stream": ["public"], "event": "delete", "payload": "555"}).to_string(),
    ];
    let path = dir.path().join("m.jsonl");
    std::fs::write(&path, lines.join("\n")).unwrap();
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .args([
            "replay",
            "--mastodon-instance",
            "infosec.exchange",
            "--config",
        ])
        .arg(&config)
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let alerts = alerts(dir.path());
    assert_eq!(
        alerts.len(),
        1,
        "the alert raised before the delete is still delivered"
    );
    let conn = rusqlite::Connection::open(dir.path().join("streamer.db")).unwrap();
    let (deleted_at, raw): (Option<String>, Vec<u8>) = conn
        .query_row("SELECT deleted_at, raw FROM posts", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert!(deleted_at.is_some());
    assert!(String::from_utf8(raw)
        .unwrap()
        .contains("lockbit hit the county"));
    let flagged: i64 = conn
        .query_row("SELECT deleted FROM alerts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(flagged, 1);
}

#[test]
fn rules_check_reports_errors_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("r.toml");
    std::fs::write(&cfg, "[[rules]]\nid = \"broken\"\nquery = '(lockbit OR'\n").unwrap();
    let out = Command::new(BIN)
        .args(["rules", "check", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("broken") && err.contains("line 3"), "{err}");
    let good = write_config(dir.path(), "");
    let out = Command::new(BIN)
        .args(["rules", "check", "--config"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("rules compiled"));
}

#[test]
fn ioc_command_prints_one_object_per_line_including_blank_ones() {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .args(["ioc", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"C2 at hxxps://evil[.]com/x and 185.220.101[.]4\n\nmail admin(at)traviscountytx[.]gov\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["urls"], json!(["https://evil.com/x"]));
    assert_eq!(lines[0]["ipv4"], json!(["185.220.101.4"]));
    assert_eq!(lines[1]["domains"], json!([]));
    assert_eq!(lines[2]["emails"], json!(["admin@traviscountytx.gov"]));
    assert_eq!(
        lines[2]["entities"][0]["name"],
        "Travis County Information Technology Services"
    );
}

#[test]
fn sigint_stops_reading_drains_and_keeps_every_committed_alert() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        "[storage]\npath = \"s.db\"\n[watch]\nkeywords = [\"lockbit\"]\n[[sinks]]\nkind = \"jsonl\"\npath = \"alerts.jsonl\"\n",
    )
    .unwrap();
    let mut input = String::new();
    for i in 0..150_000u64 {
        let text = if i % 100 == 0 {
            "lockbit claims the county"
        } else {
            "nothing to see here at all"
        };
        input.push_str(
            &json!({"data": {"id": i.to_string(), "text": text, "author_id": "1"}, "includes": {"users": [{"id": "1", "username": "u"}]}})
                .to_string(),
        );
        input.push('\n');
    }
    let path = dir.path().join("big.jsonl");
    std::fs::write(&path, input).unwrap();
    let child = Command::new(BIN)
        .current_dir(dir.path())
        .args(["replay", "--config"])
        .arg(&cfg)
        .arg(&path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(400));
    unsafe_kill(child.id(), "INT");
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "a graceful stop exits 0: {err}");
    assert!(err.contains("replay:"), "the summary is printed: {err}");
    let conn = rusqlite::Connection::open(dir.path().join("s.db")).unwrap();
    let stored: i64 = conn
        .query_row("SELECT COUNT(*) FROM alerts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        alerts(dir.path()).len() as i64,
        stored,
        "every committed alert was delivered before exit"
    );
    let pending: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM outbox WHERE state != 'delivered'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(pending, 0);
}

/// Sends a signal with the `kill` command (no libc dependency in tests).
fn unsafe_kill(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn create_edit_delete_of_one_post_apply_in_order_across_parallel_batches() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        "[storage]\npath = \"s.db\"\n[watch]\nkeywords = [\"lockbit\", \"ddos\"]\n[pipeline]\nworkers = 4\n[[sinks]]\nkind = \"jsonl\"\npath = \"alerts.jsonl\"\n",
    )
    .unwrap();
    let status = |content: &str| {
        json!({"id": "42", "uri": "https://m.example/users/a/statuses/42", "created_at": "2026-11-30T10:00:00.000Z",
               "content": content, "spoiler_text": "", "visibility": "public", "reblog": null,
               "account": {"id": "9", "username": "a", "acct": "a", "url": "https://m.example/@a"},
               "media_attachments": [], "mentions": [], "tags": [], "emojis": []})
        .to_string()
    };
    let filler = |n: usize, out: &mut String| {
        for i in 0..n {
            out.push_str(
                &json!({"data": {"id": format!("f{i}"), "text": "filler text", "author_id": "1"}})
                    .to_string(),
            );
            out.push('\n');
        }
    };
    let mut input = String::new();
    input.push_str(
        &json!({"stream": ["public"], "event": "update", "payload": status("<p>lockbit</p>")})
            .to_string(),
    );
    input.push('\n');
    filler(5000, &mut input);
    input.push_str(&json!({"stream": ["public"], "event": "status.update", "payload": status("<p>lockbit and ddos</p>")}).to_string());
    input.push('\n');
    filler(5000, &mut input);
    input.push_str(&json!({"stream": ["public"], "event": "delete", "payload": "42"}).to_string());
    input.push('\n');
    let path = dir.path().join("order.jsonl");
    std::fs::write(&path, input).unwrap();
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .args(["replay", "--mastodon-instance", "m.example", "--config"])
        .arg(&cfg)
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let alerts = alerts(dir.path());
    let ids: Vec<Vec<String>> = alerts.iter().map(rule_ids).collect();
    assert_eq!(
        ids,
        vec![
            vec!["keyword:lockbit".to_string()],
            vec!["keyword:ddos".to_string()]
        ]
    );
    let conn = rusqlite::Connection::open(dir.path().join("s.db")).unwrap();
    let (text, deleted): (String, Option<String>) = conn
        .query_row("SELECT text, deleted_at FROM posts", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(text, "lockbit and ddos", "the edit is the stored version");
    assert!(
        deleted.is_some(),
        "the delete came last and was applied last"
    );
}
