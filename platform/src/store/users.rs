//! Users of a team. Every function takes the team from the caller's
//! session and filters by it, so another team's user is simply not found.

use sqlx::{Any, Transaction};

use crate::{
    Db,
    accounts::{Email, PersonName, Role},
    error::{Error, Result},
    ids::{TeamId, UserId},
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub team_id: TeamId,
    pub email: String,
    pub name: String,
    pub role: Role,
}

type UserRow = (String, String, String, String, String);

fn from_row((id, team_id, email, name, role): UserRow) -> Result<User> {
    Ok(User { id: UserId::parse(&id)?, team_id: TeamId::parse(&team_id)?, email, name, role: Role::parse(&role)? })
}

const COLUMNS: &str = "id, team_id, email, name, role";

#[expect(clippy::too_many_arguments, reason = "one column each; callers build them from parsed types")]
pub(crate) async fn insert(
    tx: &mut Transaction<'_, Any>,
    team: &TeamId,
    id: &UserId,
    email: &Email,
    name: &PersonName,
    password_hash: &str,
    role: Role,
    now: i64,
) -> Result<()> {
    let inserted = sqlx::query(
        "INSERT INTO users (id, team_id, email, name, password_hash, role, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (email) DO NOTHING",
    )
    .bind(id.as_str())
    .bind(team.as_str())
    .bind(email.as_str())
    .bind(name.as_str())
    .bind(password_hash)
    .bind(role.as_str())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(Error::DuplicateEmail);
    }
    Ok(())
}

/// The user a session names, if they still exist.
pub async fn get(db: &Db, id: &UserId) -> Result<Option<User>> {
    let row: Option<UserRow> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
        .bind(id.as_str())
        .fetch_optional(db.pool())
        .await?;
    row.map(from_row).transpose()
}

/// The user a session names, with their team's name, in one query: every
/// signed-in request asks this.
pub async fn get_with_team(db: &Db, id: &UserId) -> Result<Option<(User, String)>> {
    let row: Option<(String, String, String, String, String, String)> = sqlx::query_as(
        "SELECT u.id, u.team_id, u.email, u.name, u.role, t.name FROM users u \
         JOIN teams t ON t.id = u.team_id WHERE u.id = $1",
    )
    .bind(id.as_str())
    .fetch_optional(db.pool())
    .await?;
    row.map(|(id, team, email, name, role, team_name)| Ok((from_row((id, team, email, name, role))?, team_name)))
        .transpose()
}

/// The account and password hash for a sign-in attempt.
pub(crate) async fn credentials(db: &Db, email: &str) -> Result<Option<(User, String)>> {
    let row: Option<(String, String, String, String, String, String)> =
        sqlx::query_as(&format!("SELECT {COLUMNS}, password_hash FROM users WHERE email = $1"))
            .bind(email)
            .fetch_optional(db.pool())
            .await?;
    row.map(|(id, team, email, name, role, hash)| Ok((from_row((id, team, email, name, role))?, hash))).transpose()
}

/// The team's members, admins first, then by name.
pub async fn list(db: &Db, team: &TeamId) -> Result<Vec<User>> {
    let rows: Vec<UserRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM users WHERE team_id = $1 ORDER BY CASE role WHEN 'admin' THEN 0 ELSE 1 END, name, email"
    ))
    .bind(team.as_str())
    .fetch_all(db.pool())
    .await?;
    rows.into_iter().map(from_row).collect()
}

/// Serialises changes to a team's admins, so that two concurrent demotions
/// cannot both see "another admin remains". SQLite has one writer at a time.
async fn lock_team(tx: &mut Transaction<'_, Any>, db: &Db, team: &TeamId) -> Result<()> {
    if db.backend() == crate::Backend::Postgres {
        sqlx::query("SELECT id FROM teams WHERE id = $1 FOR UPDATE").bind(team.as_str()).execute(&mut **tx).await?;
    }
    Ok(())
}

async fn admins_other_than(tx: &mut Transaction<'_, Any>, team: &TeamId, user: &UserId) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE team_id = $1 AND role = 'admin' AND id <> $2")
        .bind(team.as_str())
        .bind(user.as_str())
        .fetch_one(&mut **tx)
        .await?)
}

async fn role_in_team(tx: &mut Transaction<'_, Any>, team: &TeamId, user: &UserId) -> Result<Role> {
    let role: Option<String> = sqlx::query_scalar("SELECT role FROM users WHERE id = $1 AND team_id = $2")
        .bind(user.as_str())
        .bind(team.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    Role::parse(&role.ok_or(Error::NotFound)?)
}

/// Starts the transaction of a change to `user`, refusing it when it would
/// leave the team without an admin. `new_role` is `None` for a removal.
async fn begin_keeping_an_admin(
    db: &Db,
    team: &TeamId,
    user: &UserId,
    new_role: Option<Role>,
) -> Result<Transaction<'static, Any>> {
    let mut tx = db.begin_write().await?;
    lock_team(&mut tx, db, team).await?;
    let current = role_in_team(&mut tx, team, user).await?;
    let loses_admin = current == Role::Admin && new_role != Some(Role::Admin);
    if loses_admin && admins_other_than(&mut tx, team, user).await? == 0 {
        return Err(Error::LastAdmin);
    }
    Ok(tx)
}

/// Changes a member's role. The last admin cannot be demoted.
#[tracing::instrument(skip_all, fields(team = %team, user = %user))]
pub async fn change_role(db: &Db, team: &TeamId, user: &UserId, role: Role) -> Result<()> {
    let mut tx = begin_keeping_an_admin(db, team, user, Some(role)).await?;
    sqlx::query("UPDATE users SET role = $1 WHERE id = $2 AND team_id = $3")
        .bind(role.as_str())
        .bind(user.as_str())
        .bind(team.as_str())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Removes a member from the team. Their sessions stop working at their
/// next request, because every request re-reads the user. The last admin
/// cannot be removed.
#[tracing::instrument(skip_all, fields(team = %team, user = %user))]
pub async fn remove(db: &Db, team: &TeamId, user: &UserId) -> Result<()> {
    let mut tx = begin_keeping_an_admin(db, team, user, None).await?;
    sqlx::query("DELETE FROM users WHERE id = $1 AND team_id = $2")
        .bind(user.as_str())
        .bind(team.as_str())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
