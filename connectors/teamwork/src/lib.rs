//! The Teamwork.com connector: the tasks of a Teamwork site with their
//! comments, over the Projects API v3, at the site the App Login Flow's
//! token response names (`installation.apiEndPoint`).
//!
//! - [`client`]: the task list with its `include=` sideloads merged back
//!   (CONNECTOR-RULES 5), a task's comments, one task by id;
//! - [`mapping`]: a task to an artifact, its privacy failing closed;
//! - [`source`]: tasks page by page, oldest first, with `updatedAfter` for
//!   a changes run;
//! - [`hooks`]: webhooks signed with the connection's secret as their token.

pub mod client;
pub mod hooks;
pub mod mapping;
pub mod source;

pub use source::TeamworkSource;

/// The entity type of every record this connector yields.
pub const ENTITY_TASK: &str = "task";
