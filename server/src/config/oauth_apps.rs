//! OAuth apps from the environment. Teams may also save their own in
//! Settings (`platform::credentials::oauth_apps`); these are the deployment's.

use std::collections::HashMap;

use platform::{
    outbound::oauth2::{AppCredentials, Apps},
    secrets::SecretString,
};

/// The OAuth apps configured in the environment: every
/// `PATCHBAY_<ID>_CLIENT_ID` with its `_CLIENT_SECRET`. A half-configured
/// app (an id without a secret) is an error naming both variables.
pub(super) fn apps_from_env(env: &HashMap<String, String>) -> Result<Apps, String> {
    let mut apps = Apps::new();
    for (name, id) in env {
        let Some(middle) = provider_part(name, "_CLIENT_ID") else { continue };
        let secret_name = format!("PATCHBAY_{middle}_CLIENT_SECRET");
        let secret = env
            .get(&secret_name)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("{name} is set but {secret_name} is not; set both, or neither"))?;
        if id.trim().is_empty() {
            continue;
        }
        let provider = provider_of(name, middle, "_CLIENT_ID")?;
        apps.insert(
            provider,
            AppCredentials { client_id: id.trim().to_owned(), client_secret: SecretString::from(secret.clone()) },
        );
    }
    Ok(apps)
}

/// The `<PROVIDER>` of `PATCHBAY_<PROVIDER>{suffix}`, if `name` is one.
fn provider_part<'n>(name: &'n str, suffix: &str) -> Option<&'n str> {
    name.strip_prefix("PATCHBAY_").and_then(|n| n.strip_suffix(suffix))
}

/// The provider `middle` spells (capitals, `_` for `-`), or an error
/// naming the variable.
fn provider_of(name: &str, middle: &str, suffix: &str) -> Result<platform::ids::ProviderId, String> {
    platform::ids::ProviderId::parse(&middle.to_ascii_lowercase().replace('_', "-"))
        .map_err(|_| format!("{name} does not name a provider: use PATCHBAY_<PROVIDER ID>{suffix}"))
}

/// The webhook secrets of the environment's apps: every
/// `PATCHBAY_<ID>_WEBHOOK_SECRET`, which signs an app-wide webhook (the
/// deployment's GitHub App's). Each must be at least 16 characters.
pub(super) fn webhook_secrets_from_env(
    env: &HashMap<String, String>,
) -> Result<platform::webhooks::AppSecrets, String> {
    let mut secrets = platform::webhooks::AppSecrets::new();
    for (name, secret) in env {
        let Some(middle) = provider_part(name, "_WEBHOOK_SECRET") else { continue };
        if secret.is_empty() {
            continue;
        }
        if secret.chars().count() < 16 {
            return Err(format!("{name} is shorter than 16 characters; give the app a longer webhook secret"));
        }
        let provider = provider_of(name, middle, "_WEBHOOK_SECRET")?;
        secrets.insert(provider, SecretString::from(secret.clone()));
    }
    Ok(secrets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apps_come_from_pairs_of_variables() {
        let env = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let apps = apps_from_env(&env(&[
            ("PATCHBAY_GOOGLE_CALENDAR_CLIENT_ID", "id-1"),
            ("PATCHBAY_GOOGLE_CALENDAR_CLIENT_SECRET", "s-1"),
        ]))
        .unwrap();
        assert_eq!(apps[&platform::ids::ProviderId::parse("google-calendar").unwrap()].client_id, "id-1");
        let error = apps_from_env(&env(&[("PATCHBAY_LINEAR_CLIENT_ID", "id")])).unwrap_err();
        assert!(error.contains("PATCHBAY_LINEAR_CLIENT_SECRET"), "{error}");
    }
}
