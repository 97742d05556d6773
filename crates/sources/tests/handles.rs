//! The Bluesky handle resolver against its mock: success, unknown handle, transient failures
//! retried on the crate's backoff (checked on a paused clock from the times the mock saw each
//! request), and answers that are not DIDs.

use std::time::Duration;
use streamer_sources::handles::{ResolveError, Resolver};
use streamer_sources::mock::{Conn, ResolverMock};

const DID: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";

#[tokio::test(start_paused = true)]
async fn a_known_handle_resolves_to_its_did_in_one_request() {
    let mock = ResolverMock::start().await;
    mock.set("alice.bsky.social", DID);
    let r = Resolver::new(&mock.base_url());
    assert_eq!(r.resolve("@Alice.Bsky.Social").await.unwrap(), DID);
    assert_eq!(mock.resolve_count(), 1);
    let hit = &mock.hits()[0];
    assert_eq!(
        hit.target,
        "/xrpc/com.atproto.identity.resolveHandle?handle=alice.bsky.social"
    );
}

#[tokio::test(start_paused = true)]
async fn an_unknown_handle_is_reported_as_such_without_retrying() {
    let mock = ResolverMock::start().await;
    let r = Resolver::new(&mock.base_url());
    let e = r.resolve("nobody.bsky.social").await.unwrap_err();
    assert_eq!(e, ResolveError::UnknownHandle("nobody.bsky.social".into()));
    assert!(e.is_permanent());
    assert_eq!(mock.resolve_count(), 1, "a permanent answer is not retried");
}

#[tokio::test(start_paused = true)]
async fn an_invalid_handle_never_reaches_the_network() {
    let mock = ResolverMock::start().await;
    let r = Resolver::new(&mock.base_url());
    assert!(matches!(
        r.resolve("not a handle").await,
        Err(ResolveError::InvalidHandle(_))
    ));
    assert_eq!(mock.resolve_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn server_errors_are_retried_with_backoff_then_succeed() {
    let mock = ResolverMock::start().await;
    mock.set("alice.bsky.social", DID);
    mock.push(Conn::status(503, r#"{"error":"Unavailable"}"#));
    mock.push(Conn::status(500, r#"{"error":"InternalServerError"}"#));
    let r = Resolver::new(&mock.base_url());
    assert_eq!(r.resolve("alice.bsky.social").await.unwrap(), DID);
    let at: Vec<_> = mock.hits().iter().map(|h| h.at).collect();
    assert_eq!(at.len(), 3);
    let gaps: Vec<Duration> = at.windows(2).map(|w| w[1] - w[0]).collect();
    // StreamBackoff: 1 s, then 2 s (plus the few ms a local request takes).
    assert!(
        gaps[0] >= Duration::from_secs(1) && gaps[0] < Duration::from_millis(1500),
        "{gaps:?}"
    );
    assert!(
        gaps[1] >= Duration::from_secs(2) && gaps[1] < Duration::from_millis(2500),
        "{gaps:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_resolver_that_stays_down_is_unavailable_after_bounded_attempts() {
    let mock = ResolverMock::start().await;
    mock.set("alice.bsky.social", DID);
    for _ in 0..10 {
        mock.push(Conn::status(502, "bad gateway"));
    }
    let mut r = Resolver::new(&mock.base_url());
    r.max_attempts = 3;
    let e = r.resolve("alice.bsky.social").await.unwrap_err();
    assert!(
        matches!(&e, ResolveError::Unavailable { why, .. } if why.contains("502")),
        "{e}"
    );
    assert!(!e.is_permanent());
    assert_eq!(mock.resolve_count(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_rate_limit_is_retried() {
    let mock = ResolverMock::start().await;
    mock.set("alice.bsky.social", DID);
    mock.push(Conn::status(429, r#"{"error":"RateLimitExceeded"}"#));
    let r = Resolver::new(&mock.base_url());
    assert_eq!(r.resolve("alice.bsky.social").await.unwrap(), DID);
    assert_eq!(mock.resolve_count(), 2);
}

#[tokio::test(start_paused = true)]
async fn an_answer_that_is_not_a_did_is_refused() {
    let mock = ResolverMock::start().await;
    mock.push(Conn::status(200, r#"{"did":"did:plc:<script>"}"#));
    mock.push(Conn::status(200, r#"{"handle":"alice.bsky.social"}"#));
    let r = Resolver::new(&mock.base_url());
    for _ in 0..2 {
        let e = r.resolve("alice.bsky.social").await.unwrap_err();
        assert!(matches!(e, ResolveError::InvalidResponse { .. }), "{e}");
        assert!(!e.is_permanent());
    }
    assert_eq!(mock.resolve_count(), 2);
}

#[tokio::test(start_paused = true)]
async fn no_server_at_all_is_unavailable_not_a_panic() {
    // A port nothing listens on: bind, learn the port, close.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut r = Resolver::new(&format!("http://127.0.0.1:{port}"));
    r.max_attempts = 2;
    let e = r.resolve("alice.bsky.social").await.unwrap_err();
    assert!(matches!(e, ResolveError::Unavailable { .. }), "{e}");
}
