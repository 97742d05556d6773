//! The dashboard end to end in a real headless Chromium (driven through chromedriver):
//! alerts arrive live while a replay runs, filters and search work, feedback persists and is
//! audited, suppressions are listed and reversible, a rule is validated, previewed and saved,
//! and a post carrying an XSS payload renders as text. Screenshots of every page at 1280 and
//! 390 pixels wide go to `test-artifacts/web/`.
//!
//! Needs `chromium` and `chromedriver` (Debian's `chromium chromium-driver`), which
//! `scripts/install-test-deps` installs.

mod web_support;

use fantoccini::{Client, ClientBuilder, Locator};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use web_support::*;

struct Driver {
    child: Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_program(name: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/local/bin", "/usr/lib/chromium"] {
        let p = PathBuf::from(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!(
        "{name} is not installed: run scripts/install-test-deps (Debian: chromium chromium-driver)"
    );
}

impl Driver {
    fn start() -> Driver {
        let driver = find_program("chromedriver");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for(30, "chromedriver", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        Driver {
            child,
            port,
            _profile: tempfile::tempdir().unwrap(),
        }
    }

    async fn client(&self) -> Client {
        let chromium = find_program("chromium");
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), "chrome".into());
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--hide-scrollbars",
                    format!("--user-data-dir={}", self._profile.path().display()),
                ],
            }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("chromedriver session")
    }
}

fn artifacts() -> PathBuf {
    let dir = repo_root().join("test-artifacts/web");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Screenshots the current page at 1280 and 390 pixels wide, tall enough for the content
/// (capped), then restores the desktop size.
async fn shots(c: &Client, name: &str) {
    for width in [1280u32, 390] {
        c.set_window_size(width, 900).await.unwrap();
        let h = c
            .execute("return document.documentElement.scrollHeight;", vec![])
            .await
            .unwrap()
            .as_u64()
            .unwrap_or(900)
            .clamp(600, 4000);
        c.set_window_size(width, h as u32).await.unwrap();
        c.execute("window.scrollTo(0, 0);", vec![]).await.unwrap();
        let png = c.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        std::fs::write(artifacts().join(format!("{name}-{width}.png")), png).unwrap();
    }
    c.set_window_size(1280, 900).await.unwrap();
}

async fn count(c: &Client, css: &str) -> usize {
    c.find_all(Locator::Css(css)).await.unwrap().len()
}

async fn wait_until<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn db_count(env: &Env, sql: &str) -> usize {
    env.conn()
        .query_row(sql, [], |r| r.get::<_, i64>(0))
        .unwrap() as usize
}

fn replay_in_background(env: &Env, file: PathBuf) -> std::thread::JoinHandle<()> {
    let config = env.config.clone();
    std::thread::spawn(move || {
        let out = Command::new(BIN)
            .arg("replay")
            .arg("--config")
            .arg(&config)
            .args(["--drain-timeout", "10"])
            .arg(file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_end_to_end_in_chromium() {
    let env = Env::new("");
    let server = Server::start(&env, &[]);
    let driver = Driver::start();
    let c = driver.client().await;
    c.set_window_size(1280, 900).await.unwrap();
    let base = server.base.clone();

    // An empty dashboard, connected to the live stream.
    c.goto(&format!("{base}/")).await.unwrap();
    wait_until("the live stream to connect", || async {
        text_of(&c, "#live").await == "live"
    })
    .await;
    assert_eq!(count(&c, "article.alert").await, 0);

    // Alerts appear live while a replay (another process) writes them.
    replay_in_background(&env, demo_stream()).join().unwrap();
    let stored = db_count(&env, "SELECT COUNT(*) FROM alerts");
    assert!(stored >= 5);
    wait_until("the replayed alerts to appear live", || async {
        count(&c, "article.alert").await == stored
    })
    .await;
    assert_eq!(
        count(&c, "article.alert.new").await,
        stored,
        "all came over SSE"
    );
    assert_eq!(text_of(&c, "#new-count").await, format!("{stored} new"));

    // The XSS post arrives live too, and renders as text.
    replay_in_background(&env, xss_stream()).join().unwrap();
    wait_until("the XSS alert to appear live", || async {
        count(&c, "article.alert").await == stored + 1
    })
    .await;
    let first = text_of(&c, "article.alert").await;
    assert!(first.contains("<script>window.__xss=1</script>"), "{first}");
    let probe = c
        .execute(
            "return [typeof window.__xss, document.querySelectorAll('#xss-img, #xss-svg, main script').length];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(probe, serde_json::json!(["undefined", 0]));
    shots(&c, "alerts-live").await;

    // Search and filters, against counts computed from the stored records.
    let records: Vec<serde_json::Value> = env
        .conn()
        .prepare("SELECT record_json FROM alerts")
        .unwrap()
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|j| serde_json::from_str(&j.unwrap()).unwrap())
        .collect();
    let lockbit = records
        .iter()
        .filter(|r| {
            r["post"]["text"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains("lockbit")
        })
        .count();
    c.goto(&format!("{base}/")).await.unwrap();
    let form = c.form(Locator::Css("#filters")).await.unwrap();
    form.set_by_name("q", "lockbit").await.unwrap();
    form.submit().await.unwrap();
    wait_until("search results", || async {
        c.current_url()
            .await
            .unwrap()
            .as_str()
            .contains("q=lockbit")
    })
    .await;
    assert_eq!(count(&c, "article.alert").await, lockbit);
    assert!(
        count(&c, "article.alert mark").await >= 1,
        "matches are highlighted"
    );
    shots(&c, "alerts-search").await;

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
    c.goto(&format!("{base}/")).await.unwrap();
    let form = c.form(Locator::Css("#filters")).await.unwrap();
    form.set_by_name("severity", "critical").await.unwrap();
    form.submit().await.unwrap();
    wait_until("severity filter", || async {
        c.current_url()
            .await
            .unwrap()
            .as_str()
            .contains("severity=critical")
    })
    .await;
    assert_eq!(count(&c, "article.alert").await, critical);
    assert_eq!(count(&c, "article.alert.sev-critical").await, critical);

    // The XSS alert's page: text, author card, IOCs, raw payload, all inert.
    let xss_id: String = env
        .conn()
        .query_row(
            "SELECT alert_id FROM alerts WHERE post_id = '1862000000000009001'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    c.goto(&format!("{base}/alert/{xss_id}")).await.unwrap();
    let post = text_of(&c, ".post-text").await;
    assert!(post.contains("<img src=x id=xss-img"), "{post}");
    assert!(text_of(&c, "#author").await.contains("\"><svg id=xss-svg"));
    assert!(text_of(&c, "#post").await.contains("<b>Evil Client</b>"));
    let probe = c
        .execute(
            "return [typeof window.__xss, document.querySelectorAll('#xss-img, #xss-svg, b').length];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(probe, serde_json::json!(["undefined", 0]));

    // Feedback: false positive, mute the author, suppress a term.
    let form = c.form(Locator::Css("#fp-form")).await.unwrap();
    form.set_by_name("reason", "researcher testing an XSS filter")
        .await
        .unwrap();
    form.submit().await.unwrap();
    wait_until("the false positive mark", || async {
        c.source().await.unwrap().contains("Marked false positive")
    })
    .await;
    c.execute("window.confirm = () => true;", vec![])
        .await
        .unwrap();
    let form = c.form(Locator::Css("#mute-form")).await.unwrap();
    form.set_by_name("reason", "test account").await.unwrap();
    form.submit().await.unwrap();
    wait_until("the mute to be recorded", || async {
        c.source().await.unwrap().contains("test account")
            || db_count(&env, "SELECT COUNT(*) FROM suppressions") == 1
    })
    .await;
    c.goto(&format!("{base}/alert/{xss_id}")).await.unwrap();
    let form = c.form(Locator::Css("#term-form")).await.unwrap();
    form.set_by_name("term", "\"springfield county\"")
        .await
        .unwrap();
    form.set_by_name("reason", "exercise chatter")
        .await
        .unwrap();
    form.submit().await.unwrap();
    wait_until("the term suppression", || async {
        db_count(&env, "SELECT COUNT(*) FROM suppressions") == 2
    })
    .await;
    shots(&c, "alert-detail").await;
    assert_eq!(
        db_count(
            &env,
            "SELECT COUNT(*) FROM alert_feedback WHERE kind = 'false_positive' AND revoked_at IS NULL"
        ),
        1
    );

    // The FP shows in the list's triage filter.
    c.goto(&format!("{base}/?status=false_positive"))
        .await
        .unwrap();
    assert_eq!(count(&c, "article.alert.fp").await, 1);

    // The audit log has all three, with who and why.
    c.goto(&format!("{base}/audit")).await.unwrap();
    let audit = text_of(&c, "table.audit").await;
    for needle in [
        "false positive",
        "researcher testing an XSS filter",
        "mute author",
        "x:1500000000000009001",
        "suppress term",
        "exercise chatter",
        "local",
    ] {
        assert!(audit.contains(needle), "audit lacks {needle}: {audit}");
    }
    shots(&c, "audit").await;

    // Suppressions are listed and reversible.
    c.goto(&format!("{base}/suppressions")).await.unwrap();
    assert_eq!(count(&c, "table.suppressions tr.active").await, 2);
    shots(&c, "suppressions").await;
    c.execute("window.confirm = () => true;", vec![])
        .await
        .unwrap();
    let form = c
        .form(Locator::Css("table.suppressions tr.active form"))
        .await
        .unwrap();
    form.set_by_name("reason", "over-broad").await.unwrap();
    form.submit().await.unwrap();
    wait_until("the removal", || async {
        count(&c, "table.suppressions tr.removed").await == 1
    })
    .await;
    assert_eq!(
        db_count(
            &env,
            "SELECT COUNT(*) FROM suppressions WHERE removed_at IS NULL"
        ),
        1
    );
    c.goto(&format!("{base}/audit")).await.unwrap();
    assert!(text_of(&c, "table.audit").await.contains("over-broad"));

    // The actor page.
    c.goto(&format!("{base}/actor?platform=x&id=1500000000000000042"))
        .await
        .unwrap();
    assert!(text_of(&c, "h1").await.contains("@ransom_watch_demo"));
    assert!(count(&c, ".timeline article.alert").await >= 1);
    shots(&c, "actor").await;

    // Rules: hits with sparklines; edit, validate, preview, save.
    c.goto(&format!("{base}/rules")).await.unwrap();
    assert!(count(&c, "table.rules svg.spark").await >= 5);
    shots(&c, "rules").await;
    c.goto(&format!("{base}/rules/edit?id=ransom-local-gov"))
        .await
        .unwrap();
    let form = c.form(Locator::Css("form.rule-editor")).await.unwrap();
    form.set_by_name("query", "(lockbit").await.unwrap();
    form.submit_with(Locator::Css("#validate")).await.unwrap();
    wait_until("the validation result", || async {
        count(&c, "#result").await == 1
    })
    .await;
    assert!(text_of(&c, "#result").await.contains("Not valid"));
    let form = c.form(Locator::Css("form.rule-editor")).await.unwrap();
    form.set_by_name("query", "lockbit (county OR \"school district\")")
        .await
        .unwrap();
    form.submit_with(Locator::Css("#validate")).await.unwrap();
    wait_until("the preview", || async {
        count(&c, "#preview-count").await == 1
    })
    .await;
    let preview = text_of(&c, "#preview-count").await;
    let n: usize = preview
        .split_whitespace()
        .nth(3)
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("{preview}"));
    let expected = env
        .conn()
        .prepare("SELECT text FROM posts")
        .unwrap()
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|t| t.unwrap().to_lowercase())
        .filter(|t| {
            t.contains("lockbit") && (t.contains("county") || t.contains("school district"))
        })
        .count();
    assert_eq!(n, expected, "{preview}");
    assert!(count(&c, "#result article.alert mark").await >= 1);
    shots(&c, "rule-edit").await;
    c.execute("window.confirm = () => true;", vec![])
        .await
        .unwrap();
    let form = c.form(Locator::Css("form.rule-editor")).await.unwrap();
    form.submit_with(Locator::Css("#save")).await.unwrap();
    wait_until("the save", || async {
        c.source()
            .await
            .unwrap()
            .contains("Saved to the config file")
    })
    .await;
    let saved = std::fs::read_to_string(&env.config).unwrap();
    assert!(
        saved.contains("query = 'lockbit (county OR \"school district\")'"),
        "{saved}"
    );
    assert!(
        saved.starts_with("# Streamer demo configuration"),
        "comments kept"
    );
    assert_eq!(
        db_count(
            &env,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'edit_rule'"
        ),
        1
    );

    // Analytics and health.
    c.goto(&format!("{base}/analytics")).await.unwrap();
    assert!(count(&c, "svg.chart rect").await >= 1);
    assert!(text_of(&c, "#states").await.contains("TX"));
    shots(&c, "analytics").await;
    c.goto(&format!("{base}/health")).await.unwrap();
    assert!(text_of(&c, "#outbox").await.contains("jsonl"));
    shots(&c, "health").await;

    c.close().await.unwrap();
}
