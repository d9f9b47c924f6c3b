//! Twilio's messages, then its calls, page by page.

use connector_core::{
    http::FetchError,
    paging::record_name,
    source::{Change, Context, Mode, Page, Source, Unseen, confirm_each, found, map_each},
};
use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime, macros::format_description};

use crate::{
    client::{self, List},
    mapping,
    types::{Call, Message},
};

/// A full pass reads every message, then every call, following Twilio's
/// `next_page_uri` (its page tokens name the last record read). Twilio
/// does not document the lists' order, so the listing may shift
/// (CONNECTOR-RULES 36): what a pass did not see is fetched by SID, and
/// removed only on Twilio's 404.
///
/// A changes run reads day by day, since the lists filter by whole days
/// only (`DateSent`, `StartTime`, GMT): from the day before `since`'s,
/// which catches messages whose status moved on after they were sent,
/// through the day the run began. Deleted records leave no trace in the
/// lists; the daily full pass finds them.
#[derive(Clone, Copy, Debug, Default)]
pub struct TwilioSource;

/// Lookups in flight at once: Twilio limits concurrent requests.
const LOOKUPS: usize = 4;

/// Empty pages read in one call before one is answered, so that a
/// run of days without records does not look like an endless run of
/// empty pages (SECURITY F7).
const EMPTY_PER_CALL: usize = 50;

/// Where a run is: which list, which day of a changes run (from
/// `first_day` through `last_day`, for each list), and the next page.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
struct At {
    list: List,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    days: Option<Days>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
struct Days {
    first: Date,
    at: Date,
    last: Date,
}

fn day_text(day: Date) -> String {
    day.format(format_description!("[year]-[month]-[day]")).unwrap_or_default()
}

impl At {
    fn start(mode: Mode) -> Self {
        let days = match mode {
            Mode::Full => None,
            Mode::Changes { since } => {
                let today = OffsetDateTime::now_utc().date();
                let first = (since.to_offset(time::UtcOffset::UTC) - Duration::days(1)).date().min(today);
                Some(Days { first, at: first, last: today })
            }
        };
        At { list: List::Messages, days, next: None }
    }

    /// Where the run goes once this list (or day) has no next page: the
    /// next day, else the next list from the first day, else the end.
    fn advance(self) -> Option<Self> {
        if let Some(days) = self.days
            && days.at < days.last
        {
            let at = days.at.next_day()?;
            return Some(At { days: Some(Days { at, ..days }), next: None, ..self });
        }
        match self.list {
            List::Messages => {
                Some(At { list: List::Calls, days: self.days.map(|days| Days { at: days.first, ..days }), next: None })
            }
            List::Calls => None,
        }
    }
}

fn changes_of(list: List, page: &crate::types::ListPage) -> (Vec<Change>, Vec<connector_core::source::Skipped>) {
    match list {
        List::Messages => {
            let messages: &[Message] = page.messages.as_deref().unwrap_or_default();
            map_each(messages, |m| record_name(list.entity_type(), &m.sid), mapping::message)
        }
        List::Calls => {
            let calls: &[Call] = page.calls.as_deref().unwrap_or_default();
            map_each(calls, |c| record_name(list.entity_type(), &c.sid), mapping::call)
        }
    }
}

async fn confirm_one(cx: &Context<'_>, record: &Unseen) -> Result<Option<Change>, FetchError> {
    let Some(list) = List::of_entity_type(&record.entity_type) else { return Ok(None) };
    let change = match list {
        List::Messages => {
            found(client::one::<Message>(cx, list, &record.entity_id).await)?.map(|m| mapping::message(&m))
        }
        List::Calls => found(client::one::<Call>(cx, list, &record.entity_id).await)?.map(|c| mapping::call(&c)),
    };
    match change {
        Some(change) => change.map(Some),
        None => Ok(Some(record.removed())),
    }
}

#[async_trait::async_trait]
impl Source for TwilioSource {
    async fn page(&self, cx: &Context<'_>, mode: Mode, cursor: Option<&str>) -> Result<Page, FetchError> {
        let mut at = match cursor {
            None => At::start(mode),
            Some(text) => serde_json::from_str(text)
                .map_err(|_| FetchError::permanent(None, "the stored Twilio cursor cannot be read"))?,
        };
        for _ in 0..EMPTY_PER_CALL {
            let day = at.days.map(|days| day_text(days.at));
            let url = at.next.clone().unwrap_or_else(|| client::first_url(cx, at.list, day.as_deref()));
            let (listed, next) = client::page(cx, &url).await?;
            let (changes, skipped) = changes_of(at.list, &listed);
            let following = match next {
                Some(next) => Some(At { next: Some(next), ..at.clone() }),
                None => at.clone().advance(),
            };
            let empty = changes.is_empty() && skipped.is_empty();
            match following {
                Some(following) if empty => at = following,
                following => {
                    let next = following
                        .map(|f| serde_json::to_string(&f))
                        .transpose()
                        .map_err(|_| FetchError::permanent(None, "the Twilio cursor cannot be written"))?;
                    return Ok(Page { changes, next, total: None, skipped, token: None });
                }
            }
        }
        let next = serde_json::to_string(&at)
            .map_err(|_| FetchError::permanent(None, "the Twilio cursor cannot be written"))?;
        Ok(Page { next: Some(next), ..Page::default() })
    }

    async fn confirm(&self, cx: &Context<'_>, unseen: &[Unseen]) -> Result<Vec<Change>, FetchError> {
        let lookups: Vec<_> = unseen.iter().map(|record| confirm_one(cx, record)).collect();
        confirm_each(lookups, LOOKUPS).await
    }
}
