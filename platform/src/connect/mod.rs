//! Connecting a provider, and what follows, as DESIGN names the flows:
//!
//! - `form`: the credential form of `api_key` and `basic` providers, and
//!   replacing its credentials or editing its settings;
//! - `oauth`: the OAuth start and callback;
//! - `establish`: what both end in (claim → secrets → installation →
//!   first backfill → audit);
//! - `check`: asking the provider whether the stored connection works;
//! - `disconnect`: revoke → wipe → clear cursors and records → mark
//!   disconnected.
//!
//! The order is always: check the input, ask the provider which account
//! the credentials reach, store the secrets, then write the installation
//! (CONNECTOR-RULES 22). A failure at any step leaves nothing behind.
//!
//! Callers check that the person is an admin (SECURITY C4); the team always
//! comes from their session (SECURITY C1).

mod check;
mod disconnect;
mod establish;
mod form;
pub mod oauth;

use std::collections::BTreeMap;

pub use check::check;
pub use disconnect::disconnect;
pub(crate) use establish::establish;
pub use form::{connect, describe, edit_settings, mask, replace_credentials};

use crate::{
    Platform,
    catalog::Provider,
    error::{Error, Result},
    ids::TeamId,
    secrets::SecretPath,
    store::installations::{self, Installation},
    store::users::User,
};

/// What a form sent, by field name, untrimmed and unchecked.
pub type Form = BTreeMap<String, String>;

/// An installation as its provider page shows it.
#[derive(Clone, Debug)]
pub struct Connection {
    pub installation: Installation,
    /// Each secret field by name, masked; `None` where nothing is stored.
    pub masked: BTreeMap<String, Option<String>>,
}

/// What an edit of the settings did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edited {
    /// The settings reach another account: the cursors were cleared, and
    /// the next sync starts over.
    pub account_changed: bool,
}

/// What a disconnect wiped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wiped {
    pub secrets: usize,
    pub cursors: u64,
    /// Synced records deleted.
    pub records: u64,
    /// Why the provider has not revoked the token yet, when a retry is
    /// scheduled (SECURITY D6).
    pub revoke_pending: Option<String>,
}

pub(super) fn secret_path(user: &User, provider: &Provider, field: &str) -> Result<SecretPath> {
    SecretPath::of(&user.team_id, &[provider.id.as_str(), field])
}

/// Everything stored for this team's connection to `provider`.
pub(super) fn connection_path(team: &TeamId, provider: &Provider) -> Result<SecretPath> {
    SecretPath::of(team, &[provider.id.as_str()])
}

/// The active installation of `provider` for the actor's team.
pub(super) async fn active(platform: &Platform, actor: &User, provider: &Provider) -> Result<Installation> {
    installations::find(&mut *platform.db.pool().acquire().await?, &actor.team_id, &provider.id)
        .await?
        .filter(Installation::is_active)
        .ok_or_else(|| Error::Refused(format!("{} is not connected.", provider.name)))
}
