//! Operations endpoints against the real server, on SQLite and on Postgres:
//! liveness, readiness (including an unreachable database and missing
//! migrations), metrics and the security headers.

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use crate::common;

use common::TestApp;
use http::StatusCode;
use platform::testing::TestDatabase;
use serde_json::Value;

async fn healthz_reports_alive(app: TestApp) {
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "alive");
    app.stop().await;
}
app_test_on_both_backends!(healthz, healthz_reports_alive);

async fn readyz_is_ready_once_migrations_are_applied(app: TestApp) {
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["database"]["status"], "ok");
    assert_eq!(body["checks"]["migrations"]["status"], "ok");
    assert_eq!(body["checks"]["secrets"]["status"], "ok");
    assert_eq!(body["checks"]["secrets"]["backend"], "local");
    app.stop().await;
}
app_test_on_both_backends!(readyz_when_ready, readyz_is_ready_once_migrations_are_applied);

async fn readyz_fails_while_a_migration_is_missing(app: TestApp) {
    let db = app.db.migrated().await;
    let first = db.known_migrations()[0];
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1").bind(first).execute(db.pool()).await.unwrap();
    db.close().await;

    let response = app.get("/readyz").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["checks"]["migrations"]["status"], "pending");
    assert_eq!(body["checks"]["migrations"]["missing"][0], first);
    app.stop().await;
}
app_test_on_both_backends!(readyz_with_missing_migration, readyz_fails_while_a_migration_is_missing);

#[tokio::test]
async fn readyz_fails_while_the_database_is_unreachable_and_liveness_stays_up() {
    let Some(app) = TestApp::postgres().await else { return };
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);

    let platform::testing::TestDatabase::Postgres(pg) = &app.db else { unreachable!() };
    pg.drop_database().await;

    let response = app.get("/readyz").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "not_ready");
    assert_ne!(body["checks"]["database"]["status"], "ok");
    assert!(!body.to_string().contains("patchbay_test_"), "readyz leaks database details: {body}");
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK, "liveness does not depend on the database");
    app.leave_jobs("the database is gone, so its jobs cannot be read");
    app.stop().await;
}

/// Reads one sample's value from Prometheus text, by metric name and labels
/// given in exposition order.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

async fn metrics_count_requests_by_route_and_status_with_a_latency_histogram(app: TestApp) {
    app.setup_team().await;
    for _ in 0..3 {
        assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    }
    assert_eq!(app.get("/integrations").await.status(), StatusCode::OK);
    assert_eq!(app.get("/no/such/page/12345").await.status(), StatusCode::NOT_FOUND);

    let response = app.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    let text = response.text().await.unwrap();

    // Every line is a comment or `name{labels} value`.
    for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("malformed line: {line}"));
        assert!(value.parse::<f64>().is_ok() || value == "+Inf", "bad value in: {line}");
        assert!(series.starts_with("patchbay_"), "unprefixed series: {line}");
    }
    assert!(text.contains("# TYPE patchbay_http_requests_total counter"));
    assert!(text.contains("# TYPE patchbay_http_request_duration_seconds histogram"));

    let requests = |route: &str, status: &str| {
        sample(&text, &format!(r#"patchbay_http_requests_total{{method="GET",route="{route}",status="{status}"}}"#))
    };
    assert_eq!(requests("/healthz", "200"), Some(3.0));
    assert_eq!(requests("/integrations", "200"), Some(1.0));
    // Unknown paths share one label rather than creating a series each.
    assert_eq!(requests("unmatched", "404"), Some(1.0));
    assert!(!text.contains("12345"), "raw paths must not become labels");

    let histogram = |suffix: &str| {
        sample(&text, &format!(r#"patchbay_http_request_duration_seconds_{suffix}"#))
            .unwrap_or_else(|| panic!("no {suffix} in:\n{text}"))
    };
    assert_eq!(histogram(r#"count{method="GET",route="/healthz"}"#), 3.0);
    assert_eq!(histogram(r#"bucket{method="GET",route="/healthz",le="+Inf"}"#), 3.0);
    assert!(histogram(r#"sum{method="GET",route="/healthz"}"#) > 0.0);
    // Buckets are cumulative.
    let buckets: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with(r#"patchbay_http_request_duration_seconds_bucket{method="GET",route="/healthz""#))
        .map(|l| l.rsplit_once(' ').unwrap().1.parse().unwrap())
        .collect();
    assert!(buckets.len() > 5 && buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
    assert!(text.contains(r#"patchbay_build_info{version=""#));
    app.stop().await;
}
app_test_on_both_backends!(metrics, metrics_count_requests_by_route_and_status_with_a_latency_histogram);

fn assert_security_headers(response: &reqwest::Response, path: &str) {
    let header = |name: &str| {
        response.headers().get(name).unwrap_or_else(|| panic!("{path}: no {name} header")).to_str().unwrap().to_owned()
    };
    let csp = header("content-security-policy");
    for directive in ["object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "default-src 'self'"] {
        assert!(csp.contains(directive), "{path}: CSP lacks {directive}: {csp}");
    }
    assert!(!csp.contains("'unsafe-inline'"), "{path}: CSP allows inline scripts: {csp}");
    assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
    assert!(!header("referrer-policy").is_empty(), "{path}");
    assert_eq!(header("x-frame-options"), "DENY", "{path}");
}

// SECURITY D5
#[tokio::test]
async fn security_headers_are_on_pages_errors_and_operations_endpoints() {
    let app = TestApp::sqlite().await;
    assert_security_headers(&app.get("/setup").await, "/setup");
    app.setup_team().await;
    for path in ["/integrations", "/settings", "/no-such-page", "/healthz", "/readyz", "/metrics", "/api/about"] {
        let response = app.get(path).await;
        assert_security_headers(&response, path);
        assert!(response.headers().get("strict-transport-security").is_none(), "{path}: HSTS over plain HTTP");
    }
    app.stop().await;
}

// SECURITY D5
#[tokio::test]
async fn hsts_is_sent_when_the_console_is_served_over_https() {
    let app = TestApp::spawn_with(
        platform::testing::TestDatabase::sqlite(),
        &[("PATCHBAY_PUBLIC_URL", "https://console.example.com")],
    )
    .await;
    let response = app.get("/setup").await;
    assert_security_headers(&response, "/setup");
    let hsts = response.headers()["strict-transport-security"].to_str().unwrap();
    assert!(hsts.starts_with("max-age=31536000"), "{hsts}");
    app.stop().await;
}

// SECURITY D5: only the scripts the server rendered carry the nonce the policy names.
#[tokio::test]
async fn every_inline_script_carries_this_responses_csp_nonce() {
    let app = TestApp::sqlite().await;
    app.setup_team().await;
    let mut nonces = Vec::new();
    for _ in 0..2 {
        let response = app.get("/integrations").await;
        let csp = response.headers()["content-security-policy"].to_str().unwrap().to_owned();
        let nonce =
            csp.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next()).expect("nonce in CSP").to_owned();
        assert!(nonce.len() >= 22, "nonce too short: {nonce}");
        let html = response.text().await.unwrap();
        let scripts: Vec<&str> = html
            .match_indices("<script")
            .map(|(i, _)| &html[i..html[i..].find('>').map_or(html.len(), |e| i + e)])
            .collect();
        assert!(!scripts.is_empty(), "the page has no hydration script");
        for script in scripts {
            assert!(script.contains(&format!("nonce=\"{nonce}\"")), "script without the response's nonce: {script}");
        }
        nonces.push(nonce);
    }
    assert_ne!(nonces[0], nonces[1], "each response gets a fresh nonce");
    app.stop().await;
}

/// The harness itself: a test that stops its app with a job nobody ran
/// fails, and the failure names the job (crates.io's test app does the
/// same), so a test cannot forget the work it queued.
#[tokio::test]
async fn a_test_app_stopped_with_a_job_left_queued_fails_naming_the_job() {
    use futures::FutureExt as _;

    let (app, team) = TestApp::with_sandbox_connected(TestDatabase::sqlite(), &[]).await;
    let queued = platform::jobs::list(&app.platform.db, &team, &platform::jobs::Filter::default(), 10).await.unwrap();
    let [job] = queued.as_slice() else { panic!("connecting queued {} jobs", queued.len()) };
    assert_eq!((job.kind, job.state), (platform::jobs::Kind::FullBackfill, platform::jobs::State::Queued));

    let stopped = std::panic::AssertUnwindSafe(app.stop()).catch_unwind().await;
    let message = stopped.expect_err("the app stopped with a queued job and the test passed");
    let message = message.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains(job.id.as_str()) && message.contains("full_backfill queued"), "{message}");
}
