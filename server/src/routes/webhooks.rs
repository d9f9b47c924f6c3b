//! `POST /webhooks/{provider}/{endpoint}`: a provider's delivery (DESIGN:
//! Webhooks). Served outside the session, CSRF and page layers: a provider
//! carries no cookie and no `Origin`, and its delivery proves itself by its
//! signature alone (`platform::webhooks::ingress`).
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
    let platform = &state.platform;
    let address = peer.ip();
    let limit = platform.webhooks.refusals_per_minute;
    if platform.webhook_limiter.blocked(address, limit) {
        return unread(&state, StatusCode::TOO_MANY_REQUESTS);
    }
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        platform.webhook_limiter.refused(address);
        return unread(&state, StatusCode::PAYLOAD_TOO_LARGE);
    }
    let Some(found) = ingress::provider(platform, &provider) else {
        platform.webhook_limiter.refused(address);
        return refused();
    };
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if !ingress::content_type_allowed(found, content_type) {
        platform.webhook_limiter.refused(address);
        return unread(&state, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
    // Read at most the cap and one byte more: a body without a length, or
    // longer than it said, is never held whole.
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => {
            platform.webhook_limiter.refused(address);
            return unread(&state, StatusCode::PAYLOAD_TOO_LARGE);
        }
    };
    let path_and_query = uri.path_and_query().map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned());
    let call = Call {
        provider: found,
        endpoint: &endpoint,
        method: method.as_str(),
        path_and_query: &path_and_query,
        headers: &headers,
        body: &body,
        received_at: time::OffsetDateTime::now_utc(),
    };
    match ingress::receive(platform, &call).await {
        Ok(Outcome::Refused) => {
            platform.webhook_limiter.refused(address);
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
        Err(error) => {
            // The provider retries a 5xx: what could not be recorded is
            // delivered again.
            tracing::error!(%error, "recording a webhook delivery failed");
            (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "5")]).into_response()
        }
    }
}
