//! The sandbox's OAuth rules, over HTTP: what a strict provider does, so
//! that tests of Patchbay's OAuth client against it mean something.

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use std::time::Duration;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use sandbox::{CLIENT_ID, CLIENT_SECRET, Fault, Sandbox, Settings};
use sha2::{Digest as _, Sha256};

struct Running {
    base: String,
    sandbox: Sandbox,
    http: reqwest::Client,
}

const VERIFIER: &str = "a-verifier-of-forty-three-characters-or-more-0123456789";

async fn start(access_token_life: Duration) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let sandbox = Sandbox::new(Settings {
        issuer: format!("{base}/sandbox"),
        redirect_uris: vec![format!("{base}/oauth/sandbox/callback")],
        access_token_life,
        items: sandbox::ItemSettings::default(),
        hooks: sandbox::HookSettings::default(),
    });
    let app = axum::Router::new().nest("/sandbox", sandbox.router());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    Running { base, sandbox, http }
}

impl Running {
    fn redirect_uri(&self) -> String {
        format!("{}/oauth/sandbox/callback", self.base)
    }

    fn authorize_url(&self, challenge: Option<&str>) -> String {
        let mut url = url::Url::parse(&format!("{}/sandbox/oauth/authorize", self.base)).unwrap();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", CLIENT_ID)
            .append_pair("redirect_uri", &self.redirect_uri())
            .append_pair("state", "st-123")
            .append_pair("scope", "items:read");
        if let Some(challenge) = challenge {
            url.query_pairs_mut().append_pair("code_challenge", challenge).append_pair("code_challenge_method", "S256");
        }
        url.to_string()
    }

    /// Opens the authorize page and presses a button; returns the redirect.
    async fn decide(&self, decision: &str) -> url::Url {
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()));
        let page = self.http.get(self.authorize_url(Some(&challenge))).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        let request = html.split("name=\"request\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
        let response = self
            .http
            .post(format!("{}/sandbox/oauth/decision", self.base))
            .form(&[("request", request.as_str()), ("decision", decision)])
            .send()
            .await
            .unwrap();
        assert!(response.status().is_redirection());
        url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap()
    }

    async fn token(&self, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
        let response = self
            .http
            .post(format!("{}/sandbox/oauth/token", self.base))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }

    async fn exchange(&self, code: &str) -> (u16, serde_json::Value) {
        let redirect_uri = self.redirect_uri();
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &redirect_uri),
            ("code_verifier", VERIFIER),
        ])
        .await
    }

    async fn me(&self, access_token: &str) -> u16 {
        let response =
            self.http.get(format!("{}/sandbox/api/me", self.base)).bearer_auth(access_token).send().await.unwrap();
        response.status().as_u16()
    }
}

fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn approve_returns_a_code_with_state_and_iss_that_exchanges_once_with_pkce() {
    let s = start(Duration::from_secs(300)).await;
    let back = s.decide("approve").await;
    assert!(back.as_str().starts_with(&s.redirect_uri()));
    assert_eq!(param(&back, "state").as_deref(), Some("st-123"));
    assert_eq!(param(&back, "iss"), Some(format!("{}/sandbox", s.base)));
    let code = param(&back, "code").unwrap();

    let (status, tokens) = s.exchange(&code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 300);
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(s.me(access).await, 200);

    // A replayed code is refused, and what it produced is revoked.
    let (status, error) = s.exchange(&code).await;
    assert_eq!((status, error["error"].as_str()), (400, Some("invalid_grant")));
    assert_eq!(s.me(access).await, 401);
}

#[tokio::test]
async fn pkce_is_required_and_checked() {
    let s = start(Duration::from_secs(300)).await;
    let without = s.http.get(s.authorize_url(None)).send().await.unwrap();
    let back = url::Url::parse(without.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(param(&back, "error").as_deref(), Some("invalid_request"));
    assert_eq!(param(&back, "state").as_deref(), Some("st-123"));

    let code = param(&s.decide("approve").await, "code").unwrap();
    let redirect_uri = s.redirect_uri();
    let wrong = "another-verifier-of-forty-three-characters-000000000";
    let (status, error) = s
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect_uri),
            ("code_verifier", wrong),
        ])
        .await;
    assert_eq!((status, error["error"].as_str()), (400, Some("invalid_grant")));
}

#[tokio::test]
async fn deny_and_unknown_redirect_uris_are_handled_as_a_provider_would() {
    let s = start(Duration::from_secs(300)).await;
    let back = s.decide("deny").await;
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&back, "code"), None);

    // Never redirect to a URI that is not registered: a page says so.
    let evil = s.authorize_url(Some("x".repeat(43).as_str())).replace("callback", "evil");
    let response = s.http.get(evil).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_grant() {
    let s = start(Duration::from_secs(300)).await;
    let code = param(&s.decide("approve").await, "code").unwrap();
    let (_, first) = s.exchange(&code).await;
    let old = first["refresh_token"].as_str().unwrap().to_owned();

    let (status, second) = s.token(&[("grant_type", "refresh_token"), ("refresh_token", &old)]).await;
    assert_eq!(status, 200);
    let new_refresh = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(new_refresh, old);
    let access = second["access_token"].as_str().unwrap().to_owned();
    assert_eq!(s.me(&access).await, 200);

    let (status, error) = s.token(&[("grant_type", "refresh_token"), ("refresh_token", &old)]).await;
    assert_eq!((status, error["error"].as_str()), (400, Some("invalid_grant")));
    // Reuse detection kills the whole grant, the new tokens included.
    assert_eq!(s.me(&access).await, 401);
    let (status, _) = s.token(&[("grant_type", "refresh_token"), ("refresh_token", &new_refresh)]).await;
    assert_eq!(status, 400);
    assert_eq!(s.sandbox.refresh_requests(), 3);
}

#[tokio::test]
async fn access_tokens_expire_and_revocation_ends_the_grant() {
    let s = start(Duration::from_secs(1)).await;
    let code = param(&s.decide("approve").await, "code").unwrap();
    let (_, tokens) = s.exchange(&code).await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(s.me(access).await, 401, "an expired access token still works");

    let revoked = s
        .http
        .post(format!("{}/sandbox/oauth/revoke", s.base))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("token", refresh)])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let (status, error) = s.token(&[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    assert_eq!((status, error["error"].as_str()), (400, Some("invalid_grant")));
}

#[tokio::test]
async fn client_authentication_is_checked_and_faults_are_served_in_order() {
    let s = start(Duration::from_secs(300)).await;
    let response = s
        .http
        .post(format!("{}/sandbox/oauth/token", s.base))
        .basic_auth(CLIENT_ID, Some("wrong"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    s.sandbox.inject_faults([Fault::Unavailable, Fault::Malformed]);
    let response = s
        .http
        .post(format!("{}/sandbox/oauth/token", s.base))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!((response.status().as_u16(), response.headers()["retry-after"].to_str().unwrap()), (503, "1"));
    let (status, body) = s.token(&[("grant_type", "refresh_token"), ("refresh_token", "x")]).await;
    assert_eq!((status, body), (200, serde_json::Value::Null));
    // Faults can also be set over HTTP, as the README documents.
    let set = s
        .http
        .post(format!("{}/sandbox/faults", s.base))
        .json(&serde_json::json!({ "token": ["invalid_grant"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 204);
    let (status, body) = s.token(&[("grant_type", "refresh_token"), ("refresh_token", "x")]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
}
