//! A connection's webhooks, as its provider page shows them.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookStatus {
    /// The provider sends webhooks and they are on in this console.
    pub offered: bool,
    /// Registered at the provider.
    pub registered: bool,
    /// Where the provider delivers (no secret in it).
    pub url: Option<String>,
    /// For an app's one URL: the setting its secret comes from (never the
    /// secret).
    pub app_secret_setting: Option<String>,
    /// An admin registers it at the provider by hand, with the URL and the
    /// secret (shown on request).
    pub manual: bool,
    /// The provider signs with the connection's credential of this label
    /// (Twilio's `Auth Token`): only the URL is pasted.
    pub signed_with: Option<String>,
    /// When the subscription is renewed, in words.
    pub renews: Option<String>,
    /// Why registering or renewing failed: the connection is polled
    /// meanwhile.
    pub renew_error: Option<String>,
    /// When the newest delivery came, in words.
    pub last_event: Option<String>,
    pub events_24h: i64,
    pub refusals_24h: i64,
    pub deliveries: Vec<DeliveryView>,
    /// The viewer may replay deliveries (admins only).
    pub can_replay: bool,
}

/// One delivery of the Recent deliveries list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryView {
    pub id: String,
    pub received: String,
    pub event: String,
    /// `Applied`, `Queued` or `Failed`.
    pub state: String,
    /// What applying it did, or why it failed.
    pub result: String,
}

/// What an admin pastes into the provider's settings for a webhook
/// registered by hand. Only the reveal answers it; no page holds it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManualHook {
    pub url: String,
    pub secret: String,
}

impl std::fmt::Debug for ManualHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManualHook").field("url", &self.url).field("secret", &"[redacted]").finish()
    }
}
