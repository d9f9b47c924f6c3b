//! An `api_key` connection syncs with the key in the secret store: Chatwoot
//! against a wiremock Chatwoot serving the connector's documented fixtures
//! (SECURITY C3, E3; CONNECTOR-RULES 32).

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use crate::common::{self, pid};

use std::collections::BTreeMap;

use common::TestApp;
use platform::{
    ids::{TeamId, UserId},
    jobs::sync,
    jobs::{self, Kind, State},
    secrets::SecretPath,
    store::artifacts,
    store::installations,
    testing::TestDatabase,
};
use secrecy::SecretString;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header, path, query_param},
};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../connectors/chatwoot/tests/fixtures");

fn fixture(name: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap()).unwrap()
}

/// A Chatwoot account 7 that answers only `key`.
async fn chatwoot(key: &str) -> MockServer {
    let server = MockServer::start().await;
    for (page, name) in
        [("1", "conversations-page-1.json"), ("2", "conversations-page-2.json"), ("3", "conversations-page-3.json")]
    {
        Mock::given(path("/api/v1/accounts/7/conversations"))
            .and(query_param("page", page))
            .and(header("api_access_token", key))
            .respond_with(ResponseTemplate::new(200).set_body_json(fixture(name)))
            .mount(&server)
            .await;
    }
    Mock::given(path("/api/v1/accounts/7/conversations"))
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({ "error": "Invalid Access Token" })))
        .mount(&server)
        .await;
    server
}

fn key_path(team: &TeamId) -> SecretPath {
    SecretPath::of(team, &["chatwoot", "api_access_token"]).unwrap()
}

/// Connects Chatwoot as the connect form would leave it (the form itself
/// wants an https address, which a local fake cannot have): settings on
/// the installation, the key in the secret store.
async fn connect(app: &TestApp, team: &TeamId, server: &MockServer, key: &str) {
    let admin: String = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(common::ADMIN_EMAIL)
        .fetch_one(app.platform.db.pool())
        .await
        .unwrap();
    app.platform.secrets.put(&key_path(team), &SecretString::from(key.to_owned())).await.unwrap();
    let settings = BTreeMap::from([("base_url".to_owned(), server.uri()), ("account_id".to_owned(), "7".to_owned())]);
    let mut conn = app.platform.db.pool().acquire().await.unwrap();
    let claim = installations::claim(&mut conn, team, &pid("chatwoot")).await.unwrap();
    let link = installations::Link { account_id: "1", display_name: "Ana Agent", settings: &settings };
    installations::complete(&mut conn, team, &claim, &link, &UserId::parse(&admin).unwrap()).await.unwrap();
}

async fn sync_once(app: &TestApp, team: &TeamId) -> jobs::Job {
    let id = sync::enqueue(&app.platform, team, &pid("chatwoot"), Kind::FullBackfill).await.unwrap().id().to_owned();
    jobs::drain(&app.platform, "test-worker").await.unwrap();
    jobs::get(&app.platform.db, team, &id).await.unwrap().unwrap()
}

/// The stored key is read when the job runs, sent as `api_access_token`,
/// and every conversation is stored with its deep link.
async fn an_api_key_connection_backfills_with_its_stored_key(db: TestDatabase) {
    let app = TestApp::spawn_with(db, &[]).await;
    app.setup_team().await;
    let team = app.admin_team().await;
    let server = chatwoot("cw_live_key_1").await;
    connect(&app, &team, &server, "cw_live_key_1").await;
    let job = sync_once(&app, &team).await;
    assert_eq!((job.state, job.progress_done, job.progress_total, job.items), (State::Completed, 3, Some(3), 3));
    assert_eq!(artifacts::ids(&app.platform.db, &team, &pid("chatwoot")).await.unwrap(), ["1", "2", "3"]);
    let listed = artifacts::list(&app.platform.db, &team, &pid("chatwoot"), 10, 0).await.unwrap();
    let first = listed.iter().find(|a| a.entity_id == "1").unwrap();
    assert_eq!(first.url, format!("{}/app/accounts/7/conversations/1", server.uri()));
    app.stop().await;
}
platform::test_on_both_backends!(backfill, an_api_key_connection_backfills_with_its_stored_key);

/// SECURITY E3, CONNECTOR-RULES 32: a refused key fails the job for good,
/// in words that say what to do; a key an admin replaced meanwhile is read
/// at the next run, not a copy from when the job was queued.
#[tokio::test]
async fn a_refused_key_fails_plainly_and_a_replaced_one_is_used_next() {
    let app = TestApp::spawn_with(TestDatabase::sqlite(), &[]).await;
    app.setup_team().await;
    let team = app.admin_team().await;
    let server = chatwoot("cw_live_key_2").await;
    connect(&app, &team, &server, "cw_revoked_key").await;
    let failed = sync_once(&app, &team).await;
    assert_eq!((failed.state, failed.error_class.as_deref()), (State::Failed, Some("permanent")));
    let message = failed.last_error.unwrap();
    assert!(message.contains("refused the credentials (HTTP 401): replace the credentials"), "{message}");
    assert!(!message.contains("cw_revoked_key"), "the key is in the error");
    assert!(artifacts::ids(&app.platform.db, &team, &pid("chatwoot")).await.unwrap().is_empty());

    app.platform.secrets.put(&key_path(&team), &SecretString::from("cw_live_key_2".to_owned())).await.unwrap();
    let job = sync_once(&app, &team).await;
    assert_eq!((job.state, job.items), (State::Completed, 3));
    app.leave_jobs("the failed backfill is what this test checks");
    app.stop().await;
}

/// SECURITY E3: a job reads the key when it runs, not when it is queued.
/// The job is queued while the old key is stored; an admin replaces the
/// key before a worker takes the job; every request it sends carries the
/// new key, and the sync completes. A copy taken at enqueue time would
/// send the old key and be refused.
#[tokio::test]
async fn e3_a_job_queued_before_its_key_is_replaced_runs_with_the_new_key() {
    let app = TestApp::spawn_with(TestDatabase::sqlite(), &[]).await;
    app.setup_team().await;
    let team = app.admin_team().await;
    let server = chatwoot("cw_live_key_4").await;
    connect(&app, &team, &server, "cw_replaced_key_4").await;
    let id = sync::enqueue(&app.platform, &team, &pid("chatwoot"), Kind::FullBackfill).await.unwrap().id().to_owned();
    let queued = jobs::get(&app.platform.db, &team, &id).await.unwrap().unwrap();
    assert_eq!(queued.state, State::Queued);
    assert!(!queued.payload.to_string().contains("cw_replaced_key_4"), "the key was copied into the job");

    app.platform.secrets.put(&key_path(&team), &SecretString::from("cw_live_key_4".to_owned())).await.unwrap();
    jobs::drain(&app.platform, "test-worker").await.unwrap();
    let job = jobs::get(&app.platform.db, &team, &id).await.unwrap().unwrap();
    assert_eq!((job.state, job.items), (State::Completed, 3), "{:?}", job.last_error);
    let sent: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.headers.get("api_access_token").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned())
        .collect();
    assert!(!sent.is_empty());
    assert!(sent.iter().all(|key| key == "cw_live_key_4"), "a request carried another key: {sent:?}");
    app.stop().await;
}

/// SECURITY G2: a provider's `Retry-After` that is huge (past `u64`, or
/// just under `i64::MAX`, which overflowed the next run time), a date in
/// the year 9999, or garbage, is clamped: the sync is queued again within
/// a day and a minute, never in the past and never centuries away.
#[tokio::test]
async fn g2_a_huge_or_garbage_retry_after_on_a_sync_is_clamped() {
    for asked in ["18446744073709551615", "9223372036854775806", "Fri, 31 Dec 9999 23:59:59 GMT", "soon"] {
        let app = TestApp::spawn_with(TestDatabase::sqlite(), &[]).await;
        app.setup_team().await;
        let team = app.admin_team().await;
        let server = MockServer::start().await;
        Mock::given(path("/api/v1/accounts/7/conversations"))
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", asked))
            .mount(&server)
            .await;
        connect(&app, &team, &server, "cw_live_key_3").await;

        let before = time::OffsetDateTime::now_utc().unix_timestamp();
        let job = sync_once(&app, &team).await;
        assert_eq!((job.state, job.error_class.as_deref()), (State::Queued, Some("transient")), "{asked}");
        let wait = job.run_after - before;
        assert!((1..=86_400 + 60).contains(&wait), "Retry-After {asked} queued the sync {wait} s away");
        app.leave_jobs("the sync queued again is what this test checks");
        app.stop().await;
    }
}

/// CONNECTOR-RULES 39: a conversation that cannot be mapped is left out
/// and named; the rest of its page is stored, and the job completes with a
/// partial error the admin can read.
#[tokio::test]
async fn an_unmappable_record_is_left_out_and_named_in_a_partial_error() {
    let app = TestApp::spawn_with(TestDatabase::sqlite(), &[]).await;
    app.setup_team().await;
    let team = app.admin_team().await;
    let server = MockServer::start().await;
    let mut first = fixture("conversations-page-1.json");
    for field in ["created_at", "last_activity_at", "updated_at"] {
        first["data"]["payload"][0][field] = 0.into();
    }
    for (page, body) in
        [("1", first), ("2", fixture("conversations-page-2.json")), ("3", fixture("conversations-page-3.json"))]
    {
        Mock::given(path("/api/v1/accounts/7/conversations"))
            .and(query_param("page", page))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server)
            .await;
    }
    connect(&app, &team, &server, "cw_live_key_3").await;
    let job = sync_once(&app, &team).await;
    assert_eq!((job.state, job.error_class.as_deref(), job.items), (State::Completed, Some("partial"), 2));
    let note = job.last_error.unwrap();
    assert!(note.contains("1 record could not be read") && note.contains("conversation 1"), "{note}");
    assert_eq!(artifacts::ids(&app.platform.db, &team, &pid("chatwoot")).await.unwrap(), ["2", "3"]);
    app.stop().await;
}

/// A Basic-auth connection, end to end: the admin connects the sandbox's
/// password flavour through its credential form (the pair verified at the
/// sandbox over HTTP Basic), and the backfill the connect queued syncs
/// every public item with the pair read from the secret store; a wrong
/// password is refused at the form and leaves no installation.
#[tokio::test]
async fn a_basic_auth_connection_connects_through_its_form_and_syncs() {
    let settings = [("PATCHBAY_SANDBOX_ITEMS", "250"), ("PATCHBAY_SANDBOX_BASIC", "demo:sandbox-pass-1")];
    let mut all = vec![("LEPTOS_SITE_ROOT", common::SITE)];
    all.extend_from_slice(&settings);
    let app = TestApp::spawn_with(TestDatabase::sqlite(), &all).await;
    app.setup_team().await;
    let team = app.admin_team().await;
    let browser = &app.browser;
    let post = async |password: &str| {
        let fields = [("provider", "sandbox-basic"), ("values[username]", "demo"), ("values[password]", password)];
        browser.post_form("/api/connect_provider", &fields).await
    };
    let refused = post("wrong-pass").await;
    let status = refused.status();
    let body = refused.text().await.unwrap();
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("401") || body.contains("refused"), "the admin is not told why: {body}");
    assert!(!body.contains("wrong-pass"), "the form echoed the password");
    let mut conn = app.platform.db.pool().acquire().await.unwrap();
    let none = installations::find(&mut conn, &team, &pid("sandbox-basic")).await.unwrap();
    assert!(none.is_none_or(|i| !i.is_active()), "a refused connect left an installation");
    drop(conn);

    let connected = post("sandbox-pass-1").await;
    assert!(connected.status().is_success(), "{}", connected.text().await.unwrap());
    let ran = jobs::drain(&app.platform, "test-worker").await.unwrap();
    assert!(matches!(ran.as_slice(), [(_, State::Completed)]), "{ran:?}");
    let sandbox = app.sandbox.as_ref().unwrap();
    let mut stored = artifacts::ids(&app.platform.db, &team, &pid("sandbox-basic")).await.unwrap();
    stored.sort();
    let mut public = sandbox.public_item_ids();
    public.sort();
    assert_eq!(stored, public);
    app.stop().await;
}
