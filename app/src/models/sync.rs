//! Sync status, the activity list and synced items, as the pages show them.
//! Times and waits are put in words on the server, so a status that
//! arrives by server-sent event renders as the first one did.

use serde::{Deserialize, Serialize};

/// The sync panel of a provider page. Also the payload of its live
/// updates (`/api/sync/{provider}/events`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStatus {
    pub provider: String,
    /// Whether Patchbay has a connector for this provider yet.
    pub syncs: bool,
    /// The job queued or running, else the last one to end.
    pub current: Option<JobView>,
    /// When the last sync that completed ended, in words.
    pub last_success: Option<String>,
    /// When the next sync is due, in words; `None` while one runs.
    pub next_sync: Option<String>,
    /// Records held, per entity type.
    pub counts: Vec<EntityCount>,
    /// The newest jobs that met an error.
    pub errors: Vec<JobView>,
    /// For a connection of several streams: each one's name and newest
    /// job, in the catalog's order.
    pub streams: Vec<(String, Option<JobView>)>,
    /// The viewer may start syncs (admins only).
    pub can_manage: bool,
}

impl SyncStatus {
    pub fn total_records(&self) -> i64 {
        self.counts.iter().map(|c| c.count).sum()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityCount {
    /// As people read it: "pull request".
    pub entity_type: String,
    pub count: i64,
}

/// One job, on the provider page or in the activity list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobView {
    pub id: String,
    pub provider: String,
    pub provider_name: String,
    /// `full_backfill`, `incremental`, `prune`, `revoke_retry`, `webhook`
    /// or `renew_subscription`.
    pub kind: String,
    /// The stream it reads, for a connection of several (`contacts`).
    pub stream: Option<String>,
    pub state: JobState,
    /// Records read so far, and the total when the provider says it.
    pub done: i64,
    pub total: Option<i64>,
    /// Records written.
    pub items: i64,
    pub attempts: i64,
    pub max_attempts: i64,
    /// `transient`, `permanent` or `partial`.
    pub error_class: Option<String>,
    /// The last error, in words the admin can act on.
    pub error: Option<String>,
    pub queued_at: String,
    /// While running with a known total: the time left, in words, or
    /// `None` while there is too little to go on.
    pub eta: Option<String>,
    /// When a job waiting after an error is tried again, in words.
    pub retry_at: Option<String>,
}

/// A job's state as the pages show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobState {
    Queued,
    /// Queued again after an error that may pass.
    Retrying,
    Running,
    /// Its worker stopped; it resumes from its last commit.
    Interrupted,
    Completed,
    Failed,
}

impl JobState {
    pub const ALL: [JobState; 6] = [
        JobState::Queued,
        JobState::Retrying,
        JobState::Running,
        JobState::Interrupted,
        JobState::Completed,
        JobState::Failed,
    ];

    pub fn label(self) -> &'static str {
        match self {
            JobState::Queued => "Queued",
            JobState::Retrying => "Waiting to retry",
            JobState::Running => "Running",
            JobState::Interrupted => "Interrupted",
            JobState::Completed => "Completed",
            JobState::Failed => "Failed",
        }
    }

    /// The key in URLs and the activity filter.
    pub fn key(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Retrying => "retrying",
            JobState::Running => "running",
            JobState::Interrupted => "interrupted",
            JobState::Completed => "completed",
            JobState::Failed => "failed",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.key() == key)
    }

    pub fn class(self) -> &'static str {
        match self {
            JobState::Queued | JobState::Retrying | JobState::Interrupted => "badge job-waiting",
            JobState::Running => "badge job-running",
            JobState::Completed => "badge job-completed",
            JobState::Failed => "badge job-failed",
        }
    }

    /// Whether the job is still to run or running.
    pub fn is_live(self) -> bool {
        !matches!(self, JobState::Completed | JobState::Failed)
    }
}

/// The kinds of job, with their words.
pub const JOB_KINDS: [(&str, &str); 7] = [
    ("full_backfill", "Full backfill"),
    ("incremental", "Incremental sync"),
    ("prune", "Full pass for deletions"),
    ("revoke_retry", "Revoke retry"),
    ("webhook", "Webhook delivery"),
    ("renew_subscription", "Webhook subscription"),
    ("push", "Push delivery"),
];

pub fn kind_label(kind: &str) -> &'static str {
    JOB_KINDS.iter().find(|(key, _)| *key == kind).map_or("Job", |(_, label)| label)
}

impl JobView {
    /// How far along, 0–100, when the total is known.
    pub fn percent(&self) -> Option<u8> {
        if self.state == JobState::Completed {
            return Some(100);
        }
        let total = self.total.filter(|t| *t > 0)?;
        u8::try_from((self.done.clamp(0, total) * 100) / total).ok()
    }

    /// Progress in words: "1,200 of 5,000 records", "1,200 records so far".
    pub fn progress(&self) -> String {
        match self.total {
            Some(total) => format!("{} of {} records read", thousands(self.done), thousands(total)),
            None => format!("{} records read", thousands(self.done)),
        }
    }
}

/// The activity page: jobs across connections, filtered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    pub jobs: Vec<JobView>,
    /// Providers with jobs or a connection, for the filter: (id, name).
    pub providers: Vec<(String, String)>,
    /// Whether more jobs pass the filter than are listed.
    pub more: bool,
}

/// A page of a connection's synced records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemsPage {
    pub provider: String,
    pub provider_name: String,
    pub items: Vec<ItemView>,
    /// 1-based.
    pub page: u32,
    pub pages: u32,
    pub total: i64,
    /// The words searched for; `None` lists every record.
    pub query: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemView {
    pub entity_type: String,
    pub entity_id: String,
    pub title: String,
    /// The record in the source app; `None` when the stored link is not an
    /// `http(s)` URL, so no other scheme is ever made a link.
    pub url: Option<String>,
    pub source_updated_at: String,
    pub synced_at: String,
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(-12_345), "-12,345");
    }

    #[test]
    fn job_states_round_trip_through_their_keys() {
        for state in JobState::ALL {
            assert_eq!(JobState::from_key(state.key()), Some(state));
        }
        assert_eq!(JobState::from_key("nope"), None);
    }
}
