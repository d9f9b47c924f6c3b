//! The records API under `/api/v1` (DESIGN: Delivering records; SECURITY
//! I): the change feed, the records, search and the connections, for a
//! team's knowledge platform, authenticated by a team API token.
//!
//! Served outside the session, CSRF and page layers: a caller carries a
//! bearer token, never a cookie, so a browser's ambient credentials do
//! nothing here. Every read takes the token's team (I1); every refusal is
//! JSON `{error: {code, message}}` with its status; the token is never
//! logged or echoed (I2).

use std::collections::BTreeMap;

use axum::{
    Json,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use platform::{
    delivery::{
        feed::{self, FeedError},
        records::{self, Refusal},
        tokens::{self, Caller, Scope},
    },
    ids::ProviderId,
    store::{artifacts, changes},
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::startup::AppState;

/// A refusal, as every endpoint here answers one.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
}

/// `{error: {code, message}}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, for programs: `bad_request`, `unauthorized`, `forbidden`,
    /// `not_found`, `gone`, `rate_limited`, `internal`.
    pub code: String,
    /// In words, for people.
    pub message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), retry_after: None }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Send a live API token as `Authorization: Bearer pb_…`; this one is missing, unknown, revoked or expired.",
        )
    }

    fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "No such record in this team.")
    }

    fn internal(error: &platform::Error) -> Self {
        tracing::error!(%error, "an API request failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Something went wrong on our side; try again.")
    }
}

impl From<platform::Error> for ApiError {
    fn from(error: platform::Error) -> Self {
        Self::internal(&error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorDetail { code: self.code.to_owned(), message: self.message } };
        let mut response = (self.status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// The bearer token of a request, if it carries one.
pub fn bearer(headers: &HeaderMap) -> Option<SecretString> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| SecretString::from(token.trim().to_owned()))
}

/// The caller a request's token speaks for, if it may use `scope`, within
/// its rate limit: otherwise 401, 403 or 429.
pub async fn authorize(state: &AppState, headers: &HeaderMap, scope: Scope) -> Result<Caller, ApiError> {
    let Some(token) = bearer(headers) else { return Err(ApiError::unauthorized()) };
    let Some(caller) = tokens::authenticate(&state.platform, &token).await? else {
        return Err(ApiError::unauthorized());
    };
    if !caller.may(scope) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "This token does not have the {} scope; create one that does under Settings → API tokens.",
                scope.as_str()
            ),
        ));
    }
    let limit = state.platform.delivery.requests_per_minute;
    if let Err(wait) = state.platform.api_limiter.take(caller.token_id.clone(), limit) {
        return Err(ApiError {
            retry_after: Some(wait),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("This token made {limit} requests this minute; wait {wait} seconds."),
            )
        });
    }
    Ok(caller)
}

pub(crate) use platform::delivery::wire::instant;

fn parse_instant(name: &str, value: &str) -> Result<i64, ApiError> {
    time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
        .map(time::OffsetDateTime::unix_timestamp)
        .map_err(|_| ApiError::bad_request(format!("{name} must be an RFC 3339 time, such as 2026-12-01T00:00:00Z")))
}

fn provider_filter(value: Option<&str>) -> Result<Option<ProviderId>, ApiError> {
    value.map(|v| ProviderId::parse(v).map_err(|_| ApiError::bad_request("provider is not a provider id"))).transpose()
}

pub use platform::delivery::wire::{Change, Op, Record};

pub(crate) fn stored(s: artifacts::Stored) -> Record {
    Record::from(s)
}

/// A page of the change feed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChangesPage {
    pub changes: Vec<Change>,
    /// Pass as `after` to read on. Always present.
    pub next_cursor: String,
    /// Whether this page reached the end of the feed for now.
    pub caught_up: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    /// A cursor from an earlier page or from `GET /api/v1/records`; the
    /// feed's start without.
    pub after: Option<String>,
    /// At most 1000; 100 without.
    pub limit: Option<i64>,
    pub provider: Option<String>,
    pub entity_type: Option<String>,
}

/// The team's change feed.
#[utoipa::path(
    get, path = "/api/v1/changes", tag = "records",
    params(ChangesQuery),
    responses(
        (status = 200, description = "A page of changes in commit order", body = ChangesPage),
        (status = 400, description = "A cursor or limit this API did not hand out", body = ErrorBody),
        (status = 401, description = "No live token", body = ErrorBody),
        (status = 403, description = "The token lacks `records:read`", body = ErrorBody),
        (status = 410, description = "The cursor is older than the feed keeps", body = ErrorBody),
        (status = 429, description = "Over the token's rate limit", body = ErrorBody),
    ),
    security(("token" = []))
)]
pub async fn changes(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ChangesQuery>,
) -> Result<Json<ChangesPage>, ApiError> {
    let caller = authorize(&state, &headers, Scope::RecordsRead).await?;
    let filter =
        changes::Filter { provider: provider_filter(query.provider.as_deref())?, entity_type: query.entity_type };
    let page = feed::read(&state.platform, &caller.team, query.after.as_deref(), query.limit, &filter).await.map_err(
        |error| match error {
            FeedError::Expired { .. } => ApiError::new(StatusCode::GONE, "gone", error.to_string()),
            FeedError::BadCursor | FeedError::BadLimit => ApiError::bad_request(error.to_string()),
            FeedError::Off => ApiError::new(StatusCode::NOT_FOUND, "not_found", error.to_string()),
            FeedError::Platform(error) => ApiError::internal(&error),
        },
    )?;
    Ok(Json(ChangesPage {
        changes: page.changes.into_iter().map(Change::from).collect(),
        next_cursor: page.next_cursor,
        caught_up: page.caught_up,
    }))
}

fn refusal(refusal: Refusal) -> ApiError {
    ApiError::bad_request(refusal.to_string())
}

/// A page of records.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RecordsPage {
    pub records: Vec<Record>,
    /// The next page's cursor (`after`); absent at the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// The change feed's position before this page was read: copy every
    /// page, then follow `GET /api/v1/changes?after=` from the first
    /// page's value, and the copy misses nothing.
    pub changes_cursor: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordsQuery {
    /// The `next_cursor` of the page before.
    pub after: Option<String>,
    /// At most 1000; 100 without.
    pub limit: Option<i64>,
    pub provider: Option<String>,
    pub entity_type: Option<String>,
    /// Only records the source changed at or after this time (RFC 3339).
    pub updated_since: Option<String>,
}

/// The team's records, in key order.
#[utoipa::path(
    get, path = "/api/v1/records", tag = "records",
    params(RecordsQuery),
    responses(
        (status = 200, description = "A page of records", body = RecordsPage),
        (status = 400, description = "A bad cursor, limit or time", body = ErrorBody),
        (status = 401, description = "No live token", body = ErrorBody),
        (status = 403, description = "The token lacks `records:read`", body = ErrorBody),
        (status = 429, description = "Over the token's rate limit", body = ErrorBody),
    ),
    security(("token" = []))
)]
pub async fn list_records(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<RecordsQuery>,
) -> Result<Json<RecordsPage>, ApiError> {
    let caller = authorize(&state, &headers, Scope::RecordsRead).await?;
    let filter = artifacts::Filter {
        provider: provider_filter(query.provider.as_deref())?,
        entity_type: query.entity_type,
        updated_since: query.updated_since.as_deref().map(|v| parse_instant("updated_since", v)).transpose()?,
    };
    let page = records::list(&state.platform, &caller.team, &filter, query.after.as_deref(), query.limit)
        .await?
        .map_err(refusal)?;
    Ok(Json(RecordsPage {
        records: page.records.into_iter().map(stored).collect(),
        next_cursor: page.next_cursor,
        changes_cursor: page.changes_cursor,
    }))
}

/// One record of the team.
#[utoipa::path(
    get, path = "/api/v1/records/{provider}/{entity_type}/{entity_id}", tag = "records",
    params(("provider" = String, Path), ("entity_type" = String, Path), ("entity_id" = String, Path)),
    responses(
        (status = 200, description = "The record", body = Record),
        (status = 401, description = "No live token", body = ErrorBody),
        (status = 403, description = "The token lacks `records:read`", body = ErrorBody),
        (status = 404, description = "No such record in this team", body = ErrorBody),
        (status = 429, description = "Over the token's rate limit", body = ErrorBody),
    ),
    security(("token" = []))
)]
pub async fn get_record(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((provider, entity_type, entity_id)): Path<(String, String, String)>,
) -> Result<Json<Record>, ApiError> {
    let caller = authorize(&state, &headers, Scope::RecordsRead).await?;
    let found = records::get(&state.platform, &caller.team, &provider, &entity_type, &entity_id).await?;
    found.map(stored).map(Json).ok_or_else(ApiError::not_found)
}

/// A search hit.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Hit {
    /// Higher is better; comparable within one answer only.
    pub score: f64,
    pub record: Record,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SearchResults {
    pub results: Vec<Hit>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Words, all of which a record must hold in its title or content.
    pub q: String,
    pub provider: Option<String>,
    /// At most 100; 20 without.
    pub limit: Option<i64>,
}

/// Keyword search over the team's records.
#[utoipa::path(
    get, path = "/api/v1/search", tag = "records",
    params(SearchQuery),
    responses(
        (status = 200, description = "The best matches first", body = SearchResults),
        (status = 400, description = "No words, or a bad limit", body = ErrorBody),
        (status = 401, description = "No live token", body = ErrorBody),
        (status = 403, description = "The token lacks `records:read`", body = ErrorBody),
        (status = 429, description = "Over the token's rate limit", body = ErrorBody),
    ),
    security(("token" = []))
)]
pub async fn search(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<SearchQuery>,
) -> Result<Json<SearchResults>, ApiError> {
    let caller = authorize(&state, &headers, Scope::RecordsRead).await?;
    let provider = provider_filter(query.provider.as_deref())?;
    let hits = records::search(&state.platform, &caller.team, &query.q, provider.as_ref(), query.limit)
        .await?
        .map_err(refusal)?;
    Ok(Json(SearchResults {
        results: hits.into_iter().map(|(found, score)| Hit { score, record: stored(found) }).collect(),
    }))
}

/// A connection's account at its provider.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Account {
    pub id: String,
    pub name: String,
}

/// A connection's newest sync.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Sync {
    /// `full_backfill` or `incremental`.
    pub kind: String,
    /// `queued`, `running`, `completed`, `failed` or `interrupted`.
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Records it wrote.
    pub items: i64,
    /// What went wrong, in words, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One of the team's connections.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Connection {
    pub provider: String,
    pub name: String,
    /// `connected`, `syncing`, `needs_reauth` or `error`.
    pub state: String,
    pub account: Account,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connected_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_sync: Option<Sync>,
    /// Records held, per entity type.
    pub counts: BTreeMap<String, i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Connections {
    pub connections: Vec<Connection>,
}

/// The team's connections: state, account, newest sync and counts.
#[utoipa::path(
    get, path = "/api/v1/connections", tag = "connections",
    responses(
        (status = 200, description = "The team's active connections", body = Connections),
        (status = 401, description = "No live token", body = ErrorBody),
        (status = 403, description = "The token lacks `connections:read`", body = ErrorBody),
        (status = 429, description = "Over the token's rate limit", body = ErrorBody),
    ),
    security(("token" = []))
)]
pub async fn connections(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Connections>, ApiError> {
    let caller = authorize(&state, &headers, Scope::ConnectionsRead).await?;
    Ok(Json(Connections { connections: connections_of(&state, &caller).await? }))
}

/// The caller's team's connections, as the API and MCP show them.
pub async fn connections_of(state: &AppState, caller: &Caller) -> Result<Vec<Connection>, platform::Error> {
    Ok(records::connections(&state.platform, &caller.team)
        .await?
        .into_iter()
        .map(|c| Connection {
            provider: c.provider.to_string(),
            name: c.provider_name,
            state: c.state.as_str().to_owned(),
            account: Account { id: c.account_id, name: c.account_name },
            connected_at: c.connected_at.map(instant),
            last_sync: c.last_sync.map(|job| Sync {
                kind: job.kind.as_str().to_owned(),
                state: job.state.as_str().to_owned(),
                started_at: job.started_at.map(instant),
                finished_at: job.finished_at.map(instant),
                items: job.items,
                error: job.last_error,
            }),
            counts: c.counts.into_iter().collect(),
        })
        .collect())
}

/// The API's description, generated from the handlers above.
#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "Patchbay records API", description = "A team's synced records, their change feed and search, for its knowledge platform. Authenticate with a team API token: `Authorization: Bearer pb_…`."),
    paths(changes, list_records, get_record, search, connections),
    components(schemas(ErrorBody, ErrorDetail, Record, Change, Op, ChangesPage, RecordsPage, Hit, SearchResults, Account, Sync, Connection, Connections)),
    modifiers(&BearerToken),
)]
pub struct ApiDoc;

#[derive(Debug)]
struct BearerToken;

impl utoipa::Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("pb_…").build()),
        );
    }
}

/// `GET /api/v1/openapi.json`: public, like any API's description.
pub async fn openapi() -> impl IntoResponse {
    Json(ApiDoc::openapi())
}

/// Anything else under `/api/v1`: a JSON 404, not the console's page.
pub async fn unknown() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such endpoint; see /api/v1/openapi.json.")
}
