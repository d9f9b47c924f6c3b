//! A page's records and its cursor, written together, on SQLite and on
//! Postgres (SECURITY F1, F2, C3; CONNECTOR-RULES 6, 18).

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use connector_core::source::{Change, Record};
use platform::{
    Db, Error,
    accounts::{InstallationId, TeamId},
    artifacts::{self, Applied},
    installations, test_on_both_backends,
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
            artifacts::commit_page(&db, &team, &installation, "sandbox", &page, &[("backfill", "p2")], None).await;
        assert_eq!(applied.unwrap(), Applied { upserted: 2, removed: 0 });
    }
    assert_eq!(titles(&db, &team).await, [("1".into(), "One".into()), ("2".into(), "Two".into())]);
    assert_eq!(artifacts::counts(&db, &team, "sandbox").await.unwrap(), [("item".to_owned(), 2)]);

    let next = [
        record("1", "One, renamed"),
        Change::Remove { entity_type: "item".into(), entity_id: "2".into() },
        Change::Remove { entity_type: "item".into(), entity_id: "never-seen".into() },
    ];
    let applied =
        artifacts::commit_page(&db, &team, &installation, "sandbox", &next, &[("backfill", "p3")], None).await;
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
    artifacts::commit_page(&db, &team, &installation, "sandbox", &[record("1", "One")], &[("backfill", "p1")], None)
        .await
        .unwrap();

    let refused = artifacts::commit_page(
        &db,
        &other_team,
        &installation,
        "sandbox",
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
