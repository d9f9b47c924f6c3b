//! `GET /api/sync/{provider}/events`: the provider page's sync panel, live,
//! as server-sent events. Each event's data is the panel's status as JSON
//! (`app::models::sync::SyncStatus`), sent when it changes.
//!
//! Every second the stream reads a small fingerprint of the connection and
//! its newest sync job, and rebuilds the status only when that moved, or every
//! [`REFRESH`] for the times it puts in words. The signed-in user is read
//! again each second, so a removed member stops receiving at once, and a
//! stream ends after [`LIFETIME`]: the browser's `EventSource` reconnects
//! through the session check like any request. A stream ends, too, once
//! the connection is gone, and a reconnect then gets 204 No Content, which
//! stops the browser from trying again.

use std::time::Duration;

use app::{error::AppError, ssr::SignedIn, views::sync as build};
use axum::{
    Extension,
    extract::{Path, State},
    response::{
        IntoResponse as _, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures::stream;
use http::StatusCode;
use platform::Platform;

use crate::startup::AppState;

const TICK: Duration = Duration::from_secs(1);
const REFRESH: Duration = Duration::from_secs(30);
const LIFETIME: Duration = Duration::from_secs(300);

struct Follow {
    platform: Platform,
    viewer: SignedIn,
    provider: platform::ids::ProviderId,
    sent: Option<String>,
    fingerprint: String,
    built: tokio::time::Instant,
    ends: tokio::time::Instant,
    first: Option<String>,
}

impl Follow {
    /// The next status that differs from the last one sent; `None` ends the
    /// stream (its time is up, the viewer is gone, or the connection is).
    async fn next(mut self) -> Option<(Result<Event, std::convert::Infallible>, Self)> {
        if let Some(first) = self.first.take() {
            self.sent = Some(first.clone());
            return Some((Ok(Event::default().data(first)), self));
        }
        loop {
            tokio::time::sleep(TICK).await;
            if tokio::time::Instant::now() >= self.ends {
                return None;
            }
            let user = platform::store::users::get_with_team(&self.platform.db, &self.viewer.user.id).await.ok()?;
            let (user, _) = user.filter(|(u, _)| u.team_id == self.viewer.user.team_id)?;
            self.viewer.user = user;
            let team = &self.viewer.user.team_id;
            let Ok(fingerprint) = platform::status::fingerprint(&self.platform, team, &self.provider).await else {
                continue;
            };
            if fingerprint == self.fingerprint && self.built.elapsed() < REFRESH {
                continue;
            }
            let status = match build::status(&self.platform, &self.viewer, &self.provider).await {
                Ok(status) => status,
                Err(AppError::NotFound) => return None,
                Err(_) => continue,
            };
            (self.fingerprint, self.built) = (fingerprint, tokio::time::Instant::now());
            let Ok(json) = serde_json::to_string(&status) else { continue };
            if self.sent.as_ref() != Some(&json) {
                self.sent = Some(json.clone());
                return Some((Ok(Event::default().data(json)), self));
            }
        }
    }
}

pub async fn events(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    signed_in: Option<Extension<SignedIn>>,
) -> Response {
    let Some(Extension(viewer)) = signed_in else { return StatusCode::UNAUTHORIZED.into_response() };
    // No such provider: 204, as for a connection that is gone.
    let Ok(provider) = platform::ids::ProviderId::parse(&provider) else {
        return StatusCode::NO_CONTENT.into_response();
    };
    let platform = state.platform;
    let team = viewer.user.team_id.clone();
    let fingerprint = platform::status::fingerprint(&platform, &team, &provider).await.unwrap_or_default();
    let first = match build::status(&platform, &viewer, &provider).await {
        Ok(status) => status,
        // No such connection (any more): 204 tells the browser's
        // EventSource to stop reconnecting, as the standard says.
        Err(AppError::NotFound) => return StatusCode::NO_CONTENT.into_response(),
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    let Ok(first) = serde_json::to_string(&first) else { return StatusCode::INTERNAL_SERVER_ERROR.into_response() };
    let now = tokio::time::Instant::now();
    let follow = Follow {
        platform,
        viewer,
        provider,
        sent: None,
        fingerprint,
        built: now,
        ends: now + LIFETIME,
        first: Some(first),
    };
    let events = stream::unfold(follow, Follow::next);
    ([(http::header::CACHE_CONTROL, "no-store")], Sse::new(events).keep_alive(KeepAlive::default())).into_response()
}
