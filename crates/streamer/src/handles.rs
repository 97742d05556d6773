//! Bluesky handles in the config, turned into DIDs before anything uses them.
//!
//! Posts name their author by DID, so `watch.accounts = ["bluesky:@alice.bsky.social"]` and a
//! bluesky source's `wanted_dids = ["alice.bsky.social"]` only work once the handle is a DID.
//! [`resolve_config`] returns a copy of the config with every such handle replaced by its DID
//! (a watch entry `bluesky:@h` becomes `bluesky:DID`, so its rule id is `account:bluesky:DID`).
//!
//! Where the DID comes from, in order:
//! 1. the SQLite `handle_cache`, when its entry is younger than [`TTL_MS`] (24 h): no network;
//! 2. with [`Mode::Network`] (`streamer run` at start and at each rules reload), the source's
//!    `resolver` (XRPC `resolveHandle`, `streamer_sources::handles`), with bounded retries and
//!    an overall budget ([`START_BUDGET`]) so startup never waits long; the answer is cached;
//! 3. when the resolver is unavailable, a stale cache entry (logged at warn);
//! 4. otherwise the handle is left out, with a warning that `run` also raises as an operator
//!    notice. It is tried again at the next rules reload (SIGHUP or a config change) for
//!    watch accounts, and at the next start for `wanted_dids` (sources are planned at start).
//!
//! A bluesky source whose `wanted_dids` were all handles that could not be resolved is not
//! started: an empty list would mean "every account", the whole firehose.
//!
//! [`Mode::CacheOnly`] (`streamer replay`, and `run` reloading only because suppressions
//! changed on the dashboard) never touches the network: handles resolve from the cache
//! whatever its age, and the others are left out with a warning.
//!
//! The cache is kept true by Jetstream `identity` events (`Batch::apply_actor_event` in
//! storage.rs): a DID's cached handles are purged and its new handle recorded.

use crate::config::{Config, SourceConfig};
use crate::storage::Storage;
use std::time::Duration;
use streamer_sources::handles::{normalize_handle, ResolveError, Resolver, DEFAULT_RESOLVER};

/// How long a resolved handle is used without asking the resolver again.
pub const TTL_MS: i64 = 24 * 3600 * 1000;

/// The most time handle resolution may take at start or reload, all handles together.
pub const START_BUDGET: Duration = Duration::from_secs(30);

/// Whether resolution may use the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `run`: cache first, then the resolver, then a stale entry.
    Network,
    /// `replay`: the cache only, whatever its age.
    CacheOnly,
}

/// The handle of a watch entry written `bluesky:@HANDLE` (any case for the platform).
pub fn account_handle(entry: &str) -> Option<&str> {
    let (platform, rest) = entry.split_once(':')?;
    if !platform.eq_ignore_ascii_case("bluesky") {
        return None;
    }
    rest.strip_prefix('@')
}

/// A `wanted_dids` entry that is a handle rather than a DID.
fn wanted_handle(entry: &str) -> Option<&str> {
    (!entry.starts_with("did:")).then_some(entry)
}

/// Where one handle's DID came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A cache entry younger than the TTL (or any entry in cache-only mode).
    Cached(String),
    /// Asked the resolver just now.
    Resolved(String),
    /// The resolver is unavailable; an older cache entry is used.
    Stale(String, String),
    /// No DID: why.
    Failed(String),
}

impl Outcome {
    /// The DID, if any.
    pub fn did(&self) -> Option<&str> {
        match self {
            Outcome::Cached(d) | Outcome::Resolved(d) | Outcome::Stale(d, _) => Some(d),
            Outcome::Failed(_) => None,
        }
    }
}

/// Resolves one handle: cache, then (with a resolver) the network, then a stale entry.
pub async fn resolve_handle(
    storage: &Storage,
    resolver: Option<&Resolver>,
    handle: &str,
    now_ms: i64,
) -> Outcome {
    let Some(h) = normalize_handle(handle) else {
        return Outcome::Failed(ResolveError::InvalidHandle(handle.into()).to_string());
    };
    let cached = match storage.cached_handle(&h) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(handle = %h, "cannot read the handle cache: {e:#}");
            None
        }
    };
    let Some(resolver) = resolver else {
        return match cached {
            Some((did, _)) => Outcome::Cached(did),
            None => Outcome::Failed(format!(
                "{h} is not in the handle cache (this command does not use the network; `streamer run` resolves and caches handles)"
            )),
        };
    };
    if let Some((did, at)) = &cached {
        if now_ms - at < TTL_MS {
            return Outcome::Cached(did.clone());
        }
    }
    match resolver.resolve(&h).await {
        Ok(did) => {
            if let Err(e) = storage.cache_handle(&h, &did, now_ms) {
                tracing::warn!(handle = %h, "cannot store a resolved handle: {e:#}");
            }
            Outcome::Resolved(did)
        }
        Err(e) if e.is_permanent() => {
            if cached.is_some() {
                let _ = storage.forget_handle(&h);
            }
            Outcome::Failed(e.to_string())
        }
        Err(e) => match cached {
            Some((did, _)) => Outcome::Stale(did, e.to_string()),
            None => Outcome::Failed(e.to_string()),
        },
    }
}

/// The config with every Bluesky handle replaced by its DID, and the warnings an operator
/// must see (handles left out, sources not started). Opens storage only when there are handles.
pub fn resolve_config(config: &Config, mode: Mode) -> (Config, Vec<String>) {
    let mut out = config.clone();
    let mut warnings = Vec::new();
    let any = config
        .watch
        .accounts
        .iter()
        .any(|a| account_handle(a).is_some())
        || config.sources.iter().any(|s| {
            matches!(s, SourceConfig::Bluesky { wanted_dids, .. } if wanted_dids.iter().any(|d| wanted_handle(d).is_some()))
        });
    if !any {
        return (out, warnings);
    }
    let storage = match Storage::open(&config.storage.path) {
        Ok(s) => s,
        Err(e) => {
            warnings.push(format!(
                "Bluesky handles cannot be resolved: the handle cache cannot be opened: {e:#}"
            ));
            return (out, warnings);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            warnings.push(format!("Bluesky handles cannot be resolved: {e}"));
            return (out, warnings);
        }
    };
    let watch_resolver = config
        .sources
        .iter()
        .find_map(|s| match s {
            SourceConfig::Bluesky { resolver, .. } => Some(resolver.as_str()),
            _ => None,
        })
        .unwrap_or(DEFAULT_RESOLVER);
    runtime.block_on(async {
        let deadline = tokio::time::Instant::now() + START_BUDGET;
        let resolve = |url: String, handle: String| {
            let storage = &storage;
            async move {
                let resolver = match mode {
                    Mode::Network => {
                        let mut r = Resolver::new(&url);
                        r.max_attempts = 3;
                        Some(r)
                    }
                    Mode::CacheOnly => None,
                };
                let now = crate::storage::now_ms();
                let outcome = match tokio::time::timeout_at(
                    deadline,
                    resolve_handle(storage, resolver.as_ref(), &handle, now),
                )
                .await
                {
                    Ok(o) => o,
                    // Out of time: the cache still answers, whatever its age.
                    Err(_) => match resolve_handle(storage, None, &handle, now).await {
                        Outcome::Cached(d) => {
                            Outcome::Stale(d, "the resolution budget ran out".into())
                        }
                        _ => Outcome::Failed(format!(
                            "resolving {handle} took longer than {} s",
                            START_BUDGET.as_secs()
                        )),
                    },
                };
                match &outcome {
                    Outcome::Cached(d) => tracing::debug!(handle = %handle, did = %d, "Bluesky handle from the cache"),
                    Outcome::Resolved(d) => tracing::info!(handle = %handle, did = %d, "Bluesky handle resolved"),
                    Outcome::Stale(d, why) => tracing::warn!(handle = %handle, did = %d,
                        "Bluesky handle: using a cached DID older than 24 h, because {why}"),
                    Outcome::Failed(_) => {}
                }
                outcome
            }
        };
        let mut accounts = Vec::with_capacity(out.watch.accounts.len());
        for a in &config.watch.accounts {
            let Some(h) = account_handle(a) else {
                if !accounts.contains(a) {
                    accounts.push(a.clone());
                }
                continue;
            };
            match resolve(watch_resolver.to_string(), h.to_string()).await {
                Outcome::Failed(why) => warnings.push(format!(
                    "watch.accounts {a}: not watched for now: {why}"
                )),
                o => {
                    let key = format!("bluesky:{}", o.did().unwrap_or_default());
                    if !accounts.contains(&key) {
                        accounts.push(key);
                    }
                }
            }
        }
        out.watch.accounts = accounts;
        let mut keep = Vec::with_capacity(out.sources.len());
        for source in std::mem::take(&mut out.sources) {
            let SourceConfig::Bluesky {
                url,
                compress,
                zstd_dictionary,
                wanted_dids,
                resolver,
                stall_timeout_secs,
                rewind_secs,
            } = source
            else {
                keep.push(source);
                continue;
            };
            let mut dids: Vec<String> = Vec::with_capacity(wanted_dids.len());
            for entry in &wanted_dids {
                let did = match wanted_handle(entry) {
                    None => Some(entry.clone()),
                    Some(h) => match resolve(resolver.clone(), h.to_string()).await {
                        Outcome::Failed(why) => {
                            warnings.push(format!(
                                "source bluesky: wanted_dids {entry} left out until the next start: {why}"
                            ));
                            None
                        }
                        o => o.did().map(str::to_string),
                    },
                };
                if let Some(d) = did {
                    if !dids.contains(&d) {
                        dids.push(d);
                    }
                }
            }
            if !wanted_dids.is_empty() && dids.is_empty() {
                warnings.push(
                    "source bluesky not started: none of its wanted_dids could be resolved (an empty list would mean every account)"
                        .into(),
                );
                continue;
            }
            keep.push(SourceConfig::Bluesky {
                url,
                compress,
                zstd_dictionary,
                wanted_dids: dids,
                resolver,
                stall_timeout_secs,
                rewind_secs,
            });
        }
        out.sources = keep;
    });
    for w in &warnings {
        tracing::warn!("{w}");
    }
    (out, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use streamer_sources::mock::{Conn, ResolverMock};

    const ALICE: &str = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa";

    #[test]
    fn watch_entries_with_handles_are_recognised() {
        assert_eq!(
            account_handle("bluesky:@alice.bsky.social"),
            Some("alice.bsky.social")
        );
        assert_eq!(account_handle("Bluesky:@a.b"), Some("a.b"));
        assert_eq!(account_handle("bluesky:did:plc:abc"), None);
        assert_eq!(account_handle("x:@alice.bsky.social"), None);
        assert_eq!(wanted_handle("did:plc:abc"), None);
        assert_eq!(wanted_handle("@a.b"), Some("@a.b"));
    }

    #[tokio::test]
    async fn the_cache_answers_within_its_ttl_and_a_stale_entry_covers_an_outage() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(&dir.path().join("s.db")).unwrap();
        let mock = ResolverMock::start().await;
        mock.set("alice.bsky.social", ALICE);
        let mut r = Resolver::new(&mock.base_url());
        // One attempt: no retry sleeps in this test (retries are tested in streamer-sources).
        r.max_attempts = 1;
        let t0 = 1_000_000_000_000;
        // Miss: the resolver answers and the answer is cached.
        assert_eq!(
            resolve_handle(&storage, Some(&r), "@alice.bsky.social", t0).await,
            Outcome::Resolved(ALICE.into())
        );
        assert_eq!(mock.resolve_count(), 1);
        // Within the TTL: no request.
        assert_eq!(
            resolve_handle(&storage, Some(&r), "alice.bsky.social", t0 + TTL_MS - 1).await,
            Outcome::Cached(ALICE.into())
        );
        assert_eq!(mock.resolve_count(), 1);
        // Expired and the resolver is down: the stale entry is used.
        mock.push(Conn::status(503, "down"));
        let o = resolve_handle(&storage, Some(&r), "alice.bsky.social", t0 + TTL_MS).await;
        assert!(
            matches!(&o, Outcome::Stale(d, why) if d == ALICE && why.contains("503")),
            "{o:?}"
        );
        assert_eq!(mock.resolve_count(), 2);
        // Expired and the resolver answers: refreshed.
        let t1 = t0 + TTL_MS + 5;
        assert_eq!(
            resolve_handle(&storage, Some(&r), "alice.bsky.social", t1).await,
            Outcome::Resolved(ALICE.into())
        );
        assert_eq!(
            storage.cached_handle("alice.bsky.social").unwrap(),
            Some((ALICE.into(), t1))
        );
        // Cache-only mode uses any entry, and never the network.
        assert_eq!(
            resolve_handle(&storage, None, "alice.bsky.social", t1 + 10 * TTL_MS).await,
            Outcome::Cached(ALICE.into())
        );
        assert!(matches!(
            resolve_handle(&storage, None, "bob.bsky.social", t1).await,
            Outcome::Failed(why) if why.contains("not in the handle cache")
        ));
        assert_eq!(mock.resolve_count(), 3);
        // The handle is gone for good: the stale entry is not used, and is forgotten.
        mock.remove("alice.bsky.social");
        assert!(matches!(
            resolve_handle(&storage, Some(&r), "alice.bsky.social", t1 + TTL_MS).await,
            Outcome::Failed(why) if why.contains("does not exist")
        ));
        assert_eq!(storage.cached_handle("alice.bsky.social").unwrap(), None);
    }
}
