//! Where a connection's secret goes on each request, declared once per
//! provider instead of written into each client.

use reqwest::RequestBuilder;
use serde::{Deserialize, Serialize};

/// How a request carries the connection's token or key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "in", rename_all = "snake_case", deny_unknown_fields)]
pub enum Placement {
    /// `Authorization: Bearer {token}`.
    #[default]
    Bearer,
    /// `{name}: {prefix}{token}`: Chatwoot's `api_access_token`, or a key
    /// sent bare in `Authorization`.
    Header {
        name: String,
        #[serde(default)]
        prefix: String,
    },
    /// `?{name}={token}`, for APIs that take the key in the query.
    Query { name: String },
    /// HTTP Basic. The credentials hand over `user:password` (a user id
    /// has no colon, RFC 7617), or a key and its secret as the two halves.
    Basic,
}

impl Placement {
    /// `request` with the secret placed; without one, as it is.
    pub fn apply(&self, request: RequestBuilder, token: Option<&str>) -> RequestBuilder {
        let Some(token) = token else { return request };
        match self {
            Placement::Bearer => request.bearer_auth(token),
            Placement::Header { name, prefix } => request.header(name.as_str(), format!("{prefix}{token}")),
            Placement::Query { name } => request.query(&[(name.as_str(), token)]),
            Placement::Basic => match token.split_once(':') {
                Some((user, password)) => request.basic_auth(user, Some(password)),
                None => request.basic_auth(token, None::<&str>),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(placement: &Placement, token: Option<&str>) -> reqwest::Request {
        placement.apply(reqwest::Client::new().get("https://api.example/v1/items?limit=5"), token).build().unwrap()
    }

    /// Issue 21: each placement puts the secret where its provider reads it,
    /// and nowhere else.
    #[test]
    fn each_placement_puts_the_secret_in_one_place() {
        let bearer = sent(&Placement::Bearer, Some("t0k"));
        assert_eq!(bearer.headers()["authorization"], "Bearer t0k");
        let header = sent(&Placement::Header { name: "api_access_token".into(), prefix: String::new() }, Some("t0k"));
        assert_eq!(header.headers()["api_access_token"], "t0k");
        assert!(header.headers().get("authorization").is_none());
        let query = sent(&Placement::Query { name: "api_key".into() }, Some("t0k"));
        assert_eq!(query.url().query(), Some("limit=5&api_key=t0k"));
        assert!(query.headers().is_empty());
        let basic = sent(&Placement::Basic, Some("ana@example.com:pa:ss"));
        // base64("ana@example.com:pa:ss")
        assert_eq!(basic.headers()["authorization"], "Basic YW5hQGV4YW1wbGUuY29tOnBhOnNz");
        assert!(sent(&Placement::Bearer, None).headers().is_empty());
        let parsed: Placement =
            serde_json::from_value(serde_json::json!({ "in": "header", "name": "x-api-key" })).unwrap();
        assert_eq!(parsed, Placement::Header { name: "x-api-key".into(), prefix: String::new() });
    }
}
