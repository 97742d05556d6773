//! The analysts' commands: `actors list|show`, `stats`, `export`, `summary`, and
//! `rules test --since` (back-testing). Kept apart from `cli.rs`, which only parses them.

use crate::actors::{self, AccountRef};
use crate::analytics::{self, parse_since, Window};
use crate::cli::{ActorsCommand, ExportFormat};
use crate::config::{Config, SinkKind};
use crate::export::{self, Tlp};
use crate::storage::{now_rfc3339_at, Storage};
use anyhow::{Context, Result};
use std::io::Write;
use std::path::PathBuf;

fn window(since: &str) -> Result<Window> {
    let now = jiff::Timestamp::now();
    Ok(Window {
        since: parse_since(since, now)?,
        until: now,
    })
}

/// `streamer rules test --since`: the configured rules over the stored posts received in the
/// window; one JSON line per post that would alert, then a per-rule tally on standard error.
pub fn backtest(config: &Config, since: &str) -> Result<()> {
    let w = window(since)?;
    let storage = Storage::open(&config.storage.path)?;
    let rules = crate::compile_rules(config)?;
    let rules = rules.read().unwrap_or_else(|e| e.into_inner()).clone();
    let conn = storage.conn();
    let mut stmt = conn.prepare(
        "SELECT platform, id, post_json, deleted_at IS NOT NULL FROM posts WHERE received_at >= ?1
         ORDER BY received_at, platform, id",
    )?;
    let mut rows = stmt.query([now_rfc3339_at(w.since)])?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let (mut tested, mut alerting) = (0u64, 0u64);
    let mut tally: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
    while let Some(r) = rows.next()? {
        let platform: String = r.get(0)?;
        let id: String = r.get(1)?;
        let json: String = r.get(2)?;
        let deleted: bool = r.get(3)?;
        let Ok(post) = serde_json::from_str::<streamer_model::Post>(&json) else {
            eprintln!("post {platform} {id}: stored post is not readable, skipped");
            continue;
        };
        tested += 1;
        let enrichment = streamer_ioc::enrich(&post);
        let hits = rules.matches(&post, &enrichment);
        if hits.is_empty() {
            continue;
        }
        alerting += 1;
        let mut already = conn.prepare_cached(
            "SELECT rule_id FROM post_rules WHERE platform = ?1 AND post_id = ?2",
        )?;
        let alerted: Vec<String> = already
            .query_map([&platform, &id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let new: Vec<&str> = hits
            .iter()
            .map(|h| h.id.as_str())
            .filter(|h| !alerted.iter().any(|a| a == h))
            .collect();
        for h in &hits {
            let e = tally.entry(h.id.clone()).or_default();
            e.0 += 1;
            if new.contains(&h.id.as_str()) {
                e.1 += 1;
            }
        }
        let v = serde_json::json!({
            "platform": post.platform, "id": post.id, "url": post.url,
            "created_at": post.created_at, "author": post.author.id, "handle": post.author.handle,
            "deleted": deleted, "rules": hits, "new_rules": new,
        });
        writeln!(out, "{v}")?;
    }
    out.flush()?;
    eprintln!(
        "{tested} stored posts since {} tested; {alerting} would alert",
        now_rfc3339_at(w.since)
    );
    for (rule, (n, new)) in tally {
        eprintln!("  {rule}: {n} post(s), {new} not alerted by this rule before");
    }
    eprintln!("(only posts that matched some rule when they arrived are stored)");
    Ok(())
}

/// `streamer actors list|show`.
pub fn actors(command: ActorsCommand) -> Result<()> {
    match command {
        ActorsCommand::List {
            config,
            watched,
            limit,
            json,
        } => {
            let config = crate::cli::load(&config)?;
            let storage = Storage::open(&config.storage.path)?;
            let list = actors::list(storage.conn(), &config.actors.watchlist, watched, limit)?;
            let mut out = std::io::stdout().lock();
            if json {
                for a in &list {
                    writeln!(out, "{}", serde_json::to_string(a)?)?;
                }
                return Ok(());
            }
            writeln!(
                out,
                "{:<9} {:<28} {:<22} {:>6}  {:<20} {:<20} actor",
                "platform", "id", "handle", "alerts", "first seen", "last seen"
            )?;
            for a in &list {
                writeln!(
                    out,
                    "{:<9} {:<28} {:<22} {:>6}  {:<20} {:<20} {}{}",
                    a.platform.as_str(),
                    crate::render::one_line(&a.author_id),
                    crate::render::one_line(
                        &a.handle
                            .as_ref()
                            .map(|h| format!("@{h}"))
                            .unwrap_or_default()
                    ),
                    a.alert_count,
                    a.first_seen.as_deref().unwrap_or("never"),
                    a.last_seen.as_deref().unwrap_or("never"),
                    crate::render::one_line(a.actor.as_deref().unwrap_or("")),
                    if a.active {
                        String::new()
                    } else {
                        format!(" [{}]", a.status.as_deref().unwrap_or("inactive"))
                    }
                )?;
            }
            Ok(())
        }
        ActorsCommand::Show {
            config,
            query,
            json,
        } => {
            let config = crate::cli::load(&config)?;
            let storage = Storage::open(&config.storage.path)?;
            let watchlist = &config.actors.watchlist;
            let accounts = actors::resolve(storage.conn(), watchlist, &query)?;
            if accounts.is_empty() {
                anyhow::bail!("no actor known as {query:?} (try PLATFORM:ID, a handle, or a watched actor's name)");
            }
            let watched = watchlist.by_name(&query).or_else(|| {
                accounts
                    .iter()
                    .find_map(|a| watchlist.lookup(a.platform, &a.author_id))
            });
            let details = accounts
                .iter()
                .map(|a| actors::detail(storage.conn(), watchlist, a))
                .collect::<Result<Vec<_>>>()?;
            let mut out = std::io::stdout().lock();
            if json {
                let v = serde_json::json!({"actor": watched, "accounts": details});
                writeln!(out, "{v}")?;
                return Ok(());
            }
            write!(out, "{}", show_text(watched, &details))?;
            Ok(())
        }
    }
}

fn show_text(watched: Option<&actors::WatchedActor>, details: &[actors::AccountDetail]) -> String {
    use crate::render::one_line as ol;
    use std::fmt::Write as _;
    let mut s = String::new();
    if let Some(a) = watched {
        let _ = writeln!(s, "Watched actor: {}", ol(&a.name));
        if !a.associations.is_empty() {
            let _ = writeln!(s, "  associations: {}", ol(&a.associations.join(", ")));
        }
        if let Some(t) = &a.threat_level {
            let _ = writeln!(s, "  threat level: {} (alerts at {})", ol(t), a.severity());
        }
        if let Some(n) = &a.notes {
            let _ = writeln!(s, "  notes: {}", ol(n));
        }
        for (k, v) in &a.extra {
            let _ = writeln!(s, "  {}: {}", ol(k), ol(v));
        }
        let keys: Vec<String> = a.accounts.iter().map(AccountRef::key).collect();
        let _ = writeln!(s, "  accounts: {}", keys.join(", "));
    }
    for d in details {
        let a = &d.account;
        let _ = writeln!(
            s,
            "\n{} {}: {}{}",
            a.platform.display_name(),
            ol(&a.author_id),
            a.handle
                .as_ref()
                .map(|h| format!("@{}", ol(h)))
                .unwrap_or_else(|| "(no handle seen)".into()),
            a.name
                .as_ref()
                .map(|n| format!(" \"{}\"", ol(n)))
                .unwrap_or_default()
        );
        let _ = writeln!(
            s,
            "  first seen {}, last seen {}, {} alert(s){}",
            a.first_seen.as_deref().unwrap_or("never"),
            a.last_seen.as_deref().unwrap_or("never"),
            a.alert_count,
            if a.active {
                String::new()
            } else {
                format!(", INACTIVE ({})", a.status.as_deref().unwrap_or("?"))
            }
        );
        for (title, list) in [
            ("handles", &d.handles),
            ("names", &d.names),
            ("clients", &d.clients),
            ("places", &d.places),
        ] {
            if list.is_empty() {
                continue;
            }
            let _ = writeln!(s, "  {title}:");
            for v in list {
                let _ = writeln!(
                    s,
                    "    {}  ({} to {}{})",
                    ol(&v.value),
                    v.first_seen,
                    v.last_seen,
                    v.count
                        .map(|c| format!(", {c} post(s)"))
                        .unwrap_or_default()
                );
            }
        }
        if !d.events.is_empty() {
            let _ = writeln!(s, "  events:");
            for (kind, old, new, at) in &d.events {
                let _ = writeln!(
                    s,
                    "    {at} {kind}: {} -> {}",
                    ol(old.as_deref().unwrap_or("-")),
                    ol(new.as_deref().unwrap_or("-"))
                );
            }
        }
        if !d.recent_alerts.is_empty() {
            let _ = writeln!(s, "  recent alerts:");
            for (id, at, rules) in &d.recent_alerts {
                let _ = writeln!(s, "    {at} {id} {}", ol(&rules.join(" ")));
            }
        }
    }
    s
}

/// `streamer stats`.
pub fn stats(config: &Config, since: &str, limit: usize, json: bool) -> Result<()> {
    let w = window(since)?;
    let storage = Storage::open(&config.storage.path)?;
    let report = analytics::report(storage.conn(), &w, limit)?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", analytics::report_text(&report));
    }
    Ok(())
}

/// `streamer export`.
pub fn export(
    config: &Config,
    format: ExportFormat,
    since: &str,
    tlp: &str,
    output: Option<PathBuf>,
) -> Result<()> {
    let tlp = Tlp::parse(tlp)
        .ok_or_else(|| anyhow::anyhow!("--tlp {tlp:?}: expected white, green, amber or red"))?;
    let w = window(since)?;
    let storage = Storage::open(&config.storage.path)?;
    let records = export::load_records(storage.conn(), &now_rfc3339_at(w.since))?;
    let watchlist = &config.actors.watchlist;
    let bytes = match format {
        ExportFormat::Stix => {
            serde_json::to_vec_pretty(&export::stix_bundle(&records, watchlist, tlp))?
        }
        ExportFormat::Misp => {
            let info = format!(
                "Streamer: threats against SLTT governments seen on social media, {} to {}",
                now_rfc3339_at(w.since),
                now_rfc3339_at(w.until)
            );
            serde_json::to_vec_pretty(&export::misp_event(&records, watchlist, tlp, &info))?
        }
        ExportFormat::Csv => export::csv_export(&records, watchlist)?,
    };
    match output {
        Some(path) => std::fs::write(&path, &bytes)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout().lock().write_all(&bytes)?,
    }
    eprintln!("{} alert(s) exported", records.len());
    Ok(())
}

/// `streamer summary`: prints the summary, or sends it through the email and `.eml` sinks.
pub fn summary(config: &Config, since: &str, send: bool) -> Result<()> {
    let w = window(since)?;
    let storage = Storage::open(&config.storage.path)?;
    let s = build_summary(config, &storage, &w)?;
    if !send {
        println!("Subject: {}\n\n{}", s.subject, s.text);
        return Ok(());
    }
    let sent = send_summary(config, &s)?;
    if sent == 0 {
        anyhow::bail!("no email or .eml sink is configured to send the summary through");
    }
    eprintln!("summary sent through {sent} sink(s)");
    Ok(())
}

/// The summary of a window, with the outbox health of every sink.
pub fn build_summary(
    config: &Config,
    storage: &Storage,
    w: &Window,
) -> Result<crate::summary::Summary> {
    let report = analytics::report(storage.conn(), w, 10)?;
    let mut sinks = Vec::new();
    for sink in &config.sinks {
        let c = storage.outbox_counts(Some(&sink.name))?;
        sinks.push((sink.name.clone(), c.pending, c.failed));
    }
    Ok(crate::summary::build(&report, &sinks, config.alerts.defang))
}

/// Delivers a summary through every email and `.eml` sink; returns how many took it.
pub fn send_summary(config: &Config, s: &crate::summary::Summary) -> Result<usize> {
    let mut sent = 0;
    for sink in crate::build_sinks(config)? {
        let (from, to) = match &sink.config.kind {
            SinkKind::Eml { from, to, .. } => (from.clone(), to.clone()),
            SinkKind::Email(e) => (e.from.clone(), e.to.clone()),
            _ => continue,
        };
        let msg = crate::summary::message(s, &from, &to).map_err(|e| anyhow::anyhow!(e))?;
        let mut sink = sink;
        sink.send_mime(&format!("summary-{}", summary_file_id(s)), msg)
            .map_err(|e| anyhow::anyhow!("sink {}: {e}", sink.name()))?;
        sent += 1;
    }
    Ok(sent)
}

fn summary_file_id(s: &crate::summary::Summary) -> String {
    s.message_id
        .trim_start_matches("<summary-")
        .split('@')
        .next()
        .unwrap_or("x")
        .to_string()
}
