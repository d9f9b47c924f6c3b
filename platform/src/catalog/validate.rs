//! Reading one provider file and checking what the types alone cannot:
//! https everywhere but loopback, placeholders that name real fields,
//! patterns that compile and accept their example, a logo that exists, and
//! hosts a token may be sent to that cover the API's own.

use std::path::Path;

use super::{Auth, Credentials, FieldKind, Problem, Provider, Request, SubscriptionKind};

/// Collects problems against one file.
struct Report<'a> {
    file: &'a str,
    problems: Vec<Problem>,
}

impl Report<'_> {
    fn add(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem { file: self.file.to_owned(), key: key.into(), message: message.into() });
    }
}

/// Parses and checks one file.
pub(super) fn file(file: &str, text: &str, logos: &[&Path]) -> Result<Provider, Vec<Problem>> {
    let mut report = Report { file, problems: Vec::new() };
    let provider = match parse(text) {
        Ok(provider) => provider,
        Err((key, message)) => {
            report.add(key, message);
            return Err(report.problems);
        }
    };
    check(&provider, &mut report, logos);
    if report.problems.is_empty() { Ok(provider) } else { Err(report.problems) }
}

/// Deserialises, naming the key of the first problem.
fn parse(text: &str) -> Result<Provider, (String, String)> {
    let de = toml::Deserializer::parse(text).map_err(|e| {
        let line = e.span().map_or(0, |span| text[..span.start.min(text.len())].matches('\n').count() + 1);
        (String::new(), format!("line {line}: {}", e.message()))
    })?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let key = if key == "." { String::new() } else { key };
        let message = e.into_inner().message().to_owned();
        if key == "auth"
            && let Some(precise) = auth_problem(text)
        {
            return precise;
        }
        (key, message)
    })
}

/// The `auth` table is chosen by its `kind`, and serde reads such a table
/// whole, so its errors stop at `auth`. Reading it again as the type its
/// kind names finds the key inside.
fn auth_problem(text: &str) -> Option<(String, String)> {
    fn inner<T: serde::de::DeserializeOwned>(table: toml::Table) -> Option<(String, String)> {
        let error = serde_path_to_error::deserialize::<_, T>(toml::Value::Table(table)).err()?;
        let key = error.path().to_string();
        let key = if key == "." { "auth".to_owned() } else { format!("auth.{key}") };
        Some((key, error.into_inner().to_string()))
    }
    let document: toml::Table = text.parse().ok()?;
    let mut auth = document.get("auth")?.as_table()?.clone();
    let kind = auth.remove("kind")?;
    match kind.as_str()? {
        "oauth2" => inner::<super::OAuth2>(auth),
        "api_key" | "basic" => inner::<super::Credentials>(auth),
        _ => None,
    }
}

fn check(provider: &Provider, report: &mut Report<'_>, logos: &[&Path]) {
    let stem = Path::new(report.file).file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
    if provider.id.as_str() != stem {
        report.add("id", format!("`{}` differs from the file name; name the file {}.toml", provider.id, provider.id));
    }
    for (key, value, max) in
        [("name", &provider.name, 60), ("description", &provider.description, 140), ("logo", &provider.logo, 80)]
    {
        if value.trim().is_empty() {
            report.add(key, "must not be empty");
        } else if value.chars().count() > max {
            report.add(key, format!("must be at most {max} characters"));
        }
    }
    if !logos.is_empty() {
        let found = !provider.logo.contains(['/', '\\']) && logos.iter().any(|dir| dir.join(&provider.logo).is_file());
        if !found {
            let dirs = logos.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(" or ");
            report.add("logo", format!("no file {} in {dirs}", provider.logo));
        }
    }
    check_url(report, "docs_url", &provider.docs_url, &[]);
    if provider.sources.is_empty() {
        report.add("sources", "name the documentation pages these facts come from");
    }
    for (i, source) in provider.sources.iter().enumerate() {
        check_url(report, &format!("sources[{i}]"), source, &[]);
    }
    if provider.entities.is_empty() {
        report.add("entities", "name at least one kind of record it syncs");
    }

    let placeholders: Vec<String> = match &provider.auth {
        Auth::Oauth2(oauth) => {
            check_url(report, "auth.authorize_url", &oauth.authorize_url, &[]);
            check_url(report, "auth.token_url", &oauth.token_url, &[]);
            if let Some(revoke) = &oauth.revoke_url {
                check_url(report, "auth.revoke_url", revoke, &[]);
            }
            if let Some(issuer) = &oauth.issuer {
                check_url(report, "auth.issuer", issuer, &[]);
            }
            if !matches!(oauth.scope_separator.as_str(), " " | "," | "+") {
                report.add("auth.scope_separator", "must be a space, `,` or `+`");
            }
            // The token, and what the token response carries (`{token.instance_url}`).
            let names = vec!["access_token".to_owned(), "token.*".to_owned()];
            check_request(report, "auth.user_info", &oauth.user_info, &names);
            if provider.api.allowed_hosts.is_empty() {
                report.add("api.allowed_hosts", "an OAuth provider must list the hosts its tokens may be sent to");
            }
            names
        }
        Auth::ApiKey(credentials) | Auth::Basic(credentials) => check_credentials(report, credentials),
    };
    check_api(provider, report, &placeholders);
    if let Some(hooks) = &provider.webhooks {
        check_webhooks(provider, hooks, report);
    }
    if let Some(limit) = &provider.rate_limit
        && (limit.requests == 0 || limit.per_seconds == 0)
    {
        report.add("rate_limit", "requests and per_seconds must be more than 0");
    }
    if let Some(limit) = &provider.rate_limit {
        if limit.daily == Some(0) {
            report.add("rate_limit.daily", "must be more than 0, or left out");
        }
        for (i, bucket) in limit.buckets.iter().enumerate() {
            let key = format!("rate_limit.buckets[{i}]");
            if !bucket.path.starts_with('/') || bucket.path.contains(['?', '#']) {
                report.add(format!("{key}.path"), "must be a URL path such as `/crm/v3/objects/*/search`");
            }
            match (bucket.requests, bucket.per_seconds) {
                (Some(0), _) | (_, Some(0)) => report.add(key.clone(), "requests and per_seconds must be more than 0"),
                (Some(_), None) | (None, Some(_)) => report.add(key.clone(), "give both requests and per_seconds"),
                _ => {}
            }
            if !(1..=1000).contains(&bucket.cost) {
                report.add(format!("{key}.cost"), "must be from 1 to 1000");
            }
        }
    }
}

fn check_credentials(report: &mut Report<'_>, credentials: &Credentials) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (i, field) in credentials.fields.iter().enumerate() {
        let key = format!("auth.fields[{i}]");
        if field.name.is_empty() || !field.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            report.add(format!("{key}.name"), "use a-z and `_`");
        } else if names.contains(&field.name) {
            report.add(format!("{key}.name"), format!("`{}` is already a field", field.name));
        }
        names.push(field.name.clone());
        if let Some(pattern) = &field.pattern {
            match regex::Regex::new(&format!("^(?:{pattern})$")) {
                Err(e) => report.add(format!("{key}.pattern"), format!("not a valid regular expression: {e}")),
                Ok(re) => {
                    if let Some(example) = field.example.as_ref().filter(|example| !re.is_match(example)) {
                        report.add(format!("{key}.example"), format!("`{example}` does not match the pattern"));
                    }
                }
            }
        }
        if field.kind == FieldKind::Url
            && let Some(example) = &field.example
        {
            check_url(report, &format!("{key}.example"), example, &[]);
        }
    }
    if !credentials.fields.iter().any(|f| f.kind == FieldKind::Secret) {
        report.add("auth.fields", "at least one field must be a secret");
    }
    check_request(report, "auth.verify", &credentials.verify, &names);
    names
}

fn check_request(report: &mut Report<'_>, key: &str, request: &Request, names: &[String]) {
    check_url(report, &format!("{key}.url"), &request.url, names);
    for (header, value) in &request.headers {
        check_placeholders(report, &format!("{key}.headers.{header}"), value, names);
    }
    if let Some(body) = &request.body {
        check_placeholders(report, &format!("{key}.body"), body, names);
    }
    if let Some(basic) = &request.basic_auth {
        check_placeholders(report, &format!("{key}.basic_auth.username"), &basic.username, names);
        check_placeholders(report, &format!("{key}.basic_auth.password"), &basic.password, names);
    }
    for (pointer_key, pointer) in [("account_id", &request.account_id), ("display_name", &request.display_name)] {
        if !pointer.is_empty() && !pointer.starts_with('/') {
            report.add(format!("{key}.{pointer_key}"), "must be a JSON pointer such as `/data/viewer/id`");
        }
    }
}

fn check_api(provider: &Provider, report: &mut Report<'_>, names: &[String]) {
    let api = &provider.api;
    for (i, host) in api.allowed_hosts.iter().enumerate() {
        let bare = host.strip_prefix("*.").unwrap_or(host);
        let valid = !bare.is_empty()
            && bare.split('.').count() >= 2
            && bare.split('.').all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        if !valid && !is_loopback(bare) {
            report.add(format!("api.allowed_hosts[{i}]"), format!("`{host}` is not a host name"));
        }
    }
    check_url(report, "api.base_url", &api.base_url, names);
    // A fixed host must be one a token may go to; a host from a form field
    // is checked against the field's value when the admin enters it.
    if let Some(host) = fixed_host(&api.base_url)
        && !host_allowed(&host, &api.allowed_hosts)
    {
        report.add("api.base_url", format!("its host {host} is not in api.allowed_hosts"));
    }
    if let Some(minutes) = api.sync_every_minutes
        && !(5..=1440).contains(&minutes)
    {
        report.add("api.sync_every_minutes", "must be from 5 to 1440 (a day)");
    }
    let word = |text: &str| {
        !text.is_empty() && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    };
    let mut types = std::collections::HashSet::new();
    for (i, stream) in api.streams.iter().enumerate() {
        let key = format!("api.streams[{i}]");
        if !word(&stream.name) {
            report.add(format!("{key}.name"), "must be a lowercase word (letters, digits, `_`)");
        }
        if api.streams[..i].iter().any(|s| s.name == stream.name) {
            report.add(format!("{key}.name"), format!("`{}` names two streams", stream.name));
        }
        if stream.entity_types.is_empty() {
            report.add(format!("{key}.entity_types"), "must name the entity types the stream syncs");
        }
        // A full pass of one stream deletes what it did not see of its
        // types: two streams sharing a type would delete each other's.
        for entity_type in &stream.entity_types {
            if !types.insert(entity_type.as_str()) {
                report.add(format!("{key}.entity_types"), format!("`{entity_type}` is in two streams"));
            }
        }
    }
}

/// A provider's webhooks: header names that are header names, events
/// that change entity types the provider syncs, a retry window and a
/// lifetime that make sense.
fn check_webhooks(provider: &Provider, hooks: &super::Webhooks, report: &mut Report<'_>) {
    use connector_core::webhooks::Verifier;
    let header_name = |name: &str| {
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    for name in hooks.verify.headers() {
        if !header_name(&name) {
            report.add("webhooks.verify", format!("`{name}` must be a lowercase header name"));
        }
    }
    if let Verifier::Svix { header_prefix, .. } = &hooks.verify
        && !matches!(header_prefix.as_str(), "svix" | "webhook")
    {
        report.add("webhooks.verify.header_prefix", "must be `svix` or `webhook`");
    }
    for (key, header) in
        [("webhooks.delivery_header", &hooks.delivery_header), ("webhooks.event_header", &hooks.event_header)]
    {
        if let Some(name) = header
            && !header_name(name)
        {
            report.add(key, format!("`{name}` must be a lowercase header name"));
        }
    }
    if let Some(field) = &hooks.delivery_field
        && !field.starts_with('/')
    {
        report.add("webhooks.delivery_field", "must be a JSON pointer such as `/meta/id`");
    }
    if hooks.content_types.is_empty() {
        report.add("webhooks.content_types", "name the content types deliveries have");
    }
    for (i, content_type) in hooks.content_types.iter().enumerate() {
        if !content_type.contains('/')
            || content_type.contains([';', ' '])
            || content_type.to_ascii_lowercase() != *content_type
        {
            report.add(
                format!("webhooks.content_types[{i}]"),
                "must be a lowercase media type such as `application/json`",
            );
        }
    }
    if !(1..=720).contains(&hooks.retry_window_hours) {
        report.add("webhooks.retry_window_hours", "must be from 1 to 720 (30 days)");
    }
    if let Some(hours) = hooks.expires_after_hours
        && !(2..=24 * 365).contains(&hours)
    {
        report.add("webhooks.expires_after_hours", "must be from 2 hours to a year, or left out");
    }
    if let Some(minutes) = hooks.fallback_sync_every_minutes
        && !(1..=1440).contains(&minutes)
    {
        report.add("webhooks.fallback_sync_every_minutes", "must be from 1 to 1440 (a day)");
    }
    match (hooks.subscription, &hooks.route) {
        (SubscriptionKind::App, None) => {
            report.add("webhooks.route", "an app-wide subscription must name the JSON pointer that routes a delivery");
        }
        (SubscriptionKind::App, Some(route)) if !route.starts_with('/') => {
            report.add("webhooks.route", "must be a JSON pointer such as `/installation/id`");
        }
        (SubscriptionKind::Api | SubscriptionKind::Manual, Some(_)) => {
            report.add("webhooks.route", "only an app-wide subscription is routed by its payload");
        }
        _ => {}
    }
    if hooks.subscription == SubscriptionKind::App && hooks.handshake.is_some_and(|h| h.before_verification()) {
        report.add("webhooks.handshake", "an app-wide URL verifies with the app's secret before anything else");
    }
    if !hooks.scopes.is_empty() && !matches!(provider.auth, Auth::Oauth2(_)) {
        report.add("webhooks.scopes", "only an OAuth connect asks for scopes");
    }
    if hooks.events.is_empty() {
        report.add("webhooks.events", "name the events that change records");
    }
    if let Some(field) = &hooks.signed_with {
        let secret_field = match &provider.auth {
            Auth::ApiKey(form) | Auth::Basic(form) => {
                form.fields.iter().any(|f| f.name == *field && f.kind == FieldKind::Secret)
            }
            Auth::Oauth2(_) => false,
        };
        if !secret_field {
            report.add("webhooks.signed_with", format!("`{field}` is not a secret field of the credential form"));
        }
        if hooks.subscription != SubscriptionKind::Manual {
            report.add("webhooks.signed_with", "only a webhook an admin registers by hand is signed with a credential");
        }
    }
    for (event, types) in &hooks.events {
        if types.is_empty() {
            report.add(format!("webhooks.events.{event}"), "must name the entity types it changes");
        }
        for entity_type in types {
            if !provider.entities.contains(entity_type) {
                report.add(format!("webhooks.events.{event}"), format!("`{entity_type}` is not one of `entities`"));
            }
        }
    }
}

/// The host of a URL whose host is not a placeholder.
fn fixed_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let host = rest.split(['/', ':', '?']).next()?;
    (!host.contains('{')).then(|| host.to_ascii_lowercase())
}

/// Whether `host` is one of `allowed` (exactly, or under a `*.` entry).
pub fn host_allowed(host: &str, allowed: &[String]) -> bool {
    connector_core::paging::host_allowed(host, allowed)
}

fn is_loopback(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

/// `{name}` placeholders must name a field (or `token.*` for any key of
/// the token response).
fn check_placeholders(report: &mut Report<'_>, key: &str, template: &str, names: &[String]) {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            report.add(key, "has a `{` without its `}`");
            return;
        };
        let name = &rest[open + 1..open + close];
        let known = names.iter().any(|n| n == name || (n == "token.*" && name.starts_with("token.")));
        // JSON bodies hold braces of their own: only `{word}` is a placeholder.
        let placeholder = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
        if placeholder && !known {
            report.add(key, format!("`{{{name}}}` names no field"));
        }
        rest = &rest[open + close + 1..];
    }
}

/// A URL (or URL template) must be https, except on loopback hosts.
fn check_url(report: &mut Report<'_>, key: &str, url: &str, names: &[String]) {
    check_placeholders(report, key, url, names);
    if url.starts_with('{') {
        // The whole base comes from a field, which is checked when entered.
        return;
    }
    // Placeholders inside a host or path stand for plain words; those that
    // name no field were reported above.
    let Ok(parsed) = url::Url::parse(&fill_placeholders(url)) else {
        report.add(key, format!("`{url}` is not a URL"));
        return;
    };
    let host = parsed.host_str().unwrap_or_default();
    match parsed.scheme() {
        "https" => {}
        "http" if is_loopback(host) => {}
        _ => report.add(key, format!("`{url}` must use https (plain http only for 127.0.0.1, localhost or [::1])")),
    }
}

/// Replaces every `{…}` placeholder with a plain word.
fn fill_placeholders(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        match rest[open..].find('}') {
            Some(close) => {
                out.push('x');
                rest = &rest[open + close + 1..];
            }
            None => break,
        }
    }
    out.push_str(rest);
    out
}
