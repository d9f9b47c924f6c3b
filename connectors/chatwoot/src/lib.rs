//! The Chatwoot connector: the conversations of one Chatwoot account, over
//! the Application API with a user's access token (`api_access_token`
//! header). Self-hosted or Chatwoot Cloud: the base URL is the
//! connection's setting.
//!
//! - [`types`]: the API's answers, as Chatwoot's own views render them;
//! - [`client`]: the conversation listing, page by page;
//! - [`mapping`]: a conversation to an artifact carrying its last public
//!   message; a private note is never carried (CONNECTOR-RULES 17);
//! - [`source`]: the [`connector_core::source::Source`] the runner pulls:
//!   a full pass by `created_at` ascending, a changes run by
//!   `last_activity_at` descending until it meets an older conversation
//!   (the API has no "changed since" filter that pages).

pub mod client;
pub mod mapping;
pub mod source;
pub mod types;

pub use source::ChatwootSource;

/// The entity type of every record this connector yields.
pub const ENTITY_CONVERSATION: &str = "conversation";
