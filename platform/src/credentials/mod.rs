//! Credentials: which OAuth app a team connects with (`oauth_apps`), the
//! OAuth token lifecycle (`tokens`: lease, refresh, re-auth), the
//! credentials a connector is handed (`connector`), and revoking a
//! connection's grant with the right app.

pub mod connector;
pub mod oauth_apps;
pub mod tokens;

use secrecy::SecretString;

use crate::{
    Platform,
    catalog::Provider,
    ids::TeamId,
    outbound::oauth2::{self, Revoked},
};

/// Asks the provider to revoke a connection's stored tokens with the app
/// `team` connects `provider` with (SECURITY D6).
pub async fn revoke(platform: &Platform, team: &TeamId, provider: &Provider, token_json: &SecretString) -> Revoked {
    match oauth_apps::resolve(platform, team, &provider.id).await {
        Ok(app) => oauth2::revoke(&platform.http, provider, app.as_ref(), token_json).await,
        Err(_) => Revoked::Later("the OAuth app could not be read".into()),
    }
}
