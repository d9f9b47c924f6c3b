//! The sandbox connector: the items of the sandbox demo provider
//! (`sandbox/src/items.rs` documents its API).
//!
//! - [`types`]: the API's answers, as documented;
//! - [`client`]: one request per page, through the shared HTTP client;
//! - [`mapping`]: an item to an artifact, or to a removal when it is
//!   deleted or private (CONNECTOR-RULES 17, 18);
//! - [`source`]: the [`connector_core::source::Source`] the runner pulls;
//! - [`hooks`]: its webhooks, read and subscribed to.

pub mod client;
pub mod hooks;
pub mod mapping;
pub mod source;
pub mod types;

pub use source::SandboxSource;

/// The entity type of every record this connector yields.
pub const ENTITY_ITEM: &str = "item";
