//! The `/team` page: members, roles and invites. Every call takes the team
//! from the session; an ID from another team is simply not found (C1).

use leptos::prelude::*;

use crate::{
    error::AppError,
    models::account::{CreatedInvite, TeamOverview},
};

#[server(prefix = "/api", endpoint = "team")]
pub async fn get_team_overview() -> Result<TeamOverview, AppError> {
    crate::ssr::member(|viewer, platform| async move {
        let team = &viewer.user.team_id;
        let members = platform::store::users::list(&platform.db, team).await?;
        let can_manage = viewer.user.role == platform::accounts::Role::Admin;
        let invites =
            if can_manage { platform::store::invites::list_pending(&platform.db, team).await? } else { Vec::new() };
        Ok(TeamOverview {
            team_name: viewer.team_name,
            members: members
                .into_iter()
                .map(|m| crate::models::account::Member {
                    is_you: m.id == viewer.user.id,
                    id: m.id.to_string(),
                    name: m.name,
                    email: m.email,
                    role: m.role.as_str().to_owned(),
                })
                .collect(),
            invites: invites
                .into_iter()
                .map(|i| crate::models::account::PendingInvite {
                    id: i.id.to_string(),
                    role: i.role.as_str().to_owned(),
                    created_by: i.created_by,
                    expires_at: crate::ssr::format_time(i.expires_at),
                })
                .collect(),
            can_manage,
        })
    })
    .await
}

#[server(prefix = "/api", endpoint = "create_invite")]
pub async fn create_invite(role: String) -> Result<CreatedInvite, AppError> {
    crate::ssr::admin(|viewer, platform| async move {
        let role = platform::accounts::Role::parse(&role)?;
        let invite =
            platform::store::invites::create(&platform.db, &viewer.user.team_id, &viewer.user.id, role).await?;
        Ok(CreatedInvite {
            url: format!("{}/invite/{}", crate::ssr::public_base(), invite.token),
            role: role.as_str().to_owned(),
            expires_at: crate::ssr::format_time(invite.expires_at),
        })
    })
    .await
}

#[server(prefix = "/api", endpoint = "revoke_invite")]
pub async fn revoke_invite(invite_id: String) -> Result<(), AppError> {
    crate::ssr::admin(|viewer, platform| async move {
        let invite = platform::ids::InviteId::parse(&invite_id)?;
        platform::store::invites::revoke(&platform.db, &viewer.user.team_id, &invite).await?;
        Ok(())
    })
    .await
}

#[server(prefix = "/api", endpoint = "change_role")]
pub async fn change_role(user_id: String, role: String) -> Result<(), AppError> {
    crate::ssr::admin(|viewer, platform| async move {
        let user = platform::ids::UserId::parse(&user_id)?;
        let role = platform::accounts::Role::parse(&role)?;
        platform::store::users::change_role(&platform.db, &viewer.user.team_id, &user, role).await?;
        Ok(())
    })
    .await
}

#[server(prefix = "/api", endpoint = "remove_member")]
pub async fn remove_member(user_id: String) -> Result<(), AppError> {
    crate::ssr::admin(|viewer, platform| async move {
        let user = platform::ids::UserId::parse(&user_id)?;
        platform::store::users::remove(&platform.db, &viewer.user.team_id, &user).await?;
        Ok(())
    })
    .await
}
