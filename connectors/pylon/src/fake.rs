//! A fake Pylon organization for tests (feature `fake`): it answers an
//! issue search as Pylon does, with the issues whose time field falls
//! strictly inside the filter's bounds, oldest first, a page at a time;
//! an issue's messages; and one issue by id (404 with Pylon's body once
//! it is gone). The connector's own suite and the console's end-to-end
//! test serve the same fixtures through it.

use std::sync::Mutex;

use connector_core::paging::parse_instant;
use wiremock::{Request, Respond, ResponseTemplate};

/// Issues a search page holds.
pub const PAGE: usize = 2;

/// The organization's issues, and what the fake was asked.
#[derive(Debug)]
pub struct FakePylon {
    pub issues: Mutex<Vec<serde_json::Value>>,
    /// Messages by issue id; an issue without an entry has none.
    pub messages: Mutex<Vec<(String, serde_json::Value)>>,
    /// A time field whose searches answer 400, to prove which one a run uses.
    pub refuse: Option<&'static str>,
    /// The bodies of the searches asked for, in order.
    pub searches: Mutex<Vec<serde_json::Value>>,
    /// The body of a 404 (`error-404.json`).
    pub not_found: serde_json::Value,
}

impl FakePylon {
    pub fn new(issues: Vec<serde_json::Value>, not_found: serde_json::Value) -> Self {
        Self {
            issues: Mutex::new(issues),
            messages: Mutex::default(),
            refuse: None,
            searches: Mutex::default(),
            not_found,
        }
    }

    fn search(&self, body: &serde_json::Value) -> ResponseTemplate {
        self.searches.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(body.clone());
        let filters = body["filter"]["subfilters"].as_array().cloned().unwrap_or_default();
        let field = filters.first().and_then(|f| f["field"].as_str()).unwrap_or_default().to_owned();
        let bound =
            |op: &str| filters.iter().find(|f| f["operator"] == op).and_then(|f| parse_instant(f["value"].as_str()?));
        let (Some(after), Some(before)) = (bound("time_is_after"), bound("time_is_before")) else {
            return refused("a search needs both bounds");
        };
        if Some(field.as_str()) == self.refuse {
            return refused(&format!("this fake refuses {field}"));
        }
        let issues = self.issues.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut inside: Vec<&serde_json::Value> = issues
            .iter()
            .filter(|i| i[field.as_str()].as_str().and_then(parse_instant).is_some_and(|t| t > after && t < before))
            .collect();
        inside.sort_by_key(|i| i["created_at"].as_str().and_then(parse_instant));
        let from: usize = body["cursor"].as_str().and_then(|c| c.trim_start_matches('c').parse().ok()).unwrap_or(0);
        let page: Vec<&serde_json::Value> = inside.iter().skip(from).take(PAGE).copied().collect();
        let more = inside.len() > from + PAGE;
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "data": page,
            "pagination": { "cursor": if more { format!("c{}", from + PAGE) } else { String::new() }, "has_next_page": more },
            "request_id": "fake-search",
        }))
    }
}

fn refused(why: &str) -> ResponseTemplate {
    ResponseTemplate::new(400).set_body_json(serde_json::json!({ "errors": [why], "request_id": "fake-refused" }))
}

impl Respond for FakePylon {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let path = request.url.path();
        if path.ends_with("/issues/search") {
            return match serde_json::from_slice(&request.body) {
                Ok(body) => self.search(&body),
                Err(_) => refused("the body is not JSON"),
            };
        }
        let Some(rest) = path.rsplit_once("/issues/").map(|(_, rest)| rest) else {
            return ResponseTemplate::new(404).set_body_json(self.not_found.clone());
        };
        let id = rest.trim_end_matches("/messages");
        let issues = self.issues.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(issue) = issues.iter().find(|i| i["id"] == id) else {
            return ResponseTemplate::new(404).set_body_json(self.not_found.clone());
        };
        if rest.ends_with("/messages") {
            let messages = self.messages.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let found = messages.iter().find(|(of, _)| of == id).map(|(_, m)| m.clone());
            let body = found.unwrap_or_else(|| serde_json::json!({ "data": [], "pagination": { "cursor": "", "has_next_page": false }, "request_id": "fake-messages" }));
            return ResponseTemplate::new(200).set_body_json(body);
        }
        ResponseTemplate::new(200).set_body_json(serde_json::json!({ "data": issue, "request_id": "fake-issue" }))
    }
}
