//! What the connectors' fixture suites share (feature `testing`): a
//! wiremock server standing in for the provider, a client that retries
//! quickly, credentials that count refreshes, and fixture files.

use std::{
    collections::BTreeMap,
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use wiremock::MockServer;

use crate::{
    http::{Call, Credentials, FetchError, Http, RetryPolicy},
    source::{Context, Mode, Page, Source},
};

/// A JSON fixture from a crate's `tests/fixtures/`.
///
/// # Panics
/// When the file is missing or not JSON: the suite is broken.
pub fn fixture(manifest_dir: &str, name: &str) -> serde_json::Value {
    let path = format!("{manifest_dir}/tests/fixtures/{name}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Credentials whose token is `old-token` until refreshed, then
/// `new-token`; the fake provider accepts only the new one.
#[derive(Debug)]
pub struct TestTokens {
    refreshes: AtomicU32,
}

impl TestTokens {
    /// Already refreshed: `new-token` from the start.
    pub fn fresh() -> Self {
        Self { refreshes: AtomicU32::new(1) }
    }

    /// `old-token` until the first refresh.
    pub fn stale() -> Self {
        Self { refreshes: AtomicU32::new(0) }
    }

    /// Refreshes asked for, beyond the one `fresh` starts with.
    pub fn refreshes(&self) -> u32 {
        self.refreshes.load(Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl Credentials for TestTokens {
    async fn token(&self) -> Result<String, FetchError> {
        Ok(if self.refreshes() == 0 { "old-token" } else { "new-token" }.into())
    }

    async fn refresh(&self) -> Result<Option<String>, FetchError> {
        self.refreshes.fetch_add(1, Ordering::SeqCst);
        Ok(Some("new-token".into()))
    }
}

/// A source, a fake provider for it, and what its calls go with.
#[derive(Debug)]
pub struct Harness<S> {
    pub server: MockServer,
    pub http: Http,
    pub tokens: TestTokens,
    /// The API's base URL: the server's address and `base_path`.
    pub base: String,
    pub settings: BTreeMap<String, String>,
    source: S,
}

impl<S: Source> Harness<S> {
    /// Starts the fake provider; the client tries three times, 10 ms apart
    /// at first, and waits at most 5 s for one pause.
    ///
    /// # Panics
    /// When the client cannot start.
    pub async fn start(source: S, base_path: &str) -> Self {
        let server = MockServer::start().await;
        let policy =
            RetryPolicy { max_attempts: 3, base_delay: Duration::from_millis(10), max_delay: Duration::from_secs(5) };
        let http = Http::new(Duration::from_secs(5), policy).expect("the HTTP client starts");
        let base = format!("{}{base_path}", server.uri());
        Self { server, http, tokens: TestTokens::fresh(), base, settings: BTreeMap::new(), source }
    }

    /// The same, with credentials that must be refreshed once.
    pub fn with_stale_token(mut self) -> Self {
        self.tokens = TestTokens::stale();
        self
    }

    /// The source's page of `mode` at `cursor`.
    pub async fn page(&self, mode: Mode, cursor: Option<&str>) -> Result<Page, FetchError> {
        let cx = Context {
            http: &self.http,
            call: Call { credentials: Some(&self.tokens), ..Call::default() },
            base_url: &self.base,
            settings: &self.settings,
        };
        self.source.page(&cx, mode, cursor).await
    }

    /// The requests the fake provider received, in order.
    ///
    /// # Panics
    /// When the server does not record requests (it always does here).
    pub async fn requests(&self) -> Vec<wiremock::Request> {
        self.server.received_requests().await.expect("requests are recorded")
    }
}
