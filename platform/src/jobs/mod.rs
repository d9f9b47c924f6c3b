//! Background work (DESIGN: Jobs): every kind of job has one handler, the
//! handlers are listed once in [`REGISTRY`], and one loop claims, runs and
//! ends jobs of every kind for `patchbay serve`, `patchbay worker`,
//! `patchbay backfill` and the tests' drain alike.
//!
//! The queue itself (enqueue, claim, lease, complete, fail) is the `jobs`
//! table's SQL in [`crate::store::jobs`], re-exported here: callers see
//! one `jobs` module.

pub mod push;
pub mod revoke_retry;
pub mod subscriptions;
pub mod sync;
pub mod webhook;

use std::time::Duration;

pub use crate::store::jobs::*;
use crate::{Platform, error::Result, ids::JobId};

/// One kind of background work, or a family of kinds that share a runner.
///
/// A job may run more than once: its worker can die after doing part of
/// the work (a lapsed lease hands it to another), or after doing all of it
/// but before ending the job. So `run` is idempotent by contract: running a
/// job again leaves what running it once leaves.
#[async_trait::async_trait]
pub trait JobHandler: Send + Sync + std::fmt::Debug {
    /// For logs.
    fn name(&self) -> &'static str;

    /// The kinds this handler takes. Each kind has exactly one handler
    /// (a unit test checks the registry).
    fn kinds(&self) -> &'static [Kind];

    /// How long a claim on one of its jobs lasts without a heartbeat: how
    /// soon a dead worker's job is taken up again.
    fn lease(&self, platform: &Platform) -> Duration;

    /// Runs a job claimed for `worker` to its end, completing or failing
    /// it in the queue, and returns its state after (`Interrupted` when the
    /// lease was lost to another worker first).
    async fn run(&self, platform: &Platform, job: &Job, worker: &str) -> Result<State>;

    /// Queues what is due on a schedule. Every loop calls it about once a
    /// minute, however many run: it must queue each due job once.
    async fn schedule(&self, _platform: &Platform) -> Result<usize> {
        Ok(0)
    }
}

/// Every job handler: the one list (crates.io's pattern). A kind missing
/// here is never run.
pub static REGISTRY: &[&dyn JobHandler] = &[
    &sync::SyncJobs,
    &revoke_retry::RevokeRetry,
    &webhook::WebhookJobs,
    &subscriptions::Subscriptions,
    &push::PushJobs,
];

/// The handler of `kind`.
pub fn handler(kind: Kind) -> &'static dyn JobHandler {
    REGISTRY.iter().copied().find(|handler| handler.kinds().contains(&kind)).unwrap_or_else(|| {
        // The registry test proves every kind has a handler.
        unreachable!("job kind {} has no handler in jobs::REGISTRY", kind.as_str())
    })
}

/// Every kind the registry runs.
pub fn all_kinds() -> Vec<Kind> {
    REGISTRY.iter().flat_map(|handler| handler.kinds().iter().copied()).collect()
}

/// Runs a job claimed for `worker` through its handler.
pub async fn run_claimed(platform: &Platform, job: &Job, worker: &str) -> Result<State> {
    handler(job.kind).run(platform, job, worker).await
}

/// Claims and runs the next due job of `kinds`, if any, and ends it.
/// Returns the job's id and how it ended. Jobs whose worker died are
/// handed out again first (their lease lapsed).
pub async fn work_one_of(platform: &Platform, worker: &str, kinds: &[Kind]) -> Result<Option<(JobId, State)>> {
    interrupt_lapsed(&platform.db).await?;
    for handler in REGISTRY {
        let mine: Vec<Kind> = handler.kinds().iter().copied().filter(|kind| kinds.contains(kind)).collect();
        if let Some(job) = claim(&platform.db, worker, &mine, handler.lease(platform)).await? {
            let state = handler.run(platform, &job, worker).await?;
            tracing::debug!(job = %job.id, kind = job.kind.as_str(), state = state.as_str(), "job ended");
            return Ok(Some((job.id, state)));
        }
    }
    Ok(None)
}

/// [`work_one_of`] every kind.
pub async fn work_one(platform: &Platform, worker: &str) -> Result<Option<(JobId, State)>> {
    work_one_of(platform, worker, &all_kinds()).await
}

/// Runs due jobs of `kinds` until none is left.
pub async fn drain_of(platform: &Platform, worker: &str, kinds: &[Kind]) -> Result<Vec<(JobId, State)>> {
    let mut ran = Vec::new();
    while let Some(done) = work_one_of(platform, worker, kinds).await? {
        ran.push(done);
    }
    Ok(ran)
}

/// Runs due jobs of every kind until none is left: the tests' drain.
pub async fn drain(platform: &Platform, worker: &str) -> Result<Vec<(JobId, State)>> {
    drain_of(platform, worker, &all_kinds()).await
}

/// Asks every handler to queue what its schedule makes due.
pub async fn schedule_due(platform: &Platform) -> usize {
    let mut queued = 0;
    for handler in REGISTRY {
        match handler.schedule(platform).await {
            Ok(n) => queued += n,
            Err(error) => tracing::warn!(%error, handler = handler.name(), "queuing scheduled jobs failed"),
        }
    }
    queued
}

/// The loop of `patchbay serve` and `patchbay worker`: runs jobs of every
/// kind as they come due, one at a time, until the task is dropped,
/// looking again every `idle` when there is nothing to do, and asking the
/// schedules every minute.
pub async fn keep_working(platform: Platform, worker: String, idle: Duration) {
    let kinds = all_kinds();
    let mut scheduled = tokio::time::Instant::now() - Duration::from_secs(60);
    loop {
        if scheduled.elapsed() >= Duration::from_secs(60) {
            scheduled = tokio::time::Instant::now();
            let queued = schedule_due(&platform).await;
            if queued > 0 {
                tracing::info!(queued, "scheduled jobs queued");
            }
            sweep_changes(&platform).await;
        }
        match work_one_of(&platform, &worker, &kinds).await {
            Ok(Some(_)) => {}
            Ok(None) => tokio::time::sleep(idle).await,
            Err(error) => {
                tracing::warn!(%error, "running jobs failed; trying again shortly");
                tokio::time::sleep(idle).await;
            }
        }
    }
}

/// Removes changes older than the feed's retention (DESIGN: Delivering
/// records): each loop does it once a minute, and the delete is indexed.
pub async fn sweep_changes(platform: &Platform) {
    let keep = i64::try_from(platform.delivery.changes_retention.as_secs()).unwrap_or(i64::MAX);
    match crate::store::changes::sweep(&platform.db, crate::util::now().saturating_sub(keep)).await {
        Ok(0) => {}
        Ok(removed) => tracing::debug!(removed, "changes past retention removed"),
        Err(error) => tracing::warn!(%error, "removing changes past retention failed"),
    }
}

/// A name for this process as a lease owner: host-free, unique per start.
pub fn worker_name(role: &str) -> String {
    format!("{role}-{}-{}", std::process::id(), &crate::util::random_id()[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_exactly_one_handler() {
        let kinds = all_kinds();
        for kind in Kind::ALL {
            assert_eq!(kinds.iter().filter(|k| *k == kind).count(), 1, "{} has no single handler", kind.as_str());
        }
        assert_eq!(kinds.len(), Kind::ALL.len());
    }
}
