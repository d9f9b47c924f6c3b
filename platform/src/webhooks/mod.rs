//! Inbound webhooks (DESIGN: Webhooks; SECURITY H; CONNECTOR-RULES 40–43).
//! Polling stays the backbone (rule 3): webhooks make changes arrive in
//! seconds, and a connection whose webhooks fail goes on syncing.
//!
//! - [`ingress`]: a provider's call, routed by its endpoint without
//!   reading the payload, verified with the connection's secret before
//!   anything else, recorded once by its delivery id, queued, answered.
//! - here: the settings, each connection's secret, the jobs a delivery
//!   and a subscription make, and the status a provider page shows.
//!
//! The jobs themselves are the registry's, a layer below: `webhook`
//! ([`crate::jobs::webhook`]) applies a delivery through the connector
//! with a sync's privacy rules and never over newer state;
//! `renew_subscription` ([`crate::jobs::subscriptions`]) registers a
//! connection's webhooks at its provider, renews them before they
//! expire, and deletes them on disconnect.
//!
//! Each connection with webhooks gets an endpoint when it connects: an
//! unguessable id in its URL, and a secret under the connection's path in
//! the secret store, which a disconnect wipes with the rest.

pub mod ingress;

use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};

use crate::{
    Platform,
    catalog::{Provider, SubscriptionKind},
    error::Result,
    ids::{InstallationId, ProviderId, TeamId},
    secrets::SecretPath,
    store::jobs::{Kind, NewJob},
    store::webhooks::{self as store, Endpoint},
};

/// The secret-store key of a connection's webhook secret, beside its
/// other secrets.
pub const SECRET_KEY: &str = "webhook_secret";

/// The webhook secret of each app-wide subscription's app, from the
/// environment (`PATCHBAY_<PROVIDER>_WEBHOOK_SECRET`).
pub type AppSecrets = std::collections::HashMap<ProviderId, SecretString>;

/// How webhooks behave in this deployment (`PATCHBAY_WEBHOOKS`,
/// `PATCHBAY_WEBHOOK_REFUSALS_PER_MINUTE`, `PATCHBAY_<PROVIDER>_WEBHOOK_SECRET`).
#[derive(Clone, Debug)]
pub struct Settings {
    /// Off: no endpoints are minted, nothing is registered, and every
    /// delivery is answered as to an unknown endpoint.
    pub enabled: bool,
    /// Where providers reach the console (`PATCHBAY_PUBLIC_URL`): the base
    /// of every endpoint's URL, and what Twilio and HubSpot sign.
    pub public_url: String,
    /// Refused deliveries an address may make a minute before its calls
    /// are refused unread (SECURITY H4).
    pub refusals_per_minute: u32,
    /// The secrets app-wide deliveries are signed with, by provider.
    pub app_secrets: AppSecrets,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            enabled: true,
            public_url: "http://127.0.0.1:3000".into(),
            refusals_per_minute: 600,
            app_secrets: AppSecrets::new(),
        }
    }
}

impl Settings {
    /// The URL a connection's provider posts to: its own, or its app's.
    pub fn endpoint_url(&self, provider: &Provider, endpoint: &Endpoint) -> String {
        if is_app_wide(provider) {
            return self.app_url(provider);
        }
        format!("{}/webhooks/{}/{}", self.public_url.trim_end_matches('/'), provider.id, endpoint.id)
    }

    /// The one URL an app-wide provider posts every delivery to.
    pub fn app_url(&self, provider: &Provider) -> String {
        format!("{}/webhooks/{}", self.public_url.trim_end_matches('/'), provider.id)
    }

    /// The name of the setting that holds an app-wide provider's secret.
    pub fn app_secret_setting(provider: &Provider) -> String {
        format!("PATCHBAY_{}_WEBHOOK_SECRET", provider.id.env_name())
    }
}

/// Whether the provider sends all its app's deliveries to one URL.
pub fn is_app_wide(provider: &Provider) -> bool {
    provider.webhooks.as_ref().is_some_and(|h| h.subscription == SubscriptionKind::App)
}

/// 256 random bits, as the URL-safe text providers accept as a secret.
pub(crate) fn fresh_secret() -> SecretString {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    SecretString::from(hex::encode(bytes))
}

/// Whether a provider's connections get webhooks here: they are on, its
/// catalog entry describes them, and its connector reads them.
pub fn wanted(platform: &Platform, provider: &Provider) -> bool {
    platform.webhooks.enabled && provider.webhooks.is_some() && crate::connectors::receiver_for(&provider.id).is_some()
}

/// A connection's webhook secret.
pub(crate) async fn secret(platform: &Platform, team: &TeamId, provider: &Provider) -> Result<Option<SecretString>> {
    Ok(platform.secrets.get(&secret_path(team, provider)?).await?.map(|s| s.value))
}

/// The connection's credential a provider signs deliveries with
/// (`webhooks.signed_with`: Twilio's Auth Token), where it signs with one.
fn signed_with(provider: &Provider) -> Option<&str> {
    provider.webhooks.as_ref()?.signed_with.as_deref()
}

/// Where the secret that verifies a connection's deliveries is: the
/// credential the provider signs with, or the one Patchbay made.
pub(crate) fn secret_path(team: &TeamId, provider: &Provider) -> Result<SecretPath> {
    SecretPath::of(team, &[provider.id.as_str(), signed_with(provider).unwrap_or(SECRET_KEY)])
}

/// Whether connecting makes a secret of Patchbay's for the provider to
/// sign with: not for an app's one secret, nor a provider that signs with
/// the connection's credential.
pub(crate) fn makes_secret(provider: &Provider) -> bool {
    !is_app_wide(provider) && signed_with(provider).is_none()
}

/// What an admin pastes into the provider's settings where the console
/// cannot register the webhook itself: the URL and the secret.
#[derive(Clone)]
pub struct Manual {
    pub url: String,
    pub secret: SecretString,
}

impl std::fmt::Debug for Manual {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manual").field("url", &self.url).field("secret", &"[redacted]").finish()
    }
}

/// A connection's webhooks, as its provider page shows them.
#[derive(Clone, Debug, Default)]
pub struct Status {
    /// Whether the provider has webhooks and they are on here.
    pub offered: bool,
    /// Registered at the provider (or, for a manual one, ready to paste).
    pub registered: bool,
    /// How the subscription is made.
    pub manual: bool,
    /// Delivered to the app's one URL, signed with the app's secret, which
    /// the operator sets: the page names the setting, never the secret.
    pub app_secret_setting: Option<String>,
    /// The endpoint's URL.
    pub url: Option<String>,
    /// For a provider that signs with the connection's credential: that
    /// credential's label (`Auth Token`), so there is no secret to paste.
    pub signed_with: Option<String>,
    /// Unix seconds: when the subscription is renewed (it expires a
    /// little later).
    pub renews_at: Option<i64>,
    /// Why registering or renewing failed; the connection is polled
    /// meanwhile.
    pub renew_error: Option<String>,
    /// Unix milliseconds of the newest delivery.
    pub last_event_ms: Option<i64>,
    pub events_24h: i64,
    pub refusals_24h: i64,
    pub recent: Vec<store::Delivery>,
}

/// The label of a credential form's field, as the admin knows it.
fn credential_label(provider: &Provider, field: &str) -> String {
    let fields = match &provider.auth {
        crate::catalog::Auth::ApiKey(form) | crate::catalog::Auth::Basic(form) => form.fields.as_slice(),
        crate::catalog::Auth::Oauth2(_) => &[],
    };
    fields.iter().find(|f| f.name == field).map_or_else(|| field.to_owned(), |f| f.label.clone())
}

/// How many deliveries the provider page lists.
pub const RECENT: i64 = 20;

/// A connection's webhook status, for its provider page.
pub async fn status(
    platform: &Platform,
    team: &TeamId,
    provider: &Provider,
    installation: &InstallationId,
) -> Result<Status> {
    let Some(hooks) = provider.webhooks.as_ref().filter(|_| wanted(platform, provider)) else {
        return Ok(Status::default());
    };
    let manual = hooks.subscription == SubscriptionKind::Manual;
    let signed_with = signed_with(provider).map(|field| credential_label(provider, field));
    let app_secret_setting = is_app_wide(provider).then(|| Settings::app_secret_setting(provider));
    let Some(endpoint) = store::endpoint_of(&platform.db, team, installation).await? else {
        return Ok(Status { offered: true, manual, app_secret_setting, signed_with, ..Status::default() });
    };
    // An app-wide URL verifies with the app's secret, which only the
    // operator can set: without it nothing is delivered, and polling goes on.
    let unsigned = app_secret_setting.as_ref().filter(|_| !platform.webhooks.app_secrets.contains_key(&provider.id));
    let renew_error = match unsigned {
        Some(setting) => Some(format!(
            "The console has no secret for {}'s app: set {setting} to the app's webhook secret, \
             and the app's webhook URL to {}",
            provider.name,
            platform.webhooks.app_url(provider)
        )),
        None => endpoint.renew_error.clone(),
    };
    let now_ms = crate::util::now() * 1000;
    let (events_24h, last_event_ms) =
        store::received_since(&platform.db, team, installation, now_ms - 86_400_000).await?;
    Ok(Status {
        offered: true,
        registered: manual || (endpoint.subscription.is_some() && unsigned.is_none()),
        manual,
        app_secret_setting,
        url: Some(platform.webhooks.endpoint_url(provider, &endpoint)),
        signed_with,
        renews_at: endpoint.expires_at.map(|at| at - i64::try_from(renew_ahead(hooks).as_secs()).unwrap_or(0)),
        renew_error,
        last_event_ms,
        events_24h,
        refusals_24h: store::refusals_since(&platform.db, installation, crate::util::now() - 86_400).await?,
        recent: store::recent(&platform.db, team, installation, RECENT).await?,
    })
}

/// The URL and secret of a manual subscription, for an admin's copy
/// buttons; `None` for a provider whose API registers it.
pub async fn manual(
    platform: &Platform,
    team: &TeamId,
    provider: &Provider,
    installation: &InstallationId,
) -> Result<Option<Manual>> {
    let Some(hooks) = provider.webhooks.as_ref().filter(|_| wanted(platform, provider)) else { return Ok(None) };
    if hooks.subscription != SubscriptionKind::Manual || hooks.signed_with.is_some() {
        return Ok(None);
    }
    let Some(endpoint) = store::endpoint_of(&platform.db, team, installation).await? else { return Ok(None) };
    let Some(secret) = secret(platform, team, provider).await? else { return Ok(None) };
    Ok(Some(Manual { url: platform.webhooks.endpoint_url(provider, &endpoint), secret }))
}

/// The URL and secret of a manual subscription, for the admin `actor` who
/// asked to see them on the provider page, audited (SECURITY H6: the
/// secret is in no page until an admin asks, and is never logged).
pub async fn reveal_manual(
    platform: &Platform,
    actor: &crate::store::users::User,
    provider: &Provider,
) -> Result<Option<Manual>> {
    let team = &actor.team_id;
    let mut conn = platform.db.pool().acquire().await?;
    let installation = crate::store::installations::find(&mut conn, team, &provider.id).await?;
    drop(conn);
    let Some(installation) = installation.filter(crate::store::installations::Installation::is_active) else {
        return Ok(None);
    };
    let Some(found) = manual(platform, team, provider, &installation.id).await? else { return Ok(None) };
    let mut tx = platform.db.begin_write().await?;
    crate::store::audit::record(
        &mut tx,
        team,
        Some(&actor.id),
        "webhook.secret_shown",
        provider.id.as_str(),
        &format!("Showed the webhook URL and secret of {} to paste into its settings", provider.name),
    )
    .await?;
    tx.commit().await?;
    Ok(Some(found))
}

/// Keeps `secret`'s text out of everything but the verifier.
pub(crate) fn secret_bytes(secret: &SecretString) -> &[u8] {
    secret.expose_secret().as_bytes()
}

/// A pause for job retries: a minute, doubling, at most an hour.
pub(crate) fn retry_pause(attempts: i64) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 6)).unwrap_or(6);
    Duration::from_secs((30_u64 << doublings).min(3600))
}

/// How long before it expires a subscription is renewed: a third of its
/// life, at most a day (Graph's three days renew a day ahead; Jira's 30
/// a day ahead).
pub fn renew_ahead(hooks: &crate::catalog::Webhooks) -> Duration {
    let life = u64::from(hooks.expires_after_hours.unwrap_or(0)) * 3600;
    Duration::from_secs((life / 3).min(86_400))
}

/// Tries per delivery: a minute, doubling, about an hour in all.
const DELIVERY_ATTEMPTS: i64 = 6;
/// Tries per registration or renewal before the job fails; the schedule
/// queues another an hour later.
const SUBSCRIPTION_ATTEMPTS: i64 = 5;

/// The job that applies a connection's queued deliveries: one is live
/// per connection, and takes every delivery queued while it runs.
pub fn delivery_job(team: &TeamId, provider: &ProviderId, installation: &InstallationId) -> NewJob {
    NewJob {
        team: team.clone(),
        provider: provider.clone(),
        installation: Some(installation.clone()),
        kind: Kind::Webhook,
        dedupe_key: Some(format!("webhooks:{}", installation.as_str())),
        payload: serde_json::Value::Null,
        run_after: 0,
        max_attempts: DELIVERY_ATTEMPTS,
    }
}

/// The job that registers or renews `installation`'s subscription.
pub(crate) fn subscription_job(team: &TeamId, provider: &ProviderId, installation: &InstallationId) -> NewJob {
    NewJob {
        team: team.clone(),
        provider: provider.clone(),
        installation: Some(installation.clone()),
        kind: Kind::RenewSubscription,
        dedupe_key: Some(format!("subscription:{}", installation.as_str())),
        payload: serde_json::Value::Null,
        run_after: 0,
        max_attempts: SUBSCRIPTION_ATTEMPTS,
    }
}
