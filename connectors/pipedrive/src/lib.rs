//! The Pipedrive connector: a company's deals, persons and organizations
//! over the REST API v2, with their notes (v1), at the company's own
//! `api_domain` (checked against `*.pipedrive.com` at connect).
//!
//! - [`types`]: the API's answers, as Pipedrive's OpenAPI describes them;
//! - [`client`]: the v2 lists (keyset cursors over ids), notes, and the
//!   reference lists (stages, users, deal fields);
//! - [`mapping`]: a record to an artifact, its ids resolved to names and
//!   its visibility allow-listed;
//! - [`source`]: deals, then persons, then organizations, each by id, with
//!   `updated_since` for a changes run;
//! - [`hooks`]: webhooks (v2) checked by their HTTP Basic credentials.

pub mod client;
pub mod hooks;
pub mod mapping;
pub mod source;
pub mod types;

pub use source::PipedriveSource;
