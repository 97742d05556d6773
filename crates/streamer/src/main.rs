//! The `streamer` binary: parses the command line, sets up logging and signals, and maps
//! failures to the exit codes of DESIGN.md (0 ok, 2 bad usage or config, 1 runtime failure).

use clap::Parser;
use std::io::IsTerminal;
use streamer::cli::{execute, Cli, LogFormat};

fn main() {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("STREAMER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second signal while shutting down exits at once.
        let _ =
            signal_hook::flag::register_conditional_shutdown(sig, 130, streamer::SHUTDOWN.clone());
        let _ = signal_hook::flag::register(sig, streamer::SHUTDOWN.clone());
    }
    if let Err(failure) = execute(cli) {
        eprintln!("streamer: {:#}", failure.error);
        std::process::exit(failure.code);
    }
}
