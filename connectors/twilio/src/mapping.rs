//! A message or a call to what the console stores.

use connector_core::{
    http::FetchError,
    paging::read_id,
    source::{Change, Record},
};
use time::{OffsetDateTime, format_description::well_known::Rfc2822};

use crate::{
    ENTITY_CALL, ENTITY_MESSAGE,
    types::{Call, Message},
};

/// Where Twilio's Console shows a record. Twilio does not document these
/// addresses; they are the ones its Console uses for the US1 region.
const CONSOLE_LOGS: &str = "https://console.twilio.com/us1/monitor/logs";

/// A time as Twilio writes it (RFC 2822).
pub fn twilio_time(text: Option<&str>) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text?, &Rfc2822).ok()
}

fn sid(value: &serde_json::Value, what: &str) -> Result<String, FetchError> {
    read_id(value)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| FetchError::permanent(None, format!("a {what} without a SID")))
}

/// When a record last changed: its update, else its creation.
fn changed(updated: Option<&str>, created: Option<&str>, what: &str, sid: &str) -> Result<OffsetDateTime, FetchError> {
    twilio_time(updated)
        .or_else(|| twilio_time(created))
        .ok_or_else(|| FetchError::permanent(None, format!("{what} {sid} has no readable time")))
}

fn between(from: Option<&str>, to: Option<&str>) -> String {
    format!("from {} to {}", from.unwrap_or("an unknown sender"), to.unwrap_or("an unknown recipient"))
}

pub fn message(message: &Message) -> Result<Change, FetchError> {
    let id = sid(&message.sid, ENTITY_MESSAGE)?;
    let updated_at = changed(message.date_updated.as_deref(), message.date_created.as_deref(), ENTITY_MESSAGE, &id)?;
    Ok(Change::Upsert(Record {
        entity_type: ENTITY_MESSAGE.into(),
        title: format!("Message {}", between(message.from.as_deref(), message.to.as_deref())),
        url: format!("{CONSOLE_LOGS}/sms/{id}"),
        content: serde_json::json!({
            "body": message.body,
            "from": message.from,
            "to": message.to,
            "status": message.status,
            "direction": message.direction,
            "sent_at": twilio_time(message.date_sent.as_deref()).map(connector_core::paging::utc_rfc3339),
            "segments": message.num_segments,
            "media": message.num_media,
            "error_code": message.error_code,
            "error_message": message.error_message,
            "messaging_service": message.messaging_service_sid,
        }),
        updated_at,
        entity_id: id,
    }))
}

pub fn call(call: &Call) -> Result<Change, FetchError> {
    let id = sid(&call.sid, ENTITY_CALL)?;
    let updated_at = changed(call.date_updated.as_deref(), call.date_created.as_deref(), ENTITY_CALL, &id)?;
    // Seconds; empty (or null) for a call that did not connect.
    let duration = call.duration.as_deref().and_then(|d| d.parse::<u64>().ok());
    Ok(Change::Upsert(Record {
        entity_type: ENTITY_CALL.into(),
        title: format!("Call {}", between(call.from.as_deref(), call.to.as_deref())),
        url: format!("{CONSOLE_LOGS}/calls/{id}"),
        content: serde_json::json!({
            "from": call.from_formatted.as_ref().or(call.from.as_ref()),
            "to": call.to_formatted.as_ref().or(call.to.as_ref()),
            "status": call.status,
            "direction": call.direction,
            "duration_seconds": duration,
            "started_at": twilio_time(call.start_time.as_deref()).map(connector_core::paging::utc_rfc3339),
            "ended_at": twilio_time(call.end_time.as_deref()).map(connector_core::paging::utc_rfc3339),
            "caller_name": call.caller_name,
            "answered_by": call.answered_by,
            "parent_call": call.parent_call_sid,
            "forwarded_from": call.forwarded_from,
        }),
        updated_at,
        entity_id: id,
    }))
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn twilio_times_are_rfc_2822() {
        assert_eq!(twilio_time(Some("Mon, 30 Nov 2026 16:20:42 +0000")), Some(datetime!(2026-11-30 16:20:42 UTC)));
        assert_eq!(twilio_time(Some("Mon, 30 Nov 2026 17:20:42 +0100")), Some(datetime!(2026-11-30 16:20:42 UTC)));
        assert_eq!(twilio_time(Some("2026-11-30")), None);
        assert_eq!(twilio_time(None), None);
    }
}
