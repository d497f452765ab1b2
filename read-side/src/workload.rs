//! A synthetic, reproducible workload for benchmarks and tests: campaigns, journeys of
//! interactions, and each conversion's saga (attribution, budget and commission
//! reservation, approval, payment, fraud compensation), every step a domain command
//! through the event store's [`AggregateStore`], so the log holds what production would.
//!
//! The read side never depends on the write side: this drives the aggregates directly,
//! the way the write side's saga would, and is not a substitute for it.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alpes_domain::atribucion::{
    Atribucion, AtribucionCommand, AtribucionEvent, ConfiguracionFraude, Conversion,
    EvidenciaJourney, MotivoReversion, OrigenFraude, ParametrosAtribucion, Touchpoint,
};
use alpes_domain::campana::{
    CalculoComision, Campana, CampanaCommand, CampanaError, CampanaEvent, ConfiguracionAtribucion,
    DatosCampana, Marca, ReglaComision, ReglasComision, SegmentoAudiencia, TipoCampana,
};
use alpes_domain::comision::{Comision, ComisionCommand, DatosComision};
use alpes_domain::interaccion::{
    ContextoInteraccion, DatosInteraccion, IdentidadUsuario, Interaccion, InteraccionCommand,
    ParametrosUtm,
};
use alpes_domain::rules::attribution::participaciones_bps;
use alpes_domain::{ids, Currency, ModeloAtribucion, Money, TipoConversion, TipoInteraccion};
use alpes_event_store::{AggregateStore, EventRepository, EventStoreBackend};
use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use cqrs_es::{Aggregate, AggregateError};
use uuid::Uuid;

/// How many times a command that lost the race to another writer is tried.
const MAX_ATTEMPTS: usize = 100;

/// A command that could not be carried out.
#[derive(Debug, thiserror::Error)]
#[error("{aggregate} {id}: {reason}")]
pub struct WorkloadError {
    /// The aggregate type.
    pub aggregate: &'static str,
    /// The aggregate's id.
    pub id: Uuid,
    /// Why.
    pub reason: String,
}

/// Sends domain commands to the four aggregates of one event store, retrying a command
/// that another writer beat to the aggregate.
#[derive(Clone)]
pub struct Commands {
    campanas: AggregateStore<Campana, EventRepository>,
    interacciones: AggregateStore<Interaccion, EventRepository>,
    atribuciones: AggregateStore<Atribucion, EventRepository>,
    comisiones: AggregateStore<Comision, EventRepository>,
    fraude: ConfiguracionFraude,
    actor: String,
}

impl Commands {
    /// Commands on `backend`, recorded as sent by `actor`.
    pub fn new(backend: &EventStoreBackend, actor: &str) -> Commands {
        Commands {
            campanas: backend.aggregate_store(),
            interacciones: backend.aggregate_store(),
            atribuciones: backend.aggregate_store(),
            comisiones: backend.aggregate_store(),
            fraude: ConfiguracionFraude::default(),
            actor: actor.to_string(),
        }
    }

    /// Sends `command` to the Campana `id`; the events it recorded.
    pub async fn campana(
        &self,
        id: Uuid,
        command: CampanaCommand,
    ) -> Result<Vec<CampanaEvent>, AggregateError<CampanaError>> {
        execute(&self.campanas, id, command, &(), &self.actor).await
    }

    /// Sends `command` to the Interaccion `id`.
    pub async fn interaccion(
        &self,
        id: Uuid,
        command: InteraccionCommand,
    ) -> Result<(), WorkloadError> {
        execute(&self.interacciones, id, command, &(), &self.actor)
            .await
            .map(drop)
            .map_err(|error| failed("Interaccion", id, error))
    }

    /// Sends `command` to the Atribucion `id`; the events it recorded.
    pub async fn atribucion(
        &self,
        id: Uuid,
        command: AtribucionCommand,
    ) -> Result<Vec<AtribucionEvent>, WorkloadError> {
        execute(&self.atribuciones, id, command, &self.fraude, &self.actor)
            .await
            .map_err(|error| failed("Atribucion", id, error))
    }

    /// Sends `command` to the Comision `id`.
    pub async fn comision(&self, id: Uuid, command: ComisionCommand) -> Result<(), WorkloadError> {
        execute(&self.comisiones, id, command, &(), &self.actor)
            .await
            .map(drop)
            .map_err(|error| failed("Comision", id, error))
    }

    /// Sends `command` to the Campana `id`, failing on any rejection.
    pub async fn campana_ok(
        &self,
        id: Uuid,
        command: CampanaCommand,
    ) -> Result<Vec<CampanaEvent>, WorkloadError> {
        self.campana(id, command)
            .await
            .map_err(|error| failed("Campana", id, error))
    }
}

fn failed<E: std::error::Error>(
    aggregate: &'static str,
    id: Uuid,
    error: AggregateError<E>,
) -> WorkloadError {
    WorkloadError {
        aggregate,
        id,
        reason: error.to_string(),
    }
}

async fn execute<A>(
    store: &AggregateStore<A, EventRepository>,
    id: Uuid,
    command: A::Command,
    services: &A::Services,
    actor: &str,
) -> Result<Vec<A::Event>, AggregateError<A::Error>>
where
    A: Aggregate,
    A::Command: Clone,
{
    let metadata = HashMap::from([("actor".to_string(), actor.to_string())]);
    let aggregate_id = id.to_string();
    let mut attempt = 0;
    loop {
        attempt += 1;
        match store
            .execute(&aggregate_id, command.clone(), services, metadata.clone())
            .await
        {
            Ok(outcome) => {
                return Ok(outcome
                    .events
                    .into_iter()
                    .map(|envelope| envelope.payload)
                    .collect())
            }
            Err(AggregateError::AggregateConflict) if attempt < MAX_ATTEMPTS => {
                tokio::time::sleep(Duration::from_millis(attempt as u64)).await;
            }
            Err(error) => return Err(error),
        }
    }
}

/// The shape of a workload.
#[derive(Clone, Debug)]
pub struct WorkloadSizes {
    /// Campaigns.
    pub campanas: usize,
    /// Partners, spread over the journeys.
    pub partners: usize,
    /// Journeys (visitor sessions).
    pub journeys: usize,
    /// Touchpoints (views, clicks, engagements) per journey: from 1 to this many.
    pub max_touchpoints: usize,
    /// Percent of journeys that end in a conversion.
    pub conversion_percent: u64,
    /// Percent of conversions reported as fraud after attribution.
    pub fraud_percent: u64,
    /// Percent of journeys of a bot (the fraud rules reject their conversions).
    pub bot_percent: u64,
    /// Journeys run at once.
    pub writers: usize,
    /// The seed of the random choices (same seed, same commands).
    pub seed: u64,
}

impl WorkloadSizes {
    /// A workload of about `interactions` interactions, with the default proportions.
    pub fn with_interactions(interactions: usize) -> WorkloadSizes {
        let defaults = WorkloadSizes::default();
        // A journey has (1 + max_touchpoints) / 2 touchpoints on average, plus a conversion
        // in conversion_percent of them.
        let per_journey = (1 + defaults.max_touchpoints) as f64 / 2.0
            + defaults.conversion_percent as f64 / 100.0;
        WorkloadSizes {
            journeys: ((interactions as f64) / per_journey).ceil() as usize,
            ..defaults
        }
    }
}

impl Default for WorkloadSizes {
    fn default() -> Self {
        WorkloadSizes {
            campanas: 20,
            partners: 100,
            journeys: 1_000,
            max_touchpoints: 6,
            conversion_percent: 20,
            fraud_percent: 10,
            bot_percent: 3,
            writers: 16,
            seed: 7,
        }
    }
}

/// What a workload wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkloadReport {
    /// Campaigns created.
    pub campanas: u64,
    /// Interactions registered (conversions included).
    pub interacciones: u64,
    /// Conversions.
    pub conversiones: u64,
    /// Commissions reserved.
    pub comisiones: u64,
    /// Conversions reported as fraud after attribution.
    pub fraudes: u64,
    /// How long it took.
    pub elapsed: Duration,
}

/// Counters shared by the writers.
#[derive(Default)]
struct Counters {
    interacciones: AtomicU64,
    conversiones: AtomicU64,
    comisiones: AtomicU64,
    fraudes: AtomicU64,
}

/// SplitMix64: small, fast, and the same numbers for the same seed everywhere.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// True `percent` times in 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A random UUID (v4 layout) from this generator.
    pub fn uuid(&mut self) -> Uuid {
        uuid::Builder::from_random_bytes(self.bytes()).into_uuid()
    }

    /// A UUID v7 of the moment `at`, its other bits from this generator: the shape of the
    /// ids `alpes serve` gives interactions (time-ordered), reproducible from the seed.
    pub fn uuid_v7(&mut self, at: DateTime<Utc>) -> Uuid {
        let millis = u64::try_from(at.timestamp_millis()).unwrap_or_default();
        let random = self.bytes();
        let mut counter_random = [0u8; 10];
        counter_random.copy_from_slice(&random[..10]);
        uuid::Builder::from_unix_timestamp_millis(millis, &counter_random).into_uuid()
    }

    fn bytes(&mut self) -> [u8; 16] {
        ((u128::from(self.next_u64()) << 64) | u128::from(self.next_u64())).to_be_bytes()
    }
}

/// When the workload's journeys begin.
fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

/// The campaigns of a workload: their ids and attribution settings.
#[derive(Clone, Debug)]
pub struct CampanaDeCarga {
    /// The campaign's id.
    pub id: Uuid,
    /// Its attribution model.
    pub modelo: ModeloAtribucion,
    /// Its hold period.
    pub dias_retencion: u32,
    /// Whether it was activated (a draft attributes nothing).
    pub activa: bool,
}

/// Runs the workload described by `sizes` against `backend`.
pub async fn run_workload(
    backend: &EventStoreBackend,
    sizes: &WorkloadSizes,
) -> Result<WorkloadReport, WorkloadError> {
    let started = Instant::now();
    let commands = Commands::new(backend, "workload");
    let mut rng = Rng::new(sizes.seed);
    let campanas = Arc::new(create_campaigns(&commands, sizes.campanas.max(1), &mut rng).await?);
    let partners: Arc<Vec<Uuid>> =
        Arc::new((0..sizes.partners.max(1)).map(|_| rng.uuid()).collect());
    let counters = Arc::new(Counters::default());
    let next_journey = Arc::new(AtomicU64::new(0));
    let mut writers = Vec::new();
    for _ in 0..sizes.writers.max(1) {
        let (commands, campanas, partners, counters, next_journey, sizes) = (
            commands.clone(),
            campanas.clone(),
            partners.clone(),
            counters.clone(),
            next_journey.clone(),
            sizes.clone(),
        );
        writers.push(tokio::spawn(async move {
            loop {
                let index = next_journey.fetch_add(1, Ordering::Relaxed);
                if index >= sizes.journeys as u64 {
                    return Ok::<(), WorkloadError>(());
                }
                let mut rng = Rng::new(sizes.seed ^ (index.wrapping_mul(0x2545_F491_4F6C_DD1D)));
                let journey = JourneyDeCarga {
                    index,
                    commands: &commands,
                    campanas: &campanas,
                    partners: &partners,
                    counters: &counters,
                    sizes: &sizes,
                };
                journey.run(&mut rng).await?;
            }
        }));
    }
    for writer in writers {
        writer.await.map_err(|error| WorkloadError {
            aggregate: "workload",
            id: Uuid::nil(),
            reason: format!("a writer task failed: {error}"),
        })??;
    }
    close_some_campaigns(&commands, &campanas).await?;
    Ok(WorkloadReport {
        campanas: campanas.len() as u64,
        interacciones: counters.interacciones.load(Ordering::Relaxed),
        conversiones: counters.conversiones.load(Ordering::Relaxed),
        comisiones: counters.comisiones.load(Ordering::Relaxed),
        fraudes: counters.fraudes.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
    })
}

const MODELOS: [ModeloAtribucion; 5] = [
    ModeloAtribucion::UltimoClick,
    ModeloAtribucion::PrimerClick,
    ModeloAtribucion::Lineal,
    ModeloAtribucion::BasadoEnPosicion,
    ModeloAtribucion::DecaimientoTemporal,
];

fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::EUR)
}

/// The description of workload campaign number `index`.
pub fn datos_campana(index: usize, modelo: ModeloAtribucion, presupuesto: i64) -> DatosCampana {
    let fecha = |month, day| NaiveDate::from_ymd_opt(2026, month, day).unwrap_or_default();
    DatosCampana {
        marca: Marca {
            id: Uuid::from_u128(0xB4A7D + (index as u128 % 5)),
            nombre: format!("Marca {}", index % 5),
        },
        nombre: format!("Campaña {index}"),
        descripcion: format!("Campaña de carga número {index}"),
        tipo: if index.is_multiple_of(2) {
            TipoCampana::Afiliados
        } else {
            TipoCampana::Influencer
        },
        fecha_inicio: fecha(1, 1),
        fecha_fin: fecha(12, 31),
        segmento: SegmentoAudiencia {
            edad_min: Some(18),
            edad_max: Some(65),
            generos: vec![],
            ubicaciones: vec!["ES".to_string()],
            intereses: vec!["moda".to_string()],
        },
        canales: vec!["instagram".to_string(), "blog".to_string()],
        frecuencia_maxima: Some(5),
        presupuesto: eur(presupuesto),
        reglas_comision: ReglasComision {
            compra: Some(ReglaComision {
                calculo: CalculoComision::Porcentaje { bps: 1_000 },
                minimo: Some(eur(100)),
                maximo: Some(eur(50_000)),
                por_partner: BTreeMap::new(),
            }),
            lead: Some(ReglaComision {
                calculo: CalculoComision::Fijo { monto: eur(250) },
                minimo: None,
                maximo: None,
                por_partner: BTreeMap::new(),
            }),
            registro: None,
        },
        atribucion: ConfiguracionAtribucion {
            modelo,
            ventana_dias: 30,
            dias_retencion: 14,
            umbral_fraude: 50,
        },
    }
}

async fn create_campaigns(
    commands: &Commands,
    count: usize,
    rng: &mut Rng,
) -> Result<Vec<CampanaDeCarga>, WorkloadError> {
    let mut campanas = Vec::with_capacity(count);
    for index in 0..count {
        let id = rng.uuid();
        let modelo = MODELOS[index % MODELOS.len()];
        // Every fifth campaign has a small budget, so some reservations find it short.
        let presupuesto = if index % 5 == 4 { 2_000 } else { 100_000_000 };
        let datos = datos_campana(index, modelo, presupuesto);
        let dias_retencion = datos.atribucion.dias_retencion;
        commands
            .campana_ok(id, CampanaCommand::CrearCampana { id, datos })
            .await?;
        if index % 7 == 6 {
            // Left in draft: its conversions are not attributed (campaign not active).
            campanas.push(CampanaDeCarga {
                id,
                modelo,
                dias_retencion,
                activa: false,
            });
            continue;
        }
        commands
            .campana_ok(id, CampanaCommand::ActivarCampana)
            .await?;
        if index % 3 == 0 {
            commands
                .campana_ok(
                    id,
                    CampanaCommand::ActualizarReglaComision {
                        tipo_conversion: TipoConversion::Registro,
                        regla: ReglaComision {
                            calculo: CalculoComision::Fijo { monto: eur(150) },
                            minimo: None,
                            maximo: None,
                            por_partner: BTreeMap::new(),
                        },
                    },
                )
                .await?;
            commands
                .campana_ok(
                    id,
                    CampanaCommand::AmpliarPresupuesto {
                        monto: eur(1_000_000),
                    },
                )
                .await?;
        }
        campanas.push(CampanaDeCarga {
            id,
            modelo,
            dias_retencion,
            activa: true,
        });
    }
    Ok(campanas)
}

/// Pauses, finishes or cancels some campaigns at the end, so every lifecycle event is in
/// the log.
async fn close_some_campaigns(
    commands: &Commands,
    campanas: &[CampanaDeCarga],
) -> Result<(), WorkloadError> {
    for (index, campana) in campanas.iter().enumerate() {
        let command = match index % 7 {
            1 => CampanaCommand::PausarCampana,
            2 => CampanaCommand::FinalizarCampana,
            3 => CampanaCommand::CancelarCampana {
                motivo: "fin de temporada".to_string(),
            },
            _ => continue,
        };
        commands.campana_ok(campana.id, command).await?;
    }
    Ok(())
}

/// One journey of the workload and its saga.
struct JourneyDeCarga<'a> {
    index: u64,
    commands: &'a Commands,
    campanas: &'a [CampanaDeCarga],
    partners: &'a [Uuid],
    counters: &'a Counters,
    sizes: &'a WorkloadSizes,
}

impl JourneyDeCarga<'_> {
    async fn run(&self, rng: &mut Rng) -> Result<(), WorkloadError> {
        let campana = &self.campanas[rng.below(self.campanas.len() as u64) as usize];
        let journey_id = rng.uuid();
        let bot = rng.chance(self.sizes.bot_percent);
        let partners = [
            self.partners[rng.below(self.partners.len() as u64) as usize],
            self.partners[rng.below(self.partners.len() as u64) as usize],
        ];
        let start = epoch() + chrono::Duration::seconds((self.index % 5_000_000) as i64 * 7);
        let mut at = start;
        let touchpoints = 1 + rng.below(self.sizes.max_touchpoints.max(1) as u64) as usize;
        let mut journey = Vec::with_capacity(touchpoints);
        for step in 0..touchpoints {
            let tipo = match rng.below(10) {
                0..=4 => TipoInteraccion::Vista,
                5..=8 => TipoInteraccion::Click,
                _ => TipoInteraccion::Engagement,
            };
            let partner = (!rng.chance(10)).then(|| partners[step % 2]);
            let id = rng.uuid_v7(at);
            let datos = datos_interaccion(campana.id, journey_id, tipo, partner, at, bot, None);
            journey.push(touchpoint(id, &datos));
            self.registrar(id, datos).await?;
            at += chrono::Duration::minutes(1 + rng.below(60) as i64);
        }
        if !rng.chance(self.sizes.conversion_percent) {
            return Ok(());
        }
        let tipo = match rng.below(10) {
            0..=6 => TipoInteraccion::Compra,
            7..=8 => TipoInteraccion::Lead,
            _ => TipoInteraccion::Registro,
        };
        let valor = match tipo {
            TipoInteraccion::Compra => Some(eur(1_000 + rng.below(20_000) as i64)),
            _ => None,
        };
        let conversion_id = rng.uuid_v7(at);
        let mut datos = datos_interaccion(campana.id, journey_id, tipo, None, at, bot, valor);
        if tipo == TipoInteraccion::Compra {
            datos.pedido_id = Some(format!("PED-{}", self.index));
        }
        self.registrar(conversion_id, datos.clone()).await?;
        self.counters.conversiones.fetch_add(1, Ordering::Relaxed);
        let Some(conversion_tipo) = tipo.conversion() else {
            return Ok(());
        };
        let conversion = Conversion {
            interaccion_id: conversion_id,
            tipo: conversion_tipo,
            campana_id: campana.id,
            journey_id,
            occurred_at: at,
            valor: valor.unwrap_or(eur(0)),
            pedido_id: datos.pedido_id.clone(),
        };
        let mut interacciones: Vec<Uuid> = journey.iter().map(|tp| tp.interaccion_id).collect();
        interacciones.push(conversion_id);
        let saga = Saga {
            commands: self.commands,
            counters: self.counters,
            campana,
            conversion,
            interacciones,
        };
        saga.run(&journey, rng, self.sizes.fraud_percent).await
    }

    async fn registrar(&self, id: Uuid, datos: DatosInteraccion) -> Result<(), WorkloadError> {
        self.commands
            .interaccion(id, InteraccionCommand::RegistrarInteraccion { id, datos })
            .await?;
        self.counters.interacciones.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// An interaction of the workload.
fn datos_interaccion(
    campana_id: Uuid,
    journey_id: Uuid,
    tipo: TipoInteraccion,
    partner_id: Option<Uuid>,
    occurred_at: DateTime<Utc>,
    bot: bool,
    valor: Option<Money>,
) -> DatosInteraccion {
    DatosInteraccion {
        tipo,
        campana_id,
        partner_id,
        journey_id,
        occurred_at,
        valor,
        pedido_id: None,
        contexto: ContextoInteraccion {
            usuario: IdentidadUsuario {
                usuario_id: None,
                anonimo_id: Some(format!("anon-{}", journey_id.simple())),
                ip_hash: Some(format!("{:032x}", journey_id.as_u128())),
                user_agent: Some(if bot {
                    "python-requests/2.31".to_string()
                } else {
                    "Mozilla/5.0".to_string()
                }),
            },
            utm: ParametrosUtm {
                source: Some("instagram".to_string()),
                medium: Some("social".to_string()),
                campaign: None,
                content: None,
                term: None,
            },
            pagina_url: Some("https://tienda.example/verano".to_string()),
            referente_url: None,
            elemento_objetivo: None,
            dispositivo: Some("mobile".to_string()),
        },
    }
}

fn touchpoint(id: Uuid, datos: &DatosInteraccion) -> Touchpoint {
    Touchpoint {
        interaccion_id: id,
        tipo: datos.tipo,
        partner_id: datos.partner_id,
        occurred_at: datos.occurred_at,
        ip_hash: datos.contexto.usuario.ip_hash.clone(),
        user_agent: datos.contexto.usuario.user_agent.clone(),
    }
}

/// One conversion's saga, as the write side's reactors would run it.
struct Saga<'a> {
    commands: &'a Commands,
    counters: &'a Counters,
    campana: &'a CampanaDeCarga,
    conversion: Conversion,
    interacciones: Vec<Uuid>,
}

impl Saga<'_> {
    async fn run(
        &self,
        journey: &[Touchpoint],
        rng: &mut Rng,
        fraud_percent: u64,
    ) -> Result<(), WorkloadError> {
        let atribucion_id = ids::atribucion_id(&self.conversion.interaccion_id);
        let decidido = self
            .commands
            .atribucion(
                atribucion_id,
                AtribucionCommand::AtribuirConversion {
                    conversion: self.conversion.clone(),
                    journey: journey.to_vec(),
                    parametros: ParametrosAtribucion {
                        modelo: self.campana.modelo,
                        ventana_dias: 30,
                        umbral_fraude: 50,
                        campana_activa: self.campana.activa,
                    },
                    evidencia: EvidenciaJourney::default(),
                },
            )
            .await?;
        let Some(AtribucionEvent::ConversionAtribuida { creditos, .. }) = decidido.first() else {
            return Ok(());
        };
        let participaciones = participaciones_bps(creditos).map_err(|error| WorkloadError {
            aggregate: "Atribucion",
            id: atribucion_id,
            reason: error.to_string(),
        })?;
        let mut reservadas = Vec::new();
        for (credito, participacion_bps) in creditos.iter().zip(participaciones) {
            let comision_id =
                ids::comision_id(&self.conversion.interaccion_id, &credito.partner_id);
            let reservado = self
                .commands
                .campana(
                    self.campana.id,
                    CampanaCommand::ReservarPresupuesto {
                        comision_id,
                        conversion_id: self.conversion.interaccion_id,
                        partner_id: credito.partner_id,
                        tipo_conversion: self.conversion.tipo,
                        credito: credito.monto,
                        participacion_bps,
                    },
                )
                .await;
            let monto = match reservado {
                Ok(events) => match events.first() {
                    Some(CampanaEvent::PresupuestoReservado { monto, .. }) => Some(*monto),
                    _ => None,
                },
                // The campaign is not active (a draft) or does not pay for this type:
                // nothing to reserve; compensate like an insufficient budget.
                Err(AggregateError::UserError(_)) => None,
                Err(error) => return Err(failed("Campana", self.campana.id, error)),
            };
            let Some(monto) = monto else {
                return self
                    .compensar(
                        &reservadas,
                        atribucion_id,
                        MotivoReversion::PresupuestoInsuficiente,
                    )
                    .await;
            };
            self.commands
                .comision(
                    comision_id,
                    ComisionCommand::ReservarComision {
                        id: comision_id,
                        datos: DatosComision {
                            conversion_id: self.conversion.interaccion_id,
                            atribucion_id,
                            campana_id: self.campana.id,
                            partner_id: credito.partner_id,
                            journey_id: self.conversion.journey_id,
                            monto,
                            fecha_conversion: self.conversion.occurred_at,
                            dias_retencion: self.campana.dias_retencion,
                        },
                    },
                )
                .await?;
            self.counters.comisiones.fetch_add(1, Ordering::Relaxed);
            reservadas.push(comision_id);
        }
        if rng.chance(fraud_percent) {
            self.counters.fraudes.fetch_add(1, Ordering::Relaxed);
            self.commands
                .atribucion(
                    atribucion_id,
                    AtribucionCommand::MarcarFraude {
                        motivo: "pedido devuelto con tarjeta robada".to_string(),
                        origen: OrigenFraude::Reportado {
                            reportado_por: "equipo de riesgo".to_string(),
                        },
                    },
                )
                .await?;
            if rng.chance(50) {
                self.aprobar_y_pagar(&reservadas, rng).await?;
            }
            return self
                .compensar(&reservadas, atribucion_id, MotivoReversion::Fraude)
                .await;
        }
        self.aprobar_y_pagar(&reservadas, rng).await
    }

    /// Approves some commissions after their hold period, and pays some of those.
    async fn aprobar_y_pagar(
        &self,
        comisiones: &[Uuid],
        rng: &mut Rng,
    ) -> Result<(), WorkloadError> {
        let lote = Uuid::from_u128(0x107E + u128::from(rng.below(20)));
        let despues_de_retencion = self
            .conversion
            .occurred_at
            .checked_add_days(Days::new(u64::from(self.campana.dias_retencion) + 1))
            .unwrap_or(self.conversion.occurred_at);
        for comision_id in comisiones {
            if !rng.chance(60) {
                continue;
            }
            self.commands
                .comision(
                    *comision_id,
                    ComisionCommand::AprobarComision {
                        ahora: despues_de_retencion,
                        lote_id: Some(lote),
                    },
                )
                .await?;
            if rng.chance(50) {
                self.commands
                    .comision(
                        *comision_id,
                        ComisionCommand::PagarComision {
                            referencia_pago: format!("SEPA-{}", comision_id.simple()),
                            lote_id: Some(lote),
                            ahora: despues_de_retencion + chrono::Duration::days(3),
                        },
                    )
                    .await?;
            }
        }
        Ok(())
    }

    /// The compensation, in reverse order: revert the commissions and release their
    /// budget, revert the attribution, and (fraud) discard the journey's interactions.
    async fn compensar(
        &self,
        comisiones: &[Uuid],
        atribucion_id: Uuid,
        motivo: MotivoReversion,
    ) -> Result<(), WorkloadError> {
        for comision_id in comisiones {
            self.commands
                .comision(
                    *comision_id,
                    ComisionCommand::RevertirComision {
                        motivo: format!("{motivo:?}"),
                    },
                )
                .await?;
            self.commands
                .campana_ok(
                    self.campana.id,
                    CampanaCommand::LiberarPresupuesto {
                        comision_id: *comision_id,
                    },
                )
                .await?;
        }
        self.commands
            .atribucion(
                atribucion_id,
                AtribucionCommand::RevertirAtribucion { motivo },
            )
            .await?;
        if motivo == MotivoReversion::Fraude {
            for interaccion in &self.interacciones {
                self.commands
                    .interaccion(
                        *interaccion,
                        InteraccionCommand::DescartarInteraccion {
                            motivo: "fraude".to_string(),
                        },
                    )
                    .await?;
            }
        }
        Ok(())
    }
}
