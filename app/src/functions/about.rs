use leptos::prelude::*;

use crate::{error::AppError, models::about::About};

#[server(prefix = "/api", endpoint = "about")]
pub async fn get_about() -> Result<About, AppError> {
    crate::ssr::member(|_viewer, platform| async move {
        // The server creates the row at start-up; reading it here changes nothing.
        let instance = platform::store::instance::get(&platform.db).await?.ok_or(AppError::Internal)?;
        let created_at = crate::ssr::format_time(instance.created_at);
        Ok(About {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            database: platform.db.backend().to_string(),
            instance_id: instance.id,
            created_at,
        })
    })
    .await
}
