//! Crash consistency: SIGKILL `streamer replay` at varied moments, restart it on the same
//! database and input, and check that no alert is lost: every matching post has exactly one
//! alert in storage, and every stored alert reached every sink — a real SMTP server, the
//! jsonl file and the `.eml` outbox (duplicates allowed, same id and Message-ID).

mod support;

use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_streamer");
const POSTS: u64 = 12_000;
const EVERY: u64 = 400;

fn write_input(dir: &Path) -> std::path::PathBuf {
    let mut text = String::new();
    for i in 0..POSTS {
        let body = if i % EVERY == 0 {
            format!("lockbit claims county number {i}")
        } else {
            format!("ordinary post number {i}")
        };
        text.push_str(&json!({"data": {"id": i.to_string(), "text": body, "author_id": (i % 50).to_string()}}).to_string());
        text.push('\n');
    }
    let path = dir.join("in.jsonl");
    std::fs::write(&path, text).unwrap();
    path
}

/// A config with jsonl, eml and email sinks; the email goes to a fresh test SMTP server.
fn setup(dir: &Path) -> support::Smtp {
    let smtp = support::Smtp::start(support::SmtpOptions::default());
    std::fs::write(
        dir.join("c.toml"),
        format!(
            "[storage]\npath = \"s.db\"\n[watch]\nkeywords = [\"lockbit\"]\n\
             [[sinks]]\nkind = \"jsonl\"\npath = \"alerts.jsonl\"\n\
             [[sinks]]\nkind = \"eml\"\ndir = \"outbox\"\n\
             [[sinks]]\nkind = \"email\"\nsmtp_url = \"smtp://127.0.0.1:{}\"\ntls = \"none\"\n\
             from = \"streamer@isac.example\"\nto = [\"soc@isac.example\"]\n",
            smtp.port
        ),
    )
    .unwrap();
    smtp
}

fn replay(dir: &Path, input: &Path) -> std::process::Child {
    Command::new(BIN)
        .current_dir(dir)
        .args(["replay", "--config", "c.toml"])
        .arg(input)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn sigkill_at_random_moments_loses_no_alert() {
    let trials = 20;
    // Time one uninterrupted run first, so the kills spread over a whole run however fast
    // this machine is today.
    let reference = {
        let dir = tempfile::tempdir().unwrap();
        let _smtp = setup(dir.path());
        let input = write_input(dir.path());
        let started = std::time::Instant::now();
        assert!(replay(dir.path(), &input).wait().unwrap().success());
        started.elapsed()
    };
    let mut interrupted = 0;
    for trial in 0..trials {
        let dir = tempfile::tempdir().unwrap();
        let smtp = setup(dir.path());
        let input = write_input(dir.path());
        // Spread the kills over start-up, ingest and delivery: an even schedule across the
        // reference run's duration, in a shuffled order.
        let slot = (trial * 7) % trials;
        let delay = reference.mul_f64((slot as f64 + 0.5) / trials as f64 * 0.9);
        let mut child = replay(dir.path(), &input);
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            interrupted += 1;
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();

        let status = replay(dir.path(), &input).wait().unwrap();
        assert!(status.success(), "trial {trial}: restart failed");

        let conn = rusqlite::Connection::open(dir.path().join("s.db")).unwrap();
        let mut stmt = conn
            .prepare("SELECT alert_id, post_id FROM alerts")
            .unwrap();
        let stored: HashMap<String, String> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let posts: HashSet<&String> = stored.values().collect();
        assert_eq!(
            posts.len() as u64,
            POSTS / EVERY,
            "trial {trial}: one alert per matching post"
        );
        assert_eq!(
            stored.len() as u64,
            POSTS / EVERY,
            "trial {trial}: no post alerted twice"
        );

        let delivered: HashSet<String> = std::fs::read_to_string(dir.path().join("alerts.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).expect("whole lines only")["alert_id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        for id in stored.keys() {
            assert!(
                delivered.contains(id),
                "trial {trial}: alert {id} stored but never delivered"
            );
            assert!(
                dir.path().join("outbox").join(format!("{id}.eml")).exists(),
                "trial {trial}: no email for {id}"
            );
        }
        let mailed: HashSet<String> = smtp
            .received()
            .iter()
            .map(|m| {
                let msg = support::parse(&m.data);
                let id = msg
                    .header("X-Streamer-Alert-Id")
                    .unwrap()
                    .as_text()
                    .unwrap()
                    .to_string();
                assert_eq!(
                    msg.message_id(),
                    Some(format!("{id}@streamer").as_str()),
                    "Message-ID follows the alert id"
                );
                id
            })
            .collect();
        for id in stored.keys() {
            assert!(
                mailed.contains(id),
                "trial {trial}: alert {id} never reached the SMTP server"
            );
        }
        let pending: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM outbox WHERE state != 'delivered'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(pending, 0, "trial {trial}");
    }
    assert!(
        interrupted >= trials / 2,
        "most kills must land mid-run ({interrupted}/{trials})"
    );
}
