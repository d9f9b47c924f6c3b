//! The sync runner (DESIGN: Backfill and sync): it takes a claimed
//! `full_backfill` or `incremental` job, pulls pages from the provider's
//! [`Source`], and commits each page's records, its cursor and the job's
//! progress in one transaction ([`artifacts::commit_page`]), so a run
//! killed anywhere resumes from its last commit with nothing lost and
//! nothing duplicated (SECURITY F2).
//!
//! Two cursors are kept beside the connection:
//! - `since`: where the next changes run starts (RFC 3339). A full
//!   backfill sets it to its own start before its first page
//!   (CONNECTOR-RULES 11); a changes run moves it to its own start when it
//!   ends, and starts [`OVERLAP`] before it.
//! - `run`: the position inside the current run, tagged with its job, so
//!   only that job resumes from it and a new full re-sync starts over.
//!
//! A connection syncs as one stream, or as the streams its catalog entry
//! names (`[[api.streams]]`: HubSpot's contacts, companies and deals),
//! each a job of its own with its own cursors (`{stream}.since`,
//! `{stream}.run`, `{stream}.token`), so workers sync them side by side
//! and a full pass of one prunes only its stream's entity types.
//!
//! A full pass ends by removing the records it did not see. Over a
//! listing that cannot shift ([`Listing::Stable`]) they are deleted in its
//! last commit. Over one that can, a live record may have slipped past a
//! page boundary, so the pass goes on to confirm each unseen record by id
//! ([`Source::confirm`]) and deletes only what the provider says is gone
//! or private; this phase is in the `run` cursor too, and resumes
//! (SECURITY F8, CONNECTOR-RULES 36).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use connector_core::{
    breaker::CircuitBreaker,
    budget::{Bucket, RateBudget},
    headers::Signals,
    http::{Call, Class, Credentials, FetchError, RetryPolicy},
    paging::{LoopGuard, parse_instant, utc_rfc3339},
    source::{CONFIRM_BATCH, Change, Context, Listing, Mode, Skipped, Source, Stream, about_asked},
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{
    Platform,
    catalog::{Auth, FieldKind, Provider},
    error::{Error, Result},
    ids::{InstallationId, JobId, ProviderId, TeamId},
    outbound::account::{self, Value, Values},
    store::artifacts::{self, Progress},
    store::installations::{self, Installation},
    store::jobs::{self, ErrorClass, Job, Kind},
    util::{joined, now},
};

/// How far before the stored `since` a changes run starts: records
/// changed while the last run was reading are read again, not missed.
pub const OVERLAP: Duration = Duration::from_secs(120);
/// How long a claim lasts without a heartbeat, unless configured.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);
/// Empty pages in a row that still promise more before a run is stopped
/// (SECURITY F7).
const MAX_EMPTY_PAGES: u32 = 25;
/// Tries of one page when the answer is cut off or the provider keeps
/// failing, on top of the HTTP client's own retries.
const PAGE_TRIES: u32 = 3;
/// The pause before a failed job is tried again: 30 s, doubling with each
/// attempt, at most an hour (the job's own `max_attempts` caps the tries).
const JOB_RETRY: RetryPolicy =
    RetryPolicy { max_attempts: 0, base_delay: Duration::from_secs(30), max_delay: Duration::from_secs(3600) };
/// Records committed together at most: up to ten pages a transaction, so
/// its fixed cost (the begin, the connection check, the cursor, the
/// progress and the commit: a trip to the database's thread each) is
/// shared. Against 500, it raised a backfill's records/s by about a tenth
/// (`scripts/bench-sync.sh`, interleaved runs).
const BATCH_RECORDS: usize = 1000;
/// Pages read ahead of the writer at most: enough to fill the next batch
/// while one commits.
const PAGES_AHEAD: usize = 16;

const SINCE: &str = "since";
const RUN: &str = "run";
/// The change token the provider handed back at the end of the last run.
const TOKEN: &str = "stream";

/// The names a stream's cursors are stored under: the bare names for a
/// connection's one unnamed stream (as before streams), `{stream}.{name}`
/// for a named one.
#[derive(Clone, Debug)]
struct Keys {
    since: String,
    run: String,
    token: String,
}

impl Keys {
    fn of(stream: &str) -> Self {
        let key = |name: &str| if stream.is_empty() { name.to_owned() } else { format!("{stream}.{name}") };
        Self { since: key(SINCE), run: key(RUN), token: key(TOKEN) }
    }
}

/// The kinds of job the runner takes. A prune is a full pass queued by the
/// schedule to find records deleted at the source: like every full pass,
/// it ends by deleting what it did not see (CONNECTOR-RULES 18).
pub const SYNC_KINDS: &[Kind] = Kind::SYNC;

/// How often the schedule makes one of a connection's syncs a full pass
/// (a prune), for providers whose changes listings do not report
/// deletions.
pub const PRUNE_EVERY: Duration = Duration::from_secs(24 * 3600);

/// Where a run is, as stored in the `run` cursor.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
struct Position {
    job: JobId,
    /// `None` for a full pass; the `since` a changes pass asks with.
    since: Option<String>,
    /// Where the next `since` goes when this pass ends.
    next_since: String,
    cursor: Option<String>,
    done: i64,
    items: i64,
    /// Every page is stored, and the records the pass did not see are
    /// being confirmed at the source, in key order after `confirmed_to`.
    #[serde(default)]
    confirming: bool,
    #[serde(default)]
    confirmed_to: Option<(String, String)>,
    /// Records the run could not read and left out (CONNECTOR-RULES 39),
    /// and the first of them, for the admin.
    #[serde(default)]
    skipped: i64,
    #[serde(default)]
    first_skipped: Option<String>,
    /// The change token a page handed back, stored when the run ends.
    #[serde(default, rename = "stream")]
    token: Option<String>,
}

impl Position {
    fn ran(&self) -> Ran {
        Ran {
            pages: 0,
            done: self.done,
            items: self.items,
            skipped: self.skipped,
            first_skipped: self.first_skipped.clone(),
        }
    }

    /// Records written before this (Unix seconds) were not seen by this
    /// full pass. The margin keeps a record written by a replica whose
    /// clock runs a little behind the one that started the pass.
    fn unseen_before(&self) -> Option<i64> {
        parse_instant(&self.next_since).map(|at| (at - OVERLAP).unix_timestamp())
    }
}

/// A page read and made ready to write.
struct Read {
    rows: artifacts::Rows,
    changes: usize,
    upserts: usize,
    next: Option<String>,
    total: Option<u64>,
    skipped: Vec<Skipped>,
    token: Option<String>,
}

/// Each connection's rate budget and circuit breaker, shared by every job
/// of it in this process.
#[derive(Debug, Default)]
pub struct Pacing {
    connections: Mutex<HashMap<(TeamId, String), Arc<Limits>>>,
}

#[derive(Debug)]
struct Limits {
    budget: Option<RateBudget>,
    breaker: CircuitBreaker,
}

impl Pacing {
    fn limits(&self, db: &crate::Db, team: &TeamId, provider: &Provider) -> Arc<Limits> {
        let mut map = self.connections.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry((team.clone(), provider.id.as_str().to_owned()))
            .or_insert_with(|| {
                let budget = provider.rate_limit.as_ref().map(|l| {
                    let key = format!("{}/{}", team.as_str(), provider.id.as_str());
                    let line = |key: String| Arc::new(DbLine { db: db.clone(), key });
                    let per = |seconds: u32| Duration::from_secs(u64::from(seconds.max(1)));
                    let mut budget = RateBudget::new(l.requests, per(l.per_seconds))
                        .with_signals(Signals {
                            remaining_header: l.remaining_header.as_deref().map(str::to_ascii_lowercase),
                            reset_header: l.reset_header.as_deref().map(str::to_ascii_lowercase),
                            reset_format: l.reset_format,
                        })
                        .shared(line(key.clone()));
                    for bucket in &l.buckets {
                        let own = bucket.requests.zip(bucket.per_seconds).map(|(requests, seconds)| {
                            RateBudget::new(requests, per(seconds)).shared(line(format!("{key}{}", bucket.path)))
                        });
                        budget = budget.with_bucket(Bucket::new(&bucket.path, own, bucket.cost));
                    }
                    if let Some(cap) = l.daily {
                        budget = budget.with_daily_cap(cap);
                    }
                    budget
                });
                Arc::new(Limits { budget, breaker: CircuitBreaker::new(5, Duration::from_secs(30)) })
            })
            .clone()
    }
}

/// A connection's line of request slots in the database, which every
/// process syncing it reserves from (SECURITY P3). Times are this
/// machine's wall clock: replicas keep theirs in step (NTP), and a skew
/// of a few milliseconds moves a slot by as much.
#[derive(Debug)]
struct DbLine {
    db: crate::Db,
    key: String,
}

fn unix_ms() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

fn millis(span: Duration) -> i64 {
    i64::try_from(span.as_millis()).unwrap_or(i64::MAX)
}

#[async_trait::async_trait]
impl connector_core::budget::SlotLine for DbLine {
    async fn reserve(&self, count: u32, interval: Duration) -> std::result::Result<Duration, String> {
        let now = unix_ms();
        // Whole milliseconds: a limit over 1,000 a second shares the
        // millisecond a run of them spans.
        let span = millis(interval.saturating_mul(count)).max(1);
        let start =
            crate::store::rate_slots::reserve(&self.db, &self.key, now, span).await.map_err(|e| e.to_string())?;
        Ok(Duration::from_millis(u64::try_from(start - now).unwrap_or(0)))
    }

    async fn hold(&self, wait: Duration) -> std::result::Result<(), String> {
        let until = unix_ms().saturating_add(millis(wait));
        crate::store::rate_slots::hold(&self.db, &self.key, until).await.map_err(|e| e.to_string())
    }

    async fn spend(&self, day: &str, cost: u32) -> std::result::Result<u64, String> {
        let spent = crate::store::rate_slots::spend(&self.db, &self.key, day, i64::from(cost)).await;
        spent.map(|n| u64::try_from(n).unwrap_or(0)).map_err(|e| e.to_string())
    }
}

/// A job that did not finish.
#[derive(Debug)]
pub struct Failure {
    pub class: ErrorClass,
    pub message: String,
    pub retry_in: Duration,
    /// The provider said the stream token expired (CONNECTOR-RULES 37).
    pub stream_expired: bool,
}

impl Failure {
    fn permanent(message: impl Into<String>) -> Self {
        Self { class: ErrorClass::Permanent, message: message.into(), retry_in: Duration::ZERO, stream_expired: false }
    }

    fn fetch(error: FetchError, attempts: i64) -> Self {
        let class = match error.class {
            Class::Transient => ErrorClass::Transient,
            Class::Permanent => ErrorClass::Permanent,
            Class::Partial => ErrorClass::Partial,
            // The runner starts over with a full pass (`pull`).
            Class::StreamExpired => ErrorClass::Transient,
        };
        let backoff = JOB_RETRY.backoff(u32::try_from(attempts).unwrap_or(1));
        let mut message = error.message;
        if class == ErrorClass::Permanent && error.status == Some(401) && !message.contains("reconnect") {
            // What the admin can do about it, on the provider page.
            message.push_str(": replace the credentials, or reconnect, on this page");
        }
        // At least the backoff, and at least what the provider asked for.
        let stream_expired = error.class == Class::StreamExpired;
        Self { class, message, retry_in: error.retry_after.unwrap_or_default().max(backoff), stream_expired }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        tracing::error!(%error, "a sync job failed in the console");
        Self {
            class: ErrorClass::Transient,
            message: "the console could not store the records; it tries again".into(),
            retry_in: Duration::from_secs(30),
            stream_expired: false,
        }
    }
}

/// What a finished run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ran {
    pub pages: u64,
    pub done: i64,
    pub items: i64,
    /// Records left out because they could not be read, and the first.
    pub skipped: i64,
    pub first_skipped: Option<String>,
}

impl Ran {
    /// What the admin is told of the records left out, if any.
    pub fn partial_note(&self) -> Option<String> {
        (self.skipped > 0).then(|| {
            let first = self.first_skipped.as_deref().unwrap_or("unknown");
            match self.skipped {
                1 => format!("1 record could not be read and was left out ({first})"),
                n => format!("{n} records could not be read and were left out; the first: {first}"),
            }
        })
    }
}

/// A connection opened for reading: its installation (checked to be the
/// team's and connected, SECURITY C3), its connector, and what its calls go
/// with.
pub(crate) struct Opened<'a> {
    installation: Installation,
    pub(crate) source: Box<dyn Source>,
    credentials: Box<dyn Credentials + 'a>,
    limits: Arc<Limits>,
    http: connector_core::http::Http,
    base_url: String,
    placement: connector_core::auth::Placement,
    /// The catalog's allowed API hosts that are names, not templates.
    allowed_hosts: Vec<String>,
    stream: Stream,
}

impl Opened<'_> {
    pub(crate) fn context(&self) -> Context<'_> {
        Context {
            http: &self.http,
            call: Call {
                credentials: Some(self.credentials.as_ref()),
                budget: self.limits.budget.as_ref(),
                breaker: Some(&self.limits.breaker),
                // A connector adds its provider's body-level signals.
                body_signals: None,
            },
            base_url: &self.base_url,
            settings: &self.installation.settings,
            token: None,
            stream: &self.stream.name,
            auth: &self.placement,
            allowed_hosts: &self.allowed_hosts,
        }
    }
}

pub(crate) async fn open<'a>(
    platform: &'a Platform,
    team: &'a TeamId,
    provider: &'a Provider,
    installation_id: Option<&InstallationId>,
    stream: Stream,
) -> std::result::Result<Opened<'a>, Failure> {
    let installation = {
        let mut conn = platform.db.pool().acquire().await.map_err(Error::from)?;
        installations::find(&mut conn, team, &provider.id).await?
    };
    let installation = installation
        .filter(|i| installation_id.is_none_or(|id| *id == i.id) && i.is_active())
        .ok_or_else(|| Failure::permanent("the connection this job was for is gone"))?;
    if installation.state == installations::State::NeedsReauth {
        return Err(Failure::permanent("the connection needs to be authorized again; reconnect"));
    }
    let cannot = || Failure::permanent(format!("Patchbay cannot sync {} yet", provider.name));
    let source = crate::connectors::source_for(&provider.id).ok_or_else(cannot)?;
    let credentials = crate::credentials::connector::for_connection(platform, team, provider, &installation.settings)?
        .ok_or_else(cannot)?;
    Ok(Opened {
        base_url: base_url(provider, &installation.settings),
        placement: provider.placement(),
        allowed_hosts: provider.api.allowed_hosts.iter().filter(|h| !h.contains('{')).cloned().collect(),
        installation,
        source,
        credentials,
        stream,
        limits: platform.pacing.limits(&platform.db, team, provider),
        http: platform.http.connector(),
    })
}

/// Runs a claimed sync job to its end, committing as it goes. `on_page`
/// hears of every committed page (the CLI's progress bar).
pub async fn run(
    platform: &Platform,
    job: &Job,
    worker: &str,
    on_page: &(dyn Fn(i64, Option<i64>) + Send + Sync),
) -> std::result::Result<Ran, Failure> {
    let provider = platform.catalog.get(&job.provider).ok_or_else(|| Failure::permanent("the provider is gone"))?;
    let named = job.stream();
    let stream = provider.streams().into_iter().find(|s| s.name == named).ok_or_else(|| {
        Failure::permanent(format!("{} no longer has a stream named \"{named}\"; this job is left", provider.name))
    })?;
    let opened = open(
        platform,
        &job.team_id,
        provider,
        Some(job.installation_id.as_ref().ok_or_else(|| Failure::permanent("the job names no connection"))?),
        stream,
    )
    .await?;

    // Heartbeats keep the lease while pages are read; a lost lease stops
    // the run at its next commit (`commit_page` checks the owner). They
    // stop with the run, however it ends (even dropped mid-page).
    let _beat = {
        let (db, id, worker) = (platform.db.clone(), job.id.clone(), worker.to_owned());
        let lease = platform.job_lease;
        AbortOnDrop(tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                if !matches!(jobs::heartbeat(&db, &id, &worker, lease).await, Ok(true)) {
                    return;
                }
            }
        }))
    };
    pull(platform, job, worker, &opened, &opened.context(), on_page).await
}

/// Reads every page of a full pass of a team's connection and stores
/// nothing: how fast the provider (and the client) can go, for the
/// benchmark's ceiling. Returns the records read.
pub async fn read_only(
    platform: &Platform,
    team: &TeamId,
    provider: &ProviderId,
    on_page: &(dyn Fn(i64, Option<i64>) + Send + Sync),
) -> std::result::Result<i64, Failure> {
    let provider = platform.catalog.get(provider).ok_or_else(|| Failure::permanent("no such provider"))?;
    let mut done = 0i64;
    for stream in provider.streams() {
        let opened = open(platform, team, provider, None, stream).await?;
        let cx = opened.context();
        let mut guard = LoopGuard::new(MAX_EMPTY_PAGES);
        let mut cursor = None;
        loop {
            let page = fetch(opened.source.as_ref(), &cx, Mode::Full, cursor.as_deref(), 1).await?;
            guard
                .page(page.changes.len(), page.next.as_deref())
                .map_err(|stuck| Failure::permanent(stuck.to_string()))?;
            done += i64::try_from(page.changes.len()).unwrap_or(i64::MAX);
            on_page(done, page.total.and_then(|t| i64::try_from(t).ok()));
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    Ok(done)
}

/// A task that ends when its handle is dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The catalog's API base URL filled in with a connection's settings, as
/// the verification request is (`account::fill`): a URL-valued setting (a
/// self-hosted base URL, a host from the token response) goes in whole,
/// any other is percent-encoded so it cannot add a path segment.
fn base_url(provider: &Provider, settings: &std::collections::BTreeMap<String, String>) -> String {
    let is_url = |name: &str| match &provider.auth {
        Auth::ApiKey(credentials) | Auth::Basic(credentials) => {
            credentials.fields.iter().any(|f| f.name == name && f.kind == FieldKind::Url)
        }
        // An OAuth connection keeps only the URLs its token response named.
        _ => true,
    };
    // An OAuth connection's settings are the fields its token response
    // named, which the catalog names as `{token.NAME}` (`api_domain`,
    // `instance_url`).
    let oauth = matches!(provider.auth, Auth::Oauth2(_));
    let values: Values = settings
        .iter()
        .flat_map(|(name, value)| {
            let value =
                || if is_url(name) { Value::url(value) } else { Value::plain(SecretString::from(value.clone())) };
            let token_name = oauth.then(|| (format!("token.{name}"), value()));
            std::iter::once((name.clone(), value())).chain(token_name)
        })
        .collect();
    account::fill(&provider.api.base_url, &values, true)
}

async fn pull(
    platform: &Platform,
    job: &Job,
    worker: &str,
    opened: &Opened<'_>,
    cx: &Context<'_>,
    on_page: &(dyn Fn(i64, Option<i64>) + Send + Sync),
) -> std::result::Result<Ran, Failure> {
    let (installation, source, stream) = (&opened.installation, opened.source.as_ref(), &opened.stream);
    let team = &job.team_id;
    let keys = &Keys::of(&stream.name);
    let target = artifacts::Target {
        entity_types: stream.entity_types.clone(),
        ..artifacts::Target::whole(team, &installation.id, &job.provider)
    };
    let cursors = installations::cursors(&platform.db, team, &installation.id).await?;
    let resumed =
        cursors.get(&keys.run).and_then(|text| serde_json::from_str::<Position>(text).ok()).filter(|p| p.job == job.id);
    let started = OffsetDateTime::now_utc();
    let mut position = match resumed {
        Some(position) => position,
        None => {
            // A changes run needs a `since`; without one it is a full pass.
            let since = cursors.get(&keys.since).filter(|_| job.kind == Kind::Incremental).and_then(|text| {
                let at = parse_instant(text)?;
                Some(utc_rfc3339(at - OVERLAP))
            });
            let position = Position {
                job: job.id.clone(),
                since: since.clone(),
                next_since: utc_rfc3339(started),
                cursor: None,
                done: 0,
                items: 0,
                confirming: false,
                confirmed_to: None,
                skipped: 0,
                first_skipped: None,
                token: None,
            };
            let run = serde_json::to_string(&position).unwrap_or_default();
            // CONNECTOR-RULES 11: a full pass moves `since` to its start
            // first, so what changes while it runs is read afterwards.
            let mut first = vec![(keys.run.as_str(), run.as_str())];
            if since.is_none() {
                first.push((keys.since.as_str(), position.next_since.as_str()));
            }
            let progress = Progress { job: &job.id, worker, done: 0, total: None, items: 0, prune_before: None };
            commit(platform, &target, Vec::new(), &first, progress).await?;
            position
        }
    };
    let mode = match position.since.as_deref().and_then(parse_instant) {
        Some(since) => Mode::Changes { since },
        None => Mode::Full,
    };
    // A changes run resumes the provider's stream where the last run's
    // end left it; a full pass asks for a new one.
    let stored_token = cursors.get(&keys.token).filter(|t| !t.is_empty() && mode != Mode::Full).cloned();
    let cx = &Context { token: stored_token.as_deref(), ..*cx };
    let confirm = mode == Mode::Full && source.listing() == Listing::MayShift;
    let run = Run { platform, job, worker, target: &target, keys, source, cx };
    if position.confirming {
        confirm_unseen(&run, &mut position, job.progress_total).await?;
        return Ok(position.ran());
    }
    // The reader reads pages ahead into a short queue while the writer
    // commits them, so reading and storing overlap. Batches are committed
    // one after another in the order of their pages, each with the cursor
    // after its last page: a crash loses only pages read but not yet
    // committed, and they are read again.
    let (pages, mut queue) = tokio::sync::mpsc::channel(PAGES_AHEAD);
    let read = {
        let (mut cursor, target, backend) = (position.cursor.clone(), target.clone(), platform.db.backend());
        async move {
            loop {
                let read = fetch(source, cx, mode, cursor.as_deref(), job.attempts).await.and_then(|mut page| {
                    // A stream writes and deletes only its own types.
                    if let Some(other) = page.changes.iter().find(|c| !stream.covers(c.key().0)) {
                        return Err(Failure::permanent(format!(
                            "the connector gave a {} record in the \"{}\" stream, which holds only {}",
                            other.key().0,
                            stream.name,
                            stream.entity_types.join(", ")
                        )));
                    }
                    // The page's statements are built here, while the
                    // writer writes the pages before it.
                    let upserts = page.changes.iter().filter(|c| matches!(c, Change::Upsert(_))).count();
                    let changes = page.changes.len();
                    let rows = artifacts::Rows::new(backend, &target, std::mem::take(&mut page.changes))?;
                    Ok(Read {
                        rows,
                        changes,
                        upserts,
                        next: page.next,
                        total: page.total,
                        skipped: page.skipped,
                        token: page.token,
                    })
                });
                cursor = read.as_ref().ok().and_then(|read| read.next.clone());
                // The writer stops the reader by returning; a send fails
                // only then.
                if pages.send(read).await.is_err() || cursor.is_none() {
                    return std::future::pending::<std::convert::Infallible>().await;
                }
            }
        }
    };
    let write = async {
        let mut guard = LoopGuard::new(MAX_EMPTY_PAGES);
        let mut ran = Ran::default();
        let (mut batch, mut batched) = (Vec::new(), 0);
        let mut total = None;
        loop {
            let (finished, failure) = match queue.recv().await {
                Some(Ok(page)) => {
                    guard
                        .page(page.changes, page.next.as_deref())
                        .map_err(|stuck| Failure::permanent(stuck.to_string()))?;
                    position.done += i64::try_from(page.changes).unwrap_or(i64::MAX);
                    position.items += i64::try_from(page.upserts).unwrap_or(i64::MAX);
                    position.cursor = page.next;
                    position.skipped += i64::try_from(page.skipped.len()).unwrap_or(i64::MAX);
                    if position.first_skipped.is_none() {
                        position.first_skipped = page.skipped.first().map(ToString::to_string);
                    }
                    if page.token.is_some() {
                        position.token = page.token;
                    }
                    total = page.total.and_then(|t| i64::try_from(t).ok()).or(total);
                    batch.push(page.rows);
                    batched += page.changes;
                    ran.pages += 1;
                    (position.cursor.is_none(), None)
                }
                Some(Err(failure)) => (false, Some(failure)),
                None => (false, Some(Failure::permanent("the pages stopped coming"))),
            };
            // A batch fills while pages wait in the queue; when the
            // reader is the slower, each page commits as it comes, so
            // progress shows at once. What was read before a failure is
            // kept.
            let full = batched >= BATCH_RECORDS || queue.is_empty();
            if finished || (!batch.is_empty() && (full || failure.is_some())) {
                // A full pass over a listing that may shift goes on to
                // confirm what it did not see, and says so in its position.
                position.confirming = finished && confirm;
                let at = if finished && !confirm {
                    String::new()
                } else {
                    serde_json::to_string(&position).unwrap_or_default()
                };
                let mut cursors = vec![(keys.run.as_str(), at.as_str())];
                if finished && position.since.is_some() {
                    cursors.push((keys.since.as_str(), position.next_since.as_str()));
                }
                if finished && let Some(token) = &position.token {
                    cursors.push((keys.token.as_str(), token.as_str()));
                }
                // A full pass over a stable listing that reached its end
                // has written every record the source still has since it
                // started: the rest are gone there.
                let prune_before =
                    (finished && position.since.is_none() && !confirm).then(|| position.unseen_before()).flatten();
                let progress =
                    Progress { job: &job.id, worker, done: position.done, total, items: position.items, prune_before };
                commit(platform, &target, std::mem::take(&mut batch), &cursors, progress).await?;
                batched = 0;
                on_page(position.done, total);
            }
            if let Some(failure) = failure {
                if failure.stream_expired && mode != Mode::Full {
                    return Err(start_over(&run, &position, total).await);
                }
                return Err(failure);
            }
            if finished {
                return Ok((ran, total));
            }
        }
    };
    let (ran, total) = tokio::select! {
        ran = write => ran?,
        never = read => match never {},
    };
    if position.confirming {
        confirm_unseen(&run, &mut position, total).await?;
    }
    Ok(Ran { pages: ran.pages, ..position.ran() })
}

/// A run's parts, as the phases after the pages need them.
struct Run<'r> {
    platform: &'r Platform,
    job: &'r Job,
    worker: &'r str,
    target: &'r artifacts::Target,
    keys: &'r Keys,
    source: &'r dyn Source,
    cx: &'r Context<'r>,
}

/// A changes run whose stream token expired at the provider
/// (CONNECTOR-RULES 37): what it read is kept; its position, `since` and
/// the token are cleared, so the job's next attempt, at once, is a full
/// pass, and the job says why.
async fn start_over(run: &Run<'_>, position: &Position, total: Option<i64>) -> Failure {
    let Run { platform, job, worker, target, keys, .. } = *run;
    let progress =
        Progress { job: &job.id, worker, done: position.done, total, items: position.items, prune_before: None };
    let cleared = [(keys.run.as_str(), ""), (keys.since.as_str(), ""), (keys.token.as_str(), "")];
    if let Err(failure) = commit(platform, target, Vec::new(), &cleared, progress).await {
        return failure;
    }
    Failure {
        class: ErrorClass::Transient,
        message: "the provider's change token expired, so the next run reads everything again (a full pass)".into(),
        retry_in: Duration::ZERO,
        stream_expired: true,
    }
}

/// The end of a full pass over a listing that may shift (SECURITY F8,
/// CONNECTOR-RULES 36): the records it did not see are looked up at the
/// source, a batch at a time in key order, and each batch's answers are
/// committed with the position after it, so a run stopped here resumes
/// here. A record the source still has is stored again as it is now; one
/// it says is gone or private is deleted; one it says nothing of is kept.
async fn confirm_unseen(
    run: &Run<'_>,
    position: &mut Position,
    total: Option<i64>,
) -> std::result::Result<(), Failure> {
    let Run { platform, job, worker, target, keys, source, cx } = *run;
    let before = position.unseen_before().ok_or_else(|| Failure::permanent("the run's start cannot be read"))?;
    let (mut asked, mut kept, mut removed) = (0usize, 0usize, 0u64);
    loop {
        let unseen =
            artifacts::unseen(&platform.db, target, before, position.confirmed_to.as_ref(), CONFIRM_BATCH).await?;
        let Some(last) = unseen.last() else { break };
        let answered = retrying(cx, job.attempts, || source.confirm(cx, &unseen)).await?;
        let changes = about_asked(&unseen, answered);
        kept += changes.iter().filter(|c| matches!(c, Change::Upsert(_))).count();
        asked += unseen.len();
        position.confirmed_to = Some((last.entity_type.clone(), last.entity_id.clone()));
        let rows = artifacts::Rows::new(platform.db.backend(), target, changes)?;
        let at = serde_json::to_string(&position).unwrap_or_default();
        let progress =
            Progress { job: &job.id, worker, done: position.done, total, items: position.items, prune_before: None };
        removed += commit(platform, target, vec![rows], &[(keys.run.as_str(), at.as_str())], progress).await?.removed;
    }
    let progress =
        Progress { job: &job.id, worker, done: position.done, total, items: position.items, prune_before: None };
    commit(platform, target, Vec::new(), &[(keys.run.as_str(), "")], progress).await?;
    if asked > 0 {
        tracing::info!(job = %job.id, asked, still_there = kept, removed, "confirmed the records the pass did not see");
    }
    Ok(())
}

/// Commits a batch as a task of its own, so that the connection's work
/// for it (encoding, statements, results) runs on another runtime worker
/// while the reader, in the caller's task, reads and parses the next
/// pages. Dropping the returned future aborts the task, which rolls the
/// transaction back, as dropping the write itself would.
async fn commit(
    platform: &Platform,
    target: &artifacts::Target,
    pages: Vec<artifacts::Rows>,
    cursors: &[(&str, &str)],
    progress: Progress<'_>,
) -> std::result::Result<artifacts::Applied, Failure> {
    let (db, target) = (platform.db.clone(), target.clone());
    let cursors: Vec<(String, String)> =
        cursors.iter().map(|&(name, value)| (name.to_owned(), value.to_owned())).collect();
    let (job, worker) = (progress.job.to_owned(), progress.worker.to_owned());
    let Progress { done, total, items, prune_before, .. } = progress;
    let mut task = AbortOnDrop(tokio::spawn(async move {
        let cursors: Vec<(&str, &str)> = cursors.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
        let progress = Progress { job: &job, worker: &worker, done, total, items, prune_before };
        artifacts::commit_rows(&db, &target, pages, &cursors, Some(progress)).await
    }));
    match joined((&mut task.0).await).and_then(|committed| committed) {
        Ok(applied) => Ok(applied),
        Err(Error::LeaseLost) => Err(Failure {
            class: ErrorClass::Transient,
            message: "another worker took this job over".into(),
            retry_in: Duration::ZERO,
            stream_expired: false,
        }),
        Err(Error::NotFound) => Err(Failure::permanent("the connection this job was for is gone")),
        Err(error) => Err(error.into()),
    }
}

/// One page, through [`retrying`].
async fn fetch(
    source: &dyn Source,
    cx: &Context<'_>,
    mode: Mode,
    cursor: Option<&str>,
    attempts: i64,
) -> std::result::Result<connector_core::source::Page, Failure> {
    retrying(cx, attempts, || source.page(cx, mode, cursor)).await
}

/// A call to the provider, tried again when the answer was cut off or the
/// provider kept failing for a moment.
async fn retrying<T, F, Fut>(cx: &Context<'_>, attempts: i64, call: F) -> std::result::Result<T, Failure>
where
    F: Fn() -> Fut,
    Fut: Future<Output = std::result::Result<T, FetchError>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match call().await {
            Ok(answer) => return Ok(answer),
            Err(error) if error.class == Class::Transient && tries < PAGE_TRIES => {
                let wait = error.retry_after.unwrap_or_else(|| cx.http.policy().backoff(tries));
                if wait > cx.http.policy().max_delay {
                    return Err(Failure::fetch(error, attempts));
                }
                tracing::debug!(tries, wait_ms = wait.as_millis(), "reading the page again");
                tokio::time::sleep(wait).await;
            }
            Err(error) => return Err(Failure::fetch(error, attempts)),
        }
    }
}

/// The handler of every sync kind ([`SYNC_KINDS`]) in the job registry.
#[derive(Debug)]
pub struct SyncJobs;

#[async_trait::async_trait]
impl super::JobHandler for SyncJobs {
    fn name(&self) -> &'static str {
        "sync"
    }

    fn kinds(&self) -> &'static [Kind] {
        SYNC_KINDS
    }

    fn lease(&self, platform: &Platform) -> Duration {
        platform.job_lease
    }

    /// Idempotent: a run resumes from its job's committed cursor, and a
    /// page committed twice writes the same records (SECURITY F2).
    async fn run(&self, platform: &Platform, job: &Job, worker: &str) -> Result<jobs::State> {
        finish(platform, job, worker, run(platform, job, worker, &|_, _| {}).await).await
    }

    async fn schedule(&self, platform: &Platform) -> Result<usize> {
        schedule_due(platform).await
    }
}

/// Ends a run: completed, or failed with its class (queued again when it
/// may pass and attempts are left).
pub async fn finish(
    platform: &Platform,
    job: &Job,
    worker: &str,
    outcome: std::result::Result<Ran, Failure>,
) -> Result<jobs::State> {
    match outcome {
        Ok(ran) => {
            tracing::info!(job = %job.id, pages = ran.pages, records = ran.done, skipped = ran.skipped, "sync finished");
            match ran.partial_note() {
                Some(note) => jobs::complete_partly(&platform.db, &job.id, worker, &note).await?,
                None => jobs::complete(&platform.db, &job.id, worker).await?,
            };
            Ok(jobs::State::Completed)
        }
        Err(failure) => {
            tracing::warn!(job = %job.id, class = failure.class.as_str(), reason = %failure.message, "sync stopped");
            let state =
                jobs::fail(&platform.db, &job.id, worker, failure.class, &failure.message, failure.retry_in).await?;
            Ok(state.unwrap_or(jobs::State::Interrupted))
        }
    }
}

/// What [`enqueue`] did for each of a connection's streams, in the
/// catalog's order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queued(pub Vec<jobs::Enqueued>);

impl Queued {
    /// The first stream's job: the only one of a connection that syncs as
    /// one stream.
    pub fn id(&self) -> &JobId {
        self.0[0].id()
    }

    /// Whether any stream's job is new (the others were already live).
    pub fn created_any(&self) -> bool {
        self.0.iter().any(|e| matches!(e, jobs::Enqueued::Created(_)))
    }
}

/// Queues a sync of a team's connection: a job per stream. One sync job
/// per stream is live at a time: asking again while one is queued or
/// running returns that one, so two clicks make one job (SECURITY F6) and
/// two runs never move the same cursors.
pub async fn enqueue(platform: &Platform, team: &TeamId, provider: &ProviderId, kind: Kind) -> Result<Queued> {
    let found = platform.catalog.get(provider).ok_or(Error::NotFound)?;
    let mut tx = platform.db.begin_write().await?;
    let installation =
        installations::find(&mut tx, team, provider).await?.filter(Installation::is_active).ok_or(Error::NotFound)?;
    let mut queued = Vec::new();
    for job in new_jobs(team, found, &installation.id, kind) {
        queued.push(jobs::enqueue(&mut tx, &job).await?);
    }
    tx.commit().await?;
    Ok(Queued(queued))
}

/// Minutes between a connection's incremental syncs, unless its provider's
/// catalog entry sets `api.sync_every_minutes`.
pub const DEFAULT_SYNC_EVERY_MINUTES: u32 = 30;

/// Seconds between a connection's scheduled syncs.
pub(crate) fn interval_seconds(provider: &Provider) -> i64 {
    i64::from(provider.api.sync_every_minutes.unwrap_or(DEFAULT_SYNC_EVERY_MINUTES)) * 60
}

/// Seconds between syncs of a connection whose webhooks are not
/// delivering (its registration or renewal failed), where the provider
/// file asks for faster polling meanwhile; otherwise no limit.
async fn fallback_seconds(platform: &Platform, provider: &Provider, team: &TeamId, id: &InstallationId) -> Result<i64> {
    let Some(minutes) = provider.webhooks.as_ref().and_then(|w| w.fallback_sync_every_minutes) else {
        return Ok(i64::MAX);
    };
    if !platform.webhooks.enabled {
        return Ok(i64::MAX);
    }
    let endpoint = crate::store::webhooks::endpoint_of(&platform.db, team, id).await?;
    let failing = endpoint.is_some_and(|e| e.renew_error.is_some());
    Ok(if failing { i64::from(minutes) * 60 } else { i64::MAX })
}

/// Queues a sync for every connected connection with a connector whose
/// last sync job was queued longer ago than its interval: an incremental
/// one, or a prune once the last full pass is older than [`PRUNE_EVERY`].
/// Several consoles and workers may run this at once: a connection has at
/// most one live sync job (the dedupe key), and one queued within the
/// interval counts, so a schedule makes one job per connection and
/// interval (CONNECTOR-RULES 16). Returns how many were queued.
pub async fn schedule_due(platform: &Platform) -> Result<usize> {
    let connections = installations::syncing_everywhere(&platform.db).await?;
    let mut queued = 0;
    for (id, team, provider) in connections {
        let Some(found) = platform.catalog.get(&provider) else { continue };
        if crate::connectors::source_for(&found.id).is_none() {
            continue;
        }
        let since = now() - interval_seconds(found).min(fallback_seconds(platform, found, &team, &id).await?);
        let mut tx = platform.db.begin_write().await?;
        let (recent, last_full) = jobs::sync_history(&mut tx, &id, SYNC_KINDS, since).await?;
        if recent == 0 {
            let prune_due = last_full.is_none_or(|at| at < now() - i64::try_from(PRUNE_EVERY.as_secs()).unwrap_or(0));
            let kind = if prune_due { Kind::Prune } else { Kind::Incremental };
            for job in new_jobs(&team, found, &id, kind) {
                if let jobs::Enqueued::Created(_) = jobs::enqueue(&mut tx, &job).await? {
                    queued += 1;
                }
            }
        }
        tx.commit().await?;
    }
    Ok(queued)
}

/// A sync job of a connection's one unnamed stream, keyed so that one is
/// live at a time.
pub fn new_job(team: &TeamId, provider: &ProviderId, installation: &InstallationId, kind: Kind) -> jobs::NewJob {
    stream_job(team, provider, installation, kind, "")
}

/// A sync job per stream of a connection ([`Provider::streams`]).
pub fn new_jobs(team: &TeamId, provider: &Provider, installation: &InstallationId, kind: Kind) -> Vec<jobs::NewJob> {
    provider.streams().iter().map(|stream| stream_job(team, &provider.id, installation, kind, &stream.name)).collect()
}

/// A sync job of one stream, keyed so that one is live per stream.
fn stream_job(
    team: &TeamId,
    provider: &ProviderId,
    installation: &InstallationId,
    kind: Kind,
    stream: &str,
) -> jobs::NewJob {
    let (dedupe_key, payload) = if stream.is_empty() {
        (format!("sync:{}", installation.as_str()), serde_json::Value::Null)
    } else {
        (format!("sync:{}:{stream}", installation.as_str()), serde_json::json!({ "stream": stream }))
    };
    jobs::NewJob {
        team: team.clone(),
        provider: provider.to_owned(),
        installation: Some(installation.clone()),
        kind,
        dedupe_key: Some(dedupe_key),
        payload,
        run_after: now(),
        max_attempts: 8,
    }
}

#[cfg(test)]
mod tests {
    use std::{collections::BTreeMap, path::Path};

    use super::*;

    /// A setting that is not a URL cannot change the API path it fills in;
    /// a URL-valued one goes in whole.
    #[test]
    fn settings_fill_the_base_url_encoded_like_the_verification_request() {
        let catalog = crate::catalog::Catalog::load(None, Path::new("/nonexistent")).unwrap();
        let chatwoot = catalog.get(&ProviderId::parse("chatwoot").unwrap()).unwrap();
        let settings = BTreeMap::from([
            ("base_url".to_owned(), "https://chat.example/app".to_owned()),
            ("account_id".to_owned(), "1/../2?x=y".to_owned()),
        ]);
        assert_eq!(base_url(chatwoot, &settings), "https://chat.example/app/api/v1/accounts/1%2F..%2F2%3Fx%3Dy");
    }

    /// An OAuth connection's API is where its token response said, as the
    /// catalog names it (`{token.api_domain}`, `{token.instance_url}`):
    /// found in the settings the connect kept.
    #[test]
    fn token_fields_fill_an_oauth_providers_base_url() {
        let catalog = crate::catalog::Catalog::load(None, Path::new("/nonexistent")).unwrap();
        let pipedrive = catalog.get(&ProviderId::parse("pipedrive").unwrap()).unwrap();
        let settings = BTreeMap::from([("api_domain".to_owned(), "https://acme.pipedrive.com".to_owned())]);
        assert_eq!(base_url(pipedrive, &settings), "https://acme.pipedrive.com/api/v2");
        let salesforce = catalog.get(&ProviderId::parse("salesforce").unwrap()).unwrap();
        let settings = BTreeMap::from([("instance_url".to_owned(), "https://acme.my.salesforce.com".to_owned())]);
        assert_eq!(base_url(salesforce, &settings), "https://acme.my.salesforce.com/services/data/v66.0");
    }
}
