//! Revocations still owed to a provider (SECURITY D6). A disconnect asks the
//! provider to revoke first, and wipes the connection whatever the answer.
//! When the revoke failed for a passing reason, the token is kept apart
//! (under `{team}/_revocations/{id}` in the secret store, never in a table)
//! and a `revoke_retry` job tries again in the background with growing
//! pauses, until the provider confirms it, refuses it for good, or the
//! attempts run out; each end is recorded in the audit log.

use std::time::Duration;

use secrecy::SecretString;

use crate::{
    Platform,
    error::Result,
    ids::{ProviderId, TeamId},
    outbound::oauth2::Revoked,
    secrets::SecretPath,
    store::jobs::{self, ErrorClass, Job, Kind, NewJob, State},
    util::{now, random_id},
};

/// The secret-store folder of tokens waiting for a revoke; not a provider
/// id (those have no `_`), so no connection's wipe reaches it.
const FOLDER: &str = "_revocations";
/// Revoke requests in all, the disconnect's included: the pauses between
/// them add up to about twenty hours.
pub const MAX_ATTEMPTS: i64 = 12;
/// How long a worker may hold a revoke job; a revoke takes one request.
const LEASE: Duration = Duration::from_secs(120);

/// The pause after revoke request number `attempts`: a minute, doubling,
/// at most six hours.
fn pause(attempts: i64) -> i64 {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 16)).unwrap_or(16);
    (60_i64 << doublings).min(6 * 3600)
}

fn secret_path(team: &TeamId, id: &str) -> Result<SecretPath> {
    SecretPath::of(team, &[FOLDER, id])
}

/// Keeps a token whose revoke failed for a passing reason, and queues a
/// job to try again. Called by a disconnect before it wipes the connection.
pub(crate) async fn schedule(
    platform: &Platform,
    team: &TeamId,
    provider: &ProviderId,
    token_json: &SecretString,
    why: &str,
) -> Result<()> {
    let id = random_id();
    platform.secrets.put(&secret_path(team, &id)?, token_json).await?;
    let job = NewJob {
        team: team.clone(),
        provider: provider.to_owned(),
        installation: None,
        kind: Kind::RevokeRetry,
        dedupe_key: Some(format!("revoke:{id}")),
        payload: serde_json::json!({ "token": id }),
        run_after: now() + pause(1),
        // The disconnect made the first request.
        max_attempts: MAX_ATTEMPTS - 1,
    };
    let mut tx = platform.db.begin_write().await?;
    jobs::enqueue(&mut tx, &job).await?;
    crate::store::audit::record(
        &mut tx,
        team,
        None,
        "revocation.pending",
        provider.as_str(),
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

/// Runs every revoke job that is due, once each, through the job loop.
/// Any number of processes may call it: the queue gives each job to one
/// of them.
pub async fn run_due(platform: &Platform) -> Result<Pass> {
    let worker = super::worker_name("revoker");
    let mut pass = Pass::default();
    for (_, state) in super::drain_of(platform, &worker, &[Kind::RevokeRetry]).await? {
        match state {
            State::Completed => pass.revoked += 1,
            State::Queued => pass.retrying += 1,
            State::Failed => pass.given_up += 1,
            State::Running | State::Interrupted => {}
        }
    }
    Ok(pass)
}

/// The handler of `revoke_retry` jobs in the job registry.
#[derive(Debug)]
pub struct RevokeRetry;

#[async_trait::async_trait]
impl super::JobHandler for RevokeRetry {
    fn name(&self) -> &'static str {
        "revoke_retry"
    }

    fn kinds(&self) -> &'static [Kind] {
        &[Kind::RevokeRetry]
    }

    /// A revoke takes one request.
    fn lease(&self, _platform: &Platform) -> Duration {
        LEASE
    }

    /// Idempotent: the provider answers a revoke of a token it already
    /// revoked with success (RFC 7009 2.2), and the token is deleted from
    /// the store only once the job has ended.
    async fn run(&self, platform: &Platform, job: &Job, worker: &str) -> Result<State> {
        attempt(platform, worker, job).await
    }
}

async fn attempt(platform: &Platform, worker: &str, job: &Job) -> Result<State> {
    let token_id = job.payload["token"].as_str().unwrap_or_default();
    let path = secret_path(&job.team_id, token_id)?;
    let token = platform.secrets.get_fresh(&path).await?;
    let outcome = match (platform.catalog.get(&job.provider), token) {
        (Some(provider), Some(token)) => {
            crate::credentials::revoke(platform, &job.team_id, provider, &token.value).await
        }
        (None, _) => Revoked::Refused("the provider is no longer in the catalog".into()),
        (_, None) => Revoked::Refused("the token to revoke is gone from the secret store".into()),
    };
    // Revoke requests so far: the disconnect's and one per take.
    let requests = job.attempts + 1;
    let (state, action, detail) = match outcome {
        Revoked::Done => {
            if !jobs::complete(&platform.db, &job.id, worker).await? {
                return Ok(State::Interrupted);
            }
            (State::Completed, "revocation.done", format!("Revoked the token at the provider, at attempt {requests}"))
        }
        Revoked::Later(why) => {
            let wait = Duration::from_secs(pause(requests).unsigned_abs());
            match jobs::fail(&platform.db, &job.id, worker, ErrorClass::Transient, &why, wait).await? {
                Some(State::Queued) => return Ok(State::Queued),
                // Another worker holds the job now; the token is its to use.
                None => return Ok(State::Interrupted),
                Some(state) => {
                    let detail = format!(
                        "Gave up revoking the token after {requests} attempts ({why}); revoke Patchbay's access in \
                         the provider's own settings"
                    );
                    (state, "revocation.abandoned", detail)
                }
            }
        }
        Revoked::Refused(why) => {
            let state = jobs::fail(&platform.db, &job.id, worker, ErrorClass::Permanent, &why, Duration::ZERO).await?;
            let Some(state) = state else { return Ok(State::Interrupted) };
            (state, "revocation.abandoned", format!("Could not revoke the token: {why}"))
        }
    };
    platform.secrets.delete(&path).await?;
    let mut tx = platform.db.begin_write().await?;
    crate::store::audit::record(&mut tx, &job.team_id, None, action, job.provider.as_str(), &detail).await?;
    tx.commit().await?;
    Ok(state)
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
