//! Settings → OAuth apps: the OAuth app (client id and secret) a team
//! connects each OAuth provider with. Admins save and remove them (SECURITY
//! C4); the secret goes to the secret store and is never sent back.

use leptos::prelude::*;

use crate::{
    error::AppError,
    models::integration::{OAuthApps, Saved},
};

/// Every OAuth provider that can be connected, with this team's app.
#[server(prefix = "/api", endpoint = "oauth_apps")]
pub async fn list_oauth_apps() -> Result<OAuthApps, AppError> {
    crate::ssr::member(|viewer, platform| async move {
        let base = crate::ssr::public_base();
        let rows = platform::credentials::oauth_apps::list(&platform, &viewer.user.team_id).await?;
        let can_manage = viewer.user.role == platform::accounts::Role::Admin;
        let apps = rows
            .into_iter()
            .map(|row| crate::models::integration::OAuthAppRow {
                redirect_uri: format!("{base}/oauth/{}/callback", row.provider),
                env_prefix: format!("PATCHBAY_{}", row.provider.env_name()),
                source: row.app.as_ref().map(|(source, _)| {
                    match source {
                        platform::credentials::oauth_apps::Source::Team => "team",
                        platform::credentials::oauth_apps::Source::Environment => "environment",
                    }
                    .to_owned()
                }),
                client_id: row.app.map(|(_, client_id)| client_id),
                environment_too: row.environment_too,
                provider: row.provider.to_string(),
                name: row.name,
            })
            .collect();
        Ok(OAuthApps { apps, can_manage })
    })
    .await
}

/// Saves this team's OAuth app for `provider`.
#[server(prefix = "/api", endpoint = "save_oauth_app")]
pub async fn save_oauth_app(provider: String, client_id: String, client_secret: String) -> Result<Saved, AppError> {
    crate::ssr::admin(|viewer, platform| async move {
        let provider = platform::ids::ProviderId::parse(&provider)?;
        let secret = secrecy::SecretString::from(client_secret);
        platform::credentials::oauth_apps::save(&platform, &viewer.user, &provider, &client_id, &secret).await?;
        let name = platform.catalog.get(&provider).map_or_else(|| provider.to_string(), |p| p.name.clone());
        Ok(Saved { message: format!("The OAuth app for {name} is saved. Admins can connect {name} now.") })
    })
    .await
}

/// Removes this team's OAuth app for `provider`.
#[server(prefix = "/api", endpoint = "remove_oauth_app")]
pub async fn remove_oauth_app(provider: String) -> Result<Saved, AppError> {
    crate::ssr::admin(|viewer, platform| async move {
        let provider = platform::ids::ProviderId::parse(&provider)?;
        let removed = platform::credentials::oauth_apps::remove(&platform, &viewer.user, &provider).await?;
        let name = platform.catalog.get(&provider).map_or_else(|| provider.to_string(), |p| p.name.clone());
        let message = if removed {
            format!("The OAuth app saved for {name} is removed.")
        } else {
            format!("No OAuth app was saved for {name}.")
        };
        Ok(Saved { message })
    })
    .await
}
