//! API tokens (DESIGN: API token; SECURITY I1, I2, I5): created by an
//! admin, shown once, stored as their SHA-256, checked on every request
//! against the database, so revocation and expiry hold at once on every
//! replica.

use std::collections::BTreeSet;

use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};

use crate::{
    Platform,
    error::{Error, Result},
    ids::TeamId,
    store::{
        self,
        api_tokens::{ApiToken, NewToken},
        users::User,
    },
    util::now,
};

/// What a token may read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// The change feed, the records and search.
    RecordsRead,
    /// The connections and their sync status.
    ConnectionsRead,
    /// The MCP server, whose tools read records and connections.
    Mcp,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::RecordsRead, Scope::ConnectionsRead, Scope::Mcp];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::RecordsRead => "records:read",
            Scope::ConnectionsRead => "connections:read",
            Scope::Mcp => "mcp",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == s)
    }

    /// What the scope allows, in words for the form.
    pub fn describe(self) -> &'static str {
        match self {
            Scope::RecordsRead => "Read synced records, the change feed and search",
            Scope::ConnectionsRead => "Read connections and their sync status",
            Scope::Mcp => "Use the MCP server (agents' search and lookups)",
        }
    }
}

/// Every token starts so: secret scanners and the canary tests know it.
pub const PREFIX: &str = "pb_";

/// A token as created: the secret is here once, to be shown once.
#[derive(Debug)]
pub struct Created {
    pub token: SecretString,
    pub listed: ApiToken,
}

/// What an admin asks for.
#[derive(Clone, Debug)]
pub struct Request {
    pub name: String,
    pub scopes: BTreeSet<Scope>,
    /// Unix seconds; `None` never.
    pub expires_at: Option<i64>,
}

/// The hex SHA-256 of a presented token: what is stored and looked up.
fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Creates a token for the admin's team, audited; the token itself is in
/// the result only.
pub async fn create(platform: &Platform, actor: &User, request: &Request) -> Result<Created> {
    super::admin_only(actor, "API tokens")?;
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(Error::Invalid {
            field: "name".into(),
            message: "Give the token a name of 1 to 80 characters, such as the platform that will use it.".into(),
        });
    }
    if request.scopes.is_empty() {
        return Err(Error::Invalid { field: "scopes".into(), message: "Choose at least one scope.".into() });
    }
    let at = now();
    if request.expires_at.is_some_and(|expires| expires <= at) {
        return Err(Error::Invalid { field: "expires_at".into(), message: "The expiry must be in the future.".into() });
    }
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    let token = format!("{PREFIX}{}", base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes));
    let id = crate::util::random_id();
    let scopes: Vec<&str> = request.scopes.iter().map(|scope| scope.as_str()).collect();
    let scopes = scopes.join(" ");
    let hint: String = token.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    let mut tx = platform.db.begin_write().await?;
    store::api_tokens::insert(
        &mut tx,
        &NewToken {
            id: &id,
            team: &actor.team_id,
            name,
            scopes: &scopes,
            digest: &digest(&token),
            hint: &hint,
            created_by: &actor.id,
            created_at: at,
            expires_at: request.expires_at,
        },
    )
    .await?;
    store::audit::record(
        &mut tx,
        &actor.team_id,
        Some(&actor.id),
        "api_token.created",
        &id,
        &format!("Created the API token \"{name}\" (…{hint}) with {scopes}"),
    )
    .await?;
    tx.commit().await?;
    let listed = store::api_tokens::list(&platform.db, &actor.team_id)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or(Error::NotFound)?;
    Ok(Created { token: token.into(), listed })
}

/// The team's tokens, for the settings page.
pub async fn list(platform: &Platform, team: &TeamId) -> Result<Vec<ApiToken>> {
    store::api_tokens::list(&platform.db, team).await
}

/// Revokes one of the admin's team's tokens, audited: the next request
/// carrying it is refused (I5).
pub async fn revoke(platform: &Platform, actor: &User, id: &str) -> Result<()> {
    super::admin_only(actor, "API tokens")?;
    let token = store::api_tokens::list(&platform.db, &actor.team_id)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or(Error::NotFound)?;
    let mut tx = platform.db.begin_write().await?;
    if store::api_tokens::revoke(&mut tx, &actor.team_id, id, now()).await? {
        store::audit::record(
            &mut tx,
            &actor.team_id,
            Some(&actor.id),
            "api_token.revoked",
            id,
            &format!("Revoked the API token \"{}\" (…{})", token.name, token.hint),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Who a request's token speaks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub team: TeamId,
    pub token_id: String,
    pub scopes: BTreeSet<Scope>,
}

impl Caller {
    pub fn may(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}

/// The caller a presented token speaks for, or `None` for a token that is
/// unknown, revoked or expired: all alike to the caller. Its digest is
/// looked up and compared again in constant time (I2); its use is
/// recorded at most once a minute.
pub async fn authenticate(platform: &Platform, presented: &SecretString) -> Result<Option<Caller>> {
    let presented = presented.expose_secret();
    if !presented.starts_with(PREFIX) || presented.len() > 200 {
        return Ok(None);
    }
    let wanted = digest(presented);
    let Some((token, stored)) = store::api_tokens::by_digest(&platform.db, &wanted).await? else { return Ok(None) };
    if !connector_core::webhooks::verify::constant_time_eq(stored.as_bytes(), wanted.as_bytes()) {
        return Ok(None);
    }
    let at = now();
    if token.revoked_at.is_some() || token.expires_at.is_some_and(|expires| expires <= at) {
        return Ok(None);
    }
    if token.last_used_at.is_none_or(|used| used < at - 60) {
        store::api_tokens::touch(&platform.db, &token.id, at).await?;
    }
    Ok(Some(Caller {
        team: token.team_id,
        token_id: token.id,
        scopes: token.scopes.split_whitespace().filter_map(Scope::parse).collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_what_they_print() {
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
        }
        assert_eq!(Scope::parse("records:write"), None);
    }

    #[test]
    fn the_stored_digest_is_the_sha256_of_the_whole_token() {
        assert_eq!(digest("pb_abc"), hex::encode(Sha256::digest(b"pb_abc")));
        assert_ne!(digest("pb_abc"), digest("pb_abd"));
    }
}
