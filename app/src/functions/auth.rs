//! First-run set-up, sign-in and sign-out.

use leptos::prelude::*;

use crate::{error::AppError, models::account::Viewer};

/// Who is signed in, if anyone.
#[server(prefix = "/api", endpoint = "whoami")]
pub async fn whoami() -> Result<Option<Viewer>, AppError> {
    crate::ssr::with_status(async move {
        Ok(crate::ssr::signed_in().map(|s| Viewer {
            name: s.user.name,
            email: s.user.email,
            team_name: s.team_name,
            is_admin: s.user.role == platform::accounts::Role::Admin,
        }))
    })
    .await
}

/// Whether first-run set-up is still open (no team exists yet).
#[server(prefix = "/api", endpoint = "setup_open")]
pub async fn setup_open() -> Result<bool, AppError> {
    crate::ssr::with_status(async move { Ok(!platform::store::teams::any_exists(&crate::ssr::platform()?.db).await?) })
        .await
}

/// Creates the first team and its admin, and signs the admin in.
#[server(prefix = "/api", endpoint = "setup")]
pub async fn setup(team_name: String, name: String, email: String, password: String) -> Result<(), AppError> {
    crate::ssr::with_status(async move {
        use platform::accounts::{Email, NewPassword, PersonName, TeamName};
        let platform = crate::ssr::platform()?;
        let new = platform::store::teams::NewTeam {
            team_name: TeamName::parse(&team_name)?,
            admin_name: PersonName::parse(&name)?,
            admin_email: Email::parse(&email)?,
            admin_password: NewPassword::parse(&password)?,
        };
        let (_, admin) = platform::store::teams::create_with_admin(&platform.db, new, true).await?;
        crate::ssr::start_session(&admin).await?;
        leptos_axum::redirect("/integrations");
        Ok(())
    })
    .await
}

#[server(prefix = "/api", endpoint = "login")]
pub async fn login(email: String, password: String, next: Option<String>) -> Result<(), AppError> {
    crate::ssr::with_status(async move {
        let platform = crate::ssr::platform()?;
        let user = platform::login::sign_in(
            &platform.db,
            &email,
            &password,
            crate::ssr::client_addr(),
            platform.login_throttle,
        )
        .await?;
        crate::ssr::start_session(&user).await?;
        leptos_axum::redirect(&crate::ssr::safe_return_path(next.as_deref()));
        Ok(())
    })
    .await
}

/// Ends the session: its record is deleted, so the old cookie is refused.
#[server(prefix = "/api", endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    crate::ssr::with_status(async move {
        let session = crate::ssr::session()?;
        session.flush().await.map_err(|e| {
            tracing::error!(error = %e, "session store failed");
            AppError::Internal
        })?;
        leptos_axum::redirect("/login");
        Ok(())
    })
    .await
}
