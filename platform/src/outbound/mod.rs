//! What the console itself sends to providers: the one HTTP client, the
//! account (user-info and verification) request, and the OAuth 2.0
//! protocol. Below the flows: nothing here reads or writes the store.

pub mod account;
pub mod destination;
pub mod http;
pub mod oauth2;
