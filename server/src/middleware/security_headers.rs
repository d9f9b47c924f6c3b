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
    /// Where a form may lead besides `'self'`: the console's public origin
    /// (a page served under another name, such as the sandbox's, posts
    /// back to it) and the catalog's OAuth authorize pages, because the
    /// connect button posts to this console, which redirects there, and
    /// browsers hold a form's redirects to `form-action` too (SECURITY B5).
    /// The directive's sources, made once by [`SecurityHeaders::form_action`].
    pub form_action: String,
}

impl SecurityHeaders {
    /// The public origin, then the authorize origins of every OAuth
    /// provider in `catalog`, sorted, each once.
    pub fn form_origins(catalog: &platform::catalog::Catalog, public_url: &crate::config::PublicUrl) -> Vec<String> {
        let public = url::Url::parse(public_url.as_str()).map(|u| u.origin().ascii_serialization()).ok();
        let authorize: std::collections::BTreeSet<String> = catalog
            .iter()
            .filter_map(|provider| match &provider.auth {
                platform::catalog::Auth::Oauth2(oauth) => url::Url::parse(&oauth.authorize_url).ok(),
                _ => None,
            })
            .map(|url| url.origin().ascii_serialization())
            .filter(|origin| origin != "null" && Some(origin) != public.as_ref())
            .collect();
        public.into_iter().chain(authorize).collect()
    }

    /// The sources of `form-action`: `'self'`, then `origins`.
    pub fn form_action(origins: &[String]) -> String {
        std::iter::once("'self'").chain(origins.iter().map(String::as_str)).collect::<Vec<_>>().join(" ")
    }

    fn content_security_policy(&self, nonce: &str) -> String {
        let connect = match self.reload_port {
            Some(port) => format!("'self' ws://127.0.0.1:{port} ws://localhost:{port}"),
            None => "'self'".to_owned(),
        };
        let form = &self.form_action;
        // 'wasm-unsafe-eval' allows compiling the app's WASM, not JS eval.
        format!(
            "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
             style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src {connect}; \
             object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action {form}"
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
        let policy = SecurityHeaders { hsts: false, reload_port: None, form_action: SecurityHeaders::form_action(&[]) }
            .content_security_policy("abc");
        assert!(policy.contains("script-src 'self' 'nonce-abc' 'wasm-unsafe-eval';"));
        assert!(policy.ends_with("form-action 'self'"), "{policy}");
        assert!(!policy.contains("unsafe-inline"));
        for directive in ["object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"] {
            assert!(policy.contains(directive), "{policy}");
        }
    }

    #[test]
    fn forms_may_lead_only_here_and_to_the_catalogs_authorize_pages() {
        let site = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../public"));
        let catalog = platform::catalog::Catalog::load(None, &site.join(platform::catalog::LOGO_DIR)).unwrap();
        let public: crate::config::PublicUrl = "https://patchbay.example.com".parse().unwrap();
        let origins = SecurityHeaders::form_origins(&catalog, &public);
        assert_eq!(origins[0], "https://patchbay.example.com");
        assert!(origins.contains(&"https://linear.app".to_owned()), "{origins:?}");
        assert!(origins.iter().all(|o| o.starts_with("https://")), "{origins:?}");
        let form_action = SecurityHeaders::form_action(&origins);
        let policy = SecurityHeaders { hsts: true, reload_port: None, form_action }.content_security_policy("abc");
        assert!(policy.contains("form-action 'self' https://patchbay.example.com https://"), "{policy}");
    }
}
