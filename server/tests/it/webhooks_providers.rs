//! GitHub's and Linear's webhooks on the real console, each provider
//! played by wiremock from its documented answers, and deliveries made
//! from the connectors' documented payload fixtures: connect through the
//! OAuth code flow, the subscription made (GitHub: the user's
//! installations listed; Linear: `webhookCreate`), signed deliveries
//! verified, routed and applied without a sync, forged and stale ones
//! refused, and the subscription gone with the connection (SECURITY H1–H3,
//! H5, H7; CONNECTOR-RULES 17, 40–43).

use common::{TestApp, location};
use connector_core::webhooks::{Encoding, Verifier, sign};
use http::StatusCode;
use platform::{
    ids::TeamId,
    jobs::State,
    store::{artifacts, installations, webhooks as hooks},
    testing::TestDatabase,
};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_string_contains, method, path},
};

use crate::{
    common::{self, pid},
    webhooks::count,
};

const APP_SECRET: &str = "gh-app-webhook-secret-0123456789";

/// A payload fixture of a connector, as its provider documents it.
pub(crate) fn payload(connector: &str, name: &str) -> Vec<u8> {
    let file = format!("{}/../connectors/{connector}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&file).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// A console with webhooks on whose catalog file of `id` is the built-in
/// one with its provider's hosts moved to a fake (`moves`), plus
/// `settings`. The providers directory lives as long as the console.
pub(crate) async fn spawn_moved(
    db: TestDatabase,
    id: &str,
    moves: &[(&str, String)],
    settings: &[(&str, &str)],
) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = format!("{}/../providers/{id}.toml", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(file).unwrap();
    for (from, to) in moves {
        assert!(text.contains(from), "{id}.toml no longer says {from}");
        text = text.replace(from, to);
    }
    std::fs::write(dir.path().join(format!("{id}.toml")), text).unwrap();
    let providers = dir.path().display().to_string();
    let mut all = vec![
        ("PATCHBAY_WEBHOOKS", "on"),
        ("PATCHBAY_PROVIDERS_DIR", providers.as_str()),
        ("LEPTOS_SITE_ROOT", common::SITE),
    ];
    all.extend_from_slice(settings);
    let app = TestApp::spawn_with(db, &all).await;
    (app, dir)
}

pub(crate) fn param(url: &str, name: &str) -> String {
    url::Url::parse(url).unwrap().query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned()).unwrap()
}

/// Connects `provider` through the code flow, the fake standing in for
/// the provider's authorize page; returns the authorize URL it was sent to.
pub(crate) async fn connect(app: &TestApp, provider: &str) -> String {
    let started = app.browser.post_form(&format!("/oauth/{provider}/start"), &[]).await;
    assert_eq!(started.status(), StatusCode::SEE_OTHER, "{}", started.text().await.unwrap());
    let authorize = location(&started);
    let state = param(&authorize, "state");
    let back = app.get(&format!("/oauth/{provider}/callback?code=code-from-the-fake&state={state}")).await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER, "{}", back.text().await.unwrap());
    assert_eq!(location(&back), format!("/integrations/{provider}"));
    authorize
}

pub(crate) async fn drained(app: &TestApp) {
    let ran = app.drain().await;
    if ran.iter().any(|(_, state)| *state != State::Completed) {
        let errors: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT kind, last_error FROM jobs WHERE last_error IS NOT NULL")
                .fetch_all(app.platform.db.pool())
                .await
                .unwrap_or_default();
        panic!("{ran:?}: {errors:?}");
    }
}

pub(crate) async fn endpoint(app: &TestApp, team: &TeamId, provider: &str) -> Option<hooks::Endpoint> {
    let mut conn = app.platform.db.pool().acquire().await.unwrap();
    let installation = installations::find(&mut conn, team, &pid(provider)).await.unwrap()?;
    hooks::endpoint_of(&app.platform.db, team, &installation.id).await.unwrap()
}

/// A JSON delivery to `at`: its status and body.
pub(crate) async fn post(app: &TestApp, at: &str, headers: &[(String, String)], body: &[u8]) -> (u16, Vec<u8>) {
    let response = crate::webhooks::post(app, at, headers, body).await;
    (response.status().as_u16(), response.bytes().await.unwrap().to_vec())
}

fn github_verifier() -> Verifier {
    Verifier::HmacSha256 {
        header: "x-hub-signature-256".into(),
        prefix: "sha256=".into(),
        encoding: Encoding::Hex,
        signed_at: None,
        tolerance_seconds: 300,
    }
}

/// A delivery signed as the GitHub App signs it.
fn github_headers(secret: &str, event: &str, delivery: &str, body: &[u8]) -> Vec<(String, String)> {
    let mut headers = sign(&github_verifier(), secret.as_bytes(), delivery, time::OffsetDateTime::now_utc(), body);
    headers.push(("x-github-event".into(), event.into()));
    headers.push(("x-github-delivery".into(), delivery.into()));
    headers
}

pub(crate) fn json(body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

async fn fake_github() -> MockServer {
    let gh = MockServer::start().await;
    let token = serde_json::json!({
        "access_token": "ghu_e2e_access", "token_type": "bearer", "scope": "", "expires_in": 28800,
        "refresh_token": "ghr_e2e_refresh", "refresh_token_expires_in": 15_897_600
    });
    Mock::given(method("POST")).and(path("/login/oauth/access_token")).respond_with(json(token)).mount(&gh).await;
    Mock::given(path("/user")).respond_with(json(serde_json::json!({ "id": 1, "login": "octocat" }))).mount(&gh).await;
    Mock::given(path("/user/repos")).respond_with(json(serde_json::json!([]))).mount(&gh).await;
    Mock::given(path("/user/installations"))
        .respond_with(json(serde_json::json!({ "total_count": 1, "installations": [
            { "id": 2_311_213, "account": { "login": "acme", "id": 9919, "type": "Organization" } }
        ] })))
        .mount(&gh)
        .await;
    gh
}

/// GitHub end to end (issue 22): the app's one URL takes every
/// installation's deliveries, verified with the app's secret before the
/// body is read (H1), then routed by `installation.id` to the connection
/// whose installations were listed at connect. Issue events are stored
/// and removed without a sync; a pull request event queues a changes run;
/// a forged delivery looks like an unknown provider (H3); a redelivery is
/// applied once (H5); an installation nobody connected is answered and
/// dropped; the connection's own URL takes nothing; disconnecting stops
/// the routing.
async fn github_app_deliveries_are_verified_routed_by_installation_and_applied(db: TestDatabase) {
    let gh = fake_github().await;
    let base = gh.uri();
    let (app, _providers) = spawn_moved(
        db,
        "github",
        &[
            ("https://github.com/login/oauth/authorize", format!("{base}/login/oauth/authorize")),
            ("https://github.com/login/oauth/access_token", format!("{base}/login/oauth/access_token")),
            ("url = \"https://api.github.com/user\"", format!("url = \"{base}/user\"")),
            ("base_url = \"https://api.github.com\"", format!("base_url = \"{base}\"")),
            ("allowed_hosts = [\"api.github.com\"]", "allowed_hosts = [\"127.0.0.1\"]".to_owned()),
        ],
        &[
            ("PATCHBAY_GITHUB_CLIENT_ID", "Iv1.e2e"),
            ("PATCHBAY_GITHUB_CLIENT_SECRET", "e2e-github-client-secret"),
            ("PATCHBAY_GITHUB_WEBHOOK_SECRET", APP_SECRET),
        ],
    )
    .await;
    app.setup_team().await;
    let team = app.admin_team().await;
    connect(&app, "github").await;
    drained(&app).await;
    let endpoint = endpoint(&app, &team, "github").await.expect("the connection has an endpoint");
    let routes = endpoint.subscription.as_ref().expect("the installations were listed");
    assert_eq!(routes.ids, vec!["2311213".to_owned()]);
    assert!(endpoint.expires_at.is_some(), "the installations are never listed again");

    let edited = payload("github", "hook-issues-edited.json");
    let delivered =
        post(&app, "/webhooks/github", &github_headers(APP_SECRET, "issues", "d-1", &edited), &edited).await;
    assert_eq!(delivered.0, 202);
    // A redelivery (GitHub's own, from the app's settings) is one delivery.
    let again = post(&app, "/webhooks/github", &github_headers(APP_SECRET, "issues", "d-1", &edited), &edited).await;
    assert_eq!(again.0, 202);
    let comment = payload("github", "hook-issue-comment-on-pull.json");
    let headers = github_headers(APP_SECRET, "issue_comment", "d-2", &comment);
    assert_eq!(post(&app, "/webhooks/github", &headers, &comment).await.0, 202);
    assert_eq!(count(&app, "webhook_deliveries").await, 2);
    drained(&app).await;
    let stored = artifacts::ids(&app.platform.db, &team, &pid("github")).await.unwrap();
    assert_eq!(stored, vec!["1".to_owned(), "2".to_owned()]);
    let title: String = sqlx::query_scalar("SELECT title FROM artifacts WHERE entity_id = '1'")
        .fetch_one(app.platform.db.pool())
        .await
        .unwrap();
    assert_eq!(title, "acme/web#1347: Found a bug in the login form");
    let syncs = count(&app, "jobs WHERE kind IN ('incremental', 'prune', 'full_backfill')").await;
    assert_eq!(syncs, 1, "only the first backfill ran: the changes came by webhook");

    // A deletion removes it; a pull request event asks for a changes run.
    let deleted = payload("github", "hook-issues-deleted.json");
    assert_eq!(
        post(&app, "/webhooks/github", &github_headers(APP_SECRET, "issues", "d-3", &deleted), &deleted).await.0,
        202
    );
    let pull = payload("github", "hook-pull-request.json");
    assert_eq!(
        post(&app, "/webhooks/github", &github_headers(APP_SECRET, "pull_request", "d-4", &pull), &pull).await.0,
        202
    );
    drained(&app).await;
    assert_eq!(artifacts::ids(&app.platform.db, &team, &pid("github")).await.unwrap(), vec!["2".to_owned()]);
    assert_eq!(count(&app, "jobs WHERE kind = 'incremental'").await, 1, "the pull request event queued no changes run");

    // H1, H3: a forged signature, the connection's own URL, and an unknown
    // provider all get the same bare 401, and nothing is recorded.
    let before = count(&app, "webhook_deliveries").await;
    let forged =
        post(&app, "/webhooks/github", &github_headers("not-the-app-secret!", "issues", "d-5", &edited), &edited).await;
    assert_eq!(forged, (401, Vec::new()));
    let own_url = format!("/webhooks/github/{}", endpoint.id);
    let signed = github_headers(APP_SECRET, "issues", "d-6", &edited);
    assert_eq!(post(&app, &own_url, &signed, &edited).await, forged);
    assert_eq!(post(&app, "/webhooks/nosuch", &signed, &edited).await, forged);
    // An installation this console has no connection for: answered, dropped.
    let mut elsewhere: serde_json::Value = serde_json::from_slice(&edited).unwrap();
    elsewhere["installation"]["id"] = 999.into();
    let elsewhere = elsewhere.to_string().into_bytes();
    let headers = github_headers(APP_SECRET, "issues", "d-7", &elsewhere);
    assert_eq!(post(&app, "/webhooks/github", &headers, &elsewhere).await.0, 202);
    assert_eq!(count(&app, "webhook_deliveries").await, before, "a refused or unrouted delivery was stored");

    let disconnected = app.browser.post_form("/api/disconnect_provider", &[("provider", "github")]).await;
    assert!(disconnected.status().is_success());
    assert_eq!(count(&app, "webhook_routes").await, 0);
    let late = github_headers(APP_SECRET, "issues", "d-8", &edited);
    assert_eq!(post(&app, "/webhooks/github", &late, &edited).await.0, 202);
    assert_eq!(count(&app, "webhook_deliveries").await, 0);
    app.stop().await;
}
platform::test_on_both_backends!(github_app, github_app_deliveries_are_verified_routed_by_installation_and_applied);

fn linear_headers(secret: &str, event: &str, delivery: &str, body: &[u8]) -> Vec<(String, String)> {
    let verifier = Verifier::HmacSha256 {
        header: "linear-signature".into(),
        prefix: String::new(),
        encoding: Encoding::Hex,
        signed_at: None,
        tolerance_seconds: 60,
    };
    let mut headers = sign(&verifier, secret.as_bytes(), delivery, time::OffsetDateTime::now_utc(), body);
    headers.push(("linear-event".into(), event.into()));
    headers.push(("linear-delivery".into(), delivery.into()));
    headers
}

/// A Linear payload fixture sent `age` ago (its `webhookTimestamp`).
fn linear_payload(name: &str, age: time::Duration) -> Vec<u8> {
    let mut body: serde_json::Value = serde_json::from_slice(&payload("linear", name)).unwrap();
    let sent = time::OffsetDateTime::now_utc() - age;
    body["webhookTimestamp"] = i64::try_from(sent.unix_timestamp_nanos() / 1_000_000).unwrap().into();
    body.to_string().into_bytes()
}

/// Linear end to end (issue 22): with webhooks on, the connect asks for
/// the `admin` scope Linear's `webhookCreate` needs; the webhook is made
/// with the connection's URL and a fresh secret; an issue update is
/// verified, read back by id and stored, a removal applied, a delivery
/// older than a minute refused as a replay (H2); disconnecting deletes
/// the webhook at Linear (H7).
async fn linear_webhooks_are_made_verified_applied_and_deleted(db: TestDatabase) {
    let lin = MockServer::start().await;
    let token = serde_json::json!({
        "access_token": "lin_oauth_e2e", "token_type": "Bearer", "expires_in": 86399,
        "refresh_token": "lin_refresh_e2e", "scope": "read,admin"
    });
    Mock::given(method("POST")).and(path("/oauth/token")).respond_with(json(token)).mount(&lin).await;
    let viewer = serde_json::json!({ "data": { "viewer": { "id": "u-1", "name": "Ada", "organization": { "id": "o-1", "name": "Acme" } } } });
    Mock::given(body_string_contains("viewer")).respond_with(json(viewer)).mount(&lin).await;
    let empty = serde_json::json!({ "data": { "issues": { "nodes": [], "pageInfo": { "hasNextPage": false, "endCursor": null } } } });
    Mock::given(body_string_contains("query Issues(")).respond_with(json(empty)).mount(&lin).await;
    let created = serde_json::from_slice::<serde_json::Value>(&payload("linear", "webhook-created.json")).unwrap();
    Mock::given(body_string_contains("webhookCreate")).respond_with(json(created)).expect(1).mount(&lin).await;
    let issues = serde_json::from_slice::<serde_json::Value>(&payload("linear", "issues-1.json")).unwrap();
    Mock::given(body_string_contains("IssuesById")).respond_with(json(issues)).mount(&lin).await;
    let deleted = serde_json::json!({ "data": { "webhookDelete": { "success": true } } });
    Mock::given(body_string_contains("webhookDelete")).respond_with(json(deleted)).expect(1).mount(&lin).await;
    Mock::given(path("/oauth/revoke")).respond_with(ResponseTemplate::new(200)).mount(&lin).await;

    let base = lin.uri();
    let (app, _providers) = spawn_moved(
        db,
        "linear",
        &[
            ("https://linear.app/oauth/authorize", format!("{base}/oauth/authorize")),
            ("https://api.linear.app/oauth/token", format!("{base}/oauth/token")),
            ("https://api.linear.app/oauth/revoke", format!("{base}/oauth/revoke")),
            // Every `url = ` of the API (the account's, then the base).
            ("\"https://api.linear.app/graphql\"", format!("\"{base}/graphql\"")),
            ("allowed_hosts = [\"api.linear.app\"]", "allowed_hosts = [\"127.0.0.1\"]".to_owned()),
        ],
        &[
            ("PATCHBAY_LINEAR_CLIENT_ID", "e2e-linear-client"),
            ("PATCHBAY_LINEAR_CLIENT_SECRET", "e2e-linear-client-secret"),
        ],
    )
    .await;
    app.setup_team().await;
    let team = app.admin_team().await;
    let authorize = connect(&app, "linear").await;
    assert_eq!(param(&authorize, "scope"), "read,admin", "the webhook's scope was not asked for");
    drained(&app).await;

    // The webhook was made with the connection's URL and its own secret.
    let endpoint = endpoint(&app, &team, "linear").await.expect("the connection has an endpoint");
    assert_eq!(endpoint.subscription.as_ref().unwrap().ids, vec!["d3f0a4b2-9c1e-4b7a-8f6d-2e5c7a9b1d30".to_owned()]);
    let made = lin.received_requests().await.unwrap();
    let create = made.iter().find(|r| String::from_utf8_lossy(&r.body).contains("webhookCreate")).unwrap();
    let create: serde_json::Value = serde_json::from_slice(&create.body).unwrap();
    let input = &create["variables"]["input"];
    let own_url = format!("/webhooks/linear/{}", endpoint.id);
    assert_eq!(input["url"], app.url(&own_url));
    let secret = input["secret"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 32, "a short webhook secret");

    let update = linear_payload("hook-issue-update.json", time::Duration::seconds(2));
    assert_eq!(post(&app, &own_url, &linear_headers(&secret, "Issue", "l-1", &update), &update).await.0, 202);
    drained(&app).await;
    let stored = artifacts::ids(&app.platform.db, &team, &pid("linear")).await.unwrap();
    assert_eq!(stored, vec!["9cfb482a-81e3-4154-b2b1-1d7f6a5e3a11".to_owned()], "the issue read back was not stored");

    // H2: the same delivery sent again after a minute is a replay.
    let stale = linear_payload("hook-issue-remove.json", time::Duration::seconds(90));
    let replayed = post(&app, &own_url, &linear_headers(&secret, "Issue", "l-2", &stale), &stale).await;
    assert_eq!(replayed, (401, Vec::new()));
    let forged = linear_payload("hook-issue-remove.json", time::Duration::ZERO);
    assert_eq!(
        post(&app, &own_url, &linear_headers("guessed-secret", "Issue", "l-3", &forged), &forged).await,
        replayed
    );
    assert_eq!(count(&app, "webhook_deliveries").await, 1);
    let remove = linear_payload("hook-issue-remove.json", time::Duration::seconds(1));
    assert_eq!(post(&app, &own_url, &linear_headers(&secret, "Issue", "l-4", &remove), &remove).await.0, 202);
    drained(&app).await;
    assert!(artifacts::ids(&app.platform.db, &team, &pid("linear")).await.unwrap().is_empty());

    let disconnected = app.browser.post_form("/api/disconnect_provider", &[("provider", "linear")]).await;
    assert!(disconnected.status().is_success());
    assert_eq!(count(&app, "webhook_endpoints").await, 0);
    app.stop().await;
    // `expect(1)` on webhookDelete is checked when the fake stops.
    drop(lin);
}
platform::test_on_both_backends!(linear, linear_webhooks_are_made_verified_applied_and_deleted);
