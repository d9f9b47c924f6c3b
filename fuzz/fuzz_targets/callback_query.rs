//! The OAuth callback's query string, as any browser (or attacker) can send
//! it: parsing never panics, and what it accepts keeps its promises (one
//! value per parameter, none over the length cap).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|query: &str| {
    if let Ok(callback) = platform::connect::oauth::Callback::parse(query) {
        for value in [&callback.code, &callback.state, &callback.iss, &callback.error].into_iter().flatten() {
            assert!(value.chars().count() <= platform::connect::oauth::MAX_PARAM_CHARS);
        }
    }
});
