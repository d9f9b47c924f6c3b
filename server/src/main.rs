//! `patchbay`: the console server and its operator commands.

use std::process::ExitCode;

use clap::Parser as _;
use server::Config;

mod cli;

use cli::{Cli, Command};

/// Server-side rendering allocates many small, short-lived strings per page;
/// mimalloc serves them markedly faster than the system allocator
/// (`scripts/bench.sh` measures the difference).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    // The command runs on the runtime's workers rather than on this thread:
    // a task woken by its socket or by its database then runs on the worker
    // that woke it, instead of each answer waking the main thread (a
    // backfill's pages and statements are thousands of such answers).
    let command = runtime.spawn(cli::run(cli.command.unwrap_or(Command::Serve), config));
    let result = match runtime.block_on(command) {
        Ok(result) => result,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(error) => Err(anyhow::anyhow!("the command was stopped: {error}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("patchbay: {error:#}");
            ExitCode::FAILURE
        }
    }
}
