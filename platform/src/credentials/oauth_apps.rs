//! Which OAuth app a team connects a provider with: one an admin saved for
//! the team under Settings (client id in `oauth_apps`, client secret in the
//! secret store), or else the one the environment configures for the whole
//! deployment (`PATCHBAY_<PROVIDER>_CLIENT_ID` / `_CLIENT_SECRET`).
//!
//! Every use reads it afresh (SECURITY E3), so a saved change applies to
//! the next connect, refresh or revoke without a restart.

use std::collections::BTreeSet;

use secrecy::SecretString;

use crate::{
    Platform,
    catalog::{Auth, Availability, Provider},
    error::{Error, Result},
    ids::{ProviderId, TeamId},
    outbound::oauth2::AppCredentials,
    secrets::SecretPath,
    store::{self, users::User},
    util::now,
};

const FOLDER: &str = "_oauth_apps";
const SECRET_KEY: &str = "client_secret";
/// The longest client id or secret accepted; providers' are far shorter.
const MAX_CHARS: usize = 4096;

/// Where an app comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Saved by an admin of the team.
    Team,
    /// `PATCHBAY_<PROVIDER>_CLIENT_ID` and `_CLIENT_SECRET`.
    Environment,
}

/// An OAuth provider and the app the team would use for it, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub provider: ProviderId,
    pub name: String,
    /// The app in use, and its client id (not a secret).
    pub app: Option<(Source, String)>,
    /// Whether the environment also configures one (overridden by the team's).
    pub environment_too: bool,
}

fn secret_path(team: &TeamId, provider: &ProviderId) -> Result<SecretPath> {
    SecretPath::of(team, &[FOLDER, provider.as_str(), SECRET_KEY])
}

/// The app `team` connects `provider` with: its own, else the environment's.
pub async fn resolve(platform: &Platform, team: &TeamId, provider: &ProviderId) -> Result<Option<AppCredentials>> {
    if let Some(client_id) = store::oauth_apps::client_id(&platform.db, team, provider).await?
        && let Some(secret) = platform.secrets.get_fresh(&secret_path(team, provider)?).await?
    {
        return Ok(Some(AppCredentials { client_id, client_secret: secret.value }));
    }
    Ok(platform.oauth_apps.get(provider).cloned())
}

/// The providers `team` has an app for, from either source.
pub async fn configured(platform: &Platform, team: &TeamId) -> Result<BTreeSet<ProviderId>> {
    let saved = store::oauth_apps::list(&platform.db, team).await?;
    Ok(saved.into_iter().map(|(provider, _)| provider).chain(platform.oauth_apps.keys().cloned()).collect())
}

/// A provider a team may enter an app for.
fn oauth_provider<'a>(platform: &'a Platform, provider: &ProviderId) -> Result<&'a Provider> {
    let found = platform.catalog.get(provider).ok_or(Error::NotFound)?;
    if !matches!(found.auth, Auth::Oauth2(_)) {
        return Err(Error::Refused(format!("{} connects with a form, not with an OAuth app.", found.name)));
    }
    if platform.built_in_apps.contains(provider) {
        return Err(Error::Refused(format!("{} comes with its own OAuth app.", found.name)));
    }
    Ok(found)
}

/// Every OAuth provider that can be connected, with the app `team` uses;
/// not those whose app comes with the console.
pub async fn list(platform: &Platform, team: &TeamId) -> Result<Vec<Summary>> {
    let saved = store::oauth_apps::list(&platform.db, team).await?;
    let mut summaries: Vec<Summary> = platform
        .catalog
        .iter()
        .filter(|p| matches!(p.auth, Auth::Oauth2(_)) && p.availability != Availability::ComingSoon)
        .filter(|p| !platform.built_in_apps.contains(&p.id))
        .map(|p| {
            let id = &p.id;
            let from_env = platform.oauth_apps.get(id);
            let own = saved.iter().find(|(provider, _)| provider == id).map(|(_, client)| client.clone());
            let app = match (own, from_env) {
                (Some(client), _) => Some((Source::Team, client)),
                (None, Some(env)) => Some((Source::Environment, env.client_id.clone())),
                (None, None) => None,
            };
            Summary { provider: id.clone(), name: p.name.clone(), app, environment_too: from_env.is_some() }
        })
        .collect();
    summaries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(summaries)
}

fn checked(field: &'static str, label: &str, value: &str) -> Result<String> {
    let value = value.trim();
    let invalid = |message: String| Error::Invalid { field: field.into(), message };
    if value.is_empty() {
        return Err(invalid(format!("Enter the {label}.")));
    }
    if value.chars().count() > MAX_CHARS || value.contains(['\n', '\r']) {
        return Err(invalid(format!("The {label} is one line of at most {MAX_CHARS} characters.")));
    }
    Ok(value.to_owned())
}

/// Saves the team's app for `provider`: the secret first, then the row
/// that makes it used.
#[tracing::instrument(skip_all, fields(team = %actor.team_id, provider))]
pub async fn save(
    platform: &Platform,
    actor: &User,
    provider: &ProviderId,
    client_id: &str,
    client_secret: &SecretString,
) -> Result<()> {
    use secrecy::ExposeSecret as _;
    let found = oauth_provider(platform, provider)?;
    let client_id = checked("client_id", "client id", client_id)?;
    let secret = SecretString::from(checked("client_secret", "client secret", client_secret.expose_secret())?);
    platform.secrets.put(&secret_path(&actor.team_id, &found.id)?, &secret).await?;
    let mut tx = platform.db.begin_write().await?;
    store::oauth_apps::save(&mut tx, &actor.team_id, &found.id, &client_id, &actor.id, now()).await?;
    crate::store::audit::record(
        &mut tx,
        &actor.team_id,
        Some(&actor.id),
        "oauth_app.saved",
        found.id.as_str(),
        &format!("Saved the OAuth app for {} (client id {client_id})", found.name),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Forgets the team's app for `provider`; the environment's, if any, is
/// used again. Returns whether there was one.
#[tracing::instrument(skip_all, fields(team = %actor.team_id, provider))]
pub async fn remove(platform: &Platform, actor: &User, provider: &ProviderId) -> Result<bool> {
    let found = oauth_provider(platform, provider)?;
    let mut tx = platform.db.begin_write().await?;
    let removed = store::oauth_apps::delete(&mut tx, &actor.team_id, &found.id).await?;
    if removed {
        crate::store::audit::record(
            &mut tx,
            &actor.team_id,
            Some(&actor.id),
            "oauth_app.removed",
            found.id.as_str(),
            &format!("Removed the OAuth app saved for {}", found.name),
        )
        .await?;
    }
    tx.commit().await?;
    platform.secrets.delete(&secret_path(&actor.team_id, &found.id)?).await?;
    Ok(removed)
}
