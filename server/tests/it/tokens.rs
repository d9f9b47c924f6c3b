//! The token lifecycle against the sandbox, whose refresh tokens rotate and
//! are accepted once (a reuse revokes the whole grant): each test names the
//! SECURITY item it proves.

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use crate::common::{self, pid};

use common::{TestApp, expire_token_soon, join_all, stored_token};
use platform::{
    credentials::tokens::{self, TokenError},
    ids::TeamId,
    outbound::oauth2::{StoredToken, TOKEN_KEY},
    secrets::SecretPath,
    store::installations::{self, State},
};
use sandbox::Fault;
use secrecy::{ExposeSecret as _, SecretString};

fn token_path(team: &TeamId) -> SecretPath {
    SecretPath::of(team, &["sandbox", TOKEN_KEY]).unwrap()
}

async fn stored(app: &TestApp, team: &TeamId) -> StoredToken {
    stored_token(&app.platform, team, "sandbox").await.expect("a stored token")
}

async fn expire_soon(app: &TestApp, team: &TeamId) {
    expire_token_soon(&app.platform, team, "sandbox").await;
}

fn sandbox(app: &TestApp) -> &sandbox::Sandbox {
    app.sandbox.as_ref().unwrap()
}

async fn connected(app: &TestApp) -> TeamId {
    app.setup_team().await;
    app.connect_sandbox().await;
    app.admin_team().await
}

async fn state(app: &TestApp, team: &TeamId) -> State {
    let mut conn = app.platform.db.pool().acquire().await.unwrap();
    installations::find(&mut conn, team, &pid("sandbox")).await.unwrap().unwrap().state
}

async fn works_at_the_provider(app: &TestApp, access_token: &str) -> bool {
    let me = app.client.get(app.url("/sandbox/api/me")).bearer_auth(access_token).send().await.unwrap();
    me.status() == 200
}

/// SECURITY E6, E3: a token is refreshed ahead of its expiry, read from the store when used.
#[tokio::test]
async fn e6_a_token_is_refreshed_ahead_of_expiry_and_not_before() {
    let app = TestApp::sqlite().await;
    let team = connected(&app).await;
    let first = stored(&app, &team).await;

    let fresh = tokens::access_token(&app.platform, &team, &pid("sandbox")).await.unwrap();
    assert_eq!(fresh.expose_secret(), first.access_token);
    assert_eq!(sandbox(&app).refresh_requests(), 0, "a token with minutes left was refreshed");

    expire_soon(&app, &team).await;
    let renewed = tokens::access_token(&app.platform, &team, &pid("sandbox")).await.unwrap();
    assert_ne!(renewed.expose_secret(), first.access_token);
    assert_eq!(sandbox(&app).refresh_requests(), 1);
    assert!(works_at_the_provider(&app, renewed.expose_secret()).await);
    app.leave_jobs("the first backfill the connect queued is not what this test checks");
    app.stop().await;
}

/// SECURITY E1: many concurrent users of an expiring token make one refresh, and all get the new token.
async fn e1_fifty_concurrent_callers_make_exactly_one_refresh(app: TestApp) {
    let team = connected(&app).await;
    expire_soon(&app, &team).await;

    let calls = (0..50).map(|_| {
        let (platform, team) = (app.platform.clone(), team.clone());
        tokio::spawn(async move { tokens::access_token(&platform, &team, &pid("sandbox")).await })
    });
    let results: Vec<_> = join_all(calls).await;

    let tokens: Vec<String> = results.into_iter().map(|r| r.unwrap().unwrap().expose_secret().to_owned()).collect();
    assert_eq!(sandbox(&app).refresh_requests(), 1, "more than one refresh was made");
    assert!(tokens.iter().all(|t| *t == tokens[0]), "callers got different tokens");
    assert_eq!(stored(&app, &team).await.access_token, tokens[0]);
    assert_eq!(state(&app, &team).await, State::Connected, "a caller met invalid_grant");
    app.leave_jobs("the first backfill the connect queued is not what this test checks");
    app.stop().await;
}
app_test_on_both_backends!(e1_concurrent_refresh, e1_fifty_concurrent_callers_make_exactly_one_refresh);

/// SECURITY E2, CONNECTOR-RULES 24: the rotated refresh token is stored; none sent keeps the old one.
#[tokio::test]
async fn e2_a_rotated_refresh_token_is_stored_and_a_missing_one_keeps_the_old() {
    let app = TestApp::sqlite().await;
    let team = connected(&app).await;
    let before = stored(&app, &team).await;

    expire_soon(&app, &team).await;
    let access = tokens::access_token(&app.platform, &team, &pid("sandbox")).await.unwrap();
    let rotated = stored(&app, &team).await;
    assert_ne!(rotated.refresh_token, before.refresh_token, "the rotated refresh token was not stored");
    assert_eq!(rotated.access_token, access.expose_secret(), "an access token was used before it was stored");

    sandbox(&app).inject_faults([Fault::NoRefreshToken]);
    expire_soon(&app, &team).await;
    tokens::access_token(&app.platform, &team, &pid("sandbox")).await.unwrap();
    assert_eq!(stored(&app, &team).await.refresh_token, rotated.refresh_token, "the refresh token was lost");
    // And it still works: the next refresh succeeds.
    expire_soon(&app, &team).await;
    assert!(tokens::access_token(&app.platform, &team, &pid("sandbox")).await.is_ok());
    app.leave_jobs("the first backfill the connect queued is not what this test checks");
    app.stop().await;
}

/// SECURITY E4: `invalid_grant` marks the connection "needs re-auth", the admin sees it, and can reconnect.
#[tokio::test]
async fn e4_invalid_grant_marks_the_connection_needs_reauth_and_a_reconnect_recovers() {
    let app = TestApp::sqlite().await;
    let team = connected(&app).await;
    sandbox(&app).inject_faults([Fault::InvalidGrant]);
    expire_soon(&app, &team).await;

    let error = tokens::access_token(&app.platform, &team, &pid("sandbox")).await.unwrap_err();
    assert!(matches!(error, TokenError::NeedsReauth), "{error:?}");
    assert_eq!(state(&app, &team).await, State::NeedsReauth);
    // No more refreshes are tried for a dead grant.
    assert!(matches!(tokens::access_token(&app.platform, &team, &pid("sandbox")).await, Err(TokenError::NeedsReauth)));
    assert_eq!(sandbox(&app).refresh_requests(), 1);
    let card = app.get("/integrations").await.text().await.unwrap();
    assert!(card.contains("Needs re-auth"));
    let page = app.get("/integrations/sandbox").await.text().await.unwrap();
    assert!(page.contains("Reconnect") && page.contains("no longer accepts"), "{page}");

    app.connect_sandbox().await;
    assert_eq!(state(&app, &team).await, State::Connected);
    assert!(tokens::access_token(&app.platform, &team, &pid("sandbox")).await.is_ok());
    app.leave_jobs("the first backfill the connect queued is not what this test checks");
    app.stop().await;
}

/// SECURITY E5, CONNECTOR-RULES 25: timeouts and 5xx are retried and never mark the connection broken.
#[tokio::test]
async fn e5_transient_refresh_failures_are_retried_and_do_not_break_the_connection() {
    let app = TestApp::sqlite().await;
    let team = connected(&app).await;
    let before = stored(&app, &team).await;

    sandbox(&app).inject_faults([Fault::Unavailable, Fault::ServerError]);
    expire_soon(&app, &team).await;
    let access = tokens::access_token(&app.platform, &team, &pid("sandbox")).await.unwrap();
    assert_eq!(sandbox(&app).refresh_requests(), 3);
    assert!(works_at_the_provider(&app, access.expose_secret()).await);

    sandbox(&app).inject_faults([Fault::Unavailable, Fault::Unavailable, Fault::ServerError]);
    expire_soon(&app, &team).await;
    let kept = stored(&app, &team).await;
    let error = tokens::access_token(&app.platform, &team, &pid("sandbox")).await.unwrap_err();
    assert!(matches!(error, TokenError::Unavailable), "{error:?}");
    assert_eq!(state(&app, &team).await, State::Connected, "a transient failure broke the connection");
    assert_eq!(stored(&app, &team).await.refresh_token, kept.refresh_token);
    assert_ne!(kept.refresh_token, before.refresh_token);
    app.leave_jobs("the first backfill the connect queued is not what this test checks");
    app.stop().await;
}

/// SECURITY G2: garbage from the token endpoint is survived, and nothing stored is lost.
#[tokio::test]
async fn g2_malformed_token_responses_change_nothing_stored() {
    let app = TestApp::sqlite().await;
    let team = connected(&app).await;
    for fault in [Fault::Malformed, Fault::NoAccessToken, Fault::ExpiresInNegative, Fault::ExpiresInString] {
        sandbox(&app).inject_faults([fault]);
        expire_soon(&app, &team).await;
        let before = stored(&app, &team).await;
        let error = tokens::access_token(&app.platform, &team, &pid("sandbox")).await.unwrap_err();
        assert!(matches!(error, TokenError::Unavailable), "{fault:?}: {error:?}");
        assert_eq!(stored(&app, &team).await.refresh_token, before.refresh_token, "{fault:?}");
        assert_eq!(state(&app, &team).await, State::Connected, "{fault:?}");
    }
    // A huge lifetime is clamped, not overflowed.
    sandbox(&app).inject_faults([Fault::ExpiresInHuge]);
    expire_soon(&app, &team).await;
    tokens::access_token(&app.platform, &team, &pid("sandbox")).await.unwrap();
    let expires_at = stored(&app, &team).await.expires_at.unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(expires_at > now && expires_at <= now + 10 * 366 * 86_400, "{expires_at}");
    app.leave_jobs("the first backfill the connect queued is not what this test checks");
    app.stop().await;
}

/// SECURITY C3: a team's token is never handed to another team.
#[tokio::test]
async fn c3_another_team_gets_no_token() {
    let app = TestApp::sqlite().await;
    connected(&app).await;
    let error = tokens::access_token(&app.platform, &TeamId::new(), &pid("sandbox")).await.unwrap_err();
    assert!(matches!(error, TokenError::NotConnected), "{error:?}");
    app.leave_jobs("the first backfill the connect queued is not what this test checks");
    app.stop().await;
}

/// SECURITY E4, E6 through the page's Check connection: a due token is
/// refreshed first; a refused refresh marks the connection "needs re-auth"
/// and the admin is told why and offered Reconnect.
#[tokio::test]
async fn check_connection_refreshes_a_due_token_and_reports_a_dead_grant() {
    let app = TestApp::sqlite().await;
    let team = connected(&app).await;
    let check = || app.browser.post_form("/api/check_connection", &[("provider", "sandbox")]);

    expire_soon(&app, &team).await;
    let response = check().await;
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(body.contains(&format!("the provider answers as {}", sandbox::USER_NAME)), "{body}");
    assert_eq!(sandbox(&app).refresh_requests(), 1, "the due token was not refreshed first");

    sandbox(&app).inject_faults([Fault::InvalidGrant]);
    expire_soon(&app, &team).await;
    let response = check().await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("no longer accepts the stored authorization. Reconnect"));
    assert_eq!(state(&app, &team).await, State::NeedsReauth);
    let page = app.get("/integrations/sandbox").await.text().await.unwrap();
    assert!(page.contains("Reconnect"), "{page}");
    app.leave_jobs("the first backfill the connect queued is not what this test checks");
    app.stop().await;
}

/// SECURITY E3: every use reads the store. On SSM with a minute-long read
/// cache, a token another console process wrote (its refresh, a reconnect)
/// is what the next caller here gets, although a cached read would still
/// give the old one.
#[tokio::test]
async fn e3_each_use_reads_the_token_from_the_store_past_any_cache() {
    let Some(moto) = platform::testing::Moto::shared() else { return };
    let mut ssm = moto.settings();
    ssm.cache_ttl = std::time::Duration::from_secs(60);
    let other_ssm = ssm.clone();
    let app = TestApp::spawn_configured(platform::testing::TestDatabase::sqlite(), &[], move |config| {
        config.secrets = platform::secrets::SecretsConfig::Ssm(ssm);
    })
    .await;
    let team = connected(&app).await;
    let first = tokens::access_token(&app.platform, &team, &pid("sandbox")).await.unwrap();
    // A cached read now holds the first token, for a minute.
    app.platform.secrets.get(&token_path(&team)).await.unwrap().unwrap();

    // Another console process: its own SSM store on the same prefix.
    let other = platform::secrets::ssm::SsmStore::connect(other_ssm).await.unwrap();
    let mut token = stored(&app, &team).await;
    token.access_token = "written-by-another-process".into();
    let json = SecretString::from(serde_json::to_string(&token).unwrap());
    platform::secrets::SecretStore::put(&other, &token_path(&team), &json).await.unwrap();

    let cached = app.platform.secrets.get(&token_path(&team)).await.unwrap().unwrap();
    let cached: StoredToken = serde_json::from_str(cached.value.expose_secret()).unwrap();
    assert_eq!(cached.access_token, first.expose_secret(), "the cache this test relies on is not there");
    let next = tokens::access_token(&app.platform, &team, &pid("sandbox")).await.unwrap();
    assert_eq!(next.expose_secret(), "written-by-another-process");
    assert_eq!(sandbox(&app).refresh_requests(), 0);
    app.leave_jobs("the first backfill the connect queued is not what this test checks");
    app.stop().await;
}

/// The one sync job queued for the sandbox, run now, as the worker would.
async fn sync_now(app: &TestApp, team: &TeamId) -> platform::jobs::Job {
    let kind = platform::jobs::Kind::Incremental;
    let id = platform::jobs::sync::enqueue(&app.platform, team, &pid("sandbox"), kind).await.unwrap().id().clone();
    app.drain().await;
    platform::jobs::get(&app.platform.db, team, &id).await.unwrap().unwrap()
}

/// SECURITY E4, the re-read: a refresh refused because another process
/// rotated the token meanwhile is not a dead grant. The store is read
/// again first, the newer token is used, and the connection stays
/// connected.
#[tokio::test]
async fn e4_a_refresh_refused_after_another_process_rotated_the_token_uses_the_newer_one() {
    let app = TestApp::sqlite().await;
    let team = connected(&app).await;
    sandbox(&app).inject_faults([Fault::InvalidGrantAfterASecond]);
    expire_soon(&app, &team).await;
    let refreshing = {
        let (platform, team) = (app.platform.clone(), team.clone());
        tokio::spawn(async move { tokens::access_token(&platform, &team, &pid("sandbox")).await })
    };
    // While that refresh is at the provider, another console process
    // stores the token its own refresh got.
    while sandbox(&app).refresh_requests() == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut newer = stored(&app, &team).await;
    newer.access_token = "rotated-by-another-process".into();
    newer.expires_at = Some(time::OffsetDateTime::now_utc().unix_timestamp() + 3600);
    common::store_token(&app.platform, &team, "sandbox", &newer).await;

    let got = refreshing.await.unwrap().unwrap();
    assert_eq!(got.expose_secret(), "rotated-by-another-process");
    assert_eq!(state(&app, &team).await, State::Connected, "a lost race marked the connection needs re-auth");
    app.leave_jobs("the first backfill the connect queued is not what this test checks");
    app.stop().await;
}

/// SECURITY E4, "its jobs stop": a sync whose refresh meets `invalid_grant`
/// fails for good in words that say to reconnect; the connection needs
/// re-auth; the schedule queues nothing more for it, and a job queued
/// before runs without asking the provider again.
#[tokio::test]
async fn e4_a_dead_grant_stops_the_connections_jobs() {
    let app = TestApp::sqlite().await;
    let team = connected(&app).await;
    app.drain().await;
    sandbox(&app).inject_faults([Fault::InvalidGrant]);
    expire_soon(&app, &team).await;
    let failed = sync_now(&app, &team).await;
    assert_eq!((failed.state, failed.error_class.as_deref()), (platform::jobs::State::Failed, Some("permanent")));
    assert!(failed.last_error.as_deref().unwrap_or_default().contains("reconnect"), "{:?}", failed.last_error);
    assert_eq!(state(&app, &team).await, State::NeedsReauth);
    let refreshes = sandbox(&app).refresh_requests();

    // Long after the interval, the schedule queues nothing for it.
    sqlx::query("UPDATE jobs SET created_at = created_at - 86400, finished_at = finished_at - 86400")
        .execute(app.platform.db.pool())
        .await
        .unwrap();
    assert_eq!(platform::jobs::sync::schedule_due(&app.platform).await.unwrap(), 0);
    // A job queued anyway (one queued before the grant died) ends at once.
    let stopped = sync_now(&app, &team).await;
    assert_eq!(stopped.state, platform::jobs::State::Failed);
    assert!(stopped.last_error.as_deref().unwrap_or_default().contains("authorized again"), "{:?}", stopped.last_error);
    assert_eq!(sandbox(&app).refresh_requests(), refreshes, "a stopped connection asked the provider again");
    app.leave_jobs("the failed syncs are what this test checks");
    app.stop().await;
}

/// SECURITY E5 with the sandbox's `timeout` fault: a token endpoint that
/// does not answer within the provider timeout (1 s here). The refresh
/// gives up at the timeout instead of waiting out the provider (30 s); the
/// sync that needed the token retries the page after its backoff, and that
/// retry refreshes; the job completes in its first attempt, and the
/// connection is never marked broken.
#[tokio::test]
async fn e5_a_token_endpoint_timeout_is_retried_and_breaks_nothing() {
    let app =
        TestApp::spawn_with(platform::testing::TestDatabase::sqlite(), &[("PATCHBAY_PROVIDER_TIMEOUT", "1")]).await;
    let team = connected(&app).await;
    app.drain().await;
    let kept = stored(&app, &team).await;
    sandbox(&app).inject_faults([Fault::Timeout]);
    // Expired, not only due: there is no token left to fall back on.
    let mut expired = kept.clone();
    expired.expires_at = Some(time::OffsetDateTime::now_utc().unix_timestamp() - 1);
    common::store_token(&app.platform, &team, "sandbox", &expired).await;
    let started = std::time::Instant::now();
    let job = sync_now(&app, &team).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "the refresh waited out the provider");
    assert_eq!((job.state, job.attempts), (platform::jobs::State::Completed, 1), "{:?}", job.last_error);
    assert_eq!(sandbox(&app).refresh_requests(), 2, "the timed-out refresh was not retried, or retried more");
    assert_eq!(state(&app, &team).await, State::Connected, "a timeout broke the connection");
    let now = stored(&app, &team).await;
    assert_ne!(now.refresh_token, kept.refresh_token, "the retry did not refresh");
    assert!(works_at_the_provider(&app, &now.access_token).await);
    app.stop().await;
}
