//! Rebuilding a projection from the whole log while the live one keeps answering.
//!
//! 1. Claim the rebuild (one at a time per projection) and drop the leftovers of an
//!    interrupted one.
//! 2. Create `<table>__rebuild` for each of its tables, with the live table's columns and
//!    primary key.
//! 3. Replay the log into them, each run of batches committed with the rebuild's own
//!    checkpoint (the log is read once for every projection rebuilt together, and each
//!    projection applies all the batches waiting for it at once), then create the live
//!    tables' other indexes on them.
//! 4. Swap, in ONE transaction holding the projection's write lock (the lock every live
//!    batch takes): apply the tail appended meanwhile, rename live → `<table>__old` and
//!    rebuild → live, and move the live checkpoint to the rebuild's. A live batch waiting
//!    for the lock then finds the moved checkpoint and skips what the rebuild applied.
//! 5. Drop the `__old` tables.
//!
//! Interrupted anywhere before the swap commits, the live view is untouched; the next
//! rebuild drops what was left.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alpes_event_store::{EventLog, EventStoreBackend, Position};

use crate::db::{Dialect, Sql, TableInfo, Views, WriteTx};
use crate::fanout::{catch_up_queued, slowest, Member, Reader};
use crate::projector::{Projector, REBUILD_SUFFIX};
use crate::status::events_after;
use crate::{ProjectionName, ReadError};

/// Suffix of the live tables being replaced, between the swap and their drop.
const OLD_SUFFIX: &str = "__old";
/// Rounds of tail catch-up inside the swap before giving up (the log grows faster than
/// the rebuild can apply it).
const MAX_TAIL_ROUNDS: usize = 10_000;

/// Events a rebuild applies per transaction by default. Larger batches mean fewer
/// statements and commits per event: 1 M events on PostgreSQL caught up at ~48k events/s
/// with 4,000 against ~45k with 1,000 (docs/benchmarks.md).
pub const REBUILD_BATCH_SIZE: usize = 4_000;

/// How a rebuild reads and decides.
#[derive(Clone, Debug)]
pub struct RebuildOptions {
    /// Events applied per transaction.
    pub batch_size: usize,
    /// Another rebuild of the same projection that saved no progress for this long is
    /// taken as dead, and its tables are dropped.
    pub stale_after: Duration,
}

impl Default for RebuildOptions {
    fn default() -> Self {
        RebuildOptions {
            batch_size: REBUILD_BATCH_SIZE,
            stale_after: crate::status::STALLED_AFTER,
        }
    }
}

/// What a rebuild did.
#[derive(Clone, Debug, PartialEq)]
pub struct RebuildReport {
    /// The projection rebuilt.
    pub projection: ProjectionName,
    /// Events read from the log (the whole log, up to the swap).
    pub events: u64,
    /// Of those, applied inside the swap (appended while the rebuild ran).
    pub tail_events: u64,
    /// The live checkpoint after the swap.
    pub position: Position,
    /// How long it took.
    pub elapsed: Duration,
}

/// Hears how a rebuild goes (a progress bar, log lines).
pub trait RebuildProgress: Send + Sync {
    /// The replay starts; `total` is the number of events in the log, when known.
    fn started(&self, projection: ProjectionName, total: Option<u64>);
    /// `events` more were applied; the replay is at `position`.
    fn advanced(&self, projection: ProjectionName, events: u64, position: Position);
    /// The replay caught up; the swap begins.
    fn swapping(&self, projection: ProjectionName);
    /// The rebuilt tables are live.
    fn finished(&self, report: &RebuildReport);
}

/// A progress listener that ignores everything.
pub struct NoProgress;

impl RebuildProgress for NoProgress {
    fn started(&self, _: ProjectionName, _: Option<u64>) {}
    fn advanced(&self, _: ProjectionName, _: u64, _: Position) {}
    fn swapping(&self, _: ProjectionName) {}
    fn finished(&self, _: &RebuildReport) {}
}

/// Rebuilds `projection` from `backend`'s whole log into `views`; see the module docs.
pub async fn rebuild(
    backend: &EventStoreBackend,
    views: &Views,
    projection: ProjectionName,
    options: &RebuildOptions,
    progress: &dyn RebuildProgress,
) -> Result<RebuildReport, ReadError> {
    let mut results = rebuild_all(backend, views, &[projection], options, progress).await;
    results.pop().unwrap_or_else(|| {
        Err(ReadError::RebuildFailed {
            projection: projection.to_string(),
            reason: "nothing was rebuilt".to_string(),
        })
    })
}

/// Rebuilds several projections at once, reading the log once for all of them (each as
/// [`rebuild`] otherwise); one result per projection, in the order given.
pub async fn rebuild_many(
    backend: &EventStoreBackend,
    views: &Views,
    projections: &[ProjectionName],
    options: &RebuildOptions,
    progress: Arc<dyn RebuildProgress>,
) -> Vec<Result<RebuildReport, ReadError>> {
    rebuild_all(backend, views, projections, options, progress.as_ref()).await
}

async fn rebuild_all(
    backend: &EventStoreBackend,
    views: &Views,
    projections: &[ProjectionName],
    options: &RebuildOptions,
    progress: &dyn RebuildProgress,
) -> Vec<Result<RebuildReport, ReadError>> {
    let started = Instant::now();
    let log = backend.log();
    let mut outcomes: Vec<Option<Result<RebuildReport, ReadError>>> = Vec::new();
    let mut members = Vec::new();
    let mut indexes = Vec::new();
    for projection in projections {
        match prepare(views, *projection, options).await {
            Ok((member, statements)) => {
                outcomes.push(None);
                members.push(member);
                indexes.push(statements);
            }
            Err(error) => outcomes.push(Some(Err(error))),
        }
    }
    let total = events_after(backend, Position::START)
        .await
        .ok()
        .and_then(|(count, exact)| exact.then_some(count));
    for member in &members {
        progress.started(member.projector.projection(), total);
    }
    let (events, mut failures) = replay(&log, &mut members, options, progress).await;
    let swaps = members
        .iter()
        .zip(&events)
        .zip(&indexes)
        .filter(|((member, _), _)| member.active)
        .map(|((member, events), indexes)| {
            finish(
                views, &log, member, *events, indexes, options, started, progress,
            )
        });
    let mut finished = futures::future::join_all(swaps).await.into_iter();
    for member in &members {
        let projection = member.projector.projection();
        let outcome = if member.active {
            finished.next().unwrap_or_else(|| {
                Err(ReadError::RebuildFailed {
                    projection: projection.to_string(),
                    reason: "its swap did not run".to_string(),
                })
            })
        } else {
            Err(failures
                .remove(&projection)
                .unwrap_or_else(|| ReadError::RebuildFailed {
                    projection: projection.to_string(),
                    reason: "it failed while replaying the log".to_string(),
                }))
        };
        if let Some(slot) = projections
            .iter()
            .position(|name| *name == projection)
            .and_then(|index| outcomes.get_mut(index))
        {
            *slot = Some(outcome);
        }
    }
    outcomes
        .into_iter()
        .zip(projections)
        .map(|(outcome, projection)| {
            outcome.unwrap_or_else(|| {
                Err(ReadError::RebuildFailed {
                    projection: projection.to_string(),
                    reason: "it was not rebuilt".to_string(),
                })
            })
        })
        .collect()
}

/// Claims the rebuild and creates its tables; the rebuild's projector at the start.
async fn prepare(
    views: &Views,
    projection: ProjectionName,
    options: &RebuildOptions,
) -> Result<(Member, Vec<String>), ReadError> {
    claim(views, projection, options).await?;
    let indexes = create_tables(views, projection).await?;
    let member = Member::at_checkpoint(Projector::rebuild(projection, views.clone())).await?;
    Ok((member, indexes))
}

/// Replays the log into every member's tables, reading it once for all, until a read
/// comes back short (caught up, but for what is appended meanwhile). Each member applies
/// the batches that queued up for it as one transaction (see
/// [`crate::fanout::catch_up_queued`]). The events each member applied, and why those
/// that failed did (they are made inactive).
async fn replay(
    log: &Arc<dyn EventLog>,
    members: &mut [Member],
    options: &RebuildOptions,
    progress: &dyn RebuildProgress,
) -> (Vec<u64>, HashMap<ProjectionName, ReadError>) {
    let mut events = vec![0u64; members.len()];
    let mut failures = HashMap::new();
    let Some(from) = slowest(members) else {
        return (events, failures);
    };
    let batch_size = options.batch_size.max(1);
    let mut reader = Reader::spawn(log.clone(), from, batch_size, false, Duration::ZERO);
    let advanced = |projection: ProjectionName, events: u64, position: Position| {
        progress.advanced(projection, events, position)
    };
    let (drained, read_failure) = catch_up_queued(&mut reader, members, &advanced).await;
    for outcome in drained {
        events[outcome.index] = outcome.events;
        if let Some(error) = outcome.failure {
            failures.insert(members[outcome.index].projector.projection(), error);
        }
    }
    if let Some(error) = read_failure {
        let reason = error.to_string();
        for member in members.iter_mut().filter(|member| member.active) {
            member.active = false;
            let projection = member.projector.projection();
            failures.insert(
                projection,
                ReadError::RebuildFailed {
                    projection: projection.to_string(),
                    reason: format!("reading the log: {reason}"),
                },
            );
        }
    }
    (events, failures)
}

/// Indexes a replayed member's tables, swaps them in and drops the old ones.
#[allow(clippy::too_many_arguments)]
async fn finish(
    views: &Views,
    log: &Arc<dyn EventLog>,
    member: &Member,
    events: u64,
    indexes: &[String],
    options: &RebuildOptions,
    started: Instant,
    progress: &dyn RebuildProgress,
) -> Result<RebuildReport, ReadError> {
    let projection = member.projector.projection();
    create_indexes(views, projection, indexes).await?;
    progress.swapping(projection);
    let (position, tail_events) = swap(views, log, &member.projector, projection, options).await?;
    drop_tables(views, projection, OLD_SUFFIX).await?;
    let report = RebuildReport {
        projection,
        events: events + tail_events,
        tail_events,
        position,
        elapsed: started.elapsed(),
    };
    tracing::info!(projection = %projection, events = report.events, tail = tail_events,
        position = %position, seconds = report.elapsed.as_secs_f64(), "projection rebuilt");
    progress.finished(&report);
    Ok(report)
}

/// Takes the rebuild of `projection` for this run: refuses when another rebuild saved
/// progress recently, else forgets any earlier one.
async fn claim(
    views: &Views,
    projection: ProjectionName,
    options: &RebuildOptions,
) -> Result<(), ReadError> {
    let consumer = projection.rebuild_consumer();
    let mut tx = views
        .begin_write(&format!("{}{REBUILD_SUFFIX}", projection.as_str()))
        .await?;
    if let Some((_, saved_at)) = views.checkpoint_row(&consumer).await? {
        let ago = chrono::Utc::now() - saved_at;
        if ago.to_std().unwrap_or_default() < options.stale_after {
            return Err(ReadError::RebuildRunning {
                projection: projection.to_string(),
                seconds_ago: ago.num_seconds(),
            });
        }
        tracing::warn!(projection = %projection, last_progress = %saved_at,
            "an earlier rebuild was interrupted; starting over");
    }
    // Saving START marks the rebuild as running now (its time is the heartbeat).
    tx.save_checkpoint(&consumer, Position::START).await?;
    tx.commit().await
}

/// Drops leftovers and creates `<table>__rebuild` for every table of `projection`, each
/// with its live table's columns, keys and indexes.
async fn create_tables(
    views: &Views,
    projection: ProjectionName,
) -> Result<Vec<String>, ReadError> {
    drop_tables(views, projection, REBUILD_SUFFIX).await?;
    drop_tables(views, projection, OLD_SUFFIX).await?;
    let mut tx = views
        .begin_write(&format!("{}{REBUILD_SUFFIX}", projection.as_str()))
        .await?;
    let mut indexes = Vec::new();
    for table in projection.tables() {
        let schema = clone_schema(&mut tx, table).await?;
        for statement in schema.table {
            tx.execute(
                &Sql::new(statement),
                &format!("creating {}{REBUILD_SUFFIX}", table.name),
            )
            .await?;
        }
        indexes.extend(schema.indexes);
    }
    tx.commit().await?;
    Ok(indexes)
}

/// Creates the secondary indexes of the rebuilt tables (after the replay: building an
/// index once costs far less than keeping it up to date row by row).
async fn create_indexes(
    views: &Views,
    projection: ProjectionName,
    indexes: &[String],
) -> Result<(), ReadError> {
    for statement in indexes {
        views
            .execute(
                &Sql::new(statement.as_str()),
                &format!("indexing the rebuilt tables of {projection}"),
            )
            .await?;
    }
    Ok(())
}

/// How to create `<table>__rebuild` like a live table: the table with its primary key,
/// then its other indexes.
struct ClonedSchema {
    table: Vec<String>,
    indexes: Vec<String>,
}

/// The schema of the live `table`, for `<table>__rebuild`.
async fn clone_schema(tx: &mut WriteTx, table: &TableInfo) -> Result<ClonedSchema, ReadError> {
    let name = table.name;
    let target = format!("{name}{REBUILD_SUFFIX}");
    let unreadable = |object: &str, ddl: &str| ReadError::RebuildFailed {
        projection: name.to_string(),
        reason: format!("cannot copy the schema of {object}: {ddl}"),
    };
    match tx.dialect() {
        Dialect::Postgres => {
            let mut sql = Sql::new(
                "SELECT pg_get_indexdef(i.indexrelid) AS ddl FROM pg_index i \
                  WHERE NOT i.indisprimary AND i.indrelid = to_regclass(",
            );
            sql.bind(format!("\"{name}\"")).push(")");
            let mut indexes = Vec::new();
            for row in tx
                .fetch_all(&sql, &format!("reading the indexes of {name}"))
                .await?
            {
                let ddl = row
                    .opt_text("ddl")
                    .map_err(ReadError::row("pg_index"))?
                    .unwrap_or_default();
                indexes
                    .push(postgres_index_ddl(&ddl, &target).ok_or_else(|| unreadable(name, &ddl))?);
            }
            Ok(ClonedSchema {
                table: vec![
                    format!("CREATE TABLE \"{target}\" (LIKE \"{name}\" INCLUDING ALL EXCLUDING INDEXES)"),
                    format!("ALTER TABLE \"{target}\" ADD PRIMARY KEY ({})", table.key_list()),
                ],
                indexes,
            })
        }
        Dialect::Sqlite => {
            let mut sql = Sql::new("SELECT type, name, sql FROM sqlite_master WHERE tbl_name = ");
            sql.bind(name)
                .push(" AND sql IS NOT NULL ORDER BY type DESC");
            let rows = tx
                .fetch_all(&sql, &format!("reading the schema of {name}"))
                .await?;
            let generation = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_millis());
            let mut schema = ClonedSchema {
                table: Vec::new(),
                indexes: Vec::new(),
            };
            for row in rows {
                let read = |column: &str| {
                    row.opt_text(column)
                        .map_err(ReadError::row("sqlite_master"))
                        .map(Option::unwrap_or_default)
                };
                let (kind, object, ddl) = (read("type")?, read("name")?, read("sql")?);
                match kind.as_str() {
                    "table" => schema.table.push(
                        sqlite_table_ddl(&ddl, &target).ok_or_else(|| unreadable(&object, &ddl))?,
                    ),
                    "index" => schema.indexes.push(
                        sqlite_index_ddl(&ddl, &object, &target, generation)
                            .ok_or_else(|| unreadable(&object, &ddl))?,
                    ),
                    _ => {}
                }
            }
            Ok(schema)
        }
    }
}

/// `CREATE [UNIQUE] INDEX name ON schema.x USING …` as an index of `target` that
/// PostgreSQL names itself (index names are unique per schema).
fn postgres_index_ddl(ddl: &str, target: &str) -> Option<String> {
    let on = ddl.find(" ON ")?;
    let using = on + ddl[on..].find(" USING ")?;
    let unique = if ddl[..on].contains("UNIQUE") {
        "UNIQUE "
    } else {
        ""
    };
    Some(format!(
        "CREATE {unique}INDEX ON \"{target}\"{}",
        &ddl[using..]
    ))
}

/// `CREATE TABLE x (…)` as `CREATE TABLE "target" (…)`.
fn sqlite_table_ddl(ddl: &str, target: &str) -> Option<String> {
    let columns = ddl.find('(')?;
    Some(format!("CREATE TABLE \"{target}\" {}", &ddl[columns..]))
}

/// `CREATE [UNIQUE] INDEX name ON x (…)` as an index of `target`, named after `name`
/// without an earlier generation suffix, plus this rebuild's (index names are global in
/// SQLite and the rebuilt indexes keep theirs when the table is renamed).
fn sqlite_index_ddl(ddl: &str, name: &str, target: &str, generation: u128) -> Option<String> {
    let on = ddl.find(" ON ")?;
    let columns = on + ddl[on..].find('(')?;
    let unique = if ddl[..on].to_ascii_uppercase().contains("UNIQUE") {
        "UNIQUE "
    } else {
        ""
    };
    let base = name.split("__r").next().unwrap_or(name);
    Some(format!(
        "CREATE {unique}INDEX \"{base}__r{generation}\" ON \"{target}\" {}",
        &ddl[columns..]
    ))
}

/// Drops `<table><suffix>` of every table of `projection`, if present.
async fn drop_tables(
    views: &Views,
    projection: ProjectionName,
    suffix: &str,
) -> Result<(), ReadError> {
    for table in projection.tables() {
        let sql = Sql::new(format!("DROP TABLE IF EXISTS \"{}{suffix}\"", table.name));
        views
            .execute(&sql, &format!("dropping {}{suffix}", table.name))
            .await?;
    }
    Ok(())
}

/// Catches up the tail and swaps the rebuilt tables in, in one transaction under the
/// projection's write lock; the live checkpoint and how many events the tail had.
async fn swap(
    views: &Views,
    log: &Arc<dyn EventLog>,
    projector: &Projector,
    projection: ProjectionName,
    options: &RebuildOptions,
) -> Result<(Position, u64), ReadError> {
    let failed = |reason: String| ReadError::RebuildFailed {
        projection: projection.to_string(),
        reason,
    };
    let mut tx = views.begin_write(projection.as_str()).await?;
    let rebuilt = projection.rebuild_consumer();
    let mut position = tx.load_checkpoint(&rebuilt).await?;
    let live = tx.load_checkpoint(&projection.consumer()).await?;
    let mut tail = 0u64;
    let mut rounds = 0;
    loop {
        let batch = log.read_after(position, options.batch_size.max(1)).await?;
        if batch.is_empty() {
            break;
        }
        rounds += 1;
        if rounds > MAX_TAIL_ROUNDS {
            return Err(failed(
                "the log grew faster than the rebuild could catch up".to_string(),
            ));
        }
        if let Some(last) = projector.apply_in(&mut tx, &batch, position).await? {
            tail += batch.len() as u64;
            position = last;
        }
    }
    if position < live {
        return Err(failed(format!(
            "the live projection is at {live}, past the end of the log the rebuild read \
             ({position}); the live view is unchanged"
        )));
    }
    for table in projection.tables() {
        let name = table.name;
        for statement in [
            format!("ALTER TABLE \"{name}\" RENAME TO \"{name}{OLD_SUFFIX}\""),
            format!("ALTER TABLE \"{name}{REBUILD_SUFFIX}\" RENAME TO \"{name}\""),
        ] {
            tx.execute(
                &Sql::new(statement),
                &format!("swapping in the rebuilt {name}"),
            )
            .await?;
        }
    }
    tx.save_checkpoint(&projection.consumer(), position).await?;
    tx.delete_checkpoint(&rebuilt).await?;
    tx.commit().await?;
    Ok((position, tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_is_copied_under_the_rebuild_name() {
        assert_eq!(
            sqlite_table_ddl(
                "CREATE TABLE \"campanas\" (id text NOT NULL)",
                "campanas__rebuild"
            )
            .as_deref(),
            Some("CREATE TABLE \"campanas__rebuild\" (id text NOT NULL)")
        );
    }

    #[test]
    fn a_postgres_index_is_copied_onto_the_rebuilt_table() {
        let ddl = "CREATE INDEX comisiones_partner ON public.comisiones USING btree (partner_id, seq_high)";
        assert_eq!(
            postgres_index_ddl(ddl, "comisiones__rebuild").as_deref(),
            Some("CREATE INDEX ON \"comisiones__rebuild\" USING btree (partner_id, seq_high)")
        );
    }

    #[test]
    fn an_index_is_copied_under_a_new_generation_name() {
        let ddl = "CREATE INDEX campanas_seq__r17 ON \"campanas\" (seq_high, seq_low)";
        assert_eq!(
            sqlite_index_ddl(ddl, "campanas_seq__r17", "campanas__rebuild", 42).as_deref(),
            Some("CREATE INDEX \"campanas_seq__r42\" ON \"campanas__rebuild\" (seq_high, seq_low)")
        );
        let unique = "CREATE UNIQUE INDEX u ON t (a)";
        assert_eq!(
            sqlite_index_ddl(unique, "u", "t__rebuild", 1).as_deref(),
            Some("CREATE UNIQUE INDEX \"u__r1\" ON \"t__rebuild\" (a)")
        );
    }
}
