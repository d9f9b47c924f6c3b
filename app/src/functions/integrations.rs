//! The Integrations page and the provider pages: cards, provider details,
//! and the credential forms of `api_key` and `basic` providers. Changes
//! are for admins only (SECURITY C4); the team is the session's (C1).

use std::collections::BTreeMap;

use leptos::prelude::*;

use crate::{
    error::AppError,
    models::integration::{IntegrationCard, ProviderDetail, Saved},
};

/// Every provider in the catalog as a card, in the order the page shows them.
#[server(prefix = "/api", endpoint = "integrations")]
pub async fn list_integrations() -> Result<Vec<IntegrationCard>, AppError> {
    crate::ssr::member(|viewer, platform| async move {
        let team = &viewer.user.team_id;
        let installations = platform::installations::list_active(&platform.db, team).await?;
        let mut newest = platform::jobs::sync::newest_jobs(&platform, team).await?;
        let connections: Vec<_> = installations
            .into_iter()
            .map(|installation| {
                let job = newest.remove(&installation.id);
                (installation, job)
            })
            .collect();
        let apps = platform::oauth_apps::configured(&platform, team).await?;
        Ok(build::cards(&platform, &connections, &apps))
    })
    .await
}

/// One provider, with this team's connection to it.
#[server(prefix = "/api", endpoint = "provider")]
pub async fn get_provider(id: String) -> Result<ProviderDetail, AppError> {
    crate::ssr::member(|viewer, platform| async move {
        let provider = platform.catalog.get(&id).ok_or(AppError::NotFound)?;
        let connection = platform::connections::describe(&platform, &viewer.user.team_id, &id).await?;
        let app_configured = platform::oauth_apps::configured(&platform, &viewer.user.team_id).await?.contains(&id);
        Ok(build::detail(provider, connection, &viewer, &crate::ssr::public_base(), app_configured))
    })
    .await
}

/// Connects a provider with the credential form's `values`.
#[server(prefix = "/api", endpoint = "connect_provider")]
pub async fn connect_provider(
    provider: String,
    #[server(default)] values: BTreeMap<String, String>,
) -> Result<Saved, AppError> {
    crate::ssr::admin(|viewer, platform| async move {
        let installation = platform::connections::connect(&platform, &viewer.user, &provider, &values).await?;
        Ok(Saved { message: format!("Connected as {}.", installation.display_name) })
    })
    .await
}

/// Replaces the secret fields of a connected provider.
#[server(prefix = "/api", endpoint = "replace_credentials")]
pub async fn replace_credentials(
    provider: String,
    #[server(default)] values: BTreeMap<String, String>,
) -> Result<Saved, AppError> {
    crate::ssr::admin(|viewer, platform| async move {
        let edited = platform::connections::replace_credentials(&platform, &viewer.user, &provider, &values).await?;
        Ok(build::saved("The new credentials are saved.", &edited))
    })
    .await
}

/// Changes the non-secret settings of a connected provider.
#[server(prefix = "/api", endpoint = "edit_settings")]
pub async fn edit_settings(
    provider: String,
    #[server(default)] values: BTreeMap<String, String>,
) -> Result<Saved, AppError> {
    crate::ssr::admin(|viewer, platform| async move {
        let edited = platform::connections::edit_settings(&platform, &viewer.user, &provider, &values).await?;
        Ok(build::saved("The settings are saved.", &edited))
    })
    .await
}

/// Asks the provider whether the stored connection still works.
#[server(prefix = "/api", endpoint = "check_connection")]
pub async fn check_connection(provider: String) -> Result<Saved, AppError> {
    crate::ssr::admin(|viewer, platform| async move {
        let account = platform::connections::check(&platform, &viewer.user, &provider).await?;
        Ok(Saved { message: format!("The connection works: the provider answers as {}.", account.name) })
    })
    .await
}

/// Disconnects a provider, wiping its stored keys, cursors and synced records.
#[server(prefix = "/api", endpoint = "disconnect_provider")]
pub async fn disconnect_provider(provider: String) -> Result<Saved, AppError> {
    crate::ssr::admin(|viewer, platform| async move {
        let wiped = platform::connections::disconnect(&platform, &viewer.user, &provider).await?;
        let keys = if wiped.secrets == 1 { "key".to_owned() } else { "keys".to_owned() };
        let mut message = format!("Disconnected. {} stored {keys} deleted.", wiped.secrets);
        if wiped.records > 0 {
            let records = if wiped.records == 1 { "record" } else { "records" };
            message.push_str(&format!(" {} synced {records} deleted.", wiped.records));
        }
        if let Some(why) = wiped.revoke_pending {
            message.push_str(&format!(
                " The provider did not revoke Patchbay's access yet ({why}); Patchbay keeps asking in the background."
            ));
        }
        Ok(Saved { message })
    })
    .await
}

/// From the catalog and the installations to what the pages show.
#[cfg(feature = "ssr")]
mod build {
    use platform::{
        catalog::{Auth, Availability, FieldKind, Provider},
        connections::{Connection, Edited},
        installations::{Installation, State},
        jobs::Job,
    };

    use crate::{
        functions::sync::build::job_view,
        models::{
            integration::{
                CardStatus, ConnectMethod, ConnectionDetail, FormField, IntegrationCard, ProviderDetail, Saved,
                StoredValue,
            },
            sync::JobState,
        },
        ssr::SignedIn,
    };

    fn auth_label(provider: &Provider) -> &'static str {
        match provider.auth {
            Auth::Oauth2(_) => "OAuth 2.0",
            Auth::ApiKey(_) => "API key",
            Auth::Basic(_) => "Username and password",
        }
    }

    fn logo(provider: &Provider) -> String {
        format!("/{}/{}", platform::catalog::LOGO_DIR, provider.logo)
    }

    /// The badge of a provider: its connection's state and, on a card, what
    /// its newest sync job is doing (`sync`: the job's state and percent):
    /// "Syncing" while it waits to run or runs, "Error" when it failed or
    /// waits to be retried after an error. The provider page passes `None`:
    /// its live sync panel shows the job, and a badge would not keep up.
    fn status(
        provider: &Provider,
        installation: Option<&Installation>,
        sync: Option<(JobState, Option<u8>)>,
    ) -> CardStatus {
        match installation.map(|i| (i.state, i)) {
            Some((State::Connected, i)) => match sync {
                Some((JobState::Failed | JobState::Retrying, _)) => CardStatus::Error,
                Some((state, percent)) if state.is_live() => CardStatus::Syncing { percent },
                _ => CardStatus::Connected { account: i.display_name.clone() },
            },
            Some((State::Syncing, _)) => CardStatus::Syncing { percent: None },
            Some((State::NeedsReauth, _)) => CardStatus::NeedsReauth,
            Some((State::Error, _)) => CardStatus::Error,
            Some((State::Disconnected | State::Connecting, _)) | None => match provider.availability {
                Availability::ComingSoon => CardStatus::ComingSoon,
                Availability::Available | Availability::Beta => CardStatus::NotConnected,
            },
        }
    }

    /// The catalog as cards: connections first, then what can be
    /// connected, then what is coming, each by name.
    pub fn cards(
        platform: &platform::Platform,
        connections: &[(Installation, Option<Job>)],
        apps: &std::collections::BTreeSet<String>,
    ) -> Vec<IntegrationCard> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let card_status = |provider: &Provider| {
            let (installation, newest) = match connections.iter().find(|(i, _)| i.provider == provider.id.as_str()) {
                Some((installation, newest)) => (Some(installation), newest.as_ref()),
                None => (None, None),
            };
            let sync = newest.map(|job| job_view(platform, job, now)).map(|job| (job.state, job.percent()));
            status(provider, installation, sync)
        };
        let mut cards: Vec<IntegrationCard> = platform
            .catalog
            .iter()
            .map(|provider| IntegrationCard {
                id: provider.id.to_string(),
                name: provider.name.clone(),
                description: provider.description.clone(),
                category: provider.category.key().to_owned(),
                category_label: provider.category.label().to_owned(),
                auth: auth_label(provider).to_owned(),
                logo: logo(provider),
                beta: provider.availability == Availability::Beta,
                status: card_status(provider),
                note: (matches!(provider.auth, Auth::Oauth2(_))
                    && provider.availability != Availability::ComingSoon
                    && !apps.contains(provider.id.as_str()))
                .then(|| "OAuth app not configured".to_owned()),
            })
            .collect();
        cards.sort_by(|a, b| a.status.rank().cmp(&b.status.rank()).then_with(|| a.name.cmp(&b.name)));
        cards
    }

    fn rate_limit(provider: &Provider) -> Option<String> {
        let limit = provider.rate_limit.as_ref()?;
        let per = match limit.per_seconds {
            1 => "second".to_owned(),
            60 => "minute".to_owned(),
            3600 => "hour".to_owned(),
            86_400 => "day".to_owned(),
            n => format!("{n} seconds"),
        };
        let scope = limit.scope.as_ref().map_or_else(String::new, |s| format!(" ({s})"));
        Some(format!("{} requests per {per}{scope}", limit.requests))
    }

    pub fn detail(
        provider: &Provider,
        connection: Option<Connection>,
        viewer: &SignedIn,
        public_base: &str,
        app_configured: bool,
    ) -> ProviderDetail {
        let connect = match (&provider.auth, provider.availability) {
            (_, Availability::ComingSoon) => ConnectMethod::ComingSoon,
            (Auth::Oauth2(_), _) => ConnectMethod::OAuth {
                redirect_uri: format!("{public_base}/oauth/{}/callback", provider.id),
                app_configured,
                env_prefix: format!("PATCHBAY_{}", platform::oauth::env_name(provider.id.as_str())),
            },
            (Auth::ApiKey(credentials) | Auth::Basic(credentials), _) => ConnectMethod::Form {
                fields: credentials
                    .fields
                    .iter()
                    .map(|field| FormField {
                        name: field.name.clone(),
                        label: field.label.clone(),
                        input_type: match field.kind {
                            FieldKind::Url => "url",
                            FieldKind::Secret => "password",
                            FieldKind::Text => "text",
                        }
                        .to_owned(),
                        secret: field.kind == FieldKind::Secret,
                        pattern: field.browser_pattern(),
                        example: field.example.clone(),
                        help: field.help.clone(),
                        required: field.required,
                    })
                    .collect(),
            },
        };
        let installation = connection.as_ref().map(|c| &c.installation);
        let status = status(provider, installation, None);
        let connection = connection.map(|Connection { installation, masked }| {
            let fields = match &provider.auth {
                Auth::ApiKey(c) | Auth::Basic(c) => c.fields.as_slice(),
                Auth::Oauth2(_) => &[],
            };
            ConnectionDetail {
                account_name: installation.display_name.clone(),
                account_id: installation.account_id.clone(),
                connected_at: installation.connected_at.map(crate::ssr::format_time),
                connected_by: installation.connected_by.clone(),
                needs_reauth: installation.state == State::NeedsReauth,
                values: fields
                    .iter()
                    .map(|field| {
                        let secret = field.kind == FieldKind::Secret;
                        StoredValue {
                            name: field.name.clone(),
                            label: field.label.clone(),
                            secret,
                            shown: if secret {
                                masked.get(&field.name).cloned().flatten()
                            } else {
                                installation.settings.get(&field.name).cloned()
                            },
                        }
                    })
                    .collect(),
            }
        });
        ProviderDetail {
            id: provider.id.to_string(),
            name: provider.name.clone(),
            description: provider.description.clone(),
            category_label: provider.category.label().to_owned(),
            auth: auth_label(provider).to_owned(),
            logo: logo(provider),
            docs_url: provider.docs_url.clone(),
            entities: provider.entities.iter().map(|e| e.replace('_', " ")).collect(),
            rate_limit: rate_limit(provider),
            beta: provider.availability == Availability::Beta,
            status,
            can_manage: viewer.user.role == platform::accounts::Role::Admin,
            connect,
            connection,
        }
    }

    pub fn saved(done: &str, edited: &Edited) -> Saved {
        let message = if edited.account_changed {
            format!("{done} They reach a different account, so the next sync starts over.")
        } else {
            done.to_owned()
        };
        Saved { message }
    }
}
