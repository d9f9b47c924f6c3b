//! The Twilio connector: the messages and call records of one Twilio
//! account, over the 2010-04-01 REST API, with HTTP Basic (the Account
//! SID and its Auth Token).
//!
//! - [`types`]: the API's answers, as Twilio's OpenAPI describes them;
//! - [`client`]: the list pages (`next_page_uri`, relative to the API's
//!   host) and one record by SID;
//! - [`mapping`]: a message or call to an artifact;
//! - [`source`]: a full pass over every message, then every call, and a
//!   changes run by day, since Twilio filters by whole days only;
//! - [`hooks`]: status callbacks and inbound messages, signed with the
//!   Auth Token (`X-Twilio-Signature`).

pub mod client;
pub mod hooks;
pub mod mapping;
pub mod source;
pub mod types;

pub use source::TwilioSource;

/// The entity types this connector yields.
pub const ENTITY_MESSAGE: &str = "message";
pub const ENTITY_CALL: &str = "call";
