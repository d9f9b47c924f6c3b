//! Presenters of the Integrations page and the provider pages: from the
//! catalog and the installations to what the pages show.

use platform::{
    catalog::{Auth, Availability, FieldKind, Provider},
    connect::{Connection, Edited},
    jobs::Job,
    store::installations::{Installation, State},
};

use crate::{
    models::{
        integration::{
            CardStatus, ConnectMethod, ConnectionDetail, FormField, IntegrationCard, ProviderDetail, Saved, StoredValue,
        },
        sync::JobState,
    },
    ssr::SignedIn,
    views::sync::job_view,
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
    apps: &std::collections::BTreeSet<platform::ids::ProviderId>,
) -> Vec<IntegrationCard> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let card_status = |provider: &Provider| {
        let (installation, newest) = match connections.iter().find(|(i, _)| i.provider == provider.id) {
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
                && !apps.contains(&provider.id))
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
            env_prefix: format!("PATCHBAY_{}", provider.id.env_name()),
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
