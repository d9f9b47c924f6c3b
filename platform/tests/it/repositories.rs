//! Repository functions and migrations, exercised on SQLite and on Postgres.

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use platform::{Readiness, store::instance, test_on_both_backends, testing::TestDatabase};

async fn migrations_apply_cleanly_and_a_second_run_changes_nothing(test_db: TestDatabase) {
    let db = test_db.migrated().await;
    assert!(matches!(db.readiness().await, Readiness::Ready));
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations").fetch_one(db.pool()).await.unwrap();
    assert_eq!(applied, i64::try_from(db.known_migrations().len()).unwrap());

    db.migrate().await.expect("migrating again is a no-op");
    let again: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations").fetch_one(db.pool()).await.unwrap();
    assert_eq!(again, applied);
}
test_on_both_backends!(migrations_are_idempotent, migrations_apply_cleanly_and_a_second_run_changes_nothing);

async fn readiness_names_the_migrations_that_are_missing(test_db: TestDatabase) {
    let db = test_db.migrated().await;
    let first = db.known_migrations()[0];
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1").bind(first).execute(db.pool()).await.unwrap();
    match db.readiness().await {
        Readiness::MigrationsPending { missing } => assert_eq!(missing, vec![first]),
        other => panic!("expected pending migrations, got {other:?}"),
    }
}
test_on_both_backends!(readiness_reports_missing_migrations, readiness_names_the_migrations_that_are_missing);

async fn readiness_before_any_migration_reports_all_of_them_missing(test_db: TestDatabase) {
    let db = platform::Db::connect(test_db.url(), 2).await.unwrap();
    match db.readiness().await {
        Readiness::MigrationsPending { missing } => assert_eq!(missing, db.known_migrations()),
        other => panic!("expected pending migrations, got {other:?}"),
    }
}
test_on_both_backends!(readiness_on_an_empty_database, readiness_before_any_migration_reports_all_of_them_missing);

async fn instance_identity_is_created_once_even_when_replicas_race(test_db: TestDatabase) {
    let db = test_db.migrated().await;
    assert_eq!(instance::get(&db).await.unwrap(), None);

    let racers = (0..8).map(|_| {
        let db = db.clone();
        tokio::spawn(async move { instance::ensure(&db).await.unwrap() })
    });
    let mut seen = Vec::new();
    for racer in racers {
        seen.push(racer.await.unwrap());
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "replicas disagree: {seen:?}");
    let stored = instance::get(&db).await.unwrap().unwrap();
    assert_eq!(stored, seen[0]);
    assert_eq!(uuid::Uuid::parse_str(&stored.id).unwrap().get_version_num(), 4);
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM instance").fetch_one(db.pool()).await.unwrap();
    assert_eq!(count, 1);
}
test_on_both_backends!(instance_ensure, instance_identity_is_created_once_even_when_replicas_race);

#[tokio::test]
async fn the_default_sqlite_file_is_created_on_first_connect() {
    let test_db = TestDatabase::sqlite();
    let TestDatabase::Sqlite(sqlite) = &test_db else { unreachable!() };
    let file = sqlite.dir().join("patchbay.db");
    assert!(!file.exists());
    let db = test_db.migrated().await;
    assert!(file.exists());
    db.close().await;
}

/// A writer stopped while its `BEGIN` runs (a sync run dropped mid-page)
/// leaves no transaction behind: the writers after it are not kept waiting
/// on a lock that nobody will release.
async fn a_cancelled_begin_leaves_no_lock_behind(test_db: TestDatabase) {
    let db = test_db.migrated().await;
    for step in 0..300u64 {
        let cut = std::time::Duration::from_micros(step * 37 % 900);
        let _ = tokio::time::timeout(cut, db.begin_write()).await;
    }
    for _ in 0..10 {
        let write = async {
            let mut tx = db.begin_write().await.unwrap();
            sqlx::query("DELETE FROM _sqlx_migrations WHERE version < 0").execute(&mut *tx).await.unwrap();
            tx.commit().await.unwrap();
        };
        tokio::time::timeout(std::time::Duration::from_secs(3), write).await.expect("a write waited on a lost lock");
    }
}
test_on_both_backends!(cancelled_begin, a_cancelled_begin_leaves_no_lock_behind);

/// On SQLite, writes take turns on one connection of their own (the pool
/// serves reads); it is counted with the others, and on Postgres the one
/// pool serves both.
async fn writes_share_one_connection_that_is_counted(test_db: TestDatabase) {
    let db = platform::Db::connect(test_db.url(), 1).await.unwrap();
    db.migrate().await.unwrap();
    let held = db.begin_write().await.unwrap();
    let expected = match db.backend() {
        platform::Backend::Sqlite => (2, 1),
        platform::Backend::Postgres => (1, 0),
    };
    // sqlx hands a released connection back to its pool on a task of its
    // own (the migration's), so under load it may take a moment to be idle.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while db.connections() != expected && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(db.connections(), expected);
    // A second writer waits for the first, on SQLite and on Postgres alike
    // (a pool of one), and goes on once it commits.
    let second = tokio::spawn({
        let db = db.clone();
        async move { db.begin_write().await.unwrap().commit().await.unwrap() }
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(!second.is_finished(), "a second write ran beside the first");
    held.commit().await.unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(3), second).await.unwrap().unwrap();
    db.close().await;
}
test_on_both_backends!(one_writer, writes_share_one_connection_that_is_counted);

/// A new SQLite database is made with 16 KB pages, so a sync's records
/// take a quarter as many log frames; one made with 4 KB pages keeps them.
/// Either way the writer copies the log into the database itself at 40 MB.
#[tokio::test]
async fn a_new_sqlite_database_gets_16_kb_pages_and_an_older_one_keeps_its_own() {
    use sqlx::Connection as _;

    async fn page_size_and_log_bound(db: &platform::Db) -> (i64, i64) {
        let mut conn = db.pool().acquire().await.unwrap();
        let size: i64 = sqlx::query_scalar("PRAGMA page_size").fetch_one(&mut *conn).await.unwrap();
        let pages: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint").fetch_one(&mut *conn).await.unwrap();
        (size, pages * size)
    }

    let new = TestDatabase::sqlite();
    let db = new.migrated().await;
    assert_eq!(page_size_and_log_bound(&db).await, (16_384, 40 << 20));
    db.close().await;

    let older = TestDatabase::sqlite();
    let mut made_before = sqlx::AnyConnection::connect(&older.url_for_child()).await.unwrap();
    sqlx::raw_sql("PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE made_before (x INTEGER)")
        .execute(&mut made_before)
        .await
        .unwrap();
    made_before.close().await.unwrap();
    let db = older.migrated().await;
    assert_eq!(page_size_and_log_bound(&db).await, (4_096, 40 << 20));
    db.close().await;
}
