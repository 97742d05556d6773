//! The command line around the pipeline: config checking, completions, the man page.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_streamer");

#[test]
fn config_check_reports_every_problem_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        "[[rules]]\nid = \"a\"\nquery = \"lockbit\"\nseverity = \"urgent\"\n\n[[sources]]\nkind = \"x\"\n\n[[sinks]]\nkind = \"email\"\nfrom = \"a@b.example\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["config", "check", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 1") && err.contains("urgent"), "{err}");
    assert!(
        err.contains("line 6") && err.contains("bearer_token_env"),
        "{err}"
    );
    assert!(err.contains("line 9") && err.contains("smtp_url"), "{err}");
}

#[test]
fn config_check_warns_about_secret_files_others_can_read() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("token");
    std::fs::write(&secret, "s3cr3t-value").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[sources]]\nkind = \"x\"\nbearer_token_file = \"{}\"\n",
            secret.display()
        ),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["config", "check", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("readable by other users"), "{stdout}");
    assert!(
        !stdout.contains("s3cr3t-value"),
        "the secret itself is never printed"
    );
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = Command::new(BIN)
        .args(["config", "check", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("warning"));
}

#[test]
fn config_check_warns_when_others_can_read_webhook_headers_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        "[[sinks]]\nkind = \"webhook\"\nname = \"siem\"\nurl = \"https://siem.example/hook\"\nheaders = { Authorization = \"Splunk 0000-key\" }\n",
    )
    .unwrap();
    let check = || {
        let out = Command::new(BIN)
            .args(["config", "check", "--config"])
            .arg(&cfg)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o644)).unwrap();
    let stdout = check();
    assert!(
        stdout.contains("readable by other users") && stdout.contains("siem"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("0000-key"),
        "the header value is never printed"
    );
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(!check().contains("warning"));
}

#[test]
fn completions_and_man_page_come_from_the_cli_definition() {
    let out = Command::new(BIN)
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let script = String::from_utf8(out.stdout).unwrap();
    assert!(
        script.contains("replay") && script.contains("--drain-timeout"),
        "bash completion lists commands and flags"
    );
    let out = Command::new(BIN).arg("man").output().unwrap();
    assert!(out.status.success());
    let man = String::from_utf8(out.stdout).unwrap();
    assert!(
        man.starts_with(".ie") || man.contains(".TH"),
        "{}",
        &man[..200.min(man.len())]
    );
    assert!(man.contains("replay"));
}

#[test]
fn bad_usage_exits_with_code_2() {
    let out = Command::new(BIN).args(["replay"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(BIN)
        .args(["no-such-command"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
