//! The server's integration tests, in one binary: each suite is a module,
//! so the whole console is linked once rather than once per suite (on two
//! cores each link of the platform costs tens of seconds). The harness is
//! `common`.

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

#[macro_use]
mod common;
mod accounts;
mod api;
mod asana;
mod cli;
mod conformance;
mod credentials;
mod gitlab;
mod mcp;
mod oauth;
mod operations;
mod pages;
mod pipedrive;
mod push;
mod pylon;
mod sandbox;
mod sync;
mod sync_api_key;
mod sync_status;
mod teamwork;
mod token_endpoint;
mod tokens;
mod twilio;
mod webhooks;
mod webhooks_providers;
