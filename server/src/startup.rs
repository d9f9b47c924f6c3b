//! Building and running the application: the same path for the binary and
//! for tests, which bind port 0 against a fresh database.

use std::{net::SocketAddr, path::Path, sync::Arc, time::Duration};

use anyhow::Context as _;
use app::{App, shell};
use axum::{Router, extract::FromRef, routing::get};
use leptos::{
    config::{Env, LeptosOptions},
    prelude::provide_context,
};
use leptos_axum::{LeptosRoutes as _, generate_route_list};
use platform::store::sessions::DbSessionStore;
use platform::{Db, Platform};
use tokio::net::TcpListener;
use tower_http::{
    compression::CompressionLayer,
    trace::{DefaultOnResponse, TraceLayer},
};
use tower_sessions::{Expiry, SessionManagerLayer, cookie::SameSite};
use tracing::Level;

use crate::{
    config::{Config, PublicUrl, SiteConfig},
    middleware::{
        auth::{AuthState, authenticate},
        csrf::{CsrfGuard, refuse_cross_site},
        metrics::{self, HttpMetrics},
        security_headers::{SecurityHeaders, security_headers},
    },
    routes::ops,
};

/// The session cookie's name: not the library default (SECURITY B1).
pub const SESSION_COOKIE: &str = "patchbay_session";

/// What handlers and server functions share.
#[derive(Clone, Debug)]
pub struct AppState {
    pub leptos: LeptosOptions,
    pub platform: Platform,
    /// The base of redirect URIs.
    pub public_url: PublicUrl,
    pub metrics: Arc<HttpMetrics>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

/// A server that is bound and migrated, ready to run.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    router: Router,
    platform: Platform,
    public_url: PublicUrl,
    sandbox: Option<sandbox::Sandbox>,
    shutdown_timeout: Duration,
    /// Whether this process also runs sync jobs (`PATCHBAY_RUN_JOBS`).
    run_jobs: bool,
}

/// Connects to the configured database and applies pending migrations. Used
/// by `serve` and by `migrate`.
pub async fn connect_and_migrate(config: &Config) -> anyhow::Result<Db> {
    config.ensure_data_dir()?;
    let db = Db::connect(&config.database_url, config.db_max_connections)
        .await
        .with_context(|| format!("DATABASE_URL: cannot connect to {}", config.database_url))?;
    db.migrate().await.context("DATABASE_URL: applying migrations failed")?;
    Ok(db)
}

/// The provider catalog: the built-in files and `PATCHBAY_PROVIDERS_DIR`.
/// Any problem in a file stops start-up, naming the file and the key.
pub fn load_catalog(config: &Config) -> anyhow::Result<platform::catalog::Catalog> {
    let site_logos = Path::new(&config.site.root).join(platform::catalog::LOGO_DIR);
    platform::catalog::Catalog::load(config.providers_dir.as_deref(), &site_logos)
        .map_err(|problems| anyhow::anyhow!("PATCHBAY_PROVIDERS_DIR: the provider catalog has problems:\n{problems}"))
}

/// Opens the configured secret store. A key or AWS setting that cannot work
/// stops start-up here, with the reason.
pub async fn open_secret_store(
    config: &Config,
    db: &Db,
) -> anyhow::Result<std::sync::Arc<dyn platform::secrets::SecretStore>> {
    platform::secrets::open(&config.secrets, db).await.map_err(|e| anyhow::anyhow!("secret store: {e}"))
}

impl Application {
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        Self::build_with(config, |_| {}).await
    }

    /// [`Application::build`], with a last change to the platform before
    /// anything is served: tests wrap the secret store to see what a
    /// request reads.
    pub async fn build_with(config: &Config, adjust: impl FnOnce(&mut Platform)) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("PATCHBAY_BIND: cannot listen on {}", config.bind))?;
        let addr = listener.local_addr()?;
        let public_url = config.public_url.clone().unwrap_or_else(|| PublicUrl::for_listen_addr(addr));

        let (mut platform, sandbox) = build_platform(config, &public_url).await?;
        adjust(&mut platform);
        warn_if_site_missing(&config.site);
        let state = AppState {
            leptos: leptos_options(&config.site, addr),
            platform: platform.clone(),
            public_url: public_url.clone(),
            metrics: Arc::new(HttpMetrics::new().context("registering metrics")?),
        };
        let headers = SecurityHeaders {
            hsts: public_url.is_https(),
            reload_port: config.site.reload_port,
            form_action: SecurityHeaders::form_action(&SecurityHeaders::form_origins(&platform.catalog, &public_url)),
        };
        let router = router(state, headers, config, &public_url, sandbox.as_ref())?;
        Ok(Self {
            listener,
            router,
            platform,
            public_url,
            sandbox,
            shutdown_timeout: config.shutdown_timeout,
            run_jobs: config.run_jobs,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        // The listener was bound in `build`; its address is known.
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The platform this application serves, for tests that arrange and check its state.
    pub fn platform(&self) -> &Platform {
        &self.platform
    }

    /// The sandbox demo provider, when it is on.
    pub fn sandbox(&self) -> Option<&sandbox::Sandbox> {
        self.sandbox.as_ref()
    }

    pub fn public_url(&self) -> &PublicUrl {
        &self.public_url
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish
    /// for up to the configured timeout and closes the database pool.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
        let serve = axum::serve(self.listener, self.router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                let _ = stop_rx.wait_for(|stop| *stop).await;
            });
        let mut serve = std::pin::pin!(serve.into_future());
        let sweeper = tokio::spawn(sweep_expired_sessions(DbSessionStore::new(self.platform.db.clone())));
        // Every job kind in the registry, revoke retries (SECURITY D6) included.
        let worker = self.run_jobs.then(|| {
            tokio::spawn(platform::jobs::keep_working(
                self.platform.clone(),
                platform::jobs::worker_name("serve"),
                Duration::from_secs(1),
            ))
        });
        tokio::select! {
            result = &mut serve => result.context("serving HTTP")?,
            () = shutdown => {
                tracing::info!("shutting down: finishing in-flight requests");
                let _ = stop_tx.send(true);
                match tokio::time::timeout(self.shutdown_timeout, &mut serve).await {
                    Ok(result) => result.context("serving HTTP")?,
                    Err(_) => tracing::warn!(timeout = ?self.shutdown_timeout, "requests still running at the shutdown timeout were cut off"),
                }
            }
        }
        sweeper.abort();
        if let Some(worker) = worker {
            worker.abort();
        }
        self.platform.db.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Deletes expired sessions every ten minutes.
async fn sweep_expired_sessions(store: DbSessionStore) {
    let mut every = tokio::time::interval(Duration::from_secs(600));
    loop {
        every.tick().await;
        match store.delete_expired().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(deleted = n, "expired sessions swept"),
            Err(error) => tracing::warn!(%error, "sweeping expired sessions failed"),
        }
    }
}

fn leptos_options(site: &SiteConfig, addr: SocketAddr) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name(site.output_name.as_str())
        .site_root(site.root.as_str())
        .site_pkg_dir(site.pkg_dir.as_str())
        .site_addr(addr)
        .env(if site.reload_port.is_some() { Env::DEV } else { Env::PROD })
        .reload_port(site.reload_port.map_or(3001, u32::from))
        .build()
}

/// The platform a console or a worker runs on: the database (migrated),
/// the catalog (with the sandbox's entry when it is on), the secret store,
/// the HTTP client and the OAuth apps. A worker passes the public URL the
/// console serves at, so that its catalog names the same sandbox.
pub async fn build_platform(
    config: &Config,
    public_url: &PublicUrl,
) -> anyhow::Result<(Platform, Option<sandbox::Sandbox>)> {
    let mut db = connect_and_migrate(config).await?;
    if !config.change_feed {
        db = db.without_change_feed();
    }
    platform::store::instance::ensure(&db).await.context("recording this deployment's identity")?;

    let mut catalog = load_catalog(config)?;
    let sandbox = sandbox_for(config, public_url)?;
    if let Some(sandbox) = &sandbox {
        catalog
            .add_built_in("sandbox.toml", &sandbox.provider_file())
            .map_err(|problems| anyhow::anyhow!("PATCHBAY_SANDBOX: the sandbox's catalog entry: {problems}"))?;
        if let Some(file) = sandbox.basic_provider_file() {
            catalog.add_built_in("sandbox-basic.toml", &file).map_err(|problems| {
                anyhow::anyhow!("PATCHBAY_SANDBOX_BASIC: the sandbox's password entry: {problems}")
            })?;
        }
        tracing::info!(issuer = %sandbox.settings().issuer, "the sandbox demo provider is on");
    }
    let secrets = open_secret_store(config, &db).await?;
    let http = platform::outbound::http::Http::new(config.provider_timeout)
        .context("starting the HTTP client for calls to providers (TLS root certificates)")?;
    let apps = config.oauth_apps.clone();
    let mut built_in = platform::outbound::oauth2::Apps::new();
    if sandbox.is_some() {
        built_in.insert(
            platform::ids::ProviderId::parse("sandbox").expect("`sandbox` is a provider id"),
            platform::outbound::oauth2::AppCredentials {
                client_id: sandbox::CLIENT_ID.into(),
                client_secret: sandbox::CLIENT_SECRET.to_owned().into(),
            },
        );
    }
    for id in apps.keys().filter(|id| catalog.get(id).is_none()) {
        tracing::warn!(provider = %id, "an OAuth app is configured for a provider that is not in the catalog");
    }
    let mut platform = Platform::new(db, secrets, Arc::new(catalog), http).with_oauth_apps(apps, built_in);
    platform.job_lease = config.job_lease;
    platform.webhooks = platform::webhooks::Settings {
        enabled: config.webhooks,
        public_url: public_url.to_string(),
        refusals_per_minute: config.webhook_refusals_per_minute,
        app_secrets: config.app_webhook_secrets.clone(),
    };
    platform.delivery = config.delivery.clone();
    Ok((platform, sandbox))
}

/// The public URL of the console that `config` describes, for processes
/// that do not listen themselves (a worker, a foreground backfill).
pub fn configured_public_url(config: &Config) -> PublicUrl {
    config.public_url.clone().unwrap_or_else(|| PublicUrl::for_listen_addr(config.bind))
}

/// The sandbox demo provider, when it is on: by default only where the
/// console is reached through loopback, so a deployment never serves it by
/// accident. Its catalog entry needs https or loopback, like any other.
fn sandbox_for(config: &Config, public_url: &PublicUrl) -> anyhow::Result<Option<sandbox::Sandbox>> {
    let on = config.sandbox.unwrap_or_else(|| public_url.is_loopback());
    if !on {
        return Ok(None);
    }
    if !public_url.is_https() && !public_url.is_loopback() {
        anyhow::bail!(
            "PATCHBAY_SANDBOX: the sandbox needs PATCHBAY_PUBLIC_URL to be https or loopback, not {public_url}"
        );
    }
    let mut base = url::Url::parse(public_url.as_str()).context("the public URL")?;
    if let Some(host) = &config.sandbox_host {
        base.set_host(Some(host)).map_err(|e| anyhow::anyhow!("PATCHBAY_SANDBOX_HOST: {e}"))?;
    }
    Ok(Some(sandbox::Sandbox::new(sandbox::Settings {
        issuer: format!("{}/sandbox", base.as_str().trim_end_matches('/')),
        redirect_uris: vec![format!("{public_url}/oauth/sandbox/callback")],
        access_token_life: config.sandbox_token_life,
        items: config.sandbox_items.clone(),
        hooks: config.sandbox_hooks.clone(),
    })))
}

/// The app's routes, generated once per process. Generating them renders
/// the app with resource loading switched off through a process-wide flag
/// (leptos_server's `SuppressResourceLoad`); a resource that a page being
/// served polls for the first time meanwhile never loads, and that response
/// never ends (leptos issue #4773). A second console built in the same
/// process (the tests build many, in parallel) must not generate them again
/// while the first serves pages.
fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

fn router(
    state: AppState,
    headers: SecurityHeaders,
    config: &Config,
    public_url: &PublicUrl,
    sandbox: Option<&sandbox::Sandbox>,
) -> anyhow::Result<Router> {
    // The root's redirect is answered here rather than by rendering the
    // app's `<Redirect>`: rendered on the server, that redirect was at
    // times lost, and a browser without JavaScript stayed on `/`.
    let routes: Vec<_> = route_list().into_iter().filter(|route| route.path() != "/").collect();
    let context = {
        let platform = state.platform.clone();
        let base = app::ssr::PublicBase(public_url.to_string());
        move || {
            provide_context(platform.clone());
            provide_context(base.clone());
        }
    };
    let idle = time::Duration::try_from(config.session_idle_timeout).context("PATCHBAY_SESSION_IDLE_TIMEOUT")?;
    // SameSite=Lax: the OAuth provider's redirect back is a top-level GET
    // from another site, and must carry the session (SECURITY B2).
    let sessions = SessionManagerLayer::new(DbSessionStore::new(state.platform.db.clone()))
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_secure(public_url.is_https())
        .with_same_site(SameSite::Lax)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(idle));
    let auth = Arc::new(AuthState {
        platform: state.platform.clone(),
        idle_timeout: config.session_idle_timeout,
        absolute_timeout: config.session_absolute_timeout,
        set_up: false.into(),
    });
    let csrf = Arc::new(CsrfGuard { public_url: public_url.clone() });
    let render = {
        let options = state.leptos.clone();
        move || shell(options.clone())
    };
    // Providers' deliveries: no session, no CSRF check, no page headers;
    // their signature is their credential (routes::webhooks).
    let webhooks = Router::new()
        .route("/webhooks/{provider}", axum::routing::post(crate::routes::webhooks::receive_app))
        .route("/webhooks/{provider}/{endpoint}", axum::routing::post(crate::routes::webhooks::receive))
        .layer(axum::middleware::from_fn_with_state(state.metrics.clone(), metrics::track))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &http::Request<_>| {
                    tracing::info_span!("webhook", method = %request.method(), path = %request.uri().path())
                })
                .on_response(DefaultOnResponse::new().level(Level::DEBUG)),
        );
    // The records API: a bearer token per request, no session, no CSRF
    // check (a cookie is no credential here), no page headers.
    let api = Router::new()
        .route("/api/v1/changes", get(crate::routes::api::changes))
        .route("/api/v1/records", get(crate::routes::api::list_records))
        .route("/api/v1/records/{provider}/{entity_type}/{entity_id}", get(crate::routes::api::get_record))
        .route("/api/v1/search", get(crate::routes::api::search))
        .route("/api/v1/connections", get(crate::routes::api::connections))
        .route("/api/v1/openapi.json", get(crate::routes::api::openapi))
        .route("/api/v1/{*rest}", axum::routing::any(crate::routes::api::unknown))
        .layer(CompressionLayer::new())
        .layer(axum::middleware::from_fn_with_state(state.metrics.clone(), metrics::track))
        .layer(
            // Paths only: never a header, so never a token (SECURITY I2).
            TraceLayer::new_for_http()
                .make_span_with(|request: &http::Request<_>| {
                    tracing::info_span!("api", method = %request.method(), path = %request.uri().path())
                })
                .on_response(DefaultOnResponse::new().level(Level::DEBUG)),
        );
    // The MCP server: the same token check first, then the SDK.
    let mcp = Router::new()
        .nest_service("/mcp", crate::routes::mcp::service(state.clone(), mcp_hosts(public_url)))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::routes::mcp::authenticate))
        .layer(axum::middleware::from_fn_with_state(state.metrics.clone(), metrics::track))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &http::Request<_>| {
                    tracing::info_span!("mcp", method = %request.method(), path = %request.uri().path())
                })
                .on_response(DefaultOnResponse::new().level(Level::DEBUG)),
        );
    let mut router = Router::new();
    if let Some(sandbox) = sandbox {
        router = router.nest("/sandbox", sandbox.router());
    }
    Ok(router
        .route("/", get(|| async { axum::response::Redirect::to("/integrations") }))
        .route("/oauth/{provider}/start", get(crate::routes::oauth::confirm).post(crate::routes::oauth::start))
        .route("/oauth/{provider}/callback", get(crate::routes::oauth::callback))
        .route("/api/sync/{provider}/events", get(crate::routes::sync::events))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .leptos_routes_with_context(&state, routes, context.clone(), render)
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(context, shell))
        .layer(CompressionLayer::new())
        .layer(axum::middleware::from_fn_with_state(auth, authenticate))
        .layer(sessions)
        .layer(axum::middleware::from_fn_with_state(csrf, refuse_cross_site))
        .layer(axum::middleware::from_fn_with_state(Arc::new(headers), security_headers))
        .layer(axum::middleware::from_fn_with_state(state.metrics.clone(), metrics::track))
        .layer(
            // Paths only: query strings can carry OAuth codes and must not be logged.
            TraceLayer::new_for_http()
                .make_span_with(|request: &http::Request<_>| {
                    tracing::info_span!("http", method = %request.method(), path = %request.uri().path())
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .merge(webhooks)
        .merge(api)
        .merge(mcp)
        .with_state(state))
}

/// The `Host` names MCP requests may carry: the public URL's, and
/// loopback's. The SDK refuses others, against DNS rebinding.
fn mcp_hosts(public_url: &PublicUrl) -> Vec<String> {
    let mut hosts = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    if let Some(host) = url::Url::parse(public_url.as_str()).ok().and_then(|u| u.host_str().map(str::to_owned)) {
        hosts.push(host.trim_start_matches('[').trim_end_matches(']').to_owned());
    }
    hosts
}

fn warn_if_site_missing(site: &SiteConfig) {
    let wasm = Path::new(&site.root).join(&site.pkg_dir).join(format!("{}.wasm", site.output_name));
    if !wasm.exists() {
        tracing::warn!(
            site_root = %site.root,
            "the console's compiled assets are missing ({} not found): pages render without styles or \
             interactivity; build them with `cargo leptos build`, or set LEPTOS_SITE_ROOT",
            wasm.display()
        );
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("received SIGINT"),
        () = terminate => tracing::info!("received SIGTERM"),
    }
}
