//! The shared HTTP client against wiremock: each test names the
//! CONNECTOR-RULES it proves.

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use std::{
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use connector_core::http::{Call, Class, Credentials, FetchError, Http, RetryPolicy};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header, method, path},
};

fn http(max_attempts: u32) -> Http {
    let policy = RetryPolicy { max_attempts, base_delay: Duration::from_millis(10), max_delay: Duration::from_secs(5) };
    Http::new(Duration::from_secs(2), policy).unwrap()
}

async fn get(http: &Http, server: &MockServer) -> Result<u16, FetchError> {
    let url = format!("{}/items", server.uri());
    http.send(Call::default(), |client, _| client.get(&url)).await.map(|r| r.status().as_u16())
}

async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

/// Answers with `first` for `times` requests, then 200.
async fn then_ok(server: &MockServer, first: ResponseTemplate, times: u64) {
    Mock::given(method("GET")).respond_with(first).up_to_n_times(times).with_priority(1).mount(server).await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(200)).with_priority(5).mount(server).await;
}

/// CONNECTOR-RULES 31: 5xx and 408 are retried, and succeed when the provider recovers.
#[tokio::test]
async fn server_errors_are_retried_until_the_provider_recovers() {
    for status in [500, 502, 503, 408] {
        let server = MockServer::start().await;
        then_ok(&server, ResponseTemplate::new(status), 2).await;
        assert_eq!(get(&http(5), &server).await, Ok(200), "{status}");
        assert_eq!(requests(&server).await, 3, "{status}");
    }
}

/// CONNECTOR-RULES 31: attempts are capped, and the error says what happened.
#[tokio::test]
async fn attempts_are_capped() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(503)).mount(&server).await;
    let error = get(&http(4), &server).await.unwrap_err();
    assert_eq!((error.class, error.status), (Class::Transient, Some(503)));
    assert_eq!(requests(&server).await, 4);
}

/// CONNECTOR-RULES 31: `Retry-After` is waited out, as seconds and as a date.
#[tokio::test]
async fn a_429_waits_out_retry_after() {
    let server = MockServer::start().await;
    then_ok(&server, ResponseTemplate::new(429).insert_header("retry-after", "1"), 1).await;
    let started = Instant::now();
    assert_eq!(get(&http(3), &server).await, Ok(200));
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After was not honoured");

    let server = MockServer::start().await;
    let soon = time::OffsetDateTime::now_utc() + time::Duration::seconds(2);
    let date = soon
        .format(time::macros::format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        ))
        .unwrap();
    then_ok(&server, ResponseTemplate::new(429).insert_header("retry-after", date.as_str()), 1).await;
    let started = Instant::now();
    assert_eq!(get(&http(3), &server).await, Ok(200));
    assert!(started.elapsed() >= Duration::from_millis(900), "a Retry-After date was not honoured");
}

/// CONNECTOR-RULES 31: a 403 with a spent rate limit (GitHub) waits for the
/// reset; a plain 403 is permanent and not retried.
#[tokio::test]
async fn a_rate_limited_403_waits_for_the_reset_and_a_plain_403_fails() {
    let server = MockServer::start().await;
    let reset = (time::OffsetDateTime::now_utc().unix_timestamp() + 2).to_string();
    let limited = ResponseTemplate::new(403)
        .insert_header("x-ratelimit-remaining", "0")
        .insert_header("x-ratelimit-reset", reset.as_str());
    then_ok(&server, limited, 1).await;
    let started = Instant::now();
    assert_eq!(get(&http(3), &server).await, Ok(200));
    assert!(started.elapsed() >= Duration::from_millis(900), "the reset was not waited for");

    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(403)).mount(&server).await;
    let error = get(&http(3), &server).await.unwrap_err();
    assert_eq!((error.class, error.status), (Class::Permanent, Some(403)));
    assert_eq!(requests(&server).await, 1);
}

/// CONNECTOR-RULES 32: 400, 404 and 405 are permanent: one request each.
#[tokio::test]
async fn permanent_errors_are_not_retried() {
    for status in [400, 404, 405, 422] {
        let server = MockServer::start().await;
        Mock::given(method("GET")).respond_with(ResponseTemplate::new(status)).mount(&server).await;
        let error = get(&http(5), &server).await.unwrap_err();
        assert_eq!((error.class, error.status), (Class::Permanent, Some(status)));
        assert_eq!(requests(&server).await, 1, "{status} was retried");
    }
}

/// A pause longer than the policy waits ends the call at once, with the
/// wait attached, so the job is rescheduled instead of holding a worker.
#[tokio::test]
async fn a_long_pause_is_handed_back_instead_of_waited_out() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "3600"))
        .mount(&server)
        .await;
    let started = Instant::now();
    let error = get(&http(5), &server).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!((error.class, error.retry_after), (Class::Transient, Some(Duration::from_secs(3600))));
    assert_eq!(requests(&server).await, 1);
}

/// CONNECTOR-RULES 31: a timeout is transient and retried.
#[tokio::test]
async fn a_timeout_is_retried() {
    let server = MockServer::start().await;
    then_ok(&server, ResponseTemplate::new(200).set_delay(Duration::from_secs(3)), 1).await;
    assert_eq!(get(&http(3), &server).await, Ok(200));
    assert_eq!(requests(&server).await, 2);
}

struct Tokens {
    refreshes: AtomicUsize,
    refreshed_token: Option<&'static str>,
}

#[async_trait::async_trait]
impl Credentials for Tokens {
    async fn token(&self) -> Result<String, FetchError> {
        Ok("old-token".into())
    }

    async fn refresh(&self) -> Result<Option<String>, FetchError> {
        self.refreshes.fetch_add(1, Ordering::SeqCst);
        Ok(self.refreshed_token.map(str::to_owned))
    }
}

async fn get_with(http: &Http, server: &MockServer, tokens: &Tokens) -> Result<u16, FetchError> {
    let url = format!("{}/items", server.uri());
    let call = Call { credentials: Some(tokens), ..Call::default() };
    http.send(call, |client, token| client.get(&url).bearer_auth(token.unwrap_or_default()))
        .await
        .map(|r| r.status().as_u16())
}

/// CONNECTOR-RULES 32: a 401 gets one refresh, then fails.
#[tokio::test]
async fn a_401_refreshes_the_token_once() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/items"))
        .and(header("authorization", "Bearer new-token"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(401)).with_priority(5).mount(&server).await;
    let tokens = Tokens { refreshes: AtomicUsize::new(0), refreshed_token: Some("new-token") };
    assert_eq!(get_with(&http(3), &server, &tokens).await, Ok(200));
    assert_eq!(tokens.refreshes.load(Ordering::SeqCst), 1);

    // The provider refuses the refreshed token too: one refresh, then a permanent failure.
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(401)).mount(&server).await;
    let tokens = Tokens { refreshes: AtomicUsize::new(0), refreshed_token: Some("new-token") };
    let error = get_with(&http(3), &server, &tokens).await.unwrap_err();
    assert_eq!((error.class, error.status), (Class::Permanent, Some(401)));
    assert_eq!((tokens.refreshes.load(Ordering::SeqCst), requests(&server).await), (1, 2));

    // An API key cannot be refreshed: one request.
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(401)).mount(&server).await;
    let key = Tokens { refreshes: AtomicUsize::new(0), refreshed_token: None };
    assert_eq!(get_with(&http(3), &server, &key).await.unwrap_err().status, Some(401));
    assert_eq!(requests(&server).await, 1);
}

/// CONNECTOR-RULES 35: an error holds neither the URL (a token may be in
/// it) nor the provider's body (which may echo one).
#[tokio::test]
async fn errors_never_carry_the_url_or_the_body() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(400).set_body_string("bad token tok_canary_123"))
        .mount(&server)
        .await;
    let url = format!("{}/bot/tok_canary_123/items", server.uri());
    let error = http(2).send(Call::default(), |client, _| client.get(&url)).await.unwrap_err();
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains("tok_canary_123") && !shown.contains("127.0.0.1"), "{shown}");
}

/// A connection's budget paces the client's requests: at twenty a second,
/// twenty-one requests take a second, and a response saying nothing is left
/// holds the next request until the reset.
#[tokio::test]
async fn the_budget_paces_requests_and_learns_from_the_answers() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(200)).mount(&server).await;
    let budget = connector_core::budget::RateBudget::new(20, Duration::from_secs(1));
    let client = http(1);
    let url = format!("{}/items", server.uri());
    let started = Instant::now();
    for _ in 0..21 {
        client.send(Call { budget: Some(&budget), ..Call::default() }, |c, _| c.get(&url)).await.unwrap();
    }
    assert!(started.elapsed() >= Duration::from_millis(990), "{:?}", started.elapsed());

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", "1"),
        )
        .mount(&server)
        .await;
    let url = format!("{}/items", server.uri());
    client.send(Call { budget: Some(&budget), ..Call::default() }, |c, _| c.get(&url)).await.unwrap();
    let started = Instant::now();
    client.send(Call { budget: Some(&budget), ..Call::default() }, |c, _| c.get(&url)).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(950), "{:?}", started.elapsed());
}

/// SECURITY F5: a provider that keeps failing opens the connection's
/// breaker; calls then fail at once without a request, until a probe after
/// the cooldown succeeds.
#[tokio::test]
async fn a_failing_provider_opens_the_breaker_and_a_probe_closes_it() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(3)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(200)).with_priority(5).mount(&server).await;
    let breaker = connector_core::breaker::CircuitBreaker::new(3, Duration::from_millis(300));
    let call = Call { breaker: Some(&breaker), ..Call::default() };
    let url = format!("{}/items", server.uri());
    let error = http(3).send(call, |c, _| c.get(&url)).await.unwrap_err();
    assert_eq!(error.status, Some(503));
    assert_eq!(breaker.state(), connector_core::breaker::BreakerState::Open);
    let refused = http(3).send(call, |c, _| c.get(&url)).await.unwrap_err();
    assert!(refused.status.is_none() && refused.retry_after.is_some(), "{refused:?}");
    assert_eq!(requests(&server).await, 3, "a request went while the breaker was open");

    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(http(3).send(call, |c, _| c.get(&url)).await.unwrap().status(), 200);
    assert_eq!(breaker.state(), connector_core::breaker::BreakerState::Closed);
}
