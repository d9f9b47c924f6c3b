//! The change feed as the API serves it (DESIGN: Delivering records;
//! SECURITY I3): opaque cursors over the team's sequence, pages of at most
//! [`MAX_PAGE`], and 410 for a cursor older than retention kept.

use base64::Engine as _;

use crate::{
    Platform,
    error::{Error, Result},
    ids::TeamId,
    store::changes::{self, Change, Filter, Unservable},
};

/// The most changes a page holds.
pub const MAX_PAGE: i64 = 1_000;
/// A page's size when the caller does not say.
pub const DEFAULT_PAGE: i64 = 100;

/// What a reader is told when its cursor cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// The changes after the cursor are past retention (410).
    #[error(
        "this cursor is older than the change feed keeps ({days} days): re-read `GET /api/v1/records`, then follow \
         the feed from the `changes_cursor` it gives"
    )]
    Expired { days: u64 },
    /// Not a cursor this feed handed out (400).
    #[error("the cursor is not one this feed handed out; start from a `changes_cursor` of `GET /api/v1/records`")]
    BadCursor,
    /// The limit is out of range (400).
    #[error("limit must be between 1 and {MAX_PAGE}")]
    BadLimit,
    /// The deployment does not keep a feed (404).
    #[error("this deployment keeps no change feed (PATCHBAY_CHANGE_FEED=off); read `GET /api/v1/records`")]
    Off,
    #[error(transparent)]
    Platform(#[from] Error),
}

const CURSOR_VERSION: &str = "c1.";

/// The opaque form of a position in the feed.
pub fn encode_cursor(seq: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{CURSOR_VERSION}{seq}"))
}

/// The position a cursor names.
pub fn decode_cursor(cursor: &str) -> Option<i64> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.strip_prefix(CURSOR_VERSION)?.parse::<i64>().ok().filter(|seq| *seq >= 0)
}

/// A page as served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedPage {
    pub changes: Vec<Change>,
    /// Where to read after, always set: pass it back as `after`.
    pub next_cursor: String,
    /// Whether the page reached the head: nothing more is there now.
    pub caught_up: bool,
}

/// A page of the team's changes after `cursor` (the beginning without).
pub async fn read(
    platform: &Platform,
    team: &TeamId,
    cursor: Option<&str>,
    limit: Option<i64>,
    filter: &Filter,
) -> std::result::Result<FeedPage, FeedError> {
    if !platform.db.change_feed() {
        return Err(FeedError::Off);
    }
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(FeedError::BadLimit);
    }
    let after = match cursor {
        Some(cursor) => decode_cursor(cursor).ok_or(FeedError::BadCursor)?,
        None => 0,
    };
    match changes::page(&platform.db, team, after, limit, filter).await? {
        Ok(page) => {
            let caught_up = i64::try_from(page.changes.len()).unwrap_or(i64::MAX) < limit;
            Ok(FeedPage { changes: page.changes, next_cursor: encode_cursor(page.next), caught_up })
        }
        Err(Unservable::Expired) => {
            Err(FeedError::Expired { days: platform.delivery.changes_retention.as_secs() / 86_400 })
        }
        Err(Unservable::Ahead) => Err(FeedError::BadCursor),
    }
}

/// The cursor of the feed's head now: a reader who copies the records
/// after taking it, then follows the feed from it, misses nothing.
pub async fn head_cursor(platform: &Platform, team: &TeamId) -> Result<String> {
    Ok(encode_cursor(changes::head(&platform.db, team).await?.last_seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_decodes_to_the_position_it_encodes() {
        for seq in [0, 1, 999, i64::MAX] {
            assert_eq!(decode_cursor(&encode_cursor(seq)), Some(seq));
        }
    }

    #[test]
    fn what_this_feed_did_not_hand_out_is_not_a_cursor() {
        for bad in ["", "12", "not base64!", &base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("c1.-4")] {
            assert_eq!(decode_cursor(bad), None, "{bad}");
        }
    }
}
