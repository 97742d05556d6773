//! Small text helpers every format needs: timestamps to RFC 3339, hosts of URLs, HTML entities,
//! and de-duplicated lists. Hand-written because the inputs are a few fixed formats and a crate
//! per helper would cost more build time than it saves.

/// Normalises the timestamps the platforms send to RFC 3339.
///
/// Accepts ISO 8601 / RFC 3339 (`2021-04-01T15:52:31.000Z`, `2026-07-04T14:38:02+00:00`, a space
/// instead of `T`, `+0000` offsets, no offset = UTC), a bare date (`2022-08-30`, midnight UTC)
/// and X v1.1's `Tue Jul 18 23:25:04 +0000 2017`. A zero offset becomes `Z`; fractional seconds
/// are kept as sent. Anything else is `None`: a missing time is better than a made-up one.
pub(crate) fn rfc3339(s: &str) -> Option<String> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() >= 10 && b[4] == b'-' && b[7] == b'-' {
        iso(s)
    } else {
        twitter_v1(s)
    }
}

fn digits(b: &[u8], from: usize, n: usize) -> Option<u32> {
    let part = b.get(from..from + n)?;
    let mut v = 0u32;
    for &c in part {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

// `%` rather than `is_multiple_of`: the workspace supports Rust 1.85.
#[allow(clippy::manual_is_multiple_of)]
fn valid_date(y: u32, m: u32, d: u32) -> bool {
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    d >= 1 && d <= days
}

fn valid_time(h: u32, mi: u32, s: u32) -> bool {
    h < 24 && mi < 60 && s <= 60
}

fn iso(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let (y, m, d) = (digits(b, 0, 4)?, digits(b, 5, 2)?, digits(b, 8, 2)?);
    if !valid_date(y, m, d) {
        return None;
    }
    let date = &s[..10];
    if b.len() == 10 {
        return Some(format!("{date}T00:00:00Z"));
    }
    if !matches!(b[10], b'T' | b't' | b' ') || b.len() < 19 || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, mi, sec) = (digits(b, 11, 2)?, digits(b, 14, 2)?, digits(b, 17, 2)?);
    if !valid_time(h, mi, sec) {
        return None;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let clock = &s[11..i];
    let offset = offset(&s[i..])?;
    let mut out = String::with_capacity(date.len() + clock.len() + 7);
    out.push_str(date);
    out.push('T');
    out.push_str(clock);
    out.push_str(&offset);
    Some(out)
}

/// `Z`, `z`, `+HH:MM`, `+HHMM`, `+HH` or nothing (UTC) → `Z` or `±HH:MM`.
fn offset(rest: &str) -> Option<String> {
    let b = rest.as_bytes();
    match b.first() {
        None => Some("Z".to_owned()),
        Some(b'Z' | b'z') if b.len() == 1 => Some("Z".to_owned()),
        Some(&sign @ (b'+' | b'-')) => {
            let h = digits(b, 1, 2)?;
            let m = match b.len() {
                3 => 0,
                5 => digits(b, 3, 2)?,
                6 if b[3] == b':' => digits(b, 4, 2)?,
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            if h == 0 && m == 0 {
                Some("Z".to_owned())
            } else {
                Some(format!("{}{h:02}:{m:02}", sign as char))
            }
        }
        _ => None,
    }
}

/// X v1.1 `created_at`: `Tue Jul 18 23:25:04 +0000 2017`.
fn twitter_v1(s: &str) -> Option<String> {
    let mut parts = s.split_ascii_whitespace();
    let _weekday = parts.next()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let day: u32 = parts.next()?.parse().ok()?;
    let clock = parts.next()?;
    let off = parts.next()?;
    let year: u32 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(1000..=9999).contains(&year) || !valid_date(year, month, day) {
        return None;
    }
    let cb = clock.as_bytes();
    if cb.len() != 8 || cb[2] != b':' || cb[5] != b':' {
        return None;
    }
    let (h, mi, sec) = (digits(cb, 0, 2)?, digits(cb, 3, 2)?, digits(cb, 6, 2)?);
    if !valid_time(h, mi, sec) {
        return None;
    }
    let off = offset(off)?;
    Some(format!("{year:04}-{month:02}-{day:02}T{clock}{off}"))
}

/// The lower-cased host of an absolute URL, without userinfo or port.
pub(crate) fn url_host(url: &str) -> Option<String> {
    let rest = &url[url.find("://")? + 3..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host = authority.rsplit('@').next().unwrap_or(authority);
    let host = if let Some(inner) = host.strip_prefix('[') {
        // An IPv6 literal keeps its brackets.
        let close = inner.find(']')?;
        &host[..close + 2]
    } else {
        host.split(':').next().unwrap_or(host)
    };
    if host.is_empty() {
        None
    } else {
        Some(host.to_ascii_lowercase())
    }
}

/// The host a configured Mastodon instance names: `infosec.exchange`, `https://infosec.exchange/`
/// and `infosec.exchange:443` all give `infosec.exchange`.
pub(crate) fn instance_host(instance: &str) -> String {
    let s = instance.trim();
    if s.contains("://") {
        if let Some(h) = url_host(s) {
            return h;
        }
    }
    let s = s.split(['/', '?', '#']).next().unwrap_or(s);
    s.split(':').next().unwrap_or(s).to_ascii_lowercase()
}

/// Pushes `s` unless the list holds it already (lists are short: a linear scan wins).
pub(crate) fn push_unique(list: &mut Vec<String>, s: &str) {
    if !s.is_empty() && !list.iter().any(|x| x == s) {
        list.push(s.to_owned());
    }
}

/// Decodes one HTML character reference at the start of `s` (which begins with `&`), returning
/// the text and how many bytes it used. Unknown or malformed references are not decoded.
pub(crate) fn html_entity(s: &str) -> Option<(char, usize)> {
    let b = s.as_bytes();
    let end = b.iter().take(34).position(|&c| c == b';')?;
    let name = &s[1..end];
    let c = if let Some(num) = name.strip_prefix('#') {
        let v = if let Some(hex) = num.strip_prefix(['x', 'X']) {
            u32::from_str_radix(hex, 16).ok()?
        } else {
            num.parse::<u32>().ok()?
        };
        match v {
            0 => '\u{FFFD}',
            _ => char::from_u32(v).unwrap_or('\u{FFFD}'),
        }
    } else {
        named_entity(name)?
    };
    Some((c, end + 1))
}

fn named_entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" | "AMP" => '&',
        "lt" | "LT" => '<',
        "gt" | "GT" => '>',
        "quot" | "QUOT" => '"',
        "apos" => '\'',
        "nbsp" => '\u{A0}',
        "shy" => '\u{AD}',
        "zwj" => '\u{200D}',
        "zwnj" => '\u{200C}',
        "lrm" => '\u{200E}',
        "rlm" => '\u{200F}',
        "ensp" => '\u{2002}',
        "emsp" => '\u{2003}',
        "thinsp" => '\u{2009}',
        "hellip" => '…',
        "mdash" => '—',
        "ndash" => '–',
        "lsquo" => '‘',
        "rsquo" => '’',
        "sbquo" => '‚',
        "ldquo" => '“',
        "rdquo" => '”',
        "bdquo" => '„',
        "laquo" => '«',
        "raquo" => '»',
        "lsaquo" => '‹',
        "rsaquo" => '›',
        "bull" => '•',
        "middot" => '·',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "deg" => '°',
        "plusmn" => '±',
        "times" => '×',
        "divide" => '÷',
        "euro" => '€',
        "pound" => '£',
        "yen" => '¥',
        "cent" => '¢',
        "sect" => '§',
        "para" => '¶',
        "iexcl" => '¡',
        "iquest" => '¿',
        "micro" => 'µ',
        "larr" => '←',
        "rarr" => '→',
        "uarr" => '↑',
        "darr" => '↓',
        "hearts" => '♥',
        "dagger" => '†',
        "Dagger" => '‡',
        "permil" => '‰',
        "prime" => '′',
        "frac12" => '½',
        "frac14" => '¼',
        "frac34" => '¾',
        "sup1" => '¹',
        "sup2" => '²',
        "sup3" => '³',
        "auml" => 'ä',
        "ouml" => 'ö',
        "uuml" => 'ü',
        "Auml" => 'Ä',
        "Ouml" => 'Ö',
        "Uuml" => 'Ü',
        "szlig" => 'ß',
        "eacute" => 'é',
        "egrave" => 'è',
        "ecirc" => 'ê',
        "aacute" => 'á',
        "agrave" => 'à',
        "acirc" => 'â',
        "iacute" => 'í',
        "oacute" => 'ó',
        "uacute" => 'ú',
        "ntilde" => 'ñ',
        "ccedil" => 'ç',
        "Eacute" => 'É',
        _ => return None,
    })
}

/// Decodes every character reference in `s` (attribute values, X text).
pub(crate) fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_decoded(&mut out, s);
    out
}

/// Appends `s` to `out` with its character references decoded (an unknown `&` stays as is).
pub(crate) fn push_decoded(out: &mut String, s: &str) {
    let mut rest = s;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos..];
        match html_entity(rest) {
            Some((c, n)) => {
                out.push(c);
                rest = &rest[n..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_become_rfc3339() {
        assert_eq!(
            rfc3339("2021-04-01T15:52:31.000Z").as_deref(),
            Some("2021-04-01T15:52:31.000Z")
        );
        assert_eq!(
            rfc3339("Tue Jul 18 23:25:04 +0000 2017").as_deref(),
            Some("2017-07-18T23:25:04Z")
        );
        assert_eq!(
            rfc3339("Tue Jul 18 23:25:04 -0530 2017").as_deref(),
            Some("2017-07-18T23:25:04-05:30")
        );
        assert_eq!(
            rfc3339("2026-07-04T14:38:02+00:00").as_deref(),
            Some("2026-07-04T14:38:02Z")
        );
        assert_eq!(
            rfc3339("2024-02-29 01:02:03.5+0200").as_deref(),
            Some("2024-02-29T01:02:03.5+02:00")
        );
        assert_eq!(
            rfc3339("2022-08-30").as_deref(),
            Some("2022-08-30T00:00:00Z")
        );
        assert_eq!(rfc3339("2023-02-29T00:00:00Z"), None);
        assert_eq!(rfc3339("2021-04-01T25:00:00Z"), None);
        assert_eq!(rfc3339("yesterday"), None);
        assert_eq!(rfc3339("2021-04-01T15:52:31.Z"), None);
        assert_eq!(rfc3339("2021-04-01T15:52:31+0"), None);
    }

    #[test]
    fn hosts_drop_userinfo_port_and_case() {
        assert_eq!(
            url_host("http://u@LocalHost:3000/@admin").as_deref(),
            Some("localhost")
        );
        assert_eq!(url_host("https://[::1]:8/x").as_deref(), Some("[::1]"));
        assert_eq!(url_host("no scheme"), None);
        assert_eq!(
            instance_host("https://infosec.exchange/"),
            "infosec.exchange"
        );
        assert_eq!(instance_host("Mastodon.social:443"), "mastodon.social");
    }

    #[test]
    fn entities_decode_named_and_numeric() {
        assert_eq!(
            decode_entities("it&#39;s &amp; &lt;b&gt; &#x1F600; &hellip; &bogus; & x"),
            "it's & <b> 😀 … &bogus; & x"
        );
        assert_eq!(decode_entities("&#xD800;"), "\u{FFFD}");
    }
}
