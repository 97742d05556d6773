//! Hostname validation against the Public Suffix List, and registrable domains (eTLD+1).

use psl::Type;

/// File extensions that are also top-level domains. A bare `name.ext` with one of these endings
/// is a file name far more often than a host (`payload.zip`, `install.sh`, `main.rs`), so it is
/// taken as a domain only when it was defanged or written as a URL host.
const FILE_LIKE_TLDS: [&str; 8] = ["zip", "mov", "py", "sh", "rs", "md", "ps", "pl"];

/// Validates and normalises a hostname candidate (no scheme, port or path).
///
/// `trusted` is set when the candidate was defanged or is a URL host: then the file-name and
/// capitalisation heuristics, which only guard prose, are skipped. Returns the lower-cased host.
pub(crate) fn validate_host(raw: &str, trusted: bool) -> Option<String> {
    let raw = raw.strip_suffix('.').unwrap_or(raw);
    if raw.len() > 253 || raw.len() < 3 {
        return None;
    }
    let mut labels = 0;
    let mut last = "";
    for label in raw.split('.') {
        let lb = label.as_bytes();
        if lb.is_empty() || lb.len() > 63 || lb[0] == b'-' || lb[lb.len() - 1] == b'-' {
            return None;
        }
        let ok = label.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || c == '-'
                || c == '_'
                || (!c.is_ascii() && c.is_alphanumeric())
        });
        if !ok {
            return None;
        }
        labels += 1;
        last = label;
    }
    if labels < 2 || last.bytes().all(|c| c.is_ascii_digit()) || last.contains('_') {
        return None;
    }
    if !trusted {
        // `done.It`, `see.Next`: a missing space after a full stop, not a host. Hosts are
        // written lower-case or all capitals.
        let mut cs = last.chars();
        let first_upper = cs.next().is_some_and(char::is_uppercase);
        if first_upper && cs.any(char::is_lowercase) {
            return None;
        }
    }
    let host = if raw.is_ascii() {
        raw.to_ascii_lowercase()
    } else {
        raw.to_lowercase()
    };
    let sfx = psl::suffix(host.as_bytes())?;
    if !sfx.is_known() {
        return None;
    }
    if sfx.as_bytes().len() == host.len() && sfx.typ() != Some(Type::Private) {
        // A bare public suffix (`co.uk`) names no host.
        return None;
    }
    if !trusted && labels == 2 && FILE_LIKE_TLDS.contains(&sfx_str(sfx.as_bytes())) {
        return None;
    }
    Some(host)
}

fn sfx_str(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or("")
}

/// See [`crate::registrable_domain`].
pub(crate) fn registrable(host: &str) -> Option<String> {
    let host = host.trim().trim_end_matches('.');
    let lower = if host.is_ascii() {
        host.to_ascii_lowercase()
    } else {
        host.to_lowercase()
    };
    let sfx = psl::suffix(lower.as_bytes())?;
    if !sfx.is_known() {
        return None;
    }
    let d = psl::domain(lower.as_bytes())?;
    std::str::from_utf8(d.as_bytes()).ok().map(str::to_owned)
}
