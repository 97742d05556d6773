//! The dashboard over HTTP, without a browser: security headers, CSRF, host and auth checks,
//! metrics, search, and suppressions reaching the matcher.

mod web_support;

use web_support::*;

fn count(env: &Env, sql: &str) -> i64 {
    env.conn().query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn pages_carry_a_strict_csp_and_state_changes_need_the_csrf_token() {
    let env = Env::new("");
    env.replay(&[demo_stream()]);
    let server = Server::start(&env, &[]);
    let page = http(&server.addr, "GET", "/", &[], "");
    assert_eq!(page.status, 200);
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert!(!page.body.contains(" style=") && !page.body.contains("<script>"));
    let csrf = csrf_of(&page.body);

    // DNS rebinding: an open (loopback) dashboard answers only to loopback host names.
    let rebind = http(
        &server.addr,
        "GET",
        "/",
        &[("Host", "evil.example:8080")],
        "",
    );
    assert_eq!(rebind.status, 421);

    let alert_id: String = env
        .conn()
        .query_row(
            "SELECT alert_id FROM alerts ORDER BY rowid LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let path = format!("/alert/{alert_id}/feedback");
    let wrong = http(
        &server.addr,
        "POST",
        &path,
        &[],
        &format!("csrf={}&action=false_positive&reason=x", "0".repeat(64)),
    );
    assert_eq!(wrong.status, 403);
    let cross = http(
        &server.addr,
        "POST",
        &path,
        &[("Origin", "http://evil.example")],
        &format!("csrf={csrf}&action=false_positive&reason=x"),
    );
    assert_eq!(cross.status, 403);
    let site = http(
        &server.addr,
        "POST",
        &path,
        &[("Sec-Fetch-Site", "cross-site")],
        &format!("csrf={csrf}&action=false_positive&reason=x"),
    );
    assert_eq!(site.status, 403);
    assert_eq!(count(&env, "SELECT COUNT(*) FROM alert_feedback"), 0);

    let ok = http(
        &server.addr,
        "POST",
        &path,
        &[("Origin", &server.base)],
        &format!("csrf={csrf}&action=false_positive&reason=benign+research+post"),
    );
    assert_eq!(ok.status, 303, "{}", ok.body);
    assert_eq!(count(&env, "SELECT COUNT(*) FROM alert_feedback"), 1);
    let (who, action, reason): (String, String, String) = env
        .conn()
        .query_row("SELECT who, action, reason FROM audit_log", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!(
        (who.as_str(), action.as_str(), reason.as_str()),
        ("local", "false_positive", "benign research post")
    );
}

#[test]
fn an_access_token_guards_every_page_and_is_never_rendered() {
    let token = "test-token-0123456789abcdef";
    let env = Env::new("[web]\naccess_token_env = \"STREAMER_TEST_WEB_TOKEN\"\n");
    env.replay(&[demo_stream()]);
    let server = Server::start(&env, &[("STREAMER_TEST_WEB_TOKEN", token)]);
    let anon = http(&server.addr, "GET", "/", &[], "");
    assert_eq!(anon.status, 303);
    assert_eq!(anon.header("location"), Some("/login"));
    assert_eq!(http(&server.addr, "GET", "/metrics", &[], "").status, 401);
    assert_eq!(http(&server.addr, "GET", "/healthz", &[], "").status, 200);

    let bearer = format!("Bearer {token}");
    let metrics = http(
        &server.addr,
        "GET",
        "/metrics",
        &[("Authorization", &bearer)],
        "",
    );
    assert_eq!(metrics.status, 200);
    assert!(metrics.body.contains("# TYPE streamer_alerts gauge"));
    let alerts = count(&env, "SELECT COUNT(*) FROM alerts");
    let sum: i64 = metrics
        .body
        .lines()
        .filter(|l| l.starts_with("streamer_alerts{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(sum, alerts);

    let login = http(&server.addr, "GET", "/login", &[], "");
    let csrf = csrf_of(&login.body);
    let bad = http(
        &server.addr,
        "POST",
        "/login",
        &[],
        &format!("csrf={csrf}&name=ana&token=wrong-token-0000000000"),
    );
    assert_eq!(bad.status, 401);
    let good = http(
        &server.addr,
        "POST",
        "/login",
        &[],
        &format!("csrf={csrf}&name=ana&token={token}"),
    );
    assert_eq!(good.status, 303);
    let cookie = good.header("set-cookie").unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let session = cookie.split(';').next().unwrap().to_string();
    for path in [
        "/",
        "/rules",
        "/analytics",
        "/health",
        "/audit",
        "/suppressions",
    ] {
        let page = http(&server.addr, "GET", path, &[("Cookie", &session)], "");
        assert_eq!(page.status, 200, "{path}");
        assert!(!page.body.contains(token), "{path} renders the token");
        assert!(page.body.contains(">ana<"), "{path} names the analyst");
    }
}

#[test]
fn full_text_search_and_filters_agree_with_the_stored_records() {
    let env = Env::new("");
    env.replay(&[demo_stream()]);
    let server = Server::start(&env, &[]);
    let cards = |path: &str| -> usize {
        let page = http(&server.addr, "GET", path, &[], "");
        assert_eq!(page.status, 200, "{path}");
        page.body.matches("<article class=\"alert").count()
    };
    let records: Vec<serde_json::Value> = env
        .conn()
        .prepare("SELECT record_json FROM alerts")
        .unwrap()
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|j| serde_json::from_str(&j.unwrap()).unwrap())
        .collect();
    assert!(records.len() >= 5, "the demo stream should raise alerts");
    assert_eq!(cards("/"), records.len());
    let text_has = |r: &serde_json::Value, w: &str| {
        r["post"]["text"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains(w)
    };
    let lockbit = records.iter().filter(|r| text_has(r, "lockbit")).count();
    assert!(lockbit > 0 && lockbit < records.len());
    assert_eq!(cards("/?q=LockBit"), lockbit);
    let phrase = records
        .iter()
        .filter(|r| text_has(r, "school district"))
        .count();
    assert_eq!(cards("/?q=%22school+district%22"), phrase);
    // Syntax FTS5 would reject is taken as words.
    assert_eq!(cards("/?q=%22unbalanced+(+-+*"), 0);

    let critical = records
        .iter()
        .filter(|r| {
            r["rules"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h["severity"] == "critical")
        })
        .count();
    assert_eq!(cards("/?severity=critical"), critical);
    let tx = records
        .iter()
        .filter(|r| {
            r["entities"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["state"] == "TX")
        })
        .count();
    assert!(tx > 0);
    assert_eq!(cards("/?state=TX"), tx);
    let bluesky = records
        .iter()
        .filter(|r| r["post"]["platform"] == "bluesky")
        .count();
    assert_eq!(cards("/?platform=bluesky"), bluesky);
    let rule = records
        .iter()
        .filter(|r| {
            r["rules"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h["id"] == "data-leak")
        })
        .count();
    assert_eq!(cards("/?rule=data-leak"), rule);
    let first = &records[0]["post"];
    let actor = format!(
        "{}:{}",
        first["platform"].as_str().unwrap(),
        first["author"]["id"].as_str().unwrap()
    );
    let by_actor = records
        .iter()
        .filter(|r| r["post"]["author"]["id"] == first["author"]["id"])
        .count();
    assert_eq!(
        cards(&format!("/?actor={}", actor.replace(':', "%3A"))),
        by_actor
    );

    let healthz = http(&server.addr, "GET", "/healthz", &[], "");
    assert_eq!((healthz.status, healthz.body.as_str()), (200, "ok\n"));
}

#[test]
fn muted_authors_and_suppressed_terms_raise_no_alerts() {
    let baseline = Env::new("");
    baseline.replay(&[demo_stream()]);
    let author = "1500000000000000042";
    let by_author = count(
        &baseline,
        &format!("SELECT COUNT(*) FROM alerts WHERE author_id = '{author}'"),
    );
    let tango = count(
        &baseline,
        "SELECT COUNT(*) FROM alerts WHERE lower(json_extract(record_json, '$.post.text')) LIKE '%tango down%'",
    );
    assert!(by_author > 0 && tango > 0, "the demo has both");
    let total = count(&baseline, "SELECT COUNT(*) FROM alerts");

    let env = Env::new("");
    drop(streamer::storage::Storage::open(&env.db).unwrap());
    let conn = env.conn();
    streamer::web::add_suppression(
        &conn,
        "ana",
        "author",
        &format!("x:{author}"),
        "noisy",
        None,
    )
    .unwrap();
    streamer::web::add_suppression(&conn, "ana", "term", "\"tango down\"", "ddos noise", None)
        .unwrap();
    env.replay(&[demo_stream()]);
    assert_eq!(
        count(
            &env,
            &format!("SELECT COUNT(*) FROM alerts WHERE author_id = '{author}'")
        ),
        0
    );
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) FROM alerts WHERE lower(json_extract(record_json, '$.post.text')) LIKE '%tango down%'"
        ),
        0
    );
    let left = count(&env, "SELECT COUNT(*) FROM alerts");
    assert!(left > 0 && left <= total - by_author, "{left} of {total}");
}

#[test]
fn streamer_run_serves_the_dashboard_and_reloads_rules_when_suppressions_change() {
    use std::io::BufRead;
    let env = Env::new("[web]\nbind = \"127.0.0.1:0\"\n");
    env.replay(&[demo_stream()]);
    let mut child = std::process::Command::new(BIN)
        .arg("run")
        .arg("--config")
        .arg(&env.config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            eprintln!("[run] {line}");
            let _ = tx.send(line);
        }
    });
    let next_matching = |needle: &str| -> String {
        loop {
            let line = rx
                .recv_timeout(std::time::Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("no log line with {needle:?}"));
            if line.contains(needle) {
                return line;
            }
        }
    };
    let line = next_matching("dashboard listening on http://");
    let addr = line
        .split("http://")
        .nth(1)
        .unwrap()
        .trim()
        .trim_end_matches('/')
        .to_string();
    let page = http(&addr, "GET", "/", &[], "");
    assert_eq!(page.status, 200);
    let csrf = csrf_of(&page.body);
    let alert_id: String = env
        .conn()
        .query_row(
            "SELECT alert_id FROM alerts ORDER BY rowid LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let mute = http(
        &addr,
        "POST",
        &format!("/alert/{alert_id}/feedback"),
        &[],
        &format!("csrf={csrf}&action=mute&reason=bot"),
    );
    assert_eq!(mute.status, 303, "{}", mute.body);
    next_matching("rules reloaded");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn health_shows_each_live_source_without_its_secrets() {
    let env = Env::new("");
    env.replay(&[demo_stream()]);
    {
        let conn = env.conn();
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS source_state (
                 source TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at TEXT NOT NULL)",
        )
        .unwrap();
        conn.execute(
            "INSERT INTO source_state (source, state, updated_at) VALUES (?1, ?2, ?3)",
            [
                "mastodon:infosec.exchange",
                r#"{"name":"mastodon:infosec.exchange","connected":true,"lag_ms":2500,
                    "posts":1234,"reconnects":2,"posts_per_sec":41.5,"running":true,
                    "access_token":"s3cr3t-should-not-show","last_error":"<b>timeout</b>"}"#,
                "2026-12-03T10:00:00Z",
            ],
        )
        .unwrap();
    }
    let server = Server::start(&env, &[]);
    let page = http(&server.addr, "GET", "/health", &[], "");
    assert_eq!(page.status, 200);
    let body = &page.body;
    assert!(body.contains("mastodon:infosec.exchange"));
    assert!(body.contains(">connected<"), "state column");
    assert!(body.contains(">2.5 s<"), "lag");
    assert!(body.contains(">41.50<"), "posts/s");
    assert!(body.contains("&lt;b&gt;timeout&lt;/b&gt;"), "escaped error");
    assert!(!body.contains("s3cr3t"), "secrets are never rendered");
    // The outbox per sink.
    assert!(body.contains("<td>jsonl</td>"));
    // The same state on /metrics: reconnects, lag, connected.
    let metrics = http(&server.addr, "GET", "/metrics", &[], "").body;
    assert!(
        metrics
            .contains("streamer_source_reconnects_total{source=\"mastodon:infosec.exchange\"} 2"),
        "{metrics}"
    );
    assert!(metrics
        .contains("streamer_source_lag_milliseconds{source=\"mastodon:infosec.exchange\"} 2500"));
    assert!(metrics.contains("streamer_source_connected{source=\"mastodon:infosec.exchange\"} 1"));
    assert!(!metrics.contains("s3cr3t"));
}

#[test]
fn basic_auth_names_the_analyst_in_the_audit_log() {
    let env = Env::new("[web]\nuser = \"ana\"\npassword_env = \"STREAMER_TEST_WEB_PASSWORD\"\n");
    env.replay(&[demo_stream()]);
    let server = Server::start(&env, &[("STREAMER_TEST_WEB_PASSWORD", "correct horse")]);
    let anon = http(&server.addr, "GET", "/", &[], "");
    assert_eq!(anon.status, 401);
    assert!(anon
        .header("www-authenticate")
        .unwrap()
        .starts_with("Basic"));
    // "ana:wrong" and "ana:correct horse", base64.
    let wrong = http(
        &server.addr,
        "GET",
        "/",
        &[("Authorization", "Basic YW5hOndyb25n")],
        "",
    );
    assert_eq!(wrong.status, 401);
    let auth = ("Authorization", "Basic YW5hOmNvcnJlY3QgaG9yc2U=");
    let page = http(&server.addr, "GET", "/", &[auth], "");
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("correct horse"));
    let csrf = csrf_of(&page.body);
    let alert_id: String = env
        .conn()
        .query_row(
            "SELECT alert_id FROM alerts ORDER BY rowid LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let term = http(
        &server.addr,
        "POST",
        &format!("/alert/{alert_id}/feedback"),
        &[auth],
        &format!("csrf={csrf}&action=suppress&term=%22bug+bounty%22&reason=noise"),
    );
    assert_eq!(term.status, 303, "{}", term.body);
    let who: String = env
        .conn()
        .query_row(
            "SELECT who FROM audit_log WHERE action = 'suppress_term'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(who, "ana");
}

#[test]
fn the_live_stream_applies_the_filters() {
    let env = Env::new("");
    env.replay(&[demo_stream()]);
    let critical: i64 = env
        .conn()
        .query_row(
            "SELECT COUNT(*) FROM alerts WHERE severity = 'critical'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let total: i64 = env
        .conn()
        .query_row("SELECT COUNT(*) FROM alerts", [], |r| r.get(0))
        .unwrap();
    assert!(critical > 0 && critical < total);
    let server = Server::start(&env, &[]);
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(&server.addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_millis(200)))
        .unwrap();
    write!(
        s,
        "GET /events?severity=critical&after=0 HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
        server.addr
    )
    .unwrap();
    let mut got = String::new();
    let events = wait_for(30, "the filtered live events", || {
        let mut buf = [0u8; 65536];
        if let Ok(n) = s.read(&mut buf) {
            got.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        let n = got.matches("event: alert").count() as i64;
        (n >= critical).then_some(n)
    });
    assert!(got.contains("content-type: text/event-stream"), "{got}");
    // A little longer: nothing else may follow.
    std::thread::sleep(std::time::Duration::from_millis(800));
    let mut buf = [0u8; 65536];
    if let Ok(n) = s.read(&mut buf) {
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert_eq!(got.matches("event: alert").count() as i64, critical);
    assert_eq!(events, critical);
    assert_eq!(
        got.matches("data: <article class=\"alert sev-critical")
            .count() as i64,
        critical,
        "{got}"
    );
}
