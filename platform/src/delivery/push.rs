//! Outbound push (DESIGN: Delivering records; SECURITY I4): an admin
//! registers a destination URL, and the team's change feed is POSTed to it
//! in batches, signed, in order and at least once, by the `push` job
//! ([`crate::jobs::push`]).
//!
//! A batch is `{"batch": id, "changes": [...], "next_cursor": ...}`, the
//! changes as the feed serves them. Its headers:
//! - `Patchbay-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`,
//!   keyed with the destination's signing secret (shown once, when it is
//!   added);
//! - `Patchbay-Batch` and `Idempotency-Key`: the batch's id, the same on
//!   every retry of that batch, so a receiver that saw it applies it once.
//!
//! A destination that fails `PUSH_ATTEMPTS` times in a row at one batch is
//! dead-lettered; its **Retry** delivers from that batch again.

use hmac::{KeyInit as _, Mac as _};
use secrecy::{ExposeSecret as _, SecretString};

use crate::{
    Platform,
    error::{Error, Result},
    ids::TeamId,
    outbound::destination,
    secrets::SecretPath,
    store::{self, push::Destination, users::User},
    util::now,
};

/// Changes a batch holds at most.
pub const BATCH: i64 = 500;

/// Where a destination's signing secret is kept.
pub fn secret_path(team: &TeamId, destination: &str) -> Result<SecretPath> {
    SecretPath::of(team, &["_push", destination, "signing_secret"])
}

/// `t=…,v1=…` for `body` sent at `at`.
pub fn signature(secret: &SecretString, at: i64, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(at.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={at},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The id of the batch of changes after `after` up to `last`: the same
/// for every attempt at it.
pub fn batch_id(destination: &str, after: i64, last: i64) -> String {
    format!("pbb_{destination}_{after}_{last}")
}

/// A destination just added, with its secret: shown this once.
#[derive(Debug)]
pub struct Added {
    pub destination: Destination,
    pub secret: SecretString,
}

/// Adds a destination for the admin's team, after checking its URL and
/// every address it resolves to (I4). It is sent the changes committed
/// from now on; records already synced are read once with
/// `GET /api/v1/records`.
pub async fn add(platform: &Platform, actor: &User, url: &str) -> Result<Added> {
    super::admin_only(actor, "push destinations")?;
    if !platform.db.change_feed() {
        return Err(Error::Refused(
            "This deployment keeps no change feed (PATCHBAY_CHANGE_FEED=off), so there is nothing to push.".into(),
        ));
    }
    let allow = platform.delivery.push_allow_private;
    let invalid = |message: String| Error::Invalid { field: "url".into(), message };
    let checked = destination::check_url(url, allow).map_err(|refused| invalid(refused.0))?;
    destination::resolve(&checked, allow).await.map_err(|refused| invalid(refused.0))?;
    let id = crate::util::random_id();
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    let secret = SecretString::from(format!("pbsig_{}", hex::encode(bytes)));
    let team = &actor.team_id;
    platform.secrets.put(&secret_path(team, &id)?, &secret).await?;
    let head = store::changes::head(&platform.db, team).await?;
    let mut tx = platform.db.begin_write().await?;
    if !store::push::insert(&mut tx, &id, team, checked.url.as_str(), head.last_seq, &actor.id).await? {
        drop(tx);
        platform.secrets.delete(&secret_path(team, &id)?).await?;
        return Err(invalid("This team already pushes to that URL.".into()));
    }
    store::audit::record(
        &mut tx,
        team,
        Some(&actor.id),
        "push.destination_added",
        &id,
        &format!("Added the push destination {}", checked.url),
    )
    .await?;
    tx.commit().await?;
    let destination = store::push::get(&platform.db, team, &id).await?.ok_or(Error::NotFound)?;
    Ok(Added { destination, secret })
}

pub async fn list(platform: &Platform, team: &TeamId) -> Result<Vec<Destination>> {
    store::push::list(&platform.db, team).await
}

/// Makes a dead-lettered destination active and delivers from its first
/// undelivered batch again, now.
pub async fn retry(platform: &Platform, actor: &User, id: &str) -> Result<()> {
    super::admin_only(actor, "push destinations")?;
    let team = &actor.team_id;
    let found = store::push::get(&platform.db, team, id).await?.ok_or(Error::NotFound)?;
    let mut tx = platform.db.begin_write().await?;
    store::push::revive(&mut tx, team, id).await?;
    store::jobs::enqueue(&mut tx, &store::jobs::push_job(team, id, now())?).await?;
    store::audit::record(
        &mut tx,
        team,
        Some(&actor.id),
        "push.retried",
        id,
        &format!("Retried delivery to {} after {} failures", found.url, found.failures),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Removes a destination and its secret.
pub async fn remove(platform: &Platform, actor: &User, id: &str) -> Result<()> {
    super::admin_only(actor, "push destinations")?;
    let team = &actor.team_id;
    let found = store::push::get(&platform.db, team, id).await?.ok_or(Error::NotFound)?;
    let mut tx = platform.db.begin_write().await?;
    store::push::delete(&mut tx, team, id).await?;
    store::audit::record(
        &mut tx,
        team,
        Some(&actor.id),
        "push.destination_removed",
        id,
        &format!("Removed the push destination {}", found.url),
    )
    .await?;
    tx.commit().await?;
    platform.secrets.delete(&secret_path(team, id)?).await?;
    Ok(())
}

/// How long a destination waits after its `failures`-th failure in a row:
/// 2, 4, 8 … seconds, at most an hour.
pub fn backoff(failures: i64) -> std::time::Duration {
    std::time::Duration::from_secs(2u64.saturating_pow(u32::try_from(failures.clamp(1, 12)).unwrap_or(12)).min(3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        let secret = SecretString::from("pbsig_test".to_owned());
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"pbsig_test").unwrap();
        mac.update(b"1700000000.{\"a\":1}");
        let expected = format!("t=1700000000,v1={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(signature(&secret, 1_700_000_000, b"{\"a\":1}"), expected);
        assert_ne!(signature(&secret, 1_700_000_001, b"{\"a\":1}"), expected, "the time is signed");
    }

    #[test]
    fn retries_back_off_exponentially_up_to_an_hour() {
        let waits: Vec<u64> = (1..=13).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(&waits[..4], [2, 4, 8, 16]);
        assert_eq!(*waits.last().unwrap(), 3600);
    }
}
