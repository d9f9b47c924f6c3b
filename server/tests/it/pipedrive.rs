//! Pipedrive end to end (issue 24): the real console against a wiremock
//! Pipedrive serving the connector's documented fixtures, through the
//! built-in `pipedrive.toml` with Pipedrive's OAuth host moved to the
//! fake and the fake's address as the company's `api_domain`. An
//! `api_domain` outside the allowed hosts is refused before any token
//! goes there; then connect through the code flow, the first backfill,
//! a changes run, a deletion found by a full re-sync, a webhook checked
//! by its HTTP Basic credentials (a retry applied once), and a disconnect
//! that revokes the token (CONNECTOR-CHECKLIST 9; CONNECTOR-RULES 17, 18,
//! 26, 36, 41; SECURITY A10, D6, H1, H3, H5).

use http::StatusCode;
use platform::{
    ids::TeamId,
    jobs::{Kind, sync},
    store::artifacts,
    testing::TestDatabase,
};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_string_contains, method, path, query_param, query_param_is_missing},
};

use crate::{
    common::{TestApp, location, pid},
    webhooks::count,
    webhooks_providers::{connect, drained, endpoint, json, param, post, spawn_moved},
};

fn fixture(name: &str) -> serde_json::Value {
    let file = format!("{}/../connectors/pipedrive/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"))).unwrap()
}

/// Pipedrive's OAuth server and the company's API on one fake; the token
/// names `api_domain`.
async fn fake_pipedrive(api_domain: &str) -> MockServer {
    let pd = MockServer::start().await;
    let mut token = fixture("token.json");
    token["api_domain"] = api_domain.into();
    Mock::given(method("POST")).and(path("/oauth/token")).respond_with(json(token)).mount(&pd).await;
    Mock::given(path("/api/v1/users/me")).respond_with(json(fixture("me.json"))).mount(&pd).await;
    Mock::given(path("/api/v2/stages")).respond_with(json(fixture("stages.json"))).mount(&pd).await;
    Mock::given(path("/api/v1/users")).respond_with(json(fixture("users.json"))).mount(&pd).await;
    Mock::given(path("/api/v1/dealFields")).respond_with(json(fixture("deal-fields.json"))).mount(&pd).await;
    let cursor = fixture("deals-page-1.json")["additional_data"]["next_cursor"].as_str().unwrap().to_owned();
    Mock::given(path("/api/v2/deals"))
        .and(query_param_is_missing("cursor"))
        .and(query_param_is_missing("updated_since"))
        .respond_with(json(fixture("deals-page-1.json")))
        .mount(&pd)
        .await;
    Mock::given(path("/api/v2/deals"))
        .and(query_param("cursor", cursor.as_str()))
        .respond_with(json(fixture("deals-page-2.json")))
        .mount(&pd)
        .await;
    for (list, name) in [("persons", "persons.json"), ("organizations", "organizations.json")] {
        Mock::given(path(format!("/api/v2/{list}")))
            .and(query_param_is_missing("updated_since"))
            .respond_with(json(fixture(name)))
            .mount(&pd)
            .await;
    }
    let empty = serde_json::json!({ "success": true, "data": [], "additional_data": { "next_cursor": null } });
    Mock::given(path("/api/v2/deals"))
        .and(query_param("status", "open,won,lost,deleted"))
        .respond_with(json(fixture("deals-updated.json")))
        .mount(&pd)
        .await;
    for list in ["persons", "organizations"] {
        Mock::given(path(format!("/api/v2/{list}")))
            .and(query_param("sort_by", "id"))
            .respond_with(json(empty.clone()))
            .with_priority(7)
            .mount(&pd)
            .await;
    }
    Mock::given(path("/api/v1/notes"))
        .and(query_param("deal_id", "101"))
        .respond_with(json(fixture("notes-deal-101.json")))
        .mount(&pd)
        .await;
    Mock::given(path("/api/v1/notes"))
        .respond_with(json(fixture("notes-empty.json")))
        .with_priority(9)
        .mount(&pd)
        .await;
    pd
}

async fn spawn(db: TestDatabase, pd: &MockServer) -> (TestApp, tempfile::TempDir) {
    let base = pd.uri();
    spawn_moved(
        db,
        "pipedrive",
        &[
            ("https://oauth.pipedrive.com/oauth/authorize", format!("{base}/oauth/authorize")),
            ("https://oauth.pipedrive.com/oauth/token", format!("{base}/oauth/token")),
            ("https://oauth.pipedrive.com/oauth/revoke", format!("{base}/oauth/revoke")),
            ("allowed_hosts = [\"*.pipedrive.com\"]", "allowed_hosts = [\"127.0.0.1\"]".to_owned()),
        ],
        &[
            ("PATCHBAY_PIPEDRIVE_CLIENT_ID", "e2e-pipedrive-app"),
            ("PATCHBAY_PIPEDRIVE_CLIENT_SECRET", "e2e-pipedrive-secret"),
        ],
    )
    .await
}

async fn stored(app: &TestApp, team: &TeamId) -> Vec<String> {
    artifacts::ids(&app.platform.db, team, &pid("pipedrive")).await.unwrap()
}

/// SECURITY A10, CONNECTOR-RULES 26: a token response whose `api_domain`
/// is not a Pipedrive host is refused before the token goes there: the
/// account is not asked for, and nothing is made.
#[tokio::test]
async fn an_api_domain_outside_the_allowed_hosts_is_refused_with_no_token_sent() {
    let elsewhere = MockServer::start().await;
    Mock::given(wiremock::matchers::any()).respond_with(ResponseTemplate::new(200)).expect(0).mount(&elsewhere).await;
    // `localhost` is not among the allowed hosts (127.0.0.1 is).
    let pd = fake_pipedrive(&elsewhere.uri().replace("127.0.0.1", "localhost")).await;
    let (app, _providers) = spawn(TestDatabase::sqlite(), &pd).await;
    app.setup_team().await;
    let started = app.browser.post_form("/oauth/pipedrive/start", &[]).await;
    let state = param(&location(&started), "state");
    let back = app.get(&format!("/oauth/pipedrive/callback?code=code-from-the-fake&state={state}")).await;
    let page = back.text().await.unwrap();
    assert!(page.contains("localhost"), "the refusal does not name the host: {page}");
    assert_eq!(count(&app, "installations WHERE state <> 'disconnected'").await, 0);
    assert_eq!(count(&app, "installations").await, 0);
    app.stop().await;
    drop(elsewhere);
}

async fn pipedrive_syncs_end_to_end(db: TestDatabase) {
    // The company's API is the fake itself: the token names its address
    // as the api_domain.
    let pd = fake_pipedrive("http://placeholder").await;
    let mut token = fixture("token.json");
    token["api_domain"] = pd.uri().into();
    Mock::given(method("POST")).and(path("/oauth/token")).respond_with(json(token)).with_priority(1).mount(&pd).await;
    Mock::given(method("POST"))
        .and(path("/oauth/revoke"))
        .and(body_string_contains("token="))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&pd)
        .await;
    let (app, _providers) = spawn(db, &pd).await;
    app.setup_team().await;
    let team = app.admin_team().await;
    connect(&app, "pipedrive").await;
    let display: String = sqlx::query_scalar("SELECT display_name FROM installations WHERE provider = 'pipedrive'")
        .fetch_one(app.platform.db.pool())
        .await
        .unwrap();
    assert_eq!(display, "Acme Inc");

    // The first backfill: only what the whole company sees.
    drained(&app).await;
    assert_eq!(stored(&app, &team).await, ["101", "201", "202", "301"]);

    // A changes run: an edit, and a deleted deal removed.
    sync::enqueue(&app.platform, &team, &pid("pipedrive"), Kind::Incremental).await.unwrap();
    drained(&app).await;
    assert_eq!(stored(&app, &team).await, ["101", "201", "202", "301"]);

    // A person deleted at Pipedrive: the full re-sync lists by id, does
    // not see it, and removes it.
    let mut persons = fixture("persons.json");
    persons["data"].as_array_mut().unwrap().retain(|p| p["id"] != 202);
    Mock::given(path("/api/v2/persons"))
        .and(query_param_is_missing("updated_since"))
        .respond_with(json(persons))
        .with_priority(1)
        .mount(&pd)
        .await;
    crate::sync::stored_an_hour_ago(&app, &team).await;
    sync::enqueue(&app.platform, &team, &pid("pipedrive"), Kind::FullBackfill).await.unwrap();
    drained(&app).await;
    assert_eq!(stored(&app, &team).await, ["101", "201", "301"]);

    // A webhook the admin added with the connection's URL, user and
    // password: the deal is read again; Pipedrive's retry (another
    // `attempt`, the same event id) is one delivery.
    let provider = app.platform.catalog.get(&pid("pipedrive")).unwrap();
    let mut conn = app.platform.db.pool().acquire().await.unwrap();
    let installation =
        platform::store::installations::find(&mut conn, &team, &pid("pipedrive")).await.unwrap().unwrap();
    drop(conn);
    let manual = platform::webhooks::manual(&app.platform, &team, provider, &installation.id).await.unwrap().unwrap();
    let secret = secrecy::ExposeSecret::expose_secret(&manual.secret).to_owned();
    let hook = endpoint(&app, &team, "pipedrive").await.unwrap();
    let own_url = format!("/webhooks/pipedrive/{}", hook.id);
    let mut read = fixture("deal-101.json");
    read["data"]["visible_to"] = 3.into();
    Mock::given(path("/api/v2/deals/101")).respond_with(json(read)).mount(&pd).await;
    let basic = |password: &str| {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("patchbay:{password}"));
        vec![("authorization".to_owned(), format!("Basic {encoded}"))]
    };
    let body = fixture("webhook-deal-updated.json");
    assert_eq!(post(&app, &own_url, &basic(&secret), body.to_string().as_bytes()).await.0, 202);
    let mut retry = body.clone();
    retry["meta"]["attempt"] = 2.into();
    assert_eq!(post(&app, &own_url, &basic(&secret), retry.to_string().as_bytes()).await.0, 202);
    assert_eq!(count(&app, "webhook_deliveries").await, 1, "a retry was taken for a new delivery");
    drained(&app).await;
    let value: String =
        sqlx::query_scalar("SELECT content FROM artifacts WHERE provider = 'pipedrive' AND entity_id = '101'")
            .fetch_one(app.platform.db.pool())
            .await
            .unwrap();
    assert!(value.contains("\"value\":5000"), "{value}");

    // H1, H3: another password, and an endpoint that does not exist, get
    // the same bare 401.
    let forged = post(&app, &own_url, &basic("guessed"), body.to_string().as_bytes()).await;
    assert_eq!(forged, (401, Vec::new()));
    assert_eq!(post(&app, "/webhooks/pipedrive/nope", &basic(&secret), body.to_string().as_bytes()).await, forged);

    let disconnected = app.browser.post_form("/api/disconnect_provider", &[("provider", "pipedrive")]).await;
    assert_eq!(disconnected.status(), StatusCode::OK, "{}", disconnected.text().await.unwrap());
    drained(&app).await;
    assert!(stored(&app, &team).await.is_empty());
    app.stop().await;
    drop(pd);
}
platform::test_on_both_backends!(pipedrive_end_to_end, pipedrive_syncs_end_to_end);
