//! The `patchbay` server: configuration, the HTTP router and its middleware,
//! operations endpoints, and start-up. Domain logic lives in `platform`, pages
//! and server functions in `app`.

pub mod config;
pub mod middleware;
pub mod routes;
pub mod startup;
pub mod telemetry;

pub use config::Config;
pub use startup::Application;
