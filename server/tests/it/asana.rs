//! Asana end to end (issue 24): the real console against a wiremock Asana
//! serving the connector's documented fixtures, through the built-in
//! `asana.toml` with Asana's host moved to the fake. Connect through the
//! OAuth code flow with PKCE and the read scopes, the first backfill of
//! the projects public to their workspace, a changes run by
//! `modified_since`, a deletion found by a full re-sync, and a
//! disconnect that revokes the grant (CONNECTOR-CHECKLIST 9;
//! CONNECTOR-RULES 17, 18, 20, 36; SECURITY A3, D6).

use http::StatusCode;
use platform::{
    ids::TeamId,
    jobs::{Kind, sync},
    store::artifacts,
    testing::TestDatabase,
};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_string_contains, method, path, path_regex, query_param, query_param_is_missing},
};

use crate::{
    common::{TestApp, pid},
    webhooks_providers::{connect, drained, json, param, spawn_moved},
};

fn fixture(name: &str) -> serde_json::Value {
    let file = format!("{}/../connectors/asana/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"))).unwrap()
}

async fn fake_asana() -> MockServer {
    let asana = MockServer::start().await;
    let token = serde_json::json!({
        "access_token": "asana-e2e-access", "token_type": "bearer", "expires_in": 3600,
        "refresh_token": "asana-e2e-refresh", "data": { "id": 1_200_000_000_000_501_u64, "gid": "1200000000000501", "name": "Ana Torres", "email": "ana@acme.example" }
    });
    Mock::given(method("POST")).and(path("/-/oauth_token")).respond_with(json(token)).mount(&asana).await;
    Mock::given(path("/api/1.0/users/me")).respond_with(json(fixture("me.json"))).mount(&asana).await;
    Mock::given(path("/api/1.0/workspaces")).respond_with(json(fixture("workspaces.json"))).mount(&asana).await;
    Mock::given(path("/api/1.0/projects")).respond_with(json(fixture("projects.json"))).mount(&asana).await;
    let offset = fixture("tasks-101-page-1.json")["next_page"]["offset"].as_str().unwrap().to_owned();
    Mock::given(path("/api/1.0/tasks"))
        .and(query_param("project", "1200000000000101"))
        .and(query_param_is_missing("offset"))
        .and(query_param_is_missing("modified_since"))
        .respond_with(json(fixture("tasks-101-page-1.json")))
        .mount(&asana)
        .await;
    Mock::given(path("/api/1.0/tasks"))
        .and(query_param("offset", offset.as_str()))
        .respond_with(json(fixture("tasks-101-page-2.json")))
        .mount(&asana)
        .await;
    for (project, name) in [("1200000000000102", "tasks-102.json"), ("1200000000000103", "tasks-103.json")] {
        Mock::given(path("/api/1.0/tasks"))
            .and(query_param("project", project))
            .and(query_param_is_missing("modified_since"))
            .respond_with(json(fixture(name)))
            .mount(&asana)
            .await;
    }
    Mock::given(path("/api/1.0/tasks"))
        .and(query_param("project", "1200000000000101"))
        .and(query_param_is_missing("offset"))
        .respond_with(json(fixture("tasks-101-modified.json")))
        .with_priority(7)
        .mount(&asana)
        .await;
    Mock::given(path("/api/1.0/tasks"))
        .respond_with(json(serde_json::json!({ "data": [], "next_page": null })))
        .with_priority(8)
        .mount(&asana)
        .await;
    Mock::given(path("/api/1.0/tasks/1200000000001011/stories"))
        .respond_with(json(fixture("stories-task-1.json")))
        .mount(&asana)
        .await;
    Mock::given(path_regex(r"/stories$"))
        .respond_with(json(fixture("stories-empty.json")))
        .with_priority(9)
        .mount(&asana)
        .await;
    Mock::given(method("POST"))
        .and(path("/-/oauth_revoke"))
        .and(body_string_contains("token="))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&asana)
        .await;
    asana
}

async fn stored(app: &TestApp, team: &TeamId) -> Vec<String> {
    artifacts::ids(&app.platform.db, team, &pid("asana")).await.unwrap()
}

async fn asana_syncs_end_to_end(db: TestDatabase) {
    let asana = fake_asana().await;
    let base = asana.uri();
    let (app, _providers) = spawn_moved(
        db,
        "asana",
        &[
            ("https://app.asana.com/-/oauth_authorize", format!("{base}/-/oauth_authorize")),
            ("https://app.asana.com/-/oauth_token", format!("{base}/-/oauth_token")),
            ("https://app.asana.com/-/oauth_revoke", format!("{base}/-/oauth_revoke")),
            ("https://app.asana.com/api/1.0/users/me", format!("{base}/api/1.0/users/me")),
            ("base_url = \"https://app.asana.com/api/1.0\"", format!("base_url = \"{base}/api/1.0\"")),
            ("allowed_hosts = [\"app.asana.com\"]", "allowed_hosts = [\"127.0.0.1\"]".to_owned()),
        ],
        &[("PATCHBAY_ASANA_CLIENT_ID", "e2e-asana-app"), ("PATCHBAY_ASANA_CLIENT_SECRET", "e2e-asana-secret")],
    )
    .await;
    app.setup_team().await;
    let team = app.admin_team().await;
    let authorize = connect(&app, "asana").await;
    assert_eq!(param(&authorize, "scope"), "tasks:read projects:read stories:read workspaces:read users:read");
    assert_eq!(param(&authorize, "code_challenge_method"), "S256");

    // Only the project public to its workspace is indexed.
    drained(&app).await;
    assert_eq!(stored(&app, &team).await, ["1200000000001011", "1200000000001012", "1200000000001013"]);

    sync::enqueue(&app.platform, &team, &pid("asana"), Kind::Incremental).await.unwrap();
    drained(&app).await;
    assert_eq!(stored(&app, &team).await, ["1200000000001011", "1200000000001012", "1200000000001013"]);

    // A task deleted in Asana: the full re-sync does not list it, reads it
    // by gid, gets 404, and removes it.
    let mut page = fixture("tasks-101-page-2.json");
    page["data"] = serde_json::json!([]);
    let offset = fixture("tasks-101-page-1.json")["next_page"]["offset"].as_str().unwrap().to_owned();
    Mock::given(path("/api/1.0/tasks"))
        .and(query_param("offset", offset.as_str()))
        .respond_with(json(page))
        .with_priority(1)
        .mount(&asana)
        .await;
    Mock::given(path("/api/1.0/tasks/1200000000001013"))
        .respond_with(ResponseTemplate::new(404).set_body_json(fixture("error-404.json")))
        .mount(&asana)
        .await;
    crate::sync::stored_an_hour_ago(&app, &team).await;
    sync::enqueue(&app.platform, &team, &pid("asana"), Kind::FullBackfill).await.unwrap();
    drained(&app).await;
    assert_eq!(stored(&app, &team).await, ["1200000000001011", "1200000000001012"]);

    let disconnected = app.browser.post_form("/api/disconnect_provider", &[("provider", "asana")]).await;
    assert_eq!(disconnected.status(), StatusCode::OK, "{}", disconnected.text().await.unwrap());
    drained(&app).await;
    assert!(stored(&app, &team).await.is_empty());
    app.stop().await;
    drop(asana);
}
platform::test_on_both_backends!(asana_end_to_end, asana_syncs_end_to_end);
