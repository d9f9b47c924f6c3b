//! Revocations still owed to a provider (SECURITY D6). A disconnect asks the
//! provider to revoke first, and wipes the connection whatever the answer.
//! When the revoke failed for a passing reason, the token is kept apart
//! (under `{team}/_revocations/{id}` in the secret store, never in a table)
//! and tried again in the background with growing pauses, until the
//! provider confirms it, refuses it for good, or the attempts run out; each
//! end is recorded in the audit log.
//!
//! Any number of processes may run [`run_due`]: one takes a row by moving
//! its next attempt ahead with a conditional update, so no two send the
//! same revoke at once.

use std::time::Duration;

use secrecy::SecretString;

use crate::{
    Platform,
    accounts::TeamId,
    error::{Error, Result},
    oauth::Revoked,
    secrets::SecretPath,
    util::{now, random_id},
};

/// The secret-store folder of tokens waiting for a revoke; not a provider
/// id (those have no `_`), so no connection's wipe reaches it.
const FOLDER: &str = "_revocations";
/// Revoke requests in all, the disconnect's included: the pauses between
/// them add up to about twenty hours.
pub const MAX_ATTEMPTS: i64 = 12;
/// How long a worker holds a row it took, before another may take it.
const TAKE_SECONDS: i64 = 120;

/// The pause before attempt `attempts + 1`: a minute, doubling, at most six hours.
fn pause(attempts: i64) -> i64 {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 16)).unwrap_or(16);
    (60_i64 << doublings).min(6 * 3600)
}

fn secret_path(team: &TeamId, id: &str) -> Result<SecretPath> {
    SecretPath::of(team, &[FOLDER, id])
}

/// Keeps a token whose revoke failed for a passing reason, to try again.
/// Called by a disconnect before it wipes the connection.
pub(crate) async fn schedule(
    platform: &Platform,
    team: &TeamId,
    provider: &str,
    token_json: &SecretString,
    why: &str,
) -> Result<()> {
    let id = random_id();
    platform.secrets.put(&secret_path(team, &id)?, token_json).await?;
    let mut tx = platform.db.begin_write().await?;
    sqlx::query(
        "INSERT INTO revocations (id, team_id, provider, attempts, next_attempt_at, last_error, created_at) \
         VALUES ($1, $2, $3, 1, $4, $5, $6)",
    )
    .bind(&id)
    .bind(team.as_str())
    .bind(provider)
    .bind(now() + pause(1))
    .bind(why)
    .bind(now())
    .execute(&mut *tx)
    .await?;
    crate::audit::record(
        &mut tx,
        team,
        None,
        "revocation.pending",
        provider,
        &format!("The token was not revoked at the provider yet ({why}); Patchbay will try again"),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What one pass over the due revocations did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    pub revoked: usize,
    pub retrying: usize,
    /// Refused for good, or out of attempts.
    pub given_up: usize,
}

#[derive(sqlx::FromRow)]
struct Due {
    id: String,
    team_id: String,
    provider: String,
    attempts: i64,
    next_attempt_at: i64,
}

/// Tries every revocation that is due, once.
pub async fn run_due(platform: &Platform) -> Result<Pass> {
    let due: Vec<Due> = sqlx::query_as(
        "SELECT id, team_id, provider, attempts, next_attempt_at FROM revocations \
         WHERE next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT 100",
    )
    .bind(now())
    .fetch_all(platform.db.pool())
    .await?;
    let mut pass = Pass::default();
    for row in due {
        // Take it, unless another worker just did.
        let taken = sqlx::query("UPDATE revocations SET next_attempt_at = $1 WHERE id = $2 AND next_attempt_at = $3")
            .bind(now() + TAKE_SECONDS)
            .bind(&row.id)
            .bind(row.next_attempt_at)
            .execute(platform.db.pool())
            .await?;
        if taken.rows_affected() == 1 {
            attempt(platform, &row, &mut pass).await?;
        }
    }
    Ok(pass)
}

async fn attempt(platform: &Platform, row: &Due, pass: &mut Pass) -> Result<()> {
    let team = TeamId::parse(&row.team_id).map_err(|_| Error::NotFound)?;
    let path = secret_path(&team, &row.id)?;
    let token = platform.secrets.get_fresh(&path).await?;
    let outcome = match (platform.catalog.get(&row.provider), token) {
        (Some(provider), Some(token)) => crate::oauth::revoke(platform, &team, provider, &token.value).await,
        (None, _) => Revoked::Refused("the provider is no longer in the catalog".into()),
        (_, None) => Revoked::Refused("the token to revoke is gone from the secret store".into()),
    };
    let attempts = row.attempts + 1;
    let (action, detail) = match outcome {
        Revoked::Done => {
            pass.revoked += 1;
            ("revocation.done", format!("Revoked the token at the provider, at attempt {attempts}"))
        }
        Revoked::Later(why) if attempts < MAX_ATTEMPTS => {
            sqlx::query("UPDATE revocations SET attempts = $1, next_attempt_at = $2, last_error = $3 WHERE id = $4")
                .bind(attempts)
                .bind(now() + pause(attempts))
                .bind(&why)
                .bind(&row.id)
                .execute(platform.db.pool())
                .await?;
            pass.retrying += 1;
            return Ok(());
        }
        Revoked::Later(why) => {
            pass.given_up += 1;
            let detail = format!(
                "Gave up revoking the token after {attempts} attempts ({why}); revoke Patchbay's access in the \
                 provider's own settings"
            );
            ("revocation.abandoned", detail)
        }
        Revoked::Refused(why) => {
            pass.given_up += 1;
            ("revocation.abandoned", format!("Could not revoke the token: {why}"))
        }
    };
    platform.secrets.delete(&path).await?;
    let mut tx = platform.db.begin_write().await?;
    sqlx::query("DELETE FROM revocations WHERE id = $1").bind(&row.id).execute(&mut *tx).await?;
    crate::audit::record(&mut tx, &team, None, action, &row.provider, &detail).await?;
    tx.commit().await?;
    Ok(())
}

/// Runs [`run_due`] every `every`, for as long as the task lives.
pub async fn keep_trying(platform: Platform, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        match run_due(&platform).await {
            Ok(pass) if pass != Pass::default() => tracing::info!(?pass, "retried revocations"),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "retrying revocations failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn pauses_grow_from_a_minute_to_at_most_six_hours() {
        let pauses: Vec<i64> = (1..=super::MAX_ATTEMPTS).map(super::pause).collect();
        assert_eq!(&pauses[..4], &[60, 120, 240, 480]);
        assert!(pauses.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(super::pause(40), 6 * 3600);
    }
}
