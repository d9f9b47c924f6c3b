//! The OAuth 2.0 protocol as the console speaks it to providers: clients
//! built from the catalog, the token exchange's and refresh's HTTP through
//! the console's client (which never follows redirects, SECURITY A10),
//! token responses read into what is stored, and revocation (RFC 7009).
//! No flow and no storage: `connect::oauth` runs the connect, and
//! `credentials::tokens` the refresh.

use std::{collections::BTreeMap, time::Duration};

use oauth2::{
    AuthType, AuthUrl, ClientId, ClientSecret, EndpointNotSet, EndpointSet, RedirectUrl, StandardRevocableToken,
    TokenResponse as _, TokenUrl,
    basic::{BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType},
};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};

use connector_core::http::{Call, Class};

use crate::{
    catalog::{Auth, ClientAuth, OAuth2, Provider},
    error::{Error, Result},
    outbound::http::Http,
    util::now,
};

/// The secret an OAuth connection's tokens are stored under, as one JSON
/// value so that a refresh replaces them together.
pub const TOKEN_KEY: &str = "oauth_token";

/// An OAuth app's credentials at one provider.
#[derive(Clone, Debug)]
pub struct AppCredentials {
    pub client_id: String,
    pub client_secret: SecretString,
}

/// The OAuth apps the console knows, by provider id: from
/// `PATCHBAY_<PROVIDER>_CLIENT_ID` and `_CLIENT_SECRET`, and the sandbox's.
pub type Apps = BTreeMap<crate::ids::ProviderId, AppCredentials>;

/// The token response's fields beyond the standard ones (`instance_url`,
/// `api_domain`): user-info requests may name them as `{token.…}`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct ExtraFields {
    #[serde(flatten)]
    pub fields: BTreeMap<String, serde_json::Value>,
}

impl oauth2::ExtraTokenFields for ExtraFields {}

pub(crate) type TokenResponse = oauth2::StandardTokenResponse<ExtraFields, BasicTokenType>;
/// A client before its endpoints are set.
type NewClient = oauth2::Client<
    BasicErrorResponse,
    TokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
>;
/// A client with its authorize and token endpoints.
pub(crate) type Client = oauth2::Client<
    BasicErrorResponse,
    TokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// What is stored for an OAuth connection.
#[derive(Clone, Deserialize, Serialize)]
pub struct StoredToken {
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// Unix seconds; `None` when the provider gave no lifetime.
    pub expires_at: Option<i64>,
    pub scope: Option<String>,
    /// A random id of the grant this connect obtained, kept across
    /// refreshes: a refresh that finishes after a disconnect and reconnect
    /// sees another grant and stores nothing.
    #[serde(default)]
    pub grant: String,
}

impl std::fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredToken").field("expires_at", &self.expires_at).finish_non_exhaustive()
    }
}

pub(crate) fn client(oauth: &OAuth2, app: &AppCredentials, redirect_uri: &str) -> Result<Client> {
    let bad = |what: &str| Error::Refused(format!("the provider's {what} is not a valid URL"));
    Ok(NewClient::new(ClientId::new(app.client_id.clone()))
        .set_client_secret(ClientSecret::new(app.client_secret.expose_secret().to_owned()))
        .set_auth_uri(AuthUrl::new(oauth.authorize_url.clone()).map_err(|_| bad("authorize URL"))?)
        .set_token_uri(TokenUrl::new(oauth.token_url.clone()).map_err(|_| bad("token URL"))?)
        .set_redirect_uri(RedirectUrl::new(redirect_uri.to_owned()).map_err(|_| bad("redirect URI"))?)
        .set_auth_type(match oauth.client_auth {
            ClientAuth::Basic => AuthType::BasicAuth,
            ClientAuth::Post => AuthType::RequestBody,
        }))
}

/// A client for refreshing: it needs only the token endpoint.
pub(crate) type RefreshClient = oauth2::Client<
    BasicErrorResponse,
    TokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

pub(crate) fn refresh_client(oauth: &OAuth2, app: &AppCredentials) -> Result<RefreshClient> {
    Ok(NewClient::new(ClientId::new(app.client_id.clone()))
        .set_client_secret(ClientSecret::new(app.client_secret.expose_secret().to_owned()))
        .set_token_uri(
            TokenUrl::new(oauth.token_url.clone())
                .map_err(|_| Error::Refused("the provider's token URL is not a valid URL".into()))?,
        )
        .set_auth_type(match oauth.client_auth {
            ClientAuth::Basic => AuthType::BasicAuth,
            ClientAuth::Post => AuthType::RequestBody,
        }))
}

/// A transport failure of the token request, classified without its text
/// (which names the URL).
#[derive(Debug, thiserror::Error)]
pub(crate) enum Transport {
    #[error("the provider did not answer in time")]
    Timeout,
    #[error("the provider could not be reached")]
    Unreachable,
    /// A 429 or 5xx, with the wait the provider asked for, if any.
    #[error("the provider answered HTTP {status}")]
    Status { status: u16, retry_after: Option<Duration> },
    /// A redirect, which is never followed (SECURITY A10).
    #[error("the provider answered with a redirect")]
    Redirected,
}

/// Sends one token-endpoint request through the console's client. A
/// redirect, a 429 or a 5xx becomes a transport failure, which the library
/// would otherwise try to read as an error body.
async fn send(
    http: &reqwest::Client,
    request: oauth2::HttpRequest,
) -> std::result::Result<oauth2::HttpResponse, Transport> {
    let classify = |e: reqwest::Error| if e.is_timeout() { Transport::Timeout } else { Transport::Unreachable };
    let request = reqwest::Request::try_from(request).map_err(|_| Transport::Unreachable)?;
    let mut response = http.execute(request).await.map_err(classify)?;
    let status = response.status();
    if status.is_redirection() {
        return Err(Transport::Redirected);
    }
    if status.is_server_error() || status.as_u16() == 429 {
        let retry_after = connector_core::headers::retry_after(response.headers());
        return Err(Transport::Status { status: status.as_u16(), retry_after });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(classify)? {
        if body.len() + chunk.len() > 1 << 20 {
            return Err(Transport::Status { status: status.as_u16(), retry_after: None });
        }
        body.extend_from_slice(&chunk);
    }
    let mut built = oauth2::http::Response::builder().status(status);
    for (name, value) in response.headers() {
        built = built.header(name, value);
    }
    built.body(body).map_err(|_| Transport::Unreachable)
}

/// The console's client as the OAuth library's HTTP client.
pub(crate) struct Via<'a>(pub(crate) &'a reqwest::Client);

impl<'c> oauth2::AsyncHttpClient<'c> for Via<'_> {
    type Error = Transport;
    type Future = std::pin::Pin<
        Box<dyn Future<Output = std::result::Result<oauth2::HttpResponse, Transport>> + Send + Sync + 'c>,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(send(self.0, request))
    }
}

/// The longest token life believed; a larger `expires_in` is clamped.
const MAX_TOKEN_LIFE: Duration = Duration::from_secs(10 * 365 * 86_400);

/// Reads a token endpoint's JSON body into what would be stored, or
/// `None` when it is not a token: the same types and conversion the token
/// exchange and refresh use (the OAuth library deserializes the body into
/// `TokenResponse`). For the token-response fuzz target (SECURITY G4).
pub fn read_token_response(body: &[u8]) -> Option<StoredToken> {
    serde_json::from_slice::<TokenResponse>(body).ok().map(|token| stored_token(&token))
}

pub(crate) fn stored_token(token: &TokenResponse) -> StoredToken {
    let life = token.expires_in().map(|d| d.min(MAX_TOKEN_LIFE));
    StoredToken {
        access_token: token.access_token().secret().clone(),
        refresh_token: token.refresh_token().map(|r| r.secret().clone()),
        expires_at: life.map(|d| now() + i64::try_from(d.as_secs()).unwrap_or(0)),
        scope: token.scopes().map(|s| s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")),
        grant: String::new(),
    }
}

/// How a revoke request ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revoked {
    /// The provider confirmed it (RFC 7009 answers 200 also for a token it
    /// no longer knows), or there was nothing to revoke.
    Done,
    /// Worth trying again later: a timeout, no answer, 429 or 5xx. Says why.
    Later(String),
    /// Refused for good (a 4xx): trying again will not help. Says why.
    Refused(String),
}

/// Asks the provider to revoke the stored tokens (RFC 7009), where the
/// catalog has a revoke URL: the refresh token when there is one, which
/// ends the grant, else the access token.
pub async fn revoke(
    http: &Http,
    provider: &Provider,
    app: Option<&AppCredentials>,
    token_json: &SecretString,
) -> Revoked {
    let Auth::Oauth2(oauth) = &provider.auth else { return Revoked::Done };
    let Some(revoke_url) = &oauth.revoke_url else { return Revoked::Done };
    let Some(app) = app else {
        return Revoked::Refused(format!("{} has no OAuth app configured to revoke with", provider.name));
    };
    let Ok(stored) = serde_json::from_str::<StoredToken>(token_json.expose_secret()) else {
        return Revoked::Refused("the stored token could not be read".into());
    };
    let (token, kind) = match stored.refresh_token {
        Some(refresh) => (refresh, "refresh_token"),
        None => (stored.access_token, "access_token"),
    };
    let build = |client: &reqwest::Client, _: Option<&str>| {
        let mut form = vec![("token", token.as_str()), ("token_type_hint", kind)];
        let request = match oauth.client_auth {
            ClientAuth::Basic => {
                client.post(revoke_url.as_str()).basic_auth(&app.client_id, Some(app.client_secret.expose_secret()))
            }
            ClientAuth::Post => {
                form.push(("client_id", app.client_id.as_str()));
                form.push(("client_secret", app.client_secret.expose_secret()));
                client.post(revoke_url.as_str())
            }
        };
        request.form(&form)
    };
    // A passing failure (timeout, unreachable, 429, 5xx) is tried again by
    // the revocation queue; anything else will not pass.
    let outcome = match http.single_try().send(Call::default(), build).await {
        Ok(_) => Revoked::Done,
        Err(error) if error.class == Class::Transient => Revoked::Later(format!("{}: {error}", provider.name)),
        Err(error) => Revoked::Refused(format!("{} refused to revoke the token: {error}", provider.name)),
    };
    match &outcome {
        Revoked::Done => tracing::info!("token revoked at the provider"),
        Revoked::Later(why) | Revoked::Refused(why) => tracing::warn!(reason = %why, "the token was not revoked"),
    }
    outcome
}
