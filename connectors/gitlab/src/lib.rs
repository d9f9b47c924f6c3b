//! The GitLab connector: issues and merge requests, with their comments,
//! of the projects the connected user is a member of, over the REST API
//! v4, on gitlab.com or a self-managed instance (whose provider file
//! names its own hosts).
//!
//! - [`types`]: the API's answers, as documented;
//! - [`client`]: the requests, following `Link` headers only to the API's
//!   own host;
//! - [`mapping`]: an issue or merge request to an artifact, carrying its
//!   project's name and its users' comments (CONNECTOR-RULES 19, 34); a
//!   confidential issue, or any item of a private project, becomes a
//!   removal (17, 18);
//! - [`source`]: the [`connector_core::source::Source`] the runner pulls:
//!   projects by id through the kit's container walk, each project's
//!   issues then merge requests, oldest first in a full pass and by
//!   `updated_after` in a changes run;
//! - [`hooks`]: project and group webhooks, verified by `X-Gitlab-Token`.

pub mod client;
pub mod hooks;
pub mod mapping;
pub mod source;
pub mod types;

pub use source::GitlabSource;

/// The entity types this connector yields.
pub const ENTITY_ISSUE: &str = "issue";
pub const ENTITY_MERGE_REQUEST: &str = "merge_request";
