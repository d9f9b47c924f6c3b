//! Walking containers for their items (CONNECTOR-RULES 17, 19):
//! repositories → issues, boards → items, teams → projects → files.
//!
//! Containers are not records: a walk yields only their items, each
//! carrying its container's id and name (`content.container`), so a search
//! result says where it lives. A container that is private, or whose
//! visibility is unknown, makes every item in it private: its items are
//! removals, whatever their own visibility says. The walk's cursor holds
//! the container being read and the position inside it, so a run resumes
//! in the middle of a container.

use serde::{Deserialize, Serialize};

use crate::{
    http::FetchError,
    source::{Change, Context, Mode, Page},
};

/// A container's visibility, allow-listed: only what the provider
/// documents as public is [`Visibility::Public`] (rule 17).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    Public,
    Private,
}

impl Visibility {
    /// `value` read against the provider's public values; anything else,
    /// or nothing, is private.
    pub fn read(value: Option<&str>, public: &[&str]) -> Self {
        match value {
            Some(value) if public.contains(&value) => Self::Public,
            _ => Self::Private,
        }
    }
}

/// A repository, board, project or folder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub visibility: Visibility,
}

/// What a connector gives a walk: its containers in a stable order, and
/// each one's items.
#[async_trait::async_trait]
pub trait Containers: Send + Sync {
    /// The container after `after` in the listing's stable order (`None`:
    /// the first); `None` once there are no more.
    async fn next_container(
        &self,
        cx: &Context<'_>,
        after: Option<&Container>,
    ) -> Result<Option<Container>, FetchError>;

    /// The page of `container`'s items of `mode` at `cursor` (`None`: its
    /// first page).
    async fn items(
        &self,
        cx: &Context<'_>,
        container: &Container,
        mode: Mode,
        cursor: Option<&str>,
    ) -> Result<Page, FetchError>;
}

/// Where a walk is, as its cursor stores it.
#[derive(Debug, Serialize, Deserialize)]
struct At {
    container: Container,
    inner: Option<String>,
}

/// How many empty pages one call of [`walk`] passes over before it
/// answers one: an account of many empty projects would otherwise look
/// like an endless run of empty pages (SECURITY F7), while a bound keeps
/// one call's work, and what a crash repeats, small.
pub const EMPTY_PAGES_PER_CALL: usize = 50;

/// The page of the walk at `cursor` (`None`: the start): a page of one
/// container's items, with the container carried on them, and the cursor
/// of the next page, in this container or the first of the next. Empty
/// pages (an empty container, an empty last page) are passed over, up to
/// [`EMPTY_PAGES_PER_CALL`].
pub async fn walk(
    walker: &dyn Containers,
    cx: &Context<'_>,
    mode: Mode,
    cursor: Option<&str>,
) -> Result<Page, FetchError> {
    let mut page = walk_once(walker, cx, mode, cursor).await?;
    for _ in 1..EMPTY_PAGES_PER_CALL {
        let empty = page.changes.is_empty() && page.skipped.is_empty() && page.token.is_none();
        let Some(next) = page.next.clone().filter(|_| empty) else { break };
        page = walk_once(walker, cx, mode, Some(&next)).await?;
    }
    Ok(page)
}

async fn walk_once(
    walker: &dyn Containers,
    cx: &Context<'_>,
    mode: Mode,
    cursor: Option<&str>,
) -> Result<Page, FetchError> {
    let at = match cursor {
        Some(text) => serde_json::from_str::<At>(text)
            .map_err(|_| FetchError::permanent(None, "the stored position in the container walk is unreadable"))?,
        None => match walker.next_container(cx, None).await? {
            Some(container) => At { container, inner: None },
            None => return Ok(Page::default()),
        },
    };
    let mut page = walker.items(cx, &at.container, mode, at.inner.as_deref()).await?;
    page.changes = page.changes.into_iter().map(|change| within(&at.container, change)).collect();
    // A container's count is not the walk's.
    page.total = None;
    let next = match page.next.take() {
        Some(inner) => Some(At { container: at.container, inner: Some(inner) }),
        None => walker.next_container(cx, Some(&at.container)).await?.map(|container| At { container, inner: None }),
    };
    page.next = next.map(|at| serde_json::to_string(&at).unwrap_or_default());
    Ok(page)
}

/// An item's change as its container makes it: the container's id and
/// name carried on a record, and a removal for any item of a container
/// that is not public.
pub fn within(container: &Container, change: Change) -> Change {
    match change {
        upsert @ Change::Upsert(_) if container.visibility != Visibility::Public => upsert.into_removal(),
        Change::Upsert(mut record) => {
            if let Some(content) = record.content.as_object_mut() {
                content.insert("container".into(), serde_json::json!({ "id": container.id, "name": container.name }));
            }
            Change::Upsert(record)
        }
        removal => removal,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use time::OffsetDateTime;

    use super::*;
    use crate::{
        auth::Placement,
        http::{Call, Http, RetryPolicy},
        source::Record,
    };

    /// Three boards, the middle one private, of three cards each, read two
    /// at a time.
    struct Boards;

    fn board(n: usize) -> Container {
        let visibility = if n == 1 { Visibility::Private } else { Visibility::Public };
        Container { id: format!("b{n}"), name: format!("Board {n}"), visibility }
    }

    #[async_trait::async_trait]
    impl Containers for Boards {
        async fn next_container(
            &self,
            _: &Context<'_>,
            after: Option<&Container>,
        ) -> Result<Option<Container>, FetchError> {
            let next = after.map_or(0, |c| c.id[1..].parse::<usize>().unwrap() + 1);
            Ok((next < 3).then(|| board(next)))
        }

        async fn items(
            &self,
            _: &Context<'_>,
            c: &Container,
            _: Mode,
            cursor: Option<&str>,
        ) -> Result<Page, FetchError> {
            let from: usize = cursor.map_or(0, |c| c.parse().unwrap());
            let changes = (from..(from + 2).min(3))
                .map(|n| {
                    Change::Upsert(Record {
                        entity_type: "card".into(),
                        entity_id: format!("{}-c{n}", c.id),
                        title: format!("Card {n}"),
                        url: format!("https://boards.example/{}/{n}", c.id),
                        content: serde_json::json!({ "text": "…" }),
                        updated_at: OffsetDateTime::UNIX_EPOCH,
                    })
                })
                .collect();
            Ok(Page {
                changes,
                next: (from + 2 < 3).then(|| (from + 2).to_string()),
                total: Some(3),
                ..Page::default()
            })
        }
    }

    async fn walk_all(cx: &Context<'_>, mut cursor: Option<String>) -> (Vec<Change>, Vec<String>) {
        let (mut changes, mut cursors) = (Vec::new(), Vec::new());
        loop {
            let page = walk(&Boards, cx, Mode::Full, cursor.as_deref()).await.unwrap();
            assert_eq!(page.total, None);
            changes.extend(page.changes);
            match page.next {
                Some(next) => {
                    cursors.push(next.clone());
                    cursor = Some(next);
                }
                None => return (changes, cursors),
            }
        }
    }

    /// A context for the boards, which make no requests.
    fn context<'a>(http: &'a Http, settings: &'a BTreeMap<String, String>) -> Context<'a> {
        Context {
            http,
            call: Call::default(),
            base_url: "https://boards.example",
            settings,
            allowed_hosts: &[],
            auth: &Placement::Bearer,
            token: None,
            stream: "",
        }
    }

    fn http() -> Http {
        Http::new(std::time::Duration::from_secs(1), RetryPolicy::default()).unwrap()
    }

    /// CONNECTOR-RULES 19, 17: only items are yielded, each with its
    /// board's name; a private board's items are removals; a walk resumed
    /// from any stored cursor reads exactly the rest.
    #[tokio::test]
    async fn a_walk_yields_items_with_their_container_and_hides_a_private_ones() {
        let (http, settings) = (http(), BTreeMap::new());
        let cx = context(&http, &settings);
        let (changes, cursors) = walk_all(&cx, None).await;
        assert_eq!(changes.len(), 9, "three cards on each of three boards, and no board as a record");
        for change in &changes {
            match change {
                Change::Upsert(record) => {
                    assert!(!record.entity_id.starts_with("b1"), "a private board's card was kept");
                    let board = &record.entity_id[..2];
                    assert_eq!(record.content["container"]["name"], format!("Board {}", &board[1..]));
                    assert_eq!(record.content["container"]["id"], board);
                }
                Change::Remove { entity_id, .. } => assert!(entity_id.starts_with("b1"), "{entity_id}"),
            }
        }
        for (at, cursor) in cursors.iter().enumerate() {
            let (rest, _) = walk_all(&cx, Some(cursor.clone())).await;
            // Pages of two and one cards a board: cards read before each cursor.
            let read_before = [2, 3, 5, 6, 8][at];
            assert_eq!(rest, changes[read_before..], "resumed from cursor {at}");
        }
        assert!(walk(&Boards, &cx, Mode::Full, Some("{nope")).await.is_err());
    }

    /// Boards `0..count`, only the last with a card.
    struct MostlyEmpty {
        count: usize,
        asked: std::sync::atomic::AtomicUsize,
    }

    #[async_trait::async_trait]
    impl Containers for MostlyEmpty {
        async fn next_container(
            &self,
            _: &Context<'_>,
            after: Option<&Container>,
        ) -> Result<Option<Container>, FetchError> {
            let next = after.map_or(0, |c| c.id.parse::<usize>().unwrap() + 1);
            Ok((next < self.count).then(|| Container {
                id: next.to_string(),
                name: format!("Board {next}"),
                visibility: Visibility::Public,
            }))
        }

        async fn items(&self, _: &Context<'_>, c: &Container, _: Mode, _: Option<&str>) -> Result<Page, FetchError> {
            self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let changes = (c.id == (self.count - 1).to_string())
                .then(|| {
                    Change::Upsert(Record {
                        entity_type: "card".into(),
                        entity_id: "last".into(),
                        title: "The only card".into(),
                        url: "https://boards.example/last".into(),
                        content: serde_json::json!({}),
                        updated_at: OffsetDateTime::UNIX_EPOCH,
                    })
                })
                .into_iter()
                .collect();
            Ok(Page { changes, ..Page::default() })
        }
    }

    /// SECURITY F7: a run of empty containers is passed over inside one
    /// call, up to a bound, so the runner never sees more empty pages in
    /// a row than it allows; past the bound the walk answers an empty page
    /// with its place, and goes on from there.
    #[tokio::test]
    async fn empty_containers_are_passed_over_within_a_bound() {
        let (http, settings) = (http(), BTreeMap::new());
        let cx = context(&http, &settings);
        let few = MostlyEmpty { count: 30, asked: 0.into() };
        let page = walk(&few, &cx, Mode::Full, None).await.unwrap();
        assert_eq!((page.changes.len(), page.next.is_none()), (1, true), "30 boards, one card, one call");
        assert_eq!(few.asked.load(std::sync::atomic::Ordering::SeqCst), 30);

        let many = MostlyEmpty { count: 2 * EMPTY_PAGES_PER_CALL + 5, asked: 0.into() };
        let first = walk(&many, &cx, Mode::Full, None).await.unwrap();
        assert!(first.changes.is_empty() && first.next.is_some(), "the bound was not kept");
        assert_eq!(many.asked.load(std::sync::atomic::Ordering::SeqCst), EMPTY_PAGES_PER_CALL);
        let second = walk(&many, &cx, Mode::Full, first.next.as_deref()).await.unwrap();
        let third = walk(&many, &cx, Mode::Full, second.next.as_deref()).await.unwrap();
        assert_eq!((third.changes.len(), third.next), (1, None));
    }

    #[test]
    fn unknown_visibility_is_private() {
        assert_eq!(Visibility::read(Some("public"), &["public"]), Visibility::Public);
        assert_eq!(Visibility::read(Some("internal"), &["public"]), Visibility::Private);
        assert_eq!(Visibility::read(None, &["public"]), Visibility::Private);
    }
}
