//! The `renew_subscription` job (CONNECTOR-RULES 43): registers a
//! connection's webhooks at its provider with the secret minted at
//! connect, and renews a subscription that expires before it does. A
//! failure is kept on the endpoint for the provider page, the job is
//! retried, and meanwhile the connection is polled (faster, where the
//! catalog says so). A disconnect deletes the subscription at the
//! provider ([`unsubscribe`], SECURITY H7).

use std::time::Duration;

use connector_core::webhooks::{Hook, Subscription};
use secrecy::ExposeSecret as _;

use crate::{
    Platform,
    catalog::{Provider, SubscriptionKind},
    error::Result,
    ids::{InstallationId, TeamId},
    jobs::{self, ErrorClass, Job, JobHandler, Kind, State},
    store::webhooks::{self as store, Endpoint},
    util::now,
};

#[derive(Debug)]
pub struct Subscriptions;

#[async_trait::async_trait]
impl JobHandler for Subscriptions {
    fn name(&self) -> &'static str {
        "renew_subscription"
    }

    fn kinds(&self) -> &'static [Kind] {
        &[Kind::RenewSubscription]
    }

    fn lease(&self, _platform: &Platform) -> Duration {
        Duration::from_secs(120)
    }

    /// Idempotent: registering asks the connector for a subscription only
    /// while none is recorded, and renewing one twice only extends it.
    async fn run(&self, platform: &Platform, job: &Job, worker: &str) -> Result<State> {
        let outcome = renew(platform, job).await;
        match outcome {
            Ok(()) => {
                jobs::complete(&platform.db, &job.id, worker).await?;
                Ok(State::Completed)
            }
            Err((endpoint, failure)) => {
                tracing::warn!(job = %job.id, reason = %failure.message, "a webhook subscription could not be made or renewed");
                if let Some(endpoint) = endpoint {
                    store::set_renew_error(&platform.db, &job.team_id, &endpoint, &failure.message).await?;
                }
                let pause = failure.retry_after.max(crate::webhooks::retry_pause(job.attempts));
                let state = jobs::fail(&platform.db, &job.id, worker, failure.class, &failure.message, pause).await?;
                Ok(state.unwrap_or(State::Interrupted))
            }
        }
    }

    /// Queues a renewal for each subscription about to expire, and another
    /// try for each connection whose registration failed over an hour ago.
    async fn schedule(&self, platform: &Platform) -> Result<usize> {
        if !platform.webhooks.enabled {
            return Ok(0);
        }
        let horizon = now() + 86_400;
        let mut queued = 0;
        for endpoint in store::due_for_renewal(&platform.db, horizon).await? {
            let Some(provider) = platform.catalog.get(&endpoint.provider) else { continue };
            let Some(hooks) = provider.webhooks.as_ref().filter(|h| h.subscription != SubscriptionKind::Manual) else {
                continue;
            };
            let due = match endpoint.expires_at {
                Some(at) => at - i64::try_from(crate::webhooks::renew_ahead(hooks).as_secs()).unwrap_or(0) <= now(),
                None => true,
            };
            if !due {
                continue;
            }
            let mut tx = platform.db.begin_write().await?;
            let (recent, _) =
                jobs::sync_history(&mut tx, &endpoint.installation_id, &[Kind::RenewSubscription], now() - 3600)
                    .await?;
            if recent == 0 || endpoint.expires_at.is_some() {
                let new =
                    crate::webhooks::subscription_job(&endpoint.team_id, &endpoint.provider, &endpoint.installation_id);
                if let jobs::Enqueued::Created(_) = jobs::enqueue(&mut tx, &new).await? {
                    queued += 1;
                }
            }
            tx.commit().await?;
        }
        Ok(queued)
    }
}

#[derive(Debug)]
struct Failure {
    class: ErrorClass,
    message: String,
    retry_after: Duration,
}

impl From<crate::Error> for Failure {
    fn from(error: crate::Error) -> Self {
        tracing::error!(%error, "a webhook subscription job failed in the console");
        Self {
            class: ErrorClass::Transient,
            message: "the console could not record the subscription; it tries again".into(),
            retry_after: Duration::from_secs(30),
        }
    }
}

/// Registers or renews the job's connection's subscription. A failure
/// names the endpoint it is recorded on.
async fn renew(platform: &Platform, job: &Job) -> std::result::Result<(), (Option<String>, Failure)> {
    let permanent = |message: String| Failure { class: ErrorClass::Permanent, message, retry_after: Duration::ZERO };
    let provider =
        platform.catalog.get(&job.provider).ok_or_else(|| (None, permanent("the provider is gone".into())))?;
    let Some(installation) = &job.installation_id else { return Ok(()) };
    let endpoint = store::endpoint_of(&platform.db, &job.team_id, installation).await.map_err(|e| (None, e.into()))?;
    // Disconnected since it was queued: nothing to do.
    let Some(endpoint) = endpoint else { return Ok(()) };
    let at = Some(endpoint.id.clone());
    let fail = |failure: Failure| (at.clone(), failure);
    let receiver = crate::connectors::receiver_for(&provider.id)
        .ok_or_else(|| fail(permanent(format!("Patchbay cannot register {}'s webhooks yet", provider.name))))?;
    let stream = connector_core::source::Stream { name: String::new(), entity_types: Vec::new() };
    let opened = crate::jobs::sync::open(platform, &job.team_id, provider, Some(installation), stream)
        .await
        .map_err(|f| fail(Failure { class: f.class, message: f.message, retry_after: f.retry_in }))?;
    let cx = opened.context();
    let fetch = |e: connector_core::http::FetchError| {
        let class = if e.class == connector_core::http::Class::Permanent {
            ErrorClass::Permanent
        } else {
            ErrorClass::Transient
        };
        let message = format!("{} did not register the webhook: {}", provider.name, e.message);
        Failure { class, message, retry_after: e.retry_after.unwrap_or_default() }
    };
    let app_wide = crate::webhooks::is_app_wide(provider);
    if app_wide
        && crate::store::oauth_apps::client_id(&platform.db, &job.team_id, &provider.id)
            .await
            .map_err(|e| fail(e.into()))?
            .is_some()
    {
        // The app's one URL is the deployment's app's; another app signs
        // with a secret the console does not have.
        return Err(fail(permanent(format!(
            "{name}'s webhooks come through the deployment's {name} app only, and this connection uses the \
             team's own app (Settings → OAuth apps)",
            name = provider.name
        ))));
    }
    let subscription = match &endpoint.subscription {
        Some(current) => Some(receiver.renew(&cx, current).await.map_err(|e| fail(fetch(e)))?),
        None => {
            // An app-wide subscription is signed with the app's secret, not
            // one of the connection's.
            let secret = if app_wide {
                None
            } else {
                Some(
                    crate::webhooks::secret(platform, &job.team_id, provider)
                        .await
                        .map_err(|e| fail(e.into()))?
                        .ok_or_else(|| {
                            fail(permanent("the webhook secret is missing; reconnect to make a new one".into()))
                        })?,
                )
            };
            let url = platform.webhooks.endpoint_url(provider, &endpoint);
            let hook = Hook { url: &url, secret: secret.as_ref().map(|s| s.expose_secret()) };
            receiver.subscribe(&cx, &hook).await.map_err(|e| fail(fetch(e)))?
        }
    };
    if let Some(subscription) = subscription {
        store::set_subscription(&platform.db, &job.team_id, &endpoint.id, &subscription, app_wide)
            .await
            .map_err(|e| fail(e.into()))?;
        tracing::info!(provider = %provider.id, ids = subscription.ids.len(), "webhook subscription registered");
    }
    Ok(())
}

/// Deletes a connection's subscription at its provider. Returns why it
/// could not, in words for the disconnect's note.
pub(crate) async fn unsubscribe(
    platform: &Platform,
    team: &TeamId,
    provider: &Provider,
    subscription: &Subscription,
) -> std::result::Result<(), String> {
    let Some(receiver) = crate::connectors::receiver_for(&provider.id) else { return Ok(()) };
    let stream = connector_core::source::Stream { name: String::new(), entity_types: Vec::new() };
    let opened = crate::jobs::sync::open(platform, team, provider, None, stream).await.map_err(|f| f.message)?;
    let cx = opened.context();
    receiver
        .unsubscribe(&cx, subscription)
        .await
        .map_err(|e| format!("{} kept its webhook: {}", provider.name, e.message))
}

/// Gives a new connection its endpoint and secret, and queues the job that
/// registers its subscription where the provider's API does that. Called
/// after a connect commits: a failure here is logged and leaves the
/// connection syncing by polling (CONNECTOR-RULES 3).
pub(crate) async fn on_connect(platform: &Platform, team: &TeamId, provider: &Provider, installation: &InstallationId) {
    if !crate::webhooks::wanted(platform, provider) {
        return;
    }
    // A reconnect: the earlier subscription goes (its secret went with the
    // connection's other secrets), and a new one is made.
    match store::endpoint_of(&platform.db, team, installation).await {
        Ok(Some(Endpoint { subscription: Some(earlier), .. })) => {
            if let Err(why) = unsubscribe(platform, team, provider, &earlier).await {
                tracing::warn!(reason = %why, "the earlier webhook subscription could not be deleted");
            }
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "reading the earlier webhook endpoint failed"),
    }
    if let Err(error) = mint(platform, team, provider, installation).await {
        tracing::warn!(%error, provider = %provider.id, "the connection's webhook endpoint could not be made; it syncs by polling");
    }
}

async fn mint(
    platform: &Platform,
    team: &TeamId,
    provider: &Provider,
    installation: &InstallationId,
) -> Result<Endpoint> {
    if crate::webhooks::makes_secret(provider) {
        platform.secrets.put(&crate::webhooks::secret_path(team, provider)?, &crate::webhooks::fresh_secret()).await?;
    }
    let mut tx = platform.db.begin_write().await?;
    let endpoint = store::mint_endpoint(&mut tx, team, installation, &provider.id).await?;
    if provider.webhooks.as_ref().is_some_and(|w| w.subscription != SubscriptionKind::Manual) {
        jobs::enqueue(&mut tx, &crate::webhooks::subscription_job(team, &provider.id, installation)).await?;
    }
    tx.commit().await?;
    Ok(endpoint)
}

/// Deletes a connection's webhooks at its provider, then forgets its
/// endpoint and deliveries: called by a disconnect while the connection's
/// credentials still work (SECURITY H7, CONNECTOR-RULES 29). Returns why
/// the provider did not delete them, if it did not.
pub(crate) async fn on_disconnect(
    platform: &Platform,
    team: &TeamId,
    provider: &Provider,
    installation: &InstallationId,
) -> Result<Option<String>> {
    let Some(endpoint) = store::endpoint_of(&platform.db, team, installation).await? else { return Ok(None) };
    let failed = match &endpoint.subscription {
        Some(subscription) => unsubscribe(platform, team, provider, subscription).await.err(),
        None => None,
    };
    let mut tx = platform.db.begin_write().await?;
    store::delete_endpoint(&mut tx, team, installation).await?;
    tx.commit().await?;
    Ok(failed)
}
