//! The summary email: what happened over a day or a week, for the people who read no alerts.
//!
//! [`build`] turns an analytics [`Report`] (counters only, no history scan) into a subject, a
//! text part and an HTML part: alerts by severity, surges, top actors, targeted entities,
//! IOCs (defanged) and domains, rules, and source health (posts seen, gaps, withheld posts,
//! and failed deliveries). Everything that came from a post is escaped in the HTML part and
//! cleaned of control and bidi characters in both. [`message`] wraps it as MIME; `streamer
//! summary --send` delivers it through the configured email and `.eml` sinks, and so does
//! `streamer run` on the `[summary]` schedule ([`spawn_scheduler`], [`send_due`]): daily or
//! weekly (Mondays) at an hour UTC, covering the day or week that ended then. The end of the
//! last window sent is stored, so a restart neither skips nor repeats a summary; a window
//! missed while Streamer was down is sent late, once.

use crate::analytics::{Counted, Report};
use crate::render::{html_escape, one_line};
use std::fmt::Write;

/// The rendered summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// A stable Message-ID for the window: a re-sent summary replaces, not duplicates.
    pub message_id: String,
    /// The window, for the `X-Streamer-Summary` header.
    pub window: String,
}

/// Delivery health to show beside source coverage: (sink, pending, failed).
pub type SinkHealth = Vec<(String, u64, u64)>;

/// A post-derived value for people: on one line, defanged so that no reader clicks it.
fn show(value: &str, defang: bool) -> String {
    let s = one_line(value);
    if defang {
        streamer_ioc::defang(&s)
    } else {
        s
    }
}

fn item(c: &Counted, defang: bool) -> String {
    let key = show(&c.key, defang);
    match &c.label {
        Some(l) => format!("{} {}", one_line(l), key),
        None => key,
    }
}

/// Builds the summary of a report. `defang` follows `[alerts] defang`.
pub fn build(report: &Report, sinks: &SinkHealth, defang: bool) -> Summary {
    let total = report.total_alerts();
    let sev_count = |s: &str| {
        report
            .alerts_by_severity
            .iter()
            .find(|c| c.key == s)
            .map_or(0, |c| c.count)
    };
    let day = |t: &str| t.replace('T', " ").trim_end_matches('Z').to_string();
    let window = format!("{} to {} UTC", day(&report.since), day(&report.until));
    let mut subject = format!(
        "Streamer summary: {total} alert{}",
        if total == 1 { "" } else { "s" }
    );
    let (c, h) = (sev_count("critical"), sev_count("high"));
    if c + h > 0 {
        subject.push_str(&format!(" ({c} critical, {h} high)"));
    }
    if !report.surges.is_empty() {
        subject.push_str(&format!(", {} surge(s)", report.surges.len()));
    }
    subject.push_str(&format!(", {window}"));

    let sections: Vec<(&str, Vec<String>)> = vec![
        (
            "Alerts by severity",
            report
                .alerts_by_severity
                .iter()
                .map(|c| format!("{}: {}", c.key, c.count))
                .collect(),
        ),
        (
            "Surges",
            report
                .surges
                .iter()
                .map(|s| {
                    format!(
                        "{}:00 UTC {} {}: {} alerts (usual {}, threshold {})",
                        s.hour,
                        s.dim,
                        show(&s.key, defang),
                        s.count,
                        s.baseline,
                        s.threshold
                    )
                })
                .collect(),
        ),
        (
            "Top actors",
            report
                .actors
                .iter()
                .map(|c| format!("{} ({})", item(c, false), c.count))
                .collect(),
        ),
        (
            "Targeted entities",
            report
                .entities
                .iter()
                .map(|c| format!("{} ({})", item(c, defang), c.count))
                .collect(),
        ),
        (
            "States",
            report
                .states
                .iter()
                .map(|c| format!("{} ({})", item(c, false), c.count))
                .collect(),
        ),
        (
            "Top IOCs",
            report
                .iocs
                .iter()
                .map(|c| match c.key.split_once(':') {
                    Some((kind, value)) => format!("{kind} {} ({})", show(value, defang), c.count),
                    None => format!("{} ({})", show(&c.key, defang), c.count),
                })
                .collect(),
        ),
        (
            "Top domains",
            report
                .domains
                .iter()
                .map(|c| format!("{} ({})", item(c, defang), c.count))
                .collect(),
        ),
        (
            "Rules",
            report
                .rules
                .iter()
                .map(|c| format!("{} ({})", item(c, false), c.count))
                .collect(),
        ),
        ("Source health", source_health(report, sinks)),
    ];

    let mut text = format!("Streamer summary, {window}\n\n{total} alerts.\n");
    let mut html = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{}</title></head><body style=\"font-family:sans-serif\">\
         <h1 style=\"font-size:1.3em\">Streamer summary</h1><p>{}</p><p><b>{total}</b> alerts.</p>",
        html_escape(&subject),
        html_escape(&window)
    );
    for (title, lines) in &sections {
        let _ = writeln!(text, "\n{title}:");
        let _ = write!(
            html,
            "<h2 style=\"font-size:1.1em\">{}</h2>",
            html_escape(title)
        );
        if lines.is_empty() {
            let _ = writeln!(text, "  (none)");
            html.push_str("<p>(none)</p>");
            continue;
        }
        html.push_str("<ul>");
        for l in lines {
            let _ = writeln!(text, "  - {l}");
            let _ = write!(html, "<li>{}</li>", html_escape(l));
        }
        html.push_str("</ul>");
    }
    html.push_str("</body></html>");
    let hash = {
        use sha2::{Digest, Sha256};
        let d = Sha256::digest(format!("{}\0{}", report.since, report.until));
        d[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    Summary {
        subject,
        text,
        html,
        message_id: format!("<summary-{hash}@streamer>"),
        window,
    }
}

fn source_health(report: &Report, sinks: &SinkHealth) -> Vec<String> {
    let mut out = Vec::new();
    for c in &report.coverage {
        let mut line = format!(
            "{} ({}): {} posts seen in {} hour(s)",
            one_line(&c.source),
            c.platform,
            c.posts,
            c.hours_with_posts
        );
        if c.withheld > 0 {
            line.push_str(&format!(", {} withheld by X", c.withheld));
        }
        if c.gaps.is_empty() {
            line.push_str(", no gaps");
        } else {
            let hours: i64 = c.gaps.iter().map(|g| g.1).sum();
            line.push_str(&format!(
                ", {} gap(s) totalling {hours} hour(s) (first from {}:00 UTC)",
                c.gaps.len(),
                c.gaps[0].0
            ));
        }
        out.push(line);
    }
    if report.coverage.is_empty() {
        out.push("no posts received in this window".into());
    }
    for (name, pending, failed) in sinks {
        if *pending > 0 || *failed > 0 {
            out.push(format!(
                "sink {}: {pending} pending, {failed} failed deliveries",
                one_line(name)
            ));
        }
    }
    out
}

/// The summary as a MIME message (multipart/alternative), ready for an SMTP or `.eml` sink.
pub fn message(s: &Summary, from: &str, to: &[String]) -> Result<lettre::Message, String> {
    use lettre::message::header::{Header, HeaderName, HeaderValue};
    use lettre::message::{Mailbox, MultiPart};

    #[derive(Clone)]
    struct SummaryHeader(String);
    impl Header for SummaryHeader {
        fn name() -> HeaderName {
            HeaderName::new_from_ascii_str("X-Streamer-Summary")
        }
        fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
            Ok(SummaryHeader(s.to_string()))
        }
        fn display(&self) -> HeaderValue {
            HeaderValue::new(Self::name(), self.0.clone())
        }
    }

    let from: Mailbox = from
        .parse()
        .map_err(|e| format!("from address {from:?}: {e}"))?;
    let mut b = lettre::Message::builder()
        .from(from)
        .subject(one_line(&s.subject))
        .message_id(Some(s.message_id.clone()))
        .header(SummaryHeader(s.window.clone()));
    for addr in to {
        b = b.to(addr
            .parse::<Mailbox>()
            .map_err(|e| format!("to address {addr:?}: {e}"))?);
    }
    b.multipart(MultiPart::alternative_plain_html(
        s.text.clone(),
        s.html.clone(),
    ))
    .map_err(|e| format!("cannot build the summary message: {e}"))
}

/// When `run` sends the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Every day at this hour (UTC), covering the previous 24 hours.
    Daily { hour: u8 },
    /// Every Monday at this hour (UTC), covering the previous 7 days.
    Weekly { hour: u8 },
}

impl Schedule {
    /// Parses `every` (`daily`, `weekly`, `off`) and an hour (UTC); `Ok(None)` for off.
    pub fn parse(every: &str, hour: u8) -> Result<Option<Schedule>, String> {
        if hour > 23 {
            return Err(format!("hour {hour} is not 0-23 (UTC)"));
        }
        match every {
            "daily" => Ok(Some(Schedule::Daily { hour })),
            "weekly" => Ok(Some(Schedule::Weekly { hour })),
            "off" => Ok(None),
            _ => Err(format!("every = {every:?} is not daily, weekly or off")),
        }
    }

    /// The window of the latest summary due at `now`: `[since, until)` where `until` is the
    /// most recent scheduled time not after `now`.
    pub fn latest_window(&self, now: jiff::Timestamp) -> crate::analytics::Window {
        let (hour, days) = match *self {
            Schedule::Daily { hour } => (hour, 1),
            Schedule::Weekly { hour } => (hour, 7),
        };
        let utc = now.to_zoned(jiff::tz::TimeZone::UTC);
        let midnight = utc
            .date()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp())
            .unwrap_or(now);
        let mut until = midnight + jiff::SignedDuration::from_hours(hour as i64);
        if days == 7 {
            let back = utc.date().weekday().to_monday_zero_offset() as i64;
            until -= jiff::SignedDuration::from_hours(24 * back);
        }
        if until > now {
            until -= jiff::SignedDuration::from_hours(24 * days);
        }
        crate::analytics::Window {
            since: until - jiff::SignedDuration::from_hours(24 * days),
            until,
        }
    }
}

/// Sends the summary due at `now` unless it was sent already; returns whether it sent.
pub fn send_due(
    config: &crate::config::Config,
    schedule: Schedule,
    now: jiff::Timestamp,
) -> anyhow::Result<bool> {
    let storage = crate::storage::Storage::open(&config.storage.path)?;
    let w = schedule.latest_window(now);
    let until = crate::storage::now_rfc3339_at(w.until);
    let sent: Option<String> = rusqlite::OptionalExtension::optional(storage.conn().query_row(
        "SELECT value FROM analytics_meta WHERE key = 'summary_sent_until'",
        [],
        |r| r.get(0),
    ))?;
    if sent.as_deref().is_some_and(|s| s >= until.as_str()) {
        return Ok(false);
    }
    let summary = crate::analytics_cli::build_summary(config, &storage, &w)?;
    crate::analytics_cli::send_summary(config, &summary)?;
    storage.conn().execute(
        "INSERT INTO analytics_meta (key, value) VALUES ('summary_sent_until', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [&until],
    )?;
    Ok(true)
}

/// Starts the thread that sends scheduled summaries while `run` runs (checks every minute;
/// a failed send is logged and tried again at the next check). `None` without a schedule.
pub fn spawn_scheduler(config: &crate::config::Config) -> Option<std::thread::JoinHandle<()>> {
    let schedule = config.summary?;
    let config = config.clone();
    std::thread::Builder::new()
        .name("summary".into())
        .spawn(move || {
            let mut next_check = std::time::Instant::now();
            while !crate::shutting_down() {
                if std::time::Instant::now() >= next_check {
                    next_check = std::time::Instant::now() + std::time::Duration::from_secs(60);
                    match send_due(&config, schedule, jiff::Timestamp::now()) {
                        Ok(true) => tracing::info!("summary email sent"),
                        Ok(false) => {}
                        Err(e) => tracing::warn!("summary email not sent, will retry: {e:#}"),
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(250));
            }
        })
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn daily_and_weekly_windows_end_at_the_latest_scheduled_hour() {
        let daily = Schedule::Daily { hour: 8 };
        let w = daily.latest_window(t("2026-12-03T09:30:00Z"));
        assert_eq!(
            (w.since, w.until),
            (t("2026-12-02T08:00:00Z"), t("2026-12-03T08:00:00Z"))
        );
        let w = daily.latest_window(t("2026-12-03T07:59:59Z"));
        assert_eq!(w.until, t("2026-12-02T08:00:00Z"));
        // 2026-12-03 is a Thursday: the last Monday 08:00 was 2026-11-30.
        let weekly = Schedule::Weekly { hour: 8 };
        let w = weekly.latest_window(t("2026-12-03T09:30:00Z"));
        assert_eq!(
            (w.since, w.until),
            (t("2026-11-23T08:00:00Z"), t("2026-11-30T08:00:00Z"))
        );
        let w = weekly.latest_window(t("2026-11-30T07:00:00Z"));
        assert_eq!(w.until, t("2026-11-23T08:00:00Z"));
        assert_eq!(Schedule::parse("off", 8), Ok(None));
        assert!(Schedule::parse("hourly", 8).is_err());
        assert!(Schedule::parse("daily", 24).is_err());
    }
}
