//! IOC extraction, defang/refang, registrable domains and SLTT entity attribution.
//!
//! Threat posts carry indicators written so that nobody clicks them (`hxxps://evil[.]com/x`,
//! `185.220.101[.]4`, `admin(at)county[.]gov`). This crate finds them exactly, refangs them, and
//! says which government entity a domain belongs to, from an embedded copy of CISA's .gov
//! registry. It is pure: data in, data out, no I/O; the `streamer ioc` command and the pipeline's
//! enrich stage are thin shells around it.
//!
//! ```
//! let iocs = streamer_ioc::extract("beacon to hxxps://county[.]gov[.]evil[.]ms/x and 185.220.101[.]4");
//! assert_eq!(iocs.urls, ["https://county.gov.evil.ms/x"]);
//! assert_eq!(iocs.domains, ["county.gov.evil.ms"]);
//! assert_eq!(iocs.ipv4, ["185.220.101.4"]);
//! assert_eq!(streamer_ioc::registrable_domain("county.gov.evil.ms").as_deref(), Some("evil.ms"));
//! assert!(streamer_ioc::lookup_entity("www.austintexas.gov").is_some_and(|e| e.is_sltt()));
//! ```
//!
//! # Layout
//! - `refang`: the refang pass over a whole post, and `defang` for display.
//! - `scan`: the extraction scanner over refanged text.
//! - `domain`: hostname validation against the Public Suffix List, registrable domains.
//! - `net`: IPv4/IPv6 parsing and the actionable-address test.
//! - `btc`: Base58Check and bech32/bech32m checksums.
//! - `gov`: the embedded .gov registry and the `.us` state patterns.
//!
//! # Conventions (the `IOC record` contract of DESIGN.md, and the decisions it leaves open)
//!
//! Refanging, before anything else, over the whole text, so that a defanged host is taken whole
//! (`county[.]gov[.]evil[.]ms` is a host under `evil.ms`, never a `.gov`):
//! - schemes `hxxp`, `hXXp`, `hxxps`, `h**p`, `h__p`, `fxp`, `[http]`, `[https]` and separators
//!   `[:]//`, `[://]`, `(:)//`, `:\\`, `[:]`, `[/]`;
//! - dots `[.]`, `(.)`, `{.}`, `[dot]`, `(dot)`, `{dot}` (any case, spaces inside the brackets
//!   allowed), `\.` between word characters, and full-width dots (`．`, `。`, `｡`) between ASCII
//!   letters or digits;
//! - ats `[@]`, `(@)`, `{@}`, `[at]`, `(at)`, `{at}`;
//! - bracketed dot and at marks may stand between spaces (`admin [at] county [dot] gov`), except
//!   the parenthesised symbols `(.)` and `(@)`, which must be glued to the words they join.
//!
//! Extraction:
//! - **urls**: only with a known scheme (`http(s)`, `ftp(s)`, `sftp`, `ws(s)`, `smb`, `ldap(s)`,
//!   `ssh`, `telnet`, `rdp`, `tcp`, `udp`, `irc`) and a valid host (a domain with a known public
//!   suffix, an IPv4 address or a bracketed IPv6 address). Scheme and host lower-cased, the rest
//!   kept. A URL ends at whitespace, quotes, `<>`, `` ` ``, `|`, `^`, `{}`, `\` and non-ASCII
//!   punctuation; then trailing `.,;:!?*` and quotes are stripped, and a closing bracket is
//!   stripped when it has no opening partner inside the URL (`(see https://x.org/a)` loses the
//!   `)`, `https://en.wikipedia.org/wiki/Foo_(bar)` keeps it).
//! - **domains**: standalone hosts, URL hosts and email domains; lower-cased, trailing dot
//!   removed, subdomains kept. The public suffix must be known to the PSL and the host must have
//!   a label beyond it (a bare `co.uk` is nothing; a bare private suffix such as `github.io` is a
//!   host). Text inside a URL's (or a schemeless `host/path`'s) path or query is not a domain.
//!   Two prose guards apply unless the candidate was defanged: a two-label `name.ext` whose ending
//!   is a common file extension that is also a TLD (`zip mov py sh rs md ps pl`) is a file name,
//!   and a capitalised last label (`done.It`) is a missing space after a full stop. All-capital
//!   hosts (`EVIL.COM`) are hosts. Non-ASCII letters glued to the ends of an ASCII host are
//!   dropped (`访问evil.com` in unspaced text); hosts written wholly in another script stay as
//!   written.
//! - **ipv4**: four parts of 1-3 digits each 0-255, not glued to letters, digits or further dots;
//!   leading zeros are dropped (`010.001.002.003` → `10.1.2.3`). A quad right after a version word
//!   (`version`, `ver`, `v`, `release`, `build`, `firmware`, `patch`, `update`, `kernel`, ...) is a
//!   version number, unless it was defanged. `ip:port`, `a.b.c.d/nn`, URL hosts and the v4 part
//!   of `::ffff:a.b.c.d` (reported only as IPv4) count.
//! - **ipv6**: Rust's `Ipv6Addr` display (RFC 5952); bracketed URL hosts included; `::` alone is
//!   nothing.
//! - **hashes**: whole ASCII alphanumeric runs of exactly 32/40/64 hex digits, lower-cased,
//!   anywhere including URL paths (a VirusTotal link's hash is an indicator).
//! - **cves**: `CVE-YYYY-N{4,7}` with any Unicode hyphen or dash, years 1999-2099, upper-cased
//!   with ASCII hyphens; also inside URL paths.
//! - **emails**: local part of `[A-Za-z0-9._+-]`, a valid host; lower-cased. URL userinfo and
//!   mentions (`@user`, `@user@server`) are not emails, nor hosts.
//! - **btc**: legacy and P2SH addresses with a valid Base58Check checksum (kept as written, the
//!   encoding is case-sensitive); bech32 (v0) and bech32m (v1+) `bc1` addresses with a valid
//!   checksum and program length (lower-cased).
//!
//! Every list is de-duplicated in first-seen order. The scan is linear in the input whatever it
//! holds (no backtracking; bounded look-behind), and text with no mark at all is not copied.
//!
//! Enrichment ([`enrich`]): IOCs come from `post.text` only (the platform's links are already in
//! the text, and DESIGN.md says defanged URLs in the text are IOCs, not links). `hosts` are the
//! hosts of `post.urls` (refanged, lower-cased, without userinfo or port; IP literals included
//! so that `domain:` can name them) followed by the IOC domains; entities are looked up for every
//! host, de-duplicated by entity domain, in first-seen order.
//!
//! Entities ([`lookup_entity`]): a `.gov` host belongs to its second-level `<label>.gov` when
//! that is in the registry; the four federal types report as `Federal`, older snapshots' labels
//! are mapped onto today's (`Native Sovereign Nation` → `Tribal`, `State` → `State or
//! territory`). Outside `.gov`, these heuristics from RFC 1480 naming apply, where `XX` is a
//! USPS code of a state, DC or a territory; the entity's `domain` is the matched part and its
//! `name` is `None` (we do not invent names):
//! - `*.state.XX.us` → `State or territory` (domain `state.XX.us`);
//! - `*.k12.XX.us` → `School district` (domain `<district>.k12.XX.us`); `pvt.k12` is not;
//! - `*.dst.XX.us` → `Special district`;
//! - `ci.`, `city.`, `town.`, `vil.`, `village.` + `<locality>.XX.us` → `City`;
//!   `co.`, `county.`, `cnty.`, `parish.` + `<locality>.XX.us` → `County` (domain including the
//!   prefix, `co.travis.tx.us`);
//! - any other `<locality>.XX.us` → `City` (domain `<locality>.XX.us`): RFC 1480 localities are
//!   cities and towns;
//! - `lib`, `cc`, `tec`, `mus`, `gen` zones (libraries, colleges, museums) are not attributed.

mod btc;
mod domain;
mod gov;
mod net;
mod refang;
mod scan;

use serde_json::{json, Value};
use std::collections::HashSet;
use streamer_model::{Enrichment, Entity, Iocs, Post};

/// Extracts every indicator from `text`, refanged, de-duplicated, in first-seen order.
///
/// This is the one entry point the pipeline's enrich stage and `streamer ioc` share, so an
/// analyst sees the same indicators in an alert as on the command line.
pub fn extract(text: &str) -> Iocs {
    let rf = refang::refang_text(text);
    let mut found = scan::Found::default();
    scan::scan(&rf, &mut found);
    found.into_iocs()
}

/// Enriches a post before matching: the IOCs of its text, the hosts that `domain:` and
/// `entity:` rules look at, and the government entities those hosts belong to.
pub fn enrich(post: &Post) -> Enrichment {
    let iocs = extract(&post.text);
    let mut hosts: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let link_hosts = post.urls.iter().filter_map(|u| url_host(u));
    for h in link_hosts.chain(iocs.domains.iter().cloned()) {
        if seen.insert(h.clone()) {
            hosts.push(h);
        }
    }
    let entities = entities_for(hosts.iter().map(String::as_str));
    Enrichment {
        iocs,
        hosts,
        entities,
    }
}

/// The host of a link (refanged, lower-cased, without userinfo, port or trailing dot; IPv6
/// without brackets, canonical). `None` when the link has no `scheme://` or an empty host.
///
/// Public because sinks and the matcher need the same notion of "a link's host" as enrichment.
pub fn url_host(url: &str) -> Option<String> {
    let url = refang(url.trim());
    let rest = &url[url.find("://")? + 3..];
    let auth = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let hostport = &auth[auth.rfind('@').map_or(0, |p| p + 1)..];
    let host = if let Some(inner) = hostport.strip_prefix('[') {
        let inner = &inner[..inner.find(']')?];
        return net::parse_ipv6(inner).map(|ip| ip.to_string());
    } else {
        &hostport[..hostport.find(':').unwrap_or(hostport.len())]
    };
    let host = host.trim_end_matches('.');
    if host.is_empty() {
        return None;
    }
    Some(if host.is_ascii() {
        host.to_ascii_lowercase()
    } else {
        host.to_lowercase()
    })
}

/// The government entity a host belongs to: a `.gov` registry domain (or any subdomain of one),
/// or one of the documented `.us` state patterns. Fills `city` and `security_contact` too, so
/// that sinks can show whom to warn.
pub fn lookup_entity(host: &str) -> Option<Entity> {
    gov::lookup(&refang(host))
}

/// The entities of several hosts, de-duplicated by entity domain, in first-seen order: what an
/// alert's `entities` list holds.
pub fn entities_for<'a>(hosts: impl IntoIterator<Item = &'a str>) -> Vec<Entity> {
    let mut out: Vec<Entity> = Vec::new();
    for h in hosts {
        if let Some(e) = lookup_entity(h) {
            if !out.iter().any(|x| x.domain == e.domain) {
                out.push(e);
            }
        }
    }
    out
}

/// The registrable domain (eTLD+1, Public Suffix List including its private section) of a host:
/// what a domain "belongs to" (`a.b.evil.co.uk` → `evil.co.uk`). `None` for an unknown suffix or
/// a bare public suffix.
pub fn registrable_domain(host: &str) -> Option<String> {
    domain::registrable(&refang(host))
}

/// Whether an IP address is worth blocking or exporting: `false` for private, loopback,
/// link-local, carrier-grade NAT, documentation, benchmarking, multicast, reserved and
/// unspecified addresses (and for anything that is not an address). These are still extracted,
/// since they tell an analyst something, but blocklists must leave them out.
pub fn is_actionable_ip(ip: &str) -> bool {
    net::actionable(&refang(ip))
}

/// Defangs indicators for display to people, so that nobody clicks a live malicious link:
/// schemes `http`→`hxxp`, `https`→`hxxps`, `ftp`→`fxp`, `://`→`[://]`, dots in hosts `[.]`, and
/// `@` in emails `[@]`. Safe on any string: only dots and ats between word characters change
/// outside URLs, and an already defanged string is left as it is.
pub fn defang(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    let mut rest = s;
    while !rest.is_empty() {
        let ws = rest.find(char::is_whitespace).unwrap_or(rest.len());
        refang::defang_token(&rest[..ws], &mut out);
        let after = &rest[ws..];
        let tok_end = after
            .find(|c: char| !c.is_whitespace())
            .unwrap_or(after.len());
        out.push_str(&after[..tok_end]);
        rest = &after[tok_end..];
    }
    out
}

/// Undoes the common defang marks (the list is in the crate docs), leaving all else as written.
pub fn refang(s: &str) -> String {
    refang::refang_text(s).text.into_owned()
}

/// The `streamer ioc` record of one input line: the IOC keys at top level plus `entities`
/// (domain, name, type, state of each entity the line's domains belong to).
pub fn ioc_record(text: &str) -> Value {
    let iocs = extract(text);
    let entities = entities_for(iocs.domains.iter().map(String::as_str));
    let mut v = serde_json::to_value(&iocs).unwrap_or_else(|_| json!({}));
    if let Some(obj) = v.as_object_mut() {
        obj.insert(
            "entities".to_owned(),
            serde_json::to_value(&entities).unwrap_or_else(|_| json!([])),
        );
    }
    v
}

/// [`ioc_record`] serialised as one JSON line (no trailing newline), for `streamer ioc`.
pub fn ioc_record_json(line: &str) -> String {
    ioc_record(line).to_string()
}

/// Number of .gov registry rows loaded, for status pages and tests (0 would mean a broken build).
pub fn registry_len() -> usize {
    gov::len()
}
