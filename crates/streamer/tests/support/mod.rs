//! Test support for the delivery tests: a real SMTP server (mailin-embedded) on its own
//! thread with switchable behaviour, test certificates made at run time with rcgen, alert
//! records with every field filled in, a scripted HTTP server for webhooks, and small helpers.
#![allow(dead_code)]

use mailin_embedded::response::{AUTH_OK, INVALID_CREDENTIALS, OK};
use mailin_embedded::{AuthMechanism, Handler, Response, Server, SslConfig};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How the SMTP server answers at the end of DATA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 250 for every message.
    Accept,
    /// 451 (greylisted) for the first N messages, then 250.
    Greylist(usize),
    /// 550 for every message whose body contains the marker text, 250 for others.
    RejectContaining(&'static str),
}

/// One received message.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: Vec<u8>,
    /// When the server replied 250 to the DATA.
    pub at: Instant,
    /// Whether the session ran over TLS (after STARTTLS).
    pub authenticated_as: Option<String>,
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    refused: usize,
    attempts: usize,
}

/// The shared state of a running test SMTP server.
#[derive(Clone)]
pub struct Smtp {
    pub port: u16,
    state: Arc<(Mutex<State>, Condvar)>,
    mode: Arc<Mutex<Mode>>,
    delay: Arc<Mutex<Duration>>,
}

#[derive(Clone)]
struct H {
    smtp: Smtp,
    user: Option<(String, String)>,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
    authed: Option<String>,
}

impl Handler for H {
    fn mail(&mut self, _ip: IpAddr, _domain: &str, from: &str) -> Response {
        self.from = from.to_string();
        self.to.clear();
        self.data.clear();
        OK
    }
    fn rcpt(&mut self, to: &str) -> Response {
        self.to.push(to.to_string());
        OK
    }
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }
    fn data_end(&mut self) -> Response {
        let delay = *self.smtp.delay.lock().unwrap();
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        let mode = *self.smtp.mode.lock().unwrap();
        let (lock, cond) = &*self.smtp.state;
        let mut st = lock.lock().unwrap();
        st.attempts += 1;
        let refuse = match mode {
            Mode::Accept => None,
            Mode::Greylist(n) if st.refused < n => Some(Response::custom(
                451,
                "4.7.1 Greylisted, please try again later".into(),
            )),
            Mode::Greylist(_) => None,
            Mode::RejectContaining(marker)
                if String::from_utf8_lossy(&self.data).contains(marker) =>
            {
                Some(Response::custom(
                    550,
                    "5.7.1 Message rejected by policy".into(),
                ))
            }
            Mode::RejectContaining(_) => None,
        };
        if let Some(mut r) = refuse {
            st.refused += 1;
            // The reply to DATA ends the transaction whatever its code (RFC 5321 §4.1.1.4);
            // mailin would otherwise stay in its DATA state and swallow the next commands.
            r.is_error = false;
            return r;
        }
        st.received.push(Received {
            from: self.from.clone(),
            to: self.to.clone(),
            data: std::mem::take(&mut self.data),
            at: Instant::now(),
            authenticated_as: self.authed.clone(),
        });
        cond.notify_all();
        OK
    }
    fn auth_plain(&mut self, _authz: &str, user: &str, password: &str) -> Response {
        self.check(user, password)
    }
    fn auth_login(&mut self, user: &str, password: &str) -> Response {
        self.check(user, password)
    }
}

impl H {
    fn check(&mut self, user: &str, password: &str) -> Response {
        match &self.user {
            Some((u, p)) if u == user && p == password => {
                self.authed = Some(user.to_string());
                AUTH_OK
            }
            _ => INVALID_CREDENTIALS,
        }
    }
}

/// A certificate for `localhost` and 127.0.0.1, self-signed, written as PEM files.
pub struct TestCert {
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
}

/// Makes a self-signed certificate for localhost and 127.0.0.1 under `dir`.
pub fn make_cert(dir: &Path) -> TestCert {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    let cert = params.self_signed(&key).unwrap();
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    TestCert {
        cert_path,
        key_path,
    }
}

/// Options of a test SMTP server.
#[derive(Default)]
pub struct SmtpOptions {
    /// STARTTLS with this certificate.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// AUTH PLAIN and LOGIN with this user and password.
    pub user: Option<(String, String)>,
    /// Listen on this port (for "down, then up" tests); else any free port.
    pub port: Option<u16>,
}

impl Smtp {
    /// Starts a server on 127.0.0.1 on its own thread (it runs until the test process ends).
    pub fn start(opts: SmtpOptions) -> Smtp {
        let listener = TcpListener::bind(("127.0.0.1", opts.port.unwrap_or(0))).unwrap();
        let port = listener.local_addr().unwrap().port();
        let smtp = Smtp {
            port,
            state: Arc::new((Mutex::new(State::default()), Condvar::new())),
            mode: Arc::new(Mutex::new(Mode::Accept)),
            delay: Arc::new(Mutex::new(Duration::ZERO)),
        };
        let handler = H {
            smtp: smtp.clone(),
            user: opts.user.clone(),
            from: String::new(),
            to: vec![],
            data: vec![],
            authed: None,
        };
        let mut server = Server::new(handler);
        server
            .with_name("mx.test")
            .with_num_threads(4)
            .with_tcp_listener(listener);
        if let Some((cert, key)) = &opts.tls {
            server
                .with_ssl(SslConfig::SelfSigned {
                    cert_path: cert.display().to_string(),
                    key_path: key.display().to_string(),
                })
                .unwrap();
        }
        if opts.user.is_some() {
            server
                .with_auth(AuthMechanism::Plain)
                .with_auth(AuthMechanism::Login);
        }
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        smtp
    }

    /// Changes how the server answers.
    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// Makes every DATA take this long (a slow server).
    pub fn set_delay(&self, d: Duration) {
        *self.delay.lock().unwrap() = d;
    }

    /// Messages accepted so far.
    pub fn received(&self) -> Vec<Received> {
        self.state.0.lock().unwrap().received.clone()
    }

    /// Messages refused (4xx or 5xx) so far.
    pub fn refused(&self) -> usize {
        self.state.0.lock().unwrap().refused
    }

    /// Waits until at least `n` messages were accepted (or `timeout` passes; then the
    /// caller's assertion fails with what did arrive).
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let (lock, cond) = &*self.state;
        let deadline = Instant::now() + timeout;
        let mut st = lock.lock().unwrap();
        while st.received.len() < n {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            st = cond.wait_timeout(st, deadline - now).unwrap().0;
        }
        st.received.clone()
    }
}

/// A free TCP port on 127.0.0.1 (nothing listens on it when this returns).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One X v2 filtered-stream line with a unique text, for `streamer replay`.
pub fn x_line(n: usize, text: &str) -> String {
    serde_json::json!({
        "data": {
            "id": format!("{}", 1_900_000_000_000_000_000u64 + n as u64),
            "text": text,
            "author_id": format!("{}", 7000 + n % 50),
            "created_at": "2026-12-01T10:00:00.000Z",
            "lang": "en",
            "source": "Twitter for Android",
            "edit_history_tweet_ids": [format!("{}", 1_900_000_000_000_000_000u64 + n as u64)]
        },
        "includes": {"users": [{
            "id": format!("{}", 7000 + n % 50),
            "username": format!("actor{}", n % 50),
            "name": "Test Actor",
            "created_at": "2020-01-01T00:00:00.000Z",
            "public_metrics": {"followers_count": 10, "following_count": 1, "tweet_count": 5, "listed_count": 0}
        }]}
    })
    .to_string()
}

/// Runs the streamer binary with arguments, returning (status, stdout, stderr).
pub fn streamer(args: &[&str], dir: &Path) -> (std::process::ExitStatus, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_streamer"))
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The value of a header in a raw message (first occurrence, unfolded).
pub fn parse(data: &[u8]) -> mail_parser::Message<'_> {
    mail_parser::MessageParser::default()
        .parse(data)
        .expect("the message parses as MIME")
}

/// One HTTP request as the server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A tiny HTTP/1.1 server answering each request with the next scripted status (then 200).
pub fn http_server(statuses: Vec<u16>) -> (u16, Arc<Mutex<Vec<Request>>>) {
    http_server_with(statuses.into_iter().map(|s| (s, "")).collect())
}

/// [`http_server`] whose scripted answers carry extra header lines (each ending in CRLF).
pub fn http_server_with(statuses: Vec<(u16, &'static str)>) -> (u16, Arc<Mutex<Vec<Request>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let statuses = Arc::new(Mutex::new(statuses.into_iter()));
    std::thread::spawn(move || {
        // A thread per connection: several clients keep their connections open at once.
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let (log, statuses) = (log.clone(), statuses.clone());
            std::thread::spawn(move || serve_http(stream, &log, &statuses));
        }
    });
    (port, seen)
}

fn serve_http(
    stream: std::net::TcpStream,
    log: &Mutex<Vec<Request>>,
    statuses: &Mutex<std::vec::IntoIter<(u16, &'static str)>>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap();
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.parse().unwrap())
            .unwrap_or(0);
        let mut body = vec![0; len];
        reader.read_exact(&mut body).unwrap();
        // Record before answering, so a client that has its answer finds its request here.
        log.lock().unwrap().push(Request { headers, body });
        let (status, extra) = statuses.lock().unwrap().next().unwrap_or((200, ""));
        let _ = write!(
            writer,
            "HTTP/1.1 {status} X\r\n{extra}content-length: 2\r\n\r\nok"
        );
    }
}
