//! Configuration: the TOML file of DESIGN.md, validated once, at the edge.
//!
//! Raw TOML is read into `Raw*` structs with `deny_unknown_fields`, so an unknown key is an error
//! that names the key and its line. [`Config::validate`] then turns the raw tables into typed
//! values and collects *every* problem with its line, so `streamer config check` can report them
//! all at once. Secrets are never values in the file: keys ending in `_env` name an environment
//! variable and keys ending in `_file` name a file; they are read only when a component needs
//! them ([`Secret::resolve`]) and are never logged.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use streamer_model::Severity;
use streamer_rules::{RuleSpec, WatchSpec};

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from (`None` for built-in defaults).
    pub path: Option<PathBuf>,
    pub storage: StorageConfig,
    pub sources: Vec<SourceConfig>,
    pub watch: WatchSpec,
    pub rules: Vec<RuleSpec>,
    pub sinks: Vec<SinkConfig>,
    pub alerts: AlertsConfig,
    pub pipeline: PipelineConfig,
    /// The analyst dashboard (`[web]`).
    pub web: WebConfig,
    /// `[actors]`: the watched actors' sheet (its accounts are already in `watch.accounts`).
    pub actors: crate::actors::ActorsConfig,
    /// `[summary]`: when `run` sends the summary email (`None`: never).
    pub summary: Option<crate::summary::Schedule>,
}

/// Where evidence, alerts, actors, cursors and the outbox live.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    pub path: PathBuf,
}

/// How alerts are shown to people.
#[derive(Debug, Clone)]
pub struct AlertsConfig {
    /// Alerts with identical text under the same rules within this window are merged into one
    /// message by sinks that notify people.
    pub merge_window_secs: i64,
    /// Defang URLs and IOCs in messages shown to people (default true).
    pub defang: bool,
    /// The analysts' time zone (IANA name) shown beside UTC in messages.
    pub timezone: Option<String>,
}

/// Pipeline limits.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Lines longer than this are counted as bad and skipped.
    pub max_line_bytes: usize,
    /// Parse and match threads (default: one per core).
    pub workers: usize,
}

/// The analyst dashboard: where it listens and who may use it.
///
/// Binding to anything but a loopback address exposes alerts and feedback buttons to a
/// network, so validation refuses it unless an access token or basic-auth credentials are set.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Serve the dashboard during `streamer run` (default true; `streamer serve` always does).
    pub enabled: bool,
    /// Listen address (default `127.0.0.1:8080`; port 0 picks a free port).
    pub bind: std::net::SocketAddr,
    /// A bearer token: sent as `Authorization: Bearer` or typed once into the login form.
    pub access_token: Option<Secret>,
    /// HTTP basic auth: the user name (also the name written in the audit log).
    pub user: Option<String>,
    /// HTTP basic auth: the password.
    pub password: Option<Secret>,
}

impl WebConfig {
    /// True when some form of authentication is configured.
    pub fn has_auth(&self) -> bool {
        self.access_token.is_some() || (self.user.is_some() && self.password.is_some())
    }
}

impl Default for WebConfig {
    /// Loopback only, no authentication.
    fn default() -> Self {
        WebConfig {
            enabled: true,
            bind: std::net::SocketAddr::from(([127, 0, 0, 1], 8080)),
            access_token: None,
            user: None,
            password: None,
        }
    }
}

/// A secret named by the config: an environment variable or a file, never a literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    Env(String),
    File(PathBuf),
}

impl Secret {
    /// The secret `KEY_env` or `KEY_file` names; both at once is a problem (which one would
    /// win is not obvious to whoever reads the file).
    fn from_pair(
        env: Option<String>,
        file: Option<PathBuf>,
        key: &str,
        line: Option<usize>,
        problems: &mut Vec<ConfigProblem>,
    ) -> Option<Secret> {
        if env.is_some() && file.is_some() {
            problems.push(ConfigProblem {
                line,
                message: format!("`{key}_env` and `{key}_file` are both set: keep one"),
            });
        }
        env.map(Secret::Env).or(file.map(Secret::File))
    }

    /// Reads the secret's value. The error names the variable or file, never the value.
    pub fn resolve(&self) -> anyhow::Result<String> {
        match self {
            Secret::Env(var) => std::env::var(var)
                .map_err(|_| anyhow::anyhow!("environment variable {var} is not set")),
            Secret::File(path) => std::fs::read_to_string(path)
                .map(|s| s.trim_end_matches(['\r', '\n']).to_string())
                .map_err(|e| anyhow::anyhow!("cannot read secret file {}: {e}", path.display())),
        }
    }
}

/// One live source.
#[derive(Debug, Clone)]
pub enum SourceConfig {
    X {
        bearer_token: Secret,
        base_url: String,
        rule_tag_prefix: String,
        backfill_minutes: Option<u8>,
        max_rules: usize,
        max_rule_len: usize,
        /// No byte, heartbeats included, for this long is a stall (`stall_timeout_secs`,
        /// default 30: X sends a heartbeat at least every 20 s).
        stall_timeout_secs: u64,
    },
    Mastodon {
        instance: String,
        streams: Vec<String>,
        access_token: Option<Secret>,
        /// Default 45: three missed `:thump`s (every 15 s).
        stall_timeout_secs: u64,
    },
    Bluesky {
        url: String,
        compress: bool,
        zstd_dictionary: Option<PathBuf>,
        /// Only these accounts (`wantedDids`): the watched-accounts-only mode. DIDs, or handles
        /// (`@alice.bsky.social`, `alice.bsky.social`) that `run` resolves through `resolver`
        /// (see `crate::handles`) before connecting.
        wanted_dids: Vec<String>,
        /// The XRPC service that resolves handles to DIDs (`resolver`, default
        /// `https://public.api.bsky.app`).
        resolver: String,
        /// Default 60.
        stall_timeout_secs: u64,
        /// How far before the stored cursor a reconnect resumes (`rewind_secs`, default 5).
        rewind_secs: u64,
    },
}

impl SourceConfig {
    /// A short stable name for logs, cursors and status (`x`, `mastodon:HOST`, `bluesky`).
    pub fn name(&self) -> String {
        match self {
            SourceConfig::X { .. } => "x".into(),
            SourceConfig::Mastodon { instance, .. } => format!("mastodon:{}", host_of(instance)),
            SourceConfig::Bluesky { .. } => "bluesky".into(),
        }
    }
}

/// One alert sink.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// Unique name (default: the kind, then `kind-2`, ...): the outbox key of this sink.
    pub name: String,
    /// Only alerts at or above this severity reach the sink.
    pub min_severity: Severity,
    /// Only alerts at or below this severity reach the sink: with `min_severity` this routes
    /// by severity (critical to an immediate sink, low to an hourly digest).
    pub max_severity: Severity,
    pub kind: SinkKind,
    /// Retries, timeouts and noise control.
    pub delivery: DeliverySettings,
    /// Overrides `alerts.defang` for this sink (e.g. a SIEM that wants live indicators).
    pub defang: Option<bool>,
    /// Whether operator notices (source down, no posts, start, stop) go to this sink too.
    pub notices: bool,
}

/// How one sink retries and paces its deliveries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliverySettings {
    /// First retry delay in milliseconds; it doubles per attempt up to `retry_max_ms`.
    pub retry_base_ms: u64,
    /// The cap of the retry delay.
    pub retry_max_ms: u64,
    /// Network timeout of one delivery attempt.
    pub timeout_ms: u64,
    /// At most this many messages per minute; alerts beyond it are summarised in one message
    /// when the cap allows the next one (none are dropped).
    pub rate_per_minute: Option<u32>,
    /// Digest mode: one message every N minutes summarising the alerts since the last one.
    pub digest_minutes: Option<u32>,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            retry_base_ms: 1000,
            retry_max_ms: 300_000,
            timeout_ms: 30_000,
            rate_per_minute: None,
            digest_minutes: None,
        }
    }
}

/// What a sink is and where it delivers.
#[derive(Debug, Clone)]
pub enum SinkKind {
    /// One readable block per alert on standard output.
    Terminal,
    /// The alert record, one flushed JSON line per alert.
    Jsonl { path: PathBuf },
    /// The email that would be sent, as an `.eml` file per message.
    Eml {
        dir: PathBuf,
        from: String,
        to: Vec<String>,
    },
    /// Email over SMTP.
    Email(EmailConfig),
    /// An HTTP POST per message: the alert record as JSON, or a Slack / Teams message.
    Webhook(WebhookConfig),
    /// RFC 5424 syslog (plain or CEF) over UDP, TCP or TLS, for SIEMs.
    Syslog(SyslogConfig),
}

/// SMTP delivery settings.
#[derive(Debug, Clone)]
pub struct EmailConfig {
    pub smtp_url: String,
    pub tls: TlsMode,
    pub ca_file: Option<PathBuf>,
    /// The password, or with `auth = "xoauth2"` the OAuth 2 access token.
    pub password: Option<Secret>,
    /// Force one SASL mechanism (default: whatever the server offers of PLAIN and LOGIN).
    pub auth: Option<SmtpAuth>,
    pub from: String,
    pub to: Vec<String>,
}

/// SMTP AUTH mechanisms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpAuth {
    Plain,
    Login,
    /// OAuth 2 bearer token (Gmail, Microsoft 365); the secret is the access token.
    Xoauth2,
}

/// How SMTP uses TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    Required,
    Opportunistic,
    None,
}

/// Webhook delivery settings.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub url: String,
    /// Key of the `X-Streamer-Signature: sha256=HEX` HMAC of the body, when set.
    pub secret: Option<Secret>,
    pub preset: WebhookPreset,
    /// Extra request headers written in the file (not for credentials: see `secret_headers`).
    pub headers: Vec<(String, String)>,
    /// Request headers whose values are secrets (a SIEM collector's `Authorization`), each read
    /// from an environment variable.
    pub secret_headers: Vec<(String, Secret)>,
}

/// The body format of a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookPreset {
    /// `{"type": "alert", "alert": RECORD, ...}`: the alert record of DESIGN.md.
    Json,
    /// A Slack incoming-webhook message (`text` + `blocks`).
    Slack,
    /// A Microsoft Teams message with an Adaptive Card.
    Teams,
}

/// Syslog delivery settings.
#[derive(Debug, Clone)]
pub struct SyslogConfig {
    /// `host:port` of the collector.
    pub address: String,
    pub transport: SyslogTransport,
    pub ca_file: Option<PathBuf>,
    pub format: SyslogFormat,
    pub app_name: String,
}

/// How syslog messages travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyslogTransport {
    /// One datagram per message (RFC 5426).
    Udp,
    /// Octet-counted frames over TCP (RFC 6587).
    Tcp,
    /// Octet-counted frames over TLS (RFC 5425).
    Tls,
}

/// What a syslog message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyslogFormat {
    /// RFC 5424 with structured data and a short message.
    Rfc5424,
    /// RFC 5424 whose message is an ArcSight CEF event.
    Cef,
}

impl SinkConfig {
    /// Sinks that notify people merge identical alerts and defang what they show.
    pub fn notifies_people(&self) -> bool {
        matches!(
            self.kind,
            SinkKind::Eml { .. } | SinkKind::Email(_) | SinkKind::Webhook(_)
        )
    }
}

/// A configuration problem, with the line it is on when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "line {l}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Every problem found in a configuration file.
#[derive(Debug, thiserror::Error)]
#[error("{}", render_problems(.path, .problems))]
pub struct ConfigError {
    pub path: String,
    pub problems: Vec<ConfigProblem>,
}

fn render_problems(path: &str, problems: &[ConfigProblem]) -> String {
    problems
        .iter()
        .map(|p| format!("{path}: {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    storage: Option<RawStorage>,
    #[serde(default)]
    sources: Vec<toml::Spanned<RawSource>>,
    watch: Option<RawWatch>,
    #[serde(default)]
    rules: Vec<toml::Spanned<RawRule>>,
    #[serde(default)]
    sinks: Vec<toml::Spanned<RawSink>>,
    alerts: Option<RawAlerts>,
    pipeline: Option<RawPipeline>,
    web: Option<toml::Spanned<RawWeb>>,
    actors: Option<RawActors>,
    summary: Option<RawSummary>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSummary {
    every: Option<String>,
    hour: Option<u8>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWeb {
    enabled: Option<bool>,
    bind: Option<String>,
    access_token_env: Option<String>,
    access_token_file: Option<PathBuf>,
    user: Option<String>,
    password_env: Option<String>,
    password_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawActors {
    csv: Option<PathBuf>,
    silence_days: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    path: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWatch {
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    domains: Vec<String>,
    #[serde(default)]
    accounts: Vec<String>,
    #[serde(default)]
    sltt_domains: bool,
    severity: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    query: toml::Spanned<String>,
    severity: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
}

/// Every key any source kind takes; [`validate_source`] checks which belong to which kind.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    kind: String,
    bearer_token_env: Option<String>,
    bearer_token_file: Option<PathBuf>,
    base_url: Option<String>,
    rule_tag_prefix: Option<String>,
    backfill_minutes: Option<u8>,
    max_rules: Option<usize>,
    max_rule_len: Option<usize>,
    instance: Option<String>,
    streams: Option<Vec<String>>,
    access_token_env: Option<String>,
    access_token_file: Option<PathBuf>,
    url: Option<String>,
    compress: Option<bool>,
    zstd_dictionary: Option<PathBuf>,
    wanted_dids: Option<Vec<String>>,
    resolver: Option<String>,
    stall_timeout_secs: Option<u64>,
    rewind_secs: Option<u64>,
}

/// Every key any sink kind takes; [`validate_sink`] checks which belong to which kind.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSink {
    kind: String,
    name: Option<String>,
    min_severity: Option<String>,
    path: Option<PathBuf>,
    dir: Option<PathBuf>,
    smtp_url: Option<String>,
    tls: Option<String>,
    ca_file: Option<PathBuf>,
    password_env: Option<String>,
    password_file: Option<PathBuf>,
    from: Option<String>,
    to: Option<Vec<String>>,
    auth: Option<String>,
    max_severity: Option<String>,
    retry_base_ms: Option<u64>,
    retry_max_ms: Option<u64>,
    timeout_secs: Option<u64>,
    rate_per_minute: Option<u32>,
    digest_minutes: Option<u32>,
    defang: Option<bool>,
    notices: Option<bool>,
    url: Option<String>,
    secret_env: Option<String>,
    secret_file: Option<PathBuf>,
    preset: Option<String>,
    headers: Option<std::collections::BTreeMap<String, String>>,
    headers_env: Option<std::collections::BTreeMap<String, String>>,
    address: Option<String>,
    transport: Option<String>,
    format: Option<String>,
    app_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlerts {
    merge_window_minutes: Option<i64>,
    defang: Option<bool>,
    timezone: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPipeline {
    max_line_bytes: Option<usize>,
    workers: Option<usize>,
}

/// The default `.eml` outbox directory and terminal sink used when a config names no sinks.
pub const DEFAULT_EML_DIR: &str = "outbox";
/// The default SQLite file.
pub const DEFAULT_DB: &str = "streamer.db";

impl Config {
    /// Built-in defaults: SQLite at `./streamer.db`, terminal and `.eml` files under `./outbox/`.
    pub fn defaults() -> Config {
        Config::from_raw(RawConfig::default(), None, "").expect("defaults are valid")
    }

    /// The configuration for a command: `--config FILE`, else `./streamer.toml` if present,
    /// else the defaults.
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        match explicit {
            Some(p) => Config::from_file(p),
            None if Path::new("streamer.toml").exists() => {
                Config::from_file(Path::new("streamer.toml"))
            }
            None => Ok(Config::defaults()),
        }
    }

    /// Reads and validates one file.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.display().to_string(),
            problems: vec![ConfigProblem {
                line: None,
                message: format!("cannot read: {e}"),
            }],
        })?;
        Config::from_str(&text, Some(path))
    }

    /// Parses and validates TOML text (`path` is for messages and relative paths).
    pub fn from_str(text: &str, path: Option<&Path>) -> Result<Config, ConfigError> {
        let shown = path
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "config".into());
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError {
            path: shown.clone(),
            problems: vec![toml_problem(&e, text)],
        })?;
        Config::from_raw(raw, path, text).map_err(|problems| ConfigError {
            path: shown,
            problems,
        })
    }

    fn from_raw(
        raw: RawConfig,
        path: Option<&Path>,
        text: &str,
    ) -> Result<Config, Vec<ConfigProblem>> {
        let mut problems = Vec::new();
        // Line starts, so each span maps to its line by binary search (configs can hold 100k rules).
        let starts: Vec<usize> = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let line_of = |offset: usize| Some(starts.partition_point(|&s| s <= offset));

        let storage = StorageConfig {
            path: raw
                .storage
                .and_then(|s| s.path)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DB)),
        };

        let raw_watch = raw.watch.unwrap_or_default();
        let watch_severity = parse_severity(raw_watch.severity.as_deref(), None, &mut problems)
            .unwrap_or(Severity::Medium);
        for a in &raw_watch.accounts {
            if let Some(h) = crate::handles::account_handle(a) {
                if streamer_sources::handles::normalize_handle(h).is_none() {
                    problems.push(ConfigProblem {
                        line: None,
                        message: format!(
                            "watch.accounts entry {a:?}: {h:?} is not a valid Bluesky handle (bluesky:@alice.bsky.social)"
                        ),
                    });
                }
            }
        }
        let watch = WatchSpec {
            keywords: raw_watch.keywords,
            domains: raw_watch.domains,
            accounts: raw_watch.accounts,
            sltt_domains: raw_watch.sltt_domains,
            severity: watch_severity,
        };

        let mut watch = watch;
        let actors = load_actors(raw.actors, path, &mut watch, &mut problems);
        let summary = raw.summary.and_then(|s| {
            let hour = s.hour.unwrap_or(8);
            let every = s.every.as_deref().unwrap_or("daily");
            let schedule = crate::summary::Schedule::parse(every, hour);
            if let Err(e) = &schedule {
                problems.push(ConfigProblem {
                    line: None,
                    message: format!("summary: {e}"),
                });
            }
            schedule.ok().flatten()
        });

        let mut rules = Vec::new();
        for spanned in raw.rules {
            let line = line_of(spanned.span().start);
            let r = spanned.into_inner();
            let severity = parse_severity(r.severity.as_deref(), line, &mut problems)
                .unwrap_or(Severity::Medium);
            let query_line = line_of(r.query.span().start);
            rules.push(RuleSpec {
                id: r.id,
                query: r.query.into_inner(),
                severity,
                tags: r.tags,
                line: query_line,
            });
        }

        let mut sources = Vec::new();
        for spanned in raw.sources {
            let line = line_of(spanned.span().start);
            if let Some(s) = validate_source(spanned.into_inner(), line, &mut problems) {
                sources.push(s);
            }
        }

        let mut sinks: Vec<SinkConfig> = Vec::new();
        for spanned in raw.sinks {
            let line = line_of(spanned.span().start);
            if let Some(s) = validate_sink(spanned.into_inner(), line, &sinks, &mut problems) {
                sinks.push(s);
            }
        }
        if sinks.is_empty() {
            sinks = default_sinks();
        }

        let raw_alerts = raw.alerts;
        let alerts = AlertsConfig {
            merge_window_secs: raw_alerts
                .as_ref()
                .and_then(|a| a.merge_window_minutes)
                .unwrap_or(10)
                .max(0)
                * 60,
            defang: raw_alerts.as_ref().and_then(|a| a.defang).unwrap_or(true),
            timezone: raw_alerts.and_then(|a| a.timezone),
        };
        if let Some(tz) = &alerts.timezone {
            if jiff::tz::TimeZone::get(tz).is_err() {
                problems.push(ConfigProblem {
                    line: None,
                    message: format!("alerts.timezone: unknown time zone {tz:?}"),
                });
            }
        }

        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let raw_pipeline = raw.pipeline;
        let pipeline = PipelineConfig {
            max_line_bytes: raw_pipeline
                .as_ref()
                .and_then(|p| p.max_line_bytes)
                .unwrap_or(1 << 20),
            workers: raw_pipeline
                .and_then(|p| p.workers)
                .unwrap_or(cores)
                .clamp(1, 64),
        };

        let web = match raw.web {
            Some(spanned) => {
                let line = line_of(spanned.span().start);
                validate_web(spanned.into_inner(), line, &mut problems)
            }
            None => WebConfig::default(),
        };

        // The rules themselves are checked by the rules compiler, which knows the grammar.
        if let Err(errors) = streamer_rules::compile(&rules, &watch) {
            for e in errors {
                problems.push(ConfigProblem {
                    line: None,
                    message: e.to_string(),
                });
            }
        }

        if !problems.is_empty() {
            return Err(problems);
        }
        let base = path.and_then(|p| p.parent()).map(Path::to_path_buf);
        let mut config = Config {
            path: path.map(Path::to_path_buf),
            storage,
            sources,
            watch,
            rules,
            sinks,
            alerts,
            pipeline,
            web,
            actors,
            summary,
        };
        if let Some(base) = base {
            config.resolve_relative_paths(&base);
        }
        Ok(config)
    }

    /// Secret files (and the config file) that other users can read: a warning, not an error,
    /// since some deployments share a group on purpose.
    pub fn permission_warnings(&self) -> Vec<String> {
        use std::os::unix::fs::PermissionsExt;
        let mut copy = self.clone();
        let files: Vec<(&str, PathBuf)> = copy
            .secret_slots()
            .into_iter()
            .filter_map(|s| match s {
                Secret::File(p) => Some(("secret file", p.clone())),
                Secret::Env(_) => None,
            })
            .collect();
        let mut warnings = Vec::new();
        for (what, path) in files {
            if let Ok(meta) = std::fs::metadata(&path) {
                if meta.permissions().mode() & 0o077 != 0 {
                    warnings.push(format!(
                        "{what} {} is readable by other users (mode {:o}); chmod 600 it",
                        path.display(),
                        meta.permissions().mode() & 0o777
                    ));
                }
            }
        }
        if let Some(path) = &self.path {
            if let Ok(meta) = std::fs::metadata(path) {
                let mode = meta.permissions().mode();
                if mode & 0o002 != 0 {
                    warnings.push(format!(
                        "config file {} is writable by every user",
                        path.display()
                    ));
                }
                // The only values in the file that can be credentials: webhook headers.
                let headers: Vec<&str> = self
                    .sinks
                    .iter()
                    .filter_map(|s| match &s.kind {
                        SinkKind::Webhook(w) if !w.headers.is_empty() => Some(s.name.as_str()),
                        _ => None,
                    })
                    .collect();
                if mode & 0o044 != 0 && !headers.is_empty() {
                    warnings.push(format!(
                        "config file {} is readable by other users and holds the literal `headers` of webhook sink(s) {} (often a credential); chmod 600 it",
                        path.display(),
                        headers.join(", ")
                    ));
                }
            }
        }
        warnings
    }

    /// Paths in a config file are relative to the file, so a config works from any directory.
    /// Every secret the config names, wherever it sits.
    fn secret_slots(&mut self) -> Vec<&mut Secret> {
        let mut slots: Vec<&mut Secret> = Vec::new();
        for source in &mut self.sources {
            match source {
                SourceConfig::X { bearer_token, .. } => slots.push(bearer_token),
                SourceConfig::Mastodon { access_token, .. } => slots.extend(access_token.as_mut()),
                SourceConfig::Bluesky { .. } => {}
            }
        }
        for sink in &mut self.sinks {
            match &mut sink.kind {
                SinkKind::Email(e) => slots.extend(e.password.as_mut()),
                SinkKind::Webhook(w) => {
                    slots.extend(w.secret.as_mut());
                    slots.extend(w.secret_headers.iter_mut().map(|(_, s)| s));
                }
                _ => {}
            }
        }
        slots.extend(self.web.access_token.as_mut());
        slots.extend(self.web.password.as_mut());
        slots
    }

    fn resolve_relative_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() && !base.as_os_str().is_empty() {
                *p = base.join(&*p);
            }
        };
        fix(&mut self.storage.path);
        for secret in self.secret_slots() {
            if let Secret::File(p) = secret {
                fix(p);
            }
        }
        for source in &mut self.sources {
            if let SourceConfig::Bluesky {
                zstd_dictionary: Some(dict),
                ..
            } = source
            {
                fix(dict);
            }
        }
        for sink in &mut self.sinks {
            match &mut sink.kind {
                SinkKind::Jsonl { path } => fix(path),
                SinkKind::Eml { dir, .. } => fix(dir),
                SinkKind::Email(e) => {
                    if let Some(ca) = &mut e.ca_file {
                        fix(ca)
                    }
                }
                SinkKind::Syslog(c) => {
                    if let Some(ca) = &mut c.ca_file {
                        fix(ca)
                    }
                }
                SinkKind::Terminal | SinkKind::Webhook(_) => {}
            }
        }
    }
}

/// Reads the `[actors]` sheet (relative to the config file) and adds its accounts to the
/// account rules, so every post of a watched account alerts without a keyword.
fn load_actors(
    raw: Option<RawActors>,
    config_path: Option<&Path>,
    watch: &mut WatchSpec,
    problems: &mut Vec<ConfigProblem>,
) -> crate::actors::ActorsConfig {
    let mut actors = crate::actors::ActorsConfig::default();
    let Some(raw) = raw else { return actors };
    if let Some(days) = raw.silence_days {
        actors.silence_days = days;
    }
    let Some(mut csv) = raw.csv else {
        return actors;
    };
    if let Some(base) = config_path.and_then(|p| p.parent()) {
        if csv.is_relative() && !base.as_os_str().is_empty() {
            csv = base.join(csv);
        }
    }
    match std::fs::read_to_string(&csv) {
        Err(e) => problems.push(ConfigProblem {
            line: None,
            message: format!("actors.csv: cannot read {}: {e}", csv.display()),
        }),
        Ok(text) => match crate::actors::Watchlist::from_csv(&text) {
            Ok(list) => {
                for key in list.account_keys() {
                    if !watch.accounts.contains(&key) {
                        watch.accounts.push(key);
                    }
                }
                actors.watchlist = std::sync::Arc::new(list);
            }
            Err(sheet) => {
                for p in sheet {
                    problems.push(ConfigProblem {
                        line: None,
                        message: format!("actors.csv {}: {p}", csv.display()),
                    });
                }
            }
        },
    }
    actors.csv = Some(csv);
    actors
}

fn default_sinks() -> Vec<SinkConfig> {
    vec![
        SinkConfig {
            name: "terminal".into(),
            min_severity: Severity::Info,
            max_severity: Severity::Critical,
            kind: SinkKind::Terminal,
            delivery: DeliverySettings::default(),
            defang: None,
            notices: true,
        },
        SinkConfig {
            name: "eml".into(),
            min_severity: Severity::Info,
            max_severity: Severity::Critical,
            kind: SinkKind::Eml {
                dir: PathBuf::from(DEFAULT_EML_DIR),
                from: "streamer@localhost".into(),
                to: vec!["analyst@localhost".into()],
            },
            delivery: DeliverySettings::default(),
            defang: None,
            notices: true,
        },
    ]
}

fn toml_problem(e: &toml::de::Error, text: &str) -> ConfigProblem {
    let line = e
        .span()
        .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
    ConfigProblem {
        line,
        message: e.message().trim().to_string(),
    }
}

fn parse_severity(
    s: Option<&str>,
    line: Option<usize>,
    problems: &mut Vec<ConfigProblem>,
) -> Option<Severity> {
    let s = s?;
    let sev = Severity::parse(s);
    if sev.is_none() {
        problems.push(ConfigProblem {
            line,
            message: format!("severity {s:?} is not one of info, low, medium, high, critical"),
        });
    }
    sev
}

/// Reports keys set on a table that its kind does not take.
/// Keys that belong to some kinds only, as `(key, set in the file, kinds it applies to)`:
/// each one set on another kind is a mistake worth naming.
fn reject_foreign_keys(
    kind: &str,
    line: Option<usize>,
    keys: &[(&str, bool, &[&str])],
    problems: &mut Vec<ConfigProblem>,
) {
    for (key, set, kinds) in keys {
        if *set && !kinds.contains(&kind) {
            problems.push(ConfigProblem {
                line,
                message: format!("key `{key}` does not apply to kind = \"{kind}\""),
            });
        }
    }
}

fn validate_source(
    r: RawSource,
    line: Option<usize>,
    problems: &mut Vec<ConfigProblem>,
) -> Option<SourceConfig> {
    let missing = |key: &str, problems: &mut Vec<ConfigProblem>| {
        problems.push(ConfigProblem {
            line,
            message: format!("source kind = \"{}\" needs `{key}`", r.kind),
        })
    };
    // Which kinds take each kind-specific key (`stall_timeout_secs` applies to all): a key
    // set on a kind that ignores it is a mistake worth naming.
    const X: &[&str] = &["x"];
    const MASTODON: &[&str] = &["mastodon"];
    const BLUESKY: &[&str] = &["bluesky"];
    let specific: [(&str, bool, &[&str]); 17] = [
        ("bearer_token_env", r.bearer_token_env.is_some(), X),
        ("bearer_token_file", r.bearer_token_file.is_some(), X),
        ("base_url", r.base_url.is_some(), X),
        ("rule_tag_prefix", r.rule_tag_prefix.is_some(), X),
        ("backfill_minutes", r.backfill_minutes.is_some(), X),
        ("max_rules", r.max_rules.is_some(), X),
        ("max_rule_len", r.max_rule_len.is_some(), X),
        ("instance", r.instance.is_some(), MASTODON),
        ("streams", r.streams.is_some(), MASTODON),
        ("access_token_env", r.access_token_env.is_some(), MASTODON),
        ("access_token_file", r.access_token_file.is_some(), MASTODON),
        ("url", r.url.is_some(), BLUESKY),
        ("compress", r.compress.is_some(), BLUESKY),
        ("zstd_dictionary", r.zstd_dictionary.is_some(), BLUESKY),
        ("wanted_dids", r.wanted_dids.is_some(), BLUESKY),
        ("resolver", r.resolver.is_some(), BLUESKY),
        ("rewind_secs", r.rewind_secs.is_some(), BLUESKY),
    ];
    if matches!(r.kind.as_str(), "x" | "mastodon" | "bluesky") {
        reject_foreign_keys(&r.kind, line, &specific, problems);
    }
    match r.kind.as_str() {
        "x" => {
            let stall_timeout_secs = stall_timeout(r.stall_timeout_secs, 30, line, problems);
            let Some(bearer_token) = Secret::from_pair(
                r.bearer_token_env.clone(),
                r.bearer_token_file.clone(),
                "bearer_token",
                line,
                problems,
            ) else {
                missing("bearer_token_env", problems);
                return None;
            };
            Some(SourceConfig::X {
                bearer_token,
                base_url: r.base_url.unwrap_or_else(|| "https://api.x.com".into()),
                rule_tag_prefix: r.rule_tag_prefix.unwrap_or_else(|| "streamer:".into()),
                backfill_minutes: r.backfill_minutes.map(|m| m.min(5)),
                max_rules: r.max_rules.unwrap_or(1000),
                max_rule_len: r.max_rule_len.unwrap_or(1024),
                stall_timeout_secs,
            })
        }
        "mastodon" => {
            let stall_timeout_secs = stall_timeout(r.stall_timeout_secs, 45, line, problems);
            let Some(instance) = r.instance.clone() else {
                missing("instance", problems);
                return None;
            };
            if !(instance.starts_with("https://") || instance.starts_with("http://")) {
                problems.push(ConfigProblem {
                    line,
                    message: format!(
                        "instance {instance:?} must be a URL: https://HOST (http:// for tests)"
                    ),
                });
            }
            let streams = r.streams.unwrap_or_else(|| vec!["public".into()]);
            if streams.is_empty() {
                problems.push(ConfigProblem {
                    line,
                    message: "streams is empty: name at least one (e.g. \"public\")".into(),
                });
            }
            for s in &streams {
                if let Err(e) = streamer_sources::mastodon::Stream::parse(s) {
                    problems.push(ConfigProblem {
                        line,
                        message: e.to_string(),
                    });
                }
            }
            Some(SourceConfig::Mastodon {
                instance: instance.trim_end_matches('/').to_string(),
                streams,
                access_token: Secret::from_pair(
                    r.access_token_env,
                    r.access_token_file,
                    "access_token",
                    line,
                    problems,
                ),
                stall_timeout_secs,
            })
        }
        "bluesky" => {
            let compress = r.compress.unwrap_or(false);
            if compress && r.zstd_dictionary.is_none() {
                missing("zstd_dictionary (compress = true)", problems);
            }
            let stall_timeout_secs = stall_timeout(r.stall_timeout_secs, 60, line, problems);
            let url = r
                .url
                .unwrap_or_else(|| "wss://jetstream2.us-east.bsky.network/subscribe".into());
            if !(url.starts_with("wss://") || url.starts_with("ws://")) {
                problems.push(ConfigProblem {
                    line,
                    message: format!("url {url:?} must be a WebSocket URL: wss://HOST/subscribe"),
                });
            }
            let wanted_dids = r.wanted_dids.unwrap_or_default();
            for did in &wanted_dids {
                let is_did = did.starts_with("did:") && did.len() > 4;
                if !is_did && streamer_sources::handles::normalize_handle(did).is_none() {
                    problems.push(ConfigProblem {
                        line,
                        message: format!(
                            "wanted_dids entry {did:?} is neither a DID (did:plc:… or did:web:…) nor a handle (alice.bsky.social)"
                        ),
                    });
                }
            }
            let resolver = r
                .resolver
                .unwrap_or_else(|| streamer_sources::handles::DEFAULT_RESOLVER.into());
            if !(resolver.starts_with("https://") || resolver.starts_with("http://")) {
                problems.push(ConfigProblem {
                    line,
                    message: format!(
                        "resolver {resolver:?} must be a URL: https://HOST (http:// for tests)"
                    ),
                });
            }
            Some(SourceConfig::Bluesky {
                url,
                compress,
                zstd_dictionary: r.zstd_dictionary,
                wanted_dids,
                resolver: resolver.trim_end_matches('/').to_string(),
                stall_timeout_secs,
                rewind_secs: r.rewind_secs.unwrap_or(5),
            })
        }
        other => {
            problems.push(ConfigProblem {
                line,
                message: format!("unknown source kind {other:?} (expected x, mastodon or bluesky)"),
            });
            None
        }
    }
}

fn validate_web(r: RawWeb, line: Option<usize>, problems: &mut Vec<ConfigProblem>) -> WebConfig {
    let mut web = WebConfig {
        enabled: r.enabled.unwrap_or(true),
        access_token: Secret::from_pair(
            r.access_token_env,
            r.access_token_file,
            "access_token",
            line,
            problems,
        ),
        user: r.user,
        password: Secret::from_pair(r.password_env, r.password_file, "password", line, problems),
        ..WebConfig::default()
    };
    if let Some(bind) = r.bind {
        match bind.parse::<std::net::SocketAddr>() {
            Ok(addr) => web.bind = addr,
            Err(_) => problems.push(ConfigProblem {
                line,
                message: format!(
                    "web.bind = {bind:?} is not an address with a port (e.g. \"127.0.0.1:8080\")"
                ),
            }),
        }
    }
    if web.user.is_some() != web.password.is_some() {
        problems.push(ConfigProblem {
            line,
            message: "web: basic auth needs both `user` and `password_env` (or `password_file`)"
                .into(),
        });
    }
    if !web.bind.ip().is_loopback() && !web.has_auth() {
        problems.push(ConfigProblem {
            line,
            message: format!(
                "web.bind = \"{}\" is not a loopback address: configure `access_token_env` \
                 (or `access_token_file`), or `user` with `password_env`, so that only analysts \
                 reach the dashboard",
                web.bind
            ),
        });
    }
    web
}

/// A stall timeout in seconds: at least 1 (a source that never waits would hot-loop).
fn stall_timeout(
    value: Option<u64>,
    default: u64,
    line: Option<usize>,
    problems: &mut Vec<ConfigProblem>,
) -> u64 {
    match value {
        Some(0) => {
            problems.push(ConfigProblem {
                line,
                message: "stall_timeout_secs must be at least 1".into(),
            });
            default
        }
        Some(v) => v,
        None => default,
    }
}

fn validate_sink(
    r: RawSink,
    line: Option<usize>,
    earlier: &[SinkConfig],
    problems: &mut Vec<ConfigProblem>,
) -> Option<SinkConfig> {
    let min_severity =
        parse_severity(r.min_severity.as_deref(), line, problems).unwrap_or(Severity::Info);
    let max_severity =
        parse_severity(r.max_severity.as_deref(), line, problems).unwrap_or(Severity::Critical);
    if max_severity < min_severity {
        problems.push(ConfigProblem {
            line,
            message: format!(
                "`max_severity` ({max_severity}) is below `min_severity` ({min_severity}): the sink would get nothing"
            ),
        });
    }
    let name = r.name.clone().unwrap_or_else(|| {
        let n = earlier
            .iter()
            .filter(|s| s.name.starts_with(&r.kind))
            .count();
        if n == 0 {
            r.kind.clone()
        } else {
            format!("{}-{}", r.kind, n + 1)
        }
    });
    if earlier.iter().any(|s| s.name == name) {
        problems.push(ConfigProblem {
            line,
            message: format!("two sinks are named {name:?}: give each a unique `name`"),
        });
    }
    let kind_name = r.kind.clone();
    let need = |key: &str, v: Option<String>, problems: &mut Vec<ConfigProblem>| {
        if v.is_none() {
            problems.push(ConfigProblem {
                line,
                message: format!("sink kind = \"{kind_name}\" needs `{key}`"),
            });
        }
        v
    };
    let bad_value = |key: &str, v: &str, allowed: &str, problems: &mut Vec<ConfigProblem>| {
        problems.push(ConfigProblem {
            line,
            message: format!("`{key}` = {v:?} is not one of {allowed}"),
        });
    };
    const EMAIL: &[&str] = &["email"];
    const WEBHOOK: &[&str] = &["webhook"];
    const SYSLOG: &[&str] = &["syslog"];
    let specific: [(&str, bool, &[&str]); 20] = [
        ("smtp_url", r.smtp_url.is_some(), EMAIL),
        ("tls", r.tls.is_some(), EMAIL),
        ("password_env", r.password_env.is_some(), EMAIL),
        ("password_file", r.password_file.is_some(), EMAIL),
        ("auth", r.auth.is_some(), EMAIL),
        ("url", r.url.is_some(), WEBHOOK),
        ("secret_env", r.secret_env.is_some(), WEBHOOK),
        ("secret_file", r.secret_file.is_some(), WEBHOOK),
        ("preset", r.preset.is_some(), WEBHOOK),
        ("headers", r.headers.is_some(), WEBHOOK),
        ("headers_env", r.headers_env.is_some(), WEBHOOK),
        ("address", r.address.is_some(), SYSLOG),
        ("transport", r.transport.is_some(), SYSLOG),
        ("format", r.format.is_some(), SYSLOG),
        ("app_name", r.app_name.is_some(), SYSLOG),
        ("from", r.from.is_some(), &["email", "eml"]),
        ("to", r.to.is_some(), &["email", "eml"]),
        ("ca_file", r.ca_file.is_some(), &["email", "syslog"]),
        ("path", r.path.is_some(), &["jsonl"]),
        ("dir", r.dir.is_some(), &["eml"]),
    ];
    reject_foreign_keys(&r.kind, line, &specific, problems);
    let kind = match r.kind.as_str() {
        "terminal" => SinkKind::Terminal,
        "jsonl" => SinkKind::Jsonl {
            path: need(
                "path",
                r.path.clone().map(|p| p.display().to_string()),
                problems,
            )?
            .into(),
        },
        "eml" => SinkKind::Eml {
            dir: r
                .dir
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_EML_DIR)),
            from: r
                .from
                .clone()
                .unwrap_or_else(|| "streamer@localhost".into()),
            to: r
                .to
                .clone()
                .unwrap_or_else(|| vec!["analyst@localhost".into()]),
        },
        "email" => {
            let tls = match r.tls.as_deref().unwrap_or("required") {
                "required" => TlsMode::Required,
                "opportunistic" => TlsMode::Opportunistic,
                "none" => TlsMode::None,
                other => {
                    bad_value("tls", other, "required, opportunistic, none", problems);
                    TlsMode::Required
                }
            };
            let auth = match r.auth.as_deref() {
                None => None,
                Some("plain") => Some(SmtpAuth::Plain),
                Some("login") => Some(SmtpAuth::Login),
                Some("xoauth2") => Some(SmtpAuth::Xoauth2),
                Some(other) => {
                    bad_value("auth", other, "plain, login, xoauth2", problems);
                    None
                }
            };
            let smtp_url = need("smtp_url", r.smtp_url.clone(), problems)?;
            if !(smtp_url.starts_with("smtp://") || smtp_url.starts_with("smtps://")) {
                problems.push(ConfigProblem {
                    line,
                    message: format!(
                        "`smtp_url` = {smtp_url:?} must start with smtp:// (STARTTLS) or smtps:// (implicit TLS)"
                    ),
                });
            }
            let from = need("from", r.from.clone(), problems)?;
            let to = r.to.clone().unwrap_or_default();
            if to.is_empty() {
                problems.push(ConfigProblem {
                    line,
                    message: "sink kind = \"email\" needs `to` (a list of addresses)".into(),
                });
                return None;
            }
            SinkKind::Email(EmailConfig {
                smtp_url,
                tls,
                ca_file: r.ca_file.clone(),
                password: Secret::from_pair(
                    r.password_env.clone(),
                    r.password_file.clone(),
                    "password",
                    line,
                    problems,
                ),
                auth,
                from,
                to,
            })
        }
        "webhook" => {
            let url = need("url", r.url.clone(), problems)?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                problems.push(ConfigProblem {
                    line,
                    message: format!("`url` = {url:?} must start with http:// or https://"),
                });
            }
            let preset = match r.preset.as_deref().unwrap_or("json") {
                "json" => WebhookPreset::Json,
                "slack" => WebhookPreset::Slack,
                "teams" => WebhookPreset::Teams,
                other => {
                    bad_value("preset", other, "json, slack, teams", problems);
                    WebhookPreset::Json
                }
            };
            let headers: Vec<(String, String)> =
                r.headers.clone().unwrap_or_default().into_iter().collect();
            let secret_headers: Vec<(String, String)> = r
                .headers_env
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect();
            let valid_name = |k: &str| {
                !k.is_empty()
                    && k.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
            };
            for (k, v) in &headers {
                if !valid_name(k) || v.chars().any(|c| c.is_control()) {
                    problems.push(ConfigProblem {
                        line,
                        message: format!("`headers`: {k:?} is not a valid header name and value"),
                    });
                }
            }
            for (k, var) in &secret_headers {
                if !valid_name(k) || var.is_empty() {
                    problems.push(ConfigProblem {
                        line,
                        message: format!(
                            "`headers_env`: {k:?} must be a valid header name mapped to an environment variable's name"
                        ),
                    });
                }
                if headers.iter().any(|(h, _)| h.eq_ignore_ascii_case(k)) {
                    problems.push(ConfigProblem {
                        line,
                        message: format!("header {k:?} is in both `headers` and `headers_env`"),
                    });
                }
            }
            SinkKind::Webhook(WebhookConfig {
                url,
                secret: Secret::from_pair(
                    r.secret_env.clone(),
                    r.secret_file.clone(),
                    "secret",
                    line,
                    problems,
                ),
                preset,
                headers,
                secret_headers: secret_headers
                    .into_iter()
                    .map(|(k, var)| (k, Secret::Env(var)))
                    .collect(),
            })
        }
        "syslog" => {
            let address = need("address", r.address.clone(), problems)?;
            if address
                .rsplit_once(':')
                .and_then(|(_, p)| p.parse::<u16>().ok())
                .is_none()
            {
                problems.push(ConfigProblem {
                    line,
                    message: format!("`address` = {address:?} needs a port (host:port)"),
                });
            }
            let transport = match r.transport.as_deref().unwrap_or("udp") {
                "udp" => SyslogTransport::Udp,
                "tcp" => SyslogTransport::Tcp,
                "tls" => SyslogTransport::Tls,
                other => {
                    bad_value("transport", other, "udp, tcp, tls", problems);
                    SyslogTransport::Udp
                }
            };
            let format = match r.format.as_deref().unwrap_or("rfc5424") {
                "rfc5424" => SyslogFormat::Rfc5424,
                "cef" => SyslogFormat::Cef,
                other => {
                    bad_value("format", other, "rfc5424, cef", problems);
                    SyslogFormat::Rfc5424
                }
            };
            let app_name = r.app_name.clone().unwrap_or_else(|| "streamer".into());
            if app_name.is_empty()
                || app_name.len() > 48
                || !app_name.bytes().all(|b| (33..=126).contains(&b))
            {
                problems.push(ConfigProblem {
                    line,
                    message: format!(
                        "`app_name` = {app_name:?} must be 1 to 48 printable ASCII characters without spaces"
                    ),
                });
            }
            SinkKind::Syslog(SyslogConfig {
                address,
                transport,
                ca_file: r.ca_file.clone(),
                format,
                app_name,
            })
        }
        other => {
            problems.push(ConfigProblem {
                line,
                message: format!(
                    "unknown sink kind {other:?} (expected terminal, jsonl, eml, email, webhook or syslog)"
                ),
            });
            return None;
        }
    };
    let defaults = DeliverySettings::default();
    let delivery = DeliverySettings {
        retry_base_ms: r.retry_base_ms.unwrap_or(defaults.retry_base_ms).max(1),
        retry_max_ms: r.retry_max_ms.unwrap_or(defaults.retry_max_ms).max(1),
        timeout_ms: r
            .timeout_secs
            .map(|s| s.saturating_mul(1000))
            .unwrap_or(defaults.timeout_ms)
            .max(1000),
        rate_per_minute: r.rate_per_minute,
        digest_minutes: r.digest_minutes,
    };
    for (key, v) in [
        ("rate_per_minute", r.rate_per_minute),
        ("digest_minutes", r.digest_minutes),
    ] {
        if v == Some(0) {
            problems.push(ConfigProblem {
                line,
                message: format!("`{key}` must be at least 1 (leave it out to turn it off)"),
            });
        }
    }
    if delivery.digest_minutes.is_some() && matches!(kind, SinkKind::Jsonl { .. }) {
        problems.push(ConfigProblem {
            line,
            message: "`digest_minutes` does not apply to kind = \"jsonl\" (it writes every alert)"
                .into(),
        });
    }
    Some(SinkConfig {
        name,
        min_severity,
        max_severity,
        // The jsonl sink is the alert-record contract: one record per line, no notices.
        notices: r.notices.unwrap_or(!matches!(kind, SinkKind::Jsonl { .. })),
        kind,
        delivery,
        defang: r.defang,
    })
}

/// The host part of a URL-ish string (`https://infosec.exchange/` → `infosec.exchange`).
pub fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let host = host.rsplit_once('@').map(|(_, h)| h).unwrap_or(host);
    match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) && !h.is_empty() => {
            h.to_string()
        }
        _ => host.to_string(),
    }
    .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_have_terminal_and_eml_sinks() {
        let c = Config::defaults();
        assert_eq!(c.storage.path, PathBuf::from("streamer.db"));
        let names: Vec<_> = c.sinks.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["terminal", "eml"]);
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let text = "[storage]\npath = \"x.db\"\n\n[watch]\nkeywords = [\"a\"]\nkeyword = [\"b\"]\n";
        let err = Config::from_str(text, None).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("keyword"), "{msg}");
        assert!(msg.contains("line 6"), "{msg}");
    }

    #[test]
    fn sink_key_of_another_kind_is_reported_with_line() {
        let text =
            "[[sinks]]\nkind = \"jsonl\"\npath = \"a.jsonl\"\n\n[[sinks]]\nkind = \"bogus\"\n";
        let err = Config::from_str(text, None).unwrap_err();
        assert_eq!(err.problems.len(), 1);
        assert_eq!(err.problems[0].line, Some(5));
        assert!(err.problems[0].message.contains("bogus"));
    }

    #[test]
    fn a_source_key_of_another_kind_is_named_with_its_line() {
        let text = "[[sources]]\nkind = \"mastodon\"\ninstance = \"https://m.example\"\nmax_rules = 5\nwanted_dids = [\"did:plc:a\"]\n";
        let err = Config::from_str(text, None).unwrap_err();
        let msgs: Vec<String> = err.problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(msgs.len(), 2, "{msgs:?}");
        assert!(
            msgs[0].contains("line 1")
                && msgs[0].contains("`max_rules`")
                && msgs[0].contains("mastodon")
        );
        assert!(msgs[1].contains("`wanted_dids`"));
        let ok = "[[sources]]\nkind = \"bluesky\"\nwanted_dids = [\"did:plc:a\"]\nstall_timeout_secs = 90\n";
        assert!(Config::from_str(ok, None).is_ok());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = "[[rules]]\nid = \"a\"\nquery = \"x\"\nseverity = \"urgent\"\n\n[[sources]]\nkind = \"x\"\n\n[[sinks]]\nkind = \"email\"\nfrom = \"a@b\"\n";
        let err = Config::from_str(text, None).unwrap_err();
        assert!(err.problems.len() >= 3, "{err}");
    }

    #[test]
    fn secrets_resolve_from_env_and_name_the_variable_when_missing() {
        let s = Secret::Env("STREAMER_TEST_SURELY_UNSET_VAR".into());
        let e = s.resolve().unwrap_err().to_string();
        assert!(e.contains("STREAMER_TEST_SURELY_UNSET_VAR"));
    }

    #[test]
    fn web_defaults_to_loopback_and_refuses_an_open_public_bind() {
        let c = Config::defaults();
        assert_eq!(c.web.bind.to_string(), "127.0.0.1:8080");
        assert!(c.web.enabled);
        let err = Config::from_str("[web]\nbind = \"0.0.0.0:8080\"\n", None).unwrap_err();
        assert!(err.to_string().contains("not a loopback"), "{err}");
        assert_eq!(err.problems[0].line, Some(1));
        let ok = Config::from_str(
            "[web]\nbind = \"0.0.0.0:8080\"\naccess_token_env = \"STREAMER_WEB_TOKEN\"\n",
            None,
        )
        .unwrap();
        assert_eq!(
            ok.web.access_token,
            Some(Secret::Env("STREAMER_WEB_TOKEN".into()))
        );
        let err = Config::from_str("[web]\nuser = \"ana\"\n", None).unwrap_err();
        assert!(err.to_string().contains("password_env"), "{err}");
        let err = Config::from_str("[web]\nbind = \"localhost\"\n", None).unwrap_err();
        assert!(err.to_string().contains("web.bind"), "{err}");
    }

    #[test]
    fn sink_keys_of_another_kind_are_named_with_their_line() {
        let text = "[[sinks]]\nkind = \"jsonl\"\npath = \"a.jsonl\"\nsmtp_url = \"smtp://h\"\nfrom = \"a@b.c\"\n\n[[sinks]]\nkind = \"eml\"\ndir = \"out\"\nfrom = \"a@b.c\"\nto = [\"d@e.f\"]\nca_file = \"ca.pem\"\n";
        let err = Config::from_str(text, None).unwrap_err().to_string();
        for want in [
            "line 1: key `smtp_url` does not apply to kind = \"jsonl\"",
            "line 1: key `from` does not apply to kind = \"jsonl\"",
            "line 7: key `ca_file` does not apply to kind = \"eml\"",
        ] {
            assert!(err.contains(want), "{want}\n{err}");
        }
        assert!(
            !err.contains("`path`") && !err.contains("`dir`") && !err.contains("`to`"),
            "{err}"
        );
    }

    #[test]
    fn a_secret_named_twice_is_a_problem_with_its_line() {
        let text = "[web]\nbind = \"127.0.0.1:8080\"\naccess_token_env = \"T\"\naccess_token_file = \"/run/t\"\n";
        let err = Config::from_str(text, None).unwrap_err().to_string();
        assert!(
            err.contains("line 1")
                && err.contains("`access_token_env` and `access_token_file` are both set"),
            "{err}"
        );
    }

    #[test]
    fn live_source_keys_are_validated_with_their_line() {
        let text = "[[sources]]\nkind = \"mastodon\"\ninstance = \"https://m.example\"\nstreams = [\"public\", \"federated\"]\nstall_timeout_secs = 0\n\n[[sources]]\nkind = \"bluesky\"\ncompress = true\nwanted_dids = [\"alice.bsky.social\"]\nrewind_secs = 10\n";
        let err = Config::from_str(text, None).unwrap_err().to_string();
        assert!(
            err.contains("line 1") && err.contains("\"federated\""),
            "{err}"
        );
        assert!(
            err.contains("stall_timeout_secs must be at least 1"),
            "{err}"
        );
        assert!(
            err.contains("line 7") && err.contains("zstd_dictionary"),
            "{err}"
        );
        assert!(
            !err.contains("alice.bsky.social"),
            "a handle is accepted: {err}"
        );
        let bad = "[[sources]]\nkind = \"bluesky\"\nwanted_dids = [\"did:plc:a\", \"@alice.bsky.social\", \"not a handle\"]\nresolver = \"ftp://r\"\n\n[watch]\naccounts = [\"bluesky:@ok.bsky.social\", \"bluesky:@bad_handle\"]\n";
        let err = Config::from_str(bad, None).unwrap_err();
        let msgs: Vec<String> = err.problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(msgs.len(), 3, "{msgs:?}");
        assert!(
            msgs.iter()
                .any(|m| m.contains("line 1") && m.contains("\"not a handle\" is neither a DID")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.contains("line 1") && m.contains("resolver \"ftp://r\"")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter().any(|m| m.contains("\"bluesky:@bad_handle\"")),
            "{msgs:?}"
        );
        let handles = "[[sources]]\nkind = \"bluesky\"\nwanted_dids = [\"did:plc:a\", \"@Alice.bsky.social\", \"bob.bsky.social\"]\nresolver = \"http://127.0.0.1:9/\"\n\n[watch]\naccounts = [\"bluesky:@alice.bsky.social\"]\n";
        let c = Config::from_str(handles, None).unwrap();
        assert!(
            matches!(&c.sources[0], SourceConfig::Bluesky { resolver, wanted_dids, .. }
            if resolver == "http://127.0.0.1:9" && wanted_dids.len() == 3)
        );
        let ok = "[[sources]]\nkind = \"bluesky\"\nurl = \"ws://127.0.0.1:1/subscribe\"\nrewind_secs = 10\nstall_timeout_secs = 5\n";
        let c = Config::from_str(ok, None).unwrap();
        assert!(matches!(
            c.sources[0],
            SourceConfig::Bluesky {
                rewind_secs: 10,
                stall_timeout_secs: 5,
                ..
            }
        ));
    }

    #[test]
    fn host_of_strips_scheme_port_and_path() {
        assert_eq!(
            host_of("https://Infosec.Exchange:443/x"),
            "infosec.exchange"
        );
        assert_eq!(host_of("infosec.exchange"), "infosec.exchange");
    }
}
