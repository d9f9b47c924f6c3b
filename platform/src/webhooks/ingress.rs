//! A provider's call (DESIGN: Webhooks). In order:
//!
//! 1. The server refuses, unread, a body over the cap, a content type the
//!    provider does not send, or an address with too many refusals this
//!    minute (SECURITY H4): [`Limiter`], [`content_type_allowed`].
//! 2. The endpoint is looked up by the id in the URL alone; the payload is
//!    not read to route it.
//! 3. A handshake that comes unsigned is answered.
//! 4. The signature is checked with that connection's secret, in constant
//!    time (H1, H2). An unknown endpoint and a failed check get the same
//!    answer, [`Outcome::Refused`] (H3); only a counter and a rate-limited
//!    log line record a refusal, and its body is never stored.
//! 5. The delivery is recorded by its id, once (H5), and the connection's
//!    `webhook` job is queued (or the live one kept) in the same
//!    transaction; the provider is answered at once.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{
        Mutex,
        atomic::{AtomicI64, AtomicU64, Ordering},
    },
};

use connector_core::webhooks::{self as kit, Inbound};
pub use connector_core::webhooks::{Answer, MAX_BODY_BYTES};
use reqwest::header::HeaderMap;
use time::OffsetDateTime;

use crate::{
    Platform,
    catalog::Provider,
    error::Result,
    ids::ProviderId,
    store::webhooks::{self as store, Endpoint, NewDelivery, Recorded},
};

/// A provider's call, as the server received it: to a connection's own
/// URL ([`receive`], with its `{endpoint}`) or to an app's ([`receive_app`]).
#[derive(Clone, Copy, Debug)]
pub struct Call<'a> {
    pub provider: &'a Provider,
    pub method: &'a str,
    /// The path and query the server saw; joined to the public URL, it is
    /// the URL the provider called (which Twilio and HubSpot sign).
    pub path_and_query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub received_at: OffsetDateTime,
}

impl Call<'_> {
    /// The call as the verifiers read it, at `url`, the public URL the
    /// provider called ([`Call::public_url`]).
    fn inbound<'u>(&'u self, url: &'u str) -> Inbound<'u> {
        Inbound { method: self.method, url, headers: self.headers, body: self.body }
    }

    fn public_url(&self, platform: &Platform) -> String {
        format!("{}{}", platform.webhooks.public_url.trim_end_matches('/'), self.path_and_query)
    }
}

/// How a call is answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 401 and nothing else, whatever the reason (SECURITY H3).
    Refused,
    /// A handshake's answer.
    Handshake(Answer),
    /// Recorded and queued, or recorded before: 2xx either way.
    Accepted { delivery: String, duplicate: bool },
    /// Verified, and for no connection here (an app's delivery about an
    /// installation nobody connected, or its `ping`): 2xx, nothing kept.
    Unrouted,
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    pub accepted: AtomicU64,
    pub duplicates: AtomicU64,
    pub refused: AtomicU64,
    /// Refused before being read: too large, wrong type, too many.
    pub refused_unread: AtomicU64,
    last_log: AtomicI64,
}

impl Counters {
    /// Counts a refusal, and logs one line at most every ten seconds
    /// with how many there were: a flood of forgeries does not flood the
    /// log. Neither says which endpoint or why in the answer.
    pub fn refusal(&self, provider: &ProviderId, why: &str) {
        let total = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
        let now = crate::util::now();
        let last = self.last_log.load(Ordering::Relaxed);
        if now - last >= 10 && self.last_log.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            tracing::warn!(provider = %provider, why, refused_total = total, "webhook deliveries refused");
        }
    }
}

/// Refusals per address in the current minute (SECURITY H4): past the
/// limit, an address's calls are refused before anything is read.
pub type Limiter = crate::limits::MinuteCounter<IpAddr>;

/// Each endpoint's secret, read from the secret store at most once a
/// minute: every delivery needs it, and at a thousand a second the store's
/// reads (a query and a decryption for the local store) were a good part
/// of the answer's time. Keyed by endpoint id, so a reconnect's new
/// endpoint reads its new secret, and a disconnected endpoint is unknown
/// before its secret is looked for.
#[derive(Debug, Default)]
pub struct SecretCache {
    entries: Mutex<HashMap<String, (std::time::Instant, secrecy::SecretString)>>,
}

/// How long a secret is kept.
const SECRET_TTL: std::time::Duration = std::time::Duration::from_secs(60);

impl SecretCache {
    async fn get(
        &self,
        platform: &Platform,
        endpoint: &Endpoint,
        provider: &Provider,
    ) -> Result<Option<secrecy::SecretString>> {
        {
            let entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((at, secret)) = entries.get(&endpoint.id)
                && at.elapsed() < SECRET_TTL
            {
                return Ok(Some(secret.clone()));
            }
        }
        let Some(secret) = super::secret(platform, &endpoint.team_id, provider).await? else { return Ok(None) };
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= 10_000 {
            entries.retain(|_, (at, _)| at.elapsed() < SECRET_TTL);
        }
        entries.insert(endpoint.id.clone(), (std::time::Instant::now(), secret.clone()));
        Ok(Some(secret))
    }
}

/// The provider, when it takes webhooks here.
pub fn provider<'a>(platform: &'a Platform, id: &str) -> Option<&'a Provider> {
    let id = ProviderId::parse(id).ok()?;
    platform.catalog.get(&id).filter(|p| super::wanted(platform, p))
}

/// Whether a `Content-Type` is one the provider sends (parameters such
/// as `charset` aside).
pub fn content_type_allowed(provider: &Provider, content_type: Option<&str>) -> bool {
    let Some(hooks) = &provider.webhooks else { return false };
    let Some(media) = content_type.and_then(|c| c.split(';').next()) else { return false };
    let media = media.trim().to_ascii_lowercase();
    hooks.content_types.contains(&media)
}

/// Routes, verifies, records and queues a call; see the module's steps.
#[tracing::instrument(skip_all, fields(provider = %call.provider.id))]
pub async fn receive(platform: &Platform, endpoint: &str, call: &Call<'_>) -> Result<Outcome> {
    let provider = call.provider;
    // An app-wide provider's deliveries come to its app's URL only.
    let own_url = super::wanted(platform, provider) && !super::is_app_wide(provider);
    let Some(hooks) = provider.webhooks.as_ref().filter(|_| own_url) else {
        return Ok(Outcome::Refused);
    };
    // Endpoint ids are hex; anything else is unknown without a query.
    let plausible = endpoint.len() == 32 && endpoint.bytes().all(|b| b.is_ascii_hexdigit());
    let endpoint = if plausible { store::endpoint(&platform.db, &provider.id, endpoint).await? } else { None };
    let Some(endpoint) = endpoint else {
        platform.webhook_counters.refusal(&provider.id, "unknown endpoint");
        return Ok(Outcome::Refused);
    };
    let url = call.public_url(platform);
    let inbound = call.inbound(&url);
    if let Some(handshake) = hooks.handshake.filter(|h| h.before_verification())
        && let Some((answer, _adopted)) = handshake.answer(&inbound)
    {
        // Asana's handed-over secret would be adopted here; no built
        // connector uses that handshake yet.
        return Ok(Outcome::Handshake(answer));
    }
    let Some(secret) = platform.webhook_secrets.get(platform, &endpoint, provider).await? else {
        platform.webhook_counters.refusal(&provider.id, "no secret");
        return Ok(Outcome::Refused);
    };
    if let Err(refusal) = hooks.verify.verify(super::secret_bytes(&secret), &inbound, call.received_at) {
        platform.webhook_counters.refusal(&provider.id, refusal.as_str());
        if let Err(error) = store::count_refusal(&platform.db, &endpoint.installation_id).await {
            tracing::warn!(%error, "counting a refused delivery failed");
        }
        return Ok(Outcome::Refused);
    }
    if let Some(handshake) = hooks.handshake.filter(|h| !h.before_verification())
        && let Some((answer, _)) = handshake.answer(&inbound)
    {
        return Ok(Outcome::Handshake(answer));
    }
    let named = Named::of(hooks, call.headers, call.body, call.received_at);
    accept(platform, &endpoint, &named, call.body, hooks.retry_window_hours).await
}

/// Verifies a call to an app's one URL with the app's secret (SECURITY
/// H1: nothing of the body is read before), then reads the routing id at
/// the catalog's `route` and records the delivery for each connection
/// whose subscription listed that id. A delivery no connection here
/// subscribed to is answered and forgotten.
#[tracing::instrument(skip_all, fields(provider = %call.provider.id))]
pub async fn receive_app(platform: &Platform, call: &Call<'_>) -> Result<Outcome> {
    let provider = call.provider;
    let Some(hooks) =
        provider.webhooks.as_ref().filter(|_| super::wanted(platform, provider) && super::is_app_wide(provider))
    else {
        return Ok(Outcome::Refused);
    };
    let Some(secret) = platform.webhooks.app_secrets.get(&provider.id) else {
        platform.webhook_counters.refusal(&provider.id, "no app secret");
        return Ok(Outcome::Refused);
    };
    let url = call.public_url(platform);
    let inbound = call.inbound(&url);
    if let Err(refusal) = hooks.verify.verify(super::secret_bytes(secret), &inbound, call.received_at) {
        platform.webhook_counters.refusal(&provider.id, refusal.as_str());
        return Ok(Outcome::Refused);
    }
    let Some(route) = hooks.route.as_deref().and_then(|pointer| route_key(call.body, pointer)) else {
        return Ok(Outcome::Unrouted);
    };
    let endpoints = store::endpoints_by_route(&platform.db, &provider.id, &route).await?;
    let named = Named::of(hooks, call.headers, call.body, call.received_at);
    let mut outcome = Outcome::Unrouted;
    for endpoint in &endpoints {
        // Each team's connection applies it to its own records; it is new
        // if it is new to any of them.
        let accepted = accept(platform, endpoint, &named, call.body, hooks.retry_window_hours).await?;
        if !matches!(outcome, Outcome::Accepted { duplicate: false, .. }) {
            outcome = accepted;
        }
    }
    Ok(outcome)
}

/// The routing id at `pointer` in a verified body, a string or a number.
fn route_key(body: &[u8], pointer: &str) -> Option<String> {
    let body: serde_json::Value = serde_json::from_slice(body).ok()?;
    match body.pointer(pointer)? {
        serde_json::Value::String(text) if !text.is_empty() && text.len() <= 200 => Some(text.clone()),
        serde_json::Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// What names a verified delivery: its id (rule 41) and its event.
struct Named {
    key: String,
    event: Option<String>,
    received_at_ms: i64,
}

impl Named {
    fn of(hooks: &crate::catalog::Webhooks, headers: &HeaderMap, body: &[u8], received_at: OffsetDateTime) -> Self {
        let delivery_header = hooks.delivery_header.clone().or_else(|| hooks.verify.delivery_header());
        let event = hooks.event_header.as_deref().and_then(|name| headers.get(name)).and_then(|v| v.to_str().ok());
        Self {
            key: kit::delivery_id_in(headers, delivery_header.as_deref(), hooks.delivery_field.as_deref(), body),
            event: event.map(str::to_owned),
            received_at_ms: i64::try_from(received_at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX),
        }
    }
}

/// Records a verified delivery for `endpoint`'s connection, counted.
async fn accept(
    platform: &Platform,
    endpoint: &Endpoint,
    named: &Named,
    body: &[u8],
    retry_window_hours: u32,
) -> Result<Outcome> {
    let recorded =
        record(platform, endpoint, &named.key, named.event.as_deref(), named.received_at_ms, body, retry_window_hours)
            .await?;
    Ok(match recorded {
        Recorded::New(delivery) => {
            platform.webhook_counters.accepted.fetch_add(1, Ordering::Relaxed);
            Outcome::Accepted { delivery, duplicate: false }
        }
        Recorded::Duplicate(delivery) => {
            platform.webhook_counters.duplicates.fetch_add(1, Ordering::Relaxed);
            Outcome::Accepted { delivery, duplicate: true }
        }
    })
}

/// Records a verified delivery and, when it is new, queues its job, in
/// one transaction: a delivery is never recorded without its job.
async fn record(
    platform: &Platform,
    endpoint: &Endpoint,
    key: &str,
    event: Option<&str>,
    received_at_ms: i64,
    body: &[u8],
    retry_window_hours: u32,
) -> Result<Recorded> {
    // Kept for the provider's retry window, and at least a day.
    let keep_until = crate::util::now() + i64::from(retry_window_hours.max(24)) * 3600;
    let mut tx = platform.db.begin_write().await?;
    let delivery = NewDelivery { endpoint, key, event, received_at_ms, body, keep_until };
    let recorded = store::record_delivery(&mut tx, &delivery).await?;
    if let Recorded::New(_) = &recorded {
        // The connection's live webhook job takes it, or a new one does.
        let job = super::delivery_job(&endpoint.team_id, &endpoint.provider, &endpoint.installation_id);
        crate::store::jobs::enqueue(&mut tx, &job).await?;
    }
    tx.commit().await?;
    Ok(recorded)
}
