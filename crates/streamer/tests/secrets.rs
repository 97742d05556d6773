//! Secrets never reach logs or outputs: a full run with every secret configured, failing
//! deliveries that log their errors, debug logging in both formats, and then a grep for the
//! secret values in everything the run wrote.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_streamer");
const SMTP_PASSWORD: &str = "smtp-pw-7f3a9c1e-do-not-log";
const WEBHOOK_SECRET: &str = "hmac-key-2b8d6e4f-do-not-log";
const HEC_AUTH: &str = "Splunk hec-token-77c1-do-not-log";
const X_TOKEN: &str = "x-bearer-5c1d9a7b-do-not-log";

fn demo_stream() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/demo-stream.jsonl")
}

fn grep_tree(dir: &Path, needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            hits.extend(grep_tree(&path, needle));
        } else if path.file_name().is_some_and(|n| n != "secret.txt") {
            let bytes = std::fs::read(&path).unwrap();
            if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                hits.push(path.display().to_string());
            }
        }
    }
    hits
}

#[test]
fn a_full_run_never_writes_a_configured_secret_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    // The X token comes from a file; the others from the environment.
    std::fs::write(dir.path().join("secret.txt"), X_TOKEN).unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        r#"[storage]
path = "s.db"
[watch]
keywords = ["lockbit", "ddos"]
[[sources]]
kind = "x"
bearer_token_file = "secret.txt"
base_url = "http://127.0.0.1:9"
[[sinks]]
kind = "jsonl"
path = "alerts.jsonl"
[[sinks]]
kind = "email"
smtp_url = "smtp://analyst@127.0.0.1:9"
tls = "none"
password_env = "STREAMER_TEST_SMTP_PASSWORD"
from = "streamer@isac.example"
to = ["soc@isac.example"]
[[sinks]]
kind = "webhook"
url = "http://127.0.0.1:9/hook"
secret_env = "STREAMER_TEST_WEBHOOK_SECRET"
headers_env = { Authorization = "STREAMER_TEST_HEC_AUTH" }
"#,
    )
    .unwrap();
    let mut logs = String::new();
    for (args, format) in [
        (vec!["replay", "--drain-timeout", "3"], "human"),
        (vec!["replay", "--drain-timeout", "3"], "json"),
        (vec!["alert", "test"], "json"),
        (vec!["config", "check"], "human"),
        (vec!["status"], "human"),
    ] {
        let mut cmd = Command::new(BIN);
        cmd.current_dir(dir.path())
            .env("STREAMER_LOG", "debug")
            .env("STREAMER_TEST_SMTP_PASSWORD", SMTP_PASSWORD)
            .env("STREAMER_TEST_WEBHOOK_SECRET", WEBHOOK_SECRET)
            .env("STREAMER_TEST_HEC_AUTH", HEC_AUTH)
            .args(["--log-format", format])
            .args(&args)
            .arg("--config")
            .arg(&cfg);
        if args[0] == "replay" {
            cmd.arg(demo_stream());
        }
        let out = cmd.output().unwrap();
        logs.push_str(&String::from_utf8_lossy(&out.stdout));
        logs.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    // The run did real work and logged failing deliveries, so the check below means something.
    assert!(logs.contains("replay:"), "{logs}");
    assert!(
        logs.to_lowercase().contains("email") && logs.contains("127.0.0.1"),
        "delivery errors are logged: {logs}"
    );
    for secret in [SMTP_PASSWORD, WEBHOOK_SECRET, X_TOKEN, HEC_AUTH] {
        assert!(!logs.contains(secret), "secret in the logs: {logs}");
        assert_eq!(
            grep_tree(dir.path(), secret),
            Vec::<String>::new(),
            "secret written to a file"
        );
    }
}
