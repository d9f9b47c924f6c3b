//! Throwaway databases for tests, on both backends.
//!
//! Postgres tests use the server at `PATCHBAY_TEST_POSTGRES_URL` (by default
//! `postgres://postgres@127.0.0.1:5432/postgres`), create a database of their
//! own and drop it when done. When no server answers, [`fresh_postgres`]
//! returns `None` so the test can say it skipped, unless `CI` or
//! `PATCHBAY_REQUIRE_POSTGRES` is set: then a missing server fails the test.

use std::path::PathBuf;

use sqlx::{Connection, Executor, PgConnection};

use crate::DatabaseUrl;

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A fresh SQLite file in its own temporary directory, removed on drop.
#[derive(Debug)]
pub struct TestSqlite {
    dir: PathBuf,
    pub url: DatabaseUrl,
}

impl TestSqlite {
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("patchbay-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("create temp dir for SQLite test database");
        let url = DatabaseUrl::sqlite_file(&dir.join("patchbay.db"));
        Self { dir, url }
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

impl Default for TestSqlite {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestSqlite {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Postgres database created for one test and dropped on drop.
#[derive(Debug)]
pub struct TestPostgres {
    admin_url: String,
    name: String,
    pub url: DatabaseUrl,
}

fn postgres_required() -> bool {
    let set = |k: &str| std::env::var(k).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    set("CI") || set("PATCHBAY_REQUIRE_POSTGRES")
}

/// Creates a fresh database, or returns `None` when no Postgres answers and
/// none is required. Panics when one is required and none answers.
pub async fn fresh_postgres() -> Option<TestPostgres> {
    let admin_url = std::env::var("PATCHBAY_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.into());
    let mut admin = match PgConnection::connect(&admin_url).await {
        Ok(c) => c,
        Err(e) if postgres_required() => panic!("Postgres is required (CI) but {admin_url} did not answer: {e}"),
        Err(e) => {
            eprintln!("SKIPPED: Postgres half of this test, {admin_url} did not answer: {e}");
            return None;
        }
    };
    let name = format!("patchbay_test_{}", uuid::Uuid::new_v4().simple());
    admin.execute(format!(r#"CREATE DATABASE "{name}""#).as_str()).await.expect("create test database");
    let _ = admin.close().await;
    let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(base, _)| base);
    let url = format!("{base}/{name}").parse().expect("test database URL");
    Some(TestPostgres { admin_url, name, url })
}

impl TestPostgres {
    /// Drops the database now, terminating its connections. The server under
    /// test then finds its database unreachable.
    pub async fn drop_database(&self) {
        let mut admin = PgConnection::connect(&self.admin_url).await.expect("connect to Postgres admin database");
        admin
            .execute(format!(r#"DROP DATABASE IF EXISTS "{}" WITH (FORCE)"#, self.name).as_str())
            .await
            .expect("drop test database");
        let _ = admin.close().await;
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        // Drop runs outside any async context we can rely on, so the cleanup
        // gets a small runtime of its own on a plain thread.
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async move {
                if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                    let _ = admin.execute(format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#).as_str()).await;
                    let _ = admin.close().await;
                }
            });
        })
        .join();
    }
}

/// A throwaway database on either backend.
#[derive(Debug)]
pub enum TestDatabase {
    Sqlite(TestSqlite),
    Postgres(TestPostgres),
}

impl TestDatabase {
    pub fn sqlite() -> Self {
        Self::Sqlite(TestSqlite::new())
    }

    /// `None` when Postgres is not reachable and not required.
    pub async fn postgres() -> Option<Self> {
        fresh_postgres().await.map(Self::Postgres)
    }

    pub fn url(&self) -> &DatabaseUrl {
        match self {
            Self::Sqlite(db) => &db.url,
            Self::Postgres(db) => &db.url,
        }
    }

    /// The full URL, password included, for handing to a child process.
    pub fn url_for_child(&self) -> String {
        self.url().expose().to_owned()
    }

    /// Connects and applies every migration.
    pub async fn migrated(&self) -> crate::Db {
        let db = crate::Db::connect(self.url(), 5).await.expect("connect to test database");
        db.migrate().await.expect("migrate test database");
        db
    }
}

/// Declares one `#[tokio::test]` per backend that runs `$body(TestDatabase)`.
/// The Postgres variant returns early, having said so, when no server answers
/// and none is required.
#[macro_export]
macro_rules! test_on_both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test]
            async fn on_sqlite() {
                super::$body($crate::testing::TestDatabase::sqlite()).await;
            }

            #[tokio::test]
            async fn on_postgres() {
                let Some(db) = $crate::testing::TestDatabase::postgres().await else { return };
                super::$body(db).await;
            }
        }
    };
}

impl TestPostgres {
    /// The full URL, password included, for handing to a child process.
    pub fn url_for_tests(&self) -> String {
        self.url.expose().to_owned()
    }
}

/// Whether a missing test peer must fail the test instead of skipping it:
/// under CI, or when the given variable is set.
fn peer_required(variable: &str) -> bool {
    let set = |k: &str| std::env::var(k).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    set("CI") || set(variable)
}

/// A `moto_server` (PyPI `moto[server]`) on a free loopback port: the SSM
/// endpoint the SSM backend's tests talk to through the real AWS SDK.
///
/// One is started per test process, on first use, and shared; tests keep
/// apart by using prefixes of their own. It runs under a small shell that
/// holds a pipe from this process and stops moto when the pipe closes, so
/// moto ends with the test process however that ends.
#[derive(Debug)]
pub struct Moto {
    endpoint: String,
    _child: std::sync::Mutex<std::process::Child>,
}

impl Moto {
    /// The shared instance, or `None` (having said so) when moto cannot be
    /// started and it is not required (`CI`, `PATCHBAY_REQUIRE_MOTO`).
    pub fn shared() -> Option<&'static Moto> {
        static MOTO: std::sync::OnceLock<Option<Moto>> = std::sync::OnceLock::new();
        MOTO.get_or_init(|| match Moto::start() {
            Ok(moto) => Some(moto),
            Err(e) if peer_required("PATCHBAY_REQUIRE_MOTO") => panic!("moto is required (CI) but did not start: {e}"),
            Err(e) => {
                eprintln!("SKIPPED: SSM half of this test, moto did not start: {e}");
                None
            }
        })
        .as_ref()
    }

    fn start() -> Result<Self, String> {
        let python = std::env::var("PATCHBAY_PYTHON").unwrap_or_else(|_| "python3".into());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let script = format!(
            "\"$0\" -m moto.server -H 127.0.0.1 -p {port} >/dev/null 2>&1 & moto=$!; \
             read -r _ || true; kill $moto 2>/dev/null; wait $moto 2>/dev/null"
        );
        let child = std::process::Command::new("sh")
            .args(["-c", &script, &python])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run sh: {e}"))?;
        let moto = Self { endpoint: format!("http://127.0.0.1:{port}"), _child: std::sync::Mutex::new(child) };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if std::time::Instant::now() > deadline {
                return Err(format!(
                    "`{python} -m moto.server` did not listen on port {port} within 20 s; install it with \
                     `pip install 'moto[server]'`"
                ));
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Ok(moto)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Settings for an SSM store on this moto under a prefix of its own,
    /// with moto's dummy credentials and region.
    pub fn settings(&self) -> crate::secrets::ssm::SsmSettings {
        self.settings_at(&self.endpoint)
    }

    /// The same, but reaching moto through another endpoint (a fault proxy).
    pub fn settings_at(&self, endpoint: &str) -> crate::secrets::ssm::SsmSettings {
        let prefix =
            crate::secrets::Prefix::parse(&format!("/pbtest-{}", uuid::Uuid::new_v4().simple())).expect("test prefix");
        let mut settings = crate::secrets::ssm::SsmSettings::new(prefix);
        settings.endpoint_url = Some(endpoint.to_owned());
        settings.region = Some("us-east-1".into());
        settings.credentials = Some(aws_sdk_ssm::config::Credentials::new("testing", "testing", None, None, "moto"));
        settings
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Ok(mut child) = self._child.lock() {
            drop(child.stdin.take());
            let _ = child.wait();
        }
    }
}

/// Starts capturing everything the test binary logs, at every level, and
/// returns a handle to read it: canary tests (SECURITY D1) assert that a
/// secret never reaches a log line. The capture is the process's global
/// subscriber, installed once; later calls return the same handle.
pub fn capture_logs() -> LogCapture {
    static LOGS: std::sync::OnceLock<&'static std::sync::Mutex<Vec<u8>>> = std::sync::OnceLock::new();
    LogCapture(LOGS.get_or_init(|| {
        let logs: &'static std::sync::Mutex<Vec<u8>> = Box::leak(Box::new(std::sync::Mutex::new(Vec::new())));
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || LogWriter(logs))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber in a test binary");
        logs
    }))
}

/// What the capture holds.
#[derive(Clone, Copy, Debug)]
pub struct LogCapture(&'static std::sync::Mutex<Vec<u8>>);

impl LogCapture {
    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)).into_owned()
    }
}

struct LogWriter(&'static std::sync::Mutex<Vec<u8>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A secret store that passes every call to another and notes the paths
/// whose values were read, so a test can prove that a request or a job
/// read no secret it must not (SECURITY C1, C3).
#[derive(Debug)]
pub struct RecordingSecrets {
    inner: std::sync::Arc<dyn crate::secrets::SecretStore>,
    read: std::sync::Mutex<Vec<crate::secrets::SecretPath>>,
}

impl RecordingSecrets {
    pub fn new(inner: std::sync::Arc<dyn crate::secrets::SecretStore>) -> Self {
        Self { inner, read: std::sync::Mutex::default() }
    }

    /// Every path whose value was read so far (through `get`, `get_fresh`,
    /// `get_many` or `get_all`), in order.
    pub fn reads(&self) -> Vec<crate::secrets::SecretPath> {
        self.read.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The reads of values that belong to `team`.
    pub fn reads_of(&self, team: &crate::ids::TeamId) -> usize {
        self.reads().iter().filter(|path| path.team_id() == team).count()
    }

    fn note(&self, paths: impl IntoIterator<Item = crate::secrets::SecretPath>) {
        self.read.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend(paths);
    }
}

#[async_trait::async_trait]
impl crate::secrets::SecretStore for RecordingSecrets {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    fn name_of(&self, path: &crate::secrets::SecretPath) -> crate::Result<String> {
        self.inner.name_of(path)
    }

    async fn put(
        &self,
        path: &crate::secrets::SecretPath,
        value: &secrecy::SecretString,
    ) -> crate::Result<crate::secrets::Version> {
        self.inner.put(path, value).await
    }

    async fn put_if_version(
        &self,
        path: &crate::secrets::SecretPath,
        expected: Option<crate::secrets::Version>,
        value: &secrecy::SecretString,
    ) -> crate::Result<crate::secrets::Version> {
        self.inner.put_if_version(path, expected, value).await
    }

    async fn get(&self, path: &crate::secrets::SecretPath) -> crate::Result<Option<crate::secrets::Secret>> {
        self.note([path.clone()]);
        self.inner.get(path).await
    }

    async fn get_fresh(&self, path: &crate::secrets::SecretPath) -> crate::Result<Option<crate::secrets::Secret>> {
        self.note([path.clone()]);
        self.inner.get_fresh(path).await
    }

    async fn get_many(
        &self,
        paths: &[crate::secrets::SecretPath],
    ) -> crate::Result<Vec<Option<crate::secrets::Secret>>> {
        self.note(paths.iter().cloned());
        self.inner.get_many(paths).await
    }

    async fn get_all(
        &self,
        under: &crate::secrets::SecretPath,
    ) -> crate::Result<Vec<(crate::secrets::SecretPath, crate::secrets::Secret)>> {
        self.note([under.clone()]);
        self.inner.get_all(under).await
    }

    async fn list(&self, under: &crate::secrets::SecretPath) -> crate::Result<Vec<crate::secrets::SecretEntry>> {
        self.inner.list(under).await
    }

    async fn delete(&self, path: &crate::secrets::SecretPath) -> crate::Result<bool> {
        self.inner.delete(path).await
    }

    async fn delete_all(&self, under: &crate::secrets::SecretPath) -> crate::Result<usize> {
        self.inner.delete_all(under).await
    }

    async fn check(&self) -> crate::Result<crate::secrets::StoreStatus> {
        self.inner.check().await
    }
}
