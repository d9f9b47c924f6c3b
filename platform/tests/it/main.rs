//! The platform's integration tests, in one binary: each suite is a module,
//! so the platform (the AWS SDK included) is linked once rather than once
//! per suite.

#![allow(clippy::unwrap_used, reason = "a test should stop at the first unexpected error")]

mod accounts;
mod artifacts;
mod catalog;
mod feed;
mod jobs;
mod layers;
mod repositories;
mod secrets;
mod secrets_local;
mod secrets_ssm;

/// A provider id the test names; it must be in the id's form.
fn pid(id: &str) -> platform::ids::ProviderId {
    platform::ids::ProviderId::parse(id).expect("a provider id")
}
