//! The identity of this deployment: one row, written on first start.

use time::OffsetDateTime;

use crate::{Db, error::Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    pub id: String,
    pub created_at: OffsetDateTime,
}

/// Returns this deployment's identity, creating it on first call. Safe to
/// race: every replica ends up reading the same row.
#[tracing::instrument(skip_all)]
pub async fn ensure(db: &Db) -> Result<Instance> {
    let id = uuid::Uuid::new_v4().to_string();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    sqlx::query(
        "INSERT INTO instance (singleton, id, created_at) VALUES (1, $1, $2) \
         ON CONFLICT (singleton) DO NOTHING",
    )
    .bind(id)
    .bind(now)
    .execute(db.pool())
    .await?;
    let instance = get(db).await?;
    Ok(instance.ok_or(sqlx::Error::RowNotFound)?)
}

/// This deployment's identity, if it was created.
pub async fn get(db: &Db) -> Result<Option<Instance>> {
    let row: Option<(String, i64)> =
        sqlx::query_as("SELECT id, created_at FROM instance WHERE singleton = 1").fetch_optional(db.pool()).await?;
    Ok(row.map(|(id, created_at)| Instance {
        id,
        created_at: OffsetDateTime::from_unix_timestamp(created_at).unwrap_or(OffsetDateTime::UNIX_EPOCH),
    }))
}
