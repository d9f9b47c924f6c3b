//! Connecting a provider with OAuth 2.0: the authorization code flow with
//! PKCE, from the transaction that `start` records to the callback that
//! `finish` checks and completes.
//!
//! A transaction is single-use, expires after ten minutes, and is tied to
//! the browser session that started it: its state (256 random bits) is
//! stored only as a SHA-256 digest, beside a digest of the session id, so a
//! callback in another session (SECURITY A1, C2), a replayed one (A2) or
//! one at another provider's callback path (A5) finds nothing to complete,
//! and no token request is made. The code is exchanged with the redirect
//! URI the authorize request used (A7), through the console's HTTP client,
//! which never follows redirects (A10).

use std::collections::BTreeMap;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use oauth2::{
    AuthorizationCode, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, RequestTokenError, Scope,
    basic::{BasicErrorResponse, BasicErrorResponseType},
};
use rand::RngCore as _;
use secrecy::SecretString;
use sha2::{Digest as _, Sha256};

use crate::{
    Platform,
    catalog::{Auth, Availability, OAuth2, Pkce, Provider},
    error::{Error, Result},
    ids::{ProviderId, TeamId, UserId},
    outbound::{
        account::{self, Destination, Value, Values},
        oauth2::{Revoked, StoredToken, TOKEN_KEY, TokenResponse, Transport, Via, client, stored_token},
    },
    store::{self, installations::Installation, oauth_transactions::Transaction, users::User},
    util::{now, random_id},
};

/// How long a started connect may take at the provider.
pub const TRANSACTION_SECONDS: i64 = 600;

/// Longest value a callback parameter may have (SECURITY G1).
pub const MAX_PARAM_CHARS: usize = 2048;

fn digest(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// The OAuth description of a provider that can be connected now.
fn oauth_provider<'a>(platform: &'a Platform, provider: &ProviderId) -> Result<(&'a Provider, &'a OAuth2)> {
    let found = platform.catalog.get(provider).ok_or(Error::NotFound)?;
    let Auth::Oauth2(oauth) = &found.auth else {
        return Err(Error::Refused(format!("{} connects with a form, not with OAuth.", found.name)));
    };
    if found.availability == Availability::ComingSoon {
        return Err(Error::Refused(format!("{} cannot be connected yet.", found.name)));
    }
    Ok((found, oauth))
}

/// Starts a connect: records the transaction and returns the provider's
/// authorize URL. `redirect_uri` is built from the public base URL;
/// `return_to` is a checked same-site path.
#[tracing::instrument(skip_all, fields(team = %actor.team_id, provider))]
pub async fn start(
    platform: &Platform,
    actor: &User,
    session_id: &str,
    provider: &ProviderId,
    redirect_uri: &str,
    return_to: &str,
) -> Result<url::Url> {
    let (provider, oauth) = oauth_provider(platform, provider)?;
    tracing::Span::current().record("provider", provider.id.as_str());
    let app =
        crate::credentials::oauth_apps::resolve(platform, &actor.team_id, &provider.id).await?.ok_or_else(|| {
            Error::Refused(format!(
                "{} has no OAuth app configured. Enter one under Settings → OAuth apps, or set PATCHBAY_{}_CLIENT_ID \
             and _CLIENT_SECRET.",
                provider.name,
                provider.id.env_name()
            ))
        })?;
    let mut conn = platform.db.pool().acquire().await?;
    let existing = crate::store::installations::find(&mut conn, &actor.team_id, &provider.id).await?;
    drop(conn);
    if existing.is_some_and(|i| i.is_active() && i.state != crate::store::installations::State::NeedsReauth) {
        return Err(Error::Refused(format!(
            "{} is connected already. To connect another account, disconnect it first.",
            provider.name
        )));
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let state = URL_SAFE_NO_PAD.encode(bytes);
    let client = client(oauth, &app, redirect_uri)?;
    let mut request = client.authorize_url(|| CsrfToken::new(state.clone()));
    // With webhooks on, also the scopes registering them needs.
    let webhook_scopes = provider.webhooks.as_ref().filter(|_| crate::webhooks::wanted(platform, provider));
    let scopes: Vec<&String> = oauth.scopes.iter().chain(webhook_scopes.iter().flat_map(|h| &h.scopes)).collect();
    if !scopes.is_empty() {
        let joined: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
        request = request.add_scope(Scope::new(joined.join(&oauth.scope_separator)));
    }
    for (name, value) in &oauth.extra_authorize_params {
        request = request.add_extra_param(name.clone(), value.clone());
    }
    // S256 whenever the provider takes it (SECURITY A3); the verifier stays here.
    let verifier = if oauth.pkce == Pkce::Unsupported {
        None
    } else {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        request = request.set_pkce_challenge(challenge);
        Some(verifier.secret().clone())
    };
    let (url, _) = request.url();

    let now = now();
    let mut conn = platform.db.pool().acquire().await?;
    let (state_hash, session_hash) = (digest(&state), digest(session_id));
    let transaction = store::oauth_transactions::NewTransaction {
        state_hash: &state_hash,
        session_hash: &session_hash,
        team: &actor.team_id,
        user: &actor.id,
        provider: provider.id.as_str(),
        verifier: verifier.as_deref(),
        redirect_uri,
        return_to,
        created_at: now,
        expires_at: now + TRANSACTION_SECONDS,
    };
    store::oauth_transactions::insert(&mut conn, &transaction, now).await?;
    Ok(url)
}

/// The parameters of a callback, checked for size and duplicates.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

impl std::fmt::Debug for Callback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The code and state are credentials for a few minutes.
        f.debug_struct("Callback").field("iss", &self.iss).field("error", &self.error).finish_non_exhaustive()
    }
}

impl Callback {
    /// Parses a raw query string. A parameter given twice, or longer than
    /// 2048 characters, is refused (SECURITY G1); unknown ones are ignored.
    pub fn parse(query: &str) -> std::result::Result<Self, Failure> {
        if query.len() > 16 * MAX_PARAM_CHARS {
            return Err(Failure::BadRequest);
        }
        let mut callback = Callback::default();
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let slot = match name.as_ref() {
                "code" => &mut callback.code,
                "state" => &mut callback.state,
                "iss" => &mut callback.iss,
                "error" => &mut callback.error,
                "error_description" => &mut callback.error_description,
                _ => continue,
            };
            if slot.is_some() || value.chars().count() > MAX_PARAM_CHARS {
                return Err(Failure::BadRequest);
            }
            *slot = Some(value.into_owned());
        }
        Ok(callback)
    }
}

/// Why a callback did not connect. Each has a page in plain words, and
/// none leaves anything stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Malformed: a parameter twice, too long, or no code.
    BadRequest,
    /// No transaction of this session has this state: unknown, used,
    /// expired, or started in another session or team.
    UnknownState,
    /// The transaction was started for another provider (mix-up).
    WrongProvider,
    /// `iss` is not the provider's issuer.
    WrongIssuer,
    /// The person declined at the provider.
    Denied,
    /// The provider answered the authorization with another error.
    ProviderError { error: String, description: Option<String> },
    /// The provider did not accept the app's client id and secret.
    InvalidClient,
    /// The provider refused the code (`invalid_grant` and friends).
    CodeRefused { error: String },
    /// The token endpoint did not answer in time, or answered 5xx/429.
    ProviderDown,
    /// The token endpoint answered with something that is not a token.
    MalformedToken,
    /// The token endpoint answered with a redirect, which is not followed:
    /// the code and the client secret go to the catalog's URL only (A10).
    TokenEndpointRedirected,
    /// A host the provider returned is not one its tokens may go to.
    HostNotAllowed { host: String },
    /// The user-info request failed.
    NoAccount(account::Failure),
    /// The app is not configured, or the provider cannot be connected.
    NotAvailable(String),
    /// Storing failed; logged.
    Internal,
}

impl Failure {
    pub fn status(&self) -> u16 {
        match self {
            Failure::Internal => 500,
            Failure::ProviderDown
            | Failure::NoAccount(_)
            | Failure::MalformedToken
            | Failure::TokenEndpointRedirected => 502,
            _ => 400,
        }
    }

    pub fn title(&self) -> &'static str {
        match self {
            Failure::Denied => "You cancelled at the provider",
            Failure::UnknownState | Failure::WrongProvider | Failure::BadRequest => "This sign-in link has expired",
            Failure::InvalidClient | Failure::NotAvailable(_) => "The OAuth app is not set up right",
            Failure::ProviderDown => "The provider did not answer",
            _ => "The connection did not complete",
        }
    }

    /// What happened and what to do, for the admin. `provider` is its name.
    pub fn explain(&self, provider: &str) -> String {
        match self {
            Failure::Denied => format!("Nothing was connected. To connect {provider}, start again and choose Approve."),
            Failure::UnknownState | Failure::BadRequest => format!(
                "Patchbay has no connect in progress for this link: it was already used, it expired, or it was \
                 started in another browser or team. Start again from the {provider} page."
            ),
            Failure::WrongProvider => format!(
                "This answer came back to {provider}'s address, but the connect was started for another \
                 provider. Nothing was connected; start again."
            ),
            Failure::WrongIssuer => format!(
                "The answer did not come from {provider} (its issuer does not match), so it was refused. Start again."
            ),
            Failure::ProviderError { error, description } => {
                let detail = description.as_ref().map_or_else(String::new, |d| format!(": {d}"));
                format!("{provider} answered with the error {error}{detail}. Nothing was connected.")
            }
            Failure::InvalidClient => format!(
                "{provider} did not accept Patchbay's OAuth app. Check the client id and secret in Settings \
                 (or PATCHBAY_…_CLIENT_ID and _CLIENT_SECRET)."
            ),
            Failure::CodeRefused { error } => {
                format!("{provider} refused to finish the connect ({error}). Start again.")
            }
            Failure::ProviderDown => {
                format!("{provider} did not answer in time, or had a problem. Try again in a minute.")
            }
            Failure::MalformedToken => {
                format!("{provider} answered with something that is not a usable token. Try again later.")
            }
            Failure::TokenEndpointRedirected => format!(
                "{provider}'s token endpoint answered with a redirect. Patchbay sends codes and client secrets only \
                 to the token URL in its catalog, so nothing was sent on and nothing was connected. If {provider} \
                 has moved its token URL, the catalog entry needs updating."
            ),
            Failure::HostNotAllowed { host } => format!(
                "{provider} pointed Patchbay at {host}, which is not one of its known hosts, so no token was sent there."
            ),
            Failure::NoAccount(failure) => failure.explain(provider, "token"),
            Failure::NotAvailable(message) => message.clone(),
            Failure::Internal => "Something went wrong on our side. It has been logged; try again.".into(),
        }
    }
}

/// A completed connect.
#[derive(Clone, Debug)]
pub struct Finished {
    pub installation: Installation,
    /// Where to send the browser: a same-site path.
    pub return_to: String,
}

/// Takes this session's transaction with this state out of the database,
/// so that it can be used only once, by one request.
async fn take(platform: &Platform, session_id: &str, state: &str) -> Result<Option<Transaction>> {
    store::oauth_transactions::take(&platform.db, &digest(state), &digest(session_id)).await
}

/// The expected `iss`: the catalog's issuer, or else the origin of the
/// authorize URL.
fn issuer_matches(oauth: &OAuth2, iss: &str) -> bool {
    match &oauth.issuer {
        Some(issuer) => issuer == iss,
        None => {
            let origin = |u: &str| url::Url::parse(u).ok().map(|u| u.origin().ascii_serialization());
            origin(&oauth.authorize_url).is_some_and(|o| Some(o) == origin(iss))
        }
    }
}

/// Completes a connect from its callback. `signed_in` and `session_id`
/// are this request's; the transaction must belong to both.
#[tracing::instrument(skip_all, fields(provider))]
pub async fn finish(
    platform: &Platform,
    signed_in: &User,
    session_id: &str,
    provider_id: &ProviderId,
    callback: Callback,
) -> std::result::Result<Finished, Failure> {
    let internal = |error: Error| {
        tracing::error!(%error, "completing an OAuth connect failed");
        Failure::Internal
    };
    let (provider, oauth) = oauth_provider(platform, provider_id).map_err(|e| Failure::NotAvailable(e.to_string()))?;
    tracing::Span::current().record("provider", provider.id.as_str());
    // SECURITY A1, A2, A4, C2: only this session's own, unused transaction.
    let Some(state) = callback.state.as_deref() else { return Err(Failure::UnknownState) };
    let transaction = take(platform, session_id, state).await.map_err(internal)?.ok_or(Failure::UnknownState)?;
    if transaction.expires_at < now() || transaction.team != signed_in.team_id.as_str() {
        return Err(Failure::UnknownState);
    }
    if transaction.user != signed_in.id.as_str() || signed_in.role != crate::accounts::Role::Admin {
        return Err(Failure::UnknownState);
    }
    // SECURITY A5: the answer came back to this provider's own path.
    if transaction.provider != provider.id.as_str() {
        return Err(Failure::WrongProvider);
    }
    // SECURITY A6: a provider that documents its issuer must send it (RFC 9207 §2.4).
    match &callback.iss {
        Some(iss) if !issuer_matches(oauth, iss) => return Err(Failure::WrongIssuer),
        None if oauth.issuer.is_some() => return Err(Failure::WrongIssuer),
        _ => {}
    }
    // SECURITY A11: an error answer makes no token request.
    if let Some(error) = callback.error {
        return Err(if error == "access_denied" {
            Failure::Denied
        } else {
            Failure::ProviderError { error, description: callback.error_description }
        });
    }
    let Some(code) = callback.code else { return Err(Failure::BadRequest) };
    let app = crate::credentials::oauth_apps::resolve(platform, &signed_in.team_id, &provider.id)
        .await
        .map_err(internal)?
        .ok_or_else(|| Failure::NotAvailable(format!("{} has no OAuth app configured any more.", provider.name)))?;

    // SECURITY A7: the same redirect URI as the authorize request.
    let client = client(oauth, &app, &transaction.redirect_uri).map_err(|e| Failure::NotAvailable(e.to_string()))?;
    let mut exchange = client.exchange_code(AuthorizationCode::new(code));
    if let Some(verifier) = transaction.verifier {
        exchange = exchange.set_pkce_verifier(PkceCodeVerifier::new(verifier));
    }
    let via = Via(platform.http.client());
    let token = exchange.request_async(&via).await.map_err(token_failure)?;

    let mut stored = stored_token(&token);
    stored.grant = random_id();
    match connect_with_token(platform, signed_in, provider, oauth, &token, &stored).await {
        Ok(installation) => Ok(Finished { installation, return_to: transaction.return_to }),
        Err(failure) => {
            // The provider issued a grant nothing will use: give it back.
            let json = SecretString::from(serde_json::to_string(&stored).unwrap_or_default());
            let team = &signed_in.team_id;
            if let Revoked::Later(why) = crate::credentials::revoke(platform, team, provider, &json).await
                && let Err(error) = crate::jobs::revoke_retry::schedule(platform, team, &provider.id, &json, &why).await
            {
                tracing::error!(%error, "could not schedule the revoke of an unused grant");
            }
            Err(failure)
        }
    }
}

/// The steps after the exchange: check the hosts the token response names,
/// read the account, store the token and the installation.
async fn connect_with_token(
    platform: &Platform,
    signed_in: &User,
    provider: &Provider,
    oauth: &OAuth2,
    token: &TokenResponse,
    stored: &StoredToken,
) -> std::result::Result<Installation, Failure> {
    let internal = |error: Error| {
        tracing::error!(%error, "completing an OAuth connect failed");
        Failure::Internal
    };
    // SECURITY A10, CONNECTOR-RULES 26, 44: a field of the token response
    // (nested ones by their dotted path, `installation.apiEndPoint`) that
    // the catalog uses as an API host must be a URL on an allowed host,
    // and is kept with the installation for the connector. Other URLs
    // (a workspace's icon, a profile link) are not hosts: not checked,
    // not kept.
    let hosts = host_fields(provider, oauth);
    let mut settings = BTreeMap::new();
    let mut fields = Values::new();
    for (name, text) in token_fields(&token.extra_fields().fields) {
        if !hosts.contains(&name) {
            fields.insert(name, Value::plain(SecretString::from(text)));
            continue;
        }
        let url = url::Url::parse(&text).map_err(|_| Failure::MalformedToken)?;
        let host = url.host_str().ok_or(Failure::MalformedToken)?;
        if !crate::catalog::host_allowed(host, &provider.api.allowed_hosts) {
            return Err(Failure::HostNotAllowed { host: host.to_owned() });
        }
        let text = text.trim_end_matches('/').to_owned();
        fields.insert(name.clone(), Value::url(&text));
        settings.insert(name, text);
    }
    let access_token = SecretString::from(stored.access_token.clone());
    let account = fetch_account(platform, provider, oauth, access_token, fields).await.map_err(Failure::NoAccount)?;

    let json = serde_json::to_string(stored).map_err(|_| Failure::MalformedToken)?;
    let secrets = BTreeMap::from([(TOKEN_KEY.to_owned(), SecretString::from(json))]);
    crate::connect::establish(platform, signed_in, provider, &account, &settings, &secrets).await.map_err(|e| match e {
        Error::Refused(message) => Failure::NotAvailable(message),
        other => internal(other),
    })
}

/// The token response's text fields, nested objects' by their dotted
/// path (`installation.apiEndPoint`).
fn token_fields(fields: &BTreeMap<String, serde_json::Value>) -> Vec<(String, String)> {
    fn walk(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, String)>, depth: usize) {
        match value {
            serde_json::Value::String(text) => out.push((prefix.to_owned(), text.clone())),
            serde_json::Value::Object(map) if depth < 4 => {
                for (name, inner) in map {
                    walk(&format!("{prefix}.{name}"), inner, out, depth + 1);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (name, value) in fields {
        walk(name, value, &mut out, 0);
    }
    out
}

/// The token fields the catalog uses as API hosts: those whose
/// `{token.NAME}` opens the API's base URL or the account request's URL
/// (`{token.instance_url}/services/…`).
fn host_fields(provider: &Provider, oauth: &OAuth2) -> Vec<String> {
    [provider.api.base_url.as_str(), oauth.user_info.url.as_str()]
        .iter()
        .filter_map(|template| template.strip_prefix("{token.")?.split_once('}').map(|(name, _)| name.to_owned()))
        .collect()
}

/// Asks the provider's user-info endpoint which account `access_token`
/// reaches (CONNECTOR-RULES 27). `token_fields` are the token response's
/// other fields the request may name as `{token.NAME}`: all of them at
/// connect time, the hosts kept as settings afterwards.
pub(crate) async fn fetch_account(
    platform: &Platform,
    provider: &Provider,
    oauth: &OAuth2,
    access_token: SecretString,
    token_fields: Values,
) -> std::result::Result<account::Account, account::Failure> {
    let mut values: Values = token_fields.into_iter().map(|(name, value)| (format!("token.{name}"), value)).collect();
    values.insert("access_token".into(), Value::plain(access_token));
    let to = Destination { allowed_hosts: &provider.api.allowed_hosts, entered_hosts: Vec::new() };
    account::fetch(&platform.http, &oauth.user_info, &values, &to).await
}

fn token_failure(error: RequestTokenError<Transport, BasicErrorResponse>) -> Failure {
    match error {
        RequestTokenError::ServerResponse(response) => match response.error() {
            BasicErrorResponseType::InvalidClient | BasicErrorResponseType::UnauthorizedClient => {
                Failure::InvalidClient
            }
            other => Failure::CodeRefused { error: other.as_ref().to_owned() },
        },
        RequestTokenError::Request(Transport::Redirected) => Failure::TokenEndpointRedirected,
        RequestTokenError::Request(_) => Failure::ProviderDown,
        // The body may hold a token: it is dropped unread.
        RequestTokenError::Parse(..) | RequestTokenError::Other(_) => Failure::MalformedToken,
    }
}

/// Which team and user a transaction belongs to; for tests.
pub async fn pending_count(platform: &Platform, team: &TeamId, user: &UserId) -> Result<i64> {
    store::oauth_transactions::count_for(&platform.db, team, user).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CONNECTOR-RULES 44: nested token fields are named by their path,
    /// and only those the catalog opens an API URL with are hosts.
    #[test]
    fn token_fields_are_flattened_and_only_api_hosts_are_hosts() {
        let fields: BTreeMap<String, serde_json::Value> = serde_json::from_value(serde_json::json!({
            "installation": { "apiEndPoint": "https://acme.teamwork.com/", "id": 7, "company": { "name": "Acme" } },
            "workspace_icon": "https://s3.example/icon.png",
            "bot_id": "b-1",
        }))
        .unwrap();
        let mut flat = token_fields(&fields);
        flat.sort();
        assert_eq!(
            flat,
            [
                ("bot_id".to_owned(), "b-1".to_owned()),
                ("installation.apiEndPoint".to_owned(), "https://acme.teamwork.com/".to_owned()),
                ("installation.company.name".to_owned(), "Acme".to_owned()),
                ("workspace_icon".to_owned(), "https://s3.example/icon.png".to_owned()),
            ]
        );
        let catalog = crate::catalog::Catalog::load(None, std::path::Path::new("/nonexistent")).unwrap();
        let teamwork = catalog.get(&crate::ids::ProviderId::parse("teamwork").unwrap()).unwrap();
        let crate::catalog::Auth::Oauth2(oauth) = &teamwork.auth else { panic!("Teamwork connects with OAuth") };
        assert_eq!(host_fields(teamwork, oauth), ["installation.apiEndPoint", "installation.apiEndPoint"]);
        let notion = catalog.get(&crate::ids::ProviderId::parse("notion").unwrap()).unwrap();
        let crate::catalog::Auth::Oauth2(oauth) = &notion.auth else { panic!("Notion connects with OAuth") };
        assert!(host_fields(notion, oauth).is_empty(), "Notion's workspace_icon would be checked as a host");
    }

    #[test]
    fn callback_parameters_given_twice_or_too_long_are_refused() {
        // SECURITY G1
        assert_eq!(Callback::parse("code=a&code=b"), Err(Failure::BadRequest));
        assert_eq!(Callback::parse(&format!("state={}", "x".repeat(3000))), Err(Failure::BadRequest));
        let parsed = Callback::parse("code=c%20d&state=s&iss=https%3A%2F%2Fx&other=1&other=2").unwrap();
        assert_eq!(parsed.code.as_deref(), Some("c d"));
        assert_eq!(parsed.iss.as_deref(), Some("https://x"));
    }
}

#[cfg(test)]
#[expect(dead_code, reason = "compile-time checks only")]
mod send_checks {
    fn is_send<T: Send>(_: T) {}
    fn finish_is_send(p: &crate::Platform, u: &crate::store::users::User, c: super::Callback) {
        is_send(super::finish(p, u, "s", &crate::ids::ProviderId::parse("x").unwrap(), c));
    }
    fn access_token_is_send(p: &crate::Platform, t: &crate::ids::TeamId) {
        is_send(crate::credentials::tokens::access_token(p, t, &crate::ids::ProviderId::parse("x").unwrap()));
    }
    fn establish_is_send(
        p: &crate::Platform,
        u: &crate::store::users::User,
        pr: &crate::catalog::Provider,
        a: &crate::outbound::account::Account,
        m: &std::collections::BTreeMap<String, String>,
        s: &std::collections::BTreeMap<String, secrecy::SecretString>,
    ) {
        is_send(crate::connect::establish(p, u, pr, a, m, s));
    }
}
