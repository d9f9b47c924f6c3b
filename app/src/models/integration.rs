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
}

/// The badge on a card. Connected, syncing and needs-re-auth states join
/// these once connections exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CardStatus {
    NotConnected,
    ComingSoon,
}

impl CardStatus {
    pub fn label(self) -> &'static str {
        match self {
            CardStatus::NotConnected => "Not connected",
            CardStatus::ComingSoon => "Coming soon",
        }
    }

    /// Cards sort by this: connected first, then what can be connected,
    /// then what is coming.
    pub fn rank(self) -> u8 {
        match self {
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
