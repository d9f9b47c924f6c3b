//! Disconnecting: revoke at the provider where it can be, wipe the
//! secrets, clear the cursors and the synced records, mark the
//! installation disconnected (CONNECTOR-RULES 29, SECURITY D6).

use super::{Wiped, active, connection_path, secret_path};
use crate::{
    Platform,
    error::{Error, Result},
    ids::ProviderId,
    store::installations,
    store::users::User,
};

/// Deletes every secret and cursor of the connection, forgets its
/// settings and marks it disconnected (CONNECTOR-RULES 29). The secrets go
/// first: if the store cannot delete them, the installation stays as it
/// was and the admin can try again.
#[tracing::instrument(skip_all, fields(team = %actor.team_id, provider))]
pub async fn disconnect(platform: &Platform, actor: &User, provider: &ProviderId) -> Result<Wiped> {
    let found = platform.catalog.get(provider).ok_or(Error::NotFound)?;
    tracing::Span::current().record("provider", found.id.as_str());
    let installation = active(platform, actor, found).await?;
    // SECURITY H7: the webhooks go at the provider while the credentials
    // still work; a provider that keeps them sends to an endpoint that is
    // then unknown.
    let webhooks_kept =
        crate::jobs::subscriptions::on_disconnect(platform, &actor.team_id, found, &installation.id).await?;
    if let Some(why) = &webhooks_kept {
        tracing::warn!(reason = %why, "the provider kept the connection's webhooks");
    }
    // SECURITY D6: revoke at the provider first, where it can be; a
    // failure there does not keep the keys here. One that may pass is
    // tried again in the background.
    let mut revoke_pending = None;
    if let Some(token) =
        platform.secrets.get_fresh(&secret_path(actor, found, crate::outbound::oauth2::TOKEN_KEY)?).await?
        && let crate::outbound::oauth2::Revoked::Later(why) =
            crate::credentials::revoke(platform, &actor.team_id, found, &token.value).await
    {
        crate::jobs::revoke_retry::schedule(platform, &actor.team_id, &found.id, &token.value, &why).await?;
        revoke_pending = Some(why);
    }
    let secrets = platform.secrets.delete_all(&connection_path(&actor.team_id, found)?).await?;
    let mut tx = platform.db.begin_write().await?;
    // The installation's row first, as a page's commit takes it (before
    // its records and cursors): taken in the other order, a disconnect
    // during a sync deadlocked on Postgres.
    installations::mark_disconnected(&mut tx, &actor.team_id, &installation.id).await?;
    let cursors = installations::clear_cursors(&mut tx, &actor.team_id, &installation.id).await?;
    // Nothing it synced stays searchable; a page being committed now is
    // ordered before or after this by the installation's row.
    let records =
        crate::store::artifacts::delete_all(&mut tx, platform.db.change_feed(), &actor.team_id, &found.id).await?;
    crate::store::audit::record(
        &mut tx,
        &actor.team_id,
        Some(&actor.id),
        "installation.disconnected",
        found.id.as_str(),
        &format!(
            "Disconnected {} (was connected as {}); deleted {secrets} stored keys, {cursors} cursors and \
             {records} synced records",
            found.name, installation.display_name
        ),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(secrets, cursors, records, "disconnected");
    Ok(Wiped { secrets, cursors, records, revoke_pending })
}
