//! The token-endpoint error matrix: every way a provider's token endpoint
//! can fail, answered by wiremock, first for the code exchange of a connect
//! and then for a refresh. Each case checks what is stored and what the
//! admin sees (SECURITY A11 spirit, E4, E5, G2; CONNECTOR-RULES 22, 24, 25).
//! Then the revoke endpoint's failures at disconnect, retried later (D6).

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use crate::common::{self, pid};

use std::time::Duration;

use common::{TestApp, expire_token_soon, location, stored_token};
use platform::{
    credentials::tokens::{self, TokenError},
    ids::TeamId,
    outbound::oauth2::StoredToken,
    secrets::SecretPath,
    store::installations::{self, State},
    testing::TestDatabase,
};
use secrecy::ExposeSecret as _;
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
        Self::start_with(true).await
    }

    /// `env_app`: whether the environment configures the OAuth app.
    async fn start_with(env_app: bool) -> Self {
        Self::start_from(env_app, provider_file).await
    }

    /// The same, with the provider file `file` writes for the fake's address.
    async fn start_from(env_app: bool, file: impl Fn(&str) -> String) -> Self {
        let provider = MockServer::start().await;
        let providers = tempfile::tempdir().unwrap();
        std::fs::write(providers.path().join("acme-oauth.toml"), file(&provider.uri())).unwrap();
        let dir = providers.path().display().to_string();
        let mut settings = vec![
            ("PATCHBAY_PROVIDERS_DIR", dir.as_str()),
            ("LEPTOS_SITE_ROOT", SITE),
            ("PATCHBAY_PROVIDER_TIMEOUT", "1"),
        ];
        if env_app {
            settings.extend([
                ("PATCHBAY_ACME_OAUTH_CLIENT_ID", "acme-client"),
                ("PATCHBAY_ACME_OAUTH_CLIENT_SECRET", "acme-secret"),
            ]);
        }
        let app = TestApp::spawn_with(TestDatabase::sqlite(), &settings).await;
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
        let started = self.app.browser.post_form(&format!("/oauth/{PROVIDER}/start"), &[]).await;
        let authorize = url::Url::parse(&location(&started)).unwrap();
        let state = authorize.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
        self.app.get(&format!("/oauth/{PROVIDER}/callback?code=the-code&state={state}")).await
    }

    async fn stored(&self) -> Option<StoredToken> {
        stored_token(&self.app.platform, &self.team, PROVIDER).await
    }

    async fn state(&self) -> Option<State> {
        let mut conn = self.app.platform.db.pool().acquire().await.unwrap();
        let found = installations::find(&mut conn, &self.team, &pid(PROVIDER)).await.unwrap();
        found.filter(|i| i.is_active()).map(|i| i.state)
    }

    async fn page(&self) -> String {
        self.app.get(&format!("/integrations/{PROVIDER}")).await.text().await.unwrap()
    }

    async fn expire_soon(&self) {
        expire_token_soon(&self.app.platform, &self.team, PROVIDER).await;
    }

    async fn refresh(&self) -> Result<String, TokenError> {
        tokens::access_token(&self.app.platform, &self.team, &pid(PROVIDER)).await.map(|t| t.expose_secret().to_owned())
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

/// The revoke jobs still to run, with the times a worker took each.
async fn pending(m: &Matrix) -> Vec<(String, i64)> {
    sqlx::query_as(
        "SELECT id, attempts FROM jobs WHERE team_id = $1 AND kind = 'revoke_retry' \
         AND state IN ('queued', 'running', 'interrupted')",
    )
    .bind(m.team.as_str())
    .fetch_all(m.app.platform.db.pool())
    .await
    .unwrap()
}

/// Makes every pending revocation due now.
async fn make_due(m: &Matrix) {
    sqlx::query("UPDATE jobs SET run_after = 0").execute(m.app.platform.db.pool()).await.unwrap();
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
    assert!(
        said.contains("Acme OAuth: the provider had a problem (HTTP 503)")
            && said.contains("keeps asking in the background"),
        "{said}"
    );
    assert!(m.stored().await.is_none(), "the wipe waited for the revoke");
    assert_eq!(m.state().await, None);
    assert_eq!(pending(&m).await.len(), 1);
    // Not due yet: nothing is sent.
    let requests = m.provider.received_requests().await.unwrap().len();
    assert_eq!(platform::jobs::revoke_retry::run_due(&m.app.platform).await.unwrap(), Default::default());
    assert_eq!(m.provider.received_requests().await.unwrap().len(), requests);

    // Still failing: tried again (by one of two workers at once), kept,
    // with its attempt counted.
    make_due(&m).await;
    let (a, b) = tokio::join!(
        platform::jobs::revoke_retry::run_due(&m.app.platform),
        platform::jobs::revoke_retry::run_due(&m.app.platform)
    );
    assert_eq!(a.unwrap().retrying + b.unwrap().retrying, 1, "two workers sent the same revoke");
    assert_eq!(m.provider.received_requests().await.unwrap().len(), requests + 1);
    assert_eq!(pending(&m).await[0].1, 1);

    // The provider is back: revoked, and nothing of the token is left.
    m.provider.reset().await;
    revoke_answers(&m, ResponseTemplate::new(200)).await;
    make_due(&m).await;
    let pass = platform::jobs::revoke_retry::run_due(&m.app.platform).await.unwrap();
    assert_eq!(pass.revoked, 1);
    assert!(pending(&m).await.is_empty());
    let left = m.app.platform.secrets.list(&SecretPath::team(&m.team)).await.unwrap();
    assert!(left.is_empty(), "a token was left in the store: {} entries", left.len());
    let actions: Vec<String> = audit_actions(&m).await.into_iter().map(|(a, _)| a).collect();
    assert_eq!(actions[actions.len() - 3..], ["revocation.pending", "installation.disconnected", "revocation.done"]);
    m.app.stop().await;
}

/// SECURITY D6, and the one job registry: `patchbay worker` alone, with no
/// console serving, takes the `revoke_retry` job a disconnect left behind
/// when the provider failed for a moment, and revokes the token. Before
/// the registry, the worker ran only sync jobs and a worker-only
/// deployment never retried a revoke.
#[tokio::test]
async fn d6_patchbay_worker_alone_retries_a_revoke_that_failed_for_a_moment() {
    let m = Matrix::start().await;
    m.answer("authorization_code", json_answer(200, token("at-1", Some("rt-1")))).await;
    assert_eq!(location(&m.callback().await), format!("/integrations/{PROVIDER}"));
    revoke_answers(&m, ResponseTemplate::new(503)).await;
    m.app.browser.post_form("/api/disconnect_provider", &[("provider", PROVIDER)]).await;
    assert_eq!(pending(&m).await.len(), 1, "the failed revoke was not kept for later");

    m.provider.reset().await;
    revoke_answers(&m, ResponseTemplate::new(200)).await;
    make_due(&m).await;
    let providers = m._providers.path().display().to_string();
    let data_dir = m.app.data_dir().display().to_string();
    let database = m.app.db.url_for_child();
    let mut worker = common::patchbay(&[
        ("DATABASE_URL", &database),
        ("PATCHBAY_DATA_DIR", &data_dir),
        ("PATCHBAY_PROVIDERS_DIR", &providers),
        ("PATCHBAY_ACME_OAUTH_CLIENT_ID", "acme-client"),
        ("PATCHBAY_ACME_OAUTH_CLIENT_SECRET", "acme-secret"),
        ("PATCHBAY_PROVIDER_TIMEOUT", "5"),
        ("LEPTOS_SITE_ROOT", SITE),
    ])
    .arg("worker")
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    // Done means the job ended *and* its audit line is written: the
    // handler ends the job, deletes the token, then audits, in that order.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !(pending(&m).await.is_empty()
        && audit_actions(&m).await.iter().any(|(action, _)| action.starts_with("revocation.")))
        && std::time::Instant::now() < deadline
    {
        if worker.try_wait().unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = worker.kill();
    let said = worker.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&said.stderr);

    assert!(pending(&m).await.is_empty(), "the worker did not run the revoke_retry job within a minute:\n{said}");
    let revokes = m.provider.received_requests().await.unwrap().into_iter().filter(|r| r.url.path() == "/revoke");
    assert_eq!(revokes.count(), 1, "the worker did not send the revoke once");
    let (action, detail) = audit_actions(&m).await.pop().unwrap();
    assert_eq!(action, "revocation.done", "{detail}");
    assert!(m.app.platform.secrets.list(&SecretPath::team(&m.team)).await.unwrap().is_empty());
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
    // Every attempt but the last is spent.
    sqlx::query("UPDATE jobs SET attempts = max_attempts - 1").execute(m.app.platform.db.pool()).await.unwrap();
    make_due(&m).await;
    let pass = platform::jobs::revoke_retry::run_due(&m.app.platform).await.unwrap();
    assert_eq!(pass.given_up, 1);
    assert!(pending(&m).await.is_empty());
    assert!(m.app.platform.secrets.list(&SecretPath::team(&m.team)).await.unwrap().is_empty());
    let (action, detail) = audit_actions(&m).await.pop().unwrap();
    assert_eq!(action, "revocation.abandoned");
    assert!(detail.contains("revoke Patchbay's access in the provider's own settings"), "{detail}");
    m.app.leave_jobs("the revoke given up is what this test checks");
    m.app.stop().await;
}

fn basic(client_id: &str, secret: &str) -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}")))
}

const TEAM_SECRET: &str = "team-app-secret-canary-7f3c9a";

async fn save_app(browser: &common::Browser, client_id: &str, secret: &str) -> reqwest::Response {
    browser
        .post_form(
            "/api/save_oauth_app",
            &[("provider", PROVIDER), ("client_id", client_id), ("client_secret", secret)],
        )
        .await
}

/// Answers token requests made with these client credentials only.
async fn token_endpoint_for(m: &Matrix, client_id: &str, secret: &str, access: &str) {
    m.provider.reset().await;
    Mock::given(method("GET"))
        .and(path("/me"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": "u-7", "name": "Grace Hopper" })))
        .mount(&m.provider)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(header("authorization", basic(client_id, secret).as_str()))
        .respond_with(json_answer(200, token(access, Some("rt-1"))))
        .mount(&m.provider)
        .await;
}

/// An OAuth app an admin saves under Settings is what connects, refreshes
/// and revokes; its secret sits in the secret store only, is never sent
/// back, and removing it leaves the provider unconfigured again.
#[tokio::test]
async fn an_app_saved_in_settings_is_used_to_connect_refresh_and_revoke() {
    let m = Matrix::start_with(false).await;
    let note = || async {
        let cards: Vec<app::models::integration::IntegrationCard> =
            m.app.browser.post_form("/api/integrations", &[]).await.json().await.unwrap();
        cards.into_iter().find(|c| c.id == PROVIDER).unwrap().note
    };
    assert_eq!(note().await.as_deref(), Some("OAuth app not configured"));
    let refused = m.app.browser.post_form(&format!("/oauth/{PROVIDER}/start"), &[]).await;
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await.unwrap().contains("Settings → OAuth apps"));

    let saved = save_app(&m.app.browser, "team-client", TEAM_SECRET).await;
    assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());
    let listed = m.app.browser.post_form("/api/oauth_apps", &[]).await.text().await.unwrap();
    assert!(listed.contains("team-client") && listed.contains("\"team\""), "{listed}");
    assert!(!listed.contains(TEAM_SECRET), "the client secret was sent back");
    let settings = m.app.get("/settings").await.text().await.unwrap();
    assert!(settings.contains("Uses the app saved for your team (client id team-client)."), "{settings}");
    assert!(!settings.contains(TEAM_SECRET));
    assert_eq!(note().await, None, "the card still says the app is not configured");

    token_endpoint_for(&m, "team-client", TEAM_SECRET, "at-team").await;
    assert_eq!(location(&m.callback().await), format!("/integrations/{PROVIDER}"));
    m.expire_soon().await;
    assert_eq!(m.refresh().await.unwrap(), "at-team", "the refresh did not use the saved app");
    Mock::given(method("POST"))
        .and(path("/revoke"))
        .and(header("authorization", basic("team-client", TEAM_SECRET).as_str()))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&m.provider)
        .await;
    m.app.browser.post_form("/api/disconnect_provider", &[("provider", PROVIDER)]).await;
    m.provider.verify().await;

    // SECURITY D1: the secret is in no table the console writes it near.
    for query in [
        "SELECT provider || ' ' || client_id || ' ' || updated_by FROM oauth_apps",
        "SELECT action || ' ' || subject || ' ' || detail FROM audit_events",
    ] {
        let rows: Vec<String> = sqlx::query_scalar(query).fetch_all(m.app.platform.db.pool()).await.unwrap();
        assert!(!rows.is_empty() && rows.iter().all(|r| !r.contains(TEAM_SECRET)), "{query}: {rows:?}");
    }
    let stored = SecretPath::of(&m.team, &["_oauth_apps", PROVIDER, "client_secret"]).unwrap();
    assert!(m.app.platform.secrets.get_fresh(&stored).await.unwrap().is_some());

    let removed = m.app.browser.post_form("/api/remove_oauth_app", &[("provider", PROVIDER)]).await;
    assert_eq!(removed.status(), 200);
    assert!(m.app.platform.secrets.get_fresh(&stored).await.unwrap().is_none());
    assert_eq!(m.app.browser.post_form(&format!("/oauth/{PROVIDER}/start"), &[]).await.status(), 400);
    m.app.stop().await;
}

/// A team's own app is used instead of the environment's; removing it
/// brings the environment's back.
#[tokio::test]
async fn a_team_app_overrides_the_environments_until_it_is_removed() {
    let m = Matrix::start().await;
    assert_eq!(save_app(&m.app.browser, "team-client", TEAM_SECRET).await.status(), 200);
    token_endpoint_for(&m, "team-client", TEAM_SECRET, "at-team").await;
    assert_eq!(location(&m.callback().await), format!("/integrations/{PROVIDER}"));
    let settings = m.app.get("/settings").await.text().await.unwrap();
    assert!(
        settings.contains("instead of the environment&#x27;s") || settings.contains("instead of the environment's")
    );
    m.app.browser.post_form("/api/disconnect_provider", &[("provider", PROVIDER)]).await;

    m.app.browser.post_form("/api/remove_oauth_app", &[("provider", PROVIDER)]).await;
    token_endpoint_for(&m, "acme-client", "acme-secret", "at-env").await;
    assert_eq!(location(&m.callback().await), format!("/integrations/{PROVIDER}"));
    assert_eq!(m.stored().await.unwrap().access_token, "at-env");
    m.app.stop().await;
}

/// Each field is checked, and only admins may save or remove (SECURITY C4).
#[tokio::test]
async fn saving_an_app_checks_its_fields_and_is_for_admins_only() {
    let m = Matrix::start_with(false).await;
    let empty = save_app(&m.app.browser, "team-client", "  ").await;
    assert_eq!(empty.status(), 422);
    assert!(empty.text().await.unwrap().contains("client_secret"));
    let two_lines = save_app(&m.app.browser, "team\nclient", "s").await;
    assert_eq!(two_lines.status(), 422);
    let form_provider = m
        .app
        .browser
        .post_form("/api/save_oauth_app", &[("provider", "acme-desk"), ("client_id", "a"), ("client_secret", "b")])
        .await;
    assert_eq!(form_provider.status(), 404, "a provider that is not in this catalog");

    let created = m.app.browser.post_form("/api/create_invite", &[("role", "member")]).await;
    let invite: app::models::account::CreatedInvite = created.json().await.unwrap();
    let member = m.app.new_browser();
    let token = invite.url.rsplit('/').next().unwrap();
    let fields = [("token", token), ("name", "Mo Member"), ("email", "mo@example.com"), ("password", common::PASSWORD)];
    assert!(member.post_form("/api/accept_invite", &fields).await.status().is_success());
    assert_eq!(save_app(&member, "member-client", "member-secret").await.status(), 403);
    let remove = member.post_form("/api/remove_oauth_app", &[("provider", PROVIDER)]).await;
    assert_eq!(remove.status(), 403);
    let page = member.get("/settings").await.text().await.unwrap();
    assert!(page.contains("No OAuth app yet") && !page.contains("Enter an app"), "{page}");
    m.app.stop().await;
}

/// SECURITY A10, CONNECTOR-RULES 26: a token response that names an API
/// host (`api_domain`, as Pipedrive's does) outside the provider's allowed
/// hosts is refused: the account request that would carry the token there
/// is never made, nothing is stored and no installation is left. The same
/// field on an allowed host connects, and is kept for the connector.
#[tokio::test]
async fn a10_a_token_response_naming_a_host_outside_the_allow_list_sends_no_token_there() {
    let with_api_domain =
        |base: &str| provider_file(base).replace(&format!("url = \"{base}/me\""), "url = \"{token.api_domain}/me\"");
    let m = Matrix::start_from(true, with_api_domain).await;
    let elsewhere = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/me"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": "u-7", "name": "Grace Hopper" })))
        .mount(&elsewhere)
        .await;
    // The same port under another name: `localhost` is not on the list.
    let outside = elsewhere.uri().replace("127.0.0.1", "localhost");
    let mut answer = token("a10-access", Some("a10-refresh"));
    answer["api_domain"] = json!(outside);
    m.answer("authorization_code", json_answer(200, answer)).await;
    let refused = m.callback().await;
    assert_eq!(refused.status(), 400, "the console accepted a token response naming {outside}");
    let page = refused.text().await.unwrap();
    assert!(page.contains("localhost, which is not one of its known hosts, so no token was sent there"), "{page}");
    assert!(elsewhere.received_requests().await.unwrap().is_empty(), "a request went to the disallowed host");
    assert!(m.stored().await.is_none(), "a token was stored");
    assert_eq!(m.state().await, None, "an installation was left");

    let mut answer = token("a10-access", Some("a10-refresh"));
    answer["api_domain"] = json!(elsewhere.uri());
    m.answer("authorization_code", json_answer(200, answer)).await;
    let connected = m.callback().await;
    assert_eq!(connected.status(), 303, "{}", connected.text().await.unwrap());
    assert_eq!(elsewhere.received_requests().await.unwrap().len(), 1, "the allowed host was not asked for the account");
    assert_eq!(m.state().await, Some(State::Connected));
    m.app.stop().await;
}
