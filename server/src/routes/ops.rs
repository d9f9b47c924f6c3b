//! Operations endpoints: liveness, readiness and metrics. They answer without
//! a session and carry no secrets, so they never include raw error text.

use std::time::Duration;

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use platform::Readiness;
use serde_json::json;

use crate::startup::AppState;

const NO_STORE: (header::HeaderName, &str) = (header::CACHE_CONTROL, "no-store");

/// The process is up and serving. Says nothing about dependencies.
pub async fn healthz() -> Response {
    ([NO_STORE], Json(json!({ "status": "alive", "version": env!("CARGO_PKG_VERSION") }))).into_response()
}

/// The database answers and carries every migration this binary knows, and
/// the secret store answers.
#[tracing::instrument(skip_all)]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let (readiness, secrets) = tokio::join!(
        tokio::time::timeout(Duration::from_secs(3), state.platform.db.readiness()),
        tokio::time::timeout(Duration::from_secs(3), state.platform.secrets.check()),
    );
    let secrets = match secrets {
        Ok(Ok(_)) => json!({ "status": "ok", "backend": state.platform.secrets.backend() }),
        Ok(Err(error)) => {
            tracing::warn!(%error, "not ready: secret store");
            json!({ "status": "unreachable", "backend": state.platform.secrets.backend() })
        }
        Err(_elapsed) => {
            tracing::warn!("not ready: the secret store did not answer within 3 s");
            json!({ "status": "timeout", "backend": state.platform.secrets.backend() })
        }
    };
    let (status, database, migrations) = match readiness {
        Ok(Readiness::Ready) => (StatusCode::OK, json!({ "status": "ok" }), json!({ "status": "ok" })),
        Ok(Readiness::MigrationsPending { missing }) => {
            tracing::warn!(?missing, "not ready: migrations are not applied");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "status": "ok" }),
                json!({ "status": "pending", "missing": missing }),
            )
        }
        Ok(Readiness::Unreachable(error)) => {
            tracing::warn!(%error, "not ready: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, json!({ "status": "unreachable" }), json!({ "status": "unknown" }))
        }
        Err(_elapsed) => {
            tracing::warn!("not ready: database did not answer within 3 s");
            (StatusCode::SERVICE_UNAVAILABLE, json!({ "status": "timeout" }), json!({ "status": "unknown" }))
        }
    };
    let status = if secrets["status"] == "ok" { status } else { StatusCode::SERVICE_UNAVAILABLE };
    let overall = if status == StatusCode::OK { "ready" } else { "not_ready" };
    let body =
        json!({ "status": overall, "checks": { "database": database, "migrations": migrations, "secrets": secrets } });
    (status, [NO_STORE], Json(body)).into_response()
}

/// Prometheus text exposition format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let (open, idle) = state.platform.db.connections();
    let idle = i64::try_from(idle).unwrap_or(i64::MAX);
    let total = i64::from(open);
    state.metrics.db_connections.with_label_values(&["idle"]).set(idle);
    state.metrics.db_connections.with_label_values(&["in_use"]).set(total - idle);
    let counters = &state.platform.webhook_counters;
    for (outcome, counter) in [
        ("accepted", &counters.accepted),
        ("duplicate", &counters.duplicates),
        ("refused", &counters.refused),
        ("refused_unread", &counters.refused_unread),
    ] {
        let count = i64::try_from(counter.load(std::sync::atomic::Ordering::Relaxed)).unwrap_or(i64::MAX);
        state.metrics.webhooks.with_label_values(&[outcome]).set(count);
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8"), NO_STORE], state.metrics.render())
        .into_response()
}
