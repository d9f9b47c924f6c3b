//! Types that cross the wire between server functions and the browser.
pub mod about;
pub mod account;
pub mod api_tokens;
pub mod integration;
pub mod sync;
pub mod webhooks;
