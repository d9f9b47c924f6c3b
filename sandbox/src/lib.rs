//! The sandbox: a small fake SaaS that makes Patchbay demonstrable offline,
//! and that tests and benchmarks connect to instead of a real provider.
//!
//! It is a strict OAuth 2.0 authorization server with one demo user:
//! - an authorize page with Approve and Deny (no sign-in: the demo user is
//!   always signed in);
//! - PKCE with S256 required (RFC 7636), redirect URIs matched exactly, and
//!   `iss` on every authorization response (RFC 9207);
//! - a token endpoint whose codes are single-use, whose access tokens are
//!   short-lived (5 minutes by default), and whose refresh tokens rotate on
//!   every use and are accepted once: presenting a used one revokes the
//!   whole grant, as reuse detection does at strict providers;
//! - revocation (RFC 7009) and a user-info API;
//! - fault switches that make the next token requests fail in a chosen way;
//! - a paginated, rate-limited item API with `updated_since`, page-number
//!   or cursor paging, lookups by id, injected faults, and mutations made
//!   while a pass reads it, for syncs ([`items`]).
//!
//! Every route here is relative: the server serves the router under
//! `/sandbox`, and [`Settings::issuer`] is that full base URL.

use std::{
    collections::{HashMap, VecDeque},
    fmt::Write as _,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Form, Json, Router,
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

pub mod hooks;
pub mod items;

pub use hooks::{AckLatency, HookFaults, HookSettings, HookStats, Load};
pub use items::{ItemSettings, Mutations, Paging};

/// The one client the sandbox knows, as the catalog registers it.
pub const CLIENT_ID: &str = "patchbay-sandbox";
/// Its secret. A demo value: the sandbox guards nothing.
pub const CLIENT_SECRET: &str = "sandbox-client-secret";
/// The demo user every approval signs in.
pub const USER_ID: &str = "sandbox-user-1";
pub const USER_NAME: &str = "Sandbox Demo User";

/// How long an authorization code lives.
const CODE_LIFE: Duration = Duration::from_secs(600);
/// How long the authorize page waits for Approve or Deny.
const PENDING_LIFE: Duration = Duration::from_secs(900);

#[derive(Clone, Debug)]
pub struct Settings {
    /// Where the sandbox is served (`http://127.0.0.1:3000/sandbox`): its
    /// issuer, sent as `iss`, and the base of its URLs.
    pub issuer: String,
    /// The redirect URIs it accepts, compared exactly.
    pub redirect_uris: Vec<String>,
    pub access_token_life: Duration,
    pub items: ItemSettings,
    /// Its webhooks' lifetime and faults.
    pub hooks: HookSettings,
}

/// A way the next token request fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// 400 `invalid_grant`: the grant is dead.
    InvalidGrant,
    /// 400 `invalid_grant` after a second: a refresh that loses a race
    /// with another process's, which rotated the token meanwhile.
    InvalidGrantAfterASecond,
    /// 401 `invalid_client`.
    InvalidClient,
    /// 500 `server_error`.
    ServerError,
    /// 503 with `Retry-After: 1`.
    Unavailable,
    /// No answer for 30 seconds.
    Timeout,
    /// 200 with a body that is not JSON.
    Malformed,
    /// 200 with JSON that has no `access_token`.
    NoAccessToken,
    /// A refresh that succeeds without a new refresh token: the one
    /// presented stays valid, as at providers that rotate only sometimes.
    NoRefreshToken,
    /// 200 with `expires_in` of -300 (nothing changes at the sandbox).
    ExpiresInNegative,
    /// 200 with `expires_in` as a string (nothing changes at the sandbox).
    ExpiresInString,
    /// 200 with an `expires_in` of 2^64 - 1 seconds (nothing changes).
    ExpiresInHuge,
}

/// The sandbox: its settings and its state, shared by the handlers.
#[derive(Clone, Debug)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    settings: Settings,
    state: Mutex<AuthState>,
    token_requests: AtomicU64,
    refresh_requests: AtomicU64,
    items: items::Items,
    hooks: hooks::Hooks,
}

#[derive(Debug, Default)]
struct AuthState {
    pending: HashMap<String, Pending>,
    codes: HashMap<String, Code>,
    /// Revoked grants; their tokens are dead.
    revoked: std::collections::HashSet<u64>,
    /// Access token → (grant, expiry).
    access: HashMap<String, (u64, Instant)>,
    /// Refresh token → (grant, whether it is the grant's current one).
    refresh: HashMap<String, (u64, bool)>,
    /// Code → the grant it produced, to revoke on a replayed code.
    redeemed: HashMap<String, u64>,
    faults: VecDeque<Fault>,
    next_grant: u64,
}

#[derive(Debug)]
struct Pending {
    redirect_uri: String,
    state: Option<String>,
    challenge: String,
    scope: String,
    at: Instant,
}

#[derive(Debug)]
struct Code {
    redirect_uri: String,
    challenge: String,
    scope: String,
    at: Instant,
}

fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

impl Sandbox {
    pub fn new(settings: Settings) -> Self {
        Self {
            inner: Arc::new(Inner {
                items: items::Items::new(settings.items.clone()),
                hooks: hooks::Hooks::new(settings.hooks.clone()),
                settings,
                state: Mutex::new(AuthState::default()),
                token_requests: AtomicU64::new(0),
                refresh_requests: AtomicU64::new(0),
            }),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Requests the token endpoint has answered, of any grant type.
    pub fn token_requests(&self) -> u64 {
        self.inner.token_requests.load(Ordering::SeqCst)
    }

    /// Refresh-token requests the token endpoint has answered.
    pub fn refresh_requests(&self) -> u64 {
        self.inner.refresh_requests.load(Ordering::SeqCst)
    }

    /// Makes the next token requests fail, one fault each, in order.
    pub fn inject_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        self.lock().faults.extend(faults);
    }

    fn items(&self) -> &items::Items {
        &self.inner.items
    }

    fn hooks(&self) -> &hooks::Hooks {
        &self.inner.hooks
    }

    fn tell_item_changes(&self, changes: tokio::sync::mpsc::UnboundedSender<items::ItemChange>) {
        self.items().tell_changes(changes);
    }

    /// What the webhooks have sent.
    pub fn webhook_stats(&self) -> HookStats {
        self.hooks().stats()
    }

    /// Makes deliveries from now on go wrong in the shares given.
    pub fn set_webhook_faults(&self, faults: HookFaults) {
        self.hooks().set_faults(faults);
    }

    /// How fast genuine deliveries were answered.
    pub fn webhook_latency(&self) -> hooks::AckLatency {
        self.hooks().latency()
    }

    /// Edits random live items at `load`'s pace for its length, a tick
    /// every 10 ms; returns how many it edited.
    pub async fn edit_steadily(&self, load: hooks::Load) -> u64 {
        let ticks = u64::from(load.seconds) * 100;
        let per_tick = f64::from(load.per_second) / 100.0;
        let mut interval = tokio::time::interval(Duration::from_millis(10));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let (mut owed, mut edited) = (0.0, 0u64);
        let count = self.inner.settings.items.count.max(1);
        for _ in 0..ticks {
            interval.tick().await;
            owed += per_tick;
            while owed >= 1.0 {
                owed -= 1.0;
                // A deleted pick is skipped: a load edits, never revives.
                if self.touch_item(rand::random_range(0..count)) {
                    edited += 1;
                }
            }
        }
        edited
    }

    /// Webhook subscriptions registered and not deleted.
    pub fn webhook_count(&self) -> usize {
        self.hooks().count()
    }

    /// Edits item `n` now; `false` when there is no such live item.
    pub fn touch_item(&self, n: u64) -> bool {
        self.items().touch(n)
    }

    /// Deletes item `n`; later change listings report it deleted.
    /// Edits all of `ns` at one instant (a bulk update): they share one
    /// `updated_at`. Returns how many were edited.
    pub fn touch_items_together(&self, ns: &[u64]) -> usize {
        self.items().touch_together(ns)
    }

    pub fn delete_item(&self, n: u64) -> bool {
        self.items().delete(n)
    }

    /// Makes item `n` private (or public again), as an edit.
    pub fn set_item_private(&self, n: u64, private: bool) -> bool {
        self.items().set_private(n, private)
    }

    /// Makes the item listing page wrongly from now on (SECURITY F7).
    /// Makes every listing page answered from now on change the source
    /// before the next: the source changing under a pass.
    pub fn mutate_while_listing(&self, mutations: Mutations) {
        self.items().set_mutations(mutations);
    }

    /// Switches the listing between opaque cursors and page numbers.
    pub fn set_paging(&self, paging: Paging) {
        self.items().set_listing(paging);
    }

    /// Turns stream tokens on: the last page of a listing carries a
    /// `sync_token` for the changes after it.
    pub fn use_stream_tokens(&self, on: bool) {
        self.items().set_stream_tokens(on);
    }

    /// Expires every stream token given so far: they answer 410.
    pub fn expire_stream_tokens(&self) {
        self.items().expire_stream_tokens();
    }

    /// Listings asked for with a sync token.
    pub fn token_listings(&self) -> u64 {
        self.items().token_listings()
    }

    /// Creates a public item after every other; returns its number.
    pub fn create_item(&self) -> u64 {
        self.items().create()
    }

    /// Lookups of one item by id answered, and how many found a live item.
    pub fn item_lookups(&self) -> (u64, u64) {
        self.items().lookups()
    }

    pub fn break_paging(&self, paging: items::BrokenPaging) {
        self.items().break_paging(paging);
    }

    /// Makes the next `n` item requests meet a fault.
    pub fn fail_next_item_requests(&self, n: u64) {
        self.items().fail_next(n);
    }

    /// Item requests answered, and how many were refused for the rate limit.
    pub fn item_requests(&self) -> (u64, u64) {
        self.items().stats()
    }

    /// When the first item request came, in Unix milliseconds: where a
    /// sync's reading began.
    pub fn first_item_request_ms(&self) -> Option<i64> {
        self.items().first_request_ms()
    }

    /// When the last item request came, in Unix milliseconds.
    pub fn last_item_request_ms(&self) -> Option<i64> {
        self.items().last_request_ms()
    }

    /// Items a full listing returns.
    pub fn live_item_count(&self) -> u64 {
        self.items().live_count()
    }

    /// The ids of live public items: what a sync should end up holding.
    pub fn public_item_ids(&self) -> Vec<String> {
        self.items().public_ids()
    }

    /// Whether the request carries a live access token.
    fn token_is_valid(&self, headers: &HeaderMap) -> bool {
        if self.password_is_valid(headers) {
            return true;
        }
        let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let token = authorization.and_then(|v| v.strip_prefix("Bearer "));
        token.is_some_and(|t| {
            let s = self.lock();
            s.access.get(t).is_some_and(|(grant, expires)| *expires > Instant::now() && !s.revoked.contains(grant))
        })
    }

    /// Whether `headers` carry the Basic account's user name and password.
    fn password_is_valid(&self, headers: &HeaderMap) -> bool {
        let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        matches!((&self.inner.settings.items.basic, authorization), (Some(account), Some(value)) if account.accepts(value))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, AuthState> {
        self.inner.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The catalog entry of the sandbox's password flavour: its items over
    /// HTTP Basic, connected through a credential form. `None` unless a
    /// Basic account is set.
    pub fn basic_provider_file(&self) -> Option<String> {
        self.inner.settings.items.basic.as_ref()?;
        let issuer = &self.inner.settings.issuer;
        let host = self.issuer_host();
        Some(format!(
            r#"id = "sandbox-basic"
name = "Sandbox (password)"
category = "demo"
description = "The sandbox's items, signed in with the sandbox's user name and password over HTTP Basic."
docs_url = "{issuer}/api/me"
logo = "sandbox.svg"
availability = "available"
sources = ["{issuer}/api/me"]
entities = ["item"]

[auth]
kind = "basic"

[[auth.fields]]
name = "username"
label = "User name"
kind = "text"
help = "The sandbox's user (PATCHBAY_SANDBOX_BASIC, before the colon)."

[[auth.fields]]
name = "password"
label = "Password"
kind = "secret"
help = "The sandbox's password (PATCHBAY_SANDBOX_BASIC, after the colon)."

[auth.verify]
method = "GET"
url = "{issuer}/api/me"
basic_auth = {{ username = "{{username}}", password = "{{password}}" }}
account_id = "/user/id"
display_name = "/user/name"

[api]
base_url = "{issuer}/api"
allowed_hosts = ["{host}"]
pagination = "cursor"
{rate_limit}{webhooks}"#,
            rate_limit = self.rate_limit_entry(),
            webhooks = self.webhooks_entry(&["item".to_owned()], true),
        ))
    }

    /// The routes, relative to where they are served (`/sandbox`), for a
    /// router of any state.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        Router::new()
            .route("/oauth/authorize", get(authorize))
            .route("/oauth/decision", post(decide))
            .route("/oauth/token", post(token))
            .route("/oauth/revoke", post(revoke))
            .route("/api/me", get(me))
            .route("/api/items", get(items::list))
            .route("/api/items/{id}", get(items::get))
            .route("/mutations", get(list_mutations).post(set_mutations))
            .route("/stream", post(set_stream))
            .route("/items/{id}", get(item_page).post(edit_item))
            .route("/api/webhooks", get(hooks::list).post(hooks::register))
            .route("/api/webhooks/{id}", axum::routing::delete(hooks::delete))
            .route("/api/webhooks/{id}/renew", post(hooks::renew))
            .route("/webhook-faults", post(hooks::set_faults))
            .route("/webhook-stats", get(hooks::stats))
            .route("/webhook-load", post(hooks::load))
            .route("/faults", get(list_faults).post(set_faults))
            .route("/stats", get(stats))
            .with_state(self.clone())
    }

    /// The catalog entry of the sandbox, as a provider file, for the
    /// console to validate and add like any other.
    pub fn provider_file(&self) -> String {
        let issuer = &self.inner.settings.issuer;
        let host = self.issuer_host();
        let kinds = &self.inner.settings.items.kinds;
        format!(
            r#"id = "sandbox"
name = "Sandbox (demo)"
category = "demo"
description = "A fake SaaS served by this console, to try connecting without a real account."
docs_url = "{issuer}/oauth/authorize"
logo = "sandbox.svg"
availability = "available"
sources = ["{issuer}/oauth/authorize"]
entities = [{entities}]

[auth]
kind = "oauth2"
authorize_url = "{issuer}/oauth/authorize"
token_url = "{issuer}/oauth/token"
revoke_url = "{issuer}/oauth/revoke"
issuer = "{issuer}"
scopes = ["items:read"]
pkce = "required"
client_auth = "basic"
token_life = "short_lived"
refresh_token_rotates = true

[auth.user_info]
url = "{issuer}/api/me"
headers = {{ Authorization = "Bearer {{access_token}}" }}
account_id = "/user/id"
display_name = "/user/name"

[api]
base_url = "{issuer}/api"
allowed_hosts = ["{host}"]
pagination = "cursor"
{streams}{rate_limit}{webhooks}"#,
            webhooks = self.webhooks_entry(kinds, false),
            entities = kinds.iter().map(|k| format!("\"{k}\"")).collect::<Vec<_>>().join(", "),
            // One stream per kind when there are several.
            streams = if kinds.len() > 1 {
                kinds
                    .iter()
                    .map(|k| format!("\n[[api.streams]]\nname = \"{k}\"\nentity_types = [\"{k}\"]\n"))
                    .collect::<String>()
            } else {
                String::new()
            },
            rate_limit = self.rate_limit_entry(),
        )
    }

    /// The `[webhooks]` table of a catalog entry: Standard Webhooks
    /// signatures and thin events about each kind of item. The OAuth
    /// flavour's subscriptions are made through the API and last
    /// [`HookSettings::life`]; the password flavour's are `manual`, made by
    /// an admin with the URL and secret the provider page shows (`POST
    /// /api/webhooks` with the password), and do not expire.
    fn webhooks_entry(&self, kinds: &[String], manual: bool) -> String {
        let types = kinds.iter().map(|k| format!("\"{k}\"")).collect::<Vec<_>>().join(", ");
        let subscription = if manual {
            "subscription = \"manual\"\n".to_owned()
        } else {
            let hours = (self.inner.settings.hooks.life.as_secs() / 3600).max(2);
            format!("subscription = \"api\"\nexpires_after_hours = {hours}\n")
        };
        let events: String = ["item.created", "item.updated", "item.deleted", "item.made_private"]
            .iter()
            .map(|event| format!("\"{event}\" = [{types}]\n"))
            .collect();
        format!(
            "\n[webhooks]\nverify = {{ family = \"svix\", header_prefix = \"webhook\" }}\n\
             event_header = \"x-sandbox-event\"\ncontent_types = [\"application/json\"]\n\
             retry_window_hours = 24\n{subscription}\
             fallback_sync_every_minutes = 5\n\n[webhooks.events]\n{events}"
        )
    }

    /// The host of the issuer: the one host the sandbox's API lives on.
    fn issuer_host(&self) -> String {
        let issuer = &self.inner.settings.issuer;
        url::Url::parse(issuer).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default()
    }

    /// The `[rate_limit]` table of a catalog entry for the item API: the
    /// limit it enforces, or nothing without one.
    fn rate_limit_entry(&self) -> String {
        match self.inner.settings.items.rate_limit {
            Some(requests) => format!(
                "\n[rate_limit]\nrequests = {requests}\nper_seconds = 1\nremaining_header = \"X-RateLimit-Remaining\"\n\
                 reset_header = \"X-RateLimit-Reset\"\nreset_format = \"delta_seconds\"\nretry_after = true\n"
            ),
            None => String::new(),
        }
    }
}

#[derive(Debug, Deserialize)]
struct AuthorizeQuery {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    scope: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

/// A page of the sandbox's own, in plain words.
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Sandbox</title><link rel=\"icon\" href=\"/favicon.svg\" type=\"image/svg+xml\"><link rel=\"stylesheet\" href=\"/pkg/patchbay.css\"></head>\
         <body class=\"auth-page\"><main class=\"auth-card\"><p class=\"brand\">Sandbox (demo provider)</p>\
         <h1>{title}</h1>{body}</main></body></html>"
    );
    (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Sends the browser back to the client with `params`, `state` and `iss`.
fn back_to_client(issuer: &str, redirect_uri: &str, state: Option<&str>, params: &[(&str, &str)]) -> Response {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return page(StatusCode::BAD_REQUEST, "Unknown redirect URI", "<p>The redirect URI is not a URL.</p>");
    };
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in params {
            query.append_pair(k, v);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", issuer);
    }
    Redirect::to(url.as_str()).into_response()
}

async fn authorize(State(sandbox): State<Sandbox>, Query(q): Query<AuthorizeQuery>) -> Response {
    let settings = sandbox.settings();
    // Nothing is sent back to a redirect URI that is not registered.
    if q.client_id.as_deref() != Some(CLIENT_ID) {
        return page(StatusCode::BAD_REQUEST, "Unknown client", "<p>This client is not registered here.</p>");
    }
    let Some(redirect_uri) = q.redirect_uri.filter(|r| settings.redirect_uris.iter().any(|known| known == r)) else {
        let known = settings.redirect_uris.iter().map(|r| format!("<li><code>{}</code></li>", escape(r)));
        let body = format!(
            "<p>The redirect URI is not one registered for this client. Registered:</p><ul>{}</ul>",
            known.collect::<String>()
        );
        return page(StatusCode::BAD_REQUEST, "Unknown redirect URI", &body);
    };
    let state = q.state.as_deref();
    let fail = |description: &str| {
        back_to_client(
            &settings.issuer,
            &redirect_uri,
            state,
            &[("error", "invalid_request"), ("error_description", description)],
        )
    };
    if q.response_type.as_deref() != Some("code") {
        return back_to_client(&settings.issuer, &redirect_uri, state, &[("error", "unsupported_response_type")]);
    }
    let Some(challenge) = q.code_challenge.filter(|c| (43..=128).contains(&c.len())) else {
        return fail("PKCE is required: send a code_challenge");
    };
    if q.code_challenge_method.as_deref() != Some("S256") {
        return fail("code_challenge_method must be S256");
    }
    let scope = q.scope.unwrap_or_default();
    let request = random_token("");
    {
        let mut s = sandbox.lock();
        s.pending.retain(|_, p| p.at.elapsed() < PENDING_LIFE);
        s.pending.insert(
            request.clone(),
            Pending { redirect_uri, state: q.state, challenge, scope: scope.clone(), at: Instant::now() },
        );
    }
    let mut body = String::new();
    let _ = write!(
        body,
        "<p class=\"lede\">Patchbay asks to read your sandbox items as <strong>{USER_NAME}</strong>.</p>\
         <p>Scope: <code>{}</code></p>\
         <form method=\"post\" action=\"decision\" class=\"stack\">\
         <input type=\"hidden\" name=\"request\" value=\"{request}\">\
         <button type=\"submit\" name=\"decision\" value=\"approve\" class=\"primary\">Approve</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>",
        escape(if scope.is_empty() { "(none)" } else { &scope })
    );
    page(StatusCode::OK, "Connect to the sandbox?", &body)
}

#[derive(Debug, Deserialize)]
struct Decision {
    request: String,
    decision: String,
}

async fn decide(State(sandbox): State<Sandbox>, Form(form): Form<Decision>) -> Response {
    let issuer = sandbox.settings().issuer.clone();
    let Some(pending) = sandbox.lock().pending.remove(&form.request).filter(|p| p.at.elapsed() < PENDING_LIFE) else {
        return page(
            StatusCode::BAD_REQUEST,
            "This request has expired",
            "<p>Go back to Patchbay and start connecting again.</p>",
        );
    };
    let state = pending.state.as_deref();
    if form.decision != "approve" {
        let params = [("error", "access_denied"), ("error_description", "The user denied the request")];
        return back_to_client(&issuer, &pending.redirect_uri, state, &params);
    }
    let code = random_token("sbc_");
    sandbox.lock().codes.insert(
        code.clone(),
        Code {
            redirect_uri: pending.redirect_uri.clone(),
            challenge: pending.challenge,
            scope: pending.scope,
            at: Instant::now(),
        },
    );
    back_to_client(&issuer, &pending.redirect_uri, state, &[("code", &code)])
}

#[derive(Debug, Default, Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    /// Present only when a client sends its secret in the body, which
    /// this client is not registered to do.
    client_secret: Option<String>,
    token: Option<String>,
}

/// An OAuth error answer (RFC 6749 §5.2).
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = serde_json::json!({ "error": error, "error_description": description });
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// Client authentication: HTTP Basic only (RFC 6749 §2.3.1), as the client
/// is registered (`client_auth = "basic"`), so a client that ignores its
/// registration fails here as it would at a strict provider.
fn client_authenticated(headers: &HeaderMap, form: &TokenForm) -> bool {
    if form.client_secret.is_some() {
        return false;
    }
    let from_basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|pair| {
            let (id, secret) = pair.split_once(':')?;
            let decode =
                |s: &str| url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
            Some((decode(id)?, decode(secret)?))
        });
    from_basic.is_some_and(|(id, secret)| id == CLIENT_ID && secret == CLIENT_SECRET)
}

fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

impl Sandbox {
    /// Issues a fresh access and refresh token for a grant.
    fn issue(&self, s: &mut AuthState, grant: u64, scope: &str) -> Response {
        let life = self.inner.settings.access_token_life;
        let access = random_token("sba_");
        let refresh = random_token("sbr_");
        s.access.insert(access.clone(), (grant, Instant::now() + life));
        s.refresh.insert(refresh.clone(), (grant, true));
        let body = serde_json::json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": life.as_secs(),
            "refresh_token": refresh,
            "scope": scope,
        });
        (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
    }

    fn revoke_grant(s: &mut AuthState, grant: u64) {
        s.revoked.insert(grant);
        s.access.retain(|_, (g, _)| *g != grant);
        s.refresh.retain(|_, (g, _)| *g != grant);
    }
}

async fn token(State(sandbox): State<Sandbox>, headers: HeaderMap, Form(form): Form<TokenForm>) -> Response {
    sandbox.inner.token_requests.fetch_add(1, Ordering::SeqCst);
    if form.grant_type.as_deref() == Some("refresh_token") {
        sandbox.inner.refresh_requests.fetch_add(1, Ordering::SeqCst);
    }
    if !client_authenticated(&headers, &form) {
        let mut response = oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "client authentication failed");
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"sandbox\""));
        return response;
    }
    // Faults meet authenticated requests only, in order.
    let fault = sandbox.lock().faults.pop_front();
    let keep_refresh_token = fault == Some(Fault::NoRefreshToken);
    if let Some(fault) = fault.filter(|f| *f != Fault::NoRefreshToken) {
        return answer_fault(fault).await;
    }
    let mut s = sandbox.lock();
    match form.grant_type.as_deref() {
        Some("authorization_code") => {
            let Some(code_value) = form.code.as_deref() else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "code is missing");
            };
            let Some(code) = s.codes.remove(code_value) else {
                // A replayed code revokes what it produced (RFC 6749 §4.1.2).
                if let Some(grant) = s.redeemed.get(code_value).copied() {
                    Sandbox::revoke_grant(&mut s, grant);
                }
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "the code is unknown or used");
            };
            if code.at.elapsed() > CODE_LIFE {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "the code has expired");
            }
            if form.redirect_uri.as_deref() != Some(code.redirect_uri.as_str()) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "redirect_uri differs from the authorize request",
                );
            }
            let verified = form
                .code_verifier
                .as_deref()
                .is_some_and(|v| (43..=128).contains(&v.len()) && s256(v) == code.challenge);
            if !verified {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "PKCE verification failed");
            }
            s.next_grant += 1;
            let grant = s.next_grant;
            s.redeemed.insert(code_value.to_owned(), grant);
            sandbox.issue(&mut s, grant, &code.scope)
        }
        Some("refresh_token") => {
            let Some(presented) = form.refresh_token.as_deref() else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "refresh_token is missing");
            };
            match s.refresh.get(presented).copied() {
                Some((grant, true)) if !s.revoked.contains(&grant) && keep_refresh_token => {
                    let life = sandbox.inner.settings.access_token_life;
                    let access = random_token("sba_");
                    s.access.insert(access.clone(), (grant, Instant::now() + life));
                    let body = serde_json::json!({
                        "access_token": access, "token_type": "Bearer", "expires_in": life.as_secs(),
                    });
                    (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
                }
                Some((grant, true)) if !s.revoked.contains(&grant) => {
                    // Rotation: the presented token is used up.
                    s.refresh.insert(presented.to_owned(), (grant, false));
                    sandbox.issue(&mut s, grant, "items:read")
                }
                Some((grant, false)) => {
                    // Reuse of a rotated token: the grant may be stolen.
                    Sandbox::revoke_grant(&mut s, grant);
                    oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "the refresh token was already used")
                }
                _ => oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "the refresh token is unknown or revoked"),
            }
        }
        _ => oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "use authorization_code or refresh_token"),
    }
}

async fn answer_fault(fault: Fault) -> Response {
    match fault {
        Fault::InvalidGrant => oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "injected: the grant is dead"),
        Fault::InvalidGrantAfterASecond => {
            tokio::time::sleep(Duration::from_secs(1)).await;
            oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "injected: the token was rotated meanwhile")
        }
        Fault::InvalidClient => oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "injected: bad client"),
        Fault::ServerError => oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "injected"),
        Fault::Unavailable => {
            let mut response = oauth_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "injected");
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
        Fault::Timeout => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            oauth_error(StatusCode::GATEWAY_TIMEOUT, "temporarily_unavailable", "injected")
        }
        Fault::Malformed => (StatusCode::OK, "<html>not json</html>").into_response(),
        Fault::NoAccessToken => (StatusCode::OK, Json(serde_json::json!({ "token_type": "Bearer" }))).into_response(),
        Fault::ExpiresInNegative | Fault::ExpiresInString | Fault::ExpiresInHuge | Fault::NoRefreshToken => {
            let expires_in = match fault {
                Fault::ExpiresInNegative => serde_json::json!(-300),
                Fault::ExpiresInString => serde_json::json!("3600"),
                _ => serde_json::json!(u64::MAX),
            };
            let body = serde_json::json!({
                "access_token": random_token("sbx_"), "token_type": "Bearer",
                "expires_in": expires_in, "refresh_token": random_token("sbx_"),
            });
            (StatusCode::OK, Json(body)).into_response()
        }
    }
}

/// Revocation (RFC 7009): revokes the grant the token belongs to. Unknown
/// tokens are answered 200 as well, as the RFC asks.
async fn revoke(State(sandbox): State<Sandbox>, headers: HeaderMap, Form(form): Form<TokenForm>) -> Response {
    if !client_authenticated(&headers, &form) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "client authentication failed");
    }
    let Some(token) = form.token.as_deref() else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "token is missing");
    };
    let mut s = sandbox.lock();
    let grant = s.access.get(token).map(|(g, _)| *g).or_else(|| s.refresh.get(token).map(|(g, _)| *g));
    if let Some(grant) = grant {
        Sandbox::revoke_grant(&mut s, grant);
    }
    StatusCode::OK.into_response()
}

/// The signed-in user, wrapped the way many providers wrap it
/// (CONNECTOR-RULES 27).
/// 401 with `invalid_token`, as RFC 6750 has it.
fn invalid_token() -> Response {
    let mut response =
        (StatusCode::UNAUTHORIZED, Json(serde_json::json!({ "error": "invalid_token" }))).into_response();
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
    response
}

async fn me(State(sandbox): State<Sandbox>, headers: HeaderMap) -> Response {
    if !sandbox.token_is_valid(&headers) {
        return invalid_token();
    }
    Json(serde_json::json!({
        "user": { "id": USER_ID, "name": USER_NAME, "email": "demo@sandbox.invalid" },
        "workspace": { "id": "sandbox-workspace", "name": "Sandbox Workspace" },
    }))
    .into_response()
}

#[derive(Debug, Deserialize, Serialize)]
struct Faults {
    token: Vec<Fault>,
}

async fn list_faults(State(sandbox): State<Sandbox>) -> Json<Faults> {
    Json(Faults { token: sandbox.lock().faults.iter().copied().collect() })
}

/// Replaces the queue of faults the next token requests meet.
async fn set_faults(State(sandbox): State<Sandbox>, Json(faults): Json<Faults>) -> StatusCode {
    let mut s = sandbox.lock();
    s.faults.clear();
    s.faults.extend(faults.token);
    StatusCode::NO_CONTENT
}

async fn list_mutations(State(sandbox): State<Sandbox>) -> Json<Mutations> {
    Json(sandbox.items().mutations())
}

/// Sets the changes each listing page answered makes (`{"edits": 5,
/// "deletes": 1, "creates": 0, "privacy_flips": 0}`; all 0 stops them).
async fn set_mutations(State(sandbox): State<Sandbox>, Json(mutations): Json<Mutations>) -> StatusCode {
    sandbox.mutate_while_listing(mutations);
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamSwitch {
    #[serde(default)]
    tokens: Option<bool>,
    #[serde(default)]
    expire: bool,
}

/// `{"tokens": true}` turns stream tokens on; `{"expire": true}` expires
/// every token given so far.
async fn set_stream(State(sandbox): State<Sandbox>, Json(switch): Json<StreamSwitch>) -> StatusCode {
    if let Some(on) = switch.tokens {
        sandbox.use_stream_tokens(on);
    }
    if switch.expire {
        sandbox.expire_stream_tokens();
    }
    StatusCode::NO_CONTENT
}

/// Where an item's deep link leads: a page naming it.
/// How `POST /sandbox/items/{id}` changes an item.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemEdit {
    /// `edit`, `delete`, `private` or `public`.
    change: String,
}

/// `POST /sandbox/items/{id}` `{"change": "edit" | "delete" | "private" |
/// "public"}`: changes one item now, as a person would (its webhooks fire).
async fn edit_item(
    State(sandbox): State<Sandbox>,
    axum::extract::Path(id): axum::extract::Path<String>,
    Json(edit): Json<ItemEdit>,
) -> Response {
    let Some(n) = items::item_number(&id) else { return StatusCode::NOT_FOUND.into_response() };
    let done = match edit.change.as_str() {
        "edit" => sandbox.touch_item(n),
        "delete" => sandbox.delete_item(n),
        "private" => sandbox.set_item_private(n, true),
        "public" => sandbox.set_item_private(n, false),
        _ => return (StatusCode::UNPROCESSABLE_ENTITY, "change is edit, delete, private or public").into_response(),
    };
    if done { StatusCode::NO_CONTENT.into_response() } else { StatusCode::NOT_FOUND.into_response() }
}

async fn item_page(axum::extract::Path(id): axum::extract::Path<String>) -> Response {
    let body =
        format!("<p>This is <code>{}</code> in the sandbox. Edit it from the tests or the benchmark.</p>", escape(&id));
    page(StatusCode::OK, "Sandbox item", &body)
}

/// What the sandbox has answered: for benchmarks run against a console in
/// another process.
async fn stats(State(sandbox): State<Sandbox>) -> Json<serde_json::Value> {
    let (item_requests, rate_limited) = sandbox.item_requests();
    Json(serde_json::json!({
        "item_requests": item_requests,
        "rate_limited": rate_limited,
        "token_requests": sandbox.token_requests(),
        "first_item_request_ms": sandbox.first_item_request_ms(),
        "last_item_request_ms": sandbox.last_item_request_ms(),
    }))
}
