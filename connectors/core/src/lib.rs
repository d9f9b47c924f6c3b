//! The connector runtime (DESIGN: Shape): what every connector shares and
//! nothing else in Patchbay decides for it. No Leptos, no SQL.
//!
//! - [`http`]: one shared HTTP client per process (CONNECTOR-RULES 30) that
//!   retries transient failures with capped exponential backoff and jitter,
//!   honours `Retry-After` and rate-limit reset headers, reads GitHub's
//!   403-with-rate-limit as a rate limit, refreshes a token once on a 401,
//!   and classes every failure as transient, permanent or partial (31, 32).
//! - [`budget`]: one rate budget per connection, shared across processes,
//!   pacing requests ahead of time from the documented limit and the
//!   provider's headers, with per-endpoint buckets, costs and daily caps.
//! - [`breaker`]: a circuit breaker per connection (SECURITY F5).
//! - [`headers`]: reading `Retry-After` and rate-limit headers, by each
//!   provider's own names and reset formats (rule 38); error bodies are read
//!   through a connector's [`http::BodySignals`].
//! - [`source`]: the records and removals a page carries, and how a full
//!   pass over a listing that may shift confirms what it did not see.
//! - [`auth`]: where a request carries the connection's secret.
//! - [`graphql`]: GraphQL calls, their errors classed, partial data kept.
//! - [`containers`]: walking containers (repositories, boards) for their
//!   items, carrying the container's name and privacy onto them.
//! - [`related`]: related lists fetched per record, names for referenced
//!   ids, and sideloads merged back.
//! - `testing` (feature): what the connectors' fixture suites share.
//! - [`paging`]: `Link` headers and next URLs kept to the API's hosts, ids
//!   that may be objects, `(updated_at, id)` watermarks, offsets, OData
//!   queries, newest-first listings, capped searches, time windows, and the
//!   guard against endless runs (F7).
//! - [`text`]: rich text (HTML) to the plain text a search indexes.
//! - [`webhooks`]: one verifier per signature family, delivery ids,
//!   handshakes, the events a delivery reports, and subscriptions.

pub mod auth;
pub mod breaker;
pub mod budget;
pub mod containers;
pub mod graphql;
pub mod headers;
pub mod http;
pub mod paging;
pub mod related;
pub mod source;
#[cfg(feature = "testing")]
pub mod testing;
pub mod text;
pub mod webhooks;
