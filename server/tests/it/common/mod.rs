//! The test harness: the real application on port 0, with a fresh database
//! on either backend, stopped gracefully at the end of each test.

#![allow(dead_code, reason = "each test binary uses a different part of the harness")]

pub mod oidc;

use std::collections::HashMap;

use platform::testing::TestDatabase;
use server::{Application, Config};
use tokio::{sync::oneshot, task::JoinHandle};

/// A browser as far as sessions go: it keeps the session cookie the server
/// sets (and drops it when the server clears it), and sends it back. Kept
/// by hand so that tests can read and replay exact cookie values.
#[derive(Debug)]
pub struct Browser {
    base: String,
    client: reqwest::Client,
    cookie: std::sync::Mutex<Option<String>>,
}

impl Browser {
    pub fn new(base: &str) -> Self {
        let client = test_client();
        Self { base: base.to_owned(), client, cookie: std::sync::Mutex::new(None) }
    }

    pub fn cookie(&self) -> Option<String> {
        self.cookie.lock().unwrap().clone()
    }

    pub fn set_cookie(&self, value: Option<String>) {
        *self.cookie.lock().unwrap() = value;
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> reqwest::Response {
        let request = match self.cookie() {
            Some(value) => request.header("cookie", format!("patchbay_session={value}")),
            None => request,
        };
        let response = request.send().await.expect("request reaches the server");
        for set in response.headers().get_all("set-cookie") {
            let set = set.to_str().unwrap_or_default();
            if let Some(rest) = set.strip_prefix("patchbay_session=") {
                let value = rest.split(';').next().unwrap_or_default();
                let cleared = value.is_empty() || set.contains("Max-Age=0");
                self.set_cookie((!cleared).then(|| value.to_owned()));
            }
        }
        response
    }

    /// A page, as a browser asks for it; redirects are left for the test to see.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.send(self.client.get(format!("{}{path}", self.base)).header("accept", "text/html")).await
    }

    /// A stream of server-sent events, as a page's `EventSource` asks for it.
    pub async fn events(&self, path: &str) -> reqwest::Response {
        self.send(self.client.get(format!("{}{path}", self.base)).header("accept", "text/event-stream")).await
    }

    /// Posts a form to a server function from this site, as a hydrated page does.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.send(
            self.client
                .post(format!("{}{path}", self.base))
                .header("origin", &self.base)
                .header("sec-fetch-site", "same-origin")
                .form(fields),
        )
        .await
    }

    /// Posts a form the way a browser without JavaScript does: it accepts
    /// HTML and says which page the form was on.
    pub async fn send_form_as_html(&self, path: &str, fields: &[(&str, &str)], from: &str) -> reqwest::Response {
        self.send(
            self.client
                .post(format!("{}{path}", self.base))
                .header("origin", &self.base)
                .header("accept", "text/html")
                .header("referer", format!("{}{from}", self.base))
                .form(fields),
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.post_form("/api/login", &[("email", email), ("password", password)]).await
    }
}

/// An HTTP client for tests: no redirects followed, a fresh connection
/// per request, and a bound on every request, so that a response that never
/// ends fails the test that asked, saying where. Three full runs once hung
/// or failed that way: a console starting in the same process switched
/// resource loading off for a moment (see `server::startup::route_list`
/// and the `pages_finish_while_other_consoles_start_in_the_same_process`
/// test).
fn test_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

#[derive(Debug)]
pub struct TestApp {
    pub base: String,
    /// For requests that need no session.
    pub client: reqwest::Client,
    /// The browser the admin uses.
    pub browser: Browser,
    pub db: TestDatabase,
    /// The running application's platform, to arrange and check state
    /// (secrets, installations) directly.
    pub platform: platform::Platform,
    /// The sandbox demo provider, when it is on (by default it is: tests
    /// listen on loopback).
    pub sandbox: Option<sandbox::Sandbox>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    /// Why this test may stop with jobs queued or failed; `None`: it may not.
    jobs_left_because: std::sync::OnceLock<&'static str>,
    _data_dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn spawn(db: TestDatabase) -> Self {
        Self::spawn_with(db, &[]).await
    }

    /// Starts the application with extra settings, as environment variables.
    pub async fn spawn_with(db: TestDatabase, settings: &[(&str, &str)]) -> Self {
        Self::spawn_configured(db, settings, |_| {}).await
    }

    /// The same, with a last change to the configuration (for settings no
    /// variable can express, such as an SSM store on moto).
    pub async fn spawn_configured(
        db: TestDatabase,
        settings: &[(&str, &str)],
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        Self::spawn_adjusted(db, settings, adjust, |_| {}).await
    }

    /// A console whose secret store notes every read (SECURITY C1, C3),
    /// with the store's record.
    pub async fn spawn_recording_secrets(
        db: TestDatabase,
        settings: &[(&str, &str)],
    ) -> (Self, std::sync::Arc<platform::testing::RecordingSecrets>) {
        let recording = std::sync::OnceLock::new();
        let app = Self::spawn_adjusted(
            db,
            settings,
            |_| {},
            |platform| {
                let store = std::sync::Arc::new(platform::testing::RecordingSecrets::new(platform.secrets.clone()));
                platform.secrets = store.clone();
                recording.set(store).expect("adjusted once");
            },
        )
        .await;
        (app, recording.into_inner().expect("the platform was adjusted"))
    }

    async fn spawn_adjusted(
        db: TestDatabase,
        settings: &[(&str, &str)],
        adjust: impl FnOnce(&mut Config),
        adjust_platform: impl FnOnce(&mut platform::Platform),
    ) -> Self {
        let data_dir = tempfile::tempdir().expect("temp data dir");
        let mut env: HashMap<String, String> = HashMap::from([
            ("PATCHBAY_BIND".into(), "127.0.0.1:0".into()),
            ("PATCHBAY_DATA_DIR".into(), data_dir.path().display().to_string()),
            // Jobs run when a test says so (`TestApp::drain`, through the
            // job registry), not behind its back; a test may turn them on.
            ("PATCHBAY_RUN_JOBS".into(), "off".into()),
            // Connections get no webhooks, so a connect queues only its
            // backfill; the webhook suites turn them on.
            ("PATCHBAY_WEBHOOKS".into(), "off".into()),
        ]);
        env.extend(settings.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let mut config = Config::load(env).expect("test configuration");
        config.database_url = db.url().clone();
        adjust(&mut config);

        let app = Application::build_with(&config, adjust_platform).await.expect("application starts");
        let base = format!("http://{}", app.local_addr());
        let platform = app.platform().clone();
        let sandbox = app.sandbox().cloned();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        let client = test_client();
        let browser = Browser::new(&base);
        Self {
            base,
            client,
            browser,
            db,
            platform,
            sandbox,
            stop: Some(stop),
            task: Some(task),
            jobs_left_because: std::sync::OnceLock::new(),
            _data_dir: data_dir,
        }
    }

    pub async fn sqlite() -> Self {
        Self::spawn(TestDatabase::sqlite()).await
    }

    /// `None` (after saying so) when Postgres is unreachable and not required.
    pub async fn postgres() -> Option<Self> {
        Some(Self::spawn(TestDatabase::postgres().await?).await)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The data dir (the local secret store's key lives there), for a
    /// replica that must share it.
    pub fn data_dir(&self) -> &std::path::Path {
        self._data_dir.path()
    }

    /// A page in the admin's browser.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.browser.get(path).await
    }

    /// Another browser, with no session.
    pub fn new_browser(&self) -> Browser {
        Browser::new(&self.base)
    }

    /// First-run set-up through `/api/setup`, signing the admin's browser in.
    pub async fn setup_team(&self) {
        let response = self
            .browser
            .post_form(
                "/api/setup",
                &[("team_name", TEAM), ("name", ADMIN_NAME), ("email", ADMIN_EMAIL), ("password", PASSWORD)],
            )
            .await;
        assert!(response.status().is_success(), "setup failed: {}", response.text().await.unwrap_or_default());
    }

    /// A platform handle on the same database, for arranging and checking.
    pub async fn db(&self) -> platform::Db {
        platform::Db::connect(self.db.url(), 2).await.expect("connect to the test database")
    }

    /// Runs every due job of every kind through the job registry until
    /// none is left, as a worker would.
    pub async fn drain(&self) -> Vec<(platform::ids::JobId, platform::jobs::State)> {
        platform::jobs::drain(&self.platform, "test-worker").await.expect("the jobs ran")
    }

    /// Lets this test stop with jobs queued or failed, and says why: the
    /// jobs it leaves are what it is about (a failure, a retry scheduled).
    pub fn leave_jobs(&self, because: &'static str) {
        let _ = self.jobs_left_because.set(because);
    }

    /// The jobs not completed: queued, running, interrupted or failed, as
    /// `id kind state: error` lines.
    pub async fn jobs_left(&self) -> Vec<String> {
        let rows: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT id, kind, state, last_error FROM jobs WHERE state <> 'completed' ORDER BY created_at, id",
        )
        .fetch_all(self.platform.db.pool())
        .await
        .expect("the jobs can be read");
        rows.into_iter()
            .map(|(id, kind, state, error)| format!("{id} {kind} {state}: {}", error.unwrap_or_default()))
            .collect()
    }

    /// Stops the server and waits for it to finish cleanly. Like
    /// crates.io's test app, it fails the test when jobs were left queued
    /// or failed, unless the test said why ([`TestApp::leave_jobs`]): a
    /// job nobody ran is work a test forgot to check.
    pub async fn stop(mut self) {
        let left = match self.jobs_left_because.get() {
            Some(_) => Vec::new(),
            None => self.jobs_left().await,
        };
        self.shut_down().await;
        assert!(
            left.is_empty(),
            "the test stopped with jobs not completed; run them with `TestApp::drain` or say why with \
             `TestApp::leave_jobs`:\n{}",
            left.join("\n")
        );
    }

    async fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server stops cleanly");
        }
    }
}

/// Awaits every task, in order.
pub async fn join_all<T>(
    handles: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<Result<T, tokio::task::JoinError>> {
    let mut results = Vec::new();
    for handle in handles.collect::<Vec<_>>() {
        results.push(handle.await);
    }
    results
}

/// Where a redirect sends the browser.
pub fn location(response: &reqwest::Response) -> String {
    response.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or_default().to_owned()
}

impl TestApp {
    /// Plays the person at the sandbox: opens its authorize page and
    /// presses a button. Returns where the sandbox sends the browser back to.
    pub async fn at_sandbox(&self, authorize_url: &str, decision: &str) -> String {
        let page = self.client.get(authorize_url).send().await.expect("the authorize page answers");
        assert_eq!(page.status(), 200);
        let html = page.text().await.expect("the authorize page has a body");
        let request = html
            .split("name=\"request\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the authorize page carries its request id")
            .to_owned();
        let answer = self
            .client
            .post(self.url("/sandbox/oauth/decision"))
            .form(&[("request", request.as_str()), ("decision", decision)])
            .send()
            .await
            .expect("the decision is answered");
        assert_eq!(answer.status(), http::StatusCode::SEE_OTHER);
        location(&answer)
    }

    /// The team of the admin `setup_team` created.
    pub async fn admin_team(&self) -> platform::ids::TeamId {
        let db = self.db().await;
        let team: String = sqlx::query_scalar("SELECT team_id FROM users WHERE email = $1")
            .bind(ADMIN_EMAIL)
            .fetch_one(db.pool())
            .await
            .expect("the admin exists");
        db.close().await;
        platform::ids::TeamId::parse(&team).expect("a team id")
    }

    /// A console on `db` (with `settings` on top of the compiled site) whose
    /// admin has set up the team and connected the sandbox.
    pub async fn with_sandbox_connected(db: TestDatabase, settings: &[(&str, &str)]) -> (Self, platform::ids::TeamId) {
        let mut all = vec![("LEPTOS_SITE_ROOT", SITE)];
        all.extend_from_slice(settings);
        let app = Self::spawn_with(db, &all).await;
        app.setup_team().await;
        app.connect_sandbox().await;
        let team = app.admin_team().await;
        (app, team)
    }

    /// Team B ("Beta", its admin Bea at [`BETA_EMAIL`]), made beside the
    /// admin's team as `patchbay admin create-team` would.
    pub async fn beta_team(&self) -> (platform::store::teams::Team, platform::store::users::User) {
        use platform::accounts::{Email, NewPassword, PersonName, TeamName};
        let db = self.db().await;
        let made = platform::store::teams::create_with_admin(
            &db,
            platform::store::teams::NewTeam {
                team_name: TeamName::parse("Beta").unwrap(),
                admin_name: PersonName::parse("Bea").unwrap(),
                admin_email: Email::parse(BETA_EMAIL).unwrap(),
                admin_password: NewPassword::parse(PASSWORD).unwrap(),
            },
            false,
        )
        .await
        .expect("team B is made");
        db.close().await;
        made
    }

    /// A browser signed in as a new member of the admin's team, invited
    /// by the admin.
    pub async fn member(&self, name: &str, email: &str) -> Browser {
        let created = self.browser.post_form("/api/create_invite", &[("role", "member")]).await;
        assert!(created.status().is_success(), "the admin could not invite");
        let invite: app::models::account::CreatedInvite = created.json().await.expect("an invite");
        let token = invite.url.rsplit('/').next().expect("the invite's token");
        let member = self.new_browser();
        let accepted = member
            .post_form(
                "/api/accept_invite",
                &[("token", token), ("name", name), ("email", email), ("password", PASSWORD)],
            )
            .await;
        assert!(accepted.status().is_success(), "the member could not join");
        member
    }

    /// Connects the sandbox in the admin's browser, start to callback.
    pub async fn connect_sandbox(&self) {
        let started = self.browser.post_form("/oauth/sandbox/start", &[]).await;
        let back = self.at_sandbox(&location(&started), "approve").await;
        let done = self.get(back.strip_prefix(&self.base).expect("back to this console")).await;
        assert_eq!(location(&done), "/integrations/sandbox", "the sandbox did not connect");
    }
}

/// The `patchbay` binary with an empty environment (so no `LEPTOS_*` or
/// other variable of this process leaks in) plus the given settings, and no
/// standard input.
pub fn patchbay(settings: &[(&str, &str)]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_patchbay"));
    command.env_clear().stdin(std::process::Stdio::null());
    for (name, value) in settings {
        command.env(name, value);
    }
    command
}

/// The compiled site (`cargo leptos build`), for tests that render pages
/// with their stylesheet and scripts.
pub const SITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../public");
pub const TEAM: &str = "Acme";
pub const ADMIN_NAME: &str = "Ada Admin";
pub const ADMIN_EMAIL: &str = "ada@example.com";
pub const PASSWORD: &str = "correct horse battery staple";
/// The admin of [`TestApp::beta_team`].
pub const BETA_EMAIL: &str = "bea@beta.example";

/// Declares one `#[tokio::test]` per backend that runs `$body(TestApp)`.
#[macro_export]
macro_rules! app_test_on_both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test]
            async fn on_sqlite() {
                super::$body($crate::common::TestApp::sqlite().await).await;
            }

            #[tokio::test]
            async fn on_postgres() {
                let Some(app) = $crate::common::TestApp::postgres().await else { return };
                super::$body(app).await;
            }
        }
    };
}

/// The OAuth token stored for a team's connection, read past any cache.
pub async fn stored_token(
    platform: &platform::Platform,
    team: &platform::ids::TeamId,
    provider: &str,
) -> Option<platform::outbound::oauth2::StoredToken> {
    use secrecy::ExposeSecret as _;
    let secret = platform.secrets.get_fresh(&token_path(team, provider)).await.unwrap()?;
    Some(serde_json::from_str(secret.value.expose_secret()).unwrap())
}

/// Makes a connection's stored OAuth token look as if it expires in five
/// seconds, so that the next use refreshes it.
pub async fn expire_token_soon(platform: &platform::Platform, team: &platform::ids::TeamId, provider: &str) {
    let mut token = stored_token(platform, team, provider).await.expect("a stored token");
    token.expires_at = Some(time::OffsetDateTime::now_utc().unix_timestamp() + 5);
    store_token(platform, team, provider, &token).await;
}

/// Stores `token` as the connection's OAuth token, as a refresh would.
pub async fn store_token(
    platform: &platform::Platform,
    team: &platform::ids::TeamId,
    provider: &str,
    token: &platform::outbound::oauth2::StoredToken,
) {
    let json = secrecy::SecretString::from(serde_json::to_string(token).unwrap());
    platform.secrets.put(&token_path(team, provider), &json).await.unwrap();
}

fn token_path(team: &platform::ids::TeamId, provider: &str) -> platform::secrets::SecretPath {
    platform::secrets::SecretPath::of(team, &[provider, platform::outbound::oauth2::TOKEN_KEY]).unwrap()
}

/// A provider id the test names; it must be in the id's form.
pub fn pid(id: &str) -> platform::ids::ProviderId {
    platform::ids::ProviderId::parse(id).expect("a provider id")
}

/// A job id the test read back (from a page, a response or the database).
pub fn jid(id: &str) -> platform::ids::JobId {
    platform::ids::JobId::parse(id).expect("a job id")
}
