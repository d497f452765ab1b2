//! A projector's effects land exactly once: a batch handed again (a runner resuming from
//! an older position, a rebuild that swapped meanwhile) changes nothing twice.

mod support;

use alpes_domain::interaccion::{ContextoInteraccion, DatosInteraccion, InteraccionCommand};
use alpes_domain::TipoInteraccion;
use alpes_event_store::{Consumer, Position};
use alpes_read::workload::Commands;
use alpes_read::{ProjectionName, Projector};
use chrono::{TimeZone, Utc};
use uuid::Uuid;

use support::Env;

async fn a_batch_handed_twice_is_applied_once(env: Env) {
    let commands = Commands::new(&env.backend, "test");
    let campana = Uuid::from_u128(1);
    for n in 1..=6u128 {
        let id = Uuid::from_u128(100 + n);
        let datos = DatosInteraccion {
            tipo: TipoInteraccion::Vista,
            campana_id: campana,
            partner_id: None,
            journey_id: Uuid::from_u128(9),
            occurred_at: Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap(),
            valor: None,
            pedido_id: None,
            contexto: ContextoInteraccion::default(),
        };
        commands
            .interaccion(id, InteraccionCommand::RegistrarInteraccion { id, datos })
            .await
            .unwrap();
    }
    let log = env.backend.log();
    let batch = log.read_after(Position::START, 100).await.unwrap();
    assert_eq!(batch.len(), 6);
    let projector = Projector::live(ProjectionName::Tracking, env.views.clone());
    let dia = Utc
        .with_ymd_and_hms(2026, 3, 1, 0, 0, 0)
        .unwrap()
        .date_naive();
    let vistas = || async {
        env.views
            .estadisticas_diarias(campana, dia, dia)
            .await
            .unwrap()[0]
            .registradas
    };

    projector.handle(&batch[..4]).await.unwrap();
    assert_eq!(vistas().await, 4);
    assert_eq!(projector.checkpoint().await.unwrap(), batch[3].position);
    projector.handle(&batch[..4]).await.unwrap();
    assert_eq!(vistas().await, 4, "the same batch again changes nothing");
    projector.handle(&batch).await.unwrap();
    assert_eq!(
        vistas().await,
        6,
        "only the events after the checkpoint are applied"
    );
    assert_eq!(projector.checkpoint().await.unwrap(), batch[5].position);
}

on_both_backends!(a_batch_handed_twice_is_applied_once);
