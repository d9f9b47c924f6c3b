//! The `token_leases` table: which process may refresh a connection's
//! OAuth token right now, across replicas (SECURITY E1).

use crate::{Db, error::Result, ids::InstallationId};

/// Takes the connection's lease for `holder` until `expires_at`, if it is
/// free or lapsed at `now`. `false`: another holder has it.
pub async fn take(db: &Db, installation: &InstallationId, holder: &str, now: i64, expires_at: i64) -> Result<bool> {
    let taken = sqlx::query(
        "INSERT INTO token_leases (installation_id, holder, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (installation_id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
         WHERE token_leases.expires_at < $4",
    )
    .bind(installation.as_str())
    .bind(holder)
    .bind(expires_at)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(taken.rows_affected() == 1)
}

/// Whether someone holds the connection's lease at `now`.
pub async fn held(db: &Db, installation: &InstallationId, now: i64) -> Result<bool> {
    let held: Option<(String,)> =
        sqlx::query_as("SELECT holder FROM token_leases WHERE installation_id = $1 AND expires_at >= $2")
            .bind(installation.as_str())
            .bind(now)
            .fetch_optional(db.pool())
            .await?;
    Ok(held.is_some())
}

/// Gives `holder`'s lease back.
pub async fn release(db: &Db, installation: &InstallationId, holder: &str) -> Result<()> {
    sqlx::query("DELETE FROM token_leases WHERE installation_id = $1 AND holder = $2")
        .bind(installation.as_str())
        .bind(holder)
        .execute(db.pool())
        .await?;
    Ok(())
}
