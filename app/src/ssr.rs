//! Glue between the server's request pipeline and the rendered app.

use leptos::prelude::*;

/// The per-request CSP nonce. The server's security-headers middleware puts
/// it in the request's extensions and names it in the
/// `Content-Security-Policy` header; the shell stamps it on the inline
/// hydration scripts so that they, and only they, may run.
#[derive(Clone, Debug)]
pub struct CspNonce(pub String);

/// Makes the request's nonce the one Leptos writes on its script tags.
pub fn provide_request_nonce() {
    let nonce = use_context::<http::request::Parts>().and_then(|parts| parts.extensions.get::<CspNonce>().cloned());
    if let Some(CspNonce(value)) = nonce {
        provide_context(leptos::nonce::Nonce::from_value(value));
    }
}

/// Sets the HTTP status of the response being rendered.
pub fn set_status(status: http::StatusCode) {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(status);
    }
}

/// Runs a server function's body and gives its error the matching HTTP
/// status (server functions otherwise answer every error with 500).
///
/// A form posted by a browser without JavaScript (it accepts HTML) is left
/// alone: it gets a redirect back to its page carrying the error, which the
/// page then shows.
pub async fn with_status<T>(
    body: impl Future<Output = Result<T, crate::error::AppError>>,
) -> Result<T, crate::error::AppError> {
    let result = body.await;
    if let Err(error) = &result {
        let plain_form = use_context::<http::request::Parts>()
            .and_then(|parts| parts.headers.get(http::header::ACCEPT).cloned())
            .is_some_and(|accept| accept.to_str().is_ok_and(|a| a.contains("text/html")));
        if !plain_form {
            set_status(http::StatusCode::from_u16(error.status()).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR));
        }
    }
    result
}

/// The prologue of a server function for any signed-in member of a team:
/// reads the viewer and the platform from the request, runs `body`, and
/// answers its error with the matching status ([`with_status`]).
pub async fn member<T, F, Fut>(body: F) -> Result<T, crate::error::AppError>
where
    F: FnOnce(SignedIn, platform::Platform) -> Fut,
    Fut: Future<Output = Result<T, crate::error::AppError>>,
{
    signed_in_as(require_user, body).await
}

/// The same, for admins only (SECURITY C4): a member is answered 403
/// before `body` runs.
pub async fn admin<T, F, Fut>(body: F) -> Result<T, crate::error::AppError>
where
    F: FnOnce(SignedIn, platform::Platform) -> Fut,
    Fut: Future<Output = Result<T, crate::error::AppError>>,
{
    signed_in_as(require_admin, body).await
}

async fn signed_in_as<T, F, Fut>(
    viewer: fn() -> Result<SignedIn, crate::error::AppError>,
    body: F,
) -> Result<T, crate::error::AppError>
where
    F: FnOnce(SignedIn, platform::Platform) -> Fut,
    Fut: Future<Output = Result<T, crate::error::AppError>>,
{
    with_status(async move {
        let viewer = viewer()?;
        body(viewer, platform()?).await
    })
    .await
}

/// The signed-in user of this request, put in the request's extensions by
/// the server's session middleware after re-reading the user (SECURITY C1:
/// the team always comes from here, never from the request).
#[derive(Clone, Debug)]
pub struct SignedIn {
    pub user: platform::store::users::User,
    pub team_name: String,
}

/// The client's address, for sign-in throttling.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub std::net::IpAddr);

/// The public base URL, for links shown to users (invites).
#[derive(Clone, Debug)]
pub struct PublicBase(pub String);

fn extension<T: Clone + Send + Sync + 'static>() -> Option<T> {
    use_context::<http::request::Parts>().and_then(|parts| parts.extensions.get::<T>().cloned())
}

pub fn platform() -> Result<platform::Platform, crate::error::AppError> {
    use_context::<platform::Platform>().ok_or(crate::error::AppError::Internal)
}

pub fn signed_in() -> Option<SignedIn> {
    extension::<SignedIn>()
}

pub fn require_user() -> Result<SignedIn, crate::error::AppError> {
    signed_in().ok_or(crate::error::AppError::Unauthorized)
}

/// Admins only (SECURITY C4).
pub fn require_admin() -> Result<SignedIn, crate::error::AppError> {
    let viewer = require_user()?;
    if viewer.user.role == platform::accounts::Role::Admin {
        Ok(viewer)
    } else {
        Err(crate::error::AppError::Forbidden)
    }
}

pub fn session() -> Result<tower_sessions::Session, crate::error::AppError> {
    extension::<tower_sessions::Session>().ok_or(crate::error::AppError::Internal)
}

pub fn client_addr() -> std::net::IpAddr {
    extension::<ClientAddr>().map_or(std::net::IpAddr::from([0, 0, 0, 0]), |a| a.0)
}

pub fn public_base() -> String {
    use_context::<PublicBase>().map(|b| b.0).unwrap_or_default()
}

/// Starts a signed-in session for `user` under a new session ID, so an ID
/// planted before sign-in is worthless afterwards (SECURITY B3).
pub async fn start_session(user: &platform::store::users::User) -> Result<(), crate::error::AppError> {
    let session = session()?;
    let failed = |e: tower_sessions::session::Error| {
        tracing::error!(error = %e, "session store failed");
        crate::error::AppError::Internal
    };
    session.cycle_id().await.map_err(failed)?;
    session
        .insert(platform::store::sessions::AUTH_KEY, platform::store::sessions::SessionAuth::new(user.id.clone()))
        .await
        .map_err(failed)?;
    Ok(())
}

/// A path inside this site to go to after sign-in; anything else (other
/// hosts, scheme-relative `//x`, backslash tricks) becomes the default page.
pub fn safe_return_path(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control)
                && !path.starts_with("/login") =>
        {
            path.to_owned()
        }
        _ => "/integrations".to_owned(),
    }
}

pub fn format_time(at: time::OffsetDateTime) -> String {
    use time::macros::format_description;
    at.format(format_description!("[year]-[month]-[day] [hour]:[minute] UTC")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::safe_return_path;

    #[test]
    fn return_paths_stay_on_this_site() {
        assert_eq!(safe_return_path(Some("/team?x=1")), "/team?x=1");
        for hostile in ["//evil.example", "https://evil.example", "/\\evil.example", "evil", "", "/login"] {
            assert_eq!(safe_return_path(Some(hostile)), "/integrations", "{hostile}");
        }
        assert_eq!(safe_return_path(None), "/integrations");
    }
}
