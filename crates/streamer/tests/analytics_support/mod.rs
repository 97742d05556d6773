//! Shared fixtures of the analytics, actor and export tests: wire payloads in each platform's
//! own format, a config in a temporary directory, replay through the real pipeline.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;
use streamer::config::Config;
use streamer::replay::{replay, ReplayOptions, ReplaySummary};

/// An X API v2 filtered-stream line.
pub fn x_post(id: &str, author: &str, username: &str, text: &str, created_at: &str) -> String {
    json!({
        "data": {"id": id, "text": text, "author_id": author, "created_at": created_at,
                 "lang": "en", "source": "Twitter for Android", "edit_history_tweet_ids": [id]},
        "includes": {"users": [{"id": author, "username": username, "name": format!("{username} name")}]}
    })
    .to_string()
}

/// A Mastodon streaming `update` event from infosec.exchange.
pub fn mastodon_post(
    status_id: &str,
    account_id: &str,
    username: &str,
    text: &str,
    created_at: &str,
) -> String {
    let status = json!({
        "id": status_id,
        "uri": format!("https://infosec.exchange/users/{username}/statuses/{status_id}"),
        "url": format!("https://infosec.exchange/@{username}/{status_id}"),
        "created_at": created_at, "edited_at": null,
        "content": format!("<p>{}</p>", text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")),
        "spoiler_text": "", "visibility": "public", "language": "en", "sensitive": false,
        "in_reply_to_id": null, "in_reply_to_account_id": null, "reblog": null,
        "application": {"name": "Ivory for iOS", "website": null},
        "account": {"id": account_id, "username": username, "acct": username,
                    "display_name": username, "url": format!("https://infosec.exchange/@{username}"),
                    "created_at": "2022-11-07T00:00:00.000Z", "followers_count": 1,
                    "following_count": 1, "statuses_count": 1},
        "media_attachments": [], "mentions": [], "tags": [], "emojis": [], "card": null, "poll": null
    });
    json!({"stream": ["public"], "event": "update", "payload": status.to_string()}).to_string()
}

/// A Bluesky Jetstream post commit.
pub fn bsky_post(did: &str, rkey: &str, text: &str, created_at: &str, time_us: i64) -> String {
    json!({"did": did, "time_us": time_us, "kind": "commit",
           "commit": {"rev": format!("rev{rkey}"), "operation": "create", "collection": "app.bsky.feed.post",
                      "rkey": rkey, "record": {"$type": "app.bsky.feed.post", "text": text,
                      "createdAt": created_at, "langs": ["en"]}, "cid": format!("bafy{rkey}")}})
    .to_string()
}

/// A Bluesky Jetstream `identity` event (a handle change).
pub fn bsky_identity(did: &str, handle: &str, time_us: i64) -> String {
    json!({"did": did, "time_us": time_us, "kind": "identity",
           "identity": {"did": did, "handle": handle, "seq": 1, "time": "2026-11-30T14:31:00.000Z"}})
    .to_string()
}

/// A Bluesky Jetstream `account` event.
pub fn bsky_account(did: &str, active: bool, status: &str, time_us: i64) -> String {
    json!({"did": did, "time_us": time_us, "kind": "account",
           "account": {"did": did, "active": active, "status": status, "seq": 2,
                       "time": "2026-11-30T15:00:00.000Z"}})
    .to_string()
}

/// The watched actors' sheet of the tests: one actor with accounts on all three platforms.
pub const SHEET: &str = "Name,Associations,Threat Level,Notes,X,Mastodon,Bluesky,Analyst\n\
Crimson Otter,\"LockBit affiliate; NoName057\",High,\"Leaks first, <b>brags</b> later\",783214,infosec.exchange:1090,did:plc:otter7x3k2q,jd\n";

/// A test environment: a directory with a config, a database, a jsonl file and an eml outbox.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
}

impl Env {
    /// A config with the sheet, the given extra TOML (rules), a jsonl and an eml sink.
    pub fn new(extra: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("actors.csv"), SHEET).unwrap();
        let config_path = dir.path().join("streamer.toml");
        std::fs::write(
            &config_path,
            format!(
                "[storage]\npath = \"streamer.db\"\n\n[actors]\ncsv = \"actors.csv\"\nsilence_days = 14\n\n{extra}\n\n\
                 [[sinks]]\nkind = \"jsonl\"\npath = \"alerts.jsonl\"\n\n\
                 [[sinks]]\nkind = \"eml\"\ndir = \"outbox\"\nfrom = \"streamer@example.org\"\nto = [\"analyst@example.org\"]\n"
            ),
        )
        .unwrap();
        Env { dir, config_path }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn config(&self) -> Config {
        Config::from_file(&self.config_path).unwrap()
    }

    /// Replays lines through a fresh pipeline (each call is a restart).
    pub fn replay(&self, lines: &[String]) -> ReplaySummary {
        let file = self.path(&format!("input-{}.jsonl", lines.len()));
        std::fs::write(&file, lines.join("\n") + "\n").unwrap();
        let config = self.config();
        let rules = streamer::compile_rules(&config).unwrap();
        let (summary, _) = replay(
            &config,
            rules,
            ReplayOptions {
                files: vec![file],
                format: streamer_wire::Format::Auto,
                mastodon_instance: Some("infosec.exchange".into()),
                drain_timeout: Duration::from_secs(20),
                progress: false,
            },
        )
        .unwrap();
        summary
    }

    /// Every record the jsonl sink wrote.
    pub fn records(&self) -> Vec<Value> {
        std::fs::read_to_string(self.path("alerts.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The records whose rules include `rule`.
    pub fn records_of(&self, rule: &str) -> Vec<Value> {
        self.records()
            .into_iter()
            .filter(|r| {
                r["rules"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|h| h["id"] == rule)
            })
            .collect()
    }

    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.path("streamer.db")).unwrap()
    }

    /// Runs the streamer binary with arguments; returns (status, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_streamer"))
            .args(args)
            .arg("--config")
            .arg(&self.config_path)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

/// Now minus some minutes, as RFC 3339 (for posts that must count in the current hour).
pub fn minutes_ago(m: i64) -> String {
    (jiff::Timestamp::now() - jiff::SignedDuration::from_mins(m))
        .strftime("%Y-%m-%dT%H:%M:%S.000Z")
        .to_string()
}

/// The Python virtualenv with stix2-validator and PyMISP, created under the workspace's
/// `target/` on first use and reused afterwards (pip runs only when a package is missing).
pub fn python_venv() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/py-venv");
    let py = root.join("bin/python");
    let ready = |py: &Path| {
        std::process::Command::new(py)
            .args(["-c", "import stix2validator, pymisp"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    if py.exists() && ready(&py) {
        return py;
    }
    // Several test binaries may get here at once: one creates the venv, the others wait.
    let lock = root.with_extension("lock");
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    let waited = std::time::Instant::now();
    let _guard = loop {
        match std::fs::create_dir(&lock) {
            Ok(()) => break LockDir(lock.clone()),
            Err(_) if waited.elapsed() > Duration::from_secs(600) => {
                // A run that died while installing left its lock behind.
                let _ = std::fs::remove_dir(&lock);
            }
            Err(_) => {
                if py.exists() && ready(&py) {
                    return py;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    };
    if !py.exists() {
        let ok = std::process::Command::new("python3")
            .args(["-m", "venv"])
            .arg(&root)
            .status()
            .unwrap()
            .success();
        assert!(
            ok,
            "python3 -m venv failed (Debian: apt-get install python3-venv)"
        );
    }
    if !ready(&py) {
        let ok = std::process::Command::new(&py)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "stix2-validator",
                "pymisp",
            ])
            .status()
            .unwrap()
            .success();
        assert!(ok, "pip install stix2-validator pymisp failed");
    }
    assert!(ready(&py));
    py
}

struct LockDir(PathBuf);

impl Drop for LockDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}
