//! Subscriptions, fed by the global log: a subscriber follows the log from its head at
//! the time it subscribed (`read_after`, then `wait_for_events` once caught up), so it sees
//! each event of its campaign as soon as the store makes it readable, without polling the
//! views. The statistics subscription reads the campaign's row only after an event of
//! the campaign, once the marketing projector's checkpoint has passed that event.
//!
//! An event concerns a campaign when it is an event of the campaign itself, when its
//! payload names the campaign (`campana_id` anywhere in it: interactions, attributions,
//! commission reservations), or when it is a later event of an aggregate such an event
//! belonged to (a commission's approval, payment or reversal).

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use alpes_event_store::{EventLog, Position, RecordedEvent};
use alpes_read::marketing::EstadisticasCampanaRow;
use alpes_read::{ProjectionName, Views};
use async_graphql::{Context, Object, Result, Subscription};
use chrono::{DateTime, Utc};
use futures::Stream;
use uuid::Uuid;

use crate::context::ReadContext;
use crate::error::read_error;
use crate::types::marketing::EstadisticasCampana;

/// Events read from the log at once.
const READ_BATCH: usize = 256;
/// The longest a follower waits for the log's notification before reading again.
const IDLE_WAIT: Duration = Duration::from_secs(5);
/// The longest the stats subscription waits for the marketing projection to apply an
/// event before reading the stats anyway (they then show the next change at the latest).
const PROJECTION_WAIT: Duration = Duration::from_secs(10);
/// How often the marketing checkpoint is read while waiting for it.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(5);

/// Every subscription.
pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// The events of campaign `campanaId` as they are recorded, from now on.
    async fn eventos_campana(
        &self,
        ctx: &Context<'_>,
        campana_id: Uuid,
    ) -> Result<impl Stream<Item = Result<EventoCampana>>> {
        let read = ctx.data::<ReadContext>()?;
        let follower = CampaignEvents::from_head(read.backend.log(), campana_id).await?;
        Ok(futures::stream::unfold(
            (follower, VecDeque::new(), false),
            |(mut follower, mut pending, failed)| async move {
                if failed {
                    return None;
                }
                loop {
                    if let Some(event) = pending.pop_front() {
                        let item = Ok(EventoCampana(event));
                        return Some((item, (follower, pending, false)));
                    }
                    match follower.next_events().await {
                        Ok(events) => pending.extend(events),
                        Err(error) => return Some((Err(error), (follower, pending, true))),
                    }
                }
            },
        ))
    }

    /// The statistics of campaign `campanaId`: now (if it has any), then again after each
    /// change of them.
    async fn estadisticas_campana(
        &self,
        ctx: &Context<'_>,
        campana_id: Uuid,
    ) -> Result<impl Stream<Item = Result<EstadisticasCampana>>> {
        let read = ctx.data::<ReadContext>()?;
        let follower = CampaignEvents::from_head(read.backend.log(), campana_id).await?;
        let stats = StatsFollower {
            views: read.views.clone(),
            events: follower,
            campana_id,
            last_sent: None,
            first: true,
            failed: false,
        };
        Ok(futures::stream::unfold(stats, |mut stats| async move {
            if stats.failed {
                return None;
            }
            let item = stats.next_change().await;
            stats.failed = item.is_err();
            Some((item.map(EstadisticasCampana), stats))
        }))
    }
}

/// One event of a campaign's history.
pub struct EventoCampana(RecordedEvent);

#[Object]
impl EventoCampana {
    /// Its log position (`HIGH:LOW`).
    async fn position(&self) -> String {
        self.0.position.to_string()
    }
    /// The event's name, e.g. `ComisionReservada`.
    async fn tipo(&self) -> &str {
        &self.0.event.event_type
    }
    /// The stream, `{Aggregate}-{id}`.
    async fn agregado(&self) -> String {
        self.0.stream()
    }
    /// The aggregate type, e.g. `Comision`.
    async fn aggregate_type(&self) -> &str {
        &self.0.event.aggregate_type
    }
    /// The aggregate's id.
    async fn aggregate_id(&self) -> &str {
        &self.0.event.aggregate_id
    }
    /// Its sequence in the aggregate.
    async fn secuencia(&self) -> i64 {
        self.0.event.sequence as i64
    }
    /// When the store recorded it.
    async fn registrado_en(&self) -> DateTime<Utc> {
        self.0.recorded_at
    }
    /// The event's payload, as stored (upcast to its newest version).
    async fn payload(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(self.0.event.payload.clone())
    }
}

/// Follows the log for the events of one campaign.
struct CampaignEvents {
    log: Arc<dyn EventLog>,
    campana: String,
    after: Position,
    /// Streams one of whose events named the campaign.
    related: HashSet<String>,
}

impl CampaignEvents {
    async fn from_head(log: Arc<dyn EventLog>, campana_id: Uuid) -> Result<CampaignEvents> {
        let head = log
            .head()
            .await
            .map_err(|error| read_error(&error.into()))?;
        Ok(CampaignEvents {
            log,
            campana: campana_id.to_string(),
            after: head.map_or(Position::START, |(position, _)| position),
            related: HashSet::new(),
        })
    }

    /// The next events of the campaign (at least one), waiting for them.
    async fn next_events(&mut self) -> Result<Vec<RecordedEvent>> {
        loop {
            let batch = self
                .log
                .read_after(self.after, READ_BATCH)
                .await
                .map_err(|error| read_error(&error.into()))?;
            let Some(last) = batch.last() else {
                self.log
                    .wait_for_events(self.after, IDLE_WAIT)
                    .await
                    .map_err(|error| read_error(&error.into()))?;
                continue;
            };
            self.after = last.position;
            let mine: Vec<RecordedEvent> = batch
                .into_iter()
                .filter(|event| self.concerns(event))
                .collect();
            if !mine.is_empty() {
                return Ok(mine);
            }
        }
    }

    fn concerns(&mut self, event: &RecordedEvent) -> bool {
        if event.event.aggregate_type == "Campana" && event.event.aggregate_id == self.campana {
            return true;
        }
        let stream = event.stream();
        if self.related.contains(&stream) {
            return true;
        }
        if names_campaign(&event.event.payload, &self.campana) {
            self.related.insert(stream);
            return true;
        }
        false
    }
}

/// Whether `value` has a `campana_id` equal to `campana` anywhere in it.
fn names_campaign(value: &serde_json::Value, campana: &str) -> bool {
    match value {
        serde_json::Value::Object(fields) => fields.iter().any(|(key, field)| {
            (key == "campana_id" && field.as_str() == Some(campana))
                || names_campaign(field, campana)
        }),
        serde_json::Value::Array(items) => items.iter().any(|item| names_campaign(item, campana)),
        _ => false,
    }
}

/// Follows a campaign's events and reads its statistics after each.
struct StatsFollower {
    views: Views,
    events: CampaignEvents,
    campana_id: Uuid,
    /// The log position of the statistics last sent.
    last_sent: Option<String>,
    first: bool,
    failed: bool,
}

impl StatsFollower {
    async fn next_change(&mut self) -> Result<EstadisticasCampanaRow> {
        if std::mem::take(&mut self.first) {
            if let Some(stats) = self.read().await? {
                self.last_sent = Some(stats.log_position.clone());
                return Ok(stats);
            }
        }
        loop {
            let events = self.events.next_events().await?;
            let Some(last) = events.last().map(|event| event.position) else {
                continue;
            };
            self.wait_for_marketing(last).await?;
            let Some(stats) = self.read().await? else {
                continue;
            };
            if self.last_sent.as_deref() != Some(stats.log_position.as_str()) {
                self.last_sent = Some(stats.log_position.clone());
                return Ok(stats);
            }
        }
    }

    async fn read(&self) -> Result<Option<EstadisticasCampanaRow>> {
        self.views
            .estadisticas_campana(self.campana_id)
            .await
            .map_err(|error| read_error(&error))
    }

    /// Waits (bounded) until the marketing projection has applied the log up to
    /// `position`.
    async fn wait_for_marketing(&self, position: Position) -> Result<()> {
        let deadline = tokio::time::Instant::now() + PROJECTION_WAIT;
        loop {
            let reached = self
                .views
                .checkpoint_of(ProjectionName::Marketing)
                .await
                .map_err(|error| read_error(&error))?;
            if reached >= position || tokio::time::Instant::now() >= deadline {
                return Ok(());
            }
            tokio::time::sleep(CHECKPOINT_EVERY).await;
        }
    }
}
