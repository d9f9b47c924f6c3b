//! The `oauth_transactions` table: one row per OAuth connect under way,
//! tied to the browser session and used once (SECURITY A1, A2). State and
//! session are kept as digests only.

use sqlx::AnyConnection;

use crate::{
    Db,
    error::Result,
    ids::{TeamId, UserId},
};

/// A connect under way, as stored.
#[derive(Debug)]
pub struct NewTransaction<'a> {
    pub state_hash: &'a str,
    pub session_hash: &'a str,
    pub team: &'a TeamId,
    pub user: &'a UserId,
    pub provider: &'a str,
    /// The PKCE verifier, where the provider takes one.
    pub verifier: Option<&'a str>,
    pub redirect_uri: &'a str,
    pub return_to: &'a str,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A transaction as [`take`] takes it out of the table.
#[derive(Debug)]
pub struct Transaction {
    pub team: String,
    pub user: String,
    pub provider: String,
    pub verifier: Option<String>,
    pub redirect_uri: String,
    pub return_to: String,
    pub expires_at: i64,
}

/// Deletes the transactions that expired before `now`, then records a new one.
pub async fn insert(conn: &mut AnyConnection, new: &NewTransaction<'_>, now: i64) -> Result<()> {
    sqlx::query("DELETE FROM oauth_transactions WHERE expires_at < $1").bind(now).execute(&mut *conn).await?;
    sqlx::query(
        "INSERT INTO oauth_transactions \
         (state_hash, session_hash, team_id, user_id, provider, verifier, redirect_uri, return_to, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(new.state_hash)
    .bind(new.session_hash)
    .bind(new.team.as_str())
    .bind(new.user.as_str())
    .bind(new.provider)
    .bind(new.verifier)
    .bind(new.redirect_uri)
    .bind(new.return_to)
    .bind(new.created_at)
    .bind(new.expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Takes the transaction of this state and session out of the table, so
/// that it can be used only once, by one request.
pub async fn take(db: &Db, state_hash: &str, session_hash: &str) -> Result<Option<Transaction>> {
    type Row = (String, String, String, Option<String>, String, String, i64);
    let row: Option<Row> = sqlx::query_as(
        "DELETE FROM oauth_transactions WHERE state_hash = $1 AND session_hash = $2 \
         RETURNING team_id, user_id, provider, verifier, redirect_uri, return_to, expires_at",
    )
    .bind(state_hash)
    .bind(session_hash)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.map(|(team, user, provider, verifier, redirect_uri, return_to, expires_at)| Transaction {
        team,
        user,
        provider,
        verifier,
        redirect_uri,
        return_to,
        expires_at,
    }))
}

/// How many connects `user` of `team` has under way.
pub async fn count_for(db: &Db, team: &TeamId, user: &UserId) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM oauth_transactions WHERE team_id = $1 AND user_id = $2")
        .bind(team.as_str())
        .bind(user.as_str())
        .fetch_one(db.pool())
        .await?)
}
