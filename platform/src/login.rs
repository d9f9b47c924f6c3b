//! Sign-in: password check with throttling per account and per client
//! address, kept in the database so that every replica counts the same.

use std::net::IpAddr;

use time::OffsetDateTime;

use crate::{
    Db,
    error::{Error, Result},
    passwords,
    store::{login_attempts, users},
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

/// Checks an email and password. Refuses without checking the password when
/// the account or the address has failed too often recently, so a guesser
/// learns nothing more until the window passes.
#[tracing::instrument(skip_all)]
pub async fn sign_in(db: &Db, email: &str, password: &str, address: IpAddr, throttle: Throttle) -> Result<users::User> {
    let email = email.trim().to_lowercase();
    let address = address.to_string();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let since = now - throttle.window_seconds;
    if login_attempts::recent(db, "email", &email, since).await? >= throttle.per_account
        || login_attempts::recent(db, "address", &address, since).await? >= throttle.per_address
    {
        tracing::warn!(address, "sign-in throttled");
        return Err(Error::TooManyAttempts { retry_after_minutes: (throttle.window_seconds + 59) / 60 });
    }
    let (user, hash) = users::credentials(db, &email).await?.unzip();
    if passwords::verify(password, hash).await
        && let Some(user) = user
    {
        login_attempts::forget_account(db, &email).await?;
        return Ok(user);
    }
    login_attempts::record(db, &email, &address, now, now - throttle.window_seconds).await?;
    Err(Error::InvalidCredentials)
}
