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
