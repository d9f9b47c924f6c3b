//! `patchbay`: the console server and its operator commands.

use std::process::ExitCode;

use anyhow::Context as _;
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
enum CatalogCommand {
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
enum SecretsCommand {
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
enum AdminCommand {
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
    let command = runtime.spawn(run(cli.command.unwrap_or(Command::Serve), config));
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

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    let config = &config;
    match command {
        Command::Serve => serve(config).await,
        Command::Migrate => migrate(config).await,
        Command::Admin { command: AdminCommand::CreateTeam { name, email, admin_name, password_stdin: _ } } => {
            create_team(config, &name, &email, admin_name.as_deref()).await
        }
        Command::Catalog { command: CatalogCommand::Check { dir } } => check_catalog(config, dir.as_deref()),
        Command::Secrets { command } => secrets(config, command).await,
        Command::Worker => worker(config).await,
        Command::Backfill { provider, team, full, no_store } => {
            backfill(config, &provider, &team, full, no_store).await
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

async fn worker(config: &Config) -> anyhow::Result<()> {
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

/// Shows a job's committed progress as it moves, until dropped.
async fn follow_progress(
    platform: platform::Platform,
    team: platform::accounts::TeamId,
    job: String,
    on_page: &(dyn Fn(i64, Option<i64>) + Send + Sync),
) -> std::convert::Infallible {
    let mut every = tokio::time::interval(std::time::Duration::from_millis(250));
    loop {
        every.tick().await;
        if let Ok(Some(job)) = platform::jobs::get(&platform.db, &team, &job).await {
            on_page(job.progress_done, job.progress_total);
        }
    }
}

/// The most memory this process has held, in bytes (Linux's `VmHWM`).
fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

fn progress_bar(message: String) -> anyhow::Result<indicatif::ProgressBar> {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg} [{elapsed_precise}] {wide_bar} {pos}/{len} ({eta})")
            .context("the progress bar's template")?,
    );
    bar.set_message(message);
    Ok(bar)
}

async fn backfill(config: &Config, provider: &str, team: &str, full: bool, no_store: bool) -> anyhow::Result<()> {
    use platform::jobs::{Kind, State};

    let (platform, _) = startup::build_platform(config, &startup::configured_public_url(config)).await?;
    let found = platform::teams::find(&platform.db, team).await.map_err(|e| match e {
        platform::Error::NotFound => anyhow::anyhow!("--team: no team has the id or name `{team}`"),
        other => anyhow::anyhow!("--team: {other}"),
    })?;
    let bar = progress_bar(format!("{provider} for {}", found.name))?;
    let on_page = |done: i64, total: Option<i64>| {
        if let Some(total) = total {
            bar.set_length(u64::try_from(total).unwrap_or(0));
        }
        bar.set_position(u64::try_from(done).unwrap_or(0));
    };
    let started = std::time::Instant::now();
    let summary = |read: i64, stored: i64| {
        let seconds = started.elapsed().as_secs_f64();
        let rate = read as f64 / seconds.max(f64::EPSILON);
        let memory = peak_memory().map_or_else(String::new, |b| format!("; peak memory {:.1} MB", b as f64 / 1e6));
        format!("{provider}: {read} records read, {stored} stored in {seconds:.2} s ({rate:.0} records/s){memory}")
    };
    if no_store {
        let read = platform::jobs::sync::read_only(&platform, &found.id, provider, &on_page)
            .await
            .map_err(|failure| anyhow::anyhow!("{provider}: {}", failure.message))?;
        bar.finish();
        platform.db.close().await;
        return say(&summary(read, 0));
    }
    let kind = if full { Kind::FullBackfill } else { Kind::Incremental };
    let enqueued = platform::jobs::sync::enqueue(&platform, &found.id, provider, kind).await.map_err(|e| match e {
        platform::Error::NotFound => anyhow::anyhow!("{provider}: team \"{}\" has no such connection", found.name),
        other => anyhow::anyhow!("{provider}: {other}"),
    })?;
    let worker = platform::jobs::worker_name("backfill");
    let state = loop {
        platform::jobs::interrupt_lapsed(&platform.db).await?;
        let job = platform::jobs::claim_one(&platform.db, &worker, enqueued.id(), platform.job_lease).await?;
        let Some(job) = job else {
            let current = platform::jobs::get(&platform.db, &found.id, enqueued.id()).await?;
            match current.map(|j| j.state) {
                Some(State::Running | State::Queued) => {
                    bar.set_message("waiting: another worker holds this sync, or it waits to try again");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    continue;
                }
                Some(state) => break state,
                None => anyhow::bail!("the sync job disappeared"),
            }
        };
        // The job runs through the registry like any other; the bar follows
        // the progress it commits.
        let follow = follow_progress(platform.clone(), found.id.clone(), job.id.clone(), &on_page);
        let state = tokio::select! {
            state = platform::jobs::run_claimed(&platform, &job, &worker) => state?,
            never = follow => match never {},
        };
        let ended = platform::jobs::get(&platform.db, &found.id, &job.id).await?;
        on_page(ended.as_ref().map_or(0, |j| j.progress_done), ended.as_ref().and_then(|j| j.progress_total));
        let error = ended.as_ref().and_then(|j| Some((j.error_class.as_deref()?, j.last_error.as_deref()?)));
        if let (false, Some((class, message))) = (state == State::Completed, error) {
            bar.println(format!("{class}: {message}"));
        }
        match state {
            State::Queued | State::Interrupted => continue,
            state => break state,
        }
    };
    bar.finish();
    let job = platform::jobs::get(&platform.db, &found.id, enqueued.id()).await?;
    platform.db.close().await;
    let Some(job) = job else { anyhow::bail!("the sync job disappeared") };
    if state != State::Completed {
        anyhow::bail!("the sync {}: {}", state.as_str(), job.last_error.unwrap_or_default());
    }
    say(&summary(job.progress_done, job.items))
}

async fn migrate(config: &Config) -> anyhow::Result<()> {
    let db = startup::connect_and_migrate(config).await?;
    let latest = db.known_migrations().last().copied().unwrap_or_default();
    db.close().await;
    tracing::info!(database = %config.database_url, latest, "migrations applied");
    eprintln!("patchbay: database {} is migrated (latest migration {latest})", config.database_url);
    Ok(())
}

async fn create_team(config: &Config, team_name: &str, email: &str, admin_name: Option<&str>) -> anyhow::Result<()> {
    use platform::accounts::{Email, NewPassword, PersonName, TeamName};

    let mut password = String::new();
    std::io::stdin().read_line(&mut password).context("reading the password from standard input")?;
    let password = password.trim_end_matches(['\r', '\n']);
    // A refused value, said with the option it came from.
    let refused = |option: &str| {
        let option = option.to_owned();
        move |e: platform::Error| match e {
            platform::Error::Invalid { message, .. } => anyhow::anyhow!("{option}: {message}"),
            other => anyhow::anyhow!("{option}: {other}"),
        }
    };
    let email = Email::parse(email).map_err(refused("--email"))?;
    let admin_name = admin_name.unwrap_or_else(|| email.as_str().split('@').next().unwrap_or_default());
    let new = platform::teams::NewTeam {
        team_name: TeamName::parse(team_name).map_err(refused("--name"))?,
        admin_name: PersonName::parse(admin_name).map_err(refused("--admin-name"))?,
        admin_email: email,
        admin_password: NewPassword::parse(password).map_err(refused("the password on standard input"))?,
    };
    let db = startup::connect_and_migrate(config).await?;
    let result = platform::teams::create_with_admin(&db, new, false).await;
    db.close().await;
    let (team, admin) = result.map_err(|e| anyhow::anyhow!("{e}"))?;
    eprintln!("patchbay: created team \"{}\" ({}) with admin {}", team.name, team.id, admin.email);
    Ok(())
}

fn check_catalog(config: &Config, dir: Option<&std::path::Path>) -> anyhow::Result<()> {
    let catalog = match dir {
        Some(dir) => {
            let site_logos = std::path::Path::new(&config.site.root).join(platform::catalog::LOGO_DIR);
            let files = platform::catalog::Catalog::files_in(dir).map_err(|p| anyhow::anyhow!("{p}"))?;
            platform::catalog::Catalog::from_files(&files, &[&site_logos])
                .map_err(|problems| anyhow::anyhow!("the provider files have problems:\n{problems}"))?
        }
        None => startup::load_catalog(config)?,
    };
    say(&format!("{} provider(s), all valid", catalog.len()))
}

/// Writes lines to standard output, the one place operator commands print results.
fn say(text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").and_then(|()| out.flush()).context("writing to standard output")
}

async fn secrets(config: &Config, command: SecretsCommand) -> anyhow::Result<()> {
    use platform::secrets::{SecretPath, SecretsConfig, local::LocalStore};

    if let SecretsCommand::GenerateKey = command {
        return say(&platform::secrets::local::generate_key());
    }
    let db = startup::connect_and_migrate(config).await?;
    let result = async {
        match command {
            SecretsCommand::List { team } => {
                let store = startup::open_secret_store(config, &db).await?;
                let team = platform::teams::find(&db, &team).await.map_err(|e| match e {
                    platform::Error::NotFound => anyhow::anyhow!("--team: no team has the id or name `{team}`"),
                    other => anyhow::anyhow!("--team: {other}"),
                })?;
                let entries = store.list(&SecretPath::team(&team.id)).await?;
                for entry in &entries {
                    say(&format!("{}\t{}", store.name_of(&entry.path)?, entry.version))?;
                }
                eprintln!(
                    "patchbay: {} secret(s) of team \"{}\" in the {} store; values are never shown",
                    entries.len(),
                    team.name,
                    store.backend()
                );
                Ok(())
            }
            SecretsCommand::Check => {
                let store = startup::open_secret_store(config, &db).await?;
                let status = store.check().await?;
                say(&format!("secret store ({}): ok, {}", store.backend(), status.location))
            }
            SecretsCommand::RotateKey => {
                let SecretsConfig::Local(settings) = &config.secrets else {
                    anyhow::bail!(
                        "rotate-key applies to the local store; SSM values are encrypted with KMS keys, which \
                         are rotated in KMS"
                    );
                };
                let store = LocalStore::open(db.clone(), settings.clone()).await?;
                let rotation = store.rotate_key().await?;
                say(&format!(
                    "key {} now encrypts; {} value(s) re-encrypted under it",
                    rotation.primary, rotation.reencrypted
                ))?;
                if !rotation.unused.is_empty() {
                    say(&format!("no value needs key {} any more", rotation.unused.join(", ")))?;
                }
                if !rotation.still_needed.is_empty() {
                    say(&format!(
                        "key {} is still needed by values written during the rotation; run rotate-key again",
                        rotation.still_needed.join(", ")
                    ))?;
                }
                Ok(())
            }
            SecretsCommand::GenerateKey => Ok(()), // answered above, without a database
        }
    }
    .await;
    db.close().await;
    result
}
