//! Keyset pagination: walking every page of a 10,000-row list sees every row exactly once,
//! while new rows keep arriving.

mod support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use alpes_domain::interaccion::{ContextoInteraccion, DatosInteraccion, InteraccionCommand};
use alpes_domain::TipoInteraccion;
use alpes_read::tracking::InteraccionFilter;
use alpes_read::workload::Commands;
use alpes_read::ReadError;
use chrono::{TimeZone, Utc};
use uuid::Uuid;

use support::Env;

const ROWS: u128 = 10_000;
const WRITERS: u128 = 16;
const CAMPANA: Uuid = Uuid::from_u128(0xCA);
/// Ids of the rows that arrive during the walk start here.
const LATE: u128 = 1 << 64;

async fn registrar(commands: &Commands, n: u128) {
    let id = Uuid::from_u128(n);
    let datos = DatosInteraccion {
        tipo: TipoInteraccion::Click,
        campana_id: CAMPANA,
        partner_id: Some(Uuid::from_u128(7)),
        journey_id: Uuid::from_u128(n % 97 + 1),
        occurred_at: Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()
            + chrono::Duration::seconds((n % 100_000) as i64),
        valor: None,
        pedido_id: None,
        contexto: ContextoInteraccion::default(),
    };
    commands
        .interaccion(id, InteraccionCommand::RegistrarInteraccion { id, datos })
        .await
        .unwrap();
}

async fn walking_every_page_sees_every_row_once_while_rows_arrive(env: Env) {
    let commands = Commands::new(&env.backend, "pagination");
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let commands = commands.clone();
        writers.push(tokio::spawn(async move {
            for n in (1..=ROWS).filter(|n| n % WRITERS == writer) {
                registrar(&commands, n).await;
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let (shutdown, running) = env.run_projectors();
    env.wait_until_caught_up().await;

    let stop = Arc::new(AtomicBool::new(false));
    let arrived = Arc::new(AtomicU64::new(0));
    let late_writer = tokio::spawn({
        let (commands, stop, arrived) = (commands.clone(), stop.clone(), arrived.clone());
        async move {
            let mut n = LATE;
            while !stop.load(Ordering::Relaxed) {
                registrar(&commands, n).await;
                arrived.fetch_add(1, Ordering::Relaxed);
                n += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    });

    for filter in [
        InteraccionFilter::default(),
        InteraccionFilter {
            campana_id: Some(CAMPANA),
            ..InteraccionFilter::default()
        },
    ] {
        let arrived_before = arrived.load(Ordering::Relaxed);
        let mut seen = HashSet::new();
        let mut after: Option<String> = None;
        let mut pages = 0;
        loop {
            let page = env
                .views
                .interacciones(&filter, 100, after.as_deref())
                .await
                .unwrap();
            pages += 1;
            for row in &page.rows {
                assert!(seen.insert(row.id), "row {} handed out twice", row.id);
            }
            if !page.has_next_page {
                break;
            }
            after = page.end_cursor;
            // Leave time for rows to arrive between pages.
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        let missing = (1..=ROWS)
            .filter(|n| !seen.contains(&Uuid::from_u128(*n)))
            .count();
        assert_eq!(missing, 0, "rows missed by the walk");
        assert!(pages >= 100, "{pages} pages");
        assert!(
            arrived.load(Ordering::Relaxed) > arrived_before,
            "rows arrived during the walk"
        );
    }
    stop.store(true, Ordering::Relaxed);
    late_writer.await.unwrap();
    env.wait_until_caught_up().await;
    let newest = env
        .views
        .interacciones(&InteraccionFilter::default(), 1, None)
        .await
        .unwrap();
    assert!(
        newest.rows[0].id.as_u128() >= LATE,
        "rows that arrived during the walk are listed first now"
    );
    shutdown.cancel();
    running.join().await;
}

on_both_backends!(walking_every_page_sees_every_row_once_while_rows_arrive);

#[tokio::test]
async fn a_cursor_no_page_handed_out_is_refused() {
    let env = support::sqlite().await;
    let filter = InteraccionFilter::default();
    let error = env
        .views
        .interacciones(&filter, 10, Some("not-a-cursor"))
        .await
        .unwrap_err();
    assert!(matches!(error, ReadError::InvalidCursor(_)), "{error}");
    for size in [0, 1_001] {
        let error = env
            .views
            .interacciones(&filter, size, None)
            .await
            .unwrap_err();
        assert!(
            matches!(error, ReadError::InvalidPageSize { .. }),
            "{error}"
        );
    }
}
