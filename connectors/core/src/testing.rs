//! What the connectors' fixture suites share (feature `testing`): a
//! wiremock server standing in for the provider, a client that retries
//! quickly, credentials that count refreshes, and fixture files.

use std::{
    collections::BTreeMap,
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use wiremock::MockServer;

use crate::{
    http::{Call, Credentials, FetchError, Http, RetryPolicy},
    source::{CONFIRM_BATCH, Change, Context, Listing, Mode, Page, Record, Source, Unseen, about_asked},
};

/// A JSON fixture from a crate's `tests/fixtures/`.
///
/// # Panics
/// When the file is missing or not JSON: the suite is broken.
pub fn fixture(manifest_dir: &str, name: &str) -> serde_json::Value {
    let path = format!("{manifest_dir}/tests/fixtures/{name}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Credentials whose token is `old-token` until refreshed, then
/// `new-token`; the fake provider accepts only the new one.
#[derive(Debug)]
pub struct TestTokens {
    refreshes: AtomicU32,
}

impl TestTokens {
    /// Already refreshed: `new-token` from the start.
    pub fn fresh() -> Self {
        Self { refreshes: AtomicU32::new(1) }
    }

    /// `old-token` until the first refresh.
    pub fn stale() -> Self {
        Self { refreshes: AtomicU32::new(0) }
    }

    /// Refreshes asked for, beyond the one `fresh` starts with.
    pub fn refreshes(&self) -> u32 {
        self.refreshes.load(Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl Credentials for TestTokens {
    async fn token(&self) -> Result<String, FetchError> {
        Ok(if self.refreshes() == 0 { "old-token" } else { "new-token" }.into())
    }

    async fn refresh(&self) -> Result<Option<String>, FetchError> {
        self.refreshes.fetch_add(1, Ordering::SeqCst);
        Ok(Some("new-token".into()))
    }
}

/// A source, a fake provider for it, and what its calls go with.
#[derive(Debug)]
pub struct Harness<S> {
    pub server: MockServer,
    pub http: Http,
    pub tokens: TestTokens,
    /// The API's base URL: the server's address and `base_path`.
    pub base: String,
    pub settings: BTreeMap<String, String>,
    /// The change token a changes run resumes from.
    pub token: Option<String>,
    /// The stream the runs read; "" (the whole connection) unless set.
    pub stream: String,
    /// Where requests carry the token: a bearer token unless set.
    pub auth: crate::auth::Placement,
    /// Hosts besides the fake's that next-page URLs may lead to.
    pub allowed_hosts: Vec<String>,
    source: S,
}

impl<S: Source> Harness<S> {
    /// Starts the fake provider; the client tries three times, 10 ms apart
    /// at first, and waits at most 5 s for one pause.
    ///
    /// # Panics
    /// When the client cannot start.
    pub async fn start(source: S, base_path: &str) -> Self {
        let server = MockServer::start().await;
        let policy =
            RetryPolicy { max_attempts: 3, base_delay: Duration::from_millis(10), max_delay: Duration::from_secs(5) };
        let http = Http::new(Duration::from_secs(5), policy).expect("the HTTP client starts");
        let base = format!("{}{base_path}", server.uri());
        Self {
            server,
            http,
            tokens: TestTokens::fresh(),
            base,
            settings: BTreeMap::new(),
            token: None,
            stream: String::new(),
            auth: crate::auth::Placement::Bearer,
            allowed_hosts: Vec::new(),
            source,
        }
    }

    /// The same, with the token placed as `auth` says.
    #[must_use]
    pub fn with_auth(mut self, auth: crate::auth::Placement) -> Self {
        self.auth = auth;
        self
    }

    /// The same, with credentials that must be refreshed once.
    pub fn with_stale_token(mut self) -> Self {
        self.tokens = TestTokens::stale();
        self
    }

    fn context(&self) -> Context<'_> {
        Context {
            http: &self.http,
            call: Call { credentials: Some(&self.tokens), ..Call::default() },
            base_url: &self.base,
            settings: &self.settings,
            token: self.token.as_deref(),
            stream: &self.stream,
            auth: &self.auth,
            allowed_hosts: &self.allowed_hosts,
        }
    }

    /// What the source is asked with: the fake's address, the test
    /// tokens, the settings and the stream.
    pub fn cx(&self) -> Context<'_> {
        self.context()
    }

    /// The source under test, for what else it implements (its
    /// [`crate::webhooks::Receiver`]).
    pub fn source(&self) -> &S {
        &self.source
    }

    /// The source's page of `mode` at `cursor`.
    pub async fn page(&self, mode: Mode, cursor: Option<&str>) -> Result<Page, FetchError> {
        self.source.page(&self.context(), mode, cursor).await
    }

    /// Every change of a pass of `mode` from `cursor` to its end.
    ///
    /// # Panics
    /// When a page fails.
    pub async fn walk(&self, mode: Mode, mut cursor: Option<String>) -> Vec<Change> {
        let mut changes = Vec::new();
        loop {
            let page = self.page(mode, cursor.as_deref()).await.expect("a page of the pass");
            changes.extend(page.changes);
            match page.next {
                Some(next) => cursor = Some(next),
                None => return changes,
            }
        }
    }

    /// The source's answer about records a full pass did not see.
    pub async fn confirm(&self, unseen: &[Unseen]) -> Result<Vec<Change>, FetchError> {
        self.source.confirm(&self.context(), unseen).await
    }

    /// A full pass with its prune, as the runner makes it (CONNECTOR-RULES
    /// 36) over a store that holds `stored`: every page to the end, then
    /// the stored records the pass did not see are confirmed in batches
    /// over a listing that may shift, or removed over a stable one.
    /// Returns the store after the pass.
    ///
    /// # Panics
    /// When a page or a confirmation fails.
    pub async fn full_pass_with_prune(&self, stored: Vec<Record>) -> BTreeMap<(String, String), Record> {
        let mut store: BTreeMap<(String, String), Record> =
            stored.into_iter().map(|r| ((r.entity_type.clone(), r.entity_id.clone()), r)).collect();
        let mut seen = std::collections::BTreeSet::new();
        for change in self.walk(Mode::Full, None).await {
            let key = (change.key().0.to_owned(), change.key().1.to_owned());
            seen.insert(key.clone());
            apply(&mut store, key, change);
        }
        let unseen: Vec<Unseen> = store
            .iter()
            .filter(|(key, _)| !seen.contains(*key))
            .map(|((entity_type, entity_id), r)| Unseen {
                entity_type: entity_type.clone(),
                entity_id: entity_id.clone(),
                content: r.content.clone(),
            })
            .collect();
        if self.source.listing() == Listing::Stable {
            for u in unseen {
                store.remove(&(u.entity_type, u.entity_id));
            }
            return store;
        }
        for batch in unseen.chunks(CONFIRM_BATCH) {
            let answered = self.confirm(batch).await.expect("the unseen records confirmed");
            for change in about_asked(batch, answered) {
                let key = (change.key().0.to_owned(), change.key().1.to_owned());
                apply(&mut store, key, change);
            }
        }
        store
    }

    /// The requests the fake provider received, in order.
    ///
    /// # Panics
    /// When the server does not record requests (it always does here).
    pub async fn requests(&self) -> Vec<wiremock::Request> {
        self.server.received_requests().await.expect("requests are recorded")
    }
}

fn apply(store: &mut BTreeMap<(String, String), Record>, key: (String, String), change: Change) {
    match change {
        Change::Upsert(record) => {
            store.insert(key, record);
        }
        Change::Remove { .. } => {
            store.remove(&key);
        }
    }
}

/// Serves a mock from a responder the test keeps a handle on, to change
/// what it answers (a listing that shifts) or read what it saw.
#[derive(Debug)]
pub struct Shared<T>(pub std::sync::Arc<T>);

impl<T: wiremock::Respond + Send + Sync + 'static> wiremock::Respond for Shared<T> {
    fn respond(&self, request: &wiremock::Request) -> wiremock::ResponseTemplate {
        self.0.respond(request)
    }
}

/// A change as the conformance checks compare it: `upsert issue 7`,
/// `remove item itm_1`.
pub fn key(change: &Change) -> String {
    match change {
        Change::Upsert(r) => format!("upsert {} {}", r.entity_type, r.entity_id),
        Change::Remove { entity_type, entity_id } => format!("remove {entity_type} {entity_id}"),
    }
}

/// The [`key`]s of `changes`, in order.
pub fn keys(changes: &[Change]) -> Vec<String> {
    changes.iter().map(key).collect()
}

/// The upsert of `id` among `changes`.
///
/// # Panics
/// When there is none: the check that wanted it fails, naming what there is.
pub fn upserted<'a>(changes: &'a [Change], id: &str) -> &'a Record {
    changes
        .iter()
        .find_map(|c| match c {
            Change::Upsert(r) if r.entity_id == id => Some(r),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no upsert of {id} in {:?}", keys(changes)))
}

/// A 200 answer with `body` as JSON, as a fake provider answers.
pub fn json_ok(body: serde_json::Value) -> wiremock::ResponseTemplate {
    wiremock::ResponseTemplate::new(200).set_body_json(body)
}

/// Which of its fixture listings a connector's `serve` mounts for a check
/// of [`conformance`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Served {
    /// Its full listing, to the end.
    Full,
    /// Its changes listing, answered only when asked with the changes
    /// filter for [`Expected::since`] (a query parameter, a GraphQL
    /// variable), so a connector that does not ask with it fails.
    Changes,
    /// One page in which one record cannot be mapped.
    Unmappable,
}

/// What a connector's fixtures hold, as the conformance checks expect it.
#[derive(Clone, Debug)]
pub struct Expected<'a> {
    /// The path every request of the connector starts with, where the
    /// faults are mounted over the listings.
    pub api: &'a str,
    /// The full listing's changes, as [`key`]s.
    pub full: &'a [&'a str],
    /// The instant a changes run asks from, and the changes it yields.
    pub since: time::OffsetDateTime,
    pub changes: &'a [&'a str],
    /// What the unmappable page keeps, and the name of the one it skips.
    pub kept: &'a [&'a str],
    pub skipped: &'a str,
    /// A record an earlier pass stored that the provider no longer has
    /// (a lookup of it answers 404).
    pub gone: Record,
}

/// The checks every connector passes, each against a fresh fake provider
/// (issue 21's conformance suite; CONNECTOR-RULES 6, 7, 17, 18, 31, 32,
/// 36, 39):
///
/// - a full pass pages to the end and yields exactly the full listing:
///   private and unknown-visibility records come out as removals, never
///   upserts;
/// - a stored cursor resumes mid-way with the rest, without the first page;
/// - a full pass with its prune removes a stored record the provider no
///   longer has, and keeps every record it listed;
/// - a changes run asks with its filter and yields only the changes;
/// - a record that cannot be mapped is skipped by name, and the rest of
///   its page is kept;
/// - a 401 gets one refresh, which lets the page through, or the call
///   fails for good after it;
/// - a 429 with `Retry-After` is waited out, then the page is read;
/// - 5xx answers are retried up to the cap, then fail as transient;
/// - an answer that is not JSON is permanent, and its body is not echoed.
///
/// `start` makes the connector's harness and `serve` mounts one of its
/// fixture listings.
///
/// # Panics
/// At the first check that fails, naming it.
pub async fn conformance<S: Source>(
    start: impl AsyncFn() -> Harness<S>,
    serve: impl AsyncFn(&Harness<S>, Served),
    expected: Expected<'_>,
) {
    use wiremock::{Mock, ResponseTemplate, matchers::path_regex};
    let Expected { api, full, .. } = expected;
    let everything = || Mock::given(path_regex(format!("^{}", regex_escape(api))));
    let walk = async |h: &Harness<S>, cursor: Option<String>| {
        h.walk(Mode::Full, cursor).await.iter().map(key).collect::<Vec<_>>()
    };

    let h = start().await;
    serve(&h, Served::Full).await;
    assert_eq!(walk(&h, None).await, full, "conformance: the full pass");
    assert!(
        full.iter().all(|k| k.starts_with("upsert ") || k.starts_with("remove ")),
        "conformance: keys are `upsert …` or `remove …`"
    );

    let h = start().await;
    serve(&h, Served::Full).await;
    let first = h.page(Mode::Full, None).await.expect("the first page");
    let asked = h.requests().await.len();
    if let Some(next) = first.next.clone() {
        let rest = walk(&h, Some(next)).await;
        assert_eq!(rest, full[first.changes.len()..], "conformance: a stored cursor resumes mid-way");
        // Requests are told apart by URL and body (GraphQL posts to one URL).
        let again = h.requests().await;
        let same = |a: &wiremock::Request, b: &wiremock::Request| a.url == b.url && a.body == b.body;
        assert!(
            !again[asked..].iter().any(|r| same(r, &again[0])),
            "conformance: the resumed pass read the first page again"
        );
    }

    let h = start().await;
    serve(&h, Served::Full).await;
    let gone = (expected.gone.entity_type.clone(), expected.gone.entity_id.clone());
    let store = h.full_pass_with_prune(vec![expected.gone.clone()]).await;
    assert!(!store.contains_key(&gone), "conformance: a record the provider no longer has was kept");
    let stored: Vec<String> = store.keys().map(|(t, id)| format!("upsert {t} {id}")).collect();
    let mut listed: Vec<String> = full.iter().filter(|k| k.starts_with("upsert ")).map(|k| (*k).to_owned()).collect();
    listed.sort();
    assert_eq!(stored, listed, "conformance: the prune kept exactly the records listed");

    let h = start().await;
    serve(&h, Served::Changes).await;
    let changes = h.walk(Mode::Changes { since: expected.since }, None).await;
    assert_eq!(changes.iter().map(key).collect::<Vec<_>>(), expected.changes, "conformance: a changes run");

    let h = start().await;
    serve(&h, Served::Unmappable).await;
    let page = h.page(Mode::Full, None).await.expect("conformance: one unmappable record does not fail its page");
    assert_eq!(page.changes.iter().map(key).collect::<Vec<_>>(), expected.kept, "conformance: the rest is kept");
    let skipped: Vec<&str> = page.skipped.iter().map(|s| s.record.as_str()).collect();
    assert_eq!(skipped, [expected.skipped], "conformance: the unmappable record is named");

    let h = start().await.with_stale_token();
    everything().respond_with(ResponseTemplate::new(401)).up_to_n_times(1).with_priority(1).mount(&h.server).await;
    serve(&h, Served::Full).await;
    let page = h.page(Mode::Full, None).await.expect("conformance: a 401, then the refreshed token works");
    assert_eq!(page.changes.iter().map(key).collect::<Vec<_>>(), full[..page.changes.len()], "conformance: 401");
    assert_eq!(h.tokens.refreshes(), 1, "conformance: one refresh after a 401");
    let h = start().await.with_stale_token();
    everything().respond_with(ResponseTemplate::new(401)).with_priority(1).mount(&h.server).await;
    let error = h.page(Mode::Full, None).await.expect_err("conformance: a 401 that persists fails");
    assert_eq!((error.class, error.status), (crate::http::Class::Permanent, Some(401)), "conformance: 401");
    assert_eq!(h.tokens.refreshes(), 1, "conformance: one refresh after a 401, not more");
    assert_eq!(h.requests().await.len(), 2, "conformance: a 401 is tried once more, after the refresh");

    let h = start().await;
    everything()
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&h.server)
        .await;
    serve(&h, Served::Full).await;
    let started = std::time::Instant::now();
    let page = h.page(Mode::Full, None).await.expect("conformance: a 429 is waited out");
    assert!(started.elapsed() >= Duration::from_secs(1), "conformance: Retry-After was not honoured");
    assert_eq!(page.changes.iter().map(key).collect::<Vec<_>>(), full[..page.changes.len()], "conformance: 429");

    let h = start().await;
    everything().respond_with(ResponseTemplate::new(502)).up_to_n_times(2).with_priority(1).mount(&h.server).await;
    serve(&h, Served::Full).await;
    let page = h.page(Mode::Full, None).await.expect("conformance: two 5xx, then the page");
    assert_eq!(page.changes.iter().map(key).collect::<Vec<_>>(), full[..page.changes.len()], "conformance: 5xx");
    let h = start().await;
    everything().respond_with(ResponseTemplate::new(503)).with_priority(1).mount(&h.server).await;
    let error = h.page(Mode::Full, None).await.expect_err("conformance: a provider that stays down fails");
    assert_eq!((error.class, error.status), (crate::http::Class::Transient, Some(503)), "conformance: 5xx");
    assert_eq!(h.requests().await.len(), 3, "conformance: 5xx retried up to the cap of three");

    let h = start().await;
    everything()
        .respond_with(ResponseTemplate::new(200).set_body_raw("<html>maintenance</html>", "text/html"))
        .with_priority(1)
        .mount(&h.server)
        .await;
    let error = h.page(Mode::Full, None).await.expect_err("conformance: a body that is not JSON fails");
    assert_eq!(error.class, crate::http::Class::Permanent, "conformance: a malformed body is permanent");
    assert!(error.message.contains("documented shape"), "conformance: {}", error.message);
    assert!(!error.message.contains("maintenance"), "conformance: the body is not echoed");
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == '_' || c == '-' { c.to_string() } else { format!("\\{c}") }
        })
        .collect()
}
