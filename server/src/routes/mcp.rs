//! The MCP server at `/mcp` (DESIGN: Delivering records; SECURITY I1):
//! agents search and read a team's records over the Streamable HTTP
//! transport of the official Rust SDK.
//!
//! Every request carries a team API token with the `mcp` scope, checked
//! by [`authenticate`] before the SDK sees the request, exactly as the
//! records API checks its own (a refusal is the same JSON 401). The
//! caller's team rides in the request's extensions, and each tool reads
//! it from there: a tool never takes a team from its arguments. The
//! server is stateless (no MCP session outlives a request), so a revoked
//! token stops at the next call.

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use platform::{
    delivery::{
        records,
        tokens::{Caller, Scope},
    },
    ids::ProviderId,
};
use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    handler::server::{router::tool::ToolRouter, tool::Extension, wrapper::Parameters},
    model::{
        CallToolResult, ContentBlock, Implementation, ListResourcesResult, PaginatedRequestParams,
        ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Resource, ResourceContents,
        ServerCapabilities, ServerConfig,
    },
    schemars,
    service::RequestContext,
    tool, tool_handler, tool_router,
    transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
    },
};
use serde::Deserialize;

use crate::{routes::api, startup::AppState};

/// Checks the request's token for the `mcp` scope and puts its caller in
/// the request for the tools.
pub async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    match api::authorize(&state, request.headers(), Scope::Mcp).await {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(refused) => refused.into_response(),
    }
}

/// The SDK's service for `/mcp`.
pub fn service(state: AppState, hosts: Vec<String>) -> StreamableHttpService<Patchbay, LocalSessionManager> {
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_allowed_hosts(hosts);
    StreamableHttpService::new(move || Ok(Patchbay::new(state.clone())), LocalSessionManager::default().into(), config)
}

/// The MCP server: one per request.
#[derive(Clone, Debug)]
pub struct Patchbay {
    state: AppState,
    tool_router: ToolRouter<Self>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SearchArgs {
    /// Words to look for; a record must hold every one in its title or content.
    pub query: String,
    /// Only records from this provider (such as `linear`).
    #[serde(default)]
    pub provider: Option<String>,
    /// At most this many results (1 to 100; 20 without).
    #[serde(default)]
    pub limit: Option<i64>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct RecordArgs {
    /// The provider, such as `linear`.
    pub provider: String,
    /// The entity type, such as `issue`.
    pub entity_type: String,
    /// The record's id at the provider.
    pub entity_id: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct StatusArgs {
    /// The provider of the connection, such as `linear`.
    pub provider: String,
}

/// The caller the token check put in the request.
fn caller(parts: &http::request::Parts) -> Result<Caller, ErrorData> {
    parts.extensions.get::<Caller>().cloned().ok_or_else(|| ErrorData::invalid_request("no API token", None))
}

fn internal(error: &platform::Error) -> ErrorData {
    tracing::error!(%error, "an MCP request failed");
    ErrorData::internal_error("something went wrong on our side; try again", None)
}

fn json(value: &impl serde::Serialize) -> Result<CallToolResult, ErrorData> {
    let text = serde_json::to_string_pretty(value).map_err(|_| ErrorData::internal_error("encoding failed", None))?;
    Ok(CallToolResult::success(vec![ContentBlock::text(text)]))
}

/// A tool's refusal in words for the agent: a result marked as an error,
/// not a protocol failure.
fn refused(message: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message.into())])
}

const RESOURCE_PREFIX: &str = "patchbay://connections/";

#[tool_router]
impl Patchbay {
    fn new(state: AppState) -> Self {
        Self { state, tool_router: Self::tool_router() }
    }

    /// Keyword search over the team's synced records (titles and content),
    /// best first. Each result carries its deep link back to the source.
    #[tool(annotations(read_only_hint = true))]
    async fn search_records(
        &self,
        Parameters(args): Parameters<SearchArgs>,
        Extension(parts): Extension<http::request::Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        let caller = caller(&parts)?;
        let provider = match args.provider.as_deref().map(ProviderId::parse).transpose() {
            Ok(provider) => provider,
            Err(_) => return Ok(refused("provider is not a provider id")),
        };
        match records::search(&self.state.platform, &caller.team, &args.query, provider.as_ref(), args.limit).await {
            Ok(Ok(hits)) => json(&api::SearchResults {
                results: hits
                    .into_iter()
                    .map(|(found, score)| api::Hit { score, record: api::stored(found) })
                    .collect(),
            }),
            Ok(Err(refusal)) => Ok(refused(refusal.to_string())),
            Err(error) => Err(internal(&error)),
        }
    }

    /// One synced record of the team, with its content, deep link, source
    /// time and synced time.
    #[tool(annotations(read_only_hint = true))]
    async fn get_record(
        &self,
        Parameters(args): Parameters<RecordArgs>,
        Extension(parts): Extension<http::request::Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        let caller = caller(&parts)?;
        match records::get(&self.state.platform, &caller.team, &args.provider, &args.entity_type, &args.entity_id).await
        {
            Ok(Some(found)) => json(&api::stored(found)),
            Ok(None) => Ok(refused("No such record in this team.")),
            Err(error) => Err(internal(&error)),
        }
    }

    /// The team's connections: each provider's state, account, newest
    /// sync and record counts.
    #[tool(annotations(read_only_hint = true))]
    async fn list_connections(
        &self,
        Extension(parts): Extension<http::request::Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        let caller = caller(&parts)?;
        let connections = api::connections_of(&self.state, &caller).await.map_err(|e| internal(&e))?;
        json(&api::Connections { connections })
    }

    /// How a connection's syncing stands: the sync running or last run, its
    /// progress, the last success, the next sync, counts and recent errors.
    #[tool(annotations(read_only_hint = true))]
    async fn sync_status(
        &self,
        Parameters(args): Parameters<StatusArgs>,
        Extension(parts): Extension<http::request::Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        let caller = caller(&parts)?;
        match status_of(&self.state, &caller, &args.provider).await {
            Ok(Some(status)) => json(&status),
            Ok(None) => Ok(refused("This team has no such connection.")),
            Err(error) => Err(internal(&error)),
        }
    }
}

/// A connection's sync status, as `sync_status` and the resources show it.
async fn status_of(
    state: &AppState,
    caller: &Caller,
    provider: &str,
) -> Result<Option<serde_json::Value>, platform::Error> {
    let Ok(provider) = ProviderId::parse(provider) else { return Ok(None) };
    let status = match platform::status::connection(&state.platform, &caller.team, &provider).await {
        Ok(status) => status,
        Err(platform::Error::NotFound) => return Ok(None),
        Err(error) => return Err(error),
    };
    let connection = api::connections_of(state, caller).await?.into_iter().find(|c| c.provider == provider.as_str());
    let job = |job: &platform::jobs::Job| {
        serde_json::json!({
            "kind": job.kind.as_str(),
            "state": job.state.as_str(),
            "done": job.progress_done,
            "total": job.progress_total,
            "items": job.items,
            "error": job.last_error,
        })
    };
    Ok(Some(serde_json::json!({
        "connection": connection,
        "current": status.current.as_ref().map(job),
        "last_success": status.last_success.map(api::instant),
        "next_due": status.next_due.map(api::instant),
        "counts": status.counts.into_iter().collect::<std::collections::BTreeMap<_, _>>(),
        "recent_errors": status.errors.iter().map(job).collect::<Vec<_>>(),
    })))
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Patchbay {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().enable_resources().build())
            .with_server_info(Implementation::new("patchbay", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Search and read this team's records synced from its SaaS tools (search_records, get_record), \
                 and see its connections and their syncing (list_connections, sync_status). Every record \
                 carries a deep link back to its source.",
            )
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let parts = context.extensions.get::<http::request::Parts>().ok_or_else(caller_missing)?;
        let caller = caller(parts)?;
        let connections = api::connections_of(&self.state, &caller).await.map_err(|e| internal(&e))?;
        Ok(ListResourcesResult::with_all_items(
            connections
                .into_iter()
                .map(|c| {
                    Resource::new(format!("{RESOURCE_PREFIX}{}", c.provider), c.name.clone())
                        .with_description(format!(
                            "The {} connection ({}): its account, state, syncing and record counts",
                            c.name, c.account.name
                        ))
                        .with_mime_type("application/json")
                })
                .collect(),
        ))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let parts = context.extensions.get::<http::request::Parts>().ok_or_else(caller_missing)?;
        let caller = caller(parts)?;
        let not_found = || ErrorData::resource_not_found("no such connection in this team", None);
        let provider = request.uri.strip_prefix(RESOURCE_PREFIX).ok_or_else(not_found)?;
        let status =
            status_of(&self.state, &caller, provider).await.map_err(|e| internal(&e))?.ok_or_else(not_found)?;
        let text =
            serde_json::to_string_pretty(&status).map_err(|_| ErrorData::internal_error("encoding failed", None))?;
        Ok(ReadResourceResult::new(vec![ResourceContents::text(text, request.uri.clone())]).into())
    }
}

fn caller_missing() -> ErrorData {
    ErrorData::invalid_request("no API token", None)
}
