//! The Linear connector: issues with their latest comments, over Linear's
//! GraphQL API.
//!
//! - [`types`]: the query's answer, as Linear's schema has it;
//! - [`client`]: one query per page, and GraphQL errors classed like HTTP
//!   ones (`RATELIMITED` is a rate limit, `AUTHENTICATION_ERROR` a refused
//!   token);
//! - [`mapping`]: an issue to an artifact; one of a team that is not
//!   public, archived or trashed becomes a removal (CONNECTOR-RULES 17, 18);
//! - [`source`]: the [`connector_core::source::Source`] the runner pulls,
//!   paging the `issues` connection with `first`/`after`, filtered by
//!   `updatedAt` for a changes run, and reading issues back by id for
//!   webhooks;
//! - [`hooks`]: the webhook made with `webhookCreate`, and what its
//!   deliveries say changed.

pub mod client;
pub mod hooks;
pub mod mapping;
pub mod source;
pub mod types;

pub use source::LinearSource;
