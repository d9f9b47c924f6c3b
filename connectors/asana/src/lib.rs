//! The Asana connector: the tasks of the projects the user's workspaces
//! share with everyone in them, with their comments, over the REST API
//! 1.0.
//!
//! - [`client`]: workspaces, projects, a project's tasks (`modified_since`
//!   for a changes run), a task's stories, one task;
//! - [`mapping`]: a task to an artifact, with its comments;
//! - [`source`]: projects through the kit's container walk, their privacy
//!   allow-listed.

pub mod client;
pub mod mapping;
pub mod source;

pub use source::AsanaSource;

/// The entity type of every record this connector yields.
pub const ENTITY_TASK: &str = "task";
