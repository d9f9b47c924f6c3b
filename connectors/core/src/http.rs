//! The HTTP client connectors share (CONNECTOR-RULES 30–32, 35).
//!
//! One [`Http`] is made per process and shared: it holds the connection
//! pool. [`Http::send`] sends a request built by the caller, paced by the
//! connection's [`RateBudget`] and refused at once while its
//! [`CircuitBreaker`] is open (SECURITY F5), and:
//! - retries transient failures — timeouts, connection failures, 408, 429,
//!   5xx, and a 403 or 400 that carries a rate-limit signal (GitHub,
//!   Linear) — with
//!   exponential backoff and jitter, waiting at least what `Retry-After` or
//!   the rate-limit reset headers ask, up to a capped number of attempts;
//! - gives up at once, with the wait attached, when the provider asks for a
//!   pause longer than the policy allows, so the job is rescheduled rather
//!   than holding a worker;
//! - answers a 401 by asking the [`Credentials`] for a fresh token once,
//!   and fails if the provider refuses that one too;
//! - fails permanent errors (400, 404, 405 and the other 4xx) at once.
//!
//! A [`FetchError`] says what happened in words that hold neither the URL
//! (some providers put tokens in it) nor the provider's body (which may
//! echo a token).

use std::time::Duration;

use reqwest::{Client, RequestBuilder, Response, StatusCode};

use crate::{
    breaker::CircuitBreaker,
    budget::RateBudget,
    headers::{self, Signals},
};

/// How a failure is classed (DESIGN: Vocabulary).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// May pass if tried again later.
    Transient,
    /// Will not pass by retrying.
    Permanent,
    /// Some of a batch failed; the rest was kept.
    Partial,
    /// The stream token a changes run asked with has expired at the
    /// provider (410 Gone, `syncStateNotFound`, 412): the next run must be
    /// a full pass (CONNECTOR-RULES 37).
    StreamExpired,
}

/// A request that did not succeed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FetchError {
    pub class: Class,
    pub status: Option<u16>,
    /// What happened, without URL or body.
    pub message: String,
    /// When the provider asked to be left alone for longer than the
    /// policy waits: how long.
    pub retry_after: Option<Duration>,
}

impl FetchError {
    pub fn transient(status: Option<u16>, message: impl Into<String>) -> Self {
        Self { class: Class::Transient, status, message: message.into(), retry_after: None }
    }

    pub fn permanent(status: Option<u16>, message: impl Into<String>) -> Self {
        Self { class: Class::Permanent, status, message: message.into(), retry_after: None }
    }

    /// The provider says the stored stream token expired.
    pub fn stream_expired(status: Option<u16>, message: impl Into<String>) -> Self {
        Self { class: Class::StreamExpired, status, message: message.into(), retry_after: None }
    }

    /// A lookup's failure read for an expired stream token: 410 Gone, and
    /// 412 Precondition Failed, as Google and Microsoft Graph answer one.
    #[must_use]
    pub fn or_stream_expired(self) -> Self {
        match self.status {
            Some(status @ (410 | 412)) => {
                Self::stream_expired(Some(status), format!("the provider's change token expired (HTTP {status})"))
            }
            _ => self,
        }
    }
}

/// How hard to try.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Requests in all, the first included.
    pub max_attempts: u32,
    /// The first backoff; it doubles with each attempt.
    pub base_delay: Duration,
    /// The longest single wait; a provider asking for more ends the call.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 5, base_delay: Duration::from_millis(500), max_delay: Duration::from_secs(60) }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1 for the first): the base,
    /// doubling each time, capped at `max_delay`, with jitter between half
    /// and all of it.
    pub fn backoff(&self, retry: u32) -> Duration {
        let doublings = 2u32.saturating_pow(retry.saturating_sub(1).min(16));
        let ceiling = self.base_delay.saturating_mul(doublings).min(self.max_delay);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(millis / 2 + rand::random_range(0..=millis - millis / 2))
    }
}

/// Where a connector's token comes from: the token service for OAuth
/// connections (refreshed ahead of expiry there), the stored key otherwise.
#[async_trait::async_trait]
pub trait Credentials: Send + Sync {
    /// The token to send now.
    async fn token(&self) -> Result<String, FetchError>;
    /// A new token after the provider refused the last one with a 401;
    /// `None` when there is no way to get one (an API key).
    async fn refresh(&self) -> Result<Option<String>, FetchError>;
}

/// What a provider says about its rate limit in an error's body rather
/// than (or beside) its headers (CONNECTOR-RULES 38): GitHub's secondary
/// limit, Google's 403 `rateLimitExceeded`, Salesforce's
/// `REQUEST_LIMIT_EXCEEDED`. A connector gives one for its calls.
pub trait BodySignals: Send + Sync {
    /// Given a failed answer (not 401, not 5xx) and up to
    /// [`BODY_SIGNAL_BYTES`] of its body: whether it is a rate limit.
    fn rate_limited(&self, status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Option<RateLimited>;
}

/// A rate limit read from an answer's body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimited {
    /// What the answer asked for (`Retry-After`, `retry_after` in the body),
    /// if anything.
    pub wait: Option<Duration>,
    /// The least the provider documents waiting (GitHub: a minute).
    pub at_least: Duration,
}

/// How much of a failed answer's body a [`BodySignals`] is shown.
pub const BODY_SIGNAL_BYTES: usize = 16 * 1024;

/// What a call goes with: the connection's credentials, rate budget and
/// circuit breaker, and the provider's body-level rate-limit signals, each
/// optional.
#[derive(Clone, Copy, Default)]
pub struct Call<'a> {
    pub credentials: Option<&'a dyn Credentials>,
    pub budget: Option<&'a RateBudget>,
    pub breaker: Option<&'a CircuitBreaker>,
    pub body_signals: Option<&'a dyn BodySignals>,
}

impl<'a> Call<'a> {
    /// Where this call's answers say what is left of the rate limit: the
    /// budget's provider-specific headers, or the common ones.
    pub fn signals(&self) -> &'a Signals {
        self.budget.map_or(&DEFAULT_SIGNALS, RateBudget::signals)
    }

    /// The same call, reading `signals` from failed answers' bodies.
    #[must_use]
    pub fn with_body_signals(self, signals: &'a dyn BodySignals) -> Self {
        Self { body_signals: Some(signals), ..self }
    }
}

impl std::fmt::Debug for Call<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("credentials", &self.credentials.is_some())
            .field("budget", &self.budget)
            .field("breaker", &self.breaker)
            .field("body_signals", &self.body_signals.is_some())
            .finish()
    }
}

/// The shared client. Cheap to clone; clones share the pool.
#[derive(Clone, Debug)]
pub struct Http {
    client: Client,
    policy: RetryPolicy,
}

impl Http {
    /// Builds the client: redirects are not followed (a token must reach
    /// only the host it was meant for), every request is bounded by
    /// `timeout`.
    pub fn new(timeout: Duration, policy: RetryPolicy) -> Result<Self, FetchError> {
        let client = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|_| FetchError::permanent(None, "the HTTP client could not start (TLS roots)"))?;
        Ok(Self { client, policy })
    }

    /// The same sending, over a client the caller built (it must not
    /// follow redirects), with its own policy.
    pub fn from_client(client: Client, policy: RetryPolicy) -> Self {
        Self { client, policy }
    }

    pub fn policy(&self) -> RetryPolicy {
        self.policy
    }

    /// Sends the request `build` makes, given the client and the current
    /// token (when there are credentials), retrying as described above.
    /// Every attempt waits for a slot of the connection's `budget`, which
    /// learns from each answer's rate-limit headers.
    pub async fn send<F>(&self, call: Call<'_>, build: F) -> Result<Response, FetchError>
    where
        F: Fn(&Client, Option<&str>) -> RequestBuilder + Send + Sync,
    {
        let signals = call.signals();
        let Call { credentials, budget, breaker, body_signals } = call;
        let mut token = match credentials {
            Some(credentials) => Some(credentials.token().await?),
            None => None,
        };
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            if let Some(breaker) = breaker
                && let Err(wait) = breaker.allow()
            {
                let mut error = FetchError::transient(None, "the provider failed repeatedly; calls are paused");
                error.retry_after = Some(wait);
                return Err(error);
            }
            let request = build(&self.client, token.as_deref())
                .build()
                .map_err(|_| FetchError::permanent(None, "the request to the provider could not be made"))?;
            if let Some(budget) = budget
                && let Err(spent) = budget.acquire_for(request.url().path()).await
            {
                let mut error = FetchError::transient(
                    None,
                    format!(
                        "the provider's daily limit of {} requests is used up; syncing goes on after midnight UTC",
                        spent.cap
                    ),
                );
                error.retry_after = Some(spent.wait);
                return Err(error);
            }
            let sent = self.client.execute(request).await;
            if let (Some(budget), Ok(response)) = (budget, &sent) {
                budget.observe(response.headers()).await;
            }
            let failure = match sent {
                Ok(response) => match verdict(&response, signals) {
                    Verdict::Success => {
                        if let Some(breaker) = breaker {
                            breaker.succeeded();
                        }
                        return Ok(response);
                    }
                    Verdict::Unauthorized => {
                        let fresh = match (credentials, refreshed) {
                            (Some(credentials), false) => credentials.refresh().await?,
                            _ => None,
                        };
                        let Some(fresh) = fresh else {
                            let message = if refreshed {
                                "the provider refused the token again after a refresh (HTTP 401)"
                            } else {
                                "the provider refused the credentials (HTTP 401)"
                            };
                            return Err(FetchError::permanent(Some(401), message));
                        };
                        token = Some(fresh);
                        refreshed = true;
                        // The refreshed token's try does not count against the cap.
                        attempt -= 1;
                        continue;
                    }
                    Verdict::Permanent(status) => match body_signals {
                        Some(signals) => match read_signal(signals, response).await {
                            Some(limited) => limited_error(status, limited),
                            None => return Err(permanent_status(status)),
                        },
                        None => return Err(permanent_status(status)),
                    },
                    Verdict::Transient { status, wait } if status != 408 && status < 500 && body_signals.is_some() => {
                        let limited = match body_signals {
                            Some(signals) => read_signal(signals, response).await,
                            None => None,
                        };
                        match limited {
                            Some(limited) => {
                                limited_error(status, RateLimited { wait: limited.wait.or(wait), ..limited })
                            }
                            None => {
                                let mut error = FetchError::transient(Some(status), describe(status));
                                error.retry_after = wait;
                                error
                            }
                        }
                    }
                    Verdict::Transient { status, wait } => {
                        let mut error = FetchError::transient(Some(status), describe(status));
                        error.retry_after = wait;
                        error
                    }
                },
                Err(error) if error.is_timeout() => FetchError::transient(None, "the provider did not answer in time"),
                Err(_) => FetchError::transient(None, "the provider could not be reached"),
            };
            if let Some(breaker) = breaker {
                breaker.failed();
            }
            let asked = failure.retry_after.unwrap_or_default();
            if asked > self.policy.max_delay {
                tracing::warn!(wait = asked.as_secs(), "the provider asked for a pause longer than a retry waits");
                return Err(failure);
            }
            if attempt >= self.policy.max_attempts {
                return Err(FetchError { retry_after: None, ..failure });
            }
            let wait = self.policy.backoff(attempt).max(asked);
            tracing::debug!(attempt, wait_ms = wait.as_millis(), status = ?failure.status, "retrying");
            tokio::time::sleep(wait).await;
        }
    }
}

/// Reads a JSON answer. A body cut off on the way is transient (the page
/// is asked for again); a body that is not the documented shape is
/// permanent, and the message names neither the URL nor the body.
pub async fn read_json<T: serde::de::DeserializeOwned>(response: Response) -> Result<T, FetchError> {
    let status = response.status().as_u16();
    let body =
        response.bytes().await.map_err(|_| FetchError::transient(Some(status), "the provider's answer was cut off"))?;
    serde_json::from_slice(&body).map_err(|error| {
        FetchError::permanent(
            Some(status),
            format!(
                "the provider's answer is not in its documented shape (line {}, column {})",
                error.line(),
                error.column()
            ),
        )
    })
}

enum Verdict {
    Success,
    Unauthorized,
    Permanent(u16),
    /// With the wait the provider asked for, if any.
    Transient {
        status: u16,
        wait: Option<Duration>,
    },
}

fn permanent_status(status: u16) -> FetchError {
    FetchError::permanent(Some(status), format!("the provider answered HTTP {status}"))
}

/// A rate limit a body said: transient, waiting what it asked for and at
/// least what the provider documents.
fn limited_error(status: u16, limited: RateLimited) -> FetchError {
    let mut error =
        FetchError::transient(Some(status), format!("the provider's rate limit was reached (HTTP {status})"));
    error.retry_after = Some(limited.wait.unwrap_or_default().max(limited.at_least).min(headers::LONGEST_WAIT));
    error
}

/// Shows the start of a failed answer's body to the provider's signals.
async fn read_signal(signals: &dyn BodySignals, response: Response) -> Option<RateLimited> {
    let status = response.status().as_u16();
    let head = response.headers().clone();
    let mut body = Vec::new();
    let mut response = response;
    while body.len() < BODY_SIGNAL_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    body.truncate(BODY_SIGNAL_BYTES);
    signals.rate_limited(status, &head, &body)
}

/// The common rate-limit headers, for a call without a budget.
static DEFAULT_SIGNALS: Signals =
    Signals { remaining_header: None, reset_header: None, reset_format: headers::ResetFormat::Auto };

fn verdict(response: &Response, signals: &Signals) -> Verdict {
    let status = response.status();
    let code = status.as_u16();
    let asked = || headers::retry_after(response.headers()).or_else(|| signals.reset_after(response.headers()));
    match status {
        s if s.is_success() => Verdict::Success,
        StatusCode::UNAUTHORIZED => Verdict::Unauthorized,
        StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS => {
            Verdict::Transient { status: code, wait: asked() }
        }
        // GitHub's secondary and primary rate limits answer 403; Linear's
        // answers 400 with its remaining count at zero.
        StatusCode::FORBIDDEN | StatusCode::BAD_REQUEST
            if signals.limit_spent(response.headers()) || headers::retry_after(response.headers()).is_some() =>
        {
            Verdict::Transient { status: code, wait: asked() }
        }
        s if s.is_server_error() => Verdict::Transient { status: code, wait: headers::retry_after(response.headers()) },
        // A redirect is not followed: the request reached the wrong place.
        _ => Verdict::Permanent(code),
    }
}

fn describe(status: u16) -> String {
    match status {
        429 | 403 | 400 => format!("the provider's rate limit was reached (HTTP {status})"),
        408 => "the provider timed the request out (HTTP 408)".into(),
        _ => format!("the provider had a problem (HTTP {status})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_stays_under_its_cap() {
        let policy = RetryPolicy {
            max_attempts: 40,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(400),
        };
        for retry in 1..40 {
            let ceiling =
                policy.base_delay.saturating_mul(2u32.saturating_pow((retry - 1).min(16))).min(policy.max_delay);
            for _ in 0..50 {
                let wait = policy.backoff(retry);
                assert!(wait <= ceiling && wait >= ceiling / 2, "retry {retry}: {wait:?}");
            }
        }
        let waits: std::collections::HashSet<_> = (0..50).map(|_| policy.backoff(4)).collect();
        assert!(waits.len() > 1, "no jitter");
    }
}
