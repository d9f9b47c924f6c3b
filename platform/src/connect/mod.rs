//! Connecting a provider with a credential form (`api_key` and `basic`
//! providers), and what follows: replacing the credentials, editing the
//! non-secret settings, and disconnecting.
//!
//! The order is always: check the form, ask the provider which account the
//! credentials reach, store the secrets, then write the installation
//! (CONNECTOR-RULES 22). A failure at any step leaves nothing behind: the
//! provider is asked before anything is written, and secrets written for an
//! installation that then cannot be created are deleted again.
//!
//! Callers check that the person is an admin (SECURITY C4); the team always
//! comes from their session (SECURITY C1).

pub mod oauth;

use std::collections::BTreeMap;

use secrecy::{ExposeSecret as _, SecretString};

use crate::{
    Platform,
    catalog::{Auth, Availability, Credentials, Field, FieldKind, Provider},
    credentials::tokens::TokenError,
    error::{Error, Result},
    outbound::account::{self, Destination, Value, Values, is_loopback},
    secrets::SecretPath,
    store::installations::{self, Installation, Link},
    store::users::User,
};

/// The longest value a field takes: the secret store's smallest limit.
const MAX_VALUE_CHARS: usize = 4096;

/// What a form sent, by field name, untrimmed and unchecked.
pub type Form = BTreeMap<String, String>;

/// An installation as its provider page shows it.
#[derive(Clone, Debug)]
pub struct Connection {
    pub installation: Installation,
    /// Each secret field by name, masked; `None` where nothing is stored.
    pub masked: BTreeMap<String, Option<String>>,
}

/// What an edit of the settings did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edited {
    /// The settings reach another account: the cursors were cleared, and
    /// the next sync starts over.
    pub account_changed: bool,
}

/// What a disconnect wiped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wiped {
    pub secrets: usize,
    pub cursors: u64,
    /// Synced records deleted.
    pub records: u64,
    /// Why the provider has not revoked the token yet, when a retry is
    /// scheduled (SECURITY D6).
    pub revoke_pending: Option<String>,
}

/// Which fields of a form are being sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    All,
    Secrets,
    Settings,
}

impl Part {
    fn takes(self, field: &Field) -> bool {
        match self {
            Part::All => true,
            Part::Secrets => field.kind == FieldKind::Secret,
            Part::Settings => field.kind != FieldKind::Secret,
        }
    }
}

/// The checked values of a form: settings in the clear, secrets wrapped.
#[derive(Clone, Debug, Default)]
struct Checked {
    settings: BTreeMap<String, String>,
    secrets: BTreeMap<String, SecretString>,
}

/// Shows the last four characters of a value long enough that four give
/// little away, and nothing of a shorter one.
pub fn mask(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() >= 12 {
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("••••••••{tail}")
    } else {
        "••••••••".to_owned()
    }
}

/// The provider, if it connects with a form and can be connected now.
fn form_provider<'a>(platform: &'a Platform, provider: &str) -> Result<(&'a Provider, &'a Credentials)> {
    let found = platform.catalog.get(provider).ok_or(Error::NotFound)?;
    let credentials = match &found.auth {
        Auth::ApiKey(c) | Auth::Basic(c) => c,
        Auth::Oauth2(_) => {
            return Err(Error::Refused(format!("{} connects with OAuth, not with a form.", found.name)));
        }
    };
    if found.availability == Availability::ComingSoon {
        return Err(Error::Refused(format!("{} cannot be connected yet.", found.name)));
    }
    Ok((found, credentials))
}

/// What the admin entered: "key", or "user name and password".
fn credential_words(provider: &Provider) -> &'static str {
    match provider.auth {
        Auth::Basic(_) => "user name and password",
        _ => "key",
    }
}

fn invalid(field: &Field, message: String) -> Error {
    Error::Invalid { field: field.name.clone().into(), message }
}

/// Checks the fields of `part`: required ones present, each within its
/// pattern, URLs https (plain http only on loopback) and, where the
/// provider lists hosts, on one of them.
fn check_form(provider: &Provider, credentials: &Credentials, form: &Form, part: Part) -> Result<Checked> {
    let mut checked = Checked::default();
    for field in credentials.fields.iter().filter(|f| part.takes(f)) {
        let value = form.get(&field.name).map_or("", |v| v.trim());
        if value.is_empty() {
            if field.required {
                return Err(invalid(field, format!("Enter the {}.", field.label)));
            }
            continue;
        }
        if value.chars().count() > MAX_VALUE_CHARS {
            return Err(invalid(field, format!("Use at most {MAX_VALUE_CHARS} characters.")));
        }
        if value.chars().any(char::is_control) {
            return Err(invalid(field, "Enter it on one line, without tabs or line breaks.".into()));
        }
        let value = if field.kind == FieldKind::Url { check_url(provider, field, value)? } else { value.to_owned() };
        if let Some(pattern) = &field.pattern {
            // Patterns were compiled when the catalog loaded.
            let matches = regex::Regex::new(&format!("^(?:{pattern})$")).is_ok_and(|re| re.is_match(&value));
            if !matches {
                let hint = field.example.as_ref().map_or_else(String::new, |e| format!(" It looks like {e}."));
                return Err(invalid(field, format!("{} is not in the expected form.{hint}", field.label)));
            }
        }
        if field.kind == FieldKind::Secret {
            checked.secrets.insert(field.name.clone(), SecretString::from(value));
        } else {
            checked.settings.insert(field.name.clone(), value);
        }
    }
    Ok(checked)
}

/// A base URL as it will be used: https (or http on loopback), no user,
/// query or fragment, no trailing `/`, and on an allowed host.
fn check_url(provider: &Provider, field: &Field, value: &str) -> Result<String> {
    let example = field.example.as_deref().unwrap_or("https://example.com");
    let parsed =
        url::Url::parse(value).map_err(|_| invalid(field, format!("Enter a full address such as {example}.")))?;
    let host = parsed.host_str().unwrap_or_default().to_owned();
    let plain_http_ok = parsed.scheme() == "http" && is_loopback(&host);
    if host.is_empty() || !(parsed.scheme() == "https" || plain_http_ok) {
        return Err(invalid(field, format!("Enter an https address such as {example}.")));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid(field, "Leave the user name and password out of the address.".into()));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid(field, "Leave out everything from `?` or `#` on.".into()));
    }
    let allowed = &provider.api.allowed_hosts;
    if !allowed.is_empty() && !crate::catalog::host_allowed(&host, allowed) {
        let hosts = allowed.join(", ");
        return Err(invalid(
            field,
            format!("{host} is not a {} host, so the key will not be sent there. Use one of: {hosts}.", provider.name),
        ));
    }
    Ok(value.trim_end_matches('/').to_owned())
}

/// Asks the provider which account the settings and secrets reach.
async fn verify(
    platform: &Platform,
    provider: &Provider,
    credentials: &Credentials,
    checked: &Checked,
) -> Result<account::Account> {
    let mut values = Values::new();
    let mut entered_hosts = Vec::new();
    for field in &credentials.fields {
        if let Some(value) = checked.settings.get(&field.name) {
            if field.kind == FieldKind::Url {
                entered_hosts.extend(url::Url::parse(value).ok().and_then(|u| u.host_str().map(str::to_owned)));
                values.insert(field.name.clone(), Value::url(value));
            } else {
                values.insert(field.name.clone(), Value::plain(SecretString::from(value.clone())));
            }
        }
        if let Some(secret) = checked.secrets.get(&field.name) {
            values.insert(field.name.clone(), Value::plain(secret.clone()));
        }
    }
    let to = Destination { allowed_hosts: &provider.api.allowed_hosts, entered_hosts };
    account::fetch(&platform.http, &credentials.verify, &values, &to)
        .await
        .map_err(|failure| Error::ProviderCheck(failure.explain(&provider.name, credential_words(provider))))
}

fn secret_path(user: &User, provider: &Provider, field: &str) -> Result<SecretPath> {
    SecretPath::of(&user.team_id, &[provider.id.as_str(), field])
}

/// Everything stored for this team's connection to `provider`.
fn connection_path(team: &crate::accounts::TeamId, provider: &Provider) -> Result<SecretPath> {
    SecretPath::of(team, &[provider.id.as_str()])
}

/// Writes the secrets of a checked form (a replacement's).
async fn store_secrets(platform: &Platform, actor: &User, provider: &Provider, checked: &Checked) -> Result<()> {
    for (name, value) in &checked.secrets {
        platform.secrets.put(&secret_path(actor, provider, name)?, value).await?;
    }
    Ok(())
}

/// Connects `provider` for the actor's team with the form's credentials.
#[tracing::instrument(skip_all, fields(team = %actor.team_id, provider))]
pub async fn connect(platform: &Platform, actor: &User, provider: &str, form: &Form) -> Result<Installation> {
    let (provider, credentials) = form_provider(platform, provider)?;
    tracing::Span::current().record("provider", provider.id.as_str());
    let checked = check_form(provider, credentials, form, Part::All)?;
    let existing = installations::find(&mut *platform.db.pool().acquire().await?, &actor.team_id, provider.id.as_str())
        .await?
        .filter(Installation::is_active);
    if existing.is_some() {
        return Err(Error::Refused(format!(
            "{} is connected already. Use Replace credentials to change the key.",
            provider.name
        )));
    }
    let account = verify(platform, provider, credentials, &checked).await?;
    establish(platform, actor, provider, &account, &checked.settings, &checked.secrets).await
}

/// Records a connection whose account the provider has named: claims the
/// installation, stores `secrets` under the connection's path, then marks
/// it connected, in that order (CONNECTOR-RULES 22). Shared by credential
/// forms and the OAuth callback. A failure leaves nothing behind.
pub(crate) async fn establish(
    platform: &Platform,
    actor: &User,
    provider: &Provider,
    account: &account::Account,
    settings: &BTreeMap<String, String>,
    secrets: &BTreeMap<String, SecretString>,
) -> Result<Installation> {
    // Claim the installation before writing a secret, so a concurrent
    // connect (a double click, another admin) is refused instead of
    // writing over this one's keys or deleting them when it fails.
    let mut conn = platform.db.pool().acquire().await?;
    let claimed = installations::claim(&mut conn, &actor.team_id, provider.id.as_str()).await.map_err(|e| match e {
        Error::Refused(_) => Error::Refused(format!(
            "{} is connected already, or another connect is under way. Reload the page to see which.",
            provider.name
        )),
        other => other,
    })?;
    drop(conn);
    let path = connection_path(&actor.team_id, provider)?;
    let finished = store_and_complete(platform, actor, provider, account, settings, secrets, &path, &claimed).await;
    if let Err(error) = finished {
        // Nothing half-made stays (CONNECTOR-RULES 22): the secrets go, and
        // the row returns to its earlier state. A failure here is logged;
        // the claim then lapses by itself.
        if let Err(cleanup) = give_up(platform, &actor.team_id, &claimed, &path).await {
            tracing::error!(error = %cleanup, "could not undo a failed connect");
        }
        return Err(error);
    }
    tracing::info!(account = %account.id, "connected");
    let mut conn = platform.db.pool().acquire().await?;
    installations::find(&mut conn, &actor.team_id, provider.id.as_str()).await?.ok_or(Error::NotFound)
}

/// Undoes a failed connect that still holds its claim: deletes what it
/// stored and gives the row back. A claim another connect took over is
/// left alone, with that connect's secrets.
async fn give_up(
    platform: &Platform,
    team: &crate::accounts::TeamId,
    claimed: &installations::Claim,
    path: &SecretPath,
) -> Result<()> {
    let mut conn = platform.db.pool().acquire().await?;
    if !installations::holds(&mut conn, team, claimed).await? {
        return Ok(());
    }
    platform.secrets.delete_all(path).await?;
    installations::release(&mut conn, team, claimed).await?;
    Ok(())
}

/// The part of [`establish`] that may fail after the claim: clean the
/// connection's path, store the secrets, mark the installation connected.
#[expect(clippy::too_many_arguments, reason = "one step of establish, with its inputs")]
async fn store_and_complete(
    platform: &Platform,
    actor: &User,
    provider: &Provider,
    account: &account::Account,
    settings: &BTreeMap<String, String>,
    secrets: &BTreeMap<String, SecretString>,
    path: &SecretPath,
    claimed: &installations::Claim,
) -> Result<()> {
    // A reconnect starts clean (CONNECTOR-RULES 29): whatever an earlier
    // connection or a crashed connect left goes first.
    platform.secrets.delete_all(path).await?;
    for (name, value) in secrets {
        let at = secret_path(actor, provider, name)?;
        platform.secrets.put(&at, value).await?;
    }
    let mut tx = platform.db.begin_write().await?;
    let link = Link { account_id: &account.id, display_name: &account.name, settings };
    installations::complete(&mut tx, &actor.team_id, claimed, &link, &actor.id).await?;
    // A re-auth of the same account keeps its sync position; another
    // account starts clean.
    if claimed.prior_account != account.id {
        installations::clear_cursors(&mut tx, &actor.team_id, &claimed.id).await?;
        crate::store::artifacts::delete_all(&mut tx, &actor.team_id, provider.id.as_str()).await?;
    }
    // CONNECTOR-RULES 22: stored, then connected, then the first backfill
    // queued, in this transaction (one already queued is kept).
    if crate::connectors::source_for(provider.id.as_str()).is_some() {
        crate::jobs::enqueue(
            &mut tx,
            &crate::jobs::sync::new_job(
                &actor.team_id,
                provider.id.as_str(),
                &claimed.id,
                crate::jobs::Kind::FullBackfill,
            ),
        )
        .await?;
    }
    crate::store::audit::record(
        &mut tx,
        &actor.team_id,
        Some(&actor.id),
        "installation.connected",
        provider.id.as_str(),
        &format!("Connected {} as {}", provider.name, account.name),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The active installation of `provider` for the actor's team.
async fn active(platform: &Platform, actor: &User, provider: &Provider) -> Result<Installation> {
    installations::find(&mut *platform.db.pool().acquire().await?, &actor.team_id, provider.id.as_str())
        .await?
        .filter(Installation::is_active)
        .ok_or_else(|| Error::Refused(format!("{} is not connected.", provider.name)))
}

/// Records a new account link; the cursors go when the account changed.
async fn relink(
    platform: &Platform,
    actor: &User,
    provider: &Provider,
    installation: &Installation,
    account: &account::Account,
    settings: &BTreeMap<String, String>,
    what: &str,
) -> Result<Edited> {
    let account_changed = account.id != installation.account_id;
    let mut tx = platform.db.begin_write().await?;
    let link = Link { account_id: &account.id, display_name: &account.name, settings };
    installations::relink(&mut tx, &actor.team_id, &installation.id, &link).await?;
    if account_changed {
        installations::clear_cursors(&mut tx, &actor.team_id, &installation.id).await?;
    }
    let detail = if account_changed {
        format!("{what} of {}; now connected as {} (sync starts over)", provider.name, account.name)
    } else {
        format!("{what} of {}", provider.name)
    };
    crate::store::audit::record(
        &mut tx,
        &actor.team_id,
        Some(&actor.id),
        "installation.updated",
        provider.id.as_str(),
        &detail,
    )
    .await?;
    tx.commit().await?;
    Ok(Edited { account_changed })
}

/// Replaces the secret fields, after the provider accepts the new ones
/// together with the stored settings.
#[tracing::instrument(skip_all, fields(team = %actor.team_id, provider))]
pub async fn replace_credentials(platform: &Platform, actor: &User, provider: &str, form: &Form) -> Result<Edited> {
    let (provider, credentials) = form_provider(platform, provider)?;
    tracing::Span::current().record("provider", provider.id.as_str());
    let mut checked = check_form(provider, credentials, form, Part::Secrets)?;
    let installation = active(platform, actor, provider).await?;
    checked.settings = installation.settings.clone();
    let account = verify(platform, provider, credentials, &checked).await?;
    // Optional secrets left empty are removed, so what is stored is what was entered.
    for field in credentials.fields.iter().filter(|f| f.kind == FieldKind::Secret) {
        if !checked.secrets.contains_key(&field.name) {
            platform.secrets.delete(&secret_path(actor, provider, &field.name)?).await?;
        }
    }
    store_secrets(platform, actor, provider, &checked).await?;
    relink(platform, actor, provider, &installation, &account, &installation.settings, "Replaced the credentials").await
}

/// Changes the non-secret settings, after the provider accepts them with
/// the stored secrets. The cursors stay while the account is the same.
#[tracing::instrument(skip_all, fields(team = %actor.team_id, provider))]
pub async fn edit_settings(platform: &Platform, actor: &User, provider: &str, form: &Form) -> Result<Edited> {
    let (provider, credentials) = form_provider(platform, provider)?;
    tracing::Span::current().record("provider", provider.id.as_str());
    let mut checked = check_form(provider, credentials, form, Part::Settings)?;
    let installation = active(platform, actor, provider).await?;
    checked.secrets = stored_secrets(platform, actor, provider, credentials).await?;
    let account = verify(platform, provider, credentials, &checked).await?;
    relink(platform, actor, provider, &installation, &account, &checked.settings, "Edited the settings").await
}

/// The stored secret fields of a connection, read from the store itself:
/// a cached copy may be an old key.
async fn stored_secrets(
    platform: &Platform,
    actor: &User,
    provider: &Provider,
    credentials: &Credentials,
) -> Result<BTreeMap<String, SecretString>> {
    let mut secrets = BTreeMap::new();
    for field in credentials.fields.iter().filter(|f| f.kind == FieldKind::Secret) {
        if let Some(secret) = platform.secrets.get_fresh(&secret_path(actor, provider, &field.name)?).await? {
            secrets.insert(field.name.clone(), secret.value);
        }
    }
    Ok(secrets)
}

/// Asks the provider, with what is stored, whether the connection still
/// works and reaches the connected account. An OAuth token comes from the
/// token service, as a connector's would: one due for refresh is refreshed
/// first (SECURITY E6), and a grant the provider no longer honours marks
/// the connection "needs re-auth" (E4). Nothing else changes.
#[tracing::instrument(skip_all, fields(team = %actor.team_id, provider))]
pub async fn check(platform: &Platform, actor: &User, provider: &str) -> Result<account::Account> {
    let found = platform.catalog.get(provider).ok_or(Error::NotFound)?;
    tracing::Span::current().record("provider", found.id.as_str());
    let installation = active(platform, actor, found).await?;
    let account = match &found.auth {
        Auth::ApiKey(credentials) | Auth::Basic(credentials) => {
            let secrets = stored_secrets(platform, actor, found, credentials).await?;
            let checked = Checked { settings: installation.settings.clone(), secrets };
            verify(platform, found, credentials, &checked).await?
        }
        Auth::Oauth2(oauth) => {
            let token = crate::credentials::tokens::access_token(platform, &actor.team_id, found.id.as_str())
                .await
                .map_err(|error| match error {
                    TokenError::NeedsReauth => Error::Refused(format!(
                        "{} no longer accepts the stored authorization. Reconnect to authorize Patchbay again.",
                        found.name
                    )),
                    TokenError::Unavailable => Error::ProviderCheck(format!(
                        "{} did not give Patchbay a fresh token just now. Try again in a minute.",
                        found.name
                    )),
                    TokenError::NotConnected => Error::Refused(format!("{} is not connected.", found.name)),
                    TokenError::Platform(error) => error,
                })?;
            // The hosts the token response named, kept as settings when connecting.
            let hosts = installation.settings.iter().map(|(name, value)| (name.clone(), Value::url(value))).collect();
            crate::connect::oauth::fetch_account(platform, found, oauth, token, hosts)
                .await
                .map_err(|failure| Error::ProviderCheck(failure.explain(&found.name, "token")))?
        }
    };
    if account.id != installation.account_id {
        return Err(Error::ProviderCheck(format!(
            "{} now answers as {} (account {}), not as the connected {}. Reconnect or replace the credentials \
             to switch accounts.",
            found.name, account.name, account.id, installation.display_name
        )));
    }
    tracing::info!("connection checked");
    Ok(account)
}

/// Deletes every secret and cursor of the connection, forgets its
/// settings and marks it disconnected (CONNECTOR-RULES 29). The secrets go
/// first: if the store cannot delete them, the installation stays as it
/// was and the admin can try again.
#[tracing::instrument(skip_all, fields(team = %actor.team_id, provider))]
pub async fn disconnect(platform: &Platform, actor: &User, provider: &str) -> Result<Wiped> {
    let found = platform.catalog.get(provider).ok_or(Error::NotFound)?;
    tracing::Span::current().record("provider", found.id.as_str());
    let installation = active(platform, actor, found).await?;
    // SECURITY D6: revoke at the provider first, where it can be; a
    // failure there does not keep the keys here. One that may pass is
    // tried again in the background.
    let mut revoke_pending = None;
    if let Some(token) =
        platform.secrets.get_fresh(&secret_path(actor, found, crate::outbound::oauth2::TOKEN_KEY)?).await?
        && let crate::outbound::oauth2::Revoked::Later(why) =
            crate::credentials::revoke(platform, &actor.team_id, found, &token.value).await
    {
        crate::jobs::revoke_retry::schedule(platform, &actor.team_id, found.id.as_str(), &token.value, &why).await?;
        revoke_pending = Some(why);
    }
    let secrets = platform.secrets.delete_all(&connection_path(&actor.team_id, found)?).await?;
    let mut tx = platform.db.begin_write().await?;
    let cursors = installations::clear_cursors(&mut tx, &actor.team_id, &installation.id).await?;
    installations::mark_disconnected(&mut tx, &actor.team_id, &installation.id).await?;
    // Nothing it synced stays searchable; a page being committed now is
    // ordered before or after this by the installation's row.
    let records = crate::store::artifacts::delete_all(&mut tx, &actor.team_id, found.id.as_str()).await?;
    crate::store::audit::record(
        &mut tx,
        &actor.team_id,
        Some(&actor.id),
        "installation.disconnected",
        found.id.as_str(),
        &format!(
            "Disconnected {} (was connected as {}); deleted {secrets} stored keys, {cursors} cursors and \
             {records} synced records",
            found.name, installation.display_name
        ),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(secrets, cursors, records, "disconnected");
    Ok(Wiped { secrets, cursors, records, revoke_pending })
}

/// The team's active installation of `provider`, with its secret fields
/// masked; `None` when it is not connected.
pub async fn describe(
    platform: &Platform,
    team: &crate::accounts::TeamId,
    provider: &str,
) -> Result<Option<Connection>> {
    let found = platform.catalog.get(provider).ok_or(Error::NotFound)?;
    let installation = installations::find(&mut *platform.db.pool().acquire().await?, team, found.id.as_str())
        .await?
        .filter(Installation::is_active);
    let Some(installation) = installation else { return Ok(None) };
    let mut masked = BTreeMap::new();
    if let Auth::ApiKey(credentials) | Auth::Basic(credentials) = &found.auth {
        let names: Vec<&str> =
            credentials.fields.iter().filter(|f| f.kind == FieldKind::Secret).map(|f| f.name.as_str()).collect();
        let paths =
            names.iter().map(|name| SecretPath::of(team, &[found.id.as_str(), name])).collect::<Result<Vec<_>>>()?;
        let values = platform.secrets.get_many(&paths).await?;
        for (name, value) in names.into_iter().zip(values) {
            masked.insert(name.to_owned(), value.map(|secret| mask(secret.value.expose_secret())));
        }
    }
    Ok(Some(Connection { installation, masked }))
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn masks_show_at_most_the_last_four_characters_and_none_of_short_values() {
        assert_eq!(mask("lin_api_0123456789abcdef"), "••••••••cdef");
        assert_eq!(mask("short-key"), "••••••••");
        assert!(!mask("lin_api_0123456789abcdef").contains("0123"));
    }
}
