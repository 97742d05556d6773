//! The actor registry through the real pipeline: renames across posts and restarts, watched
//! actors linked across platforms, account events and silence as alerts.

mod analytics_support;

use analytics_support::*;
use streamer::actors;

const RULES: &str = "[[rules]]\nid = \"ransom\"\nquery = \"ransomware\"\nseverity = \"high\"\n";

#[test]
fn rename_while_down_is_detected_at_the_next_post_and_alerts_for_a_watched_account() {
    let env = Env::new(RULES);
    // Run 1: the watched X account posts as @otter_old (no keyword: the account rule alerts),
    // and an unwatched account posts about ransomware as @bystander.
    env.replay(&[
        x_post(
            "101",
            "783214",
            "otter_old",
            "hello from the otter",
            "2026-11-30T10:00:00.000Z",
        ),
        x_post(
            "102",
            "555",
            "bystander",
            "ransomware hits a county",
            "2026-11-30T10:01:00.000Z",
        ),
    ]);
    let first = env.records();
    assert_eq!(first.len(), 2, "{first:#?}");
    let otter = env.records_of("account:x:783214");
    assert_eq!(
        otter.len(),
        1,
        "the sheet's accounts join the account rules"
    );
    assert!(env.records_of("actor:rename").is_empty());

    // Run 2, a restart: both accounts renamed while Streamer was down.
    env.replay(&[
        x_post(
            "103",
            "783214",
            "otter_new",
            "still the otter",
            "2026-11-30T12:00:00.000Z",
        ),
        x_post(
            "104",
            "555",
            "bystander2",
            "ransomware again",
            "2026-11-30T12:01:00.000Z",
        ),
    ]);
    let renames = env.records_of("actor:rename");
    assert_eq!(
        renames.len(),
        1,
        "only the watched account's rename alerts: {renames:#?}"
    );
    let r = &renames[0];
    assert_eq!(r["post"]["author"]["id"], "783214");
    assert_eq!(r["post"]["author"]["handle"], "otter_new");
    assert_eq!(
        r["post"]["author"]["previous_handles"],
        serde_json::json!(["otter_old"])
    );
    assert_eq!(r["rules"][0]["severity"], "high", "threat level High");
    assert_eq!(r["rules"][0]["matched"][0]["value"], "x:783214");
    let text = r["post"]["text"].as_str().unwrap();
    assert!(
        text.contains("Crimson Otter")
            && text.contains("@otter_old")
            && text.contains("@otter_new"),
        "{text}"
    );
    // The post that revealed it alerts too, and carries the old handle.
    let post = env
        .records()
        .into_iter()
        .find(|r| r["post"]["id"] == "103")
        .unwrap();
    assert_eq!(
        post["post"]["author"]["previous_handles"],
        serde_json::json!(["otter_old"])
    );

    // The unwatched rename is in the registry, as an event, without an alert.
    let config = env.config();
    let conn = env.db();
    let w = &config.actors.watchlist;
    let d = actors::detail(&conn, w, &actors::AccountRef::parse("x:555").unwrap()).unwrap();
    let handles: Vec<&str> = d.handles.iter().map(|h| h.value.as_str()).collect();
    assert_eq!(handles, ["bystander", "bystander2"]);
    assert!(d.events.iter().any(|e| e.0 == "handle_change"
        && e.1.as_deref() == Some("bystander")
        && e.2.as_deref() == Some("bystander2")));
    // Old handles still find the account.
    let found = actors::resolve(&conn, w, "@bystander").unwrap();
    assert_eq!(found, vec![actors::AccountRef::parse("x:555").unwrap()]);
    let d = actors::detail(&conn, w, &actors::AccountRef::parse("x:783214").unwrap()).unwrap();
    assert_eq!(d.account.alert_count, 3, "two posts and the rename");
    assert_eq!(d.clients[0].value, "Twitter for Android");
    assert_eq!(d.clients[0].count, Some(2));

    // A third run with the same handle raises nothing new.
    env.replay(&[x_post(
        "105",
        "783214",
        "otter_new",
        "quiet",
        "2026-11-30T13:00:00.000Z",
    )]);
    assert_eq!(env.records_of("actor:rename").len(), 1);
}

#[test]
fn one_actor_is_linked_across_x_mastodon_and_bluesky() {
    let env = Env::new(RULES);
    env.replay(&[
        x_post(
            "201",
            "783214",
            "otter",
            "x post",
            "2026-11-30T10:00:00.000Z",
        ),
        mastodon_post(
            "9001",
            "1090",
            "otter",
            "mastodon post",
            "2026-11-30T10:05:00.000Z",
        ),
        bsky_post(
            "did:plc:otter7x3k2q",
            "3kotter1",
            "bluesky post",
            "2026-11-30T10:06:00.000Z",
            1_764_500_000_000_001,
        ),
        mastodon_post(
            "9002",
            "2000",
            "someone",
            "unrelated sourdough",
            "2026-11-30T10:07:00.000Z",
        ),
    ]);
    for key in [
        "x:783214",
        "mastodon:infosec.exchange:1090",
        "bluesky:did:plc:otter7x3k2q",
    ] {
        assert_eq!(env.records_of(&format!("account:{key}")).len(), 1, "{key}");
    }
    assert_eq!(env.records().len(), 3, "the unrelated post does not alert");

    let config = env.config();
    let conn = env.db();
    let w = &config.actors.watchlist;
    let accounts = actors::resolve(&conn, w, "crimson otter").unwrap();
    assert_eq!(accounts.len(), 3);
    let details: Vec<_> = accounts
        .iter()
        .map(|a| actors::detail(&conn, w, a).unwrap())
        .collect();
    assert!(
        details
            .iter()
            .all(|d| d.account.alert_count == 1
                && d.account.actor.as_deref() == Some("Crimson Otter"))
    );
    // The handle of one platform leads to the actor, and the actor to all its accounts.
    let via_handle = actors::resolve(&conn, w, "@otter").unwrap();
    assert_eq!(
        via_handle,
        vec![actors::AccountRef::parse("x:783214").unwrap()]
    );
    let owner = w
        .lookup(via_handle[0].platform, &via_handle[0].author_id)
        .unwrap();
    assert_eq!(owner.accounts.len(), 3);

    // The CLI shows the sheet's columns and every account.
    let (code, out, err) = env.run(&["actors", "show", "Crimson Otter"]);
    assert_eq!(code, 0, "{err}");
    for needle in [
        "Watched actor: Crimson Otter",
        "LockBit affiliate, NoName057",
        "threat level: High",
        "Leaks first, <b>brags</b> later",
        "Analyst: jd",
        "X 783214: @otter",
        "Mastodon infosec.exchange:1090",
        "Bluesky did:plc:otter7x3k2q",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in\n{out}");
    }
    let (code, out, _) = env.run(&["actors", "list", "--watched", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 3);
}

#[test]
fn bluesky_rename_and_takedown_of_a_watched_account_are_alerts() {
    let env = Env::new(RULES);
    let did = "did:plc:otter7x3k2q";
    env.replay(&[
        bsky_post(
            did,
            "3k1",
            "first",
            "2026-11-30T10:00:00.000Z",
            1_764_500_000_000_001,
        ),
        bsky_identity(did, "otter.bsky.social", 1_764_500_000_000_002),
        bsky_identity(did, "renamed-otter.bsky.social", 1_764_500_000_000_003),
        bsky_account(did, false, "takendown", 1_764_500_000_000_004),
        bsky_account("did:plc:nobody", false, "takendown", 1_764_500_000_000_005),
    ]);
    let renames = env.records_of("actor:rename");
    assert_eq!(renames.len(), 1, "{renames:#?}");
    assert_eq!(
        renames[0]["post"]["author"]["handle"],
        "renamed-otter.bsky.social"
    );
    let status = env.records_of("actor:account-status");
    assert_eq!(status.len(), 1, "only the watched account: {status:#?}");
    assert!(status[0]["post"]["text"]
        .as_str()
        .unwrap()
        .contains("takendown"));
    assert_eq!(status[0]["post"]["platform"], "bluesky");
    // Every sink got them: the eml sink wrote one message per alert.
    let emls = std::fs::read_dir(env.path("outbox")).unwrap().count();
    assert_eq!(emls, env.records().len());

    // Jetstream replays an event after a reconnect: no second alert.
    env.replay(&[bsky_account(did, false, "takendown", 1_764_500_000_000_004)]);
    assert_eq!(env.records_of("actor:account-status").len(), 1);
}

#[test]
fn a_watched_account_silent_for_silence_days_alerts_once() {
    let env = Env::new(RULES);
    env.replay(&[x_post(
        "301",
        "783214",
        "otter",
        "hello",
        "2026-11-30T10:00:00.000Z",
    )]);
    assert!(env.records_of("actor:silent").is_empty());
    // Twenty days pass without a post (the registry's clock is moved back instead).
    let conn = env.db();
    let old = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(20 * 24))
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    conn.execute(
        "UPDATE actors SET last_seen = ?1 WHERE author_id = '783214'",
        [&old],
    )
    .unwrap();
    conn.execute("UPDATE watched_accounts SET since = ?1", [&old])
        .unwrap();
    drop(conn);
    // Any restart checks: an unrelated post is enough to run the store stage.
    env.replay(&[x_post(
        "302",
        "555",
        "bystander",
        "ransomware",
        "2026-11-30T11:00:00.000Z",
    )]);
    let silent = env.records_of("actor:silent");
    // All three accounts of the actor have been silent (two never posted since being watched).
    assert_eq!(silent.len(), 3, "{silent:#?}");
    let x = silent
        .iter()
        .find(|r| r["post"]["author"]["id"] == "783214")
        .unwrap();
    assert!(x["post"]["text"].as_str().unwrap().contains("14 days"));
    assert_eq!(x["post"]["author"]["handle"], "otter");
    env.replay(&[x_post(
        "303",
        "555",
        "bystander",
        "ransomware 2",
        "2026-11-30T12:00:00.000Z",
    )]);
    assert_eq!(
        env.records_of("actor:silent").len(),
        3,
        "one alert per silence"
    );
}

#[test]
fn a_sheet_with_a_handle_instead_of_an_id_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.csv"), "name,x\nBad,@handle\n").unwrap();
    let cfg = dir.path().join("s.toml");
    std::fs::write(&cfg, "[actors]\ncsv = \"a.csv\"\n").unwrap();
    let err = streamer::config::Config::from_file(&cfg)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 2") && err.contains("@handle") && err.contains("stable id"),
        "{err}"
    );
}
