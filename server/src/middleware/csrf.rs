//! Refuses cross-site state changes (SECURITY B5). Every request that can
//! change state (anything but GET, HEAD and OPTIONS, which change nothing
//! here) must come from this site: browsers say where a request comes from
//! in `Sec-Fetch-Site` and `Origin`, and a page on another site cannot
//! forge either. Clients that send neither are not browsers, so carry no
//! ambient cookies to abuse.

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse as _, Response},
};
use http::{Method, StatusCode, header};

use crate::config::PublicUrl;

#[derive(Clone, Debug)]
pub struct CsrfGuard {
    pub public_url: PublicUrl,
}

impl CsrfGuard {
    fn allows(&self, request: &Request) -> bool {
        let headers = request.headers();
        if let Some(site) = headers.get("sec-fetch-site") {
            // `none` is a user-initiated navigation (address bar, bookmark).
            if !matches!(site.as_bytes(), b"same-origin" | b"none") {
                return false;
            }
        }
        let Some(origin) = headers.get(header::ORIGIN) else { return true };
        let Ok(origin) = origin.to_str() else { return false };
        if origin == self.public_url.as_str() {
            return true;
        }
        // Also this server as the browser addressed it (e.g. localhost
        // beside a 127.0.0.1 public URL): the Origin's authority is the Host.
        let authority = origin.split_once("://").map(|(_, rest)| rest);
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h))
    }
}

pub async fn refuse_cross_site(
    State(guard): State<std::sync::Arc<CsrfGuard>>,
    request: Request,
    next: Next,
) -> Response {
    let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && !guard.allows(&request) {
        tracing::warn!(method = %request.method(), path = request.uri().path(), "cross-site request refused");
        return (StatusCode::FORBIDDEN, "Cross-site request refused.").into_response();
    }
    next.run(request).await
}
