//! SLTT attribution: CISA's .gov registry (embedded) and the documented `.us` state patterns.

use std::collections::HashMap;
use std::sync::OnceLock;
use streamer_model::Entity;

/// The registry snapshot shipped with the crate (see `data/dotgov/SOURCE.md`). Embedded so that
/// the binary never depends on a file at run time.
const REGISTRY_CSV: &str = include_str!("../data/dotgov/current-full.csv");

/// One registry row, as the lookup needs it.
#[derive(Debug, Clone)]
struct Row {
    name: Option<String>,
    kind: String,
    city: Option<String>,
    state: Option<String>,
    contact: Option<String>,
}

fn registry() -> &'static HashMap<String, Row> {
    static REG: OnceLock<HashMap<String, Row>> = OnceLock::new();
    REG.get_or_init(|| parse_registry(REGISTRY_CSV))
}

/// Number of rows loaded from the embedded registry.
pub(crate) fn len() -> usize {
    registry().len()
}

/// Splits CSV text into records of fields (RFC 4180: quoted fields may hold commas, doubled
/// quotes and line breaks). Small and linear; the registry is the only CSV we read.
pub(crate) fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    field.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            _ => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// The registry's own type names, mapped onto today's vocabulary. Federal types all report as
/// `Federal`; older snapshots' labels are translated so that a refresh from an old file works.
pub(crate) fn normalise_type(raw: &str) -> String {
    let t = raw.trim();
    let lower = t.to_ascii_lowercase();
    if lower.starts_with("federal") {
        return "Federal".to_owned();
    }
    let (base, election) = match lower.strip_suffix(" - election") {
        Some(b) => (b, true),
        None => (lower.as_str(), false),
    };
    let base = match base {
        "city" => "City",
        "county" => "County",
        "state" | "state or territory" | "state/territory" => "State or territory",
        "tribal" | "native sovereign nation" => "Tribal",
        "school district" => "School district",
        "special district" | "independent intrastate" => "Special district",
        "interstate" => "Interstate",
        _ => return t.to_owned(),
    };
    if election {
        format!("{base} - Election")
    } else {
        base.to_owned()
    }
}

fn parse_registry(text: &str) -> HashMap<String, Row> {
    let rows = parse_csv(text);
    let mut it = rows.into_iter();
    let Some(header) = it.next() else {
        return HashMap::new();
    };
    let col = |names: &[&str]| {
        names.iter().find_map(|n| {
            header.iter().position(|h| {
                h.trim()
                    .trim_start_matches('\u{feff}')
                    .eq_ignore_ascii_case(n)
            })
        })
    };
    let (Some(c_domain), Some(c_type)) = (col(&["domain name"]), col(&["domain type"])) else {
        return HashMap::new();
    };
    let c_name = col(&["organization name", "organization", "agency"]);
    let c_city = col(&["city"]);
    let c_state = col(&["state"]);
    let c_contact = col(&["security contact email"]);
    let get = |r: &[String], c: Option<usize>| -> Option<String> {
        let v = r.get(c?)?.trim();
        (!v.is_empty() && !v.eq_ignore_ascii_case("(blank)")).then(|| v.to_owned())
    };
    let mut map = HashMap::with_capacity(20_000);
    for r in it {
        let Some(domain) = get(&r, Some(c_domain)) else {
            continue;
        };
        let Some(kind) = get(&r, Some(c_type)) else {
            continue;
        };
        map.insert(
            domain.to_ascii_lowercase(),
            Row {
                name: get(&r, c_name),
                kind: normalise_type(&kind),
                city: get(&r, c_city),
                state: get(&r, c_state).map(|s| s.to_ascii_uppercase()),
                contact: get(&r, c_contact),
            },
        );
    }
    map
}

/// USPS codes of the states, DC and the territories that have `.us` state zones.
const STATES: [&str; 56] = [
    "al", "ak", "az", "ar", "ca", "co", "ct", "de", "fl", "ga", "hi", "id", "il", "in", "ia", "ks",
    "ky", "la", "me", "md", "ma", "mi", "mn", "ms", "mo", "mt", "ne", "nv", "nh", "nj", "nm", "ny",
    "nc", "nd", "oh", "ok", "or", "pa", "ri", "sc", "sd", "tn", "tx", "ut", "vt", "va", "wa", "wv",
    "wi", "wy", "dc", "pr", "vi", "as", "gu", "mp",
];

/// See [`crate::lookup_entity`].
pub(crate) fn lookup(host: &str) -> Option<Entity> {
    let host = host.trim().trim_end_matches('.');
    let host = host.to_ascii_lowercase();
    let labels: Vec<&str> = host.split('.').collect();
    let n = labels.len();
    if n >= 2 && labels[n - 1] == "gov" {
        // Registry domains are all `<label>.gov`: a host belongs to its second-level domain.
        let domain = format!("{}.gov", labels[n - 2]);
        let row = registry().get(&domain)?;
        return Some(Entity {
            domain,
            name: row.name.clone(),
            kind: row.kind.clone(),
            state: row.state.clone(),
            city: row.city.clone(),
            security_contact: row.contact.clone(),
        });
    }
    if n >= 3 && labels[n - 1] == "us" && STATES.contains(&labels[n - 2]) {
        return us_pattern(&labels);
    }
    None
}

/// The `.us` heuristics (RFC 1480 naming), documented in the crate docs.
fn us_pattern(labels: &[&str]) -> Option<Entity> {
    let n = labels.len();
    let state = labels[n - 2];
    let loc = labels[n - 3];
    let below = (n >= 4).then(|| labels[n - 4]);
    let join = |k: usize| labels[n - k..].join(".");
    let (kind, domain) = match loc {
        "state" => ("State or territory", join(3)),
        "k12" => {
            if below == Some("pvt") {
                return None; // private schools
            }
            (
                "School district",
                if below.is_some() { join(4) } else { join(3) },
            )
        }
        "dst" => (
            "Special district",
            if below.is_some() { join(4) } else { join(3) },
        ),
        // Libraries, community colleges, technical schools, museums, general bodies: not
        // attributed (their owners vary too much to name a type).
        "lib" | "cc" | "tec" | "mus" | "gen" | "pvt" | "nsn" | "fed" | "isa" | "kids" | "dni" => {
            return None
        }
        _ => match below {
            Some("ci" | "city" | "town" | "vil" | "village") => ("City", join(4)),
            Some("co" | "county" | "cnty" | "parish") => ("County", join(4)),
            _ => ("City", join(3)),
        },
    };
    Some(Entity {
        domain,
        name: None,
        kind: kind.to_owned(),
        state: Some(state.to_ascii_uppercase()),
        city: None,
        security_contact: None,
    })
}
