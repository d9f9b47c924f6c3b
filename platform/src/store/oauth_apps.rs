//! The `oauth_apps` table: the OAuth apps teams saved for themselves. Only
//! the client id is here; the secret is in the secret store.

use sqlx::AnyConnection;

use crate::{
    Db,
    error::{Error, Result},
    ids::{ProviderId, TeamId, UserId},
};

/// The client id `team` saved for `provider`.
pub async fn client_id(db: &Db, team: &TeamId, provider: &ProviderId) -> Result<Option<String>> {
    Ok(sqlx::query_scalar("SELECT client_id FROM oauth_apps WHERE team_id = $1 AND provider = $2")
        .bind(team.as_str())
        .bind(provider.as_str())
        .fetch_optional(db.pool())
        .await?)
}

/// Every (provider, client id) `team` saved.
pub async fn list(db: &Db, team: &TeamId) -> Result<Vec<(ProviderId, String)>> {
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT provider, client_id FROM oauth_apps WHERE team_id = $1")
        .bind(team.as_str())
        .fetch_all(db.pool())
        .await?;
    rows.into_iter()
        .map(|(provider, client_id)| {
            let provider =
                ProviderId::parse(&provider).map_err(|_| Error::Corrupt { what: "an OAuth app's provider".into() })?;
            Ok((provider, client_id))
        })
        .collect()
}

/// Saves `team`'s app for `provider`, replacing one saved before.
pub async fn save(
    conn: &mut AnyConnection,
    team: &TeamId,
    provider: &ProviderId,
    client_id: &str,
    by: &UserId,
    at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO oauth_apps (team_id, provider, client_id, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (team_id, provider) DO UPDATE SET client_id = excluded.client_id, \
         updated_by = excluded.updated_by, updated_at = excluded.updated_at",
    )
    .bind(team.as_str())
    .bind(provider.as_str())
    .bind(client_id)
    .bind(by.as_str())
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Deletes `team`'s app for `provider`; `false` when there was none.
pub async fn delete(conn: &mut AnyConnection, team: &TeamId, provider: &ProviderId) -> Result<bool> {
    let removed = sqlx::query("DELETE FROM oauth_apps WHERE team_id = $1 AND provider = $2")
        .bind(team.as_str())
        .bind(provider.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(removed.rows_affected() > 0)
}
