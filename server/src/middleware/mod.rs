pub mod metrics;
pub mod security_headers;
