//! What a credential form and an OAuth callback both end in: claim the
//! installation, store the secrets, mark it connected, queue the first
//! backfill and audit it, in that order (CONNECTOR-RULES 22).

use std::collections::BTreeMap;

use secrecy::SecretString;

use super::{connection_path, secret_path};
use crate::{
    Platform,
    catalog::Provider,
    error::{Error, Result},
    ids::TeamId,
    outbound::account,
    secrets::SecretPath,
    store::installations::{self, Installation, Link},
    store::users::User,
};

/// Records a connection whose account the provider has named: claims the
/// installation, stores `secrets` under the connection's path, then marks
/// it connected, in that order (CONNECTOR-RULES 22). Shared by credential
/// forms and the OAuth callback. A failure leaves nothing behind.
pub(crate) async fn establish(
    platform: &Platform,
    actor: &User,
    provider: &Provider,
    account: &account::Account,
    settings: &BTreeMap<String, String>,
    secrets: &BTreeMap<String, SecretString>,
) -> Result<Installation> {
    // Claim the installation before writing a secret, so a concurrent
    // connect (a double click, another admin) is refused instead of
    // writing over this one's keys or deleting them when it fails.
    let mut conn = platform.db.pool().acquire().await?;
    let claimed = installations::claim(&mut conn, &actor.team_id, &provider.id).await.map_err(|e| match e {
        Error::Refused(_) => Error::Refused(format!(
            "{} is connected already, or another connect is under way. Reload the page to see which.",
            provider.name
        )),
        other => other,
    })?;
    drop(conn);
    let path = connection_path(&actor.team_id, provider)?;
    let finished = store_and_complete(platform, actor, provider, account, settings, secrets, &path, &claimed).await;
    if let Err(error) = finished {
        // Nothing half-made stays (CONNECTOR-RULES 22): the secrets go, and
        // the row returns to its earlier state. A failure here is logged;
        // the claim then lapses by itself.
        if let Err(cleanup) = give_up(platform, &actor.team_id, &claimed, &path).await {
            tracing::error!(error = %cleanup, "could not undo a failed connect");
        }
        return Err(error);
    }
    tracing::info!(account = %account.id, "connected");
    let mut conn = platform.db.pool().acquire().await?;
    let installation = installations::find(&mut conn, &actor.team_id, &provider.id).await?.ok_or(Error::NotFound)?;
    drop(conn);
    crate::jobs::subscriptions::on_connect(platform, &actor.team_id, provider, &installation.id).await;
    Ok(installation)
}

/// Undoes a failed connect that still holds its claim: deletes what it
/// stored and gives the row back. A claim another connect took over is
/// left alone, with that connect's secrets.
async fn give_up(platform: &Platform, team: &TeamId, claimed: &installations::Claim, path: &SecretPath) -> Result<()> {
    let mut conn = platform.db.pool().acquire().await?;
    if !installations::holds(&mut conn, team, claimed).await? {
        return Ok(());
    }
    platform.secrets.delete_all(path).await?;
    installations::release(&mut conn, team, claimed).await?;
    Ok(())
}

/// The part of [`establish`] that may fail after the claim: clean the
/// connection's path, store the secrets, mark the installation connected.
#[expect(clippy::too_many_arguments, reason = "one step of establish, with its inputs")]
async fn store_and_complete(
    platform: &Platform,
    actor: &User,
    provider: &Provider,
    account: &account::Account,
    settings: &BTreeMap<String, String>,
    secrets: &BTreeMap<String, SecretString>,
    path: &SecretPath,
    claimed: &installations::Claim,
) -> Result<()> {
    // A reconnect starts clean (CONNECTOR-RULES 29): whatever an earlier
    // connection or a crashed connect left goes first.
    platform.secrets.delete_all(path).await?;
    for (name, value) in secrets {
        let at = secret_path(actor, provider, name)?;
        platform.secrets.put(&at, value).await?;
    }
    let mut tx = platform.db.begin_write().await?;
    let link = Link { account_id: &account.id, display_name: &account.name, settings };
    installations::complete(&mut tx, &actor.team_id, claimed, &link, &actor.id).await?;
    // A re-auth of the same account keeps its sync position; another
    // account starts clean.
    if claimed.prior_account != account.id {
        installations::clear_cursors(&mut tx, &actor.team_id, &claimed.id).await?;
        crate::store::artifacts::delete_all(&mut tx, platform.db.change_feed(), &actor.team_id, &provider.id).await?;
    }
    // CONNECTOR-RULES 22: stored, then connected, then the first backfill
    // queued, in this transaction (one already queued is kept).
    if crate::connectors::source_for(&provider.id).is_some() {
        for job in crate::jobs::sync::new_jobs(&actor.team_id, provider, &claimed.id, crate::jobs::Kind::FullBackfill) {
            crate::jobs::enqueue(&mut tx, &job).await?;
        }
    }
    crate::store::audit::record(
        &mut tx,
        &actor.team_id,
        Some(&actor.id),
        "installation.connected",
        provider.id.as_str(),
        &format!("Connected {} as {}", provider.name, account.name),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
