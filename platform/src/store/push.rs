//! A team's push destinations (DESIGN: Delivering records; SECURITY I4):
//! where the change feed is delivered, how far it has been, and how the
//! last attempt went.

use sqlx::AnyConnection;

use crate::{
    Db,
    error::Result,
    ids::{TeamId, UserId},
    util::now,
};

/// Whether a destination is delivered to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Active,
    /// Gave up after failing too often in a row: the batch waits for an
    /// admin's Retry (a dead letter).
    Dead,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Active => "active",
            State::Dead => "dead",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    pub id: String,
    pub team_id: TeamId,
    pub url: String,
    pub state: State,
    pub delivered_seq: i64,
    pub failures: i64,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<i64>,
    pub last_delivered_at: Option<i64>,
    pub created_at: i64,
}

type Row = (String, String, String, String, i64, i64, Option<String>, Option<i64>, Option<i64>, i64);

const COLUMNS: &str = "id, team_id, url, state, delivered_seq, failures, last_error, last_attempt_at, \
                       last_delivered_at, created_at";

fn from_row(
    (id, team_id, url, state, delivered_seq, failures, last_error, last_attempt_at, last_delivered_at, created_at): Row,
) -> Result<Destination> {
    Ok(Destination {
        id,
        team_id: TeamId::parse(&team_id)?,
        url,
        state: if state == "dead" { State::Dead } else { State::Active },
        delivered_seq,
        failures,
        last_error,
        last_attempt_at,
        last_delivered_at,
        created_at,
    })
}

/// Adds a destination that starts after `from_seq`. Returns false when
/// the team has one at this URL already.
pub async fn insert(
    conn: &mut AnyConnection,
    id: &str,
    team: &TeamId,
    url: &str,
    from_seq: i64,
    by: &UserId,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO push_destinations (id, team_id, url, state, delivered_seq, failures, created_by, created_at) \
         VALUES ($1, $2, $3, 'active', $4, 0, $5, $6) ON CONFLICT (team_id, url) DO NOTHING",
    )
    .bind(id)
    .bind(team.as_str())
    .bind(url)
    .bind(from_seq)
    .bind(by.as_str())
    .bind(now())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn list(db: &Db, team: &TeamId) -> Result<Vec<Destination>> {
    let rows: Vec<Row> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM push_destinations WHERE team_id = $1 ORDER BY created_at, id"))
            .bind(team.as_str())
            .fetch_all(db.pool())
            .await?;
    rows.into_iter().map(from_row).collect()
}

pub async fn get(db: &Db, team: &TeamId, id: &str) -> Result<Option<Destination>> {
    let row: Option<Row> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM push_destinations WHERE team_id = $1 AND id = $2"))
            .bind(team.as_str())
            .bind(id)
            .fetch_optional(db.pool())
            .await?;
    row.map(from_row).transpose()
}

/// The ids of the team's active destinations.
pub async fn active_ids(conn: &mut AnyConnection, team: &TeamId) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar("SELECT id FROM push_destinations WHERE team_id = $1 AND state = 'active'")
        .bind(team.as_str())
        .fetch_all(conn)
        .await?)
}

/// Active destinations behind their team's feed, with their team.
pub async fn behind(db: &Db) -> Result<Vec<(String, TeamId)>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT d.id, d.team_id FROM push_destinations d JOIN change_heads h ON h.team_id = d.team_id \
         WHERE d.state = 'active' AND d.delivered_seq < h.last_seq",
    )
    .fetch_all(db.pool())
    .await?;
    rows.into_iter().map(|(id, team)| Ok((id, TeamId::parse(&team)?))).collect()
}

/// Records that the destination acknowledged everything up to `to_seq`,
/// having been at `from_seq`. False when another delivery moved it first.
pub async fn delivered(db: &Db, team: &TeamId, id: &str, from_seq: i64, to_seq: i64) -> Result<bool> {
    let at = now();
    let done = sqlx::query(
        "UPDATE push_destinations SET delivered_seq = $4, failures = 0, last_error = NULL, last_attempt_at = $5, \
         last_delivered_at = $5 WHERE team_id = $1 AND id = $2 AND delivered_seq = $3",
    )
    .bind(team.as_str())
    .bind(id)
    .bind(from_seq)
    .bind(to_seq)
    .bind(at)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a failed attempt; with `dead`, gives up on the destination
/// until an admin retries. Returns the failures in a row.
pub async fn failed(db: &Db, team: &TeamId, id: &str, error: &str, dead_after: i64) -> Result<(i64, State)> {
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "UPDATE push_destinations SET failures = failures + 1, last_error = $3, last_attempt_at = $4, \
         state = CASE WHEN failures + 1 >= $5 THEN 'dead' ELSE state END WHERE team_id = $1 AND id = $2",
    )
    .bind(team.as_str())
    .bind(id)
    .bind(error)
    .bind(now())
    .bind(dead_after)
    .execute(&mut *tx)
    .await?;
    let (failures, state): (i64, String) =
        sqlx::query_as("SELECT failures, state FROM push_destinations WHERE team_id = $1 AND id = $2")
            .bind(team.as_str())
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok((failures, if state == "dead" { State::Dead } else { State::Active }))
}

/// Makes a dead destination active again, its failures forgotten.
pub async fn revive(conn: &mut AnyConnection, team: &TeamId, id: &str) -> Result<bool> {
    let done =
        sqlx::query("UPDATE push_destinations SET state = 'active', failures = 0 WHERE team_id = $1 AND id = $2")
            .bind(team.as_str())
            .bind(id)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete(conn: &mut AnyConnection, team: &TeamId, id: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM push_destinations WHERE team_id = $1 AND id = $2")
        .bind(team.as_str())
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}
