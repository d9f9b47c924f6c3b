//! Server functions: each reads what it needs from context, calls one
//! platform function, and maps the error.
pub mod about;
pub mod api_tokens;
pub mod auth;
pub mod integrations;
pub mod invites;
pub mod oauth_apps;
pub mod sync;
pub mod team;
pub mod webhooks;
