//! Sync status, "Sync now" and "Full re-sync", the activity list and the
//! items view. Everything is the session team's (SECURITY C1); starting a
//! sync is for admins (C4).

use leptos::prelude::*;

use crate::{
    error::AppError,
    models::{
        integration::Saved,
        sync::{Activity, ItemsPage, SyncStatus},
    },
};

/// Records per page of the items view.
pub const ITEMS_PER_PAGE: u32 = 50;

/// The sync panel of a provider page.
#[server(prefix = "/api", endpoint = "sync_status")]
pub async fn get_sync_status(provider: String) -> Result<SyncStatus, AppError> {
    crate::ssr::member(|viewer, platform| async move {
        let provider = platform::ids::ProviderId::parse(&provider)?;
        crate::views::sync::status(&platform, &viewer, &provider).await
    })
    .await
}

/// Queues a sync of the connection: `incremental` (Sync now, Retry) or
/// `full_backfill` (Full re-sync). While one is queued or running, that
/// one stands and no second is made (SECURITY F6).
#[server(prefix = "/api", endpoint = "start_sync")]
pub async fn start_sync(provider: String, kind: String) -> Result<Saved, AppError> {
    crate::ssr::admin(|viewer, platform| async move {
        use platform::jobs::Kind;
        let provider = platform::ids::ProviderId::parse(&provider)?;
        let kind = match kind.as_str() {
            "incremental" => Kind::Incremental,
            "full_backfill" => Kind::FullBackfill,
            _ => return Err(AppError::Refused("Only a sync or a full re-sync can be started.".to_owned())),
        };
        if platform::connectors::source_for(&provider).is_none() {
            return Err(AppError::Refused("Patchbay cannot sync this provider yet.".to_owned()));
        }
        let queued = platform::jobs::sync::enqueue(&platform, &viewer.user.team_id, &provider, kind).await?;
        let message = match queued.created_any() {
            true if kind == Kind::FullBackfill => {
                "Full re-sync queued: every record is read again. It starts within seconds."
            }
            true => "Sync queued: it reads what changed since the last one. It starts within seconds.",
            false => {
                "A sync of this connection is already queued or running, so no second one was made. \
                 Ask again once it has ended."
            }
        };
        Ok(Saved { message: message.to_owned() })
    })
    .await
}

/// Jobs across the team's connections, newest first, filtered by provider,
/// kind and state (empty: any).
#[server(prefix = "/api", endpoint = "activity")]
pub async fn list_activity(
    #[server(default)] provider: String,
    #[server(default)] kind: String,
    #[server(default)] state: String,
) -> Result<Activity, AppError> {
    crate::ssr::member(|viewer, platform| async move {
        crate::views::sync::activity(&platform, &viewer, &provider, &kind, &state).await
    })
    .await
}

/// A page of the records synced from a provider, most recently changed
/// first, with links back to the source app; or, with `q`, the records
/// that hold its words, best first.
#[server(prefix = "/api", endpoint = "items")]
pub async fn list_items(
    provider: String,
    #[server(default)] page: u32,
    #[server(default)] q: String,
) -> Result<ItemsPage, AppError> {
    crate::ssr::member(|viewer, platform| async move {
        let provider = platform::ids::ProviderId::parse(&provider)?;
        crate::views::sync::items(&platform, &viewer, &provider, page, &q).await
    })
    .await
}
