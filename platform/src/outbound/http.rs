//! The console's own HTTP client to providers.

use std::time::Duration;

/// The one HTTP client for calls the console makes to providers itself
/// (CONNECTOR-RULES 30): no redirects are followed (SECURITY A10), and
/// every call is bounded by the configured timeout.
#[derive(Clone, Debug)]
pub struct Http {
    client: reqwest::Client,
    timeout: Duration,
}

impl Http {
    /// Fails only when the TLS stack cannot start (no usable root
    /// certificates), which start-up reports.
    pub fn new(timeout: Duration) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .timeout(timeout)
            .user_agent(concat!("Patchbay/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client, timeout })
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The client itself, for the OAuth token requests.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The connectors' sending over this client, with the default retries.
    pub fn connector(&self) -> connector_core::http::Http {
        connector_core::http::Http::from_client(self.client.clone(), connector_core::http::RetryPolicy::default())
    }

    /// The connectors' sending and failure classes over this client, with
    /// one try: for calls whose caller retries on its own schedule.
    pub fn single_try(&self) -> connector_core::http::Http {
        let policy = connector_core::http::RetryPolicy { max_attempts: 1, ..Default::default() };
        connector_core::http::Http::from_client(self.client.clone(), policy)
    }
}
