//! `patchbay migrate`: applies the migrations and exits.

use server::{Config, startup};

pub(super) async fn migrate(config: &Config) -> anyhow::Result<()> {
    let db = startup::connect_and_migrate(config).await?;
    let latest = db.known_migrations().last().copied().unwrap_or_default();
    db.close().await;
    tracing::info!(database = %config.database_url, latest, "migrations applied");
    eprintln!("patchbay: database {} is migrated (latest migration {latest})", config.database_url);
    Ok(())
}
