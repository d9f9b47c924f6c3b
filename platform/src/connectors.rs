//! The one list of built connectors: which providers Patchbay can sync,
//! and which of them read their provider's webhooks. A provider in the
//! catalog without an entry here can be connected but not synced, and its
//! card says so.

use connector_core::{source::Source, webhooks::Receiver};

use crate::ids::ProviderId;

/// A built connector: its source, and its reading of webhooks where it
/// has one.
struct Built {
    source: Box<dyn Source>,
    receiver: Option<Box<dyn Receiver>>,
}

fn built(provider: &ProviderId) -> Option<Built> {
    let pull = |source: Box<dyn Source>| Some(Built { source, receiver: None });
    match provider.as_str() {
        "sandbox" | "sandbox-basic" => Some(Built {
            source: Box::new(connector_sandbox::SandboxSource),
            receiver: Some(Box::new(connector_sandbox::SandboxSource)),
        }),
        "github" => Some(Built {
            source: Box::new(connector_github::GithubSource),
            receiver: Some(Box::new(connector_github::GithubSource)),
        }),
        "linear" => Some(Built {
            source: Box::new(connector_linear::LinearSource),
            receiver: Some(Box::new(connector_linear::LinearSource)),
        }),
        "gitlab" => Some(Built {
            source: Box::new(connector_gitlab::GitlabSource),
            receiver: Some(Box::new(connector_gitlab::GitlabSource)),
        }),
        "chatwoot" => pull(Box::new(connector_chatwoot::ChatwootSource)),
        "pylon" => pull(Box::new(connector_pylon::PylonSource)),
        "asana" => pull(Box::<connector_asana::AsanaSource>::default()),
        "teamwork" => Some(Built {
            source: Box::new(connector_teamwork::TeamworkSource),
            receiver: Some(Box::new(connector_teamwork::TeamworkSource)),
        }),
        "pipedrive" => Some(Built {
            source: Box::new(connector_pipedrive::PipedriveSource::default()),
            receiver: Some(Box::new(connector_pipedrive::PipedriveSource::default())),
        }),
        "twilio" => Some(Built {
            source: Box::new(connector_twilio::TwilioSource),
            receiver: Some(Box::new(connector_twilio::TwilioSource)),
        }),
        _ => None,
    }
}

/// The connector for a provider, if one is built.
pub fn source_for(provider: &ProviderId) -> Option<Box<dyn Source>> {
    built(provider).map(|b| b.source)
}

/// The connector's reading of its provider's webhooks, if it has one.
pub fn receiver_for(provider: &ProviderId) -> Option<Box<dyn Receiver>> {
    built(provider)?.receiver
}
