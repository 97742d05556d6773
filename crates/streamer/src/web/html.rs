//! HTML building blocks: one escaping function, the page layout and small widgets.
//!
//! Pages are hand-written HTML built with `format!`. The rule that keeps them safe: every
//! string that did not come from this file's own literals goes through [`esc`] (text and
//! attribute values) or [`enc`] (inside a URL query), and post text goes through
//! [`crate::render::html_text`], which escapes and defangs. No page carries inline script or
//! style: the Content-Security-Policy forbids both, and behaviour lives in `assets/app.js`.

use std::fmt::Write;

/// Escapes text for HTML content and quoted attribute values.
pub fn esc(s: &str) -> String {
    crate::render::html_escape(s)
}

/// Percent-encodes a value for a URL query component (then safe inside an attribute).
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// The link to an actor's page.
pub fn actor_href(platform: &str, author_id: &str) -> String {
    format!("/actor?platform={}&id={}", enc(platform), enc(author_id))
}

/// The link to an alert's page.
pub fn alert_href(alert_id: &str) -> String {
    format!("/alert/{}", enc(alert_id))
}

/// Which navigation entry is current.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Alerts,
    Rules,
    Analytics,
    Suppressions,
    Audit,
    Health,
    None,
}

/// A whole page: header with navigation, the body, and the one script.
pub fn page(title: &str, nav: Nav, who: &str, csrf: &str, body: &str) -> String {
    let mut links = String::new();
    for (n, href, label) in [
        (Nav::Alerts, "/", "Alerts"),
        (Nav::Rules, "/rules", "Rules"),
        (Nav::Analytics, "/analytics", "Analytics"),
        (Nav::Suppressions, "/suppressions", "Suppressions"),
        (Nav::Audit, "/audit", "Audit log"),
        (Nav::Health, "/health", "Health"),
    ] {
        let current = if n == nav {
            " aria-current=\"page\""
        } else {
            ""
        };
        let _ = write!(links, "<a href=\"{href}\"{current}>{label}</a>");
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"csrf-token\" content=\"{csrf}\">\
<title>{title} · Streamer</title>\
<link rel=\"stylesheet\" href=\"/static/app.css\">\
<script src=\"/static/app.js\" defer></script></head>\
<body><header class=\"top\"><a class=\"brand\" href=\"/\">Streamer</a><nav>{links}</nav>\
<span class=\"who\">{who}</span></header>\
<main>{body}</main></body></html>\n",
        csrf = esc(csrf),
        title = esc(title),
        who = esc(who),
    )
}

/// A hidden CSRF field for a form.
pub fn csrf_field(csrf: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(csrf)
    )
}

/// A severity badge.
pub fn severity_badge(sev: &str) -> String {
    let class = match sev {
        "critical" | "high" | "medium" | "low" | "info" => sev,
        _ => "info",
    };
    format!("<span class=\"sev sev-{class}\">{}</span>", esc(sev))
}

/// A button that copies `value` to the clipboard (app.js handles `data-copy`).
pub fn copy_button(value: &str) -> String {
    format!(
        "<button type=\"button\" class=\"copy\" data-copy=\"{}\" title=\"Copy\">Copy</button>",
        esc(value)
    )
}

/// An inline SVG sparkline of counts (one point per bucket).
pub fn sparkline(counts: &[i64], width: u32, height: u32) -> String {
    let max = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let n = counts.len().max(2) as f64;
    let mut pts = String::new();
    for (i, c) in counts.iter().enumerate() {
        let x = i as f64 * (width as f64 - 2.0) / (n - 1.0) + 1.0;
        let y = height as f64 - 1.0 - (*c as f64 / max) * (height as f64 - 2.0);
        let _ = write!(pts, "{x:.1},{y:.1} ");
    }
    format!(
        "<svg class=\"spark\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" \
role=\"img\" aria-label=\"hits per hour\"><polyline fill=\"none\" stroke=\"currentColor\" \
stroke-width=\"1.5\" points=\"{}\"/></svg>",
        pts.trim_end()
    )
}

/// A bar chart of labelled counts, as inline SVG (labels escaped).
pub fn bar_chart(bars: &[(String, i64)], width: u32, height: u32) -> String {
    let max = bars.iter().map(|b| b.1).max().unwrap_or(0).max(1) as f64;
    let n = bars.len().max(1) as f64;
    let bw = (width as f64 - 30.0) / n;
    let plot_h = height as f64 - 20.0;
    let mut out = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {width} {height}\" \
role=\"img\" aria-label=\"alerts per hour\">"
    );
    let _ = write!(
        out,
        "<text x=\"0\" y=\"10\" class=\"axis\">{}</text>",
        max as i64
    );
    for (i, (label, c)) in bars.iter().enumerate() {
        let h = (*c as f64 / max) * plot_h;
        let x = 30.0 + i as f64 * bw;
        let _ = write!(
            out,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\"><title>{}: {c}</title></rect>",
            plot_h - h,
            (bw - 1.0).max(0.5),
            esc(label)
        );
    }
    if let (Some(first), Some(last)) = (bars.first(), bars.last()) {
        let _ = write!(
            out,
            "<text x=\"30\" y=\"{h}\" class=\"axis\">{}</text><text x=\"{width}\" y=\"{h}\" \
class=\"axis\" text-anchor=\"end\">{}</text>",
            esc(&first.0),
            esc(&last.0),
            h = height - 4
        );
    }
    out.push_str("</svg>");
    out
}

/// The US states (and DC) on a tile grid: (code, column, row). A tile map shows every state at
/// the same size, so small targeted states are as visible as large ones.
const STATE_TILES: &[(&str, u8, u8)] = &[
    ("AK", 0, 0),
    ("ME", 11, 0),
    ("VT", 10, 1),
    ("NH", 11, 1),
    ("WA", 1, 2),
    ("ID", 2, 2),
    ("MT", 3, 2),
    ("ND", 4, 2),
    ("MN", 5, 2),
    ("IL", 6, 2),
    ("WI", 7, 2),
    ("MI", 8, 2),
    ("NY", 9, 2),
    ("RI", 10, 2),
    ("MA", 11, 2),
    ("OR", 1, 3),
    ("NV", 2, 3),
    ("WY", 3, 3),
    ("SD", 4, 3),
    ("IA", 5, 3),
    ("IN", 6, 3),
    ("OH", 7, 3),
    ("PA", 8, 3),
    ("NJ", 9, 3),
    ("CT", 10, 3),
    ("CA", 1, 4),
    ("UT", 2, 4),
    ("CO", 3, 4),
    ("NE", 4, 4),
    ("MO", 5, 4),
    ("KY", 6, 4),
    ("WV", 7, 4),
    ("VA", 8, 4),
    ("MD", 9, 4),
    ("DE", 10, 4),
    ("AZ", 2, 5),
    ("NM", 3, 5),
    ("KS", 4, 5),
    ("AR", 5, 5),
    ("TN", 6, 5),
    ("NC", 7, 5),
    ("SC", 8, 5),
    ("DC", 9, 5),
    ("OK", 4, 6),
    ("LA", 5, 6),
    ("MS", 6, 6),
    ("AL", 7, 6),
    ("GA", 8, 6),
    ("HI", 0, 7),
    ("TX", 4, 7),
    ("FL", 9, 7),
    ("PR", 11, 7),
];

/// A tile-grid map of the US shaded by count per state; every tile links to the filtered
/// alert list. States without a tile (territories other than PR) still appear in the table
/// next to it.
pub fn state_map(counts: &[(String, i64)]) -> String {
    let max = counts.iter().map(|c| c.1).max().unwrap_or(0).max(1) as f64;
    let size = 40;
    let mut out = String::from(
        "<svg class=\"usmap\" viewBox=\"0 0 480 320\" role=\"img\" aria-label=\"alerts by targeted state\">",
    );
    for (code, col, row) in STATE_TILES {
        let n = counts
            .iter()
            .find(|(s, _)| s.eq_ignore_ascii_case(code))
            .map(|c| c.1)
            .unwrap_or(0);
        let level = if n == 0 {
            0
        } else {
            1 + ((n as f64 / max) * 4.0).ceil().min(4.0) as u8
        };
        let (x, y) = (*col as u32 * size, *row as u32 * size);
        let _ = write!(
            out,
            "<a href=\"/?state={code}\"><rect class=\"tile l{level}\" x=\"{}\" y=\"{}\" width=\"{}\" \
height=\"{}\" rx=\"3\"><title>{code}: {n}</title></rect><text x=\"{}\" y=\"{}\" \
text-anchor=\"middle\" class=\"tile-label l{level}\">{code}</text></a>",
            x + 1,
            y + 1,
            size - 2,
            size - 2,
            x + size / 2,
            y + size / 2 + 4
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_encoding() {
        assert_eq!(
            esc("<script>\"x\"&'y'"),
            "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;"
        );
        assert_eq!(enc("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(
            actor_href("mastodon", "m.example:1"),
            "/actor?platform=mastodon&id=m.example%3A1"
        );
    }

    #[test]
    fn widgets_escape_their_labels() {
        let svg = bar_chart(&[("<b>".into(), 3)], 100, 50);
        assert!(svg.contains("&lt;b&gt;") && !svg.contains("<b>"));
        assert!(sparkline(&[0, 1, 5], 60, 16).contains("polyline"));
        assert!(state_map(&[("TX".into(), 4)]).contains("TX: 4"));
    }
}
