//! `streamer run` (the real binary) against the X, Mastodon and Jetstream mock servers at once:
//! alerts from all three reach the jsonl sink; after a SIGKILL and a restart, Jetstream resumes
//! from its stored cursor and Mastodon gap-fills from its stored id, with no post lost and none
//! alerted twice.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use streamer_sources::mock::*;

const X_TOKEN: &str = "x-test-token";
const M_TOKEN: &str = "mastodon-test-token";

fn spawn(config: &Path, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_streamer"))
        .args(["run", "--config"])
        .arg(config)
        .env("STREAMER_TEST_X_TOKEN", X_TOKEN)
        .env("STREAMER_TEST_MASTODON_TOKEN", M_TOKEN)
        .env("STREAMER_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start streamer run")
}

/// `(platform, post id)` of every alert record in the jsonl file.
fn alerts(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("alert JSON");
            (
                v["post"]["platform"].as_str().unwrap().to_string(),
                v["post"]["id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn query(db: &Path, sql: &str) -> Option<String> {
    let conn = rusqlite::Connection::open(db).ok()?;
    conn.query_row(sql, [], |r| r.get::<_, String>(0)).ok()
}

/// Waits (up to a generous deadline, not a timing assertion) until `cond` holds.
async fn wait_for(what: &str, log: &Path, mut cond: impl FnMut() -> bool) {
    for _ in 0..600 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "timed out waiting for {what}; log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

fn sigterm(child: &mut Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM")
        .success();
    assert!(ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_live_sources_alert_and_jetstream_resumes_after_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db: PathBuf = dir.path().join("streamer.db");
    let jsonl = dir.path().join("alerts.jsonl");
    let log = dir.path().join("streamer.log");

    let x = XMock::start(X_TOKEN).await;
    x.set_heartbeat(Duration::from_secs(1));
    x.push(Conn::Stream(vec![
        Step::Send(x_post("1001", "lockbit hits the county")),
        Step::Send(x_post("1002", "nothing to see")),
    ]));

    let m = MastodonMock::start(Some(M_TOKEN)).await;
    m.set_heartbeat(Duration::from_secs(1));
    // Mastodon snowflake ids: (creation ms << 16) | sequence.
    let s1_id = ((1_732_960_800_000u64 << 16) | 501).to_string();
    let s2_id = ((1_732_960_830_000u64 << 16) | 502).to_string();
    let s501 = mastodon_status(&s1_id, "lockbit at the city");
    m.store(&s1_id, &s501);
    m.push(Conn::Stream(vec![Step::Event {
        event: "update".into(),
        payload: s501,
    }]));

    let j = JetstreamMock::start().await;
    j.set_heartbeat(Duration::from_secs(1));
    let t = jiff::Timestamp::now().as_microsecond() - 60_000_000;
    let ev = |i: i64, text: &str| {
        jetstream_post("did:plc:alice", &format!("k{i}"), t + i * 1_000_000, text)
    };
    let (e1, e2, e3) = (
        ev(1, "lockbit one"),
        ev(2, "benign"),
        ev(3, "lockbit three"),
    );
    for e in [&e1, &e2, &e3] {
        j.store(e);
    }
    j.push(Conn::Stream(vec![
        Step::Send(e1),
        Step::Send(e2),
        Step::Send(e3),
    ]));

    let config = dir.path().join("streamer.toml");
    std::fs::write(
        &config,
        format!(
            r#"[storage]
path = "{db}"

[[sources]]
kind = "x"
bearer_token_env = "STREAMER_TEST_X_TOKEN"
base_url = "{x}"

[[sources]]
kind = "mastodon"
instance = "{m}"
streams = ["public"]
access_token_env = "STREAMER_TEST_MASTODON_TOKEN"

[[sources]]
kind = "bluesky"
url = "{j}"

[[rules]]
id = "lockbit"
query = "lockbit"
severity = "high"

[[sinks]]
kind = "jsonl"
path = "{jsonl}"
"#,
            db = db.display(),
            x = x.base_url(),
            m = m.base_url(),
            j = j.url(),
            jsonl = jsonl.display(),
        ),
    )
    .unwrap();

    let at = |i: i64| format!("at://did:plc:alice/app.bsky.feed.post/k{i}");
    let uri = |id: &str| format!("https://mock.example/users/alice/statuses/{id}");

    // First run: one alert per platform (two from Bluesky).
    let mut child = spawn(&config, &log);
    let want1: HashSet<(String, String)> = [
        ("x".to_string(), "1001".to_string()),
        ("mastodon".to_string(), uri(&s1_id)),
        ("bluesky".to_string(), at(1)),
        ("bluesky".to_string(), at(3)),
    ]
    .into_iter()
    .collect();
    wait_for("the first four alerts", &log, || {
        alerts(&jsonl).into_iter().collect::<HashSet<_>>() == want1
    })
    .await;
    let cursor_e3 = (t + 3_000_000).to_string();
    wait_for("the Jetstream cursor", &log, || {
        query(&db, "SELECT cursor FROM cursors WHERE source = 'bluesky'").as_deref()
            == Some(cursor_e3.as_str())
    })
    .await;
    wait_for("the Mastodon resume id", &log, || {
        query(
            &db,
            "SELECT state FROM source_state WHERE source = 'mastodon:127.0.0.1:public'",
        )
        .is_some_and(|s| s.contains(&format!(r#""resume":"{s1_id}""#)))
    })
    .await;
    let rules = x.rules();
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert!(rules[0].tag.as_deref().unwrap().starts_with("streamer:"));

    // SIGKILL: no chance to flush anything.
    child.kill().unwrap();
    child.wait().unwrap();

    // Published while Streamer was down.
    j.store(&ev(4, "lockbit four"));
    j.store(&ev(5, "benign again"));
    m.store(&s2_id, &mastodon_status(&s2_id, "lockbit later"));
    x.push(Conn::Stream(vec![Step::Send(x_post(
        "1003",
        "lockbit again",
    ))]));

    let mut child = spawn(&config, &log);
    let mut want2 = want1.clone();
    want2.insert(("x".into(), "1003".into()));
    want2.insert(("mastodon".into(), uri(&s2_id)));
    want2.insert(("bluesky".into(), at(4)));
    wait_for("the alerts after the restart", &log, || {
        alerts(&jsonl).into_iter().collect::<HashSet<_>>() == want2
    })
    .await;
    // Give a duplicate the time to show up if it were going to.
    wait_for("the cursor of the last event", &log, || {
        query(&db, "SELECT cursor FROM cursors WHERE source = 'bluesky'").as_deref()
            == Some((t + 5_000_000).to_string().as_str())
    })
    .await;
    sigterm(&mut child);
    let status = child.wait().unwrap();
    assert!(status.success(), "streamer run exited with {status}");

    let all = alerts(&jsonl);
    assert_eq!(
        all.len(),
        want2.len(),
        "an alert was written twice: {all:?}"
    );

    let hits = j.hits();
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert!(!hits[0].target.contains("cursor="));
    let resumed = format!("cursor={}", t + 3_000_000 - 5_000_000);
    assert!(hits[1].target.contains(&resumed), "{}", hits[1].target);
    let gap_fill: Vec<String> = m
        .hits()
        .into_iter()
        .map(|h| h.target)
        .filter(|t| t.starts_with("/api/v1/timelines/public"))
        .collect();
    // Resumed 10 s before the stored id (a status seen but not yet stored at a SIGKILL is
    // fetched again); the first status comes back and is not alerted twice (checked above).
    let rewound = ((1_732_960_800_000u64 - 10_000) << 16) | 501;
    assert_eq!(
        gap_fill[0],
        format!("/api/v1/timelines/public?min_id={rewound}&limit=40")
    );

    let out = Command::new(env!("CARGO_BIN_EXE_streamer"))
        .args(["status", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for source in [
        "source x:",
        "source mastodon:127.0.0.1:public:",
        "source bluesky:",
    ] {
        assert!(
            text.contains(source),
            "{source} missing from status:\n{text}"
        );
    }
}

/// Watch lists written with Bluesky handles: `watch.accounts = ["bluesky:@alice…"]` and
/// `wanted_dids = ["@alice…", "bob…"]` resolve through the resolver mock before Jetstream
/// connects (it is asked for the DIDs), posts by those DIDs alert, an unknown handle is an
/// operator notice while the rest runs, and a second start takes the DIDs from the cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bluesky_handles_resolve_through_the_resolver_and_then_the_cache() {
    const ALICE: &str = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa";
    const BOB: &str = "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb";
    let dir = tempfile::tempdir().unwrap();
    let db: PathBuf = dir.path().join("streamer.db");
    let jsonl = dir.path().join("alerts.jsonl");
    let log = dir.path().join("streamer.log");

    let resolver = ResolverMock::start().await;
    resolver.set("alice.bsky.social", ALICE);
    resolver.set("bob.bsky.social", BOB);

    let j = JetstreamMock::start().await;
    j.set_heartbeat(Duration::from_secs(1));
    let t = jiff::Timestamp::now().as_microsecond() - 60_000_000;
    j.push(Conn::Stream(vec![
        // Alice is a watched account: any post alerts. Bob only through the keyword rule.
        Step::Send(jetstream_post(ALICE, "k1", t + 1_000_000, "hello world")),
        Step::Send(jetstream_post(BOB, "k2", t + 2_000_000, "nothing here")),
        Step::Send(jetstream_post(BOB, "k3", t + 3_000_000, "lockbit again")),
    ]));

    let config = dir.path().join("streamer.toml");
    std::fs::write(
        &config,
        format!(
            r#"[storage]
path = "{db}"

[[sources]]
kind = "bluesky"
url = "{j}"
wanted_dids = ["@Alice.bsky.social", "bob.bsky.social"]
resolver = "{r}"

[watch]
accounts = ["bluesky:@alice.bsky.social", "bluesky:@ghost.bsky.social"]

[[rules]]
id = "lockbit"
query = "lockbit"
severity = "high"

[[sinks]]
kind = "jsonl"
path = "{jsonl}"
"#,
            db = db.display(),
            j = j.url(),
            r = resolver.base_url(),
            jsonl = jsonl.display(),
        ),
    )
    .unwrap();

    let at = |did: &str, k: &str| format!("at://{did}/app.bsky.feed.post/{k}");
    let want: HashSet<(String, String)> = [
        ("bluesky".to_string(), at(ALICE, "k1")),
        ("bluesky".to_string(), at(BOB, "k3")),
    ]
    .into_iter()
    .collect();
    let mut child = spawn(&config, &log);
    wait_for("the two Bluesky alerts", &log, || {
        alerts(&jsonl).into_iter().collect::<HashSet<_>>() == want
    })
    .await;
    let text = std::fs::read_to_string(&jsonl).unwrap();
    let alice_rules: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["post"]["author"]["id"] == ALICE)
        .flat_map(|v| {
            v["rules"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(alice_rules, [format!("account:bluesky:{ALICE}")]);
    let hits = j.hits();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert!(
        hits[0]
            .target
            .contains(&format!("wantedDids={ALICE}&wantedDids={BOB}&")),
        "{}",
        hits[0].target
    );
    wait_for("the notice about the unknown handle", &log, || {
        query(
            &db,
            "SELECT message FROM notices WHERE message LIKE '%ghost.bsky.social%'",
        )
        .is_some_and(|m| m.contains("does not exist"))
    })
    .await;
    assert_eq!(
        query(
            &db,
            &format!("SELECT handle FROM handle_cache WHERE did = '{BOB}'")
        )
        .as_deref(),
        Some("bob.bsky.social")
    );
    sigterm(&mut child);
    assert!(child.wait().unwrap().success());
    let asked = |h: &str| {
        resolver
            .hits()
            .iter()
            .filter(|x| x.target.ends_with(&format!("handle={h}")))
            .count()
    };
    // Alice is asked once although named twice (the second look-up is a cache hit).
    assert_eq!(
        (asked("alice.bsky.social"), asked("bob.bsky.social")),
        (1, 1)
    );

    // Second start: the same DIDs, from the cache; only the unknown handle is asked again.
    // On this connection Bob renames himself: the identity event replaces his cached handle.
    j.push(Conn::Stream(vec![Step::Send(jetstream_identity(
        BOB,
        "bobby.bsky.social",
        t + 4_000_000,
    ))]));
    let before = resolver.resolve_count();
    let mut child = spawn(&config, &log);
    wait_for("the second Jetstream connection", &log, || {
        j.hits().len() == 2
    })
    .await;
    wait_for("Bob's new handle in the cache", &log, || {
        query(
            &db,
            &format!("SELECT group_concat(handle) FROM handle_cache WHERE did = '{BOB}'"),
        )
        .as_deref()
            == Some("bobby.bsky.social")
    })
    .await;
    assert!(
        j.hits()[1]
            .target
            .contains(&format!("wantedDids={ALICE}&wantedDids={BOB}&")),
        "{}",
        j.hits()[1].target
    );
    sigterm(&mut child);
    assert!(child.wait().unwrap().success());
    assert_eq!(
        (asked("alice.bsky.social"), asked("bob.bsky.social")),
        (1, 1),
        "a cache hit must not reach the network"
    );
    assert_eq!(resolver.resolve_count(), before + 1, "only ghost again");
    assert_eq!(alerts(&jsonl).len(), 2, "no alert twice");
}

/// The X source's server-side rules follow a rules reload while its stream stays up: first on
/// SIGHUP alone (the file's modification time put back, so the file watch cannot be what
/// reloads), then on a file change alone. Rules Streamer did not create are never touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_rules_follow_a_reload_on_sighup_and_on_a_file_change() {
    let dir = tempfile::tempdir().unwrap();
    let db: PathBuf = dir.path().join("streamer.db");
    let log = dir.path().join("streamer.log");
    let x = XMock::start(X_TOKEN).await;
    x.set_heartbeat(Duration::from_secs(1));
    x.add_rule("from:analyst_tool", Some("another-tool"));
    x.push(Conn::Stream(vec![Step::Send(x_post("1", "hello"))]));

    let config = dir.path().join("streamer.toml");
    let write = |keyword: &str| {
        std::fs::write(
            &config,
            format!(
                r#"[storage]
path = "{db}"

[[sources]]
kind = "x"
bearer_token_env = "STREAMER_TEST_X_TOKEN"
base_url = "{x}"

[[rules]]
id = "watched"
query = "{keyword}"

[web]
enabled = false
"#,
                db = db.display(),
                x = x.base_url(),
            ),
        )
        .unwrap();
    };
    let values = || {
        let mut v: Vec<String> = x.rules().into_iter().map(|r| r.value).collect();
        v.sort();
        v
    };
    write("lockbit");
    let mut child = spawn(&config, &log);
    wait_for("the first sync", &log, || {
        values() == ["from:analyst_tool", "lockbit"]
    })
    .await;
    wait_for("the stream", &log, || !x.stream_hits().is_empty()).await;

    // SIGHUP only: same modification time as before the edit.
    let mtime = std::fs::metadata(&config).unwrap().modified().unwrap();
    write("ransomware");
    std::fs::File::options()
        .write(true)
        .open(&config)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        values(),
        ["from:analyst_tool", "lockbit"],
        "no reload without a signal or a change"
    );
    let ok = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .expect("kill -HUP")
        .success();
    assert!(ok);
    wait_for("the sync after SIGHUP", &log, || {
        values() == ["from:analyst_tool", "ransomware"]
    })
    .await;

    // A file change only.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    write("ddos");
    wait_for("the sync after the file change", &log, || {
        values() == ["ddos", "from:analyst_tool"]
    })
    .await;
    // A broken file: the old rules keep running (and stay on X), and the log says why.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    std::fs::write(
        &config,
        std::fs::read_to_string(&config)
            .unwrap()
            .replace("query = \"ddos\"", "query = \"(ddos OR\""),
    )
    .unwrap();
    wait_for("the refused reload", &log, || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("rules not reloaded, the old rules keep running")
    })
    .await;
    assert_eq!(values(), ["ddos", "from:analyst_tool"]);
    assert!(
        x.rules()
            .iter()
            .filter(|r| r.value != "from:analyst_tool")
            .all(|r| r.tag.as_deref().is_some_and(|t| t.starts_with("streamer:"))),
        "{:?}",
        x.rules()
    );
    assert_eq!(x.stream_hits().len(), 1, "the stream was not reconnected");

    sigterm(&mut child);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}
