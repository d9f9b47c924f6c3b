//! GitLab's webhooks: a project's (or, on Premium, a group's) hook that
//! an admin adds with the connection's URL and secret token, which GitLab
//! sends back verbatim in `X-Gitlab-Token`. Creating hooks through the API
//! would need the `api` scope (write access to everything the user can
//! reach) and the Maintainer role on every project, so the connection
//! asks for neither, and the provider page shows what to paste.
//!
//! Issue, merge request and comment events name the item; it is read
//! again by project and number, with its project's visibility and its
//! comments, and applied as a sync applies it (CONNECTOR-RULES 17, 42).

use connector_core::{
    http::FetchError,
    paging::parse_instant,
    source::Unseen,
    webhooks::{Delivery, Event, Receiver},
};
use serde::Deserialize;
use time::{OffsetDateTime, PrimitiveDateTime, macros::format_description};

use crate::{GitlabSource, client::Kind};

#[derive(Debug, Deserialize)]
struct Payload {
    project: Named,
    object_attributes: Attributes,
    /// A comment's item.
    #[serde(default)]
    issue: Option<Named>,
    #[serde(default)]
    merge_request: Option<Named>,
}

#[derive(Debug, Deserialize)]
struct Named {
    id: u64,
    #[serde(default)]
    iid: Option<u64>,
    #[serde(default)]
    updated_at: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Attributes {
    #[serde(default)]
    id: Option<u64>,
    #[serde(default)]
    iid: Option<u64>,
    #[serde(default)]
    updated_at: Option<String>,
    /// A comment's: `Issue`, `MergeRequest`, `Commit` or `Snippet`.
    #[serde(default)]
    noteable_type: Option<String>,
}

/// A time as GitLab's payloads write it: ISO 8601, or the older
/// `2026-11-30 10:12:43 UTC`.
pub fn payload_time(text: &str) -> Option<OffsetDateTime> {
    parse_instant(text).or_else(|| {
        let plain = text.strip_suffix(" UTC")?;
        let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
        PrimitiveDateTime::parse(plain, format).ok().map(PrimitiveDateTime::assume_utc)
    })
}

fn lookup(kind: Kind, project: u64, id: u64, iid: u64, updated_at: Option<&str>) -> Event {
    Event::Lookup {
        unseen: Unseen {
            entity_type: kind.entity_type().into(),
            entity_id: id.to_string(),
            content: serde_json::json!({ "project_id": project, "iid": iid }),
        },
        at: updated_at.and_then(payload_time),
    }
}

fn unreadable(event: &str, error: &serde_json::Error) -> FetchError {
    FetchError::permanent(None, format!("the {event} delivery is not one GitLab documents: {error}"))
}

#[async_trait::async_trait]
impl Receiver for GitlabSource {
    /// `Issue Hook` and `Confidential Issue Hook` (an issue made
    /// confidential comes as the latter, and its lookup removes it),
    /// `Merge Request Hook`, and `Note Hook` for a comment on an issue or
    /// a merge request: each names one item to read again. Comments on
    /// commits and snippets, and confidential notes, change nothing
    /// indexed.
    fn events(&self, delivery: &Delivery<'_>) -> Result<Vec<Event>, FetchError> {
        let Some(event @ ("Issue Hook" | "Confidential Issue Hook" | "Merge Request Hook" | "Note Hook")) =
            delivery.event
        else {
            return Ok(Vec::new());
        };
        let body: Payload = serde_json::from_slice(delivery.body).map_err(|error| unreadable(event, &error))?;
        let project = body.project.id;
        let attributes = &body.object_attributes;
        let named = match event {
            "Note Hook" => match attributes.noteable_type.as_deref() {
                Some("Issue") => body.issue.as_ref().map(|n| (Kind::Issues, n)),
                Some("MergeRequest") => body.merge_request.as_ref().map(|n| (Kind::MergeRequests, n)),
                _ => None,
            }
            .and_then(|(kind, n)| Some((kind, n.id, n.iid?, n.updated_at.as_deref()))),
            _ => {
                let kind = if event == "Merge Request Hook" { Kind::MergeRequests } else { Kind::Issues };
                attributes.id.zip(attributes.iid).map(|(id, iid)| (kind, id, iid, attributes.updated_at.as_deref()))
            }
        };
        Ok(named.map(|(kind, id, iid, at)| lookup(kind, project, id, iid, at)).into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn payload_times_are_read_in_both_of_gitlabs_formats() {
        assert_eq!(payload_time("2026-11-30 10:12:43 UTC"), Some(datetime!(2026-11-30 10:12:43 UTC)));
        assert_eq!(payload_time("2026-11-30T10:12:43.512Z"), Some(datetime!(2026-11-30 10:12:43.512 UTC)));
        assert_eq!(payload_time("2026-11-30T11:12:43+01:00"), Some(datetime!(2026-11-30 10:12:43 UTC)));
        assert_eq!(payload_time("yesterday"), None);
    }
}
