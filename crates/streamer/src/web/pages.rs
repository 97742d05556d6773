//! Page handlers: alerts (list, live stream, detail, feedback), actors, analytics,
//! suppressions, the audit log, health, metrics, and the embedded assets.

use super::data::{self, AlertSummary, Filter};
use super::html::{self, actor_href, alert_href, copy_button, csrf_field, enc, esc, page, Nav};
use super::{actions, auth::Who, db, Shared, WebError};
use crate::render::{html_text, show_ioc, truncate_chars};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use futures_util::Stream;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::fmt::Write;
use std::time::Duration;

/// Alerts per page.
const PAGE: usize = 100;

fn platform_name(p: &str) -> &str {
    match p {
        "x" => "X",
        "mastodon" => "Mastodon",
        "bluesky" => "Bluesky",
        other => other,
    }
}

/// One alert as a card: used by the list and by the live stream.
pub(crate) fn alert_card(a: &AlertSummary) -> String {
    let mut classes = format!("alert sev-{}", esc(&a.severity));
    if a.false_positive {
        classes.push_str(" fp");
    }
    if a.deleted {
        classes.push_str(" deleted");
    }
    let mut out = format!(
        "<article class=\"{classes}\" data-rowid=\"{}\"><div class=\"meta\">{} \
<a class=\"when\" href=\"{}\">{}</a>",
        a.rowid,
        html::severity_badge(&a.severity),
        alert_href(&a.alert_id),
        esc(&a.created_at)
    );
    let Some(rec) = &a.record else {
        out.push_str("</div><p class=\"text\">(record unreadable)</p></article>");
        return out;
    };
    let p = &rec.post;
    let handle = p
        .author
        .handle
        .as_deref()
        .map(|h| format!("@{}", h.trim_start_matches('@')))
        .unwrap_or_else(|| p.author.id.clone());
    let _ = write!(
        out,
        " <span class=\"platform\">{}</span> <a class=\"actor\" href=\"{}\">{}</a> <span class=\"rules\">",
        esc(platform_name(p.platform.as_str())),
        actor_href(p.platform.as_str(), &p.author.id),
        esc(&handle)
    );
    for r in &rec.rules {
        let _ = write!(
            out,
            "<a class=\"rule\" href=\"/?rule={}\">{}</a>",
            enc(&r.id),
            esc(&r.id)
        );
    }
    out.push_str("</span>");
    if a.false_positive {
        out.push_str(" <span class=\"badge fp\">false positive</span>");
    }
    if a.deleted {
        out.push_str(" <span class=\"badge\">deleted</span>");
    }
    let mut short = rec.clone();
    short.post.text = truncate_chars(&rec.post.text, 500);
    let _ = write!(
        out,
        "</div><p class=\"text\">{}</p>",
        html_text(&short, true)
    );
    if !rec.entities.is_empty() {
        out.push_str("<div class=\"entities\">");
        for e in rec.entities.iter().take(6) {
            let state = e
                .state
                .as_deref()
                .map(|s| format!(" ({})", esc(s)))
                .unwrap_or_default();
            let _ = write!(
                out,
                "<a class=\"entity\" href=\"/?entity={}\">{}{state}</a>",
                enc(&e.domain),
                esc(e.name.as_deref().unwrap_or(&e.domain))
            );
        }
        out.push_str("</div>");
    }
    out.push_str("</article>");
    out
}

fn select(name: &str, label: &str, current: &str, options: &[(String, String)]) -> String {
    let mut out = format!("<label>{label}<select name=\"{name}\"><option value=\"\">any</option>");
    for (value, text) in options {
        let sel = if value == current { " selected" } else { "" };
        let _ = write!(
            out,
            "<option value=\"{}\"{sel}>{}</option>",
            esc(value),
            esc(text)
        );
    }
    out.push_str("</select></label>");
    out
}

fn pairs(v: &[String]) -> Vec<(String, String)> {
    v.iter().map(|s| (s.clone(), s.clone())).collect()
}

/// The alert list with filters, search, and live updates.
pub(crate) async fn alerts(
    State(st): State<Shared>,
    Extension(Who(who)): Extension<Who>,
    Query(f): Query<Filter>,
) -> Result<Html<String>, WebError> {
    let f2 = f.clone();
    let (rows, opts, latest) = db(&st, move |c| {
        let latest: i64 = c.query_row("SELECT COALESCE(MAX(rowid), 0) FROM alerts", [], |r| {
            r.get(0)
        })?;
        Ok((
            data::list_alerts(c, &f2, None, Some(latest), PAGE)?,
            data::filter_options(c)?,
            latest,
        ))
    })
    .await?;
    let sev: Vec<(String, String)> = ["critical", "high", "medium", "low", "info"]
        .iter()
        .map(|s| (s.to_string(), format!("{s} and above")))
        .collect();
    let platforms: Vec<(String, String)> = opts
        .platforms
        .iter()
        .map(|p| (p.clone(), platform_name(p).to_string()))
        .collect();
    let status = vec![
        ("open".to_string(), "open".to_string()),
        ("false_positive".to_string(), "false positive".to_string()),
    ];
    let mut body = String::from("<h1>Alerts</h1>");
    let _ = write!(
        body,
        "<form class=\"filters\" method=\"get\" action=\"/\" id=\"filters\">\
<label class=\"search\">Search posts<input type=\"search\" name=\"q\" value=\"{}\" \
placeholder=\"words or &quot;a phrase&quot;\"></label>{}{}{}{}\
<label>Entity<input name=\"entity\" value=\"{}\" placeholder=\"domain or name\"></label>\
<label>Actor<input name=\"actor\" value=\"{}\" placeholder=\"@handle or platform:id\"></label>{}\
<div class=\"actions\"><button type=\"submit\">Apply</button> <a href=\"/\">Clear</a></div></form>",
        esc(&f.q),
        select("severity", "Severity", &f.severity, &sev),
        select("rule", "Rule", &f.rule, &pairs(&opts.rules)),
        select("platform", "Platform", &f.platform, &platforms),
        select("state", "State", &f.state, &pairs(&opts.states)),
        esc(&f.entity),
        esc(&f.actor),
        select("status", "Triage", &f.status, &status),
    );
    let qs = f.query_string();
    let _ = write!(
        body,
        "<p class=\"live-status\"><span id=\"live\" class=\"live\" aria-live=\"polite\">connecting…</span> \
<span id=\"new-count\"></span></p><section id=\"alerts\" class=\"alerts\" data-live=\"/events?{}\" \
data-after=\"{latest}\">",
        esc(&qs)
    );
    if rows.is_empty() {
        body.push_str("<p class=\"empty\" id=\"no-alerts\">No alerts match.</p>");
    }
    for a in &rows {
        body.push_str(&alert_card(a));
    }
    body.push_str("</section>");
    if rows.len() == PAGE {
        if let Some(last) = rows.last() {
            let sep = if qs.is_empty() { "" } else { "&" };
            let _ = write!(
                body,
                "<p><a class=\"more\" href=\"/?{}{sep}before={}\">Older alerts</a></p>",
                esc(&qs),
                last.rowid
            );
        }
    }
    Ok(Html(page(
        "Alerts",
        Nav::Alerts,
        &who,
        &st.auth.csrf,
        &body,
    )))
}

/// Server-sent events: each new alert that passes the filter, as a rendered card.
pub(crate) async fn events(
    State(st): State<Shared>,
    headers: HeaderMap,
    Query(f): Query<Filter>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok());
    let last = resume.or(f.after).unwrap_or_else(|| *st.latest.borrow());
    let rx = st.latest.clone();
    let stop = st.stop.clone();
    let init = (st, f, last, rx, stop, VecDeque::<Event>::new());
    let stream = futures_util::stream::unfold(
        init,
        |(st, f, mut last, mut rx, mut stop, mut queue)| async move {
            loop {
                if let Some(ev) = queue.pop_front() {
                    return Some((Ok(ev), (st, f, last, rx, stop, queue)));
                }
                if *stop.borrow() || crate::shutting_down() {
                    return None;
                }
                let upto = *rx.borrow_and_update();
                if upto > last {
                    let f2 = f.clone();
                    let rows = db(&st, move |c| {
                        Ok(data::list_alerts(c, &f2, Some(last), Some(upto), 500)?)
                    })
                    .await
                    .unwrap_or_default();
                    last = upto;
                    for a in rows.iter().rev() {
                        queue.push_back(
                            Event::default()
                                .event("alert")
                                .id(a.rowid.to_string())
                                .data(alert_card(a)),
                        );
                    }
                    continue;
                }
                tokio::select! {
                    changed = rx.changed() => if changed.is_err() { return None },
                    _ = stop.changed() => {},
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {},
                }
            }
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

fn section(title: &str, id: &str, inner: &str) -> String {
    format!("<section class=\"card\" id=\"{id}\"><h2>{title}</h2>{inner}</section>")
}

/// Media links are clickable only on the platforms' own media hosts; anything else is shown
/// defanged.
fn media_link(url: &str) -> String {
    let host = crate::config::host_of(url);
    let trusted = url.starts_with("https://")
        && ["twimg.com", "cdn.bsky.app", "video.bsky.app"]
            .iter()
            .any(|h| host == *h || host.ends_with(&format!(".{h}")));
    if trusted {
        format!(
            "<a href=\"{0}\" rel=\"noreferrer noopener\" target=\"_blank\">{0}</a>",
            esc(url)
        )
    } else {
        format!("<code>{}</code>", esc(&show_ioc(url, true)))
    }
}

/// The alert page: everything an analyst needs to work one alert.
pub(crate) async fn alert_detail(
    State(st): State<Shared>,
    Extension(Who(who)): Extension<Who>,
    Path(id): Path<String>,
) -> Result<Html<String>, WebError> {
    let id2 = id.clone();
    let detail = db(&st, move |c| Ok(data::alert_detail(c, &id2)?))
        .await?
        .ok_or(WebError::NotFound)?;
    let a = &detail.summary;
    let Some(rec) = &a.record else {
        return Err(WebError::Internal(anyhow::anyhow!(
            "alert {id}: stored record is unreadable"
        )));
    };
    let p = &rec.post;
    let csrf = &st.auth.csrf;
    let mut body =
        format!(
        "<p class=\"crumbs\"><a href=\"/\">Alerts</a> › alert <code>{}</code></p><h1>{} {}</h1>",
        esc(&a.alert_id),
        html::severity_badge(&a.severity),
        esc(&rec.rules.iter().map(|r| r.id.as_str()).collect::<Vec<_>>().join(", "))
    );
    if a.false_positive {
        body.push_str("<p class=\"badge fp\">Marked false positive</p>");
    }
    if a.deleted {
        body.push_str("<p class=\"badge\">The author deleted this post (evidence kept)</p>");
    }
    // The post.
    let mut post = format!(
        "<p class=\"meta\">{} · posted {} · detected {}{}{}</p><div class=\"post-text\">{}</div>",
        esc(platform_name(p.platform.as_str())),
        esc(p.created_at.as_deref().unwrap_or("unknown")),
        esc(&a.created_at),
        p.lang
            .as_deref()
            .map(|l| format!(" · lang {}", esc(l)))
            .unwrap_or_default(),
        p.client
            .as_deref()
            .map(|c| format!(" · via {}", esc(c)))
            .unwrap_or_default(),
        html_text(rec, true)
    );
    if let Some(url) = &p.url {
        let ours = url.starts_with("https://x.com/") || url.starts_with("https://bsky.app/");
        if ours {
            let _ = write!(
                post,
                "<p>Post: <a href=\"{0}\" rel=\"noreferrer noopener\" target=\"_blank\">{0}</a></p>",
                esc(url)
            );
        } else {
            let _ = write!(
                post,
                "<p>Post: <code>{}</code></p>",
                esc(&show_ioc(url, true))
            );
        }
    }
    for (label, v) in [
        ("Reply to", &p.reply_to),
        ("Repost of", &p.repost_of),
        ("Quote of", &p.quote_of),
    ] {
        if let Some(v) = v {
            let _ = write!(post, "<p>{label}: <code>{}</code></p>", esc(v));
        }
    }
    if !p.urls.is_empty() {
        post.push_str("<h3>Links (defanged)</h3><ul class=\"plain\">");
        for u in &p.urls {
            let shown = show_ioc(u, true);
            let _ = write!(
                post,
                "<li><code>{}</code> {}</li>",
                esc(&shown),
                copy_button(&shown)
            );
        }
        post.push_str("</ul>");
    }
    if !p.media.is_empty() {
        post.push_str("<h3>Media</h3><ul class=\"plain\">");
        for m in &p.media {
            let _ = write!(
                post,
                "<li>{} {}{}</li>",
                esc(&m.kind),
                m.url.as_deref().map(media_link).unwrap_or_default(),
                m.alt_text
                    .as_deref()
                    .map(|t| format!(" <span class=\"alt\">alt: {}</span>", esc(t)))
                    .unwrap_or_default()
            );
        }
        post.push_str("</ul>");
    }
    let mut matched = String::from("<ul class=\"plain\">");
    for r in &rec.rules {
        let atoms: Vec<String> = r
            .matched
            .iter()
            .map(|m| format!("{}:{}", m.kind, m.value))
            .collect();
        let _ = write!(
            matched,
            "<li><a href=\"/rules/edit?id={}\">{}</a> {} <span class=\"atoms\">{}</span></li>",
            enc(&r.id),
            esc(&r.id),
            html::severity_badge(r.severity.as_str()),
            esc(&atoms.join(", "))
        );
    }
    matched.push_str("</ul>");
    post.push_str(&format!("<h3>Matched</h3>{matched}"));
    body.push_str("<div class=\"grid\"><div class=\"col-main\">");
    body.push_str(&section("Post", "post", &post));

    // IOCs.
    let i = &rec.iocs;
    let mut iocs = String::new();
    for (label, values) in [
        ("URLs", &i.urls),
        ("Domains", &i.domains),
        ("IPv4", &i.ipv4),
        ("IPv6", &i.ipv6),
        ("MD5", &i.md5),
        ("SHA-1", &i.sha1),
        ("SHA-256", &i.sha256),
        ("CVEs", &i.cves),
        ("Emails", &i.emails),
        ("Bitcoin", &i.btc),
    ] {
        for v in values {
            let shown = show_ioc(v, true);
            let _ = write!(
                iocs,
                "<tr><th>{label}</th><td><code class=\"ioc\">{}</code></td><td>{}</td></tr>",
                esc(&shown),
                copy_button(&shown)
            );
        }
    }
    let iocs = if iocs.is_empty() {
        "<p class=\"empty\">None.</p>".to_string()
    } else {
        format!("<table class=\"iocs\">{iocs}</table>")
    };
    body.push_str(&section("Indicators (defanged)", "iocs", &iocs));

    // Raw payload.
    let raw = match &detail.raw {
        Some(bytes) => {
            let shown = serde_json::from_slice::<serde_json::Value>(bytes)
                .ok()
                .and_then(|v| serde_json::to_string_pretty(&v).ok())
                .unwrap_or_else(|| String::from_utf8_lossy(bytes).into_owned());
            format!(
                "<details><summary>Show the payload as received ({} bytes)</summary><pre class=\"raw\">{}</pre></details>",
                bytes.len(),
                esc(&truncate_chars(&shown, 200_000))
            )
        }
        None => "<p class=\"empty\">Not stored.</p>".into(),
    };
    body.push_str(&section("Raw payload", "raw", &raw));
    body.push_str("</div><div class=\"col-side\">");

    // Author card.
    let au = &p.author;
    let mut author = format!(
        "<p class=\"handle\"><a href=\"{}\">{}</a></p><p>{}</p><dl>\
<dt>Id</dt><dd><code>{}:{}</code> {}</dd>",
        actor_href(p.platform.as_str(), &au.id),
        esc(&au
            .handle
            .as_deref()
            .map(|h| format!("@{}", h.trim_start_matches('@')))
            .unwrap_or_else(|| "(no handle)".into())),
        esc(au.name.as_deref().unwrap_or("")),
        esc(p.platform.as_str()),
        esc(&au.id),
        copy_button(&format!("{}:{}", p.platform.as_str(), au.id))
    );
    if let Some(n) = au.followers {
        let _ = write!(author, "<dt>Followers</dt><dd>{n}</dd>");
    }
    if let Some(c) = &au.created_at {
        let _ = write!(author, "<dt>Account created</dt><dd>{}</dd>", esc(c));
    }
    author.push_str("</dl>");
    if detail.handles.len() > 1 || !au.previous_handles.is_empty() {
        author.push_str("<h3>Handle history</h3><ol class=\"plain\">");
        if detail.handles.is_empty() {
            for h in &au.previous_handles {
                let _ = write!(author, "<li>@{}</li>", esc(h));
            }
        }
        for (h, first, last) in &detail.handles {
            let _ = write!(
                author,
                "<li>@{} <span class=\"dim\">{} – {}</span></li>",
                esc(h),
                esc(first),
                esc(last)
            );
        }
        author.push_str("</ol>");
    }
    body.push_str(&section("Author", "author", &author));

    // Geolocation.
    let geo = match &p.geo {
        Some(g) => {
            let mut s = String::from("<dl>");
            if let Some(place) = &g.place {
                let _ = write!(s, "<dt>Place</dt><dd>{}</dd>", esc(place));
            }
            if let Some(c) = &g.country {
                let _ = write!(s, "<dt>Country</dt><dd>{}</dd>", esc(c));
            }
            if let (Some(lat), Some(lon)) = (g.lat, g.lon) {
                let _ = write!(
                    s,
                    "<dt>Coordinates</dt><dd>{lat:.5}, {lon:.5}{}</dd>",
                    if g.approximate {
                        " (centre of the place)"
                    } else {
                        " (exact)"
                    }
                );
            }
            s.push_str("</dl>");
            s
        }
        None => "<p class=\"empty\">The post carries no location.</p>".into(),
    };
    body.push_str(&section("Location", "geo", &geo));

    // Targeted entities.
    let ents = if rec.entities.is_empty() {
        "<p class=\"empty\">No government entity named.</p>".to_string()
    } else {
        let mut s = String::from("<ul class=\"plain\">");
        for e in &rec.entities {
            let _ = write!(
                s,
                "<li><a href=\"/?entity={}\">{}</a><br><span class=\"dim\">{} · {}{}</span></li>",
                enc(&e.domain),
                esc(e.name.as_deref().unwrap_or(&e.domain)),
                esc(&show_ioc(&e.domain, true)),
                esc(&e.kind),
                e.state
                    .as_deref()
                    .map(|st| format!(" · {}", esc(st)))
                    .unwrap_or_default()
            );
        }
        s.push_str("</ul>");
        s
    };
    body.push_str(&section("Targeted entities", "entities", &ents));

    // Feedback.
    let action = format!("{}/feedback", alert_href(&a.alert_id));
    let mut fb = String::new();
    if a.false_positive {
        let _ = write!(
            fb,
            "<form method=\"post\" action=\"{action}\">{}<input type=\"hidden\" name=\"action\" value=\"reopen\">\
<label>Reason<input name=\"reason\" maxlength=\"500\"></label><button type=\"submit\">Reopen</button></form>",
            csrf_field(csrf)
        );
    } else {
        let _ = write!(
            fb,
            "<form method=\"post\" action=\"{action}\" id=\"fp-form\">{}<input type=\"hidden\" name=\"action\" value=\"false_positive\">\
<label>Why is this a false positive?<input name=\"reason\" required maxlength=\"500\"></label>\
<button type=\"submit\">False positive</button></form>",
            csrf_field(csrf)
        );
    }
    let _ = write!(
        fb,
        "<form method=\"post\" action=\"{action}\" id=\"mute-form\" data-confirm=\"Mute this author? Their posts will no longer alert.\">{}\
<input type=\"hidden\" name=\"action\" value=\"mute\">\
<label>Mute author — reason<input name=\"reason\" required maxlength=\"500\"></label>\
<button type=\"submit\">Mute author</button></form>\
<form method=\"post\" action=\"{action}\" id=\"term-form\">{}<input type=\"hidden\" name=\"action\" value=\"suppress\">\
<label>Suppress term<input name=\"term\" required maxlength=\"200\" placeholder=\"a word or &quot;a phrase&quot;\"></label>\
<label>Reason<input name=\"reason\" required maxlength=\"500\"></label>\
<button type=\"submit\">Suppress term</button></form>",
        csrf_field(csrf),
        csrf_field(csrf)
    );
    if !detail.feedback.is_empty() {
        fb.push_str("<h3>History</h3><ul class=\"plain feedback\">");
        for f in &detail.feedback {
            let _ = write!(
                fb,
                "<li>{} by {} at {}: {}{}</li>",
                esc(&f.kind.replace('_', " ")),
                esc(&f.who),
                esc(&f.at),
                esc(&f.reason),
                if f.revoked { " (withdrawn)" } else { "" }
            );
        }
        fb.push_str("</ul>");
    }
    body.push_str(&section("Feedback", "feedback", &fb));
    body.push_str("</div></div>");
    Ok(Html(page(
        &format!("Alert {}", a.alert_id),
        Nav::Alerts,
        &who,
        csrf,
        &body,
    )))
}

/// A feedback form: false positive, reopen, mute author, suppress term.
#[derive(serde::Deserialize)]
pub(crate) struct FeedbackForm {
    csrf: String,
    action: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    term: String,
}

pub(crate) async fn feedback(
    State(st): State<Shared>,
    Extension(Who(who)): Extension<Who>,
    Path(id): Path<String>,
    Form(form): Form<FeedbackForm>,
) -> Result<Response, WebError> {
    st.auth.check_csrf(&form.csrf)?;
    let id2 = id.clone();
    db(&st, move |c| {
        let author: Option<String> = c
            .query_row(
                "SELECT platform || ':' || author_id FROM alerts WHERE alert_id = ?1",
                [&id2],
                |r| r.get(0),
            )
            .ok();
        let Some(author) = author else {
            return Err(WebError::NotFound);
        };
        let res = match form.action.as_str() {
            "false_positive" => actions::false_positive(c, &who, &id2, &form.reason, false),
            "reopen" => actions::false_positive(c, &who, &id2, &form.reason, true),
            "mute" => {
                actions::add_suppression(c, &who, "author", &author, &form.reason, Some(&id2))
                    .map(|_| ())
            }
            "suppress" => {
                actions::add_suppression(c, &who, "term", &form.term, &form.reason, Some(&id2))
                    .map(|_| ())
            }
            _ => return Err(WebError::BadRequest("unknown action".into())),
        };
        res.map_err(|e| WebError::BadRequest(format!("{e:#}")))
    })
    .await?;
    Ok(Redirect::to(&format!("{}#feedback", alert_href(&id))).into_response())
}

/// Query of the actor page.
#[derive(serde::Deserialize)]
pub(crate) struct ActorQuery {
    platform: String,
    id: String,
}

pub(crate) async fn actor(
    State(st): State<Shared>,
    Extension(Who(who)): Extension<Who>,
    Query(q): Query<ActorQuery>,
) -> Result<Html<String>, WebError> {
    let (platform, id) = (q.platform.clone(), q.id.clone());
    let ap = db(&st, move |c| Ok(data::actor_page(c, &platform, &id)?))
        .await?
        .ok_or(WebError::NotFound)?;
    let a = &ap.actor;
    let handle = a
        .handle
        .as_deref()
        .map(|h| format!("@{}", h.trim_start_matches('@')))
        .unwrap_or_else(|| a.author_id.clone());
    let mut body = format!(
        "<p class=\"crumbs\"><a href=\"/\">Alerts</a> › actor</p><h1>{} <span class=\"platform\">{}</span></h1>",
        esc(&handle),
        esc(platform_name(&a.platform))
    );
    let mut card = format!(
        "<dl><dt>Name</dt><dd>{}</dd><dt>Id</dt><dd><code>{}:{}</code> {}</dd>\
<dt>First seen</dt><dd>{}</dd><dt>Last seen</dt><dd>{}</dd><dt>Alerts</dt><dd>{}</dd>\
<dt>Account</dt><dd>{}</dd></dl>",
        esc(a.name.as_deref().unwrap_or("")),
        esc(&a.platform),
        esc(&a.author_id),
        copy_button(&format!("{}:{}", a.platform, a.author_id)),
        esc(&a.first_seen),
        esc(&a.last_seen),
        a.alert_count,
        if a.active {
            "active".to_string()
        } else {
            format!(
                "inactive ({})",
                esc(a.status.as_deref().unwrap_or("unknown"))
            )
        }
    );
    if ap.muted {
        card.push_str("<p class=\"badge\">Muted: this author's posts do not alert</p>");
    }
    let _ = write!(
        card,
        "<p><a href=\"/?actor={}\">All alerts of this actor</a></p>",
        enc(&format!("{}:{}", a.platform, a.author_id))
    );
    let mut hist =
        String::from("<table><tr><th>Handle</th><th>First seen</th><th>Last seen</th></tr>");
    for (h, first, last) in &ap.handles {
        let _ = write!(
            hist,
            "<tr><td>@{}</td><td>{}</td><td>{}</td></tr>",
            esc(h),
            esc(first),
            esc(last)
        );
    }
    for (n, first, last) in &ap.names {
        let _ = write!(
            hist,
            "<tr><td>name: {}</td><td>{}</td><td>{}</td></tr>",
            esc(n),
            esc(first),
            esc(last)
        );
    }
    hist.push_str("</table>");
    let linked = if ap.linked.is_empty() {
        "<p class=\"empty\">No account on another platform shares this handle or name.</p>"
            .to_string()
    } else {
        let mut s = String::from("<p class=\"dim\">Possible links, by handle or display name: check before acting.</p><ul class=\"plain\">");
        for (o, why) in &ap.linked {
            let _ = write!(
                s,
                "<li><a href=\"{}\">{} @{}</a> <span class=\"dim\">{} · {} alerts</span></li>",
                actor_href(&o.platform, &o.author_id),
                esc(platform_name(&o.platform)),
                esc(o.handle.as_deref().unwrap_or(&o.author_id)),
                esc(why),
                o.alert_count
            );
        }
        s.push_str("</ul>");
        s
    };
    let mut tl = String::from("<ol class=\"timeline\">");
    for e in &ap.timeline {
        match e {
            data::TimelineEntry::Alert(al) => {
                let _ = write!(tl, "<li>{}</li>", alert_card(al));
            }
            data::TimelineEntry::Event { kind, old, new, at } => {
                let _ = write!(
                    tl,
                    "<li class=\"event\"><span class=\"when\">{}</span> {}: {} → {}</li>",
                    esc(at),
                    esc(&kind.replace('_', " ")),
                    esc(old.as_deref().unwrap_or("–")),
                    esc(new.as_deref().unwrap_or("–"))
                );
            }
        }
    }
    tl.push_str("</ol>");
    body.push_str("<div class=\"grid\"><div class=\"col-main\">");
    body.push_str(&section("Timeline", "timeline", &tl));
    body.push_str("</div><div class=\"col-side\">");
    body.push_str(&section("Account", "account", &card));
    body.push_str(&section("Handle history", "handles", &hist));
    body.push_str(&section("Linked accounts", "linked", &linked));
    body.push_str("</div></div>");
    Ok(Html(page(&handle, Nav::None, &who, &st.auth.csrf, &body)))
}

pub(crate) async fn analytics(
    State(st): State<Shared>,
    Extension(Who(who)): Extension<Who>,
) -> Result<Html<String>, WebError> {
    let cached = st
        .analytics
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .filter(|(at, _)| at.elapsed() < super::ANALYTICS_TTL)
        .map(|(_, a)| a.clone());
    let an = match cached {
        Some(an) => an,
        None => {
            let an = std::sync::Arc::new(db(&st, |c| Ok(data::analytics(c)?)).await?);
            *st.analytics.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((std::time::Instant::now(), an.clone()));
            an
        }
    };
    let mut body = format!(
        "<h1>Analytics</h1><p class=\"dim\">{} alerts stored.</p>",
        an.total
    );
    let volume = if an.volume.is_empty() {
        "<p class=\"empty\">No alerts yet.</p>".to_string()
    } else {
        let bars: Vec<(String, i64)> = an
            .volume
            .iter()
            .map(|(h, n)| (format!("{}:00Z", h.replace('T', " ")), *n))
            .collect();
        format!(
            "<p class=\"dim\">Alerts per hour, the 72 hours up to the newest alert.</p>{}",
            html::bar_chart(&bars, 720, 160)
        )
    };
    body.push_str(&section("Volume", "volume", &volume));
    let surges = if an.surges.is_empty() {
        "<p class=\"empty\">No rule has surged (an hour with ≥ 5 hits and 3× its 24-hour average).</p>".to_string()
    } else {
        let mut s = String::from(
            "<table><tr><th>Rule</th><th>Hour (UTC)</th><th>Hits</th><th>24 h average</th></tr>",
        );
        for (rule, hour, n, avg) in &an.surges {
            let _ = write!(
                s,
                "<tr><td><a href=\"/?rule={}\">{}</a></td><td>{}</td><td>{n}</td><td>{avg:.1}</td></tr>",
                enc(rule),
                esc(rule),
                esc(hour)
            );
        }
        s.push_str("</table>");
        s
    };
    body.push_str(&section("Surges", "surges", &surges));
    body.push_str(
        "<p class=\"dim\">The lists below cover the 30 days up to the newest alert (refreshed every 30 s).</p><div class=\"grid2\">",
    );
    let mut states = html::state_map(&an.states);
    states.push_str("<table><tr><th>State</th><th>Alerts</th></tr>");
    for (s, n) in &an.states {
        let _ = write!(
            states,
            "<tr><td><a href=\"/?state={}\">{}</a></td><td>{n}</td></tr>",
            enc(s),
            esc(s)
        );
    }
    states.push_str("</table>");
    body.push_str(&section("Targeted states", "states", &states));
    let mut ents = String::from("<table><tr><th>Entity</th><th>State</th><th>Alerts</th></tr>");
    for (domain, name, state, n) in &an.entities {
        let _ = write!(
            ents,
            "<tr><td><a href=\"/?entity={}\">{}</a><br><span class=\"dim\">{}</span></td><td>{}</td><td>{n}</td></tr>",
            enc(domain),
            esc(if name.is_empty() { domain } else { name }),
            esc(&show_ioc(domain, true)),
            esc(state.as_deref().unwrap_or(""))
        );
    }
    ents.push_str("</table>");
    body.push_str(&section("Top targeted entities", "entities", &ents));
    let mut iocs =
        String::from("<table><tr><th>Kind</th><th>Indicator (defanged)</th><th>Alerts</th></tr>");
    for (kind, v, n) in &an.iocs {
        let shown = show_ioc(v, true);
        let _ = write!(
            iocs,
            "<tr><td>{}</td><td><code>{}</code> {}</td><td>{n}</td></tr>",
            esc(kind),
            esc(&shown),
            copy_button(&shown)
        );
    }
    iocs.push_str("</table>");
    body.push_str(&section("Top indicators", "top-iocs", &iocs));
    let mut actors = String::from("<table><tr><th>Actor</th><th>Platform</th><th>Alerts</th></tr>");
    for (platform, id, handle, n) in &an.actors {
        let _ = write!(
            actors,
            "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td>{n}</td></tr>",
            actor_href(platform, id),
            esc(&handle
                .as_deref()
                .map(|h| format!("@{h}"))
                .unwrap_or_else(|| id.clone())),
            esc(platform_name(platform))
        );
    }
    actors.push_str("</table>");
    body.push_str(&section("Top actors", "top-actors", &actors));
    body.push_str("</div>");
    Ok(Html(page(
        "Analytics",
        Nav::Analytics,
        &who,
        &st.auth.csrf,
        &body,
    )))
}

pub(crate) async fn suppressions(
    State(st): State<Shared>,
    Extension(Who(who)): Extension<Who>,
) -> Result<Html<String>, WebError> {
    let rows = db(&st, |c| Ok(data::suppression_rows(c)?)).await?;
    let mut body = String::from(
        "<h1>Suppressions</h1><p class=\"dim\">Muted authors and suppressed terms match no rule: \
the running pipeline picks up a change within a second. Removing one restores alerting.</p>",
    );
    if rows.is_empty() {
        body.push_str("<p class=\"empty\">No suppressions.</p>");
    } else {
        body.push_str("<table class=\"suppressions\"><tr><th>Kind</th><th>Value</th><th>Reason</th><th>By</th><th>State</th></tr>");
        for r in &rows {
            let value = if r.kind == "author" {
                let (p, id) = r.value.split_once(':').unwrap_or(("", &r.value));
                format!("<a href=\"{}\">{}</a>", actor_href(p, id), esc(&r.value))
            } else {
                format!("<code>{}</code>", esc(&r.value))
            };
            let from = r
                .alert_id
                .as_deref()
                .map(|a| {
                    format!(
                        "<br><a class=\"dim\" href=\"{}\">from alert</a>",
                        alert_href(a)
                    )
                })
                .unwrap_or_default();
            let state = match &r.removed {
                Some((by, at)) => format!("removed by {} at {}", esc(by), esc(at)),
                None => format!(
                    "<form method=\"post\" action=\"/suppressions/{}/remove\" class=\"inline\" \
data-confirm=\"Remove this suppression?\">{}<input name=\"reason\" placeholder=\"reason\" maxlength=\"500\">\
<button type=\"submit\">Remove</button></form>",
                    r.id,
                    csrf_field(&st.auth.csrf)
                ),
            };
            let _ = write!(
                body,
                "<tr class=\"{}\"><td>{}</td><td>{value}{from}</td><td>{}</td><td>{}<br><span class=\"dim\">{}</span></td><td>{state}</td></tr>",
                if r.removed.is_some() { "removed" } else { "active" },
                if r.kind == "author" { "muted author" } else { "term" },
                esc(&r.reason),
                esc(&r.created_by),
                esc(&r.created_at)
            );
        }
        body.push_str("</table>");
    }
    Ok(Html(page(
        "Suppressions",
        Nav::Suppressions,
        &who,
        &st.auth.csrf,
        &body,
    )))
}

/// The remove form.
#[derive(serde::Deserialize)]
pub(crate) struct RemoveForm {
    csrf: String,
    #[serde(default)]
    reason: String,
}

pub(crate) async fn remove_suppression(
    State(st): State<Shared>,
    Extension(Who(who)): Extension<Who>,
    Path(id): Path<i64>,
    Form(form): Form<RemoveForm>,
) -> Result<Response, WebError> {
    st.auth.check_csrf(&form.csrf)?;
    db(&st, move |c| {
        actions::remove_suppression(c, &who, id, &form.reason)
            .map_err(|e| WebError::BadRequest(format!("{e:#}")))
    })
    .await?;
    Ok(Redirect::to("/suppressions").into_response())
}

pub(crate) async fn audit_log(
    State(st): State<Shared>,
    Extension(Who(who)): Extension<Who>,
) -> Result<Html<String>, WebError> {
    let rows = db(&st, |c| Ok(data::audit_rows(c, 500)?)).await?;
    let mut body = String::from("<h1>Audit log</h1>");
    if rows.is_empty() {
        body.push_str("<p class=\"empty\">No actions yet.</p>");
    } else {
        body.push_str("<table class=\"audit\"><tr><th>When (UTC)</th><th>Who</th><th>Action</th><th>Target</th><th>Why</th></tr>");
        for r in &rows {
            let target = match r.target.strip_prefix("alert ") {
                Some(id) => format!("<a href=\"{}\">alert {}</a>", alert_href(id), esc(id)),
                None => esc(&r.target),
            };
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{target}{}</td><td>{}</td></tr>",
                esc(&r.at),
                esc(&r.who),
                esc(&r.action.replace('_', " ")),
                r.detail
                    .as_deref()
                    .map(|d| format!("<br><span class=\"dim\">{}</span>", esc(d)))
                    .unwrap_or_default(),
                esc(&r.reason)
            );
        }
        body.push_str("</table>");
    }
    Ok(Html(page(
        "Audit log",
        Nav::Audit,
        &who,
        &st.auth.csrf,
        &body,
    )))
}

pub(crate) async fn health(
    State(st): State<Shared>,
    Extension(Who(who)): Extension<Who>,
) -> Result<Html<String>, WebError> {
    let h = db(&st, |c| Ok(data::health(c)?)).await?;
    let now = crate::storage::now_ms();
    let mut body = format!(
        "<h1>Health</h1><p>{} alerts stored; the newest at {}.</p>",
        h.alerts,
        esc(h.last_alert.as_deref().unwrap_or("never"))
    );
    let sources = match (&h.sources, &h.sources_raw) {
        (Some(rows), _) => source_table(rows, now),
        (None, Some(t)) => {
            let mut s = String::from("<table><tr>");
            for c in &t.columns {
                let _ = write!(s, "<th>{}</th>", esc(c));
            }
            s.push_str("</tr>");
            for r in &t.rows {
                s.push_str("<tr>");
                for v in r {
                    let _ = write!(s, "<td>{}</td>", esc(&truncate_chars(v, 300)));
                }
                s.push_str("</tr>");
            }
            s.push_str("</table>");
            s
        }
        (None, None) => "<p class=\"dim\">Live sources report no state in this database; their cursors follow.</p>".into(),
    };
    let mut cursors =
        String::from("<table><tr><th>Source</th><th>Cursor</th><th>Updated (lag)</th></tr>");
    for (src, cur, at) in &h.cursors {
        let lag = at
            .parse::<jiff::Timestamp>()
            .map(|t| format!(" ({} s ago)", (now / 1000 - t.as_second()).max(0)))
            .unwrap_or_default();
        let _ = write!(
            cursors,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}{lag}</td></tr>",
            esc(src),
            esc(&truncate_chars(cur, 80)),
            esc(at)
        );
    }
    cursors.push_str("</table>");
    let mut rate = String::from("<table><tr><th>Platform</th><th>Stored posts/s (5 min)</th></tr>");
    for (p, r) in &h.stored_rate {
        let _ = write!(
            rate,
            "<tr><td>{}</td><td>{r:.3}</td></tr>",
            esc(platform_name(p))
        );
    }
    rate.push_str("</table>");
    body.push_str(&section(
        "Sources",
        "sources",
        &format!("{sources}{cursors}{rate}"),
    ));
    let mut outbox = String::from("<table class=\"outbox\"><tr><th>Sink</th><th>Pending</th><th>Oldest pending</th><th>Delivered</th><th>Failed</th><th>Last error</th></tr>");
    for o in &h.outbox {
        let _ = write!(
            outbox,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&o.sink),
            o.pending,
            o.oldest_pending_ms
                .map(|ms| format!("{} s", ((now - ms) / 1000).max(0)))
                .unwrap_or_else(|| "–".into()),
            o.delivered,
            o.failed,
            esc(&truncate_chars(o.last_error.as_deref().unwrap_or(""), 200))
        );
    }
    outbox.push_str("</table>");
    body.push_str(&section("Outbox", "outbox", &outbox));
    body.push_str(
        "<p><a href=\"/metrics\">Prometheus metrics</a> · <a href=\"/healthz\">/healthz</a></p>",
    );
    Ok(Html(page(
        "Health",
        Nav::Health,
        &who,
        &st.auth.csrf,
        &body,
    )))
}

/// The live sources' table: state, lag, rate, counters, last error, and anything else the
/// source reports (secret-looking keys were already dropped).
fn source_table(rows: &[data::SourceRow], now_ms: i64) -> String {
    use serde_json::Value;
    const SHOWN: &[&str] = &[
        "name",
        "connected",
        "stopped",
        "running",
        "lag_ms",
        "posts_per_sec",
        "posts",
        "reconnects",
        "last_error",
    ];
    let scalar = |v: &Value| match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut s = String::from(
        "<table class=\"sources\"><tr><th>Source</th><th>State</th><th>Lag</th><th>Posts/s</th>\
<th>Posts</th><th>Reconnects</th><th>Last error</th><th>Other</th><th>Reported</th></tr>",
    );
    for r in rows {
        let st = &r.state;
        let flag = |k: &str| st.get(k).and_then(Value::as_bool);
        let state = if flag("running") == Some(false) {
            "not running"
        } else if flag("stopped") == Some(true) {
            "stopped"
        } else if flag("connected") == Some(true) {
            "connected"
        } else if flag("connected") == Some(false) {
            "reconnecting"
        } else {
            "unknown"
        };
        let class = match state {
            "connected" => "ok",
            "unknown" => "dim",
            _ => "error",
        };
        let lag = st
            .get("lag_ms")
            .and_then(Value::as_f64)
            .map(|ms| format!("{:.1} s", ms / 1000.0))
            .unwrap_or_else(|| "–".into());
        let rate = st
            .get("posts_per_sec")
            .and_then(Value::as_f64)
            .map(|r| format!("{r:.2}"))
            .unwrap_or_else(|| "–".into());
        let other: Vec<String> = st
            .iter()
            .filter(|(k, v)| !SHOWN.contains(&k.as_str()) && !v.is_object() && !v.is_array())
            .map(|(k, v)| format!("{k}: {}", scalar(v)))
            .collect();
        let age = r
            .updated_at
            .parse::<jiff::Timestamp>()
            .map(|t| format!(" ({} s ago)", (now_ms / 1000 - t.as_second()).max(0)))
            .unwrap_or_default();
        let _ = write!(
            s,
            "<tr><td>{}</td><td class=\"{class}\">{state}</td><td>{lag}</td><td>{rate}</td><td>{}</td>\
<td>{}</td><td>{}</td><td class=\"dim\">{}</td><td>{}{age}</td></tr>",
            esc(&r.source),
            esc(&st.get("posts").map(scalar).unwrap_or_default()),
            esc(&st.get("reconnects").map(scalar).unwrap_or_default()),
            esc(&truncate_chars(&st.get("last_error").map(scalar).unwrap_or_default(), 200)),
            esc(&truncate_chars(&other.join(", "), 300)),
            esc(&r.updated_at)
        );
    }
    s.push_str("</table>");
    s
}

pub(crate) async fn metrics(State(st): State<Shared>) -> Result<Response, WebError> {
    let mut text = db(&st, |c| Ok(data::metrics(c)?)).await?;
    // The live pipeline's counters (empty under `streamer serve`, which runs no pipeline).
    text.push_str(&crate::metrics::global().render());
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

pub(crate) async fn healthz(State(st): State<Shared>) -> Response {
    match db(&st, |c| {
        Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?)
    })
    .await
    {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response(),
    }
}

const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

pub(crate) async fn app_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        APP_JS,
    )
        .into_response()
}

pub(crate) async fn app_css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        APP_CSS,
    )
        .into_response()
}
