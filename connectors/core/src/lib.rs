//! The connector runtime (DESIGN: Shape): what every connector shares and
//! nothing else in Patchbay decides for it. No Leptos, no SQL.
//!
//! - [`http`]: one shared HTTP client per process (CONNECTOR-RULES 30) that
//!   retries transient failures with capped exponential backoff and jitter,
//!   honours `Retry-After` and rate-limit reset headers, reads GitHub's
//!   403-with-rate-limit as a rate limit, refreshes a token once on a 401,
//!   and classes every failure as transient, permanent or partial (31, 32).
//! - [`budget`]: one rate budget per connection, pacing requests ahead of
//!   time from the documented limit and the provider's headers.
//! - [`breaker`]: a circuit breaker per connection (SECURITY F5).
//! - [`headers`]: reading `Retry-After` and reset headers.
//! - [`source`]: the records and removals a page carries, and how a full
//!   pass over a listing that may shift confirms what it did not see.
//! - [`auth`]: where a request carries the connection's secret.
//! - [`graphql`]: GraphQL calls, their errors classed, partial data kept.
//! - `testing` (feature): what the connectors' fixture suites share.
//! - [`paging`]: `Link` headers, ids that may be objects, `(updated_at, id)`
//!   watermarks, time windows, and the guard against endless runs (F7).

pub mod auth;
pub mod breaker;
pub mod budget;
pub mod graphql;
pub mod headers;
pub mod http;
pub mod paging;
pub mod source;
#[cfg(feature = "testing")]
pub mod testing;
