//! Old events as the first services stored them: the upcasters' fixture files
//! (`upcasters/fixtures/*.json`), read as rows, or inserted with SQL into a store's
//! `events` table.

use std::path::Path;

use serde_json::Value;

/// One stored row of an old event, as a fixture file holds it.
#[derive(Debug, Clone)]
pub struct LegacyRow {
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: Value,
    pub metadata: Value,
}

impl LegacyRow {
    /// Parses the JSON text of a fixture file. Panics on a malformed one: it is for tests.
    pub fn parse(text: &str) -> LegacyRow {
        let row: Value = serde_json::from_str(text).unwrap();
        let text = |key: &str| row[key].as_str().unwrap().to_string();
        LegacyRow {
            aggregate_type: text("aggregate_type"),
            aggregate_id: text("aggregate_id"),
            sequence: row["sequence"].as_i64().unwrap(),
            event_type: text("event_type"),
            event_version: text("event_version"),
            payload: row["payload"].clone(),
            metadata: row["metadata"].clone(),
        }
    }
}

/// The text of the fixture `name` of `upcasters/fixtures/`. Panics when it cannot be read.
pub fn fixture_text(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../upcasters/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap()
}

/// Inserts the fixture `name` of `upcasters/fixtures/` into the events table of the store
/// at `url` (SQLite or PostgreSQL; already migrated), naming the columns as sqlite-es and
/// postgres-es do. Panics on failure: it is for tests.
pub async fn insert_fixture(url: &str, name: &str) {
    let row = LegacyRow::parse(&fixture_text(name));
    let insert = "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
                  event_version, payload, metadata) VALUES ";
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query(&format!("{insert}(?, ?, ?, ?, ?, ?, ?)"))
            .bind(row.aggregate_type)
            .bind(row.aggregate_id)
            .bind(row.sequence)
            .bind(row.event_type)
            .bind(row.event_version)
            .bind(row.payload.to_string())
            .bind(row.metadata.to_string())
            .execute(&pool)
            .await
            .unwrap();
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query(&format!("{insert}($1, $2, $3, $4, $5, $6, $7)"))
            .bind(row.aggregate_type)
            .bind(row.aggregate_id)
            .bind(row.sequence)
            .bind(row.event_type)
            .bind(row.event_version)
            .bind(sqlx::types::Json(row.payload))
            .bind(sqlx::types::Json(row.metadata))
            .execute(&pool)
            .await
            .unwrap();
    }
}
