//! A valid access token for an OAuth connection, on demand: the service
//! connectors call before each use (SECURITY E3: read when used, never a
//! copy taken earlier).
//!
//! - A token is refreshed ahead of its expiry, not after the first 401 (E6).
//! - One refresh per connection at a time, across replicas: the caller that
//!   takes the connection's lease row refreshes; the others wait and read
//!   the result from the store (E1). The store's versioned write is the
//!   second guard: a refresh that lost a race does not overwrite a newer token.
//! - The new refresh token is stored before the new access token is handed
//!   out, and the old one is kept when the provider sends none (E2,
//!   CONNECTOR-RULES 24).
//! - `invalid_grant` is believed only after the store is read again: another
//!   replica may have just rotated the token. Then the connection needs
//!   re-auth (E4).
//! - Timeouts and 5xx are retried a few times, and never mark the
//!   connection broken (E5, CONNECTOR-RULES 25).

use std::time::Duration;

use oauth2::{RefreshToken, RequestTokenError, TokenResponse as _, basic::BasicErrorResponseType};
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretString};

use crate::{
    Platform,
    catalog::{Auth, Provider},
    error::{Error, Result},
    ids::{InstallationId, ProviderId, TeamId},
    outbound::oauth2::{StoredToken, TOKEN_KEY, Transport},
    secrets::{SecretPath, Version},
    store::{
        installations::{self, Installation},
        token_leases,
    },
    util::{now, random_id},
};

/// Refresh when less than this is left of a token's life.
pub const REFRESH_AHEAD: Duration = Duration::from_secs(60);
/// Attempts at a refresh whose request never reached the provider, or was
/// answered 429 or 5xx. A timeout ends the attempt at once as
/// "unavailable", so no caller holds the lease past the provider timeout;
/// the caller's own retry (a connector's page retry, the job's) tries
/// again after its backoff (SECURITY E5). A provider that did rotate the
/// token before timing out answers that retry `invalid_grant`, and the
/// re-read of the store (E4) is all that can tell the two apart.
const ATTEMPTS: u32 = 3;
/// The longest `Retry-After` a refresh waits out while holding the lease;
/// a provider asking for more is left alone until a later call.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The grant is dead; an admin must connect again. The connection is
    /// marked so.
    #[error("the connection needs to be authorized again")]
    NeedsReauth,
    /// The provider could not be reached, failed, or refused the console's
    /// OAuth app, for now; nothing was marked.
    #[error("the provider's token endpoint is unavailable; try again later")]
    Unavailable,
    /// Nothing is connected, or it is not an OAuth connection.
    #[error("not connected")]
    NotConnected,
    #[error(transparent)]
    Platform(#[from] Error),
}

fn needs_refresh(token: &StoredToken) -> bool {
    let ahead = i64::try_from(REFRESH_AHEAD.as_secs()).unwrap_or(60);
    token.expires_at.is_some_and(|at| at - now() < ahead) && token.refresh_token.is_some()
}

/// How long a refresh may hold the lease: every attempt at the full
/// timeout, the backoff between them, and a margin. A holder that dies
/// frees it after that.
fn lease_seconds(platform: &Platform) -> i64 {
    let timeout = i64::try_from(platform.http.timeout().as_secs()).unwrap_or(300).max(1);
    timeout * i64::from(ATTEMPTS) + 5 + 10
}

#[derive(Clone)]
struct Stored {
    token: StoredToken,
    version: Version,
}

async fn read(platform: &Platform, path: &SecretPath) -> Result<Option<Stored>> {
    let Some(secret) = platform.secrets.get_fresh(path).await? else { return Ok(None) };
    let token: StoredToken = serde_json::from_str(secret.value.expose_secret())
        .map_err(|_| Error::Corrupt { what: "a stored OAuth token".into() })?;
    Ok(Some(Stored { token, version: secret.version }))
}

/// A valid access token for `team`'s connection to `provider`.
pub async fn access_token(
    platform: &Platform,
    team: &TeamId,
    provider: &ProviderId,
) -> std::result::Result<SecretString, TokenError> {
    token(platform, team, provider, None).await
}

/// A new access token after the provider refused `refused` with a 401
/// before it was due to expire (CONNECTOR-RULES 33): refreshed once, by
/// one caller across replicas, unless another has replaced it already.
pub async fn access_token_after_refusal(
    platform: &Platform,
    team: &TeamId,
    provider: &ProviderId,
    refused: &SecretString,
) -> std::result::Result<SecretString, TokenError> {
    token(platform, team, provider, Some(refused)).await
}

#[tracing::instrument(skip_all, fields(team = %team, provider))]
async fn token(
    platform: &Platform,
    team: &TeamId,
    provider: &ProviderId,
    refused: Option<&SecretString>,
) -> std::result::Result<SecretString, TokenError> {
    let found = platform.catalog.get(provider).ok_or(TokenError::NotConnected)?;
    tracing::Span::current().record("provider", found.id.as_str());
    // SECURITY C3: the installation is this team's, and connected.
    let mut conn = platform.db.pool().acquire().await.map_err(Error::from)?;
    let installation = installations::find(&mut conn, team, &found.id)
        .await?
        .filter(Installation::is_active)
        .ok_or(TokenError::NotConnected)?;
    drop(conn);
    if installation.state == installations::State::NeedsReauth {
        return Err(TokenError::NeedsReauth);
    }
    let path = SecretPath::of(team, &[found.id.as_str(), TOKEN_KEY])?;
    let seen = read(platform, &path).await?.ok_or(TokenError::NotConnected)?;
    let refused_now = refused.is_some_and(|r| r.expose_secret() == seen.token.access_token);
    let due = needs_refresh(&seen.token) || (refused_now && seen.token.refresh_token.is_some());
    if !due {
        return Ok(SecretString::from(seen.token.access_token));
    }
    let lease = Duration::from_secs(u64::try_from(lease_seconds(platform)).unwrap_or(60));
    let deadline = tokio::time::Instant::now() + lease + Duration::from_secs(5);
    loop {
        let holder = random_id();
        if take_lease(platform, &installation.id, &holder).await? {
            // The refresh runs as a task of its own: a caller that gives up
            // must not cut it off between the provider's answer and the store.
            let task = {
                let (platform, provider, installation, path, seen) =
                    (platform.clone(), found.clone(), installation.clone(), path.clone(), seen.clone());
                tokio::spawn(async move {
                    let result = refresh(&platform, &provider, &installation, &path, &seen).await;
                    release_lease(&platform, &installation.id, &holder).await;
                    result
                })
            };
            return task.await.map_err(|_| TokenError::Unavailable)?;
        }
        // Another caller, here or on another replica, is refreshing: wait
        // for its lease to go (a cheap row read), then take its result from
        // the store, if the token there is no longer the one seen expiring.
        while lease_held(platform, &installation.id).await? {
            if tokio::time::Instant::now() > deadline {
                return Err(TokenError::Unavailable);
            }
            let jitter = u64::from(rand::rng().next_u32() % 100);
            tokio::time::sleep(Duration::from_millis(50 + jitter)).await;
        }
        let now_stored = read(platform, &path).await?.ok_or(TokenError::NotConnected)?;
        if now_stored.version != seen.version {
            return Ok(SecretString::from(now_stored.token.access_token));
        }
        let mut conn = platform.db.pool().acquire().await.map_err(Error::from)?;
        let state = installations::find(&mut conn, team, &found.id).await?.map(|i| i.state);
        if state == Some(installations::State::NeedsReauth) {
            return Err(TokenError::NeedsReauth);
        }
        if tokio::time::Instant::now() > deadline {
            return Err(TokenError::Unavailable);
        }
    }
}

/// Takes the connection's lease if it is free or lapsed.
async fn take_lease(platform: &Platform, installation: &InstallationId, holder: &str) -> Result<bool> {
    let now = now();
    token_leases::take(&platform.db, installation, holder, now, now + lease_seconds(platform)).await
}

async fn lease_held(platform: &Platform, installation: &InstallationId) -> Result<bool> {
    token_leases::held(&platform.db, installation, now()).await
}

async fn release_lease(platform: &Platform, installation: &InstallationId, holder: &str) {
    if let Err(error) = token_leases::release(&platform.db, installation, holder).await {
        tracing::warn!(%error, "could not release a token lease; it lapses by itself");
    }
}

/// Refreshes while holding the lease, unless the token seen expiring has
/// been replaced meanwhile.
async fn refresh(
    platform: &Platform,
    provider: &Provider,
    installation: &Installation,
    path: &SecretPath,
    seen: &Stored,
) -> std::result::Result<SecretString, TokenError> {
    // Read again under the lease: the previous holder may have just refreshed.
    let stored = read(platform, path).await?.ok_or(TokenError::NotConnected)?;
    if stored.version != seen.version || !needs_refresh(&stored.token) {
        return Ok(SecretString::from(stored.token.access_token));
    }
    let Auth::Oauth2(oauth) = &provider.auth else { return Err(TokenError::NotConnected) };
    let app = crate::credentials::oauth_apps::resolve(platform, &installation.team_id, &provider.id)
        .await?
        .ok_or(TokenError::Unavailable)?;
    let client = crate::outbound::oauth2::refresh_client(oauth, &app)?;
    let old_refresh = stored.token.refresh_token.clone().ok_or(TokenError::NeedsReauth)?;
    let via = crate::outbound::oauth2::Via(platform.http.client());
    let mut attempt = 0;
    let response = loop {
        attempt += 1;
        let refresh_token = RefreshToken::new(old_refresh.clone());
        match client.exchange_refresh_token(&refresh_token).request_async(&via).await {
            Ok(response) => break response,
            // CONNECTOR-RULES 25: only a refused grant means re-auth.
            Err(RequestTokenError::ServerResponse(error)) if *error.error() == BasicErrorResponseType::InvalidGrant => {
                return grant_refused(platform, installation, path, &stored).await;
            }
            Err(RequestTokenError::ServerResponse(error))
                if matches!(
                    error.error(),
                    BasicErrorResponseType::InvalidClient | BasicErrorResponseType::UnauthorizedClient
                ) =>
            {
                // The app's credentials, not this grant: reconnecting would not help.
                tracing::error!(provider = %provider.id, "the provider refused the OAuth app's client credentials");
                return Err(TokenError::Unavailable);
            }
            Err(RequestTokenError::Request(Transport::Timeout)) => {
                return Err(TokenError::Unavailable);
            }
            Err(RequestTokenError::Request(Transport::Redirected)) => {
                tracing::error!(provider = %provider.id, "the token endpoint answered a refresh with a redirect");
                return Err(TokenError::Unavailable);
            }
            Err(RequestTokenError::Request(Transport::Status { retry_after: Some(wait), .. }))
                if wait > MAX_RETRY_WAIT =>
            {
                tracing::warn!(retry_after = wait.as_secs(), "the token endpoint asked for a long pause");
                return Err(TokenError::Unavailable);
            }
            Err(RequestTokenError::Request(transport)) if attempt < ATTEMPTS => {
                let backoff = Duration::from_millis(200 * 2u64.pow(attempt));
                let asked = match transport {
                    Transport::Status { retry_after, .. } => retry_after.unwrap_or_default(),
                    _ => Duration::ZERO,
                };
                tokio::time::sleep(backoff.max(asked)).await;
            }
            Err(RequestTokenError::Request(_)) => return Err(TokenError::Unavailable),
            // Garbage (a 200 without a token, an unknown error): the grant
            // may still be good, so nothing is marked; the caller retries later.
            Err(_) => {
                tracing::warn!("the token endpoint answered a refresh with something unusable");
                return Err(TokenError::Unavailable);
            }
        }
    };
    let mut next = crate::outbound::oauth2::stored_token(&response);
    // SECURITY E2, CONNECTOR-RULES 24: never replace a refresh token with nothing.
    if next.refresh_token.is_none() {
        next.refresh_token = Some(old_refresh);
    }
    if next.scope.is_none() {
        next.scope.clone_from(&stored.token.scope);
    }
    next.grant.clone_from(&stored.token.grant);
    store_refreshed(platform, path, &stored, &next).await?;
    tracing::info!(lifetime = response.expires_in().map(|d| d.as_secs()), "token refreshed");
    Ok(SecretString::from(next.access_token))
}

/// Stores a refreshed token before it is used (SECURITY E2). A passing
/// store failure is retried: the provider may already have voided the old
/// refresh token, so losing the new one would lose the grant. The write
/// is refused if the connection was replaced meanwhile (a disconnect and
/// reconnect restart versions, so the grant id is compared too).
async fn store_refreshed(
    platform: &Platform,
    path: &SecretPath,
    stored: &Stored,
    next: &StoredToken,
) -> std::result::Result<(), TokenError> {
    let json = serde_json::to_string(next).map_err(|_| TokenError::Unavailable)?;
    let value = SecretString::from(json);
    let mut last = None;
    for attempt in 0..5u32 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(100 * 2u64.pow(attempt))).await;
        }
        match read(platform, path).await {
            Ok(Some(now_stored)) if now_stored.token.grant != stored.token.grant => {
                return Err(TokenError::NotConnected);
            }
            Ok(None) => return Err(TokenError::NotConnected),
            _ => {}
        }
        match platform.secrets.put_if_version(path, Some(stored.version), &value).await {
            Ok(_) => return Ok(()),
            Err(Error::SecretConflict { .. }) => return Err(TokenError::Unavailable),
            Err(error) => {
                tracing::warn!(%error, "storing a refreshed token failed; trying again");
                last = Some(error);
            }
        }
    }
    tracing::error!("a refreshed token could not be stored; the connection may need re-auth");
    Err(last.map_or(TokenError::Unavailable, TokenError::Platform))
}

/// `invalid_grant`: believed only once the store says nobody else has
/// replaced the token meanwhile (SECURITY E4).
async fn grant_refused(
    platform: &Platform,
    installation: &Installation,
    path: &SecretPath,
    used: &Stored,
) -> std::result::Result<SecretString, TokenError> {
    if let Some(now_stored) = read(platform, path).await?
        && now_stored.version != used.version
    {
        return Ok(SecretString::from(now_stored.token.access_token));
    }
    let mut tx = platform.db.begin_write().await?;
    installations::mark_needs_reauth(&mut tx, &installation.team_id, &installation.id).await?;
    crate::store::audit::record(
        &mut tx,
        &installation.team_id,
        None,
        "installation.needs_reauth",
        installation.provider.as_str(),
        "The provider refused to refresh the token; an admin must connect again",
    )
    .await?;
    tx.commit().await.map_err(Error::from)?;
    tracing::warn!("the provider refused the refresh token; the connection needs re-auth");
    Err(TokenError::NeedsReauth)
}
