//! `patchbay serve`: the console, and its jobs unless they are left to workers.

use server::{Application, Config, startup};

pub(super) async fn serve(config: &Config) -> anyhow::Result<()> {
    let app = Application::build(config).await?;
    tracing::info!(
        address = %app.local_addr(),
        public_url = %app.public_url(),
        database = %config.database_url.backend(),
        "Patchbay is listening on {}",
        app.public_url()
    );
    app.run_until_stopped(startup::shutdown_signal()).await
}
