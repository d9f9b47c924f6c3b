//! A tower-sessions store on Patchbay's own database (SQLite or Postgres),
//! so that sessions survive restarts and are shared by replicas.

use async_trait::async_trait;
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use crate::{Db, ids::UserId};

/// The session key under which a signed-in user is recorded.
pub const AUTH_KEY: &str = "auth";

/// What a signed-in session holds. The user is re-read on every request, so
/// a removed user or a changed role takes effect at once.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct SessionAuth {
    pub user_id: UserId,
    /// Unix seconds; the absolute timeout counts from here (SECURITY B4).
    pub signed_in_at: i64,
    /// Unix seconds of the last request that refreshed the idle timeout.
    pub seen_at: i64,
}

impl SessionAuth {
    pub fn new(user_id: UserId) -> Self {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        Self { user_id, signed_in_at: now, seen_at: now }
    }
}

#[derive(Clone, Debug)]
pub struct DbSessionStore {
    db: Db,
}

impl DbSessionStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Deletes sessions past their expiry; returns how many.
    pub async fn delete_expired(&self) -> crate::Result<u64> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(self.db.pool()).await?;
        Ok(done.rows_affected())
    }
}

fn backend(e: sqlx::Error) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

fn encode(record: &Record) -> session_store::Result<String> {
    serde_json::to_string(record).map_err(|e| session_store::Error::Encode(e.to_string()))
}

impl DbSessionStore {
    /// Writes a record; `on_conflict` says what an existing row with its ID
    /// gets. Returns the number of rows written.
    async fn write(&self, record: &Record, on_conflict: &str) -> session_store::Result<u64> {
        let done = sqlx::query(&format!(
            "INSERT INTO sessions (id, data, expires_at) VALUES ($1, $2, $3) ON CONFLICT (id) {on_conflict}"
        ))
        .bind(record.id.to_string())
        .bind(encode(record)?)
        .bind(record.expiry_date.unix_timestamp())
        .execute(self.db.pool())
        .await
        .map_err(backend)?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl SessionStore for DbSessionStore {
    /// Inserts a new record, drawing a fresh ID on the (astronomically
    /// unlikely) collision rather than overwriting someone else's session.
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        while self.write(record, "DO NOTHING").await? == 0 {
            record.id = Id::default();
        }
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.write(record, "DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at").await?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let data: Option<String> = sqlx::query_scalar("SELECT data FROM sessions WHERE id = $1 AND expires_at > $2")
            .bind(id.to_string())
            .bind(now)
            .fetch_optional(self.db.pool())
            .await
            .map_err(backend)?;
        data.map(|d| serde_json::from_str(&d).map_err(|e| session_store::Error::Decode(e.to_string()))).transpose()
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id.to_string())
            .execute(self.db.pool())
            .await
            .map_err(backend)?;
        Ok(())
    }
}
