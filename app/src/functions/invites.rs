//! Accepting an invite link: open to signed-out visitors.

use leptos::prelude::*;

use crate::{error::AppError, models::account::InviteStatus};

#[server(prefix = "/api", endpoint = "invite_status")]
pub async fn get_invite_status(token: String) -> Result<InviteStatus, AppError> {
    crate::ssr::with_status(async move {
        use platform::store::invites::Lookup;
        if token.len() > 128 {
            return Ok(InviteStatus::Unknown);
        }
        let platform = crate::ssr::platform()?;
        Ok(match platform::store::invites::lookup(&platform.db, &token).await? {
            Lookup::Open { team_name, role } => InviteStatus::Open { team_name, role: role.as_str().to_owned() },
            Lookup::Expired => InviteStatus::Expired,
            Lookup::Used => InviteStatus::Used,
            Lookup::Revoked => InviteStatus::Revoked,
            Lookup::Unknown => InviteStatus::Unknown,
        })
    })
    .await
}

/// Joins the invite's team and signs the new member in.
#[server(prefix = "/api", endpoint = "accept_invite")]
pub async fn accept_invite(token: String, name: String, email: String, password: String) -> Result<(), AppError> {
    crate::ssr::with_status(async move {
        use platform::accounts::{Email, NewPassword, PersonName};
        if token.len() > 128 {
            return Err(AppError::NotFound);
        }
        let platform = crate::ssr::platform()?;
        let user = platform::store::invites::accept(
            &platform.db,
            &token,
            PersonName::parse(&name)?,
            Email::parse(&email)?,
            NewPassword::parse(&password)?,
        )
        .await?;
        crate::ssr::start_session(&user).await?;
        leptos_axum::redirect("/integrations");
        Ok(())
    })
    .await
}
