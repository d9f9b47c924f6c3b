//! The test harness: the real application on port 0, with a fresh database
//! on either backend, stopped gracefully at the end of each test.

#![allow(dead_code, reason = "each test binary uses a different part of the harness")]

use std::collections::HashMap;

use platform::testing::TestDatabase;
use server::{Application, Config};
use tokio::{sync::oneshot, task::JoinHandle};

#[derive(Debug)]
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub db: TestDatabase,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    _data_dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn spawn(db: TestDatabase) -> Self {
        Self::spawn_with(db, &[]).await
    }

    /// Starts the application with extra settings, as environment variables.
    pub async fn spawn_with(db: TestDatabase, settings: &[(&str, &str)]) -> Self {
        let data_dir = tempfile::tempdir().expect("temp data dir");
        let mut env: HashMap<String, String> = HashMap::from([
            ("PATCHBAY_BIND".into(), "127.0.0.1:0".into()),
            ("PATCHBAY_DATA_DIR".into(), data_dir.path().display().to_string()),
        ]);
        env.extend(settings.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let mut config = Config::load(env).expect("test configuration");
        config.database_url = db.url().clone();

        let app = Application::build(&config).await.expect("application starts");
        let base = format!("http://{}", app.local_addr());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        let client =
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("HTTP client");
        Self { base, client, db, stop: Some(stop), task: Some(task), _data_dir: data_dir }
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

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request reaches the server")
    }

    /// Stops the server and waits for it to finish cleanly.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server stops cleanly");
        }
    }
}

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
