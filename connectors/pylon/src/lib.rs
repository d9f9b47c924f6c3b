//! The Pylon connector: the support issues of one Pylon organization,
//! with their messages (internal notes never), over its REST API with an
//! organization's API token, on the US or EU host.
//!
//! - [`types`]: the API's answers, as Pylon's OpenAPI describes them;
//! - [`client`]: issue searches by a time field within one window, an
//!   issue's messages, one issue by id;
//! - [`mapping`]: an issue to an artifact, with its public messages as
//!   text;
//! - [`source`]: windows of at most 30 days (the most one query may span),
//!   by creation for a full pass and by update for a changes run;
//! - `fake` (feature): a fake Pylon organization for tests.

pub mod client;
#[cfg(feature = "fake")]
pub mod fake;
pub mod mapping;
pub mod source;
pub mod types;

pub use source::PylonSource;

/// The entity type of every record this connector yields.
pub const ENTITY_ISSUE: &str = "issue";
