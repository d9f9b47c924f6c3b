//! Sign-in: password check with throttling per account and per client
//! address, kept in the database so that every replica counts the same.

use std::net::IpAddr;

use time::OffsetDateTime;

use crate::{
    Db,
    error::{Error, Result},
    passwords, users,
};

/// How failures are counted.
#[derive(Clone, Copy, Debug)]
pub struct Throttle {
    pub window_seconds: i64,
    /// Failures allowed per account within the window.
    pub per_account: i64,
    /// Failures allowed per client address within the window.
    pub per_address: i64,
}

impl Default for Throttle {
    fn default() -> Self {
        Self { window_seconds: 15 * 60, per_account: 5, per_address: 30 }
    }
}

async fn recent_failures(db: &Db, scope: &str, subject: &str, since: i64) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM login_failures WHERE scope = $1 AND subject = $2 AND failed_at > $3")
        .bind(scope)
        .bind(subject)
        .bind(since)
        .fetch_one(db.pool())
        .await?)
}

async fn record_failure(db: &Db, email: &str, address: &str, now: i64, throttle: Throttle) -> Result<()> {
    let mut tx = db.begin_write().await?;
    for (scope, subject) in [("email", email), ("address", address)] {
        sqlx::query("INSERT INTO login_failures (scope, subject, failed_at) VALUES ($1, $2, $3)")
            .bind(scope)
            .bind(subject)
            .bind(now)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("DELETE FROM login_failures WHERE failed_at <= $1")
        .bind(now - throttle.window_seconds)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Checks an email and password. Refuses without checking the password when
/// the account or the address has failed too often recently, so a guesser
/// learns nothing more until the window passes.
#[tracing::instrument(skip_all)]
pub async fn sign_in(db: &Db, email: &str, password: &str, address: IpAddr, throttle: Throttle) -> Result<users::User> {
    let email = email.trim().to_lowercase();
    let address = address.to_string();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let since = now - throttle.window_seconds;
    if recent_failures(db, "email", &email, since).await? >= throttle.per_account
        || recent_failures(db, "address", &address, since).await? >= throttle.per_address
    {
        tracing::warn!(address, "sign-in throttled");
        return Err(Error::TooManyAttempts { retry_after_minutes: (throttle.window_seconds + 59) / 60 });
    }
    let (user, hash) = users::credentials(db, &email).await?.unzip();
    if passwords::verify(password, hash).await
        && let Some(user) = user
    {
        sqlx::query("DELETE FROM login_failures WHERE scope = 'email' AND subject = $1")
            .bind(&email)
            .execute(db.pool())
            .await?;
        return Ok(user);
    }
    record_failure(db, &email, &address, now, throttle).await?;
    Err(Error::InvalidCredentials)
}
