//! The audit log: who did what to which installation or user, and when.
//! Entries are written in the same transaction as the change they record,
//! and carry no secrets.

use sqlx::AnyConnection;
use time::OffsetDateTime;

use crate::{
    Db,
    error::Result,
    ids::{TeamId, UserId},
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    pub actor: Option<String>,
    pub action: String,
    pub subject: String,
    pub detail: String,
    pub at: OffsetDateTime,
}

/// Appends an entry; `actor` is `None` for what the system did by itself.
pub async fn record(
    conn: &mut AnyConnection,
    team: &TeamId,
    actor: Option<&UserId>,
    action: &str,
    subject: &str,
    detail: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_events (team_id, actor_id, action, subject, detail, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(team.as_str())
    .bind(actor.map(UserId::as_str))
    .bind(action)
    .bind(subject)
    .bind(detail)
    .bind(OffsetDateTime::now_utc().unix_timestamp())
    .execute(conn)
    .await?;
    Ok(())
}

/// The team's latest entries, newest first, with the actor's name while
/// they are in the team.
pub async fn latest(db: &Db, team: &TeamId, limit: i64) -> Result<Vec<AuditEvent>> {
    let rows: Vec<(Option<String>, String, String, String, i64)> = sqlx::query_as(
        "SELECT u.name, a.action, a.subject, a.detail, a.created_at FROM audit_events a \
         LEFT JOIN users u ON u.id = a.actor_id AND u.team_id = a.team_id \
         WHERE a.team_id = $1 ORDER BY a.seq DESC LIMIT $2",
    )
    .bind(team.as_str())
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(actor, action, subject, detail, at)| AuditEvent {
            actor,
            action,
            subject,
            detail,
            at: OffsetDateTime::from_unix_timestamp(at).unwrap_or(OffsetDateTime::UNIX_EPOCH),
        })
        .collect())
}
