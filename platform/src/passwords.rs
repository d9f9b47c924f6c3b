//! argon2id hashing, run off the async threads: it takes tens of milliseconds
//! of CPU by design.

use std::sync::OnceLock;

use argon2::{Argon2, PasswordHasher as _, PasswordVerifier as _};

use crate::{
    accounts::NewPassword,
    error::{Error, Result},
};

pub(crate) async fn hash(password: &NewPassword) -> Result<String> {
    let password = password.expose().to_owned();
    tokio::task::spawn_blocking(move || Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()))
        .await
        .map_err(|e| Error::PasswordHash(e.to_string()))?
        .map_err(|e| Error::PasswordHash(e.to_string()))
}

/// Whether `password` matches `hash`. With no hash (unknown account) it
/// still does the work of one verification, so response time does not tell
/// which emails have accounts.
pub(crate) async fn verify(password: &str, hash: Option<String>) -> bool {
    static DECOY: OnceLock<String> = OnceLock::new();
    let password = password.to_owned();
    let known = hash.is_some();
    let matches = tokio::task::spawn_blocking(move || {
        let hash = hash.unwrap_or_else(|| {
            DECOY
                .get_or_init(|| {
                    let random = uuid::Uuid::new_v4().to_string();
                    Argon2::default().hash_password(random.as_bytes()).map(|h| h.to_string()).unwrap_or_default()
                })
                .clone()
        });
        Argon2::default().verify_password(password.as_bytes(), hash.as_str()).is_ok()
    })
    .await
    .unwrap_or(false);
    known && matches
}
