//! Patchbay's server-only domain. Nothing here knows about Leptos or HTTP routes:
//! the server and the `app` crate's server functions call into it.
//!
//! - `ids`: every id newtype (teams, users, invites, installations,
//!   providers, jobs); signatures take these, not `&str`.
//! - `store`: the only place with SQL. Repositories are plain functions that
//!   take a [`Db`], a connection or a transaction, written once for both
//!   backends.
//! - `accounts`, `catalog`, `secrets`: the domain's words, the provider
//!   files and the secret store.
//! - `outbound`: what the console sends providers (the HTTP client, the
//!   account request, the OAuth 2.0 protocol).
//! - `credentials`: which OAuth app, the token lifecycle, the credentials
//!   a connector is handed, revoking.
//! - `connect`: the credential form, OAuth start and callback, establish,
//!   check and disconnect; `login`: sign-in.
//! - `jobs`: the one job registry, its handlers (the sync runner, revoke
//!   retries) and the loop every process runs; `connectors`: the one list
//!   of built connectors.
//! - `status`: the read models pages need, each in a bounded number of
//!   queries.
//! - `webhooks`: inbound deliveries (ingress, verification, idempotency),
//!   applying them, and subscriptions at providers.
//! - `delivery`: what the knowledge platform and agents read: API tokens,
//!   the change feed, records and search.
//! - `limits`: counting per key and minute, for rate limits.

pub mod accounts;
pub mod catalog;
pub mod connect;
pub mod connectors;
pub mod credentials;
pub mod delivery;
pub mod error;
pub mod ids;
pub mod jobs;
pub mod limits;
pub mod login;
pub mod outbound;
mod passwords;
pub mod secrets;
pub mod status;
pub mod store;
pub mod webhooks;

#[cfg(feature = "test-support")]
pub mod testing;

pub use store::db::{Backend, DatabaseUrl, Db, Readiness};

/// Small helpers the repositories and services share.
pub(crate) mod util {
    /// The time now, in Unix seconds, as the tables store it.
    pub(crate) fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    /// The result of a task that did database work: its panic goes on in
    /// the caller; a task cancelled (only a runtime shutting down does so)
    /// reads as the pool closed.
    pub(crate) fn joined<T>(result: Result<T, tokio::task::JoinError>) -> crate::Result<T> {
        match result {
            Ok(value) => Ok(value),
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(_) => Err(crate::Error::Database(sqlx::Error::PoolClosed)),
        }
    }

    /// 128 random bits as hex: an id for a claim, a lease holder or a grant.
    pub(crate) fn random_id() -> String {
        let mut bytes = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
        hex::encode(bytes)
    }
}
pub use error::{Error, Result};

/// What request handlers, server functions and jobs need from the platform,
/// shared behind an `Arc`-like clone.
#[derive(Clone, Debug)]
pub struct Platform {
    pub db: Db,
    pub secrets: std::sync::Arc<dyn secrets::SecretStore>,
    pub catalog: std::sync::Arc<catalog::Catalog>,
    pub login_throttle: login::Throttle,
    /// The client for the console's own calls to providers.
    pub http: outbound::http::Http,
    /// The OAuth apps of the whole deployment, by provider id: the
    /// environment's and built-in ones. A team may save its own
    /// ([`oauth_apps`]).
    pub oauth_apps: std::sync::Arc<outbound::oauth2::Apps>,
    /// Providers whose app comes with the console (the sandbox): there is
    /// nothing for an admin to enter.
    pub built_in_apps: std::sync::Arc<std::collections::BTreeSet<ids::ProviderId>>,
    /// Each connection's rate budget and circuit breaker in this process.
    pub pacing: std::sync::Arc<jobs::sync::Pacing>,
    /// How long a worker's claim on a job lasts without a heartbeat: how
    /// soon a dead worker's job is taken up again.
    pub job_lease: std::time::Duration,
    /// Whether webhooks are on, and where providers reach the console.
    pub webhooks: webhooks::Settings,
    /// Deliveries accepted and refused in this process, for `/metrics`.
    pub webhook_counters: std::sync::Arc<webhooks::ingress::Counters>,
    /// Refusals per address this minute (SECURITY H4).
    pub webhook_limiter: std::sync::Arc<webhooks::ingress::Limiter>,
    /// Endpoints' secrets, read from the store at most once a minute.
    pub webhook_secrets: std::sync::Arc<webhooks::ingress::SecretCache>,
    /// The change feed's retention and the records API's rate limit.
    pub delivery: delivery::Settings,
    /// Records API requests per token this minute.
    pub api_limiter: std::sync::Arc<limits::MinuteCounter<String>>,
}

impl Platform {
    pub fn new(
        db: Db,
        secrets: std::sync::Arc<dyn secrets::SecretStore>,
        catalog: std::sync::Arc<catalog::Catalog>,
        http: outbound::http::Http,
    ) -> Self {
        Self {
            db,
            secrets,
            catalog,
            login_throttle: login::Throttle::default(),
            http,
            oauth_apps: std::sync::Arc::new(outbound::oauth2::Apps::new()),
            built_in_apps: std::sync::Arc::default(),
            pacing: std::sync::Arc::default(),
            job_lease: jobs::sync::DEFAULT_LEASE,
            webhooks: webhooks::Settings::default(),
            webhook_counters: std::sync::Arc::default(),
            webhook_limiter: std::sync::Arc::default(),
            webhook_secrets: std::sync::Arc::default(),
            delivery: delivery::Settings::default(),
            api_limiter: std::sync::Arc::default(),
        }
    }

    /// The deployment's OAuth apps (the environment's), and those that come
    /// with the console, which teams cannot replace.
    pub fn with_oauth_apps(mut self, apps: outbound::oauth2::Apps, built_in: outbound::oauth2::Apps) -> Self {
        self.built_in_apps = std::sync::Arc::new(built_in.keys().cloned().collect());
        self.oauth_apps = std::sync::Arc::new(apps.into_iter().chain(built_in).collect());
        self
    }
}
