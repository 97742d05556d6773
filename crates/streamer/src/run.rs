//! `streamer run`: live sources ([`crate::live`]) into the pipeline until SIGINT/SIGTERM, with
//! rule hot reload.

use crate::config::Config;
use crate::outbox::Workers;
use crate::pipeline::{Pipeline, PipelineSettings, SharedRules};
use anyhow::Result;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Runs until a stop signal: sources feed the pipeline, workers deliver.
pub fn run(config: &Config) -> Result<()> {
    // Bluesky handles become DIDs (cache first, then a bounded network attempt) before the
    // rules are compiled and Jetstream connects; what cannot be resolved is left out and
    // reported below as an operator notice.
    let (resolved, handle_warnings) =
        crate::handles::resolve_config(config, crate::handles::Mode::Network);
    let config = &resolved;
    let rules = crate::compile_rules(config)?;
    let workers = Workers::start(&config.storage.path, crate::build_sinks(config)?)?;
    let pipeline = Pipeline::start(
        PipelineSettings {
            db: config.storage.path.clone(),
            workers: config.pipeline.workers,
            sinks: crate::outbox_sinks(config),
            merge_window_ms: config.alerts.merge_window_secs * 1000,
            actors: config.actors.clone(),
        },
        rules.clone(),
        workers.signal.clone(),
    )?;
    // Each source is its own task with its own backoff; one that fails never stops another.
    let notifier = crate::outbox::Notifier::new(config, workers.signal.clone());
    let live =
        match crate::live::Live::start(config, pipeline.input.clone(), Some(notifier.clone())) {
            Ok(live) => live,
            Err(e) => {
                let _ = pipeline.finish();
                workers.stop();
                return Err(e);
            }
        };
    tracing::info!(
        rules = rules.read().map(|r| r.len()).unwrap_or(0),
        "streamer running; SIGINT or SIGTERM stops it"
    );
    for w in &handle_warnings {
        notifier.notify(crate::render::NoticeKind::Other, Some("bluesky"), w);
    }
    // Operator notices: start now, stop below; sources raise theirs through `notifier`.
    notifier.notify(
        crate::render::NoticeKind::Start,
        None,
        &format!(
            "streamer {} started with {} rule(s) and {} source(s)",
            env!("CARGO_PKG_VERSION"),
            rules.read().map(|r| r.len()).unwrap_or(0),
            config.sources.len()
        ),
    );
    let _web = crate::web::start_for_run(config);
    let mut suppressions = crate::web::SuppressionWatch::new(&config.storage.path);
    let summary = crate::summary::spawn_scheduler(config);
    let reload = Arc::new(AtomicBool::new(false));
    let _ = signal_hook::flag::register(signal_hook::consts::SIGHUP, reload.clone());
    let mut watched = config_mtime(config);
    while !crate::shutting_down() {
        std::thread::sleep(Duration::from_millis(250));
        let mtime = config_mtime(config);
        let asked = reload.swap(false, Ordering::SeqCst) || mtime != watched;
        if asked || suppressions.changed() {
            watched = mtime;
            // A change of suppressions alone (dashboard feedback) needs no handle look-up on
            // the network: it must apply within a second even when a handle cannot be resolved.
            let mode = if asked {
                crate::handles::Mode::Network
            } else {
                crate::handles::Mode::CacheOnly
            };
            if let Some(fresh) = reload_rules(config, &rules, mode) {
                // X's server-side rules follow the reloaded ones (the stream stays up).
                live.reload_x_rules(&fresh);
            }
        }
    }
    tracing::info!("stopping: draining the pipeline");
    live.stop();
    pipeline.finish()?;
    if let Some(s) = summary {
        let _ = s.join();
    }
    notifier.notify(
        crate::render::NoticeKind::Stop,
        None,
        "streamer stopped (signal)",
    );
    // Bounded: a dead mail server must not hold the shutdown; the notice stays queued.
    let _ = crate::outbox::wait_notices_sent(
        &config.storage.path,
        &workers.signal,
        Duration::from_secs(5),
    );
    workers.stop();
    tracing::info!("stopped");
    Ok(())
}

fn config_mtime(config: &Config) -> Option<SystemTime> {
    std::fs::metadata(config.path.as_ref()?)
        .and_then(|m| m.modified())
        .ok()
}

/// Compiles the rules of the config file again and swaps them in; a broken file keeps the old
/// rules running and says why. Returns the reloaded config (handles resolved, by `mode`) on
/// success.
pub fn reload_rules(
    config: &Config,
    rules: &SharedRules,
    mode: crate::handles::Mode,
) -> Option<Config> {
    let Some(path) = &config.path else {
        return None;
    };
    let fresh = match Config::from_file(path) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("rules not reloaded, the old rules keep running:\n{e}");
            return None;
        }
    };
    // Watch accounts given by handle: the cache, else (in network mode, on SIGHUP or a file
    // change) the resolver again, bounded, so a handle that failed at start is retried here;
    // failures are logged at warn.
    let (fresh, _) = crate::handles::resolve_config(&fresh, mode);
    let suppressions = crate::web::load_suppressions_at(&fresh.storage.path);
    match streamer_rules::compile_with(&fresh.rules, &fresh.watch, &suppressions) {
        Ok(compiled) => {
            let n = compiled.rules.len();
            *rules.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(compiled.rules);
            tracing::info!(rules = n, "rules reloaded");
            Some(fresh)
        }
        Err(errors) => {
            for e in errors {
                tracing::error!("rules not reloaded, the old rules keep running: {e}");
            }
            None
        }
    }
}
