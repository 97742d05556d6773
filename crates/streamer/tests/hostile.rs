//! Hostile posts through replay to every sink: every post is written by an attacker.
//!
//! XSS, header injection, terminal escapes, bidi and zero-width tricks, a 100k-character post,
//! deeply nested JSON and invalid UTF-8 go through the real binary; the test checks that each
//! output is harmless: the terminal gets no control sequences, the jsonl stays one valid record
//! per line, the emails have clean headers, escaped HTML and no live malicious link, the Slack
//! and Teams webhooks carry escaped, defanged text, and the syslog messages (RFC 5424 and CEF)
//! are one line each with no control character.

mod support;

use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_streamer");

fn x_line(id: u64, handle: &str, name: &str, text: &str) -> String {
    json!({
        "data": {"id": id.to_string(), "text": text, "author_id": "666", "created_at": "2026-11-30T10:00:00.000Z",
                 "source": "<a href=\"x\">evil\r\nclient</a>", "edit_history_tweet_ids": [id.to_string()]},
        "includes": {"users": [{"id": "666", "username": handle, "name": name}]}
    })
    .to_string()
}

fn hostile_input(dir: &Path) -> std::path::PathBuf {
    let mut lines: Vec<Vec<u8>> = vec![
        x_line(1, "xss", "<img src=x onerror=alert(1)>", "pwn <script>alert(document.cookie)</script> \"><img src=x onerror=alert(2)> https://evil.example.com/a?b=<c>").into_bytes(),
        x_line(2, "inject\r\nBcc: victim@example.org", "Name\r\nX-Injected: 1", "pwn subject\r\nBcc: victim@example.org\r\n\r\nbody injection").into_bytes(),
        x_line(3, "term", "\u{1b}[2J\u{1b}]0;owned\u{7}", "pwn \u{1b}[31mred\u{1b}[0m \u{1b}]8;;https://evil.example.com\u{1b}\\click\u{1b}]8;;\u{1b}\\ \u{9b}2J").into_bytes(),
        x_line(4, "bidi", "admin\u{202e}nimda", "pwn invoice\u{202e}fdp.exe zero\u{200b}width evil[.]example[.]com").into_bytes(),
        x_line(5, "long", "Long", &format!("pwn {}", "A".repeat(100_000))).into_bytes(),
    ];
    // Deeply nested JSON and invalid UTF-8: bad lines, never a crash.
    lines.push(format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes());
    lines.push(
        format!(
            "{{\"data\":{}1{}}}",
            "{\"a\":".repeat(50_000),
            "}".repeat(50_000)
        )
        .into_bytes(),
    );
    lines.push(vec![b'{', b'"', 0xc3, 0x28, 0xff, b'"', b'}']);
    let path = dir.join("hostile.jsonl");
    let mut bytes = Vec::new();
    for l in lines {
        bytes.extend_from_slice(&l);
        bytes.push(b'\n');
    }
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn hostile_posts_reach_every_sink_harmlessly() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    let (web_port, webhooks) = support::http_server(vec![]);
    let rfc5424 = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let cef = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    std::fs::write(
        &cfg,
        format!(
            r#"[storage]
path = "s.db"
[watch]
keywords = ["pwn"]
[[sinks]]
kind = "terminal"
[[sinks]]
kind = "jsonl"
path = "alerts.jsonl"
[[sinks]]
kind = "eml"
dir = "outbox"
from = "streamer@isac.example"
to = ["soc@isac.example"]
[[sinks]]
kind = "webhook"
name = "slack"
preset = "slack"
url = "http://127.0.0.1:{web}/slack"
[[sinks]]
kind = "webhook"
name = "teams"
preset = "teams"
url = "http://127.0.0.1:{web}/teams"
[[sinks]]
kind = "syslog"
name = "siem"
address = "{rfc5424}"
[[sinks]]
kind = "syslog"
name = "cef"
format = "cef"
address = "{cef}"
"#,
            web = web_port,
            rfc5424 = rfc5424.local_addr().unwrap(),
            cef = cef.local_addr().unwrap(),
        ),
    )
    .unwrap();
    let input = hostile_input(dir.path());
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .args(["replay", "--config"])
        .arg(&cfg)
        .arg(&input)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("3 bad lines skipped"), "{stderr}");

    // Terminal: no escape sequences, no C1 controls, no bidi overrides, no carriage returns.
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("pwn"), "alerts are printed");
    for c in stdout.chars() {
        assert!(
            c == '\n'
                || !(c.is_control()
                    || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200b}')),
            "terminal output holds {:?}",
            c
        );
    }

    // jsonl: one valid record per alert; the text is kept exactly (it is data, JSON-escaped).
    let records: Vec<Value> = std::fs::read_to_string(dir.path().join("alerts.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON record"))
        .collect();
    assert_eq!(records.len(), 5);
    assert!(records
        .iter()
        .any(|r| r["post"]["text"].as_str().unwrap().contains("<script>")));
    assert!(records
        .iter()
        .any(|r| r["post"]["text"].as_str().unwrap().chars().count() > 100_000));

    // Emails: parse each back; headers hold no injected fields; HTML is escaped; links defanged.
    let mut emails = 0;
    for entry in std::fs::read_dir(dir.path().join("outbox")).unwrap() {
        let raw = std::fs::read(entry.unwrap().path()).unwrap();
        let msg = mail_parser::MessageParser::default()
            .parse(&raw)
            .expect("valid MIME");
        emails += 1;
        let header_names: Vec<String> = msg
            .headers()
            .iter()
            .map(|h| h.name().to_ascii_lowercase())
            .collect();
        assert!(
            !header_names.iter().any(|n| n == "bcc" || n == "x-injected"),
            "{header_names:?}"
        );
        let subject = msg.subject().unwrap_or_default();
        assert!(
            !subject.contains('\r')
                && !subject.contains('\n')
                && !subject.contains('\u{1b}')
                && !subject.contains('\u{202e}'),
            "{subject:?}"
        );
        assert!(subject.chars().count() <= 200, "subject is bounded");
        let html = msg.body_html(0).expect("an HTML part").to_string();
        let text = msg.body_text(0).expect("a text part").to_string();
        assert!(!html.contains("<script"), "script escaped");
        assert!(!html.contains("<img"), "img escaped");
        assert!(!html.contains('\u{1b}') && !text.contains('\u{1b}'));
        assert!(!html.contains('\u{202e}') && !text.contains('\u{202e}'));
        for body in [&html, &text] {
            assert!(
                !body.contains("https://evil.example.com"),
                "live malicious link in {body}"
            );
            assert!(
                !body.contains("evil.example.com"),
                "undefanged domain in {body}"
            );
        }
        assert!(msg.header("X-Streamer-Alert-Id").is_some());
    }
    assert_eq!(emails, 5);

    // Webhooks: valid JSON; what chat clients render is escaped and defanged.
    let reqs = webhooks.lock().unwrap().clone();
    assert_eq!(reqs.len(), 10, "five alerts to each of two webhooks");
    let (mut slack, mut teams) = (0, 0);
    for r in &reqs {
        let body: Value = serde_json::from_slice(&r.body).expect("webhook body is JSON");
        let all = body.to_string();
        for bad in ["https://evil", "evil.example.com"] {
            assert!(!all.contains(bad), "{bad} in a webhook body: {all}");
        }
        for bad in ['\u{1b}', '\u{202e}', '\u{9b}'] {
            assert!(!all.contains(bad), "{bad:?} in a webhook body");
        }
        // What the client renders as markup: Slack's mrkdwn (where `<` opens a link or a
        // mention, so it must arrive as `&lt;`) and Teams' TextBlocks (markdown: `\<`).
        if body.get("blocks").is_some() {
            slack += 1;
            let mut shown = vec![body["text"].as_str().unwrap().to_string()];
            mrkdwn_texts(&body["blocks"], &mut shown);
            assert!(shown.len() > 1, "{body}");
            for text in shown {
                assert!(!text.contains('<') && !text.contains('>'), "{text}");
            }
        } else {
            teams += 1;
            for block in body["attachments"][0]["content"]["body"]
                .as_array()
                .unwrap()
            {
                let text = block["text"].as_str().unwrap();
                let unescaped = text
                    .char_indices()
                    .filter(|&(_, c)| matches!(c, '<' | '>' | '[' | ']' | '(' | ')'))
                    .any(|(i, _)| !text[..i].ends_with('\\'));
                assert!(!unescaped, "markdown left live in a Teams block: {text}");
            }
        }
    }
    assert_eq!((slack, teams), (5, 5));

    // Syslog: one datagram per alert on each collector, each one line with no control
    // character, bidi override or live link; RFC 5424 framing intact.
    for (sock, format) in [(&rfc5424, "rfc5424"), (&cef, "cef")] {
        sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let mut buf = vec![0u8; 65_536];
        for _ in 0..5 {
            let n = sock.recv(&mut buf).expect("a syslog datagram");
            let msg = String::from_utf8(buf[..n].to_vec()).expect("UTF-8 syslog");
            assert!(
                msg.starts_with('<') && msg.contains(">1 "),
                "{format}: {msg}"
            );
            for c in msg.chars() {
                assert!(
                    !(c.is_control()
                        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')),
                    "{format} message holds {c:?}: {msg}"
                );
            }
            assert!(!msg.contains("https://evil"), "{format}: {msg}");
        }
    }
}

/// The `text` of every Slack text object of type `mrkdwn` (plain_text is shown as written).
fn mrkdwn_texts(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            if o.get("type").and_then(Value::as_str) == Some("mrkdwn") {
                out.extend(o.get("text").and_then(Value::as_str).map(str::to_string));
            }
            o.values().for_each(|c| mrkdwn_texts(c, out));
        }
        Value::Array(a) => a.iter().for_each(|c| mrkdwn_texts(c, out)),
        _ => {}
    }
}
