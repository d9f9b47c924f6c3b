//! The `patchbay` command line: its subcommands, one file each, and the
//! one place they print results ([`say`]).

mod admin;
mod backfill;
mod catalog;
mod migrate;
mod secrets;
mod serve;
mod worker;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use server::Config;

#[derive(Debug, Parser)]
#[command(
    name = "patchbay",
    version,
    about = "Connect your team's SaaS tools to its knowledge platform.",
    long_about = "Connect your team's SaaS tools to its knowledge platform.\n\n\
        Settings come from environment variables or from the TOML file named by PATCHBAY_CONFIG; \
        see the README for the list."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Serve the console (the default when no command is given).
    Serve,
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Operator tasks that need no browser.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// The provider catalog.
    Catalog {
        #[command(subcommand)]
        command: CatalogCommand,
    },
    /// Look after the secret store (PATCHBAY_SECRETS). Never prints a value.
    Secrets {
        #[command(subcommand)]
        command: SecretsCommand,
    },
    /// Run sync jobs as they come due, without serving pages.
    Worker,
    /// Sync one connection now, in the foreground, with a progress bar.
    /// Resumes the connection's unfinished sync job if there is one.
    Backfill {
        /// The provider's id, such as `sandbox`.
        provider: String,
        /// The team's id or name.
        #[arg(long)]
        team: String,
        /// Read everything again, not only what changed since the last sync.
        #[arg(long)]
        full: bool,
        /// Read every page and store nothing, with no job: how fast the
        /// provider and the client go (the sync benchmark's ceiling).
        #[arg(long, conflicts_with = "full")]
        no_store: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum CatalogCommand {
    /// Validate provider files and name the file and key of every problem.
    /// With DIR, the files in DIR on their own (their logos must be in the
    /// site's logos/); without, the built-in catalog merged with
    /// PATCHBAY_PROVIDERS_DIR.
    Check {
        /// A directory of provider files (`*.toml`).
        dir: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum SecretsCommand {
    /// List the names and versions of a team's secrets; values are never shown.
    List {
        /// The team's id, or its exact name.
        #[arg(long)]
        team: String,
    },
    /// Check that the configured secret store answers and lets Patchbay in.
    Check,
    /// Local store: put a new key first and re-encrypt every value under
    /// it, while servers keep running. Older keys no value needs are then
    /// dropped from the key file (or reported, with PATCHBAY_SECRET_KEY).
    RotateKey,
    /// Print a new random key in base64, for PATCHBAY_SECRET_KEY.
    GenerateKey,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AdminCommand {
    /// Create a team and its first admin (the same as the /setup page).
    /// Works beside a running server on the same database.
    CreateTeam {
        /// The team's name.
        #[arg(long)]
        name: String,
        /// The first admin's email; they sign in with it.
        #[arg(long)]
        email: String,
        /// The first admin's display name (default: the email's local part).
        #[arg(long)]
        admin_name: Option<String>,
        /// Read the admin's password from the first line of standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

pub(crate) async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    let config = &config;
    match command {
        Command::Serve => serve::serve(config).await,
        Command::Migrate => migrate::migrate(config).await,
        Command::Admin { command: AdminCommand::CreateTeam { name, email, admin_name, password_stdin: _ } } => {
            admin::create_team(config, &name, &email, admin_name.as_deref()).await
        }
        Command::Catalog { command: CatalogCommand::Check { dir } } => catalog::check_catalog(config, dir.as_deref()),
        Command::Secrets { command } => secrets::secrets(config, command).await,
        Command::Worker => worker::worker(config).await,
        Command::Backfill { provider, team, full, no_store } => {
            backfill::backfill(config, &provider, &team, full, no_store).await
        }
    }
}

/// Writes lines to standard output, the one place operator commands print results.
pub(super) fn say(text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").and_then(|()| out.flush()).context("writing to standard output")
}
