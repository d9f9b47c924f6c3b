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

/// A setting as it appears in the environment and in the config file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Setting {
    env: &'static str,
    key: &'static str,
    /// Whether the value may be echoed in an error message.
    echo: bool,
}

const fn setting(env: &'static str, key: &'static str) -> Setting {
    Setting { env, key, echo: true }
}

const BIND: Setting = setting("PATCHBAY_BIND", "bind");
const PUBLIC_URL: Setting = setting("PATCHBAY_PUBLIC_URL", "public_url");
const DATA_DIR: Setting = setting("PATCHBAY_DATA_DIR", "data_dir");
const DATABASE_URL: Setting = Setting { env: "DATABASE_URL", key: "database_url", echo: false };
const DB_MAX_CONNECTIONS: Setting = setting("PATCHBAY_DB_MAX_CONNECTIONS", "db_max_connections");
const LOG_FORMAT: Setting = setting("PATCHBAY_LOG_FORMAT", "log_format");
const LOG: Setting = setting("PATCHBAY_LOG", "log");
const SHUTDOWN_TIMEOUT: Setting = setting("PATCHBAY_SHUTDOWN_TIMEOUT", "shutdown_timeout");
const SESSION_IDLE_TIMEOUT: Setting = setting("PATCHBAY_SESSION_IDLE_TIMEOUT", "session_idle_timeout");
const SESSION_ABSOLUTE_TIMEOUT: Setting = setting("PATCHBAY_SESSION_ABSOLUTE_TIMEOUT", "session_absolute_timeout");
const SECRETS: Setting = setting("PATCHBAY_SECRETS", "secrets");
const SECRETS_PREFIX: Setting = setting("PATCHBAY_SSM_PREFIX", "ssm_prefix");
const SSM_KMS_KEY_ID: Setting = setting("PATCHBAY_SSM_KMS_KEY_ID", "ssm_kms_key_id");
const SSM_ADVANCED_TIER: Setting = setting("PATCHBAY_SSM_ADVANCED_TIER", "ssm_advanced_tier");
const SECRETS_CACHE_TTL: Setting = setting("PATCHBAY_SECRETS_CACHE_TTL", "secrets_cache_ttl");
const SECRET_KEY: Setting = Setting { env: "PATCHBAY_SECRET_KEY", key: "secret_key", echo: false };
const PROVIDERS_DIR: Setting = setting("PATCHBAY_PROVIDERS_DIR", "providers_dir");
const PROVIDER_TIMEOUT: Setting = setting("PATCHBAY_PROVIDER_TIMEOUT", "provider_timeout");
const SANDBOX: Setting = setting("PATCHBAY_SANDBOX", "sandbox");
const SANDBOX_TOKEN_LIFE: Setting = setting("PATCHBAY_SANDBOX_TOKEN_LIFE", "sandbox_token_life");
const SANDBOX_ITEMS: Setting = setting("PATCHBAY_SANDBOX_ITEMS", "sandbox_items");
const SANDBOX_RATE_LIMIT: Setting = setting("PATCHBAY_SANDBOX_RATE_LIMIT", "sandbox_rate_limit");
const SANDBOX_FAULT_PERCENT: Setting = setting("PATCHBAY_SANDBOX_FAULT_PERCENT", "sandbox_fault_percent");
const JOB_LEASE: Setting = setting("PATCHBAY_JOB_LEASE", "job_lease");
const RUN_JOBS: Setting = setting("PATCHBAY_RUN_JOBS", "run_jobs");
const SITE_ROOT: Setting = setting("LEPTOS_SITE_ROOT", "site_root");
const SITE_PKG_DIR: Setting = setting("LEPTOS_SITE_PKG_DIR", "site_pkg_dir");
const OUTPUT_NAME: Setting = setting("LEPTOS_OUTPUT_NAME", "output_name");
const SITE_ADDR: Setting = setting("LEPTOS_SITE_ADDR", "site_addr");
const RELOAD_PORT: Setting = setting("LEPTOS_RELOAD_PORT", "reload_port");

const SETTINGS: &[Setting] = &[
    BIND,
    PUBLIC_URL,
    DATA_DIR,
    DATABASE_URL,
    DB_MAX_CONNECTIONS,
    LOG_FORMAT,
    LOG,
    SHUTDOWN_TIMEOUT,
    SESSION_IDLE_TIMEOUT,
    SESSION_ABSOLUTE_TIMEOUT,
    SECRETS,
    SECRETS_PREFIX,
    SSM_KMS_KEY_ID,
    SSM_ADVANCED_TIER,
    SECRETS_CACHE_TTL,
    SECRET_KEY,
    PROVIDERS_DIR,
    PROVIDER_TIMEOUT,
    SANDBOX,
    SANDBOX_TOKEN_LIFE,
    SANDBOX_ITEMS,
    SANDBOX_RATE_LIMIT,
    SANDBOX_FAULT_PERCENT,
    JOB_LEASE,
    RUN_JOBS,
    SITE_ROOT,
    SITE_PKG_DIR,
    OUTPUT_NAME,
    SITE_ADDR,
    RELOAD_PORT,
];

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

/// Where a value came from, for error messages.
#[derive(Clone, Debug)]
enum Origin {
    Env,
    File(PathBuf),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Env => f.write_str("from the environment"),
            Origin::File(path) => write!(f, "from {}", path.display()),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The public base URL: scheme and authority only, the root of redirect URIs
/// and links. No trailing slash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicUrl(String);

impl PublicUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }

    /// Whether it names this machine: `127.0.0.1`, `localhost` or `[::1]`.
    pub fn is_loopback(&self) -> bool {
        url::Url::parse(&self.0).ok().and_then(|u| u.host_str().map(str::to_owned)).is_some_and(|host| {
            host == "localhost" || host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        })
    }

    /// The URL a browser uses to reach a server listening on `addr`. A
    /// wildcard address is reached through loopback; `127.0.0.1` is used
    /// rather than `localhost`, which some OAuth providers refuse.
    pub fn for_listen_addr(addr: SocketAddr) -> Self {
        let ip = match addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        Self(format!("http://{}", SocketAddr::new(ip, addr.port())))
    }
}

impl FromStr for PublicUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let url = url::Url::parse(s.trim()).map_err(|e| format!("not a URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("must start with http:// or https://".into());
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("must name a host".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not contain a user name or password".into());
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err("must not have a query or fragment".into());
        }
        if url.path() != "/" {
            return Err("must not have a path: Patchbay is served from the root of its host".into());
        }
        Ok(Self(url.as_str().trim_end_matches('/').to_owned()))
    }
}

impl fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
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
    pub oauth_apps: platform::oauth::Apps,
    /// The demo provider under `/sandbox`: `Some(on)` when set, `None` for
    /// the default (on when the public URL is loopback).
    pub sandbox: Option<bool>,
    /// How long the sandbox's access tokens live.
    pub sandbox_token_life: Duration,
    /// The sandbox's item API: how many items, the rate limit, the faults.
    pub sandbox_items: sandbox::ItemSettings,
    /// How long a worker's claim on a sync job lasts without a heartbeat.
    pub job_lease: Duration,
    /// Whether `serve` runs sync jobs too, or leaves them to workers.
    pub run_jobs: bool,
    pub site: SiteConfig,
}

/// The raw values, before parsing: environment over file.
struct Sources {
    env: HashMap<String, String>,
    file: BTreeMap<String, String>,
    file_path: Option<PathBuf>,
}

impl Sources {
    fn get(&self, s: Setting) -> Option<(String, Origin)> {
        if let Some(v) = self.env.get(s.env).filter(|v| !v.is_empty()) {
            return Some((v.clone(), Origin::Env));
        }
        let path = self.file_path.clone()?;
        self.file.get(s.key).map(|v| (v.clone(), Origin::File(path)))
    }

    /// Parses a setting, or returns `None` when it is not set.
    fn parse<T>(&self, s: Setting, parse: impl FnOnce(&str) -> Result<T, String>) -> Result<Option<T>, ConfigError> {
        let Some((raw, origin)) = self.get(s) else { return Ok(None) };
        parse(&raw).map(Some).map_err(|message| {
            let origin = match &origin {
                Origin::Env => origin.to_string(),
                Origin::File(_) => format!("key `{}` {origin}", s.key),
            };
            let message = if s.echo { format!("`{raw}` is invalid: {message}") } else { message };
            ConfigError::Invalid { setting: s.env, origin, message }
        })
    }
}

fn parse_socket_addr(s: &str) -> Result<SocketAddr, String> {
    s.trim().parse().map_err(|_| "expected an address and port such as 127.0.0.1:3000 or [::1]:3000".into())
}

fn parse_bounded_u32(min: u32, max: u32) -> impl FnOnce(&str) -> Result<u32, String> {
    move |s| match s.trim().parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("expected a whole number from {min} to {max}")),
    }
}

fn parse_switch(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "1" | "yes" => Ok(true),
        "off" | "false" | "0" | "no" => Ok(false),
        _ => Err("expected `on` or `off`".into()),
    }
}

fn non_empty(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() { Err("must not be empty".into()) } else { Ok(s.to_owned()) }
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
        let oauth_apps = platform::oauth::apps_from_env(&src.env).map_err(|message| ConfigError::Invalid {
            setting: "PATCHBAY_<PROVIDER>_CLIENT_ID",
            origin: "from the environment".into(),
            message,
        })?;
        let sandbox = src.parse(SANDBOX, parse_switch)?;
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
        };
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
            sandbox,
            sandbox_token_life,
            sandbox_items,
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

/// The secret store: `local` (the embedded default) or `ssm`. Settings that
/// belong to the other backend are refused rather than silently ignored.
fn secrets_config(src: &Sources, data_dir: &Path) -> Result<SecretsConfig, ConfigError> {
    let ssm = src
        .parse(SECRETS, |s| match s.trim() {
            "local" => Ok(false),
            "ssm" => Ok(true),
            _ => Err("expected `local` or `ssm`".into()),
        })?
        .unwrap_or(false);
    let prefix = src.parse(SECRETS_PREFIX, |s| Prefix::parse(s).map_err(|e| e.to_string()))?.unwrap_or_default();
    let key = src.parse(SECRET_KEY, |s| Ok(SecretString::from(s.trim().to_owned())))?;
    let kms_key_id = src.parse(SSM_KMS_KEY_ID, non_empty)?;
    let advanced_tier = src.parse(SSM_ADVANCED_TIER, parse_switch)?;
    let cache_ttl = src.parse(SECRETS_CACHE_TTL, parse_bounded_u32(0, 3600))?;
    let only_for = |setting: Setting, backend: &str| ConfigError::Invalid {
        setting: setting.env,
        origin: "as configured".into(),
        message: format!("applies only to PATCHBAY_SECRETS={backend}"),
    };
    if !ssm {
        for (set, setting) in [
            (kms_key_id.is_some(), SSM_KMS_KEY_ID),
            (advanced_tier.is_some(), SSM_ADVANCED_TIER),
            (cache_ttl.is_some(), SECRETS_CACHE_TTL),
        ] {
            if set {
                return Err(only_for(setting, "ssm"));
            }
        }
        let key = key.map_or_else(|| KeySource::File(data_dir.to_owned()), KeySource::Env);
        return Ok(SecretsConfig::Local(LocalSettings { prefix, key }));
    }
    if key.is_some() {
        return Err(only_for(SECRET_KEY, "local"));
    }
    let mut settings = SsmSettings::new(prefix);
    settings.kms_key_id = kms_key_id;
    settings.advanced_tier = advanced_tier.unwrap_or(false);
    if let Some(ttl) = cache_ttl {
        settings.cache_ttl = Duration::from_secs(u64::from(ttl));
    }
    Ok(SecretsConfig::Ssm(settings))
}

fn read_file(path: &Path) -> Result<BTreeMap<String, String>, ConfigError> {
    let file_error = |reason: String| ConfigError::File { path: path.display().to_string(), reason };
    let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| file_error(e.message().to_owned()))?;
    let mut values = BTreeMap::new();
    for (key, value) in table {
        if !SETTINGS.iter().any(|s| s.key == key) {
            let known = SETTINGS.iter().map(|s| s.key).collect::<Vec<_>>().join(", ");
            return Err(ConfigError::UnknownKey { key, path: path.display().to_string(), known });
        }
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => return Err(file_error(format!("`{key}` must be a string or a number, not {}", other.type_str()))),
        };
        values.insert(key, value);
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn error_of(pairs: &[(&str, &str)]) -> String {
        Config::load(env(pairs)).expect_err("configuration should be refused").to_string()
    }

    #[test]
    fn an_empty_environment_gives_the_embedded_defaults() {
        let config = Config::load(HashMap::new()).unwrap();
        assert_eq!(config.bind, DEFAULT_BIND);
        assert_eq!(config.public_url, None);
        assert_eq!(config.data_dir, PathBuf::from("data"));
        assert_eq!(config.database_url.backend(), platform::Backend::Sqlite);
        assert_eq!(config.log_format, LogFormat::Text);
        assert_eq!(config.site.root, "target/site");
        assert_eq!(config.site.pkg_dir, "pkg");
    }

    #[test]
    fn each_invalid_setting_is_named_in_its_error() {
        let cases: &[(&str, &str)] = &[
            ("PATCHBAY_BIND", "not-an-address"),
            ("PATCHBAY_PUBLIC_URL", "ftp://example.com"),
            ("PATCHBAY_PUBLIC_URL", "https://example.com/sub/path"),
            ("PATCHBAY_PUBLIC_URL", "https://user:pw@example.com"),
            ("DATABASE_URL", "mysql://localhost/x"),
            ("PATCHBAY_DB_MAX_CONNECTIONS", "0"),
            ("PATCHBAY_LOG_FORMAT", "xml"),
            ("PATCHBAY_LOG", "info,[[["),
            ("PATCHBAY_SHUTDOWN_TIMEOUT", "-1"),
            ("LEPTOS_SITE_ADDR", "nowhere"),
            ("LEPTOS_RELOAD_PORT", "99999"),
            ("PATCHBAY_SECRETS", "vault"),
            ("PATCHBAY_SSM_PREFIX", "/aws/patchbay"),
            ("PATCHBAY_SSM_PREFIX", "/patch bay"),
        ];
        for (name, value) in cases {
            let message = error_of(&[(name, value)]);
            assert!(message.starts_with(name), "{name}={value} gave: {message}");
            assert!(message.contains("from the environment"), "{message}");
        }
    }

    #[test]
    fn database_url_errors_do_not_echo_the_url() {
        let message = error_of(&[("DATABASE_URL", "mysql://user:canary-password@db/x")]);
        assert!(message.starts_with("DATABASE_URL"), "{message}");
        assert!(!message.contains("canary-password"), "{message}");
    }

    #[test]
    fn the_local_secret_store_is_the_default_with_its_key_file_in_the_data_dir() {
        let config = Config::load(env(&[("PATCHBAY_DATA_DIR", "/srv/pb")])).unwrap();
        let SecretsConfig::Local(local) = config.secrets else { panic!("expected the local store") };
        assert_eq!(local.prefix.as_str(), "/patchbay");
        assert!(matches!(local.key, KeySource::File(dir) if dir == Path::new("/srv/pb")));
    }

    #[test]
    fn ssm_settings_are_read_and_settings_of_the_other_backend_are_refused() {
        let config = Config::load(env(&[
            ("PATCHBAY_SECRETS", "ssm"),
            ("PATCHBAY_SSM_PREFIX", "/corp/patchbay"),
            ("PATCHBAY_SSM_KMS_KEY_ID", "alias/patchbay"),
            ("PATCHBAY_SSM_ADVANCED_TIER", "on"),
            ("PATCHBAY_SECRETS_CACHE_TTL", "60"),
        ]))
        .unwrap();
        let SecretsConfig::Ssm(ssm) = config.secrets else { panic!("expected SSM") };
        assert_eq!(ssm.prefix.as_str(), "/corp/patchbay");
        assert_eq!(ssm.kms_key_id.as_deref(), Some("alias/patchbay"));
        assert!(ssm.advanced_tier);
        assert_eq!(ssm.cache_ttl, Duration::from_secs(60));

        let message = error_of(&[("PATCHBAY_SSM_ADVANCED_TIER", "on")]);
        assert!(
            message.starts_with("PATCHBAY_SSM_ADVANCED_TIER") && message.contains("PATCHBAY_SECRETS=ssm"),
            "{message}"
        );
        let message = error_of(&[("PATCHBAY_SECRETS", "ssm"), ("PATCHBAY_SECRET_KEY", "canary-key-value")]);
        assert!(message.starts_with("PATCHBAY_SECRET_KEY"), "{message}");
        assert!(!message.contains("canary-key-value"), "{message}");
    }

    #[test]
    fn the_environment_overrides_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("patchbay.toml");
        std::fs::write(&path, "bind = \"127.0.0.1:4000\"\ndata_dir = \"/srv/patchbay\"\ndb_max_connections = 3\n")
            .unwrap();
        let config =
            Config::load(env(&[("PATCHBAY_CONFIG", path.to_str().unwrap()), ("PATCHBAY_BIND", "127.0.0.1:5000")]))
                .unwrap();
        assert_eq!(config.bind.port(), 5000);
        assert_eq!(config.data_dir, PathBuf::from("/srv/patchbay"));
        assert_eq!(config.db_max_connections, 3);
    }

    #[test]
    fn a_config_file_can_set_every_setting_the_environment_can() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("patchbay.toml");
        let text = "secrets = \"ssm\"\nssm_prefix = \"/corp/pb\"\nsecrets_cache_ttl = 30\n\
                    providers_dir = \"/etc/patchbay/providers\"\nprovider_timeout = 25\n\
                    session_idle_timeout = 600\n";
        std::fs::write(&path, text).unwrap();
        let config = Config::load(env(&[("PATCHBAY_CONFIG", path.to_str().unwrap())])).unwrap();
        assert!(matches!(&config.secrets, SecretsConfig::Ssm(s) if s.cache_ttl == Duration::from_secs(30)));
        assert_eq!(config.providers_dir, Some(PathBuf::from("/etc/patchbay/providers")));
        assert_eq!(config.provider_timeout, Duration::from_secs(25));
        assert_eq!(config.session_idle_timeout, Duration::from_secs(600));
        assert_eq!(config.sandbox, None);
        // Every setting has a file key, and each key is listed once.
        let keys: std::collections::BTreeSet<&str> = SETTINGS.iter().map(|s| s.key).collect();
        assert_eq!(keys.len(), SETTINGS.len());
    }

    #[test]
    fn config_file_errors_name_the_setting_the_key_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("patchbay.toml");
        std::fs::write(&path, "public_url = \"https://console.example.com/x\"\n").unwrap();
        let message = error_of(&[("PATCHBAY_CONFIG", path.to_str().unwrap())]);
        assert!(message.starts_with("PATCHBAY_PUBLIC_URL (key `public_url` from "), "{message}");
        assert!(message.contains("patchbay.toml"), "{message}");

        std::fs::write(&path, "bnd = \"127.0.0.1:1\"\n").unwrap();
        let message = error_of(&[("PATCHBAY_CONFIG", path.to_str().unwrap())]);
        assert!(message.contains("unknown key `bnd`"), "{message}");

        let message = error_of(&[("PATCHBAY_CONFIG", "/nonexistent/patchbay.toml")]);
        assert!(message.starts_with("PATCHBAY_CONFIG: cannot read /nonexistent/patchbay.toml"), "{message}");
    }

    #[test]
    fn public_url_is_normalised_and_derived_from_loopback() {
        let url: PublicUrl = "https://console.example.com/".parse().unwrap();
        assert_eq!(url.as_str(), "https://console.example.com");
        assert!(url.is_https());
        assert_eq!(PublicUrl::for_listen_addr("0.0.0.0:3000".parse().unwrap()).as_str(), "http://127.0.0.1:3000");
        assert_eq!(PublicUrl::for_listen_addr("[::]:3000".parse().unwrap()).as_str(), "http://[::1]:3000");
    }

    #[test]
    fn leptos_site_addr_is_the_bind_address_when_patchbay_bind_is_unset() {
        let config = Config::load(env(&[("LEPTOS_SITE_ADDR", "127.0.0.1:3999")])).unwrap();
        assert_eq!(config.bind.port(), 3999);
        let config =
            Config::load(env(&[("LEPTOS_SITE_ADDR", "127.0.0.1:3999"), ("PATCHBAY_BIND", "127.0.0.1:4001")])).unwrap();
        assert_eq!(config.bind.port(), 4001);
    }
}
