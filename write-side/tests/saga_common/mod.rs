//! What the saga tests share: a fresh store per test (SQLite, PostgreSQL), the real saga
//! running on it, the domain driven through CommandServices, and bounded waits on the log.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alpes_domain::atribucion::{AtribucionCommand, OrigenFraude};
use alpes_domain::campana::{
    CalculoComision, CampanaCommand, ConfiguracionAtribucion, DatosCampana, Marca, ReglaComision,
    ReglasComision, SegmentoAudiencia, TipoCampana,
};
use alpes_domain::ids;
use alpes_domain::interaccion::{ContextoInteraccion, DatosInteraccion, InteraccionCommand};
use alpes_domain::rules::fraud::ConfiguracionFraude;
use alpes_domain::{Currency, ModeloAtribucion, Money, TipoInteraccion};
use alpes_event_store::{EventStoreBackend, Position, RecordedEvent, RunnerOptions, StoreOptions};
use alpes_test_support::{PostgresTestDb, SqliteTestDb};
use alpes_write::saga::{self, Clock};
use alpes_write::{CommandContext, CommandServices, SagaConfig, Service};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Runs each named `async fn(TestDb)` once on SQLite and once on PostgreSQL (skipped
/// loudly by alpes-test-support when there is none).
macro_rules! on_sqlite_and_postgres {
    ($($test:ident),* $(,)?) => {
        $(
            mod $test {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$test(crate::saga_common::TestDb::sqlite()).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let Some(db) = crate::saga_common::TestDb::postgres().await else {
                        return;
                    };
                    super::$test(db).await;
                }
            }
        )*
    };
}

/// A fresh, empty database of its own.
pub enum TestDb {
    Sqlite(SqliteTestDb),
    Postgres(PostgresTestDb),
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        TestDb::Sqlite(SqliteTestDb::create().unwrap())
    }

    pub async fn postgres() -> Option<TestDb> {
        PostgresTestDb::create()
            .await
            .unwrap()
            .map(TestDb::Postgres)
    }

    pub fn url(&self) -> String {
        match self {
            TestDb::Sqlite(db) => db.url().to_string(),
            TestDb::Postgres(db) => db.url().to_string(),
        }
    }

    /// Opens the event store on this database (migrating it) and its command services.
    pub async fn open(&self) -> Store {
        Store::open(&self.url(), StoreOptions::default()).await
    }
}

/// An open event store and the command services over it.
#[derive(Clone)]
pub struct Store {
    pub backend: EventStoreBackend,
    pub commands: CommandServices,
}

impl Store {
    pub async fn open(url: &str, options: StoreOptions) -> Store {
        let backend = EventStoreBackend::open(url, options).await.unwrap();
        let commands = CommandServices::new(&backend, ConfiguracionFraude::default());
        Store { backend, commands }
    }

    /// Starts the saga of every service, with a quick polling fallback (two stores on one
    /// SQLite file do not wake each other).
    pub async fn start_saga(&self) -> RunningSaga {
        self.start_saga_with(&Service::ALL, saga_config()).await
    }

    pub async fn start_saga_with(&self, services: &[Service], config: SagaConfig) -> RunningSaga {
        let shutdown = CancellationToken::new();
        let handles = saga::start(
            &self.backend,
            self.commands.clone(),
            services,
            config,
            shutdown.clone(),
        )
        .await
        .unwrap();
        RunningSaga {
            shutdown,
            handles,
            services: services.to_vec(),
        }
    }

    /// Every event of the log, in order.
    pub async fn log(&self) -> Vec<RecordedEvent> {
        let log = self.backend.log();
        let mut events = Vec::new();
        let mut after = Position::START;
        loop {
            let batch = log.read_after(after, 1_000).await.unwrap();
            let Some(last) = batch.last() else {
                return events;
            };
            after = last.position;
            events.extend(batch);
        }
    }

    /// Waits (at most `timeout`) until `done` holds for the log; returns that log.
    pub async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&[RecordedEvent]) -> bool,
    ) -> Vec<RecordedEvent> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let events = self.log().await;
            if done(&events) {
                return events;
            }
            if tokio::time::Instant::now() > deadline {
                let types: Vec<String> = events.iter().map(describe).collect();
                panic!(
                    "timed out after {timeout:?} waiting for {what}; log:\n{}",
                    types.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until every consumer of `services` has handled the whole log and the log stopped
    /// growing: whatever the saga was going to do, it did.
    pub async fn settle(&self, services: &[Service]) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let checkpoints = self.backend.checkpoints();
        loop {
            let head = self.head().await;
            let mut caught_up = true;
            for name in saga::consumer_names(services) {
                if checkpoints.load(name).await.unwrap() < head {
                    caught_up = false;
                }
            }
            if caught_up {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if self.head().await == head {
                    return;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the saga did not settle in 60 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn head(&self) -> Position {
        self.backend
            .log()
            .head()
            .await
            .unwrap()
            .map_or(Position::START, |(position, _)| position)
    }

    /// Creates and activates a campaign paying 10% of purchases, with this budget in cents.
    pub async fn campana_activa(&self, presupuesto: i64) -> Uuid {
        self.campana_activa_con(datos_campana(presupuesto)).await
    }

    /// Creates and activates a campaign.
    pub async fn campana_activa_con(&self, datos: DatosCampana) -> Uuid {
        let id = Uuid::new_v4();
        let context = CommandContext::by("test");
        self.commands
            .campana(id, CampanaCommand::CrearCampana { id, datos }, &context)
            .await
            .unwrap();
        self.commands
            .campana(id, CampanaCommand::ActivarCampana, &context)
            .await
            .unwrap();
        id
    }

    pub async fn registrar(&self, datos: DatosInteraccion) -> Uuid {
        let id = Uuid::new_v4();
        let context = CommandContext {
            correlation_id: Some(datos.journey_id.to_string()),
            ..CommandContext::by("test")
        };
        self.commands
            .interaccion(
                id,
                InteraccionCommand::RegistrarInteraccion { id, datos },
                &context,
            )
            .await
            .unwrap();
        id
    }

    /// A journey: a click (by `partner`, or organic) an hour before a purchase worth
    /// `valor` cents.
    pub async fn click_y_compra(
        &self,
        campana: Uuid,
        partner: Option<Uuid>,
        valor: i64,
    ) -> Journey {
        let journey = Uuid::new_v4();
        let click = self
            .registrar(interaccion(
                TipoInteraccion::Click,
                campana,
                journey,
                partner,
                hora_compra() - chrono::Duration::hours(1),
            ))
            .await;
        let compra = self.registrar(compra(campana, journey, valor)).await;
        Journey {
            id: journey,
            click,
            compra,
        }
    }

    /// Reports the journey's purchase as fraud through the Atribucion aggregate.
    pub async fn marcar_fraude(&self, journey: &Journey) {
        let context = CommandContext {
            correlation_id: Some(journey.id.to_string()),
            ..CommandContext::by("auditor@test")
        };
        self.commands
            .atribucion(
                ids::atribucion_id(&journey.compra),
                AtribucionCommand::MarcarFraude {
                    motivo: "tarjeta robada".to_string(),
                    origen: OrigenFraude::Reportado {
                        reportado_por: "auditor@test".to_string(),
                    },
                },
                &context,
            )
            .await
            .unwrap();
    }

    /// What the campaign holds reserved, in cents.
    pub async fn reservado(&self, campana: Uuid) -> i64 {
        self.commands
            .load_campana(campana)
            .await
            .unwrap()
            .reservado()
            .unwrap()
            .amount
    }
}

/// The saga's runners; stopped (cleanly) by [`RunningSaga::stop`].
pub struct RunningSaga {
    shutdown: CancellationToken,
    handles: Vec<JoinHandle<()>>,
    pub services: Vec<Service>,
}

impl RunningSaga {
    pub async fn stop(self) {
        self.shutdown.cancel();
        for handle in self.handles {
            handle.await.unwrap();
        }
    }
}

/// Quick polling fallback; a clock stopped at the purchases' time, so nothing is approved
/// unless a test moves time on.
pub fn saga_config() -> SagaConfig {
    SagaConfig {
        runner: RunnerOptions {
            idle_wait: Duration::from_millis(100),
            first_retry_delay: Duration::from_millis(20),
            max_retry_delay: Duration::from_millis(500),
            ..RunnerOptions::default()
        },
        approval_interval: Duration::from_secs(3_600),
        clock: ManualClock::at(hora_compra()),
    }
}

/// The interactions of one journey.
#[derive(Debug, Clone, Copy)]
pub struct Journey {
    pub id: Uuid,
    pub click: Uuid,
    pub compra: Uuid,
}

/// When the tests' purchases happen: 2025-03-01T12:00:00Z.
pub fn hora_compra() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap()
}

pub fn datos_campana(presupuesto: i64) -> DatosCampana {
    DatosCampana {
        marca: Marca {
            id: Uuid::new_v4(),
            nombre: "Alpes Outdoor".to_string(),
        },
        nombre: "Primavera".to_string(),
        descripcion: "Campaña de primavera".to_string(),
        tipo: TipoCampana::Afiliados,
        fecha_inicio: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
        fecha_fin: NaiveDate::from_ymd_opt(2025, 12, 31).unwrap(),
        segmento: SegmentoAudiencia::default(),
        canales: vec!["blog".to_string()],
        frecuencia_maxima: None,
        presupuesto: Money::new(presupuesto, Currency::EUR),
        reglas_comision: ReglasComision {
            compra: Some(ReglaComision {
                calculo: CalculoComision::Porcentaje { bps: 1_000 },
                minimo: None,
                maximo: None,
                por_partner: BTreeMap::new(),
            }),
            lead: None,
            registro: None,
        },
        atribucion: ConfiguracionAtribucion {
            modelo: ModeloAtribucion::UltimoClick,
            ventana_dias: 30,
            dias_retencion: 30,
            umbral_fraude: 50,
        },
    }
}

pub fn interaccion(
    tipo: TipoInteraccion,
    campana: Uuid,
    journey: Uuid,
    partner: Option<Uuid>,
    occurred_at: DateTime<Utc>,
) -> DatosInteraccion {
    DatosInteraccion {
        tipo,
        campana_id: campana,
        partner_id: partner,
        journey_id: journey,
        occurred_at,
        valor: None,
        pedido_id: None,
        contexto: ContextoInteraccion::default(),
    }
}

pub fn compra(campana: Uuid, journey: Uuid, valor: i64) -> DatosInteraccion {
    DatosInteraccion {
        valor: Some(Money::new(valor, Currency::EUR)),
        pedido_id: Some(format!("P-{}", Uuid::new_v4().simple())),
        ..interaccion(
            TipoInteraccion::Compra,
            campana,
            journey,
            None,
            hora_compra(),
        )
    }
}

/// The events of a journey (every saga event carries the journey as correlation id).
pub fn of_journey(events: &[RecordedEvent], journey: Uuid) -> Vec<&RecordedEvent> {
    let journey = journey.to_string();
    events
        .iter()
        .filter(|event| event.metadata().get("correlation_id") == Some(&journey))
        .collect()
}

/// How many events of `event_type` are in `events`.
pub fn count<'a>(events: impl IntoIterator<Item = &'a RecordedEvent>, event_type: &str) -> usize {
    events
        .into_iter()
        .filter(|event| event.event.event_type == event_type)
        .count()
}

/// The positions in `events` of the events of `event_type`.
pub fn indexes(events: &[&RecordedEvent], event_type: &str) -> Vec<usize> {
    events
        .iter()
        .enumerate()
        .filter(|(_, event)| event.event.event_type == event_type)
        .map(|(index, _)| index)
        .collect()
}

pub fn describe(event: &RecordedEvent) -> String {
    format!(
        "{} {} {} {:?}",
        event.position,
        event.stream(),
        event.event.event_type,
        event.metadata()
    )
}

/// A clock the test moves.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn at(now: DateTime<Utc>) -> Arc<ManualClock> {
        Arc::new(ManualClock(Mutex::new(now)))
    }

    pub fn set(&self, now: DateTime<Utc>) {
        *self.0.lock().unwrap() = now;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// `2025-03-01T12:00:00Z` plus `days`.
pub fn dias_despues_de_la_compra(days: i64) -> DateTime<Utc> {
    hora_compra() + chrono::Duration::days(days)
}
