pub mod api;
pub mod oauth;
pub mod ops;
pub mod sync;
pub mod webhooks;
