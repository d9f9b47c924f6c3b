//! Synced records (DESIGN: Artifact) and the one write a sync makes per
//! page: its records and the cursor that follows them, in one transaction
//! (SECURITY F1, F2; CONNECTOR-RULES 6, 18).

use std::collections::HashMap;

use connector_core::source::{Change, Unseen};
use sqlx::{Arguments as _, any::AnyArguments, error::BoxDynError};

use crate::{
    Backend, Db,
    error::{Error, Result},
    ids::{InstallationId, JobId, ProviderId, TeamId},
    store::changes::{self, Pending, Snapshot},
    store::installations,
    store::jobs,
    util::now,
};

/// What a page changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub upserted: u64,
    pub removed: u64,
}

/// A job's progress, written with the page it counts.
#[derive(Clone, Copy, Debug)]
pub struct Progress<'a> {
    pub job: &'a JobId,
    pub worker: &'a str,
    pub done: i64,
    pub total: Option<i64>,
    pub items: i64,
    /// On a full pass's last commit: its start (unix seconds). Records not
    /// written since were not seen at the source, so they were deleted
    /// there or are no longer visible, and are deleted here too
    /// (CONNECTOR-RULES 18).
    pub prune_before: Option<i64>,
}

/// Rows per INSERT, seven values each: a page in one statement, well under
/// both backends' limits on parameters.
const ROWS_PER_STATEMENT: usize = 100;

/// 64 bits of SHA-256 over what a record shows: its title, link, content
/// and source time. A write whose digest equals the stored one changes
/// nothing, and is not a change in the feed (a re-sync emits only what
/// really changed).
pub fn digest(title: &str, url: &str, content: &str, source_updated_at: i64) -> i64 {
    use sha2::{Digest as _, Sha256};
    let mut hasher = Sha256::new();
    for part in [title.as_bytes(), url.as_bytes(), content.as_bytes()] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.update(source_updated_at.to_le_bytes());
    let full = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&full[..8]);
    i64::from_le_bytes(first)
}

/// What a written record's `RETURNING` gives back: the feed's snapshot.
type Returned = (String, String, String, String, String, i64, i64);

fn written(
    provider: &str,
    (entity_type, entity_id, title, url, content, source_updated_at, synced_at): Returned,
) -> Pending {
    Pending {
        provider: provider.to_owned(),
        entity_type,
        entity_id,
        record: Some(Snapshot { title, url, content, source_updated_at, synced_at }),
    }
}

fn removed(provider: &str, (entity_type, entity_id): (String, String)) -> Pending {
    Pending { provider: provider.to_owned(), entity_type, entity_id, record: None }
}

/// What a set of rows is written for: a team's connection to a provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub team: TeamId,
    pub installation: InstallationId,
    pub provider: ProviderId,
    /// The entity types of the stream written for (empty: every type): a
    /// full pass's prune and its confirmations touch no others.
    pub entity_types: Vec<String>,
}

impl Target {
    /// Every record of a team's connection.
    pub fn whole(team: &TeamId, installation: &InstallationId, provider: &ProviderId) -> Self {
        Self {
            team: team.clone(),
            installation: installation.clone(),
            provider: provider.clone(),
            entity_types: Vec::new(),
        }
    }

    /// ` AND entity_type IN ($first, …)` for a stream's types, or nothing
    /// for the whole connection; bound by [`Target::bind_types`].
    fn types_sql(&self, first: usize) -> String {
        if self.entity_types.is_empty() {
            return String::new();
        }
        let list: Vec<String> = (first..first + self.entity_types.len()).map(|n| format!("${n}")).collect();
        format!(" AND entity_type IN ({})", list.join(", "))
    }

    fn bind_types<'q, O>(
        &'q self,
        mut query: sqlx::query::QueryAs<'q, sqlx::Any, O, AnyArguments<'q>>,
    ) -> sqlx::query::QueryAs<'q, sqlx::Any, O, AnyArguments<'q>> {
        for entity_type in &self.entity_types {
            query = query.bind(entity_type.as_str());
        }
        query
    }
}

/// A page's changes made ready to write: its statements with their values
/// bound, built without touching the database, so a sync builds the next
/// page's while the one before is written. Only [`commit_rows`] with the
/// same [`Target`] writes them.
pub struct Rows {
    target: Target,
    upserts: Vec<Upsert>,
    removals: Vec<(String, AnyArguments<'static>)>,
}

/// A statement that writes the records of a chunk whose content changed
/// (returning them, for the feed), and one that marks the rest seen.
struct Upsert {
    write: (String, AnyArguments<'static>),
    seen: (String, AnyArguments<'static>),
    count: u64,
}

impl std::fmt::Debug for Rows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rows")
            .field("target", &self.target)
            .field("upserts", &self.upserts.iter().map(|upsert| upsert.count).sum::<u64>())
            .field("removal_statements", &self.removals.len())
            .finish()
    }
}

impl Rows {
    /// A change seen twice in the page is written once, as last seen
    /// (Postgres refuses an upsert that touches a row twice).
    pub fn new(backend: Backend, target: &Target, changes: Vec<Change>) -> Result<Self> {
        let synced_at = now();
        let keep: Vec<bool> = {
            let last: HashMap<_, _> = changes.iter().enumerate().map(|(at, c)| (c.key(), at)).collect();
            changes.iter().enumerate().map(|(at, c)| last[&c.key()] == at).collect()
        };
        let mut records = Vec::new();
        let mut removals = Vec::new();
        for (change, keep) in changes.into_iter().zip(keep) {
            if !keep {
                continue;
            }
            match change {
                Change::Upsert(record) => records.push(record),
                Change::Remove { entity_type, entity_id } => removals.push((entity_type, entity_id)),
            }
        }
        let mut rows = Self { target: target.clone(), upserts: Vec::new(), removals: Vec::new() };
        for chunk in owned_chunks(records) {
            // What every row of the statement shares (the connection, the
            // time) is bound once, not once a row: binding copies each
            // value, and a sync binds every record it stores. `WHERE true`
            // keeps SQLite from reading `ON CONFLICT` as a join's `ON`. A
            // stored record with the same digest is left as it is, so the
            // statement returns exactly the records that changed.
            let sql = format!(
                "INSERT INTO artifacts (team_id, provider, entity_type, entity_id, installation_id, title, url, \
                 content, source_updated_at, digest, synced_at) \
                 SELECT c.team_id, c.provider, v.column1, v.column2, c.installation_id, v.column3, v.column4, \
                 v.column5, v.column6, v.column7, c.synced_at \
                 FROM (SELECT {} AS team_id, {} AS provider, {} AS installation_id, {} AS synced_at) AS c, \
                 (VALUES {}) AS v WHERE true \
                 ON CONFLICT (team_id, provider, entity_type, entity_id) DO UPDATE SET \
                 installation_id = excluded.installation_id, title = excluded.title, url = excluded.url, \
                 content = excluded.content, source_updated_at = excluded.source_updated_at, \
                 digest = excluded.digest, synced_at = excluded.synced_at \
                 WHERE artifacts.digest <> excluded.digest \
                 RETURNING entity_type, entity_id, title, url, content, source_updated_at, synced_at",
                placeholder(backend, 1),
                placeholder(backend, 2),
                placeholder(backend, 3),
                placeholder(backend, 4),
                tuples(backend, 4, chunk.len(), 7)
            );
            // The unchanged rest are marked seen, so a full pass's prune
            // keeps them.
            let seen_sql = format!(
                "UPDATE artifacts SET synced_at = {} WHERE team_id = {} AND provider = {} AND synced_at <> {} \
                 AND (entity_type, entity_id) IN (VALUES {})",
                placeholder(backend, 1),
                placeholder(backend, 2),
                placeholder(backend, 3),
                placeholder(backend, 4),
                tuples(backend, 4, chunk.len(), 2)
            );
            let mut args = AnyArguments::default();
            args.reserve(4 + chunk.len() * 7, 0);
            let mut seen = AnyArguments::default();
            seen.reserve(4 + chunk.len() * 2, 0);
            let count = chunk.len() as u64;
            args.add(target.team.as_str().to_owned()).map_err(bind_error)?;
            args.add(target.provider.as_str().to_owned()).map_err(bind_error)?;
            args.add(target.installation.as_str().to_owned()).map_err(bind_error)?;
            args.add(synced_at).map_err(bind_error)?;
            seen.add(synced_at).map_err(bind_error)?;
            seen.add(target.team.as_str().to_owned()).map_err(bind_error)?;
            seen.add(target.provider.as_str().to_owned()).map_err(bind_error)?;
            seen.add(synced_at).map_err(bind_error)?;
            for record in chunk {
                let content = record.content.to_string();
                let updated_at = record.updated_at.unix_timestamp();
                let digest = digest(&record.title, &record.url, &content, updated_at);
                seen.add(record.entity_type.clone()).map_err(bind_error)?;
                seen.add(record.entity_id.clone()).map_err(bind_error)?;
                args.add(record.entity_type).map_err(bind_error)?;
                args.add(record.entity_id).map_err(bind_error)?;
                args.add(record.title).map_err(bind_error)?;
                args.add(record.url).map_err(bind_error)?;
                args.add(content).map_err(bind_error)?;
                args.add(updated_at).map_err(bind_error)?;
                args.add(digest).map_err(bind_error)?;
            }
            rows.upserts.push(Upsert { write: (sql, args), seen: (seen_sql, seen), count });
        }
        for chunk in owned_chunks(removals) {
            let sql = format!(
                "DELETE FROM artifacts WHERE team_id = {} AND provider = {} AND (entity_type, entity_id) IN (VALUES {}) \
                 RETURNING entity_type, entity_id",
                placeholder(backend, 1),
                placeholder(backend, 2),
                tuples(backend, 2, chunk.len(), 2)
            );
            let mut args = AnyArguments::default();
            args.add(target.team.as_str().to_owned()).map_err(bind_error)?;
            args.add(target.provider.as_str().to_owned()).map_err(bind_error)?;
            for (entity_type, entity_id) in chunk {
                args.add(entity_type).map_err(bind_error)?;
                args.add(entity_id).map_err(bind_error)?;
            }
            rows.removals.push((sql, args));
        }
        Ok(rows)
    }
}

/// `items` in runs of at most [`ROWS_PER_STATEMENT`], moved, not copied.
fn owned_chunks<T>(items: Vec<T>) -> impl Iterator<Item = Vec<T>> {
    let mut items = items.into_iter().peekable();
    std::iter::from_fn(move || items.peek().is_some().then(|| items.by_ref().take(ROWS_PER_STATEMENT).collect()))
}

fn bind_error(error: BoxDynError) -> Error {
    Error::Database(sqlx::Error::Encode(error))
}

/// `count` parenthesised tuples of `width` parameters, numbered from
/// `first + 1`.
fn tuples(backend: Backend, first: usize, count: usize, width: usize) -> String {
    let tuple = |row: usize| {
        let params: Vec<String> = (1..=width).map(|col| placeholder(backend, first + row * width + col)).collect();
        format!("({})", params.join(", "))
    };
    (0..count).map(tuple).collect::<Vec<_>>().join(", ")
}

/// Writes a page's changes, then its cursors and the job's progress, all
/// or nothing: see [`commit_rows`].
pub async fn commit_page(
    db: &Db,
    team: &TeamId,
    installation: &InstallationId,
    provider: &ProviderId,
    changes: &[Change],
    cursors: &[(&str, &str)],
    progress: Option<Progress<'_>>,
) -> Result<Applied> {
    let target = Target::whole(team, installation, provider);
    let rows = Rows::new(db.backend(), &target, changes.to_vec())?;
    commit_rows(db, &target, vec![rows], cursors, progress).await
}

/// Writes pages of rows in order, then the cursors that follow them and
/// the job's progress, all or nothing: a crash or an error anywhere leaves
/// none of it, and the pages are read again. Records are upserted by
/// (team, provider, entity type, entity id), so a page read again changes
/// nothing (F1); removals delete (rule 18). The installation must be the
/// team's and connected (SECURITY C3), and every page must have been made
/// for this target. With `progress`, the job's lease must still be the
/// worker's, or nothing is written and [`Error::LeaseLost`] says so.
pub async fn commit_rows(
    db: &Db,
    target: &Target,
    pages: Vec<Rows>,
    cursors: &[(&str, &str)],
    progress: Option<Progress<'_>>,
) -> Result<Applied> {
    if pages.iter().any(|rows| rows.target != *target) {
        return Err(Error::Invalid { field: "rows".into(), message: "rows made for another connection".into() });
    }
    let (team, installation, provider) = (&target.team, &target.installation, target.provider.as_str());
    let mut tx = db.begin_write().await?;
    if db.backend() == Backend::Postgres {
        // Only this transaction: its commit need not wait for the disk. A
        // server crash may lose the last pages committed, but never a page
        // without its cursor (they are one transaction), so the sync reads
        // them again. SQLite (WAL, synchronous=NORMAL) already works so.
        sqlx::query("SET LOCAL synchronous_commit = off").execute(&mut *tx).await?;
    }
    lock_live(&mut tx, team, installation).await?;
    let mut applied = Applied::default();
    let mut feed = Vec::new();
    for rows in pages {
        for Upsert { write: (sql, args), seen: (seen_sql, seen), count } in rows.upserts {
            let changed: Vec<Returned> = sqlx::query_as_with(&sql, args).fetch_all(&mut *tx).await?;
            if (changed.len() as u64) < count {
                sqlx::query_with(&seen_sql, seen).execute(&mut *tx).await?;
            }
            feed.extend(changed.into_iter().map(|row| written(provider, row)));
            applied.upserted += count;
        }
        for (sql, args) in rows.removals {
            let gone: Vec<(String, String)> = sqlx::query_as_with(&sql, args).fetch_all(&mut *tx).await?;
            applied.removed += gone.len() as u64;
            feed.extend(gone.into_iter().map(|key| removed(provider, key)));
        }
    }
    if let Some(before) = progress.as_ref().and_then(|p| p.prune_before) {
        let sql = format!(
            "DELETE FROM artifacts WHERE team_id = $1 AND provider = $2 AND synced_at < $3{} \
             RETURNING entity_type, entity_id",
            target.types_sql(4)
        );
        let mut delete = sqlx::query_as(&sql).bind(team.as_str()).bind(provider).bind(before);
        for entity_type in &target.entity_types {
            delete = delete.bind(entity_type.as_str());
        }
        let gone: Vec<(String, String)> = delete.fetch_all(&mut *tx).await?;
        applied.removed += gone.len() as u64;
        feed.extend(gone.into_iter().map(|key| removed(provider, key)));
    }
    for (name, value) in cursors {
        installations::put_cursor(&mut tx, team, installation, name, value).await?;
    }
    if let Some(p) = progress
        && !jobs::record_progress(&mut tx, p.job, p.worker, p.done, p.total, p.items).await?
    {
        return Err(Error::LeaseLost);
    }
    if db.change_feed() {
        changes::append(&mut tx, team, feed).await?;
    }
    tx.commit().await?;
    db.checkpoint_soon();
    Ok(applied)
}

/// Checks that the connection is still the team's and connected. The
/// no-op update locks its row, so a disconnect (which deletes the records)
/// is ordered wholly before or after the transaction's writes: records
/// never outlive their connection (SECURITY C3, D-series).
async fn lock_live(tx: &mut sqlx::AnyConnection, team: &TeamId, installation: &InstallationId) -> Result<()> {
    let live = sqlx::query(
        "UPDATE installations SET state = state WHERE id = $1 AND team_id = $2 \
         AND state NOT IN ('disconnected', 'connecting')",
    )
    .bind(installation.as_str())
    .bind(team.as_str())
    .execute(&mut *tx)
    .await?;
    if live.rows_affected() != 1 {
        return Err(Error::NotFound);
    }
    Ok(())
}

/// A change a webhook event reports, and when the event happened (unix
/// seconds), where it says.
#[derive(Clone, Debug, PartialEq)]
pub struct Reported {
    pub change: Change,
    pub at: Option<i64>,
}

/// What one reported change did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    Stored,
    Removed,
    /// Older than what is stored (or than the record's removal): left.
    Stale,
}

/// Writes what webhook events report, in one transaction, never over newer
/// state (CONNECTOR-RULES 42, SECURITY H5): an upsert only replaces a
/// stored record whose `updated_at` is not later, and not one a later
/// event removed; a removal with a time only deletes a record not updated
/// since, and leaves a tombstone so a late event from before it does not
/// bring the record back. Tombstones are kept until `keep_until`.
/// Returns what each change did, in order.
pub async fn apply_newer(db: &Db, target: &Target, reported: &[Reported], keep_until: i64) -> Result<Vec<Written>> {
    let mut tx = db.begin_write().await?;
    let applied = apply_newer_in(&mut tx, db.change_feed(), target, reported, keep_until).await?;
    tx.commit().await?;
    db.checkpoint_soon();
    Ok(applied)
}

/// [`apply_newer`] in the caller's transaction, which may record what it
/// applied in the same commit; `feed`: [`Db::change_feed`].
pub async fn apply_newer_in(
    tx: &mut sqlx::AnyConnection,
    feed_on: bool,
    target: &Target,
    reported: &[Reported],
    keep_until: i64,
) -> Result<Vec<Written>> {
    let (team, installation, provider) = (&target.team, &target.installation, target.provider.as_str());
    lock_live(&mut *tx, team, installation).await?;
    let mut applied = Vec::with_capacity(reported.len());
    let mut feed = Vec::new();
    let synced_at = now();
    for Reported { change, at } in reported {
        match change {
            Change::Upsert(record) => {
                let updated_at = record.updated_at.unix_timestamp();
                let content = record.content.to_string();
                let digest = digest(&record.title, &record.url, &content, updated_at);
                let stored: Option<i64> = sqlx::query_scalar(
                    "SELECT digest FROM artifacts WHERE team_id = $1 AND provider = $2 AND entity_type = $3 \
                     AND entity_id = $4",
                )
                .bind(team.as_str())
                .bind(provider)
                .bind(record.entity_type.as_str())
                .bind(record.entity_id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                if stored == Some(digest) {
                    // Already stored as it is: nothing changed.
                    applied.push(Written::Stored);
                    continue;
                }
                let written: Option<Returned> = sqlx::query_as(
                    "INSERT INTO artifacts (team_id, provider, entity_type, entity_id, installation_id, title, url, \
                     content, source_updated_at, digest, synced_at) \
                     SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 WHERE NOT EXISTS (SELECT 1 FROM \
                     webhook_tombstones WHERE team_id = $1 AND provider = $2 AND entity_type = $3 AND entity_id = $4 \
                     AND removed_at > $9) \
                     ON CONFLICT (team_id, provider, entity_type, entity_id) DO UPDATE SET \
                     installation_id = excluded.installation_id, title = excluded.title, url = excluded.url, \
                     content = excluded.content, source_updated_at = excluded.source_updated_at, \
                     digest = excluded.digest, synced_at = excluded.synced_at \
                     WHERE artifacts.source_updated_at <= excluded.source_updated_at \
                     RETURNING entity_type, entity_id, title, url, content, source_updated_at, synced_at",
                )
                .bind(team.as_str())
                .bind(provider)
                .bind(record.entity_type.as_str())
                .bind(record.entity_id.as_str())
                .bind(installation.as_str())
                .bind(record.title.as_str())
                .bind(record.url.as_str())
                .bind(content)
                .bind(updated_at)
                .bind(digest)
                .bind(synced_at)
                .fetch_optional(&mut *tx)
                .await?;
                match written {
                    Some(row) => {
                        feed.push(self::written(provider, row));
                        applied.push(Written::Stored);
                    }
                    None => applied.push(Written::Stale),
                }
            }
            Change::Remove { entity_type, entity_id } => {
                let deleted: Option<(String, String)> = sqlx::query_as(
                    "DELETE FROM artifacts WHERE team_id = $1 AND provider = $2 AND entity_type = $3 \
                     AND entity_id = $4 AND ($5 IS NULL OR source_updated_at <= $5) RETURNING entity_type, entity_id",
                )
                .bind(team.as_str())
                .bind(provider)
                .bind(entity_type.as_str())
                .bind(entity_id.as_str())
                .bind(*at)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(key) = deleted {
                    feed.push(removed(provider, key));
                } else {
                    let kept = sqlx::query_scalar::<_, i64>(
                        "SELECT COUNT(*) FROM artifacts WHERE team_id = $1 AND provider = $2 AND entity_type = $3 \
                         AND entity_id = $4",
                    )
                    .bind(team.as_str())
                    .bind(provider)
                    .bind(entity_type.as_str())
                    .bind(entity_id.as_str())
                    .fetch_one(&mut *tx)
                    .await?;
                    if kept > 0 {
                        applied.push(Written::Stale);
                        continue;
                    }
                }
                // Deleted now, or not stored: either way it is gone.
                applied.push(Written::Removed);
                let removed_at = at.unwrap_or(synced_at);
                sqlx::query(
                    "INSERT INTO webhook_tombstones (team_id, provider, entity_type, entity_id, removed_at, keep_until) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (team_id, provider, entity_type, entity_id) \
                     DO UPDATE SET removed_at = excluded.removed_at, keep_until = excluded.keep_until \
                     WHERE webhook_tombstones.removed_at < excluded.removed_at",
                )
                .bind(team.as_str())
                .bind(provider)
                .bind(entity_type.as_str())
                .bind(entity_id.as_str())
                .bind(removed_at)
                .bind(keep_until)
                .execute(&mut *tx)
                .await?;
            }
        }
    }
    if feed_on {
        changes::append(&mut *tx, team, feed).await?;
    }
    Ok(applied)
}

/// Parameter `n` of a generated statement. SQLite gets anonymous `?`: its
/// driver looks every `$n` up by name in a list, so binding a statement's
/// parameters takes time growing with their square (a page of 1,000 spent
/// most of a sync's time there, `scripts/bench-sync.sh` showed).
pub(crate) fn placeholder(backend: Backend, n: usize) -> String {
    match backend {
        Backend::Sqlite => "?".to_owned(),
        Backend::Postgres => format!("${n}"),
    }
}

/// Deletes every record of a connection: after a disconnect, nothing it
/// synced stays searchable, and the feed tells its readers to forget each
/// one (with `feed`: [`Db::change_feed`]). Returns how many.
pub async fn delete_all(
    conn: &mut sqlx::AnyConnection,
    feed: bool,
    team: &TeamId,
    provider: &ProviderId,
) -> Result<u64> {
    let gone: Vec<(String, String)> =
        sqlx::query_as("DELETE FROM artifacts WHERE team_id = $1 AND provider = $2 RETURNING entity_type, entity_id")
            .bind(team.as_str())
            .bind(provider.as_str())
            .fetch_all(&mut *conn)
            .await?;
    let count = gone.len() as u64;
    if feed {
        changes::append(conn, team, gone.into_iter().map(|key| removed(provider.as_str(), key)).collect()).await?;
    }
    Ok(count)
}

/// Up to `limit` of a connection's records last written before `before`
/// (Unix seconds), in key order after `after`: what a full pass over a
/// listing that may shift did not see, to be confirmed at the source
/// before anything is deleted (CONNECTOR-RULES 36). The walk follows the
/// primary key, so a batch costs the same however many records there are.
pub async fn unseen(
    db: &Db,
    target: &Target,
    before: i64,
    after: Option<&(String, String)>,
    limit: usize,
) -> Result<Vec<Unseen>> {
    const COLUMNS: &str = "SELECT entity_type, entity_id, content FROM artifacts \
                           WHERE team_id = $1 AND provider = $2 AND synced_at < $3";
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows: Vec<(String, String, String)> = match after {
        None => {
            let sql = format!("{COLUMNS}{} ORDER BY entity_type, entity_id LIMIT $4", target.types_sql(5));
            let query =
                sqlx::query_as(&sql).bind(target.team.as_str()).bind(target.provider.as_str()).bind(before).bind(limit);
            target.bind_types(query).fetch_all(db.pool()).await?
        }
        Some((entity_type, entity_id)) => {
            let sql = format!(
                "{COLUMNS}{} AND (entity_type > $4 OR (entity_type = $4 AND entity_id > $5)) \
                 ORDER BY entity_type, entity_id LIMIT $6",
                target.types_sql(7)
            );
            let query = sqlx::query_as(&sql)
                .bind(target.team.as_str())
                .bind(target.provider.as_str())
                .bind(before)
                .bind(entity_type.as_str())
                .bind(entity_id.as_str())
                .bind(limit);
            target.bind_types(query).fetch_all(db.pool()).await?
        }
    };
    Ok(rows
        .into_iter()
        .map(|(entity_type, entity_id, content)| Unseen {
            entity_type,
            entity_id,
            content: serde_json::from_str(&content).unwrap_or(serde_json::Value::Null),
        })
        .collect())
}

/// A page of a team's records from a provider, newest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Artifact {
    pub entity_type: String,
    pub entity_id: String,
    pub title: String,
    pub url: String,
    pub source_updated_at: i64,
    pub synced_at: i64,
}

/// Records of `team` from `provider`, most recently changed first.
pub async fn list(db: &Db, team: &TeamId, provider: &ProviderId, limit: i64, offset: i64) -> Result<Vec<Artifact>> {
    let rows: Vec<(String, String, String, String, i64, i64)> = sqlx::query_as(
        "SELECT entity_type, entity_id, title, url, source_updated_at, synced_at FROM artifacts \
         WHERE team_id = $1 AND provider = $2 ORDER BY source_updated_at DESC, entity_id LIMIT $3 OFFSET $4",
    )
    .bind(team.as_str())
    .bind(provider.as_str())
    .bind(limit)
    .bind(offset)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(entity_type, entity_id, title, url, source_updated_at, synced_at)| Artifact {
            entity_type,
            entity_id,
            title,
            url,
            source_updated_at,
            synced_at,
        })
        .collect())
}

/// The entity ids of a team's records from a provider, sorted; for tests
/// and checks that compare with the source.
pub async fn ids(db: &Db, team: &TeamId, provider: &ProviderId) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar("SELECT entity_id FROM artifacts WHERE team_id = $1 AND provider = $2 ORDER BY entity_id")
        .bind(team.as_str())
        .bind(provider.as_str())
        .fetch_all(db.pool())
        .await?)
}

/// How many records of each entity type a team holds from a provider.
pub async fn counts(db: &Db, team: &TeamId, provider: &ProviderId) -> Result<Vec<(String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT entity_type, COUNT(*) FROM artifacts WHERE team_id = $1 AND provider = $2 \
         GROUP BY entity_type ORDER BY entity_type",
    )
    .bind(team.as_str())
    .bind(provider.as_str())
    .fetch_all(db.pool())
    .await?)
}

/// How many records of each provider and entity type a team holds.
pub async fn counts_by_provider(db: &Db, team: &TeamId) -> Result<Vec<(String, String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT provider, entity_type, COUNT(*) FROM artifacts WHERE team_id = $1 \
         GROUP BY provider, entity_type ORDER BY provider, entity_type",
    )
    .bind(team.as_str())
    .fetch_all(db.pool())
    .await?)
}

/// A record as the records API and MCP serve it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub provider: String,
    pub entity_type: String,
    pub entity_id: String,
    pub title: String,
    pub url: String,
    /// JSON.
    pub content: String,
    pub source_updated_at: i64,
    pub synced_at: i64,
}

type StoredRow = (String, String, String, String, String, String, i64, i64);

const STORED: &str =
    "a.provider, a.entity_type, a.entity_id, a.title, a.url, a.content, a.source_updated_at, a.synced_at";

fn stored((provider, entity_type, entity_id, title, url, content, source_updated_at, synced_at): StoredRow) -> Stored {
    Stored { provider, entity_type, entity_id, title, url, content, source_updated_at, synced_at }
}

/// What a page of records is filtered to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    pub provider: Option<ProviderId>,
    pub entity_type: Option<String>,
    /// Only records the source changed at or after this (unix seconds).
    pub updated_since: Option<i64>,
}

/// A record's key, the records API's keyset position.
pub type Key = (String, String, String);

/// Up to `limit` of the team's records after `after` in key order
/// (provider, entity type, entity id): a walk that costs the same per page
/// however far it has come, and misses no record that stays.
pub async fn page(db: &Db, team: &TeamId, filter: &Filter, after: Option<&Key>, limit: i64) -> Result<Vec<Stored>> {
    let mut sql = format!("SELECT {STORED} FROM artifacts a WHERE a.team_id = $1");
    let mut n = 1;
    let mut next = |sql: &mut String, clause: &str| {
        n += 1;
        sql.push_str(&clause.replace("$n", &format!("${n}")));
    };
    if filter.provider.is_some() {
        next(&mut sql, " AND a.provider = $n");
    }
    if filter.entity_type.is_some() {
        next(&mut sql, " AND a.entity_type = $n");
    }
    if filter.updated_since.is_some() {
        next(&mut sql, " AND a.source_updated_at >= $n");
    }
    if after.is_some() {
        let (p, t, i) = (n + 1, n + 2, n + 3);
        n += 3;
        sql.push_str(&format!(
            " AND (a.provider > ${p} OR (a.provider = ${p} AND (a.entity_type > ${t} OR \
             (a.entity_type = ${t} AND a.entity_id > ${i}))))"
        ));
    }
    sql.push_str(&format!(" ORDER BY a.provider, a.entity_type, a.entity_id LIMIT ${}", n + 1));
    let mut query = sqlx::query_as::<_, StoredRow>(&sql).bind(team.as_str());
    if let Some(provider) = &filter.provider {
        query = query.bind(provider.as_str());
    }
    if let Some(entity_type) = &filter.entity_type {
        query = query.bind(entity_type.as_str());
    }
    if let Some(since) = filter.updated_since {
        query = query.bind(since);
    }
    if let Some((provider, entity_type, entity_id)) = after {
        query = query.bind(provider.as_str()).bind(entity_type.as_str()).bind(entity_id.as_str());
    }
    Ok(query.bind(limit).fetch_all(db.pool()).await?.into_iter().map(stored).collect())
}

/// One of the team's records.
pub async fn get(db: &Db, team: &TeamId, provider: &str, entity_type: &str, entity_id: &str) -> Result<Option<Stored>> {
    let row: Option<StoredRow> = sqlx::query_as(&format!(
        "SELECT {STORED} FROM artifacts a WHERE a.team_id = $1 AND a.provider = $2 AND a.entity_type = $3 \
         AND a.entity_id = $4"
    ))
    .bind(team.as_str())
    .bind(provider)
    .bind(entity_type)
    .bind(entity_id)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.map(stored))
}

/// The team's records matching every word of `words`, best first, with a
/// score (higher is better): SQLite's FTS5 index ranked by BM25, or
/// Postgres's full-text index ranked by `ts_rank`, both over the title
/// (weighted up) and the text of the content.
pub async fn search(
    db: &Db,
    team: &TeamId,
    words: &[String],
    provider: Option<&ProviderId>,
    limit: i64,
) -> Result<Vec<(Stored, f64)>> {
    if words.is_empty() {
        return Ok(Vec::new());
    }
    let by_provider = if provider.is_some() { " AND a.provider = $3" } else { "" };
    let limit_at = if provider.is_some() { 4 } else { 3 };
    let (sql, query) = match db.backend() {
        Backend::Sqlite => {
            // Each word a quoted string: FTS5's operators in what was
            // typed are read as text.
            let quoted: Vec<String> = words.iter().map(|w| format!("\"{}\"", w.replace('"', "\"\""))).collect();
            (
                format!(
                    "SELECT {STORED}, -bm25(artifacts_search, 10.0, 1.0) AS score FROM artifacts_search s \
                     JOIN artifacts a ON a.rowid = s.rowid WHERE artifacts_search MATCH $1 AND a.team_id = $2\
                     {by_provider} ORDER BY score DESC, a.entity_id LIMIT ${limit_at}"
                ),
                quoted.join(" "),
            )
        }
        Backend::Postgres => (
            format!(
                "SELECT {STORED}, CAST(ts_rank(a.search, q) AS DOUBLE PRECISION) AS score FROM artifacts a, \
                 plainto_tsquery('simple', $1) q WHERE a.search @@ q AND a.team_id = $2{by_provider} \
                 ORDER BY score DESC, a.entity_id LIMIT ${limit_at}"
            ),
            words.join(" "),
        ),
    };
    type Scored = (String, String, String, String, String, String, i64, i64, f64);
    let mut q = sqlx::query_as::<_, Scored>(&sql).bind(query).bind(team.as_str());
    if let Some(provider) = provider {
        q = q.bind(provider.as_str());
    }
    let rows = q.bind(limit).fetch_all(db.pool()).await?;
    Ok(rows
        .into_iter()
        .map(|(provider, entity_type, entity_id, title, url, content, source_updated_at, synced_at, score)| {
            (stored((provider, entity_type, entity_id, title, url, content, source_updated_at, synced_at)), score)
        })
        .collect())
}
