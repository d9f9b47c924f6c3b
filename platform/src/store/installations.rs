//! Installations: a team's connection to one provider, with the account it
//! reaches, its non-secret settings and its sync cursors. Every query names
//! the team (SECURITY C1, C3); the secrets live in the secret store.

use std::collections::BTreeMap;

use sqlx::AnyConnection;
use time::OffsetDateTime;

use crate::{
    Db,
    error::{Error, Result},
    ids::{InstallationId, ProviderId, TeamId, UserId},
    util::{now, random_id},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// A connect is storing its secrets; not connected yet.
    Connecting,
    Connected,
    Syncing,
    /// The grant is dead; an admin must connect again.
    NeedsReauth,
    /// A permanent failure; the provider page says which.
    Error,
    Disconnected,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Connecting => "connecting",
            State::Connected => "connected",
            State::Syncing => "syncing",
            State::NeedsReauth => "needs_reauth",
            State::Error => "error",
            State::Disconnected => "disconnected",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "connecting" => State::Connecting,
            "connected" => State::Connected,
            "syncing" => State::Syncing,
            "needs_reauth" => State::NeedsReauth,
            "error" => State::Error,
            "disconnected" => State::Disconnected,
            other => return Err(Error::Corrupt { what: format!("installation state `{other}`") }),
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Installation {
    pub id: InstallationId,
    pub team_id: TeamId,
    pub provider: ProviderId,
    pub state: State,
    pub account_id: String,
    pub display_name: String,
    /// The non-secret fields of the credential form, by field name.
    pub settings: BTreeMap<String, String>,
    /// The name of whoever connected it, while they are in the team.
    pub connected_by: Option<String>,
    pub connected_at: Option<OffsetDateTime>,
    pub updated_at: OffsetDateTime,
}

impl Installation {
    /// Connected, in whatever condition: not disconnected, and not still
    /// being connected.
    pub fn is_active(&self) -> bool {
        !matches!(self.state, State::Disconnected | State::Connecting)
    }
}

/// How long a connect may hold its claim before another may take it over
/// (the first one crashed between storing secrets and finishing).
pub const CLAIM_SECONDS: i64 = 300;

/// What a connect or an edit records about the account reached.
#[derive(Clone, Debug)]
pub struct Link<'a> {
    pub account_id: &'a str,
    pub display_name: &'a str,
    pub settings: &'a BTreeMap<String, String>,
}

fn timestamp(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

type Row = (String, String, String, String, String, String, String, Option<String>, Option<i64>, i64);

const SELECT: &str = "SELECT i.id, i.team_id, i.provider, i.state, i.account_id, i.display_name, i.settings, \
                      u.name, i.connected_at, i.updated_at FROM installations i \
                      LEFT JOIN users u ON u.id = i.connected_by AND u.team_id = i.team_id";

fn from_row(row: Row) -> Result<Installation> {
    let (id, team, provider, state, account_id, display_name, settings, by, connected_at, updated_at) = row;
    Ok(Installation {
        id: InstallationId::parse(&id)?,
        team_id: TeamId::parse(&team)?,
        provider: ProviderId::parse(&provider)
            .map_err(|_| Error::Corrupt { what: "an installation's provider".into() })?,
        state: State::parse(&state)?,
        account_id,
        display_name,
        settings: serde_json::from_str(&settings).unwrap_or_default(),
        connected_by: by,
        connected_at: connected_at.map(timestamp),
        updated_at: timestamp(updated_at),
    })
}

/// This team's installation of a provider, in any state.
pub async fn find(conn: &mut AnyConnection, team: &TeamId, provider: &ProviderId) -> Result<Option<Installation>> {
    let row: Option<Row> = sqlx::query_as(&format!("{SELECT} WHERE i.team_id = $1 AND i.provider = $2"))
        .bind(team.as_str())
        .bind(provider.as_str())
        .fetch_optional(conn)
        .await?;
    row.map(from_row).transpose()
}

/// Every team's connections that a schedule may sync (connected, syncing
/// or in error), as (installation, team, provider).
pub async fn syncing_everywhere(db: &Db) -> Result<Vec<(InstallationId, TeamId, ProviderId)>> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT id, team_id, provider FROM installations WHERE state IN ('connected', 'syncing', 'error')",
    )
    .fetch_all(db.pool())
    .await?;
    rows.into_iter()
        .map(|(id, team, provider)| {
            let corrupt = |what: &str| Error::Corrupt { what: format!("an installation's {what}") };
            Ok((
                InstallationId::parse(&id).map_err(|_| corrupt("id"))?,
                TeamId::parse(&team).map_err(|_| corrupt("team"))?,
                ProviderId::parse(&provider).map_err(|_| corrupt("provider"))?,
            ))
        })
        .collect()
}

/// The team's installations that are not disconnected, by provider.
pub async fn list_active(db: &Db, team: &TeamId) -> Result<Vec<Installation>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "{SELECT} WHERE i.team_id = $1 AND i.state NOT IN ('disconnected', 'connecting') ORDER BY i.provider"
    ))
    .bind(team.as_str())
    .fetch_all(db.pool())
    .await?;
    rows.into_iter().map(from_row).collect()
}

/// A connect's hold on an installation row: only the connect holding it
/// can finish or give it up, even after another connect took over a
/// lapsed claim.
#[derive(Clone, Debug)]
pub struct Claim {
    pub id: InstallationId,
    token: String,
    /// The account the row was linked to before (a re-auth keeps it).
    pub prior_account: String,
}

/// Claims the installation for a connect: creates it, or takes a
/// disconnected one or one that needs re-auth (a reconnect keeps the row),
/// in the `connecting` state. Only one connect holds the claim; another,
/// concurrent one is refused before it stores anything.
pub async fn claim(conn: &mut AnyConnection, team: &TeamId, provider: &ProviderId) -> Result<Claim> {
    let now = now();
    let token = random_id();
    let taken: Option<(String, String)> = sqlx::query_as(
        "UPDATE installations SET \
         prior_state = CASE WHEN state = 'connecting' THEN prior_state ELSE state END, \
         state = 'connecting', claim = $1, updated_at = $2 \
         WHERE team_id = $3 AND provider = $4 \
         AND (state IN ('disconnected', 'needs_reauth') OR (state = 'connecting' AND updated_at < $5)) \
         RETURNING id, account_id",
    )
    .bind(&token)
    .bind(now)
    .bind(team.as_str())
    .bind(provider.as_str())
    .bind(now - CLAIM_SECONDS)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((id, prior_account)) = taken {
        return Ok(Claim { id: InstallationId::parse(&id)?, token, prior_account });
    }
    let id = InstallationId::new();
    let inserted = sqlx::query(
        "INSERT INTO installations \
         (id, team_id, provider, state, account_id, display_name, settings, claim, prior_state, updated_at) \
         VALUES ($1, $2, $3, 'connecting', '', '', '{}', $4, 'disconnected', $5) \
         ON CONFLICT (team_id, provider) DO NOTHING",
    )
    .bind(id.as_str())
    .bind(team.as_str())
    .bind(provider.as_str())
    .bind(&token)
    .bind(now)
    .execute(conn)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(Error::Refused("It is connected already, or being connected right now.".into()));
    }
    Ok(Claim { id, token, prior_account: String::new() })
}

/// Finishes a claimed connect: the installation is connected to `link`'s account.
pub async fn complete(
    conn: &mut AnyConnection,
    team: &TeamId,
    claim: &Claim,
    link: &Link<'_>,
    by: &UserId,
) -> Result<()> {
    let settings = serde_json::to_string(link.settings).unwrap_or_else(|_| "{}".into());
    let done = sqlx::query(
        "UPDATE installations SET state = 'connected', account_id = $1, display_name = $2, settings = $3, \
         connected_by = $4, connected_at = $5, updated_at = $5, claim = NULL, prior_state = NULL \
         WHERE id = $6 AND team_id = $7 AND state = 'connecting' AND claim = $8",
    )
    .bind(link.account_id)
    .bind(link.display_name)
    .bind(&settings)
    .bind(by.as_str())
    .bind(now())
    .bind(claim.id.as_str())
    .bind(team.as_str())
    .bind(&claim.token)
    .execute(conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::Refused("The connect took too long and was taken over; try again.".into()));
    }
    Ok(())
}

/// Whether `claim` still holds its row (nobody took a lapsed claim over).
pub async fn holds(conn: &mut AnyConnection, team: &TeamId, claim: &Claim) -> Result<bool> {
    let held: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM installations WHERE id = $1 AND team_id = $2 AND state = 'connecting' AND claim = $3",
    )
    .bind(claim.id.as_str())
    .bind(team.as_str())
    .bind(&claim.token)
    .fetch_optional(conn)
    .await?;
    Ok(held.is_some())
}

/// Gives up a claim: the installation goes back to the state it was in.
/// Whether it still held the claim (a taken-over claim is left alone).
pub async fn release(conn: &mut AnyConnection, team: &TeamId, claim: &Claim) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE installations SET state = COALESCE(prior_state, 'disconnected'), claim = NULL, \
         prior_state = NULL, updated_at = $1 \
         WHERE id = $2 AND team_id = $3 AND state = 'connecting' AND claim = $4",
    )
    .bind(now())
    .bind(claim.id.as_str())
    .bind(team.as_str())
    .bind(&claim.token)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records the account and settings of an active installation.
pub async fn relink(conn: &mut AnyConnection, team: &TeamId, id: &InstallationId, link: &Link<'_>) -> Result<()> {
    let settings = serde_json::to_string(link.settings).unwrap_or_else(|_| "{}".into());
    let done = sqlx::query(
        "UPDATE installations SET account_id = $1, display_name = $2, settings = $3, updated_at = $4 \
         WHERE id = $5 AND team_id = $6 AND state NOT IN ('disconnected', 'connecting')",
    )
    .bind(link.account_id)
    .bind(link.display_name)
    .bind(settings)
    .bind(now())
    .bind(id.as_str())
    .bind(team.as_str())
    .execute(conn)
    .await?;
    if done.rows_affected() == 0 { Err(Error::NotFound) } else { Ok(()) }
}

/// Marks a connection whose grant is dead: an admin must connect again.
pub async fn mark_needs_reauth(conn: &mut AnyConnection, team: &TeamId, id: &InstallationId) -> Result<()> {
    sqlx::query(
        "UPDATE installations SET state = 'needs_reauth', updated_at = $1 \
         WHERE id = $2 AND team_id = $3 AND state IN ('connected', 'syncing', 'error')",
    )
    .bind(now())
    .bind(id.as_str())
    .bind(team.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks it disconnected and forgets its account and settings.
pub async fn mark_disconnected(conn: &mut AnyConnection, team: &TeamId, id: &InstallationId) -> Result<()> {
    sqlx::query(
        "UPDATE installations SET state = 'disconnected', account_id = '', display_name = '', settings = '{}', \
         connected_by = NULL, connected_at = NULL, updated_at = $1 WHERE id = $2 AND team_id = $3",
    )
    .bind(now())
    .bind(id.as_str())
    .bind(team.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// Saves a cursor of an installation of `team`; [`Error::NotFound`] if it
/// is not the team's. One statement: a sync saves its cursor with every
/// batch it commits.
pub async fn put_cursor(
    conn: &mut AnyConnection,
    team: &TeamId,
    id: &InstallationId,
    name: &str,
    value: &str,
) -> Result<()> {
    let saved = sqlx::query(
        "INSERT INTO cursors (installation_id, name, value, updated_at) \
         SELECT id, $1, $2, $3 FROM installations WHERE id = $4 AND team_id = $5 \
         ON CONFLICT (installation_id, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(name)
    .bind(value)
    .bind(now())
    .bind(id.as_str())
    .bind(team.as_str())
    .execute(conn)
    .await?;
    if saved.rows_affected() == 0 {
        return Err(Error::NotFound);
    }
    Ok(())
}

/// The cursors of an installation of `team`, by name.
pub async fn cursors(db: &Db, team: &TeamId, id: &InstallationId) -> Result<BTreeMap<String, String>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.name, c.value FROM cursors c JOIN installations i ON i.id = c.installation_id \
         WHERE c.installation_id = $1 AND i.team_id = $2",
    )
    .bind(id.as_str())
    .bind(team.as_str())
    .fetch_all(db.pool())
    .await?;
    Ok(rows.into_iter().collect())
}

/// Deletes every cursor of an installation of `team`; how many went.
pub async fn clear_cursors(conn: &mut AnyConnection, team: &TeamId, id: &InstallationId) -> Result<u64> {
    let done = sqlx::query(
        "DELETE FROM cursors WHERE installation_id = $1 \
         AND installation_id IN (SELECT id FROM installations WHERE team_id = $2)",
    )
    .bind(id.as_str())
    .bind(team.as_str())
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
