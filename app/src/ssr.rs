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
