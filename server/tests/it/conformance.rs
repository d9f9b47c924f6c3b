//! Conformance against a real, strict third-party OAuth 2.0 server: npm
//! `oidc-provider`, with PKCE (S256) required, refresh tokens that rotate on
//! every use, reuse detection that revokes the whole grant, `iss` on every
//! authorization response, token revocation, and its own login and consent
//! pages, which these tests fill in as a person would.
//!
//! The sandbox suites (`oauth.rs`, `tokens.rs`) test the console against a
//! provider written here; these prove the same behaviour against one
//! written by others. Each test names the SECURITY item it proves.

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use crate::common::{self, pid};

use std::time::Duration;

use common::{TestApp, expire_token_soon, join_all, location, oidc::OidcPeer, stored_token};
use http::StatusCode;
use platform::{
    credentials::tokens::{self, TokenError},
    ids::TeamId,
    outbound::oauth2::StoredToken,
    store::installations::{self, State},
    testing::TestDatabase,
};
use secrecy::ExposeSecret as _;

/// The peer, as the console's catalog knows it.
const PROVIDER: &str = "oidc-peer";
/// The same peer behind a token endpoint that redirects (SECURITY A10).
const REDIRECTING: &str = "oidc-peer-redirecting";
const SITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../public");

struct Conformance {
    app: TestApp,
    peer: OidcPeer,
    _providers: tempfile::TempDir,
}

/// A loopback port for a console whose callback URLs the peer must know
/// before the console starts, held until the console is about to bind it:
/// released at once, it could be handed to the peer's own listener (which
/// binds port 0), and the console's bind then failed with "address already
/// in use".
fn reserve_port() -> (std::net::TcpListener, u16) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

/// The settings a console (or a replica of it) needs to use the peer.
fn console_settings(providers: &std::path::Path) -> Vec<(String, String)> {
    let id = |p: &str| format!("PATCHBAY_{}_CLIENT_ID", pid(p).env_name());
    let secret = |p: &str| format!("PATCHBAY_{}_CLIENT_SECRET", pid(p).env_name());
    let mut settings = vec![
        ("PATCHBAY_PROVIDERS_DIR".to_owned(), providers.display().to_string()),
        ("LEPTOS_SITE_ROOT".to_owned(), SITE.to_owned()),
    ];
    for provider in [PROVIDER, REDIRECTING] {
        settings.push((id(provider), common::oidc::CLIENT_ID.to_owned()));
        settings.push((secret(provider), common::oidc::CLIENT_SECRET.to_owned()));
    }
    settings
}

impl Conformance {
    async fn start(db: TestDatabase, access_token_seconds: u32) -> Self {
        let (reserved, port) = reserve_port();
        let callback = |provider: &str| format!("http://127.0.0.1:{port}/oauth/{provider}/callback");
        let peer = OidcPeer::start(&[callback(PROVIDER), callback(REDIRECTING)], access_token_seconds);
        let providers = tempfile::tempdir().unwrap();
        std::fs::write(providers.path().join("oidc-peer.toml"), peer.provider_file(PROVIDER, "/token")).unwrap();
        std::fs::write(
            providers.path().join("oidc-peer-redirecting.toml"),
            peer.provider_file(REDIRECTING, "/redirecting/token"),
        )
        .unwrap();
        let mut settings = console_settings(providers.path());
        settings.push(("PATCHBAY_BIND".to_owned(), format!("127.0.0.1:{port}")));
        let borrowed: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        drop(reserved);
        let app = TestApp::spawn_with(db, &borrowed).await;
        app.setup_team().await;
        Self { app, peer, _providers: providers }
    }

    async fn sqlite() -> Self {
        Self::start(TestDatabase::sqlite(), 300).await
    }

    /// Starts a connect in the admin's browser; returns the authorize URL.
    async fn start_connect(&self, provider: &str, query: &str) -> String {
        let response = self.app.browser.post_form(&format!("/oauth/{provider}/start{query}"), &[]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{}", response.text().await.unwrap());
        let to = location(&response);
        assert!(to.starts_with(&self.peer.url("/auth?")), "{to}");
        to
    }

    /// The person answers at the provider; returns the callback as a path
    /// on the console.
    async fn at_provider(&self, authorize: &str, decision: &str) -> String {
        let back = self.peer.authorize(authorize, decision, &self.app.base).await;
        back.strip_prefix(&self.app.base).unwrap().to_owned()
    }

    /// A whole connect, start to callback, in the admin's browser.
    async fn connect(&self) -> TeamId {
        let back = self.at_provider(&self.start_connect(PROVIDER, "").await, "approve").await;
        let done = self.app.get(&back).await;
        assert_eq!(location(&done), format!("/integrations/{PROVIDER}"), "{}", done.text().await.unwrap());
        self.app.admin_team().await
    }

    async fn stored(&self, team: &TeamId) -> Option<StoredToken> {
        stored_token(&self.app.platform, team, PROVIDER).await
    }

    async fn expire_soon(&self, team: &TeamId) {
        expire_token_soon(&self.app.platform, team, PROVIDER).await;
    }

    async fn state(&self, team: &TeamId) -> Option<State> {
        let mut conn = self.app.platform.db.pool().acquire().await.unwrap();
        installations::find(&mut conn, team, &pid(PROVIDER)).await.unwrap().map(|i| i.state)
    }

    async fn stop(self) {
        self.app.stop().await;
    }
}

/// A query parameter of an absolute URL or of a path.
fn param(url: &str, name: &str) -> Option<String> {
    let url = url::Url::parse("http://console.invalid").unwrap().join(url).unwrap();
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// SECURITY A3, A6, A7, A9, B2 (as far as a cookie jar goes), CONNECTOR-RULES 22, 23, 27:
/// a full code flow through oidc-provider's login and consent.
#[tokio::test]
async fn a3_a6_a7_a9_a_full_code_flow_connects_and_stores_what_the_provider_issued() {
    let c = Conformance::sqlite().await;
    let team = c.app.admin_team().await;
    let authorize = c.start_connect(PROVIDER, "").await;
    // A3: S256, a 43-character challenge, no verifier in the URL.
    assert_eq!(param(&authorize, "code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(param(&authorize, "code_challenge").unwrap().len(), 43);
    assert!(!authorize.contains("verifier"));
    // A7: the redirect URI is built from the public base URL.
    assert_eq!(param(&authorize, "redirect_uri"), Some(c.app.url(&format!("/oauth/{PROVIDER}/callback"))));

    let back = c.at_provider(&authorize, "approve").await;
    // A6: oidc-provider sends `iss` (RFC 9207), and it is accepted as its own.
    assert_eq!(param(&back, "iss"), Some(c.peer.issuer.clone()));
    let done = c.app.get(&back).await;
    // A9: a redirect to a clean URL, neither cached nor referred.
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), format!("/integrations/{PROVIDER}"));
    assert_eq!(done.headers()["cache-control"], "no-store");
    assert_eq!(done.headers()["referrer-policy"], "no-referrer");

    // A3, A7: oidc-provider checks the verifier and that the redirect URI is
    // identical before it grants; one grant means both held.
    let stats = c.peer.stats().await;
    assert_eq!((stats.token_requests, stats.code_grants), (1, 1));
    let token = c.stored(&team).await.unwrap();
    assert!(c.peer.accepts(&token.access_token).await);
    assert!(token.refresh_token.is_some(), "the refresh token was not stored");
    let left = token.expires_at.unwrap() - time::OffsetDateTime::now_utc().unix_timestamp();
    assert!((290..=300).contains(&left), "expires in {left} s, not the issued 300");
    let mut conn = c.app.platform.db.pool().acquire().await.unwrap();
    let installation = installations::find(&mut conn, &team, &pid(PROVIDER)).await.unwrap().unwrap();
    assert_eq!(installation.state, State::Connected);
    assert_eq!((installation.account_id.as_str(), installation.display_name.as_str()), ("ada", "Ada Lovelace"));
    // Rule 23: the page says what is stored.
    let page = c.app.get(&format!("/integrations/{PROVIDER}")).await.text().await.unwrap();
    assert!(page.contains("Connected as Ada Lovelace"), "{page}");
    c.stop().await;
}

/// SECURITY A1, A4: a state this session was not issued is refused before
/// any token request, although PKCE would also stop a stolen code.
#[tokio::test]
async fn a1_a4_a_foreign_or_forged_state_is_refused_although_pkce_is_on() {
    let c = Conformance::sqlite().await;
    let back = c.at_provider(&c.start_connect(PROVIDER, "").await, "approve").await;
    let other = c.app.new_browser();
    assert!(other.login(common::ADMIN_EMAIL, common::PASSWORD).await.status().is_success());
    assert_eq!(other.get(&back).await.status(), StatusCode::BAD_REQUEST, "another session completed it");
    let forged = back.replace(&param(&back, "state").unwrap(), "forged-state");
    assert_eq!(c.app.get(&forged).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(c.peer.stats().await.token_requests, 0);
    assert_eq!(c.app.get(&back).await.status(), StatusCode::SEE_OTHER, "the rightful session was refused");
    c.stop().await;
}

/// SECURITY A2: a code is used once. The console refuses a replayed
/// callback without a token request, and oidc-provider refuses a used code
/// and revokes what it granted (so a leaked code is worth nothing twice).
#[tokio::test]
async fn a2_a_code_is_exchanged_once_and_its_reuse_is_refused() {
    let c = Conformance::sqlite().await;
    let back = c.at_provider(&c.start_connect(PROVIDER, "").await, "approve").await;
    assert_eq!(c.app.get(&back).await.status(), StatusCode::SEE_OTHER);
    let replay = c.app.get(&back).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert!(replay.text().await.unwrap().contains("already used"));
    assert_eq!(c.peer.stats().await.token_requests, 1, "the replay reached the token endpoint");

    // The provider's side, with a code this test obtains for itself.
    let verifier = "conformance-verifier-0123456789-0123456789-0123456789";
    let challenge = {
        use base64::Engine as _;
        use sha2::Digest as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
    };
    let redirect_uri = c.app.url(&format!("/oauth/{PROVIDER}/callback"));
    let mut authorize = url::Url::parse(&c.peer.url("/auth")).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", common::oidc::CLIENT_ID)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("scope", "openid profile")
        .append_pair("state", "conformance-state")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let code = param(&c.peer.authorize(authorize.as_str(), "approve", &c.app.base).await, "code").unwrap();
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("code_verifier", verifier),
    ];
    let (status, first) = c.peer.token_request(&exchange).await;
    assert_eq!(status, 200, "{first}");
    let (status, again) = c.peer.token_request(&exchange).await;
    assert_eq!((status, again["error"].as_str()), (400, Some("invalid_grant")), "{again}");
    assert!(!c.peer.accepts(first["access_token"].as_str().unwrap()).await, "reuse did not revoke the grant");
    c.stop().await;
}

/// SECURITY A5: an answer delivered at another provider's callback path is refused.
#[tokio::test]
async fn a5_an_answer_at_another_providers_callback_is_refused() {
    let c = Conformance::sqlite().await;
    let back = c.at_provider(&c.start_connect(PROVIDER, "").await, "approve").await;
    let mixed = back.replace(&format!("/oauth/{PROVIDER}/"), &format!("/oauth/{REDIRECTING}/"));
    let response = c.app.get(&mixed).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("started for another provider"));
    assert_eq!(c.peer.stats().await.token_requests, 0);
    c.stop().await;
}

/// SECURITY A6: an `iss` other than the provider's is refused, and so is a
/// missing one from a provider whose issuer is known.
#[tokio::test]
async fn a6_an_answer_from_another_issuer_is_refused() {
    let c = Conformance::sqlite().await;
    let issuer: String = url::form_urlencoded::byte_serialize(c.peer.issuer.as_bytes()).collect();
    for (from, to) in
        [(issuer.clone(), "https%3A%2F%2Fevil.example".to_owned()), (format!("iss={issuer}"), String::new())]
    {
        let back = c.at_provider(&c.start_connect(PROVIDER, "").await, "approve").await;
        assert!(back.contains(&format!("iss={issuer}")), "{back}");
        let tampered = back.replace(&from, &to);
        let response = c.app.get(&tampered).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{tampered}");
        assert!(response.text().await.unwrap().contains("issuer does not match"));
    }
    assert_eq!(c.peer.stats().await.token_requests, 0);
    c.stop().await;
}

/// SECURITY A8: `return_to` is honoured only as a same-site path.
#[tokio::test]
async fn a8_return_to_falls_back_unless_it_is_a_same_site_path() {
    let c = Conformance::sqlite().await;
    let home = format!("/integrations/{PROVIDER}");
    for (asked, landed) in
        [("/team", "/team"), ("//evil.example", &*home), ("https://evil.example", &*home), ("/\\evil.example", &*home)]
    {
        let query =
            format!("?return_to={}", url::form_urlencoded::byte_serialize(asked.as_bytes()).collect::<String>());
        let back = c.at_provider(&c.start_connect(PROVIDER, &query).await, "approve").await;
        assert_eq!(location(&c.app.get(&back).await), landed, "{asked}");
        let disconnected = c.app.browser.post_form("/api/disconnect_provider", &[("provider", PROVIDER)]).await;
        assert_eq!(disconnected.status(), StatusCode::OK);
    }
    c.stop().await;
}

/// SECURITY A10: the console does not follow a token endpoint's redirect,
/// so the code and the client secret go nowhere else.
#[tokio::test]
async fn a10_a_redirecting_token_endpoint_is_not_followed() {
    let c = Conformance::sqlite().await;
    let team = c.app.admin_team().await;
    let back = c.at_provider(&c.start_connect(REDIRECTING, "").await, "approve").await;
    let response = c.app.get(&back).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let page = response.text().await.unwrap();
    assert!(page.contains("token endpoint answered with a redirect"), "{page}");
    assert_eq!(c.peer.stats().await.token_requests, 0, "the redirect was followed to the real token endpoint");
    let mut conn = c.app.platform.db.pool().acquire().await.unwrap();
    assert!(installations::find(&mut conn, &team, &pid(REDIRECTING)).await.unwrap().is_none_or(|i| !i.is_active()));
    c.stop().await;
}

/// SECURITY A11: a denial at the provider makes no token request, and the
/// provider's words are not rendered as markup.
#[tokio::test]
async fn a11_a_denial_at_the_provider_is_explained_without_a_token_request() {
    let c = Conformance::sqlite().await;
    let back = c.at_provider(&c.start_connect(PROVIDER, "").await, "deny").await;
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
    let response = c.app.get(&back).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let page = response.text().await.unwrap();
    assert!(page.contains("You cancelled at the provider"), "{page}");
    assert!(!page.contains("<b>declined</b>"), "the provider's markup was rendered");
    assert_eq!(c.peer.stats().await.token_requests, 0);
    assert_eq!(c.state(&c.app.admin_team().await).await, None);
    c.stop().await;
}

/// SECURITY E6, E3: a token oidc-provider issued for 62 seconds is
/// refreshed once less than a minute is left, while it still works, and
/// each call reads the store.
#[tokio::test]
async fn e6_a_token_is_refreshed_ahead_of_its_expiry_not_after_a_401() {
    let c = Conformance::start(TestDatabase::sqlite(), 62).await;
    let team = c.connect().await;
    let first = c.stored(&team).await.unwrap();
    let same = tokens::access_token(&c.app.platform, &team, &pid(PROVIDER)).await.unwrap();
    assert_eq!(same.expose_secret(), first.access_token);
    assert_eq!(c.peer.stats().await.refresh_grants, 0, "a token with a minute left was refreshed");

    tokio::time::sleep(Duration::from_secs(3)).await;
    let renewed = tokens::access_token(&c.app.platform, &team, &pid(PROVIDER)).await.unwrap();
    assert_ne!(renewed.expose_secret(), first.access_token);
    assert_eq!(c.peer.stats().await.refresh_grants, 1);
    assert!(c.peer.accepts(&first.access_token).await, "the old token had expired: the refresh came too late");
    assert!(c.peer.accepts(renewed.expose_secret()).await);
    c.stop().await;
}

/// SECURITY E2, CONNECTOR-RULES 24: each refresh rotates the refresh token,
/// and the new one is in the store by the time the access token is handed
/// out; the old one is dead at the provider.
#[tokio::test]
async fn e2_the_rotated_refresh_token_is_stored_before_the_new_access_token_is_used() {
    let c = Conformance::sqlite().await;
    let team = c.connect().await;
    let first = c.stored(&team).await.unwrap();
    c.expire_soon(&team).await;
    let renewed = tokens::access_token(&c.app.platform, &team, &pid(PROVIDER)).await.unwrap();
    let stored = c.stored(&team).await.unwrap();
    assert_eq!(stored.access_token, renewed.expose_secret());
    assert_ne!(stored.refresh_token, first.refresh_token, "the rotated refresh token was not stored");
    // The stored one is the live one: refreshing with it works.
    c.expire_soon(&team).await;
    assert!(tokens::access_token(&c.app.platform, &team, &pid(PROVIDER)).await.is_ok());
    let stats = c.peer.stats().await;
    assert_eq!((stats.refresh_grants, stats.refresh_errors.len()), (2, 0));
    c.stop().await;
}

/// SECURITY E4: when reuse detection at the provider has revoked the grant
/// (someone replayed an old refresh token), the refresh meets
/// `invalid_grant`; the store is read again, the connection is marked
/// "needs re-auth", no more refreshes are tried, the admin sees why, and a
/// reconnect recovers.
#[tokio::test]
async fn e4_a_grant_revoked_by_reuse_detection_needs_reauth_and_a_reconnect_recovers() {
    let c = Conformance::sqlite().await;
    let team = c.connect().await;
    let first = c.stored(&team).await.unwrap();
    c.expire_soon(&team).await;
    tokens::access_token(&c.app.platform, &team, &pid(PROVIDER)).await.unwrap();
    // An attacker (or a confused replica) replays the first refresh token.
    let old = first.refresh_token.unwrap();
    let (status, body) = c.peer.token_request(&[("grant_type", "refresh_token"), ("refresh_token", &old)]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");

    c.expire_soon(&team).await;
    let error = tokens::access_token(&c.app.platform, &team, &pid(PROVIDER)).await.unwrap_err();
    assert!(matches!(error, TokenError::NeedsReauth), "{error:?}");
    assert_eq!(c.state(&team).await, Some(State::NeedsReauth));
    assert!(matches!(tokens::access_token(&c.app.platform, &team, &pid(PROVIDER)).await, Err(TokenError::NeedsReauth)));
    assert_eq!(c.peer.stats().await.refresh_grants, 1, "a dead grant was refreshed again");
    let page = c.app.get(&format!("/integrations/{PROVIDER}")).await.text().await.unwrap();
    assert!(page.contains("Reconnect") && page.contains("no longer accepts"), "{page}");

    c.connect().await;
    assert_eq!(c.state(&team).await, Some(State::Connected));
    assert!(tokens::access_token(&c.app.platform, &team, &pid(PROVIDER)).await.is_ok());
    c.stop().await;
}

/// SECURITY D6, CONNECTOR-RULES 29: disconnect revokes at the provider
/// (RFC 7009), after which the refresh token is refused there.
#[tokio::test]
async fn d6_disconnect_revokes_and_the_refresh_token_is_then_refused() {
    let c = Conformance::sqlite().await;
    let team = c.connect().await;
    let token = c.stored(&team).await.unwrap();
    let response = c.app.browser.post_form("/api/disconnect_provider", &[("provider", PROVIDER)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let stats = c.peer.stats().await;
    assert_eq!((stats.revocations, stats.revocation_errors.len()), (1, 0), "{stats:?}");
    assert!(c.stored(&team).await.is_none());
    let refresh = token.refresh_token.unwrap();
    let (status, body) = c.peer.token_request(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    assert!(!c.peer.accepts(&token.access_token).await, "the access token outlived the revoke");
    c.stop().await;
}

/// SECURITY E1, in one process: fifty callers of an expiring token make
/// one refresh against a provider that accepts each refresh token once.
async fn e1_fifty_concurrent_callers_make_one_refresh(db: TestDatabase) {
    let c = Conformance::start(db, 300).await;
    let team = c.connect().await;
    c.expire_soon(&team).await;
    let calls = (0..50).map(|_| {
        let (platform, team) = (c.app.platform.clone(), team.clone());
        tokio::spawn(async move { tokens::access_token(&platform, &team, &pid(PROVIDER)).await })
    });
    let tokens: Vec<String> =
        join_all(calls).await.into_iter().map(|r| r.unwrap().unwrap().expose_secret().to_owned()).collect();
    let stats = c.peer.stats().await;
    assert_eq!(stats.refresh_grants, 1, "more than one refresh was made");
    assert!(stats.refresh_errors.is_empty(), "invalid_grant met: {:?}", stats.refresh_errors);
    assert!(tokens.iter().all(|t| *t == tokens[0]), "callers got different tokens");
    assert_eq!(c.stored(&team).await.unwrap().access_token, tokens[0]);
    c.stop().await;
}
platform::test_on_both_backends!(e1_one_process, e1_fifty_concurrent_callers_make_one_refresh);

/// SECURITY E1, across replicas: two console processes sharing one Postgres
/// database (and the secret store in it), twenty-five callers each, all
/// asking at the same instant for a token that is about to expire. The
/// provider accepts each refresh token once, so a second refresh would
/// meet `invalid_grant`: there must be exactly one, and every caller in
/// both processes must get its result.
#[tokio::test]
async fn e1_two_replica_processes_sharing_postgres_make_one_refresh() {
    let Some(db) = TestDatabase::postgres().await else { return };
    let database_url = match &db {
        TestDatabase::Postgres(pg) => pg.url_for_tests(),
        TestDatabase::Sqlite(_) => unreachable!("asked for Postgres"),
    };
    let c = Conformance::start(db, 300).await;
    let team = c.connect().await;
    c.expire_soon(&team).await;

    let mut settings = console_settings(c._providers.path());
    settings.extend([
        ("DATABASE_URL".to_owned(), database_url),
        ("PATCHBAY_DATA_DIR".to_owned(), c.app.data_dir().display().to_string()),
        ("PATCHBAY_BIND".to_owned(), "127.0.0.1:0".to_owned()),
    ]);
    let go_at = now_ms() + 4000;
    let replicas: Vec<_> = (0..2)
        .map(|_| {
            std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "conformance::e1_replica_process", "--ignored", "--nocapture", "--test-threads=1"])
                .env("E1_REPLICA_SETTINGS", serde_json::to_string(&settings).unwrap())
                .env("E1_REPLICA_TEAM", team.to_string())
                .env("E1_REPLICA_GO_AT", go_at.to_string())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::inherit())
                .spawn()
                .expect("a replica process starts")
        })
        .collect();
    let outputs = tokio::task::spawn_blocking(move || {
        replicas.into_iter().map(|r| r.wait_with_output().expect("the replica finishes")).collect::<Vec<_>>()
    })
    .await
    .unwrap();

    let mut digests = Vec::new();
    for output in outputs {
        assert!(output.status.success(), "a replica failed: {output:?}");
        let stdout = String::from_utf8(output.stdout).unwrap();
        let result = stdout
            .lines()
            .find_map(|l| l.split_once("E1_RESULT ").map(|(_, r)| r))
            .unwrap_or_else(|| panic!("the replica did not report: {stdout}"));
        let result: Vec<Result<String, String>> = serde_json::from_str(result).unwrap();
        assert_eq!(result.len(), 25);
        for call in result {
            digests.push(call.unwrap_or_else(|e| panic!("a caller got no token: {e}")));
        }
    }
    let stats = c.peer.stats().await;
    assert_eq!(stats.refresh_grants, 1, "the replicas made more than one refresh");
    assert!(stats.refresh_errors.is_empty(), "invalid_grant met: {:?}", stats.refresh_errors);
    let stored = c.stored(&team).await.unwrap().access_token;
    assert!(digests.iter().all(|d| *d == digest(&stored)), "a caller got another token than the stored one");
    assert_eq!(c.state(&team).await, Some(State::Connected));
    c.stop().await;
}

fn now_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap()
}

fn digest(token: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// One replica of `e1_two_replica_processes_sharing_postgres_make_one_refresh`,
/// run by it as a child process: a console built from the given settings,
/// whose twenty-five callers ask for a token at the given second. Prints
/// each caller's result (a digest of the token, never the token).
#[tokio::test]
#[ignore = "a child process of e1_two_replica_processes_sharing_postgres_make_one_refresh"]
async fn e1_replica_process() {
    let Ok(settings) = std::env::var("E1_REPLICA_SETTINGS") else { return };
    let settings: Vec<(String, String)> = serde_json::from_str(&settings).unwrap();
    let team = TeamId::parse(&std::env::var("E1_REPLICA_TEAM").unwrap()).unwrap();
    let go_at: i64 = std::env::var("E1_REPLICA_GO_AT").unwrap().parse().unwrap();
    let config = server::Config::load(settings.into_iter().collect()).unwrap();
    let app = server::Application::build(&config).await.unwrap();
    let platform = app.platform().clone();

    let wait = go_at - now_ms();
    assert!(wait > 0, "the replica started too late to meet the others");
    tokio::time::sleep(Duration::from_millis(wait.unsigned_abs())).await;
    let calls = (0..25).map(|_| {
        let (platform, team) = (platform.clone(), team.clone());
        tokio::spawn(async move { tokens::access_token(&platform, &team, &pid(PROVIDER)).await })
    });
    let results: Vec<Result<String, String>> = join_all(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap().map(|t| digest(t.expose_secret())).map_err(|e| e.to_string()))
        .collect();
    println!("E1_RESULT {}", serde_json::to_string(&results).unwrap());
}
