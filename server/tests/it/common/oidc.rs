//! npm `oidc-provider` as a test peer: a strict, real OAuth 2.0 server
//! (`server/tests/peers/oidc-provider/server.mjs`), one per test, on a free
//! loopback port, stopped when the test's handle drops (or, should the test
//! process die, when the pipe to its standard input closes).

use std::{
    io::{BufRead as _, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use super::location;

pub const CLIENT_ID: &str = "patchbay-conformance";
pub const CLIENT_SECRET: &str = "conformance-client-secret";
/// The one person the peer knows.
pub const LOGIN: &str = "ada";
pub const NAME: &str = "Ada Lovelace";

fn peer_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/oidc-provider")
}

/// What the peer was asked, as it counts it.
#[derive(Debug, serde::Deserialize)]
pub struct Stats {
    /// Every POST to the token endpoint, answered or not.
    pub token_requests: u64,
    pub code_grants: u64,
    pub refresh_grants: u64,
    /// The `error` of each refused refresh.
    pub refresh_errors: Vec<String>,
    /// Every POST to the revocation endpoint, and the errors it answered.
    pub revocations: u64,
    pub revocation_errors: Vec<String>,
}

#[derive(Debug)]
pub struct OidcPeer {
    pub issuer: String,
    child: Child,
    /// The person's browser at the provider: it keeps the provider's
    /// session and interaction cookies.
    browser: reqwest::Client,
}

impl OidcPeer {
    /// Starts the peer, accepting these console callback URLs, issuing
    /// access tokens that live `access_token_seconds`.
    pub fn start(redirect_uris: &[String], access_token_seconds: u32) -> Self {
        let dir = peer_dir();
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "oidc-provider is not installed in {}: run `scripts/setup.sh peers` (the README's test command does)",
            dir.display()
        );
        let mut child = Command::new("node")
            .arg("server.mjs")
            .current_dir(&dir)
            .env("REDIRECT_URIS", redirect_uris.join(","))
            .env("CLIENT_ID", CLIENT_ID)
            .env("CLIENT_SECRET", CLIENT_SECRET)
            .env("ACCESS_TOKEN_SECONDS", access_token_seconds.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node starts (Node 20 is on the machine)");
        let stdout = child.stdout.take().expect("the peer's stdout");
        let mut issuer = None;
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("the peer's output");
            if let Ok(ready) = serde_json::from_str::<serde_json::Value>(&line)
                && let Some(found) = ready["issuer"].as_str()
            {
                issuer = Some(found.to_owned());
                break;
            }
        }
        let issuer = issuer.expect("oidc-provider said where it listens");
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .timeout(Duration::from_secs(30))
            .build()
            .expect("HTTP client");
        Self { issuer, child, browser }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    pub async fn stats(&self) -> Stats {
        let response = reqwest::get(self.url("/__test/stats")).await.expect("the peer answers");
        response.json().await.expect("the peer's stats")
    }

    /// A catalog file describing the peer as provider `id`, whose token
    /// endpoint is at `token_path`.
    pub fn provider_file(&self, id: &str, token_path: &str) -> String {
        let issuer = &self.issuer;
        format!(
            r#"id = "{id}"
name = "OIDC Peer"
category = "demo"
description = "npm oidc-provider, run by the conformance tests."
docs_url = "{issuer}/.well-known/openid-configuration"
logo = "sandbox.svg"
availability = "available"
sources = ["{issuer}/.well-known/openid-configuration"]
entities = ["item"]

[auth]
kind = "oauth2"
authorize_url = "{issuer}/auth"
token_url = "{issuer}{token_path}"
revoke_url = "{issuer}/token/revocation"
issuer = "{issuer}"
scopes = ["openid", "profile"]
pkce = "required"
client_auth = "basic"
token_life = "short_lived"
refresh_token_rotates = true

[auth.user_info]
url = "{issuer}/me"
headers = {{ Authorization = "Bearer {{access_token}}" }}
account_id = "/sub"
display_name = "/name"

[api]
base_url = "{issuer}"
allowed_hosts = ["127.0.0.1"]
pagination = "cursor"
"#
        )
    }

    /// Plays the person at the provider: follows the authorize URL, signs
    /// in and answers the consent page with `decision` ("approve" or
    /// "deny"). Returns the URL the provider sends the browser back to,
    /// which starts with `back_to`.
    pub async fn authorize(&self, authorize_url: &str, decision: &str, back_to: &str) -> String {
        let mut response = self.browser.get(authorize_url).send().await.expect("the provider answers");
        for _ in 0..12 {
            if response.status().is_redirection() {
                let to = location(&response);
                let to = if to.starts_with('/') { self.url(&to) } else { to };
                if to.starts_with(back_to) {
                    return to;
                }
                response = self.browser.get(&to).send().await.expect("the provider answers");
                continue;
            }
            assert_eq!(response.status(), 200, "the provider showed an error: {}", response.text().await.unwrap());
            let html = response.text().await.expect("a page");
            let action = html
                .split("action=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or_else(|| panic!("the provider's page has no form: {html}"))
                .to_owned();
            let form: &[(&str, &str)] =
                if action.ends_with("/login") { &[("login", LOGIN)] } else { &[("decision", decision)] };
            response = self.browser.post(self.url(&action)).form(form).send().await.expect("the provider answers");
        }
        panic!("the provider never sent the browser back");
    }

    /// A token request made directly, as another client (or an attacker
    /// holding a stolen value) would: returns the status and JSON body.
    pub async fn token_request(&self, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
        let response = reqwest::Client::new()
            .post(self.url("/token"))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(form)
            .send()
            .await
            .expect("the token endpoint answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }

    /// Whether the provider accepts `access_token` at its user-info endpoint.
    pub async fn accepts(&self, access_token: &str) -> bool {
        let me = reqwest::Client::new().get(self.url("/me")).bearer_auth(access_token).send().await;
        me.expect("the user-info endpoint answers").status() == 200
    }
}

impl Drop for OidcPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
