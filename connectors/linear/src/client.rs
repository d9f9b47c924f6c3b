//! The issues query, and Linear's GraphQL errors read as failures.

use connector_core::{
    headers,
    http::{FetchError, read_json},
    paging::utc_rfc3339,
    source::{Context, Mode},
};

use crate::types::{Answer, Connection, Issue};

/// Issues per page. With ten comments each this stays far below Linear's
/// 10,000-point cap on one query's complexity.
pub const PAGE_SIZE: u32 = 50;

/// Issues, archived ones included (so archiving removes them), with the
/// fields the mapping reads.
pub const QUERY: &str = "query Issues($first: Int!, $after: String, $filter: IssueFilter) {
  issues(first: $first, after: $after, filter: $filter, orderBy: updatedAt, includeArchived: true) {
    nodes {
      id identifier title description url createdAt updatedAt archivedAt trashed
      state { name type }
      team { key name visibility }
      comments(first: 10) { nodes { id body updatedAt user { name } } }
    }
    pageInfo { hasNextPage endCursor }
  }
}";

/// One page of issues after `cursor`.
pub async fn issues(cx: &Context<'_>, mode: Mode, cursor: Option<&str>) -> Result<Connection<Issue>, FetchError> {
    let filter = match mode {
        Mode::Full => serde_json::Value::Null,
        Mode::Changes { since } => serde_json::json!({ "updatedAt": { "gte": utc_rfc3339(since) } }),
    };
    let body = serde_json::json!({
        "query": QUERY,
        "variables": { "first": PAGE_SIZE, "after": cursor, "filter": filter },
    });
    let response = cx
        .http
        .send(cx.call, |client, token| {
            let request = client.post(cx.base_url).header("content-type", "application/json").json(&body);
            match token {
                // OAuth access tokens go as Bearer; personal keys would not.
                Some(token) => request.bearer_auth(token),
                None => request,
            }
        })
        .await?;
    let wait = headers::reset_after(response.headers());
    let answer: Answer = read_json(response).await?;
    if let Some(error) = answer.errors.first() {
        let mut failure = graphql_failure(error);
        if failure.class == connector_core::http::Class::Transient {
            failure.retry_after = wait;
        }
        return Err(failure);
    }
    answer.data.map(|d| d.issues).ok_or_else(|| FetchError::permanent(Some(200), "Linear answered without data"))
}

/// A GraphQL error as a failure: its code (or type, as Linear's SDK reads
/// it) decides the class. The message is Linear's own words, which carry
/// no token.
fn graphql_failure(error: &crate::types::GraphqlError) -> FetchError {
    let extensions = error.extensions.as_ref();
    let code = extensions.and_then(|e| e.code.as_deref().or(e.kind.as_deref())).unwrap_or_default();
    match code.to_ascii_uppercase().as_str() {
        "RATELIMITED" => FetchError::transient(Some(200), "Linear's rate limit was reached"),
        "AUTHENTICATION_ERROR" | "AUTHENTICATION ERROR" => {
            FetchError::permanent(Some(401), "Linear refused the token (authentication error)")
        }
        _ => FetchError::permanent(Some(200), format!("Linear refused the query: {}", error.message)),
    }
}
