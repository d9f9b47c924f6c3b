//! `POST /oauth/{provider}/start` (with `GET` showing the button that
//! posts it) and `GET /oauth/{provider}/callback`.
//!
//! Both answer in plain server-rendered HTML or redirects: the callback is
//! reached by a provider's redirect, and must work and fail clearly with or
//! without the app's JavaScript. Neither lets the browser cache or pass on
//! its URL (SECURITY A9): the callback's query holds a code and a state.

use app::ssr::SignedIn;
use axum::{
    Extension,
    extract::{Path, Query, RawQuery, State},
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
};
use platform::{
    accounts::Role,
    connect::oauth::{Callback, Failure},
};
use serde::Deserialize;
use tower_sessions::Session;

use crate::startup::AppState;

/// Forbids caching and referrers on an answer (SECURITY A9).
fn private(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// A page of its own: what happened, and a way back.
fn page(status: u16, title: &str, message: &str, back: &str) -> Response {
    let body = format!("<p role=\"alert\">{}</p>", escape(message));
    framed(status, title, &body, back)
}

/// `body` (already escaped HTML) in the console's plain page frame.
fn framed(status: u16, title: &str, body: &str, back: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Patchbay</title><link rel=\"icon\" href=\"/favicon.svg\" type=\"image/svg+xml\"><link rel=\"stylesheet\" href=\"/pkg/patchbay.css\"></head>\
         <body class=\"auth-page\"><main class=\"auth-card\"><p class=\"brand\">Patchbay</p>\
         <h1>{title}</h1>{body}<p><a href=\"{back}\">Back to the integration</a></p>\
         </main></body></html>",
        title = escape(title),
        back = escape(back),
    );
    private((StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), Html(html)).into_response())
}

/// This session's id, saving the session first if it has none yet.
async fn session_id(session: &Session) -> Option<String> {
    if session.id().is_none() {
        session.save().await.ok()?;
    }
    session.id().map(|id| id.to_string())
}

fn provider_page(provider: &str) -> String {
    if platform::ids::ProviderId::parse(provider).is_ok() {
        format!("/integrations/{provider}")
    } else {
        "/integrations".to_owned()
    }
}

#[derive(Debug, Deserialize)]
pub struct StartQuery {
    return_to: Option<String>,
}

/// `GET /oauth/{provider}/start` changes nothing (SECURITY B5): a link,
/// a bookmark or the sign-in page's `next` lands on a page whose button
/// posts the start. A GET that started a connect could be sent by any
/// other site: with a provider that approves an app it knows without
/// asking, the admin's browser would come back connected, or reconnected
/// as another account (which clears the synced records), without the
/// admin ever choosing to.
#[tracing::instrument(skip_all, fields(provider = %provider))]
pub async fn confirm(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    signed_in: Option<Extension<SignedIn>>,
    Query(query): Query<StartQuery>,
) -> Response {
    let back = provider_page(&provider);
    let Some(Extension(signed_in)) = signed_in else { return to_sign_in(&back) };
    let found = platform::ids::ProviderId::parse(&provider).ok().and_then(|id| state.platform.catalog.get(&id));
    let Some(found) = found else {
        return no_such_integration();
    };
    if signed_in.user.role != Role::Admin {
        return page(403, "Only admins can connect", "Ask an admin of your team to connect this integration.", &back);
    }
    let mut action = format!("/oauth/{}/start", found.id);
    if let Some(return_to) = &query.return_to {
        let encoded = url::form_urlencoded::Serializer::new(String::new()).append_pair("return_to", return_to).finish();
        action = format!("{action}?{encoded}");
    }
    let body = format!(
        "<p>You will approve access at {name}, then come back here.</p>\
         <form method=\"post\" action=\"{action}\"><button class=\"button primary\" type=\"submit\">\
         Continue to {name}</button></form>",
        name = escape(&found.name),
        action = escape(&action),
    );
    framed(200, &format!("Connect {}", found.name), &body, &back)
}

fn no_such_integration() -> Response {
    page(404, "No such integration", "There is no integration at this address.", "/integrations")
}

fn to_sign_in(back: &str) -> Response {
    let next = url::form_urlencoded::Serializer::new(String::new()).append_pair("next", back).finish();
    Redirect::to(&format!("/login?{next}")).into_response()
}

/// `POST /oauth/{provider}/start`, from this site only (the cross-site
/// guard answers any other): records a connect and sends the admin to
/// the provider.
#[tracing::instrument(skip_all, fields(provider = %provider))]
pub async fn start(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    signed_in: Option<Extension<SignedIn>>,
    session: Session,
    Query(query): Query<StartQuery>,
) -> Response {
    let back = provider_page(&provider);
    let Some(Extension(signed_in)) = signed_in else { return to_sign_in(&back) };
    if signed_in.user.role != Role::Admin {
        return page(403, "Only admins can connect", "Ask an admin of your team to connect this integration.", &back);
    }
    let Some(session_id) = session_id(&session).await else {
        return page(500, "The session could not be saved", "Try again in a moment.", &back);
    };
    // SECURITY A8: only a path on this site; anything else goes to the provider page.
    let return_to = match query.return_to.as_deref() {
        Some(path) => {
            let safe = app::ssr::safe_return_path(Some(path));
            if safe == path { safe } else { back.clone() }
        }
        None => back.clone(),
    };
    let Ok(provider) = platform::ids::ProviderId::parse(&provider) else {
        return no_such_integration();
    };
    let redirect_uri = format!("{}/oauth/{provider}/callback", state.public_url);
    match platform::connect::oauth::start(
        &state.platform,
        &signed_in.user,
        &session_id,
        &provider,
        &redirect_uri,
        &return_to,
    )
    .await
    {
        Ok(url) => private(Redirect::to(url.as_str()).into_response()),
        Err(platform::Error::NotFound) => no_such_integration(),
        Err(platform::Error::Refused(message)) => page(400, "This integration cannot be connected", &message, &back),
        Err(error) => {
            tracing::error!(%error, "starting an OAuth connect failed");
            page(500, "Something went wrong", "It has been logged; try again in a moment.", &back)
        }
    }
}

/// Completes a connect, or says in plain words why it did not.
#[tracing::instrument(skip_all, fields(provider = %provider))]
pub async fn callback(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    signed_in: Option<Extension<SignedIn>>,
    session: Session,
    RawQuery(query): RawQuery,
) -> Response {
    let back = provider_page(&provider);
    let provider = platform::ids::ProviderId::parse(&provider);
    let found = provider.as_ref().ok().and_then(|id| state.platform.catalog.get(id));
    let name = found.map_or_else(|| "The provider".to_owned(), |p| p.name.clone());
    let fail = |failure: Failure| {
        tracing::info!(?failure, "an OAuth connect did not complete");
        page(failure.status(), failure.title(), &failure.explain(&name), &back)
    };
    let callback = match Callback::parse(query.as_deref().unwrap_or_default()) {
        Ok(callback) => callback,
        Err(failure) => return fail(failure),
    };
    let (Some(Extension(signed_in)), Some(session_id)) = (signed_in, session.id().map(|id| id.to_string())) else {
        return page(
            400,
            "Your session ended",
            "You were signed out before the provider sent you back, so nothing was connected. Sign in, then start again.",
            "/login",
        );
    };
    let Ok(provider) = provider else {
        return fail(Failure::NotAvailable("There is no integration at this address.".to_owned()));
    };
    match platform::connect::oauth::finish(&state.platform, &signed_in.user, &session_id, &provider, callback).await {
        // Rule 23: the page it lands on shows what is stored, not a flag in the URL.
        Ok(finished) => private(Redirect::to(&finished.return_to).into_response()),
        Err(failure) => fail(failure),
    }
}
