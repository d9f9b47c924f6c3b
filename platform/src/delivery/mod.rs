//! Delivering records to the team's knowledge platform and agents (DESIGN:
//! Delivering records; SECURITY I): API tokens, the change feed, the
//! records and their search, and the connections' status, as the records
//! API and the MCP server serve them.

pub mod feed;
pub mod push;
pub mod records;
pub mod tokens;
pub mod wire;

use std::time::Duration;

use crate::{
    accounts::Role,
    error::{Error, Result},
    store::users::User,
};

/// Only an admin manages what reads the team's records (SECURITY C4);
/// `what` names it in the refusal.
fn admin_only(actor: &User, what: &str) -> Result<()> {
    if actor.role == Role::Admin {
        Ok(())
    } else {
        Err(Error::Refused(format!("Only an admin of the team can manage {what}.")))
    }
}

/// How delivery is configured.
#[derive(Clone, Debug)]
pub struct Settings {
    /// How long changes are kept (`PATCHBAY_CHANGES_RETENTION`).
    pub changes_retention: Duration,
    /// Requests a token may make a minute, on each replica
    /// (`PATCHBAY_API_REQUESTS_PER_MINUTE`).
    pub requests_per_minute: u32,
    /// Whether push destinations may be private, loopback or link-local
    /// addresses (`PATCHBAY_PUSH_ALLOW_PRIVATE`; off).
    pub push_allow_private: bool,
}

/// Thirty days.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(30 * 86_400);
pub const DEFAULT_REQUESTS_PER_MINUTE: u32 = 600;

impl Default for Settings {
    fn default() -> Self {
        Self {
            changes_retention: DEFAULT_RETENTION,
            requests_per_minute: DEFAULT_REQUESTS_PER_MINUTE,
            push_allow_private: false,
        }
    }
}
