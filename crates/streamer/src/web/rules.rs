//! The rules page: hits per rule, and editing a rule's query with validation and a preview
//! over stored posts.
//!
//! Decision: a saved rule is written back into the config file (with `toml_edit`, so comments
//! and layout survive), not kept in a database table. The file stays the one truth for rules;
//! `streamer run` reloads it when it changes, and `streamer rules check` sees what runs. The
//! whole new file is validated before it replaces the old one (atomically, by rename), so a
//! save can never leave a config that does not load.

use super::data;
use super::html::{self, csrf_field, enc, esc, page, Nav};
use super::{actions, auth::Who, db, Shared, WebError};
use crate::alert::AlertRecord;
use crate::config::Config;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use std::fmt::Write;
use std::path::Path;
use streamer_rules::{RuleSpec, WatchSpec};

/// How many stored posts a preview runs the rule over (newest first).
const PREVIEW_POSTS: usize = 5000;
/// How many matching posts a preview shows.
const PREVIEW_SHOWN: usize = 50;

/// Every rule id the config produces, in compile order, with its query and whether it can be
/// edited here (only `[[rules]]` entries; watch entries are lists in `[watch]`).
fn configured(config: &Config) -> Vec<(String, String, String, bool)> {
    let mut out: Vec<(String, String, String, bool)> = config
        .rules
        .iter()
        .map(|r| {
            (
                r.id.clone(),
                r.query.clone(),
                r.severity.as_str().into(),
                true,
            )
        })
        .collect();
    let w = &config.watch;
    let sev = w.severity.as_str().to_string();
    for k in &w.keywords {
        out.push((format!("keyword:{k}"), k.clone(), sev.clone(), false));
    }
    for d in &w.domains {
        out.push((
            format!("domain:{d}"),
            format!("domain:{d}"),
            sev.clone(),
            false,
        ));
    }
    for a in &w.accounts {
        out.push((
            format!("account:{a}"),
            format!("from:{a}"),
            sev.clone(),
            false,
        ));
    }
    if w.sltt_domains {
        out.push(("sltt".into(), "entity:sltt".into(), sev, false));
    }
    out
}

pub(crate) async fn list(
    State(st): State<Shared>,
    Extension(Who(who)): Extension<Who>,
) -> Result<Html<String>, WebError> {
    let config = st.current_config();
    let mut rules = configured(&config);
    let hours = data::hour_keys(48);
    let rows = db(&st, move |c| {
        for id in data::rules_with_hits(c)? {
            if !rules.iter().any(|r| r.0 == id) {
                rules.push((id, "(no longer configured)".into(), String::new(), false));
            }
        }
        let mut out = Vec::new();
        for r in rules {
            let stats = data::rule_stats(c, &r.0, &hours)?;
            out.push((r, stats));
        }
        Ok(out)
    })
    .await?;
    let mut body = String::from(
        "<h1>Rules</h1><p class=\"dim\">Hits per hour over the last 48 hours. Rules from \
<code>[[rules]]</code> can be edited here; watch entries live in <code>[watch]</code>.</p>\
<table class=\"rules\"><tr><th>Rule</th><th>Severity</th><th>Last 48 h</th><th>Total</th><th>Last hit</th></tr>",
    );
    for ((id, query, sev, editable), s) in &rows {
        let name = if *editable {
            format!("<a href=\"/rules/edit?id={}\">{}</a>", enc(id), esc(id))
        } else {
            esc(id)
        };
        let _ = write!(
            body,
            "<tr><td>{name}<br><code class=\"query\">{}</code></td><td>{}</td><td>{}</td>\
<td><a href=\"/?rule={}\">{}</a></td><td>{}</td></tr>",
            esc(query),
            if sev.is_empty() {
                String::new()
            } else {
                html::severity_badge(sev)
            },
            html::sparkline(&s.hourly, 120, 24),
            enc(id),
            s.total,
            esc(s.last_hit.as_deref().unwrap_or("never"))
        );
    }
    body.push_str("</table>");
    Ok(Html(page("Rules", Nav::Rules, &who, &st.auth.csrf, &body)))
}

/// Query of the edit page.
#[derive(serde::Deserialize)]
pub(crate) struct EditQuery {
    id: String,
    #[serde(default)]
    saved: Option<u8>,
}

fn editor(
    st: &Shared,
    id: &str,
    query: &str,
    severity: &str,
    notice: &str,
    result: &str,
) -> String {
    let mut sev = String::new();
    for s in ["info", "low", "medium", "high", "critical"] {
        let _ = write!(
            sev,
            "<option value=\"{s}\"{}>{s}</option>",
            if s == severity { " selected" } else { "" }
        );
    }
    format!(
        "<p class=\"crumbs\"><a href=\"/rules\">Rules</a> › {id_e}</p><h1>Edit rule {id_e}</h1>{notice}\
<form method=\"post\" action=\"/rules/test\" class=\"rule-editor\">{csrf}\
<input type=\"hidden\" name=\"id\" value=\"{id_e}\">\
<label>Query<textarea name=\"query\" rows=\"4\" spellcheck=\"false\" required>{q}</textarea></label>\
<label>Severity<select name=\"severity\">{sev}</select></label>\
<div class=\"actions\"><button type=\"submit\" id=\"validate\">Validate and preview</button> \
<button type=\"submit\" id=\"save\" formaction=\"/rules/save\" data-confirm=\"Save this rule to the config file? The running pipeline reloads it.\">Save</button></div>\
</form>{result}",
        id_e = esc(id),
        csrf = csrf_field(&st.auth.csrf),
        q = esc(query),
    )
}

pub(crate) async fn edit(
    State(st): State<Shared>,
    Extension(Who(who)): Extension<Who>,
    Query(q): Query<EditQuery>,
) -> Result<Html<String>, WebError> {
    let config = st.current_config();
    let rule = config
        .rules
        .iter()
        .find(|r| r.id == q.id)
        .ok_or(WebError::NotFound)?;
    let notice = if q.saved.is_some() {
        "<p class=\"ok\">Saved to the config file; the running pipeline reloads it.</p>"
    } else {
        ""
    };
    let body = editor(
        &st,
        &rule.id,
        &rule.query,
        rule.severity.as_str(),
        notice,
        "",
    );
    Ok(Html(page(
        "Edit rule",
        Nav::Rules,
        &who,
        &st.auth.csrf,
        &body,
    )))
}

/// The editor's fields.
#[derive(serde::Deserialize)]
pub(crate) struct RuleForm {
    csrf: String,
    id: String,
    query: String,
    severity: String,
}

fn spec(config: &Config, form: &RuleForm) -> Result<RuleSpec, WebError> {
    let old = config
        .rules
        .iter()
        .find(|r| r.id == form.id)
        .ok_or(WebError::NotFound)?;
    let severity = streamer_model::Severity::parse(&form.severity)
        .ok_or_else(|| WebError::BadRequest("unknown severity".into()))?;
    Ok(RuleSpec {
        id: old.id.clone(),
        query: form.query.trim().replace("\r\n", "\n"),
        severity,
        tags: old.tags.clone(),
        line: None,
    })
}

fn compile_errors(spec: &RuleSpec) -> Result<Vec<String>, Vec<String>> {
    match streamer_rules::compile(std::slice::from_ref(spec), &WatchSpec::default()) {
        Ok(c) => Ok(c.warnings.iter().map(|w| w.message.clone()).collect()),
        Err(errors) => Err(errors.iter().map(|e| e.to_string()).collect()),
    }
}

/// Validates the edited rule and runs it over stored posts.
pub(crate) async fn test(
    State(st): State<Shared>,
    Extension(Who(who)): Extension<Who>,
    Form(form): Form<RuleForm>,
) -> Result<Html<String>, WebError> {
    st.auth.check_csrf(&form.csrf)?;
    let config = st.current_config();
    let spec = spec(&config, &form)?;
    let result = match compile_errors(&spec) {
        Err(errors) => {
            let mut s = String::from(
                "<section class=\"card\" id=\"result\"><h2>Not valid</h2><ul class=\"errors\">",
            );
            for e in errors {
                let _ = write!(s, "<li>{}</li>", esc(&e));
            }
            s.push_str("</ul></section>");
            s
        }
        Ok(warnings) => {
            let saved = config.rules.iter().find(|r| r.id == spec.id).cloned();
            let spec2 = spec.clone();
            let (matches, scanned, saved_count) = db(&st, move |c| {
                let posts = data::recent_posts(c, PREVIEW_POSTS)?;
                Ok(preview(&spec2, saved.as_ref(), &posts))
            })
            .await?;
            let mut s = String::from("<section class=\"card\" id=\"result\"><h2>Valid</h2>");
            for w in warnings {
                let _ = write!(s, "<p class=\"warn\">{}</p>", esc(&w));
            }
            let _ = write!(
                s,
                "<p id=\"preview-count\">Would have matched <strong>{}</strong> of the {scanned} newest stored posts \
(the saved rule matches {saved_count}).</p>",
                matches.len()
            );
            for rec in matches.iter().take(PREVIEW_SHOWN) {
                let _ = write!(
                    s,
                    "<article class=\"alert\"><div class=\"meta\">{} <a href=\"{}\">@{}</a></div><p class=\"text\">{}</p></article>",
                    esc(rec.post.platform.as_str()),
                    html::actor_href(rec.post.platform.as_str(), &rec.post.author.id),
                    esc(rec.post.author.handle.as_deref().unwrap_or(&rec.post.author.id)),
                    crate::render::html_text(rec, true)
                );
            }
            s.push_str("</section>");
            s
        }
    };
    let body = editor(
        &st,
        &spec.id,
        &spec.query,
        spec.severity.as_str(),
        "",
        &result,
    );
    Ok(Html(page(
        "Edit rule",
        Nav::Rules,
        &who,
        &st.auth.csrf,
        &body,
    )))
}

/// Runs `spec` (and the saved version, for comparison) over posts: the would-be alerts, the
/// number of posts scanned, and how many the saved rule matches.
fn preview(
    spec: &RuleSpec,
    saved: Option<&RuleSpec>,
    posts: &[streamer_model::Post],
) -> (Vec<AlertRecord>, usize, usize) {
    let Ok(new) = streamer_rules::compile(std::slice::from_ref(spec), &WatchSpec::default()) else {
        return (Vec::new(), posts.len(), 0);
    };
    let old = saved
        .and_then(|s| streamer_rules::compile(std::slice::from_ref(s), &WatchSpec::default()).ok());
    let mut out = Vec::new();
    let mut saved_count = 0;
    for post in posts {
        let enrichment = streamer_ioc::enrich(post);
        if let Some(old) = &old {
            if !old.rules.matches(post, &enrichment).is_empty() {
                saved_count += 1;
            }
        }
        let hits = new.rules.matches(post, &enrichment);
        if !hits.is_empty() {
            out.push(AlertRecord {
                alert_id: String::new(),
                created_at: String::new(),
                rules: hits,
                post: post.clone(),
                iocs: enrichment.iocs,
                entities: enrichment.entities,
            });
        }
    }
    (out, posts.len(), saved_count)
}

/// Rewrites one `[[rules]]` entry's query and severity in the config text, keeping comments
/// and layout. Literal strings stay literal where the query allows it.
pub fn rewrite_rule(text: &str, id: &str, query: &str, severity: &str) -> anyhow::Result<String> {
    let mut doc: toml_edit::DocumentMut = text.parse()?;
    let tables = doc
        .get_mut("rules")
        .and_then(|r| r.as_array_of_tables_mut())
        .ok_or_else(|| anyhow::anyhow!("the config file has no [[rules]]"))?;
    let table = tables
        .iter_mut()
        .find(|t| t.get("id").and_then(|v| v.as_str()) == Some(id))
        .ok_or_else(|| anyhow::anyhow!("rule {id:?} is not in the config file"))?;
    let literal = !query.contains('\'') && !query.contains('\n');
    let mut value: toml_edit::Value = if literal {
        format!("'{query}'").parse()?
    } else {
        query.into()
    };
    if let Some(old) = table.get("query").and_then(|i| i.as_value()) {
        *value.decor_mut() = old.decor().clone();
    }
    table["query"] = toml_edit::Item::Value(value);
    let mut sev: toml_edit::Value = severity.into();
    if let Some(old) = table.get("severity").and_then(|i| i.as_value()) {
        *sev.decor_mut() = old.decor().clone();
    }
    table["severity"] = toml_edit::Item::Value(sev);
    Ok(doc.to_string())
}

fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("toml.streamer-tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Saves the edited rule into the config file and writes the audit entry.
pub(crate) async fn save(
    State(st): State<Shared>,
    Extension(Who(who)): Extension<Who>,
    Form(form): Form<RuleForm>,
) -> Result<Response, WebError> {
    st.auth.check_csrf(&form.csrf)?;
    let Some(path) = st.config.path.clone() else {
        return Err(WebError::BadRequest(
            "this server runs without a config file (--config), so rules cannot be saved".into(),
        ));
    };
    let config = st.current_config();
    let spec = spec(&config, &form)?;
    if let Err(errors) = compile_errors(&spec) {
        return Err(WebError::BadRequest(format!(
            "the rule is not valid: {}",
            errors.join("; ")
        )));
    }
    let old = config
        .rules
        .iter()
        .find(|r| r.id == spec.id)
        .map(|r| (r.query.clone(), r.severity.as_str()))
        .unwrap_or_default();
    let text = std::fs::read_to_string(&path)
        .map_err(|e| WebError::Internal(anyhow::anyhow!("cannot read {}: {e}", path.display())))?;
    let new_text = rewrite_rule(&text, &spec.id, &spec.query, spec.severity.as_str())
        .map_err(|e| WebError::BadRequest(format!("{e:#}")))?;
    Config::from_str(&new_text, Some(&path))
        .map_err(|e| WebError::BadRequest(format!("the config would not load: {e}")))?;
    write_atomically(&path, &new_text)
        .map_err(|e| WebError::Internal(e.context(format!("cannot write {}", path.display()))))?;
    let detail = format!(
        "query: {} → {}; severity: {} → {}",
        old.0,
        spec.query,
        old.1,
        spec.severity.as_str()
    );
    let id = spec.id.clone();
    db(&st, move |c| {
        Ok(actions::audit(
            c,
            &who,
            "edit_rule",
            &format!("rule {id}"),
            "",
            Some(&detail),
        )?)
    })
    .await?;
    Ok(Redirect::to(&format!("/rules/edit?id={}&saved=1", enc(&spec.id))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrite_keeps_comments_and_other_rules() {
        let text = "# top comment\n[[rules]]\nid = \"a\"\nquery = 'x OR y'  # keep me\nseverity = \"high\"\n\n[[rules]]\nid = \"b\"\nquery = 'z'\n";
        let out = rewrite_rule(text, "a", "lockbit \"school district\"", "critical").unwrap();
        assert!(out.contains("# top comment"));
        assert!(
            out.contains("query = 'lockbit \"school district\"'  # keep me"),
            "{out}"
        );
        assert!(out.contains("severity = \"critical\""));
        assert!(out.contains("query = 'z'"));
        let out = rewrite_rule(text, "b", "it's", "low").unwrap();
        assert!(out.contains("query = \"it's\""), "{out}");
        assert!(rewrite_rule(text, "nope", "q", "low").is_err());
    }
}
