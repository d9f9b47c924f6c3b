//! The read models pages need: a connection's sync status, the cards'
//! newest syncs, and the live view's fingerprint. Each answers in a
//! bounded number of queries, whatever the number of connections.

use std::collections::HashMap;

use crate::{
    Platform, connectors,
    error::{Error, Result},
    ids::{InstallationId, ProviderId, TeamId},
    jobs::sync::{DEFAULT_SYNC_EVERY_MINUTES, SYNC_KINDS, interval_seconds},
    store::{
        artifacts,
        installations::{self, Installation},
        jobs::{self, Job},
    },
    util::now,
};

/// What the provider page shows about a connection's syncing.
#[derive(Clone, Debug)]
pub struct Status {
    /// Whether Patchbay has a connector for the provider at all.
    pub syncs: bool,
    /// The newest sync job: the one queued or running if there is one
    /// (there is at most one per stream; of a connection of several
    /// streams, the newest of them), else the last to end.
    pub current: Option<Job>,
    /// When the last sync that completed ended (unix seconds).
    pub last_success: Option<i64>,
    /// When the next sync is due (unix seconds); `None` while one runs.
    pub next_due: Option<i64>,
    /// Records held, per entity type.
    pub counts: Vec<(String, i64)>,
    /// The newest sync jobs that met an error, newest first.
    pub errors: Vec<Job>,
    /// For a connection of several streams: each stream's name and its
    /// newest job, in the catalog's order; empty for one stream.
    pub streams: Vec<(String, Option<Job>)>,
}

/// Recent sync jobs read to find each stream's newest.
const STREAM_JOBS: i64 = 200;

/// Recent errors the provider page lists.
const RECENT_ERRORS: i64 = 5;

/// The sync status of `team`'s active connection to `provider`;
/// `NotFound` when there is none.
pub async fn connection(platform: &Platform, team: &TeamId, provider: &ProviderId) -> Result<Status> {
    let installation = {
        let mut conn = platform.db.pool().acquire().await?;
        installations::find(&mut conn, team, provider).await?.filter(Installation::is_active).ok_or(Error::NotFound)?
    };
    let current = newest_job(platform, team, &installation.id).await?;
    let filter = sync_jobs(&installation.id);
    let completed = jobs::Filter { state: Some(jobs::State::Completed), ..filter.clone() };
    let last_success = jobs::list(&platform.db, team, &completed, 1).await?.pop().and_then(|job| job.finished_at);
    let errors = jobs::list(&platform.db, team, &jobs::Filter { with_error: true, ..filter }, RECENT_ERRORS).await?;
    let interval = platform.catalog.get(provider).map_or(i64::from(DEFAULT_SYNC_EVERY_MINUTES) * 60, interval_seconds);
    // As `schedule_due` decides: a job waits for its time; otherwise the
    // next is queued once the last was queued an interval ago.
    let next_due = match &current {
        Some(job) if job.state == jobs::State::Running => None,
        Some(job) if matches!(job.state, jobs::State::Queued | jobs::State::Interrupted) => Some(job.run_after),
        Some(job) => Some(job.created_at + interval),
        None => Some(now()),
    };
    let named: Vec<String> = platform
        .catalog
        .get(provider)
        .map(|p| p.api.streams.iter().map(|s| s.name.clone()).collect())
        .unwrap_or_default();
    let streams = if named.is_empty() {
        Vec::new()
    } else {
        let recent = jobs::list(&platform.db, team, &sync_jobs(&installation.id), STREAM_JOBS).await?;
        named
            .into_iter()
            .map(|name| {
                let newest = recent.iter().find(|job| job.stream() == name).cloned();
                (name, newest)
            })
            .collect()
    };
    Ok(Status {
        streams,
        syncs: connectors::source_for(provider).is_some(),
        current,
        last_success,
        next_due,
        counts: artifacts::counts(&platform.db, team, provider).await?,
        errors,
    })
}

/// The sync jobs of an installation, whatever their state.
fn sync_jobs(installation: &InstallationId) -> jobs::Filter {
    jobs::Filter { installation: Some(installation.clone()), kinds: SYNC_KINDS.to_vec(), ..jobs::Filter::default() }
}

/// The newest sync job of `team`'s `installation`, if it has had one: what
/// its card on the Integrations page shows beside the connection.
pub async fn newest_job(platform: &Platform, team: &TeamId, installation: &InstallationId) -> Result<Option<Job>> {
    Ok(jobs::list(&platform.db, team, &sync_jobs(installation), 1).await?.pop())
}

/// The newest sync job of each of `team`'s connections, by installation,
/// in one query (the Integrations page makes none per connection).
pub async fn newest_jobs(platform: &Platform, team: &TeamId) -> Result<HashMap<InstallationId, Job>> {
    jobs::newest_by_installation(&platform.db, team, SYNC_KINDS).await
}

/// A cheap summary of a connection and its newest sync job, which changes
/// whenever either moves (connection state; job state, progress, attempts):
/// a live view reads this often and the whole [`connection`] only when it
/// changes.
pub async fn fingerprint(platform: &Platform, team: &TeamId, provider: &ProviderId) -> Result<String> {
    let row = jobs::newest_sync_fingerprint(&platform.db, team, provider, SYNC_KINDS).await?;
    Ok(format!("{row:?}"))
}
