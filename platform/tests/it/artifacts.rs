//! A page's records and its cursor, written together, on SQLite and on
//! Postgres (SECURITY F1, F2, C3; CONNECTOR-RULES 6, 18).

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use crate::pid;
use connector_core::source::{Change, Record};
use platform::{
    Db, Error,
    ids::{InstallationId, TeamId},
    store::artifacts::{self, Applied},
    store::installations,
    test_on_both_backends,
    testing::TestDatabase,
};

async fn team_with_installation(db: &Db) -> (TeamId, InstallationId) {
    let (team, installation) = (TeamId::new(), InstallationId::new());
    sqlx::query("INSERT INTO teams (id, name, created_at) VALUES ($1, 'Acme', 0)")
        .bind(team.as_str())
        .execute(db.pool())
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO installations (id, team_id, provider, state, account_id, display_name, settings, updated_at) \
         VALUES ($1, $2, 'sandbox', 'connected', 'u-1', 'Demo', '{}', 0)",
    )
    .bind(installation.as_str())
    .bind(team.as_str())
    .execute(db.pool())
    .await
    .unwrap();
    (team, installation)
}

fn record(id: &str, title: &str) -> Change {
    Change::Upsert(Record {
        entity_type: "item".into(),
        entity_id: id.into(),
        title: title.into(),
        url: format!("https://sandbox.example/items/{id}"),
        content: serde_json::json!({ "title": title }),
        updated_at: time::macros::datetime!(2026-11-30 10:00 UTC),
    })
}

async fn titles(db: &Db, team: &TeamId) -> Vec<(String, String)> {
    sqlx::query_as("SELECT entity_id, title FROM artifacts WHERE team_id = $1 ORDER BY entity_id")
        .bind(team.as_str())
        .fetch_all(db.pool())
        .await
        .unwrap()
}

async fn cursor(db: &Db, team: &TeamId, installation: &InstallationId) -> Option<String> {
    installations::cursors(db, team, installation).await.unwrap().get("backfill").cloned()
}

/// SECURITY F1: a page read again changes nothing; a changed record is
/// updated in place; a removal deletes (rule 18).
async fn replaying_a_page_changes_nothing_and_removals_delete(test_db: TestDatabase) {
    let db = test_db.migrated().await;
    let (team, installation) = team_with_installation(&db).await;
    let page = [record("1", "One"), record("2", "Two")];
    for _ in 0..2 {
        let applied =
            artifacts::commit_page(&db, &team, &installation, &pid("sandbox"), &page, &[("backfill", "p2")], None)
                .await;
        assert_eq!(applied.unwrap(), Applied { upserted: 2, removed: 0 });
    }
    assert_eq!(titles(&db, &team).await, [("1".into(), "One".into()), ("2".into(), "Two".into())]);
    assert_eq!(artifacts::counts(&db, &team, &pid("sandbox")).await.unwrap(), [("item".to_owned(), 2)]);

    let next = [
        record("1", "One, renamed"),
        Change::Remove { entity_type: "item".into(), entity_id: "2".into() },
        Change::Remove { entity_type: "item".into(), entity_id: "never-seen".into() },
    ];
    let applied =
        artifacts::commit_page(&db, &team, &installation, &pid("sandbox"), &next, &[("backfill", "p3")], None).await;
    assert_eq!(applied.unwrap(), Applied { upserted: 1, removed: 1 });
    assert_eq!(titles(&db, &team).await, [("1".into(), "One, renamed".into())]);
    assert_eq!(cursor(&db, &team, &installation).await.as_deref(), Some("p3"));
}
test_on_both_backends!(replay, replaying_a_page_changes_nothing_and_removals_delete);

/// SECURITY F2, C3: the records and the cursor commit together. A page
/// whose cursor cannot be written (here: the installation is another
/// team's) leaves no record either, and the earlier cursor stands.
async fn records_and_cursor_commit_together_or_not_at_all(test_db: TestDatabase) {
    let db = test_db.migrated().await;
    let (team, installation) = team_with_installation(&db).await;
    let (other_team, _) = team_with_installation(&db).await;
    artifacts::commit_page(
        &db,
        &team,
        &installation,
        &pid("sandbox"),
        &[record("1", "One")],
        &[("backfill", "p1")],
        None,
    )
    .await
    .unwrap();

    let refused = artifacts::commit_page(
        &db,
        &other_team,
        &installation,
        &pid("sandbox"),
        &[record("9", "Nine")],
        &[("backfill", "p9")],
        None,
    )
    .await;
    assert!(matches!(refused, Err(Error::NotFound)), "{refused:?}");
    assert!(titles(&db, &other_team).await.is_empty(), "records were kept without their cursor");
    assert_eq!(cursor(&db, &team, &installation).await.as_deref(), Some("p1"));
}
test_on_both_backends!(atomic_page, records_and_cursor_commit_together_or_not_at_all);

/// SECURITY C3: a cursor is saved only for the team's own installation;
/// another team's is refused and keeps its cursor. Saving again replaces.
async fn a_cursor_is_saved_only_for_the_teams_own_installation(test_db: TestDatabase) {
    let db = test_db.migrated().await;
    let (team, installation) = team_with_installation(&db).await;
    let (other_team, _) = team_with_installation(&db).await;
    for value in ["p1", "p2"] {
        let mut tx = db.begin_write().await.unwrap();
        installations::put_cursor(&mut tx, &team, &installation, "backfill", value).await.unwrap();
        tx.commit().await.unwrap();
    }
    assert_eq!(cursor(&db, &team, &installation).await.as_deref(), Some("p2"));

    let mut tx = db.begin_write().await.unwrap();
    let refused = installations::put_cursor(&mut tx, &other_team, &installation, "backfill", "p9").await;
    assert!(matches!(refused, Err(Error::NotFound)), "{refused:?}");
    tx.commit().await.unwrap();
    assert_eq!(cursor(&db, &team, &installation).await.as_deref(), Some("p2"));
}
test_on_both_backends!(own_cursor, a_cursor_is_saved_only_for_the_teams_own_installation);

/// On SQLite, a sync's batches reach the database file without the writer
/// copying the write-ahead log itself (it does so only at 40 MB):
/// every few batches a checkpoint runs on a task of its own.
#[tokio::test]
async fn batches_are_copied_from_the_log_into_the_database_in_the_background() {
    let test_db = TestDatabase::sqlite();
    let file = match &test_db {
        TestDatabase::Sqlite(sqlite) => sqlite.dir().join("patchbay.db"),
        TestDatabase::Postgres(_) => unreachable!("made for SQLite"),
    };
    let db = test_db.migrated().await;
    let (team, installation) = team_with_installation(&db).await;
    let size = || std::fs::metadata(&file).unwrap().len();
    let before = size();
    for batch in 0..8 {
        let page: Vec<Change> = (0..200).map(|n| record(&format!("{batch}-{n}"), &"x".repeat(200))).collect();
        artifacts::commit_page(&db, &team, &installation, &pid("sandbox"), &page, &[("backfill", "p")], None)
            .await
            .unwrap();
    }
    // 1,600 records of more than 200 bytes each.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while size() < before + 300_000 {
        assert!(std::time::Instant::now() < deadline, "the batches stayed in the log: {} bytes", size() - before);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// SECURITY C3, F2: rows made ready for one connection are never written
/// under another, even one the writing team owns; pages of rows commit in
/// their order, so a record changed on a later page ends as that page says,
/// and a removal deletes many records in one statement (rule 18).
async fn rows_commit_only_for_their_connection_and_in_page_order(test_db: TestDatabase) {
    let db = test_db.migrated().await;
    let (team, installation) = team_with_installation(&db).await;
    let (other_team, other_installation) = team_with_installation(&db).await;
    let target = artifacts::Target::whole(&team, &installation, &pid("sandbox"));
    let other = artifacts::Target::whole(&other_team, &other_installation, &pid("sandbox"));

    let rows = artifacts::Rows::new(db.backend(), &target, vec![record("1", "One")]).unwrap();
    let refused = artifacts::commit_rows(&db, &other, vec![rows], &[("backfill", "p1")], None).await;
    assert!(matches!(refused, Err(Error::Invalid { .. })), "{refused:?}");
    assert!(titles(&db, &team).await.is_empty());
    assert_eq!(cursor(&db, &team, &installation).await, None);

    let first = (1..=150).map(|n| record(&n.to_string(), "First")).collect();
    let mut second: Vec<Change> =
        (1..=120).map(|n| Change::Remove { entity_type: "item".into(), entity_id: n.to_string() }).collect();
    second.push(record("7", "Again"));
    let pages = vec![
        artifacts::Rows::new(db.backend(), &target, first).unwrap(),
        artifacts::Rows::new(db.backend(), &target, second).unwrap(),
    ];
    let applied = artifacts::commit_rows(&db, &target, pages, &[("backfill", "p2")], None).await.unwrap();
    assert_eq!(applied, Applied { upserted: 151, removed: 119 });
    let mut expected: Vec<(String, String)> = (121..=150).map(|n| (n.to_string(), "First".into())).collect();
    expected.push(("7".into(), "Again".into()));
    expected.sort();
    assert_eq!(titles(&db, &team).await, expected);
    assert_eq!(cursor(&db, &team, &installation).await.as_deref(), Some("p2"));
}
test_on_both_backends!(rows_in_order, rows_commit_only_for_their_connection_and_in_page_order);

/// SECURITY F1: every column of a stored record holds what it should: the
/// connection's team, provider and installation and the time of the write
/// (bound once for a statement's rows), beside each record's own values.
async fn each_column_holds_its_own_value(test_db: TestDatabase) {
    let db = test_db.migrated().await;
    let (team, installation) = team_with_installation(&db).await;
    let before = time::OffsetDateTime::now_utc().unix_timestamp();
    let page: Vec<Change> = (1..=101).map(|n| record(&format!("r{n}"), &format!("Record {n}"))).collect();
    artifacts::commit_page(&db, &team, &installation, &pid("sandbox"), &page, &[], None).await.unwrap();
    let after = time::OffsetDateTime::now_utc().unix_timestamp();

    type Row = (String, String, String, String, String, String, String, String, i64, i64);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT team_id, provider, entity_type, entity_id, installation_id, title, url, content, \
         source_updated_at, synced_at FROM artifacts ORDER BY entity_id",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    assert_eq!(rows.len(), 101);
    let last = rows.iter().find(|row| row.3 == "r101").unwrap();
    let (team_id, provider, entity_type, _, installation_id, title, url, content, updated, synced) = last;
    assert_eq!((team_id.as_str(), provider.as_str(), entity_type.as_str()), (team.as_str(), "sandbox", "item"));
    assert_eq!(installation_id, installation.as_str());
    assert_eq!((title.as_str(), url.as_str()), ("Record 101", "https://sandbox.example/items/r101"));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(content).unwrap(),
        serde_json::json!({ "title": "Record 101" })
    );
    assert_eq!(*updated, time::macros::datetime!(2026-11-30 10:00 UTC).unix_timestamp());
    assert!((before..=after).contains(synced), "synced_at {synced} outside {before}..={after}");
    assert!(rows.iter().all(|row| row.0 == team.as_str() && row.4 == installation.as_str() && row.9 == *synced));
}
test_on_both_backends!(columns, each_column_holds_its_own_value);
