//! The sync runner against the sandbox's item API, on the real console:
//! full backfills, changes runs, resuming after a dead worker, faults, and
//! `patchbay backfill` killed with SIGKILL again and again (SECURITY F1,
//! F2, F3, F6, F7; CONNECTOR-RULES 6, 11, 13, 17, 18, 31).

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use crate::common::{self, pid};

use std::time::Duration;

use common::TestApp;
use platform::{
    ids::TeamId,
    jobs::sync,
    jobs::{self, Kind, State},
    store::artifacts,
    store::installations,
    testing::TestDatabase,
};

const BIN: &str = env!("CARGO_BIN_EXE_patchbay");

fn sandbox(app: &TestApp) -> &sandbox::Sandbox {
    app.sandbox.as_ref().expect("the sandbox is on")
}

async fn stored_ids(app: &TestApp, team: &TeamId) -> Vec<String> {
    artifacts::ids(&app.platform.db, team, &pid("sandbox")).await.unwrap()
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// `count` `patchbay worker` processes with `env`, silent, killed when
/// dropped.
fn spawn_workers(count: usize, env: &[(&str, String)]) -> Vec<tokio::process::Child> {
    (0..count)
        .map(|_| {
            tokio::process::Command::new(BIN)
                .arg("worker")
                .envs(env.iter().cloned())
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .unwrap()
        })
        .collect()
}

/// Makes the team's records look written an hour ago, as a scheduled sync
/// finds them, so that a full pass may remove what it does not see.
pub(crate) async fn stored_an_hour_ago(app: &TestApp, team: &TeamId) {
    sqlx::query("UPDATE artifacts SET synced_at = synced_at - 3600 WHERE team_id = $1")
        .bind(team.as_str().to_owned())
        .execute(app.platform.db.pool())
        .await
        .unwrap();
}

async fn cursors(app: &TestApp, team: &TeamId) -> std::collections::BTreeMap<String, String> {
    let mut conn = app.platform.db.pool().acquire().await.unwrap();
    let installation = installations::find(&mut conn, team, &pid("sandbox")).await.unwrap().unwrap();
    installations::cursors(&app.platform.db, team, &installation.id).await.unwrap()
}

async fn sync_once(app: &TestApp, team: &TeamId, kind: Kind) -> jobs::Job {
    let id = sync::enqueue(&app.platform, team, &pid("sandbox"), kind).await.unwrap().id().to_owned();
    let ran = jobs::drain(&app.platform, "test-worker").await.unwrap();
    assert_eq!(ran, vec![(id.clone(), State::Completed)], "{:?}", jobs::get(&app.platform.db, team, &id).await);
    jobs::get(&app.platform.db, team, &id).await.unwrap().unwrap()
}

/// SECURITY F1, CONNECTOR-RULES 11, 13, 17: a full backfill stores every
/// public item once, counts every page, and sets `since` to its start.
async fn a_full_backfill_stores_exactly_the_public_items(db: TestDatabase) {
    let (app, team) = TestApp::with_sandbox_connected(
        db,
        &[("PATCHBAY_SANDBOX_ITEMS", "1234"), ("PATCHBAY_SANDBOX_RATE_LIMIT", "0")],
    )
    .await;
    sandbox(&app).set_item_private(17, true);
    let before = time::OffsetDateTime::now_utc().unix_timestamp();
    let job = sync_once(&app, &team, Kind::FullBackfill).await;
    let expected = sorted(sandbox(&app).public_item_ids());
    assert_eq!(expected.len(), 1233);
    assert_eq!(stored_ids(&app, &team).await, expected);
    assert_eq!((job.progress_done, job.progress_total, job.items), (1234, Some(1234), 1233));
    let counts = artifacts::counts(&app.platform.db, &team, &pid("sandbox")).await.unwrap();
    assert_eq!(counts, vec![("item".to_owned(), 1233)]);
    let cursors = cursors(&app, &team).await;
    // The run's start: after the job was claimed, and no later than its
    // first read of the provider, to the millisecond.
    let since = time::OffsetDateTime::parse(&cursors["since"], &time::format_description::well_known::Rfc3339)
        .unwrap()
        .unix_timestamp_nanos()
        / 1_000_000;
    let claimed_ms = i128::from(job.started_at.unwrap()) * 1000;
    let first_read_ms = i128::from(sandbox(&app).first_item_request_ms().unwrap());
    assert!(before <= job.started_at.unwrap(), "the job was claimed before the test queued it");
    assert!(
        claimed_ms <= since && since <= first_read_ms,
        "since {since} ms is not the run's start: claimed at {claimed_ms} ms, first read at {first_read_ms} ms"
    );
    assert_eq!(cursors["run"], "", "the finished run left its position");
    // 13 pages of 100, and nothing read twice.
    assert_eq!(sandbox(&app).item_requests().0, 13);
    app.stop().await;
}
platform::test_on_both_backends!(full_backfill, a_full_backfill_stores_exactly_the_public_items);

/// CONNECTOR-RULES 3, 17, 18, SECURITY F3: a changes run asks only for what
/// changed since the last one, updates edited items, and removes deleted
/// ones and ones made private.
async fn a_changes_run_reads_only_changes_and_removes_deleted_and_private_items(db: TestDatabase) {
    let (app, team) =
        TestApp::with_sandbox_connected(db, &[("PATCHBAY_SANDBOX_ITEMS", "500"), ("PATCHBAY_SANDBOX_RATE_LIMIT", "0")])
            .await;
    sync_once(&app, &team, Kind::FullBackfill).await;
    let s = sandbox(&app);
    assert!(s.touch_item(10) && s.delete_item(20) && s.set_item_private(30, true));
    let requests = s.item_requests().0;
    let job = sync_once(&app, &team, Kind::Incremental).await;
    assert_eq!(s.item_requests().0 - requests, 1, "a changes run read more than the changes");
    assert_eq!(job.progress_done, 3);
    let stored = stored_ids(&app, &team).await;
    assert_eq!(stored, sorted(s.public_item_ids()));
    assert!(!stored.contains(&"itm_20".to_owned()) && !stored.contains(&"itm_30".to_owned()));
    let listed = artifacts::list(&app.platform.db, &team, &pid("sandbox"), 1, 0).await.unwrap();
    assert_eq!(listed[0].entity_id, "itm_10");
    assert_eq!(listed[0].title, "Item 10 (edited 1×)");
    assert!(listed[0].url.ends_with("/sandbox/items/itm_10"), "{}", listed[0].url);
    // Nothing changed since: the overlap re-reads exactly the three changes
    // of the last two minutes (CONNECTOR-RULES 13), and the store is as it was.
    let job = sync_once(&app, &team, Kind::Incremental).await;
    assert_eq!(job.progress_done, 3, "the overlap re-reads only the recent changes, all of them");
    assert_eq!(stored_ids(&app, &team).await, sorted(s.public_item_ids()));
    app.stop().await;
}
platform::test_on_both_backends!(changes_run, a_changes_run_reads_only_changes_and_removes_deleted_and_private_items);

/// SECURITY F3: 250 items edited in one bulk update share one `updated_at`,
/// so they straddle two page boundaries of the changes listing (100 a
/// page). The changes run reads every one, none twice, and stores each
/// edit: the listing's cursor is an `(updated_at, id)` pair, and the runner
/// keeps it between pages rather than restarting from a timestamp.
async fn records_sharing_a_timestamp_across_page_boundaries_are_all_read(db: TestDatabase) {
    let (app, team) =
        TestApp::with_sandbox_connected(db, &[("PATCHBAY_SANDBOX_ITEMS", "600"), ("PATCHBAY_SANDBOX_RATE_LIMIT", "0")])
            .await;
    sync_once(&app, &team, Kind::FullBackfill).await;
    let s = sandbox(&app);
    let bulk: Vec<u64> = (100..350).collect();
    assert_eq!(s.touch_items_together(&bulk), 250);
    let requests = s.item_requests().0;
    let job = sync_once(&app, &team, Kind::Incremental).await;
    assert_eq!(job.progress_done, 250, "the changes run read {} of the 250", job.progress_done);
    assert_eq!(s.item_requests().0 - requests, 3, "three pages of 100, 100 and 50");
    let listed = artifacts::list(&app.platform.db, &team, &pid("sandbox"), 600, 0).await.unwrap();
    let edited: Vec<&str> =
        listed.iter().filter(|a| a.title.ends_with("(edited 1×)")).map(|a| a.entity_id.as_str()).collect();
    assert_eq!(edited.len(), 250, "not every bulk-edited item was stored edited");
    assert_eq!(stored_ids(&app, &team).await, sorted(s.public_item_ids()));
    app.stop().await;
}
platform::test_on_both_backends!(shared_timestamps, records_sharing_a_timestamp_across_page_boundaries_are_all_read);

/// SECURITY F7 through the runner: a listing whose next cursor repeats, or
/// whose pages stay empty while promising more, stops the job for good
/// with words that say why, after a bounded number of requests, and
/// deletes nothing it stored before.
#[tokio::test]
async fn f7_a_repeating_cursor_or_endless_empty_pages_stop_the_sync() {
    use sandbox::items::BrokenPaging;
    for (paging, words, most) in [
        // Bounds with room for the page retries a loaded machine meets;
        // without the guard, neither run would end at all.
        (BrokenPaging::RepeatCursor, "returned a page cursor it had returned before", 10),
        (BrokenPaging::EmptyForever, "empty pages in a row", 40),
    ] {
        let (app, team) = TestApp::with_sandbox_connected(
            TestDatabase::sqlite(),
            &[("PATCHBAY_SANDBOX_ITEMS", "300"), ("PATCHBAY_SANDBOX_RATE_LIMIT", "0")],
        )
        .await;
        sync_once(&app, &team, Kind::FullBackfill).await;
        let before = stored_ids(&app, &team).await;
        sandbox(&app).break_paging(paging);
        let requests = sandbox(&app).item_requests().0;
        let id = sync::enqueue(&app.platform, &team, &pid("sandbox"), Kind::FullBackfill).await.unwrap().id().clone();
        jobs::drain(&app.platform, "test-worker").await.unwrap();
        let job = jobs::get(&app.platform.db, &team, &id).await.unwrap().unwrap();
        assert_eq!((job.state, job.error_class.as_deref()), (State::Failed, Some("permanent")), "{paging:?}");
        let message = job.last_error.clone().unwrap_or_default();
        assert!(message.contains(words), "{paging:?}: {message}");
        let asked = sandbox(&app).item_requests().0 - requests;
        assert!(asked <= most, "{paging:?}: {asked} requests before stopping");
        assert_eq!(stored_ids(&app, &team).await, before, "{paging:?}: a stopped pass changed the stored records");
        app.leave_jobs("the stopped sync is what this test checks");
        app.stop().await;
    }
}

/// CONNECTOR-RULES 22, SECURITY F6: connecting queues the first backfill;
/// asking again (twice, of either kind) returns that job.
async fn connecting_queues_one_backfill_and_asking_again_returns_it(db: TestDatabase) {
    let (app, team) = TestApp::with_sandbox_connected(db, &[("PATCHBAY_SANDBOX_ITEMS", "10")]).await;
    let queued = jobs::list(&app.platform.db, &team, &jobs::Filter::default(), 10).await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!((queued[0].kind, queued[0].state), (Kind::FullBackfill, State::Queued));
    for kind in [Kind::Incremental, Kind::FullBackfill] {
        let again = sync::enqueue(&app.platform, &team, &pid("sandbox"), kind).await.unwrap();
        assert_eq!(again.0, [jobs::Enqueued::AlreadyThere(queued[0].id.clone())], "{again:?}");
    }
    assert_eq!(jobs::list(&app.platform.db, &team, &jobs::Filter::default(), 10).await.unwrap().len(), 1);
    app.leave_jobs("the one queued backfill is what this test checks");
    app.stop().await;
}
platform::test_on_both_backends!(one_job_per_connection, connecting_queues_one_backfill_and_asking_again_returns_it);

/// SECURITY F2, CONNECTOR-RULES 6, 7: a worker dies mid-run; after its
/// lease lapses another takes the job up after the last committed batch,
/// reading no page twice, and the result is exact.
#[tokio::test]
async fn a_dead_workers_job_resumes_from_its_last_page() {
    let (app, team) = TestApp::with_sandbox_connected(
        TestDatabase::sqlite(),
        &[("PATCHBAY_SANDBOX_ITEMS", "3000"), ("PATCHBAY_SANDBOX_RATE_LIMIT", "0")],
    )
    .await;
    let mut platform = app.platform.clone();
    platform.job_lease = Duration::from_secs(3);
    let id = sync::enqueue(&platform, &team, &pid("sandbox"), Kind::FullBackfill).await.unwrap().id().to_owned();
    let job = jobs::claim(&platform.db, "doomed", sync::SYNC_KINDS, platform.job_lease).await.unwrap().unwrap();
    let (pages_tx, mut pages) = tokio::sync::mpsc::unbounded_channel();
    let doomed = {
        let platform = platform.clone();
        tokio::spawn(async move {
            let on_page = move |done: i64, _: Option<i64>| {
                let _ = pages_tx.send(done);
            };
            sync::run(&platform, &job, "doomed", &on_page).await
        })
    };
    // Dies after its first batch of pages is committed.
    pages.recv().await.unwrap();
    doomed.abort();
    let _ = doomed.await;
    let read_before = sandbox(&app).item_requests().0;
    let committed = jobs::get(&platform.db, &team, &id).await.unwrap().unwrap().progress_done;
    // A batch is a page or more: more when pages wait to be written.
    assert!((100..3000).contains(&committed) && committed % 100 == 0, "{committed}");
    assert!(jobs::work_one(&platform, "rescuer").await.unwrap().is_none(), "taken while the lease held");
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(jobs::work_one(&platform, "rescuer").await.unwrap(), Some((id.clone(), State::Completed)));
    let pages_after = sandbox(&app).item_requests().0 - read_before;
    assert_eq!(pages_after, u64::try_from((3000 - committed) / 100).unwrap(), "resumed from the wrong page");
    assert_eq!(stored_ids(&app, &team).await, sorted(sandbox(&app).public_item_ids()));
    let job = jobs::get(&platform.db, &team, &id).await.unwrap().unwrap();
    assert_eq!((job.progress_done, job.attempts), (3000, 2));
    app.stop().await;
}

/// CONNECTOR-RULES 31, SECURITY F5: with a fifth of the item requests
/// failing (429, 500, slow answers, connections reset mid-answer) the
/// backfill still completes, and its result is exact.
#[tokio::test]
async fn a_backfill_through_twenty_percent_faults_is_exact() {
    let settings = [
        ("PATCHBAY_SANDBOX_ITEMS", "3000"),
        ("PATCHBAY_SANDBOX_RATE_LIMIT", "0"),
        ("PATCHBAY_SANDBOX_FAULT_PERCENT", "20"),
    ];
    let (app, team) = TestApp::with_sandbox_connected(TestDatabase::sqlite(), &settings).await;
    let job = sync_once(&app, &team, Kind::FullBackfill).await;
    assert_eq!(stored_ids(&app, &team).await, sorted(sandbox(&app).public_item_ids()));
    assert_eq!(job.progress_done, 3000);
    let (requests, _) = sandbox(&app).item_requests();
    assert!(requests > 30, "no faults were met: {requests} requests for 30 pages");
    app.stop().await;
}

/// SECURITY F2: `patchbay backfill` of 50,000 items, killed with SIGKILL at
/// random points five times and restarted each time, ends with exactly the
/// source's items: none missing, none twice.
#[tokio::test]
async fn a_backfill_killed_five_times_ends_exact() {
    let settings = [("PATCHBAY_SANDBOX_ITEMS", "50000"), ("PATCHBAY_SANDBOX_RATE_LIMIT", "0")];
    let (app, team) = TestApp::with_sandbox_connected(TestDatabase::sqlite(), &settings).await;
    let env = [
        ("DATABASE_URL", app.db.url_for_child()),
        ("PATCHBAY_DATA_DIR", app.data_dir().display().to_string()),
        ("PATCHBAY_PUBLIC_URL", app.base.clone()),
        ("PATCHBAY_SANDBOX", "on".to_owned()),
        ("PATCHBAY_SANDBOX_ITEMS", "50000".to_owned()),
        ("PATCHBAY_SANDBOX_RATE_LIMIT", "0".to_owned()),
        ("PATCHBAY_JOB_LEASE", "3".to_owned()),
        ("PATCHBAY_LOG", "warn".to_owned()),
    ];
    let backfill = || {
        let mut command = tokio::process::Command::new(BIN);
        command.args(["backfill", "sandbox", "--team", common::TEAM, "--full"]).envs(env.iter().cloned());
        command.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::piped());
        command.stderr(std::process::Stdio::piped()).kill_on_drop(true);
        command
    };
    // Each start waits for the killed one's lease (3 s) to lapse, works,
    // and is killed once its progress passes a random point further on.
    let mut progress = Vec::new();
    for i in 0..5 {
        let kill_at = 2_000 + i * 9_000 + rand::random_range(0..7_000);
        let mut child = backfill().spawn().unwrap();
        loop {
            if child.try_wait().unwrap().is_some() {
                let out = child.wait_with_output().await.unwrap();
                panic!(
                    "the backfill ended before it was killed at {kill_at} ({:?}): {}{}",
                    out.status,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            let jobs = jobs::list(&app.platform.db, &team, &jobs::Filter::default(), 5).await.unwrap();
            if jobs.first().is_some_and(|j| j.progress_done >= kill_at) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(rand::random_range(5..40))).await;
        }
        child.start_kill().unwrap();
        child.wait().await.unwrap();
        let jobs = jobs::list(&app.platform.db, &team, &jobs::Filter::default(), 5).await.unwrap();
        assert_eq!(jobs.len(), 1, "a restart made a second job");
        assert_ne!(jobs[0].state, State::Completed, "killed too late");
        progress.push(jobs[0].progress_done);
    }
    assert!(progress.windows(2).all(|w| w[1] > w[0]), "the restarts made no progress: {progress:?}");
    let finished = tokio::time::timeout(Duration::from_secs(300), backfill().output()).await.unwrap().unwrap();
    assert!(finished.status.success(), "{}", String::from_utf8_lossy(&finished.stderr));
    let jobs = jobs::list(&app.platform.db, &team, &jobs::Filter::default(), 5).await.unwrap();
    assert_eq!((jobs.len(), jobs[0].state, jobs[0].progress_done), (1, State::Completed, 50_000));
    assert!(jobs[0].attempts >= 6, "{}", jobs[0].attempts);
    let stored = stored_ids(&app, &team).await;
    assert_eq!(stored.len(), 50_000);
    assert_eq!(stored, sorted(sandbox(&app).public_item_ids()));
    app.stop().await;
}

/// CONNECTOR-RULES 29, SECURITY C3: disconnecting deletes the synced
/// records, says so, and a page committed afterwards (a run that was
/// mid-way) is refused rather than bringing records back.
async fn disconnecting_deletes_the_records_and_refuses_late_pages(db: TestDatabase) {
    let (app, team) =
        TestApp::with_sandbox_connected(db, &[("PATCHBAY_SANDBOX_ITEMS", "150"), ("PATCHBAY_SANDBOX_RATE_LIMIT", "0")])
            .await;
    jobs::drain(&app.platform, "test-worker").await.unwrap();
    assert_eq!(stored_ids(&app, &team).await.len(), 150);
    let installation = {
        let mut conn = app.platform.db.pool().acquire().await.unwrap();
        installations::find(&mut conn, &team, &pid("sandbox")).await.unwrap().unwrap().id
    };
    let response = app.browser.post_form("/api/disconnect_provider", &[("provider", "sandbox")]).await;
    let said = response.text().await.unwrap();
    assert!(said.contains("150 synced records deleted"), "{said}");
    assert!(stored_ids(&app, &team).await.is_empty());
    let late = connector_core::source::Change::Upsert(connector_core::source::Record {
        entity_type: "item".into(),
        entity_id: "itm_1".into(),
        title: "Item 1".into(),
        url: "http://x/items/itm_1".into(),
        content: serde_json::Value::Null,
        updated_at: time::OffsetDateTime::now_utc(),
    });
    let refused =
        artifacts::commit_page(&app.platform.db, &team, &installation, &pid("sandbox"), &[late], &[], None).await;
    assert!(matches!(refused, Err(platform::Error::NotFound)), "{refused:?}");
    assert!(stored_ids(&app, &team).await.is_empty());
    app.stop().await;
}
platform::test_on_both_backends!(disconnect_wipes_records, disconnecting_deletes_the_records_and_refuses_late_pages);

/// CONNECTOR-RULES 18: the sandbox's full listing leaves deleted items
/// out, and a changes run may never hear of them; a prune (a full pass)
/// deletes every record it did not see, and only at its end. A changes run
/// deletes nothing it did not read.
async fn a_prune_deletes_the_records_the_source_no_longer_has(db: TestDatabase) {
    let (app, team) =
        TestApp::with_sandbox_connected(db, &[("PATCHBAY_SANDBOX_ITEMS", "300"), ("PATCHBAY_SANDBOX_RATE_LIMIT", "0")])
            .await;
    sync_once(&app, &team, Kind::FullBackfill).await;
    assert_eq!(stored_ids(&app, &team).await.len(), 300);
    // The records were written an hour ago, and item 5 is deleted in a way
    // no changes listing reports (as GitHub and Linear do not).
    stored_an_hour_ago(&app, &team).await;
    let s = sandbox(&app);
    assert!(s.delete_item(5));
    let before_changes = stored_ids(&app, &team).await;
    // A changes run that reads nothing (its `since` is after the deletion)
    // removes nothing: only what a run reads, or a full pass misses, goes.
    let installation = {
        let mut conn = app.platform.db.pool().acquire().await.unwrap();
        installations::find(&mut conn, &team, &pid("sandbox")).await.unwrap().unwrap().id
    };
    let later = time::OffsetDateTime::now_utc() + Duration::from_secs(600);
    let since = connector_core::paging::utc_rfc3339(later);
    artifacts::commit_page(
        &app.platform.db,
        &team,
        &installation,
        &pid("sandbox"),
        &[],
        &[("since", since.as_str())],
        None,
    )
    .await
    .unwrap();
    sync_once(&app, &team, Kind::Incremental).await;
    assert_eq!(stored_ids(&app, &team).await, before_changes, "a changes run removed what it did not read");

    let job = sync_once(&app, &team, Kind::Prune).await;
    assert_eq!(job.progress_done, 299);
    let stored = stored_ids(&app, &team).await;
    assert!(!stored.contains(&"itm_5".to_owned()), "the deleted item was kept");
    assert_eq!(stored, sorted(s.public_item_ids()));
    app.stop().await;
}
platform::test_on_both_backends!(prune, a_prune_deletes_the_records_the_source_no_longer_has);

/// SECURITY F8, CONNECTOR-RULES 36: a full pass with prune over 20,000
/// items listed by page number, while every page read edits five random
/// items, deletes one, creates one and makes one private (over the pass,
/// 5% edited and 1% deleted). The edits and deletes shift the pages, so
/// live items slip past the reader; the pass looks each unseen record up
/// and deletes none that still exists and is public. A changes run after
/// it brings the store to exactly the source's public set.
#[tokio::test]
async fn f8_a_full_pass_over_shifting_pages_deletes_no_live_record() {
    let (app, team) = TestApp::with_sandbox_connected(
        TestDatabase::sqlite(),
        &[
            ("PATCHBAY_SANDBOX_ITEMS", "20000"),
            ("PATCHBAY_SANDBOX_RATE_LIMIT", "0"),
            ("PATCHBAY_SANDBOX_PAGING", "pages"),
        ],
    )
    .await;
    sync_once(&app, &team, Kind::FullBackfill).await;
    let s = sandbox(&app);
    let before = sorted(s.public_item_ids());
    assert_eq!(before.len(), 20_000);
    assert_eq!(stored_ids(&app, &team).await, before);
    // Stored an hour ago, so that the prune may delete what it does not see.
    stored_an_hour_ago(&app, &team).await;

    s.mutate_while_listing(sandbox::Mutations { edits: 5, deletes: 1, creates: 1, privacy_flips: 1 });
    let pages = s.item_requests().0;
    sync_once(&app, &team, Kind::Prune).await;
    s.mutate_while_listing(sandbox::Mutations::default());
    let pages = s.item_requests().0 - pages - s.item_lookups().0;
    assert!(pages >= 200, "the pass read {pages} pages");

    let stored: std::collections::BTreeSet<String> = stored_ids(&app, &team).await.into_iter().collect();
    let before: std::collections::BTreeSet<String> = before.into_iter().collect();
    let now_public = s.public_item_ids();
    let deleted_live: Vec<&String> =
        now_public.iter().filter(|id| before.contains(*id) && !stored.contains(*id)).collect();
    assert!(
        deleted_live.is_empty(),
        "the prune deleted {} live public items, such as {:?}",
        deleted_live.len(),
        &deleted_live[..deleted_live.len().min(10)]
    );
    let (lookups, found) = s.item_lookups();
    assert!(found > 0, "no live item slipped past the reader ({lookups} lookups): the test proves nothing");

    sync_once(&app, &team, Kind::Incremental).await;
    assert_eq!(stored_ids(&app, &team).await, sorted(s.public_item_ids()));
    app.stop().await;
}

/// SECURITY F2, F8: a worker killed while it confirms what a full pass
/// did not see leaves its place: the next worker reads no page again,
/// looks up only the records not yet committed, and the store ends exact.
#[tokio::test]
async fn a_prune_killed_while_confirming_resumes_where_it_stopped() {
    let (app, team) = TestApp::with_sandbox_connected(
        TestDatabase::sqlite(),
        &[("PATCHBAY_SANDBOX_ITEMS", "600"), ("PATCHBAY_SANDBOX_RATE_LIMIT", "0")],
    )
    .await;
    sync_once(&app, &team, Kind::FullBackfill).await;
    stored_an_hour_ago(&app, &team).await;
    let s = sandbox(&app);
    // 120 unseen records: three batches of lookups (50, 50, 20).
    for n in 0..120 {
        assert!(s.delete_item(n * 5));
    }
    let mut platform = app.platform.clone();
    platform.job_lease = Duration::from_secs(3);
    let id = sync::enqueue(&platform, &team, &pid("sandbox"), Kind::Prune).await.unwrap().id().to_owned();
    let job = jobs::claim(&platform.db, "doomed", sync::SYNC_KINDS, platform.job_lease).await.unwrap().unwrap();
    let doomed = {
        let platform = platform.clone();
        tokio::spawn(async move { sync::run(&platform, &job, "doomed", &|_, _| {}).await })
    };
    // Dies in the second batch of lookups: the first is committed.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while s.item_lookups().0 < 75 {
        assert!(std::time::Instant::now() < deadline, "the lookups did not come");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    doomed.abort();
    let _ = doomed.await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (requests, lookups) = (s.item_requests().0, s.item_lookups().0);
    assert_eq!(jobs::get(&platform.db, &team, &id).await.unwrap().unwrap().progress_done, 480, "pages left unread");
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(jobs::work_one(&platform, "rescuer").await.unwrap(), Some((id.clone(), State::Completed)));
    let lookups_after = s.item_lookups().0 - lookups;
    assert_eq!(s.item_requests().0 - requests - lookups_after, 0, "the rescuer read pages again");
    assert_eq!(lookups_after, 70, "the rescuer did not start from the last committed batch");
    assert_eq!(stored_ids(&app, &team).await, sorted(s.public_item_ids()));
    app.stop().await;
}

/// CONNECTOR-RULES 37: a changes run resumes from the stream token the
/// last run's end handed back; when the provider says the token expired
/// (410), the job starts over as a full pass by itself, loses no change,
/// and the provider page says why.
#[tokio::test]
async fn an_expired_stream_token_turns_the_next_run_into_a_full_pass() {
    let (app, team) = TestApp::with_sandbox_connected(
        TestDatabase::sqlite(),
        &[("PATCHBAY_SANDBOX_ITEMS", "300"), ("PATCHBAY_SANDBOX_RATE_LIMIT", "0")],
    )
    .await;
    let s = sandbox(&app);
    s.use_stream_tokens(true);
    sync_once(&app, &team, Kind::FullBackfill).await;
    let token = cursors(&app, &team).await.get("stream").cloned().unwrap_or_default();
    assert!(!token.is_empty(), "the full pass kept no stream token");

    assert!(s.touch_item(4));
    let job = sync_once(&app, &team, Kind::Incremental).await;
    assert_eq!((s.token_listings(), job.progress_done), (1, 1), "the changes run did not resume the stream");
    assert_ne!(cursors(&app, &team).await["stream"], token, "the changes run kept the old token");

    // The records were stored an hour ago, as a scheduled sync would find
    // them, so the full pass may remove what it no longer sees.
    stored_an_hour_ago(&app, &team).await;
    s.expire_stream_tokens();
    assert!(s.delete_item(5) && s.touch_item(6));
    let id = sync::enqueue(&app.platform, &team, &pid("sandbox"), Kind::Incremental).await.unwrap().id().to_owned();
    let ran = jobs::drain(&app.platform, "test-worker").await.unwrap();
    assert_eq!(ran.last(), Some(&(id.clone(), State::Completed)), "{ran:?}");
    let job = jobs::get(&app.platform.db, &team, &id).await.unwrap().unwrap();
    assert_eq!((job.attempts, job.progress_done), (2, 299), "the second attempt was not a full pass");
    assert!(job.last_error.as_deref().is_some_and(|e| e.contains("change token expired")), "{:?}", job.last_error);
    assert_eq!(stored_ids(&app, &team).await, sorted(s.public_item_ids()), "a change was lost");
    assert!(!cursors(&app, &team).await["stream"].is_empty(), "the full pass kept no new token");
    let page = app.get("/integrations/sandbox").await.text().await.unwrap();
    assert!(page.contains("change token expired, so the next run reads everything again"), "the page does not say why");
    app.stop().await;
}

/// CONNECTOR-RULES 16: the schedule queues one incremental sync per
/// connection once its interval (30 minutes) has passed since the last
/// one was queued, and never a second while one is waiting; a
/// disconnected connection gets none.
async fn the_schedule_queues_one_sync_per_connection_and_interval(db: TestDatabase) {
    let (app, team) = TestApp::with_sandbox_connected(db, &[("PATCHBAY_SANDBOX_ITEMS", "10")]).await;
    jobs::drain(&app.platform, "test-worker").await.unwrap();
    assert_eq!(sync::schedule_due(&app.platform).await.unwrap(), 0, "scheduled right after a sync");
    let age = |minutes: i64| {
        sqlx::query("UPDATE jobs SET created_at = created_at - $1 WHERE team_id = $2")
            .bind(minutes * 60)
            .bind(team.as_str().to_owned())
    };
    age(29).execute(app.platform.db.pool()).await.unwrap();
    assert_eq!(sync::schedule_due(&app.platform).await.unwrap(), 0, "scheduled before 30 minutes");
    age(2).execute(app.platform.db.pool()).await.unwrap();
    let (first, second) = tokio::join!(sync::schedule_due(&app.platform), sync::schedule_due(&app.platform));
    assert_eq!(first.unwrap() + second.unwrap(), 1, "two schedulers at once made two jobs");
    let queued = jobs::list(&app.platform.db, &team, &jobs::Filter::default(), 10).await.unwrap();
    assert_eq!((queued[0].kind, queued[0].state), (Kind::Incremental, State::Queued));
    age(31).execute(app.platform.db.pool()).await.unwrap();
    assert_eq!(sync::schedule_due(&app.platform).await.unwrap(), 0, "a second job while one waits");
    assert_eq!(jobs::drain(&app.platform, "test-worker").await.unwrap().len(), 1);

    // CONNECTOR-RULES 18: once the last full pass is a day old, the next
    // scheduled sync is a prune (a full pass), then incremental again.
    sqlx::query("UPDATE jobs SET finished_at = finished_at - 90000 WHERE team_id = $1")
        .bind(team.as_str().to_owned())
        .execute(app.platform.db.pool())
        .await
        .unwrap();
    age(31).execute(app.platform.db.pool()).await.unwrap();
    assert_eq!(sync::schedule_due(&app.platform).await.unwrap(), 1);
    let queued = jobs::list(&app.platform.db, &team, &jobs::Filter::default(), 1).await.unwrap();
    assert_eq!((queued[0].kind, queued[0].state), (Kind::Prune, State::Queued));
    assert_eq!(jobs::drain(&app.platform, "test-worker").await.unwrap(), [(queued[0].id.clone(), State::Completed)]);
    age(31).execute(app.platform.db.pool()).await.unwrap();
    assert_eq!(sync::schedule_due(&app.platform).await.unwrap(), 1);
    let queued = jobs::list(&app.platform.db, &team, &jobs::Filter::default(), 1).await.unwrap();
    assert_eq!(queued[0].kind, Kind::Incremental, "a prune again within a day");
    jobs::drain(&app.platform, "test-worker").await.unwrap();

    app.browser.post_form("/api/disconnect_provider", &[("provider", "sandbox")]).await;
    age(60).execute(app.platform.db.pool()).await.unwrap();
    assert_eq!(sync::schedule_due(&app.platform).await.unwrap(), 0, "a disconnected connection was scheduled");
    app.stop().await;
}
platform::test_on_both_backends!(schedule, the_schedule_queues_one_sync_per_connection_and_interval);

/// SECURITY F2, F6 on Postgres: three `patchbay worker` processes share the
/// queue; the one running the backfill is killed mid-job, another takes it
/// up once the lease lapses, and the job completes exactly once with an
/// exact result.
#[tokio::test]
async fn three_workers_on_postgres_one_killed_mid_job_complete_it_once() {
    let Some(db) = TestDatabase::postgres().await else { return };
    let url = db.url_for_child();
    let settings = [("PATCHBAY_SANDBOX_ITEMS", "30000"), ("PATCHBAY_SANDBOX_RATE_LIMIT", "0")];
    let (app, team) = TestApp::with_sandbox_connected(db, &settings).await;
    let env = [
        ("DATABASE_URL", url),
        ("PATCHBAY_DATA_DIR", app.data_dir().display().to_string()),
        ("PATCHBAY_PUBLIC_URL", app.base.clone()),
        ("PATCHBAY_SANDBOX", "on".to_owned()),
        ("PATCHBAY_SANDBOX_ITEMS", "30000".to_owned()),
        ("PATCHBAY_SANDBOX_RATE_LIMIT", "0".to_owned()),
        ("PATCHBAY_JOB_LEASE", "3".to_owned()),
        ("PATCHBAY_LOG", "warn".to_owned()),
    ];
    let mut workers = spawn_workers(3, &env);
    let owner = || async {
        let row: Option<(Option<String>, i64)> =
            sqlx::query_as("SELECT lease_owner, progress_done FROM jobs WHERE team_id = $1")
                .bind(team.as_str().to_owned())
                .fetch_optional(app.platform.db.pool())
                .await
                .unwrap();
        row.unwrap()
    };
    // Kill whichever worker runs the job once it is a little way in.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let victim = loop {
        assert!(tokio::time::Instant::now() < deadline, "no worker took the job");
        if let (Some(holder), done) = owner().await
            && done >= 3_000
        {
            break holder;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let pid: u32 = victim.split('-').nth(1).unwrap().parse().unwrap();
    let index = workers.iter().position(|w| w.id() == Some(pid)).expect("the holder is one of the three");
    workers[index].start_kill().unwrap();
    workers[index].wait().await.unwrap();
    let at_kill = owner().await.1;
    assert!(at_kill < 30_000, "killed too late: {at_kill}");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let job = loop {
        let job = jobs::list(&app.platform.db, &team, &jobs::Filter::default(), 5).await.unwrap().remove(0);
        if job.state == State::Completed {
            break job;
        }
        assert!(tokio::time::Instant::now() < deadline, "the job never completed: {job:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for worker in &mut workers {
        let _ = worker.start_kill();
        let _ = worker.wait().await;
    }
    assert_eq!(
        jobs::list(&app.platform.db, &team, &jobs::Filter::default(), 5).await.unwrap().len(),
        1,
        "more than one job"
    );
    assert_eq!((job.attempts, job.progress_done), (2, 30_000));
    assert_eq!(stored_ids(&app, &team).await, sorted(sandbox(&app).public_item_ids()));
    app.stop().await;
}

/// Named streams (a sandbox of three kinds): connecting queues a backfill
/// per stream, each keeps its own cursors, and a full pass of one stream
/// prunes only its own kind, so a record deleted in another stream waits
/// for that stream's pass.
async fn each_stream_syncs_and_prunes_only_its_own_records(db: TestDatabase) {
    let settings = [("PATCHBAY_SANDBOX_ITEMS", "300"), ("PATCHBAY_SANDBOX_KINDS", "item,note,task")];
    let (app, team) = TestApp::with_sandbox_connected(db, &settings).await;
    let queued = jobs::list(&app.platform.db, &team, &jobs::Filter::default(), 10).await.unwrap();
    let mut streams: Vec<String> =
        queued.iter().map(|j| j.payload["stream"].as_str().unwrap_or_default().to_owned()).collect();
    streams.sort();
    assert_eq!(streams, ["item", "note", "task"], "one backfill per stream");
    let ran = jobs::drain(&app.platform, "test-worker").await.unwrap();
    assert!(ran.len() == 3 && ran.iter().all(|(_, state)| *state == State::Completed), "{ran:?}");
    assert_eq!(stored_ids(&app, &team).await, sorted(sandbox(&app).public_item_ids()));
    let counts = platform::status::connection(&app.platform, &team, &pid("sandbox")).await.unwrap().counts;
    assert_eq!(counts, [("item".to_owned(), 100), ("note".to_owned(), 100), ("task".to_owned(), 100)]);
    let kept = cursors(&app, &team).await;
    for stream in ["item", "note", "task"] {
        assert!(kept.contains_key(&format!("{stream}.since")), "{stream} has its own since: {kept:?}");
    }
    // The provider page shows each stream with its own newest job.
    let response = app.browser.post_form("/api/sync_status", &[("provider", "sandbox")]).await;
    let status: app::models::sync::SyncStatus = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    let shown: Vec<(String, Option<String>, Option<i64>)> = status
        .streams
        .iter()
        .map(|(name, job)| (name.clone(), job.as_ref().and_then(|j| j.stream.clone()), job.as_ref().map(|j| j.done)))
        .collect();
    let expected: Vec<(String, Option<String>, Option<i64>)> =
        ["item", "note", "task"].iter().map(|s| ((*s).to_owned(), Some((*s).to_owned()), Some(100))).collect();
    assert_eq!(shown, expected);
    let page = app.get("/integrations/sandbox").await.text().await.unwrap();
    let list = page.split_once("class=\"streams\"").map(|(_, after)| after.split("</ul>").next().unwrap_or(""));
    let list = list.expect("the page lists no streams");
    assert!(["item", "note", "task"].iter().all(|s| list.contains(s)), "a stream is missing: {list}");

    // Item 1 is a note, item 2 a task. Deleted at the source and not
    // reported (records look an hour old, so a full pass may prune them).
    stored_an_hour_ago(&app, &team).await;
    assert!(sandbox(&app).delete_item(1) && sandbox(&app).delete_item(2));
    let prune = jobs::Kind::Prune;
    let one = platform::jobs::sync::new_jobs(
        &team,
        app.platform.catalog.get(&pid("sandbox")).unwrap(),
        &installations::find(&mut app.platform.db.pool().acquire().await.unwrap(), &team, &pid("sandbox"))
            .await
            .unwrap()
            .unwrap()
            .id,
        prune,
    )
    .into_iter()
    .find(|j| j.payload["stream"] == "note")
    .unwrap();
    let mut conn = app.platform.db.pool().acquire().await.unwrap();
    jobs::enqueue(&mut conn, &one).await.unwrap();
    drop(conn);
    jobs::drain(&app.platform, "test-worker").await.unwrap();
    let stored = stored_ids(&app, &team).await;
    assert!(!stored.contains(&"itm_1".to_owned()), "the note stream's pass removed its deleted note");
    assert!(stored.contains(&"itm_2".to_owned()), "a pass of the note stream touched a task");
    app.stop().await;
}
platform::test_on_both_backends!(streams, each_stream_syncs_and_prunes_only_its_own_records);

/// SECURITY P3: three `patchbay worker` processes sync the three streams
/// of one connection side by side, against a sandbox advertising 20
/// requests a second: together they use at least 95% of the limit, and
/// the sandbox refuses none of their requests.
#[tokio::test]
async fn three_workers_syncing_one_connection_share_its_rate_limit() {
    let Some(db) = TestDatabase::postgres().await else { return };
    let url = db.url_for_child();
    let (items, limit, kinds) = ("24000", "20", "item,note,task");
    let settings =
        [("PATCHBAY_SANDBOX_ITEMS", items), ("PATCHBAY_SANDBOX_RATE_LIMIT", limit), ("PATCHBAY_SANDBOX_KINDS", kinds)];
    let (app, team) = TestApp::with_sandbox_connected(db, &settings).await;
    let env = [
        ("DATABASE_URL", url),
        ("PATCHBAY_DATA_DIR", app.data_dir().display().to_string()),
        ("PATCHBAY_PUBLIC_URL", app.base.clone()),
        ("PATCHBAY_SANDBOX", "on".to_owned()),
        ("PATCHBAY_SANDBOX_ITEMS", items.to_owned()),
        ("PATCHBAY_SANDBOX_RATE_LIMIT", limit.to_owned()),
        ("PATCHBAY_SANDBOX_KINDS", kinds.to_owned()),
        ("PATCHBAY_LOG", "warn".to_owned()),
    ];
    let mut workers = spawn_workers(3, &env);
    let running_owners = || async {
        let owners: Vec<(String,)> =
            sqlx::query_as("SELECT lease_owner FROM jobs WHERE team_id = $1 AND state = 'running'")
                .bind(team.as_str().to_owned())
                .fetch_all(app.platform.db.pool())
                .await
                .unwrap();
        owners.into_iter().map(|(o,)| o).collect::<std::collections::BTreeSet<_>>()
    };
    let (mut most_at_once, deadline) = (0, tokio::time::Instant::now() + Duration::from_secs(120));
    loop {
        most_at_once = most_at_once.max(running_owners().await.len());
        let all = jobs::list(&app.platform.db, &team, &jobs::Filter::default(), 10).await.unwrap();
        if all.len() == 3 && all.iter().all(|j| j.state == State::Completed) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the streams never completed: {all:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for worker in &mut workers {
        let _ = worker.start_kill();
        let _ = worker.wait().await;
    }
    assert_eq!(most_at_once, 3, "the three workers did not sync the connection at once");
    let (requests, refused) = sandbox(&app).item_requests();
    let span_ms = sandbox(&app).last_item_request_ms().unwrap() - sandbox(&app).first_item_request_ms().unwrap();
    // Requests after the first, over the time they took.
    let rate = (requests - 1) as f64 * 1000.0 / span_ms as f64;
    eprintln!("three workers: {requests} requests in {span_ms} ms, {rate:.2}/s of 20/s; {refused} refused");
    assert_eq!(refused, 0, "the sandbox answered 429");
    assert!(rate >= 0.95 * 20.0, "together the workers used {rate:.2} of 20 requests/s");
    assert_eq!(stored_ids(&app, &team).await, sorted(sandbox(&app).public_item_ids()));
    app.stop().await;
}
