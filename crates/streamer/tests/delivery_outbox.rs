//! The outbox end to end, with the real binary (`streamer replay`) and a real SMTP server in
//! the test: a server that is down and comes back, greylisting, a permanent refusal that shows
//! in `streamer status` and comes back with `streamer outbox retry`, and a SIGKILL in the middle
//! of delivering 1,000 alerts.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;
use support::{parse, streamer, x_line, Mode, Smtp, SmtpOptions};

fn write_setup(dir: &Path, port: u16, alerts: usize, marker_every: Option<usize>) {
    let config = format!(
        r#"
[storage]
path = "streamer.db"

[[rules]]
id = "ransom"
query = "ransomware"
severity = "high"

[[sinks]]
kind = "email"
smtp_url = "smtp://127.0.0.1:{port}"
tls = "none"
from = "streamer@example.org"
to = ["analyst@example.org"]
retry_base_ms = 20
retry_max_ms = 200
timeout_secs = 5
"#
    );
    std::fs::write(dir.join("streamer.toml"), config).unwrap();
    let mut lines = String::new();
    for n in 0..alerts {
        let poison = marker_every.is_some_and(|k| n % k == 0);
        lines.push_str(&x_line(
            n,
            &format!(
                "ransomware hits county {n}{}",
                if poison { " POISON" } else { "" }
            ),
        ));
        lines.push('\n');
        // A non-matching post between alerts.
        lines.push_str(&x_line(100_000 + n, "weather is nice today"));
        lines.push('\n');
    }
    std::fs::write(dir.join("input.jsonl"), lines).unwrap();
    std::fs::write(dir.join("empty.jsonl"), "").unwrap();
}

/// Message-ID → how many times it arrived; also checks each message's id headers agree.
fn message_ids(smtp: &Smtp) -> BTreeMap<String, usize> {
    let mut ids = BTreeMap::new();
    for r in smtp.received() {
        let m = parse(&r.data);
        let id = m.message_id().expect("Message-ID").to_string();
        let raw = String::from_utf8_lossy(&r.data);
        let alert_id = raw
            .lines()
            .find_map(|l| l.strip_prefix("X-Streamer-Alert-Id: "))
            .expect("X-Streamer-Alert-Id")
            .trim()
            .to_string();
        assert_eq!(
            id,
            format!("{alert_id}@streamer"),
            "idempotency key matches the alert id"
        );
        *ids.entry(id).or_insert(0) += 1;
    }
    ids
}

#[test]
fn smtp_down_then_up_every_alert_is_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let port = support::free_port();
    write_setup(dir.path(), port, 20, None);
    // The server is down: everything stays pending.
    let (status, _, err) = streamer(
        &["replay", "--drain-timeout", "1", "input.jsonl"],
        dir.path(),
    );
    assert!(status.success(), "{err}");
    assert!(err.contains("20 alerts"), "{err}");
    assert!(err.contains("20 still pending"), "{err}");
    let (_, out, _) = streamer(&["status"], dir.path());
    assert!(
        out.contains("sink email: 0 delivered, 20 pending, 0 failed"),
        "{out}"
    );

    // The server comes up; the next run resumes the pending deliveries.
    let smtp = Smtp::start(SmtpOptions {
        port: Some(port),
        ..Default::default()
    });
    let (status, _, err) = streamer(
        &["replay", "--drain-timeout", "30", "empty.jsonl"],
        dir.path(),
    );
    assert!(status.success(), "{err}");
    assert!(err.contains("0 still pending"), "{err}");
    let ids = message_ids(&smtp);
    assert_eq!(ids.len(), 20, "{ids:?}");
    let (_, out, _) = streamer(&["status"], dir.path());
    assert!(
        out.contains("sink email: 20 delivered, 0 pending, 0 failed"),
        "{out}"
    );
}

#[test]
fn greylisting_is_retried_until_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = Smtp::start(SmtpOptions::default());
    smtp.set_mode(Mode::Greylist(6));
    write_setup(dir.path(), smtp.port, 3, None);
    let (status, _, err) = streamer(
        &["replay", "--drain-timeout", "30", "input.jsonl"],
        dir.path(),
    );
    assert!(status.success(), "{err}");
    assert!(
        err.contains("0 still pending") && err.contains("0 failed"),
        "{err}"
    );
    assert_eq!(smtp.refused(), 6);
    assert_eq!(message_ids(&smtp).len(), 3);
}

#[test]
fn permanent_refusal_is_visible_and_can_be_retried() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = Smtp::start(SmtpOptions::default());
    smtp.set_mode(Mode::RejectContaining("POISON"));
    write_setup(dir.path(), smtp.port, 4, Some(3)); // alerts 0 and 3 are refused
    let (status, _, err) = streamer(
        &["replay", "--drain-timeout", "30", "input.jsonl"],
        dir.path(),
    );
    assert!(status.success(), "{err}");
    assert!(err.contains("2 failed permanently"), "{err}");
    assert!(err.contains("550"), "the log names the reply: {err}");
    assert_eq!(message_ids(&smtp).len(), 2);
    let (_, out, _) = streamer(&["status"], dir.path());
    assert!(
        out.contains("sink email: 2 delivered, 0 pending, 2 failed"),
        "{out}"
    );
    assert!(out.contains("550"), "status shows the last error: {out}");

    smtp.set_mode(Mode::Accept);
    let (status, out, _) = streamer(&["outbox", "retry"], dir.path());
    assert!(status.success());
    assert!(out.contains("2 failed deliveries queued again"), "{out}");
    let (status, _, err) = streamer(
        &["replay", "--drain-timeout", "30", "empty.jsonl"],
        dir.path(),
    );
    assert!(status.success(), "{err}");
    assert_eq!(message_ids(&smtp).len(), 4);
    let (_, out, _) = streamer(&["status"], dir.path());
    assert!(
        out.contains("sink email: 4 delivered, 0 pending, 0 failed"),
        "{out}"
    );
}

#[test]
fn sigkill_mid_delivery_then_restart_delivers_everything_once_per_message_id() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = Smtp::start(SmtpOptions::default());
    smtp.set_delay(Duration::from_millis(3));
    write_setup(dir.path(), smtp.port, 1000, None);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_streamer"))
        .args(["replay", "--drain-timeout", "120", "input.jsonl"])
        .current_dir(dir.path())
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let before = smtp.wait_for(150, Duration::from_secs(60)).len();
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(before >= 150, "only {before} delivered before the kill");
    let after_kill = smtp.received().len();
    assert!(after_kill < 1000, "the kill landed after delivery finished");

    let (status, _, err) = streamer(
        &["replay", "--drain-timeout", "120", "empty.jsonl"],
        dir.path(),
    );
    assert!(status.success(), "{err}");
    assert!(err.contains("0 still pending"), "{err}");
    let ids = message_ids(&smtp);
    assert_eq!(ids.len(), 1000, "every alert delivered");
    let dups: usize = ids.values().map(|n| n - 1).sum();
    // At-least-once: at most the message in flight at the kill arrives twice.
    assert!(dups <= 2, "{dups} duplicates");
    let (_, out, _) = streamer(&["status"], dir.path());
    assert!(
        out.contains("sink email: 1000 delivered, 0 pending, 0 failed"),
        "{out}"
    );
    let _: BTreeSet<_> = ids.keys().collect();
}

fn eml_files(dir: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        std::fs::read_to_string(e.path()).unwrap(),
                    )
                })
                .filter(|(n, _)| n.ends_with(".eml"))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn subject_of(eml: &str) -> String {
    parse(eml.as_bytes()).subject().unwrap_or("").to_string()
}

#[test]
fn severity_routing_digest_and_rate_cap() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("streamer.toml"),
        r#"
[[rules]]
id = "crit"
query = "ransomware"
severity = "critical"

[[rules]]
id = "minor"
query = "weather"
severity = "low"

[[sinks]]
kind = "eml"
name = "now"
dir = "now"
min_severity = "high"

[[sinks]]
kind = "eml"
name = "digest"
dir = "digest"
max_severity = "medium"
digest_minutes = 60

[[sinks]]
kind = "eml"
name = "capped"
dir = "capped"
rate_per_minute = 2
"#,
    )
    .unwrap();
    let mut lines = String::new();
    for n in 0..5 {
        lines.push_str(&x_line(n, &format!("ransomware at county {n}")));
        lines.push('\n');
        lines.push_str(&x_line(100 + n, &format!("bad weather in town {n}")));
        lines.push('\n');
    }
    std::fs::write(dir.path().join("input.jsonl"), lines).unwrap();
    let (status, _, err) = streamer(
        &["replay", "--drain-timeout", "30", "input.jsonl"],
        dir.path(),
    );
    assert!(status.success(), "{err}");
    assert!(
        err.contains("10 alerts") && err.contains("0 still pending"),
        "{err}"
    );

    // Critical alerts go out now, one message each.
    let now = eml_files(&dir.path().join("now"));
    assert_eq!(now.len(), 5, "{now:?}");
    assert!(now
        .iter()
        .all(|(_, m)| subject_of(m).starts_with("[CRITICAL] crit")));

    // Low ones wait for the digest (sent at the end of the replay).
    let digest = eml_files(&dir.path().join("digest"));
    assert_eq!(digest.len(), 1, "{digest:?}");
    assert!(digest[0].0.starts_with("digest-"));
    let s = subject_of(&digest[0].1);
    assert!(
        s.starts_with("[LOW] Streamer: 5 alert(s) — digest of the last 60 min"),
        "{s}"
    );

    // The capped sink sends what the cap allows and summarises the rest: nothing is lost.
    let capped = eml_files(&dir.path().join("capped"));
    let mut covered = 0;
    for (name, m) in &capped {
        let s = subject_of(m);
        if name.starts_with("digest-") {
            assert!(s.contains("rate cap of 2/min reached"), "{s}");
            let n: usize = s
                .split("Streamer: ")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            covered += n;
        } else {
            covered += 1;
        }
    }
    assert!(
        capped.len() <= 2,
        "at most 2 messages in the first minute: {capped:?}"
    );
    assert_eq!(covered, 10, "{capped:?}");
}

#[test]
fn operator_notices_reach_notice_sinks_and_fold_repeats() {
    use streamer::render::NoticeKind;
    let dir = tempfile::tempdir().unwrap();
    let config = streamer::config::Config::from_str(
        &format!(
            "[storage]\npath = \"{0}/s.db\"\n[[sinks]]\nkind = \"eml\"\ndir = \"{0}/eml\"\n[[sinks]]\nkind = \"jsonl\"\npath = \"{0}/alerts.jsonl\"\n",
            dir.path().display()
        ),
        None,
    )
    .unwrap();
    let storage = streamer::storage::Storage::open(&config.storage.path).unwrap();
    let sinks = streamer::outbox_sinks(&config);
    for i in 0..3 {
        streamer::outbox::notify_operator(
            &storage,
            &sinks,
            NoticeKind::SourceDown,
            Some("bluesky"),
            &format!("connection reset (attempt {i})"),
            600_000,
        )
        .unwrap();
    }
    streamer::outbox::notify_operator(
        &storage,
        &sinks,
        NoticeKind::NoPosts,
        Some("x"),
        "no posts for 15 minutes",
        600_000,
    )
    .unwrap();
    let workers = streamer::outbox::Workers::start(
        &config.storage.path,
        streamer::build_sinks(&config).unwrap(),
    )
    .unwrap();
    let pending = streamer::outbox::wait_drained(
        &config.storage.path,
        &workers.signal,
        Duration::from_secs(30),
    )
    .unwrap();
    workers.stop();
    assert_eq!(pending, 0);
    let files = eml_files(&dir.path().join("eml"));
    let subjects: BTreeSet<String> = files.iter().map(|(_, m)| subject_of(m)).collect();
    assert_eq!(
        subjects,
        BTreeSet::from([
            "[NOTICE] Streamer source down — bluesky (×3): connection reset (attempt 0)"
                .to_string(),
            "[NOTICE] Streamer no posts (dead-man's switch) — x: no posts for 15 minutes"
                .to_string(),
        ])
    );
    // The jsonl sink is the alert-record contract: no notices unless asked for.
    assert!(!dir.path().join("alerts.jsonl").exists());
}
