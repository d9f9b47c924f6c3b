//! A provider's token response body: read as the token exchange reads it,
//! it either becomes a token to store or is refused, without a panic, and
//! an accepted lifetime is never in the past nor beyond the ten-year clamp
//! (the expiry arithmetic cannot overflow).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let before = time::OffsetDateTime::now_utc().unix_timestamp();
    if let Some(token) = platform::outbound::oauth2::read_token_response(body)
        && let Some(expires_at) = token.expires_at
    {
        let after = time::OffsetDateTime::now_utc().unix_timestamp();
        assert!(expires_at >= before && expires_at <= after + 10 * 365 * 86_400, "{expires_at}");
    }
});
