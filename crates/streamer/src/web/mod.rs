//! The analyst dashboard: live alerts, triage and feedback, rules, analytics and health,
//! served by `streamer run` (beside the pipeline) and by `streamer serve` (over a database).
//!
//! Layout:
//! - `mod.rs`: the shared state, the router, starting and stopping, and the suppressions the
//!   matcher reads ([`load_suppressions`], [`SuppressionWatch`]).
//! - `auth`: who is asking (none on loopback, a bearer token with a login form, or basic
//!   auth), CSRF checks, and the security headers every response carries.
//! - `data`: read queries (the alert filter, actors, analytics, health, metrics).
//! - `actions`: feedback, suppressions and the audit log (every write goes through here).
//! - `pages`, `rules`: handlers that render pages; `html`: escaping and widgets.
//! - `assets/`: the one stylesheet and the one script, embedded in the binary (no CDN).
//!
//! Architecture invariant: the dashboard never writes alerts or posts; it reads them, and
//! writes only feedback, suppressions, the audit log and (on save) a rule's query in the
//! config file. Suppressions reach the matcher through `run`'s reload loop, which notices a
//! change with [`SuppressionWatch`] and recompiles the rules with [`load_suppressions`].
//!
//! Live alerts: one task polls `MAX(rowid)` of `alerts` (which also sees rows written by
//! another process, e.g. a `replay` beside `serve`) and publishes it on a watch channel; each
//! server-sent-event stream then runs the same filter query as the list, bounded to the new
//! rows. One filter implementation serves both the list and the live feed.

mod actions;
mod auth;
mod data;
pub mod html;
mod pages;
mod rules;

use crate::config::Config;
use anyhow::{Context, Result};
use axum::response::{IntoResponse, Response};
use rusqlite::Connection;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use streamer_rules::Suppressions;

pub use actions::{add_suppression, audit, remove_suppression};

/// Everything a handler needs, shared by all of them.
pub(crate) struct AppState {
    /// One connection for the dashboard's reads and its few writes; calls run on the blocking
    /// pool, so a slow query never stalls the async workers.
    db: Mutex<Connection>,
    /// The configuration the server started with (storage path, sinks, auth).
    config: Config,
    /// Resolved credentials and the CSRF token.
    auth: auth::Auth,
    /// The newest alert rowid, for live streams.
    latest: tokio::sync::watch::Receiver<i64>,
    /// Set when the server should stop (live streams end so shutdown is not held up).
    stop: tokio::sync::watch::Receiver<bool>,
    /// The analytics page scans every recent alert's JSON; it is computed at most once per
    /// [`ANALYTICS_TTL`] and shared.
    analytics: Mutex<Option<(std::time::Instant, Arc<data::Analytics>)>>,
}

/// How long a computed analytics page is reused.
const ANALYTICS_TTL: Duration = Duration::from_secs(30);

type Shared = Arc<AppState>;

impl AppState {
    /// The config as it is now: re-read from its file (rules change when saved), else the
    /// one the server started with.
    fn current_config(&self) -> Config {
        match &self.config.path {
            Some(p) => Config::from_file(p).unwrap_or_else(|_| self.config.clone()),
            None => self.config.clone(),
        }
    }
}

/// An error page with the right status; messages never carry secrets (they come from
/// queries and validation).
#[derive(Debug)]
pub(crate) enum WebError {
    NotFound,
    BadRequest(String),
    Forbidden(&'static str),
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for WebError {
    fn from(e: anyhow::Error) -> Self {
        WebError::Internal(e)
    }
}

impl From<rusqlite::Error> for WebError {
    fn from(e: rusqlite::Error) -> Self {
        WebError::Internal(e.into())
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        use axum::http::StatusCode;
        let (status, msg) = match self {
            WebError::NotFound => (StatusCode::NOT_FOUND, "Not found".to_string()),
            WebError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            WebError::Forbidden(m) => (StatusCode::FORBIDDEN, m.to_string()),
            WebError::Internal(e) => {
                tracing::error!("dashboard: {e:#}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal error (see the server log)".to_string(),
                )
            }
        };
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{s}</title>\
<link rel=\"stylesheet\" href=\"/static/app.css\"></head><body><main><h1>{s}</h1>\
<p class=\"error\">{m}</p><p><a href=\"/\">Back to alerts</a></p></main></body></html>",
            s = status.as_u16(),
            m = html::esc(&msg)
        );
        (status, axum::response::Html(body)).into_response()
    }
}

/// Runs `f` with the dashboard's connection on the blocking pool.
async fn db<T, F>(st: &Shared, f: F) -> Result<T, WebError>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, WebError> + Send + 'static,
{
    let st = st.clone();
    tokio::task::spawn_blocking(move || {
        let conn = st.db.lock().unwrap_or_else(|e| e.into_inner());
        f(&conn)
    })
    .await
    .map_err(|e| WebError::Internal(anyhow::anyhow!("dashboard task failed: {e}")))?
}

fn router(state: Shared) -> axum::Router {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/", get(pages::alerts))
        .route("/events", get(pages::events))
        .route("/alert/{id}", get(pages::alert_detail))
        .route("/alert/{id}/feedback", post(pages::feedback))
        .route("/actor", get(pages::actor))
        .route("/analytics", get(pages::analytics))
        .route("/suppressions", get(pages::suppressions))
        .route("/suppressions/{id}/remove", post(pages::remove_suppression))
        .route("/audit", get(pages::audit_log))
        .route("/health", get(pages::health))
        .route("/metrics", get(pages::metrics))
        .route("/healthz", get(pages::healthz))
        .route("/rules", get(rules::list))
        .route("/rules/edit", get(rules::edit))
        .route("/rules/test", post(rules::test))
        .route("/rules/save", post(rules::save))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/static/app.js", get(pages::app_js))
        .route("/static/app.css", get(pages::app_css))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::guard,
        ))
        .with_state(state)
}

/// A running dashboard: its address, and the thread that serves it.
pub struct WebServer {
    /// Where it listens (the real port when the config asked for port 0).
    pub addr: SocketAddr,
    stop: tokio::sync::watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WebServer {
    /// Stops serving and waits for the server thread.
    pub fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Starts the dashboard on its own thread (with its own small runtime), bound to `bind` or
/// the configured address. The database must exist and be migrated (the pipeline opens it
/// first in `run`; `serve` opens it through [`crate::storage::Storage`]).
pub fn start(config: &Config, bind: Option<SocketAddr>) -> Result<WebServer> {
    let addr = bind.unwrap_or(config.web.bind);
    if !addr.ip().is_loopback() && !config.web.has_auth() {
        return Err(crate::config::ConfigError {
            path: "web".into(),
            problems: vec![crate::config::ConfigProblem {
                line: None,
                message: format!(
                    "refusing to serve the dashboard on {addr} without authentication: \
                     configure [web] access_token_env or user + password_env"
                ),
            }],
        }
        .into());
    }
    let auth = auth::Auth::from_config(&config.web)?;
    // Migrates when needed (serve over an older database).
    let storage = crate::storage::Storage::open(&config.storage.path)?;
    drop(storage);
    let conn = Connection::open(&config.storage.path)
        .with_context(|| format!("cannot open {}", config.storage.path.display()))?;
    conn.busy_timeout(Duration::from_secs(10))?;
    let listener = std::net::TcpListener::bind(addr)
        .with_context(|| format!("cannot listen on {addr} for the dashboard"))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let (latest_tx, latest_rx) = tokio::sync::watch::channel(0i64);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let state = Arc::new(AppState {
        db: Mutex::new(conn),
        config: config.clone(),
        auth,
        latest: latest_rx,
        stop: stop_rx.clone(),
        analytics: Mutex::new(None),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(4)
        .thread_name("web")
        .enable_all()
        .build()?;
    let thread = std::thread::Builder::new()
        .name("web".into())
        .spawn(move || {
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::error!("dashboard: {e}");
                        return;
                    }
                };
                tokio::spawn(poll_latest(state.clone(), latest_tx, stop_rx.clone()));
                let mut stop = stop_rx;
                let shutdown = async move {
                    loop {
                        if *stop.borrow() || crate::shutting_down() {
                            break;
                        }
                        let _ =
                            tokio::time::timeout(Duration::from_millis(250), stop.changed()).await;
                    }
                };
                if let Err(e) = axum::serve(listener, router(state))
                    .with_graceful_shutdown(shutdown)
                    .await
                {
                    tracing::error!("dashboard stopped: {e}");
                }
            });
        })?;
    tracing::info!("dashboard listening on http://{addr}/");
    Ok(WebServer {
        addr,
        stop: stop_tx,
        thread: Some(thread),
    })
}

/// The dashboard beside `streamer run`, when `[web] enabled` (the default). A dashboard that
/// cannot start (its port is taken) is logged and skipped: alerting matters more.
pub fn start_for_run(config: &Config) -> Option<WebServer> {
    if !config.web.enabled {
        return None;
    }
    match start(config, None) {
        Ok(server) => Some(server),
        Err(e) => {
            tracing::error!("dashboard not started (alerting continues): {e:#}");
            None
        }
    }
}

/// `streamer serve`: the dashboard over an existing database, until SIGINT/SIGTERM.
pub fn serve(config: &Config, bind: Option<SocketAddr>) -> Result<()> {
    let server = start(config, bind)?;
    eprintln!("dashboard: http://{}/", server.addr);
    while !crate::shutting_down() {
        std::thread::sleep(Duration::from_millis(200));
    }
    server.stop();
    Ok(())
}

/// Publishes the newest alert rowid, checking every 300 ms.
async fn poll_latest(
    st: Shared,
    tx: tokio::sync::watch::Sender<i64>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let st2 = st.clone();
        let max = db(&st2, |c| {
            Ok(
                c.query_row("SELECT COALESCE(MAX(rowid), 0) FROM alerts", [], |r| {
                    r.get::<_, i64>(0)
                })?,
            )
        })
        .await;
        if let Ok(max) = max {
            tx.send_if_modified(|v| {
                let changed = *v != max;
                *v = max;
                changed
            });
        }
        if *stop.borrow() || crate::shutting_down() {
            return;
        }
        let _ = tokio::time::timeout(Duration::from_millis(300), stop.changed()).await;
    }
}

/// The active suppressions, as the rules compiler takes them: muted authors
/// (`PLATFORM:AUTHOR_ID`) and suppressed terms. A database without the table (an older
/// schema) has none.
pub fn load_suppressions(conn: &Connection) -> Result<Suppressions> {
    let mut s = Suppressions::default();
    let mut stmt = match conn
        .prepare("SELECT kind, value FROM suppressions WHERE removed_at IS NULL ORDER BY id")
    {
        Ok(stmt) => stmt,
        Err(_) => return Ok(s),
    };
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (kind, value) = row?;
        match kind.as_str() {
            "author" => s.muted_authors.push(value),
            _ => s.suppressed_terms.push(value),
        }
    }
    Ok(s)
}

/// [`load_suppressions`] from the database file at `path`; none when it does not exist yet
/// or cannot be read (the error is logged: rules must still compile).
pub fn load_suppressions_at(path: &Path) -> Suppressions {
    if !path.exists() {
        return Suppressions::default();
    }
    match Connection::open(path)
        .map_err(anyhow::Error::from)
        .and_then(|c| load_suppressions(&c))
    {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("suppressions not loaded from {}: {e:#}", path.display());
            Suppressions::default()
        }
    }
}

/// Notices when the suppressions in the database change (added or removed, by this process
/// or another), so that `run` recompiles its rules with them.
pub struct SuppressionWatch {
    path: PathBuf,
    conn: Option<Connection>,
    seen: Option<(i64, i64)>,
}

impl SuppressionWatch {
    /// Watches the database at `path`, taking its current state as seen.
    pub fn new(path: &Path) -> SuppressionWatch {
        let mut w = SuppressionWatch {
            path: path.to_path_buf(),
            conn: None,
            seen: None,
        };
        w.seen = w.generation();
        w
    }

    fn generation(&mut self) -> Option<(i64, i64)> {
        if self.conn.is_none() {
            self.conn = Connection::open(&self.path).ok();
        }
        self.conn
            .as_ref()?
            .query_row(
                "SELECT COALESCE(MAX(id), 0), COUNT(removed_at) FROM suppressions",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ok()
    }

    /// True when suppressions changed since the last call.
    pub fn changed(&mut self) -> bool {
        let now = self.generation();
        if now != self.seen {
            self.seen = now;
            return true;
        }
        false
    }
}
