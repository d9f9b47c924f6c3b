//! The job queue's SQL: the `jobs` table (DESIGN: Backfill and sync). The
//! handlers and the loop that runs them are [`crate::jobs`].
//!
//! - [`enqueue`] adds a job, unless one with the same dedupe key is queued,
//!   running or interrupted already (SECURITY F6): that one is returned.
//! - [`claim`] gives a worker the next due job of the kinds it runs and a
//!   lease on it. On Postgres the pick is `FOR UPDATE SKIP LOCKED`, so
//!   replicas never take the same job; on SQLite the write lock serialises
//!   claims on the one node.
//! - A worker keeps its lease with [`heartbeat`]. When a worker dies, the
//!   lease lapses, [`interrupt_lapsed`] marks the job `interrupted`, and the
//!   next claim resumes it (from its cursor, for a sync).
//! - [`complete`] and [`fail`] end a run; a failure that may pass is queued
//!   again after a pause until its attempts run out. Each call names the
//!   lease owner, so a worker that lost its lease cannot end a job another
//!   worker has taken.

use std::time::Duration;

use sqlx::AnyConnection;

use crate::{
    Db,
    error::{Error, Result},
    ids::{InstallationId, JobId, ProviderId, TeamId},
    store::db::Backend,
    util::now,
};

/// What a job does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    FullBackfill,
    Incremental,
    Prune,
    /// A revoke a disconnect could not make yet (SECURITY D6).
    RevokeRetry,
    /// Applying a verified webhook delivery (DESIGN: Webhooks).
    Webhook,
    /// Registering a connection's webhook subscription at its provider,
    /// or renewing it before it expires (CONNECTOR-RULES 43).
    RenewSubscription,
    /// Delivering a team's change feed to a push destination.
    Push,
}

impl Kind {
    /// The kinds that sync a connection's records.
    pub const SYNC: &'static [Kind] = &[Kind::FullBackfill, Kind::Incremental, Kind::Prune];

    /// Every kind, for the registry's own check.
    pub const ALL: &'static [Kind] = &[
        Kind::FullBackfill,
        Kind::Incremental,
        Kind::Prune,
        Kind::RevokeRetry,
        Kind::Webhook,
        Kind::RenewSubscription,
        Kind::Push,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::FullBackfill => "full_backfill",
            Kind::Incremental => "incremental",
            Kind::Prune => "prune",
            Kind::RevokeRetry => "revoke_retry",
            Kind::Webhook => "webhook",
            Kind::RenewSubscription => "renew_subscription",
            Kind::Push => "push",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "full_backfill" => Kind::FullBackfill,
            "incremental" => Kind::Incremental,
            "prune" => Kind::Prune,
            "revoke_retry" => Kind::RevokeRetry,
            "webhook" => Kind::Webhook,
            "renew_subscription" => Kind::RenewSubscription,
            "push" => Kind::Push,
            other => return Err(Error::Corrupt { what: format!("job kind `{other}`") }),
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Queued,
    Running,
    Completed,
    Failed,
    /// Its lease lapsed while running: its worker died. Taken again.
    Interrupted,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Running => "running",
            State::Completed => "completed",
            State::Failed => "failed",
            State::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "queued" => State::Queued,
            "running" => State::Running,
            "completed" => State::Completed,
            "failed" => State::Failed,
            "interrupted" => State::Interrupted,
            other => return Err(Error::Corrupt { what: format!("job state `{other}`") }),
        })
    }
}

/// How a failure is classed (CONNECTOR-RULES 30–35).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// May pass: retried after a pause.
    Transient,
    /// Will not pass by retrying.
    Permanent,
    /// Some records failed, the rest were written.
    Partial,
}

impl ErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Transient => "transient",
            ErrorClass::Permanent => "permanent",
            ErrorClass::Partial => "partial",
        }
    }
}

/// A job to add.
#[derive(Clone, Debug)]
pub struct NewJob {
    pub team: TeamId,
    pub provider: ProviderId,
    pub installation: Option<InstallationId>,
    pub kind: Kind,
    /// Jobs with one key do not pile up: see [`enqueue`].
    pub dedupe_key: Option<String>,
    /// JSON; never a secret.
    pub payload: serde_json::Value,
    /// Not taken before this (unix seconds).
    pub run_after: i64,
    pub max_attempts: i64,
}

/// A job as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub id: JobId,
    pub team_id: TeamId,
    pub provider: ProviderId,
    pub installation_id: Option<InstallationId>,
    pub kind: Kind,
    pub state: State,
    pub payload: serde_json::Value,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_after: i64,
    pub progress_done: i64,
    pub progress_total: Option<i64>,
    pub items: i64,
    pub error_class: Option<String>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

impl Job {
    /// The stream a sync job reads: its payload's `stream`, "" when it
    /// names none (a connection of one stream).
    pub fn stream(&self) -> &str {
        self.payload.get("stream").and_then(serde_json::Value::as_str).unwrap_or_default()
    }
}

const COLUMNS: &str = "id, team_id, provider, installation_id, kind, state, payload, attempts, max_attempts, \
                       run_after, progress_done, progress_total, items, error_class, last_error, created_at, \
                       started_at, finished_at";

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    team_id: String,
    provider: String,
    installation_id: Option<String>,
    kind: String,
    state: String,
    payload: String,
    attempts: i64,
    max_attempts: i64,
    run_after: i64,
    progress_done: i64,
    progress_total: Option<i64>,
    items: i64,
    error_class: Option<String>,
    last_error: Option<String>,
    created_at: i64,
    started_at: Option<i64>,
    finished_at: Option<i64>,
}

impl TryFrom<Row> for Job {
    type Error = Error;

    fn try_from(row: Row) -> Result<Self> {
        let corrupt = |what: &str| Error::Corrupt { what: format!("a job's {what}") };
        Ok(Job {
            team_id: TeamId::parse(&row.team_id).map_err(|_| corrupt("team"))?,
            installation_id: row
                .installation_id
                .as_deref()
                .map(InstallationId::parse)
                .transpose()
                .map_err(|_| corrupt("installation"))?,
            kind: Kind::parse(&row.kind)?,
            state: State::parse(&row.state)?,
            payload: serde_json::from_str(&row.payload).map_err(|_| corrupt("payload"))?,
            id: JobId::parse(&row.id).map_err(|_| corrupt("id"))?,
            provider: ProviderId::parse(&row.provider).map_err(|_| corrupt("provider"))?,
            attempts: row.attempts,
            max_attempts: row.max_attempts,
            run_after: row.run_after,
            progress_done: row.progress_done,
            progress_total: row.progress_total,
            items: row.items,
            error_class: row.error_class,
            last_error: row.last_error,
            created_at: row.created_at,
            started_at: row.started_at,
            finished_at: row.finished_at,
        })
    }
}

/// What [`enqueue`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Enqueued {
    Created(JobId),
    /// A job with the same dedupe key was queued, running or interrupted.
    AlreadyThere(JobId),
}

impl Enqueued {
    pub fn id(&self) -> &JobId {
        match self {
            Enqueued::Created(id) | Enqueued::AlreadyThere(id) => id,
        }
    }
}

/// Jobs about no one provider (pushing a team's feed) name the console
/// itself as theirs.
pub const CONSOLE: &str = "patchbay";

/// Attempts a push destination gets at one batch before it is
/// dead-lettered (the job is queued again after each failure).
pub const PUSH_ATTEMPTS: i64 = 8;

/// The job that delivers the team's feed to a push destination: one
/// queued at a time per destination.
pub fn push_job(team: &TeamId, destination: &str, run_after: i64) -> Result<NewJob> {
    Ok(NewJob {
        team: team.clone(),
        provider: ProviderId::parse(CONSOLE)?,
        installation: None,
        kind: Kind::Push,
        dedupe_key: Some(format!("push:{destination}")),
        payload: serde_json::json!({ "destination": destination }),
        run_after,
        max_attempts: PUSH_ATTEMPTS + 1,
    })
}

/// Adds a job, or returns the live one with the same dedupe key (F6). On a
/// connection, so that it can join the caller's transaction.
pub async fn enqueue(conn: &mut AnyConnection, job: &NewJob) -> Result<Enqueued> {
    let id = JobId::new();
    let at = now();
    let inserted = sqlx::query(
        "INSERT INTO jobs (id, team_id, provider, installation_id, kind, state, dedupe_key, payload, attempts, \
         max_attempts, run_after, progress_done, items, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'queued', $6, $7, 0, $8, $9, 0, 0, $10, $10) \
         ON CONFLICT (dedupe_key) WHERE state IN ('queued', 'running', 'interrupted') DO NOTHING",
    )
    .bind(id.as_str())
    .bind(job.team.as_str())
    .bind(job.provider.as_str())
    .bind(job.installation.as_ref().map(InstallationId::as_str))
    .bind(job.kind.as_str())
    .bind(job.dedupe_key.as_deref())
    .bind(job.payload.to_string())
    .bind(job.max_attempts)
    .bind(job.run_after)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(Enqueued::Created(id));
    }
    let existing: String = sqlx::query_scalar(
        "SELECT id FROM jobs WHERE dedupe_key = $1 AND state IN ('queued', 'running', 'interrupted')",
    )
    .bind(job.dedupe_key.as_deref())
    .fetch_one(&mut *conn)
    .await?;
    Ok(Enqueued::AlreadyThere(JobId::parse(&existing).map_err(|_| Error::Corrupt { what: "a job's id".into() })?))
}

fn lease_seconds(lease: Duration) -> i64 {
    i64::try_from(lease.as_secs()).unwrap_or(i64::MAX / 2).max(1)
}

/// Gives `worker` the next due job of `kinds`, with a lease of `lease`.
pub async fn claim(db: &Db, worker: &str, kinds: &[Kind], lease: Duration) -> Result<Option<Job>> {
    if kinds.is_empty() {
        return Ok(None);
    }
    let at = now();
    let placeholders: Vec<String> = (0..kinds.len()).map(|i| format!("${}", i + 4)).collect();
    let lock = match db.backend() {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "UPDATE jobs SET state = 'running', lease_owner = $1, lease_expires_at = $2, attempts = attempts + 1, \
         started_at = COALESCE(started_at, $3), updated_at = $3 \
         WHERE state IN ('queued', 'interrupted') AND id = (SELECT id FROM jobs \
           WHERE state IN ('queued', 'interrupted') AND run_after <= $3 AND kind IN ({}) \
           ORDER BY run_after, created_at LIMIT 1{lock}) \
         RETURNING {COLUMNS}",
        placeholders.join(", ")
    );
    let mut query = sqlx::query_as::<_, Row>(&sql).bind(worker).bind(at + lease_seconds(lease)).bind(at);
    for kind in kinds {
        query = query.bind(kind.as_str());
    }
    let mut tx = db.begin_write().await?;
    let row = query.fetch_optional(&mut *tx).await?;
    tx.commit().await?;
    row.map(Job::try_from).transpose()
}

/// Gives `worker` the job `id` if it is due and free, with a lease.
pub async fn claim_one(db: &Db, worker: &str, id: &JobId, lease: Duration) -> Result<Option<Job>> {
    let at = now();
    let sql = format!(
        "UPDATE jobs SET state = 'running', lease_owner = $1, lease_expires_at = $2, attempts = attempts + 1, \
         started_at = COALESCE(started_at, $3), updated_at = $3 \
         WHERE id = $4 AND state IN ('queued', 'interrupted') AND run_after <= $3 RETURNING {COLUMNS}"
    );
    let mut tx = db.begin_write().await?;
    let row = sqlx::query_as::<_, Row>(&sql)
        .bind(worker)
        .bind(at + lease_seconds(lease))
        .bind(at)
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
    tx.commit().await?;
    row.map(Job::try_from).transpose()
}

/// Marks running jobs whose lease lapsed `interrupted`, so they are taken
/// again. Returns how many.
pub async fn interrupt_lapsed(db: &Db) -> Result<u64> {
    let at = now();
    let done = sqlx::query(
        "UPDATE jobs SET state = 'interrupted', lease_owner = NULL, lease_expires_at = NULL, updated_at = $1 \
         WHERE state = 'running' AND lease_expires_at < $1",
    )
    .bind(at)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected())
}

/// Extends `worker`'s lease on a running job. `false`: the lease is lost
/// (it lapsed and another worker may have the job); stop working on it.
pub async fn heartbeat(db: &Db, id: &JobId, worker: &str, lease: Duration) -> Result<bool> {
    let at = now();
    let kept = sqlx::query(
        "UPDATE jobs SET lease_expires_at = $1, updated_at = $2 \
         WHERE id = $3 AND state = 'running' AND lease_owner = $4",
    )
    .bind(at + lease_seconds(lease))
    .bind(at)
    .bind(id.as_str())
    .bind(worker)
    .execute(db.pool())
    .await?;
    Ok(kept.rows_affected() == 1)
}

/// Records progress while holding the lease, on the caller's connection so
/// that it commits with the page it counts. `false`: the lease is lost.
pub async fn record_progress(
    conn: &mut AnyConnection,
    id: &JobId,
    worker: &str,
    done: i64,
    total: Option<i64>,
    items: i64,
) -> Result<bool> {
    let kept = sqlx::query(
        "UPDATE jobs SET progress_done = $1, progress_total = $2, items = $3, updated_at = $4 \
         WHERE id = $5 AND state = 'running' AND lease_owner = $6",
    )
    .bind(done)
    .bind(total)
    .bind(items)
    .bind(now())
    .bind(id.as_str())
    .bind(worker)
    .execute(&mut *conn)
    .await?;
    Ok(kept.rows_affected() == 1)
}

/// Ends a run that succeeded. `false`: the lease was lost first.
pub async fn complete(db: &Db, id: &JobId, worker: &str) -> Result<bool> {
    let at = now();
    let done = sqlx::query(
        "UPDATE jobs SET state = 'completed', lease_owner = NULL, lease_expires_at = NULL, finished_at = $1, \
         updated_at = $1 WHERE id = $2 AND state = 'running' AND lease_owner = $3",
    )
    .bind(at)
    .bind(id.as_str())
    .bind(worker)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends a run that finished but left records out: completed, with the
/// partial error the admin is shown (CONNECTOR-RULES 39).
pub async fn complete_partly(db: &Db, id: &JobId, worker: &str, note: &str) -> Result<bool> {
    let at = now();
    let done = sqlx::query(
        "UPDATE jobs SET state = 'completed', lease_owner = NULL, lease_expires_at = NULL, finished_at = $1, \
         updated_at = $1, error_class = $2, last_error = $3 WHERE id = $4 AND state = 'running' AND lease_owner = $5",
    )
    .bind(at)
    .bind(ErrorClass::Partial.as_str())
    .bind(note)
    .bind(id.as_str())
    .bind(worker)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The longest a failed job waits before it is tried again, whatever its
/// handler asked (SECURITY G2: a pause read from a provider's header can be
/// anything).
pub const LONGEST_PAUSE: Duration = Duration::from_secs(7 * 86_400);

/// Ends a run that failed. A transient failure with attempts left is
/// queued again after `retry_in` (at most [`LONGEST_PAUSE`]); anything
/// else fails the job. Returns the
/// job's state after, or `None` when the lease was lost first.
pub async fn fail(
    db: &Db,
    id: &JobId,
    worker: &str,
    class: ErrorClass,
    message: &str,
    retry_in: Duration,
) -> Result<Option<State>> {
    let at = now();
    let retry_at = at.saturating_add(i64::try_from(retry_in.min(LONGEST_PAUSE).as_secs()).unwrap_or(i64::MAX));
    let mut tx = db.begin_write().await?;
    let attempts: Option<(i64, i64)> = sqlx::query_as(
        "SELECT attempts, max_attempts FROM jobs WHERE id = $1 AND state = 'running' AND lease_owner = $2",
    )
    .bind(id.as_str())
    .bind(worker)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((attempts, max_attempts)) = attempts else { return Ok(None) };
    let state = if class == ErrorClass::Transient && attempts < max_attempts { State::Queued } else { State::Failed };
    sqlx::query(
        "UPDATE jobs SET state = $1, lease_owner = NULL, lease_expires_at = NULL, error_class = $2, \
         last_error = $3, run_after = $4, finished_at = $5, updated_at = $6 WHERE id = $7",
    )
    .bind(state.as_str())
    .bind(class.as_str())
    .bind(message)
    .bind(if state == State::Queued { retry_at } else { at })
    .bind((state == State::Failed).then_some(at))
    .bind(at)
    .bind(id.as_str())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(state))
}

/// One job of `team`.
pub async fn get(db: &Db, team: &TeamId, id: &JobId) -> Result<Option<Job>> {
    let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM jobs WHERE team_id = $1 AND id = $2"))
        .bind(team.as_str())
        .bind(id.as_str())
        .fetch_optional(db.pool())
        .await?;
    row.map(Job::try_from).transpose()
}

/// Newest first; among jobs queued in the same second, one not yet ended
/// before those that ended, then the last to end.
pub(crate) const NEWEST_FIRST: &str =
    "created_at DESC, CASE WHEN finished_at IS NULL THEN 0 ELSE 1 END, finished_at DESC, id";

/// Which jobs [`list`] returns; `None` is any.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub provider: Option<ProviderId>,
    pub installation: Option<InstallationId>,
    pub kinds: Vec<Kind>,
    pub state: Option<State>,
    /// Only jobs that recorded an error (failed, or queued again after one).
    pub with_error: bool,
}

/// The jobs of `team` that pass `filter`, newest first, at most `limit`.
pub async fn list(db: &Db, team: &TeamId, filter: &Filter, limit: i64) -> Result<Vec<Job>> {
    let mut sql = format!("SELECT {COLUMNS} FROM jobs WHERE team_id = $1");
    let mut n = 1;
    let mut next = || {
        n += 1;
        format!("${n}")
    };
    if filter.provider.is_some() {
        sql.push_str(&format!(" AND provider = {}", next()));
    }
    if filter.installation.is_some() {
        sql.push_str(&format!(" AND installation_id = {}", next()));
    }
    if !filter.kinds.is_empty() {
        let placeholders: Vec<String> = filter.kinds.iter().map(|_| next()).collect();
        sql.push_str(&format!(" AND kind IN ({})", placeholders.join(", ")));
    }
    if filter.state.is_some() {
        sql.push_str(&format!(" AND state = {}", next()));
    }
    if filter.with_error {
        sql.push_str(" AND last_error IS NOT NULL");
    }
    sql.push_str(&format!(" ORDER BY {NEWEST_FIRST} LIMIT {}", next()));
    let mut query = sqlx::query_as::<_, Row>(&sql).bind(team.as_str());
    if let Some(provider) = &filter.provider {
        query = query.bind(provider.as_str());
    }
    if let Some(installation) = &filter.installation {
        query = query.bind(installation.as_str());
    }
    for kind in &filter.kinds {
        query = query.bind(kind.as_str());
    }
    if let Some(state) = filter.state {
        query = query.bind(state.as_str());
    }
    let rows: Vec<Row> = query.bind(limit).fetch_all(db.pool()).await?;
    rows.into_iter().map(Job::try_from).collect()
}

/// `kinds` as an SQL list of literals: `'full_backfill', 'incremental'`.
/// Kinds are the code's own words, never input.
fn kinds_sql(kinds: &[Kind]) -> String {
    kinds.iter().map(|k| format!("'{}'", k.as_str())).collect::<Vec<_>>().join(", ")
}

/// For the sync schedule: how many jobs of `kinds` an installation had
/// queued after `since`, and when its last full pass (a backfill or a
/// prune) completed.
pub async fn sync_history(
    conn: &mut AnyConnection,
    installation: &InstallationId,
    kinds: &[Kind],
    since: i64,
) -> Result<(i64, Option<i64>)> {
    Ok(sqlx::query_as(&format!(
        "SELECT COUNT(*) FILTER (WHERE created_at > $2), \
         MAX(CASE WHEN kind IN ('full_backfill', 'prune') AND state = 'completed' THEN finished_at END) \
         FROM jobs WHERE installation_id = $1 AND kind IN ({})",
        kinds_sql(kinds)
    ))
    .bind(installation.as_str())
    .bind(since)
    .fetch_one(&mut *conn)
    .await?)
}

/// A connection and its newest job of `kinds`, as what moves when either
/// does (connection state; job state, progress, items, attempts, update
/// time), and its live jobs' count and progress together (the other
/// streams of a connection of several): a live view compares it to know
/// when to read the whole status.
pub type Fingerprint = Option<(
    String,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    i64,
    i64,
)>;

/// The [`Fingerprint`] of `team`'s connection to `provider`.
pub async fn newest_sync_fingerprint(
    db: &Db,
    team: &TeamId,
    provider: &ProviderId,
    kinds: &[Kind],
) -> Result<Fingerprint> {
    Ok(sqlx::query_as(&format!(
        "SELECT i.id, i.state, j.id, j.state, j.progress_done, j.items, j.attempts, j.updated_at, \
           (SELECT COUNT(*) FROM jobs WHERE installation_id = i.id AND kind IN ({kinds}) \
              AND state IN ('queued', 'running')), \
           (SELECT CAST(COALESCE(SUM(progress_done), 0) AS BIGINT) FROM jobs WHERE installation_id = i.id \
              AND kind IN ({kinds}) AND state IN ('queued', 'running')) \
         FROM installations i LEFT JOIN jobs j ON j.id = (SELECT id FROM jobs \
           WHERE installation_id = i.id AND kind IN ({kinds}) ORDER BY {NEWEST_FIRST} LIMIT 1) \
         WHERE i.team_id = $1 AND i.provider = $2",
        kinds = kinds_sql(kinds)
    ))
    .bind(team.as_str())
    .bind(provider.as_str())
    .fetch_optional(db.pool())
    .await?)
}

/// The newest job of `kinds` of each of `team`'s installations, in one
/// query: what the Integrations page's cards show, read without a query
/// per connection.
/// The newest job of `kinds` of each of the team's installations, by
/// installation, in one query.
pub async fn newest_by_installation(
    db: &Db,
    team: &TeamId,
    kinds: &[Kind],
) -> Result<std::collections::HashMap<InstallationId, Job>> {
    let newest = newest_per_installation(db, team, kinds).await?;
    Ok(newest.into_iter().filter_map(|job| Some((job.installation_id.clone()?, job))).collect())
}

pub async fn newest_per_installation(db: &Db, team: &TeamId, kinds: &[Kind]) -> Result<Vec<Job>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM (SELECT {COLUMNS}, ROW_NUMBER() OVER (PARTITION BY installation_id \
           ORDER BY {NEWEST_FIRST}) AS newest FROM jobs \
           WHERE team_id = $1 AND installation_id IS NOT NULL AND kind IN ({})) ranked \
         WHERE newest = 1",
        kinds_sql(kinds)
    ))
    .bind(team.as_str())
    .fetch_all(db.pool())
    .await?;
    rows.into_iter().map(Job::try_from).collect()
}
