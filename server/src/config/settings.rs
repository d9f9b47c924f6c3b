//! Every setting: its variable and its config-file key, in one table.

/// A setting as it appears in the environment and in the config file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Setting {
    pub(super) env: &'static str,
    pub(super) key: &'static str,
    /// Whether the value may be echoed in an error message.
    pub(super) echo: bool,
}

pub(super) const fn setting(env: &'static str, key: &'static str) -> Setting {
    Setting { env, key, echo: true }
}

pub(super) const BIND: Setting = setting("PATCHBAY_BIND", "bind");
pub(super) const PUBLIC_URL: Setting = setting("PATCHBAY_PUBLIC_URL", "public_url");
pub(super) const DATA_DIR: Setting = setting("PATCHBAY_DATA_DIR", "data_dir");
pub(super) const DATABASE_URL: Setting = Setting { env: "DATABASE_URL", key: "database_url", echo: false };
pub(super) const DB_MAX_CONNECTIONS: Setting = setting("PATCHBAY_DB_MAX_CONNECTIONS", "db_max_connections");
pub(super) const LOG_FORMAT: Setting = setting("PATCHBAY_LOG_FORMAT", "log_format");
pub(super) const LOG: Setting = setting("PATCHBAY_LOG", "log");
pub(super) const SHUTDOWN_TIMEOUT: Setting = setting("PATCHBAY_SHUTDOWN_TIMEOUT", "shutdown_timeout");
pub(super) const SESSION_IDLE_TIMEOUT: Setting = setting("PATCHBAY_SESSION_IDLE_TIMEOUT", "session_idle_timeout");
pub(super) const SESSION_ABSOLUTE_TIMEOUT: Setting =
    setting("PATCHBAY_SESSION_ABSOLUTE_TIMEOUT", "session_absolute_timeout");
pub(super) const SECRETS: Setting = setting("PATCHBAY_SECRETS", "secrets");
pub(super) const SECRETS_PREFIX: Setting = setting("PATCHBAY_SSM_PREFIX", "ssm_prefix");
pub(super) const SSM_KMS_KEY_ID: Setting = setting("PATCHBAY_SSM_KMS_KEY_ID", "ssm_kms_key_id");
pub(super) const SSM_ADVANCED_TIER: Setting = setting("PATCHBAY_SSM_ADVANCED_TIER", "ssm_advanced_tier");
pub(super) const SECRETS_CACHE_TTL: Setting = setting("PATCHBAY_SECRETS_CACHE_TTL", "secrets_cache_ttl");
pub(super) const SECRET_KEY: Setting = Setting { env: "PATCHBAY_SECRET_KEY", key: "secret_key", echo: false };
pub(super) const PROVIDERS_DIR: Setting = setting("PATCHBAY_PROVIDERS_DIR", "providers_dir");
pub(super) const PROVIDER_TIMEOUT: Setting = setting("PATCHBAY_PROVIDER_TIMEOUT", "provider_timeout");
pub(super) const SANDBOX: Setting = setting("PATCHBAY_SANDBOX", "sandbox");
pub(super) const SANDBOX_HOST: Setting = setting("PATCHBAY_SANDBOX_HOST", "sandbox_host");
pub(super) const SANDBOX_TOKEN_LIFE: Setting = setting("PATCHBAY_SANDBOX_TOKEN_LIFE", "sandbox_token_life");
pub(super) const SANDBOX_ITEMS: Setting = setting("PATCHBAY_SANDBOX_ITEMS", "sandbox_items");
pub(super) const SANDBOX_RATE_LIMIT: Setting = setting("PATCHBAY_SANDBOX_RATE_LIMIT", "sandbox_rate_limit");
pub(super) const SANDBOX_FAULT_PERCENT: Setting = setting("PATCHBAY_SANDBOX_FAULT_PERCENT", "sandbox_fault_percent");
pub(super) const SANDBOX_PAGING: Setting = setting("PATCHBAY_SANDBOX_PAGING", "sandbox_paging");
pub(super) const SANDBOX_MUTATIONS: Setting = setting("PATCHBAY_SANDBOX_MUTATIONS", "sandbox_mutations");
pub(super) const SANDBOX_KINDS: Setting = setting("PATCHBAY_SANDBOX_KINDS", "sandbox_kinds");
pub(super) const SANDBOX_BASIC: Setting = Setting { env: "PATCHBAY_SANDBOX_BASIC", key: "sandbox_basic", echo: false };
pub(super) const SANDBOX_WEBHOOK_FAULTS: Setting = setting("PATCHBAY_SANDBOX_WEBHOOK_FAULTS", "sandbox_webhook_faults");
pub(super) const SANDBOX_WEBHOOK_LIFE: Setting = setting("PATCHBAY_SANDBOX_WEBHOOK_LIFE", "sandbox_webhook_life");
pub(super) const WEBHOOKS: Setting = setting("PATCHBAY_WEBHOOKS", "webhooks");
pub(super) const WEBHOOK_REFUSALS_PER_MINUTE: Setting =
    setting("PATCHBAY_WEBHOOK_REFUSALS_PER_MINUTE", "webhook_refusals_per_minute");
pub(super) const CHANGE_FEED: Setting = setting("PATCHBAY_CHANGE_FEED", "change_feed");
pub(super) const CHANGES_RETENTION: Setting = setting("PATCHBAY_CHANGES_RETENTION", "changes_retention");
pub(super) const API_REQUESTS_PER_MINUTE: Setting =
    setting("PATCHBAY_API_REQUESTS_PER_MINUTE", "api_requests_per_minute");
pub(super) const PUSH_ALLOW_PRIVATE: Setting = setting("PATCHBAY_PUSH_ALLOW_PRIVATE", "push_allow_private");
pub(super) const JOB_LEASE: Setting = setting("PATCHBAY_JOB_LEASE", "job_lease");
pub(super) const RUN_JOBS: Setting = setting("PATCHBAY_RUN_JOBS", "run_jobs");
pub(super) const SITE_ROOT: Setting = setting("LEPTOS_SITE_ROOT", "site_root");
pub(super) const SITE_PKG_DIR: Setting = setting("LEPTOS_SITE_PKG_DIR", "site_pkg_dir");
pub(super) const OUTPUT_NAME: Setting = setting("LEPTOS_OUTPUT_NAME", "output_name");
pub(super) const SITE_ADDR: Setting = setting("LEPTOS_SITE_ADDR", "site_addr");
pub(super) const RELOAD_PORT: Setting = setting("LEPTOS_RELOAD_PORT", "reload_port");

pub(super) const SETTINGS: &[Setting] = &[
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
    SANDBOX_HOST,
    SANDBOX_TOKEN_LIFE,
    SANDBOX_ITEMS,
    SANDBOX_RATE_LIMIT,
    SANDBOX_FAULT_PERCENT,
    SANDBOX_PAGING,
    SANDBOX_MUTATIONS,
    SANDBOX_KINDS,
    SANDBOX_BASIC,
    SANDBOX_WEBHOOK_FAULTS,
    SANDBOX_WEBHOOK_LIFE,
    WEBHOOKS,
    WEBHOOK_REFUSALS_PER_MINUTE,
    CHANGE_FEED,
    CHANGES_RETENTION,
    API_REQUESTS_PER_MINUTE,
    PUSH_ALLOW_PRIVATE,
    JOB_LEASE,
    RUN_JOBS,
    SITE_ROOT,
    SITE_PKG_DIR,
    OUTPUT_NAME,
    SITE_ADDR,
    RELOAD_PORT,
];
