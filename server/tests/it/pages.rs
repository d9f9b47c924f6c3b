//! The console shell rendered on the server: what a browser with JavaScript
//! off receives, on SQLite and on Postgres.

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use crate::common;

use common::TestApp;
use http::StatusCode;

/// The page's markup without Leptos's empty hydration markers (`<!>`), which
/// sit between text nodes and say nothing about the content.
async fn markup(response: reqwest::Response) -> String {
    response.text().await.unwrap().replace("<!>", "")
}

const NAV: [(&str, &str); 4] =
    [("/integrations", "Integrations"), ("/activity", "Activity"), ("/team", "Team"), ("/settings", "Settings")];

async fn every_console_page_renders_with_navigation_and_its_heading(app: TestApp) {
    app.setup_team().await;
    for (path, heading) in NAV {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        let html = markup(response).await;
        assert!(html.contains(&format!("<h1>{heading}</h1>")), "{path} lacks its heading");
        assert!(html.contains(&format!("<title>{heading} · Patchbay</title>")), "{path} lacks its title");
        for (href, label) in NAV {
            assert!(html.contains(&format!(r#"href="{href}""#)) && html.contains(label), "{path}: nav lacks {label}");
        }
        assert!(html.contains(r#"aria-current="page""#), "{path}: the current page is not marked");
        assert!(html.contains(r##"<a href="#main" class="skip-link">"##), "{path}: no skip link");
        assert!(html.contains(r#"<html lang="en">"#));
    }
    app.stop().await;
}
app_test_on_both_backends!(console_pages, every_console_page_renders_with_navigation_and_its_heading);

async fn the_integrations_page_lists_every_provider_and_filters_without_javascript(app: TestApp) {
    app.setup_team().await;
    // Every built-in, and the sandbox, which is on for loopback test servers.
    let total = platform::catalog::BUILT_IN.len() + 1;
    let html = app.get("/integrations").await.text().await.unwrap();
    assert!(html.contains(r#"id="card-sandbox""#), "no sandbox card");
    assert!(html.contains(&format!("{total} integrations")), "{html}");
    for (file, _) in platform::catalog::BUILT_IN {
        let id = file.trim_end_matches(".toml");
        assert!(html.contains(&format!(r#"id="card-{id}""#)), "no card for {id}");
    }
    // What can be connected comes before what is coming, whatever the name.
    let position = |id: &str| html.find(&format!(r#"id="card-{id}""#)).unwrap();
    assert!(position("linear") < position("hubspot"), "Linear (available) after HubSpot (coming soon)");
    assert!(html.contains(r#"src="/logos/linear.svg""#));

    // The filter is in the URL, and the server applies it.
    let html = app.get("/integrations?q=LINEAR").await.text().await.unwrap();
    assert!(html.contains(&format!("1 of {total} integrations")), "{html}");
    assert!(html.contains(r#"id="card-linear""#) && !html.contains(r#"id="card-hubspot""#));
    let html = app.get("/integrations?category=crm").await.text().await.unwrap();
    assert!(html.contains(r#"id="card-hubspot""#) && !html.contains(r#"id="card-linear""#));
    let html = app.get("/integrations?q=no-such-tool").await.text().await.unwrap();
    assert!(html.contains("No integration matches"), "{html}");
    app.stop().await;
}
app_test_on_both_backends!(
    integrations_page,
    the_integrations_page_lists_every_provider_and_filters_without_javascript
);

#[tokio::test]
async fn the_integrations_server_function_needs_a_signed_in_user() {
    let app = TestApp::sqlite().await;
    app.setup_team().await;
    let response = app
        .client
        .post(app.url("/api/integrations"))
        .header("origin", app.url(""))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    app.stop().await;
}

async fn settings_show_this_deployment_without_javascript(app: TestApp) {
    app.setup_team().await;
    let expected_backend = app.db.url().backend().to_string();
    assert!(app.get("/settings").await.status().is_success());
    let html = markup(app.get("/settings").await).await;
    // Rendered in place (in-order streaming), not swapped in by script.
    assert!(!html.contains("Loading…"), "settings still show their fallback: {html}");
    assert!(html.contains(&format!("<dd>{expected_backend}</dd>")), "{html}");
    let instance_id = platform::store::instance::get(&app.db.migrated().await).await.unwrap().unwrap().id;
    assert!(html.contains(&instance_id));
    assert!(!html.contains("patchbay_test_") && !html.contains("postgres://"), "the database URL leaked");
    app.stop().await;
}
app_test_on_both_backends!(settings_page, settings_show_this_deployment_without_javascript);

async fn the_about_server_function_answers_with_the_backend_in_use(app: TestApp) {
    app.setup_team().await;
    let response = app.browser.post_form("/api/about", &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let about: app::models::about::About = response.json().await.unwrap();
    assert_eq!(about.database, app.db.url().backend().to_string());
    assert_eq!(about.version, env!("CARGO_PKG_VERSION"));
    app.stop().await;
}
app_test_on_both_backends!(about_server_function, the_about_server_function_answers_with_the_backend_in_use);

#[tokio::test]
async fn an_unknown_page_is_a_404_with_a_way_back() {
    let app = TestApp::sqlite().await;
    app.setup_team().await;
    let response = app.get("/integrations/nope/deeper").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let html = response.text().await.unwrap();
    assert!(html.contains("Page not found"));
    assert!(html.contains(r#"href="/integrations""#));
    app.stop().await;
}

#[tokio::test]
async fn the_root_redirects_a_browser_to_integrations() {
    let app = TestApp::sqlite().await;
    app.setup_team().await;
    let response = app.get("/").await;
    assert!(response.status().is_redirection(), "got {}", response.status());
    assert_eq!(response.headers()["location"], "/integrations");
    app.stop().await;
}

async fn a_failing_page_shows_a_safe_message_in_the_error_boundary(app: TestApp) {
    app.setup_team().await;
    // Remove the row the Settings page reads, so its server call fails inside.
    let db = app.db.migrated().await;
    sqlx::query("DELETE FROM instance").execute(db.pool()).await.unwrap();
    db.close().await;

    let response = app.get("/settings").await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let html = response.text().await.unwrap();
    assert!(html.contains("Something went wrong"), "{html}");
    assert!(html.contains("It has been logged; try again in a moment."), "{html}");
    // The navigation stays usable around the failed page.
    assert!(html.contains(r#"href="/integrations""#));
    for internal in ["RowNotFound", "sqlx", "instance", "SELECT"] {
        assert!(!html.contains(internal), "internal detail {internal:?} reached the page");
    }
    app.stop().await;
}
app_test_on_both_backends!(error_boundary, a_failing_page_shows_a_safe_message_in_the_error_boundary);

/// Pages keep rendering while other consoles start in the same process,
/// as they do in these tests. Building a console used to generate the
/// route list each time, which switches resource loading off process-wide
/// for a moment (leptos issue #4773): a page first polling a resource then
/// never finished, and three full test runs hung or failed that way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_finish_while_other_consoles_start_in_the_same_process() {
    let app = TestApp::sqlite().await;
    app.setup_team().await;
    let starting = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let builders: Vec<_> = (0..3)
        .map(|_| {
            std::thread::spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                runtime.block_on(async {
                    for _ in 0..4 {
                        TestApp::sqlite().await.stop().await;
                    }
                });
            })
        })
        .collect();
    let watcher = {
        let starting = starting.clone();
        std::thread::spawn(move || {
            for builder in builders {
                builder.join().unwrap();
            }
            starting.store(false, std::sync::atomic::Ordering::SeqCst);
        })
    };
    let mut pages = 0;
    while starting.load(std::sync::atomic::Ordering::SeqCst) || pages < 20 {
        let page = tokio::time::timeout(std::time::Duration::from_secs(10), app.get("/settings")).await;
        let page = page.expect("a page never finished while another console started");
        assert_eq!(page.status(), StatusCode::OK);
        let body = tokio::time::timeout(std::time::Duration::from_secs(10), page.text()).await;
        assert!(body.expect("a page body never finished").unwrap().contains("About this deployment"));
        pages += 1;
    }
    watcher.join().unwrap();
    app.stop().await;
}

/// The statements a console process ran, read from its JSON log
/// (`sqlx::query` events at debug level): a process of its own, so that no
/// other test's queries are counted.
struct CountingConsole {
    child: std::process::Child,
    base: String,
    statements: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl CountingConsole {
    fn start(app: &TestApp) -> Self {
        use std::io::BufRead as _;
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let (database, data_dir, bind) =
            (app.db.url_for_child(), app.data_dir().display().to_string(), format!("127.0.0.1:{port}"));
        let mut child = common::patchbay(&[
            ("DATABASE_URL", &database),
            ("PATCHBAY_DATA_DIR", &data_dir),
            ("PATCHBAY_BIND", &bind),
            ("PATCHBAY_RUN_JOBS", "off"),
            ("PATCHBAY_LOG_FORMAT", "json"),
            ("PATCHBAY_LOG", "warn,sqlx::query=debug"),
            ("LEPTOS_SITE_ROOT", common::SITE),
        ])
        .arg("serve")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
        let statements = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (stderr, counter) = (child.stderr.take().unwrap(), statements.clone());
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("\"target\":\"sqlx::query\"") {
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            }
        });
        Self { child, base: format!("http://127.0.0.1:{port}"), statements }
    }

    fn count(&self) -> usize {
        self.statements.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The fewest statements of three renders of `path` (a session write
    /// that falls due between renders is not the page's).
    async fn statements_for(&self, browser: &common::Browser, path: &str) -> usize {
        let mut fewest = usize::MAX;
        for _ in 0..3 {
            let before = self.count();
            assert_eq!(browser.get(path).await.status(), StatusCode::OK);
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            fewest = fewest.min(self.count() - before);
        }
        fewest
    }
}

impl Drop for CountingConsole {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Adds `team`'s connections to the first `n` providers of the catalog,
/// each with a completed sync job, straight into the tables.
async fn connections(app: &TestApp, team: &platform::ids::TeamId, n: usize) {
    let db = app.platform.db.pool();
    let providers: Vec<String> = app.platform.catalog.iter().map(|p| p.id.as_str().to_owned()).take(n).collect();
    assert_eq!(providers.len(), n, "the catalog has fewer than {n} providers");
    for (i, provider) in providers.iter().enumerate() {
        let id = uuid::Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO installations (id, team_id, provider, state, account_id, display_name, settings, \
             updated_at) VALUES ($1, $2, $3, 'connected', $4, 'Test account', '{}', 0) \
             ON CONFLICT (team_id, provider) DO NOTHING",
        )
        .bind(&id)
        .bind(team.as_str())
        .bind(provider)
        .bind(format!("acct-{i}"))
        .execute(db)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO jobs (id, team_id, provider, installation_id, kind, state, payload, attempts, \
             max_attempts, run_after, progress_done, items, created_at, updated_at, finished_at) \
             SELECT $1, team_id, provider, id, 'incremental', 'completed', 'null', 1, 8, 0, 10, 10, 0, 0, 1 \
             FROM installations WHERE team_id = $2 AND provider = $3",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(team.as_str())
        .bind(provider)
        .execute(db)
        .await
        .unwrap();
    }
}

/// The Integrations page reads a fixed number of statements, whatever the
/// number of connections: one connection and twenty-five cost the same
/// (no query per connection for its newest sync).
#[tokio::test]
async fn the_integrations_page_runs_as_many_statements_for_25_connections_as_for_one() {
    let app =
        TestApp::spawn_with(platform::testing::TestDatabase::sqlite(), &[("LEPTOS_SITE_ROOT", common::SITE)]).await;
    app.setup_team().await;
    let team = app.admin_team().await;
    let console = CountingConsole::start(&app);
    let browser = common::Browser::new(&console.base);
    browser.set_cookie(app.browser.cookie());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while app.client.get(format!("{}/healthz", console.base)).send().await.is_err() {
        assert!(std::time::Instant::now() < deadline, "the counting console did not start");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    connections(&app, &team, 1).await;
    let one = console.statements_for(&browser, "/integrations").await;
    connections(&app, &team, 25).await;
    let page = browser.get("/integrations").await.text().await.unwrap();
    assert_eq!(page.matches("Connected as Test account").count(), 25, "not every connection shows");
    let twenty_five = console.statements_for(&browser, "/integrations").await;

    assert!(one > 0, "no statement was counted: is sqlx's statement log still at debug?");
    assert_eq!(twenty_five, one, "25 connections ran {twenty_five} statements against {one} for one");
    app.stop().await;
}
