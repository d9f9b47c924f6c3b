//! The one list of built connectors: which providers Patchbay can sync.
//! A provider in the catalog without an entry here can be connected but
//! not synced, and its card says so.

use connector_core::{source::Source, webhooks::Receiver};

use crate::ids::ProviderId;

/// The connector for a provider, if one is built.
pub fn source_for(provider: &ProviderId) -> Option<Box<dyn Source>> {
    match provider.as_str() {
        "sandbox" | "sandbox-basic" => Some(Box::new(connector_sandbox::SandboxSource)),
        "github" => Some(Box::new(connector_github::GithubSource)),
        "linear" => Some(Box::new(connector_linear::LinearSource)),
        "chatwoot" => Some(Box::new(connector_chatwoot::ChatwootSource)),
        _ => None,
    }
}

/// The connector's reading of its provider's webhooks, if it has one.
pub fn receiver_for(provider: &ProviderId) -> Option<Box<dyn Receiver>> {
    match provider.as_str() {
        "sandbox" | "sandbox-basic" => Some(Box::new(connector_sandbox::SandboxSource)),
        _ => None,
    }
}
