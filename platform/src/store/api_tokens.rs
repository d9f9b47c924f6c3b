//! A team's API tokens (DESIGN: API token; SECURITY I2, I5): only the
//! SHA-256 of each token is stored, and every request looks its digest up
//! here, so a revocation holds on every replica at the next request.

use sqlx::AnyConnection;

use crate::{
    Db,
    error::Result,
    ids::{TeamId, UserId},
};

/// A token as the console lists it: never the token itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiToken {
    pub id: String,
    pub team_id: TeamId,
    pub name: String,
    /// Space-separated.
    pub scopes: String,
    /// The token's last four characters.
    pub hint: String,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A token about to be stored.
#[derive(Clone, Debug)]
pub struct NewToken<'a> {
    pub id: &'a str,
    pub team: &'a TeamId,
    pub name: &'a str,
    pub scopes: &'a str,
    pub digest: &'a str,
    pub hint: &'a str,
    pub created_by: &'a UserId,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

type Row = (String, String, String, String, String, Option<String>, i64, Option<i64>, Option<i64>, Option<i64>);

const COLUMNS: &str = "t.id, t.team_id, t.name, t.scopes, t.hint, u.name, t.created_at, t.expires_at, \
                       t.last_used_at, t.revoked_at";
const FROM: &str = "FROM api_tokens t LEFT JOIN users u ON u.id = t.created_by AND u.team_id = t.team_id";

fn from_row(
    (id, team_id, name, scopes, hint, created_by, created_at, expires_at, last_used_at, revoked_at): Row,
) -> Result<ApiToken> {
    Ok(ApiToken {
        id,
        team_id: TeamId::parse(&team_id)?,
        name,
        scopes,
        hint,
        created_by,
        created_at,
        expires_at,
        last_used_at,
        revoked_at,
    })
}

pub async fn insert(conn: &mut AnyConnection, token: &NewToken<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO api_tokens (id, team_id, name, scopes, digest, hint, created_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(token.id)
    .bind(token.team.as_str())
    .bind(token.name)
    .bind(token.scopes)
    .bind(token.digest)
    .bind(token.hint)
    .bind(token.created_by.as_str())
    .bind(token.created_at)
    .bind(token.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The team's tokens, newest first, revoked ones included.
pub async fn list(db: &Db, team: &TeamId) -> Result<Vec<ApiToken>> {
    let rows: Vec<Row> =
        sqlx::query_as(&format!("SELECT {COLUMNS} {FROM} WHERE t.team_id = $1 ORDER BY t.created_at DESC, t.id"))
            .bind(team.as_str())
            .fetch_all(db.pool())
            .await?;
    rows.into_iter().map(from_row).collect()
}

/// The token with this digest, with the digest as stored (for a
/// constant-time comparison), whatever its state.
pub async fn by_digest(db: &Db, digest: &str) -> Result<Option<(ApiToken, String)>> {
    type WithDigest =
        (String, String, String, String, String, Option<String>, i64, Option<i64>, Option<i64>, Option<i64>, String);
    let row: Option<WithDigest> = sqlx::query_as(&format!("SELECT {COLUMNS}, t.digest {FROM} WHERE t.digest = $1"))
        .bind(digest)
        .fetch_optional(db.pool())
        .await?;
    row.map(|(id, team, name, scopes, hint, by, at, expires, used, revoked, stored)| {
        Ok((from_row((id, team, name, scopes, hint, by, at, expires, used, revoked))?, stored))
    })
    .transpose()
}

/// Revokes one of the team's live tokens. Returns whether it was live.
pub async fn revoke(conn: &mut AnyConnection, team: &TeamId, id: &str, at: i64) -> Result<bool> {
    let done =
        sqlx::query("UPDATE api_tokens SET revoked_at = $3 WHERE id = $1 AND team_id = $2 AND revoked_at IS NULL")
            .bind(id)
            .bind(team.as_str())
            .bind(at)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a use, at most once a minute a token: a request does not write.
pub async fn touch(db: &Db, id: &str, at: i64) -> Result<()> {
    sqlx::query(
        "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3)",
    )
    .bind(id)
    .bind(at)
    .bind(at - 60)
    .execute(db.pool())
    .await?;
    Ok(())
}
