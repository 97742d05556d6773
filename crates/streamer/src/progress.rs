//! Progress of a replay: a bar on a terminal, periodic log lines otherwise.

use crate::pipeline::Stats;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Prints to standard output without tearing the progress bar (the terminal sink uses this).
pub fn print_above(s: &str) {
    let bar = BAR.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let write = || {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(s.as_bytes());
        let _ = out.flush();
    };
    match bar {
        Some(b) => b.suspend(write),
        None => write(),
    }
}

/// The running progress display.
pub struct Reporter {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Reporter {
    /// Starts showing progress of `stats`; `total_bytes` enables an ETA.
    pub fn start(stats: Arc<Stats>, total_bytes: Option<u64>) -> Reporter {
        let stop = Arc::new(AtomicBool::new(false));
        let tty = std::io::stderr().is_terminal();
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || {
                if tty {
                    show_bar(&stats, total_bytes, &flag)
                } else {
                    log_lines(&stats, &flag)
                }
            })
            .ok();
        Reporter { stop, thread }
    }

    /// Stops the display (the bar is cleared).
    pub fn finish(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn rate(n: u64, since: Instant) -> f64 {
    n as f64 / since.elapsed().as_secs_f64().max(1e-3)
}

fn show_bar(stats: &Stats, total: Option<u64>, stop: &AtomicBool) {
    let bar = match total {
        Some(t) => ProgressBar::with_draw_target(Some(t), ProgressDrawTarget::stderr()),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
    };
    let template = if total.is_some() {
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ETA {eta} {msg}"
    } else {
        "{spinner} [{elapsed_precise}] {bytes} {msg}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    *BAR.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar.clone());
    let start = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        let posts = Stats::get(&stats.posts);
        bar.set_position(Stats::get(&stats.bytes));
        bar.set_message(format!(
            "{posts} posts ({:.0}/s), {} alerts, {} bad lines",
            rate(posts, start),
            Stats::get(&stats.alerts),
            Stats::get(&stats.bad)
        ));
        std::thread::sleep(Duration::from_millis(100));
    }
    *BAR.lock().unwrap_or_else(|e| e.into_inner()) = None;
    bar.finish_and_clear();
}

fn log_lines(stats: &Stats, stop: &AtomicBool) {
    let start = Instant::now();
    let mut last = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
        if last.elapsed() >= Duration::from_secs(5) {
            last = Instant::now();
            let posts = Stats::get(&stats.posts);
            tracing::info!(
                posts,
                posts_per_sec = rate(posts, start) as u64,
                alerts = Stats::get(&stats.alerts),
                bad_lines = Stats::get(&stats.bad),
                "replay progress"
            );
        }
    }
}
