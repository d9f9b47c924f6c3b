//! A circuit breaker per connection (SECURITY F5). After `threshold`
//! transient failures in a row it opens: calls fail at once, sparing a
//! provider that is down and the connection's rate budget. After `cooldown`
//! it lets one probe through (half-open); the probe's success closes it, a
//! failure opens it for another cooldown.

use std::{sync::Mutex, time::Duration};

use tokio::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    /// One probe is out.
    HalfOpen,
}

#[derive(Debug)]
struct Inner {
    state: BreakerState,
    failures: u32,
    opened_at: Option<Instant>,
}

#[derive(Debug)]
pub struct CircuitBreaker {
    threshold: u32,
    cooldown: Duration,
    inner: Mutex<Inner>,
}

impl CircuitBreaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        let inner = Inner { state: BreakerState::Closed, failures: 0, opened_at: None };
        Self { threshold: threshold.max(1), cooldown, inner: Mutex::new(inner) }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn state(&self) -> BreakerState {
        self.inner().state
    }

    /// Whether a call may go now. When open and cooled down, the first
    /// caller is let through as the probe and the rest still wait.
    pub fn allow(&self) -> Result<(), Duration> {
        let mut inner = self.inner();
        match inner.state {
            BreakerState::Closed => Ok(()),
            BreakerState::HalfOpen => Err(self.cooldown),
            BreakerState::Open => {
                let since = inner.opened_at.map_or(self.cooldown, |at| at.elapsed());
                if since >= self.cooldown {
                    inner.state = BreakerState::HalfOpen;
                    Ok(())
                } else {
                    Err(self.cooldown - since)
                }
            }
        }
    }

    pub fn succeeded(&self) {
        let mut inner = self.inner();
        *inner = Inner { state: BreakerState::Closed, failures: 0, opened_at: None };
    }

    /// A transient failure (a permanent one says nothing about the
    /// provider's health and is not counted).
    pub fn failed(&self) {
        let mut inner = self.inner();
        inner.failures += 1;
        if inner.state == BreakerState::HalfOpen || inner.failures >= self.threshold {
            inner.state = BreakerState::Open;
            inner.opened_at = Some(Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SECURITY F5: repeated failures open it; after the cooldown one probe
    /// goes; its success closes it, its failure opens it again.
    #[tokio::test(start_paused = true)]
    async fn repeated_failures_open_it_and_a_half_open_probe_closes_it() {
        let breaker = CircuitBreaker::new(3, Duration::from_secs(30));
        for _ in 0..2 {
            assert!(breaker.allow().is_ok());
            breaker.failed();
        }
        assert_eq!(breaker.state(), BreakerState::Closed);
        breaker.failed();
        assert_eq!(breaker.state(), BreakerState::Open);
        assert!(breaker.allow().is_err(), "an open breaker let a call through");

        tokio::time::advance(Duration::from_secs(31)).await;
        assert!(breaker.allow().is_ok(), "no probe after the cooldown");
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert!(breaker.allow().is_err(), "a second call went while the probe was out");
        breaker.failed();
        assert_eq!(breaker.state(), BreakerState::Open, "a failed probe did not reopen it");

        tokio::time::advance(Duration::from_secs(31)).await;
        assert!(breaker.allow().is_ok());
        breaker.succeeded();
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert!(breaker.allow().is_ok());
    }
}
