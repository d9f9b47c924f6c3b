//! The `rate_slots` table: each connection's line of request slots,
//! shared by every process that syncs it (SECURITY P3).

use crate::{Db, error::Result};

/// Reserves `span_ms` of the line `key` from its next free slot, or from
/// `now_ms` if that is later: returns where the reservation starts (Unix
/// milliseconds). One statement, so two processes never get one slot.
pub async fn reserve(db: &Db, key: &str, now_ms: i64, span_ms: i64) -> Result<i64> {
    let (next,): (i64,) = sqlx::query_as(
        "INSERT INTO rate_slots (slot_key, next_at_ms) VALUES ($1, $2 + $3) \
         ON CONFLICT (slot_key) DO UPDATE SET next_at_ms = \
           (CASE WHEN rate_slots.next_at_ms > $2 THEN rate_slots.next_at_ms ELSE $2 END) + $3 \
         RETURNING next_at_ms",
    )
    .bind(key)
    .bind(now_ms)
    .bind(span_ms)
    .fetch_one(db.pool())
    .await?;
    Ok(next - span_ms)
}

/// No slot of the line `key` starts before `until_ms`.
pub async fn hold(db: &Db, key: &str, until_ms: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO rate_slots (slot_key, next_at_ms) VALUES ($1, $2) \
         ON CONFLICT (slot_key) DO UPDATE SET next_at_ms = \
           CASE WHEN rate_slots.next_at_ms > $2 THEN rate_slots.next_at_ms ELSE $2 END",
    )
    .bind(key)
    .bind(until_ms)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Counts `cost` more requests of line `key` on `day`, and forgets the
/// days before it: the day's count with them.
pub async fn spend(db: &Db, key: &str, day: &str, cost: i64) -> Result<i64> {
    let (spent,): (i64,) = sqlx::query_as(
        "INSERT INTO rate_days (slot_key, day, spent) VALUES ($1, $2, $3) \
         ON CONFLICT (slot_key, day) DO UPDATE SET spent = rate_days.spent + excluded.spent \
         RETURNING spent",
    )
    .bind(key)
    .bind(day)
    .bind(cost)
    .fetch_one(db.pool())
    .await?;
    if spent == cost {
        // The day's first request: the days before are done with.
        sqlx::query("DELETE FROM rate_days WHERE slot_key = $1 AND day < $2")
            .bind(key)
            .bind(day)
            .execute(db.pool())
            .await?;
    }
    Ok(spent)
}
