//! Teamwork.com end to end (issue 24): the real console against a
//! wiremock Teamwork serving the connector's documented fixtures, through
//! the built-in `teamwork.toml` with the App Login Flow moved to the fake.
//! The site's address comes from a nested field of the token response
//! (`installation.apiEndPoint`): one outside the allowed hosts is refused
//! before the token goes there. Then the first backfill, a changes run
//! with a privacy flip, a deletion found by a full re-sync, a signed
//! webhook, and a disconnect (CONNECTOR-CHECKLIST 9; CONNECTOR-RULES 17,
//! 18, 26, 36, 44; SECURITY A10, H1, H3).

use connector_core::webhooks::{Encoding, Verifier, sign};
use http::StatusCode;
use platform::{
    ids::TeamId,
    jobs::{Kind, sync},
    store::artifacts,
    testing::TestDatabase,
};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path, path_regex, query_param, query_param_is_missing},
};

use crate::{
    common::{TestApp, location, pid},
    webhooks::count,
    webhooks_providers::{connect, drained, endpoint, json, param, post, spawn_moved},
};

const TASKS: &str = "/projects/api/v3/tasks.json";

fn fixture(name: &str) -> serde_json::Value {
    let file = format!("{}/../connectors/teamwork/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"))).unwrap()
}

/// The login service and the site on one fake; the token names `site` as
/// the installation's API endpoint.
async fn fake_teamwork(site: Option<&str>) -> MockServer {
    let tw = MockServer::start().await;
    let mut token = fixture("token.json");
    token["installation"]["apiEndPoint"] = format!("{}/", site.map_or_else(|| tw.uri(), str::to_owned)).into();
    Mock::given(method("POST")).and(path("/launchpad/v1/token.json")).respond_with(json(token)).mount(&tw).await;
    Mock::given(path("/account.json")).respond_with(json(fixture("account.json"))).mount(&tw).await;
    for (page, name) in [("1", "tasks-page-1.json"), ("2", "tasks-page-2.json")] {
        Mock::given(path(TASKS))
            .and(query_param("page", page))
            .and(query_param_is_missing("updatedAfter"))
            .respond_with(json(fixture(name)))
            .mount(&tw)
            .await;
    }
    Mock::given(path(TASKS))
        .and(query_param("orderBy", "createdat"))
        .respond_with(json(fixture("tasks-updated.json")))
        .with_priority(7)
        .mount(&tw)
        .await;
    Mock::given(path("/projects/api/v3/tasks/1/comments.json"))
        .respond_with(json(fixture("comments-1.json")))
        .mount(&tw)
        .await;
    Mock::given(path_regex(r"/comments\.json$"))
        .respond_with(json(fixture("comments-empty.json")))
        .with_priority(9)
        .mount(&tw)
        .await;
    tw
}

async fn spawn(db: TestDatabase, tw: &MockServer) -> (TestApp, tempfile::TempDir) {
    let base = tw.uri();
    spawn_moved(
        db,
        "teamwork",
        &[
            ("https://www.teamwork.com/launchpad/login", format!("{base}/launchpad/login")),
            ("https://www.teamwork.com/launchpad/v1/token.json", format!("{base}/launchpad/v1/token.json")),
            ("allowed_hosts = [\"*.teamwork.com\"]", "allowed_hosts = [\"127.0.0.1\"]".to_owned()),
        ],
        &[
            ("PATCHBAY_TEAMWORK_CLIENT_ID", "e2e-teamwork-app"),
            ("PATCHBAY_TEAMWORK_CLIENT_SECRET", "e2e-teamwork-secret"),
        ],
    )
    .await
}

async fn stored(app: &TestApp, team: &TeamId) -> Vec<String> {
    artifacts::ids(&app.platform.db, team, &pid("teamwork")).await.unwrap()
}

/// SECURITY A10, CONNECTOR-RULES 26, 44: `installation.apiEndPoint`, a
/// nested field, is the API's host: one outside the allowed hosts is
/// refused, the account is never asked for there, and nothing is made.
#[tokio::test]
async fn a_nested_api_endpoint_outside_the_allowed_hosts_is_refused_with_no_token_sent() {
    let elsewhere = MockServer::start().await;
    Mock::given(wiremock::matchers::any()).respond_with(ResponseTemplate::new(200)).expect(0).mount(&elsewhere).await;
    let tw = fake_teamwork(Some(&elsewhere.uri().replace("127.0.0.1", "localhost"))).await;
    let (app, _providers) = spawn(TestDatabase::sqlite(), &tw).await;
    app.setup_team().await;
    let started = app.browser.post_form("/oauth/teamwork/start", &[]).await;
    let state = param(&location(&started), "state");
    let page =
        app.get(&format!("/oauth/teamwork/callback?code=code-from-the-fake&state={state}")).await.text().await.unwrap();
    assert!(page.contains("localhost"), "the refusal does not name the host: {page}");
    assert_eq!(count(&app, "installations").await, 0);
    app.stop().await;
    drop(elsewhere);
}

async fn teamwork_syncs_end_to_end(db: TestDatabase) {
    let tw = fake_teamwork(None).await;
    let (app, _providers) = spawn(db, &tw).await;
    app.setup_team().await;
    let team = app.admin_team().await;
    connect(&app, "teamwork").await;
    let display: String = sqlx::query_scalar("SELECT display_name FROM installations WHERE provider = 'teamwork'")
        .fetch_one(app.platform.db.pool())
        .await
        .unwrap();
    assert_eq!(display, "Acme Corp");

    // The first backfill: the private task is not indexed.
    drained(&app).await;
    assert_eq!(stored(&app, &team).await, ["1", "3"]);

    // A changes run: an edit, and a task made private removed.
    sync::enqueue(&app.platform, &team, &pid("teamwork"), Kind::Incremental).await.unwrap();
    drained(&app).await;
    assert_eq!(stored(&app, &team).await, ["1"]);

    // Task 1 deleted at Teamwork: the full re-sync does not list it, reads
    // it by id, gets 404, and removes it.
    let mut empty = fixture("tasks-page-2.json");
    empty["tasks"] = serde_json::json!([]);
    Mock::given(path(TASKS))
        .and(query_param_is_missing("updatedAfter"))
        .respond_with(json(empty))
        .with_priority(1)
        .mount(&tw)
        .await;
    Mock::given(path("/projects/api/v3/tasks/1.json"))
        .respond_with(ResponseTemplate::new(404).set_body_json(fixture("error-404.json")))
        .mount(&tw)
        .await;
    crate::sync::stored_an_hour_ago(&app, &team).await;
    sync::enqueue(&app.platform, &team, &pid("teamwork"), Kind::FullBackfill).await.unwrap();
    drained(&app).await;
    assert!(stored(&app, &team).await.is_empty());

    // A webhook signed with the connection's secret as its token: task 3,
    // open again, is read by id and stored.
    let provider = app.platform.catalog.get(&pid("teamwork")).unwrap();
    let mut conn = app.platform.db.pool().acquire().await.unwrap();
    let installation = platform::store::installations::find(&mut conn, &team, &pid("teamwork")).await.unwrap().unwrap();
    drop(conn);
    let manual = platform::webhooks::manual(&app.platform, &team, provider, &installation.id).await.unwrap().unwrap();
    let secret = secrecy::ExposeSecret::expose_secret(&manual.secret).to_owned();
    let mut task = fixture("task-1.json");
    task["task"] = fixture("tasks-page-2.json")["tasks"][0].clone();
    Mock::given(path("/projects/api/v3/tasks/3.json")).respond_with(json(task)).mount(&tw).await;
    let own_url = format!("/webhooks/teamwork/{}", endpoint(&app, &team, "teamwork").await.unwrap().id);
    let verifier = Verifier::HmacSha256 {
        header: "x-projects-signature".into(),
        prefix: String::new(),
        encoding: Encoding::Hex,
        signed_at: None,
        tolerance_seconds: 300,
    };
    let body = fixture("webhook-task-updated.json").to_string().into_bytes();
    let headers = sign(&verifier, secret.as_bytes(), "t-1", time::OffsetDateTime::now_utc(), &body);
    assert_eq!(post(&app, &own_url, &headers, &body).await.0, 202);
    drained(&app).await;
    assert_eq!(stored(&app, &team).await, ["3"]);
    let forged = sign(&verifier, b"guessed-token", "t-2", time::OffsetDateTime::now_utc(), &body);
    assert_eq!(post(&app, &own_url, &forged, &body).await, (401, Vec::new()));

    let disconnected = app.browser.post_form("/api/disconnect_provider", &[("provider", "teamwork")]).await;
    assert_eq!(disconnected.status(), StatusCode::OK, "{}", disconnected.text().await.unwrap());
    drained(&app).await;
    assert!(stored(&app, &team).await.is_empty());
    app.stop().await;
}
platform::test_on_both_backends!(teamwork_end_to_end, teamwork_syncs_end_to_end);
