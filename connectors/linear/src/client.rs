//! The issues query, through the shared GraphQL helper (which reads
//! Linear's errors as failures and keeps partial data).

use connector_core::{
    graphql::{self, Answer},
    http::FetchError,
    paging::utc_rfc3339,
    source::{Context, Mode},
};

use crate::types::Data;

/// Issues per page. With ten comments each this stays far below Linear's
/// 10,000-point cap on one query's complexity.
pub const PAGE_SIZE: u32 = 50;

/// The fields of an issue the mapping reads, for every query of issues.
macro_rules! issue_fields {
    () => {
        "id identifier title description url createdAt updatedAt archivedAt trashed
      state { name type }
      team { key name visibility }
      comments(first: 10, orderBy: createdAt) { nodes { id body createdAt updatedAt user { name } } }"
    };
}

/// Issues, archived ones included (so archiving removes them), with the
/// fields the mapping reads.
pub const QUERY: &str = concat!(
    "query Issues($first: Int!, $after: String, $filter: IssueFilter) {
  issues(first: $first, after: $after, filter: $filter, orderBy: updatedAt, includeArchived: true) {
    nodes {
      ",
    issue_fields!(),
    "
    }
    pageInfo { hasNextPage endCursor }
  }
}"
);

/// The issues of `ids` the viewer can read, archived ones included, with
/// the same fields: what a webhook names is read back through it.
pub const BY_ID: &str = concat!(
    "query IssuesById($first: Int!, $ids: [ID!]) {
  issues(first: $first, filter: { id: { in: $ids } }, includeArchived: true) {
    nodes {
      ",
    issue_fields!(),
    "
    }
  }
}"
);

/// The issues of `ids` (at most [`PAGE_SIZE`]) the viewer can read.
pub async fn issues_by_id(cx: &Context<'_>, ids: &[&str]) -> Result<Answer<Data>, FetchError> {
    let variables = serde_json::json!({ "first": PAGE_SIZE, "ids": ids });
    graphql::post(cx, "Linear", BY_ID, variables).await
}

/// One page of issues after `cursor`, with the errors that spoiled parts
/// of it (the rest is kept).
pub async fn issues(cx: &Context<'_>, mode: Mode, cursor: Option<&str>) -> Result<Answer<Data>, FetchError> {
    let filter = match mode {
        Mode::Full => serde_json::Value::Null,
        Mode::Changes { since } => serde_json::json!({ "updatedAt": { "gte": utc_rfc3339(since) } }),
    };
    let variables = serde_json::json!({ "first": PAGE_SIZE, "after": cursor, "filter": filter });
    graphql::post(cx, "Linear", QUERY, variables).await
}
