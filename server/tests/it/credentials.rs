//! Credential forms against the real server, on SQLite and on Postgres,
//! with wiremock standing in for each provider's API: connecting with a
//! key the provider accepts or refuses, timeouts, unreachable and
//! disallowed hosts, masking, replacing the key, editing settings, and
//! disconnecting (CONNECTOR-RULES 22, 29; SECURITY A10, C4, D1).
//!
//! The providers are test fixtures in `tests/fixtures/providers`, loaded
//! through `PATCHBAY_PROVIDERS_DIR` as an operator's files would be.

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use crate::common::{self, pid};

use std::time::Duration;

use common::{Browser, TestApp};
use http::StatusCode;
use platform::{
    ids::TeamId,
    secrets::SecretPath,
    store::installations::{self, Installation, State},
    testing::TestDatabase,
};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header, method, path},
};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/providers");
/// The logos the fixtures name are the built-in ones in `public/logos`.
const SITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../public");

async fn spawn(db: TestDatabase, extra: &[(&str, &str)]) -> TestApp {
    let mut settings = vec![("PATCHBAY_PROVIDERS_DIR", FIXTURES), ("LEPTOS_SITE_ROOT", SITE)];
    settings.extend_from_slice(extra);
    let app = TestApp::spawn_with(db, &settings).await;
    app.setup_team().await;
    app
}

/// One `#[tokio::test]` per backend, each with the fixture providers.
macro_rules! on_both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test]
            async fn on_sqlite() {
                super::$body(super::spawn(platform::testing::TestDatabase::sqlite(), &[]).await).await;
            }

            #[tokio::test]
            async fn on_postgres() {
                let Some(db) = platform::testing::TestDatabase::postgres().await else { return };
                super::$body(super::spawn(db, &[]).await).await;
            }
        }
    };
}

/// A fake Acme Desk that knows one key and answers with one account.
async fn fake_desk(token: &str, account: (&str, &str)) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/me"))
        .and(header("authorization", format!("Bearer {token}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": { "id": account.0, "name": account.1, "plan": "team" }
        })))
        .with_priority(1)
        .mount(&server)
        .await;
    // Any other key is refused, and the answer echoes what it was sent, as
    // some providers' error bodies do.
    Mock::given(method("GET"))
        .and(path("/api/me"))
        .respond_with(|request: &wiremock::Request| {
            let sent = request.headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
            ResponseTemplate::new(401).set_body_json(json!({ "error": format!("invalid token: {sent}") }))
        })
        .with_priority(5)
        .mount(&server)
        .await;
    server
}

fn form<'a>(provider: &'a str, values: &[(&str, &'a str)]) -> Vec<(String, &'a str)> {
    let mut fields = vec![("provider".to_owned(), provider)];
    fields.extend(values.iter().map(|(name, value)| (format!("values[{name}]"), *value)));
    fields
}

async fn post(browser: &Browser, endpoint: &str, provider: &str, values: &[(&str, &str)]) -> reqwest::Response {
    let fields = form(provider, values);
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    browser.post_form(&format!("/api/{endpoint}"), &pairs).await
}

async fn connect(app: &TestApp, provider: &str, values: &[(&str, &str)]) -> reqwest::Response {
    post(&app.browser, "connect_provider", provider, values).await
}

/// The names stored below this team's path for `provider`.
async fn stored(app: &TestApp, team: &TeamId, provider: &str) -> Vec<String> {
    let under = SecretPath::of(team, &[provider]).unwrap();
    app.platform.secrets.list(&under).await.unwrap().into_iter().map(|e| e.path.segments().join("/")).collect()
}

async fn secret(app: &TestApp, team: &TeamId, provider: &str, key: &str) -> Option<String> {
    let at = SecretPath::of(team, &[provider, key]).unwrap();
    app.platform.secrets.get_fresh(&at).await.unwrap().map(|s| s.value.expose_secret().to_owned())
}

async fn installation(app: &TestApp, team: &TeamId, provider: &str) -> Option<Installation> {
    let mut conn = app.platform.db.pool().acquire().await.unwrap();
    installations::find(&mut conn, team, &pid(provider)).await.unwrap()
}

async fn put_cursor(app: &TestApp, team: &TeamId, installation: &Installation, name: &str, value: &str) {
    let mut tx = app.platform.db.begin_write().await.unwrap();
    installations::put_cursor(&mut tx, team, &installation.id, name, value).await.unwrap();
    tx.commit().await.unwrap();
}

async fn text(response: reqwest::Response) -> (StatusCode, String) {
    (response.status(), response.text().await.unwrap())
}

const TOKEN: &str = "acme_live_0123456789abcdef";

async fn a_good_key_is_verified_then_stored_and_shown_connected_and_masked(app: TestApp) {
    let team = app.admin_team().await;
    let desk = fake_desk(TOKEN, ("acct_1", "Acme Support")).await;

    let response =
        connect(&app, "acme-desk", &[("base_url", &desk.uri()), ("workspace", ""), ("api_token", TOKEN)]).await;

    let (status, body) = text(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("Connected as Acme Support"), "{body}");
    // CONNECTOR-RULES 22: the secret is stored, then the installation exists.
    assert_eq!(secret(&app, &team, "acme-desk", "api_token").await.as_deref(), Some(TOKEN));
    let connected = installation(&app, &team, "acme-desk").await.unwrap();
    assert_eq!((connected.state, connected.account_id.as_str()), (State::Connected, "acct_1"));
    assert_eq!(connected.settings.get("base_url"), Some(&desk.uri()));
    assert!(!connected.settings.contains_key("api_token"), "a secret went into the settings");
    // The page shows the connection with the key masked to its last four.
    let page = app.get("/integrations/acme-desk").await.text().await.unwrap();
    assert!(page.contains("Connected as Acme Support"), "{page}");
    assert!(page.contains("••••••••cdef"), "the masked key is not shown");
    assert!(!page.contains(TOKEN) && !page.contains("0123456789"), "more than the last four characters are shown");
    // Connected cards come first.
    let cards = app.get("/integrations").await.text().await.unwrap();
    let acme = cards.find("card-acme-desk").unwrap();
    assert!(cards.find("card-asana").unwrap() > acme, "the connected card is not first");
    assert!(cards.contains("Connected as Acme Support"));
    app.stop().await;
}
on_both_backends!(a_good_key_connects, a_good_key_is_verified_then_stored_and_shown_connected_and_masked);

async fn a_refused_key_is_reported_as_refused_and_nothing_is_stored(app: TestApp) {
    let team = app.admin_team().await;
    let desk = fake_desk(TOKEN, ("acct_1", "Acme Support")).await;

    let response =
        connect(&app, "acme-desk", &[("base_url", &desk.uri()), ("api_token", "acme_live_wrong_key_0000")]).await;

    let (status, body) = text(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("Acme Desk refused the key (HTTP 401)"), "{body}");
    assert!(!body.contains("wrong_key"), "the provider's echo of the key reached the admin: {body}");
    assert!(stored(&app, &team, "acme-desk").await.is_empty(), "a refused key was stored");
    assert_eq!(installation(&app, &team, "acme-desk").await, None, "a half-made installation was left");
    app.stop().await;
}
on_both_backends!(a_refused_key, a_refused_key_is_reported_as_refused_and_nothing_is_stored);

#[tokio::test]
async fn a_provider_that_does_not_answer_in_time_is_reported_and_nothing_is_stored() {
    let app = spawn(TestDatabase::sqlite(), &[("PATCHBAY_PROVIDER_TIMEOUT", "1")]).await;
    let team = app.admin_team().await;
    let slow = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(4)))
        .mount(&slow)
        .await;

    let (status, body) =
        text(connect(&app, "acme-desk", &[("base_url", &slow.uri()), ("api_token", TOKEN)]).await).await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("127.0.0.1 did not answer within 1 second."), "{body}");
    assert!(stored(&app, &team, "acme-desk").await.is_empty());
    assert_eq!(installation(&app, &team, "acme-desk").await, None);
    app.stop().await;
}

#[tokio::test]
async fn an_unreachable_host_is_reported_and_nothing_is_stored() {
    let app = spawn(TestDatabase::sqlite(), &[]).await;
    let team = app.admin_team().await;
    // A port that was free a moment ago: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();

    let base = format!("http://{closed}");
    let (status, body) = text(connect(&app, "acme-desk", &[("base_url", &base), ("api_token", TOKEN)]).await).await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("Could not reach 127.0.0.1"), "{body}");
    assert!(stored(&app, &team, "acme-desk").await.is_empty());
    app.stop().await;
}

async fn a_base_url_outside_the_allowed_hosts_is_refused_before_any_request(app: TestApp) {
    let team = app.admin_team().await;
    let api = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(200)).mount(&api).await;
    let port = api.address().port();

    // SECURITY A10: `localhost` is not the allowed 127.0.0.1, so the key
    // is not sent, though the same server listens there.
    let elsewhere = format!("http://localhost:{port}");
    let response = connect(&app, "acme-pinned", &[("api_url", &elsewhere), ("api_token", TOKEN)]).await;
    let (status, body) = text(response).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("localhost is not a Acme Pinned host"), "{body}");
    assert!(body.contains("api_url"), "the error does not name the field: {body}");
    // A built-in provider: Pylon's tokens go to Pylon's hosts only.
    let response = connect(&app, "pylon", &[("api_url", "https://api.evil.example"), ("api_token", TOKEN)]).await;
    let (status, body) = text(response).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("api.evil.example is not a Pylon host"), "{body}");
    // Plain http is for loopback only.
    let response = connect(&app, "acme-desk", &[("base_url", "http://desk.acme.example"), ("api_token", TOKEN)]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);

    assert!(api.received_requests().await.unwrap().is_empty(), "a request was sent to a host that is not allowed");
    for provider in ["acme-pinned", "pylon", "acme-desk"] {
        assert!(stored(&app, &team, provider).await.is_empty(), "{provider}");
    }
    app.stop().await;
}
on_both_backends!(host_not_allowed, a_base_url_outside_the_allowed_hosts_is_refused_before_any_request);

#[tokio::test]
async fn each_field_is_checked_on_the_server_with_a_message_naming_it() {
    let app = spawn(TestDatabase::sqlite(), &[]).await;
    // (what the form sends, the field the error names, what it says)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: [Case<'_>; 4] = [
        (&[("base_url", "https://desk.acme.example")], "api_token", "Enter the API token."),
        (&[("base_url", "desk.acme.example"), ("api_token", TOKEN)], "base_url", "Enter a full address"),
        (
            &[("base_url", "https://desk.acme.example"), ("workspace", "Not Valid"), ("api_token", TOKEN)],
            "workspace",
            "Workspace is not in the expected form. It looks like support-team.",
        ),
        (
            &[("base_url", "https://user:pw@desk.acme.example"), ("api_token", TOKEN)],
            "base_url",
            "Leave the user name and password out",
        ),
    ];
    for (values, field, message) in cases {
        let (status, body) = text(connect(&app, "acme-desk", values).await).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body.contains(&format!("\"field\":\"{field}\"")) && body.contains(message), "{body}");
    }
    // An OAuth provider and one that is coming have no form.
    let (status, body) = text(connect(&app, "linear", &[("api_token", TOKEN)]).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("Linear connects with OAuth"), "{body}");
    let (_, body) = text(connect(&app, "telegram", &[]).await).await;
    assert!(body.contains("cannot be connected yet"), "{body}");
    let (status, _) = text(connect(&app, "no-such-provider", &[]).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

/// CONNECTOR-RULES 22: a double click, or two admins at once, leave one
/// installation with its key, never a key deleted by the loser's clean-up.
async fn two_connects_at_once_leave_one_installation_with_its_key(app: TestApp) {
    let team = app.admin_team().await;
    let desk = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/me"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "data": { "id": "acct_1", "name": "Acme Support" } }))
                .set_delay(Duration::from_millis(300)),
        )
        .mount(&desk)
        .await;
    let base = desk.uri();
    let values = [("base_url", base.as_str()), ("api_token", TOKEN)];

    let (first, second) = tokio::join!(connect(&app, "acme-desk", &values), connect(&app, "acme-desk", &values));

    let mut statuses = [first.status().as_u16(), second.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 400]);
    let refused = if first.status() == StatusCode::OK { second } else { first };
    assert!(refused.text().await.unwrap().contains("connected already"));
    assert_eq!(installation(&app, &team, "acme-desk").await.unwrap().state, State::Connected);
    assert_eq!(secret(&app, &team, "acme-desk", "api_token").await.as_deref(), Some(TOKEN));
    app.stop().await;
}
on_both_backends!(two_connects_at_once, two_connects_at_once_leave_one_installation_with_its_key);

/// A connect that died between storing its secrets and finishing leaves a
/// claim; a later connect takes it over once it lapses, and starts clean.
#[tokio::test]
async fn a_connect_left_unfinished_by_a_crash_is_taken_over_and_its_keys_replaced() {
    let app = spawn(TestDatabase::sqlite(), &[]).await;
    let team = app.admin_team().await;
    let desk = fake_desk(TOKEN, ("acct_1", "Acme Support")).await;
    let mut conn = app.platform.db.pool().acquire().await.unwrap();
    let claimed = installations::claim(&mut conn, &team, &pid("acme-desk")).await.unwrap();
    let leftover = SecretPath::of(&team, &["acme-desk", "stale_key"]).unwrap();
    app.platform.secrets.put(&leftover, &SecretString::from("stale".to_owned())).await.unwrap();
    let values = [("base_url", desk.uri()), ("api_token", TOKEN.to_owned())];
    let values: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();

    // While the claim is fresh, another connect is refused.
    assert_eq!(connect(&app, "acme-desk", &values).await.status(), StatusCode::BAD_REQUEST);
    let lapsed = time::OffsetDateTime::now_utc().unix_timestamp() - installations::CLAIM_SECONDS - 1;
    sqlx::query("UPDATE installations SET updated_at = $1 WHERE id = $2")
        .bind(lapsed)
        .bind(claimed.id.as_str())
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);

    assert_eq!(connect(&app, "acme-desk", &values).await.status(), StatusCode::OK);
    let connected = installation(&app, &team, "acme-desk").await.unwrap();
    assert_eq!((connected.id, connected.state), (claimed.id, State::Connected));
    assert_eq!(stored(&app, &team, "acme-desk").await, vec!["acme-desk/api_token".to_owned()]);
    app.stop().await;
}

#[tokio::test]
async fn a_basic_auth_provider_sends_the_user_name_and_password_and_stores_only_the_password_as_a_secret() {
    let app = spawn(TestDatabase::sqlite(), &[]).await;
    let team = app.admin_team().await;
    let erp = MockServer::start().await;
    let metadata = format!("{}/odata/standard.odata/$metadata", erp.uri());
    // "Basic " + base64("ivan:пароль-1"), as RFC 7617 sends it (UTF-8).
    Mock::given(method("GET"))
        .and(path("/odata/standard.odata/"))
        .and(header("authorization", "Basic aXZhbjrQv9Cw0YDQvtC70YwtMQ=="))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "odata.metadata": metadata, "value": [] })))
        .with_priority(1)
        .mount(&erp)
        .await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(403)).mount(&erp).await;

    let base = erp.uri();
    let (status, body) =
        text(connect(&app, "acme-erp", &[("base_url", &base), ("username", "ivan"), ("password", "wrong")]).await)
            .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("Acme ERP refused the user name and password (HTTP 403)"), "{body}");

    let values = [("base_url", base.as_str()), ("username", "ivan"), ("password", "пароль-1")];
    let (status, body) = text(connect(&app, "acme-erp", &values).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(stored(&app, &team, "acme-erp").await, vec!["acme-erp/password".to_owned()]);
    let connected = installation(&app, &team, "acme-erp").await.unwrap();
    assert_eq!(connected.display_name, metadata);
    assert_eq!(connected.settings.get("username").map(String::as_str), Some("ivan"));

    // Issue 21: a sync's credentials are the same pair, read at run time
    // from the setting and the secret store, and the kit places them as
    // HTTP Basic: the fake infobase accepts the request a connector makes.
    let provider = app.platform.catalog.get(&pid("acme-erp")).unwrap();
    assert_eq!(provider.placement(), connector_core::auth::Placement::Basic);
    let credentials =
        platform::credentials::connector::for_connection(&app.platform, &team, provider, &connected.settings)
            .unwrap()
            .expect("a basic connection hands its credentials to a connector");
    let http = app.platform.http.connector();
    let url = format!("{base}/odata/standard.odata/");
    let call = connector_core::http::Call { credentials: Some(credentials.as_ref()), ..Default::default() };
    let sent = http.send(call, |client, token| provider.placement().apply(client.get(&url), token)).await;
    assert_eq!(sent.map(|r| r.status().as_u16()), Ok(200));
    // A password replaced meanwhile is read when the provider refuses the
    // old one (SECURITY E3), and nothing else is refreshed.
    app.platform
        .secrets
        .put(&SecretPath::of(&team, &["acme-erp", "password"]).unwrap(), &SecretString::from("new-pass".to_owned()))
        .await
        .unwrap();
    let fresh = credentials.refresh().await.unwrap();
    assert_eq!(fresh.as_deref(), Some("ivan:new-pass"));
    assert_eq!(credentials.refresh().await.unwrap(), None, "the same pair is not a refresh");
    drop(credentials);
    app.stop().await;
}

async fn replacing_the_key_verifies_it_first_and_keeps_the_cursors_of_the_same_account(app: TestApp) {
    let team = app.admin_team().await;
    let desk = fake_desk(TOKEN, ("acct_1", "Acme Support")).await;
    let new_token = "acme_live_fedcba9876543210";
    Mock::given(method("GET"))
        .and(path("/api/me"))
        .and(header("authorization", format!("Bearer {new_token}").as_str()))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ "data": { "id": "acct_1", "name": "Acme Support" } })),
        )
        .with_priority(1)
        .mount(&desk)
        .await;
    assert_eq!(connect(&app, "acme-desk", &[("base_url", &desk.uri()), ("api_token", TOKEN)]).await.status(), 200);
    let connected = installation(&app, &team, "acme-desk").await.unwrap();
    put_cursor(&app, &team, &connected, "incremental", "2026-11-01T00:00:00Z").await;

    // A key the provider refuses changes nothing.
    let response =
        post(&app.browser, "replace_credentials", "acme-desk", &[("api_token", "acme_live_refused_00000")]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(secret(&app, &team, "acme-desk", "api_token").await.as_deref(), Some(TOKEN));

    let response = post(&app.browser, "replace_credentials", "acme-desk", &[("api_token", new_token)]).await;
    let (status, body) = text(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("The new credentials are saved."), "{body}");
    assert_eq!(secret(&app, &team, "acme-desk", "api_token").await.as_deref(), Some(new_token));
    let cursors = installations::cursors(&app.platform.db, &team, &connected.id).await.unwrap();
    assert_eq!(cursors.get("incremental").map(String::as_str), Some("2026-11-01T00:00:00Z"));
    let page = app.get("/integrations/acme-desk").await.text().await.unwrap();
    assert!(page.contains("••••••••3210"), "the page does not show the new key's mask");
    app.stop().await;
}
on_both_backends!(replace_credentials, replacing_the_key_verifies_it_first_and_keeps_the_cursors_of_the_same_account);

async fn editing_settings_keeps_cursors_for_the_same_account_and_clears_them_for_another(app: TestApp) {
    let team = app.admin_team().await;
    let first = fake_desk(TOKEN, ("acct_1", "Acme Support")).await;
    let same_account = fake_desk(TOKEN, ("acct_1", "Acme Support")).await;
    let other_account = fake_desk(TOKEN, ("acct_2", "Acme Sales")).await;
    assert_eq!(connect(&app, "acme-desk", &[("base_url", &first.uri()), ("api_token", TOKEN)]).await.status(), 200);
    let connected = installation(&app, &team, "acme-desk").await.unwrap();
    put_cursor(&app, &team, &connected, "incremental", "w1").await;

    let edit = |base: String, workspace: &'static str| {
        let browser = &app.browser;
        async move {
            let values = [("base_url", base.as_str()), ("workspace", workspace)];
            text(post(browser, "edit_settings", "acme-desk", &values).await).await
        }
    };
    let (status, body) = edit(same_account.uri(), "support").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let edited = installation(&app, &team, "acme-desk").await.unwrap();
    assert_eq!(edited.settings.get("base_url"), Some(&same_account.uri()));
    assert_eq!(edited.settings.get("workspace").map(String::as_str), Some("support"));
    let cursors = installations::cursors(&app.platform.db, &team, &connected.id).await.unwrap();
    assert_eq!(cursors.len(), 1, "the cursors of the same account were lost");
    // The key kept working with the new settings: it was sent to them.
    assert_eq!(same_account.received_requests().await.unwrap().len(), 1);

    let (status, body) = edit(other_account.uri(), "sales").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("different account"), "{body}");
    let edited = installation(&app, &team, "acme-desk").await.unwrap();
    assert_eq!((edited.account_id.as_str(), edited.display_name.as_str()), ("acct_2", "Acme Sales"));
    assert!(installations::cursors(&app.platform.db, &team, &connected.id).await.unwrap().is_empty());

    // Settings the provider refuses change nothing.
    let (status, _) = edit("http://127.0.0.1:9".into(), "sales").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(installation(&app, &team, "acme-desk").await.unwrap().settings, edited.settings);
    app.stop().await;
}
on_both_backends!(edit_settings, editing_settings_keeps_cursors_for_the_same_account_and_clears_them_for_another);

async fn disconnect_wipes_every_stored_key_and_cursor_and_a_reconnect_starts_clean(app: TestApp) {
    let team = app.admin_team().await;
    let desk = fake_desk(TOKEN, ("acct_1", "Acme Support")).await;
    assert_eq!(connect(&app, "acme-desk", &[("base_url", &desk.uri()), ("api_token", TOKEN)]).await.status(), 200);
    let connected = installation(&app, &team, "acme-desk").await.unwrap();
    put_cursor(&app, &team, &connected, "incremental", "w1").await;
    put_cursor(&app, &team, &connected, "backfill", "page-7").await;
    // A key some connector code wrote beside the form's, and one of another provider.
    let extra = SecretPath::of(&team, &["acme-desk", "webhook_secret"]).unwrap();
    app.platform.secrets.put(&extra, &SecretString::from("whsec_123".to_owned())).await.unwrap();
    let neighbour = SecretPath::of(&team, &["acme-desk-eu", "api_token"]).unwrap();
    app.platform.secrets.put(&neighbour, &SecretString::from("other".to_owned())).await.unwrap();

    let response = app.browser.post_form("/api/disconnect_provider", &[("provider", "acme-desk")]).await;
    let (status, body) = text(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("2 stored keys deleted"), "{body}");

    // CONNECTOR-RULES 29: every key and cursor of the connection is gone.
    assert!(stored(&app, &team, "acme-desk").await.is_empty());
    assert!(app.platform.secrets.get_fresh(&neighbour).await.unwrap().is_some(), "another provider's key was deleted");
    assert!(installations::cursors(&app.platform.db, &team, &connected.id).await.unwrap().is_empty());
    let gone = installation(&app, &team, "acme-desk").await.unwrap();
    assert_eq!(gone.state, State::Disconnected);
    assert!(gone.settings.is_empty() && gone.account_id.is_empty());
    let page = app.get("/integrations/acme-desk").await.text().await.unwrap();
    assert!(page.contains("Not connected") && page.contains("Verify and connect"));
    let events = platform::store::audit::latest(&app.platform.db, &team, 10).await.unwrap();
    assert_eq!(events[0].action, "installation.disconnected");
    assert_eq!(events[0].actor.as_deref(), Some(common::ADMIN_NAME));
    // Disconnecting again is refused in words.
    let (status, body) =
        text(app.browser.post_form("/api/disconnect_provider", &[("provider", "acme-desk")]).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("Acme Desk is not connected."), "{body}");

    // A reconnect re-activates the same row, with no cursor left over.
    assert_eq!(connect(&app, "acme-desk", &[("base_url", &desk.uri()), ("api_token", TOKEN)]).await.status(), 200);
    let again = installation(&app, &team, "acme-desk").await.unwrap();
    assert_eq!((again.id, again.state), (connected.id.clone(), State::Connected));
    assert!(installations::cursors(&app.platform.db, &team, &connected.id).await.unwrap().is_empty());
    app.stop().await;
}
on_both_backends!(disconnect, disconnect_wipes_every_stored_key_and_cursor_and_a_reconnect_starts_clean);

/// SECURITY C4: members see the connection but cannot change it.
async fn c4_members_can_view_but_not_connect_replace_edit_or_disconnect(app: TestApp) {
    let team = app.admin_team().await;
    let desk = fake_desk(TOKEN, ("acct_1", "Acme Support")).await;
    let member = app.member("Mo Member", "mo@example.com").await;

    let values = [("base_url", desk.uri()), ("api_token", TOKEN.to_owned())];
    let values: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(post(&member, "connect_provider", "acme-desk", &values).await.status(), StatusCode::FORBIDDEN);
    assert!(stored(&app, &team, "acme-desk").await.is_empty());
    assert_eq!(connect(&app, "acme-desk", &values).await.status(), StatusCode::OK);
    for (endpoint, values) in [
        ("replace_credentials", &[("api_token", "acme_live_member_key_000")][..]),
        ("edit_settings", &[("base_url", "https://desk.acme.example")][..]),
        ("connect_provider", &values[..]),
    ] {
        assert_eq!(post(&member, endpoint, "acme-desk", values).await.status(), StatusCode::FORBIDDEN, "{endpoint}");
    }
    for endpoint in ["/api/disconnect_provider", "/api/check_connection"] {
        let response = member.post_form(endpoint, &[("provider", "acme-desk")]).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{endpoint}");
    }
    assert_eq!(installation(&app, &team, "acme-desk").await.unwrap().state, State::Connected);
    assert_eq!(secret(&app, &team, "acme-desk", "api_token").await.as_deref(), Some(TOKEN));
    // The member's page shows the connection, masked, and no forms.
    let page = member.get("/integrations/acme-desk").await.text().await.unwrap();
    assert!(page.contains("Connected as Acme Support") && page.contains("••••••••cdef"));
    assert!(page.contains("Only admins of your team can change or disconnect it."));
    assert!(!page.contains("Replace credentials") && !page.contains("Disconnect…"));
    assert!(!page.contains("Check connection"));
    app.stop().await;
}
on_both_backends!(c4_members, c4_members_can_view_but_not_connect_replace_edit_or_disconnect);

/// Check connection asks the provider with the stored key and settings,
/// and says in words when the key is refused or reaches another account;
/// it changes nothing stored either way.
#[tokio::test]
async fn check_connection_asks_the_provider_with_what_is_stored() {
    let app = spawn(TestDatabase::sqlite(), &[]).await;
    let team = app.admin_team().await;
    let desk = fake_desk(TOKEN, ("acct_1", "Acme Support")).await;
    let uri = desk.uri();
    assert_eq!(connect(&app, "acme-desk", &[("base_url", &uri), ("api_token", TOKEN)]).await.status(), StatusCode::OK);
    let check = || app.browser.post_form("/api/check_connection", &[("provider", "acme-desk")]);

    let (status, body) = text(check().await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("The connection works: the provider answers as Acme Support."), "{body}");
    let sent = desk.received_requests().await.unwrap();
    assert_eq!(sent.last().unwrap().headers["authorization"], format!("Bearer {TOKEN}").as_str());

    // The key was revoked at the provider.
    desk.reset().await;
    Mock::given(method("GET"))
        .and(path("/api/me"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({ "error": "revoked" })))
        .up_to_n_times(1)
        .mount(&desk)
        .await;
    let (status, body) = text(check().await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("Acme Desk refused the key (HTTP 401)"), "{body}");
    assert!(!body.contains(TOKEN), "the key was echoed");

    // The key now reaches another account.
    Mock::given(method("GET"))
        .and(path("/api/me"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "data": { "id": "acct_2", "name": "Other" } })))
        .mount(&desk)
        .await;
    let (status, body) = text(check().await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("now answers as Other (account acct_2), not as the connected Acme Support"), "{body}");

    let kept = installation(&app, &team, "acme-desk").await.unwrap();
    assert_eq!((kept.state, kept.account_id.as_str()), (State::Connected, "acct_1"));
    assert_eq!(secret(&app, &team, "acme-desk", "api_token").await.as_deref(), Some(TOKEN));
    app.stop().await;
}

#[tokio::test]
async fn the_provider_page_shows_what_it_syncs_its_docs_and_for_oauth_the_redirect_uri() {
    let app = spawn(TestDatabase::sqlite(), &[("PATCHBAY_PUBLIC_URL", "https://patchbay.example.com")]).await;

    let page = app.get("/integrations/linear").await.text().await.unwrap();
    assert!(page.contains("https://patchbay.example.com/oauth/linear/callback"), "no redirect URI");
    assert!(page.contains("href=\"https://linear.app/developers\"") || page.contains("Linear API documentation"));
    assert!(page.contains("href=\"/integrations\""), "no way back");
    let page = app.get("/integrations/1c").await.text().await.unwrap();
    assert!(page.contains("cannot connect to 1C:Enterprise yet"), "{page}");
    let page = app.get("/integrations/acme-desk").await.text().await.unwrap();
    for expected in
        ["name=\"values[base_url]\"", "type=\"url\"", "type=\"password\"", "pattern=\"[a-z0-9][a-z0-9\\-]*\"", "Syncs"]
    {
        assert!(page.contains(expected), "the form lacks {expected}");
    }
    let missing = app.get("/integrations/no-such-provider").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

/// SECURITY D1: a stored key never appears in a page, its hydration data,
/// a server function's answer, a header, or a log line, including when the
/// provider echoes it back and when it sits in the request's URL.
#[tokio::test]
async fn d1_a_canary_key_never_appears_in_pages_responses_headers_or_logs() {
    let logs = platform::testing::capture_logs();
    let app = spawn(TestDatabase::sqlite(), &[]).await;
    let canary = format!("canary{}", uuid::Uuid::new_v4().simple());
    let refused = format!("canary{}", uuid::Uuid::new_v4().simple());
    let in_url = format!("canary{}", uuid::Uuid::new_v4().simple());
    let desk = fake_desk(&canary, ("acct_1", "Acme Support")).await;
    let bots = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(404)).mount(&bots).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();

    let mut seen: Vec<String> = Vec::new();
    let keep = |response: reqwest::Response| async move {
        let headers = format!("{:?}", response.headers());
        let body = response.text().await.unwrap();
        format!("{headers}\n{body}")
    };
    let base = desk.uri();
    seen.push(keep(connect(&app, "acme-desk", &[("base_url", &base), ("api_token", &refused)]).await).await);
    seen.push(keep(connect(&app, "acme-desk", &[("base_url", &base), ("api_token", &canary)]).await).await);
    seen.push(keep(post(&app.browser, "replace_credentials", "acme-desk", &[("api_token", &refused)]).await).await);
    seen.push(keep(post(&app.browser, "replace_credentials", "acme-desk", &[("api_token", &canary)]).await).await);
    seen.push(keep(post(&app.browser, "edit_settings", "acme-desk", &[("base_url", &base)]).await).await);
    for bot_base in [bots.uri(), format!("http://{closed}")] {
        seen.push(keep(connect(&app, "acme-bot", &[("base_url", &bot_base), ("token", &in_url)]).await).await);
    }
    for page in ["/integrations", "/integrations/acme-desk", "/integrations/acme-bot"] {
        seen.push(keep(app.get(page).await).await);
    }
    seen.push(keep(app.browser.post_form("/api/provider", &[("id", "acme-desk")]).await).await);
    seen.push(keep(app.browser.post_form("/api/integrations", &[]).await).await);
    let connection = platform::connect::describe(&app.platform, &app.admin_team().await, &pid("acme-desk")).await;
    seen.push(format!("{connection:?} {:?}", app.platform));
    // A form posted without JavaScript is answered with a redirect that
    // carries its error: the key must not ride along in that URL.
    let fields = form("acme-desk", &[("base_url", &base), ("api_token", &refused)]);
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    seen.push(
        keep(app.browser.send_form_as_html("/api/connect_provider", &pairs, "/integrations/acme-desk").await).await,
    );
    app.stop().await;

    assert!(seen[1].contains("Connected as Acme Support"), "the canary key did not connect: {}", seen[1]);
    for (i, text) in seen.iter().enumerate() {
        for key in [&canary, &refused, &in_url] {
            assert!(!text.contains(key.as_str()), "a key leaked in capture {i}: {text}");
        }
    }
    let logged = logs.text();
    assert!(logged.contains("acme-desk"), "nothing was captured, so nothing was proven");
    for key in [&canary, &refused, &in_url] {
        assert!(!logged.contains(key.as_str()), "a key was logged");
    }
}
