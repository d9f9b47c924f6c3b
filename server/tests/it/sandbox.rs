//! The sandbox demo provider inside the console: served under `/sandbox`
//! and listed as "Sandbox (demo)" only when it is on, which by default is
//! only where the console is reached through loopback.

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use crate::common;

use std::collections::HashMap;

use common::TestApp;
use platform::testing::TestDatabase;

async fn authorize_page(app: &TestApp) -> reqwest::Response {
    let redirect_uri = app.url("/oauth/sandbox/callback");
    let mut url = url::Url::parse(&app.url("/sandbox/oauth/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", sandbox::CLIENT_ID)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("state", "s")
        .append_pair("code_challenge", &"c".repeat(43))
        .append_pair("code_challenge_method", "S256");
    // No session: the provider's pages are not the console's.
    app.client.get(url).send().await.unwrap()
}

#[tokio::test]
async fn on_loopback_the_sandbox_is_served_without_a_session_and_listed_as_a_card() {
    let app = TestApp::sqlite().await;
    app.setup_team().await;

    let page = authorize_page(&app).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Approve") && html.contains("Deny"), "{html}");
    let cards = app.get("/integrations").await.text().await.unwrap();
    assert!(cards.contains("Sandbox (demo)"), "no sandbox card");
    let provider = app.get("/integrations/sandbox").await.text().await.unwrap();
    assert!(provider.contains(&app.url("/oauth/sandbox/callback")), "the redirect URI is not shown");
    app.stop().await;
}

#[tokio::test]
async fn switched_off_or_behind_a_public_https_url_there_is_no_sandbox() {
    for settings in [[("PATCHBAY_SANDBOX", "off")], [("PATCHBAY_PUBLIC_URL", "https://patchbay.example.com")]] {
        let app = TestApp::spawn_with(TestDatabase::sqlite(), &settings).await;
        app.setup_team().await;
        assert_eq!(authorize_page(&app).await.status(), 404, "{settings:?}");
        let cards = app.get("/integrations").await.text().await.unwrap();
        assert!(!cards.contains("Sandbox (demo)"), "{settings:?}");
        app.stop().await;
    }
}

#[tokio::test]
async fn the_sandbox_on_a_plain_http_public_url_stops_start_up_naming_the_setting() {
    let data = tempfile::tempdir().unwrap();
    let db = TestDatabase::sqlite();
    let env: HashMap<String, String> = [
        ("PATCHBAY_BIND", "127.0.0.1:0"),
        ("PATCHBAY_DATA_DIR", data.path().to_str().unwrap()),
        ("PATCHBAY_PUBLIC_URL", "http://10.1.2.3:3000"),
        ("PATCHBAY_SANDBOX", "on"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let mut config = server::Config::load(env).unwrap();
    config.database_url = db.url().clone();
    let error = server::Application::build(&config).await.unwrap_err();
    assert!(format!("{error:#}").starts_with("PATCHBAY_SANDBOX: the sandbox needs"), "{error:#}");
}
