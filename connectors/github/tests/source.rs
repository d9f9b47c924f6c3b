//! The GitHub connector against fixtures that follow GitHub's REST API
//! documentation (list repositories for the authenticated user, list
//! repository issues, rate limits), served by wiremock. Each test names the
//! CONNECTOR-RULES it proves.

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use std::time::{Duration, Instant};

use connector_core::{
    http::Class,
    source::{Change, Mode},
    testing::{self, Harness},
};
use connector_github::GithubSource;
use time::macros::datetime;
use wiremock::{
    Mock, ResponseTemplate,
    matchers::{header, method, path, query_param, query_param_is_missing},
};

fn fixture(name: &str) -> serde_json::Value {
    testing::fixture(env!("CARGO_MANIFEST_DIR"), name)
}

type Fixture = Harness<GithubSource>;

async fn start() -> Fixture {
    Harness::start(GithubSource, "").await
}

fn json(body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

fn next(f: &Fixture, path_and_query: &str) -> String {
    format!("<{}{path_and_query}>; rel=\"next\", <{}{path_and_query}>; rel=\"last\"", f.server.uri(), f.server.uri())
}

/// Two pages of repositories (one private, one internal), two pages of
/// issues in the public one, one issue in the private one, none in the
/// rest.
async fn serve_account(f: &Fixture) {
    Mock::given(method("GET"))
        .and(path("/user/repos"))
        .and(query_param_is_missing("page"))
        .and(query_param("per_page", "100"))
        .and(header("authorization", "Bearer new-token"))
        .and(header("x-github-api-version", "2022-11-28"))
        .respond_with(json(fixture("repos-1.json")).insert_header("link", next(f, "/user/repos?per_page=100&page=2")))
        .mount(&f.server)
        .await;
    Mock::given(path("/user/repos"))
        .and(query_param("page", "2"))
        .respond_with(json(fixture("repos-2.json")))
        .mount(&f.server)
        .await;
    Mock::given(path("/repos/acme/web/issues"))
        .and(query_param_is_missing("page"))
        .and(query_param("state", "all"))
        .and(query_param("direction", "asc"))
        .respond_with(
            json(fixture("web-issues-1.json"))
                .insert_header("link", next(f, "/repos/acme/web/issues?state=all&page=2")),
        )
        .mount(&f.server)
        .await;
    Mock::given(path("/repos/acme/web/issues"))
        .and(query_param("page", "2"))
        .respond_with(json(fixture("web-issues-2.json")))
        .mount(&f.server)
        .await;
    Mock::given(path("/repos/acme/secret/issues"))
        .respond_with(json(fixture("secret-issues.json")))
        .mount(&f.server)
        .await;
    for empty in ["/repos/acme/docs/issues", "/repos/acme/handbook/issues"] {
        Mock::given(path(empty)).respond_with(json(serde_json::json!([]))).mount(&f.server).await;
    }
}

async fn request_lines(f: &Fixture) -> Vec<String> {
    let requests = f.requests().await;
    requests.iter().map(|r| format!("{}?{}", r.url.path(), r.url.query().unwrap_or_default())).collect()
}

async fn walk(f: &Fixture, mode: Mode, cursor: Option<String>) -> Vec<Change> {
    f.walk(mode, cursor).await
}

fn keys(changes: &[Change]) -> Vec<String> {
    changes.iter().map(testing::key).collect()
}

/// CONNECTOR-RULES 5, 14, 19: an issue and a pull request mapped field by
/// field, ids read from numbers, `+00:00` read as UTC, the repository
/// carried on the record.
#[tokio::test]
async fn mapping_snapshot_of_an_issue_and_a_pull_request() {
    let f = start().await;
    serve_account(&f).await;
    let page = f.page(Mode::Full, None).await.unwrap();
    let [Change::Upsert(issue), Change::Upsert(pull)] = &page.changes[..] else { panic!("{:?}", page.changes) };
    assert_eq!((issue.entity_type.as_str(), issue.entity_id.as_str()), ("issue", "1"));
    assert_eq!(issue.title, "acme/web#1347: Found a bug");
    assert_eq!(issue.url, "https://github.com/acme/web/issues/1347");
    assert_eq!(issue.updated_at, datetime!(2026-11-02 10:00:00 UTC));
    assert_eq!(
        issue.content,
        serde_json::json!({
            "repository": "acme/web",
            "number": 1347,
            "state": "open",
            "body": "I'm having a problem with this.",
            "author": "octocat",
            "labels": ["bug"],
            "created_at": "2026-11-01T09:00:00Z",
            "closed_at": null,
            "merged_at": null,
        })
    );
    assert_eq!((pull.entity_type.as_str(), pull.entity_id.as_str()), ("pull_request", "2"));
    assert_eq!(pull.updated_at, datetime!(2026-11-03 10:00:00 UTC));
    assert_eq!(pull.content["merged_at"], "2026-11-03T10:00:00Z");
}

/// CONNECTOR-RULES 7, 17, 20: Link paging through repositories and issues
/// to the end; the private and internal repositories' issues come out as
/// removals, empty repositories are passed over.
#[tokio::test]
async fn pagination_reaches_the_end_and_private_repositories_are_not_indexed() {
    let f = start().await;
    serve_account(&f).await;
    let changes = walk(&f, Mode::Full, None).await;
    assert_eq!(keys(&changes), ["upsert issue 1", "upsert pull_request 2", "upsert issue 3", "remove issue 9"],);
    let Change::Upsert(docs) = &changes[2] else { panic!() };
    assert_eq!(docs.content["labels"], serde_json::json!(["docs"]), "a bare-string label");
    assert_eq!(request_lines(&f).await.len(), 7, "{:?}", request_lines(&f).await);
}

/// CONNECTOR-RULES 6, 7: the cursor after the first page resumes with the
/// second page of issues, without listing repositories again.
#[tokio::test]
async fn a_stored_cursor_resumes_mid_way() {
    let f = start().await;
    serve_account(&f).await;
    let first = f.page(Mode::Full, None).await.unwrap();
    let before = request_lines(&f).await.len();
    let rest = walk(&f, Mode::Full, first.next).await;
    assert_eq!(keys(&rest), ["upsert issue 3", "remove issue 9"]);
    let after = request_lines(&f).await;
    assert!(after[before].starts_with("/repos/acme/web/issues?") && after[before].contains("page=2"), "{after:?}");
    assert_eq!(after.iter().filter(|r| r.starts_with("/user/repos") && !r.contains("page=2")).count(), 1);
}

/// CONNECTOR-RULES 3, 12: a changes run asks each repository's issues with
/// `since`, in UTC.
#[tokio::test]
async fn a_changes_run_asks_with_since() {
    let f = start().await;
    serve_account(&f).await;
    walk(&f, Mode::Changes { since: datetime!(2026-11-20 08:00:00.5 +01:00) }, None).await;
    let asked: Vec<_> =
        request_lines(&f).await.into_iter().filter(|r| r.contains("/issues?") && !r.contains("page=2")).collect();
    assert_eq!(asked.len(), 4);
    assert!(asked.iter().all(|r| r.contains("since=2026-11-20T07:00:00Z")), "{asked:?}");
}

/// CONNECTOR-RULES 36: a full pass lists issues by creation, which edits
/// do not change, and a changes run by last change.
#[tokio::test]
async fn a_full_pass_sorts_by_creation_and_a_changes_run_by_change() {
    let f = start().await;
    serve_account(&f).await;
    walk(&f, Mode::Full, None).await;
    let full: Vec<_> = request_lines(&f).await.into_iter().filter(|r| r.contains("/issues?")).collect();
    assert!(full.iter().filter(|r| !r.contains("page=2")).all(|r| r.contains("sort=created")), "{full:?}");
    f.server.reset().await;
    serve_account(&f).await;
    walk(&f, Mode::Changes { since: datetime!(2026-11-20 08:00 UTC) }, None).await;
    let changes: Vec<_> = request_lines(&f).await.into_iter().filter(|r| r.contains("/issues?")).collect();
    let firsts: Vec<_> = changes.iter().filter(|r| !r.contains("page=2")).collect();
    assert!(!firsts.is_empty() && firsts.iter().all(|r| r.contains("sort=updated")), "{changes:?}");
}

/// CONNECTOR-RULES 31: GitHub's primary limit answers 403 with
/// `x-ratelimit-remaining: 0`; that is a rate limit, waited out until
/// `x-ratelimit-reset` (epoch seconds), not a refusal.
#[tokio::test]
async fn a_403_with_the_limit_spent_waits_for_the_reset() {
    let f = start().await;
    let reset = time::OffsetDateTime::now_utc().unix_timestamp() + 2;
    Mock::given(path("/user/repos"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-limit", "5000")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", reset.to_string().as_str())
                .set_body_json(serde_json::json!({ "message": "API rate limit exceeded for user ID 1." })),
        )
        .up_to_n_times(1)
        .mount(&f.server)
        .await;
    serve_account(&f).await;
    let started = Instant::now();
    assert_eq!(f.page(Mode::Full, None).await.unwrap().changes.len(), 2);
    assert!(started.elapsed() >= Duration::from_millis(900), "{:?}", started.elapsed());
}

/// CONNECTOR-RULES 32: a 403 without a rate-limit signal (no access, SSO
/// not authorized) is permanent and not retried.
#[tokio::test]
async fn a_403_without_a_rate_limit_is_permanent() {
    let f = start().await;
    Mock::given(path("/user/repos"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-remaining", "4999")
                .set_body_json(serde_json::json!({ "message": "Resource not accessible by integration" })),
        )
        .mount(&f.server)
        .await;
    let error = f.page(Mode::Full, None).await.unwrap_err();
    assert_eq!((error.class, error.status), (Class::Permanent, Some(403)));
    assert_eq!(request_lines(&f).await.len(), 1);
}

/// Issue 21, CONNECTOR-RULES 38: a secondary-limit 403 (its message says
/// so) or a 429, with requests still left and no `retry-after`, is a rate
/// limit: transient, waiting at least the minute GitHub documents, where a
/// 403 that says nothing of a limit stays a refusal.
#[tokio::test]
async fn a_secondary_limit_without_retry_after_waits_at_least_a_minute() {
    for (status, message) in [
        (403, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."),
        (429, "Too many requests"),
    ] {
        let f = start().await;
        Mock::given(path("/user/repos"))
            .respond_with(
                ResponseTemplate::new(status)
                    .insert_header("x-ratelimit-remaining", "4999")
                    .set_body_json(serde_json::json!({ "message": message })),
            )
            .mount(&f.server)
            .await;
        let error = f.page(Mode::Full, None).await.unwrap_err();
        assert_eq!((error.class, error.status), (Class::Transient, Some(status)), "{message}");
        assert!(
            error.retry_after.is_some_and(|w| w >= connector_github::client::SECONDARY_WAIT),
            "{:?}",
            error.retry_after
        );
        // The minute is longer than the client waits in-process: it hands
        // the wait to the job instead of sleeping through it.
        assert_eq!(request_lines(&f).await.len(), 1);
    }
}

/// SECURITY A10: a `Link` to another host is not followed with the token.
#[tokio::test]
async fn a_next_link_to_another_host_is_refused() {
    let f = start().await;
    Mock::given(path("/user/repos"))
        .respond_with(
            json(fixture("repos-1.json"))
                .insert_header("link", "<https://evil.example/user/repos?page=2>; rel=\"next\""),
        )
        .mount(&f.server)
        .await;
    let error = f.page(Mode::Full, None).await.unwrap_err();
    assert_eq!(error.class, Class::Permanent);
    assert!(error.message.contains("points away"), "{}", error.message);
}

/// A repository's issues, numbered 1 to `count`, listed 100 a page by page
/// number, where each page served deletes the oldest remaining issue (one
/// on a page already read): every later page shifts up by one, past the
/// reader. Lookups answer 410 Gone for a deleted issue.
struct ShiftingIssues {
    base: String,
    live: std::sync::Mutex<std::collections::BTreeSet<u64>>,
    deleting: std::sync::atomic::AtomicBool,
    found: std::sync::atomic::AtomicU32,
}

fn issue_json(base: &str, n: u64) -> serde_json::Value {
    serde_json::json!({
        "id": 10_000 + n, "number": n, "title": format!("Issue {n}"), "body": null, "state": "open",
        "html_url": format!("{base}/acme/web/issues/{n}"),
        "created_at": "2026-11-01T09:00:00Z", "updated_at": "2026-11-02T10:00:00Z",
        "user": { "login": "octocat" }, "labels": [],
    })
}

impl wiremock::Respond for ShiftingIssues {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        use std::sync::atomic::Ordering;
        let mut live = self.live.lock().unwrap();
        let path = request.url.path();
        if let Some(n) = path.strip_prefix("/repos/acme/web/issues/") {
            let n: u64 = n.parse().unwrap();
            if !live.contains(&n) {
                return ResponseTemplate::new(410)
                    .set_body_json(serde_json::json!({ "message": "This issue was deleted" }));
            }
            self.found.fetch_add(1, Ordering::SeqCst);
            return json(issue_json(&self.base, n));
        }
        let page: usize = request.url.query_pairs().find(|(k, _)| k == "page").map_or(1, |(_, v)| v.parse().unwrap());
        let all: Vec<u64> = live.iter().copied().collect();
        let rows: Vec<serde_json::Value> =
            all.iter().skip((page - 1) * 100).take(100).map(|&n| issue_json(&self.base, n)).collect();
        let more = all.len() > page * 100;
        if self.deleting.load(Ordering::SeqCst) {
            let oldest = *live.iter().next().unwrap();
            live.remove(&oldest);
        }
        let mut response = json(serde_json::Value::Array(rows));
        if more {
            let next = format!(
                "{}/repos/acme/web/issues?state=all&sort=created&direction=asc&per_page=100&page={}",
                self.base,
                page + 1
            );
            response = response.insert_header("link", format!("<{next}>; rel=\"next\""));
        }
        response
    }
}

/// CONNECTOR-RULES 36, SECURITY F8: a full pass over issue pages that
/// shift under it (an issue deleted after each page) misses live issues;
/// the prune looks each unseen one up, keeps the live ones and removes
/// only those GitHub says are gone, so the store ends equal to the
/// repository.
#[tokio::test]
async fn a_full_pass_over_shifting_pages_removes_only_deleted_issues() {
    use std::sync::{Arc, atomic::Ordering};
    let f = start().await;
    let repo = serde_json::json!({ "full_name": "acme/web", "private": false, "visibility": "public" });
    Mock::given(path("/user/repos")).respond_with(json(serde_json::json!([repo.clone()]))).mount(&f.server).await;
    Mock::given(path("/repos/acme/web")).respond_with(json(repo)).mount(&f.server).await;
    let issues = Arc::new(ShiftingIssues {
        base: f.server.uri(),
        live: std::sync::Mutex::new((1..=250).collect()),
        deleting: false.into(),
        found: 0.into(),
    });
    Mock::given(wiremock::matchers::path_regex("^/repos/acme/web/issues"))
        .respond_with(testing::Shared(issues.clone()))
        .mount(&f.server)
        .await;
    let stored: Vec<_> = f.full_pass_with_prune(Vec::new()).await.into_values().collect();
    assert_eq!(stored.len(), 250);

    // Two are deleted before the pass; one more after each page it reads.
    issues.live.lock().unwrap().retain(|n| !matches!(n, 240 | 241));
    issues.deleting.store(true, Ordering::SeqCst);
    let after = f.full_pass_with_prune(stored).await;
    let live = issues.live.lock().unwrap().clone();
    assert_eq!(live.len(), 245);
    let kept: std::collections::BTreeSet<u64> =
        after.keys().map(|(_, id)| id.parse::<u64>().unwrap() - 10_000).collect();
    // Every live issue is kept; the two deleted before the pass are
    // removed (410), and the three deleted after the pass read them wait
    // for the next changes run, as a pass cannot know of them.
    let mut expected = live.clone();
    expected.extend(1..=3);
    assert_eq!(kept, expected, "the store is not the repository's issues");
    // Issues 101 and 202 slipped past the reader and were found live: a
    // prune without the lookup would have deleted them.
    assert_eq!(issues.found.load(Ordering::SeqCst), 2, "the pages did not shift as the test means");
}

/// The conformance suite's listings beyond the full one: each
/// repository's issues since 07:00 UTC (answered only with `since`), and a
/// first page of issues with one whose `updated_at` cannot be read.
async fn serve(f: &Fixture, served: testing::Served) {
    match served {
        testing::Served::Full => serve_account(f).await,
        testing::Served::Changes => {
            Mock::given(path("/user/repos"))
                .and(query_param_is_missing("page"))
                .respond_with(json(fixture("repos-1.json")).insert_header("link", next(f, "/user/repos?page=2")))
                .mount(&f.server)
                .await;
            Mock::given(path("/user/repos"))
                .and(query_param("page", "2"))
                .respond_with(json(fixture("repos-2.json")))
                .mount(&f.server)
                .await;
            for (repo, answer) in [
                ("web", fixture("web-issues-2.json")),
                ("secret", fixture("secret-issues.json")),
                ("docs", serde_json::json!([])),
                ("handbook", serde_json::json!([])),
            ] {
                Mock::given(path(format!("/repos/acme/{repo}/issues")))
                    .and(query_param("since", "2026-11-20T07:00:00Z"))
                    .and(query_param("sort", "updated"))
                    .respond_with(json(answer))
                    .mount(&f.server)
                    .await;
            }
        }
        testing::Served::Unmappable => {
            Mock::given(path("/user/repos"))
                .respond_with(json(serde_json::json!([fixture("repos-1.json")[0].clone()])))
                .mount(&f.server)
                .await;
            let mut issues = fixture("web-issues-1.json");
            let mut broken = issues[0].clone();
            broken["id"] = 77.into();
            broken["updated_at"] = "yesterday".into();
            issues.as_array_mut().unwrap().push(broken);
            Mock::given(path("/repos/acme/web/issues")).respond_with(json(issues)).mount(&f.server).await;
        }
    }
}

/// Issue 21: the conformance suite every connector runs on its own
/// fixtures (CONNECTOR-RULES 6, 7, 17, 18, 31, 32, 36, 39).
#[tokio::test]
async fn the_conformance_suite_passes() {
    let gone = connector_core::source::Record {
        entity_type: "issue".into(),
        entity_id: "77".into(),
        title: "Closed and deleted".into(),
        url: "https://github.com/acme/web/issues/1400".into(),
        content: serde_json::json!({ "repository": "acme/web", "number": 1400 }),
        updated_at: datetime!(2026-11-01 00:00 UTC),
    };
    testing::conformance(
        start,
        serve,
        testing::Expected {
            api: "/",
            full: &["upsert issue 1", "upsert pull_request 2", "upsert issue 3", "remove issue 9"],
            since: datetime!(2026-11-20 08:00:00 +01:00),
            changes: &["upsert issue 3", "remove issue 9"],
            kept: &["upsert issue 1", "upsert pull_request 2"],
            skipped: "issue 77",
            gone,
        },
    )
    .await;
}

/// The GitHub App's webhooks: deliveries shaped as GitHub's webhook events
/// documentation has them (`issues`, `issue_comment`, `pull_request`),
/// and the installations that route them (list app installations
/// accessible to the user access token).
mod hooks {
    use connector_core::{
        source::Record,
        webhooks::{Delivery, Event, Hook, Receiver, Subscription},
    };

    use super::*;

    fn delivery<'a>(event: &'a str, body: &'a [u8]) -> Delivery<'a> {
        Delivery { event: Some(event), body, received_at: datetime!(2026-12-03 09:16 UTC) }
    }

    fn body(name: &str) -> Vec<u8> {
        fixture(name).to_string().into_bytes()
    }

    fn upserted(events: &[Event]) -> &Record {
        match events {
            [Event::Carried { change: Change::Upsert(record), .. }] => record,
            other => panic!("expected one carried upsert: {other:?}"),
        }
    }

    /// CONNECTOR-RULES 17, 42: an edited issue is mapped as a sync maps it,
    /// carrying its `updated_at` so that an older event cannot overwrite it.
    #[tokio::test]
    async fn an_issues_event_carries_the_issue_as_a_sync_maps_it() {
        let f = start().await;
        let edited = body("hook-issues-edited.json");
        let events = f.source().events(&delivery("issues", &edited)).unwrap();
        let record = upserted(&events);
        assert_eq!((record.entity_type.as_str(), record.entity_id.as_str()), ("issue", "1"));
        assert_eq!(record.title, "acme/web#1347: Found a bug in the login form");
        assert_eq!(record.url, "https://github.com/acme/web/issues/1347");
        assert_eq!(record.content["labels"], serde_json::json!(["bug"]));
        assert_eq!(events[0].at(), Some(datetime!(2026-12-03 09:15 UTC)));
    }

    /// CONNECTOR-RULES 17, 18: an issue deleted, or opened in a private
    /// repository, is a removal; nothing of the private one is kept.
    #[tokio::test]
    async fn a_deleted_issue_or_one_in_a_private_repository_is_removed() {
        let f = start().await;
        let deleted = body("hook-issues-deleted.json");
        assert_eq!(
            f.source().events(&delivery("issues", &deleted)).unwrap(),
            vec![Event::Carried {
                change: Change::Remove { entity_type: "issue".into(), entity_id: "1".into() },
                at: Some(datetime!(2026-12-03 09:15 UTC)),
            }]
        );
        let private = body("hook-issues-private.json");
        let events = f.source().events(&delivery("issues", &private)).unwrap();
        assert!(
            matches!(&events[..], [Event::Carried { change: Change::Remove { entity_id, .. }, .. }] if entity_id == "3"),
            "{events:?}"
        );
    }

    /// A comment on a pull request carries the pull request's issue, under
    /// the issue id a sync stores it by; a `pull_request` event names only
    /// the pull request's own id, so it asks for a changes run; events the
    /// connector does not read answer nothing.
    #[tokio::test]
    async fn comments_refresh_their_issue_and_pull_request_events_ask_for_a_changes_run() {
        let f = start().await;
        let comment = body("hook-issue-comment-on-pull.json");
        let events = f.source().events(&delivery("issue_comment", &comment)).unwrap();
        let record = upserted(&events);
        assert_eq!((record.entity_type.as_str(), record.entity_id.as_str()), ("pull_request", "2"));
        let pull = body("hook-pull-request.json");
        assert_eq!(f.source().events(&delivery("pull_request", &pull)).unwrap(), vec![Event::Resync]);
        assert_eq!(f.source().events(&delivery("star", b"{}")).unwrap(), Vec::new());
        let error = f.source().events(&delivery("issues", br#"{"action":"opened"}"#)).unwrap_err();
        assert!(error.message.contains("not one GitHub documents"), "{}", error.message);
    }

    /// CONNECTOR-RULES 43: subscribing lists every page of the user's
    /// installations with the connection's token and keeps their ids,
    /// read again daily; nothing is made at GitHub, so nothing is deleted.
    #[tokio::test]
    async fn subscribing_lists_the_users_installations_across_pages() {
        let f = start().await;
        Mock::given(method("GET"))
            .and(path("/user/installations"))
            .and(query_param_is_missing("page"))
            .and(header("authorization", "Bearer new-token"))
            .and(header("x-github-api-version", "2022-11-28"))
            .respond_with(
                json(fixture("installations-1.json"))
                    .insert_header("link", next(&f, "/user/installations?per_page=100&page=2")),
            )
            .mount(&f.server)
            .await;
        Mock::given(path("/user/installations"))
            .and(query_param("page", "2"))
            .respond_with(json(fixture("installations-2.json")))
            .mount(&f.server)
            .await;
        let hook = Hook { url: "https://console.example/webhooks/github", secret: None };
        let before = time::OffsetDateTime::now_utc();
        let made = f.source().subscribe(&f.cx(), &hook).await.unwrap().expect("installations route deliveries");
        assert_eq!(made.ids, vec!["2311213".to_owned(), "2311999".to_owned()]);
        let relist = made.expires_at.unwrap() - before;
        assert!(relist >= time::Duration::hours(24) && relist < time::Duration::hours(25), "{relist}");
        let renewed = f.source().renew(&f.cx(), &made).await.unwrap();
        assert_eq!(renewed.ids, made.ids);
        f.source().unsubscribe(&f.cx(), &renewed).await.unwrap();
        let lines = request_lines(&f).await;
        assert_eq!(lines.len(), 4, "two pages, twice, and no delete: {lines:?}");

        // A refused token is the admin's to fix, in GitHub's words.
        f.server.reset().await;
        Mock::given(path("/user/installations"))
            .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({ "message": "Bad credentials" })))
            .mount(&f.server)
            .await;
        let refused = f.source().renew(&f.cx(), &Subscription { ids: vec![], expires_at: None }).await.unwrap_err();
        assert_eq!((refused.class, refused.status), (Class::Permanent, Some(401)));
    }
}
