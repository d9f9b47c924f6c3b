//! The `webhook` job: applies a connection's recorded deliveries (DESIGN:
//! Webhooks). One is live per connection; it takes the deliveries queued
//! for it a batch at a time, oldest first, until none is left, so a burst
//! of a thousand deliveries is a few batches rather than a thousand jobs.
//!
//! The connector says what each delivery reports ([`kit::Event`]); a
//! record the payload carries is mapped as a sync maps it, one it only
//! names is read by id through [`connector_core::source::Source::confirm`]
//! (once per record per batch, however many deliveries name it), and both
//! are written with [`artifacts::apply_newer`], so privacy rules are a
//! sync's (CONNECTOR-RULES 17, 18) and an older event never overwrites
//! newer state (rule 42). A delivery too coarse to apply asks for a
//! changes run instead.
//!
//! A failure is retried like any job and shown on the provider page; the
//! provider was answered long before, so it never retries for it.

use std::{collections::HashMap, time::Duration};

use connector_core::{
    http::Class,
    source::{Change, Unseen, about_asked},
    webhooks::{self as kit, Event},
};

use crate::{
    Platform,
    catalog::Provider,
    error::Result,
    ids::TeamId,
    jobs::{self, ErrorClass, Job, JobHandler, Kind, State},
    store::{
        artifacts::{self, Reported, Target, Written},
        webhooks::{self as store, DeliveryState},
    },
};

/// Deliveries applied together.
const BATCH: i64 = 50;
/// Batches one run takes before it ends and queues the next run, so that
/// a connection's endless stream does not hold a worker for ever.
const BATCHES_PER_RUN: usize = 50;

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

    /// Idempotent: it takes only deliveries still queued, and applying one
    /// twice writes the same state (upserts, removals, tombstones).
    async fn run(&self, platform: &Platform, job: &Job, worker: &str) -> Result<State> {
        let Some(installation) = job.installation_id.clone() else {
            jobs::complete(&platform.db, &job.id, worker).await?;
            return Ok(State::Completed);
        };
        for _ in 0..BATCHES_PER_RUN {
            let batch = store::queued(&platform.db, &job.team_id, &installation, BATCH).await?;
            if batch.is_empty() {
                break;
            }
            match apply(platform, &job.team_id, &batch).await {
                Ok(()) => {}
                Err(failure) => {
                    tracing::warn!(job = %job.id, reason = %failure.message, "webhook deliveries could not be applied");
                    let pause = failure.retry_after.max(crate::webhooks::retry_pause(job.attempts));
                    let state =
                        jobs::fail(&platform.db, &job.id, worker, failure.class, &failure.message, pause).await?;
                    let (shown, message) = match state {
                        Some(State::Queued) => (DeliveryState::Queued, format!("{}; trying again", failure.message)),
                        _ => (DeliveryState::Failed, failure.message),
                    };
                    let outcomes: Vec<_> = batch.iter().map(|(d, _)| (d.id.clone(), shown, message.clone())).collect();
                    store::finish_deliveries(&platform.db, &job.team_id, &outcomes).await?;
                    return Ok(state.unwrap_or(State::Interrupted));
                }
            }
            if !jobs::heartbeat(&platform.db, &job.id, worker, self.lease(platform)).await? {
                return Ok(State::Interrupted);
            }
        }
        jobs::complete(&platform.db, &job.id, worker).await?;
        // A delivery recorded while this run ended found it live and left
        // its queuing to it: queue the next run for what is left.
        if store::has_queued(&platform.db, &job.team_id, &installation).await? {
            let next = crate::webhooks::delivery_job(&job.team_id, &job.provider, &installation);
            let mut tx = platform.db.begin_write().await?;
            jobs::enqueue(&mut tx, &next).await?;
            tx.commit().await?;
        }
        Ok(State::Completed)
    }

    /// Queues a run for every connection with deliveries waiting and no
    /// live job (what a race at a run's end could leave), and sweeps
    /// deliveries and tombstones past their providers' retry windows.
    async fn schedule(&self, platform: &Platform) -> Result<usize> {
        let mut queued = 0;
        for endpoint in store::with_queued(&platform.db).await? {
            let job = crate::webhooks::delivery_job(&endpoint.team_id, &endpoint.provider, &endpoint.installation_id);
            let mut tx = platform.db.begin_write().await?;
            if let jobs::Enqueued::Created(_) = jobs::enqueue(&mut tx, &job).await? {
                queued += 1;
            }
            tx.commit().await?;
        }
        let swept = store::sweep(&platform.db).await?;
        if swept > 0 {
            tracing::debug!(swept, "webhook deliveries past their retry window deleted");
        }
        Ok(queued)
    }
}

/// Why applying a batch stopped.
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
            crate::Error::NotFound => Self::permanent("the connection these deliveries were for is gone"),
            other => {
                tracing::error!(error = %other, "applying webhook deliveries failed in the console");
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

/// What each delivery of a batch reports, as changes to write (by the
/// delivery's index), lookups to make, and whether a changes run is
/// asked for.
#[derive(Debug, Default)]
struct Read {
    carried: Vec<(usize, Reported)>,
    lookups: Vec<(usize, Unseen, Option<i64>)>,
    resync: bool,
    /// Deliveries settled without writing: left, or unreadable.
    settled: HashMap<usize, (DeliveryState, String)>,
}

/// Reads every delivery of a batch through the connector.
fn read(provider: &Provider, receiver: &dyn kit::Receiver, batch: &[(store::Delivery, Vec<u8>)]) -> Read {
    let mut read = Read::default();
    let Some(hooks) = &provider.webhooks else { return read };
    for (at, (delivery, body)) in batch.iter().enumerate() {
        if let Some(event) = &delivery.event
            && !hooks.events.contains_key(event)
        {
            read.settled.insert(at, (DeliveryState::Applied, format!("left: {event} events are not synced")));
            continue;
        }
        let received_at =
            time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(delivery.received_at_ms) * 1_000_000)
                .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
        let events = match receiver.events(&kit::Delivery { event: delivery.event.as_deref(), body, received_at }) {
            Ok(events) => events,
            Err(error) => {
                let why = format!("the delivery could not be read: {}", error.message);
                read.settled.insert(at, (DeliveryState::Failed, why));
                continue;
            }
        };
        // Only the entity types its event changes, as the catalog says.
        let allowed: Vec<&String> = match &delivery.event {
            Some(event) => hooks.events.get(event).into_iter().flatten().collect(),
            None => hooks.events.values().flatten().collect(),
        };
        let mut any = false;
        for event in events {
            if let Some((entity_type, _)) = event.key()
                && !allowed.iter().any(|t| *t == entity_type)
            {
                continue;
            }
            any = true;
            let when = event.at().map(|t| t.unix_timestamp());
            match event {
                Event::Carried { change, .. } => read.carried.push((at, Reported { change, at: when })),
                Event::Lookup { unseen, .. } => read.lookups.push((at, unseen, when)),
                Event::Resync => read.resync = true,
            }
        }
        if !any {
            read.settled.insert(at, (DeliveryState::Applied, "nothing to change".into()));
        }
    }
    read
}

/// Applies a batch of a connection's deliveries, and records each one's
/// outcome in words for the page in the same commit as its records.
async fn apply(
    platform: &Platform,
    team: &TeamId,
    batch: &[(store::Delivery, Vec<u8>)],
) -> std::result::Result<(), Failure> {
    let first = &batch[0].0;
    let provider = platform.catalog.get(&first.provider).ok_or_else(|| Failure::permanent("the provider is gone"))?;
    let hooks =
        provider.webhooks.as_ref().ok_or_else(|| Failure::permanent("the provider no longer sends webhooks"))?;
    let receiver = crate::connectors::receiver_for(&provider.id)
        .ok_or_else(|| Failure::permanent(format!("Patchbay cannot read {}'s webhooks yet", provider.name)))?;
    let read = read(provider, receiver.as_ref(), batch);
    let mut reported = read.carried;
    if !read.lookups.is_empty() {
        reported.extend(look_up(platform, team, provider, &first.installation_id, &read.lookups).await?);
    }
    if read.resync {
        crate::jobs::sync::enqueue(platform, team, &provider.id, Kind::Incremental).await?;
    }
    let mut words: Vec<Vec<&'static str>> = vec![Vec::new(); batch.len()];
    let mut tx = platform.db.begin_write().await?;
    if !reported.is_empty() {
        let target = Target::whole(team, &first.installation_id, &provider.id);
        let keep_until = crate::util::now() + i64::from(hooks.retry_window_hours.max(24)) * 3600;
        let changes: Vec<Reported> = reported.iter().map(|(_, r)| r.clone()).collect();
        let written =
            artifacts::apply_newer_in(&mut tx, platform.db.change_feed(), &target, &changes, keep_until).await?;
        for ((at, _), written) in reported.iter().zip(written) {
            words[*at].push(match written {
                Written::Stored => "stored",
                Written::Removed => "removed",
                Written::Stale => "left as older than what is stored",
            });
        }
    }
    let outcomes: Vec<_> = batch
        .iter()
        .enumerate()
        .map(|(at, (delivery, _))| {
            let (state, result) = match read.settled.get(&at) {
                Some((state, why)) => (*state, why.clone()),
                None if words[at].is_empty() => (DeliveryState::Applied, "a sync of the changes queued".into()),
                None => (DeliveryState::Applied, counted(&words[at])),
            };
            (delivery.id.clone(), state, result)
        })
        .collect();
    store::finish_deliveries_in(&mut tx, team, &outcomes).await?;
    tx.commit().await.map_err(crate::Error::from)?;
    platform.db.checkpoint_soon();
    Ok(())
}

/// "1 stored", "2 stored, 1 removed": what a delivery's changes did.
fn counted(words: &[&str]) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for word in words {
        match counts.iter_mut().find(|(w, _)| w == word) {
            Some((_, n)) => *n += 1,
            None => counts.push((word, 1)),
        }
    }
    counts.iter().map(|(word, n)| format!("{n} {word}")).collect::<Vec<_>>().join(", ")
}

/// Reads the records events only name, by id, through the connector,
/// each record once: an upsert for one that is there and may be indexed,
/// a removal for one the provider says is gone or private. Each change is
/// reported for every delivery that named its record.
async fn look_up(
    platform: &Platform,
    team: &TeamId,
    provider: &Provider,
    installation: &crate::ids::InstallationId,
    lookups: &[(usize, Unseen, Option<i64>)],
) -> std::result::Result<Vec<(usize, Reported)>, Failure> {
    let stream = connector_core::source::Stream { name: String::new(), entity_types: Vec::new() };
    let opened = crate::jobs::sync::open(platform, team, provider, Some(installation), stream).await?;
    let cx = opened.context();
    let mut unseen: Vec<Unseen> = Vec::new();
    for (_, record, _) in lookups {
        if !unseen.iter().any(|u| u.entity_type == record.entity_type && u.entity_id == record.entity_id) {
            unseen.push(record.clone());
        }
    }
    let mut answered = Vec::new();
    for chunk in unseen.chunks(connector_core::source::CONFIRM_BATCH) {
        let changes = opened.source.confirm(&cx, chunk).await.map_err(Failure::fetch)?;
        answered.extend(about_asked(chunk, changes));
    }
    let mut reported = Vec::new();
    for (at, record, when) in lookups {
        let key = (record.entity_type.as_str(), record.entity_id.as_str());
        if let Some(change) = answered.iter().find(|c| c.key() == key) {
            // A record read now is as new as the provider has it; a
            // removal it reports is as of the event.
            let at_time = match change {
                Change::Upsert(_) => None,
                Change::Remove { .. } => *when,
            };
            reported.push((*at, Reported { change: change.clone(), at: at_time }));
        }
    }
    Ok(reported)
}

/// Queues a stored delivery to be applied again (an admin's Replay): its
/// record is read anew, so Replay brings it to what the provider has now.
pub async fn replay(platform: &Platform, team: &TeamId, id: &str) -> Result<crate::ids::JobId> {
    let (delivery, _) = store::delivery(&platform.db, team, id).await?.ok_or(crate::Error::NotFound)?;
    let mut tx = platform.db.begin_write().await?;
    store::requeue(&mut tx, team, id).await?.ok_or(crate::Error::NotFound)?;
    let job = crate::webhooks::delivery_job(team, &delivery.provider, &delivery.installation_id);
    let enqueued = jobs::enqueue(&mut tx, &job).await?;
    tx.commit().await?;
    Ok(enqueued.id().clone())
}
