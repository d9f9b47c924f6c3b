pub mod auth;
pub mod csrf;
pub mod metrics;
pub mod security_headers;
