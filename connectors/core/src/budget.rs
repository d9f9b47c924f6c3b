//! One rate budget per connection (team and provider), shared by every job
//! of that connection in this process. It paces requests ahead of time,
//! evenly, from the provider's documented limit, and adjusts to what the
//! provider's headers say is left, instead of waiting for 429s.

use std::time::Duration;

use reqwest::header::HeaderMap;
use tokio::{sync::Mutex, time::Instant};

use crate::headers::Signals;

#[derive(Debug)]
struct Pace {
    /// The documented limit's spacing between requests.
    documented: Duration,
    /// The spacing in force: the documented one, or wider while the
    /// provider says little is left.
    interval: Duration,
    /// When the next request may go.
    next: Instant,
}

/// A connection's rate budget.
#[derive(Debug)]
pub struct RateBudget {
    pace: Mutex<Pace>,
    signals: Signals,
}

impl RateBudget {
    /// `requests` per `per`, evenly spaced.
    pub fn new(requests: u32, per: Duration) -> Self {
        let documented = per / requests.max(1);
        Self {
            pace: Mutex::new(Pace { documented, interval: documented, next: Instant::now() }),
            signals: Signals::default(),
        }
    }

    /// Reads the provider's own rate-limit headers (CONNECTOR-RULES 38).
    #[must_use]
    pub fn with_signals(mut self, signals: Signals) -> Self {
        self.signals = signals;
        self
    }

    /// Where the provider's headers say what is left and when it resets.
    pub fn signals(&self) -> &Signals {
        &self.signals
    }

    /// Waits for this connection's next slot.
    pub async fn acquire(&self) {
        let at = {
            let mut pace = self.pace.lock().await;
            let at = pace.next.max(Instant::now());
            pace.next = at + pace.interval;
            at
        };
        tokio::time::sleep_until(at).await;
    }

    /// Adjusts to a response's rate-limit headers: nothing left means no
    /// request until the reset; a little left is spread over the time to
    /// the reset; plenty left (or no headers) keeps the documented pace.
    pub async fn observe(&self, headers: &HeaderMap) {
        let Some(reset) = self.signals.reset_after(headers) else { return };
        let Some(remaining) = self.signals.remaining(headers) else { return };
        let remaining = u32::try_from(remaining).unwrap_or(u32::MAX);
        let mut pace = self.pace.lock().await;
        if remaining == 0 {
            pace.next = pace.next.max(Instant::now() + reset);
            return;
        }
        // `remaining` more fit before the reset: spaced by reset/(remaining+1)
        // the last goes just before it. (The reset is whole seconds, rounded
        // up; spacing by reset/remaining would run below the limit.)
        let spread = reset / remaining.saturating_add(1);
        pace.interval = spread.max(pace.documented);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use reqwest::header::HeaderValue;

    use super::*;

    /// Twenty a second, asked for by four jobs at once: the slots are shared
    /// and evenly spaced, so forty requests take two seconds.
    #[tokio::test(start_paused = true)]
    async fn jobs_of_one_connection_share_its_pace() {
        let budget = Arc::new(RateBudget::new(20, Duration::from_secs(1)));
        let started = Instant::now();
        let jobs: Vec<_> = (0..4)
            .map(|_| {
                let budget = budget.clone();
                tokio::spawn(async move {
                    for _ in 0..10 {
                        budget.acquire().await;
                    }
                })
            })
            .collect();
        for job in jobs {
            job.await.unwrap();
        }
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(1950) && took <= Duration::from_millis(2000), "{took:?}");
    }

    fn headers(remaining: &str, reset: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert("x-ratelimit-remaining", HeaderValue::from_str(remaining).unwrap());
        map.insert("x-ratelimit-reset", HeaderValue::from_str(reset).unwrap());
        map
    }

    /// Nothing left: the next request waits for the reset. A little left:
    /// the rest is spread over the time to the reset.
    #[tokio::test(start_paused = true)]
    async fn the_providers_headers_slow_the_pace_before_a_429() {
        let budget = RateBudget::new(100, Duration::from_secs(1));
        budget.acquire().await;
        budget.observe(&headers("0", "5")).await;
        let started = Instant::now();
        budget.acquire().await;
        assert!(started.elapsed() >= Duration::from_secs(5), "{:?}", started.elapsed());

        budget.observe(&headers("4", "8")).await;
        let started = Instant::now();
        for _ in 0..3 {
            budget.acquire().await;
        }
        // Four left in eight seconds: 1.6 s apart.
        assert!(started.elapsed() >= Duration::from_millis(3_200), "{:?}", started.elapsed());
        // Plenty left again: back to the documented pace.
        budget.observe(&headers("1000", "1")).await;
        budget.acquire().await;
        let started = Instant::now();
        for _ in 0..10 {
            budget.acquire().await;
        }
        assert!(started.elapsed() <= Duration::from_millis(110), "{:?}", started.elapsed());
    }
}
