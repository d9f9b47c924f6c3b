//! What the admin sees of syncing, through the console's own endpoints:
//! the provider page's sync panel and its live event stream, "Sync now"
//! and "Full re-sync", `/activity` and the items view (SECURITY C1, C4,
//! D1, F6).

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use crate::common::{self, pid};

use std::time::Duration;

use app::models::{
    integration::{CardStatus, IntegrationCard, Saved},
    sync::{Activity, ItemsPage, JobState, SyncStatus},
};
use common::{Browser, TestApp};
use connector_core::source::{Change, Record};
use http::StatusCode;
use platform::{
    ids::TeamId,
    jobs::sync,
    jobs::{self, ErrorClass, Kind, State},
    store::artifacts,
    store::installations,
    testing::TestDatabase,
};

const NO_LIMIT: (&str, &str) = ("PATCHBAY_SANDBOX_RATE_LIMIT", "0");

async fn status(browser: &Browser) -> (StatusCode, String) {
    let response = browser.post_form("/api/sync_status", &[("provider", "sandbox")]).await;
    (response.status(), response.text().await.unwrap())
}

async fn sync_status(browser: &Browser) -> SyncStatus {
    let (code, body) = status(browser).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    serde_json::from_str(&body).unwrap()
}

async fn start(browser: &Browser, kind: &str) -> reqwest::Response {
    browser.post_form("/api/start_sync", &[("provider", "sandbox"), ("kind", kind)]).await
}

async fn drain(app: &TestApp) {
    for (id, state) in jobs::drain(&app.platform, "test-worker").await.unwrap() {
        assert_eq!(state, State::Completed, "job {id}");
    }
}

/// A job of the connection that ended for good with `message`.
async fn failed_job(app: &TestApp, team: &TeamId, kind: Kind, message: &str) -> platform::ids::JobId {
    let id = sync::enqueue(&app.platform, team, &pid("sandbox"), kind).await.unwrap().id().to_owned();
    let job = jobs::claim(&app.platform.db, "test-worker", sync::SYNC_KINDS, Duration::from_secs(60)).await.unwrap();
    assert_eq!(job.map(|j| j.id), Some(id.clone()));
    let ended = jobs::fail(&app.platform.db, &id, "test-worker", ErrorClass::Permanent, message, Duration::ZERO);
    assert_eq!(ended.await.unwrap(), Some(State::Failed));
    id
}

/// The panel after the first backfill: the job completed at 100%, the
/// counts per entity type, the last sync and the next one in 30 minutes,
/// rendered into the provider page too.
async fn the_panel_shows_a_completed_backfill_with_its_counts_and_times(db: TestDatabase) {
    let (app, _team) = TestApp::with_sandbox_connected(db, &[("PATCHBAY_SANDBOX_ITEMS", "250"), NO_LIMIT]).await;
    app.sandbox.as_ref().unwrap().set_item_private(3, true);
    let before = sync_status(&app.browser).await;
    let queued = before.current.unwrap();
    assert_eq!((queued.kind.as_str(), queued.state), ("full_backfill", JobState::Queued));
    assert!(before.counts.is_empty() && before.last_success.is_none());
    drain(&app).await;

    let status = sync_status(&app.browser).await;
    assert!(status.syncs && status.can_manage);
    let job = status.current.clone().unwrap();
    assert_eq!((job.state, job.done, job.total, job.items), (JobState::Completed, 250, Some(250), 249));
    assert_eq!((job.percent(), job.progress()), (Some(100), "250 of 250 records read".to_owned()));
    assert_eq!(status.counts.len(), 1);
    assert_eq!((status.counts[0].entity_type.as_str(), status.total_records()), ("item", 249));
    assert!(status.last_success.as_deref().is_some_and(|s| s.ends_with("(now)") || s.contains(" ago)")), "{status:?}");
    assert!(status.next_sync.as_deref().is_some_and(|s| s.contains("(in 30 min)")), "{status:?}");
    assert!(status.errors.is_empty());

    let page = app.get("/integrations/sandbox").await.text().await.unwrap();
    for expected in [
        "Last successful sync",
        r#"<progress aria-label="Sync progress" max="250" value="250">"#,
        "250 of 250 records read (100%)",
        "View synced records",
        "Sync now",
        "Full re-sync",
    ] {
        assert!(page.contains(expected), "the provider page lacks {expected:?}");
    }
    app.stop().await;
}
platform::test_on_both_backends!(panel, the_panel_shows_a_completed_backfill_with_its_counts_and_times);

/// SECURITY C4, F6: members see the panel but cannot start a sync; two
/// "Sync now" clicks at once make one job, and the second click is told so.
async fn sync_now_is_for_admins_and_two_clicks_make_one_job(db: TestDatabase) {
    let (app, team) = TestApp::with_sandbox_connected(db, &[("PATCHBAY_SANDBOX_ITEMS", "20"), NO_LIMIT]).await;
    drain(&app).await;
    let member = app.member("Mo Member", "mo@example.com").await;
    let seen = sync_status(&member).await;
    assert!(!seen.can_manage);
    assert_eq!(start(&member, "incremental").await.status(), StatusCode::FORBIDDEN);
    let page = member.get("/integrations/sandbox").await.text().await.unwrap();
    assert!(page.contains("Last successful sync") && !page.contains("Sync now"), "a member was offered Sync now");

    let (first, second) = tokio::join!(start(&app.browser, "incremental"), start(&app.browser, "incremental"));
    let mut messages = Vec::new();
    for response in [first, second] {
        assert_eq!(response.status(), StatusCode::OK);
        messages.push(response.json::<Saved>().await.unwrap().message);
    }
    messages.sort();
    assert!(messages[0].starts_with("A sync of this connection is already queued or running"), "{messages:?}");
    assert!(messages[1].starts_with("Sync queued"), "{messages:?}");
    // A full re-sync asked for meanwhile is the same job too.
    let full = start(&app.browser, "full_backfill").await.json::<Saved>().await.unwrap();
    assert!(full.message.starts_with("A sync of this connection is already"), "{}", full.message);
    let live = jobs::Filter { state: Some(State::Queued), ..jobs::Filter::default() };
    let queued = jobs::list(&app.platform.db, &team, &live, 10).await.unwrap();
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0].kind, Kind::Incremental);
    drain(&app).await;
    let full = start(&app.browser, "full_backfill").await.json::<Saved>().await.unwrap();
    assert!(full.message.starts_with("Full re-sync queued"), "{}", full.message);

    for (kind, code) in [("prune", StatusCode::BAD_REQUEST), ("", StatusCode::BAD_REQUEST)] {
        assert_eq!(start(&app.browser, kind).await.status(), code, "{kind:?}");
    }
    let elsewhere = app.browser.post_form("/api/start_sync", &[("provider", "github"), ("kind", "incremental")]).await;
    assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND, "a sync of a connection that does not exist");
    app.leave_jobs("the one queued job is what this test checks");
    app.stop().await;
}
platform::test_on_both_backends!(sync_now, sync_now_is_for_admins_and_two_clicks_make_one_job);

/// Reads events from a server-sent event stream until `done` accepts one.
async fn watch(response: reqwest::Response, mut done: impl FnMut(&SyncStatus) -> bool) -> Vec<SyncStatus> {
    let mut response = response;
    let mut buffer = String::new();
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let chunk = tokio::time::timeout_at(deadline, response.chunk()).await.expect("an event in time").unwrap();
        buffer.push_str(std::str::from_utf8(&chunk.expect("the stream went on")).unwrap());
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            let data: String = event.lines().filter_map(|l| l.strip_prefix("data:")).map(str::trim_start).collect();
            if data.is_empty() {
                continue; // a keep-alive comment
            }
            let status: SyncStatus = serde_json::from_str(&data).unwrap();
            let stop = done(&status);
            seen.push(status);
            if stop {
                return seen;
            }
        }
    }
}

/// The live stream sends the status at once, then each change while a job
/// runs, and nothing secret (SECURITY D1); it is for signed-in viewers of
/// a connection that exists (C1).
#[tokio::test]
async fn the_event_stream_sends_the_status_then_every_change_of_a_running_job() {
    let (app, team) = TestApp::with_sandbox_connected(
        TestDatabase::sqlite(),
        &[("PATCHBAY_SANDBOX_ITEMS", "3000"), ("PATCHBAY_SANDBOX_RATE_LIMIT", "10")],
    )
    .await;
    assert_eq!(app.new_browser().events("/api/sync/sandbox/events").await.status(), StatusCode::UNAUTHORIZED);
    // Nothing to follow: 204, which stops a browser's reconnects.
    assert_eq!(app.browser.events("/api/sync/github/events").await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.browser.events("/api/sync/nope/events").await.status(), StatusCode::NO_CONTENT);

    let stream = app.browser.events("/api/sync/sandbox/events").await;
    assert_eq!(stream.status(), StatusCode::OK);
    let kind = stream.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("text/event-stream"), "{kind}");
    let worker = {
        let platform = app.platform.clone();
        tokio::spawn(async move { jobs::drain(&platform, "test-worker").await.unwrap() })
    };
    let seen = watch(stream, |s| s.current.as_ref().is_some_and(|j| j.state == JobState::Completed)).await;
    assert_eq!(worker.await.unwrap().len(), 1);
    assert_eq!(seen[0].current.as_ref().unwrap().state, JobState::Queued, "the first event is the status as it was");
    let moving: Vec<i64> = seen
        .iter()
        .filter_map(|s| s.current.as_ref())
        .filter(|j| j.state == JobState::Running)
        .map(|j| j.done)
        .collect();
    assert!(moving.iter().any(|done| (1..3000).contains(done)), "no progress was sent while running: {moving:?}");
    assert!(moving.windows(2).all(|w| w[0] <= w[1]), "progress went back: {moving:?}");
    let last = seen.last().unwrap();
    assert_eq!(last.total_records(), 3000);
    assert!(last.last_success.is_some());

    let token = common::stored_token(&app.platform, &team, "sandbox").await.unwrap();
    let json = serde_json::to_string(&seen).unwrap();
    assert!(!json.contains(&token.access_token), "the token was streamed");

    // A disconnect ends the stream; the browser's reconnect then gets 204.
    let mut stream = app.browser.events("/api/sync/sandbox/events").await;
    let disconnected = app.browser.post_form("/api/disconnect_provider", &[("provider", "sandbox")]).await;
    assert_eq!(disconnected.status(), StatusCode::OK);
    let ended =
        tokio::time::timeout(Duration::from_secs(10), async { while stream.chunk().await.unwrap().is_some() {} });
    assert!(ended.await.is_ok(), "the stream outlived the connection");
    assert_eq!(app.browser.events("/api/sync/sandbox/events").await.status(), StatusCode::NO_CONTENT);
    app.stop().await;
}

/// Errors are listed with their class, and Retry queues the failed kind
/// again; `/activity` lists every job and filters by state, kind and
/// provider, as data and as a page without JavaScript.
async fn errors_show_on_the_panel_and_activity_filters_jobs(db: TestDatabase) {
    let (app, team) = TestApp::with_sandbox_connected(db, &[("PATCHBAY_SANDBOX_ITEMS", "20"), NO_LIMIT]).await;
    drain(&app).await;
    // Stored as the runner words it, a clause; shown as a sentence.
    let failed =
        failed_job(&app, &team, Kind::Incremental, "the sandbox refused the request: check the connection's access")
            .await;
    let message = "The sandbox refused the request: check the connection's access.";

    let status = sync_status(&app.browser).await;
    assert_eq!(status.errors.len(), 1);
    let error = &status.errors[0];
    assert_eq!((error.id.as_str(), error.state), (failed.as_str(), JobState::Failed));
    assert_eq!((error.error_class.as_deref(), error.error.as_deref()), (Some("permanent"), Some(message)));
    let page = app.get("/integrations/sandbox").await.text().await.unwrap();
    assert!(page.contains("Recent errors") && page.contains("Lasting error") && page.contains(message));
    let retry = page.split("Recent errors").nth(1).and_then(|rest| rest.split("</ul>").next()).unwrap_or_default();
    assert!(retry.contains(r#"<button type="submit">Retry"#), "an admin is offered Retry: {retry}");
    let retried = start(&app.browser, &error.kind).await.json::<Saved>().await.unwrap();
    assert!(retried.message.starts_with("Sync queued"), "{}", retried.message);
    drain(&app).await;

    let activity = |query: &'static str| {
        let browser = &app.browser;
        async move {
            let fields: Vec<(&str, &str)> = query.split('&').filter_map(|pair| pair.split_once('=')).collect();
            let response = browser.post_form("/api/activity", &fields).await;
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<Activity>().await.unwrap()
        }
    };
    let all = activity("").await;
    // Newest first; jobs queued within one second may come in either order.
    let mut states: Vec<&str> = all.jobs.iter().map(|j| j.state.key()).collect();
    states.sort_unstable();
    assert_eq!(states, ["completed", "completed", "failed"]);
    assert_eq!(all.providers, [("sandbox".to_owned(), "Sandbox (demo)".to_owned())]);
    let failed_only = activity("state=failed").await;
    assert_eq!(failed_only.jobs.len(), 1);
    assert_eq!(failed_only.jobs[0].error.as_deref(), Some(message));
    assert_eq!(activity("kind=full_backfill").await.jobs.len(), 1);
    assert_eq!(activity("kind=incremental&state=completed").await.jobs.len(), 1);
    assert!(activity("provider=github").await.jobs.is_empty());

    let page = app.get("/activity?state=failed").await.text().await.unwrap();
    assert!(page.contains(message) && page.contains("Incremental sync"), "the filtered page lacks the failed job");
    assert!(page.contains(r#"<option value="failed" selected"#), "the filter does not show its choice");
    let none = app.get("/activity?provider=github").await.text().await.unwrap();
    assert!(none.contains("No job matches these filters."));

    // A failed prune is retried as a full re-sync (a prune cannot be asked for).
    failed_job(&app, &team, Kind::Prune, "the sandbox did not answer").await;
    let page = app.get("/integrations/sandbox").await.text().await.unwrap();
    let errors = page.split("Recent errors").nth(1).unwrap_or_default();
    let prune = errors.split("</li>").find(|row| row.contains("Full pass for deletions")).unwrap_or_default();
    assert!(prune.contains(r#"name="kind" value="full_backfill""#), "{prune}");
    app.leave_jobs("the failed jobs are what the panel and the activity list show");
    app.stop().await;
}
platform::test_on_both_backends!(errors_and_activity, errors_show_on_the_panel_and_activity_filters_jobs);

async fn sandbox_card(app: &TestApp) -> CardStatus {
    let response = app.browser.post_form("/api/integrations", &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cards: Vec<IntegrationCard> = response.json().await.unwrap();
    cards.into_iter().find(|card| card.id == "sandbox").unwrap().status
}

/// DESIGN, Status: a connection's card shows what its newest sync is
/// doing: "Syncing" while it waits to run or runs (with how far once the
/// total is known), the account once it completed, and "Error" when it
/// failed or waits to be retried after an error.
async fn cards_show_what_the_newest_sync_of_a_connection_is_doing(db: TestDatabase) {
    let (app, team) = TestApp::with_sandbox_connected(db, &[("PATCHBAY_SANDBOX_ITEMS", "250"), NO_LIMIT]).await;
    assert_eq!(sandbox_card(&app).await, CardStatus::Syncing { percent: None });

    let db = &app.platform.db;
    let job = jobs::claim(db, "test-worker", sync::SYNC_KINDS, Duration::from_secs(60)).await.unwrap().unwrap();
    let mut tx = db.begin_write().await.unwrap();
    assert!(jobs::record_progress(&mut tx, &job.id, "test-worker", 100, Some(250), 100).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(sandbox_card(&app).await, CardStatus::Syncing { percent: Some(40) });
    let page = app.get("/integrations").await.text().await.unwrap();
    assert!(page.contains("Syncing 40%"), "the rendered card does not show the sync");

    assert!(jobs::complete(db, &job.id, "test-worker").await.unwrap());
    assert!(matches!(sandbox_card(&app).await, CardStatus::Connected { .. }));

    // The backfill ran a minute ago; the sync that follows is the newest.
    sqlx::query("UPDATE jobs SET created_at = created_at - 60, finished_at = finished_at - 60 WHERE id = $1")
        .bind(job.id.as_str())
        .execute(db.pool())
        .await
        .unwrap();
    let id = sync::enqueue(&app.platform, &team, &pid("sandbox"), Kind::Incremental).await.unwrap().id().to_owned();
    for (class, after) in [(ErrorClass::Transient, State::Queued), (ErrorClass::Permanent, State::Failed)] {
        let claimed = jobs::claim(db, "test-worker", sync::SYNC_KINDS, Duration::from_secs(60)).await.unwrap();
        assert_eq!(claimed.map(|j| j.id), Some(id.clone()));
        let ended = jobs::fail(db, &id, "test-worker", class, "the sandbox did not answer", Duration::ZERO);
        assert_eq!(ended.await.unwrap(), Some(after));
        assert_eq!(sandbox_card(&app).await, CardStatus::Error, "after a {class:?} failure");
    }
    app.leave_jobs("the failed sync is what the card shows");
    app.stop().await;
}
platform::test_on_both_backends!(cards, cards_show_what_the_newest_sync_of_a_connection_is_doing);

fn record(n: usize, url: &str) -> Change {
    Change::Upsert(Record {
        entity_type: "item".to_owned(),
        entity_id: format!("itm_{n}"),
        title: format!("Record {n}"),
        url: url.to_owned(),
        content: serde_json::json!({}),
        updated_at: time::OffsetDateTime::from_unix_timestamp(1_700_000_000 + i64::try_from(n).unwrap()).unwrap(),
    })
}

/// The items view pages through the records, newest change first, and
/// links each to its source; a stored link that is not http(s) is shown
/// as text, never as a link that runs script.
#[tokio::test]
async fn the_items_view_pages_records_and_links_only_web_urls() {
    let (app, team) =
        TestApp::with_sandbox_connected(TestDatabase::sqlite(), &[("PATCHBAY_SANDBOX_ITEMS", "0"), NO_LIMIT]).await;
    drain(&app).await;
    let installation = {
        let mut conn = app.platform.db.pool().acquire().await.unwrap();
        installations::find(&mut conn, &team, &pid("sandbox")).await.unwrap().unwrap()
    };
    let mut changes: Vec<Change> = (1..=60).map(|n| record(n, &format!("https://sandbox.example/items/{n}"))).collect();
    changes.push(record(61, "javascript:alert(document.cookie)"));
    artifacts::commit_page(&app.platform.db, &team, &installation.id, &pid("sandbox"), &changes, &[], None)
        .await
        .unwrap();

    let page = |n: &'static str| {
        let browser = &app.browser;
        async move {
            let response = browser.post_form("/api/items", &[("provider", "sandbox"), ("page", n)]).await;
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<ItemsPage>().await.unwrap()
        }
    };
    let first = page("1").await;
    assert_eq!((first.total, first.pages, first.items.len()), (61, 2, 50));
    assert_eq!((first.items[0].title.as_str(), first.items[0].url.as_deref()), ("Record 61", None));
    assert_eq!(first.items[1].url.as_deref(), Some("https://sandbox.example/items/60"));
    let second = page("2").await;
    assert_eq!(second.items.len(), 11);
    assert_eq!(second.items.last().unwrap().title, "Record 1");
    assert_eq!(page("99").await.page, 2, "a page past the end shows the last");

    let html = app.get("/integrations/sandbox/items").await.text().await.unwrap();
    assert!(html.contains("Record 61") && html.contains(r#"href="https://sandbox.example/items/60""#));
    assert!(!html.contains("javascript:alert"), "a script link was rendered");
    assert!(html.contains("Page 1 of 2") && html.contains(r#"href="/integrations/sandbox/items?page=2""#));
    let other = app.get("/integrations/nope/items").await;
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

/// An internal fault never reaches the browser as it is: a job payload the
/// code never writes, put straight into the database, makes the status
/// answer the generic message (and the provider page say so), while the
/// log names the cause (STYLE: errors log their cause and return a
/// generic message).
#[tokio::test]
async fn an_internal_fault_shows_a_generic_message_and_logs_its_cause() {
    let logs = platform::testing::capture_logs();
    let (app, _team) = TestApp::with_sandbox_connected(TestDatabase::sqlite(), &[NO_LIMIT]).await;
    drain(&app).await;
    sqlx::query("UPDATE jobs SET payload = 'vanished-into-the-ether'").execute(app.platform.db.pool()).await.unwrap();

    let (code, body) = status(&app.browser).await;
    assert_eq!(code, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert!(body.contains("Internal"), "{body}");
    let page = app.get("/integrations/sandbox").await.text().await.unwrap();
    for shown in [&body, &page] {
        assert!(!shown.contains("vanished-into-the-ether") && !shown.contains("stored data"), "{shown}");
    }
    assert!(page.contains("Something went wrong on our side"), "{page}");
    assert!(logs.text().contains("stored data is not valid: a job's payload"), "the cause was not logged");

    sqlx::query("UPDATE jobs SET payload = 'null'").execute(app.platform.db.pool()).await.unwrap();
    app.stop().await;
}
