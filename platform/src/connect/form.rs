//! The credential form (`api_key` and `basic` providers): checking what
//! was entered, asking the provider which account it reaches, and then
//! connecting, replacing the credentials or editing the settings.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret as _, SecretString};

use super::{Connection, Edited, Form, active, establish, secret_path};
use crate::{
    Platform,
    catalog::{Auth, Availability, Credentials, Field, FieldKind, Provider},
    error::{Error, Result},
    ids::{ProviderId, TeamId},
    outbound::account::{self, Destination, Value, Values, is_loopback},
    secrets::SecretPath,
    store::installations::{self, Installation, Link},
    store::users::User,
};

/// The longest value a field takes: the secret store's smallest limit.
const MAX_VALUE_CHARS: usize = 4096;

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
pub(super) struct Checked {
    pub(super) settings: BTreeMap<String, String>,
    pub(super) secrets: BTreeMap<String, SecretString>,
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
fn form_provider<'a>(platform: &'a Platform, provider: &ProviderId) -> Result<(&'a Provider, &'a Credentials)> {
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
pub(super) async fn verify(
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

/// Writes the secrets of a checked form (a replacement's).
async fn store_secrets(platform: &Platform, actor: &User, provider: &Provider, checked: &Checked) -> Result<()> {
    for (name, value) in &checked.secrets {
        platform.secrets.put(&secret_path(actor, provider, name)?, value).await?;
    }
    Ok(())
}

/// Connects `provider` for the actor's team with the form's credentials.
#[tracing::instrument(skip_all, fields(team = %actor.team_id, provider))]
pub async fn connect(platform: &Platform, actor: &User, provider: &ProviderId, form: &Form) -> Result<Installation> {
    let (provider, credentials) = form_provider(platform, provider)?;
    tracing::Span::current().record("provider", provider.id.as_str());
    let checked = check_form(provider, credentials, form, Part::All)?;
    let existing = installations::find(&mut *platform.db.pool().acquire().await?, &actor.team_id, &provider.id)
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
pub async fn replace_credentials(
    platform: &Platform,
    actor: &User,
    provider: &ProviderId,
    form: &Form,
) -> Result<Edited> {
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
pub async fn edit_settings(platform: &Platform, actor: &User, provider: &ProviderId, form: &Form) -> Result<Edited> {
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
pub(super) async fn stored_secrets(
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

/// The team's active installation of `provider`, with its secret fields
/// masked; `None` when it is not connected.
pub async fn describe(platform: &Platform, team: &TeamId, provider: &ProviderId) -> Result<Option<Connection>> {
    let found = platform.catalog.get(provider).ok_or(Error::NotFound)?;
    let installation = installations::find(&mut *platform.db.pool().acquire().await?, team, &found.id)
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
