//! `patchbay worker`: runs jobs of every kind in the registry, serves no pages.

use server::{Config, startup};

pub(super) async fn worker(config: &Config) -> anyhow::Result<()> {
    let (platform, _) = startup::build_platform(config, &startup::configured_public_url(config)).await?;
    let name = platform::jobs::worker_name("worker");
    tracing::info!(worker = %name, "running jobs");
    eprintln!("patchbay: worker {name} is running jobs of every kind; stop it with Ctrl-C");
    tokio::select! {
        () = platform::jobs::keep_working(platform.clone(), name, std::time::Duration::from_secs(1)) => {}
        () = startup::shutdown_signal() => {}
    }
    platform.db.close().await;
    Ok(())
}
