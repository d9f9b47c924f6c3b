use serde::{Deserialize, Serialize};

/// One card on the Integrations page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationCard {
    pub id: String,
    pub name: String,
    pub description: String,
    /// The category's key (`issue_tracking`), as the filter's value.
    pub category: String,
    /// The category as people read it ("Issue tracking").
    pub category_label: String,
    /// "OAuth 2.0", "API key" or "Username and password".
    pub auth: String,
    /// Site path of the logo (`/logos/linear.svg`).
    pub logo: String,
    pub beta: bool,
    pub status: CardStatus,
    /// A word on what stands in the way, such as an OAuth app that is not
    /// configured, so that a click does not fail.
    pub note: Option<String>,
}

/// The badge on a card and on a provider page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CardStatus {
    Connected {
        account: String,
    },
    /// A job is running; `percent` once its total is known.
    Syncing {
        percent: Option<u8>,
    },
    NeedsReauth,
    Error,
    NotConnected,
    ComingSoon,
}

impl CardStatus {
    pub fn label(&self) -> String {
        match self {
            CardStatus::Connected { account } => format!("Connected as {account}"),
            CardStatus::Syncing { percent: Some(p) } => format!("Syncing {p}%"),
            CardStatus::Syncing { percent: None } => "Syncing".to_owned(),
            CardStatus::NeedsReauth => "Needs re-auth".to_owned(),
            CardStatus::Error => "Error".to_owned(),
            CardStatus::NotConnected => "Not connected".to_owned(),
            CardStatus::ComingSoon => "Coming soon".to_owned(),
        }
    }

    /// The badge's CSS class.
    pub fn class(&self) -> &'static str {
        match self {
            CardStatus::Connected { .. } => "badge status-connected",
            CardStatus::Syncing { .. } => "badge status-syncing",
            CardStatus::NeedsReauth => "badge status-needsreauth",
            CardStatus::Error => "badge status-error",
            CardStatus::NotConnected => "badge status-notconnected",
            CardStatus::ComingSoon => "badge status-comingsoon",
        }
    }

    /// Cards sort by this: connections first, then what can be connected,
    /// then what is coming.
    pub fn rank(&self) -> u8 {
        match self {
            CardStatus::Connected { .. } | CardStatus::Syncing { .. } | CardStatus::NeedsReauth | CardStatus::Error => {
                0
            }
            CardStatus::NotConnected => 1,
            CardStatus::ComingSoon => 2,
        }
    }
}

impl IntegrationCard {
    /// Whether the card answers a search (`query`, any case, in its name,
    /// description or category) and sits in `category` (empty: any).
    pub fn matches(&self, query: &str, category: &str) -> bool {
        let query = query.trim().to_lowercase();
        (category.is_empty() || self.category == category)
            && (query.is_empty()
                || [&self.name, &self.description, &self.category_label]
                    .iter()
                    .any(|text| text.to_lowercase().contains(&query)))
    }
}

/// Everything the provider page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderDetail {
    pub id: String,
    pub name: String,
    pub description: String,
    pub category_label: String,
    /// "OAuth 2.0", "API key" or "Username and password".
    pub auth: String,
    pub logo: String,
    pub docs_url: String,
    /// The kinds of record it syncs, as people read them ("pull request").
    pub entities: Vec<String>,
    /// The documented rate limit, in words.
    pub rate_limit: Option<String>,
    pub beta: bool,
    pub status: CardStatus,
    /// The viewer may connect, change and disconnect (admins only).
    pub can_manage: bool,
    pub connect: ConnectMethod,
    /// The installation, when there is one.
    pub connection: Option<ConnectionDetail>,
}

/// How the provider is connected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConnectMethod {
    /// Not possible yet.
    ComingSoon,
    /// OAuth: the redirect URI to register in the provider's app settings,
    /// and whether the console has an app (client id and secret) for it.
    OAuth { redirect_uri: String, app_configured: bool, env_prefix: String },
    /// A credential form with these fields.
    Form { fields: Vec<FormField> },
}

/// One field of a credential form, from the catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormField {
    pub name: String,
    pub label: String,
    /// `url`, `password` or `text`: the input's type.
    pub input_type: String,
    pub secret: bool,
    /// A pattern the browser checks (the same the server checks), written
    /// so that browsers accept it.
    pub pattern: Option<String>,
    pub example: Option<String>,
    pub help: Option<String>,
    pub required: bool,
}

/// A connected installation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionDetail {
    pub account_name: String,
    pub account_id: String,
    pub connected_at: Option<String>,
    pub connected_by: Option<String>,
    /// The provider refused the stored grant: an admin must reconnect.
    pub needs_reauth: bool,
    /// Each field as stored: settings in the clear, secrets masked.
    pub values: Vec<StoredValue>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredValue {
    pub name: String,
    pub label: String,
    pub secret: bool,
    /// The setting, the masked secret, or `None` when nothing is stored.
    pub shown: Option<String>,
}

/// What a change of credentials or settings did, in words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saved {
    pub message: String,
}

/// Settings → OAuth apps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthApps {
    pub apps: Vec<OAuthAppRow>,
    /// Whether the viewer may save and remove them (admins).
    pub can_manage: bool,
}

/// An OAuth provider under Settings → OAuth apps, with the app this team
/// connects it with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthAppRow {
    pub provider: String,
    pub name: String,
    /// The redirect URI to register in the app.
    pub redirect_uri: String,
    /// `team` (saved here), `environment`, or `None` when there is none.
    pub source: Option<String>,
    /// The client id in use; not a secret.
    pub client_id: Option<String>,
    /// Whether the environment also has one, which the team's overrides.
    pub environment_too: bool,
    /// The variables that would configure it for the whole deployment.
    pub env_prefix: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card() -> IntegrationCard {
        IntegrationCard {
            id: "linear".into(),
            name: "Linear".into(),
            description: "Issues, projects and comments.".into(),
            category: "issue_tracking".into(),
            category_label: "Issue tracking".into(),
            auth: "OAuth 2.0".into(),
            logo: "/logos/linear.svg".into(),
            beta: false,
            status: CardStatus::NotConnected,
            note: None,
        }
    }

    #[test]
    fn search_matches_name_description_or_category_in_any_case_within_the_category() {
        let card = card();
        for query in ["", "linear", "LIN", " projects ", "issue track"] {
            assert!(card.matches(query, ""), "{query:?}");
        }
        assert!(card.matches("lin", "issue_tracking"));
        assert!(!card.matches("lin", "crm"));
        assert!(!card.matches("hubspot", ""));
    }
}
