use serde::{Deserialize, Serialize};

/// The signed-in person, as the shell shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub name: String,
    pub email: String,
    pub team_name: String,
    pub is_admin: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub id: String,
    pub name: String,
    pub email: String,
    /// `admin` or `member`.
    pub role: String,
    pub is_you: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingInvite {
    pub id: String,
    pub role: String,
    pub created_by: String,
    /// `YYYY-MM-DD HH:MM UTC`
    pub expires_at: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamOverview {
    pub team_name: String,
    pub members: Vec<Member>,
    pub invites: Vec<PendingInvite>,
    /// Whether the viewer may change anything (admins only, SECURITY C4).
    pub can_manage: bool,
}

/// A freshly created invite: its link is shown once and never stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedInvite {
    pub url: String,
    pub role: String,
    pub expires_at: String,
}

/// What an invite link leads to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InviteStatus {
    Open { team_name: String, role: String },
    Expired,
    Used,
    Revoked,
    Unknown,
}
