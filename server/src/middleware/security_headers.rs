//! Security headers on every response (SECURITY D5), and the per-request CSP
//! nonce that lets Leptos's inline hydration script run and nothing else.

use std::sync::Arc;

use app::ssr::CspNonce;
use axum::{
    extract::{Request, State},
    middleware::Next,
    response::Response,
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use http::{HeaderName, HeaderValue, header};
use rand::RngCore as _;

/// What varies between deployments.
#[derive(Clone, Debug)]
pub struct SecurityHeaders {
    /// Send HSTS: only when the console is served over HTTPS.
    pub hsts: bool,
    /// `cargo leptos watch` reloads the page through a websocket on this port.
    pub reload_port: Option<u16>,
}

impl SecurityHeaders {
    fn content_security_policy(&self, nonce: &str) -> String {
        let connect = match self.reload_port {
            Some(port) => format!("'self' ws://127.0.0.1:{port} ws://localhost:{port}"),
            None => "'self'".to_owned(),
        };
        // 'wasm-unsafe-eval' allows compiling the app's WASM, not JS eval.
        format!(
            "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
             style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src {connect}; \
             object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
        )
    }
}

fn new_nonce() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub async fn security_headers(State(cfg): State<Arc<SecurityHeaders>>, mut request: Request, next: Next) -> Response {
    let nonce = new_nonce();
    request.extensions_mut().insert(CspNonce(nonce.clone()));
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let mut set_default = |name: HeaderName, value: &str| {
        if !headers.contains_key(&name)
            && let Ok(value) = HeaderValue::from_str(value)
        {
            headers.insert(name, value);
        }
    };
    set_default(header::CONTENT_SECURITY_POLICY, &cfg.content_security_policy(&nonce));
    set_default(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    // `same-origin`, not `no-referrer`: with `no-referrer` browsers send
    // `Origin: null` on form posts, which cross-site checks must then refuse.
    set_default(header::REFERRER_POLICY, "same-origin");
    set_default(header::X_FRAME_OPTIONS, "DENY");
    set_default(HeaderName::from_static("cross-origin-opener-policy"), "same-origin");
    set_default(HeaderName::from_static("cross-origin-resource-policy"), "same-origin");
    set_default(
        HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    );
    if cfg.hsts {
        set_default(header::STRICT_TRANSPORT_SECURITY, "max-age=31536000; includeSubDomains");
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_128_bits_and_fresh() {
        let a = new_nonce();
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 16);
        assert_ne!(a, new_nonce());
    }

    #[test]
    fn the_policy_allows_only_nonced_scripts_and_no_plugins_or_framing() {
        let policy = SecurityHeaders { hsts: false, reload_port: None }.content_security_policy("abc");
        assert!(policy.contains("script-src 'self' 'nonce-abc' 'wasm-unsafe-eval';"));
        assert!(!policy.contains("unsafe-inline"));
        for directive in ["object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"] {
            assert!(policy.contains(directive), "{policy}");
        }
    }
}
