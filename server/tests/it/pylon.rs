//! Pylon end to end (issue 24): the real console against the connector's
//! fake Pylon organization (serving its documented fixtures), through the
//! built-in `pylon.toml` with Pylon's hosts moved to the fake. Connect
//! with the credential form (the token checked by `GET /me`), the first
//! backfill over 30-day windows, a changes run by update, a deletion
//! found by a full re-sync, and a disconnect that wipes the records
//! (CONNECTOR-CHECKLIST 9; CONNECTOR-RULES 9, 12, 17, 18, 36).

use std::sync::Arc;

use connector_pylon::fake::FakePylon;
use http::StatusCode;
use platform::{
    ids::TeamId,
    jobs::{Kind, sync},
    store::artifacts,
    testing::TestDatabase,
};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header, path, path_regex},
};

use crate::{
    common::{TestApp, pid},
    webhooks::count,
    webhooks_providers::{drained, json, spawn_moved},
};

const TOKEN: &str = "pylon_api_e2e0token0000000000000000";

fn fixture(name: &str) -> serde_json::Value {
    let file = format!("{}/../connectors/pylon/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"))).unwrap()
}

/// The fixtures' issues, created and updated `days` ago and spread an
/// hour apart, so each falls in a window whatever the day.
fn issues_days_ago(days: i64) -> Vec<serde_json::Value> {
    let at = |hours: i64| {
        let when = time::OffsetDateTime::now_utc() - time::Duration::days(days) + time::Duration::hours(hours);
        connector_core::paging::utc_rfc3339(when)
    };
    ["issues-window-1.json", "issues-window-1-page-2.json", "issues-window-2.json"]
        .iter()
        .flat_map(|name| fixture(name)["data"].as_array().unwrap().clone())
        .enumerate()
        .map(|(n, mut issue)| {
            let n = i64::try_from(n).unwrap();
            issue["created_at"] = at(n).into();
            issue["updated_at"] = at(n).into();
            issue
        })
        .collect()
}

async fn stored(app: &TestApp, team: &TeamId) -> Vec<String> {
    artifacts::ids(&app.platform.db, team, &pid("pylon")).await.unwrap()
}

async fn pylon_connects_syncs_by_window_and_disconnects(db: TestDatabase) {
    let server = MockServer::start().await;
    Mock::given(path("/me"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(json(fixture("me.json")))
        .mount(&server)
        .await;
    Mock::given(path("/me"))
        .respond_with(ResponseTemplate::new(401).set_body_json(fixture("error-401.json")))
        .with_priority(9)
        .mount(&server)
        .await;
    // Issues from 40 days ago: the backfill must walk past the first window.
    let fake = Arc::new(FakePylon::new(issues_days_ago(40), fixture("error-404.json")));
    fake.messages.lock().unwrap().push(("8f3e2a1c-6b4d-4e9f-a2c7-1d5b3e9f0a41".into(), fixture("messages-41.json")));
    Mock::given(path_regex("^/issues"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(connector_core::testing::Shared(fake.clone()))
        .mount(&server)
        .await;
    let local = format!("pattern = 'http://127\\.0\\.0\\.1:[0-9]+'\nexample = \"{}\"", server.uri());
    let (app, _providers) = spawn_moved(
        db,
        "pylon",
        &[
            ("pattern = 'https://api(\\.eu)?\\.usepylon\\.com'\nexample = \"https://api.usepylon.com\"", local),
            (
                "allowed_hosts = [\"api.usepylon.com\", \"api.eu.usepylon.com\"]",
                "allowed_hosts = [\"127.0.0.1\"]".to_owned(),
            ),
            // The fake has no rate limit: a full pass walks about sixty
            // windows, which Pylon's 20 searches a minute spread over
            // three minutes.
            ("requests = 30\nper_seconds = 60", "requests = 6000\nper_seconds = 60".to_owned()),
            ("path = \"/issues/search\"\nrequests = 20", "path = \"/issues/search\"\nrequests = 6000".to_owned()),
            (
                "path = \"/issues/*/messages\"\nrequests = 20",
                "path = \"/issues/*/messages\"\nrequests = 6000".to_owned(),
            ),
        ],
        &[],
    )
    .await;
    app.setup_team().await;
    let team = app.admin_team().await;

    // A wrong token is refused by Pylon, and nothing is made.
    let fields = |token: &'static str, url: &str| {
        vec![
            ("provider".to_owned(), "pylon".to_owned()),
            ("values[api_url]".to_owned(), url.to_owned()),
            ("values[api_token]".to_owned(), token.to_owned()),
        ]
    };
    let send = async |token: &'static str| {
        let pairs = fields(token, &server.uri());
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        app.browser.post_form("/api/connect_provider", &pairs).await
    };
    assert!(!send("pylon_api_wrong").await.status().is_success(), "a refused token connected");
    assert_eq!(count(&app, "installations WHERE state <> 'disconnected'").await, 0);
    let connected = send(TOKEN).await;
    assert_eq!(connected.status(), StatusCode::OK, "{}", connected.text().await.unwrap());
    let display: String = sqlx::query_scalar("SELECT display_name FROM installations WHERE provider = 'pylon'")
        .fetch_one(app.platform.db.pool())
        .await
        .unwrap();
    assert_eq!(display, "Northwind Robotics");

    // The first backfill reaches the issues in the second window back.
    drained(&app).await;
    let mut all: Vec<String> =
        fake.issues.lock().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect();
    all.sort();
    assert_eq!(stored(&app, &team).await, all);
    let messages: String =
        sqlx::query_scalar("SELECT content FROM artifacts WHERE entity_id = '8f3e2a1c-6b4d-4e9f-a2c7-1d5b3e9f0a41'")
            .fetch_one(app.platform.db.pool())
            .await
            .unwrap();
    assert!(messages.contains("Maya Ortiz") && !messages.contains("RTM-00417"), "{messages}");

    // An issue updated now: the changes run searches by update and finds it.
    {
        let mut issues = fake.issues.lock().unwrap();
        issues[0]["title"] = "Warehouse dashboard shows stale inventory (again)".into();
        issues[0]["updated_at"] = connector_core::paging::utc_rfc3339(time::OffsetDateTime::now_utc()).into();
    }
    let searches_before = fake.searches.lock().unwrap().len();
    sync::enqueue(&app.platform, &team, &pid("pylon"), Kind::Incremental).await.unwrap();
    drained(&app).await;
    let title: String =
        sqlx::query_scalar("SELECT title FROM artifacts WHERE entity_id = '8f3e2a1c-6b4d-4e9f-a2c7-1d5b3e9f0a41'")
            .fetch_one(app.platform.db.pool())
            .await
            .unwrap();
    assert_eq!(title, "#41: Warehouse dashboard shows stale inventory (again)");
    let searched = fake.searches.lock().unwrap()[searches_before..].to_vec();
    assert!(searched.iter().all(|s| s["filter"]["subfilters"][0]["field"] == "updated_at"), "{searched:?}");

    // An issue deleted at Pylon: the full re-sync does not see it, reads
    // it by id, gets 404, and removes it.
    let gone = fake.issues.lock().unwrap().remove(1)["id"].as_str().unwrap().to_owned();
    crate::sync::stored_an_hour_ago(&app, &team).await;
    sync::enqueue(&app.platform, &team, &pid("pylon"), Kind::FullBackfill).await.unwrap();
    drained(&app).await;
    all.retain(|id| *id != gone);
    assert_eq!(stored(&app, &team).await, all);

    let disconnected = app.browser.post_form("/api/disconnect_provider", &[("provider", "pylon")]).await;
    assert_eq!(disconnected.status(), StatusCode::OK, "{}", disconnected.text().await.unwrap());
    drained(&app).await;
    assert!(stored(&app, &team).await.is_empty());
    app.stop().await;
}
platform::test_on_both_backends!(pylon_end_to_end, pylon_connects_syncs_by_window_and_disconnects);
