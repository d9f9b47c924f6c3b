//! GraphQL over the shared client: a POST with variables, the answer's
//! errors classed like HTTP failures, and partial data kept (Linear,
//! monday.com).
//!
//! - An answer with errors and no data fails: its first error decides the
//!   class. Rate limits and complexity budgets are transient, waiting for
//!   the reset the headers (or the error) name; internal errors, lock
//!   timeouts and network errors are transient; authentication errors are
//!   a 401 the admin must act on; anything else is a permanent refusal in
//!   the provider's own words (CONNECTOR-RULES 31, 32, 38).
//! - An answer with data and errors keeps the data; each error is a
//!   [`Skipped`] naming its path, for the runner to report as a partial
//!   error (rule 39).

use std::time::Duration;

use serde::{Deserialize, de::DeserializeOwned};

use crate::{
    headers::LONGEST_WAIT,
    http::{FetchError, read_json},
    source::{Context, Skipped},
};

/// One error of a GraphQL answer.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct GraphqlError {
    #[serde(default)]
    pub message: String,
    /// Where in `data` it happened: field names and list positions.
    #[serde(default)]
    pub path: Vec<serde_json::Value>,
    #[serde(default)]
    pub extensions: Option<serde_json::Value>,
}

impl GraphqlError {
    /// The error's code as providers put it (`extensions.code`, `.type`
    /// or `.error_code`; monday also puts `error_code` beside the
    /// message), upper case with only letters and digits:
    /// `AUTHENTICATION_ERROR` and `authentication error` are the same.
    pub fn code(&self) -> String {
        let extensions = self.extensions.as_ref();
        let text = ["code", "type", "error_code"]
            .iter()
            .find_map(|key| extensions.and_then(|e| e.get(key)).and_then(serde_json::Value::as_str))
            .unwrap_or_default();
        text.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect()
    }

    /// A wait the error names (`extensions.retry_in_seconds`, monday's
    /// complexity budget), at most a day.
    fn asked_wait(&self) -> Option<Duration> {
        let seconds = self.extensions.as_ref()?.get("retry_in_seconds")?.as_f64()?;
        (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(86_400.0)))
    }

    /// The error as a failure of the call.
    pub fn failure(&self, provider: &str, reset: Option<Duration>) -> FetchError {
        let code = self.code();
        let transient = |message: String, wait: Option<Duration>| {
            let mut error = FetchError::transient(Some(200), message);
            error.retry_after = wait.map(|w| w.min(LONGEST_WAIT));
            error
        };
        if code.contains("RATELIMIT") || code.contains("COMPLEXITY") {
            transient(format!("{provider}'s rate limit was reached"), self.asked_wait().or(reset))
        } else if matches!(
            code.as_str(),
            "INTERNALERROR" | "INTERNALSERVERERROR" | "LOCKTIMEOUT" | "NETWORKERROR" | "TIMEOUT" | "SERVICEUNAVAILABLE"
        ) {
            transient(format!("{provider} had a problem answering ({})", self.message), self.asked_wait())
        } else if matches!(code.as_str(), "AUTHENTICATIONERROR" | "UNAUTHENTICATED") {
            FetchError::permanent(Some(401), format!("{provider} refused the token (authentication error)"))
        } else {
            FetchError::permanent(Some(200), format!("{provider} refused the query: {}", self.message))
        }
    }

    /// The error as a partial one: the part of the answer it spoiled.
    pub fn skipped(&self) -> Skipped {
        let path: Vec<String> = self
            .path
            .iter()
            .map(|p| match p {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        let record = if path.is_empty() { "the answer".to_owned() } else { path.join(".") };
        Skipped { record, reason: self.message.clone() }
    }
}

#[derive(Debug, Deserialize)]
struct Raw {
    #[serde(default)]
    data: serde_json::Value,
    #[serde(default)]
    errors: Vec<GraphqlError>,
}

/// What a query answered: its data, and the errors that spoiled parts of it.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer<T> {
    pub data: T,
    pub partial: Vec<Skipped>,
}

/// Posts `query` with `variables` to the connection's base URL, the token
/// placed as the catalog says, and reads `data` as `T`. `provider` names
/// the provider in the errors the admin reads.
pub async fn post<T: DeserializeOwned>(
    cx: &Context<'_>,
    provider: &str,
    query: &str,
    variables: serde_json::Value,
) -> Result<Answer<T>, FetchError> {
    let body = serde_json::json!({ "query": query, "variables": variables });
    let response = cx
        .http
        .send(cx.call, |client, token| {
            let request = client.post(cx.base_url).header("content-type", "application/json").json(&body);
            cx.auth.apply(request, token)
        })
        .await?;
    let reset = cx.call.signals().reset_after(response.headers());
    let raw: Raw = read_json(response).await?;
    // Data that is missing, or too spoiled to read, fails with its first
    // error; data that reads is kept beside its errors.
    let data = (!raw.data.is_null()).then(|| serde_json::from_value::<T>(raw.data));
    match (data, raw.errors.first()) {
        (Some(Ok(data)), _) => Ok(Answer { data, partial: raw.errors.iter().map(GraphqlError::skipped).collect() }),
        (_, Some(error)) => Err(error.failure(provider, reset)),
        (Some(Err(_)), None) => {
            Err(FetchError::permanent(Some(200), format!("{provider}'s answer is not in its documented shape")))
        }
        (None, None) => Err(FetchError::permanent(Some(200), format!("{provider} answered without data"))),
    }
}

#[cfg(test)]
mod tests {
    use crate::http::Class;

    use super::*;

    fn error(extensions: serde_json::Value) -> GraphqlError {
        GraphqlError { message: "m".into(), path: Vec::new(), extensions: Some(extensions) }
    }

    /// Issue 21 (Linear): rate limits and complexity are transient with the
    /// reset wait; internal errors, lock timeouts and network errors are
    /// transient; authentication is a 401; the rest is a refusal.
    #[test]
    fn errors_are_classed_by_their_code_in_any_spelling() {
        let reset = Some(Duration::from_secs(7));
        let limited = error(serde_json::json!({ "code": "RATELIMITED" })).failure("Linear", reset);
        assert_eq!((limited.class, limited.retry_after), (Class::Transient, reset));
        let complexity = error(serde_json::json!({ "code": "ComplexityException", "retry_in_seconds": 12 }));
        assert_eq!(complexity.failure("monday.com", reset).retry_after, Some(Duration::from_secs(12)));
        for code in ["InternalError", "LOCK_TIMEOUT", "network error", "INTERNAL_SERVER_ERROR"] {
            let failure = error(serde_json::json!({ "type": code })).failure("Linear", None);
            assert_eq!(failure.class, Class::Transient, "{code}");
        }
        let auth = error(serde_json::json!({ "type": "authentication error" })).failure("Linear", None);
        assert_eq!((auth.class, auth.status), (Class::Permanent, Some(401)));
        let other = GraphqlError { message: "Argument first is too large".into(), ..GraphqlError::default() };
        let refused = other.failure("Linear", None);
        assert_eq!(refused.class, Class::Permanent);
        assert!(refused.message.ends_with("Argument first is too large"));
        let huge = error(serde_json::json!({ "code": "COMPLEXITY_BUDGET_EXHAUSTED", "retry_in_seconds": 1e300 }));
        assert_eq!(huge.failure("x", None).retry_after, Some(LONGEST_WAIT), "SECURITY G2");
    }

    #[test]
    fn a_partial_error_names_its_path() {
        let error = GraphqlError {
            message: "Comment not found".into(),
            path: vec!["issues".into(), "nodes".into(), 3.into(), "comments".into()],
            extensions: None,
        };
        assert_eq!(error.skipped().to_string(), "issues.nodes.3.comments: Comment not found");
        assert_eq!(GraphqlError::default().skipped().record, "the answer");
    }
}
