//! Twilio end to end (issue 24): the real console against a wiremock
//! Twilio serving the connector's documented fixtures, through the
//! built-in `twilio.toml` with api.twilio.com moved to the fake.
//! Connect with the credential form (the pair checked by fetching the
//! account), the first backfill, a changes run by day, a deletion found by
//! a full re-sync, a status callback signed with the Auth Token, and a
//! disconnect. Then, behind a proxy: the signature is over the public URL
//! (`PATCHBAY_PUBLIC_URL`), not the one the server sees (CONNECTOR-CHECKLIST
//! 9; CONNECTOR-RULES 9, 12, 18, 36, 40; SECURITY H1, H3).

use connector_core::webhooks::twilio_signature;
use http::StatusCode;
use platform::{
    ids::TeamId,
    jobs::{Kind, sync},
    store::{artifacts, users},
    testing::TestDatabase,
};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header, path, query_param, query_param_contains, query_param_is_missing},
};

use crate::{
    common::{TestApp, pid},
    webhooks::count,
    webhooks_providers::{drained, endpoint, json, spawn_moved},
};

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const AUTH_TOKEN: &str = "e2e0twilio0auth0token0000000000a";

fn fixture(name: &str) -> serde_json::Value {
    let file = format!("{}/../connectors/twilio/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"))).unwrap()
}

fn callback(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../connectors/twilio/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn account(rest: &str) -> String {
    format!("/2010-04-01/Accounts/{SID}{rest}")
}

/// HTTP Basic with the account's pair.
fn basic() -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{AUTH_TOKEN}")))
}

/// A Twilio account that answers only its own pair: every message over
/// two pages and every call; one day's new message for a changes run.
async fn fake_twilio() -> MockServer {
    let tw = MockServer::start().await;
    Mock::given(path(account(".json")))
        .and(header("authorization", basic().as_str()))
        .respond_with(json(serde_json::json!({
            "sid": SID, "friendly_name": "Acme Support", "status": "active", "type": "Full",
            "date_created": "Thu, 01 Oct 2026 09:00:00 +0000", "date_updated": "Thu, 01 Oct 2026 09:00:00 +0000",
        })))
        .with_priority(1)
        .mount(&tw)
        .await;
    Mock::given(path_prefix("/2010-04-01/"))
        .respond_with(ResponseTemplate::new(401).set_body_json(fixture("error-401.json")))
        .with_priority(9)
        .mount(&tw)
        .await;
    let mut first = fixture("messages-day-1.json");
    first["next_page_uri"] =
        account("/Messages.json?PageSize=1000&Page=1&PageToken=PASM8c0d2e4f6a8b4c1d9e3f5a7b9c1d3e5f").into();
    let authorized = |p: String| Mock::given(path(p)).and(header("authorization", basic().as_str()));
    authorized(account("/Messages.json"))
        .and(query_param_is_missing("DateSent"))
        .and(query_param_is_missing("PageToken"))
        .respond_with(json(first))
        .with_priority(3)
        .mount(&tw)
        .await;
    authorized(account("/Messages.json"))
        .and(query_param("PageToken", "PASM8c0d2e4f6a8b4c1d9e3f5a7b9c1d3e5f"))
        .respond_with(json(fixture("messages-day-1-page-2.json")))
        .with_priority(3)
        .mount(&tw)
        .await;
    authorized(account("/Calls.json"))
        .and(query_param_is_missing("StartTime"))
        .respond_with(json(fixture("calls-day-1.json")))
        .with_priority(3)
        .mount(&tw)
        .await;
    authorized(account("/Messages.json"))
        .and(query_param_contains("DateSent", "-"))
        .respond_with(json(fixture("messages-day-2.json")))
        .with_priority(3)
        .mount(&tw)
        .await;
    authorized(account("/Calls.json"))
        .and(query_param_contains("StartTime", "-"))
        .respond_with(json(fixture("calls-empty.json")))
        .with_priority(3)
        .mount(&tw)
        .await;
    tw
}

fn path_prefix(prefix: &'static str) -> wiremock::matchers::PathRegexMatcher {
    wiremock::matchers::path_regex(format!("^{prefix}"))
}

async fn spawn_twilio(db: TestDatabase, tw: &MockServer, settings: &[(&str, &str)]) -> (TestApp, tempfile::TempDir) {
    spawn_moved(
        db,
        "twilio",
        &[
            (
                "https://api.twilio.com/2010-04-01/Accounts/{account_sid}.json",
                format!("{}/2010-04-01/Accounts/{{account_sid}}.json", tw.uri()),
            ),
            ("base_url = \"https://api.twilio.com/2010-04-01", format!("base_url = \"{}/2010-04-01", tw.uri())),
            ("allowed_hosts = [\"api.twilio.com\"]", "allowed_hosts = [\"127.0.0.1\"]".to_owned()),
        ],
        settings,
    )
    .await
}

async fn stored(app: &TestApp, team: &TeamId) -> Vec<String> {
    artifacts::ids(&app.platform.db, team, &pid("twilio")).await.unwrap()
}

async fn sync_now(app: &TestApp, team: &TeamId, kind: Kind) {
    sync::enqueue(&app.platform, team, &pid("twilio"), kind).await.unwrap();
    drained(app).await;
}

/// A callback as Twilio sends it to `public_url`, signed with `token`.
fn signed(token: &str, public_url: &str, body: &[u8]) -> Vec<(String, String)> {
    vec![
        ("content-type".into(), "application/x-www-form-urlencoded".into()),
        ("x-twilio-signature".into(), twilio_signature(token.as_bytes(), public_url, body)),
        ("i-twilio-idempotency-token".into(), uuid::Uuid::new_v4().to_string()),
    ]
}

async fn post(app: &TestApp, at: &str, headers: &[(String, String)], body: &[u8]) -> (u16, Vec<u8>) {
    let response = crate::webhooks::post(app, at, headers, body).await;
    (response.status().as_u16(), response.bytes().await.unwrap().to_vec())
}

async fn twilio_connects_syncs_by_day_takes_signed_callbacks_and_disconnects(db: TestDatabase) {
    let tw = fake_twilio().await;
    let (app, _providers) = spawn_twilio(db, &tw, &[]).await;
    app.setup_team().await;
    let team = app.admin_team().await;

    // A wrong token is refused by Twilio, and nothing is made.
    let fields =
        |token: &'static str| vec![("provider", "twilio"), ("values[account_sid]", SID), ("values[auth_token]", token)];
    let refused = app.browser.post_form("/api/connect_provider", &fields("not-the-token")).await;
    assert!(!refused.status().is_success(), "a refused pair connected");
    assert_eq!(count(&app, "installations WHERE state <> 'disconnected'").await, 0);
    let connected = app.browser.post_form("/api/connect_provider", &fields(AUTH_TOKEN)).await;
    assert_eq!(connected.status(), StatusCode::OK, "{}", connected.text().await.unwrap());

    // The first backfill: every message and call.
    drained(&app).await;
    let first = [
        "CA0f1e2d3c4b5a49687f8e9d0c1b2a3948",
        "CA6e5d4c3b2a194f8e7d6c5b4a39281706",
        "SM3f1e9a2b7c4d4e5fa6b7c8d9e0f1a2b3",
        "SM8c0d2e4f6a8b4c1d9e3f5a7b9c1d3e5f",
        "SMa1b2c3d4e5f64a7b8c9d0e1f2a3b4c5d",
    ];
    assert_eq!(stored(&app, &team).await, first);

    // A changes run reads by day and finds the new message.
    sync_now(&app, &team, Kind::Incremental).await;
    let mut with_new = first.to_vec();
    with_new.push("SMd4c3b2a1f0e94d8c7b6a5f4e3d2c1b0a");
    with_new.sort_unstable();
    assert_eq!(stored(&app, &team).await, with_new);

    // A message deleted at Twilio: the full re-sync does not list it,
    // fetches it, gets error 20404, and removes it; the rest is kept.
    Mock::given(path(account("/Messages.json")))
        .and(query_param("PageToken", "PASM8c0d2e4f6a8b4c1d9e3f5a7b9c1d3e5f"))
        .respond_with(json(fixture("messages-empty.json")))
        .with_priority(2)
        .mount(&tw)
        .await;
    Mock::given(path(account("/Messages/SMa1b2c3d4e5f64a7b8c9d0e1f2a3b4c5d.json")))
        .respond_with(ResponseTemplate::new(404).set_body_json(fixture("error-404.json")))
        .with_priority(1)
        .mount(&tw)
        .await;
    let mut live_message = fixture("messages-day-2.json")["messages"][0].clone();
    live_message["status"] = "undelivered".into();
    Mock::given(path(account("/Messages/SMd4c3b2a1f0e94d8c7b6a5f4e3d2c1b0a.json")))
        .respond_with(json(live_message))
        .with_priority(1)
        .mount(&tw)
        .await;
    crate::sync::stored_an_hour_ago(&app, &team).await;
    sync_now(&app, &team, Kind::FullBackfill).await;
    let after_delete: Vec<&str> =
        with_new.iter().copied().filter(|id| *id != "SMa1b2c3d4e5f64a7b8c9d0e1f2a3b4c5d").collect();
    assert_eq!(stored(&app, &team).await, after_delete);

    // A status callback signed with the Auth Token over the endpoint's
    // URL: the message is read again and stored as Twilio has it now.
    let hook = endpoint(&app, &team, "twilio").await.unwrap();
    let own_url = format!("/webhooks/twilio/{}", hook.id);
    let mut read = fixture("message-single.json");
    read["status"] = "read".into();
    read["date_updated"] = "Tue, 01 Dec 2026 08:00:00 +0000".into();
    Mock::given(path(account("/Messages/SM3f1e9a2b7c4d4e5fa6b7c8d9e0f1a2b3.json")))
        .respond_with(json(read))
        .with_priority(1)
        .mount(&tw)
        .await;
    let body = callback("status-callback.form.txt");
    assert_eq!(post(&app, &own_url, &signed(AUTH_TOKEN, &app.url(&own_url), &body), &body).await.0, 202);
    drained(&app).await;
    let status: String =
        sqlx::query_scalar("SELECT content FROM artifacts WHERE entity_id = 'SM3f1e9a2b7c4d4e5fa6b7c8d9e0f1a2b3'")
            .fetch_one(app.platform.db.pool())
            .await
            .unwrap();
    assert!(status.contains("\"status\":\"read\""), "{status}");

    // H1, H3: signed with another token, or sent to an endpoint that does
    // not exist: the same bare 401, and nothing recorded.
    let before = count(&app, "webhook_deliveries").await;
    let forged = post(&app, &own_url, &signed("guessed-token", &app.url(&own_url), &body), &body).await;
    assert_eq!(forged, (401, Vec::new()));
    let elsewhere = "/webhooks/twilio/no-such-endpoint";
    assert_eq!(post(&app, elsewhere, &signed(AUTH_TOKEN, &app.url(elsewhere), &body), &body).await, forged);
    assert_eq!(count(&app, "webhook_deliveries").await, before);

    let disconnected = app.browser.post_form("/api/disconnect_provider", &[("provider", "twilio")]).await;
    assert_eq!(disconnected.status(), StatusCode::OK, "{}", disconnected.text().await.unwrap());
    drained(&app).await;
    assert!(stored(&app, &team).await.is_empty());
    app.stop().await;
}
platform::test_on_both_backends!(
    twilio_end_to_end,
    twilio_connects_syncs_by_day_takes_signed_callbacks_and_disconnects
);

/// SECURITY H1 behind a proxy: Twilio signs the URL it called, the public
/// one (`PATCHBAY_PUBLIC_URL`), not the loopback address the console is
/// reached at: a callback signed over the public URL is taken, one signed
/// over the address the server sees is refused.
#[tokio::test]
async fn twilio_signatures_are_checked_against_the_public_url_behind_a_proxy() {
    let tw = fake_twilio().await;
    let public = "https://patchbay.example.com";
    let (app, _providers) = spawn_twilio(TestDatabase::sqlite(), &tw, &[("PATCHBAY_PUBLIC_URL", public)]).await;
    app.setup_team().await;
    let team = app.admin_team().await;
    // The session cookie is Secure behind https, so the form is sent as
    // the server function would send it.
    let admin = users::list(&app.platform.db, &team).await.unwrap().remove(0);
    let form = [("account_sid".to_owned(), SID.to_owned()), ("auth_token".to_owned(), AUTH_TOKEN.to_owned())].into();
    platform::connect::connect(&app.platform, &admin, &pid("twilio"), &form).await.unwrap();
    drained(&app).await;
    let inbound = fixture("messages-day-1.json")["messages"][1].clone();
    Mock::given(path(account("/Messages/SM8c0d2e4f6a8b4c1d9e3f5a7b9c1d3e5f.json")))
        .respond_with(json(inbound))
        .with_priority(1)
        .mount(&tw)
        .await;
    let hook = endpoint(&app, &team, "twilio").await.unwrap();
    let own_path = format!("/webhooks/twilio/{}", hook.id);
    let body = callback("inbound-message.form.txt");
    let seen_by_server = post(&app, &own_path, &signed(AUTH_TOKEN, &app.url(&own_path), &body), &body).await;
    assert_eq!(seen_by_server, (401, Vec::new()), "a signature over the proxied address was taken");
    let public_url = format!("{public}{own_path}");
    assert_eq!(post(&app, &own_path, &signed(AUTH_TOKEN, &public_url, &body), &body).await.0, 202);
    // Twilio may sign the public URL with its port written out.
    let with_port = format!("{public}:443{own_path}");
    assert_eq!(post(&app, &own_path, &signed(AUTH_TOKEN, &with_port, &body), &body).await.0, 202);
    drained(&app).await;
    assert_eq!(count(&app, "webhook_deliveries").await, 2);
    app.stop().await;
}
