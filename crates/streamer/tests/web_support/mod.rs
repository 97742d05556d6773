//! Shared by the dashboard tests: a config over a temporary database, the `streamer serve`
//! process, replays, and a minimal HTTP/1.1 client for header-level checks.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_streamer");

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A temporary directory holding a config (the example rules) and its database.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub db: PathBuf,
}

impl Env {
    /// The example config's rules and watch lists, a jsonl sink, and `extra` appended.
    pub fn new(extra: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let example = std::fs::read_to_string(repo_root().join("examples/streamer.toml")).unwrap();
        let rules = &example[..example.find("[[sinks]]").unwrap()];
        let rules = rules.replace("path = \"../demo/streamer.db\"", "path = \"streamer.db\"");
        let text =
            format!("{rules}[[sinks]]\nkind = \"jsonl\"\npath = \"alerts.jsonl\"\n\n{extra}\n");
        let config = dir.path().join("streamer.toml");
        std::fs::write(&config, text).unwrap();
        let db = dir.path().join("streamer.db");
        Env { dir, config, db }
    }

    /// Runs `streamer replay` over `files`; panics with its output on failure.
    pub fn replay(&self, files: &[PathBuf]) {
        let out = Command::new(BIN)
            .arg("replay")
            .arg("--config")
            .arg(&self.config)
            .args(["--drain-timeout", "10"])
            .args(files)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "replay failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn conn(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.db).unwrap()
    }
}

pub fn demo_stream() -> PathBuf {
    repo_root().join("examples/demo-stream.jsonl")
}

pub fn xss_stream() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/web-xss.jsonl")
}

/// A `streamer serve` process; killed on drop.
pub struct Server {
    child: Child,
    pub base: String,
    pub addr: String,
}

impl Server {
    pub fn start(env: &Env, envs: &[(&str, &str)]) -> Server {
        let mut child = Command::new(BIN)
            .arg("serve")
            .arg("--config")
            .arg(&env.config)
            .args(["--bind", "127.0.0.1:0"])
            .envs(envs.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("dashboard: ") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(rest.trim().trim_end_matches('/').to_string());
                    }
                }
                eprintln!("[serve] {line}");
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("streamer serve did not report its address");
        let addr = base.trim_start_matches("http://").to_string();
        Server { child, base, addr }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response as the tests look at it.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request with `Connection: close`; `headers` may override `Host`.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Response {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: {addr}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        req.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect::<Vec<_>>();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// The CSRF token a page carries in its `<meta>`.
pub fn csrf_of(page: &str) -> String {
    let i = page.find("name=\"csrf-token\" content=\"").unwrap() + 27;
    page[i..i + 64].to_string()
}

/// Polls `f` until it returns `Some`, or panics after `secs` with `what`.
pub fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
