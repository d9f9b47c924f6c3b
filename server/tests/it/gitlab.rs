//! GitLab end to end (issue 24), as a self-managed instance: an
//! operator's `gitlab.toml` in `PATCHBAY_PROVIDERS_DIR` that is the
//! built-in file with gitlab.com replaced by the instance's address
//! (here a wiremock GitLab under `/gitlab`, serving the connector's
//! documented fixtures). Connect through the OAuth code flow, the first
//! backfill, a changes run, a deletion found by a full re-sync, a signed
//! webhook for a change, and a disconnect that revokes the token at the
//! instance (CONNECTOR-CHECKLIST 9; CONNECTOR-RULES 17, 18, 19, 36, 40;
//! SECURITY D6, H1, H3).

use http::StatusCode;
use platform::{
    ids::TeamId,
    jobs::{Kind, sync},
    store::{artifacts, installations},
    testing::TestDatabase,
};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_string_contains, header, method, path, path_regex, query_param, query_param_is_missing},
};

use crate::{
    common::{TestApp, pid},
    webhooks::count,
    webhooks_providers::{connect, drained, endpoint, json, param, post, spawn_moved},
};

/// Where the instance serves GitLab: under a relative URL root.
const ROOT: &str = "/gitlab";

fn fixture(name: &str) -> serde_json::Value {
    let file = format!("{}/../connectors/gitlab/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"))).unwrap()
}

fn api(rest: &str) -> String {
    format!("{ROOT}/api/v4{rest}")
}

/// The instance as the first backfill finds it: the token and user
/// endpoints, three projects listed by id, their items and comments.
async fn fake_gitlab() -> MockServer {
    let gl = MockServer::start().await;
    let token = serde_json::json!({
        "access_token": "glpat-oauth-e2e-access", "token_type": "Bearer", "expires_in": 7200,
        "refresh_token": "gl-e2e-refresh", "scope": "read_api", "created_at": 1_764_500_000
    });
    Mock::given(method("POST"))
        .and(path(format!("{ROOT}/oauth/token")))
        .and(body_string_contains("grant_type=authorization_code"))
        .respond_with(json(token))
        .mount(&gl)
        .await;
    let user = serde_json::json!({ "id": 201, "username": "ana.torres", "name": "Ana Torres", "state": "active" });
    Mock::given(path(api("/user")))
        .and(header("authorization", "Bearer glpat-oauth-e2e-access"))
        .respond_with(json(user))
        .mount(&gl)
        .await;

    let mut projects: Vec<serde_json::Value> = fixture("projects-1.json").as_array().unwrap().clone();
    projects.extend(fixture("projects-2.json").as_array().unwrap().iter().cloned());
    Mock::given(path(api("/projects")))
        .and(query_param("membership", "true"))
        .and(query_param_is_missing("id_after"))
        .respond_with(json(serde_json::json!([projects[0]])))
        .mount(&gl)
        .await;
    for (at, project) in projects.iter().enumerate() {
        let id = project["id"].as_u64().unwrap();
        let next = projects.get(at + 1).map_or(serde_json::json!([]), |p| serde_json::json!([p]));
        Mock::given(path(api("/projects")))
            .and(query_param("id_after", id.to_string()))
            .respond_with(json(next))
            .mount(&gl)
            .await;
        Mock::given(path(api(&format!("/projects/{id}")))).respond_with(json(project.clone())).mount(&gl).await;
    }
    for (project, issues, merge_requests) in [
        (101, "issues-101.json", "merge-requests-101.json"),
        (102, "issues-102.json", "merge-requests-empty.json"),
        (103, "issues-103.json", "merge-requests-empty.json"),
    ] {
        for (segment, name) in [("issues", issues), ("merge_requests", merge_requests)] {
            Mock::given(path(api(&format!("/projects/{project}/{segment}"))))
                .and(query_param_is_missing("updated_after"))
                .respond_with(json(fixture(name)))
                .mount(&gl)
                .await;
            Mock::given(path(api(&format!("/projects/{project}/{segment}"))))
                .and(query_param("order_by", "updated_at"))
                .respond_with(json(serde_json::json!([])))
                .mount(&gl)
                .await;
        }
    }
    Mock::given(path(api("/projects/101/issues/1/notes")))
        .respond_with(json(fixture("notes-issue-101-1.json")))
        .mount(&gl)
        .await;
    Mock::given(path_regex(r"/notes$")).respond_with(json(fixture("notes-empty.json"))).mount(&gl).await;
    Mock::given(method("POST"))
        .and(path(format!("{ROOT}/oauth/revoke")))
        .and(body_string_contains("token="))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({})))
        .expect(1)
        .mount(&gl)
        .await;
    gl
}

async fn stored(app: &TestApp, team: &TeamId) -> Vec<String> {
    artifacts::ids(&app.platform.db, team, &pid("gitlab")).await.unwrap()
}

async fn title(app: &TestApp, id: &str) -> String {
    sqlx::query_scalar("SELECT title FROM artifacts WHERE provider = 'gitlab' AND entity_id = $1")
        .bind(id)
        .fetch_one(app.platform.db.pool())
        .await
        .unwrap()
}

async fn sync_now(app: &TestApp, team: &TeamId, kind: Kind) {
    sync::enqueue(&app.platform, team, &pid("gitlab"), kind).await.unwrap();
    drained(app).await;
}

fn hook_headers(token: &str, event: &str, delivery: &str) -> Vec<(String, String)> {
    vec![
        ("x-gitlab-token".into(), token.into()),
        ("x-gitlab-event".into(), event.into()),
        ("idempotency-key".into(), delivery.into()),
        ("x-gitlab-instance".into(), "https://gitlab.example.com".into()),
    ]
}

async fn gitlab_syncs_end_to_end_from_a_self_managed_instance(db: TestDatabase) {
    let gl = fake_gitlab().await;
    let base = format!("{}{ROOT}", gl.uri());
    let (app, _providers) = spawn_moved(
        db,
        "gitlab",
        &[
            ("https://gitlab.com/oauth/authorize", format!("{base}/oauth/authorize")),
            ("https://gitlab.com/oauth/token", format!("{base}/oauth/token")),
            ("https://gitlab.com/oauth/revoke", format!("{base}/oauth/revoke")),
            ("https://gitlab.com/api/v4/user", format!("{base}/api/v4/user")),
            ("base_url = \"https://gitlab.com/api/v4\"", format!("base_url = \"{base}/api/v4\"")),
            ("allowed_hosts = [\"gitlab.com\"]", "allowed_hosts = [\"127.0.0.1\"]".to_owned()),
        ],
        &[("PATCHBAY_GITLAB_CLIENT_ID", "e2e-gitlab-app"), ("PATCHBAY_GITLAB_CLIENT_SECRET", "e2e-gitlab-app-secret")],
    )
    .await;
    app.setup_team().await;
    let team = app.admin_team().await;

    // Connect: PKCE and the read-only scope, the card named by the user.
    let authorize = connect(&app, "gitlab").await;
    assert!(authorize.starts_with(&format!("{base}/oauth/authorize?")), "{authorize}");
    assert_eq!(param(&authorize, "scope"), "read_api");
    assert_eq!(param(&authorize, "code_challenge_method"), "S256");
    let mut conn = app.platform.db.pool().acquire().await.unwrap();
    let installation = installations::find(&mut conn, &team, &pid("gitlab")).await.unwrap().unwrap();
    drop(conn);
    assert_eq!((installation.account_id.as_str(), installation.display_name.as_str()), ("201", "ana.torres"));

    // The first backfill: public and internal projects' items, not the
    // confidential issue nor the private project's.
    drained(&app).await;
    assert_eq!(stored(&app, &team).await, ["5001", "5003", "7004", "9007", "9008"]);
    assert_eq!(title(&app, "5001").await, "acme/web#1: Checkout button does nothing on Safari");

    // A changes run: an edit, and an issue made confidential.
    Mock::given(path(api("/projects/101/issues")))
        .and(query_param("order_by", "updated_at"))
        .respond_with(json(fixture("issues-101-changes.json")))
        .with_priority(1)
        .mount(&gl)
        .await;
    sync_now(&app, &team, Kind::Incremental).await;
    assert_eq!(stored(&app, &team).await, ["5001", "7004", "9007", "9008"]);
    assert_eq!(title(&app, "5001").await, "acme/web#1: Checkout button does nothing on Safari 18");

    // A merge request deleted at GitLab: the full re-sync does not list
    // it, looks it up, gets 404, and removes it; the rest is kept.
    let mut issues = fixture("issues-101.json");
    issues[0] = fixture("issue-101-1.json");
    issues[2] = fixture("issues-101-changes.json")[1].clone();
    Mock::given(path(api("/projects/101/issues")))
        .and(query_param("order_by", "created_at"))
        .respond_with(json(issues))
        .with_priority(1)
        .mount(&gl)
        .await;
    let merge_requests = serde_json::json!([fixture("merge-requests-101.json")[0]]);
    Mock::given(path(api("/projects/101/merge_requests")))
        .and(query_param("order_by", "created_at"))
        .respond_with(json(merge_requests))
        .with_priority(1)
        .mount(&gl)
        .await;
    Mock::given(path(api("/projects/101/merge_requests/8")))
        .respond_with(ResponseTemplate::new(404).set_body_json(serde_json::json!({ "message": "404 Not found" })))
        .mount(&gl)
        .await;
    // What was stored an hour ago, as a pass only prunes what was stored
    // before it started (less a margin for replicas' clocks).
    crate::sync::stored_an_hour_ago(&app, &team).await;
    sync_now(&app, &team, Kind::FullBackfill).await;
    assert_eq!(stored(&app, &team).await, ["5001", "7004", "9007"]);

    // A webhook: the admin pastes the connection's URL and secret token
    // into the project's settings; a merge request event is read back by
    // number and stored without a sync.
    let provider = app.platform.catalog.get(&pid("gitlab")).unwrap();
    let manual = platform::webhooks::manual(&app.platform, &team, provider, &installation.id).await.unwrap().unwrap();
    let hook = endpoint(&app, &team, "gitlab").await.unwrap();
    let own_url = format!("/webhooks/gitlab/{}", hook.id);
    assert_eq!(manual.url, app.url(&own_url));
    let mut renamed = fixture("merge-requests-101.json")[0].clone();
    renamed["title"] = "Fix Safari checkout handler for 18.2".into();
    renamed["updated_at"] = "2026-12-01T08:00:00.000Z".into();
    Mock::given(path(api("/projects/101/merge_requests/7"))).respond_with(json(renamed)).mount(&gl).await;
    let body = fixture("hook-merge-request.json").to_string().into_bytes();
    let secret = secrecy::ExposeSecret::expose_secret(&manual.secret).to_owned();
    let accepted = post(&app, &own_url, &hook_headers(&secret, "Merge Request Hook", "e2e-1"), &body).await;
    assert_eq!(accepted.0, 202);
    drained(&app).await;
    assert_eq!(title(&app, "9007").await, "acme/web!7: Fix Safari checkout handler for 18.2");

    // H1, H3: a wrong token and an unknown endpoint get the same answer,
    // and nothing is recorded.
    let before = count(&app, "webhook_deliveries").await;
    let forged = post(&app, &own_url, &hook_headers("guessed-token", "Merge Request Hook", "e2e-2"), &body).await;
    assert_eq!(forged, (401, Vec::new()));
    let unknown =
        post(&app, "/webhooks/gitlab/not-an-endpoint", &hook_headers(&secret, "Merge Request Hook", "e2e-3"), &body)
            .await;
    assert_eq!(unknown, forged);
    assert_eq!(count(&app, "webhook_deliveries").await, before);

    // Disconnect: the token is revoked at the instance (`expect(1)`), and
    // every record goes.
    let disconnected = app.browser.post_form("/api/disconnect_provider", &[("provider", "gitlab")]).await;
    assert_eq!(disconnected.status(), StatusCode::OK, "{}", disconnected.text().await.unwrap());
    drained(&app).await;
    assert!(stored(&app, &team).await.is_empty());
    app.stop().await;
    drop(gl);
}
platform::test_on_both_backends!(gitlab_end_to_end, gitlab_syncs_end_to_end_from_a_self_managed_instance);
