//! The `webhook` job: applies one recorded delivery (DESIGN: Webhooks).
//! The connector says what the delivery reports ([`kit::Event`]); a record
//! the payload carries is mapped as a sync maps it, one it only names is
//! read by id through [`connector_core::source::Source::confirm`], and
//! both are written with [`artifacts::apply_newer`], so privacy rules are
//! a sync's (CONNECTOR-RULES 17, 18) and an older event never overwrites
//! newer state (rule 42). A delivery too coarse to apply asks for a
//! changes run instead.
//!
//! A failure is retried like any job and shown on the provider page; the
//! provider was answered long before, so it never retries for it.

use std::time::Duration;

use connector_core::{
    http::Class,
    source::{Change, Unseen, about_asked},
    webhooks::{self as kit, Event},
};

use crate::{
    Platform,
    catalog::Provider,
    error::Result,
    jobs::{self, ErrorClass, Job, JobHandler, Kind, State},
    store::{
        artifacts::{self, Reported, Target},
        webhooks::{self as store, DeliveryState},
    },
};

#[derive(Debug)]
pub struct WebhookJobs;

#[async_trait::async_trait]
impl JobHandler for WebhookJobs {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn kinds(&self) -> &'static [Kind] {
        &[Kind::Webhook]
    }

    fn lease(&self, _platform: &Platform) -> Duration {
        Duration::from_secs(60)
    }

    /// Idempotent: an applied delivery is not applied again, and applying
    /// one twice writes the same state (upserts, removals, tombstones).
    async fn run(&self, platform: &Platform, job: &Job, worker: &str) -> Result<State> {
        let id = job.payload.get("delivery").and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        let Some((delivery, body)) = store::delivery(&platform.db, &job.team_id, &id).await? else {
            // Swept after its retry window, or its connection disconnected.
            jobs::complete(&platform.db, &job.id, worker).await?;
            return Ok(State::Completed);
        };
        if delivery.state == DeliveryState::Applied && !job.payload.get("replay").is_some_and(|r| r == true) {
            jobs::complete(&platform.db, &job.id, worker).await?;
            return Ok(State::Completed);
        }
        match apply(platform, &delivery, &body).await {
            Ok(summary) => {
                store::finish_delivery(&platform.db, &job.team_id, &id, DeliveryState::Applied, &summary).await?;
                jobs::complete(&platform.db, &job.id, worker).await?;
                Ok(State::Completed)
            }
            Err(failure) => {
                tracing::warn!(job = %job.id, reason = %failure.message, "a webhook delivery could not be applied");
                let pause = failure.retry_after.max(crate::webhooks::retry_pause(job.attempts));
                let state = jobs::fail(&platform.db, &job.id, worker, failure.class, &failure.message, pause).await?;
                let (shown, message) = match state {
                    Some(State::Queued) => (DeliveryState::Queued, format!("{}; trying again", failure.message)),
                    _ => (DeliveryState::Failed, failure.message),
                };
                store::finish_delivery(&platform.db, &job.team_id, &id, shown, &message).await?;
                Ok(state.unwrap_or(State::Interrupted))
            }
        }
    }

    /// Sweeps deliveries and tombstones past their providers' retry
    /// windows, about once a minute.
    async fn schedule(&self, platform: &Platform) -> Result<usize> {
        let swept = store::sweep(&platform.db).await?;
        if swept > 0 {
            tracing::debug!(swept, "webhook deliveries past their retry window deleted");
        }
        Ok(0)
    }
}

/// Why applying a delivery stopped.
#[derive(Debug)]
struct Failure {
    class: ErrorClass,
    message: String,
    retry_after: Duration,
}

impl Failure {
    fn permanent(message: impl Into<String>) -> Self {
        Self { class: ErrorClass::Permanent, message: message.into(), retry_after: Duration::ZERO }
    }

    fn fetch(error: connector_core::http::FetchError) -> Self {
        let class = match error.class {
            Class::Permanent => ErrorClass::Permanent,
            _ => ErrorClass::Transient,
        };
        Self { class, message: error.message, retry_after: error.retry_after.unwrap_or_default() }
    }
}

impl From<crate::Error> for Failure {
    fn from(error: crate::Error) -> Self {
        match error {
            crate::Error::NotFound => Self::permanent("the connection this delivery was for is gone"),
            other => {
                tracing::error!(error = %other, "applying a webhook delivery failed in the console");
                Self {
                    class: ErrorClass::Transient,
                    message: "the console could not store the change; it tries again".into(),
                    retry_after: Duration::from_secs(30),
                }
            }
        }
    }
}

impl From<crate::jobs::sync::Failure> for Failure {
    fn from(failure: crate::jobs::sync::Failure) -> Self {
        Self { class: failure.class, message: failure.message, retry_after: failure.retry_in }
    }
}

/// Applies a delivery; returns what it did, in words for the page.
async fn apply(platform: &Platform, delivery: &store::Delivery, body: &[u8]) -> std::result::Result<String, Failure> {
    let provider =
        platform.catalog.get(&delivery.provider).ok_or_else(|| Failure::permanent("the provider is gone"))?;
    let hooks =
        provider.webhooks.as_ref().ok_or_else(|| Failure::permanent("the provider no longer sends webhooks"))?;
    let receiver = crate::connectors::receiver_for(&provider.id)
        .ok_or_else(|| Failure::permanent(format!("Patchbay cannot read {}'s webhooks yet", provider.name)))?;
    if let Some(event) = &delivery.event
        && !hooks.events.contains_key(event)
    {
        return Ok(format!("left: {event} events are not synced"));
    }
    let received_at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(delivery.received_at_ms) * 1_000_000)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    let reading = kit::Delivery { event: delivery.event.as_deref(), body, received_at };
    let events = receiver
        .events(&reading)
        .map_err(|e| Failure::permanent(format!("the delivery could not be read: {}", e.message)))?;
    // Only the entity types its event changes, as the catalog says.
    let allowed: Vec<&String> = match &delivery.event {
        Some(event) => hooks.events.get(event).into_iter().flatten().collect(),
        None => hooks.events.values().flatten().collect(),
    };
    let covered = |entity_type: &str| allowed.iter().any(|t| *t == entity_type);
    let mut reported = Vec::new();
    let mut lookups: Vec<(Unseen, Option<i64>)> = Vec::new();
    let mut resync = false;
    for event in events {
        if let Some((entity_type, _)) = event.key()
            && !covered(entity_type)
        {
            continue;
        }
        let at = event.at().map(|t| t.unix_timestamp());
        match event {
            Event::Carried { change, .. } => reported.push(Reported { change, at }),
            Event::Lookup { unseen, .. } => lookups.push((unseen, at)),
            Event::Resync => resync = true,
        }
    }
    if !lookups.is_empty() {
        reported.extend(look_up(platform, provider, delivery, &lookups).await?);
    }
    let mut words = Vec::new();
    if !reported.is_empty() {
        let target = Target::whole(&delivery.team_id, &delivery.installation_id, &provider.id);
        let keep_until = crate::util::now() + i64::from(hooks.retry_window_hours.max(24)) * 3600;
        let applied = artifacts::apply_newer(&platform.db, &target, &reported, keep_until).await?;
        for (n, what) in [
            (applied.upserted, "stored"),
            (applied.removed, "removed"),
            (applied.stale, "left as older than what is stored"),
        ] {
            if n > 0 {
                words.push(format!("{n} {what}"));
            }
        }
    }
    if resync {
        crate::jobs::sync::enqueue(platform, &delivery.team_id, &provider.id, Kind::Incremental).await?;
        words.push("a sync of the changes queued".into());
    }
    Ok(if words.is_empty() { "nothing to change".into() } else { words.join(", ") })
}

/// Reads the records events only name, by id, through the connector: an
/// upsert for one that is there and may be indexed, a removal for one the
/// provider says is gone or private.
async fn look_up(
    platform: &Platform,
    provider: &Provider,
    delivery: &store::Delivery,
    lookups: &[(Unseen, Option<i64>)],
) -> std::result::Result<Vec<Reported>, Failure> {
    let stream = connector_core::source::Stream { name: String::new(), entity_types: Vec::new() };
    let opened =
        crate::jobs::sync::open(platform, &delivery.team_id, provider, Some(&delivery.installation_id), stream).await?;
    let cx = opened.context();
    let unseen: Vec<Unseen> = lookups.iter().map(|(u, _)| u.clone()).collect();
    let answered = opened.source.confirm(&cx, &unseen).await.map_err(Failure::fetch)?;
    let answered = about_asked(&unseen, answered);
    Ok(answered
        .into_iter()
        .map(|change| {
            let at = lookups
                .iter()
                .find(|(u, _)| (u.entity_type.as_str(), u.entity_id.as_str()) == change.key())
                .and_then(|(_, at)| *at);
            // A record read now is as new as the provider has it; a
            // removal it reports is as of the event.
            let at = match &change {
                Change::Upsert(_) => None,
                Change::Remove { .. } => at,
            };
            Reported { change, at }
        })
        .collect())
}

/// Queues a stored delivery to be applied again (an admin's Replay).
pub async fn replay(platform: &Platform, team: &crate::ids::TeamId, id: &str) -> Result<crate::ids::JobId> {
    let (delivery, _) = store::delivery(&platform.db, team, id).await?.ok_or(crate::Error::NotFound)?;
    let endpoint =
        store::endpoint_of(&platform.db, team, &delivery.installation_id).await?.ok_or(crate::Error::NotFound)?;
    let mut new = crate::webhooks::delivery_job(&endpoint, id);
    new.payload = serde_json::json!({ "delivery": id, "replay": true });
    let mut tx = platform.db.begin_write().await?;
    let enqueued = crate::jobs::enqueue(&mut tx, &new).await?;
    tx.commit().await?;
    Ok(enqueued.id().clone())
}
