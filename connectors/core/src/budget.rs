//! One rate budget per connection (team and provider), shared by every job
//! of that connection in this process. It paces requests ahead of time,
//! evenly, from the provider's documented limit, and adjusts to what the
//! provider's headers say is left, instead of waiting for 429s.
//!
//! Several processes (workers, replicas) syncing one connection share its
//! limit through a [`SlotLine`]: one line of evenly spaced slots kept
//! where they all see it (the console's database). Each process reserves
//! a short run of slots at a time ([`RESERVE_AHEAD`]) and spends them
//! locally, so the line costs one write per run, not per request, and the
//! processes together stay within the documented limit (SECURITY P3).
//!
//! Finer limits, as the catalog declares them (CONNECTOR-RULES 38):
//! - a [`Bucket`] per endpoint (HubSpot's search: 5 a second), paced on
//!   its own line besides the connection's;
//! - a cost per request of an endpoint (points, complexity): a request
//!   that costs 3 takes three of the connection's slots;
//! - a daily cap: requests per UTC day across the connection, counted on
//!   the shared line; once it is spent, a request is refused with the
//!   wait until midnight UTC ([`Exhausted`]).

use std::{sync::Arc, time::Duration};

use reqwest::header::HeaderMap;
use tokio::{sync::Mutex, time::Instant};

use crate::headers::Signals;

/// How far ahead a process reserves slots of a shared line at once: a
/// write per process every 100 ms at most. What a process reserved and
/// did not spend when its job ended is lost to the others, so a longer run
/// costs throughput (three workers at 20 requests/s reached 95.9% with
/// 250 ms, 98.6% with 100 ms).
pub const RESERVE_AHEAD: Duration = Duration::from_millis(100);

/// A connection's slots, shared by every process that syncs it: a line of
/// slots `interval` apart, handed out in order.
#[async_trait::async_trait]
pub trait SlotLine: Send + Sync + std::fmt::Debug {
    /// Reserves `count` slots `interval` apart, after every slot reserved
    /// before and none before now: how long from now the first one is.
    async fn reserve(&self, count: u32, interval: Duration) -> Result<Duration, String>;
    /// No slot is handed out before `wait` from now (the provider said
    /// nothing is left until its reset).
    async fn hold(&self, wait: Duration) -> Result<(), String>;
    /// Counts `cost` more requests on UTC day `day` (`2026-12-02`): the
    /// day's count with them.
    async fn spend(&self, day: &str, cost: u32) -> Result<u64, String>;
}

/// An endpoint's own limit or cost: requests whose URL path starts with
/// `path` (`*` stands for one segment: `/crm/v3/objects/*/search`).
#[derive(Debug)]
pub struct Bucket {
    path: Vec<String>,
    /// Paced on its own, when the endpoint has a limit of its own.
    budget: Option<RateBudget>,
    /// Slots of the connection's budget one request takes.
    cost: u32,
}

impl Bucket {
    /// `path` with its own limit of `limit` (requests per period), if any,
    /// and a cost of `cost` of the connection's slots a request.
    pub fn new(path: &str, limit: Option<RateBudget>, cost: u32) -> Self {
        let path = path.split('/').filter(|s| !s.is_empty()).map(str::to_owned).collect();
        Self { path, budget: limit, cost: cost.max(1) }
    }

    fn matches(&self, path: &str) -> bool {
        let mut segments = path.split('/').filter(|s| !s.is_empty());
        self.path.iter().all(|want| segments.next().is_some_and(|got| want == "*" || want == got))
    }
}

/// The connection's daily cap is spent: no request until `wait` has
/// passed (midnight UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exhausted {
    pub cap: u64,
    pub wait: Duration,
}

#[derive(Debug)]
struct Daily {
    cap: u64,
    /// Without a shared line: the day and its count in this process.
    here: std::sync::Mutex<(String, u64)>,
}

#[derive(Debug)]
struct Pace {
    /// The documented limit's spacing between requests.
    documented: Duration,
    /// The spacing in force: the documented one, or wider while the
    /// provider says little is left.
    interval: Duration,
    /// When the next request may go.
    next: Instant,
    /// Slots of the shared line reserved and not yet spent, from `next`.
    reserved: u32,
}

/// A connection's rate budget.
#[derive(Debug)]
pub struct RateBudget {
    pace: Mutex<Pace>,
    signals: Signals,
    line: Option<Arc<dyn SlotLine>>,
    buckets: Vec<Bucket>,
    daily: Option<Daily>,
}

impl RateBudget {
    /// `requests` per `per`, evenly spaced.
    pub fn new(requests: u32, per: Duration) -> Self {
        let documented = per / requests.max(1);
        Self {
            pace: Mutex::new(Pace { documented, interval: documented, next: Instant::now(), reserved: 0 }),
            signals: Signals::default(),
            line: None,
            buckets: Vec::new(),
            daily: None,
        }
    }

    /// An endpoint's own limit or cost; the first bucket a path matches
    /// is its.
    #[must_use]
    pub fn with_bucket(mut self, bucket: Bucket) -> Self {
        self.buckets.push(bucket);
        self
    }

    /// At most `cap` requests (counted by cost) a UTC day.
    #[must_use]
    pub fn with_daily_cap(mut self, cap: u64) -> Self {
        self.daily = Some(Daily { cap, here: std::sync::Mutex::new((String::new(), 0)) });
        self
    }

    /// Shares the limit with the other processes on `line` (P3).
    #[must_use]
    pub fn shared(mut self, line: Arc<dyn SlotLine>) -> Self {
        self.line = Some(line);
        self
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

    /// Waits for the slot of a request to `path`: its endpoint's bucket,
    /// then as many of the connection's slots as the request costs.
    /// Refused while the daily cap is spent.
    pub async fn acquire_for(&self, path: &str) -> Result<(), Exhausted> {
        let bucket = self.buckets.iter().find(|b| b.matches(path));
        let cost = bucket.map_or(1, |b| b.cost);
        if let Some(daily) = &self.daily {
            self.spend_daily(daily, cost).await?;
        }
        if let Some(budget) = bucket.and_then(|b| b.budget.as_ref()) {
            budget.acquire_cost(1).await;
        }
        self.acquire_cost(cost).await;
        Ok(())
    }

    /// Waits for this connection's next slot.
    pub async fn acquire(&self) {
        self.acquire_cost(1).await;
    }

    async fn spend_daily(&self, daily: &Daily, cost: u32) -> Result<(), Exhausted> {
        let now = time::OffsetDateTime::now_utc();
        let day = now.date().to_string();
        let spent = match &self.line {
            Some(line) => match line.spend(&day, cost).await {
                Ok(spent) => spent,
                Err(error) => {
                    tracing::warn!(%error, "the shared daily count could not be reached");
                    0
                }
            },
            None => {
                let mut here = daily.here.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if here.0 != day {
                    *here = (day, 0);
                }
                here.1 += u64::from(cost);
                here.1
            }
        };
        if spent <= daily.cap {
            return Ok(());
        }
        let midnight = now.date().next_day().map_or(now, |d| d.midnight().assume_utc());
        let wait = Duration::try_from(midnight - now).unwrap_or_default();
        Err(Exhausted { cap: daily.cap, wait })
    }

    /// Waits for `cost` of this connection's slots in a row.
    async fn acquire_cost(&self, cost: u32) {
        let at = {
            let mut pace = self.pace.lock().await;
            if let Some(line) = &self.line {
                // Slots left from a run whose time passed unspent (the
                // job ended) are another process's time now.
                if pace.reserved > 0 && pace.next + pace.interval < Instant::now() {
                    pace.reserved = 0;
                }
                if pace.reserved < cost {
                    let run = RESERVE_AHEAD.as_nanos() / pace.interval.as_nanos().max(1);
                    let count = u32::try_from(run).unwrap_or(u32::MAX).clamp(1, 64).max(cost);
                    match line.reserve(count, pace.interval).await {
                        Ok(wait) => {
                            pace.next = Instant::now() + wait;
                            pace.reserved = count;
                        }
                        // Paced alone while the line cannot be reached:
                        // the provider's headers still slow it down.
                        Err(error) => tracing::warn!(%error, "the shared rate budget could not be reached"),
                    }
                }
                pace.reserved = pace.reserved.saturating_sub(cost);
            }
            let at = pace.next.max(Instant::now());
            pace.next = at + pace.interval * cost;
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
            if let Some(line) = &self.line {
                // Every process waits for the reset, not only this one.
                pace.reserved = 0;
                if let Err(error) = line.hold(reset).await {
                    tracing::warn!(%error, "the shared rate budget could not be held");
                }
            }
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

    /// A line in memory, as the database keeps one, shared by budgets as
    /// by processes.
    #[derive(Debug, Default)]
    struct Line {
        next: std::sync::Mutex<Option<Instant>>,
        reserves: std::sync::atomic::AtomicU32,
        spent: std::sync::atomic::AtomicU64,
    }

    #[async_trait::async_trait]
    impl SlotLine for Line {
        async fn reserve(&self, count: u32, interval: Duration) -> Result<Duration, String> {
            self.reserves.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut next = self.next.lock().unwrap();
            let now = Instant::now();
            let first = next.map_or(now, |n| n.max(now));
            *next = Some(first + interval * count);
            Ok(first - now)
        }

        async fn hold(&self, wait: Duration) -> Result<(), String> {
            let mut next = self.next.lock().unwrap();
            let until = Instant::now() + wait;
            *next = Some(next.map_or(until, |n| n.max(until)));
            Ok(())
        }

        async fn spend(&self, _day: &str, cost: u32) -> Result<u64, String> {
            Ok(self.spent.fetch_add(u64::from(cost), std::sync::atomic::Ordering::Relaxed) + u64::from(cost))
        }
    }

    /// CONNECTOR-RULES 38: an endpoint with a limit of its own (search, 5 a
    /// second) is paced by it while the rest of the API keeps its pace,
    /// and a request that costs 5 takes five of the connection's slots.
    #[tokio::test(start_paused = true)]
    async fn an_endpoints_bucket_and_cost_pace_it_apart_from_the_rest() {
        let budget = RateBudget::new(100, Duration::from_secs(1))
            .with_bucket(Bucket::new("/crm/v3/objects/*/search", Some(RateBudget::new(5, Duration::from_secs(1))), 1))
            .with_bucket(Bucket::new("/heavy", None, 5));
        let started = Instant::now();
        for _ in 0..10 {
            budget.acquire_for("/crm/v3/objects/contacts/search").await.unwrap();
        }
        assert!(started.elapsed() >= Duration::from_millis(1_800), "search: {:?}", started.elapsed());
        let started = Instant::now();
        for _ in 0..10 {
            budget.acquire_for("/crm/v3/objects/contacts").await.unwrap();
        }
        assert!(started.elapsed() <= Duration::from_millis(100), "the rest waited: {:?}", started.elapsed());
        let started = Instant::now();
        for _ in 0..4 {
            budget.acquire_for("/heavy/report").await.unwrap();
        }
        // Each costs five slots of 10 ms: the fourth goes 150 ms after the first.
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(150) && took <= Duration::from_millis(210), "cost: {took:?}");
    }

    /// CONNECTOR-RULES 38: a daily cap counts requests by their cost, and
    /// once it is spent a request is refused with the wait until midnight
    /// UTC; on a shared line the count is the connection's, not the
    /// process's.
    #[tokio::test]
    async fn a_spent_daily_cap_refuses_until_midnight_utc() {
        let budget = RateBudget::new(1000, Duration::from_secs(1))
            .with_bucket(Bucket::new("/export", None, 2))
            .with_daily_cap(5);
        budget.acquire_for("/export").await.unwrap();
        budget.acquire_for("/export").await.unwrap();
        budget.acquire_for("/items").await.unwrap();
        let refused = budget.acquire_for("/items").await.unwrap_err();
        assert_eq!(refused.cap, 5);
        assert!(refused.wait > Duration::ZERO && refused.wait <= Duration::from_secs(86_400), "{refused:?}");

        let line = Arc::new(Line::default());
        let one = RateBudget::new(1000, Duration::from_secs(1)).with_daily_cap(3).shared(line.clone());
        let two = RateBudget::new(1000, Duration::from_secs(1)).with_daily_cap(3).shared(line.clone());
        for budget in [&one, &two, &one] {
            budget.acquire_for("/items").await.unwrap();
        }
        assert!(two.acquire_for("/items").await.is_err(), "two processes spent more than the cap");
    }

    /// SECURITY P3: three budgets (three processes) on one line of twenty
    /// a second take sixty slots in three seconds, not one, and reserve
    /// runs of two (100 ms), not a slot at a time.
    #[tokio::test(start_paused = true)]
    async fn processes_sharing_a_line_stay_within_one_limit() {
        let line = Arc::new(Line::default());
        let started = Instant::now();
        let processes: Vec<_> = (0..3)
            .map(|_| {
                let budget = Arc::new(RateBudget::new(20, Duration::from_secs(1)).shared(line.clone()));
                tokio::spawn(async move {
                    for _ in 0..20 {
                        budget.acquire().await;
                    }
                })
            })
            .collect();
        for process in processes {
            process.await.unwrap();
        }
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(2_950) && took <= Duration::from_millis(3_000), "{took:?}");
        assert_eq!(line.reserves.load(std::sync::atomic::Ordering::Relaxed), 30, "runs of two slots");
    }

    /// Nothing left, as one process hears it: the others wait for the reset
    /// too.
    #[tokio::test(start_paused = true)]
    async fn a_reset_one_process_hears_holds_the_others() {
        let line = Arc::new(Line::default());
        let heard = RateBudget::new(100, Duration::from_secs(1)).shared(line.clone());
        let other = RateBudget::new(100, Duration::from_secs(1)).shared(line.clone());
        heard.acquire().await;
        heard.observe(&headers("0", "4")).await;
        let started = Instant::now();
        other.acquire().await;
        assert!(started.elapsed() >= Duration::from_secs(4), "{:?}", started.elapsed());
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
