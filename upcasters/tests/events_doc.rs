//! `docs/events.md` is generated from the code — the domain's event catalogue, the
//! upcasters' schema changes and the old payloads kept as fixtures — and this test fails
//! when the file and the code disagree. Regenerate with
//! `UPDATE_DOCS=1 cargo test -p alpes-upcasters --test events_doc`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;

use alpes_domain::catalog::{samples, AGGREGATE_TYPES};
use serde_json::Value;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `path: type (example)` rows of every leaf of a JSON value.
fn fields(value: &Value, path: &str, rows: &mut Vec<(String, String, String)>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                fields(child, &child_path, rows);
            }
        }
        Value::Array(items) if !items.is_empty() => fields(&items[0], &format!("{path}[]"), rows),
        other => {
            let kind = match other {
                Value::Null => "null",
                Value::Bool(_) => "boolean",
                Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
                Value::Number(_) => "number",
                Value::String(_) => "string",
                Value::Array(_) => "array (empty)",
                Value::Object(_) => "object (empty)",
            };
            let example = other.to_string();
            let example = if example.chars().count() > 60 {
                format!("{}…", example.chars().take(57).collect::<String>())
            } else {
                example
            };
            rows.push((path.to_string(), kind.to_string(), example));
        }
    }
}

/// One table for several payloads of the same version: every field any of them has.
fn table(payloads: &[Value], out: &mut String) {
    let mut rows: Vec<(String, String, String)> = Vec::new();
    for payload in payloads {
        let inner = payload
            .as_object()
            .and_then(|m| m.values().next())
            .cloned()
            .unwrap_or(Value::Null);
        let mut these = Vec::new();
        fields(&inner, "", &mut these);
        for row in these {
            if !rows.iter().any(|known| known.0 == row.0) {
                rows.push(row);
            }
        }
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    if rows.is_empty() || (rows.len() == 1 && rows[0].0.is_empty()) {
        out.push_str("No fields.\n\n");
        return;
    }
    out.push_str("| field | type | example |\n|---|---|---|\n");
    for (path, kind, example) in rows {
        let example = example.replace('|', "\\|");
        let _ = writeln!(out, "| `{path}` | {kind} | `{example}` |");
    }
    out.push('\n');
}

/// Old payloads kept as fixtures, by (event type, version): file names and payloads.
fn fixtures() -> BTreeMap<(String, String), (Vec<String>, Vec<Value>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut found = BTreeMap::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let raw: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let key = (
            raw["event_type"].as_str().unwrap().to_string(),
            raw["event_version"].as_str().unwrap().to_string(),
        );
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let entry: &mut (Vec<String>, Vec<Value>) = found.entry(key).or_default();
        entry.0.push(name);
        entry.1.push(raw["payload"].clone());
    }
    found
}

fn render() -> String {
    let changes = alpes_upcasters::changes();
    let old = fixtures();
    let mut out = String::from(
        "# Events\n\n\
         Generated from the code by `UPDATE_DOCS=1 cargo test -p alpes-upcasters --test events_doc`:\n\
         the domain's event catalogue (`domain/src/catalog.rs`), the upcasters' schema changes\n\
         (`upcasters/src/lib.rs`) and the old payloads kept as fixtures (`upcasters/fixtures/`).\n\
         A test fails when this file and the code disagree.\n\n\
         Every event is stored as cqrs-es serializes it: an object whose one key is the event\n\
         type. Money is `{amount, currency}` in minor units; times are RFC 3339 UTC; ids are UUIDs.\n\
         Fields shown as `null` are optional.\n\n",
    );
    for aggregate in AGGREGATE_TYPES {
        let _ = writeln!(out, "## {aggregate}\n");
        for sample in samples()
            .into_iter()
            .filter(|s| s.aggregate_type == aggregate)
        {
            let _ = writeln!(
                out,
                "### {} (version {})\n",
                sample.event_type, sample.event_version
            );
            let chain: Vec<String> = changes
                .iter()
                .filter(|(event_type, _, _)| *event_type == sample.event_type)
                .map(|(_, from, to)| format!("{from} → {to}"))
                .collect();
            if !chain.is_empty() {
                let _ = writeln!(out, "Upcast on read: {}.\n", chain.join(", "));
            }
            table(std::slice::from_ref(&sample.payload), &mut out);
            for ((event_type, version), (files, payloads)) in &old {
                if *event_type == sample.event_type {
                    let files: Vec<String> = files
                        .iter()
                        .map(|file| format!("`upcasters/fixtures/{file}`"))
                        .collect();
                    let _ = writeln!(
                        out,
                        "#### {event_type} {version} (old; fixtures {})\n",
                        files.join(", ")
                    );
                    table(payloads, &mut out);
                }
            }
        }
    }
    out
}

#[test]
fn docs_events_md_matches_the_code() {
    let path = repo_root().join("docs/events.md");
    let rendered = render();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &rendered).unwrap();
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == rendered,
        "docs/events.md is out of date; regenerate it with \
         `UPDATE_DOCS=1 cargo test -p alpes-upcasters --test events_doc`"
    );
}

#[test]
fn every_upcast_chain_ends_at_the_version_the_code_writes() {
    let written: BTreeMap<String, String> = samples()
        .into_iter()
        .map(|s| (s.event_type, s.event_version))
        .collect();
    for (event_type, newest) in alpes_upcasters::NEWEST_VERSIONS {
        assert_eq!(
            written.get(event_type).map(String::as_str),
            Some(newest),
            "{event_type}"
        );
    }
    // Later steps of a chain overwrite earlier ones: what remains is where each chain ends.
    let chain_ends: BTreeMap<&str, &str> = alpes_upcasters::changes()
        .into_iter()
        .map(|(event_type, _, to)| (event_type, to))
        .collect();
    for (event_type, end) in chain_ends {
        assert_eq!(
            written.get(event_type).map(String::as_str),
            Some(end),
            "{event_type}"
        );
    }
}
