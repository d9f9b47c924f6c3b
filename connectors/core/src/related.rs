//! Data that travels with a record but comes from elsewhere: related
//! lists fetched per record (comments, messages, notes), names for the
//! ids a record refers to, and sideloaded sections merged back in.

use std::{collections::HashMap, future::Future, sync::Mutex};

use futures_util::StreamExt as _;

use crate::{http::FetchError, source::Skipped};

/// Fetches each record's related data, at most `concurrency` at once, in
/// the records' order. A fetch that fails leaves its record without the
/// data (`None`) and is reported as a partial error naming the record
/// (`what`), never failing the record or its page (CONNECTOR-RULES 34).
pub async fn fetch_each<R, Fut>(fetches: Vec<(String, Fut)>, concurrency: usize) -> (Vec<Option<R>>, Vec<Skipped>)
where
    Fut: Future<Output = Result<R, FetchError>>,
{
    let answers: Vec<(String, Result<R, FetchError>)> =
        futures_util::stream::iter(fetches.into_iter().map(|(what, fetch)| async move { (what, fetch.await) }))
            .buffered(concurrency.max(1))
            .collect()
            .await;
    let mut skipped = Vec::new();
    let found = answers
        .into_iter()
        .map(|(what, answer)| match answer {
            Ok(found) => Some(found),
            Err(error) => {
                skipped.push(Skipped { record: what, reason: error.message });
                None
            }
        })
        .collect();
    (found, skipped)
}

/// [`fetch_each`] over a page's records, asking only for those `fetch`
/// gives a request for (`None`: the record will not be indexed, or says it
/// has none): each record's related data in the records' order, `None`
/// where it was not asked for or its fetch failed (named by `what`).
pub async fn fetch_where<T, R, Fut>(
    records: &[T],
    what: impl Fn(&T) -> String,
    fetch: impl Fn(&T) -> Option<Fut>,
    concurrency: usize,
) -> (Vec<Option<R>>, Vec<Skipped>)
where
    Fut: Future<Output = Result<R, FetchError>>,
{
    let fetches = records
        .iter()
        .map(|record| {
            let fetch = fetch(record);
            (what(record), async move {
                match fetch {
                    Some(fetch) => fetch.await.map(Some),
                    None => Ok(None),
                }
            })
        })
        .collect();
    let (found, skipped) = fetch_each(fetches, concurrency).await;
    (found.into_iter().map(Option::flatten).collect(), skipped)
}

/// Names for the ids records refer to (owners, users, teams), looked up
/// once per run however many records name them (CONNECTOR-RULES 4). A
/// source owns one: sources are made anew for each run.
#[derive(Debug, Default)]
pub struct References {
    names: Mutex<HashMap<(String, String), Option<String>>>,
}

impl References {
    fn names(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Option<String>>> {
        self.names.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The name of `kind` `id`, from `lookup` the first time it is asked
    /// for. A lookup that finds nothing is remembered as nothing; one that
    /// fails is not remembered, and its failure is the caller's.
    pub async fn name<Fut>(
        &self,
        kind: &str,
        id: &str,
        lookup: impl FnOnce() -> Fut,
    ) -> Result<Option<String>, FetchError>
    where
        Fut: Future<Output = Result<Option<String>, FetchError>>,
    {
        let key = (kind.to_owned(), id.to_owned());
        if let Some(known) = self.names().get(&key) {
            return Ok(known.clone());
        }
        let found = lookup().await?;
        self.names().insert(key, found.clone());
        Ok(found)
    }

    /// Remembers names a listing already carried (a page of users).
    pub fn remember(&self, kind: &str, names: impl IntoIterator<Item = (String, String)>) {
        let mut known = self.names();
        for (id, name) in names {
            known.insert((kind.to_owned(), id), Some(name));
        }
    }

    /// How many names are known: for tests that count lookups.
    pub fn len(&self) -> usize {
        self.names().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Puts JSON:API `included` objects back into the records that point at
/// them (CONNECTOR-RULES 5): each `relationships.{name}.data` that is a
/// `{type, id}` (or a list of them) gets its object's `attributes` under
/// `related.{name}` on the record. A reference to nothing included is left
/// out, not invented.
pub fn merge_included(records: &mut [serde_json::Value], included: &[serde_json::Value]) {
    let key =
        |v: &serde_json::Value| Some((v.get("type")?.as_str()?.to_owned(), crate::paging::read_id(v.get("id")?)?));
    let index: HashMap<(String, String), &serde_json::Value> =
        included.iter().filter_map(|object| Some((key(object)?, object))).collect();
    let attributes = |reference: &serde_json::Value| {
        let object = index.get(&key(reference)?)?;
        Some(object.get("attributes").cloned().unwrap_or_else(|| (*object).clone()))
    };
    for record in records {
        let Some(relationships) = record.get("relationships").and_then(serde_json::Value::as_object) else { continue };
        let mut related = serde_json::Map::new();
        for (name, relationship) in relationships {
            match relationship.get("data") {
                Some(serde_json::Value::Array(references)) => {
                    let found: Vec<_> = references.iter().filter_map(attributes).collect();
                    related.insert(name.clone(), serde_json::Value::Array(found));
                }
                Some(reference @ serde_json::Value::Object(_)) => {
                    if let Some(found) = attributes(reference) {
                        related.insert(name.clone(), found);
                    }
                }
                _ => {}
            }
        }
        if let Some(object) = record.as_object_mut() {
            object.insert("related".into(), serde_json::Value::Object(related));
        }
    }
}

/// Sideloads by id, as Zendesk's `?include=users` sends them: for each
/// record, the object of `sideload` whose `id` equals the record's
/// `{field}` (`requester_id`) is put under `{name}` (`requester`).
pub fn attach_by_id(records: &mut [serde_json::Value], field: &str, name: &str, sideload: &[serde_json::Value]) {
    let index: HashMap<String, &serde_json::Value> =
        sideload.iter().filter_map(|object| Some((crate::paging::read_id(object.get("id")?)?, object))).collect();
    for record in records {
        let found = record.get(field).and_then(crate::paging::read_id).and_then(|id| index.get(&id).copied()).cloned();
        if let (Some(found), Some(object)) = (found, record.as_object_mut()) {
            object.insert(name.to_owned(), found);
        }
    }
}

/// Sideloads keyed by type, then id, as Teamwork's v3 `included` sends
/// them (`{"users": {"501": {…}}}`): each `{id, type}` reference at a
/// record's `field` (one, or a list) is put, as the object it names,
/// under `related.{field}` (CONNECTOR-RULES 5). A reference to nothing
/// included is left out, not invented.
pub fn merge_keyed(records: &mut [serde_json::Value], included: &serde_json::Value, fields: &[&str]) {
    let find = |reference: &serde_json::Value| {
        let kind = reference.get("type")?.as_str()?;
        let id = crate::paging::read_id(reference.get("id")?)?;
        included.get(kind)?.get(&id).cloned()
    };
    for record in records {
        let mut related = serde_json::Map::new();
        for field in fields {
            match record.get(*field) {
                Some(serde_json::Value::Array(references)) => {
                    related.insert((*field).to_owned(), references.iter().filter_map(find).collect());
                }
                Some(reference @ serde_json::Value::Object(_)) => {
                    if let Some(found) = find(reference) {
                        related.insert((*field).to_owned(), found);
                    }
                }
                _ => {}
            }
        }
        if let Some(object) = record.as_object_mut() {
            object.insert("related".into(), serde_json::Value::Object(related));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use serde_json::json;

    use super::*;

    /// CONNECTOR-RULES 34: a related fetch that fails leaves its record
    /// without the data, names it, and fails nothing else; at most
    /// `concurrency` run at once.
    #[tokio::test]
    async fn a_failed_related_fetch_never_fails_its_record() {
        let running = std::sync::Arc::new(AtomicU32::new(0));
        let most = std::sync::Arc::new(AtomicU32::new(0));
        let fetches: Vec<_> = (0..6)
            .map(|n| {
                let (running, most) = (running.clone(), most.clone());
                let fetch = async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    if n == 3 { Err(FetchError::transient(Some(500), "the comments failed")) } else { Ok(n * 10) }
                };
                (format!("issue {n}'s comments"), fetch)
            })
            .collect();
        let (found, skipped) = fetch_each(fetches, 2).await;
        assert_eq!(found, [Some(0), Some(10), Some(20), None, Some(40), Some(50)]);
        assert_eq!(skipped, [Skipped { record: "issue 3's comments".into(), reason: "the comments failed".into() }]);
        assert!(most.load(Ordering::SeqCst) <= 2, "more than two at once");
    }

    /// CONNECTOR-RULES 4: a name is looked up once per run; a failure is
    /// not remembered.
    #[tokio::test]
    async fn each_referenced_id_is_looked_up_once() {
        let references = References::default();
        let lookups = AtomicU32::new(0);
        for _ in 0..3 {
            let name = references
                .name("user", "7", || async {
                    lookups.fetch_add(1, Ordering::SeqCst);
                    Ok(Some("Ada".to_owned()))
                })
                .await
                .unwrap();
            assert_eq!(name.as_deref(), Some("Ada"));
        }
        assert_eq!(lookups.load(Ordering::SeqCst), 1);
        let failed = references.name("user", "8", || async { Err(FetchError::transient(None, "down")) }).await;
        assert!(failed.is_err());
        let again = references.name("user", "8", || async { Ok(None) }).await.unwrap();
        assert_eq!(again, None, "the failure was remembered");
        references.remember("team", [("t1".to_owned(), "Support".to_owned())]);
        let known = references.name("team", "t1", || async { panic!("looked up a remembered name") }).await.unwrap();
        assert_eq!(known.as_deref(), Some("Support"));
    }

    /// CONNECTOR-RULES 5: sideloaded sections go back into their records,
    /// one-to-one and one-to-many; a dangling reference is left out.
    #[test]
    fn sideloads_are_merged_back_into_their_records() {
        let mut records = vec![json!({
            "id": "1", "type": "ticket",
            "relationships": {
                "author": { "data": { "type": "user", "id": "9" } },
                "tags": { "data": [{ "type": "tag", "id": 1 }, { "type": "tag", "id": 404 }] },
                "team": { "data": null }
            }
        })];
        let included = [
            json!({ "type": "user", "id": "9", "attributes": { "name": "Ada" } }),
            json!({ "type": "tag", "id": "1", "attributes": { "label": "billing" } }),
        ];
        merge_included(&mut records, &included);
        assert_eq!(records[0]["related"], json!({ "author": { "name": "Ada" }, "tags": [{ "label": "billing" }] }));

        let mut tickets = vec![json!({ "id": 5, "requester_id": 42 }), json!({ "id": 6, "requester_id": 43 })];
        attach_by_id(&mut tickets, "requester_id", "requester", &[json!({ "id": 42, "name": "Bo" })]);
        assert_eq!(tickets[0]["requester"]["name"], "Bo");
        assert!(tickets[1].get("requester").is_none());
    }

    /// CONNECTOR-RULES 5: Teamwork's keyed sideloads go back into the
    /// records that point at them; a dangling reference is left out.
    #[test]
    fn keyed_sideloads_are_merged_into_their_records() {
        let mut records = vec![json!({
            "id": 1,
            "tasklist": { "id": 301, "type": "tasklists" },
            "assignees": [{ "id": 501, "type": "users" }, { "id": 999, "type": "users" }],
        })];
        let included = json!({
            "tasklists": { "301": { "id": 301, "name": "Planning", "isPrivate": false } },
            "users": { "501": { "id": 501, "firstName": "Ada" } },
        });
        merge_keyed(&mut records, &included, &["tasklist", "assignees", "tags"]);
        assert_eq!(
            records[0]["related"],
            json!({
                "tasklist": { "id": 301, "name": "Planning", "isPrivate": false },
                "assignees": [{ "id": 501, "firstName": "Ada" }],
            })
        );
    }
}
