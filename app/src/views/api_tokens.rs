//! Settings → API tokens' presenter.

use platform::{
    Platform,
    delivery::tokens::{self, Request, Scope},
    ids::TeamId,
    store::api_tokens::ApiToken,
    store::users::User,
};

use crate::{
    error::AppError,
    models::api_tokens::{ApiTokenRow, ApiTokens, CreatedApiToken, ScopeOption},
};

fn at(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix).map(crate::ssr::format_time).unwrap_or_default()
}

fn row(token: ApiToken, now: i64) -> ApiTokenRow {
    let state = if token.revoked_at.is_some() {
        "Revoked"
    } else if token.expires_at.is_some_and(|expires| expires <= now) {
        "Expired"
    } else {
        "Active"
    };
    ApiTokenRow {
        id: token.id,
        name: token.name,
        scopes: token.scopes.split_whitespace().map(str::to_owned).collect(),
        hint: format!("…{}", token.hint),
        created: at(token.created_at),
        created_by: token.created_by,
        expires: token.expires_at.map(at),
        last_used: token.last_used_at.map(at),
        state: state.to_owned(),
    }
}

pub async fn list(platform: &Platform, team: &TeamId) -> Result<ApiTokens, AppError> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    Ok(ApiTokens {
        tokens: tokens::list(platform, team).await?.into_iter().map(|t| row(t, now)).collect(),
        scopes: Scope::ALL
            .into_iter()
            .map(|scope| ScopeOption { name: scope.as_str().to_owned(), description: scope.describe().to_owned() })
            .collect(),
        api_base: format!("{}/api/v1", crate::ssr::public_base().trim_end_matches('/')),
    })
}

pub async fn create(
    platform: &Platform,
    actor: &User,
    name: &str,
    scopes: &[String],
    expires_in_days: &str,
) -> Result<CreatedApiToken, AppError> {
    let mut chosen = std::collections::BTreeSet::new();
    for scope in scopes {
        chosen.insert(Scope::parse(scope).ok_or_else(|| platform::Error::Invalid {
            field: "scopes".into(),
            message: format!("{scope} is not a scope"),
        })?);
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let expires_at = match expires_in_days.trim() {
        "" | "never" => None,
        days => {
            let days: i64 =
                days.parse().ok().filter(|d| (1..=3650).contains(d)).ok_or_else(|| platform::Error::Invalid {
                    field: "expires_in_days".into(),
                    message: "Give the expiry as 1 to 3650 days, or none.".into(),
                })?;
            Some(now + days * 86_400)
        }
    };
    let created =
        tokens::create(platform, actor, &Request { name: name.to_owned(), scopes: chosen, expires_at }).await?;
    use secrecy::ExposeSecret as _;
    Ok(CreatedApiToken { token: created.token.expose_secret().to_owned(), row: row(created.listed, now) })
}

pub fn push_row(d: platform::store::push::Destination) -> crate::models::api_tokens::PushRow {
    let dead = d.state == platform::store::push::State::Dead;
    crate::models::api_tokens::PushRow {
        id: d.id,
        url: d.url,
        state: if dead { "Dead-lettered" } else { "Active" }.to_owned(),
        last_delivered: d.last_delivered_at.map(at),
        last_error: d.last_error.map(|e| {
            let tries =
                if d.failures == 1 { "1 failure".to_owned() } else { format!("{} failures in a row", d.failures) };
            format!("{tries}: {e}")
        }),
    }
}

pub async fn push_rows(
    platform: &Platform,
    team: &TeamId,
) -> Result<Vec<crate::models::api_tokens::PushRow>, AppError> {
    Ok(platform::delivery::push::list(platform, team).await?.into_iter().map(push_row).collect())
}
