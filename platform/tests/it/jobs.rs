//! The job queue on SQLite and on Postgres: de-duplication (SECURITY F6),
//! one worker per job, leases that lapse when a worker dies, retries with
//! capped attempts, and a worker that lost its lease cannot end the job.

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

use crate::pid;
use std::{collections::HashSet, time::Duration};

use platform::{
    Db,
    ids::TeamId,
    jobs::{self, Enqueued, ErrorClass, Kind, NewJob, State},
    test_on_both_backends,
    testing::TestDatabase,
};

const LEASE: Duration = Duration::from_secs(60);

async fn team(db: &Db) -> TeamId {
    let team = TeamId::new();
    sqlx::query("INSERT INTO teams (id, name, created_at) VALUES ($1, 'Acme', 0)")
        .bind(team.as_str())
        .execute(db.pool())
        .await
        .unwrap();
    team
}

fn new_job(team: &TeamId, key: Option<&str>) -> NewJob {
    NewJob {
        team: team.clone(),
        provider: pid("sandbox"),
        installation: None,
        kind: Kind::Incremental,
        dedupe_key: key.map(str::to_owned),
        payload: serde_json::json!({ "full": false }),
        run_after: 0,
        max_attempts: 3,
    }
}

async fn enqueue(db: &Db, job: &NewJob) -> Enqueued {
    let mut conn = db.pool().acquire().await.unwrap();
    jobs::enqueue(&mut conn, job).await.unwrap()
}

/// SECURITY F6: two "Sync now" clicks make one job; once it ends, a new
/// one may be queued.
async fn a_dedupe_key_keeps_one_live_job(test_db: TestDatabase) {
    let db = test_db.migrated().await;
    let team = team(&db).await;
    let job = new_job(&team, Some("incremental:i-1"));
    let first = enqueue(&db, &job).await;
    let second = enqueue(&db, &job).await;
    assert!(matches!(first, Enqueued::Created(_)));
    assert_eq!(second, Enqueued::AlreadyThere(first.id().to_owned()));
    // Still one while it runs.
    let taken = jobs::claim(&db, "w1", &[Kind::Incremental], LEASE).await.unwrap().unwrap();
    assert_eq!(enqueue(&db, &job).await, Enqueued::AlreadyThere(taken.id.clone()));
    assert!(jobs::complete(&db, &taken.id, "w1").await.unwrap());
    assert!(matches!(enqueue(&db, &job).await, Enqueued::Created(id) if id != taken.id));
    // Jobs without a key never collide.
    let loose = new_job(&team, None);
    assert_ne!(enqueue(&db, &loose).await.id(), enqueue(&db, &loose).await.id());
}
test_on_both_backends!(dedupe, a_dedupe_key_keeps_one_live_job);

/// Many workers claiming at once: every job is taken exactly once, and
/// only due jobs of the asked kinds are taken.
async fn concurrent_workers_take_each_job_once(test_db: TestDatabase) {
    let db = test_db.migrated().await;
    let team = team(&db).await;
    for _ in 0..30 {
        enqueue(&db, &new_job(&team, None)).await;
    }
    let mut later = new_job(&team, None);
    later.run_after = i64::MAX / 2;
    enqueue(&db, &later).await;
    let mut other_kind = new_job(&team, None);
    other_kind.kind = Kind::Prune;
    enqueue(&db, &other_kind).await;

    // Separate pools, as separate replicas would have.
    let mut workers = Vec::new();
    for w in 0..4 {
        let db = Db::connect(test_db.url(), 2).await.unwrap();
        workers.push(tokio::spawn(async move {
            let mut taken = Vec::new();
            while let Some(job) = jobs::claim(&db, &format!("w{w}"), &[Kind::Incremental], LEASE).await.unwrap() {
                assert_eq!((job.state, job.attempts), (State::Running, 1));
                taken.push(job.id);
            }
            taken
        }));
    }
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.unwrap());
    }
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!((all.len(), unique.len()), (30, 30), "a job was taken twice, or one was missed");
}
test_on_both_backends!(concurrent_claims, concurrent_workers_take_each_job_once);

/// A worker that dies leaves a running job whose lease lapses: it is
/// marked interrupted, taken by another worker, and the dead worker can no
/// longer heartbeat, record progress, complete or fail it.
async fn a_lapsed_lease_interrupts_the_job_and_another_worker_resumes_it(test_db: TestDatabase) {
    let db = test_db.migrated().await;
    let team = team(&db).await;
    let id = enqueue(&db, &new_job(&team, Some("k"))).await.id().to_owned();
    let job = jobs::claim(&db, "dead", &[Kind::Incremental], LEASE).await.unwrap().unwrap();
    assert!(jobs::heartbeat(&db, &id, "dead", LEASE).await.unwrap());
    let mut conn = db.pool().acquire().await.unwrap();
    assert!(jobs::record_progress(&mut conn, &id, "dead", 100, Some(1000), 100).await.unwrap());
    drop(conn);
    assert_eq!(jobs::interrupt_lapsed(&db).await.unwrap(), 0, "a live lease was interrupted");

    sqlx::query("UPDATE jobs SET lease_expires_at = 0 WHERE id = $1")
        .bind(job.id.as_str())
        .execute(db.pool())
        .await
        .unwrap();
    assert_eq!(jobs::interrupt_lapsed(&db).await.unwrap(), 1);
    assert_eq!(jobs::get(&db, &team, &id).await.unwrap().unwrap().state, State::Interrupted);
    let resumed = jobs::claim(&db, "alive", &[Kind::Incremental], LEASE).await.unwrap().unwrap();
    assert_eq!((resumed.id.as_str(), resumed.attempts, resumed.progress_done), (id.as_str(), 2, 100));

    assert!(!jobs::heartbeat(&db, &id, "dead", LEASE).await.unwrap());
    let mut conn = db.pool().acquire().await.unwrap();
    assert!(!jobs::record_progress(&mut conn, &id, "dead", 999, None, 999).await.unwrap());
    drop(conn);
    assert!(!jobs::complete(&db, &id, "dead").await.unwrap());
    assert_eq!(jobs::fail(&db, &id, "dead", ErrorClass::Permanent, "x", Duration::ZERO).await.unwrap(), None);
    assert!(jobs::complete(&db, &id, "alive").await.unwrap());
    let done = jobs::get(&db, &team, &id).await.unwrap().unwrap();
    assert_eq!((done.state, done.progress_done), (State::Completed, 100));
    assert!(done.finished_at.is_some());
}
test_on_both_backends!(lapsed_lease, a_lapsed_lease_interrupts_the_job_and_another_worker_resumes_it);

/// A transient failure is queued again after its pause until the attempts
/// run out; a permanent one fails at once. Each keeps its class and words.
async fn failures_retry_until_the_attempts_run_out(test_db: TestDatabase) {
    let db = test_db.migrated().await;
    let team = team(&db).await;
    let id = enqueue(&db, &new_job(&team, None)).await.id().to_owned();
    for attempt in 1..=3 {
        let job = jobs::claim(&db, "w", &[Kind::Incremental], LEASE).await.unwrap().unwrap();
        assert_eq!(job.attempts, attempt);
        let pause = Duration::from_secs(3600);
        let state = jobs::fail(&db, &id, "w", ErrorClass::Transient, "HTTP 503", pause).await.unwrap().unwrap();
        if attempt < 3 {
            assert_eq!(state, State::Queued);
            assert!(
                jobs::claim(&db, "w", &[Kind::Incremental], LEASE).await.unwrap().is_none(),
                "taken before its pause"
            );
            sqlx::query("UPDATE jobs SET run_after = 0").execute(db.pool()).await.unwrap();
        } else {
            assert_eq!(state, State::Failed, "attempts are not capped");
        }
    }
    let failed = jobs::get(&db, &team, &id).await.unwrap().unwrap();
    assert_eq!((failed.error_class.as_deref(), failed.last_error.as_deref()), (Some("transient"), Some("HTTP 503")));

    let id = enqueue(&db, &new_job(&team, None)).await.id().to_owned();
    jobs::claim(&db, "w", &[Kind::Incremental], LEASE).await.unwrap().unwrap();
    let state = jobs::fail(&db, &id, "w", ErrorClass::Permanent, "HTTP 404", Duration::ZERO).await.unwrap();
    assert_eq!(state, Some(State::Failed));
    assert_eq!(jobs::list(&db, &team, &jobs::Filter::default(), 10).await.unwrap().len(), 2);
    // Another team sees none of them (SECURITY C1).
    let other = self::team(&db).await;
    assert!(jobs::list(&db, &other, &jobs::Filter::default(), 10).await.unwrap().is_empty());
    assert_eq!(jobs::get(&db, &other, &id).await.unwrap(), None);
}
test_on_both_backends!(retries, failures_retry_until_the_attempts_run_out);

/// SECURITY P3: reservations on a connection's line of slots, made at once
/// from separate pools (as replicas would), never overlap and leave no
/// gap; a hold moves the line past the provider's reset; a day's count is
/// shared and the days before it forgotten.
async fn rate_slot_reservations_never_overlap(test_db: TestDatabase) {
    use platform::store::rate_slots;
    let db = test_db.migrated().await;
    let now = 1_000_000;
    let mut takers = Vec::new();
    for _ in 0..4 {
        let db = Db::connect(test_db.url(), 2).await.unwrap();
        takers.push(tokio::spawn(async move {
            let mut starts = Vec::new();
            for _ in 0..10 {
                starts.push(rate_slots::reserve(&db, "team/sandbox", now, 250).await.unwrap());
            }
            starts
        }));
    }
    let mut starts = Vec::new();
    for taker in takers {
        starts.extend(taker.await.unwrap());
    }
    starts.sort_unstable();
    assert_eq!(starts, (0..40).map(|i| now + i * 250).collect::<Vec<_>>(), "two reservations shared a slot");
    // Another connection's line is its own.
    assert_eq!(rate_slots::reserve(&db, "team/github", now, 250).await.unwrap(), now);
    // Held past the reset; a reservation after it starts there.
    rate_slots::hold(&db, "team/sandbox", now + 60_000).await.unwrap();
    assert_eq!(rate_slots::reserve(&db, "team/sandbox", now, 250).await.unwrap(), now + 60_000);
    // A line idle for a while starts at now, not in the past.
    assert_eq!(rate_slots::reserve(&db, "team/github", now + 5_000, 250).await.unwrap(), now + 5_000);

    assert_eq!(rate_slots::spend(&db, "team/sandbox", "2026-12-01", 3).await.unwrap(), 3);
    assert_eq!(rate_slots::spend(&db, "team/sandbox", "2026-12-01", 2).await.unwrap(), 5);
    assert_eq!(rate_slots::spend(&db, "team/sandbox", "2026-12-02", 1).await.unwrap(), 1);
    let days: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM rate_days").fetch_one(db.pool()).await.unwrap();
    assert_eq!(days, 1, "the day before was kept");
}
test_on_both_backends!(rate_slots, rate_slot_reservations_never_overlap);
