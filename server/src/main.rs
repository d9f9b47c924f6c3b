//! `patchbay`: the console server and its operator commands.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use server::{Application, Config, startup};

/// Server-side rendering allocates many small, short-lived strings per page;
/// mimalloc serves them markedly faster than the system allocator
/// (`scripts/bench.sh` measures the difference).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "patchbay",
    version,
    about = "Connect your team's SaaS tools to its knowledge platform.",
    long_about = "Connect your team's SaaS tools to its knowledge platform.\n\n\
        Settings come from environment variables or from the TOML file named by PATCHBAY_CONFIG; \
        see the README for the list."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the console (the default when no command is given).
    Serve,
    /// Apply pending database migrations, then exit.
    Migrate,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("patchbay: configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    server::telemetry::init(config.log_format, &config.log_filter);

    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("patchbay: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(&config).await,
            Command::Migrate => migrate(&config).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("patchbay: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: &Config) -> anyhow::Result<()> {
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

async fn migrate(config: &Config) -> anyhow::Result<()> {
    let db = startup::connect_and_migrate(config).await?;
    let latest = db.known_migrations().last().copied().unwrap_or_default();
    db.close().await;
    tracing::info!(database = %config.database_url, latest, "migrations applied");
    eprintln!("patchbay: database {} is migrated (latest migration {latest})", config.database_url);
    Ok(())
}
