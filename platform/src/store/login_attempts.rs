//! The `login_failures` table: failed sign-ins, by account and by address,
//! that the sign-in throttle counts (SECURITY B4).

use crate::{Db, error::Result};

/// Failures of `subject` (an email or an address, as `scope` says) after `since`.
pub async fn recent(db: &Db, scope: &str, subject: &str, since: i64) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM login_failures WHERE scope = $1 AND subject = $2 AND failed_at > $3")
        .bind(scope)
        .bind(subject)
        .bind(since)
        .fetch_one(db.pool())
        .await?)
}

/// Records a failure against the account and the address at once, and
/// forgets failures at or before `forget_until`.
pub async fn record(db: &Db, email: &str, address: &str, now: i64, forget_until: i64) -> Result<()> {
    let mut tx = db.begin_write().await?;
    for (scope, subject) in [("email", email), ("address", address)] {
        sqlx::query("INSERT INTO login_failures (scope, subject, failed_at) VALUES ($1, $2, $3)")
            .bind(scope)
            .bind(subject)
            .bind(now)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("DELETE FROM login_failures WHERE failed_at <= $1").bind(forget_until).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// Forgets an account's failures: it signed in.
pub async fn forget_account(db: &Db, email: &str) -> Result<()> {
    sqlx::query("DELETE FROM login_failures WHERE scope = 'email' AND subject = $1")
        .bind(email)
        .execute(db.pool())
        .await?;
    Ok(())
}
