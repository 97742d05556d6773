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
