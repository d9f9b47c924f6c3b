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

use crate::common::patchbay;

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

// ── `patchbay secrets` and the secret store at start-up ───────────────────

/// Settings that point the binary at moto under a prefix of its own, with
/// the instance metadata service off so nothing leaves loopback.
fn ssm_settings(moto: &platform::testing::Moto) -> Vec<(&'static str, String)> {
    let prefix = format!("/pbtest-{}", uuid_like());
    vec![
        ("PATCHBAY_SECRETS", "ssm".into()),
        ("PATCHBAY_SSM_PREFIX", prefix),
        ("AWS_ENDPOINT_URL", moto.endpoint().to_owned()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ]
}

fn uuid_like() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn with<'a>(base: &'a [(&'static str, String)], extra: &[(&'static str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    base.iter().map(|(k, v)| (*k, v.as_str())).chain(extra.iter().copied()).collect()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Creates the team "Beta" through the CLI and stores a canary for it
/// through the configured store, as the console would.
async fn team_with_a_canary(settings: &[(&str, &str)], data_dir: &str) -> (String, String) {
    use std::io::Write as _;
    let mut all = settings.to_vec();
    all.push(("PATCHBAY_DATA_DIR", data_dir));
    let mut child = patchbay(&all)
        .args(["admin", "create-team", "--name", "Beta", "--email", "bea@beta.example", "--password-stdin"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"a long enough passphrase\n").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));

    let env = all.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let config = server::Config::load(env).unwrap();
    let db = server::startup::connect_and_migrate(&config).await.unwrap();
    let team = platform::store::teams::find(&db, "Beta").await.unwrap();
    let canary = format!("canary-{}", uuid_like());
    let store = match &config.secrets {
        // In-process SSM needs the endpoint and credentials the child gets from its environment.
        platform::secrets::SecretsConfig::Ssm(ssm) => {
            let moto = platform::testing::Moto::shared().unwrap();
            let mut local = moto.settings();
            local.prefix = ssm.prefix.clone();
            std::sync::Arc::new(platform::secrets::ssm::SsmStore::connect(local).await.unwrap())
        }
        platform::secrets::SecretsConfig::Local(_) => server::startup::open_secret_store(&config, &db).await.unwrap(),
    };
    let at = platform::secrets::SecretPath::of(&team.id, &["linear", "ACCESS_TOKEN"]).unwrap();
    store.put(&at, &canary.clone().into()).await.unwrap();
    db.close().await;
    (team.id.to_string(), canary)
}

// SECURITY D1
async fn secrets_list_prints_names_and_versions_but_never_values(settings: &[(&str, &str)]) {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    let (team_id, canary) = team_with_a_canary(settings, data_dir).await;
    let mut all = settings.to_vec();
    all.push(("PATCHBAY_DATA_DIR", data_dir));

    for team in ["Beta", team_id.as_str()] {
        let output = run(&all, &["secrets", "list", "--team", team]);
        assert!(output.status.success(), "{}", stderr(&output));
        let prefix = all.iter().find(|(k, _)| *k == "PATCHBAY_SSM_PREFIX").map_or("/patchbay", |(_, v)| *v);
        assert_eq!(stdout(&output), format!("{prefix}/{team_id}/linear/ACCESS_TOKEN\tv1\n"));
        assert!(stderr(&output).contains("1 secret(s) of team \"Beta\""), "{}", stderr(&output));
        assert!(!stdout(&output).contains(&canary) && !stderr(&output).contains(&canary), "the value leaked");
    }
    let output = run(&all, &["secrets", "list", "--team", "Gamma"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("--team: no team has the id or name `Gamma`"), "{}", stderr(&output));
}

#[tokio::test]
async fn secrets_list_on_the_local_store_prints_names_never_values() {
    secrets_list_prints_names_and_versions_but_never_values(&[]).await;
}

#[tokio::test]
async fn secrets_list_on_ssm_prints_names_never_values() {
    let Some(moto) = platform::testing::Moto::shared() else { return };
    let settings = ssm_settings(moto);
    secrets_list_prints_names_and_versions_but_never_values(&with(&settings, &[])).await;
}

#[tokio::test]
async fn secrets_check_says_ok_or_what_an_operator_must_fix() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    let output = run(&[("PATCHBAY_DATA_DIR", data_dir)], &["secrets", "check"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).starts_with("secret store (local): ok, encrypted table `secrets`"), "{}", stdout(&output));

    let Some(moto) = platform::testing::Moto::shared() else { return };
    let settings = ssm_settings(moto);
    let output = run(&with(&settings, &[("PATCHBAY_DATA_DIR", data_dir)]), &["secrets", "check"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).starts_with("secret store (ssm): ok, SSM Parameter Store in us-east-1"),
        "{}",
        stdout(&output)
    );

    let output = run(
        &with(&settings, &[("PATCHBAY_DATA_DIR", data_dir), ("AWS_ENDPOINT_URL", "http://127.0.0.1:1")]),
        &["secrets", "check"],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("secret store (ssm): cannot reach SSM at http://127.0.0.1:1"),
        "{}",
        stderr(&output)
    );

    let no_region: Vec<(&str, &str)> =
        with(&settings, &[("PATCHBAY_DATA_DIR", data_dir)]).into_iter().filter(|(k, _)| *k != "AWS_REGION").collect();
    let output = run(&no_region, &["secrets", "check"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("no AWS region is configured; set AWS_REGION"), "{}", stderr(&output));
}

#[tokio::test]
async fn rotate_key_re_encrypts_the_local_store_and_every_value_stays_readable() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    let (team_id, canary) = team_with_a_canary(&[], data_dir).await;
    let key_file = data.path().join(platform::secrets::local::KEY_FILE);
    let old_key = std::fs::read_to_string(&key_file).unwrap();

    let output = run(&[("PATCHBAY_DATA_DIR", data_dir)], &["secrets", "rotate-key"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("1 value(s) re-encrypted"), "{}", stdout(&output));
    assert!(stdout(&output).contains("no value needs key"), "{}", stdout(&output));
    assert_ne!(std::fs::read_to_string(&key_file).unwrap(), old_key);

    let config = server::Config::load([("PATCHBAY_DATA_DIR".to_owned(), data_dir.to_owned())].into()).unwrap();
    let db = server::startup::connect_and_migrate(&config).await.unwrap();
    let store = server::startup::open_secret_store(&config, &db).await.unwrap();
    let team = platform::ids::TeamId::parse(&team_id).unwrap();
    let at = platform::secrets::SecretPath::of(&team, &["linear", "ACCESS_TOKEN"]).unwrap();
    use platform::secrets::ExposeSecret as _;
    assert_eq!(store.get(&at).await.unwrap().unwrap().value.expose_secret(), canary);
    db.close().await;

    let output = run(&[("PATCHBAY_DATA_DIR", data_dir), ("PATCHBAY_SECRETS", "ssm")], &["secrets", "rotate-key"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("rotate-key applies to the local store"), "{}", stderr(&output));
}

#[test]
fn generate_key_prints_a_fresh_32_byte_key_in_base64() {
    let first = run(&[], &["secrets", "generate-key"]);
    let second = run(&[], &["secrets", "generate-key"]);
    assert!(first.status.success());
    let key = stdout(&first);
    assert_eq!(key.trim().len(), 44, "{key}");
    assert_ne!(key, stdout(&second));
}

#[test]
fn serve_refuses_a_bad_secret_key_or_a_key_file_others_can_read() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    let output = run(
        &[
            ("PATCHBAY_DATA_DIR", data_dir),
            ("PATCHBAY_BIND", "127.0.0.1:0"),
            ("PATCHBAY_SECRET_KEY", "canary-not-a-key"),
        ],
        &["serve"],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("secret store: PATCHBAY_SECRET_KEY: entry 1 is not a 32-byte key"),
        "{}",
        stderr(&output)
    );
    assert!(!stderr(&output).contains("canary-not-a-key"), "{}", stderr(&output));

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let key_file = data.path().join(platform::secrets::local::KEY_FILE);
        assert!(run(&[("PATCHBAY_DATA_DIR", data_dir)], &["secrets", "check"]).status.success());
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let output = run(&[("PATCHBAY_DATA_DIR", data_dir), ("PATCHBAY_BIND", "127.0.0.1:0")], &["serve"]);
        assert_eq!(output.status.code(), Some(1));
        assert!(stderr(&output).contains(&format!("chmod 600 {}", key_file.display())), "{}", stderr(&output));
    }
}

#[tokio::test]
async fn readyz_reports_an_ssm_store_that_answers_and_one_that_does_not() {
    let Some(moto) = platform::testing::Moto::shared() else { return };
    let settings = ssm_settings(moto);
    let (mut server, url) = Server::start(&with(&settings, &[]));
    let ready = reqwest::get(format!("{url}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["secrets"], serde_json::json!({ "status": "ok", "backend": "ssm" }));
    server.signal("-TERM");
    server.wait_exit();

    let (mut server, url) = Server::start(&with(&settings, &[("AWS_ENDPOINT_URL", "http://127.0.0.1:1")]));
    let unready = reqwest::get(format!("{url}/readyz")).await.unwrap();
    assert_eq!(unready.status(), 503);
    let body: serde_json::Value = unready.json().await.unwrap();
    assert_ne!(body["checks"]["secrets"]["status"], "ok");
    assert_eq!(body["checks"]["database"]["status"], "ok");
    server.signal("-TERM");
    server.wait_exit();
}

// ── `patchbay catalog check` ──────────────────────────────────────────────

#[test]
fn catalog_check_passes_the_built_in_catalog_and_names_file_and_key_of_each_problem() {
    let output = run(&[], &["catalog", "check"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).ends_with("provider(s), all valid\n"), "{}", stdout(&output));

    let dir = tempfile::tempdir().unwrap();
    let good = platform::catalog::BUILT_IN[0].1;
    std::fs::write(dir.path().join("bad-one.toml"), good.replacen("id = \"", "id = \"bad-one\"\nold_id = \"", 1))
        .unwrap();
    std::fs::write(
        dir.path().join("bad-two.toml"),
        good.replace("https://", "http://").replacen("id = \"", "id = \"bad-two\"\n#", 1),
    )
    .unwrap();
    let output = run(&[], &["catalog", "check", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    let file = |name: &str| dir.path().join(name).display().to_string();
    assert!(message.contains(&format!("{}: old_id: unknown field", file("bad-one.toml"))), "{message}");
    assert!(message.contains(&format!("{}: docs_url: ", file("bad-two.toml"))), "{message}");
    assert!(message.contains("must use https"), "{message}");

    // The same files as PATCHBAY_PROVIDERS_DIR stop the server from starting.
    let data = tempfile::tempdir().unwrap();
    let output = run(
        &[
            ("PATCHBAY_DATA_DIR", data.path().to_str().unwrap()),
            ("PATCHBAY_BIND", "127.0.0.1:0"),
            ("PATCHBAY_PROVIDERS_DIR", dir.path().to_str().unwrap()),
        ],
        &["serve"],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("PATCHBAY_PROVIDERS_DIR: the provider catalog has problems"),
        "{}",
        stderr(&output)
    );
}
