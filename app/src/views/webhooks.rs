//! The webhook panel's presenter.

use platform::{Platform, ids::ProviderId, store::webhooks::DeliveryState};

use crate::{
    error::AppError,
    models::webhooks::{DeliveryView, WebhookStatus},
    ssr::SignedIn,
    views::sync::relative,
};

pub async fn status(platform: &Platform, viewer: &SignedIn, provider: &ProviderId) -> Result<WebhookStatus, AppError> {
    let found = platform.catalog.get(provider).ok_or(AppError::NotFound)?;
    let team = &viewer.user.team_id;
    let mut conn = platform.db.pool().acquire().await.map_err(platform::Error::from)?;
    let installation = platform::store::installations::find(&mut conn, team, provider).await?;
    drop(conn);
    let Some(installation) = installation.filter(platform::store::installations::Installation::is_active) else {
        return Ok(WebhookStatus::default());
    };
    let status = platform::webhooks::status(platform, team, found, &installation.id).await?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    Ok(WebhookStatus {
        offered: status.offered,
        registered: status.registered,
        url: status.url,
        app_secret_setting: status.app_secret_setting,
        manual: status.manual,
        signed_with: status.signed_with,
        renews: status.renews_at.map(|at| relative(at, now)),
        renew_error: status.renew_error,
        last_event: status.last_event_ms.map(|ms| relative(ms / 1000, now)),
        events_24h: status.events_24h,
        refusals_24h: status.refusals_24h,
        deliveries: status
            .recent
            .into_iter()
            .map(|d| DeliveryView {
                id: d.id,
                received: relative(d.received_at_ms / 1000, now),
                event: d.event.unwrap_or_else(|| "event".to_owned()),
                state: match d.state {
                    DeliveryState::Applied => "Applied",
                    DeliveryState::Queued => "Queued",
                    DeliveryState::Failed => "Failed",
                }
                .to_owned(),
                result: d.result.unwrap_or_default(),
            })
            .collect(),
        can_replay: viewer.user.role == platform::accounts::Role::Admin,
    })
}
