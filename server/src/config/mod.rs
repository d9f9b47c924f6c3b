//! Typed configuration, read once at start-up from environment variables and,
//! optionally, a TOML file named by `PATCHBAY_CONFIG`. The environment wins
//! over the file. Every problem is reported with the setting's name and
//! where its value came from, and stops start-up.
use std::{
    collections::{BTreeMap, HashMap},
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    path::{Path, PathBuf},
    str::FromStr,
    time::Duration,
};

use platform::{
    DatabaseUrl,
    secrets::{
        Prefix, SecretString, SecretsConfig,
        local::{KeySource, LocalSettings},
        ssm::SsmSettings,
    },
};
use thiserror::Error;

mod oauth_apps;
mod public_url;
mod secrets;
mod settings;
mod sources;
#[cfg(test)]
mod tests;

pub use self::public_url::PublicUrl;
use self::{secrets::*, settings::*, sources::*};

/// Compiled-in Leptos defaults: cargo-leptos sets these variables while it
/// builds, so a binary it built runs from the repository root without them.
const DEFAULT_OUTPUT_NAME: &str = match option_env!("LEPTOS_OUTPUT_NAME") {
    Some(name) => name,
    None => "patchbay",
};
const DEFAULT_SITE_ROOT: &str = "target/site";
const DEFAULT_SITE_PKG_DIR: &str = "pkg";
const DEFAULT_BIND: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 3000);

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{setting} ({origin}): {message}")]
    Invalid { setting: &'static str, origin: String, message: String },
    #[error("PATCHBAY_CONFIG: cannot read {path}: {reason}")]
    File { path: String, reason: String },
    #[error("PATCHBAY_CONFIG: unknown key `{key}` in {path}; known keys are: {known}")]
    UnknownKey { key: String, path: String, known: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Where the compiled site (WASM, JS, CSS, public assets) lives.
#[derive(Clone, Debug)]
pub struct SiteConfig {
    pub root: String,
    pub pkg_dir: String,
    pub output_name: String,
    /// Set by `cargo leptos watch`; enables the live-reload socket.
    pub reload_port: Option<u16>,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub bind: SocketAddr,
    /// `None` means: derive it from the address actually bound.
    pub public_url: Option<PublicUrl>,
    pub data_dir: PathBuf,
    pub database_url: DatabaseUrl,
    pub db_max_connections: u32,
    pub log_format: LogFormat,
    pub log_filter: String,
    pub shutdown_timeout: Duration,
    /// A session unused this long is signed out (SECURITY B4).
    pub session_idle_timeout: Duration,
    /// A session this old is signed out however active it is (SECURITY B4).
    pub session_absolute_timeout: Duration,
    /// Which secret store, and its settings.
    pub secrets: SecretsConfig,
    /// Extra provider files merged over the built-in catalog.
    pub providers_dir: Option<PathBuf>,
    /// How long the console waits for a provider it calls itself (the
    /// verification of a credential form).
    pub provider_timeout: Duration,
    /// OAuth apps from `PATCHBAY_<PROVIDER>_CLIENT_ID` and `_CLIENT_SECRET`.
    pub oauth_apps: platform::outbound::oauth2::Apps,
    /// The webhook secrets of those apps whose provider sends every
    /// installation's webhooks to one URL (`PATCHBAY_<PROVIDER>_WEBHOOK_SECRET`).
    pub app_webhook_secrets: platform::webhooks::AppSecrets,
    /// The demo provider under `/sandbox`: `Some(on)` when set, `None` for
    /// the default (on when the public URL is loopback).
    pub sandbox: Option<bool>,
    /// Another loopback name the sandbox is served under, on the console's
    /// own port (`localhost` beside a `127.0.0.1` console): its OAuth round
    /// trip is then cross-site, as with a real provider (SECURITY B2).
    pub sandbox_host: Option<String>,
    /// How long the sandbox's access tokens live.
    pub sandbox_token_life: Duration,
    /// The sandbox's item API: how many items, the rate limit, the faults.
    pub sandbox_items: sandbox::ItemSettings,
    /// The sandbox's webhooks: their lifetime and faults.
    pub sandbox_hooks: sandbox::HookSettings,
    /// Whether connections get webhooks (`PATCHBAY_WEBHOOKS`, on by
    /// default), and how many refused deliveries an address may make a
    /// minute before it is refused unread.
    pub webhooks: bool,
    pub webhook_refusals_per_minute: u32,
    /// How long the change feed keeps changes (seconds in
    /// `PATCHBAY_CHANGES_RETENTION`), and how many requests an API token
    /// may make a minute on each replica.
    pub delivery: platform::delivery::Settings,
    /// Whether record writes append to the change feed
    /// (`PATCHBAY_CHANGE_FEED`, on): off, a deployment that no platform
    /// reads saves the feed's writes, and the feed and push are off.
    pub change_feed: bool,
    /// How long a worker's claim on a sync job lasts without a heartbeat.
    pub job_lease: Duration,
    /// Whether `serve` runs sync jobs too, or leaves them to workers.
    pub run_jobs: bool,
    pub site: SiteConfig,
}

impl Config {
    /// Reads the process environment and the file it names.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::load(std::env::vars().collect())
    }

    /// Builds a configuration from the given environment (and the file named
    /// by its `PATCHBAY_CONFIG`, if any).
    pub fn load(env: HashMap<String, String>) -> Result<Self, ConfigError> {
        let file_path = env.get("PATCHBAY_CONFIG").filter(|p| !p.is_empty()).map(PathBuf::from);
        let file = match &file_path {
            Some(path) => read_file(path)?,
            None => BTreeMap::new(),
        };
        let src = Sources { env, file, file_path };

        let bind = match src.parse(BIND, parse_socket_addr)? {
            Some(addr) => addr,
            None => src.parse(SITE_ADDR, parse_socket_addr)?.unwrap_or(DEFAULT_BIND),
        };
        let public_url = src.parse(PUBLIC_URL, PublicUrl::from_str)?;
        let data_dir =
            src.parse(DATA_DIR, |s| non_empty(s).map(PathBuf::from))?.unwrap_or_else(|| PathBuf::from("data"));
        let database_url = src
            .parse(DATABASE_URL, DatabaseUrl::from_str)?
            .unwrap_or_else(|| DatabaseUrl::sqlite_file(&data_dir.join("patchbay.db")));
        let db_max_connections = src.parse(DB_MAX_CONNECTIONS, parse_bounded_u32(1, 1000))?.unwrap_or(10);
        let log_format = src
            .parse(LOG_FORMAT, |s| match s.trim() {
                "text" => Ok(LogFormat::Text),
                "json" => Ok(LogFormat::Json),
                _ => Err("expected `text` or `json`".into()),
            })?
            .unwrap_or(LogFormat::Text);
        let log_filter = match src.parse(LOG, crate::telemetry::check_filter)? {
            Some(filter) => filter,
            None => src
                .env
                .get("RUST_LOG")
                .filter(|f| crate::telemetry::check_filter(f).is_ok())
                .cloned()
                .unwrap_or_else(|| crate::telemetry::DEFAULT_FILTER.to_owned()),
        };
        let shutdown_timeout = src
            .parse(SHUTDOWN_TIMEOUT, parse_bounded_u32(0, 3600))?
            .map_or(Duration::from_secs(20), |s| Duration::from_secs(u64::from(s)));
        let seconds = |n: u32| Duration::from_secs(u64::from(n));
        let session_idle_timeout = src
            .parse(SESSION_IDLE_TIMEOUT, parse_bounded_u32(1, 30 * 86_400))?
            .map_or(Duration::from_secs(2 * 3600), seconds);
        let session_absolute_timeout = src
            .parse(SESSION_ABSOLUTE_TIMEOUT, parse_bounded_u32(1, 90 * 86_400))?
            .map_or(Duration::from_secs(12 * 3600), seconds);
        let secrets = secrets_config(&src, &data_dir)?;
        let providers_dir = src.parse(PROVIDERS_DIR, |s| non_empty(s).map(PathBuf::from))?;
        let oauth_apps = oauth_apps::apps_from_env(&src.env).map_err(|message| ConfigError::Invalid {
            setting: "PATCHBAY_<PROVIDER>_CLIENT_ID",
            origin: "from the environment".into(),
            message,
        })?;
        let app_webhook_secrets =
            oauth_apps::webhook_secrets_from_env(&src.env).map_err(|message| ConfigError::Invalid {
                setting: "PATCHBAY_<PROVIDER>_WEBHOOK_SECRET",
                origin: "from the environment".into(),
                message,
            })?;
        let sandbox = src.parse(SANDBOX, parse_switch)?;
        let sandbox_host = src.parse(SANDBOX_HOST, |s| {
            let host = s.trim().to_ascii_lowercase();
            if platform::outbound::account::is_loopback(&host) {
                Ok(host)
            } else {
                Err(format!("`{s}` is not a loopback name: use localhost, 127.0.0.1 or another 127.x address"))
            }
        })?;
        let sandbox_token_life =
            src.parse(SANDBOX_TOKEN_LIFE, parse_bounded_u32(1, 86_400))?.map_or(Duration::from_secs(300), seconds);
        let sandbox_items = sandbox::ItemSettings {
            count: src.parse(SANDBOX_ITEMS, parse_bounded_u32(0, 10_000_000))?.map_or(1_000, u64::from),
            // 0 turns the limit off.
            rate_limit: src
                .parse(SANDBOX_RATE_LIMIT, parse_bounded_u32(0, 100_000))?
                .map_or(Some(sandbox::items::DEFAULT_RATE_LIMIT), |n| (n > 0).then_some(n)),
            fault_rate: src
                .parse(SANDBOX_FAULT_PERCENT, parse_bounded_u32(0, 100))?
                .map_or(0.0, |p| f64::from(p) / 100.0),
            paging: src.parse(SANDBOX_PAGING, |s| s.parse::<sandbox::Paging>())?.unwrap_or_default(),
            mutations: src.parse(SANDBOX_MUTATIONS, sandbox::Mutations::parse)?.unwrap_or_default(),
            kinds: src.parse(SANDBOX_KINDS, sandbox::items::parse_kinds)?.unwrap_or_else(|| vec!["item".to_owned()]),
            basic: src.parse(SANDBOX_BASIC, sandbox::items::BasicAccount::parse)?,
        };
        let sandbox_hooks = sandbox::HookSettings {
            life: src
                .parse(SANDBOX_WEBHOOK_LIFE, parse_bounded_u32(60, 30 * 86_400))?
                .map_or(sandbox::HookSettings::default().life, seconds),
            faults: src.parse(SANDBOX_WEBHOOK_FAULTS, sandbox::HookFaults::parse)?.unwrap_or_default(),
        };
        let webhooks = src.parse(WEBHOOKS, parse_switch)?.unwrap_or(true);
        let webhook_refusals_per_minute =
            src.parse(WEBHOOK_REFUSALS_PER_MINUTE, parse_bounded_u32(1, 1_000_000))?.unwrap_or(600);
        let delivery = platform::delivery::Settings {
            changes_retention: src
                .parse(CHANGES_RETENTION, parse_bounded_u32(60, 365 * 86_400))?
                .map_or(platform::delivery::DEFAULT_RETENTION, seconds),
            requests_per_minute: src
                .parse(API_REQUESTS_PER_MINUTE, parse_bounded_u32(1, 1_000_000))?
                .unwrap_or(platform::delivery::DEFAULT_REQUESTS_PER_MINUTE),
            push_allow_private: src.parse(PUSH_ALLOW_PRIVATE, parse_switch)?.unwrap_or(false),
        };
        let change_feed = src.parse(CHANGE_FEED, parse_switch)?.unwrap_or(true);
        let job_lease =
            src.parse(JOB_LEASE, parse_bounded_u32(3, 3600))?.map_or(platform::jobs::sync::DEFAULT_LEASE, seconds);
        let run_jobs = src.parse(RUN_JOBS, parse_switch)?.unwrap_or(true);
        let provider_timeout =
            src.parse(PROVIDER_TIMEOUT, parse_bounded_u32(1, 300))?.map_or(Duration::from_secs(10), seconds);
        let site = SiteConfig {
            root: src.parse(SITE_ROOT, non_empty)?.unwrap_or_else(|| DEFAULT_SITE_ROOT.into()),
            pkg_dir: src.parse(SITE_PKG_DIR, non_empty)?.unwrap_or_else(|| DEFAULT_SITE_PKG_DIR.into()),
            output_name: src.parse(OUTPUT_NAME, non_empty)?.unwrap_or_else(|| DEFAULT_OUTPUT_NAME.into()),
            reload_port: src
                .parse(RELOAD_PORT, |s| s.trim().parse::<u16>().map_err(|_| "expected a port number".into()))?,
        };
        Ok(Self {
            bind,
            public_url,
            data_dir,
            database_url,
            db_max_connections,
            log_format,
            log_filter,
            shutdown_timeout,
            session_idle_timeout,
            session_absolute_timeout,
            secrets,
            providers_dir,
            provider_timeout,
            oauth_apps,
            app_webhook_secrets,
            sandbox,
            sandbox_host,
            sandbox_token_life,
            sandbox_items,
            sandbox_hooks,
            webhooks,
            webhook_refusals_per_minute,
            delivery,
            change_feed,
            job_lease,
            run_jobs,
            site,
        })
    }

    /// Creates the data directory, naming the setting when that fails.
    pub fn ensure_data_dir(&self) -> Result<(), ConfigError> {
        std::fs::create_dir_all(&self.data_dir).map_err(|e| ConfigError::Invalid {
            setting: DATA_DIR.env,
            origin: "as configured".into(),
            message: format!("cannot create the directory {}: {e}", self.data_dir.display()),
        })
    }
}
