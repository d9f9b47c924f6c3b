//! The Integrations page and the provider pages: cards, provider details,
//! and the credential forms of `api_key` and `basic` providers. Changes
//! are for admins only (SECURITY C4); the team is the session's (C1).

use std::collections::BTreeMap;

use leptos::prelude::*;

use crate::{
    error::AppError,
    models::integration::{IntegrationCard, ProviderDetail, Saved},
};

/// Every provider in the catalog as a card, in the order the page shows them.
#[server(prefix = "/api", endpoint = "integrations")]
pub async fn list_integrations() -> Result<Vec<IntegrationCard>, AppError> {
    crate::ssr::member(|viewer, platform| async move {
        let team = &viewer.user.team_id;
        let installations = platform::store::installations::list_active(&platform.db, team).await?;
        let mut newest = platform::status::newest_jobs(&platform, team).await?;
        let connections: Vec<_> = installations
            .into_iter()
            .map(|installation| {
                let job = newest.remove(&installation.id);
                (installation, job)
            })
            .collect();
        let apps = platform::credentials::oauth_apps::configured(&platform, team).await?;
        Ok(crate::views::integrations::cards(&platform, &connections, &apps))
    })
    .await
}

/// One provider, with this team's connection to it.
#[server(prefix = "/api", endpoint = "provider")]
pub async fn get_provider(id: String) -> Result<ProviderDetail, AppError> {
    crate::ssr::member(|viewer, platform| async move {
        let id = platform::ids::ProviderId::parse(&id)?;
        let provider = platform.catalog.get(&id).ok_or(AppError::NotFound)?;
        let connection = platform::connect::describe(&platform, &viewer.user.team_id, &id).await?;
        let app_configured =
            platform::credentials::oauth_apps::configured(&platform, &viewer.user.team_id).await?.contains(&id);
        Ok(crate::views::integrations::detail(
            provider,
            connection,
            &viewer,
            &crate::ssr::public_base(),
            app_configured,
        ))
    })
    .await
}

/// Connects a provider with the credential form's `values`.
#[server(prefix = "/api", endpoint = "connect_provider")]
pub async fn connect_provider(
    provider: String,
    #[server(default)] values: BTreeMap<String, String>,
) -> Result<Saved, AppError> {
    crate::ssr::admin(|viewer, platform| async move {
        let provider = platform::ids::ProviderId::parse(&provider)?;
        let installation = platform::connect::connect(&platform, &viewer.user, &provider, &values).await?;
        Ok(Saved { message: format!("Connected as {}.", installation.display_name) })
    })
    .await
}

/// Replaces the secret fields of a connected provider.
#[server(prefix = "/api", endpoint = "replace_credentials")]
pub async fn replace_credentials(
    provider: String,
    #[server(default)] values: BTreeMap<String, String>,
) -> Result<Saved, AppError> {
    crate::ssr::admin(|viewer, platform| async move {
        let provider = platform::ids::ProviderId::parse(&provider)?;
        let edited = platform::connect::replace_credentials(&platform, &viewer.user, &provider, &values).await?;
        Ok(crate::views::integrations::saved("The new credentials are saved.", &edited))
    })
    .await
}

/// Changes the non-secret settings of a connected provider.
#[server(prefix = "/api", endpoint = "edit_settings")]
pub async fn edit_settings(
    provider: String,
    #[server(default)] values: BTreeMap<String, String>,
) -> Result<Saved, AppError> {
    crate::ssr::admin(|viewer, platform| async move {
        let provider = platform::ids::ProviderId::parse(&provider)?;
        let edited = platform::connect::edit_settings(&platform, &viewer.user, &provider, &values).await?;
        Ok(crate::views::integrations::saved("The settings are saved.", &edited))
    })
    .await
}

/// Asks the provider whether the stored connection still works.
#[server(prefix = "/api", endpoint = "check_connection")]
pub async fn check_connection(provider: String) -> Result<Saved, AppError> {
    crate::ssr::admin(|viewer, platform| async move {
        let provider = platform::ids::ProviderId::parse(&provider)?;
        let account = platform::connect::check(&platform, &viewer.user, &provider).await?;
        Ok(Saved { message: format!("The connection works: the provider answers as {}.", account.name) })
    })
    .await
}

/// Disconnects a provider, wiping its stored keys, cursors and synced records.
#[server(prefix = "/api", endpoint = "disconnect_provider")]
pub async fn disconnect_provider(provider: String) -> Result<Saved, AppError> {
    crate::ssr::admin(|viewer, platform| async move {
        let provider = platform::ids::ProviderId::parse(&provider)?;
        let wiped = platform::connect::disconnect(&platform, &viewer.user, &provider).await?;
        let keys = if wiped.secrets == 1 { "key".to_owned() } else { "keys".to_owned() };
        let mut message = format!("Disconnected. {} stored {keys} deleted.", wiped.secrets);
        if wiped.records > 0 {
            let records = if wiped.records == 1 { "record" } else { "records" };
            message.push_str(&format!(" {} synced {records} deleted.", wiped.records));
        }
        if let Some(why) = wiped.revoke_pending {
            message.push_str(&format!(
                " The provider did not revoke Patchbay's access yet ({why}); Patchbay keeps asking in the background."
            ));
        }
        Ok(Saved { message })
    })
    .await
}
