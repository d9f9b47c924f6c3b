//! The sandbox's webhooks: subscriptions a client registers with its
//! access token, and a signed delivery to each of them whenever an item
//! changes, with faults on demand.
//!
//! `POST /api/webhooks` `{"url", "secret"}` (bearer token) registers one:
//! 201 `{"id", "url", "expires_at"}`. It expires after
//! [`HookSettings::life`] (three days by default, as Microsoft Graph's do)
//! unless `POST /api/webhooks/{id}/renew` extends it; `DELETE
//! /api/webhooks/{id}` deletes it (204, or 404 when there is none);
//! `GET /api/webhooks` lists them.
//!
//! Deliveries follow Standard Webhooks: `POST` to the URL with
//! `Content-Type: application/json`, `webhook-id` (one per delivery, the
//! same on a retry), `webhook-timestamp` (Unix seconds), and
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`
//! keyed with the secret as given; `x-sandbox-event` names the event. The
//! body is `{"type", "timestamp", "data": {"id", "kind", "updated_at"}}`, where
//! `type` is `item.created`, `item.updated`, `item.deleted` or
//! `item.made_private`: a thin event, which names the item for the client
//! to read (`GET /api/items/{id}`).
//!
//! Faults (`POST /sandbox/webhook-faults`, or `PATCHBAY_SANDBOX_WEBHOOK_FAULTS`):
//! shares (0–1) of deliveries that are forged (signed with another
//! secret), sent twice, replayed from before the tolerance window
//! (`webhook-timestamp` an hour old, signed as such), or oversized (2 MiB
//! of padding); and `reorder`, which sends each batch of changes that
//! arrive together newest first. `GET /sandbox/webhook-stats` counts what
//! was sent and how fast genuine deliveries were answered, and `POST
//! /sandbox/webhook-load` `{"per_second", "seconds"}` edits random items at
//! a steady pace, for load tests and benchmarks.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use hmac::Mac as _;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{Sandbox, items::ItemChange};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// How the sandbox's webhooks behave.
#[derive(Clone, Debug, PartialEq)]
pub struct HookSettings {
    /// How long a subscription lasts unless renewed.
    pub life: Duration,
    pub faults: HookFaults,
}

impl Default for HookSettings {
    fn default() -> Self {
        Self { life: Duration::from_secs(3 * 86_400), faults: HookFaults::default() }
    }
}

/// Shares of deliveries that go wrong on purpose.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HookFaults {
    pub forge: f64,
    pub duplicate: f64,
    pub stale: f64,
    pub oversize: f64,
    pub reorder: bool,
}

impl HookFaults {
    /// `forge:5,duplicate:10,stale:1,oversize:1,reorder` (percent).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut faults = Self::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if part == "reorder" {
                faults.reorder = true;
                continue;
            }
            let (name, percent) = part.split_once(':').ok_or_else(|| format!("`{part}`: give it as name:percent"))?;
            let percent: u32 =
                percent.parse().ok().filter(|p| *p <= 100).ok_or_else(|| format!("`{part}`: a percent is 0–100"))?;
            let share = f64::from(percent) / 100.0;
            match name {
                "forge" => faults.forge = share,
                "duplicate" => faults.duplicate = share,
                "stale" => faults.stale = share,
                "oversize" => faults.oversize = share,
                other => return Err(format!("`{other}` is not a fault: forge, duplicate, stale, oversize or reorder")),
            }
        }
        Ok(faults)
    }
}

/// What was sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HookStats {
    /// Genuine deliveries, each a change (a duplicate's second copy aside).
    pub genuine: u64,
    pub forged: u64,
    pub duplicated: u64,
    pub stale: u64,
    pub oversized: u64,
    /// Deliveries the receiver answered with a 2xx, and otherwise.
    pub answered_ok: u64,
    pub answered_other: u64,
    /// Subscriptions deleted by their client.
    pub deleted: u64,
}

#[derive(Clone, Debug)]
struct Hook {
    url: String,
    secret: String,
    expires_ms: i64,
}

#[derive(Debug, Default)]
struct HookState {
    hooks: BTreeMap<String, Hook>,
    faults: HookFaults,
    stats: HookStats,
    next: u64,
    /// How long each genuine delivery took to be answered, in
    /// microseconds (the first [`LATENCIES`]).
    latencies_us: Vec<u64>,
}

/// Answer times kept for the percentiles.
const LATENCIES: usize = 200_000;

/// Answer times of genuine deliveries, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct AckLatency {
    pub count: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// The webhooks' state and the task that delivers them.
#[derive(Debug)]
pub(crate) struct Hooks {
    settings: HookSettings,
    state: Arc<Mutex<HookState>>,
    started: std::sync::Once,
}

impl Hooks {
    pub(crate) fn new(settings: HookSettings) -> Self {
        let state = HookState { faults: settings.faults, ..HookState::default() };
        Self { settings, state: Arc::new(Mutex::new(state)), started: std::sync::Once::new() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HookState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts delivering the item changes the sandbox tells, once, on the
    /// runtime of the first registration.
    fn start(&self, sandbox: &Sandbox) {
        self.started.call_once(|| {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            sandbox.tell_item_changes(tx);
            tokio::spawn(deliver_all(self.state.clone(), rx));
        });
    }

    pub(crate) fn stats(&self) -> HookStats {
        self.lock().stats
    }

    pub(crate) fn set_faults(&self, faults: HookFaults) {
        self.lock().faults = faults;
    }

    pub(crate) fn count(&self) -> usize {
        self.lock().hooks.len()
    }

    pub(crate) fn latency(&self) -> AckLatency {
        let mut all = self.lock().latencies_us.clone();
        all.sort_unstable();
        let at = |q: f64| {
            all.get(((all.len() as f64 * q).ceil() as usize).saturating_sub(1)).map_or(0.0, |us| *us as f64 / 1000.0)
        };
        AckLatency { count: all.len(), p50_ms: at(0.5), p99_ms: at(0.99), max_ms: at(1.0) }
    }
}

fn now_ms() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis())
        .unwrap_or(i64::MAX)
}

/// Delivers every change, batch by batch as they arrive.
async fn deliver_all(state: Arc<Mutex<HookState>>, mut changes: tokio::sync::mpsc::UnboundedReceiver<ItemChange>) {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default();
    let sending = Arc::new(tokio::sync::Semaphore::new(16));
    while let Some(first) = changes.recv().await {
        let mut batch = vec![first];
        while batch.len() < 100 {
            match changes.try_recv() {
                Ok(change) => batch.push(change),
                Err(_) => break,
            }
        }
        let (hooks, faults) = {
            let s = state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let live: Vec<Hook> = s.hooks.values().filter(|h| h.expires_ms > now_ms()).cloned().collect();
            (live, s.faults)
        };
        if faults.reorder {
            batch.reverse();
        }
        for change in batch {
            for hook in &hooks {
                let Ok(permit) = sending.clone().acquire_owned().await else { return };
                let (client, state, hook, change) = (client.clone(), state.clone(), hook.clone(), change.clone());
                // In order of starting; with `reorder`, a batch starts
                // newest first.
                let sent = tokio::spawn(async move {
                    send(&client, &state, &hook, &change, faults).await;
                    drop(permit);
                });
                if faults.reorder {
                    let _ = sent.await;
                }
            }
        }
    }
}

fn chance(share: f64) -> bool {
    share > 0.0 && rand::random::<f64>() < share
}

/// Sends one change to one hook, with the faults that fall on it.
async fn send(
    client: &reqwest::Client,
    state: &Mutex<HookState>,
    hook: &Hook,
    change: &ItemChange,
    faults: HookFaults,
) {
    let id = {
        let mut s = state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        s.next += 1;
        format!("msg_{}_{}", now_ms(), s.next)
    };
    let mut body = json!({
        "type": change.kind,
        "timestamp": crate::items::rfc3339(now_ms()),
        "data": { "id": change.id, "kind": change.item_kind, "updated_at": crate::items::rfc3339(change.updated_ms) },
    });
    let (forge, stale, oversize) = (chance(faults.forge), chance(faults.stale), chance(faults.oversize));
    let duplicate = !forge && !stale && !oversize && chance(faults.duplicate);
    if oversize {
        body["padding"] = json!("x".repeat(2 * 1024 * 1024));
    }
    let body = body.to_string();
    let mut seconds = now_ms() / 1000;
    if stale {
        seconds -= 3600;
    }
    let secret = if forge { format!("{}-forged", hook.secret) } else { hook.secret.clone() };
    let signature = sign(&secret, &id, seconds, body.as_bytes());
    {
        let mut s = state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match () {
            () if forge => s.stats.forged += 1,
            () if stale => s.stats.stale += 1,
            () if oversize => s.stats.oversized += 1,
            () => s.stats.genuine += 1,
        }
        s.stats.duplicated += u64::from(duplicate);
    }
    for _ in 0..(1 + usize::from(duplicate)) {
        let started = std::time::Instant::now();
        let answer = client
            .post(&hook.url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", seconds.to_string())
            .header("webhook-signature", format!("v1,{signature}"))
            .header("x-sandbox-event", change.kind)
            .body(body.clone())
            .send()
            .await;
        let ok = answer.is_ok_and(|a| a.status().is_success());
        let took = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let mut s = state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if ok && !forge && !stale && s.latencies_us.len() < LATENCIES {
            s.latencies_us.push(took);
        }
        if ok {
            s.stats.answered_ok += 1;
        } else {
            s.stats.answered_other += 1;
        }
    }
}

/// Standard Webhooks' signature, base64.
fn sign(secret: &str, id: &str, seconds: i64, body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = <HmacSha256 as hmac::KeyInit>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(format!("{id}.{seconds}.").as_bytes());
    mac.update(body);
    STANDARD.encode(mac.finalize().into_bytes())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Register {
    url: String,
    secret: String,
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error": code, "message": message }))).into_response()
}

fn described(id: &str, hook: &Hook) -> serde_json::Value {
    json!({ "id": id, "url": hook.url, "expires_at": crate::items::rfc3339(hook.expires_ms) })
}

/// `POST /api/webhooks`.
pub(crate) async fn register(
    State(sandbox): State<Sandbox>,
    headers: HeaderMap,
    Json(hook): Json<Register>,
) -> Response {
    if !sandbox.token_is_valid(&headers) {
        return error(StatusCode::UNAUTHORIZED, "invalid_token", "The access token is missing, expired or revoked.");
    }
    let valid_url = url::Url::parse(&hook.url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
    if !valid_url || hook.secret.len() < 16 {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_webhook",
            "Give an http(s) URL and a secret of 16 characters or more.",
        );
    }
    let hooks = sandbox.hooks();
    hooks.start(&sandbox);
    // One registered with the password is an admin's, pasted by hand: it
    // lasts (a century) until deleted.
    let life = if sandbox.password_is_valid(&headers) {
        100 * 365 * 86_400_000
    } else {
        i64::try_from(hooks.settings.life.as_millis()).unwrap_or(i64::MAX)
    };
    let mut s = hooks.lock();
    s.next += 1;
    let id = format!("wh_{}", s.next);
    let hook = Hook { url: hook.url, secret: hook.secret, expires_ms: now_ms().saturating_add(life) };
    let answer = described(&id, &hook);
    s.hooks.insert(id, hook);
    (StatusCode::CREATED, Json(answer)).into_response()
}

/// `POST /api/webhooks/{id}/renew`.
pub(crate) async fn renew(State(sandbox): State<Sandbox>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !sandbox.token_is_valid(&headers) {
        return error(StatusCode::UNAUTHORIZED, "invalid_token", "The access token is missing, expired or revoked.");
    }
    let hooks = sandbox.hooks();
    let life = i64::try_from(hooks.settings.life.as_millis()).unwrap_or(i64::MAX);
    let mut s = hooks.lock();
    match s.hooks.get_mut(&id) {
        Some(hook) => {
            hook.expires_ms = now_ms().saturating_add(life);
            Json(described(&id, hook)).into_response()
        }
        None => error(StatusCode::NOT_FOUND, "not_found", "No such webhook."),
    }
}

/// `DELETE /api/webhooks/{id}`.
pub(crate) async fn delete(State(sandbox): State<Sandbox>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !sandbox.token_is_valid(&headers) {
        return error(StatusCode::UNAUTHORIZED, "invalid_token", "The access token is missing, expired or revoked.");
    }
    let hooks = sandbox.hooks();
    let mut s = hooks.lock();
    if s.hooks.remove(&id).is_some() {
        s.stats.deleted += 1;
        StatusCode::NO_CONTENT.into_response()
    } else {
        error(StatusCode::NOT_FOUND, "not_found", "No such webhook.")
    }
}

/// `GET /api/webhooks`.
pub(crate) async fn list(State(sandbox): State<Sandbox>, headers: HeaderMap) -> Response {
    if !sandbox.token_is_valid(&headers) {
        return error(StatusCode::UNAUTHORIZED, "invalid_token", "The access token is missing, expired or revoked.");
    }
    let s = sandbox.hooks().lock();
    let all: Vec<_> = s.hooks.iter().map(|(id, hook)| described(id, hook)).collect();
    Json(json!({ "webhooks": all })).into_response()
}

/// `POST /sandbox/webhook-faults`.
pub(crate) async fn set_faults(State(sandbox): State<Sandbox>, Json(faults): Json<HookFaults>) -> StatusCode {
    sandbox.hooks().set_faults(faults);
    StatusCode::NO_CONTENT
}

/// `GET /sandbox/webhook-stats`: what was sent, and how fast genuine
/// deliveries were answered.
pub(crate) async fn stats(State(sandbox): State<Sandbox>) -> Json<serde_json::Value> {
    let hooks = sandbox.hooks();
    Json(json!({ "sent": hooks.stats(), "ack": hooks.latency(), "subscriptions": hooks.count() }))
}

/// A steady stream of changes, for load tests and benchmarks.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Load {
    pub per_second: u32,
    pub seconds: u32,
}

/// `POST /sandbox/webhook-load {"per_second", "seconds"}`: edits random
/// live items at that pace for that long (at most 10,000 a second for a
/// minute), each edit a delivery to every subscription; answers at once,
/// and stops by itself.
pub(crate) async fn load(State(sandbox): State<Sandbox>, Json(load): Json<Load>) -> Response {
    if !(1..=10_000).contains(&load.per_second) || !(1..=60).contains(&load.seconds) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_load", "per_second is 1–10000 and seconds 1–60.");
    }
    tokio::spawn(async move { sandbox.edit_steadily(load).await });
    StatusCode::ACCEPTED.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_read_as_percent_shares() {
        let faults = HookFaults::parse("forge:5, duplicate:10,reorder").unwrap();
        assert_eq!(faults, HookFaults { forge: 0.05, duplicate: 0.1, reorder: true, ..HookFaults::default() });
        assert!(HookFaults::parse("forge:101").is_err());
        assert!(HookFaults::parse("drop:5").is_err());
    }

    /// The signature is Standard Webhooks': HMAC-SHA256 of
    /// `{id}.{timestamp}.{body}`, base64 (the value computed apart, with
    /// Python's `hmac`).
    #[test]
    fn deliveries_are_signed_over_id_timestamp_and_body() {
        let signed = sign("sandbox-webhook-secret", "msg_1", 1_700_000_000, br#"{"type":"item.updated"}"#);
        assert_eq!(signed, "pQNUxdDISc4TULQoaqwd5/9KtlCCDKbRYuMd8lkw8bs=");
    }
}
