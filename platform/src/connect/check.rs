//! Asking the provider, with what is stored, whether a connection still
//! works and reaches the connected account.

use super::{
    active,
    form::{Checked, stored_secrets, verify},
};
use crate::{
    Platform,
    catalog::Auth,
    credentials::tokens::TokenError,
    error::{Error, Result},
    ids::ProviderId,
    outbound::account::{self, Value},
    store::users::User,
};

/// Asks the provider, with what is stored, whether the connection still
/// works and reaches the connected account. An OAuth token comes from the
/// token service, as a connector's would: one due for refresh is refreshed
/// first (SECURITY E6), and a grant the provider no longer honours marks
/// the connection "needs re-auth" (E4). Nothing else changes.
#[tracing::instrument(skip_all, fields(team = %actor.team_id, provider))]
pub async fn check(platform: &Platform, actor: &User, provider: &ProviderId) -> Result<account::Account> {
    let found = platform.catalog.get(provider).ok_or(Error::NotFound)?;
    tracing::Span::current().record("provider", found.id.as_str());
    let installation = active(platform, actor, found).await?;
    let account = match &found.auth {
        Auth::ApiKey(credentials) | Auth::Basic(credentials) => {
            let secrets = stored_secrets(platform, actor, found, credentials).await?;
            let checked = Checked { settings: installation.settings.clone(), secrets };
            verify(platform, found, credentials, &checked).await?
        }
        Auth::Oauth2(oauth) => {
            let token = crate::credentials::tokens::access_token(platform, &actor.team_id, &found.id).await.map_err(
                |error| match error {
                    TokenError::NeedsReauth => Error::Refused(format!(
                        "{} no longer accepts the stored authorization. Reconnect to authorize Patchbay again.",
                        found.name
                    )),
                    TokenError::Unavailable => Error::ProviderCheck(format!(
                        "{} did not give Patchbay a fresh token just now. Try again in a minute.",
                        found.name
                    )),
                    TokenError::NotConnected => Error::Refused(format!("{} is not connected.", found.name)),
                    TokenError::Platform(error) => error,
                },
            )?;
            // The hosts the token response named, kept as settings when connecting.
            let hosts = installation.settings.iter().map(|(name, value)| (name.clone(), Value::url(value))).collect();
            crate::connect::oauth::fetch_account(platform, found, oauth, token, hosts)
                .await
                .map_err(|failure| Error::ProviderCheck(failure.explain(&found.name, "token")))?
        }
    };
    if account.id != installation.account_id {
        return Err(Error::ProviderCheck(format!(
            "{} now answers as {} (account {}), not as the connected {}. Reconnect or replace the credentials \
             to switch accounts.",
            found.name, account.name, account.id, installation.display_name
        )));
    }
    tracing::info!("connection checked");
    Ok(account)
}
