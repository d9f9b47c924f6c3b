//! Teams and the first-run set-up that creates one with its first admin.

use time::OffsetDateTime;

use crate::{
    Db,
    accounts::{Email, NewPassword, PersonName, Role, TeamName},
    error::{Error, Result},
    ids::{TeamId, UserId},
    passwords,
    store::users,
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Team {
    pub id: TeamId,
    pub name: String,
}

/// Whether first-run set-up has happened.
pub async fn any_exists(db: &Db) -> Result<bool> {
    let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM teams LIMIT 1").fetch_optional(db.pool()).await?;
    Ok(found.is_some())
}

/// What the first-run form and `patchbay admin create-team` submit.
#[derive(Debug)]
pub struct NewTeam {
    pub team_name: TeamName,
    pub admin_name: PersonName,
    pub admin_email: Email,
    pub admin_password: NewPassword,
}

/// Creates a team and its first admin in one transaction.
///
/// `first_run_only` makes this the `/setup` operation: it fails with
/// [`Error::AlreadySetUp`] once any team exists. The check and the insert
/// share the transaction; on Postgres a table lock makes concurrent set-ups
/// take turns, and SQLite allows one writer at a time anyway.
#[tracing::instrument(skip_all)]
pub async fn create_with_admin(db: &Db, new: NewTeam, first_run_only: bool) -> Result<(Team, users::User)> {
    let hash = passwords::hash(&new.admin_password).await?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let team = Team { id: TeamId::new(), name: new.team_name.as_str().to_owned() };
    let user_id = UserId::new();

    let mut tx = db.begin_write().await?;
    if db.backend() == crate::Backend::Postgres {
        sqlx::query("LOCK TABLE teams IN SHARE ROW EXCLUSIVE MODE").execute(&mut *tx).await?;
    }
    if first_run_only {
        let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM teams LIMIT 1").fetch_optional(&mut *tx).await?;
        if exists.is_some() {
            return Err(Error::AlreadySetUp);
        }
    }
    sqlx::query("INSERT INTO teams (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(team.id.as_str())
        .bind(&team.name)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    users::insert(&mut tx, &team.id, &user_id, &new.admin_email, &new.admin_name, &hash, Role::Admin, now).await?;
    tx.commit().await?;
    tracing::info!(team = %team.id, user = %user_id, "team created");

    let user = users::User {
        id: user_id,
        team_id: team.id.clone(),
        email: new.admin_email.as_str().to_owned(),
        name: new.admin_name.as_str().to_owned(),
        role: Role::Admin,
    };
    Ok((team, user))
}

pub async fn get(db: &Db, team: &TeamId) -> Result<Team> {
    let name: Option<String> = sqlx::query_scalar("SELECT name FROM teams WHERE id = $1")
        .bind(team.as_str())
        .fetch_optional(db.pool())
        .await?;
    name.map(|name| Team { id: team.clone(), name }).ok_or(Error::NotFound)
}

/// The team an operator names on the command line: by id, or by its exact
/// name when exactly one team has it.
pub async fn find(db: &Db, id_or_name: &str) -> Result<Team> {
    if let Ok(id) = TeamId::parse(id_or_name) {
        return get(db, &id).await;
    }
    let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM teams WHERE name = $1 ORDER BY id LIMIT 2")
        .bind(id_or_name)
        .fetch_all(db.pool())
        .await?;
    match ids.as_slice() {
        [id] => Ok(Team { id: TeamId::parse(id)?, name: id_or_name.to_owned() }),
        [] => Err(Error::NotFound),
        _ => Err(Error::Invalid {
            field: "team".into(),
            message: "Several teams have that name; give the team's id.".into(),
        }),
    }
}
