//! The shape of a provider file. Unknown keys are refused everywhere, so a
//! misspelt key is an error rather than a silently missing setting.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::ProviderId;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    pub id: ProviderId,
    pub name: String,
    pub category: Category,
    /// One line, shown on the card.
    pub description: String,
    pub docs_url: String,
    /// A file in the site's `logos/` directory.
    pub logo: String,
    pub availability: Availability,
    /// The documentation pages the facts in this file come from.
    pub sources: Vec<String>,
    /// The kinds of record it syncs, such as `issue` or `comment`.
    pub entities: Vec<String>,
    pub auth: Auth,
    pub api: Api,
    pub rate_limit: Option<RateLimit>,
    /// How the provider delivers webhooks, where it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhooks: Option<Webhooks>,
}

/// A provider's webhooks (DESIGN: Webhooks): how deliveries are signed and
/// named, how long the provider retries them, how a subscription is made
/// and renewed, and which entity types each event changes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhooks {
    /// The signature family and its headers.
    pub verify: connector_core::webhooks::Verifier,
    /// The header naming each delivery (`X-GitHub-Delivery`); none: the
    /// family's own, or else a digest of the body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_header: Option<String>,
    /// Where in the verified body a delivery's id is (a JSON pointer,
    /// Pipedrive's `/meta/id`), for a provider that names deliveries in no
    /// header and changes the body between retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_field: Option<String>,
    /// The header naming the event (`X-GitHub-Event`); none: the
    /// connector reads it from the body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_header: Option<String>,
    /// The content types a delivery may have; any other is refused
    /// before its body is read (SECURITY H4).
    pub content_types: Vec<String>,
    /// How long the provider retries a delivery: delivery ids are kept at
    /// least this long, so a late retry is still a duplicate.
    pub retry_window_hours: u32,
    /// How a subscription comes to be.
    pub subscription: SubscriptionKind,
    /// For an app-wide subscription: the JSON pointer to what routes a
    /// delivery (GitHub's `/installation/id`), matched against the ids
    /// each connection's subscription recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// Scopes the connect asks for besides `auth.scopes` while webhooks
    /// are on: those the provider's API needs to register them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// How long a subscription lasts unless renewed (Microsoft Graph
    /// about 3 days, Jira 30); none: it does not expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_after_hours: Option<u32>,
    /// A set-up request the provider sends, which the kit answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handshake: Option<connector_core::webhooks::Handshake>,
    /// Minutes between changes runs while a connection's webhooks are not
    /// registered (a failed renewal); none: the usual cadence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_sync_every_minutes: Option<u32>,
    /// Each event the console applies, by its name, with the entity
    /// types it changes; other events are recorded and left.
    pub events: BTreeMap<String, Vec<String>>,
    /// The connection's own credential that signs deliveries, by its form
    /// field (Twilio signs with the account's Auth Token), for a provider
    /// that takes no secret of Patchbay's making; none: a fresh secret
    /// per connection (or the app's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_with: Option<String>,
}

/// How a connection's webhook subscription is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionKind {
    /// The console registers it through the provider's API when the
    /// connection is made, and deletes it on disconnect.
    Api,
    /// An admin pastes the URL and the secret into the provider's
    /// settings; the provider page shows both.
    Manual,
    /// The provider sends every installation's deliveries to one URL per
    /// app (a GitHub App), `POST /webhooks/{provider}`, signed with the
    /// app's one secret (`PATCHBAY_<PROVIDER>_WEBHOOK_SECRET`). Each is
    /// routed by the id at `route`; connecting records which ids are the
    /// connection's, and renewing reads them again.
    App,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Crm,
    IssueTracking,
    Engineering,
    Support,
    Calendar,
    Mail,
    Chat,
    Docs,
    Design,
    Sales,
    Messaging,
    Erp,
    Demo,
}

impl Category {
    pub const ALL: [Category; 13] = [
        Category::Crm,
        Category::IssueTracking,
        Category::Engineering,
        Category::Support,
        Category::Calendar,
        Category::Mail,
        Category::Chat,
        Category::Docs,
        Category::Design,
        Category::Sales,
        Category::Messaging,
        Category::Erp,
        Category::Demo,
    ];

    /// As written in provider files and in the filter's URL.
    pub fn key(self) -> &'static str {
        match self {
            Category::Crm => "crm",
            Category::IssueTracking => "issue_tracking",
            Category::Engineering => "engineering",
            Category::Support => "support",
            Category::Calendar => "calendar",
            Category::Mail => "mail",
            Category::Chat => "chat",
            Category::Docs => "docs",
            Category::Design => "design",
            Category::Sales => "sales",
            Category::Messaging => "messaging",
            Category::Erp => "erp",
            Category::Demo => "demo",
        }
    }

    /// As people read it.
    pub fn label(self) -> &'static str {
        match self {
            Category::Crm => "CRM",
            Category::IssueTracking => "Issue tracking",
            Category::Engineering => "Engineering",
            Category::Support => "Support",
            Category::Calendar => "Calendar",
            Category::Mail => "Mail",
            Category::Chat => "Chat",
            Category::Docs => "Docs",
            Category::Design => "Design",
            Category::Sales => "Sales",
            Category::Messaging => "Messaging",
            Category::Erp => "ERP",
            Category::Demo => "Demo",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    Available,
    Beta,
    ComingSoon,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Auth {
    Oauth2(OAuth2),
    ApiKey(Credentials),
    Basic(Credentials),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2 {
    pub authorize_url: String,
    pub token_url: String,
    /// RFC 7009 revocation, where the provider offers it.
    pub revoke_url: Option<String>,
    /// The issuer identifier the provider sends as `iss` on its
    /// authorization responses (RFC 9207), where it documents one.
    pub issuer: Option<String>,
    pub scopes: Vec<String>,
    #[serde(default = "space")]
    pub scope_separator: String,
    pub pkce: Pkce,
    pub client_auth: ClientAuth,
    #[serde(default)]
    pub extra_authorize_params: BTreeMap<String, String>,
    pub token_life: TokenLife,
    /// Whether each refresh returns a new refresh token (and may void the old).
    pub refresh_token_rotates: bool,
    pub user_info: Request,
}

fn space() -> String {
    " ".into()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pkce {
    Required,
    Supported,
    Unsupported,
}

/// How the client authenticates at the token endpoint (RFC 6749 §2.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    Basic,
    Post,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenLife {
    /// Expires within hours; refreshed ahead of expiry.
    ShortLived,
    /// Valid until revoked.
    LongLived,
}

/// What an admin types to connect an `api_key` or `basic` provider, and
/// the request that proves it works.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub fields: Vec<Field>,
    pub verify: Request,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// The key it is stored under, and its `{name}` in request templates.
    pub name: String,
    pub label: String,
    pub kind: FieldKind,
    /// A regular expression the whole value must match.
    pub pattern: Option<String>,
    pub example: Option<String>,
    pub help: Option<String>,
    #[serde(default = "yes")]
    pub required: bool,
}

fn yes() -> bool {
    true
}

impl Field {
    /// The pattern for an HTML `pattern` attribute, so the browser checks
    /// what the server checks. Browsers compile it with the `v` flag, which
    /// wants `/`, `-`, `(`, `)`, `{`, `}` and `|` escaped inside a class
    /// where the Rust syntax of the catalog takes them plain; without the
    /// escapes a browser drops the whole pattern. A pattern with inline
    /// flags (`(?i)`), which browsers do not know, is left to the server.
    pub fn browser_pattern(&self) -> Option<String> {
        let pattern = self.pattern.as_deref()?;
        if pattern.match_indices("(?").any(|(i, _)| !pattern[i + 2..].starts_with(':')) {
            return None;
        }
        let mut out = String::with_capacity(pattern.len() + 8);
        let mut chars = pattern.chars().peekable();
        let mut in_class = false;
        let mut class_start = false;
        while let Some(c) = chars.next() {
            let at_start = std::mem::take(&mut class_start);
            match c {
                '\\' => {
                    out.push(c);
                    out.extend(chars.next());
                }
                '[' if !in_class => {
                    in_class = true;
                    out.push(c);
                    if chars.peek() == Some(&'^') {
                        out.push('^');
                        chars.next();
                    }
                    class_start = true;
                }
                ']' if in_class => {
                    in_class = false;
                    out.push(c);
                }
                '-' if in_class && (at_start || chars.peek() == Some(&']')) => out.push_str("\\-"),
                '/' | '(' | ')' | '{' | '}' | '|' if in_class => {
                    out.push('\\');
                    out.push(c);
                }
                _ => out.push(c),
            }
        }
        Some(out)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// A base URL; its host is where tokens go, so it is also checked
    /// against the allowed hosts.
    Url,
    /// Stored in the secret store, shown masked.
    Secret,
    Text,
}

/// A request the console makes: the user-info call after an OAuth
/// connect, or the verification call of a credential form. `{field}` in
/// the URL, headers and body is replaced by a form field's value;
/// `{access_token}` by the OAuth token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    #[serde(default)]
    pub method: Method,
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// HTTP basic authentication, each part a template.
    pub basic_auth: Option<BasicAuth>,
    pub body: Option<String>,
    /// JSON pointers (RFC 6901) into the answer: the account's stable id
    /// and the name shown on the card (CONNECTOR-RULES 27).
    pub account_id: String,
    pub display_name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    pub username: String,
    pub password: String,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    #[default]
    Get,
    Post,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Api {
    /// Where API calls go; `{field}` for a self-hosted base URL.
    pub base_url: String,
    /// Hosts a token may be sent to (SECURITY A10). A host a provider
    /// returns at connect time (an instance URL) must match one; `*.` allows
    /// subdomains. A provider whose base URL is a form field may leave this
    /// empty: then only that field's host is allowed.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    pub pagination: Pagination,
    /// Minutes between incremental syncs; 30 when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_every_minutes: Option<u32>,
    /// Where sync requests carry the secret (`{ in = "header", name =
    /// "api_access_token" }`); see [`Provider::placement`] for the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<connector_core::auth::Placement>,
    /// The streams a connection syncs side by side, each with its own
    /// cursors and job (`[[api.streams]] name = "contacts" entity_types =
    /// ["contact"]`); none: one stream over every entity type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub streams: Vec<connector_core::source::Stream>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pagination {
    Cursor,
    Page,
    Offset,
    LinkHeader,
    GraphqlConnection,
    DeltaLink,
    None,
}

impl Provider {
    /// The streams a connection syncs: the catalog's, or one named "" that
    /// covers every entity type.
    pub fn streams(&self) -> Vec<connector_core::source::Stream> {
        if self.api.streams.is_empty() {
            vec![connector_core::source::Stream { name: String::new(), entity_types: Vec::new() }]
        } else {
            self.api.streams.clone()
        }
    }

    /// Where sync requests carry the secret: as `api.auth` declares, or
    /// HTTP Basic for a `basic` provider and a bearer token otherwise.
    pub fn placement(&self) -> connector_core::auth::Placement {
        match (&self.api.auth, &self.auth) {
            (Some(placement), _) => placement.clone(),
            (None, Auth::Basic(_)) => connector_core::auth::Placement::Basic,
            (None, _) => connector_core::auth::Placement::Bearer,
        }
    }
}

/// The documented limit, so the runner can pace itself ahead of 429s.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub requests: u32,
    pub per_seconds: u32,
    /// What the limit applies to, in the provider's words (per user, per app…).
    pub scope: Option<String>,
    pub remaining_header: Option<String>,
    pub reset_header: Option<String>,
    /// How `reset_header` counts: `delta_seconds`, `epoch_seconds`,
    /// `epoch_millis` or `iso8601`; told apart by size when left out.
    #[serde(default)]
    pub reset_format: connector_core::headers::ResetFormat,
    /// Whether 429 answers carry `Retry-After`.
    #[serde(default)]
    pub retry_after: bool,
    /// Requests a UTC day at most, counted by cost, across the connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily: Option<u64>,
    /// Endpoints with a limit or a request cost of their own; the first
    /// whose path a request's starts with is its.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buckets: Vec<RateBucket>,
}

/// An endpoint's own limit (`requests` per `per_seconds`), or the cost of
/// its requests in the connection's limit (points, complexity), or both.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateBucket {
    /// The URL path it covers, from the host: `/crm/v3/objects/*/search`
    /// (`*` stands for one segment).
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_seconds: Option<u32>,
    /// Slots of the connection's limit one request takes; 1 if not given.
    #[serde(default = "one")]
    pub cost: u32,
}

fn one() -> u32 {
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(pattern: &str) -> Field {
        Field {
            name: "x".into(),
            label: "X".into(),
            kind: FieldKind::Text,
            pattern: Some(pattern.into()),
            example: None,
            help: None,
            required: true,
        }
    }

    #[test]
    fn browser_patterns_escape_what_the_v_flag_refuses_inside_classes() {
        let cases = [
            (r"https://[^\s/]+(/[^\s]*[^/\s])?", r"https://[^\s\/]+(/[^\s]*[^\/\s])?"),
            (r"[0-9]+:[A-Za-z0-9_-]+", r"[0-9]+:[A-Za-z0-9_\-]+"),
            (r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?", r"[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"),
            (r"[-a(){}|]", r"[\-a\(\)\{\}\|]"),
            (r"AC[0-9a-fA-F]{32}", r"AC[0-9a-fA-F]{32}"),
            (r"a\[b/", r"a\[b/"),
        ];
        for (rust, browser) in cases {
            assert_eq!(field(rust).browser_pattern().as_deref(), Some(browser), "{rust}");
        }
        assert_eq!(field("(?i)abc").browser_pattern(), None);
    }

    #[test]
    fn category_keys_are_the_names_files_use() {
        for category in Category::ALL {
            let parsed: Category = serde_json::from_value(serde_json::Value::from(category.key())).unwrap();
            assert_eq!(parsed, category);
        }
    }
}
