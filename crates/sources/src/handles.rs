//! Bluesky handle → DID resolution (PROTOCOLS.md section 3.4), for watch lists written with
//! handles (`bluesky:@alice.bsky.social`, `wanted_dids = ["alice.bsky.social"]`).
//!
//! Posts carry the author's DID, the stable key; a handle is a mutable DNS name, so a watch
//! list written with handles must be turned into DIDs before rules are compiled and Jetstream
//! is asked for `wantedDids`. This module asks an XRPC service
//! (`GET {base}/xrpc/com.atproto.identity.resolveHandle?handle=H`, answer `{"did":"…"}`,
//! `400 {"error":"InvalidRequest"}` for an unknown handle), by default the public AppView
//! `https://public.api.bsky.app`.
//!
//! Out of scope: DNS TXT (`_atproto.<handle>`) and `/.well-known/atproto-did` resolution, and
//! the bidirectional check against the DID document. The XRPC service does those itself; we
//! trust its answer but check that it is a well-formed `did:plc:`/`did:web:` DID.
//!
//! Transient failures (no connection, timeout, 5xx, 429) are retried with the crate's
//! [`StreamBackoff`] (1 s doubling, `ratelimit-reset` honoured) up to
//! [`Resolver::max_attempts`], then reported as [`ResolveError::Unavailable`]: the caller
//! decides whether a stale cached answer will do. Caching itself lives in the binary (SQLite).

use crate::backoff::StreamBackoff;
use crate::x::error_chain;
use crate::{http_client, preview, reset_in_unix};
use std::time::Duration;

/// The default resolver: Bluesky's public, unauthenticated AppView.
pub const DEFAULT_RESOLVER: &str = "https://public.api.bsky.app";

/// Why a handle did not resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// Not a syntactically valid handle: never sent to the network.
    #[error(
        "{0:?} is not a valid Bluesky handle (expected a domain name such as alice.bsky.social)"
    )]
    InvalidHandle(String),
    /// The service says no account has this handle (permanent until someone takes it).
    #[error("the handle {0} does not exist (the resolver does not know it)")]
    UnknownHandle(String),
    /// The service answered, but not with a well-formed DID.
    #[error("the resolver answered for {handle} with something that is not a DID: {got}")]
    InvalidResponse { handle: String, got: String },
    /// The service could not be reached or kept failing (network, timeout, 5xx, 429).
    #[error("the resolver is unavailable for {handle}: {why}")]
    Unavailable { handle: String, why: String },
}

impl ResolveError {
    /// Whether the answer says something about the handle itself (so a stale cached DID must
    /// not be used), rather than about the resolver's health.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            ResolveError::InvalidHandle(_) | ResolveError::UnknownHandle(_)
        )
    }
}

/// Resolves handles through one XRPC service.
#[derive(Debug, Clone)]
pub struct Resolver {
    client: reqwest::Client,
    base_url: String,
    /// Attempts per handle, transient failures included (default 4: waits of 1, 2, 4 s).
    pub max_attempts: u32,
    /// One request's deadline.
    pub request_timeout: Duration,
    /// A rate limit asking for a longer wait than this ends the attempts at once.
    pub max_wait: Duration,
}

impl Resolver {
    /// A resolver asking `base_url` (`https://public.api.bsky.app`, or a mock's
    /// `http://127.0.0.1:PORT`).
    pub fn new(base_url: &str) -> Resolver {
        Resolver {
            client: http_client(),
            base_url: base_url.trim_end_matches('/').to_string(),
            max_attempts: 4,
            request_timeout: Duration::from_secs(10),
            max_wait: Duration::from_secs(30),
        }
    }

    /// The handle's DID. `handle` may start with `@` and use any case.
    pub async fn resolve(&self, handle: &str) -> Result<String, ResolveError> {
        let Some(h) = normalize_handle(handle) else {
            return Err(ResolveError::InvalidHandle(handle.to_string()));
        };
        let mut backoff = StreamBackoff::default();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (why, delay) = match self.once(&h).await {
                Ok(did) => return Ok(did),
                Err(Attempt::Final(e)) => return Err(e),
                Err(Attempt::Retry(why, reset_in)) => {
                    let d = match reset_in {
                        Some(r) => backoff.rate_limited(Some(r)),
                        None => backoff.failed(),
                    };
                    (why, d)
                }
            };
            if attempt >= self.max_attempts || delay > self.max_wait {
                return Err(ResolveError::Unavailable { handle: h, why });
            }
            tracing::warn!(handle = %h, delay_ms = delay.as_millis() as u64, "resolving a Bluesky handle: {why}; retrying");
            tokio::time::sleep(delay).await;
        }
    }

    async fn once(&self, h: &str) -> Result<String, Attempt> {
        let url = format!("{}/xrpc/com.atproto.identity.resolveHandle", self.base_url);
        let sent = tokio::time::timeout(
            self.request_timeout,
            self.client.get(&url).query(&[("handle", h)]).send(),
        )
        .await;
        let resp = match sent {
            Err(_) => return Err(Attempt::Retry("timed out".into(), None)),
            Ok(Err(e)) => return Err(Attempt::Retry(error_chain(&e), None)),
            Ok(Ok(r)) => r,
        };
        let status = resp.status();
        let reset = reset_in_unix(resp.headers(), "ratelimit-reset");
        let body = match tokio::time::timeout(self.request_timeout, resp.bytes()).await {
            Err(_) => return Err(Attempt::Retry("reading the answer timed out".into(), None)),
            Ok(Err(e)) => return Err(Attempt::Retry(error_chain(&e), None)),
            Ok(Ok(b)) => b,
        };
        if status.as_u16() == 429 {
            return Err(Attempt::Retry(
                "HTTP 429 (rate limited)".into(),
                Some(reset.unwrap_or(Duration::ZERO)),
            ));
        }
        if status.is_server_error() {
            return Err(Attempt::Retry(
                format!("HTTP {}: {}", status.as_u16(), preview(&body)),
                None,
            ));
        }
        #[derive(serde::Deserialize)]
        struct Answer {
            #[serde(default)]
            did: Option<String>,
            #[serde(default)]
            error: Option<String>,
        }
        let answer: Option<Answer> = serde_json::from_slice(&body).ok();
        if status.as_u16() == 400 || status.as_u16() == 404 {
            // XRPC says `InvalidRequest` ("Unable to resolve handle") for unknown handles;
            // some services use `HandleNotFound`.
            let known_error = answer
                .as_ref()
                .and_then(|a| a.error.as_deref())
                .is_some_and(|e| matches!(e, "InvalidRequest" | "HandleNotFound" | "NotFound"));
            if known_error {
                return Err(Attempt::Final(ResolveError::UnknownHandle(h.to_string())));
            }
        }
        if !status.is_success() {
            return Err(Attempt::Final(ResolveError::InvalidResponse {
                handle: h.to_string(),
                got: format!("HTTP {}: {}", status.as_u16(), preview(&body)),
            }));
        }
        match answer.and_then(|a| a.did) {
            Some(did) if is_valid_did(&did) => Ok(did),
            Some(did) => Err(Attempt::Final(ResolveError::InvalidResponse {
                handle: h.to_string(),
                got: preview(did.as_bytes()),
            })),
            None => Err(Attempt::Final(ResolveError::InvalidResponse {
                handle: h.to_string(),
                got: preview(&body),
            })),
        }
    }
}

enum Attempt {
    /// Transient: retry after the backoff (or not before this reset time).
    Retry(String, Option<Duration>),
    /// Permanent: the answer stands.
    Final(ResolveError),
}

/// A handle in canonical form (lower-case, no `@`), or `None` when it is not a valid handle:
/// a domain name of at least two labels, each 1–63 of `a-z 0-9 -` not starting or ending with
/// `-`, at most 253 characters, the last label not starting with a digit (atproto handle
/// syntax).
pub fn normalize_handle(s: &str) -> Option<String> {
    let h = s.strip_prefix('@').unwrap_or(s).to_ascii_lowercase();
    if h.is_empty() || h.len() > 253 {
        return None;
    }
    let labels: Vec<&str> = h.split('.').collect();
    if labels.len() < 2 {
        return None;
    }
    for l in &labels {
        if l.is_empty()
            || l.len() > 63
            || l.starts_with('-')
            || l.ends_with('-')
            || !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return None;
        }
    }
    if labels
        .last()
        .is_some_and(|t| t.as_bytes()[0].is_ascii_digit())
    {
        return None;
    }
    Some(h)
}

/// Whether `s` is a well-formed DID of the two methods Bluesky uses: `did:plc:` + 24
/// characters of base32 (`a-z 2-7`), or `did:web:` + a host name (a port as `%3A`).
pub fn is_valid_did(s: &str) -> bool {
    if let Some(id) = s.strip_prefix("did:plc:") {
        return id.len() == 24 && id.bytes().all(|b| matches!(b, b'a'..=b'z' | b'2'..=b'7'));
    }
    if let Some(host) = s.strip_prefix("did:web:") {
        let (name, port) = match host.split_once("%3A") {
            Some((n, p)) => (n, Some(p)),
            None => (host, None),
        };
        return normalize_handle(name).is_some()
            && port.is_none_or(|p| {
                !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
            });
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_normalised_and_validated() {
        assert_eq!(
            normalize_handle("@Alice.Bsky.Social").as_deref(),
            Some("alice.bsky.social")
        );
        assert_eq!(
            normalize_handle("x-y.example.com").as_deref(),
            Some("x-y.example.com")
        );
        for bad in [
            "alice",
            "@",
            "",
            "a..b",
            "-a.com",
            "a-.com",
            "a.b_c.com",
            "a.1com",
            "did:plc:x",
            "a b.com",
        ] {
            assert_eq!(normalize_handle(bad), None, "{bad}");
        }
        assert_eq!(normalize_handle(&format!("{}.com", "a".repeat(64))), None);
    }

    #[test]
    fn dids_of_both_methods_are_checked() {
        assert!(is_valid_did("did:plc:ewvi7nxzyoun6zhxrhs64oiz"));
        assert!(is_valid_did("did:web:example.com"));
        assert!(is_valid_did("did:web:localhost.test%3A8080"));
        for bad in [
            "did:plc:short",
            "did:plc:EWVI7NXZYOUN6ZHXRHS64OIZ",
            "did:plc:ewvi7nxzyoun6zhxrhs64oi1",
            "did:web:",
            "did:web:ex ample.com",
            "did:key:z6Mk",
            "<html>",
            "",
        ] {
            assert!(!is_valid_did(bad), "{bad}");
        }
    }
}
