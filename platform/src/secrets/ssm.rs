//! The production secret store: AWS SSM Parameter Store.
//!
//! - Values are SecureString parameters, encrypted with the account's default
//!   KMS key or the one configured. A value over 4 KB goes to the Advanced
//!   tier when that is allowed, and is refused before any call otherwise.
//! - Credentials come from the standard AWS chain (environment, profile,
//!   web identity, container and instance roles); `AWS_ENDPOINT_URL` points
//!   the client elsewhere, as the tests do with moto.
//! - `ThrottlingException`, `TooManyUpdates`, 5xx answers, timeouts and
//!   connection failures are retried with jittered exponential backoff up to
//!   a cap (SECURITY D3); the SDK's own retries are off so that this is the
//!   one policy, and every attempt is counted in [`SsmStore::api_calls`].
//! - Reads go through a short-lived cache, invalidated by this process's own
//!   writes and deletes, and concurrent misses for one name share one call,
//!   so a backfill that asks for a token per request costs one SSM call per
//!   token lifetime, not one per request.
//! - Listing pages through `GetParametersByPath` (10 per page, SECURITY D4),
//!   and deleting runs `DeleteParameters` in batches of 10.
//!
//! SSM's own error text is never passed on: a validation message can echo
//! the value it refused (CONNECTOR-RULES 35). Errors say what failed in our
//! words, with SSM's error code.

use std::{
    collections::HashMap,
    fmt,
    future::Future,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;
use aws_sdk_ssm::{
    Client,
    config::{BehaviorVersion, Credentials, Region, retry::RetryConfig, timeout::TimeoutConfig},
    error::{DisplayErrorContext, ProvideErrorMetadata, SdkError},
    types::{Parameter, ParameterTier, ParameterType},
};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use secrecy::{ExposeSecret as _, SecretString};

use super::{
    ADVANCED_VALUE_BYTES, Prefix, STANDARD_VALUE_BYTES, Secret, SecretEntry, SecretPath, SecretStore, StoreStatus,
    Version, check_value,
};
use crate::error::{Error, Result};

/// SSM's page size for `GetParametersByPath` and batch size for
/// `GetParameters` and `DeleteParameters`.
const BATCH: usize = 10;
/// A listing that has not ended after this many pages is looping.
const MAX_PAGES: usize = 10_000;
/// Names the read cache holds before it starts over.
const CACHE_MAX_ENTRIES: usize = 10_000;

/// How throttled or failed calls are retried: the connectors' policy.
pub use connector_core::http::RetryPolicy;

/// SSM's own retry defaults: quick, since a throttled parameter call
/// clears in well under a second.
const SSM_RETRY: RetryPolicy =
    RetryPolicy { max_attempts: 8, base_delay: Duration::from_millis(100), max_delay: Duration::from_secs(5) };

#[derive(Clone, Debug)]
pub struct SsmSettings {
    pub prefix: Prefix,
    /// A KMS key id, alias or ARN for SecureString values; `None` uses the
    /// account's default key for SSM.
    pub kms_key_id: Option<String>,
    /// Whether values over 4 KB may use the Advanced tier, which AWS bills.
    pub advanced_tier: bool,
    /// How long a read is served from the cache.
    pub cache_ttl: Duration,
    pub retry: RetryPolicy,
    /// Overrides `AWS_ENDPOINT_URL` and `AWS_REGION`; tests use these.
    pub endpoint_url: Option<String>,
    pub region: Option<String>,
    /// Static credentials instead of the default chain; tests use these.
    pub credentials: Option<Credentials>,
}

impl SsmSettings {
    pub fn new(prefix: Prefix) -> Self {
        Self {
            prefix,
            kms_key_id: None,
            advanced_tier: false,
            cache_ttl: Duration::from_secs(300),
            retry: SSM_RETRY,
            endpoint_url: None,
            region: None,
            credentials: None,
        }
    }
}

#[derive(Debug)]
struct Cached {
    at: Instant,
    secret: Secret,
}

/// The SSM backend. See the module documentation.
pub struct SsmStore {
    client: Client,
    settings: SsmSettings,
    cache: Mutex<HashMap<String, Cached>>,
    /// One lock per name, so concurrent misses make one call.
    loading: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    calls: AtomicU64,
    region: String,
    endpoint: String,
}

impl fmt::Debug for SsmStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SsmStore")
            .field("prefix", &self.settings.prefix)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

fn backend_error(message: String) -> Error {
    Error::SecretBackend { backend: "ssm", message }
}

impl SsmStore {
    /// Loads the AWS configuration (region, credentials chain, endpoint) and
    /// builds one client for the life of the process (CONNECTOR-RULES 30).
    pub async fn connect(settings: SsmSettings) -> Result<Self> {
        let http =
            aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(3))
                    .operation_attempt_timeout(Duration::from_secs(10))
                    .build(),
            );
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(region) = &settings.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(credentials) = &settings.credentials {
            loader = loader.credentials_provider(credentials.clone());
        }
        let sdk = loader.load().await;
        let Some(region) = sdk.region().map(ToString::to_string) else {
            return Err(backend_error(
                "no AWS region is configured; set AWS_REGION (or a region in the AWS profile)".into(),
            ));
        };
        let endpoint =
            sdk.endpoint_url().map_or_else(|| format!("https://ssm.{region}.amazonaws.com"), ToString::to_string);
        Ok(Self {
            client: Client::new(&sdk),
            settings,
            cache: Mutex::default(),
            loading: Mutex::default(),
            calls: AtomicU64::new(0),
            region,
            endpoint,
        })
    }

    /// Requests sent to SSM so far, retries included.
    pub fn api_calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Sends one request, retrying transient failures with backoff.
    async fn call<T, E, F, Fut>(&self, op: &'static str, name: &str, mut send: F) -> Result<T, SdkError<E>>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E>>>,
    {
        let policy = self.settings.retry;
        let mut attempt = 0;
        loop {
            self.calls.fetch_add(1, Ordering::Relaxed);
            match send().await {
                Ok(answer) => return Ok(answer),
                Err(error) if attempt + 1 < policy.max_attempts && is_transient(&error) => {
                    let wait = policy.backoff(attempt + 1);
                    tracing::debug!(op, name, code = error.code(), attempt, ?wait, "SSM call retried");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Says what went wrong in words an operator can act on.
    fn explain<E: ProvideErrorMetadata + std::error::Error + 'static>(
        &self,
        op: &str,
        name: &str,
        error: &SdkError<E>,
    ) -> Error {
        let message = match error {
            SdkError::ServiceError(_) => {
                let code = error.code().unwrap_or("unknown error");
                match code {
                    "AccessDeniedException" => format!(
                        "AWS refused {op} on {name}: the credentials in use lack the IAM permission ssm:{op} \
                         (or kms access to the parameter's key); grant it, or run with other credentials"
                    ),
                    "UnrecognizedClientException"
                    | "InvalidClientTokenId"
                    | "InvalidSignatureException"
                    | "SignatureDoesNotMatch"
                    | "ExpiredTokenException" => format!(
                        "AWS did not accept the credentials ({code}); check AWS_ACCESS_KEY_ID and \
                         AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or the instance role"
                    ),
                    "InvalidKeyId" => format!(
                        "the KMS key in PATCHBAY_SSM_KMS_KEY_ID cannot be used for {name} ({code}); check the key id \
                         and that the credentials may use it"
                    ),
                    "ThrottlingException" | "TooManyUpdates" => format!(
                        "SSM kept throttling {op} after {} attempts; try again shortly",
                        self.settings.retry.max_attempts
                    ),
                    "ParameterLimitExceeded" => {
                        "the AWS account has reached its limit of SSM parameters; delete unused ones or ask AWS \
                         for more"
                            .into()
                    }
                    _ => format!("SSM refused {op} on {name} ({code})"),
                }
            }
            SdkError::TimeoutError(_) => format!("SSM at {} did not answer {op} in time", self.endpoint),
            SdkError::DispatchFailure(_) => {
                format!("cannot reach SSM at {} ({})", self.endpoint, DisplayErrorContext(error))
            }
            _ => format!("{op} failed before reaching SSM ({})", DisplayErrorContext(error)),
        };
        backend_error(message)
    }

    fn cached(&self, name: &str) -> Option<Secret> {
        let cache = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.get(name).filter(|c| c.at.elapsed() < self.settings.cache_ttl).map(|c| c.secret.clone())
    }

    fn remember(&self, name: &str, secret: &Secret) {
        if self.settings.cache_ttl.is_zero() {
            return;
        }
        let mut cache = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= CACHE_MAX_ENTRIES {
            cache.clear();
        }
        cache.insert(name.to_owned(), Cached { at: Instant::now(), secret: secret.clone() });
    }

    fn forget(&self, name: &str) {
        self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(name);
    }

    fn forget_under(&self, start: &str) {
        self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner).retain(|name, _| !name.starts_with(start));
    }

    fn loading_lock(&self, name: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut loading = self.loading.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if loading.len() >= CACHE_MAX_ENTRIES {
            loading.retain(|_, lock| Arc::strong_count(lock) > 1);
        }
        loading.entry(name.to_owned()).or_default().clone()
    }

    /// The write: a SecureString, in the tier its size needs.
    async fn write(&self, name: &str, value: &SecretString, overwrite: bool) -> Result<Version, Error> {
        let bytes = value.expose_secret().len();
        let limit = if self.settings.advanced_tier { ADVANCED_VALUE_BYTES } else { STANDARD_VALUE_BYTES };
        let advice = if self.settings.advanced_tier {
            ""
        } else {
            " of SSM's Standard tier; set PATCHBAY_SSM_ADVANCED_TIER=on to allow values up to 8 KB (AWS bills \
             Advanced parameters)"
        };
        check_value(value, limit, advice)?;
        let mut request = self
            .client
            .put_parameter()
            .name(name)
            .value(value.expose_secret())
            .r#type(ParameterType::SecureString)
            .overwrite(overwrite)
            .set_key_id(self.settings.kms_key_id.clone());
        if self.settings.advanced_tier {
            // Intelligent-Tiering keeps small values Standard and an
            // existing Advanced parameter Advanced.
            let tier =
                if bytes > STANDARD_VALUE_BYTES { ParameterTier::Advanced } else { ParameterTier::IntelligentTiering };
            request = request.tier(tier);
        }
        let answer = self.call("PutParameter", name, || request.clone().send()).await;
        self.forget(name);
        match answer {
            Ok(answer) => {
                // What was just written is what the next read should see.
                let version = Version::new(answer.version());
                self.remember(name, &Secret { value: value.clone(), version });
                Ok(version)
            }
            Err(e) if e.code() == Some("ParameterAlreadyExists") => {
                Err(Error::SecretConflict { name: name.to_owned() })
            }
            Err(e) => Err(self.explain("PutParameter", name, &e)),
        }
    }

    async fn fetch(&self, name: &str, decrypt: bool) -> Result<Option<Parameter>> {
        let request = self.client.get_parameter().name(name).with_decryption(decrypt);
        match self.call("GetParameter", name, || request.clone().send()).await {
            Ok(answer) => Ok(answer.parameter),
            Err(e) if e.code() == Some("ParameterNotFound") => Ok(None),
            Err(e) => Err(self.explain("GetParameter", name, &e)),
        }
    }

    /// Every parameter below a name, page by page.
    async fn by_path(&self, under: &SecretPath, decrypt: bool) -> Result<Vec<Parameter>> {
        let path = self.settings.prefix.name_of(under)?;
        let start = self.settings.prefix.start_of(under)?;
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let request = self
                .client
                .get_parameters_by_path()
                .path(&path)
                .recursive(true)
                .with_decryption(decrypt)
                .max_results(i32::try_from(BATCH).unwrap_or(10))
                .set_next_token(token.clone());
            let page = self
                .call("GetParametersByPath", &path, || request.clone().send())
                .await
                .map_err(|e| self.explain("GetParametersByPath", &path, &e))?;
            found.extend(
                page.parameters
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|p| p.name().is_some_and(|n| n.starts_with(&start))),
            );
            match page.next_token {
                Some(next) if !next.is_empty() => {
                    if token.as_deref() == Some(next.as_str()) {
                        return Err(backend_error(format!("SSM repeated a page token while listing {path}")));
                    }
                    token = Some(next);
                }
                _ => return Ok(found),
            }
        }
        Err(backend_error(format!("listing {path} did not end after {MAX_PAGES} pages")))
    }

    fn secret_of(parameter: &Parameter) -> Option<Secret> {
        Some(Secret {
            value: SecretString::from(parameter.value()?.to_owned()),
            version: Version::new(parameter.version()),
        })
    }
}

/// Throttling, 5xx, timeouts and connection failures are worth another try.
fn is_transient<E: ProvideErrorMetadata>(error: &SdkError<E>) -> bool {
    match error {
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        SdkError::DispatchFailure(failure) => failure.is_io() || failure.is_timeout(),
        SdkError::ServiceError(service) => {
            matches!(
                error.code(),
                Some("ThrottlingException" | "TooManyUpdates" | "InternalServerError" | "ServiceUnavailable")
            ) || service.raw().status().is_server_error()
        }
        _ => false,
    }
}

#[async_trait]
impl SecretStore for SsmStore {
    fn backend(&self) -> &'static str {
        "ssm"
    }

    fn name_of(&self, path: &SecretPath) -> Result<String> {
        self.settings.prefix.name_of(path)
    }

    #[tracing::instrument(skip_all, fields(path = %path))]
    async fn put(&self, path: &SecretPath, value: &SecretString) -> Result<Version> {
        let name = self.settings.prefix.name_of(path)?;
        self.write(&name, value, true).await
    }

    /// SSM has no conditional write. `None` uses a create-only put, which
    /// SSM does make atomic. `Some` compares the version just before
    /// writing; a write that lands between that read and ours is detected
    /// afterwards (our new version is not the next one) and reported as a
    /// conflict, but cannot be prevented, so callers that rotate a token
    /// also hold the connection's lease in the database.
    #[tracing::instrument(skip_all, fields(path = %path, expected = ?expected))]
    async fn put_if_version(
        &self,
        path: &SecretPath,
        expected: Option<Version>,
        value: &SecretString,
    ) -> Result<Version> {
        let name = self.settings.prefix.name_of(path)?;
        let Some(expected) = expected else {
            return self.write(&name, value, false).await;
        };
        let current = self.fetch(&name, false).await?.map(|p| Version::new(p.version()));
        if current != Some(expected) {
            return Err(Error::SecretConflict { name });
        }
        let written = self.write(&name, value, true).await?;
        if written.get() != expected.get() + 1 {
            self.forget(&name);
            tracing::warn!(path = %path, "another writer changed this secret while it was being replaced");
            return Err(Error::SecretConflict { name });
        }
        Ok(written)
    }

    async fn get(&self, path: &SecretPath) -> Result<Option<Secret>> {
        let name = self.settings.prefix.name_of(path)?;
        if let Some(secret) = self.cached(&name) {
            return Ok(Some(secret));
        }
        let lock = self.loading_lock(&name);
        let _loading = lock.lock().await;
        // Another task may have loaded it while this one waited.
        if let Some(secret) = self.cached(&name) {
            return Ok(Some(secret));
        }
        self.get_fresh(path).await
    }

    #[tracing::instrument(skip_all, fields(path = %path))]
    async fn get_fresh(&self, path: &SecretPath) -> Result<Option<Secret>> {
        let name = self.settings.prefix.name_of(path)?;
        let secret = self.fetch(&name, true).await?.as_ref().and_then(Self::secret_of);
        match &secret {
            Some(secret) => self.remember(&name, secret),
            None => self.forget(&name),
        }
        Ok(secret)
    }

    #[tracing::instrument(skip_all, fields(count = paths.len()))]
    async fn get_many(&self, paths: &[SecretPath]) -> Result<Vec<Option<Secret>>> {
        let names = paths.iter().map(|p| self.settings.prefix.name_of(p)).collect::<Result<Vec<_>>>()?;
        let mut found: HashMap<String, Secret> = HashMap::new();
        let missing: Vec<&String> = names
            .iter()
            .filter(|name| match self.cached(name) {
                Some(secret) => {
                    found.insert((*name).clone(), secret);
                    false
                }
                None => true,
            })
            .collect();
        for batch in missing.chunks(BATCH) {
            let request = self
                .client
                .get_parameters()
                .set_names(Some(batch.iter().map(|n| (*n).clone()).collect()))
                .with_decryption(true);
            let answer = self
                .call("GetParameters", batch[0], || request.clone().send())
                .await
                .map_err(|e| self.explain("GetParameters", batch[0], &e))?;
            for parameter in answer.parameters.unwrap_or_default() {
                if let (Some(name), Some(secret)) = (parameter.name(), Self::secret_of(&parameter)) {
                    self.remember(name, &secret);
                    found.insert(name.to_owned(), secret);
                }
            }
        }
        Ok(names.iter().map(|name| found.get(name).cloned()).collect())
    }

    #[tracing::instrument(skip_all, fields(under = %under))]
    async fn get_all(&self, under: &SecretPath) -> Result<Vec<(SecretPath, Secret)>> {
        let mut all = Vec::new();
        for parameter in self.by_path(under, true).await? {
            let path = parameter.name().and_then(|n| self.settings.prefix.path_of(n));
            if let (Some(path), Some(secret)) = (path, Self::secret_of(&parameter)) {
                all.push((path, secret));
            }
        }
        all.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(all)
    }

    #[tracing::instrument(skip_all, fields(under = %under))]
    async fn list(&self, under: &SecretPath) -> Result<Vec<SecretEntry>> {
        let mut entries: Vec<SecretEntry> = self
            .by_path(under, false)
            .await?
            .iter()
            .filter_map(|p| {
                Some(SecretEntry { path: self.settings.prefix.path_of(p.name()?)?, version: Version::new(p.version()) })
            })
            .collect();
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(entries)
    }

    #[tracing::instrument(skip_all, fields(path = %path))]
    async fn delete(&self, path: &SecretPath) -> Result<bool> {
        let name = self.settings.prefix.name_of(path)?;
        let request = self.client.delete_parameter().name(&name);
        let answer = self.call("DeleteParameter", &name, || request.clone().send()).await;
        self.forget(&name);
        match answer {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("ParameterNotFound") => Ok(false),
            Err(e) => Err(self.explain("DeleteParameter", &name, &e)),
        }
    }

    #[tracing::instrument(skip_all, fields(under = %under))]
    async fn delete_all(&self, under: &SecretPath) -> Result<usize> {
        let start = self.settings.prefix.start_of(under)?;
        let names: Vec<String> =
            self.by_path(under, false).await?.iter().filter_map(|p| p.name().map(str::to_owned)).collect();
        let mut deleted = 0;
        for batch in names.chunks(BATCH) {
            let request = self.client.delete_parameters().set_names(Some(batch.to_vec()));
            let answer = self
                .call("DeleteParameters", &batch[0], || request.clone().send())
                .await
                .map_err(|e| self.explain("DeleteParameters", &batch[0], &e))?;
            deleted += answer.deleted_parameters().len();
        }
        self.forget_under(&start);
        Ok(deleted)
    }

    async fn check(&self) -> Result<StoreStatus> {
        let prefix = self.settings.prefix.as_str();
        let request = self.client.get_parameters_by_path().path(prefix).recursive(false).max_results(1);
        self.call("GetParametersByPath", prefix, || request.clone().send())
            .await
            .map_err(|e| self.explain("GetParametersByPath", prefix, &e))?;
        Ok(StoreStatus {
            location: format!("SSM Parameter Store in {} under {prefix} ({})", self.region, self.endpoint),
        })
    }
}
