//! The sandbox's item API: a paginated, rate-limited list of records with
//! `updated_since`, and faults on demand, for syncs to pull from.
//!
//! `GET /api/items?limit=L&cursor=C&updated_since=T` (bearer token):
//! - items ordered by `(updated_at, id)`; `cursor` is the opaque
//!   `next_cursor` of the page before; `limit` is 1–200, 50 by default;
//! - in page-number mode ([`Paging::Pages`]) the answer names
//!   `next_page` instead, asked for with `page=P&per_page=N` (N 1–200):
//!   an offset into the same order, which shifts when items are edited or
//!   deleted between pages, as page-numbered listings do;
//! - without `updated_since`: every live item, and `total_count`;
//! - with `updated_since` (RFC 3339): items changed at or after it,
//!   deleted ones included as `{"id", "deleted": true, "updated_at"}`,
//!   and no count;
//! - items have `visibility` `public` or `private`; a client that may only
//!   index public records must drop private ones;
//! - `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`
//!   (seconds until the bucket is full) on every answer when a limit is
//!   set; past it, 429 with `Retry-After: 1`.
//!
//! With several kinds of item ([`ItemSettings::kinds`]), `kind=K` lists
//! only items of kind `K`, each the stream of that name.
//!
//! `GET /api/items/{id}`: one item, private ones included, or 404 once it
//! is deleted.
//!
//! With stream tokens on ([`Items::set_stream_tokens`]), the last page of
//! a listing carries a `sync_token`, and `sync_token=` asks for the
//! changes after it instead of `updated_since`. Expiring the tokens
//! ([`Items::expire_stream_tokens`]) makes every older one answer 410
//! `sync_token_expired`, as Google's and Microsoft Graph's do.
//!
//! [`Mutations`] edit, delete, create and make private random items each
//! time a listing page is answered: the source changing under a pass.
//!
//! Items are generated, not stored: item `n` exists from the start with a
//! timestamp `n` seconds after a base time, so a million of them cost
//! nothing until one is changed. Changes ([`Items::touch`],
//! [`Items::delete`], [`Items::set_private`]) get timestamps after every
//! generated one.

use std::{
    collections::{BTreeSet, HashMap},
    sync::Mutex,
    time::{Duration, Instant},
};

use axum::{
    Json,
    body::Body,
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde_json::json;

use crate::Sandbox;

/// How the item API behaves; set by flags or variables where the sandbox
/// is served.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemSettings {
    /// Items generated at start.
    pub count: u64,
    /// Requests per second allowed to the item API; `None` for no limit.
    pub rate_limit: Option<u32>,
    /// The share of item requests that meet a fault (0–1): a 429, a 500,
    /// a delay, or a connection reset mid-answer, in equal parts.
    pub fault_rate: f64,
    pub paging: Paging,
    /// What changes each time a listing page is answered.
    pub mutations: Mutations,
    /// The kinds of item, dealt out in turn (item `n` is of kind
    /// `n % len`): with more than one, each is its own stream of the
    /// connection, listed with `kind=`.
    pub kinds: Vec<String>,
    /// A user name and password the API also takes over HTTP Basic, for
    /// the `sandbox-basic` provider; `None`: no Basic, and no such
    /// provider.
    pub basic: Option<BasicAccount>,
}

/// The sandbox's one password account.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicAccount {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for BasicAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicAccount").field("user", &self.user).field("password", &"[redacted]").finish()
    }
}

impl BasicAccount {
    /// `user:password`; the user has no colon (RFC 7617).
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.split_once(':') {
            Some((user, password)) if !user.is_empty() && !password.is_empty() => {
                Ok(Self { user: user.to_owned(), password: password.to_owned() })
            }
            _ => Err("give it as user:password".into()),
        }
    }

    /// Whether an `Authorization` header's value is `Basic` with this
    /// account, compared in constant time.
    pub(crate) fn accepts(&self, authorization: &str) -> bool {
        let Some(encoded) = authorization.strip_prefix("Basic ") else { return false };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else { return false };
        let expected = format!("{}:{}", self.user, self.password);
        decoded.len() == expected.len()
            && decoded.iter().zip(expected.as_bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

impl Default for ItemSettings {
    fn default() -> Self {
        Self {
            count: 1_000,
            rate_limit: Some(DEFAULT_RATE_LIMIT),
            fault_rate: 0.0,
            paging: Paging::Cursor,
            mutations: Mutations::default(),
            kinds: vec!["item".to_owned()],
            basic: None,
        }
    }
}

/// How a listing names the page after it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Paging {
    /// An opaque `(updated_at, id)` cursor: a keyset that nothing shifts.
    #[default]
    Cursor,
    /// A page number: an offset that edits and deletes shift.
    Pages,
}

impl std::str::FromStr for Paging {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim() {
            "cursor" => Ok(Self::Cursor),
            "pages" => Ok(Self::Pages),
            other => Err(format!("`{other}` is not `cursor` or `pages`")),
        }
    }
}

/// Changes made to random items each time a listing page is answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Mutations {
    pub edits: u32,
    pub deletes: u32,
    pub creates: u32,
    /// Public items made private.
    pub privacy_flips: u32,
}

impl Mutations {
    /// `edits=5,deletes=1,creates=0,privacy_flips=0`; names left out are 0.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut mutations = Self::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').ok_or_else(|| format!("`{part}` is not name=count"))?;
            let value: u32 = value.trim().parse().map_err(|_| format!("`{value}` is not a count"))?;
            match name.trim() {
                "edits" => mutations.edits = value,
                "deletes" => mutations.deletes = value,
                "creates" => mutations.creates = value,
                "privacy_flips" => mutations.privacy_flips = value,
                other => return Err(format!("`{other}` is not edits, deletes, creates or privacy_flips")),
            }
        }
        Ok(mutations)
    }

    fn is_none(self) -> bool {
        self == Self::default()
    }
}

/// `item,note,task`: the kinds of item, lowercase words, one to eight.
pub fn parse_kinds(text: &str) -> Result<Vec<String>, String> {
    let kinds: Vec<String> = text.split(',').map(|k| k.trim().to_owned()).filter(|k| !k.is_empty()).collect();
    if kinds.is_empty() || kinds.len() > 8 {
        return Err("name one to eight kinds, such as `item,note,task`".into());
    }
    for (at, kind) in kinds.iter().enumerate() {
        if !kind.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(format!("`{kind}` is not a lowercase word"));
        }
        if kinds[..at].contains(kind) {
            return Err(format!("`{kind}` is named twice"));
        }
    }
    Ok(kinds)
}

/// The advertised limit when none is set, per second.
pub const DEFAULT_RATE_LIMIT: u32 = 50;
const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 200;
/// Generated items are this far apart in time.
const STEP_MS: i64 = 1_000;

/// A changed item's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Edit {
    updated_ms: i64,
    revision: u32,
    deleted: bool,
    private: bool,
}

#[derive(Debug)]
pub(crate) struct Items {
    settings: ItemSettings,
    /// Unix milliseconds of item 0.
    base_ms: i64,
    state: Mutex<ItemState>,
}

/// Paging that a buggy provider gets wrong, for the loop guard to catch
/// (SECURITY F7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BrokenPaging {
    #[default]
    No,
    /// Every page after the first names the same next cursor.
    RepeatCursor,
    /// Every page is empty and names a new next cursor, without end.
    EmptyForever,
}

#[derive(Debug)]
struct ItemState {
    edits: HashMap<u64, Edit>,
    /// Edited items by `(updated_ms, n)`; every one is after the generated.
    edited: BTreeSet<(i64, u64)>,
    last_edit_ms: i64,
    bucket: Bucket,
    faults_left: u64,
    requests: u64,
    /// When the first and the last item request came, in Unix milliseconds.
    first_request_ms: Option<i64>,
    last_request_ms: Option<i64>,
    paging: BrokenPaging,
    /// Empty pages answered in [`BrokenPaging::EmptyForever`].
    empty_pages: u64,
    limited: u64,
    listing: Paging,
    mutations: Mutations,
    /// Items created after the start: numbered from the generated count.
    created: u64,
    /// Item lookups by id answered, and how many found a live item.
    lookups: u64,
    lookups_found: u64,
    stream_tokens: bool,
    /// Tokens of an older generation are expired.
    stream_generation: u64,
    /// Listings asked for with a sync token.
    token_listings: u64,
    /// The generated items' count: a number past it was created.
    generated: u64,
    /// The kinds of item, dealt out in turn ([`ItemSettings::kinds`]).
    kinds: Vec<String>,
    /// Where every change is told, for the webhooks ([`crate::hooks`]).
    changes: Option<tokio::sync::mpsc::UnboundedSender<ItemChange>>,
}

/// A change to an item, as the webhooks report it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ItemChange {
    pub(crate) id: String,
    /// The item's kind (its entity type at the console).
    pub(crate) item_kind: String,
    /// `item.created`, `item.updated`, `item.deleted` or `item.made_private`.
    pub(crate) kind: &'static str,
    pub(crate) updated_ms: i64,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

fn now_ms() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis())
        .unwrap_or(i64::MAX)
}

impl Items {
    pub(crate) fn new(settings: ItemSettings) -> Self {
        let count = i64::try_from(settings.count).unwrap_or(i64::MAX / STEP_MS);
        // The generated items end a day before now.
        let base_ms = now_ms() - count.saturating_mul(STEP_MS) - 86_400_000;
        let tokens = f64::from(settings.rate_limit.unwrap_or(0));
        let state = ItemState {
            edits: HashMap::new(),
            edited: BTreeSet::new(),
            last_edit_ms: base_ms + count.saturating_mul(STEP_MS),
            bucket: Bucket { tokens, at: Instant::now() },
            faults_left: 0,
            requests: 0,
            first_request_ms: None,
            last_request_ms: None,
            paging: BrokenPaging::No,
            empty_pages: 0,
            limited: 0,
            listing: settings.paging,
            mutations: settings.mutations,
            created: 0,
            lookups: 0,
            lookups_found: 0,
            stream_tokens: false,
            stream_generation: 1,
            token_listings: 0,
            generated: settings.count,
            kinds: settings.kinds.clone(),
            changes: None,
        };
        Self { settings, base_ms, state: Mutex::new(state) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ItemState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The kind of item `n`.
    fn kind_of(&self, n: u64) -> &str {
        let kinds = &self.settings.kinds;
        match kinds.len() {
            0 => "item",
            len => &kinds[usize::try_from(n % len as u64).unwrap_or(0)],
        }
    }

    /// The index of a kind named in a listing; `None` when not one.
    pub(crate) fn kind_index(&self, name: &str) -> Option<u64> {
        self.settings.kinds.iter().position(|k| k == name).map(|at| at as u64)
    }

    /// Whether item `n` is listed under `kind` (`None`: every kind).
    fn is_kind(&self, n: u64, kind: Option<u64>) -> bool {
        kind.is_none_or(|k| n % (self.settings.kinds.len().max(1) as u64) == k)
    }

    fn generated_ms(&self, n: u64) -> i64 {
        self.base_ms + i64::try_from(n).unwrap_or(i64::MAX / STEP_MS) * STEP_MS
    }

    fn edit(&self, n: u64, change: impl FnOnce(&mut Edit)) -> bool {
        let mut s = self.lock();
        self.edit_locked(&mut s, n, change)
    }

    fn edit_locked(&self, s: &mut ItemState, n: u64, change: impl FnOnce(&mut Edit)) -> bool {
        if n >= self.settings.count + s.created {
            return false;
        }
        let updated_ms = now_ms().max(s.last_edit_ms + 1);
        s.last_edit_ms = updated_ms;
        Self::edit_at(s, n, updated_ms, change)
    }

    /// A new public item, after every other; returns its number.
    pub(crate) fn create(&self) -> u64 {
        let mut s = self.lock();
        self.create_locked(&mut s)
    }

    fn create_locked(&self, s: &mut ItemState) -> u64 {
        let n = self.settings.count + s.created;
        s.created += 1;
        self.edit_locked(s, n, |_| {});
        n
    }

    pub(crate) fn mutations(&self) -> Mutations {
        self.lock().mutations
    }

    /// Turns stream tokens on or off.
    pub(crate) fn set_stream_tokens(&self, on: bool) {
        self.lock().stream_tokens = on;
    }

    /// Makes every token given so far answer 410.
    pub(crate) fn expire_stream_tokens(&self) {
        self.lock().stream_generation += 1;
    }

    /// Listings asked for with a sync token.
    pub(crate) fn token_listings(&self) -> u64 {
        self.lock().token_listings
    }

    /// A token for the changes after now, of the current generation.
    fn stream_token(&self) -> Option<String> {
        let s = self.lock();
        s.stream_tokens.then(|| URL_SAFE_NO_PAD.encode(format!("{}:{}", s.stream_generation, now_ms())))
    }

    /// What a token asks for: the changes from its time, or `Err` when it
    /// is not one this API gave (`Ok(None)`: expired).
    fn read_stream_token(&self, text: &str) -> Result<Option<i64>, ()> {
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(text).map_err(|_| ())?).map_err(|_| ())?;
        let (generation, ms) = raw.split_once(':').ok_or(())?;
        let (generation, ms): (u64, i64) = (generation.parse().map_err(|_| ())?, ms.parse().map_err(|_| ())?);
        let mut s = self.lock();
        s.token_listings += 1;
        Ok((generation == s.stream_generation).then_some(ms))
    }

    /// Sets what changes each time a listing page is answered.
    pub(crate) fn set_mutations(&self, mutations: Mutations) {
        self.lock().mutations = mutations;
    }

    pub(crate) fn set_listing(&self, paging: Paging) {
        self.lock().listing = paging;
    }

    /// Makes the changes [`Mutations`] asks for, to random items that are
    /// not deleted (and, for a privacy flip, public).
    fn mutate(&self, s: &mut ItemState) {
        let m = s.mutations;
        if m.is_none() {
            return;
        }
        let pick = |s: &ItemState, public_only: bool| {
            let all = self.settings.count + s.created;
            (all > 0)
                .then(|| {
                    (0..32)
                        .map(|_| rand::random_range(0..all))
                        .find(|n| s.edits.get(n).is_none_or(|e| !e.deleted && (!public_only || !e.private)))
                })
                .flatten()
        };
        for _ in 0..m.edits {
            if let Some(n) = pick(s, false) {
                self.edit_locked(s, n, |_| {});
            }
        }
        for _ in 0..m.deletes {
            if let Some(n) = pick(s, false) {
                self.edit_locked(s, n, |e| e.deleted = true);
            }
        }
        for _ in 0..m.privacy_flips {
            if let Some(n) = pick(s, true) {
                self.edit_locked(s, n, |e| e.private = true);
            }
        }
        for _ in 0..m.creates {
            self.create_locked(s);
        }
    }

    /// Edits every item of `ns` at one instant, as a bulk update does: they
    /// all share one `updated_at`. Returns how many were edited.
    pub(crate) fn touch_together(&self, ns: &[u64]) -> usize {
        let mut s = self.lock();
        let updated_ms = now_ms().max(s.last_edit_ms + 1);
        s.last_edit_ms = updated_ms;
        let all = self.settings.count + s.created;
        ns.iter().filter(|&&n| n < all && Self::edit_at(&mut s, n, updated_ms, |_| {})).count()
    }

    fn edit_at(s: &mut ItemState, n: u64, updated_ms: i64, change: impl FnOnce(&mut Edit)) -> bool {
        let fresh = !s.edits.contains_key(&n);
        let mut edit =
            s.edits.get(&n).copied().unwrap_or(Edit { updated_ms: 0, revision: 0, deleted: false, private: false });
        if edit.deleted {
            return false;
        }
        let was_private = edit.private;
        if edit.updated_ms != 0 {
            s.edited.remove(&(edit.updated_ms, n));
        }
        edit.updated_ms = updated_ms;
        edit.revision += 1;
        change(&mut edit);
        s.edited.insert((updated_ms, n));
        s.edits.insert(n, edit);
        if let Some(changes) = &s.changes {
            let kind = match () {
                () if edit.deleted => "item.deleted",
                () if edit.private && !was_private => "item.made_private",
                () if fresh && n >= s.generated => "item.created",
                () => "item.updated",
            };
            // The receiver lives as long as the sandbox.
            let item_kind = match s.kinds.len() {
                0 => "item".to_owned(),
                len => s.kinds[usize::try_from(n % len as u64).unwrap_or(0)].clone(),
            };
            let _ = changes.send(ItemChange { id: item_id(n), item_kind, kind, updated_ms });
        }
        true
    }

    /// Sends every change from now on to `changes`.
    pub(crate) fn tell_changes(&self, changes: tokio::sync::mpsc::UnboundedSender<ItemChange>) {
        self.lock().changes = Some(changes);
    }

    /// Edits item `n`'s title, as a person would; `false` if it is gone.
    pub(crate) fn touch(&self, n: u64) -> bool {
        self.edit(n, |_| {})
    }

    pub(crate) fn delete(&self, n: u64) -> bool {
        self.edit(n, |e| e.deleted = true)
    }

    pub(crate) fn set_private(&self, n: u64, private: bool) -> bool {
        self.edit(n, |e| e.private = private)
    }

    pub(crate) fn break_paging(&self, paging: BrokenPaging) {
        self.lock().paging = paging;
    }

    /// The listing as the broken paging answers it.
    fn broken(&self, mut listing: Listing, after: Option<(i64, u64)>) -> Listing {
        let mut s = self.lock();
        match s.paging {
            BrokenPaging::No => {}
            BrokenPaging::RepeatCursor => {
                if after.is_some() {
                    listing.next = after;
                }
            }
            BrokenPaging::EmptyForever => {
                s.empty_pages += 1;
                listing.items.clear();
                listing.next = Some((0, s.empty_pages));
            }
        }
        listing
    }

    /// Makes the next `n` item requests meet a fault, whatever the rate.
    pub(crate) fn fail_next(&self, n: u64) {
        self.lock().faults_left = n;
    }

    /// Item requests answered, and how many of them were 429 for the limit.
    pub(crate) fn stats(&self) -> (u64, u64) {
        let s = self.lock();
        (s.requests, s.limited)
    }

    /// Item lookups by id answered, and how many of them found a live item.
    pub(crate) fn lookups(&self) -> (u64, u64) {
        let s = self.lock();
        (s.lookups, s.lookups_found)
    }

    /// When the first item request came (Unix milliseconds), if one did.
    pub(crate) fn first_request_ms(&self) -> Option<i64> {
        self.lock().first_request_ms
    }

    /// When the last item request came (Unix milliseconds), if one did.
    pub(crate) fn last_request_ms(&self) -> Option<i64> {
        self.lock().last_request_ms
    }

    /// Live items, as a full listing returns them.
    pub(crate) fn live_count(&self) -> u64 {
        let s = self.lock();
        self.live_locked(&s)
    }

    fn live_locked(&self, s: &ItemState) -> u64 {
        self.live_of_kind(s, None)
    }

    /// Live items of `kind` (`None`: every kind).
    fn live_of_kind(&self, s: &ItemState, kind: Option<u64>) -> u64 {
        let all = self.settings.count + s.created;
        let listed = match kind {
            None => all,
            Some(k) => {
                let len = self.settings.kinds.len().max(1) as u64;
                (all + len - 1 - k) / len
            }
        };
        listed - s.edits.iter().filter(|(n, e)| e.deleted && self.is_kind(**n, kind)).count() as u64
    }

    /// The ids a full listing would return that a public-only client keeps.
    pub(crate) fn public_ids(&self) -> Vec<String> {
        let s = self.lock();
        (0..self.settings.count + s.created)
            .filter(|n| s.edits.get(n).is_none_or(|e| !e.deleted && !e.private))
            .map(item_id)
            .collect()
    }

    fn item(&self, n: u64, edit: Option<&Edit>, issuer: &str) -> serde_json::Value {
        let updated_ms = edit.map_or_else(|| self.generated_ms(n), |e| e.updated_ms);
        let id = item_id(n);
        let kind = self.kind_of(n);
        if edit.is_some_and(|e| e.deleted) {
            return json!({ "id": id, "kind": kind, "deleted": true, "updated_at": rfc3339(updated_ms) });
        }
        let revision = edit.map_or(0, |e| e.revision);
        let private = edit.is_some_and(|e| e.private);
        let title = if revision == 0 { format!("Item {n}") } else { format!("Item {n} (edited {revision}×)") };
        json!({
            "id": id,
            "kind": kind,
            "number": n,
            "title": title,
            "body": format!("The body of item {n}, revision {revision}."),
            "state": if n.is_multiple_of(5) { "closed" } else { "open" },
            "visibility": if private { "private" } else { "public" },
            "created_at": rfc3339(self.generated_ms(n)),
            "updated_at": rfc3339(updated_ms),
            "url": format!("{issuer}/items/{id}"),
        })
    }

    /// Items after `after` in `(updated_ms, n)` order, at or after `since`.
    fn list(
        &self,
        after: Option<(i64, u64)>,
        since: Option<i64>,
        kind: Option<u64>,
        limit: usize,
        issuer: &str,
    ) -> Listing {
        let s = self.lock();
        let with_deleted = since.is_some();
        let since = since.unwrap_or(i64::MIN);
        // One more than asked, to know whether there is a next page.
        let mut keys: Vec<(i64, u64)> = Vec::with_capacity(limit + 1);
        // The generated items first, skipping edited ones (they come later).
        let mut n = match after {
            Some((ms, k)) if ms >= self.base_ms => {
                let at = u64::try_from((ms - self.base_ms) / STEP_MS).unwrap_or(u64::MAX);
                if self.generated_ms(at) == ms && at > k { at } else { at.saturating_add(1) }
            }
            _ => 0,
        };
        if since > self.base_ms {
            let first = u64::try_from((since - self.base_ms + STEP_MS - 1) / STEP_MS).unwrap_or(u64::MAX);
            n = n.max(first);
        }
        while n < self.settings.count && keys.len() <= limit {
            if !s.edits.contains_key(&n) && self.is_kind(n, kind) {
                keys.push((self.generated_ms(n), n));
            }
            n += 1;
        }
        let from = after.unwrap_or((i64::MIN, 0));
        for &(ms, k) in s.edited.range((std::ops::Bound::Excluded(from), std::ops::Bound::Unbounded)) {
            if keys.len() > limit {
                break;
            }
            if ms >= since && (with_deleted || !s.edits[&k].deleted) && self.is_kind(k, kind) {
                keys.push((ms, k));
            }
        }
        let more = keys.len() > limit;
        keys.truncate(limit);
        let items = keys.iter().map(|&(_, k)| self.item(k, s.edits.get(&k), issuer)).collect();
        let total = (!with_deleted).then(|| self.live_of_kind(&s, kind));
        Listing { items, next: if more { keys.last().copied() } else { None }, total }
    }

    /// The `page`th page (from 1) of `per_page` items in `(updated_ms, n)`
    /// order, at or after `since`: an offset, so it shifts as items move.
    fn list_page(
        &self,
        page: u64,
        per_page: usize,
        since: Option<i64>,
        kind: Option<u64>,
        issuer: &str,
    ) -> (Listing, bool) {
        let s = self.lock();
        let with_deleted = since.is_some();
        let since = since.unwrap_or(i64::MIN);
        let generated = (0..self.settings.count)
            .filter(|&n| !s.edits.contains_key(&n) && self.is_kind(n, kind))
            .map(|n| (self.generated_ms(n), n))
            .filter(|&(ms, _)| ms >= since);
        let edited = s
            .edited
            .iter()
            .copied()
            .filter(|&(ms, k)| ms >= since && (with_deleted || !s.edits[&k].deleted) && self.is_kind(k, kind));
        let skip = usize::try_from(page.saturating_sub(1)).unwrap_or(usize::MAX).saturating_mul(per_page);
        let keys: Vec<(i64, u64)> = generated.chain(edited).skip(skip).take(per_page + 1).collect();
        let more = keys.len() > per_page;
        let items = keys.iter().take(per_page).map(|&(_, k)| self.item(k, s.edits.get(&k), issuer)).collect();
        let total = (!with_deleted).then(|| self.live_of_kind(&s, kind));
        (Listing { items, next: None, total }, more)
    }

    /// The item numbered `n` as a lookup answers it: `None` once deleted.
    fn lookup(&self, n: u64, issuer: &str) -> Option<serde_json::Value> {
        let mut s = self.lock();
        s.lookups += 1;
        let edit = s.edits.get(&n).copied();
        let live = n < self.settings.count + s.created && edit.is_none_or(|e| !e.deleted);
        s.lookups_found += u64::from(live);
        live.then(|| self.item(n, edit.as_ref(), issuer))
    }
}

struct Listing {
    items: Vec<serde_json::Value>,
    next: Option<(i64, u64)>,
    total: Option<u64>,
}

/// The number of an item id (`itm_7`), if it is one.
pub(crate) fn item_number(id: &str) -> Option<u64> {
    id.strip_prefix("itm_").and_then(|n| n.parse::<u64>().ok()).filter(|n| item_id(*n) == id)
}

pub(crate) fn item_id(n: u64) -> String {
    format!("itm_{n}")
}

pub(crate) fn rfc3339(ms: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

fn encode_cursor((ms, n): (i64, u64)) -> String {
    URL_SAFE_NO_PAD.encode(format!("{ms}:{n}"))
}

fn decode_cursor(text: &str) -> Option<(i64, u64)> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(text).ok()?).ok()?;
    let (ms, n) = raw.split_once(':')?;
    Some((ms.parse().ok()?, n.parse().ok()?))
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    limit: Option<String>,
    cursor: Option<String>,
    updated_since: Option<String>,
    sync_token: Option<String>,
    page: Option<String>,
    per_page: Option<String>,
    kind: Option<String>,
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error": code, "message": message }))).into_response()
}

enum Admission {
    Go { remaining: u32, reset: u64 },
    Limited,
    Unlimited,
}

impl Items {
    /// Takes a token from the bucket (refilled at the limit per second, as
    /// deep as one second of requests).
    fn admit(&self) -> Admission {
        let mut s = self.lock();
        s.requests += 1;
        let at = now_ms();
        s.first_request_ms.get_or_insert(at);
        s.last_request_ms = Some(at);
        let Some(limit) = self.settings.rate_limit else { return Admission::Unlimited };
        let rate = f64::from(limit);
        let elapsed = s.bucket.at.elapsed().as_secs_f64();
        s.bucket.tokens = (s.bucket.tokens + elapsed * rate).min(rate);
        s.bucket.at = Instant::now();
        if s.bucket.tokens < 1.0 {
            s.limited += 1;
            return Admission::Limited;
        }
        s.bucket.tokens -= 1.0;
        let reset = ((rate - s.bucket.tokens) / rate).ceil() as u64;
        Admission::Go { remaining: s.bucket.tokens.floor() as u32, reset }
    }

    fn fault(&self) -> Option<u8> {
        let mut s = self.lock();
        if s.faults_left > 0 {
            s.faults_left -= 1;
        } else if self.settings.fault_rate <= 0.0 || rand::random::<f64>() >= self.settings.fault_rate {
            return None;
        }
        Some(rand::random_range(0..4u8))
    }
}

/// Admits a request to the item API: its token, the rate limit and the
/// injected faults. `Err` is the answer when it goes no further.
async fn admit(sandbox: &Sandbox, headers: &HeaderMap) -> Result<(Admission, Option<u8>), Response> {
    if !sandbox.token_is_valid(headers) {
        return Err(crate::invalid_token());
    }
    let items = sandbox.items();
    let admitted = items.admit();
    if let Admission::Limited = admitted {
        let mut response = error(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "Too many requests; slow down.");
        limit_headers(items, &mut response, 0, 1);
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return Err(response);
    }
    let fault = items.fault();
    match fault {
        Some(0) => {
            let mut response = error(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "Injected: slow down.");
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return Err(response);
        }
        Some(1) => return Err(error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Injected: something broke.")),
        Some(2) => tokio::time::sleep(Duration::from_millis(300)).await,
        _ => {}
    }
    Ok((admitted, fault))
}

fn limit_headers(items: &Items, response: &mut Response, remaining: u32, reset: u64) {
    let h = response.headers_mut();
    let limit = items.settings.rate_limit.unwrap_or(0);
    h.insert("x-ratelimit-limit", HeaderValue::from(limit));
    h.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
    h.insert("x-ratelimit-reset", HeaderValue::from(reset));
}

/// `GET /api/items/{id}`.
pub(crate) async fn get(
    State(sandbox): State<Sandbox>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let (admitted, _) = match admit(&sandbox, &headers).await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let items = sandbox.items();
    let found = id
        .strip_prefix("itm_")
        .and_then(|n| n.parse::<u64>().ok())
        .and_then(|n| (item_id(n) == id).then(|| items.lookup(n, &sandbox.settings().issuer)).flatten());
    let mut response = match found {
        Some(item) => Json(item).into_response(),
        None => error(StatusCode::NOT_FOUND, "not_found", "No such item."),
    };
    if let Admission::Go { remaining, reset } = admitted {
        limit_headers(items, &mut response, remaining, reset);
    }
    response
}

fn page_number(text: &str) -> Option<u64> {
    text.parse::<u64>().ok().filter(|n| (1..=10_000_000).contains(n))
}

pub(crate) async fn list(State(sandbox): State<Sandbox>, headers: HeaderMap, Query(q): Query<ListQuery>) -> Response {
    let (admitted, fault) = match admit(&sandbox, &headers).await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let items = sandbox.items();
    let limit = match q.limit.as_deref().map(str::parse::<usize>) {
        None => DEFAULT_PAGE,
        Some(Ok(n)) if (1..=MAX_PAGE).contains(&n) => n,
        Some(_) => return error(StatusCode::BAD_REQUEST, "invalid_limit", "limit must be between 1 and 200"),
    };
    let after = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(text) => match decode_cursor(text) {
            Some(at) => Some(at),
            None => return error(StatusCode::BAD_REQUEST, "invalid_cursor", "cursor is not one this API gave"),
        },
    };
    let since = match (q.sync_token.as_deref(), q.updated_since.as_deref()) {
        (Some(token), _) => match items.read_stream_token(token) {
            Ok(Some(ms)) => Some(ms),
            Ok(None) => {
                return error(StatusCode::GONE, "sync_token_expired", "The sync token expired; list everything again.");
            }
            Err(()) => {
                return error(StatusCode::BAD_REQUEST, "invalid_sync_token", "sync_token is not one this API gave");
            }
        },
        (None, None) => None,
        (None, Some(text)) => match time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) {
            Ok(at) => Some(i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MIN)),
            Err(_) => return error(StatusCode::BAD_REQUEST, "invalid_updated_since", "updated_since must be RFC 3339"),
        },
    };
    let kind = match q.kind.as_deref() {
        None => None,
        Some(name) => match items.kind_index(name) {
            Some(at) => Some(at),
            None => return error(StatusCode::BAD_REQUEST, "invalid_kind", "kind is not one of this sandbox's kinds"),
        },
    };
    let issuer = &sandbox.settings().issuer;
    let paged = items.lock().listing == Paging::Pages;
    let body = if paged {
        let page = match q.page.as_deref().map(page_number) {
            None => 1,
            Some(Some(page)) => page,
            Some(None) => return error(StatusCode::BAD_REQUEST, "invalid_page", "page must be a number from 1"),
        };
        let per_page = match q.per_page.as_deref().map(str::parse::<usize>) {
            None => limit,
            Some(Ok(n)) if (1..=MAX_PAGE).contains(&n) => n,
            Some(_) => return error(StatusCode::BAD_REQUEST, "invalid_per_page", "per_page must be between 1 and 200"),
        };
        let (listing, more) = items.list_page(page, per_page, since, kind, issuer);
        json!({
            "items": listing.items,
            "page": page,
            "per_page": per_page,
            "next_page": more.then_some(page + 1),
            "total_count": listing.total,
            "sync_token": if more { None } else { items.stream_token() },
        })
    } else {
        let listing = items.broken(items.list(after, since, kind, limit, issuer), after);
        let last = listing.next.is_none();
        json!({
            "items": listing.items,
            "next_cursor": listing.next.map(encode_cursor),
            "total_count": listing.total,
            "sync_token": if last { items.stream_token() } else { None },
        })
    };
    // The source changes between this page and the next.
    {
        let mut s = items.lock();
        items.mutate(&mut s);
    }
    let mut response = if fault == Some(3) {
        // A connection reset mid-answer: half the body, then an error.
        let text = body.to_string();
        let half = text.as_bytes()[..text.len() / 2].to_vec();
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
            vec![Ok(half), Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "injected reset"))];
        let stream = futures_util::stream::iter(chunks);
        (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], Body::from_stream(stream)).into_response()
    } else {
        Json(body).into_response()
    };
    if let Admission::Go { remaining, reset } = admitted {
        limit_headers(items, &mut response, remaining, reset);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(listing: &Listing) -> Vec<String> {
        listing.items.iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect()
    }

    fn walk(items: &Items, since: Option<i64>, limit: usize) -> Vec<String> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = items.list(after, since, None, limit, "http://x");
            all.extend(ids(&page));
            match page.next {
                Some(next) => after = Some(next),
                None => return all,
            }
        }
    }

    #[test]
    fn a_full_listing_pages_through_every_item_once_in_order() {
        let items = Items::new(ItemSettings { count: 250, rate_limit: None, ..ItemSettings::default() });
        let all = walk(&items, None, 100);
        assert_eq!(all, (0..250).map(item_id).collect::<Vec<_>>());
        assert_eq!(items.list(None, None, None, 10, "http://x").total, Some(250));
    }

    #[test]
    fn edited_items_move_to_the_end_and_deleted_ones_show_only_as_changes() {
        let items = Items::new(ItemSettings { count: 30, rate_limit: None, ..ItemSettings::default() });
        assert!(items.touch(3));
        assert!(items.delete(7));
        assert!(items.set_private(9, true));
        assert!(!items.touch(7), "a deleted item cannot be edited");
        let all = walk(&items, None, 7);
        assert_eq!(all.len(), 29);
        assert_eq!(&all[27..], &[item_id(3), item_id(9)]);
        let since = items.lock().edited.first().unwrap().0;
        assert_eq!(walk(&items, Some(since), 2), vec![item_id(3), item_id(7), item_id(9)]);
        assert_eq!(items.live_count(), 29);
        assert_eq!(items.public_ids().len(), 28);
    }

    /// Each kind lists only its own items, with its own count, and the
    /// kinds together are every item once.
    #[test]
    fn each_kind_lists_its_own_items_and_together_they_are_all() {
        let kinds = vec!["item".to_owned(), "note".to_owned(), "task".to_owned()];
        let items = Items::new(ItemSettings { count: 100, rate_limit: None, kinds, ..ItemSettings::default() });
        assert!(items.delete(4));
        let mut all = Vec::new();
        for k in 0..3 {
            let (mut after, mut of_kind) = (None, Vec::new());
            loop {
                let page = items.list(after, None, Some(k), 7, "http://x");
                assert!(page.items.iter().all(|i| i["kind"] == ["item", "note", "task"][k as usize]));
                of_kind.extend(ids(&page));
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            let (listing, _) = items.list_page(1, 200, None, Some(k), "http://x");
            assert_eq!(ids(&listing), of_kind, "page and cursor listings agree for kind {k}");
            assert_eq!(listing.total, Some(of_kind.len() as u64));
            all.extend(of_kind);
        }
        all.sort_by_key(|id| id[4..].parse::<u64>().unwrap());
        assert_eq!(all, (0..100).filter(|&n| n != 4).map(item_id).collect::<Vec<_>>());
        assert_eq!(items.kind_index("note"), Some(1));
        assert_eq!(items.kind_index("nope"), None);
    }

    #[test]
    fn updated_since_skips_older_generated_items() {
        let items = Items::new(ItemSettings { count: 100, rate_limit: None, ..ItemSettings::default() });
        let since = items.generated_ms(90);
        assert_eq!(walk(&items, Some(since), 3), (90..100).map(item_id).collect::<Vec<_>>());
    }

    fn walk_pages(items: &Items, per_page: usize) -> Vec<String> {
        let mut all = Vec::new();
        for page in 1.. {
            let (listing, more) = items.list_page(page, per_page, None, None, "http://x");
            all.extend(ids(&listing));
            if !more {
                break;
            }
        }
        all
    }

    /// CONNECTOR-RULES 36: page numbers are offsets, so a delete before the
    /// reader's page moves an item past it, while the cursor listing over
    /// the same change misses nothing.
    #[test]
    fn a_delete_between_numbered_pages_makes_the_next_page_skip_an_item() {
        let items = Items::new(ItemSettings { count: 20, rate_limit: None, ..ItemSettings::default() });
        assert_eq!(walk_pages(&items, 7), (0..20).map(item_id).collect::<Vec<_>>());
        let (first, _) = items.list_page(1, 10, None, None, "http://x");
        assert!(items.delete(0));
        let (second, more) = items.list_page(2, 10, None, None, "http://x");
        assert!(!more);
        let mut read = ids(&first);
        read.extend(ids(&second));
        assert!(!read.contains(&item_id(10)), "item 10 moved up to page 1 and was not read");
        assert_eq!(read.len(), 19);
        assert!(items.lookup(10, "http://x").is_some() && items.lookup(0, "http://x").is_none());
        assert!(items.lookup(20, "http://x").is_none(), "no such item");
    }

    #[test]
    fn mutations_edit_delete_create_and_hide_items() {
        let items = Items::new(ItemSettings { count: 100, rate_limit: None, ..ItemSettings::default() });
        items.set_mutations(Mutations { edits: 3, deletes: 2, creates: 4, privacy_flips: 1 });
        {
            let mut s = items.lock();
            items.mutate(&mut s);
        }
        assert_eq!(items.live_count(), 102);
        assert_eq!(items.public_ids().len(), 101);
        assert!(items.public_ids().contains(&item_id(103)));
        assert_eq!(
            Mutations::parse("edits=5, deletes=1"),
            Ok(Mutations { edits: 5, deletes: 1, ..Mutations::default() })
        );
        assert!(Mutations::parse("edits=x").is_err() && Mutations::parse("moves=1").is_err());
    }

    #[test]
    fn cursors_round_trip_and_junk_is_refused() {
        assert_eq!(decode_cursor(&encode_cursor((1_700_000_000_123, 42))), Some((1_700_000_000_123, 42)));
        assert_eq!(decode_cursor("not a cursor"), None);
    }
}
