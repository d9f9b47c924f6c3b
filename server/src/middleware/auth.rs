//! Resolves the signed-in user of each request from its session, enforces
//! the absolute and idle timeouts, and sends signed-out visitors of console
//! pages to sign-in (or to first-run set-up while no team exists).

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use app::ssr::{ClientAddr, SignedIn};
use axum::{
    extract::{ConnectInfo, Request, State},
    middleware::Next,
    response::{IntoResponse as _, Redirect, Response},
};
use http::Method;
use platform::{
    Platform,
    store::sessions::{AUTH_KEY, SessionAuth},
};
use time::OffsetDateTime;
use tower_sessions::Session;

#[derive(Debug)]
pub struct AuthState {
    pub platform: Platform,
    pub idle_timeout: Duration,
    pub absolute_timeout: Duration,
    /// Set once a team exists; teams are never all deleted, so it stays set.
    pub set_up: AtomicBool,
}

/// Paths that need no session at all: assets, operations, and the
/// sandbox demo provider (another site, as far as the console goes).
fn needs_no_session(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics" | "/favicon.svg" | "/logo.svg")
        || path.starts_with("/pkg/")
        || path.starts_with("/sandbox/")
}

/// Pages a signed-out visitor may see.
fn is_public_page(path: &str) -> bool {
    matches!(path, "/login" | "/setup") || path.starts_with("/invite/")
}

async fn resolve(state: &AuthState, session: &Session) -> Option<SignedIn> {
    let mut auth: SessionAuth = session.get(AUTH_KEY).await.ok().flatten()?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let absolute = i64::try_from(state.absolute_timeout.as_secs()).unwrap_or(i64::MAX);
    let found = if now - auth.signed_in_at >= absolute {
        tracing::info!("session reached its absolute timeout");
        None
    } else {
        match platform::store::users::get_with_team(&state.platform.db, &auth.user_id).await {
            Ok(found) => found,
            Err(error) => {
                // A passing database failure must not sign anyone out: this
                // request goes on signed out, and the session stays.
                tracing::warn!(%error, "could not read the signed-in user");
                return None;
            }
        }
    };
    let Some((user, team_name)) = found else {
        // Timed out, or the user was removed: the session ends here.
        let _ = session.flush().await;
        return None;
    };
    // Saving the session pushes its idle expiry forward; do it at most every
    // tenth of the idle timeout rather than on every request.
    let refresh_every = i64::try_from((state.idle_timeout / 10).as_secs()).unwrap_or(i64::MAX).max(1);
    if now - auth.seen_at >= refresh_every {
        auth.seen_at = now;
        let _ = session.insert(AUTH_KEY, auth).await;
    }
    Some(SignedIn { user, team_name })
}

async fn set_up(state: &AuthState) -> bool {
    if state.set_up.load(Ordering::Relaxed) {
        return true;
    }
    let exists = platform::store::teams::any_exists(&state.platform.db).await.unwrap_or(false);
    state.set_up.store(exists, Ordering::Relaxed);
    exists
}

pub async fn authenticate(
    State(state): State<Arc<AuthState>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    session: Session,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    if needs_no_session(&path) {
        return next.run(request).await;
    }
    let signed_in = resolve(&state, &session).await;
    // The OAuth endpoints answer a signed-out visitor themselves: a callback
    // must never be bounced to sign-in with its code in the `next` URL.
    let is_page = matches!(*request.method(), Method::GET | Method::HEAD)
        && !path.starts_with("/api/")
        && !path.starts_with("/oauth/");

    if is_page {
        if path != "/setup" && !set_up(&state).await {
            return Redirect::to("/setup").into_response();
        }
        if signed_in.is_some() && matches!(path.as_str(), "/login" | "/setup") {
            return Redirect::to("/integrations").into_response();
        }
        if signed_in.is_none() && !is_public_page(&path) {
            let next = request.uri().path_and_query().map_or("/", |p| p.as_str()).to_owned();
            let query = url::form_urlencoded::Serializer::new(String::new()).append_pair("next", &next).finish();
            return Redirect::to(&format!("/login?{query}")).into_response();
        }
    }

    request.extensions_mut().insert(ClientAddr(peer.ip()));
    if let Some(signed_in) = signed_in {
        request.extensions_mut().insert(signed_in);
    }
    next.run(request).await
}
