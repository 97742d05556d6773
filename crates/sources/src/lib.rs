//! Streamer's live sources: the X API v2 filtered stream, Mastodon streaming and Bluesky
//! Jetstream, each an async task that stays connected for months and comes back from every
//! fault on its own.
//!
//! A source turns its connection into raw wire lines, exactly the payload lines the
//! `streamer-wire` decoder understands (an X line, a Mastodon WebSocket envelope, a Jetstream
//! event), and hands them to an [`Emitter`], a bounded channel: when the pipeline behind it is
//! full, the source stops reading and TCP pushes back on the server. The binary bridges the
//! channel into its pipeline; this crate knows nothing of the pipeline, storage or rules.
//!
//! ```no_run
//! # async fn demo() {
//! use streamer_sources::{jetstream, spawn, Emitter, SourceSpec, StatusHandle};
//! let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
//! let status = StatusHandle::new("bluesky");
//! let spec = SourceSpec::Jetstream(jetstream::JetstreamConfig::new(
//!     "wss://jetstream2.us-east.bsky.network/subscribe",
//! ));
//! spawn(spec, Emitter::new(0, tx), status.clone());
//! while let Some(line) = rx.recv().await {
//!     // hand `line.item` to the decoder
//! }
//! # }
//! ```
//!
//! Layout:
//! - [`backoff`]: reconnect delays as pure, unit-tested policy types.
//! - [`x`], [`mastodon`], [`jetstream`]: one module per protocol (PROTOCOLS.md sections 1–3).
//! - [`handles`]: Bluesky handle → DID resolution over XRPC, with bounded retries.
//! - [`status`]: what each source is doing, shared with `streamer status` and the logs.
//! - `lines`, `dedup`: bounded line splitting and the recent-id set behind exactly-once.
//! - `mock` (feature `mock`): faithful mock servers with fault injection, for tests (X,
//!   Mastodon, Jetstream, and the Bluesky handle resolver).
//!
//! Architecture invariant: every wait goes through `tokio::time`, so tests run the reconnect
//! logic on a paused clock; every buffer is bounded (line length, channel, recent-id set).

pub mod backoff;
mod dedup;
pub mod handles;
pub mod jetstream;
mod lines;
pub mod mastodon;
#[cfg(feature = "mock")]
pub mod mock;
pub mod status;
pub mod x;

pub use status::{SourceStatus, StatusHandle};

use tokio::sync::mpsc;

/// One thing a source read, tagged with the source it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLine {
    /// The index the binary gave the source's [`Emitter`].
    pub source: usize,
    pub item: Item,
}

/// A wire line, or the length of one that was too long to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// One payload line without its line terminator.
    Line(Vec<u8>),
    /// A line over `max_line_bytes` was skipped; the pipeline counts it as bad.
    Oversized(usize),
}

/// The bounded channel a source sends its lines into.
#[derive(Debug, Clone)]
pub struct Emitter {
    source: usize,
    tx: mpsc::Sender<SourceLine>,
}

/// The receiving side is gone: the program is stopping, the source ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the pipeline stopped")]
pub struct Closed;

impl Emitter {
    /// An emitter for the source numbered `source`.
    pub fn new(source: usize, tx: mpsc::Sender<SourceLine>) -> Emitter {
        Emitter { source, tx }
    }

    /// Sends one line, waiting while the channel is full (backpressure).
    pub async fn line(&self, line: Vec<u8>) -> Result<(), Closed> {
        self.send(Item::Line(line)).await
    }

    /// Reports a line that was too long to keep.
    pub async fn oversized(&self, len: usize) -> Result<(), Closed> {
        self.send(Item::Oversized(len)).await
    }

    async fn send(&self, item: Item) -> Result<(), Closed> {
        self.tx
            .send(SourceLine {
                source: self.source,
                item,
            })
            .await
            .map_err(|_| Closed)
    }
}

/// What to run: one configured source.
#[derive(Debug, Clone)]
pub enum SourceSpec {
    X(x::XConfig),
    Mastodon(mastodon::MastodonConfig),
    Jetstream(jetstream::JetstreamConfig),
}

/// Starts one source as its own task on the current tokio runtime. It runs until the
/// receiving side of its emitter is dropped, or until a permanent failure (bad credentials),
/// which it records in `status` and logs as an operator notice; it never ends another source.
pub fn spawn(spec: SourceSpec, emit: Emitter, status: StatusHandle) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        match spec {
            SourceSpec::X(c) => x::run(c, emit, status).await,
            SourceSpec::Mastodon(c) => mastodon::run(c, emit, status).await,
            SourceSpec::Jetstream(c) => jetstream::run(c, emit, status).await,
        }
    })
}

/// The User-Agent every request carries (X asks clients to identify themselves).
pub const USER_AGENT: &str = concat!("streamer/", env!("CARGO_PKG_VERSION"));

/// An HTTP client for one source: a connect timeout, no overall timeout (streams never end).
fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(std::time::Duration::from_secs(15))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Seconds until a Unix-seconds reset time (X `x-rate-limit-reset`), `None` when absent or past.
fn reset_in_unix(headers: &reqwest::header::HeaderMap, name: &str) -> Option<std::time::Duration> {
    let reset: i64 = headers.get(name)?.to_str().ok()?.trim().parse().ok()?;
    let now = jiff::Timestamp::now().as_second();
    (reset > now).then(|| std::time::Duration::from_secs((reset - now) as u64))
}

/// The first characters of a body or line, for logs (never a whole payload).
fn preview(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]);
    s.trim().to_string()
}
