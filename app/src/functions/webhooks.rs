//! The webhook panel and Replay. Everything is the session team's
//! (SECURITY C1); replaying is for admins (C4).

use leptos::prelude::*;

use crate::{
    error::AppError,
    models::{
        integration::Saved,
        webhooks::{ManualHook, WebhookStatus},
    },
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

/// The URL and secret to paste into the provider's settings, where an
/// admin registers the webhook by hand: admins only (C4), audited, and in
/// no page until asked for (H6).
#[server(prefix = "/api", endpoint = "reveal_webhook_secret")]
pub async fn reveal_webhook_secret(provider: String) -> Result<ManualHook, AppError> {
    crate::ssr::admin(|viewer, platform| async move {
        use secrecy::ExposeSecret as _;
        let provider = platform::ids::ProviderId::parse(&provider)?;
        let found = platform.catalog.get(&provider).ok_or(AppError::NotFound)?;
        let manual =
            platform::webhooks::reveal_manual(&platform, &viewer.user, found).await?.ok_or(AppError::NotFound)?;
        Ok(ManualHook { url: manual.url, secret: manual.secret.expose_secret().to_owned() })
    })
    .await
}
