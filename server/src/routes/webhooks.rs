//! `POST /webhooks/{provider}/{endpoint}` and, for an app's one URL,
//! `POST /webhooks/{provider}`: a provider's delivery (DESIGN: Webhooks).
//! Served outside the session, CSRF and page layers: a provider carries no
//! cookie and no `Origin`, and its delivery proves itself by its signature
//! alone (`platform::webhooks::ingress`).
//!
//! Before a byte of the body is read, an address over its refusals this
//! minute gets 429, a declared length over the cap 413, and a content type
//! the provider does not send 415 (SECURITY H4). A body that turns out
//! longer than the cap is cut off at it and refused. An unknown provider or
//! endpoint and a bad signature get one answer, byte for byte (H3).

use std::net::SocketAddr;

use axum::{
    body::Body,
    extract::{ConnectInfo, Path, State},
    http::{HeaderMap, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use platform::webhooks::ingress::{self, Answer, Call, MAX_BODY_BYTES, Outcome};

use crate::startup::AppState;

/// The one answer to every refused delivery: no body, nothing to tell one
/// reason from another.
fn refused() -> Response {
    (StatusCode::UNAUTHORIZED, [(header::CACHE_CONTROL, "no-store")]).into_response()
}

fn unread(state: &AppState, status: StatusCode) -> Response {
    state.platform.webhook_counters.refused_unread.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    (status, [(header::CACHE_CONTROL, "no-store")]).into_response()
}

/// `POST /webhooks/{provider}/{endpoint}`: a connection's own URL.
#[tracing::instrument(skip_all, fields(provider = %provider))]
pub async fn receive(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((provider, endpoint)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (found, body) = match admit(&state, peer, &provider, &headers, body).await {
        Ok(admitted) => admitted,
        Err(answer) => return answer,
    };
    let path_and_query = path_and_query(&uri);
    let call = call(found, &method, &path_and_query, &headers, &body);
    answer(&state, peer, ingress::receive(&state.platform, &endpoint, &call).await)
}

/// `POST /webhooks/{provider}`: an app's one URL (a GitHub App's), routed
/// by the payload once the app's secret verifies it.
#[tracing::instrument(skip_all, fields(provider = %provider))]
pub async fn receive_app(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(provider): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (found, body) = match admit(&state, peer, &provider, &headers, body).await {
        Ok(admitted) => admitted,
        Err(answer) => return answer,
    };
    let path_and_query = path_and_query(&uri);
    let call = call(found, &method, &path_and_query, &headers, &body);
    answer(&state, peer, ingress::receive_app(&state.platform, &call).await)
}

/// The call as it arrived, now.
fn call<'a>(
    provider: &'a platform::catalog::Provider,
    method: &'a Method,
    path_and_query: &'a str,
    headers: &'a HeaderMap,
    body: &'a [u8],
) -> Call<'a> {
    Call {
        provider,
        method: method.as_str(),
        path_and_query,
        headers,
        body,
        received_at: time::OffsetDateTime::now_utc(),
    }
}

fn path_and_query(uri: &Uri) -> String {
    uri.path_and_query().map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned())
}

/// The checks before a byte of the body is read (SECURITY H4), then the
/// body, read up to the cap: the provider and the body, or the answer.
async fn admit<'s>(
    state: &'s AppState,
    peer: SocketAddr,
    provider: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<(&'s platform::catalog::Provider, axum::body::Bytes), Response> {
    let platform = &state.platform;
    let address = peer.ip();
    let limit = platform.webhooks.refusals_per_minute;
    if platform.webhook_limiter.reached(&address, limit) {
        return Err(unread(state, StatusCode::TOO_MANY_REQUESTS));
    }
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        platform.webhook_limiter.count(address);
        return Err(unread(state, StatusCode::PAYLOAD_TOO_LARGE));
    }
    let Some(found) = ingress::provider(platform, provider) else {
        platform.webhook_limiter.count(address);
        return Err(refused());
    };
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if !ingress::content_type_allowed(found, content_type) {
        platform.webhook_limiter.count(address);
        return Err(unread(state, StatusCode::UNSUPPORTED_MEDIA_TYPE));
    }
    // Read at most the cap and one byte more: a body without a length, or
    // longer than it said, is never held whole.
    match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => Ok((found, body)),
        Err(_) => {
            platform.webhook_limiter.count(address);
            Err(unread(state, StatusCode::PAYLOAD_TOO_LARGE))
        }
    }
}

fn answer(state: &AppState, peer: SocketAddr, outcome: platform::Result<Outcome>) -> Response {
    match outcome {
        Ok(Outcome::Refused) => {
            state.platform.webhook_limiter.count(peer.ip());
            refused()
        }
        Ok(Outcome::Handshake(answer)) => match answer {
            Answer::Body { content_type, body } => {
                (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response()
            }
            Answer::Header { name, value } => (StatusCode::OK, [(name, value)]).into_response(),
            Answer::Empty => StatusCode::OK.into_response(),
        },
        Ok(Outcome::Accepted { duplicate, .. }) => {
            tracing::debug!(duplicate, "webhook delivery accepted");
            StatusCode::ACCEPTED.into_response()
        }
        Ok(Outcome::Unrouted) => {
            tracing::debug!("webhook delivery for no connection here");
            StatusCode::ACCEPTED.into_response()
        }
        Err(error) => {
            // The provider retries a 5xx: what could not be recorded is
            // delivered again.
            tracing::error!(%error, "recording a webhook delivery failed");
            (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "5")]).into_response()
        }
    }
}
