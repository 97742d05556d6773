//! The summary email (parsed back from the `.eml` the sink wrote), `streamer stats`, coverage,
//! and back-testing rules over stored posts.

mod analytics_support;

use analytics_support::*;
use mail_parser::MessageParser;

const RULES: &str =
    "[[rules]]\nid = \"ransom\"\nquery = \"ransomware\"\nseverity = \"critical\"\n\n\
[[rules]]\nid = \"leak\"\nquery = \"leak\"\nseverity = \"low\"\n";

fn populated() -> Env {
    let env = Env::new(RULES);
    let now = minutes_ago(5);
    let mut withheld: serde_json::Value =
        serde_json::from_str(&x_post("1003", "42", "plain", "nothing to see", &now)).unwrap();
    withheld["data"]["withheld"] = serde_json::json!({"country_codes": ["DE"]});
    env.replay(&[
        x_post(
            "1001",
            "783214",
            "otter<script>",
            "Ransomware <script>alert(1)</script> on austintexas.gov via hxxp://evil-c2[.]xyz/x",
            &now,
        ),
        x_post("1002", "555", "leaker", "leak of chicago.gov data", &now),
        withheld.to_string(),
        mastodon_post("77", "9", "someone", "a quiet post", &now),
    ]);
    env
}

#[test]
fn summary_email_has_counts_top_lists_health_and_escapes_everything() {
    let env = populated();
    let (code, _, err) = env.run(&["summary", "--since", "1d", "--send"]);
    assert_eq!(code, 0, "{err}");
    let eml = std::fs::read_dir(env.path("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("summary-")
        })
        .expect("a summary .eml");
    let bytes = std::fs::read(&eml).unwrap();
    let msg = MessageParser::default().parse(&bytes).unwrap();
    let subject = msg.subject().unwrap();
    assert!(
        subject.starts_with("Streamer summary: 2 alerts (1 critical, 0 high)"),
        "{subject}"
    );
    assert!(!subject.contains('\n'));
    assert_eq!(
        msg.from().unwrap().first().unwrap().address().unwrap(),
        "streamer@example.org"
    );
    assert!(msg.header("X-Streamer-Summary").is_some());
    assert!(msg.message_id().unwrap().starts_with("summary-"));
    let text = msg.body_text(0).unwrap();
    let html = msg.body_html(0).unwrap();
    for needle in [
        "critical: 1",
        "low: 1",
        "Top actors",
        "Targeted entities",
        "Source health",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
    // One alert per post: the watched account's post carries both of its rules.
    assert!(
        text.contains("ransom (1)") && text.contains("leak (1)"),
        "{text}"
    );
    // IOCs are defanged for people; post-derived text is escaped in HTML.
    assert!(text.contains("url hxxp[://]evil-c2[.]xyz/x (1)"), "{text}");
    assert!(
        text.contains("City of Austin austintexas[.]gov (1)"),
        "{text}"
    );
    assert!(!text.contains("http://evil-c2.xyz"));
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("@otter&lt;script&gt;"), "{html}");
    assert!(
        html.contains("City of Austin") || html.contains("austintexas"),
        "{html}"
    );
    // Coverage: four posts seen (one withheld by X), from the replay.
    assert!(text.contains("replay (x): 3 posts seen"), "{text}");
    assert!(text.contains("1 withheld by X"), "{text}");
    assert!(text.contains("replay (mastodon): 1 posts seen"), "{text}");

    // Without --send it prints the same content.
    let (code, out, _) = env.run(&["summary", "--since", "1d"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("Subject: Streamer summary: 2 alerts"));
}

#[test]
fn stats_report_counts_from_the_counters() {
    let env = populated();
    let (code, out, err) = env.run(&["stats", "--since", "2h", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let count = |list: &str, key: &str| {
        v[list]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["key"] == key)
            .map(|c| c["count"].as_i64().unwrap())
    };
    assert_eq!(count("rules", "ransom"), Some(1));
    assert_eq!(count("rules", "account:x:783214"), Some(1));
    assert_eq!(count("actors", "x:783214"), Some(1));
    assert_eq!(count("entities", "austintexas.gov"), Some(1));
    assert_eq!(count("states", "TX"), Some(1));
    assert_eq!(count("states", "IL"), Some(1));
    assert_eq!(count("iocs", "url:http://evil-c2.xyz/x"), Some(1));
    assert_eq!(count("domains", "evil-c2.xyz"), Some(1));
    assert_eq!(count("sources", "replay:x"), Some(2));
    let x = v["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["platform"] == "x")
        .unwrap();
    assert_eq!(
        (x["posts"].as_i64(), x["withheld"].as_i64()),
        (Some(3), Some(1))
    );
    let (code, out, _) = env.run(&["stats", "--since", "1d"]);
    assert_eq!(code, 0);
    assert!(out.contains("Rules:") && out.contains("ransom"), "{out}");
}

#[test]
fn rules_test_since_back_tests_a_new_rule_over_stored_posts() {
    let env = populated();
    // A new rule, added after the posts arrived.
    let text = std::fs::read_to_string(&env.config_path).unwrap();
    std::fs::write(
        &env.config_path,
        text.replace(
            "[[rules]]\nid = \"leak\"",
            "[[rules]]\nid = \"chicago\"\nquery = \"domain:chicago.gov\"\nseverity = \"high\"\n\n[[rules]]\nid = \"leak\"",
        ),
    )
    .unwrap();
    let (code, out, err) = env.run(&["rules", "test", "--since", "30d"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "the two stored (matched) posts: {out}");
    let leak = lines.iter().find(|l| l["id"] == "1002").unwrap();
    let rules: Vec<&str> = leak["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(
        rules.contains(&"chicago") && rules.contains(&"leak"),
        "{rules:?}"
    );
    assert_eq!(leak["new_rules"], serde_json::json!(["chicago"]));
    assert!(
        err.contains("chicago: 1 post(s), 1 not alerted by this rule before"),
        "{err}"
    );
    // A window that excludes them finds nothing.
    let (code, out, _) = env.run(&["rules", "test", "--since", "2099-01-01T00:00:00Z"]);
    assert_eq!(code, 0);
    assert!(out.is_empty());
    // FILE or --since is required.
    let (code, _, _) = env.run(&["rules", "test"]);
    assert_eq!(code, 2);
}

#[test]
fn scheduled_summary_is_sent_once_per_window_across_restarts() {
    let env = Env::new(&format!(
        "{RULES}\n[summary]\nevery = \"daily\"\nhour = 8\n"
    ));
    env.replay(&[]);
    let config = env.config();
    let schedule = config.summary.expect("the schedule is configured");
    let now: jiff::Timestamp = "2026-12-03T09:00:00Z".parse().unwrap();
    let count = || {
        std::fs::read_dir(env.path("outbox"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    assert!(streamer::summary::send_due(&config, schedule, now).unwrap());
    assert_eq!(count(), 1);
    // Later the same day, or after a restart (the state is in the database): nothing new.
    let later = now + jiff::SignedDuration::from_hours(5);
    assert!(!streamer::summary::send_due(&env.config(), schedule, later).unwrap());
    assert_eq!(count(), 1);
    // The next day's window.
    let tomorrow = now + jiff::SignedDuration::from_hours(24);
    assert!(streamer::summary::send_due(&config, schedule, tomorrow).unwrap());
    assert_eq!(count(), 2);
    let bad = Env::new("[summary]\nevery = \"hourly\"\n");
    let err = streamer::config::Config::from_file(&bad.config_path)
        .unwrap_err()
        .to_string();
    assert!(err.contains("summary"), "{err}");
}
