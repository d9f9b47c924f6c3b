pub mod api;
pub mod mcp;
pub mod oauth;
pub mod ops;
pub mod sync;
pub mod webhooks;
