//! The SSM store beyond the shared contract, against moto through the real
//! AWS SDK: throttling and retries (SECURITY D3), tiers (D2), the read
//! cache, and errors an operator can act on. Throttling is injected by a
//! small proxy between the SDK and moto, because moto never throttles.

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    body::{Body, Bytes},
    http::{HeaderMap, Method, StatusCode, Uri},
    response::Response,
};
use platform::{
    Error,
    ids::TeamId,
    secrets::{
        ExposeSecret as _, SecretPath, SecretStore as _, SecretString,
        ssm::{RetryPolicy, SsmSettings, SsmStore},
    },
    testing::Moto,
};

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

/// Per SSM action (`PutParameter`…): which calls, counted from 1, fail, and
/// with which error code.
type Faults = HashMap<String, (Vec<usize>, String)>;

/// Sits between the SDK and moto. Answers chosen calls of an SSM action
/// with an error (`ThrottlingException`…), forwards the rest, and records
/// every call.
#[derive(Clone, Default)]
struct FaultProxy {
    faults: Arc<Mutex<Faults>>,
    /// Every call: its action, when it came, and whether it was throttled.
    seen: Arc<Mutex<Vec<(String, Instant, bool)>>>,
}

impl FaultProxy {
    async fn start(moto: &Moto) -> (Self, String) {
        let proxy = Self::default();
        let upstream = moto.endpoint().to_owned();
        let client = reqwest::Client::new();
        let state = proxy.clone();
        let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (state, client, upstream) = (state.clone(), client.clone(), upstream.clone());
            async move { state.handle(&client, &upstream, method, uri, headers, body).await }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (proxy, address)
    }

    fn fail(&self, action: &str, calls: &[usize], code: &str) {
        self.faults.lock().unwrap().insert(action.to_owned(), (calls.to_vec(), code.to_owned()));
    }

    fn throttle(&self, action: &str, calls: &[usize]) {
        self.fail(action, calls, "ThrottlingException");
    }

    fn calls_of(&self, action: &str) -> Vec<(Instant, bool)> {
        self.seen.lock().unwrap().iter().filter(|(a, ..)| a == action).map(|(_, at, t)| (*at, *t)).collect()
    }

    async fn handle(
        &self,
        client: &reqwest::Client,
        upstream: &str,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let action = target.rsplit('.').next().unwrap_or_default().to_owned();
        let fault = {
            let mut seen = self.seen.lock().unwrap();
            let nth = seen.iter().filter(|(a, ..)| *a == action).count() + 1;
            let faults = self.faults.lock().unwrap();
            let fault = faults.get(&action).filter(|(calls, _)| calls.contains(&nth)).map(|(_, code)| code.clone());
            seen.push((action, Instant::now(), fault.is_some()));
            fault
        };
        if let Some(code) = fault {
            // Like SSM's own messages, this one echoes what it was sent.
            let message = format!("Rate exceeded or refused: {}", String::from_utf8_lossy(&body));
            let body = serde_json::json!({ "__type": code, "message": message }).to_string();
            return Response::builder()
                .status(StatusCode::BAD_REQUEST)
                .header("content-type", "application/x-amz-json-1.1")
                .body(Body::from(body))
                .unwrap();
        }
        let mut request = client.request(method, format!("{upstream}{uri}")).body(body);
        for (name, value) in &headers {
            if name != "host" && name != "content-length" {
                request = request.header(name, value);
            }
        }
        let answer = request.send().await.unwrap();
        let mut response = Response::builder().status(answer.status());
        for (name, value) in answer.headers() {
            if name != "content-length" && name != "transfer-encoding" {
                response = response.header(name, value);
            }
        }
        response.body(Body::from(answer.bytes().await.unwrap())).unwrap()
    }
}

fn quick_retries(settings: &mut SsmSettings) {
    settings.retry =
        RetryPolicy { max_attempts: 6, base_delay: Duration::from_millis(40), max_delay: Duration::from_millis(400) };
}

// SECURITY D3
#[tokio::test]
async fn throttled_writes_are_retried_with_growing_backoff_and_no_write_is_lost() {
    let Some(moto) = Moto::shared() else { return };
    let (proxy, address) = FaultProxy::start(moto).await;
    let mut settings = moto.settings_at(&address);
    quick_retries(&mut settings);
    let prefix = settings.prefix.clone();
    let store = SsmStore::connect(settings).await.unwrap();
    let at = SecretPath::of(&TeamId::new(), &["pipedrive", "REFRESH_TOKEN"]).unwrap();

    proxy.throttle("PutParameter", &[1, 2, 3]);
    store.put(&at, &secret("rotated-refresh-token")).await.unwrap();

    let puts = proxy.calls_of("PutParameter");
    assert_eq!(puts.iter().map(|(_, t)| *t).collect::<Vec<_>>(), [true, true, true, false]);
    // Each wait is at least half its ceiling: 20, 40, then 80 ms.
    for (i, pair) in puts.windows(2).enumerate() {
        let gap = pair[1].0 - pair[0].0;
        let least = Duration::from_millis(20 << i);
        assert!(gap >= least, "retry {} came after {gap:?}, before its backoff of {least:?}", i + 1);
    }
    assert_eq!(store.api_calls(), 4);

    // Read straight from moto, past the proxy and any cache: the write landed.
    let mut direct = moto.settings();
    direct.prefix = prefix;
    let direct = SsmStore::connect(direct).await.unwrap();
    assert_eq!(direct.get_fresh(&at).await.unwrap().unwrap().value.expose_secret(), "rotated-refresh-token");
}

// SECURITY D3, D4
#[tokio::test]
async fn a_throttled_page_of_a_listing_is_retried_and_no_key_is_lost() {
    let Some(moto) = Moto::shared() else { return };
    let (proxy, address) = FaultProxy::start(moto).await;
    let mut settings = moto.settings_at(&address);
    quick_retries(&mut settings);
    let store = SsmStore::connect(settings).await.unwrap();
    let connection = SecretPath::of(&TeamId::new(), &["gong"]).unwrap();
    for i in 0..25 {
        store.put(&connection.join(&format!("K{i:02}")).unwrap(), &secret(&format!("v{i}"))).await.unwrap();
    }
    proxy.throttle("GetParametersByPath", &[2]);
    let all = store.get_all(&connection).await.unwrap();
    assert_eq!(all.len(), 25);
    let pages = proxy.calls_of("GetParametersByPath");
    assert_eq!(pages.len(), 4, "3 pages of at most 10, one of them retried");
    assert!(pages[1].1 && !pages[2].1);
}

// SECURITY D3: attempts are capped.
#[tokio::test]
async fn throttling_that_never_ends_fails_after_the_capped_attempts_in_words() {
    let Some(moto) = Moto::shared() else { return };
    let (proxy, address) = FaultProxy::start(moto).await;
    let mut settings = moto.settings_at(&address);
    quick_retries(&mut settings);
    let store = SsmStore::connect(settings).await.unwrap();
    proxy.throttle("PutParameter", &(1..=100).collect::<Vec<_>>());

    let at = SecretPath::of(&TeamId::new(), &["asana", "ACCESS_TOKEN"]).unwrap();
    let error = store.put(&at, &secret("never-stored")).await.unwrap_err();
    assert!(matches!(error, Error::SecretBackend { backend: "ssm", .. }), "{error}");
    assert!(error.to_string().contains("kept throttling PutParameter after 6 attempts"), "{error}");
    assert_eq!(proxy.calls_of("PutParameter").len(), 6);
}

// SECURITY D2
#[tokio::test]
async fn values_over_4_kb_need_the_advanced_tier_and_say_so() {
    let Some(moto) = Moto::shared() else { return };
    let big = secret(&"x".repeat(5000));
    let standard = SsmStore::connect(moto.settings()).await.unwrap();
    let at = SecretPath::of(&TeamId::new(), &["salesforce", "JWT_KEY"]).unwrap();
    let error = standard.put(&at, &big).await.unwrap_err();
    assert!(error.to_string().contains("5000 bytes, over the 4096-byte limit"), "{error}");
    assert!(error.to_string().contains("PATCHBAY_SSM_ADVANCED_TIER=on"), "{error}");
    assert_eq!(standard.api_calls(), 0, "refused before any call");
    standard.put(&at, &secret(&"x".repeat(4096))).await.unwrap();

    let mut settings = moto.settings();
    settings.advanced_tier = true;
    let advanced = SsmStore::connect(settings).await.unwrap();
    let at = SecretPath::of(&TeamId::new(), &["salesforce", "JWT_KEY"]).unwrap();
    advanced.put(&at, &big).await.unwrap();
    assert_eq!(advanced.get_fresh(&at).await.unwrap().unwrap().value.expose_secret().len(), 5000);
    advanced.put(&at, &secret("small again")).await.unwrap();
}

#[tokio::test]
async fn a_thousand_token_reads_within_the_cache_ttl_make_one_ssm_call_even_concurrently() {
    let Some(moto) = Moto::shared() else { return };
    let settings = moto.settings();
    // The token was stored by another replica, so this one starts cold.
    let writer = SsmStore::connect(settings.clone()).await.unwrap();
    let store = Arc::new(SsmStore::connect(settings).await.unwrap());
    let at = SecretPath::of(&TeamId::new(), &["linear", "ACCESS_TOKEN"]).unwrap();
    writer.put(&at, &secret("token")).await.unwrap();
    let before = store.api_calls();

    let readers: Vec<_> = (0..10)
        .map(|_| {
            let (store, at) = (store.clone(), at.clone());
            tokio::spawn(async move {
                for _ in 0..100 {
                    assert_eq!(store.get(&at).await.unwrap().unwrap().value.expose_secret(), "token");
                }
            })
        })
        .collect();
    for reader in readers {
        reader.await.unwrap();
    }
    assert_eq!(store.api_calls() - before, 1);
}

#[tokio::test]
async fn another_replicas_write_is_seen_by_a_fresh_read_and_after_the_ttl() {
    let Some(moto) = Moto::shared() else { return };
    let mut settings = moto.settings();
    settings.cache_ttl = Duration::from_millis(300);
    let replica_a = SsmStore::connect(settings.clone()).await.unwrap();
    let replica_b = SsmStore::connect(settings).await.unwrap();
    let at = SecretPath::of(&TeamId::new(), &["hubspot", "ACCESS_TOKEN"]).unwrap();
    replica_a.put(&at, &secret("one")).await.unwrap();
    assert_eq!(replica_a.get(&at).await.unwrap().unwrap().value.expose_secret(), "one");

    replica_b.put(&at, &secret("two")).await.unwrap();
    assert_eq!(replica_a.get_fresh(&at).await.unwrap().unwrap().value.expose_secret(), "two");
    replica_b.put(&at, &secret("three")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(replica_a.get(&at).await.unwrap().unwrap().value.expose_secret(), "three");
}

#[tokio::test]
async fn an_unreachable_endpoint_is_reported_with_the_address_after_bounded_retries() {
    let Some(moto) = Moto::shared() else { return };
    // Port 1 on loopback: nothing listens there.
    let mut settings = moto.settings_at("http://127.0.0.1:1");
    quick_retries(&mut settings);
    let store = SsmStore::connect(settings).await.unwrap();
    let error = store.check().await.unwrap_err().to_string();
    assert!(error.starts_with("secret store (ssm): cannot reach SSM at http://127.0.0.1:1"), "{error}");
    assert_eq!(store.api_calls(), 6);
}

// CONNECTOR-RULES 35: SSM's text can echo the value; it is never passed on.
#[tokio::test]
async fn ssm_refusals_are_explained_in_our_words_without_echoing_ssm_text() {
    let Some(moto) = Moto::shared() else { return };
    let (proxy, address) = FaultProxy::start(moto).await;
    let store = SsmStore::connect(moto.settings_at(&address)).await.unwrap();
    let at = SecretPath::of(&TeamId::new(), &["figma", "ACCESS_TOKEN"]).unwrap();
    let cases = [
        ("AccessDeniedException", "lack the IAM permission ssm:PutParameter"),
        ("UnrecognizedClientException", "AWS did not accept the credentials (UnrecognizedClientException)"),
        ("InvalidKeyId", "the KMS key in PATCHBAY_SSM_KMS_KEY_ID cannot be used"),
        ("ValidationException", "SSM refused PutParameter on /pbtest-"),
    ];
    for (n, (code, expected)) in cases.iter().enumerate() {
        proxy.fail("PutParameter", &[n + 1], code);
        let error = store.put(&at, &secret("value-canary")).await.unwrap_err().to_string();
        assert!(error.starts_with("secret store (ssm): "), "{code}: {error}");
        assert!(error.contains(expected), "{code}: {error}");
        assert!(!error.contains("value-canary") && !error.contains("Rate exceeded"), "{code}: {error}");
    }
    assert_eq!(proxy.calls_of("PutParameter").len(), cases.len(), "permanent errors are not retried");
}
