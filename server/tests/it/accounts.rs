//! Teams and sign-in against the real server, on SQLite and on Postgres:
//! first-run set-up, sign-in and sign-out, sessions (SECURITY B1, B3, B4),
//! cross-site refusal (B5), invites, roles, tenant isolation (C1, C4),
//! throttling, and clear errors for bad input with nothing half-created.

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use crate::common;

use common::{ADMIN_EMAIL, ADMIN_NAME, BETA_EMAIL, Browser, PASSWORD, TEAM, TestApp};
use http::StatusCode;
use platform::accounts::Role;

async fn count(app: &TestApp, table: &str) -> i64 {
    let db = app.db().await;
    let n = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(db.pool()).await.unwrap();
    db.close().await;
    n
}

fn location(response: &reqwest::Response) -> String {
    response.headers().get("location").map(|l| l.to_str().unwrap().to_owned()).unwrap_or_default()
}

/// The message a server function's error carries (JSON-encoded `AppError`).
async fn error_text(response: reqwest::Response) -> String {
    response.text().await.unwrap()
}

/// Creates an invite as the signed-in admin and returns its token.
async fn invite(app: &TestApp, role: &str) -> String {
    let response = app.browser.post_form("/api/create_invite", &[("role", role)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let created: app::models::account::CreatedInvite = response.json().await.unwrap();
    assert!(created.url.starts_with(&format!("{}/invite/", app.base)), "{}", created.url);
    created.url.rsplit('/').next().unwrap().to_owned()
}

async fn accept(browser: &Browser, token: &str, name: &str, email: &str, password: &str) -> reqwest::Response {
    browser
        .post_form("/api/accept_invite", &[("token", token), ("name", name), ("email", email), ("password", password)])
        .await
}

async fn setup_lifecycle_runs_once_and_then_is_gone(app: TestApp) {
    // A fresh install sends every page to /setup, sign-in included.
    for path in ["/", "/integrations", "/team", "/login"] {
        let response = app.get(path).await;
        assert!(response.status().is_redirection(), "{path}");
        assert_eq!(location(&response), "/setup", "{path}");
    }
    let page = app.get("/setup").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Create team"));

    app.setup_team().await;
    let page = app.get("/integrations").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains(ADMIN_NAME) && html.contains(TEAM), "the shell shows who is signed in");
    assert!(html.contains("Sign out"));

    // Once a team exists, /setup is gone for everyone, and cannot be replayed.
    let stranger = app.new_browser();
    assert_eq!(stranger.get("/setup").await.status(), StatusCode::NOT_FOUND);
    let again = stranger
        .post_form(
            "/api/setup",
            &[("team_name", "Evil"), ("name", "Eve"), ("email", "eve@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert!(error_text(again).await.contains("A team already exists"));
    assert_eq!(count(&app, "teams").await, 1);
    assert_eq!(count(&app, "users").await, 1);
    app.stop().await;
}
app_test_on_both_backends!(setup_lifecycle, setup_lifecycle_runs_once_and_then_is_gone);

async fn sign_in_and_sign_out(app: TestApp) {
    app.setup_team().await;
    let browser = app.new_browser();
    // Signed out, console pages send you to sign-in and remember where you were going.
    let response = browser.get("/team").await;
    assert_eq!(location(&response), "/login?next=%2Fteam");

    let wrong = browser.login(ADMIN_EMAIL, "not the password at all").await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    assert!(error_text(wrong).await.contains("That email and password do not match an account."));
    assert!(browser.cookie().is_none(), "a failed sign-in starts no session");

    let ok = browser
        .post_form("/api/login", &[("email", " ADA@example.com "), ("password", PASSWORD), ("next", "/team")])
        .await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(location(&ok), "/team", "signed in, you go where you were going");
    assert_eq!(browser.get("/team").await.status(), StatusCode::OK);
    // A hostile `next` is ignored.
    let other = app.new_browser();
    let ok = other
        .post_form("/api/login", &[("email", ADMIN_EMAIL), ("password", PASSWORD), ("next", "//evil.example")])
        .await;
    assert_eq!(location(&ok), "/integrations");

    let out = browser.post_form("/api/logout", &[]).await;
    assert_eq!(out.status(), StatusCode::OK);
    assert_eq!(location(&browser.get("/team").await), "/login?next=%2Fteam");
    app.stop().await;
}
app_test_on_both_backends!(login_and_logout, sign_in_and_sign_out);

// SECURITY B1
#[tokio::test]
async fn b1_session_cookie_is_httponly_path_root_without_domain_and_not_the_library_default() {
    let app = TestApp::sqlite().await;
    let response = app
        .browser
        .post_form(
            "/api/setup",
            &[("team_name", TEAM), ("name", ADMIN_NAME), ("email", ADMIN_EMAIL), ("password", PASSWORD)],
        )
        .await;
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("patchbay_session="), "{cookie}");
    assert!(!cookie.starts_with("id="), "library default name");
    for attribute in ["HttpOnly", "Path=/", "SameSite=Lax"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    assert!(!cookie.to_lowercase().contains("domain="), "{cookie}");
    // Plain-HTTP local development: not Secure, or the browser would drop it.
    assert!(!cookie.contains("Secure"), "{cookie}");
    app.stop().await;
}

// SECURITY B1
#[tokio::test]
async fn b1_session_cookie_is_secure_when_served_over_https() {
    let app = TestApp::spawn_with(
        platform::testing::TestDatabase::sqlite(),
        &[("PATCHBAY_PUBLIC_URL", "https://console.example.com")],
    )
    .await;
    let response = app
        .client
        .post(app.url("/api/setup"))
        .form(&[("team_name", TEAM), ("name", ADMIN_NAME), ("email", ADMIN_EMAIL), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("; Secure") && cookie.contains("HttpOnly"), "{cookie}");
    app.stop().await;
}

// SECURITY B3
async fn b3_session_id_changes_at_login_and_the_old_cookie_is_refused_after_logout(app: TestApp) {
    app.setup_team().await;
    let browser = app.new_browser();
    browser.login(ADMIN_EMAIL, PASSWORD).await;
    let first = browser.cookie().unwrap();
    // Signing in again over a live session issues a new ID and retires the old one.
    browser.login(ADMIN_EMAIL, PASSWORD).await;
    let second = browser.cookie().unwrap();
    assert_ne!(first, second, "the session ID did not change at login");
    let replay = app.new_browser();
    replay.set_cookie(Some(first));
    assert!(replay.get("/team").await.status().is_redirection(), "the pre-login ID still works");

    browser.post_form("/api/logout", &[]).await;
    let stale = app.new_browser();
    stale.set_cookie(Some(second));
    let response = stale.get("/team").await;
    assert_eq!(location(&response), "/login?next=%2Fteam", "the cookie from before logout still works");
    let whoami = stale.post_form("/api/whoami", &[]).await;
    assert_eq!(whoami.text().await.unwrap(), "null");
    app.stop().await;
}
app_test_on_both_backends!(
    b3_session_rotation,
    b3_session_id_changes_at_login_and_the_old_cookie_is_refused_after_logout
);

// SECURITY B4
#[tokio::test]
async fn b4_an_idle_session_times_out() {
    let app =
        TestApp::spawn_with(platform::testing::TestDatabase::sqlite(), &[("PATCHBAY_SESSION_IDLE_TIMEOUT", "2")]).await;
    app.setup_team().await;
    assert_eq!(app.get("/team").await.status(), StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    // The cookie is replayed by hand: the server, not the browser, must refuse it.
    assert!(app.browser.cookie().is_some());
    assert_eq!(location(&app.get("/team").await), "/login?next=%2Fteam");
    app.stop().await;
}

// SECURITY B4
#[tokio::test]
async fn b4_a_session_times_out_absolutely_even_while_in_use() {
    let app = TestApp::spawn_with(
        platform::testing::TestDatabase::sqlite(),
        &[("PATCHBAY_SESSION_IDLE_TIMEOUT", "3600"), ("PATCHBAY_SESSION_ABSOLUTE_TIMEOUT", "3")],
    )
    .await;
    let started = std::time::Instant::now();
    app.setup_team().await;
    // Timestamps are whole seconds: within 1 s of sign-in at most 2 have been
    // counted, and after 4 s at least 3 have.
    while started.elapsed() < std::time::Duration::from_millis(1000) {
        assert_eq!(app.get("/team").await.status(), StatusCode::OK, "signed out too early");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(4000).saturating_sub(started.elapsed())).await;
    assert_eq!(location(&app.get("/team").await), "/login?next=%2Fteam");
    app.stop().await;
}

// SECURITY B5
async fn b5_cross_site_state_changes_are_refused_and_gets_change_nothing(app: TestApp) {
    app.setup_team().await;
    let cookie = app.browser.cookie().unwrap();
    let cross_site = |origin: Option<&str>, fetch_site: Option<&str>| {
        let mut request = app
            .client
            .post(app.url("/api/create_invite"))
            .header("cookie", format!("patchbay_session={cookie}"))
            .form(&[("role", "admin")]);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        if let Some(site) = fetch_site {
            request = request.header("sec-fetch-site", site);
        }
        request.send()
    };
    for (origin, site) in [
        (Some("https://evil.example"), None),
        (Some("null"), None),
        (None, Some("cross-site")),
        (None, Some("same-site")),
        (Some(app.base.as_str()), Some("cross-site")),
    ] {
        let response = cross_site(origin, site).await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "origin {origin:?}, sec-fetch-site {site:?}");
    }
    assert_eq!(count(&app, "invites").await, 0, "a refused request changed state");

    // Server functions answer POST only: a GET (say, from an <img>) does nothing.
    let get = app
        .client
        .get(app.url("/api/logout"))
        .header("cookie", format!("patchbay_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert!(!get.status().is_success(), "GET /api/logout answered {}", get.status());
    assert_eq!(app.get("/team").await.status(), StatusCode::OK, "a GET signed the admin out");

    // The same request from this site goes through.
    assert_eq!(cross_site(Some(app.base.as_str()), Some("same-origin")).await.unwrap().status(), StatusCode::OK);
    assert_eq!(count(&app, "invites").await, 1);
    app.stop().await;
}
app_test_on_both_backends!(b5_csrf, b5_cross_site_state_changes_are_refused_and_gets_change_nothing);

async fn an_invite_is_accepted_once_and_the_newcomer_joins_with_its_role(app: TestApp) {
    app.setup_team().await;
    let token = invite(&app, "member").await;
    assert_eq!(count(&app, "invites").await, 1);
    let token_hash: String = {
        let db = app.db().await;
        sqlx::query_scalar("SELECT token_hash FROM invites").fetch_one(db.pool()).await.unwrap()
    };
    assert_ne!(token_hash, token, "the token is stored hashed");
    assert!(!token_hash.contains(&token));

    let newcomer = app.new_browser();
    let page = newcomer.get(&format!("/invite/{token}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains(TEAM) && html.contains("a member"), "{html}");

    let joined = accept(&newcomer, &token, "Bob Member", "bob@example.com", "another long passphrase").await;
    assert_eq!(joined.status(), StatusCode::OK, "{}", joined.text().await.unwrap());
    assert_eq!(newcomer.get("/team").await.status(), StatusCode::OK, "the newcomer is signed in");
    let team: app::models::account::TeamOverview = newcomer.post_form("/api/team", &[]).await.json().await.unwrap();
    let bob = team.members.iter().find(|m| m.email == "bob@example.com").unwrap();
    assert_eq!(bob.role, "member");
    assert!(!team.can_manage);

    // Reused: refused with its own page, and no second account.
    let again = app.new_browser();
    let reused = accept(&again, &token, "Mallory", "mallory@example.com", "another long passphrase").await;
    assert_eq!(reused.status(), StatusCode::BAD_REQUEST);
    assert!(error_text(reused).await.contains("already been used"));
    let page = again.get(&format!("/invite/{token}")).await;
    assert_eq!(page.status(), StatusCode::GONE);
    assert!(page.text().await.unwrap().contains("This invite has already been used"));
    assert_eq!(count(&app, "users").await, 2);
    app.stop().await;
}
app_test_on_both_backends!(invite_accept_and_reuse, an_invite_is_accepted_once_and_the_newcomer_joins_with_its_role);

async fn expired_revoked_and_unknown_invites_each_get_a_clear_page(app: TestApp) {
    app.setup_team().await;
    let expired = invite(&app, "member").await;
    let db = app.db().await;
    platform::store::invites::expire_for_tests(&db, &expired).await.unwrap();
    let revoked = invite(&app, "admin").await;
    let team: app::models::account::TeamOverview = app.browser.post_form("/api/team", &[]).await.json().await.unwrap();
    assert_eq!(team.invites.len(), 1, "only the open invite is pending: {:?}", team.invites);
    let revoked_id = team.invites[0].id.clone();
    assert_eq!(
        app.browser.post_form("/api/revoke_invite", &[("invite_id", &revoked_id)]).await.status(),
        StatusCode::OK
    );

    let visitor = app.new_browser();
    for (token, status, heading) in [
        (expired.as_str(), StatusCode::GONE, "This invite has expired"),
        (revoked.as_str(), StatusCode::GONE, "This invite was revoked"),
        ("not-a-real-token", StatusCode::NOT_FOUND, "This invite link is not valid"),
    ] {
        let page = visitor.get(&format!("/invite/{token}")).await;
        assert_eq!(page.status(), status, "{heading}");
        assert!(page.text().await.unwrap().contains(heading), "{heading}");
    }
    let refused = accept(&visitor, &expired, "Late", "late@example.com", "another long passphrase").await;
    assert!(error_text(refused).await.contains("expired"));
    let refused = accept(&visitor, &revoked, "Late", "late@example.com", "another long passphrase").await;
    assert!(error_text(refused).await.contains("revoked"));
    assert_eq!(count(&app, "users").await, 1);
    db.close().await;
    app.stop().await;
}
app_test_on_both_backends!(invite_expired_revoked_unknown, expired_revoked_and_unknown_invites_each_get_a_clear_page);

async fn roles_change_and_the_last_admin_cannot_be_removed_or_demoted(app: TestApp) {
    app.setup_team().await;
    let token = invite(&app, "member").await;
    let bob = app.new_browser();
    accept(&bob, &token, "Bob Member", "bob@example.com", "another long passphrase").await;
    let team: app::models::account::TeamOverview = app.browser.post_form("/api/team", &[]).await.json().await.unwrap();
    let admin_id = team.members.iter().find(|m| m.is_you).unwrap().id.clone();
    let bob_id = team.members.iter().find(|m| !m.is_you).unwrap().id.clone();

    // The only admin can neither step down nor be removed.
    let demote = app.browser.post_form("/api/change_role", &[("user_id", &admin_id), ("role", "member")]).await;
    assert_eq!(demote.status(), StatusCode::BAD_REQUEST);
    assert!(error_text(demote).await.contains("at least one admin"));
    let remove = app.browser.post_form("/api/remove_member", &[("user_id", &admin_id)]).await;
    assert!(error_text(remove).await.contains("at least one admin"));

    // SECURITY C4: members view but change nothing.
    assert_eq!(bob.get("/team").await.status(), StatusCode::OK);
    for (path, fields) in [
        ("/api/change_role", vec![("user_id", bob_id.as_str()), ("role", "admin")]),
        ("/api/remove_member", vec![("user_id", admin_id.as_str())]),
        ("/api/create_invite", vec![("role", "admin")]),
    ] {
        let response = bob.post_form(path, &fields).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(count(&app, "invites").await, 1);

    // Promote Bob; now the first admin may step down, and Bob may remove them.
    assert_eq!(
        app.browser.post_form("/api/change_role", &[("user_id", &bob_id), ("role", "admin")]).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.browser.post_form("/api/change_role", &[("user_id", &admin_id), ("role", "member")]).await.status(),
        StatusCode::OK
    );
    // The role change takes effect at the demoted admin's next request.
    let response = app.browser.post_form("/api/create_invite", &[("role", "member")]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(bob.post_form("/api/remove_member", &[("user_id", &admin_id)]).await.status(), StatusCode::OK);
    // A removed member's session ends.
    assert_eq!(location(&app.get("/team").await), "/login?next=%2Fteam");
    assert_eq!(count(&app, "users").await, 1);
    app.stop().await;
}
app_test_on_both_backends!(roles_and_last_admin, roles_change_and_the_last_admin_cannot_be_removed_or_demoted);

// SECURITY C1
async fn c1_a_user_of_one_team_cannot_read_or_touch_another_teams_objects(app: TestApp) {
    app.setup_team().await;
    // Team B, made beside A as `patchbay admin create-team` would.
    let (team_b, b_admin) = app.beta_team().await;
    let db = app.db().await;
    let b_invite = platform::store::invites::create(&db, &team_b.id, &b_admin.id, Role::Member).await.unwrap();

    let team: app::models::account::TeamOverview = app.browser.post_form("/api/team", &[]).await.json().await.unwrap();
    assert!(team.members.iter().all(|m| m.email != BETA_EMAIL), "team B's member is listed in team A");
    assert!(team.invites.is_empty());

    let b_user = b_admin.id.to_string();
    for (path, fields) in [
        ("/api/change_role", vec![("user_id", b_user.as_str()), ("role", "member")]),
        ("/api/remove_member", vec![("user_id", b_user.as_str())]),
        ("/api/revoke_invite", vec![("invite_id", b_invite.id.as_str())]),
    ] {
        let response = app.browser.post_form(path, &fields).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let still = platform::store::users::get(&db, &b_admin.id).await.unwrap().unwrap();
    assert_eq!(still.role, Role::Admin, "team B's admin was changed from team A");
    assert_eq!(platform::store::invites::list_pending(&db, &team_b.id).await.unwrap().len(), 1);

    // Team B's admin sees only team B.
    let bea = app.new_browser();
    bea.login(BETA_EMAIL, PASSWORD).await;
    let team: app::models::account::TeamOverview = bea.post_form("/api/team", &[]).await.json().await.unwrap();
    assert_eq!(team.team_name, "Beta");
    assert_eq!(team.members.len(), 1);
    db.close().await;
    app.stop().await;
}
app_test_on_both_backends!(c1_two_teams, c1_a_user_of_one_team_cannot_read_or_touch_another_teams_objects);

async fn repeated_failed_sign_ins_are_throttled_per_account_and_per_address(app: TestApp) {
    app.setup_team().await;
    let guesser = app.new_browser();
    for _ in 0..5 {
        assert_eq!(guesser.login(ADMIN_EMAIL, "wrong guess 123").await.status(), StatusCode::BAD_REQUEST);
    }
    // Even the right password is refused now, with a wait the person can act on.
    let throttled = guesser.login(ADMIN_EMAIL, PASSWORD).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(error_text(throttled).await.contains("Too many sign-in attempts. Wait 15 minutes"));
    assert!(guesser.cookie().is_none());

    // Per address: many accounts tried from one address lock that address out.
    let token = invite(&app, "member").await;
    accept(&app.new_browser(), &token, "Bob", "bob@example.com", "another long passphrase").await;
    let sprayer = app.new_browser();
    for i in 0..25 {
        sprayer.login(&format!("nobody{i}@example.com"), "spray password").await;
    }
    let response = sprayer.login("bob@example.com", "another long passphrase").await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "{}", response.text().await.unwrap());
    app.stop().await;
}
app_test_on_both_backends!(login_throttling, repeated_failed_sign_ins_are_throttled_per_account_and_per_address);

async fn each_bad_input_gets_a_clear_message_and_nothing_is_half_created(app: TestApp) {
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        // (team, name, email, password, expected message)
        (TEAM, ADMIN_NAME, ADMIN_EMAIL, "short", "Use at least 12 characters"),
        (TEAM, ADMIN_NAME, "ada.example.com", PASSWORD, "Enter an email address like name@example.com."),
        (&"T".repeat(81), ADMIN_NAME, ADMIN_EMAIL, PASSWORD, "Team name must be at most 80 characters."),
        (TEAM, &"N".repeat(300), ADMIN_EMAIL, PASSWORD, "Name must be at most 80 characters."),
        (
            TEAM,
            ADMIN_NAME,
            &format!("{}@example.com", "a".repeat(260)),
            PASSWORD,
            "Email must be at most 254 characters.",
        ),
        ("   ", ADMIN_NAME, ADMIN_EMAIL, PASSWORD, "Enter a team name."),
    ];
    for (team, name, email, password, expected) in cases {
        let response = app
            .browser
            .post_form("/api/setup", &[("team_name", team), ("name", name), ("email", email), ("password", password)])
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{expected}");
        let body = error_text(response).await;
        assert!(body.contains(expected), "expected {expected:?} in {body}");
        assert_eq!(count(&app, "teams").await, 0, "a refused set-up left a team behind");
        assert_eq!(count(&app, "users").await, 0);
    }

    // A duplicate email, on an invite: refused, and the invite stays usable.
    app.setup_team().await;
    let token = invite(&app, "member").await;
    let duplicate = accept(&app.new_browser(), &token, "Ada Again", ADMIN_EMAIL, "another long passphrase").await;
    assert_eq!(duplicate.status(), StatusCode::BAD_REQUEST);
    assert!(error_text(duplicate).await.contains("An account with this email already exists."));
    assert_eq!(count(&app, "users").await, 1);
    let ok = accept(&app.new_browser(), &token, "Bob", "bob@example.com", "another long passphrase").await;
    assert_eq!(ok.status(), StatusCode::OK, "the invite was used up by the refused attempt");
    app.stop().await;
}
app_test_on_both_backends!(bad_input, each_bad_input_gets_a_clear_message_and_nothing_is_half_created);

/// Without JavaScript a form posts straight to the server function; an
/// error comes back on the same page, in words.
#[tokio::test]
async fn a_form_error_without_javascript_is_shown_on_the_page() {
    let app = TestApp::sqlite().await;
    app.setup_team().await;
    let browser = app.new_browser();
    let response = browser
        .send_form_as_html("/api/login", &[("email", ADMIN_EMAIL), ("password", "wrong password!")], "/login")
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let back = location(&response);
    assert!(back.starts_with(&format!("{}/login?", app.base)) || back.starts_with("/login?"), "{back}");
    let path = back.trim_start_matches(&app.base).to_owned();
    let page = browser.get(&path).await.text().await.unwrap();
    assert!(page.contains("That email and password do not match an account."), "{page}");
    app.stop().await;
}
