//! Asking a provider which account a credential belongs to: the
//! verification request of a credential form, and (with the OAuth flow) the
//! user-info request. Both are described in the catalog as a [`Request`]
//! template; this module fills it in, checks where it would go, sends it
//! without following redirects, and reads the account's id and name out of
//! the answer (CONNECTOR-RULES 27).
//!
//! A filled-in request carries a secret, in a header or even in its URL
//! (Telegram puts the bot token in the path). So nothing here logs a URL,
//! a header or a client error's text, and a failure is described by its
//! kind, its HTTP status and the host only (CONNECTOR-RULES 35).

use std::{collections::BTreeMap, fmt};

use secrecy::{ExposeSecret as _, SecretString};

use crate::{
    catalog::{Method, Request, host_allowed},
    outbound::http::Http,
};

/// Answers bigger than this are not read to the end: an account
/// description is a few kilobytes.
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// A value a template may name: a form field or a token.
#[derive(Clone, Debug)]
pub struct Value {
    pub text: SecretString,
    /// Whether it goes into a URL as it is (a base URL) rather than
    /// percent-encoded as one path segment or query value.
    pub is_url: bool,
}

impl Value {
    pub fn url(text: &str) -> Self {
        Self { text: SecretString::from(text.to_owned()), is_url: true }
    }

    pub fn plain(text: SecretString) -> Self {
        Self { text, is_url: false }
    }
}

pub type Values = BTreeMap<String, Value>;

/// The account a credential reaches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// The provider's stable id for it, as text (numbers are written out).
    pub id: String,
    /// What the card shows; the id when the provider gives no name.
    pub name: String,
}

/// Why the provider could not tell us the account. Each says what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The filled-in URL does not parse.
    BadUrl,
    /// Plain http to a host that is not loopback.
    NotHttps {
        host: String,
    },
    /// The request would go to a host the provider's tokens may not go to.
    HostNotAllowed {
        host: String,
    },
    /// A value holds a character a header cannot carry.
    BadHeader,
    /// 401 or 403.
    Refused {
        status: u16,
    },
    NotFound {
        host: String,
    },
    Redirected {
        host: String,
        status: u16,
    },
    RateLimited,
    ProviderDown {
        status: u16,
    },
    UnexpectedStatus {
        status: u16,
    },
    Timeout {
        host: String,
        seconds: u64,
    },
    Unreachable {
        host: String,
    },
    /// A 2xx answer that is not JSON, or does not say which account.
    NoAccount {
        host: String,
    },
}

impl Failure {
    /// The sentence an admin reads; `provider` is the provider's name and
    /// `credential` says what was entered ("key", "user name and password").
    pub fn explain(&self, provider: &str, credential: &str) -> String {
        match self {
            Failure::BadUrl => "The address is not a valid URL.".into(),
            Failure::NotHttps { host } => {
                format!("{host} must be reached over https; plain http is only for 127.0.0.1 and localhost.")
            }
            Failure::HostNotAllowed { host } => {
                format!("{host} is not a host {provider} credentials may be sent to.")
            }
            Failure::BadHeader => {
                format!("The {credential} holds characters that cannot be sent; copy it again without line breaks.")
            }
            Failure::Refused { status } => format!(
                "{provider} refused the {credential} (HTTP {status}). Check that it was copied whole, \
                 that it is still active, and that it has the access the help text lists."
            ),
            Failure::NotFound { host } => {
                format!("{host} has no {provider} API at that address (HTTP 404). Check the URL.")
            }
            Failure::Redirected { host, status } => format!(
                "{host} answered with a redirect (HTTP {status}) instead of {provider}'s API. \
                 Enter the address the API is served at, with https."
            ),
            Failure::RateLimited => {
                format!("{provider} is limiting requests right now (HTTP 429). Wait a minute, then try again.")
            }
            Failure::ProviderDown { status } => {
                format!("{provider} had a problem answering (HTTP {status}). Try again in a few minutes.")
            }
            Failure::UnexpectedStatus { status } => {
                format!("{provider} answered with HTTP {status}, which Patchbay did not expect. Check the settings.")
            }
            Failure::Timeout { host, seconds } => format!(
                "{host} did not answer within {seconds} second{}. Check the address, or try again in a moment.",
                if *seconds == 1 { "" } else { "s" }
            ),
            Failure::Unreachable { host } => format!(
                "Could not reach {host}: the name did not resolve, the connection was refused, or its \
                 certificate is not trusted. Check the address and that this server can reach it."
            ),
            Failure::NoAccount { host } => format!(
                "{host} answered, but not with the {provider} account details Patchbay asks for. \
                 Check that the address points at {provider}."
            ),
        }
    }
}

/// Where a token may go: the provider's allowed hosts, or, when it lists
/// none (a self-hosted provider), the hosts of the URLs the admin entered.
#[derive(Clone, Debug)]
pub struct Destination<'a> {
    pub allowed_hosts: &'a [String],
    pub entered_hosts: Vec<String>,
}

impl Destination<'_> {
    fn allows(&self, host: &str) -> bool {
        if self.allowed_hosts.is_empty() {
            self.entered_hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
        } else {
            host_allowed(host, self.allowed_hosts)
        }
    }
}

/// Whether plain http is acceptable for this host (local development and tests).
pub fn is_loopback(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "localhost" | "[::1]" | "::1")
}

/// Fills a template: `{name}` becomes the named value. Inside a URL a
/// value that is not itself a URL is percent-encoded, so it cannot add a
/// path segment or a query parameter. A `{…}` that is not a plain name
/// (a GraphQL body's braces) is left as it is.
pub fn fill(template: &str, values: &Values, in_url: bool) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let name_len = after.find('}').filter(|&end| {
            end > 0 && after[..end].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        });
        match name_len.map(|end| (end, values.get(&after[..end]))) {
            Some((end, value)) => {
                if let Some(value) = value {
                    let text = value.text.expose_secret();
                    if in_url && !value.is_url {
                        out.extend(
                            url::form_urlencoded::byte_serialize(text.as_bytes()).map(|s| s.replace('+', "%20")),
                        );
                    } else {
                        out.push_str(text);
                    }
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Sends the request and reads the account out of the answer.
#[tracing::instrument(skip_all)]
pub async fn fetch(http: &Http, request: &Request, values: &Values, to: &Destination<'_>) -> Result<Account, Failure> {
    let url = url::Url::parse(&fill(&request.url, values, true)).map_err(|_| Failure::BadUrl)?;
    let host = match url.host_str() {
        Some(host) if matches!(url.scheme(), "https" | "http") => host.to_owned(),
        _ => return Err(Failure::BadUrl),
    };
    if url.scheme() == "http" && !is_loopback(&host) {
        return Err(Failure::NotHttps { host });
    }
    if !to.allows(&host) {
        return Err(Failure::HostNotAllowed { host });
    }
    let mut builder = match request.method {
        Method::Get => http.client().get(url),
        Method::Post => http.client().post(url),
    };
    for (name, template) in &request.headers {
        let value =
            reqwest::header::HeaderValue::from_str(&fill(template, values, false)).map_err(|_| Failure::BadHeader)?;
        let name = reqwest::header::HeaderName::from_bytes(name.as_bytes()).map_err(|_| Failure::BadHeader)?;
        builder = builder.header(name, value);
    }
    if let Some(basic) = &request.basic_auth {
        builder = builder.basic_auth(fill(&basic.username, values, false), Some(fill(&basic.password, values, false)));
    }
    if let Some(body) = &request.body {
        let has_type = request.headers.keys().any(|k| k.eq_ignore_ascii_case("content-type"));
        if !has_type {
            builder = builder.header(reqwest::header::CONTENT_TYPE, "application/json");
        }
        builder = builder.body(fill(body, values, false));
    }
    let seconds = http.timeout().as_secs().max(1);
    // The error's own text names the URL, which may hold the secret: it is
    // only ever classified, never shown.
    let transport = |e: reqwest::Error, host: &str| {
        if e.is_timeout() {
            Failure::Timeout { host: host.to_owned(), seconds }
        } else {
            Failure::Unreachable { host: host.to_owned() }
        }
    };
    let mut response = builder.send().await.map_err(|e| transport(e, &host))?;
    let status = response.status().as_u16();
    tracing::debug!(status, %host, "provider answered the account request");
    match status {
        200..=299 => {}
        401 | 403 => return Err(Failure::Refused { status }),
        404 | 410 => return Err(Failure::NotFound { host }),
        300..=399 => return Err(Failure::Redirected { host, status }),
        429 => return Err(Failure::RateLimited),
        500..=599 => return Err(Failure::ProviderDown { status }),
        _ => return Err(Failure::UnexpectedStatus { status }),
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport(e, &host))? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(Failure::NoAccount { host });
        }
        body.extend_from_slice(&chunk);
    }
    read_account(&body, request).ok_or(Failure::NoAccount { host })
}

/// The account in an answer: the id must be there (a string or a number,
/// not empty); the name falls back to the id rather than to "Unknown".
pub fn read_account(body: &[u8], request: &Request) -> Option<Account> {
    let json: serde_json::Value = serde_json::from_slice(body).ok()?;
    let text_at = |pointer: &str| -> Option<String> {
        match json.pointer(pointer)? {
            serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let id = text_at(&request.account_id)?;
    let name = text_at(&request.display_name).unwrap_or_else(|| id.clone());
    Some(Account { id: truncate(&id, 200), name: truncate(&name, 200) })
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str, bool)]) -> Values {
        pairs
            .iter()
            .map(|(k, v, is_url)| {
                ((*k).to_owned(), Value { text: SecretString::from((*v).to_owned()), is_url: *is_url })
            })
            .collect()
    }

    #[test]
    fn values_in_a_url_cannot_add_segments_but_base_urls_go_in_whole() {
        let values = values(&[("base_url", "https://x.example/app", true), ("account_id", "1/../2?a=b", false)]);
        assert_eq!(
            fill("{base_url}/api/v1/accounts/{account_id}", &values, true),
            "https://x.example/app/api/v1/accounts/1%2F..%2F2%3Fa%3Db"
        );
    }

    #[test]
    fn braces_that_are_not_placeholders_stay_and_unknown_names_become_empty() {
        let values = values(&[("token", "t0k", false)]);
        assert_eq!(
            fill(r#"{"query":"{ viewer { id } }","t":"{token}","u":"{other}"}"#, &values, false),
            r#"{"query":"{ viewer { id } }","t":"t0k","u":""}"#
        );
    }

    fn request(id: &str, name: &str) -> Request {
        Request {
            method: Method::Get,
            url: "https://x.example/me".into(),
            headers: BTreeMap::new(),
            basic_auth: None,
            body: None,
            account_id: id.into(),
            display_name: name.into(),
        }
    }

    #[test]
    fn accounts_are_read_at_their_pointers_and_numbers_count_as_ids() {
        let body = br#"{"data":{"viewer":{"id":42,"name":"Ada"}}}"#;
        let account = read_account(body, &request("/data/viewer/id", "/data/viewer/name")).unwrap();
        assert_eq!(account, Account { id: "42".into(), name: "Ada".into() });
    }

    #[test]
    fn a_missing_name_falls_back_to_the_id_and_a_missing_id_is_no_account() {
        let body = br#"{"user":{"id":"u1","name":null}}"#;
        assert_eq!(read_account(body, &request("/user/id", "/user/name")).unwrap().name, "u1");
        // Zendesk answers an anonymous caller with `"id": null`.
        for body in [&br#"{"user":{"id":null}}"#[..], b"{}", b"<html>", br#"{"user":{"id":""}}"#] {
            assert_eq!(read_account(body, &request("/user/id", "/user/name")), None);
        }
    }

    #[test]
    fn without_an_allow_list_only_the_entered_hosts_are_allowed() {
        let none: Vec<String> = Vec::new();
        let to = Destination { allowed_hosts: &none, entered_hosts: vec!["chat.example.com".into()] };
        assert!(to.allows("CHAT.example.com"));
        assert!(!to.allows("evil.example.com"));
        let listed = vec!["*.usepylon.com".to_owned()];
        let to = Destination { allowed_hosts: &listed, entered_hosts: vec!["evil.example.com".into()] };
        assert!(to.allows("api.usepylon.com"));
        assert!(!to.allows("evil.example.com"));
    }
}
