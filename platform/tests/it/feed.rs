//! The change feed and search, on SQLite and on Postgres (DESIGN:
//! Delivering records; SECURITY I1, I3; CONNECTOR-RULES 18).

use std::collections::{BTreeMap, HashSet};

use crate::pid;
use connector_core::source::{Change, Record};
use platform::{
    Db,
    ids::{InstallationId, TeamId},
    store::{
        artifacts::{self, Reported, Target},
        changes::{self, Filter, Op, Unservable},
    },
    test_on_both_backends,
    testing::TestDatabase,
};

async fn team(db: &Db) -> TeamId {
    let team = TeamId::new();
    sqlx::query("INSERT INTO teams (id, name, created_at) VALUES ($1, 'Acme', 0)")
        .bind(team.as_str())
        .execute(db.pool())
        .await
        .unwrap();
    team
}

async fn connect(db: &Db, team: &TeamId, provider: &str) -> InstallationId {
    let installation = InstallationId::new();
    sqlx::query(
        "INSERT INTO installations (id, team_id, provider, state, account_id, display_name, settings, updated_at) \
         VALUES ($1, $2, $3, 'connected', 'u-1', 'Demo', '{}', 0)",
    )
    .bind(installation.as_str())
    .bind(team.as_str())
    .bind(provider)
    .execute(db.pool())
    .await
    .unwrap();
    installation
}

fn upsert(id: &str, title: &str, body: &str) -> Change {
    Change::Upsert(Record {
        entity_type: "item".into(),
        entity_id: id.into(),
        title: title.into(),
        url: format!("https://sandbox.example/items/{id}"),
        content: serde_json::json!({ "body": body, "state": "open" }),
        updated_at: time::macros::datetime!(2026-11-30 10:00 UTC),
    })
}

fn remove(id: &str) -> Change {
    Change::Remove { entity_type: "item".into(), entity_id: id.into() }
}

/// Every change of the team's feed, read a page of `limit` at a time.
async fn read_all(db: &Db, team: &TeamId, limit: i64) -> Vec<changes::Change> {
    let (mut after, mut all) = (0, Vec::new());
    loop {
        let page = changes::page(db, team, after, limit, &Filter::default()).await.unwrap().unwrap();
        let done = page.changes.is_empty();
        all.extend(page.changes);
        if done {
            return all;
        }
        after = page.next;
    }
}

fn ops(changes: &[changes::Change]) -> Vec<(Op, String, Option<String>)> {
    changes.iter().map(|c| (c.op, c.entity_id.clone(), c.record.as_ref().map(|r| r.title.clone()))).collect()
}

/// Rule 18: upserts and removals appear in commit order; writing a record
/// again unchanged is not a change (a re-sync does not flood the feed);
/// removing what was never stored is not one either; a disconnect's
/// deletion tells the reader to forget every record.
async fn the_feed_holds_what_really_changed_in_commit_order(test_db: TestDatabase) {
    let db = test_db.migrated().await;
    let team = team(&db).await;
    let installation = connect(&db, &team, "sandbox").await;
    let sandbox = pid("sandbox");
    let page = [upsert("1", "One", "first"), upsert("2", "Two", "second")];
    for _ in 0..3 {
        artifacts::commit_page(&db, &team, &installation, &sandbox, &page, &[], None).await.unwrap();
    }
    let next = [upsert("1", "One, renamed", "first"), remove("2"), remove("never-stored")];
    artifacts::commit_page(&db, &team, &installation, &sandbox, &next, &[], None).await.unwrap();
    let mut tx = db.begin_write().await.unwrap();
    artifacts::delete_all(&mut tx, true, &team, &sandbox).await.unwrap();
    tx.commit().await.unwrap();

    let all = read_all(&db, &team, 2).await;
    assert_eq!(
        ops(&all),
        [
            (Op::Upsert, "1".into(), Some("One".into())),
            (Op::Upsert, "2".into(), Some("Two".into())),
            (Op::Upsert, "1".into(), Some("One, renamed".into())),
            (Op::Delete, "2".into(), None),
            (Op::Delete, "1".into(), None),
        ]
    );
    let seqs: Vec<i64> = all.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5], "sequences are dense and in commit order");
    let record = all[2].record.as_ref().unwrap();
    assert_eq!(record.url, "https://sandbox.example/items/1");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&record.content).unwrap()["body"], "first");
}
test_on_both_backends!(commit_order, the_feed_holds_what_really_changed_in_commit_order);

/// Rule 18 with webhooks: a webhook's upsert and removal are changes; a
/// stale one is not; filters pass over other providers' changes without
/// reading them again.
async fn webhook_writes_and_filters(test_db: TestDatabase) {
    let db = test_db.migrated().await;
    let team = team(&db).await;
    let sandbox_at = connect(&db, &team, "sandbox").await;
    let linear_at = connect(&db, &team, "linear").await;
    artifacts::commit_page(&db, &team, &sandbox_at, &pid("sandbox"), &[upsert("1", "One", "a")], &[], None)
        .await
        .unwrap();
    let target = Target::whole(&team, &linear_at, &pid("linear"));
    let reported = [
        Reported { change: upsert("L-1", "Linear one", "b"), at: None },
        Reported { change: upsert("L-1", "Linear one", "b"), at: None },
        Reported { change: remove("L-1"), at: Some(2_000_000_000) },
        Reported { change: remove("L-1"), at: Some(2_000_000_001) },
    ];
    artifacts::apply_newer(&db, &target, &reported, i64::MAX).await.unwrap();
    assert_eq!(
        ops(&read_all(&db, &team, 10).await),
        [
            (Op::Upsert, "1".into(), Some("One".into())),
            (Op::Upsert, "L-1".into(), Some("Linear one".into())),
            (Op::Delete, "L-1".into(), None),
        ],
        "the repeated upsert and the second removal changed nothing"
    );

    let linear = Filter { provider: Some(pid("linear")), entity_type: None };
    let page = changes::page(&db, &team, 0, 1, &linear).await.unwrap().unwrap();
    assert_eq!(ops(&page.changes), [(Op::Upsert, "L-1".into(), Some("Linear one".into()))]);
    assert_eq!(page.next, 2, "a full page ends at its last change");
    let page = changes::page(&db, &team, page.next, 10, &linear).await.unwrap().unwrap();
    assert_eq!(ops(&page.changes), [(Op::Delete, "L-1".into(), None)]);
    assert_eq!(page.next, 3, "a page short of its limit ends at the head");
    let sandbox_only = Filter { provider: Some(pid("sandbox")), entity_type: None };
    let page = changes::page(&db, &team, 1, 10, &sandbox_only).await.unwrap().unwrap();
    assert!(page.changes.is_empty());
    assert_eq!(page.next, 3, "what the filter passed over is not read again");
}
test_on_both_backends!(webhooks_and_filters, webhook_writes_and_filters);

/// SECURITY I1: one team's feed holds none of another's changes, and its
/// cursors mean nothing there.
async fn a_teams_feed_is_its_own(test_db: TestDatabase) {
    let db = test_db.migrated().await;
    let (a, b) = (team(&db).await, team(&db).await);
    let (at_a, at_b) = (connect(&db, &a, "sandbox").await, connect(&db, &b, "sandbox").await);
    for _ in 0..3 {
        artifacts::commit_page(&db, &a, &at_a, &pid("sandbox"), &[upsert(&rand_id(), "A", "a")], &[], None)
            .await
            .unwrap();
    }
    artifacts::commit_page(&db, &b, &at_b, &pid("sandbox"), &[upsert("1", "B", "b")], &[], None).await.unwrap();
    let of_b = read_all(&db, &b, 10).await;
    assert_eq!(ops(&of_b), [(Op::Upsert, "1".into(), Some("B".into()))]);
    assert_eq!(
        changes::page(&db, &b, 3, 10, &Filter::default()).await.unwrap(),
        Err(Unservable::Ahead),
        "a position in A's feed is not one in B's"
    );
}
test_on_both_backends!(teams_apart, a_teams_feed_is_its_own);

fn rand_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Retention: once changes after a cursor are swept, the cursor cannot be
/// served; one at the new start can.
async fn a_cursor_older_than_retention_cannot_be_served(test_db: TestDatabase) {
    let db = test_db.migrated().await;
    let team = team(&db).await;
    let installation = connect(&db, &team, "sandbox").await;
    let page = [upsert("1", "One", "a"), upsert("2", "Two", "b")];
    artifacts::commit_page(&db, &team, &installation, &pid("sandbox"), &page, &[], None).await.unwrap();
    assert_eq!(changes::sweep(&db, 0).await.unwrap(), 0, "nothing is older than the epoch");
    let removed = changes::sweep(&db, time::OffsetDateTime::now_utc().unix_timestamp() + 1).await.unwrap();
    assert_eq!(removed, 2);
    artifacts::commit_page(&db, &team, &installation, &pid("sandbox"), &[upsert("3", "Three", "c")], &[], None)
        .await
        .unwrap();
    for stale in [0, 1] {
        assert_eq!(
            changes::page(&db, &team, stale, 10, &Filter::default()).await.unwrap(),
            Err(Unservable::Expired),
            "after {stale}"
        );
    }
    let page = changes::page(&db, &team, 2, 10, &Filter::default()).await.unwrap().unwrap();
    assert_eq!(ops(&page.changes), [(Op::Upsert, "3".into(), Some("Three".into()))]);
}
test_on_both_backends!(retention, a_cursor_older_than_retention_cannot_be_served);

/// Rule 18: a consumer that replays the feed into an empty table ends
/// with exactly the console's records, whatever mix of pages, webhook
/// events, removals and a disconnect came first.
async fn replaying_the_feed_rebuilds_exactly_the_records(test_db: TestDatabase) {
    let db = test_db.migrated().await;
    let team = team(&db).await;
    let sandbox_at = connect(&db, &team, "sandbox").await;
    let linear_at = connect(&db, &team, "linear").await;
    let mut seed = 7_u64;
    let mut next = move |n: u64| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    for round in 0..40 {
        let page: Vec<Change> = (0..8)
            .map(|_| {
                let id = next(30).to_string();
                if next(4) == 0 { remove(&id) } else { upsert(&id, &format!("v{}", next(3)), &format!("r{round}")) }
            })
            .collect();
        if round % 3 == 0 {
            let target = Target::whole(&team, &linear_at, &pid("linear"));
            let reported: Vec<Reported> = page.into_iter().map(|change| Reported { change, at: None }).collect();
            artifacts::apply_newer(&db, &target, &reported, i64::MAX).await.unwrap();
        } else {
            artifacts::commit_page(&db, &team, &sandbox_at, &pid("sandbox"), &page, &[], None).await.unwrap();
        }
        if round == 25 {
            let mut tx = db.begin_write().await.unwrap();
            artifacts::delete_all(&mut tx, true, &team, &pid("linear")).await.unwrap();
            tx.commit().await.unwrap();
        }
    }
    let mut mirror = BTreeMap::new();
    for change in read_all(&db, &team, 7).await {
        let key = (change.provider.clone(), change.entity_type.clone(), change.entity_id.clone());
        match change.record {
            Some(record) => mirror.insert(key, (record.title, record.content)),
            None => mirror.remove(&key),
        };
    }
    type Keyed = ((String, String, String), (String, String));
    let console: Vec<Keyed> = sqlx::query_as::<_, (String, String, String, String, String)>(
        "SELECT provider, entity_type, entity_id, title, content FROM artifacts WHERE team_id = $1 \
         ORDER BY provider, entity_type, entity_id",
    )
    .bind(team.as_str())
    .fetch_all(db.pool())
    .await
    .unwrap()
    .into_iter()
    .map(|(p, t, i, title, content)| ((p, t, i), (title, content)))
    .collect();
    assert!(!console.is_empty());
    assert_eq!(mirror.into_iter().collect::<Vec<_>>(), console);
}
test_on_both_backends!(replay_mirror, replaying_the_feed_rebuilds_exactly_the_records);

/// SECURITY I3: four workers commit pages for four connections of one team
/// at once, on Postgres, while a reader pages the feed. The reader sees
/// every change exactly once, each record's versions in the order they
/// were written.
#[tokio::test]
async fn concurrent_writers_never_make_the_reader_skip_or_repeat_a_change_on_postgres() {
    let Some(test_db) = TestDatabase::postgres().await else { return };
    let db = test_db.migrated().await;
    let team = team(&db).await;
    const WORKERS: usize = 4;
    const PAGES: usize = 40;
    let mut writers = Vec::new();
    for worker in 0..WORKERS {
        let provider = ["sandbox", "linear", "github", "chatwoot"][worker];
        let installation = connect(&db, &team, provider).await;
        let (db, team) = (db.clone(), team.clone());
        writers.push(tokio::spawn(async move {
            for page in 0..PAGES {
                // Ten records a page, each written again with a new
                // version every page: a record's history is its versions.
                let changes: Vec<Change> =
                    (0..10).map(|n| upsert(&format!("{n}"), &format!("v{page:03}"), "x")).collect();
                let rows =
                    artifacts::Rows::new(db.backend(), &Target::whole(&team, &installation, &pid(provider)), changes)
                        .unwrap();
                artifacts::commit_rows(
                    &db,
                    &Target::whole(&team, &installation, &pid(provider)),
                    vec![rows],
                    &[],
                    None,
                )
                .await
                .unwrap();
            }
        }));
    }
    let reader = {
        let (db, team) = (db.clone(), team.clone());
        tokio::spawn(async move {
            let (mut after, mut seen) = (0, Vec::new());
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
            while seen.len() < WORKERS * PAGES * 10 {
                assert!(std::time::Instant::now() < deadline, "the reader never caught up: {} seen", seen.len());
                let page = changes::page(&db, &team, after, 37, &Filter::default()).await.unwrap().unwrap();
                after = page.next;
                seen.extend(page.changes);
            }
            seen
        })
    };
    for writer in writers {
        writer.await.unwrap();
    }
    let seen = reader.await.unwrap();
    let seqs: Vec<i64> = seen.iter().map(|c| c.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "the reader saw changes out of order or twice");
    assert_eq!(seqs.iter().copied().collect::<HashSet<_>>().len(), WORKERS * PAGES * 10, "a change was skipped");
    assert_eq!(read_all(&db, &team, 1000).await.len(), seen.len(), "the feed holds nothing the reader missed");
    let mut versions: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for change in &seen {
        versions
            .entry((change.provider.clone(), change.entity_id.clone()))
            .or_default()
            .push(change.record.as_ref().unwrap().title.clone());
    }
    for (key, history) in versions {
        let expected: Vec<String> = (0..PAGES).map(|page| format!("v{page:03}")).collect();
        assert_eq!(history, expected, "{key:?}'s versions");
    }
}

/// Search finds records by the words of their title and the text of their
/// content (not the content's field names), ranks a title match first,
/// follows updates and removals in the same transaction, and never
/// answers with another team's records (SECURITY I1).
async fn search_follows_the_records_and_stays_in_the_team(test_db: TestDatabase) {
    let db = test_db.migrated().await;
    let (a, b) = (team(&db).await, team(&db).await);
    let (at_a, at_b) = (connect(&db, &a, "sandbox").await, connect(&db, &b, "sandbox").await);
    let page = [
        upsert("1", "Deploy failed on staging", "the runner ran out of disk"),
        upsert("2", "Quarterly planning", "staging budget for the deploy pipeline"),
        upsert("3", "Сбой выгрузки в 1С", "ошибка синхронизации"),
    ];
    artifacts::commit_page(&db, &a, &at_a, &pid("sandbox"), &page, &[], None).await.unwrap();
    artifacts::commit_page(&db, &b, &at_b, &pid("sandbox"), &[upsert("1", "Deploy failed on staging", "b")], &[], None)
        .await
        .unwrap();
    let words = |q: &str| platform::delivery::records::words(q);
    let found = |hits: Vec<(artifacts::Stored, f64)>| hits.into_iter().map(|(s, _)| s.entity_id).collect::<Vec<_>>();

    let hits = artifacts::search(&db, &a, &words("deploy staging"), None, 10).await.unwrap();
    assert_eq!(found(hits), ["1", "2"], "both hold both words; the title match ranks first");
    assert_eq!(found(artifacts::search(&db, &a, &words("disk"), None, 10).await.unwrap()), ["1"]);
    assert_eq!(found(artifacts::search(&db, &a, &words("выгрузки"), None, 10).await.unwrap()), ["3"]);
    assert!(artifacts::search(&db, &a, &words("body"), None, 10).await.unwrap().is_empty(), "field names are not text");
    assert!(
        artifacts::search(&db, &a, &words("\"deploy OR NEAR(x)"), None, 10).await.is_ok(),
        "what was typed is text, never query syntax"
    );
    let of_b = artifacts::search(&db, &b, &words("deploy"), None, 10).await.unwrap();
    assert_eq!(of_b.len(), 1);
    assert_eq!(of_b[0].0.content, r#"{"body":"b","state":"open"}"#, "B's own record, not A's");

    let next = [upsert("1", "Deploy fixed", "disk freed"), remove("2")];
    artifacts::commit_page(&db, &a, &at_a, &pid("sandbox"), &next, &[], None).await.unwrap();
    assert!(artifacts::search(&db, &a, &words("failed"), None, 10).await.unwrap().is_empty(), "the old title is gone");
    assert_eq!(found(artifacts::search(&db, &a, &words("fixed"), None, 10).await.unwrap()), ["1"]);
    assert!(artifacts::search(&db, &a, &words("quarterly"), None, 10).await.unwrap().is_empty(), "removed");
}
test_on_both_backends!(search, search_follows_the_records_and_stays_in_the_team);
