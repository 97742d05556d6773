//! Keeps docs/configuration.md true: every TOML example in it parses and validates, and every
//! key of every `Raw*` config struct (the `deny_unknown_fields` tables of the config file) is
//! documented there as `` `key` ``.

use std::path::{Path, PathBuf};
use streamer::config::Config;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

fn doc() -> String {
    let path = repo_root().join("docs/configuration.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The bodies of the ```LANG fenced blocks of a Markdown text, with their first line number.
fn fenced_blocks(markdown: &str, lang: &str) -> Vec<(usize, String)> {
    let fence = format!("```{lang}");
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in markdown.lines().enumerate() {
        let trimmed = line.trim();
        match current.as_mut() {
            None if trimmed == fence => current = Some((i + 2, String::new())),
            None => {}
            Some(_) if trimmed == "```" => blocks.push(current.take().unwrap()),
            Some((_, body)) => {
                body.push_str(line);
                body.push('\n');
            }
        }
    }
    assert!(current.is_none(), "an unterminated {fence} block");
    blocks
}

fn toml_blocks(markdown: &str) -> Vec<(usize, String)> {
    fenced_blocks(markdown, "toml")
}

/// Validates TOML text as a file in a directory that holds the doc's sample actors sheet (the
/// one file validation reads: `[actors] csv = "actors.csv"`, relative to the config file).
fn validate(doc: &str, text: &str) -> Result<Config, streamer::config::ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    if let Some((_, sheet)) = fenced_blocks(doc, "csv").into_iter().next() {
        std::fs::write(dir.path().join("actors.csv"), sheet).unwrap();
    }
    Config::from_str(text, Some(&dir.path().join("streamer.toml")))
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// (struct, key) for every field of every `struct Raw… { … }` deriving `Deserialize`, by a line
/// scan: a field is `name: Type,` at the struct's top level; `#[serde(rename = "x")]` renames it.
fn raw_config_keys(source: &str) -> Vec<(String, String)> {
    let mut keys = Vec::new();
    let lines: Vec<&str> = source.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        let name = line
            .strip_prefix("pub ")
            .or(Some(line))
            .and_then(|l| l.strip_prefix("pub(crate) ").or(Some(l)))
            .and_then(|l| l.strip_prefix("struct Raw"));
        let derives_deserialize = lines[i.saturating_sub(3)..i]
            .iter()
            .any(|l| l.contains("Deserialize"));
        let (Some(rest), true) = (name, derives_deserialize) else {
            i += 1;
            continue;
        };
        let struct_name = format!(
            "Raw{}",
            rest.split(|c: char| !c.is_alphanumeric() && c != '_')
                .next()
                .unwrap_or("")
        );
        assert!(
            line.ends_with('{'),
            "{struct_name}: expected `struct {struct_name} {{` on one line"
        );
        let mut rename: Option<String> = None;
        i += 1;
        while i < lines.len() && lines[i].trim() != "}" {
            let l = lines[i].trim();
            i += 1;
            if l.starts_with("//") || l.is_empty() {
                continue;
            }
            if l.starts_with("#[") {
                if let Some(r) = l.split("rename = \"").nth(1) {
                    rename = r.split('"').next().map(str::to_string);
                }
                continue;
            }
            let l = l
                .strip_prefix("pub(crate) ")
                .or_else(|| l.strip_prefix("pub "))
                .unwrap_or(l);
            let l = l.strip_prefix("r#").unwrap_or(l);
            let Some((field, ty)) = l.split_once(':') else {
                continue; // the continuation of a multi-line type
            };
            if ty.starts_with(':')
                || field.is_empty()
                || !field.chars().all(|c| c.is_alphanumeric() || c == '_')
            {
                continue;
            }
            keys.push((
                struct_name.clone(),
                rename.take().unwrap_or(field.to_string()),
            ));
        }
        i += 1;
    }
    keys
}

#[test]
fn every_toml_example_in_the_doc_parses_and_validates() {
    let doc = doc();
    let blocks = toml_blocks(&doc);
    assert!(
        !blocks.is_empty(),
        "docs/configuration.md has no ```toml block"
    );
    for (line, text) in &blocks {
        // Secrets are resolved lazily and files (ca_file, zstd_dictionary) are read only when
        // the component starts, so validation needs no environment and no files but the
        // actors sheet.
        if let Err(e) = validate(&doc, text) {
            panic!("docs/configuration.md: the ```toml block at line {line} is invalid:\n{e}");
        }
    }
}

#[test]
fn the_complete_example_has_every_section_and_every_sink_kind() {
    let doc = doc();
    let (_, example) = toml_blocks(&doc)
        .into_iter()
        .max_by_key(|(_, t)| t.len())
        .unwrap();
    let c = validate(&doc, &example).unwrap();
    assert_eq!(
        c.actors.watchlist.actors.len(),
        2,
        "the sample sheet has two actors"
    );
    assert!(c.summary.is_some());
    assert_eq!(c.sources.len(), 3, "one source of each kind");
    let mut kinds: Vec<&str> = c
        .sinks
        .iter()
        .map(|s| match s.kind {
            streamer::config::SinkKind::Terminal => "terminal",
            streamer::config::SinkKind::Jsonl { .. } => "jsonl",
            streamer::config::SinkKind::Eml { .. } => "eml",
            streamer::config::SinkKind::Email(_) => "email",
            streamer::config::SinkKind::Webhook(_) => "webhook",
            streamer::config::SinkKind::Syslog(_) => "syslog",
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        ["email", "eml", "jsonl", "syslog", "terminal", "webhook"]
    );
    for section in [
        "[storage]",
        "[[sources]]",
        "[watch]",
        "[[rules]]",
        "[[sinks]]",
        "[alerts]",
        "[pipeline]",
        "[web]",
        "[actors]",
        "[summary]",
    ] {
        assert!(
            example.lines().any(|l| l.trim_start().starts_with(section)),
            "the complete example lacks {section}"
        );
    }
}

#[test]
fn every_config_key_is_documented() {
    let doc = doc();
    let mut files = Vec::new();
    rust_files(&repo_root().join("crates/streamer/src"), &mut files);
    files.sort();
    let mut keys = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        keys.extend(raw_config_keys(&text));
    }
    // The scan must find the known tables, or it is broken rather than the doc complete.
    for expected in ["RawConfig", "RawSource", "RawSink", "RawWeb"] {
        assert!(
            keys.iter().any(|(s, _)| s == expected),
            "no fields found for {expected}: the line scan is broken"
        );
    }
    assert!(keys.iter().any(|(_, k)| k == "bearer_token_env"));
    // Top-level tables may be documented as `name`, `[name]` or `[[name]]`.
    let missing: Vec<String> = keys
        .iter()
        .filter(|(_, k)| {
            ![format!("`{k}`"), format!("`[{k}]`"), format!("`[[{k}]]`")]
                .iter()
                .any(|form| doc.contains(form.as_str()))
        })
        .map(|(s, k)| format!("{s}.{k}"))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/configuration.md does not document these config keys (write each as `key`): {}",
        missing.join(", ")
    );
}

#[test]
fn the_line_scan_finds_fields_and_renames() {
    let src = "#[derive(Debug, Deserialize)]\n#[serde(deny_unknown_fields)]\nstruct RawThing {\n    /// doc\n    plain: Option<u8>,\n    #[serde(rename = \"other-name\")]\n    renamed: bool,\n    #[serde(default)]\n    map: std::collections::BTreeMap<\n        String,\n        String,\n    >,\n}\n\nstruct RawNotSerde {\n    nope: u8,\n}\n";
    let keys: Vec<String> = raw_config_keys(src).into_iter().map(|(_, k)| k).collect();
    assert_eq!(keys, ["plain", "other-name", "map"]);
}
