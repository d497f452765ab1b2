//! Rebuilds: a view rebuilt from scratch equals the view built incrementally, and a rebuild
//! under load keeps the old view answering and loses no event appended meanwhile.

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use alpes_read::comisiones::ComisionFilter;
use alpes_read::marketing::CampanaFilter;
use alpes_read::rebuild::NoProgress;
use alpes_read::tracking::InteraccionFilter;
use alpes_read::workload::{run_workload, WorkloadSizes};
use alpes_read::{rebuild_many, ProjectionName, RebuildOptions, Views};
use uuid::Uuid;

use support::Env;

type Dumps = BTreeMap<ProjectionName, BTreeMap<&'static str, Vec<String>>>;

async fn dump_all(views: &Views) -> Dumps {
    let mut dumps = BTreeMap::new();
    for name in ProjectionName::ALL {
        dumps.insert(name, views.dump(name).await.unwrap());
    }
    dumps
}

fn assert_same_views(incremental: &Dumps, rebuilt: &Dumps) {
    for (projection, tables) in incremental {
        for (table, rows) in tables {
            let other = &rebuilt[projection][table];
            assert_eq!(
                rows.len(),
                other.len(),
                "{projection}: {table} has {} rows incrementally, {} rebuilt",
                rows.len(),
                other.len()
            );
            for (row, rebuilt_row) in rows.iter().zip(other) {
                assert_eq!(row, rebuilt_row, "{projection}: {table} differs");
            }
        }
    }
}

async fn rebuild_everything(env: &Env, options: &RebuildOptions) {
    let reports = rebuild_many(
        &env.backend,
        &env.views,
        &ProjectionName::ALL,
        options,
        Arc::new(NoProgress),
    )
    .await;
    for report in reports {
        report.unwrap();
    }
}

/// Thousands of events of every type from concurrent writers, projected while they are
/// written, then every table rebuilt from the log: the same rows.
async fn incremental_views_equal_rebuilt_views(env: Env) {
    let (shutdown, running) = env.run_projectors();
    let sizes = WorkloadSizes {
        campanas: 14,
        partners: 25,
        journeys: 1_000,
        writers: 12,
        fraud_percent: 25,
        ..WorkloadSizes::default()
    };
    let report = run_workload(&env.backend, &sizes).await.unwrap();
    assert!(report.interacciones > 2_000, "{report:?}");
    assert!(report.comisiones > 50 && report.fraudes > 10, "{report:?}");
    env.wait_until_caught_up().await;
    let incremental = dump_all(&env.views).await;
    assert_eq!(
        incremental[&ProjectionName::Tracking]["interacciones"].len() as u64,
        report.interacciones
    );
    let events = env.committed_events().await;
    eprintln!("workload: {events} events, {report:?}");
    assert!(events > 4_000, "{events} events");
    let in_log = env.event_types().await;
    let missing: Vec<String> = alpes_domain::catalog::event_types()
        .into_iter()
        .filter(|event_type| !in_log.contains(event_type))
        .collect();
    assert!(missing.is_empty(), "the workload wrote no {missing:?}");

    let mut indexes = BTreeMap::new();
    for name in ProjectionName::ALL {
        for table in name.tables() {
            indexes.insert(table.name, env.index_count(table.name).await);
        }
    }
    assert!(indexes["interacciones"] >= 5, "{indexes:?}");

    rebuild_everything(&env, &RebuildOptions::default()).await;
    let rebuilt = dump_all(&env.views).await;
    assert_same_views(&incremental, &rebuilt);
    // Small batches: each projection applies many runs of several queued batches.
    let small_batches = RebuildOptions {
        batch_size: 50,
        ..RebuildOptions::default()
    };
    rebuild_everything(&env, &small_batches).await;
    assert_same_views(&incremental, &dump_all(&env.views).await);
    for (table, count) in indexes {
        assert_eq!(
            env.index_count(table).await,
            count,
            "indexes of rebuilt {table}"
        );
    }
    shutdown.cancel();
    running.join().await;
}

on_both_backends!(incremental_views_equal_rebuilt_views);

/// Queries that a page of the dashboard makes; counts answers.
async fn keep_querying(views: Views, stop: Arc<AtomicBool>, answered: Arc<AtomicU64>) {
    while !stop.load(Ordering::Relaxed) {
        let campanas = views
            .campanas(&CampanaFilter::default(), 20, None)
            .await
            .expect("campaigns answer during the rebuild");
        if let Some(campana) = campanas.rows.first() {
            views
                .estadisticas_campana(campana.id)
                .await
                .expect("campaign statistics answer during the rebuild");
            views
                .interacciones(
                    &InteraccionFilter {
                        campana_id: Some(campana.id),
                        ..InteraccionFilter::default()
                    },
                    50,
                    None,
                )
                .await
                .expect("interactions answer during the rebuild");
        }
        views
            .comisiones(&ComisionFilter::default(), 50, None)
            .await
            .expect("commissions answer during the rebuild");
        views
            .journey(Uuid::from_u128(1))
            .await
            .expect("journeys answer during the rebuild");
        answered.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// While writers append and clients query, every projection is rebuilt and swapped in:
/// the queries never fail, and the views then equal a rebuild from scratch (the swap lost
/// no event appended during the rebuild, and applied none twice).
async fn a_rebuild_under_load_keeps_answering_and_loses_nothing(env: Env) {
    let (shutdown, running) = env.run_projectors();
    let first = WorkloadSizes {
        campanas: 8,
        partners: 20,
        journeys: 400,
        writers: 8,
        seed: 11,
        ..WorkloadSizes::default()
    };
    run_workload(&env.backend, &first).await.unwrap();
    env.wait_until_caught_up().await;

    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let queries = tokio::spawn(keep_querying(
        env.views.clone(),
        stop.clone(),
        answered.clone(),
    ));
    let backend = env.backend.clone();
    let writers = tokio::spawn(async move {
        let more = WorkloadSizes {
            campanas: 4,
            partners: 20,
            journeys: 500,
            writers: 4,
            seed: 12,
            ..WorkloadSizes::default()
        };
        run_workload(&backend, &more).await.unwrap()
    });
    let before = answered.load(Ordering::Relaxed);
    rebuild_everything(&env, &RebuildOptions::default()).await;
    assert!(
        answered.load(Ordering::Relaxed) > before,
        "queries answered while the rebuild ran"
    );
    let appended = writers.await.unwrap();
    stop.store(true, Ordering::Relaxed);
    queries.await.unwrap();
    env.wait_until_caught_up().await;

    let live = dump_all(&env.views).await;
    let interacciones = live[&ProjectionName::Tracking]["interacciones"].len() as u64;
    assert!(
        interacciones > appended.interacciones,
        "both workloads are in the view"
    );
    rebuild_everything(&env, &RebuildOptions::default()).await;
    assert_same_views(&live, &dump_all(&env.views).await);
    shutdown.cancel();
    running.join().await;
}

on_both_backends!(a_rebuild_under_load_keeps_answering_and_loses_nothing);
