//! Outbound push (DESIGN: Delivering records; SECURITY I4): a team's
//! changes POSTed to its destination in signed batches, at least once,
//! with retries, a dead letter and Retry; private addresses refused and
//! redirects never followed.

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use crate::common;

use common::TestApp;
use platform::testing::TestDatabase;
use serde_json::Value;
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};

/// Adds a destination in the admin's browser: its signing secret, or the
/// refusal's status and words.
async fn add(app: &TestApp, url: &str) -> Result<String, (u16, String)> {
    let added = app.browser.post_form("/api/add_push_destination", &[("url", url)]).await;
    let status = added.status().as_u16();
    let text = added.text().await.unwrap();
    if status == 200 {
        Ok(serde_json::from_str::<Value>(&text).unwrap()["secret"].as_str().unwrap().to_owned())
    } else {
        Err((status, text))
    }
}

/// Runs the push jobs until none is left, letting each retry's pause pass.
async fn deliver(app: &TestApp, rounds: usize) {
    for _ in 0..rounds {
        sqlx::query("UPDATE jobs SET run_after = 0 WHERE kind = 'push' AND state = 'queued'")
            .execute(app.platform.db.pool())
            .await
            .unwrap();
        if app.drain().await.is_empty() {
            return;
        }
    }
}

async fn destination_state(app: &TestApp) -> (String, i64, Option<String>) {
    sqlx::query_as("SELECT state, failures, last_error FROM push_destinations")
        .fetch_one(app.platform.db.pool())
        .await
        .unwrap()
}

fn header(request: &wiremock::Request, name: &str) -> String {
    request.headers.get(name).unwrap().to_str().unwrap().to_owned()
}

/// The batches a destination acknowledged, in the order it got them.
fn acknowledged(requests: &[wiremock::Request], failing: usize) -> Vec<&wiremock::Request> {
    requests.iter().skip(failing).collect()
}

/// SECURITY I4: a destination at a private, loopback, link-local or
/// metadata address is refused, with the setting that would allow it, and
/// so is plain http outside loopback.
#[tokio::test]
async fn i4_private_destinations_are_refused_unless_the_operator_allows_them() {
    let (app, _) = TestApp::with_sandbox_connected(TestDatabase::sqlite(), &[]).await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[fd00::1]/hook",
    ] {
        let (status, words) = add(&app, url).await.unwrap_err();
        assert_eq!(status, 422, "{url}: {words}");
        assert!(words.contains("PATCHBAY_PUSH_ALLOW_PRIVATE=on"), "{url}: {words}");
    }
    let (_, words) = add(&app, "http://kb.example.com/hook").await.unwrap_err();
    assert!(words.contains("Use https"), "{words}");
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM push_destinations").fetch_one(app.platform.db.pool()).await.unwrap();
    assert_eq!(count, 0, "nothing refused was kept");
    app.leave_jobs("the sandbox's backfill is not this test's");
    app.stop().await;

    let (allowed, _) =
        TestApp::with_sandbox_connected(TestDatabase::sqlite(), &[("PATCHBAY_PUSH_ALLOW_PRIVATE", "on")]).await;
    assert!(add(&allowed, "http://127.0.0.1:9/hook").await.is_ok(), "loopback, allowed by the operator");
    allowed.leave_jobs("the sandbox's backfill is not this test's");
    allowed.stop().await;
}

/// Push delivers every change once by batch id, in order and signed,
/// through a destination that fails three times first: the failed
/// attempts and the success carry the same batch id, and later batches
/// follow. The receiver's copy ends with exactly the console's records.
async fn every_batch_arrives_once_by_id_through_failures(db: TestDatabase) {
    let (app, team) = TestApp::with_sandbox_connected(
        db,
        &[("PATCHBAY_PUSH_ALLOW_PRIVATE", "on"), ("PATCHBAY_SANDBOX_ITEMS", "1200")],
    )
    .await;
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(500)).up_to_n_times(3).mount(&server).await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(204)).mount(&server).await;
    let secret = add(&app, &format!("{}/patchbay", server.uri())).await.unwrap();
    assert!(secret.starts_with("pbsig_"));
    app.drain().await; // the sync: 1,200 records, and the push job's first try
    deliver(&app, 10).await;

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 3 + 3, "three failures, then three batches of at most 500: {}", requests.len());
    let ids: Vec<String> = requests.iter().map(|r| header(r, "patchbay-batch")).collect();
    assert_eq!(ids[0], ids[3], "a retry carries its batch's id");
    assert!(ids[..4].iter().all(|id| *id == ids[0]));
    assert_eq!(ids.iter().skip(3).collect::<std::collections::HashSet<_>>().len(), 3, "each batch once by id");
    let mut mirror = std::collections::BTreeMap::new();
    let mut last = 0;
    for request in acknowledged(&requests, 3) {
        // The signature: HMAC-SHA256 over `t.body` with the shown secret.
        let signature = header(request, "patchbay-signature");
        let (t, v1) = signature.strip_prefix("t=").unwrap().split_once(",v1=").unwrap();
        use hmac::{KeyInit as _, Mac as _};
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(&request.body);
        assert_eq!(hex::encode(mac.finalize().into_bytes()), v1, "signed with the destination's secret");
        assert_eq!(header(request, "idempotency-key"), header(request, "patchbay-batch"));
        let batch: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(batch["batch"], header(request, "patchbay-batch").as_str());
        for change in batch["changes"].as_array().unwrap() {
            let seq = change["seq"].as_i64().unwrap();
            assert_eq!(seq, last + 1, "in order, none skipped or repeated");
            last = seq;
            let id = change["entity_id"].as_str().unwrap().to_owned();
            match change["op"].as_str().unwrap() {
                "upsert" => mirror.insert(id, change["record"]["title"].clone()),
                _ => mirror.remove(&id),
            };
        }
    }
    let console: Vec<String> =
        platform::store::artifacts::ids(&app.platform.db, &team, &common::pid("sandbox")).await.unwrap();
    assert_eq!(mirror.keys().cloned().collect::<Vec<_>>(), console);
    assert_eq!(destination_state(&app).await, ("active".into(), 0, None));
    app.stop().await;
}
platform::test_on_both_backends!(push_at_least_once, every_batch_arrives_once_by_id_through_failures);

/// A destination that keeps failing is dead-lettered after eight tries,
/// shown so with the reason, and audited; Retry delivers once it answers.
#[tokio::test]
async fn a_dead_destination_is_dead_lettered_and_retry_delivers() {
    let (app, _) = TestApp::with_sandbox_connected(
        TestDatabase::sqlite(),
        &[("PATCHBAY_PUSH_ALLOW_PRIVATE", "on"), ("PATCHBAY_SANDBOX_ITEMS", "20")],
    )
    .await;
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(503)).mount(&server).await;
    add(&app, &format!("{}/patchbay", server.uri())).await.unwrap();
    app.drain().await;
    deliver(&app, 20).await;
    let (state, failures, error) = destination_state(&app).await;
    assert_eq!((state.as_str(), failures), ("dead", 8));
    assert_eq!(error.as_deref(), Some("it answered HTTP 503"));
    assert_eq!(server.received_requests().await.unwrap().len(), 8, "no more attempts once dead");
    let listed = app.browser.post_form("/api/list_push_destinations", &[]).await.text().await.unwrap();
    assert!(
        listed.contains("Dead-lettered") && listed.contains("8 failures in a row: it answered HTTP 503"),
        "{listed}"
    );
    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_events").fetch_all(app.platform.db.pool()).await.unwrap();
    assert!(actions.iter().any(|a| a == "push.dead_lettered"), "{actions:?}");

    server.reset().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&server).await;
    let id: String =
        sqlx::query_scalar("SELECT id FROM push_destinations").fetch_one(app.platform.db.pool()).await.unwrap();
    let retried = app.browser.post_form("/api/retry_push_destination", &[("id", &id)]).await;
    assert!(retried.status().is_success());
    deliver(&app, 5).await;
    let delivered = server.received_requests().await.unwrap();
    assert_eq!(delivered.len(), 1);
    let batch: Value = serde_json::from_slice(&delivered[0].body).unwrap();
    assert_eq!(batch["changes"].as_array().unwrap().len(), 20, "the dead letter's batch, delivered");
    assert_eq!(destination_state(&app).await, ("active".into(), 0, None));
    app.stop().await;
}

/// SECURITY I4: a destination's redirect is a failure, never followed: the
/// place it points to gets nothing.
#[tokio::test]
async fn i4_a_redirect_from_a_destination_is_not_followed() {
    let (app, _) = TestApp::with_sandbox_connected(
        TestDatabase::sqlite(),
        &[("PATCHBAY_PUSH_ALLOW_PRIVATE", "on"), ("PATCHBAY_SANDBOX_ITEMS", "5")],
    )
    .await;
    let elsewhere = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&elsewhere).await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(307).insert_header("location", format!("{}/stolen", elsewhere.uri())))
        .mount(&server)
        .await;
    add(&app, &format!("{}/patchbay", server.uri())).await.unwrap();
    app.drain().await;
    let (_, failures, error) = destination_state(&app).await;
    assert_eq!(failures, 1);
    assert_eq!(error.as_deref(), Some("it answered with a redirect (HTTP 307), which is never followed"));
    assert!(elsewhere.received_requests().await.unwrap().is_empty(), "the redirect was followed");
    app.leave_jobs("the push job waits to retry the redirected batch");
    app.stop().await;
}
