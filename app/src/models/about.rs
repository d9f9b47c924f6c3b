use serde::{Deserialize, Serialize};

/// Facts about this deployment, shown under Settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct About {
    pub version: String,
    /// `sqlite` or `postgres`; never the URL, which may carry a password.
    pub database: String,
    pub instance_id: String,
    /// When this deployment first started, as `YYYY-MM-DD HH:MM UTC`.
    pub created_at: String,
}
