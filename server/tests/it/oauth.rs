//! The OAuth connect flow against the sandbox provider, which is strict
//! (PKCE required, exact redirect URIs, single-use codes, `iss` on every
//! answer): each test names the SECURITY item it proves.

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use crate::common::{self, pid};

use common::{Browser, TestApp, location, stored_token};
use http::StatusCode;
use platform::store::installations::{self, State};
use sandbox::Fault;

fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url).unwrap().query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// Starts a connect in `browser` and returns the provider's authorize URL.
async fn start(browser: &Browser, query: &str) -> String {
    let response = browser.post_form(&format!("/oauth/sandbox/start{query}"), &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{}", response.text().await.unwrap());
    let to = location(&response);
    assert!(to.contains("/sandbox/oauth/authorize?"), "{to}");
    to
}

/// The callback URL as the browser follows it, relative to the console.
fn callback_path(app: &TestApp, url: &str) -> String {
    url.strip_prefix(&app.base).unwrap().to_owned()
}

fn sandbox(app: &TestApp) -> &sandbox::Sandbox {
    app.sandbox.as_ref().expect("the sandbox is on for loopback test servers")
}

/// SECURITY A3, A7, A9, B2 (as far as a cookie jar goes), CONNECTOR-RULES 22, 23, 27.
async fn a_full_code_flow_connects_the_sandbox_and_stores_its_tokens(app: TestApp) {
    app.setup_team().await;
    let team = app.admin_team().await;
    let authorize = start(&app.browser, "").await;
    // A3: S256, a challenge of 43 characters, no verifier in the URL.
    assert_eq!(param(&authorize, "code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(param(&authorize, "code_challenge").unwrap().len(), 43);
    assert!(!authorize.contains("verifier"));
    assert!(param(&authorize, "state").unwrap().len() >= 43, "the state has fewer than 256 bits");
    assert_eq!(param(&authorize, "redirect_uri"), Some(app.url("/oauth/sandbox/callback")));

    let back = app.at_sandbox(&authorize, "approve").await;
    let done = app.get(&callback_path(&app, &back)).await;

    // A9: a redirect to a clean URL that is neither cached nor referred.
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), "/integrations/sandbox");
    assert_eq!(done.headers()["cache-control"], "no-store");
    assert_eq!(done.headers()["referrer-policy"], "no-referrer");
    // A7: the sandbox refuses a token request whose redirect URI differs,
    // so a stored token proves it was the same.
    let token = stored_token(&app.platform, &team, "sandbox").await.unwrap();
    assert!(token.access_token.starts_with("sba_") && token.refresh_token.is_some());
    assert!(token.expires_at.unwrap() > time::OffsetDateTime::now_utc().unix_timestamp() + 200);
    let mut conn = app.platform.db.pool().acquire().await.unwrap();
    let installation = installations::find(&mut conn, &team, &pid("sandbox")).await.unwrap().unwrap();
    assert_eq!((installation.state, installation.account_id.as_str()), (State::Connected, sandbox::USER_ID));
    // Rule 23: the page shows what is stored.
    let page = app.get("/integrations/sandbox").await.text().await.unwrap();
    assert!(page.contains(&format!("Connected as {}", sandbox::USER_NAME)), "{page}");
    assert_eq!(sandbox(&app).token_requests(), 1);
    app.leave_jobs("the first backfill the connect queued is not what this test checks");
    app.stop().await;
}
app_test_on_both_backends!(full_code_flow, a_full_code_flow_connects_the_sandbox_and_stores_its_tokens);

/// SECURITY A1, A4: a state this session was not issued gets a 400 and no token request.
async fn a1_a_callback_with_a_state_from_another_session_is_rejected_without_a_token_request(app: TestApp) {
    app.setup_team().await;
    let authorize = start(&app.browser, "").await;
    let back = app.at_sandbox(&authorize, "approve").await;
    // The same admin, signed in from a second browser: another session.
    let other = app.new_browser();
    assert!(other.login(common::ADMIN_EMAIL, common::PASSWORD).await.status().is_success());

    let response = other.get(&callback_path(&app, &back)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("This sign-in link has expired"));
    // A forged state in the right session fares no better.
    let forged = back.replace(&param(&back, "state").unwrap(), "forged-state");
    assert_eq!(app.get(&callback_path(&app, &forged)).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(sandbox(&app).token_requests(), 0);
    // The rightful session can still complete it.
    assert_eq!(app.get(&callback_path(&app, &back)).await.status(), StatusCode::SEE_OTHER);
    app.leave_jobs("the first backfill the connect queued is not what this test checks");
    app.stop().await;
}
app_test_on_both_backends!(
    a1_foreign_state,
    a1_a_callback_with_a_state_from_another_session_is_rejected_without_a_token_request
);

/// SECURITY A2: a callback that already succeeded, replayed, gets a 400 and no second token request.
#[tokio::test]
async fn a2_a_replayed_callback_is_rejected_without_a_second_token_request() {
    let app = TestApp::sqlite().await;
    app.setup_team().await;
    let back = app.at_sandbox(&start(&app.browser, "").await, "approve").await;
    assert_eq!(app.get(&callback_path(&app, &back)).await.status(), StatusCode::SEE_OTHER);
    let replay = app.get(&callback_path(&app, &back)).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert_eq!(sandbox(&app).token_requests(), 1);
    app.leave_jobs("the first backfill the connect queued is not what this test checks");
    app.stop().await;
}

/// SECURITY A2: a transaction older than its expiry is refused, although
/// its state and session match, and no code is exchanged for it; the
/// console says the link expired and connects nothing.
#[tokio::test]
async fn a2_a_transaction_past_its_expiry_is_refused_without_a_token_request() {
    let app = TestApp::sqlite().await;
    app.setup_team().await;
    let back = app.at_sandbox(&start(&app.browser, "").await, "approve").await;
    let aged = sqlx::query("UPDATE oauth_transactions SET expires_at = $1")
        .bind(time::OffsetDateTime::now_utc().unix_timestamp() - 1)
        .execute(app.platform.db.pool())
        .await
        .unwrap();
    assert_eq!(aged.rows_affected(), 1, "the connect left no transaction to age");

    let late = app.get(&callback_path(&app, &back)).await;
    assert_eq!(late.status(), StatusCode::BAD_REQUEST);
    assert!(late.text().await.unwrap().contains("expired"), "the page does not say the link expired");
    assert_eq!(sandbox(&app).token_requests(), 0, "a code was exchanged for an expired transaction");
    let installations: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM installations").fetch_one(app.platform.db.pool()).await.unwrap();
    assert_eq!(installations, 0, "an expired connect left an installation");
    app.stop().await;
}

/// SECURITY A3: every authorize URL has a fresh challenge.
#[tokio::test]
async fn a3_each_start_has_a_fresh_state_and_challenge() {
    let app = TestApp::sqlite().await;
    app.setup_team().await;
    let (first, second) = (start(&app.browser, "").await, start(&app.browser, "").await);
    assert_ne!(param(&first, "code_challenge"), param(&second, "code_challenge"));
    assert_ne!(param(&first, "state"), param(&second, "state"));
    app.stop().await;
}

/// SECURITY A5: an answer at another provider's callback path is refused.
#[tokio::test]
async fn a5_a_callback_at_another_providers_path_is_rejected() {
    let app = TestApp::spawn_with(
        platform::testing::TestDatabase::sqlite(),
        &[("PATCHBAY_LINEAR_CLIENT_ID", "lin-id"), ("PATCHBAY_LINEAR_CLIENT_SECRET", "lin-secret")],
    )
    .await;
    app.setup_team().await;
    let back = app.at_sandbox(&start(&app.browser, "").await, "approve").await;
    let mixed = callback_path(&app, &back).replace("/oauth/sandbox/callback", "/oauth/linear/callback");
    let response = app.get(&mixed).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("started for another provider"));
    assert_eq!(sandbox(&app).token_requests(), 0);
    app.stop().await;
}

/// SECURITY A6: an `iss` that is not the sandbox's is refused, and so is
/// none from a provider whose issuer the catalog records.
#[tokio::test]
async fn a6_a_callback_from_another_issuer_is_rejected() {
    let app = TestApp::sqlite().await;
    app.setup_team().await;
    let back = app.at_sandbox(&start(&app.browser, "").await, "approve").await;
    let issuer = param(&back, "iss").unwrap();
    assert_eq!(issuer, app.url("/sandbox"));
    let wrong = back.replace(
        &url::form_urlencoded::byte_serialize(issuer.as_bytes()).collect::<String>(),
        "https%3A%2F%2Fevil.example",
    );
    let response = app.get(&callback_path(&app, &wrong)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("issuer does not match"));
    // A fresh connect whose answer lost its `iss`.
    let back = app.at_sandbox(&start(&app.browser, "").await, "approve").await;
    let encoded: String = url::form_urlencoded::byte_serialize(issuer.as_bytes()).collect();
    let without = back.replace(&format!("&iss={encoded}"), "");
    assert!(!without.contains("iss="), "{without}");
    let response = app.get(&callback_path(&app, &without)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("issuer does not match"));
    assert_eq!(sandbox(&app).token_requests(), 0);
    app.stop().await;
}

/// SECURITY A8: `return_to` is a same-site path, or the provider page.
#[tokio::test]
async fn a8_return_to_accepts_only_same_site_paths() {
    let app = TestApp::sqlite().await;
    app.setup_team().await;
    for (asked, landed) in [
        ("/team", "/team"),
        ("//evil.example", "/integrations/sandbox"),
        ("https://evil.example", "/integrations/sandbox"),
        ("/\\evil.example", "/integrations/sandbox"),
    ] {
        let query =
            format!("?return_to={}", url::form_urlencoded::byte_serialize(asked.as_bytes()).collect::<String>());
        let back = app.at_sandbox(&start(&app.browser, &query).await, "approve").await;
        let done = app.get(&callback_path(&app, &back)).await;
        assert_eq!(location(&done), landed, "{asked}");
        let disconnected = app.browser.post_form("/api/disconnect_provider", &[("provider", "sandbox")]).await;
        assert_eq!(disconnected.status(), StatusCode::OK);
    }
    app.leave_jobs("the first backfill the connect queued is not what this test checks");
    app.stop().await;
}

/// SECURITY A11: an `error=` answer makes no token request and is shown escaped.
#[tokio::test]
async fn a11_deny_and_provider_errors_are_shown_escaped_without_a_token_request() {
    let app = TestApp::sqlite().await;
    app.setup_team().await;
    let team = app.admin_team().await;
    let back = app.at_sandbox(&start(&app.browser, "").await, "deny").await;
    let denied = app.get(&callback_path(&app, &back)).await;
    assert_eq!(denied.status(), StatusCode::BAD_REQUEST);
    assert_eq!(denied.headers()["cache-control"], "no-store");
    assert!(denied.text().await.unwrap().contains("You cancelled at the provider"));

    let authorize = start(&app.browser, "").await;
    let state = param(&authorize, "state").unwrap();
    let iss: String = url::form_urlencoded::byte_serialize(app.url("/sandbox").as_bytes()).collect();
    let hostile = format!(
        "/oauth/sandbox/callback?state={state}&iss={iss}&error=server_error\
         &error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E"
    );
    let page = app.get(&hostile).await.text().await.unwrap();
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !page.contains("<script>alert"), "{page}");
    assert_eq!(sandbox(&app).token_requests(), 0);
    assert!(stored_token(&app.platform, &team, "sandbox").await.is_none());
    app.stop().await;
}

/// SECURITY G1: duplicated or oversized parameters are refused.
#[tokio::test]
async fn g1_duplicated_or_oversized_callback_parameters_are_refused() {
    let app = TestApp::sqlite().await;
    app.setup_team().await;
    let back = app.at_sandbox(&start(&app.browser, "").await, "approve").await;
    let doubled = format!("{}&code=second", callback_path(&app, &back));
    assert_eq!(app.get(&doubled).await.status(), StatusCode::BAD_REQUEST);
    let long = format!("/oauth/sandbox/callback?state=s&code={}", "x".repeat(5000));
    assert_eq!(app.get(&long).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(sandbox(&app).token_requests(), 0);
    app.stop().await;
}

/// SECURITY C2: a transaction started in one team cannot be completed in another's session.
#[tokio::test]
async fn c2_a_connect_started_in_one_team_cannot_be_completed_in_another() {
    let app = TestApp::sqlite().await;
    app.setup_team().await;
    app.beta_team().await;
    let back = app.at_sandbox(&start(&app.browser, "").await, "approve").await;
    let beta = app.new_browser();
    assert!(beta.login(common::BETA_EMAIL, common::PASSWORD).await.status().is_success());
    // Even with team A's session cookie copied into it, team B's browser
    // has its own session: nothing of A's connect is completed there.
    let response = beta.get(&callback_path(&app, &back)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(sandbox(&app).token_requests(), 0);
    app.stop().await;
}

/// Each token-endpoint failure has its own words, and leaves nothing stored.
#[tokio::test]
async fn token_endpoint_failures_are_explained_and_leave_no_installation() {
    let app = TestApp::sqlite().await;
    app.setup_team().await;
    let team = app.admin_team().await;
    for (fault, status, words) in [
        (Fault::InvalidClient, 400, "Check the client id and secret"),
        (Fault::Unavailable, 502, "did not answer in time, or had a problem"),
        (Fault::ServerError, 502, "did not answer in time, or had a problem"),
        (Fault::Malformed, 502, "not a usable token"),
        (Fault::NoAccessToken, 502, "not a usable token"),
        (Fault::InvalidGrant, 400, "refused to finish the connect (invalid_grant)"),
    ] {
        sandbox(&app).inject_faults([fault]);
        let back = app.at_sandbox(&start(&app.browser, "").await, "approve").await;
        let response = app.get(&callback_path(&app, &back)).await;
        assert_eq!(response.status().as_u16(), status, "{fault:?}");
        let page = response.text().await.unwrap();
        assert!(page.contains(words), "{fault:?}: {page}");
        assert!(stored_token(&app.platform, &team, "sandbox").await.is_none(), "{fault:?} left a token");
        let mut conn = app.platform.db.pool().acquire().await.unwrap();
        let left = installations::find(&mut conn, &team, &pid("sandbox")).await.unwrap();
        assert!(left.is_none_or(|i| !i.is_active()), "{fault:?} left an installation");
    }
    app.stop().await;
}

/// SECURITY D6, CONNECTOR-RULES 29: disconnect revokes the grant at the provider, then wipes.
#[tokio::test]
async fn disconnect_revokes_the_grant_at_the_provider_and_wipes_the_tokens() {
    let app = TestApp::sqlite().await;
    app.setup_team().await;
    let team = app.admin_team().await;
    let back = app.at_sandbox(&start(&app.browser, "").await, "approve").await;
    app.get(&callback_path(&app, &back)).await;
    let token = stored_token(&app.platform, &team, "sandbox").await.unwrap();

    let response = app.browser.post_form("/api/disconnect_provider", &[("provider", "sandbox")]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(stored_token(&app.platform, &team, "sandbox").await.is_none());
    let me = app.client.get(app.url("/sandbox/api/me")).bearer_auth(&token.access_token).send().await.unwrap();
    assert_eq!(me.status(), 401, "the provider still honours the revoked grant");
    app.leave_jobs("the first backfill the connect queued is not what this test checks");
    app.stop().await;
}

/// Only admins start a connect (SECURITY C4); signed-out visitors sign in first.
#[tokio::test]
async fn start_is_for_signed_in_admins_only() {
    let app = TestApp::sqlite().await;
    app.setup_team().await;
    let anonymous = app.new_browser().get("/oauth/sandbox/start").await;
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
    assert!(location(&anonymous).starts_with("/login?next="));
    // An OAuth provider without an app says so instead of failing at the provider.
    let linear = app.browser.post_form("/oauth/linear/start", &[]).await;
    assert_eq!(linear.status(), StatusCode::BAD_REQUEST);
    assert!(linear.text().await.unwrap().contains("PATCHBAY_LINEAR_CLIENT_ID"));
    let cards = app.get("/integrations").await.text().await.unwrap();
    assert!(cards.contains("OAuth app not configured"));
    app.stop().await;
}

/// SECURITY C4: a member who opens the connect link is refused before
/// anything is recorded, and an admin demoted between start and callback
/// cannot complete the connect: no token is asked for, nothing is stored.
#[tokio::test]
async fn c4_a_member_can_neither_start_nor_complete_an_oauth_connect() {
    let app = TestApp::sqlite().await;
    app.setup_team().await;
    let team = app.admin_team().await;
    let member = app.member("Mo Member", "mo@example.com").await;
    for refused in [member.get("/oauth/sandbox/start").await, member.post_form("/oauth/sandbox/start", &[]).await] {
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert!(refused.text().await.unwrap().contains("Only admins can connect"));
    }
    assert_eq!(sandbox_rows(&app, "oauth_transactions").await, 0, "a member's start recorded a transaction");

    let back = app.at_sandbox(&start(&app.browser, "").await, "approve").await;
    sqlx::query("UPDATE users SET role = 'member' WHERE email = $1")
        .bind(common::ADMIN_EMAIL)
        .execute(app.platform.db.pool())
        .await
        .unwrap();
    let response = app.get(&callback_path(&app, &back)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(sandbox(&app).token_requests(), 0, "a member's callback asked for a token");
    let mut conn = app.platform.db.pool().acquire().await.unwrap();
    let found = installations::find(&mut conn, &team, &pid("sandbox")).await.unwrap();
    assert!(found.is_none_or(|i| i.state != State::Connected), "a member's callback connected");
    drop(conn);
    app.stop().await;
}

async fn sandbox_rows(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(app.platform.db.pool()).await.unwrap()
}

/// SECURITY C1, C3, counted at the secret store: team B's admin naming the
/// sandbox, which only team A connected, is told it is not connected on
/// every page, server function and stream; and a job row that names team
/// A's installation under team B fails as "gone". Neither reads one of team
/// A's secrets.
#[tokio::test]
async fn c1_c3_another_teams_requests_and_jobs_read_none_of_its_secrets() {
    let (app, recording) = TestApp::spawn_recording_secrets(
        platform::testing::TestDatabase::sqlite(),
        &[("LEPTOS_SITE_ROOT", common::SITE)],
    )
    .await;
    app.setup_team().await;
    app.connect_sandbox().await;
    let team_a = app.admin_team().await;
    app.drain().await;
    assert!(recording.reads_of(&team_a) > 0, "the recording store saw none of team A's own reads");

    let (team_b, _) = app.beta_team().await;
    let bea = app.new_browser();
    assert!(bea.login(common::BETA_EMAIL, common::PASSWORD).await.status().is_success());
    let before = recording.reads_of(&team_a);

    let page = bea.get("/integrations/sandbox").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(!page.text().await.unwrap().contains(sandbox::USER_NAME), "team B's page shows team A's account");
    let detail = bea.post_form("/api/provider", &[("id", "sandbox")]).await;
    let (status, detail) = (detail.status(), detail.text().await.unwrap());
    let detail: serde_json::Value =
        serde_json::from_str(&detail).unwrap_or_else(|_| panic!("/api/provider answered {status}: {detail}"));
    assert!(detail["connection"].is_null(), "team B sees a connection: {detail}");
    for (endpoint, fields, status) in [
        ("/api/check_connection", vec![("provider", "sandbox")], StatusCode::BAD_REQUEST),
        ("/api/disconnect_provider", vec![("provider", "sandbox")], StatusCode::BAD_REQUEST),
        ("/api/start_sync", vec![("provider", "sandbox"), ("kind", "incremental")], StatusCode::NOT_FOUND),
    ] {
        let response = bea.post_form(endpoint, &fields).await;
        let code = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(code, status, "{endpoint}: {body}");
    }
    let items = bea.post_form("/api/items", &[("provider", "sandbox"), ("page", "1")]).await;
    let (status, items) = (items.status(), items.text().await.unwrap());
    let items: serde_json::Value =
        serde_json::from_str(&items).unwrap_or_else(|_| panic!("/api/items answered {status}: {items}"));
    assert_eq!(items["total"], 0, "team B lists team A's records: {items}");
    let status = bea.post_form("/api/sync_status", &[("provider", "sandbox")]).await;
    let (code, status) = (status.status(), status.text().await.unwrap());
    assert_eq!(code, StatusCode::NOT_FOUND, "team B sees a sync of the sandbox: {status}");
    let events = bea.events("/api/sync/sandbox/events").await;
    assert!(!events.text().await.unwrap_or_default().contains(sandbox::USER_NAME));

    let installation_a = {
        let mut conn = app.platform.db.pool().acquire().await.unwrap();
        installations::find(&mut conn, &team_a, &pid("sandbox")).await.unwrap().unwrap().id
    };
    let forged =
        platform::jobs::sync::new_job(&team_b.id, &pid("sandbox"), &installation_a, platform::jobs::Kind::Incremental);
    let mut conn = app.platform.db.pool().acquire().await.unwrap();
    platform::jobs::enqueue(&mut conn, &forged).await.unwrap();
    drop(conn);
    let ran = app.drain().await;
    assert_eq!(ran.len(), 1);
    let job = platform::jobs::get(&app.platform.db, &team_b.id, &ran[0].0).await.unwrap().unwrap();
    assert_eq!(job.state, platform::jobs::State::Failed);
    assert!(job.last_error.as_deref().unwrap_or_default().contains("gone"), "{:?}", job.last_error);
    assert_eq!(recording.reads_of(&team_a), before, "team B's requests or job read team A's secrets");
    app.leave_jobs("the forged job's failure is what this test checks");
    app.stop().await;
}

/// SECURITY B5: no GET starts a connect. `GET /oauth/sandbox/start` (a
/// link another site could send the admin to) shows a button that posts
/// the start, records nothing and never reaches the provider; the same
/// start posted from another site is refused; posted from this site, it
/// goes to the provider.
#[tokio::test]
async fn b5_only_a_same_site_post_starts_a_connect_and_a_get_records_nothing() {
    let app = TestApp::sqlite().await;
    app.setup_team().await;
    let shown = app.get("/oauth/sandbox/start?return_to=%2Fintegrations").await;
    assert_eq!(shown.status(), StatusCode::OK);
    let html = shown.text().await.unwrap();
    assert!(
        html.contains("<form method=\"post\" action=\"/oauth/sandbox/start?return_to=%2Fintegrations\">"),
        "{html}"
    );
    assert!(html.contains("Continue to Sandbox"), "{html}");
    let cookie = app.browser.cookie().unwrap();
    let cross_site = app
        .client
        .post(app.url("/oauth/sandbox/start"))
        .header("cookie", format!("patchbay_session={cookie}"))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    assert_eq!(sandbox_rows(&app, "oauth_transactions").await, 0, "a GET or a cross-site POST recorded a connect");
    assert_eq!(sandbox(&app).token_requests(), 0);

    let authorize = start(&app.browser, "").await;
    assert!(param(&authorize, "state").is_some());
    assert_eq!(sandbox_rows(&app, "oauth_transactions").await, 1);
    app.stop().await;
}

/// SECURITY D1 for OAuth tokens: once the sandbox is connected, synced and
/// refreshed, neither its access token nor its refresh token (old or new)
/// appears in a page, its hydration data, a server function's answer, a
/// header, a log line, the `Debug` output of what holds them, or the
/// message of a panic that formats them.
#[tokio::test]
async fn d1_oauth_tokens_never_appear_in_pages_responses_logs_debug_or_panics() {
    let logs = platform::testing::capture_logs();
    let (app, team) =
        TestApp::with_sandbox_connected(platform::testing::TestDatabase::sqlite(), &[("PATCHBAY_SANDBOX_ITEMS", "20")])
            .await;
    let first = stored_token(&app.platform, &team, "sandbox").await.unwrap();
    app.drain().await;
    common::expire_token_soon(&app.platform, &team, "sandbox").await;
    let checked = app.browser.post_form("/api/check_connection", &[("provider", "sandbox")]).await;
    assert_eq!(checked.status(), StatusCode::OK, "the check (and its refresh) failed");
    let second = stored_token(&app.platform, &team, "sandbox").await.unwrap();
    assert_ne!(second.access_token, first.access_token, "the token was not refreshed, so half is unproven");
    let tokens = [
        first.access_token.clone(),
        first.refresh_token.clone().unwrap(),
        second.access_token.clone(),
        second.refresh_token.clone().unwrap(),
    ];

    let mut seen: Vec<String> = Vec::new();
    let keep = |response: reqwest::Response| async move {
        let headers = format!("{:?}", response.headers());
        format!("{headers}\n{}", response.text().await.unwrap())
    };
    for page in ["/integrations", "/integrations/sandbox", "/integrations/sandbox/items", "/activity", "/settings"] {
        seen.push(keep(app.get(page).await).await);
    }
    for (function, fields) in [
        ("/api/integrations", vec![]),
        ("/api/provider", vec![("id", "sandbox")]),
        ("/api/sync_status", vec![("provider", "sandbox")]),
        ("/api/items", vec![("provider", "sandbox"), ("page", "1")]),
        ("/api/activity", vec![]),
        ("/api/oauth_apps", vec![]),
    ] {
        seen.push(keep(app.browser.post_form(function, &fields).await).await);
    }
    seen.push(format!("{second:?} {:?}", app.platform));
    let panicked = std::panic::catch_unwind(|| panic!("a refresh went wrong with {second:?}")).unwrap_err();
    seen.push(panicked.downcast_ref::<String>().cloned().unwrap_or_default());
    app.stop().await;

    assert!(seen[1].contains(sandbox::USER_NAME), "the provider page does not show the connection");
    assert!(seen.last().unwrap().contains("StoredToken"), "the panic message was not captured");
    for (i, text) in seen.iter().enumerate() {
        for token in &tokens {
            assert!(!text.contains(token.as_str()), "a token leaked in capture {i}: {text}");
        }
    }
    let logged = logs.text();
    assert!(logged.contains("connected"), "nothing was captured, so nothing was proven");
    for token in &tokens {
        assert!(!logged.contains(token.as_str()), "a token was logged");
    }
}
