//! The credentials a connector is handed for one run: an OAuth
//! connection's tokens from the token service, or an `api_key`
//! connection's key from the secret store. Both are read when a request
//! needs them, never copied when a job is queued (SECURITY E3), and reused
//! only briefly.

use std::{collections::BTreeMap, sync::Mutex, time::Duration};

use connector_core::http::{Credentials, FetchError};
use secrecy::{ExposeSecret as _, SecretString};

use crate::{
    Platform,
    catalog::{Auth, BasicAuth, FieldKind, Provider},
    credentials::tokens::{self, TokenError},
    error::{Error, Result},
    ids::{ProviderId, TeamId},
    outbound::account::{self, Value, Values},
    secrets::SecretPath,
};

/// The credentials a connector of `provider` uses for `team`'s
/// connection, whose non-secret settings are `settings`; `None` where its
/// kind of auth cannot be handed to a connector (a key form with more than
/// one secret, or a `basic` form whose check names no user and password).
pub fn for_connection<'a>(
    platform: &'a Platform,
    team: &'a TeamId,
    provider: &'a Provider,
    settings: &BTreeMap<String, String>,
) -> Result<Option<Box<dyn Credentials + 'a>>> {
    Ok(match &provider.auth {
        Auth::Oauth2(_) => {
            Some(Box::new(OauthCredentials { platform, team, provider: &provider.id, last: Reused::default() }))
        }
        Auth::ApiKey(fields) => {
            let mut secrets = fields.fields.iter().filter(|f| f.kind == FieldKind::Secret);
            let (Some(key), None) = (secrets.next(), secrets.next()) else { return Ok(None) };
            let path = SecretPath::of(team, &[provider.id.as_str(), &key.name])?;
            Some(Box::new(StoredKey { platform, path, last: Reused::default() }))
        }
        Auth::Basic(credentials) => {
            let Some(basic) = &credentials.verify.basic_auth else { return Ok(None) };
            let secrets = credentials
                .fields
                .iter()
                .filter(|f| f.kind == FieldKind::Secret)
                .map(|f| Ok((f.name.clone(), SecretPath::of(team, &[provider.id.as_str(), &f.name])?)))
                .collect::<Result<Vec<_>>>()?;
            Some(Box::new(BasicPair { platform, basic, settings: settings.clone(), secrets, last: Reused::default() }))
        }
    })
}

/// How long a token read from the token service or the secret store is
/// used before asking again; well inside an OAuth token's refresh-ahead
/// minute.
const TOKEN_REUSE: Duration = Duration::from_secs(20);

/// The credential a run sent last, reused for [`TOKEN_REUSE`], so a long
/// run neither reads the secret store for every page (an SSM call each)
/// nor outlives a refresh, a replaced key or a disconnect by more.
#[derive(Default)]
struct Reused(Mutex<Option<(SecretString, std::time::Instant)>>);

impl Reused {
    fn slot(&self) -> std::sync::MutexGuard<'_, Option<(SecretString, std::time::Instant)>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The last one, while it may still be reused.
    fn current(&self) -> Option<String> {
        self.slot().as_ref().filter(|(_, at)| at.elapsed() < TOKEN_REUSE).map(|(s, _)| s.expose_secret().to_owned())
    }

    fn remember(&self, secret: SecretString) -> String {
        let text = secret.expose_secret().to_owned();
        *self.slot() = Some((secret, std::time::Instant::now()));
        text
    }

    /// The last one, which the provider refused: not to be reused.
    fn take_refused(&self) -> Option<SecretString> {
        self.slot().take().map(|(secret, _)| secret)
    }
}

/// An OAuth connection's tokens, from the token service (which refreshes
/// them ahead of expiry).
struct OauthCredentials<'a> {
    platform: &'a Platform,
    team: &'a TeamId,
    provider: &'a ProviderId,
    last: Reused,
}

fn token_failure(error: TokenError) -> FetchError {
    match error {
        TokenError::NeedsReauth => {
            FetchError::permanent(Some(401), "the provider no longer accepts the authorization; reconnect")
        }
        TokenError::Unavailable => FetchError::transient(None, "the provider's token endpoint is unavailable"),
        TokenError::NotConnected => FetchError::permanent(None, "the connection is gone"),
        TokenError::Platform(error) => {
            tracing::error!(%error, "reading a token failed");
            FetchError::transient(None, "the console could not read the token")
        }
    }
}

#[async_trait::async_trait]
impl Credentials for OauthCredentials<'_> {
    async fn token(&self) -> std::result::Result<String, FetchError> {
        if let Some(token) = self.last.current() {
            return Ok(token);
        }
        let token = tokens::access_token(self.platform, self.team, self.provider).await.map_err(token_failure)?;
        Ok(self.last.remember(token))
    }

    async fn refresh(&self) -> std::result::Result<Option<String>, FetchError> {
        let Some(refused) = self.last.take_refused() else { return Ok(None) };
        let fresh = tokens::access_token_after_refusal(self.platform, self.team, self.provider, &refused)
            .await
            .map_err(token_failure)?;
        if fresh.expose_secret() == refused.expose_secret() {
            return Ok(None);
        }
        Ok(Some(self.last.remember(fresh)))
    }
}

/// The key of an `api_key` connection (its one secret field), read from
/// the secret store when it is used (SECURITY E3). A key cannot be
/// refreshed: after a 401 the store is read past its cache once, so a key
/// an admin replaced meanwhile is picked up; the same key again means the
/// provider refuses it.
struct StoredKey<'a> {
    platform: &'a Platform,
    path: SecretPath,
    last: Reused,
}

impl StoredKey<'_> {
    fn missing() -> FetchError {
        FetchError::permanent(None, "the stored key is missing; replace the credentials")
    }

    fn unreadable(error: &Error) -> FetchError {
        tracing::error!(%error, "reading a stored key failed");
        FetchError::transient(None, "the console could not read the stored key")
    }
}

#[async_trait::async_trait]
impl Credentials for StoredKey<'_> {
    async fn token(&self) -> std::result::Result<String, FetchError> {
        if let Some(key) = self.last.current() {
            return Ok(key);
        }
        let secret = self.platform.secrets.get(&self.path).await.map_err(|e| Self::unreadable(&e))?;
        Ok(self.last.remember(secret.ok_or_else(Self::missing)?.value))
    }

    async fn refresh(&self) -> std::result::Result<Option<String>, FetchError> {
        let refused = self.last.take_refused();
        let secret = self.platform.secrets.get_fresh(&self.path).await.map_err(|e| Self::unreadable(&e))?;
        let fresh = secret.ok_or_else(Self::missing)?.value;
        if refused.is_some_and(|refused| refused.expose_secret() == fresh.expose_secret()) {
            return Ok(None);
        }
        Ok(Some(self.last.remember(fresh)))
    }
}

/// An HTTP Basic pair, filled in at run time from the connection's
/// settings and its secrets as the form's check fills it (the user from a
/// setting, the password from the secret store), and handed over as
/// `user:password` for [`connector_core::auth::Placement::Basic`]. A
/// password replaced meanwhile is read at the next run (SECURITY E3).
struct BasicPair<'a> {
    platform: &'a Platform,
    basic: &'a BasicAuth,
    settings: BTreeMap<String, String>,
    secrets: Vec<(String, SecretPath)>,
    last: Reused,
}

impl BasicPair<'_> {
    async fn read(&self, fresh: bool) -> std::result::Result<SecretString, FetchError> {
        let mut values: Values = self
            .settings
            .iter()
            .map(|(name, value)| (name.clone(), Value::plain(SecretString::from(value.clone()))))
            .collect();
        for (name, path) in &self.secrets {
            let read =
                if fresh { self.platform.secrets.get_fresh(path).await } else { self.platform.secrets.get(path).await };
            let secret = read.map_err(|e| StoredKey::unreadable(&e))?.ok_or_else(StoredKey::missing)?;
            values.insert(name.clone(), Value::plain(secret.value));
        }
        let user = account::fill(&self.basic.username, &values, false);
        let password = account::fill(&self.basic.password, &values, false);
        Ok(SecretString::from(format!("{user}:{password}")))
    }
}

#[async_trait::async_trait]
impl Credentials for BasicPair<'_> {
    async fn token(&self) -> std::result::Result<String, FetchError> {
        if let Some(pair) = self.last.current() {
            return Ok(pair);
        }
        Ok(self.last.remember(self.read(false).await?))
    }

    async fn refresh(&self) -> std::result::Result<Option<String>, FetchError> {
        let refused = self.last.take_refused();
        let fresh = self.read(true).await?;
        if refused.is_some_and(|refused| refused.expose_secret() == fresh.expose_secret()) {
            return Ok(None);
        }
        Ok(Some(self.last.remember(fresh)))
    }
}
