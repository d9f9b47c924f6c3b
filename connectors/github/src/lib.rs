//! The GitHub connector: issues and pull requests of the repositories the
//! connected user (through the GitHub App) can read, over the REST API.
//!
//! - [`types`]: the API's answers, as documented;
//! - [`client`]: the requests, with GitHub's headers, following `Link`
//!   headers only to the API's own host;
//! - [`mapping`]: an issue or pull request to an artifact, carrying its
//!   repository's name (CONNECTOR-RULES 19); one in a repository that is not
//!   public becomes a removal (17, 18);
//! - [`source`]: the [`connector_core::source::Source`] the runner pulls:
//!   repositories page by page, each repository's issues (pull requests
//!   included) oldest change first, with `since` for a changes run;
//! - [`hooks`]: the GitHub App's webhooks (`issues`, `issue_comment`,
//!   `pull_request`), and the installations that route them here.

pub mod client;
pub mod hooks;
pub mod mapping;
pub mod source;
pub mod types;

pub use source::GithubSource;
