//! The `patchbay` binary as operators run it: with a cleared environment (so
//! no `LEPTOS_*` variables), configuration errors that name the setting,
//! `migrate`, and graceful shutdown on SIGTERM and SIGINT.

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use std::{
    io::{BufRead as _, BufReader},
    process::{Child, Command, Output, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use platform::{Readiness, testing::TestDatabase};

const BIN: &str = env!("CARGO_BIN_EXE_patchbay");

/// The binary with an empty environment plus the given settings.
fn patchbay(settings: &[(&str, &str)]) -> Command {
    let mut command = Command::new(BIN);
    command.env_clear().stdin(Stdio::null());
    for (name, value) in settings {
        command.env(name, value);
    }
    command
}

fn run(settings: &[(&str, &str)], args: &[&str]) -> Output {
    patchbay(settings).args(args).output().expect("run patchbay")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn help_lists_the_serve_and_migrate_commands() {
    let output = run(&[], &["--help"]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.contains("serve") && help.contains("migrate"), "{help}");
}

#[test]
fn bad_configuration_stops_startup_with_a_message_naming_the_setting() {
    let data = tempfile::tempdir().unwrap();
    let data = data.path().to_str().unwrap();
    let cases: &[(&str, &str)] = &[
        ("PATCHBAY_BIND", "not-an-address"),
        ("PATCHBAY_PUBLIC_URL", "console.example.com"),
        ("DATABASE_URL", "mysql://localhost/patchbay"),
        ("PATCHBAY_LOG_FORMAT", "yaml"),
        ("PATCHBAY_DB_MAX_CONNECTIONS", "many"),
    ];
    for (name, value) in cases {
        let output = run(&[("PATCHBAY_DATA_DIR", data), (name, value)], &["serve"]);
        assert_eq!(output.status.code(), Some(2), "{name}={value} did not stop start-up");
        let message = stderr(&output);
        assert!(message.contains(&format!("configuration error: {name} (from the environment)")), "{name}: {message}");
    }
}

#[test]
fn a_bad_config_file_value_names_the_setting_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("patchbay.toml");
    std::fs::write(&file, "bind = \"127.0.0.1:99999\"\n").unwrap();
    let output = run(&[("PATCHBAY_CONFIG", file.to_str().unwrap())], &["serve"]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("PATCHBAY_BIND (key `bind` from ") && message.contains("patchbay.toml"), "{message}");
}

#[test]
fn an_unreachable_database_stops_startup_naming_it_without_its_password() {
    let data = tempfile::tempdir().unwrap();
    let output = run(
        &[
            ("PATCHBAY_DATA_DIR", data.path().to_str().unwrap()),
            ("PATCHBAY_BIND", "127.0.0.1:0"),
            // Port 1 on loopback: nothing listens there.
            ("DATABASE_URL", "postgres://patchbay:canary-db-password@127.0.0.1:1/patchbay"),
        ],
        &["serve"],
    );
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("DATABASE_URL: cannot connect to postgres://patchbay:***@127.0.0.1:1/patchbay"),
        "{message}"
    );
    assert!(!message.contains("canary-db-password"), "the password leaked: {message}");
}

async fn migrate_applies_every_migration(test_db: TestDatabase) {
    let data = tempfile::tempdir().unwrap();
    let mut settings = vec![("PATCHBAY_DATA_DIR", data.path().to_str().unwrap().to_owned())];
    if let TestDatabase::Postgres(pg) = &test_db {
        settings.push(("DATABASE_URL", pg.url_for_tests()));
    }
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let output = run(&settings, &["migrate"]);
    assert!(output.status.success(), "{}", stderr(&output));

    let db = match &test_db {
        // Without DATABASE_URL the default file in the data dir is used, and created.
        TestDatabase::Sqlite(_) => {
            let file = data.path().join("patchbay.db");
            assert!(file.exists(), "migrate did not create {}", file.display());
            platform::Db::connect(&platform::DatabaseUrl::sqlite_file(&file), 1).await.unwrap()
        }
        TestDatabase::Postgres(_) => platform::Db::connect(test_db.url(), 1).await.unwrap(),
    };
    assert!(matches!(db.readiness().await, Readiness::Ready));
    db.close().await;
}

#[tokio::test]
async fn migrate_creates_the_default_sqlite_database() {
    migrate_applies_every_migration(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn migrate_applies_migrations_to_postgres() {
    let Some(db) = TestDatabase::postgres().await else { return };
    migrate_applies_every_migration(db).await;
}

/// A running `patchbay serve` and the lines it has logged so far.
struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Vec<String>,
    _data: tempfile::TempDir,
}

impl Server {
    fn start(extra: &[(&str, &str)]) -> (Self, String) {
        let data = tempfile::tempdir().unwrap();
        let mut settings = vec![("PATCHBAY_BIND", "127.0.0.1:0"), ("PATCHBAY_DATA_DIR", data.path().to_str().unwrap())];
        settings.extend_from_slice(extra);
        let mut child = patchbay(&settings).arg("serve").stderr(Stdio::piped()).spawn().unwrap();
        let (tx, lines) = mpsc::channel();
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Self { child, lines, log: Vec::new(), _data: data };
        let line = server.wait_for("listening on http://");
        let start = line.find("http://").unwrap();
        let url: String = line[start..].chars().take_while(|c| !c.is_whitespace() && *c != '"').collect();
        (server, url)
    }

    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.log.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => break,
            }
        }
        let _ = self.child.kill();
        panic!("server never logged {needle:?}; log so far:\n{}", self.log.join("\n"));
    }

    fn signal(&mut self, signal: &str) {
        let status = Command::new("kill").args([signal, &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
    }

    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("server did not exit after the signal; log:\n{}", self.log.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn stops_gracefully_on(signal: &str, name: &str) {
    let (mut server, url) = Server::start(&[]);
    let health = reqwest::get(format!("{url}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    server.signal(signal);
    server.wait_for(&format!("received {name}"));
    server.wait_for("stopped");
    let status = server.wait_exit();
    assert!(status.success(), "exit status {status}");
}

#[tokio::test]
async fn serve_stops_gracefully_on_sigterm() {
    stops_gracefully_on("-TERM", "SIGTERM").await;
}

#[tokio::test]
async fn serve_stops_gracefully_on_sigint() {
    stops_gracefully_on("-INT", "SIGINT").await;
}

#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    let (mut server, url) = Server::start(&[("PATCHBAY_LOG_FORMAT", "json")]);
    assert_eq!(reqwest::get(format!("{url}/healthz?code=canary-oauth-code")).await.unwrap().status(), 200);
    server.signal("-TERM");
    server.wait_for("stopped");
    server.wait_exit();
    let log = server.log.join("\n");
    for line in &server.log {
        let value: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(value["level"].is_string() && value["message"].is_string(), "{line}");
    }
    assert!(log.contains(r#""message":"Patchbay is listening on http://127.0.0.1:"#), "{log}");
    // Request logs carry the path only: query strings can hold OAuth codes.
    assert!(log.contains(r#""path":"/healthz""#), "the request was not logged:\n{log}");
    assert!(!log.contains("canary-oauth-code"), "a query string was logged:\n{log}");
}

fn create_team(data_dir: &str, email: &str, password_line: &str) -> Output {
    use std::io::Write as _;
    let mut child = patchbay(&[("PATCHBAY_DATA_DIR", data_dir)])
        .args(["admin", "create-team", "--name", "Beta", "--email", email, "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(password_line.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn admin_create_team_works_beside_a_running_server_and_its_admin_can_sign_in() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    let (mut server, url) = Server::start(&[("PATCHBAY_DATA_DIR", data_dir)]);

    let output = create_team(data_dir, "Bea@Beta.example", "a long enough passphrase\n");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("created team \"Beta\""), "{}", stderr(&output));
    assert!(!stderr(&output).contains("a long enough passphrase"), "the password was echoed");

    // The running server sees the team at once: /setup is gone and the admin signs in.
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let setup = client.get(format!("{url}/setup")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(setup.status(), 404);
    let login = client
        .post(format!("{url}/api/login"))
        .form(&[("email", "bea@beta.example"), ("password", "a long enough passphrase")])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    assert!(login.headers()["set-cookie"].to_str().unwrap().starts_with("patchbay_session="));

    // Bad input is refused in words naming the option, and creates nothing.
    let weak = create_team(data_dir, "cy@beta.example", "short\n");
    assert_eq!(weak.status.code(), Some(1));
    assert!(
        stderr(&weak).contains("patchbay: the password on standard input: Use at least 12 characters"),
        "{}",
        stderr(&weak)
    );
    let duplicate = create_team(data_dir, "bea@beta.example", "a long enough passphrase\n");
    assert!(stderr(&duplicate).contains("An account with this email already exists."), "{}", stderr(&duplicate));

    server.signal("-TERM");
    server.wait_exit();
}
