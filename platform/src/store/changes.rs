//! A team's change feed (DESIGN: Delivering records; SECURITY I3): every
//! upsert and removal of a record, appended by the transaction that
//! commits it, in commit order.
//!
//! Sequences are handed out from the team's `change_heads` row after the
//! transaction's writes, and the row stays locked until the commit. A
//! team's sequences therefore become visible in order: when a reader sees
//! a head of `n`, every change up to `n` has committed. [`page`] reads the
//! head first and then changes only up to it, so a change committing
//! meanwhile is left for the next page, never skipped. (A sequence taken
//! from a counter at insert time would not do: a transaction that took 7
//! may commit after one that took 8, and a reader between them would move
//! past 7 for good.)

use sqlx::{AnyConnection, Arguments as _, any::AnyArguments};

use crate::{
    Backend, Db,
    error::{Error, Result},
    ids::{ProviderId, TeamId},
    util::now,
};

/// What a change did to a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Upsert,
    Delete,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Upsert => "upsert",
            Op::Delete => "delete",
        }
    }

    fn parse(s: &str) -> Self {
        if s == "upsert" { Op::Upsert } else { Op::Delete }
    }
}

/// A record as a change carries it: what was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub title: String,
    pub url: String,
    /// JSON.
    pub content: String,
    pub source_updated_at: i64,
    pub synced_at: i64,
}

/// A change about to be appended, inside the transaction that makes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    pub provider: String,
    pub entity_type: String,
    pub entity_id: String,
    /// The record written; `None` for a removal.
    pub record: Option<Snapshot>,
}

/// One change of the feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub seq: i64,
    pub op: Op,
    pub provider: String,
    pub entity_type: String,
    pub entity_id: String,
    pub record: Option<Snapshot>,
    pub committed_at: i64,
}

/// Columns a change row binds, for the statement size.
const COLUMNS: usize = 11;
/// Rows per INSERT: well under both backends' limits on parameters.
const ROWS_PER_STATEMENT: usize = 90;

/// Appends `pending` to the team's feed in the caller's transaction, as
/// its last write: the team's head row is locked from here to the commit
/// (see the module's note), so nothing slow may follow.
pub(crate) async fn append(tx: &mut AnyConnection, team: &TeamId, pending: Vec<Pending>) -> Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    let backend = if tx.backend_name() == "SQLite" { Backend::Sqlite } else { Backend::Postgres };
    // Each active push destination's delivery is queued with the changes
    // (one job waits per destination), before the head is locked.
    for destination in super::push::active_ids(&mut *tx, team).await? {
        super::jobs::enqueue(&mut *tx, &super::jobs::push_job(team, &destination, now())?).await?;
    }
    let count = i64::try_from(pending.len()).unwrap_or(i64::MAX);
    let last: i64 = sqlx::query_scalar(
        "INSERT INTO change_heads (team_id, last_seq) VALUES ($1, $2) ON CONFLICT (team_id) \
         DO UPDATE SET last_seq = change_heads.last_seq + excluded.last_seq RETURNING last_seq",
    )
    .bind(team.as_str())
    .bind(count)
    .fetch_one(&mut *tx)
    .await?;
    let committed_at = now();
    let mut seq = last - count;
    let mut pending = pending.into_iter().peekable();
    while pending.peek().is_some() {
        let chunk: Vec<Pending> = pending.by_ref().take(ROWS_PER_STATEMENT).collect();
        let mut sql = String::from(
            "INSERT INTO changes (team_id, seq, op, provider, entity_type, entity_id, title, url, content, \
             source_updated_at, synced_at, committed_at) VALUES ",
        );
        let mut args = AnyArguments::default();
        args.reserve(chunk.len() * (COLUMNS + 1), 0);
        let mut n = 0;
        for (row, change) in chunk.into_iter().enumerate() {
            if row > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for col in 0..=COLUMNS {
                n += 1;
                if col > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&super::artifacts::placeholder(backend, n));
            }
            sql.push(')');
            seq += 1;
            let op = if change.record.is_some() { Op::Upsert } else { Op::Delete };
            let bound = (|| -> std::result::Result<(), sqlx::error::BoxDynError> {
                args.add(team.as_str().to_owned())?;
                args.add(seq)?;
                args.add(op.as_str())?;
                args.add(change.provider)?;
                args.add(change.entity_type)?;
                args.add(change.entity_id)?;
                match change.record {
                    Some(record) => {
                        args.add(Some(record.title))?;
                        args.add(Some(record.url))?;
                        args.add(Some(record.content))?;
                        args.add(Some(record.source_updated_at))?;
                        args.add(Some(record.synced_at))?;
                    }
                    None => {
                        args.add(None::<String>)?;
                        args.add(None::<String>)?;
                        args.add(None::<String>)?;
                        args.add(None::<i64>)?;
                        args.add(None::<i64>)?;
                    }
                }
                args.add(committed_at)?;
                Ok(())
            })();
            bound.map_err(|e| Error::Database(sqlx::Error::Encode(e)))?;
        }
        sqlx::query_with(&sql, args).execute(&mut *tx).await?;
    }
    Ok(())
}

/// Where a team's feed stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Head {
    /// The last sequence committed (0: none yet).
    pub last_seq: i64,
    /// The last sequence retention removed: a reader must be at or after it.
    pub pruned_through: i64,
}

pub async fn head(db: &Db, team: &TeamId) -> Result<Head> {
    let row: Option<(i64, i64)> =
        sqlx::query_as("SELECT last_seq, pruned_through FROM change_heads WHERE team_id = $1")
            .bind(team.as_str())
            .fetch_optional(db.pool())
            .await?;
    Ok(row.map(|(last_seq, pruned_through)| Head { last_seq, pruned_through }).unwrap_or_default())
}

/// What a page of the feed is filtered to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    pub provider: Option<ProviderId>,
    pub entity_type: Option<String>,
}

/// A page of the feed, and where the next one starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    pub changes: Vec<Change>,
    /// The sequence to read after next time: the last change returned, or,
    /// when the page is not full, the head it was read up to (the changes
    /// a filter passed over are not read again).
    pub next: i64,
}

/// Why a page cannot be served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unservable {
    /// The cursor is before what retention kept: changes after it are gone.
    Expired,
    /// The cursor is after the head: it was not handed out for this team.
    Ahead,
}

/// Up to `limit` of the team's changes after `after`, in sequence order.
pub async fn page(
    db: &Db,
    team: &TeamId,
    after: i64,
    limit: i64,
    filter: &Filter,
) -> Result<std::result::Result<Page, Unservable>> {
    let head = head(db, team).await?;
    if after < head.pruned_through {
        return Ok(Err(Unservable::Expired));
    }
    if after > head.last_seq {
        return Ok(Err(Unservable::Ahead));
    }
    let mut sql = String::from(
        "SELECT seq, op, provider, entity_type, entity_id, title, url, content, source_updated_at, synced_at, \
         committed_at FROM changes WHERE team_id = $1 AND seq > $2 AND seq <= $3",
    );
    let mut n = 3;
    if filter.provider.is_some() {
        n += 1;
        sql.push_str(&format!(" AND provider = ${n}"));
    }
    if filter.entity_type.is_some() {
        n += 1;
        sql.push_str(&format!(" AND entity_type = ${n}"));
    }
    sql.push_str(&format!(" ORDER BY seq LIMIT ${}", n + 1));
    type Row = (
        i64,
        String,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<i64>,
        Option<i64>,
        i64,
    );
    let mut query = sqlx::query_as::<_, Row>(&sql).bind(team.as_str()).bind(after).bind(head.last_seq);
    if let Some(provider) = &filter.provider {
        query = query.bind(provider.as_str());
    }
    if let Some(entity_type) = &filter.entity_type {
        query = query.bind(entity_type.as_str());
    }
    let rows = query.bind(limit).fetch_all(db.pool()).await?;
    // Retention may have run while the rows were read: then some may be
    // missing, and the page is not served.
    if after < self::head(db, team).await?.pruned_through {
        return Ok(Err(Unservable::Expired));
    }
    let full = i64::try_from(rows.len()).unwrap_or(i64::MAX) >= limit;
    let changes: Vec<Change> = rows
        .into_iter()
        .map(|(seq, op, provider, entity_type, entity_id, title, url, content, source_updated_at, synced_at, at)| {
            let op = Op::parse(&op);
            let record = match (op, title, url, content, source_updated_at, synced_at) {
                (Op::Upsert, Some(title), Some(url), Some(content), Some(source_updated_at), Some(synced_at)) => {
                    Some(Snapshot { title, url, content, source_updated_at, synced_at })
                }
                _ => None,
            };
            Change { seq, op, provider, entity_type, entity_id, record, committed_at: at }
        })
        .collect();
    let next = match changes.last() {
        Some(last) if full => last.seq,
        _ => head.last_seq,
    };
    Ok(Ok(Page { changes, next }))
}

/// Removes changes committed before `before` (unix seconds), moving each
/// team's `pruned_through` up to the last one removed, in one
/// transaction. Returns how many were removed.
pub async fn sweep(db: &Db, before: i64) -> Result<u64> {
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "UPDATE change_heads SET pruned_through = (SELECT MAX(c.seq) FROM changes c \
         WHERE c.team_id = change_heads.team_id AND c.committed_at < $1) \
         WHERE EXISTS (SELECT 1 FROM changes c WHERE c.team_id = change_heads.team_id AND c.committed_at < $1)",
    )
    .bind(before)
    .execute(&mut *tx)
    .await?;
    // Exactly the rows counted above: every change at or below a team's
    // `pruned_through` that is kept is never served (a page reads only
    // after it).
    let done = sqlx::query("DELETE FROM changes WHERE committed_at < $1").bind(before).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}
