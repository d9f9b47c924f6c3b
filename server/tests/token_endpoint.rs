//! The token-endpoint error matrix: every way a provider's token endpoint
//! can fail, answered by wiremock, first for the code exchange of a connect
//! and then for a refresh. Each case checks what is stored and what the
//! admin sees (SECURITY A11 spirit, E4, E5, G2; CONNECTOR-RULES 22, 24, 25).
//! Then the revoke endpoint's failures at disconnect, retried later (D6).

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

mod common;

use std::time::Duration;

use common::{TestApp, location};
use platform::{
    accounts::TeamId,
    installations::{self, State},
    oauth::{StoredToken, TOKEN_KEY},
    secrets::SecretPath,
    testing::TestDatabase,
    tokens::{self, TokenError},
};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_string_contains, header, method, path},
};

const PROVIDER: &str = "acme-oauth";
const SITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../public");

struct Matrix {
    app: TestApp,
    provider: MockServer,
    team: TeamId,
    _providers: tempfile::TempDir,
}

fn provider_file(base: &str) -> String {
    format!(
        r#"id = "{PROVIDER}"
name = "Acme OAuth"
category = "support"
description = "A test fixture: an OAuth provider answered by wiremock."
docs_url = "https://docs.acme.example/oauth"
logo = "sandbox.svg"
availability = "available"
sources = ["https://docs.acme.example/oauth"]
entities = ["ticket"]

[auth]
kind = "oauth2"
authorize_url = "{base}/authorize"
token_url = "{base}/token"
revoke_url = "{base}/revoke"
scopes = ["read"]
pkce = "required"
client_auth = "basic"
token_life = "short_lived"
refresh_token_rotates = true

[auth.user_info]
url = "{base}/me"
headers = {{ Authorization = "Bearer {{access_token}}" }}
account_id = "/id"
display_name = "/name"

[api]
base_url = "{base}"
allowed_hosts = ["127.0.0.1"]
pagination = "cursor"
"#
    )
}

fn token(access: &str, refresh: Option<&str>) -> serde_json::Value {
    let mut body = json!({ "access_token": access, "token_type": "Bearer", "expires_in": 3600 });
    if let Some(refresh) = refresh {
        body["refresh_token"] = json!(refresh);
    }
    body
}

impl Matrix {
    async fn start() -> Self {
        let provider = MockServer::start().await;
        let providers = tempfile::tempdir().unwrap();
        std::fs::write(providers.path().join("acme-oauth.toml"), provider_file(&provider.uri())).unwrap();
        let dir = providers.path().display().to_string();
        let app = TestApp::spawn_with(
            TestDatabase::sqlite(),
            &[
                ("PATCHBAY_PROVIDERS_DIR", &dir),
                ("LEPTOS_SITE_ROOT", SITE),
                ("PATCHBAY_PROVIDER_TIMEOUT", "1"),
                ("PATCHBAY_ACME_OAUTH_CLIENT_ID", "acme-client"),
                ("PATCHBAY_ACME_OAUTH_CLIENT_SECRET", "acme-secret"),
            ],
        )
        .await;
        app.setup_team().await;
        let team = app.admin_team().await;
        Self { app, provider, team, _providers: providers }
    }

    /// Resets the provider to one that knows the person, and whose token
    /// endpoint answers `grant` requests with `answer`.
    async fn answer(&self, grant: &str, answer: ResponseTemplate) {
        self.provider.reset().await;
        Mock::given(method("GET"))
            .and(path("/me"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": "u-7", "name": "Grace Hopper" })))
            .mount(&self.provider)
            .await;
        Mock::given(method("POST"))
            .and(path("/token"))
            .and(header("authorization", "Basic YWNtZS1jbGllbnQ6YWNtZS1zZWNyZXQ="))
            .and(body_string_contains(format!("grant_type={grant}")))
            .respond_with(answer)
            .mount(&self.provider)
            .await;
    }

    async fn token_requests(&self) -> usize {
        let requests = self.provider.received_requests().await.unwrap_or_default();
        requests.iter().filter(|r| r.url.path() == "/token").count()
    }

    /// Starts a connect and comes back with a code, as the provider would
    /// send the browser; returns the console's answer.
    async fn callback(&self) -> reqwest::Response {
        let started = self.app.get(&format!("/oauth/{PROVIDER}/start")).await;
        let authorize = url::Url::parse(&location(&started)).unwrap();
        let state = authorize.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
        self.app.get(&format!("/oauth/{PROVIDER}/callback?code=the-code&state={state}")).await
    }

    fn path(&self) -> SecretPath {
        SecretPath::of(&self.team, &[PROVIDER, TOKEN_KEY]).unwrap()
    }

    async fn stored(&self) -> Option<StoredToken> {
        let secret = self.app.platform.secrets.get_fresh(&self.path()).await.unwrap()?;
        Some(serde_json::from_str(secret.value.expose_secret()).unwrap())
    }

    async fn state(&self) -> Option<State> {
        let mut conn = self.app.platform.db.pool().acquire().await.unwrap();
        let found = installations::find(&mut conn, &self.team, PROVIDER).await.unwrap();
        found.filter(|i| i.is_active()).map(|i| i.state)
    }

    async fn page(&self) -> String {
        self.app.get(&format!("/integrations/{PROVIDER}")).await.text().await.unwrap()
    }

    /// Makes the stored token due for a refresh.
    async fn expire_soon(&self) {
        let mut token = self.stored().await.unwrap();
        token.expires_at = Some(time::OffsetDateTime::now_utc().unix_timestamp() + 5);
        let json = SecretString::from(serde_json::to_string(&token).unwrap());
        self.app.platform.secrets.put(&self.path(), &json).await.unwrap();
    }

    async fn refresh(&self) -> Result<String, TokenError> {
        tokens::access_token(&self.app.platform, &self.team, PROVIDER).await.map(|t| t.expose_secret().to_owned())
    }
}

fn json_answer(status: u16, body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

/// The failing answers both halves of the matrix share.
fn failures() -> Vec<(&'static str, ResponseTemplate)> {
    vec![
        ("400 invalid_grant", json_answer(400, json!({ "error": "invalid_grant" }))),
        ("401 invalid_client", json_answer(401, json!({ "error": "invalid_client" }))),
        ("500", ResponseTemplate::new(500).set_body_string("upstream exploded")),
        ("503 with Retry-After", ResponseTemplate::new(503).insert_header("retry-after", "120")),
        ("timeout", json_answer(200, token("late", Some("late-refresh"))).set_delay(Duration::from_secs(3))),
        (
            "malformed JSON",
            ResponseTemplate::new(200).insert_header("content-type", "application/json").set_body_string("{\"access_"),
        ),
        ("missing access_token", json_answer(200, json!({ "token_type": "Bearer", "expires_in": 3600 }))),
        (
            "negative expires_in",
            json_answer(200, json!({ "access_token": "a", "token_type": "Bearer", "expires_in": -300 })),
        ),
        (
            "string expires_in",
            json_answer(200, json!({ "access_token": "a", "token_type": "Bearer", "expires_in": "3600" })),
        ),
    ]
}

/// The code exchange: each failure has its own page, with its status, and
/// nothing is stored, no installation is left (CONNECTOR-RULES 22).
#[tokio::test]
async fn a_failed_code_exchange_explains_itself_and_leaves_nothing() {
    let m = Matrix::start().await;
    let down = "did not answer in time, or had a problem";
    let unusable = "not a usable token";
    let expected = [
        (400, "refused to finish the connect (invalid_grant)"),
        (400, "Check the client id and secret in Settings"),
        (502, down),
        (502, down),
        (502, down),
        (502, unusable),
        (502, unusable),
        (502, unusable),
        (502, unusable),
    ];
    for ((case, answer), (status, words)) in failures().into_iter().zip(expected) {
        m.answer("authorization_code", answer).await;
        let response = m.callback().await;
        assert_eq!(response.status().as_u16(), status, "{case}");
        assert_eq!(response.headers()["cache-control"], "no-store", "{case}");
        let page = response.text().await.unwrap();
        assert!(page.contains(words), "{case}: {page}");
        assert!(!page.contains("upstream exploded"), "{case}: the provider's body was shown");
        assert_eq!(m.token_requests().await, 1, "{case}: the code was sent more than once");
        assert!(m.stored().await.is_none(), "{case}: a token was stored");
        assert_eq!(m.state().await, None, "{case}: an installation was left");
        assert!(m.page().await.contains("Connect with Acme OAuth"), "{case}: the page is not back to Connect");
    }
    m.app.stop().await;
}

/// The code exchange's odd but usable answers: no refresh token is stored
/// as none (the connection then lasts as long as its access token), and a
/// huge lifetime is clamped rather than overflowed.
#[tokio::test]
async fn a_code_exchange_without_a_refresh_token_or_with_a_huge_lifetime_connects() {
    let m = Matrix::start().await;
    m.answer("authorization_code", json_answer(200, token("only-access", None))).await;
    assert_eq!(location(&m.callback().await), format!("/integrations/{PROVIDER}"));
    let stored = m.stored().await.unwrap();
    assert_eq!((stored.access_token.as_str(), stored.refresh_token.as_deref()), ("only-access", None));
    assert!(m.page().await.contains("Connected as Grace Hopper"));
    m.app.browser.post_form("/api/disconnect_provider", &[("provider", PROVIDER)]).await;

    let huge =
        json!({ "access_token": "forever", "refresh_token": "r", "token_type": "Bearer", "expires_in": u64::MAX });
    m.answer("authorization_code", json_answer(200, huge)).await;
    assert_eq!(location(&m.callback().await), format!("/integrations/{PROVIDER}"));
    let expires_at = m.stored().await.unwrap().expires_at.unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(expires_at > now && expires_at <= now + 10 * 366 * 86_400, "{expires_at}");
    m.app.stop().await;
}

/// Refresh: only `invalid_grant` marks the connection "needs re-auth" (and
/// the page says so); every other failure keeps the stored token and the
/// connection as they were (SECURITY E4, E5, G2; CONNECTOR-RULES 25).
#[tokio::test]
async fn a_failed_refresh_keeps_the_token_and_only_invalid_grant_needs_reauth() {
    let m = Matrix::start().await;
    m.answer("authorization_code", json_answer(200, token("at-1", Some("rt-1")))).await;
    assert_eq!(location(&m.callback().await), format!("/integrations/{PROVIDER}"));

    for (case, answer) in failures() {
        m.answer("refresh_token", answer).await;
        m.expire_soon().await;
        let before = m.stored().await.unwrap();
        let error = m.refresh().await.unwrap_err();
        let after = m.stored().await.unwrap();
        assert_eq!(after.refresh_token, before.refresh_token, "{case}: the refresh token changed");
        assert_eq!(after.access_token, before.access_token, "{case}: the access token changed");
        let page = m.page().await;
        if case == "400 invalid_grant" {
            assert!(matches!(error, TokenError::NeedsReauth), "{case}: {error:?}");
            assert_eq!(m.state().await, Some(State::NeedsReauth));
            assert!(page.contains("no longer accepts") && page.contains("Reconnect"), "{case}: {page}");
            // Reconnect, for the next case.
            m.answer("authorization_code", json_answer(200, token("at-1", Some("rt-1")))).await;
            assert_eq!(location(&m.callback().await), format!("/integrations/{PROVIDER}"));
            continue;
        }
        assert!(matches!(error, TokenError::Unavailable), "{case}: {error:?}");
        assert_eq!(m.state().await, Some(State::Connected), "{case}: a passing failure broke the connection");
        assert!(page.contains("Connected as Grace Hopper") && !page.contains("no longer accepts"), "{case}");
        // 5xx and 429 are retried; a timeout is not (the provider may have
        // rotated the token), nor a long Retry-After, nor an answer that is
        // no token at all.
        let tries = if case == "500" { 3 } else { 1 };
        assert_eq!(m.token_requests().await, tries, "{case}");
    }

    // Retried and then served: a short Retry-After is waited out.
    m.answer("refresh_token", json_answer(200, token("at-2", Some("rt-2")))).await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&m.provider)
        .await;
    m.expire_soon().await;
    let started = std::time::Instant::now();
    assert_eq!(m.refresh().await.unwrap(), "at-2");
    assert!(started.elapsed() >= Duration::from_secs(1), "the Retry-After was not waited out");
    assert_eq!(m.token_requests().await, 2);

    // No refresh token in the answer: the old one is kept (E2, rule 24).
    m.answer("refresh_token", json_answer(200, token("at-3", None))).await;
    m.expire_soon().await;
    assert_eq!(m.refresh().await.unwrap(), "at-3");
    assert_eq!(m.stored().await.unwrap().refresh_token.as_deref(), Some("rt-2"));
    m.app.stop().await;
}

async fn audit_actions(m: &Matrix) -> Vec<(String, String)> {
    sqlx::query_as("SELECT action, detail FROM audit_events WHERE team_id = $1 ORDER BY seq")
        .bind(m.team.as_str())
        .fetch_all(m.app.platform.db.pool())
        .await
        .unwrap()
}

async fn pending(m: &Matrix) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT id, attempts FROM revocations WHERE team_id = $1")
        .bind(m.team.as_str())
        .fetch_all(m.app.platform.db.pool())
        .await
        .unwrap()
}

/// Makes every pending revocation due now.
async fn make_due(m: &Matrix) {
    sqlx::query("UPDATE revocations SET next_attempt_at = 0").execute(m.app.platform.db.pool()).await.unwrap();
}

async fn revoke_answers(m: &Matrix, answer: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path("/revoke"))
        .and(header("authorization", "Basic YWNtZS1jbGllbnQ6YWNtZS1zZWNyZXQ="))
        .and(body_string_contains("token=rt-1"))
        .respond_with(answer)
        .mount(&m.provider)
        .await;
}

/// SECURITY D6: a revoke that fails for a passing reason does not hold up
/// the wipe; the token waits apart and is revoked in the background, and
/// the audit log tells the story.
#[tokio::test]
async fn d6_a_revoke_that_fails_for_now_is_retried_later_and_does_not_block_the_wipe() {
    let m = Matrix::start().await;
    m.answer("authorization_code", json_answer(200, token("at-1", Some("rt-1")))).await;
    assert_eq!(location(&m.callback().await), format!("/integrations/{PROVIDER}"));
    revoke_answers(&m, ResponseTemplate::new(503)).await;

    let response = m.app.browser.post_form("/api/disconnect_provider", &[("provider", PROVIDER)]).await;
    assert_eq!(response.status(), 200);
    let said = response.text().await.unwrap();
    assert!(said.contains("Acme OAuth answered HTTP 503") && said.contains("keeps asking in the background"), "{said}");
    assert!(m.stored().await.is_none(), "the wipe waited for the revoke");
    assert_eq!(m.state().await, None);
    assert_eq!(pending(&m).await.len(), 1);
    // Not due yet: nothing is sent.
    let requests = m.provider.received_requests().await.unwrap().len();
    assert_eq!(platform::revocations::run_due(&m.app.platform).await.unwrap(), Default::default());
    assert_eq!(m.provider.received_requests().await.unwrap().len(), requests);

    // Still failing: tried again (by one of two workers at once), kept,
    // with its attempt counted.
    make_due(&m).await;
    let (a, b) =
        tokio::join!(platform::revocations::run_due(&m.app.platform), platform::revocations::run_due(&m.app.platform));
    assert_eq!(a.unwrap().retrying + b.unwrap().retrying, 1, "two workers sent the same revoke");
    assert_eq!(m.provider.received_requests().await.unwrap().len(), requests + 1);
    assert_eq!(pending(&m).await[0].1, 2);

    // The provider is back: revoked, and nothing of the token is left.
    m.provider.reset().await;
    revoke_answers(&m, ResponseTemplate::new(200)).await;
    make_due(&m).await;
    let pass = platform::revocations::run_due(&m.app.platform).await.unwrap();
    assert_eq!(pass.revoked, 1);
    assert!(pending(&m).await.is_empty());
    let left = m.app.platform.secrets.list(&SecretPath::team(&m.team)).await.unwrap();
    assert!(left.is_empty(), "a token was left in the store: {} entries", left.len());
    let actions: Vec<String> = audit_actions(&m).await.into_iter().map(|(a, _)| a).collect();
    assert_eq!(actions[actions.len() - 3..], ["revocation.pending", "installation.disconnected", "revocation.done"]);
    m.app.stop().await;
}

/// SECURITY D6: a revoke refused for good is not retried, and one that
/// keeps failing is given up after the last attempt, telling the admin to
/// revoke at the provider; neither leaves the token behind.
#[tokio::test]
async fn d6_a_refused_revoke_is_not_retried_and_a_failing_one_is_given_up_in_the_end() {
    let m = Matrix::start().await;
    m.answer("authorization_code", json_answer(200, token("at-1", Some("rt-1")))).await;
    assert_eq!(location(&m.callback().await), format!("/integrations/{PROVIDER}"));
    revoke_answers(&m, json_answer(400, json!({ "error": "unsupported_token_type" }))).await;
    m.app.browser.post_form("/api/disconnect_provider", &[("provider", PROVIDER)]).await;
    assert!(pending(&m).await.is_empty(), "a refused revoke was scheduled again");

    m.answer("authorization_code", json_answer(200, token("at-1", Some("rt-1")))).await;
    assert_eq!(location(&m.callback().await), format!("/integrations/{PROVIDER}"));
    revoke_answers(&m, ResponseTemplate::new(500)).await;
    m.app.browser.post_form("/api/disconnect_provider", &[("provider", PROVIDER)]).await;
    sqlx::query("UPDATE revocations SET attempts = $1")
        .bind(platform::revocations::MAX_ATTEMPTS - 1)
        .execute(m.app.platform.db.pool())
        .await
        .unwrap();
    make_due(&m).await;
    let pass = platform::revocations::run_due(&m.app.platform).await.unwrap();
    assert_eq!(pass.given_up, 1);
    assert!(pending(&m).await.is_empty());
    assert!(m.app.platform.secrets.list(&SecretPath::team(&m.team)).await.unwrap().is_empty());
    let (action, detail) = audit_actions(&m).await.pop().unwrap();
    assert_eq!(action, "revocation.abandoned");
    assert!(detail.contains("revoke Patchbay's access in the provider's own settings"), "{detail}");
    m.app.stop().await;
}
