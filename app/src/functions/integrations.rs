use leptos::prelude::*;

use crate::{error::AppError, models::integration::IntegrationCard};

/// Every provider in the catalog as a card, in the order the page shows them.
#[server(prefix = "/api", endpoint = "integrations")]
pub async fn list_integrations() -> Result<Vec<IntegrationCard>, AppError> {
    crate::ssr::with_status(async move {
        crate::ssr::require_user()?;
        let platform = crate::ssr::platform()?;
        Ok(crate::ssr::integration_cards(&platform.catalog))
    })
    .await
}
