//! The webhook panel and Replay. Everything is the session team's
//! (SECURITY C1); replaying is for admins (C4).

use leptos::prelude::*;

use crate::{
    error::AppError,
    models::{integration::Saved, webhooks::WebhookStatus},
};

/// The webhook panel of a provider page.
#[server(prefix = "/api", endpoint = "webhook_status")]
pub async fn get_webhook_status(provider: String) -> Result<WebhookStatus, AppError> {
    crate::ssr::member(|viewer, platform| async move {
        let provider = platform::ids::ProviderId::parse(&provider)?;
        crate::views::webhooks::status(&platform, &viewer, &provider).await
    })
    .await
}

/// Applies a stored delivery again: its record is read anew through the
/// connector, so Replay brings the record to what the provider has now.
#[server(prefix = "/api", endpoint = "replay_delivery")]
pub async fn replay_delivery(delivery: String) -> Result<Saved, AppError> {
    crate::ssr::admin(|viewer, platform| async move {
        platform::jobs::webhook::replay(&platform, &viewer.user.team_id, &delivery).await?;
        Ok(Saved { message: "Replay queued: the delivery is applied again within seconds.".to_owned() })
    })
    .await
}
