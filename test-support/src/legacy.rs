//! Old events as the first services stored them: the upcasters' fixture files
//! (`upcasters/fixtures/*.json`) inserted with SQL into a store's `events` table.

use std::path::Path;

use serde_json::Value;

/// Inserts the fixture `name` of `upcasters/fixtures/` into the events table of the store
/// at `url` (SQLite or PostgreSQL; already migrated), naming the columns as sqlite-es and
/// postgres-es do. Panics on failure: it is for tests.
pub async fn insert_fixture(url: &str, name: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../upcasters/fixtures")
        .join(name);
    let row: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let text = |key: &str| row[key].as_str().unwrap().to_string();
    let insert = "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
                  event_version, payload, metadata) VALUES ";
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query(&format!("{insert}(?, ?, ?, ?, ?, ?, ?)"))
            .bind(text("aggregate_type"))
            .bind(text("aggregate_id"))
            .bind(row["sequence"].as_i64().unwrap())
            .bind(text("event_type"))
            .bind(text("event_version"))
            .bind(row["payload"].to_string())
            .bind(row["metadata"].to_string())
            .execute(&pool)
            .await
            .unwrap();
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query(&format!("{insert}($1, $2, $3, $4, $5, $6, $7)"))
            .bind(text("aggregate_type"))
            .bind(text("aggregate_id"))
            .bind(row["sequence"].as_i64().unwrap())
            .bind(text("event_type"))
            .bind(text("event_version"))
            .bind(sqlx::types::Json(row["payload"].clone()))
            .bind(sqlx::types::Json(row["metadata"].clone()))
            .execute(&pool)
            .await
            .unwrap();
    }
}
