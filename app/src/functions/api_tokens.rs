//! Settings → API tokens: admins only (SECURITY C4, I2). A token is in
//! the create's answer once and never again.

use leptos::prelude::*;

use crate::{
    error::AppError,
    models::{
        api_tokens::{ApiTokens, CreatedApiToken},
        integration::Saved,
    },
};

/// The team's tokens and the scopes a new one may have.
#[server(prefix = "/api", endpoint = "list_api_tokens")]
pub async fn list_api_tokens() -> Result<ApiTokens, AppError> {
    crate::ssr::admin(|viewer, platform| async move {
        crate::views::api_tokens::list(&platform, &viewer.user.team_id).await
    })
    .await
}

/// Creates a token. Each scope is a checkbox of the form, present when
/// ticked; `expires_in_days` is empty for a token that does not expire.
#[server(prefix = "/api", endpoint = "create_api_token")]
pub async fn create_api_token(
    name: String,
    #[server(default)] records_read: Option<String>,
    #[server(default)] connections_read: Option<String>,
    #[server(default)] mcp: Option<String>,
    #[server(default)] expires_in_days: String,
) -> Result<CreatedApiToken, AppError> {
    crate::ssr::admin(|viewer, platform| async move {
        let ticked = [("records:read", records_read), ("connections:read", connections_read), ("mcp", mcp)];
        let scopes: Vec<String> =
            ticked.into_iter().filter(|(_, on)| on.is_some()).map(|(scope, _)| scope.to_owned()).collect();
        crate::views::api_tokens::create(&platform, &viewer.user, &name, &scopes, &expires_in_days).await
    })
    .await
}

/// Revokes a token: the next request carrying it is refused, on every
/// replica (I5).
#[server(prefix = "/api", endpoint = "revoke_api_token")]
pub async fn revoke_api_token(id: String) -> Result<Saved, AppError> {
    crate::ssr::admin(|viewer, platform| async move {
        platform::delivery::tokens::revoke(&platform, &viewer.user, &id).await?;
        Ok(Saved { message: "Token revoked: requests that carry it are refused from now on.".to_owned() })
    })
    .await
}

/// The team's push destinations.
#[server(prefix = "/api", endpoint = "list_push_destinations")]
pub async fn list_push_destinations() -> Result<Vec<crate::models::api_tokens::PushRow>, AppError> {
    crate::ssr::admin(|viewer, platform| async move {
        crate::views::api_tokens::push_rows(&platform, &viewer.user.team_id).await
    })
    .await
}

/// Adds a destination; its signing secret is in this answer only.
#[server(prefix = "/api", endpoint = "add_push_destination")]
pub async fn add_push_destination(url: String) -> Result<crate::models::api_tokens::AddedPush, AppError> {
    crate::ssr::admin(|viewer, platform| async move {
        use secrecy::ExposeSecret as _;
        let added = platform::delivery::push::add(&platform, &viewer.user, &url).await?;
        Ok(crate::models::api_tokens::AddedPush {
            secret: added.secret.expose_secret().to_owned(),
            row: crate::views::api_tokens::push_row(added.destination),
        })
    })
    .await
}

/// Delivers a dead-lettered destination's batches again.
#[server(prefix = "/api", endpoint = "retry_push_destination")]
pub async fn retry_push_destination(id: String) -> Result<Saved, AppError> {
    crate::ssr::admin(|viewer, platform| async move {
        platform::delivery::push::retry(&platform, &viewer.user, &id).await?;
        Ok(Saved { message: "Retry queued: its undelivered batches are sent again now.".to_owned() })
    })
    .await
}

#[server(prefix = "/api", endpoint = "remove_push_destination")]
pub async fn remove_push_destination(id: String) -> Result<Saved, AppError> {
    crate::ssr::admin(|viewer, platform| async move {
        platform::delivery::push::remove(&platform, &viewer.user, &id).await?;
        Ok(Saved { message: "Destination removed, with its signing secret.".to_owned() })
    })
    .await
}
