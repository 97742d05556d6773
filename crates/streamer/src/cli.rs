//! The command line (contract: DESIGN.md "Command line").

use crate::config::{Config, ConfigError};
use crate::replay::{print_summary, replay, ReplayOptions};
use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Duration;
use streamer_wire::{Decoder, DecoderOptions, Format};

/// Real-time threat monitoring of X, Mastodon and Bluesky for SLTT governments.
#[derive(Debug, Parser)]
#[command(name = "streamer", version, about, propagate_version = true)]
pub struct Cli {
    /// Log format on standard error.
    #[arg(long, value_enum, default_value_t = LogFormat::Human, global = true)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// How log lines look.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Watch every configured source live until SIGINT/SIGTERM.
    Run {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Run recorded stream files (one payload per line; '-' = stdin) through the pipeline.
    Replay {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Wire format of the input lines (auto detects per line).
        #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
        format: FormatArg,
        /// The server Mastodon posts were received from (qualifies author ids).
        #[arg(long, value_name = "HOST")]
        mastodon_instance: Option<String>,
        /// Seconds to wait for the outbox to drain before exiting.
        #[arg(long, default_value_t = 30, value_name = "SECONDS")]
        drain_timeout: u64,
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Rule tools.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Print the IOCs of each input line, one JSON object per line.
    Ioc {
        /// Input file ('-' or none = stdin).
        file: Option<PathBuf>,
    },
    /// Alert tools.
    Alert {
        #[command(subcommand)]
        command: AlertCommand,
    },
    /// Outbox tools.
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// Serve the analyst dashboard over an existing database until SIGINT/SIGTERM.
    Serve {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Listen address (default: `[web] bind`, else 127.0.0.1:8080).
        #[arg(long, value_name = "ADDR")]
        bind: Option<std::net::SocketAddr>,
    },
    /// The state of the store: alerts, outbox per sink, cursors.
    Status {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// The actor registry: authors of matched posts and the watched actors.
    Actors {
        #[command(subcommand)]
        command: ActorsCommand,
    },
    /// Counts over a window: alerts by severity, top rules, actors, entities, IOCs, domains,
    /// surges and coverage per source (from counters kept as alerts are stored).
    Stats {
        #[arg(long)]
        config: Option<PathBuf>,
        /// The window: 30d, 12h, 90m, 2w or an RFC 3339 time.
        #[arg(long, default_value = "7d")]
        since: String,
        /// How many keys per list.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Export the alerts raised in a window for partners: STIX 2.1, MISP or CSV.
    Export {
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// The window: 30d, 12h, 90m, 2w or an RFC 3339 time.
        #[arg(long, default_value = "7d")]
        since: String,
        /// Traffic Light Protocol marking: white (clear), green, amber, red.
        #[arg(long, default_value = "amber")]
        tlp: String,
        /// Write here instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// The summary email of a window: print it, or send it through the email and .eml sinks.
    Summary {
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long, default_value = "1d")]
        since: String,
        /// Deliver through every email and .eml sink instead of printing.
        #[arg(long)]
        send: bool,
    },
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) generated from this command line.
    Man,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Report every problem of a configuration file at once, with line numbers.
    Check {
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ActorsCommand {
    /// Known accounts, most alerted first.
    List {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Only the watched actors' accounts (from `[actors] csv`).
        #[arg(long)]
        watched: bool,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Everything known about an actor: PLATFORM:ID, a handle (current or past) or a watched
    /// actor's name (all of its accounts, across platforms).
    Show {
        #[arg(long)]
        config: Option<PathBuf>,
        query: String,
        #[arg(long)]
        json: bool,
    },
}

/// `export --format` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    Stix,
    Misp,
    Csv,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Parse and compile the rules; report errors with line:column.
    Check {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Which rules each post in FILE matches (JSON lines); with --since, back-test the
    /// configured rules over the posts stored in that window (the posts that matched a rule
    /// when they arrived) and say what would have alerted.
    Test {
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
        format: FormatArg,
        /// Back-test over stored posts received in this window (30d, 12h, an RFC 3339 time).
        #[arg(long, conflicts_with = "file")]
        since: Option<String>,
        #[arg(required_unless_present = "since")]
        file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AlertCommand {
    /// Send one test alert through every configured sink.
    Test {
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Queue permanently failed deliveries again.
    Retry {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Only this sink.
        #[arg(long)]
        sink: Option<String>,
    },
}

/// `--format` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    Auto,
    X,
    #[value(name = "x-v1")]
    XV1,
    Mastodon,
    Bluesky,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Auto => Format::Auto,
            FormatArg::X => Format::X,
            FormatArg::XV1 => Format::XV1,
            FormatArg::Mastodon => Format::Mastodon,
            FormatArg::Bluesky => Format::Bluesky,
        }
    }
}

/// A failure with its exit code: 2 for bad usage or config, 1 for runtime failures.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub error: anyhow::Error,
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Failure {
        let usage = error.downcast_ref::<ConfigError>().is_some()
            || error.downcast_ref::<crate::UsageError>().is_some();
        let code = if usage { 2 } else { 1 };
        Failure { code, error }
    }
}

/// Loads the configuration a command names (see [`Config::load`]).
pub fn load(config: &Option<PathBuf>) -> Result<Config> {
    Ok(Config::load(config.as_deref())?)
}

/// Runs one command.
pub fn execute(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Run { config } => {
            let config = load(&config)?;
            for warning in config.permission_warnings() {
                tracing::warn!("{warning}");
            }
            crate::run::run(&config)?;
        }
        Command::Replay {
            config,
            format,
            mastodon_instance,
            drain_timeout,
            files,
        } => {
            let config = load(&config)?;
            // Bluesky handles in the config resolve from the cache only: replay stays offline.
            let (config, _) =
                crate::handles::resolve_config(&config, crate::handles::Mode::CacheOnly);
            let rules = crate::compile_rules(&config)?;
            let (summary, elapsed) = replay(
                &config,
                rules,
                ReplayOptions {
                    files,
                    format: format.into(),
                    mastodon_instance,
                    drain_timeout: Duration::from_secs(drain_timeout),
                    progress: true,
                },
            )?;
            print_summary(&summary, elapsed);
        }
        Command::Rules {
            command: RulesCommand::Check { config },
        } => rules_check(&config)?,
        Command::Rules {
            command:
                RulesCommand::Test {
                    config,
                    format,
                    since,
                    file,
                },
        } => match (since, file) {
            (Some(since), _) => crate::analytics_cli::backtest(&load(&config)?, &since)?,
            (None, Some(file)) => rules_test(&config, format.into(), &file)?,
            (None, None) => unreachable!("clap requires FILE or --since"),
        },
        Command::Ioc { file } => ioc(file)?,
        Command::Alert {
            command: AlertCommand::Test { config },
        } => alert_test(&load(&config)?)?,
        Command::Outbox {
            command: OutboxCommand::Retry { config, sink },
        } => {
            let config = load(&config)?;
            let storage = crate::storage::Storage::open(&config.storage.path)?;
            let n = storage.retry_failed(sink.as_deref())?;
            println!("{n} failed deliveries queued again");
        }
        Command::Status { config } => status(&load(&config)?)?,
        Command::Config {
            command: ConfigCommand::Check { config },
        } => config_check(&config)?,
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "streamer", &mut std::io::stdout());
        }
        Command::Man => {
            use clap::CommandFactory;
            clap_mangen::Man::new(Cli::command())
                .render(&mut std::io::stdout())
                .context("cannot write the man page")?;
        }
        Command::Serve { config, bind } => crate::web::serve(&load(&config)?, bind)?,
        Command::Actors { command } => crate::analytics_cli::actors(command)?,
        Command::Stats {
            config,
            since,
            limit,
            json,
        } => crate::analytics_cli::stats(&load(&config)?, &since, limit, json)?,
        Command::Export {
            config,
            format,
            since,
            tlp,
            output,
        } => crate::analytics_cli::export(&load(&config)?, format, &since, &tlp, output)?,
        Command::Summary {
            config,
            since,
            send,
        } => crate::analytics_cli::summary(&load(&config)?, &since, send)?,
    }
    Ok(())
}

fn config_check(config: &Option<PathBuf>) -> Result<()> {
    let config = load(config)?;
    let shown = config
        .path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "built-in defaults".into());
    for warning in config.permission_warnings() {
        println!("warning: {warning}");
    }
    println!(
        "{shown}: ok ({} sources, {} rules, {} sinks)",
        config.sources.len(),
        config.rules.len(),
        config.sinks.len()
    );
    Ok(())
}

fn rules_check(config: &Option<PathBuf>) -> Result<()> {
    // Config::load compiles the rules and reports every error with its line.
    let config = load(config)?;
    let compiled = streamer_rules::compile(&config.rules, &config.watch).map_err(|e| {
        anyhow::anyhow!(
            "{}",
            e.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    })?;
    for w in &compiled.warnings {
        println!("warning: rule {}: {}", w.rule_id, w.message);
    }
    println!("{} rules compiled", compiled.rules.len());
    Ok(())
}

fn rules_test(config: &Option<PathBuf>, format: Format, file: &PathBuf) -> Result<()> {
    let config = load(config)?;
    let rules = crate::compile_rules(&config)?;
    let rules = rules.read().unwrap_or_else(|e| e.into_inner()).clone();
    let reader: Box<dyn BufRead> = if file.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?,
        ))
    };
    let mut decoder = Decoder::new(
        format,
        DecoderOptions {
            max_line_bytes: config.pipeline.max_line_bytes,
            ..DecoderOptions::default()
        },
    );
    let mut out = std::io::stdout().lock();
    for (i, line) in reader.split(b'\n').enumerate() {
        let line = line?;
        match decoder.feed(&line, i as u64 + 1) {
            Ok(Some(d)) => {
                if let streamer_model::Event::Create(post) | streamer_model::Event::Edit(post) =
                    d.event
                {
                    let enrichment = streamer_ioc::enrich(&post);
                    let hits = rules.matches(&post, &enrichment);
                    let v = serde_json::json!({
                        "line": i + 1, "platform": post.platform, "id": post.id, "rules": hits,
                    });
                    writeln!(out, "{v}")?;
                }
            }
            Ok(None) => {}
            Err(e) => eprintln!("{e}"),
        }
    }
    Ok(())
}

fn ioc(file: Option<PathBuf>) -> Result<()> {
    let reader: Box<dyn BufRead> = match &file {
        Some(f) if f.as_os_str() != "-" => Box::new(std::io::BufReader::new(
            std::fs::File::open(f).with_context(|| format!("cannot open {}", f.display()))?,
        )),
        _ => Box::new(std::io::stdin().lock()),
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in reader.split(b'\n') {
        let line = line?;
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        let text = String::from_utf8_lossy(line);
        writeln!(out, "{}", streamer_ioc::ioc_record(&text))?;
    }
    out.flush()?;
    Ok(())
}

fn alert_test(config: &Config) -> Result<()> {
    use crate::alert::AlertRecord;
    use streamer_model::{AtomMatch, Platform, Post, RuleHit, Severity};
    let mut post = Post::new(Platform::X, "0", "0");
    post.text = "Streamer test alert: if you can read this, this sink works.".into();
    post.author.handle = Some("streamer".into());
    let record = AlertRecord {
        alert_id: format!("test-{}", jiff::Timestamp::now().as_second()),
        created_at: crate::storage::now_rfc3339(),
        rules: vec![RuleHit {
            id: "streamer-test".into(),
            severity: Severity::Info,
            tags: vec!["test".into()],
            matched: vec![AtomMatch {
                kind: "keyword".into(),
                value: "test".into(),
                span: Some([9, 13]),
            }],
        }],
        post,
        iocs: Default::default(),
        entities: vec![],
    };
    let delivery = crate::render::Message::Alert(crate::render::Delivery {
        primary: record,
        merged: vec![],
        followup: false,
    });
    let mut failed = 0;
    for mut sink in crate::build_sinks(config)? {
        match sink.deliver(&delivery) {
            Ok(()) => eprintln!("{}: delivered", sink.name()),
            Err(e) => {
                failed += 1;
                eprintln!("{}: FAILED: {e}", sink.name());
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} sink(s) failed");
    }
    Ok(())
}

fn status(config: &Config) -> Result<()> {
    let storage = crate::storage::Storage::open(&config.storage.path)?;
    println!("database: {}", config.storage.path.display());
    println!("alerts: {}", storage.alert_count()?);
    let last: Option<String> = storage
        .conn()
        .query_row("SELECT MAX(created_at) FROM alerts", [], |r| r.get(0))
        .unwrap_or(None);
    println!("last alert: {}", last.as_deref().unwrap_or("none"));
    for sink in &config.sinks {
        let c = storage.outbox_counts(Some(&sink.name))?;
        println!(
            "sink {}: {} delivered, {} pending, {} failed",
            sink.name, c.delivered, c.pending, c.failed
        );
        // The newest errors, so a failing sink says why without reading logs.
        let mut stmt = storage.conn().prepare(
            "SELECT state, alert_id, attempts, last_error FROM outbox
             WHERE sink = ?1 AND last_error IS NOT NULL AND state != 'delivered'
             ORDER BY seq DESC LIMIT 3",
        )?;
        let rows = stmt.query_map([&sink.name], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        for row in rows {
            let (state, id, attempts, error) = row?;
            println!(
                "  {state} {id} after {attempts} attempt(s): {}",
                crate::render::truncate_chars(&crate::render::one_line(&error), 200)
            );
        }
    }
    let mut stmt = storage
        .conn()
        .prepare("SELECT source, cursor, updated_at FROM cursors ORDER BY source")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    for row in rows {
        let (source, cursor, at) = row?;
        println!("cursor {source}: {cursor} (at {at})");
    }
    for (source, state, at) in storage.source_states()? {
        println!("{}", crate::live::describe_state(&source, &state, &at));
    }
    Ok(())
}
