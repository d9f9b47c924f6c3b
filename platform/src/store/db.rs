//! The relational store. SQLite is the embedded default and Postgres serves
//! deployments with several replicas. Both sit behind sqlx's `Any` driver so
//! that each query is written once; SQL that only one backend accepts is
//! chosen by [`Db::backend`], and each backend has its own migrations folder.

use std::{
    fmt,
    path::Path,
    str::FromStr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU32, Ordering},
    },
    time::Duration,
};

use sqlx::{
    Any, AnyPool, Executor, Transaction,
    any::{AnyPoolOptions, install_default_drivers},
    migrate::Migrator,
};

use crate::error::Result;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

/// Which database engine a [`Db`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    fn migrator(self) -> &'static Migrator {
        match self {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A database URL that names a supported backend. It may carry a password,
/// so `Debug` and `Display` print it with the password replaced.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    url: String,
    backend: Backend,
}

impl DatabaseUrl {
    /// The SQLite file Patchbay uses when no `DATABASE_URL` is set. The file
    /// is created on first connect.
    pub fn sqlite_file(path: &Path) -> Self {
        let path = path.to_string_lossy();
        // sqlx percent-decodes the path; escape what would end it early.
        let escaped = path.replace('%', "%25").replace('?', "%3F").replace('#', "%23");
        Self { url: format!("sqlite://{escaped}?mode=rwc"), backend: Backend::Sqlite }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL with its credentials, for the driver only.
    pub(crate) fn expose(&self) -> &str {
        &self.url
    }

    fn redacted(&self) -> String {
        let Some((scheme, rest)) = self.url.split_once("://") else {
            return self.url.clone();
        };
        let authority_end = rest.find('/').unwrap_or(rest.len());
        match rest[..authority_end].rfind('@') {
            Some(at) => {
                let userinfo = &rest[..at];
                let user = userinfo.split(':').next().unwrap_or_default();
                let masked = if userinfo.contains(':') { format!("{user}:***") } else { user.to_owned() };
                format!("{scheme}://{masked}{}", &rest[at..])
            }
            None => self.url.clone(),
        }
    }
}

impl FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let s = s.trim();
        let backend = if s.starts_with("sqlite:") {
            Backend::Sqlite
        } else if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err("expected a URL starting with sqlite:, postgres:// or postgresql://".into());
        };
        if backend == Backend::Sqlite && s.trim_start_matches("sqlite:").trim_start_matches("//").is_empty() {
            return Err("the sqlite URL names no file".into());
        }
        let mut url = s.to_owned();
        // An operator-supplied SQLite file is created when missing, like the default one.
        if backend == Backend::Sqlite && !url.contains("mode=") && !url.contains(":memory:") {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str("mode=rwc");
        }
        Ok(Self { url, backend })
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl").field(&self.redacted()).finish()
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// A connection pool and the backend it talks to. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    /// Where [`Db::begin_write`] takes its connection. On SQLite, a pool of
    /// one: SQLite lets one transaction write at a time anyway, and on one
    /// connection the page cache and the prepared statements stay warm
    /// from one write to the next (a connection's cache is stale after
    /// another connection's commit). Writers then queue in order, instead
    /// of polling the file lock. On Postgres, the one pool.
    writer: AnyPool,
    backend: Backend,
    checkpoint: Arc<Checkpoint>,
    /// Whether record writes append to the change feed (DESIGN: Delivering
    /// records); on unless the deployment turned it off.
    change_feed: bool,
}

/// Large writes committed since the write-ahead log was last copied into
/// the database, and whether a copy runs: see [`Db::checkpoint_soon`].
#[derive(Debug, Default)]
struct Checkpoint {
    writes: AtomicU32,
    running: AtomicBool,
}

/// Large writes (a sync's batches) between two checkpoints: about 4 MB of
/// log at a sync's 1,000 records a batch.
const WRITES_PER_CHECKPOINT: u32 = 8;

/// The size of write-ahead log at which the committing writer copies it
/// into the database itself.
const LOG_BOUND: i64 = 40 << 20;

/// Why `/readyz` says no.
#[derive(Debug)]
pub enum Readiness {
    Ready,
    /// The database did not answer a trivial query.
    Unreachable(sqlx::Error),
    /// Migrations this binary knows about are not (successfully) applied.
    MigrationsPending {
        missing: Vec<i64>,
    },
}

impl Db {
    /// Opens a pool. Connection failures surface here, so a server with an
    /// unreachable database does not start.
    #[tracing::instrument(skip_all, fields(backend = %url.backend()))]
    pub async fn connect(url: &DatabaseUrl, max_connections: u32) -> Result<Self> {
        install_default_drivers();
        let backend = url.backend();
        let options = |max_connections| {
            AnyPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(5))
                // Pinging a connection before handing it out finds one a
                // Postgres server dropped. A SQLite connection is a file in
                // this process and cannot be dropped, so the ping would only
                // add a trip to its thread to every transaction.
                .test_before_acquire(backend == Backend::Postgres)
                .after_connect(move |conn, _meta| {
                    Box::pin(async move {
                        if backend == Backend::Sqlite {
                            // A new database gets pages of 16 KB, not 4: a sync's
                            // records fill a quarter as many, so the write-ahead log
                            // takes a quarter as many frames, each its own writes and
                            // checksum (`scripts/bench-sync.sh`, interleaved runs). A
                            // database keeps the size it was made with; the pragma
                            // changes nothing once the file has pages.
                            //
                            // WAL lets readers run beside the writer; the busy timeout
                            // makes a CLI process and the server share the file. A page
                            // cache of up to 8 MB a connection (not 2) keeps a sync's
                            // index pages in memory instead of reading them again from
                            // the file.
                            conn.execute(
                                "PRAGMA page_size = 16384; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA cache_size = -8192;",
                            )
                            .await?;
                            // The committing writer copies the log into the database
                            // once it holds 40 MB (not SQLite's 1,000 pages), so that a
                            // page rewritten by many commits is copied once; a sync's
                            // batches have it copied sooner, off the writer
                            // ([`Db::checkpoint_soon`]).
                            let page_size: i64 = sqlx::query_scalar("PRAGMA page_size").fetch_one(&mut *conn).await?;
                            let pages = LOG_BOUND / page_size.max(512);
                            conn.execute(format!("PRAGMA wal_autocheckpoint = {pages}").as_str()).await?;
                        }
                        Ok(())
                    })
                })
        };
        let pool = options(max_connections).connect(url.expose()).await?;
        let writer = match backend {
            Backend::Sqlite => options(1).connect(url.expose()).await?,
            Backend::Postgres => pool.clone(),
        };
        Ok(Self { pool, writer, backend, checkpoint: Arc::default(), change_feed: true })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The connections open to the database and how many of them are
    /// idle, the writing one included.
    pub fn connections(&self) -> (u32, usize) {
        let (mut open, mut idle) = (self.pool.size(), self.pool.num_idle());
        if self.backend == Backend::Sqlite {
            open += self.writer.size();
            idle += self.writer.num_idle();
        }
        (open, idle)
    }

    /// Starts a transaction that will write. On SQLite it takes the write
    /// lock up front (`BEGIN IMMEDIATE`): a deferred transaction that reads
    /// and then writes cannot wait its turn behind another writer, and fails
    /// with `SQLITE_BUSY_SNAPSHOT` instead. Postgres needs no such care.
    ///
    /// The begin runs on a task of its own. A caller dropped while its
    /// `BEGIN` runs (a run stopped mid-page) would otherwise return the
    /// connection to the pool inside a transaction, and on SQLite holding
    /// the write lock, so every other writer would wait and fail with
    /// "database is locked". On its own task the begin finishes, and a
    /// transaction nobody takes is rolled back as it drops.
    pub async fn begin_write(&self) -> Result<Transaction<'static, Any>> {
        let (pool, backend) = (self.writer.clone(), self.backend);
        let begun = tokio::spawn(async move {
            match backend {
                Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
                Backend::Postgres => pool.begin().await,
            }
        })
        .await;
        Ok(crate::util::joined(begun)??)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// This pool, with record writes no longer appending to the change
    /// feed (`PATCHBAY_CHANGE_FEED=off`).
    pub fn without_change_feed(mut self) -> Self {
        self.change_feed = false;
        self
    }

    /// Whether record writes append to the change feed.
    pub fn change_feed(&self) -> bool {
        self.change_feed
    }

    /// Applies the migrations for this backend that are not applied yet.
    #[tracing::instrument(skip_all, fields(backend = %self.backend))]
    pub async fn migrate(&self) -> Result<()> {
        self.backend.migrator().run(&self.pool).await?;
        Ok(())
    }

    /// The versions of every migration this binary carries, oldest first.
    pub fn known_migrations(&self) -> Vec<i64> {
        self.backend.migrator().iter().map(|m| m.version).collect()
    }

    /// Whether the database answers and carries every migration this binary knows.
    pub async fn readiness(&self) -> Readiness {
        if let Err(e) = sqlx::query("SELECT 1").execute(&self.pool).await {
            return Readiness::Unreachable(e);
        }
        // No migrations table at all means nothing is applied.
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_all(&self.pool)
            .await
            .unwrap_or_default();
        let missing: Vec<i64> = self.known_migrations().into_iter().filter(|v| !applied.contains(v)).collect();
        if missing.is_empty() { Readiness::Ready } else { Readiness::MigrationsPending { missing } }
    }

    /// Says a large write (a sync's batch) committed. On SQLite, every few
    /// of them the write-ahead log is copied into the database on a
    /// connection of the pool, on a task of its own (a passive checkpoint,
    /// which waits for no one), so the copying and its `fsync`s are not the
    /// writer's: done by the writer when the log fills, they took about a
    /// sixth of a backfill's time (`scripts/bench-sync.sh`). The writer's
    /// own checkpoint at 40 MB ([`LOG_BOUND`]) stays the bound on the log, and then
    /// finds most of it copied already.
    pub fn checkpoint_soon(&self) {
        if self.backend != Backend::Sqlite
            || self.checkpoint.writes.fetch_add(1, Ordering::Relaxed) % WRITES_PER_CHECKPOINT
                != WRITES_PER_CHECKPOINT - 1
            || self.checkpoint.running.swap(true, Ordering::AcqRel)
        {
            return;
        }
        let (pool, checkpoint) = (self.pool.clone(), self.checkpoint.clone());
        tokio::spawn(async move {
            if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
                tracing::debug!(%error, "copying the write-ahead log into the database failed; the writer will");
            }
            checkpoint.running.store(false, Ordering::Release);
        });
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_password_is_redacted_in_debug_and_display() {
        let url: DatabaseUrl = "postgres://app:s3cret-canary@db.internal:5432/patchbay".parse().unwrap();
        assert_eq!(url.backend(), Backend::Postgres);
        for shown in [format!("{url}"), format!("{url:?}")] {
            assert!(!shown.contains("s3cret-canary"), "{shown}");
            assert!(shown.contains("app:***@db.internal:5432/patchbay"), "{shown}");
        }
    }

    #[test]
    fn unsupported_schemes_are_refused() {
        for bad in ["mysql://x/y", "", "postgres:/x", "sqlite:"] {
            assert!(bad.parse::<DatabaseUrl>().is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn sqlite_urls_create_their_file_unless_a_mode_is_given() {
        let url: DatabaseUrl = "sqlite://data/x.db".parse().unwrap();
        assert_eq!(url.expose(), "sqlite://data/x.db?mode=rwc");
        let url: DatabaseUrl = "sqlite://data/x.db?mode=ro".parse().unwrap();
        assert_eq!(url.expose(), "sqlite://data/x.db?mode=ro");
    }

    #[test]
    fn default_sqlite_file_escapes_url_metacharacters() {
        let url = DatabaseUrl::sqlite_file(Path::new("/tmp/a?b#c%d/patchbay.db"));
        assert_eq!(url.expose(), "sqlite:///tmp/a%3Fb%23c%25d/patchbay.db?mode=rwc");
    }
}
