//! Sharing with partner organisations: STIX 2.1 bundles, MISP events and CSV for spreadsheets.
//!
//! Every export reads stored alert records (DESIGN.md's record, as committed) raised in a
//! window, and writes one document. IOC values are the refanged ones of the record: these
//! formats are for machines, and partners' tools defang on display.
//!
//! - STIX 2.1 ([`stix_bundle`]): the producer `identity`, the TLP `marking-definition`
//!   (the standard objects and ids), one `indicator` per actionable IOC (a STIX pattern), a
//!   `vulnerability` per CVE, per alert an `observed-data` of the post's cyber observables
//!   (`url`, `user-account`, the IOCs) and a `note` with the post's text, a `sighting` of each
//!   indicator in it; an `identity` (class individual) per author account, a `threat-actor`
//!   per watched actor (`attributed-to` its accounts), an `identity` (class organization) per
//!   targeted entity, and relationships (`indicates`, `targets`, `related-to`). Ids are UUIDv5:
//!   SCOs from their id-contributing properties in the STIX namespace, everything else from
//!   a stable name in Streamer's namespace, so exporting twice gives the same ids and partners
//!   de-duplicate. Bitcoin addresses have no STIX 2.1 observable and are left out; IPs that
//!   `streamer_ioc::is_actionable_ip` rejects, and domains, URLs and emails of a targeted
//!   government entity (the victim), get no indicator (they stay observables).
//! - MISP ([`misp_event`]): one event for the window with one attribute per distinct IOC
//!   (MISP type and category, `to_ids` false for non-actionable IPs, the victims' own
//!   domains and context), the
//!   post links, authors, targeted organisations and states as context attributes, comments
//!   saying where each came from, tags for TLP and for the rules.
//! - CSV ([`csv_export`]): one row per (alert, IOC), or one row for an alert without IOCs;
//!   cells a spreadsheet would run as a formula are prefixed with `'`.

use crate::actors::Watchlist;
use crate::alert::AlertRecord;
use crate::analytics::{ioc_items, is_synthetic};
use anyhow::{Context, Result};
use rusqlite::{params, Connection};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use streamer_model::{Platform, Severity};
use uuid::Uuid;

/// Traffic Light Protocol level of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tlp {
    White,
    Green,
    Amber,
    Red,
}

impl Tlp {
    /// Parses `white`/`clear`, `green`, `amber`, `red`.
    pub fn parse(s: &str) -> Option<Tlp> {
        match s.to_ascii_lowercase().as_str() {
            "white" | "clear" => Some(Tlp::White),
            "green" => Some(Tlp::Green),
            "amber" => Some(Tlp::Amber),
            "red" => Some(Tlp::Red),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Tlp::White => "white",
            Tlp::Green => "green",
            Tlp::Amber => "amber",
            Tlp::Red => "red",
        }
    }

    /// The STIX 2.1 predefined TLP marking definition (its id and content are fixed by the
    /// specification, section 7.2.1.4).
    fn stix_marking(self) -> Value {
        let id = match self {
            Tlp::White => "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
            Tlp::Green => "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
            Tlp::Amber => "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
            Tlp::Red => "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
        };
        json!({
            "type": "marking-definition",
            "spec_version": "2.1",
            "id": id,
            "created": "2017-01-20T00:00:00.000Z",
            "definition_type": "tlp",
            "name": format!("TLP:{}", self.name().to_ascii_uppercase()),
            "definition": {"tlp": self.name()},
        })
    }
}

/// Alert records raised since a time, oldest first (deleted posts included: the IOCs they
/// carried are still IOCs).
pub fn load_records(conn: &Connection, since: &str) -> Result<Vec<AlertRecord>> {
    let mut stmt = conn.prepare(
        "SELECT alert_id, record_json FROM alerts WHERE created_at >= ?1 ORDER BY created_at, alert_id",
    )?;
    let rows = stmt.query_map(params![since], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, json) = row?;
        let record: AlertRecord = serde_json::from_str(&json)
            .with_context(|| format!("alert {id}: stored record is not readable"))?;
        out.push(record);
    }
    Ok(out)
}

/// Streamer's own UUID namespace for STIX domain objects (random, fixed forever).
const STREAMER_NS: Uuid = Uuid::from_u128(0x5f1c_2a8e_7b34_4d0e_9a61_c3e8_44b2_9f07);
/// The STIX 2.1 namespace for cyber-observable ids (specification 2.9).
const STIX_SCO_NS: Uuid = Uuid::from_u128(0x00ab_edb4_aa42_466c_9c01_fed2_3315_a9b7);

/// An SDO/SRO id: STIX asks for version 4 UUIDs there, so the hash of a stable name (in
/// Streamer's namespace) fills a version 4 UUID: well-formed, and the same on every export.
fn sdo_id(kind: &str, name: &str) -> String {
    format!("{kind}--{}", stable_v4(&format!("{kind}\0{name}")))
}

fn stable_v4(name: &str) -> Uuid {
    let h = Uuid::new_v5(&STREAMER_NS, name.as_bytes());
    uuid::Builder::from_random_bytes(*h.as_bytes()).into_uuid()
}

/// A URL as an RFC 3986 URI (STIX `url` values must be): characters a URI cannot hold are
/// percent-encoded (their UTF-8 bytes), everything else is kept.
fn uri_safe(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    for (i, &b) in bytes.iter().enumerate() {
        let keep = b.is_ascii_alphanumeric()
            || b"-._~:/?#[]@!$&'()*+,;=".contains(&b)
            || (b == b'%'
                && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit));
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An SCO id: UUIDv5 of the canonical JSON of its id-contributing properties.
fn sco_id(kind: &str, contributing: &Value) -> String {
    // serde_json's map is sorted by key and prints without whitespace: RFC 8785 for our values.
    let canonical = serde_json::to_string(contributing).unwrap_or_default();
    format!(
        "{kind}--{}",
        Uuid::new_v5(&STIX_SCO_NS, canonical.as_bytes())
    )
}

/// RFC 3339 with milliseconds, as STIX wants; `None` for an unreadable time.
fn stix_time(s: &str) -> Option<String> {
    let t: jiff::Timestamp = s.parse().ok()?;
    Some(t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}

fn quote_pattern(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\'', "\\'")
}

/// The STIX pattern and observable of an IOC kind; `None` for kinds without one.
fn stix_observable(kind: &str, value: &str) -> Option<(String, Value)> {
    let url_value = uri_safe(value);
    let value = if kind == "url" {
        url_value.as_str()
    } else {
        value
    };
    let q = quote_pattern(value);
    let (pattern, sco_type, contributing) = match kind {
        "url" => (
            format!("[url:value = '{q}']"),
            "url",
            json!({"value": value}),
        ),
        "domain" => (
            format!("[domain-name:value = '{q}']"),
            "domain-name",
            json!({"value": value}),
        ),
        "ipv4" => (
            format!("[ipv4-addr:value = '{q}']"),
            "ipv4-addr",
            json!({"value": value}),
        ),
        "ipv6" => (
            format!("[ipv6-addr:value = '{q}']"),
            "ipv6-addr",
            json!({"value": value}),
        ),
        "email" => (
            format!("[email-addr:value = '{q}']"),
            "email-addr",
            json!({"value": value}),
        ),
        "md5" | "sha1" | "sha256" => {
            let algo = match kind {
                "md5" => "MD5",
                "sha1" => "SHA-1",
                _ => "SHA-256",
            };
            let pattern = if kind == "md5" {
                format!("[file:hashes.MD5 = '{q}']")
            } else {
                format!("[file:hashes.'{algo}' = '{q}']")
            };
            (pattern, "file", json!({"hashes": {algo: value}}))
        }
        _ => return None,
    };
    let id = sco_id(sco_type, &contributing);
    let mut sco = json!({"type": sco_type, "spec_version": "2.1", "id": id});
    if let (Some(o), Some(c)) = (sco.as_object_mut(), contributing.as_object()) {
        for (k, v) in c {
            o.insert(k.clone(), v.clone());
        }
    }
    Some((pattern, sco))
}

/// Whether an IOC belongs on a blocklist: not a private or reserved IP, and not a domain, URL
/// or email address of a targeted government entity (the victim, not the attacker).
fn actionable(kind: &str, value: &str) -> bool {
    let victim =
        |host: Option<String>| host.is_some_and(|h| streamer_ioc::lookup_entity(&h).is_some());
    match kind {
        "ipv4" | "ipv6" => streamer_ioc::is_actionable_ip(value),
        "domain" => !victim(Some(value.to_string())),
        "url" => !victim(streamer_ioc::url_host(value)),
        "email" => !victim(value.rsplit_once('@').map(|(_, d)| d.to_string())),
        _ => true,
    }
}

/// The `account-type-ov` value of a platform: only X has one (`twitter`); Mastodon and
/// Bluesky accounts leave it out rather than invent a value (their `user_id` form, an
/// `INSTANCE:ID` or a DID, already says where they live).
fn account_type(p: Platform) -> Option<&'static str> {
    match p {
        Platform::X => Some("twitter"),
        Platform::Mastodon | Platform::Bluesky => None,
    }
}

struct StixBuilder {
    objects: BTreeMap<String, Value>,
    producer: String,
    marking: String,
    now: String,
}

impl StixBuilder {
    fn add(&mut self, mut obj: Value, sdo: bool) -> String {
        let id = obj["id"].as_str().unwrap_or_default().to_string();
        if sdo {
            if let Some(o) = obj.as_object_mut() {
                o.insert("spec_version".into(), json!("2.1"));
                o.entry("created").or_insert(json!(self.now));
                o.entry("modified").or_insert(json!(self.now));
                o.insert("created_by_ref".into(), json!(self.producer));
                o.insert("object_marking_refs".into(), json!([self.marking]));
            }
        }
        self.objects.entry(id.clone()).or_insert(obj);
        id
    }

    fn relate(&mut self, source: &str, kind: &str, target: &str) {
        let id = sdo_id("relationship", &format!("{source} {kind} {target}"));
        self.add(
            json!({"type": "relationship", "id": id, "relationship_type": kind,
                   "source_ref": source, "target_ref": target}),
            true,
        );
    }
}

/// A STIX 2.1 bundle of the records (see the module documentation for its shape).
pub fn stix_bundle(records: &[AlertRecord], watchlist: &Watchlist, tlp: Tlp) -> Value {
    let now = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let marking = tlp.stix_marking();
    let mut b = StixBuilder {
        objects: BTreeMap::new(),
        producer: sdo_id("identity", "streamer"),
        marking: marking["id"].as_str().unwrap_or_default().to_string(),
        now: now.clone(),
    };
    b.objects.insert(b.marking.clone(), marking);
    let producer = json!({"type": "identity", "id": b.producer, "name": "Streamer",
        "identity_class": "system",
        "description": "Streamer: real-time monitoring of public social media for threats against SLTT governments."});
    b.add(producer, true);

    for r in records.iter().filter(|r| !is_synthetic(r)) {
        let seen = r
            .post
            .created_at
            .as_deref()
            .and_then(stix_time)
            .or_else(|| stix_time(&r.created_at))
            .unwrap_or_else(|| now.clone());
        let post = &r.post;
        let account_key = post.author_ref();

        // The author: an identity per account, a threat actor when watched.
        let author_name = match &post.author.handle {
            Some(h) => format!("@{h} ({})", post.platform.display_name()),
            None => format!(
                "{} account {}",
                post.platform.display_name(),
                post.author.id
            ),
        };
        let mut handles: Vec<String> = post.author.previous_handles.clone();
        handles.extend(post.author.handle.clone());
        let author_id = b.add(
            json!({"type": "identity", "id": sdo_id("identity", &account_key),
                   "name": author_name, "identity_class": "individual",
                   "description": format!("{} account with stable id {}; handles seen: {}",
                        post.platform.display_name(), post.author.id,
                        if handles.is_empty() { "none".to_string() } else { handles.join(", ") })}),
            true,
        );
        let actor = watchlist.lookup(post.platform, &post.author.id);
        let threat_actor = actor.map(|a| {
            let mut desc = a.notes.clone().unwrap_or_default();
            if !a.associations.is_empty() {
                if !desc.is_empty() {
                    desc.push('\n');
                }
                desc.push_str(&format!("Associations: {}", a.associations.join(", ")));
            }
            let mut obj = json!({"type": "threat-actor", "id": sdo_id("threat-actor", &a.name),
                                 "name": a.name, "threat_actor_types": ["unknown"]});
            if !desc.is_empty() {
                obj["description"] = json!(desc);
            }
            if !handles.is_empty() {
                obj["aliases"] = json!(handles);
            }
            let id = b.add(obj, true);
            for acc in &a.accounts {
                if acc.key() == account_key {
                    b.relate(&id, "attributed-to", &author_id);
                }
            }
            id
        });

        // Targeted entities.
        let mut targets = Vec::new();
        for e in &r.entities {
            let sector = if e.kind.starts_with("State") {
                "government-regional"
            } else {
                "government-local"
            };
            let mut obj = json!({"type": "identity", "id": sdo_id("identity", &format!("entity:{}", e.domain)),
                "name": e.name.clone().unwrap_or_else(|| e.domain.clone()),
                "identity_class": "organization", "sectors": [sector],
                "description": format!("{} ({}{})", e.domain, e.kind,
                    e.state.as_ref().map(|s| format!(", {s}")).unwrap_or_default())});
            if let Some(c) = &e.security_contact {
                obj["contact_information"] = json!(c);
            }
            targets.push(b.add(obj, true));
        }
        for t in &targets {
            match &threat_actor {
                Some(ta) => b.relate(ta, "targets", t),
                None => b.relate(&author_id, "related-to", t),
            }
        }

        // What was observed: the post link, the account, the indicators.
        let mut refs = Vec::new();
        if let Some(url) = &post.url {
            let (_, sco) = stix_observable("url", url).expect("url observable");
            refs.push(b.add(sco, false));
        }
        let mut ua = Map::new();
        if let Some(t) = account_type(post.platform) {
            ua.insert("account_type".into(), json!(t));
        }
        ua.insert("user_id".into(), json!(post.author.id));
        if let Some(h) = &post.author.handle {
            ua.insert("account_login".into(), json!(h));
        }
        let ua_id = sco_id("user-account", &Value::Object(ua.clone()));
        ua.insert("type".into(), json!("user-account"));
        ua.insert("spec_version".into(), json!("2.1"));
        ua.insert("id".into(), json!(ua_id));
        if let Some(n) = &post.author.name {
            ua.insert("display_name".into(), json!(n));
        }
        refs.push(b.add(Value::Object(ua), false));
        let mut indicators = Vec::new();
        for (kind, value) in ioc_items(r) {
            if kind == "cve" {
                let v = b.add(
                    json!({"type": "vulnerability", "id": sdo_id("vulnerability", value), "name": value,
                           "external_references": [{"source_name": "cve", "external_id": value}]}),
                    true,
                );
                match &threat_actor {
                    Some(ta) => b.relate(ta, "targets", &v),
                    None => b.relate(&author_id, "related-to", &v),
                }
                continue;
            }
            let Some((pattern, sco)) = stix_observable(kind, value) else {
                continue;
            };
            refs.push(b.add(sco, false));
            if !actionable(kind, value) {
                continue;
            }
            let ind = b.add(
                json!({"type": "indicator", "id": sdo_id("indicator", &pattern),
                       "name": format!("{kind} {value}"),
                       "description": format!("Shared in a post on {} by {}", post.platform.display_name(), author_name_plain(r)),
                       "indicator_types": ["malicious-activity"],
                       "pattern": pattern, "pattern_type": "stix", "pattern_version": "2.1",
                       "valid_from": seen, "labels": rule_labels(r)}),
                true,
            );
            match &threat_actor {
                Some(ta) => b.relate(&ind, "indicates", ta),
                None => b.relate(&ind, "related-to", &author_id),
            }
            for t in &targets {
                b.relate(&ind, "related-to", t);
            }
            indicators.push(ind);
        }
        let od = b.add(
            json!({"type": "observed-data", "id": sdo_id("observed-data", &r.alert_id),
                   "first_observed": seen, "last_observed": seen, "number_observed": 1,
                   "object_refs": refs}),
            true,
        );
        b.add(
            json!({"type": "note", "id": sdo_id("note", &r.alert_id),
                   "abstract": format!("Post by {} (alert {}, rules {})", author_name_plain(r), r.alert_id, r.rule_ids().join(", ")),
                   "content": post.text, "object_refs": [od]}),
            true,
        );
        for ind in indicators {
            b.add(
                json!({"type": "sighting", "id": sdo_id("sighting", &format!("{} {ind}", r.alert_id)),
                       "sighting_of_ref": ind, "observed_data_refs": [od],
                       "where_sighted_refs": [b.producer], "first_seen": seen, "last_seen": seen,
                       "count": 1}),
                true,
            );
        }
    }
    let ids: Vec<&String> = b.objects.keys().collect();
    let bundle_id = format!(
        "bundle--{}",
        stable_v4(&ids.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(","))
    );
    json!({"type": "bundle", "id": bundle_id, "objects": b.objects.into_values().collect::<Vec<_>>()})
}

fn author_name_plain(r: &AlertRecord) -> String {
    match &r.post.author.handle {
        Some(h) => format!(
            "@{h} ({} {})",
            r.post.platform.display_name(),
            r.post.author.id
        ),
        None => format!(
            "{} account {}",
            r.post.platform.display_name(),
            r.post.author.id
        ),
    }
}

fn rule_labels(r: &AlertRecord) -> Vec<String> {
    r.rules.iter().map(|h| format!("rule:{}", h.id)).collect()
}

/// MISP type and category of an IOC kind.
fn misp_type(kind: &str) -> (&'static str, &'static str) {
    match kind {
        "url" => ("url", "Network activity"),
        "domain" => ("domain", "Network activity"),
        "ipv4" | "ipv6" => ("ip-dst", "Network activity"),
        "md5" => ("md5", "Payload delivery"),
        "sha1" => ("sha1", "Payload delivery"),
        "sha256" => ("sha256", "Payload delivery"),
        "cve" => ("vulnerability", "External analysis"),
        "email" => ("email-src", "Payload delivery"),
        "btc" => ("btc", "Financial fraud"),
        _ => ("text", "Other"),
    }
}

struct MispAttr {
    kind: &'static str,
    category: &'static str,
    value: String,
    to_ids: bool,
    first: String,
    last: String,
    posts: BTreeSet<String>,
    authors: BTreeSet<String>,
    rules: BTreeSet<String>,
    severity: Severity,
}

/// A MISP event (the `{"Event": …}` JSON that MISP imports and PyMISP loads) of the records.
pub fn misp_event(records: &[AlertRecord], watchlist: &Watchlist, tlp: Tlp, info: &str) -> Value {
    let now = jiff::Timestamp::now();
    let mut attrs: BTreeMap<(&'static str, String), MispAttr> = BTreeMap::new();
    let mut add =
        |kind: &'static str, category: &'static str, value: &str, to_ids: bool, r: &AlertRecord| {
            let seen = r
                .post
                .created_at
                .clone()
                .unwrap_or_else(|| r.created_at.clone());
            let a = attrs
                .entry((kind, value.to_string()))
                .or_insert_with(|| MispAttr {
                    kind,
                    category,
                    value: value.to_string(),
                    to_ids,
                    first: seen.clone(),
                    last: seen.clone(),
                    posts: BTreeSet::new(),
                    authors: BTreeSet::new(),
                    rules: BTreeSet::new(),
                    severity: Severity::Info,
                });
            if seen < a.first {
                a.first = seen.clone();
            }
            if seen > a.last {
                a.last = seen;
            }
            a.posts
                .insert(r.post.url.clone().unwrap_or_else(|| r.post.id.clone()));
            a.authors.insert(author_name_plain(r));
            a.rules.extend(r.rules.iter().map(|h| h.id.clone()));
            a.severity = a.severity.max(r.severity());
        };
    let mut max_sev = Severity::Info;
    let mut rules: BTreeSet<String> = BTreeSet::new();
    let real: Vec<&AlertRecord> = records.iter().filter(|r| !is_synthetic(r)).collect();
    for r in &real {
        max_sev = max_sev.max(r.severity());
        rules.extend(r.rules.iter().map(|h| h.id.clone()));
        for (kind, value) in ioc_items(r) {
            let (t, c) = misp_type(kind);
            let to_ids = actionable(kind, value) && t != "vulnerability";
            add(t, c, value, to_ids, r);
        }
        if let Some(url) = &r.post.url {
            add("link", "External analysis", url, false, r);
        }
        let who = match (&r.post.author.handle, r.post.platform) {
            (Some(h), Platform::X) => ("twitter-id", h.clone()),
            (Some(h), p) => ("text", format!("{}:{} @{h}", p.as_str(), r.post.author.id)),
            (None, _) => ("text", r.post.author_ref()),
        };
        add(who.0, "Social network", &who.1, false, r);
        if let Some(actor) = watchlist.lookup(r.post.platform, &r.post.author.id) {
            add("threat-actor", "Attribution", &actor.name, false, r);
        }
        for e in &r.entities {
            let name = e.name.clone().unwrap_or_else(|| e.domain.clone());
            add("target-org", "Targeting data", &name, false, r);
            if let Some(st) = &e.state {
                add("target-location", "Targeting data", st, false, r);
            }
        }
    }
    let misp_time = |s: &str| {
        s.parse::<jiff::Timestamp>()
            .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string())
            .ok()
    };
    let attributes: Vec<Value> = attrs
        .into_values()
        .map(|a| {
            let mut comment = format!(
                "Seen in {} post(s) by {}; rules: {}",
                a.posts.len(),
                a.authors.iter().cloned().collect::<Vec<_>>().join(", "),
                a.rules.iter().cloned().collect::<Vec<_>>().join(", ")
            );
            if let Some(first) = a.posts.iter().next() {
                comment.push_str(&format!("; first post: {first}"));
            }
            let mut v = json!({
                "uuid": Uuid::new_v5(&STREAMER_NS, format!("misp-attr\0{}\0{}", a.kind, a.value).as_bytes()).to_string(),
                "type": a.kind, "category": a.category, "value": a.value, "to_ids": a.to_ids,
                "comment": comment, "distribution": "5", "disable_correlation": false,
                "Tag": [{"name": format!("streamer:severity=\"{}\"", a.severity)}],
            });
            if let Some(t) = misp_time(&a.first) {
                v["first_seen"] = json!(t);
            }
            if let Some(t) = misp_time(&a.last) {
                v["last_seen"] = json!(t);
            }
            v
        })
        .collect();
    let mut tags = vec![json!({"name": format!("tlp:{}", tlp.name())})];
    for r in &rules {
        tags.push(json!({"name": format!("streamer:rule=\"{r}\"")}));
    }
    let threat_level = match max_sev {
        Severity::Critical | Severity::High => "1",
        Severity::Medium => "2",
        Severity::Low => "3",
        Severity::Info => "4",
    };
    json!({"Event": {
        "uuid": Uuid::new_v5(&STREAMER_NS, format!("misp-event\0{info}").as_bytes()).to_string(),
        "info": info,
        "date": now.strftime("%Y-%m-%d").to_string(),
        "timestamp": now.as_second().to_string(),
        "threat_level_id": threat_level,
        "analysis": "0",
        "distribution": "0",
        "published": false,
        "Orgc": {"name": "Streamer"},
        "Tag": tags,
        "Attribute": attributes,
    }})
}

/// Prefixes cells a spreadsheet would evaluate (`=`, `+`, `-`, `@`, tab, CR) with `'`.
fn cell(s: &str) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    if flat.starts_with(['=', '+', '-', '@', '\t']) {
        format!("'{flat}")
    } else {
        flat
    }
}

/// The CSV header of [`csv_export`].
pub const CSV_HEADER: [&str; 17] = [
    "alert_id",
    "created_at",
    "severity",
    "rules",
    "platform",
    "post_id",
    "post_url",
    "post_created_at",
    "author_id",
    "author_handle",
    "watched_actor",
    "ioc_type",
    "ioc_value",
    "actionable",
    "entities",
    "states",
    "text",
];

/// CSV for spreadsheets: one row per (alert, IOC), one row for an alert without IOCs.
pub fn csv_export(records: &[AlertRecord], watchlist: &Watchlist) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CSV_HEADER)?;
    for r in records {
        let p = &r.post;
        let actor = watchlist
            .lookup(p.platform, &p.author.id)
            .map(|a| a.name.clone())
            .unwrap_or_default();
        let entities: Vec<String> = r
            .entities
            .iter()
            .map(|e| match &e.name {
                Some(n) => format!("{n} ({})", e.domain),
                None => e.domain.clone(),
            })
            .collect();
        let mut states: Vec<&str> = r
            .entities
            .iter()
            .filter_map(|e| e.state.as_deref())
            .collect();
        states.dedup();
        let text: String = p.text.chars().take(500).collect();
        let base = |kind: &str, value: &str, act: &str| -> Vec<String> {
            vec![
                cell(&r.alert_id),
                cell(&r.created_at),
                cell(r.severity().as_str()),
                cell(&r.rule_ids().join(" ")),
                cell(p.platform.as_str()),
                cell(&p.id),
                cell(p.url.as_deref().unwrap_or("")),
                cell(p.created_at.as_deref().unwrap_or("")),
                cell(&p.author.id),
                cell(p.author.handle.as_deref().unwrap_or("")),
                cell(&actor),
                cell(kind),
                cell(value),
                cell(act),
                cell(&entities.join("; ")),
                cell(&states.join(" ")),
                cell(&text),
            ]
        };
        let items = ioc_items(r);
        if items.is_empty() {
            w.write_record(base("", "", ""))?;
        }
        for (kind, value) in items {
            let act = if actionable(kind, value) { "yes" } else { "no" };
            w.write_record(base(kind, value, act))?;
        }
    }
    w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_escape_quotes_and_urls_are_uris() {
        let (p, sco) = stix_observable("url", "http://e.com/a'b c|d%zz%41").unwrap();
        assert_eq!(p, r"[url:value = 'http://e.com/a\'b%20c%7Cd%25zz%41']");
        assert_eq!(sco["value"], "http://e.com/a'b%20c%7Cd%25zz%41");
        let (p, _) = stix_observable("email", r"a\b'c@e.com").unwrap();
        assert_eq!(p, r"[email-addr:value = 'a\\b\'c@e.com']");
        let (p, _) = stix_observable("sha1", &"a".repeat(40)).unwrap();
        assert!(p.starts_with("[file:hashes.'SHA-1' = '"));
        assert!(stix_observable("btc", "1x").is_none());
    }

    #[test]
    fn sco_ids_are_uuid5_of_canonical_json() {
        // The STIX 2.1 specification's own example (section 2.9): a url SCO's id.
        let id = sco_id("url", &json!({"value": "https://example.com/"}));
        assert!(id.starts_with("url--"));
        let u = Uuid::parse_str(&id[5..]).unwrap();
        assert_eq!(u.get_version_num(), 5);
        assert_eq!(id, sco_id("url", &json!({"value": "https://example.com/"})));
    }

    #[test]
    fn spreadsheet_formulas_are_neutralised() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("a\nb"), "a b");
        assert_eq!(cell("plain"), "plain");
    }
}
