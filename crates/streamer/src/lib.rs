//! Streamer: real-time threat monitoring of X, Mastodon and Bluesky for SLTT governments.
//!
//! Layout (see ARCHITECTURE.md for the data flow):
//! - [`config`]: the TOML file, validated once into types.
//! - [`pipeline`]: batches of lines → decode, enrich, match (parallel) → store (ordered).
//! - [`storage`]: SQLite: evidence, alerts, actors, counts, cursors, the outbox.
//! - [`outbox`], [`sinks`], [`render`]: delivery with retries, and what people read.
//! - [`replay`], [`run`]: the two ways of feeding the pipeline; [`live`]: the live sources
//!   (`streamer-sources`) bridged into it; [`cli`]: every command.
//!
//! Errors: library crates return typed errors; this crate uses `anyhow` with context, and the
//! CLI maps a bad configuration or usage to exit code 2 and anything else to 1.

pub mod actors;
pub mod alert;
pub mod analytics;
pub mod analytics_cli;
pub mod cli;
pub mod config;
pub mod export;
pub mod handles;
pub mod live;
pub mod metrics;
pub mod outbox;
pub mod pipeline;
pub mod progress;
pub mod render;
pub mod replay;
pub mod run;
pub mod sinks;
pub mod storage;
pub mod summary;
pub mod web;

use config::Config;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, RwLock};

/// Set by SIGINT/SIGTERM: producers stop reading, the pipeline drains, storage is flushed.
pub static SHUTDOWN: LazyLock<Arc<AtomicBool>> = LazyLock::new(|| Arc::new(AtomicBool::new(false)));

/// True once a stop was asked for.
pub fn shutting_down() -> bool {
    SHUTDOWN.load(Ordering::SeqCst)
}

/// A mistake in how the command was called (a missing input file, say): exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Compiles the configured rules with the dashboard's suppressions from the database (the
/// config was validated, so errors here are unexpected).
pub fn compile_rules(config: &Config) -> anyhow::Result<pipeline::SharedRules> {
    let suppressions = web::load_suppressions_at(&config.storage.path);
    let compiled = streamer_rules::compile_with(&config.rules, &config.watch, &suppressions)
        .map_err(|errors| {
            anyhow::anyhow!(errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n"))
        })?;
    for w in &compiled.warnings {
        tracing::debug!(rule = %w.rule_id, "{}", w.message);
    }
    Ok(Arc::new(RwLock::new(Arc::new(compiled.rules))))
}

/// Builds every configured sink.
pub fn build_sinks(config: &Config) -> anyhow::Result<Vec<sinks::Sink>> {
    let render = render::RenderOptions {
        defang: config.alerts.defang,
        timezone: config.alerts.timezone.clone(),
    };
    config
        .sinks
        .iter()
        .map(|s| {
            sinks::Sink::new(s.clone(), render.clone())
                .map_err(|e| e.context(format!("sink {:?}", s.name)))
        })
        .collect()
}

/// The sinks as the outbox sees them.
pub fn outbox_sinks(config: &Config) -> Vec<storage::OutboxSink> {
    config
        .sinks
        .iter()
        .map(|s| storage::OutboxSink {
            name: s.name.clone(),
            min_severity: s.min_severity,
            max_severity: s.max_severity,
            merges: s.notifies_people(),
            notices: s.notices,
        })
        .collect()
}
