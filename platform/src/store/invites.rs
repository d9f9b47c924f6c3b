//! Invite links: single-use, expiring after seven days, stored as the
//! SHA-256 of their token. The token itself is shown once, to the admin who
//! creates it.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

use crate::{
    Db,
    accounts::{Email, NewPassword, PersonName, Role},
    error::{Error, Result},
    ids::{InviteId, TeamId, UserId},
    passwords,
    store::teams,
    store::users,
};

pub const LIFETIME_SECONDS: i64 = 7 * 24 * 60 * 60;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invite {
    pub id: InviteId,
    pub role: Role,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// A new invite, with its token: the only time the token is known.
#[derive(Clone, Debug)]
pub struct CreatedInvite {
    pub id: InviteId,
    pub expires_at: OffsetDateTime,
    pub token: String,
}

/// What an invite link shows to the person who opens it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    Open { team_name: String, role: Role },
    Expired,
    Used,
    Revoked,
    Unknown,
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn timestamp(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Creates an invite; its token has 256 random bits.
#[tracing::instrument(skip_all, fields(team = %team))]
pub async fn create(db: &Db, team: &TeamId, created_by: &UserId, role: Role) -> Result<CreatedInvite> {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let id = InviteId::new();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    sqlx::query(
        "INSERT INTO invites (id, team_id, token_hash, role, created_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id.as_str())
    .bind(team.as_str())
    .bind(token_hash(&token))
    .bind(role.as_str())
    .bind(created_by.as_str())
    .bind(now)
    .bind(now + LIFETIME_SECONDS)
    .execute(db.pool())
    .await?;
    Ok(CreatedInvite { id, expires_at: timestamp(now + LIFETIME_SECONDS), token })
}

/// Invites that can still be accepted, newest first.
pub async fn list_pending(db: &Db, team: &TeamId) -> Result<Vec<Invite>> {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let rows: Vec<(String, String, Option<String>, i64, i64)> = sqlx::query_as(
        "SELECT i.id, i.role, u.name, i.created_at, i.expires_at FROM invites i \
         LEFT JOIN users u ON u.id = i.created_by AND u.team_id = i.team_id \
         WHERE i.team_id = $1 AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > $2 \
         ORDER BY i.created_at DESC",
    )
    .bind(team.as_str())
    .bind(now)
    .fetch_all(db.pool())
    .await?;
    rows.into_iter()
        .map(|(id, role, by, created, expires)| {
            Ok(Invite {
                id: InviteId::parse(&id)?,
                role: Role::parse(&role)?,
                created_by: by.unwrap_or_else(|| "a former member".to_owned()),
                created_at: timestamp(created),
                expires_at: timestamp(expires),
            })
        })
        .collect()
}

/// Revokes a pending invite of this team.
pub async fn revoke(db: &Db, team: &TeamId, invite: &InviteId) -> Result<()> {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let done = sqlx::query(
        "UPDATE invites SET revoked_at = $1 WHERE id = $2 AND team_id = $3 AND accepted_at IS NULL AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(invite.as_str())
    .bind(team.as_str())
    .execute(db.pool())
    .await?;
    if done.rows_affected() == 0 { Err(Error::NotFound) } else { Ok(()) }
}

type InviteRow = (String, String, String, i64, Option<i64>, Option<i64>);

async fn find(db: &Db, token: &str) -> Result<Option<InviteRow>> {
    Ok(sqlx::query_as(
        "SELECT id, team_id, role, expires_at, accepted_at, revoked_at FROM invites WHERE token_hash = $1",
    )
    .bind(token_hash(token))
    .fetch_optional(db.pool())
    .await?)
}

fn state(row: &InviteRow, now: i64) -> Option<Error> {
    let (_, _, _, expires_at, accepted_at, revoked_at) = row;
    if revoked_at.is_some() {
        Some(Error::InviteRevoked)
    } else if accepted_at.is_some() {
        Some(Error::InviteUsed)
    } else if *expires_at <= now {
        Some(Error::InviteExpired)
    } else {
        None
    }
}

/// What the invite page shows for a token.
pub async fn lookup(db: &Db, token: &str) -> Result<Lookup> {
    let Some(row) = find(db, token).await? else { return Ok(Lookup::Unknown) };
    Ok(match state(&row, OffsetDateTime::now_utc().unix_timestamp()) {
        Some(Error::InviteRevoked) => Lookup::Revoked,
        Some(Error::InviteUsed) => Lookup::Used,
        Some(_) => Lookup::Expired,
        None => {
            let team = teams::get(db, &TeamId::parse(&row.1)?).await?;
            Lookup::Open { team_name: team.name, role: Role::parse(&row.2)? }
        }
    })
}

/// Accepts an invite: creates the user in the invite's team with its role
/// and marks the invite used, in one transaction. Two concurrent accepts of
/// one link create one user.
#[tracing::instrument(skip_all)]
pub async fn accept(
    db: &Db,
    token: &str,
    name: PersonName,
    email: Email,
    password: NewPassword,
) -> Result<users::User> {
    let row = find(db, token).await?.ok_or(Error::NotFound)?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    if let Some(refusal) = state(&row, now) {
        return Err(refusal);
    }
    let (invite_id, team_id, role, ..) = row;
    let (team, role) = (TeamId::parse(&team_id)?, Role::parse(&role)?);
    let hash = passwords::hash(&password).await?;
    let user_id = UserId::new();

    let mut tx = db.begin_write().await?;
    let claimed = sqlx::query(
        "UPDATE invites SET accepted_at = $1, accepted_by = $2 \
         WHERE id = $3 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $1",
    )
    .bind(now)
    .bind(user_id.as_str())
    .bind(&invite_id)
    .execute(&mut *tx)
    .await?;
    if claimed.rows_affected() == 0 {
        return Err(Error::InviteUsed);
    }
    users::insert(&mut tx, &team, &user_id, &email, &name, &hash, role, now).await?;
    tx.commit().await?;
    tracing::info!(team = %team, user = %user_id, role = role.as_str(), "invite accepted");
    Ok(users::User {
        id: user_id,
        team_id: team,
        email: email.as_str().to_owned(),
        name: name.as_str().to_owned(),
        role,
    })
}

#[cfg(feature = "test-support")]
/// Moves an invite's expiry into the past, as seven days would.
pub async fn expire_for_tests(db: &Db, token: &str) -> Result<()> {
    sqlx::query("UPDATE invites SET expires_at = 0 WHERE token_hash = $1")
        .bind(token_hash(token))
        .execute(db.pool())
        .await?;
    Ok(())
}
