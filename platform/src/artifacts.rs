//! Synced records (DESIGN: Artifact) and the one write a sync makes per
//! page: its records and the cursor that follows them, in one transaction
//! (SECURITY F1, F2; CONNECTOR-RULES 6, 18).

use connector_core::source::Change;

use crate::{
    Db,
    accounts::{InstallationId, TeamId},
    error::Result,
    installations,
    util::now,
};

/// What a page changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub upserted: u64,
    pub removed: u64,
}

/// Writes a page's changes and then its next cursor, all or nothing: a
/// crash or an error anywhere leaves neither, and the page is read again.
/// Records are upserted by (team, provider, entity type, entity id), so a
/// page read again changes nothing (F1); removals delete (rule 18). The
/// installation must be the team's (SECURITY C3).
pub async fn commit_page(
    db: &Db,
    team: &TeamId,
    installation: &InstallationId,
    provider: &str,
    changes: &[Change],
    cursor: (&str, &str),
) -> Result<Applied> {
    let mut tx = db.begin_write().await?;
    let mut applied = Applied::default();
    let synced_at = now();
    for change in changes {
        match change {
            Change::Upsert(record) => {
                sqlx::query(
                    "INSERT INTO artifacts (team_id, provider, entity_type, entity_id, installation_id, title, url, \
                     content, source_updated_at, synced_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                     ON CONFLICT (team_id, provider, entity_type, entity_id) DO UPDATE SET \
                     installation_id = excluded.installation_id, title = excluded.title, url = excluded.url, \
                     content = excluded.content, source_updated_at = excluded.source_updated_at, \
                     synced_at = excluded.synced_at",
                )
                .bind(team.as_str())
                .bind(provider)
                .bind(&record.entity_type)
                .bind(&record.entity_id)
                .bind(installation.as_str())
                .bind(&record.title)
                .bind(&record.url)
                .bind(record.content.to_string())
                .bind(record.updated_at.unix_timestamp())
                .bind(synced_at)
                .execute(&mut *tx)
                .await?;
                applied.upserted += 1;
            }
            Change::Remove { entity_type, entity_id } => {
                let done = sqlx::query(
                    "DELETE FROM artifacts WHERE team_id = $1 AND provider = $2 AND entity_type = $3 \
                     AND entity_id = $4",
                )
                .bind(team.as_str())
                .bind(provider)
                .bind(entity_type)
                .bind(entity_id)
                .execute(&mut *tx)
                .await?;
                applied.removed += done.rows_affected();
            }
        }
    }
    installations::put_cursor(&mut tx, team, installation, cursor.0, cursor.1).await?;
    tx.commit().await?;
    Ok(applied)
}

/// How many records of each entity type a team holds from a provider.
pub async fn counts(db: &Db, team: &TeamId, provider: &str) -> Result<Vec<(String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT entity_type, COUNT(*) FROM artifacts WHERE team_id = $1 AND provider = $2 \
         GROUP BY entity_type ORDER BY entity_type",
    )
    .bind(team.as_str())
    .bind(provider)
    .fetch_all(db.pool())
    .await?)
}
