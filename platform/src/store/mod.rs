//! The only place with SQL: plain functions over a pool, a connection or a
//! transaction, one file per group of tables, written once for both
//! backends where they accept the same SQL. `db` opens the pools and runs
//! the migrations. (The local secret store's table is its backend's own,
//! in `secrets::local`, behind the `SecretStore` trait.)

pub mod api_tokens;
pub mod artifacts;
pub mod audit;
pub mod changes;
pub mod db;
pub mod installations;
pub mod instance;
pub mod invites;
pub mod jobs;
pub mod login_attempts;
pub mod oauth_apps;
pub mod oauth_transactions;
pub mod push;
pub mod rate_slots;
pub mod sessions;
pub mod teams;
pub mod token_leases;
pub mod users;
pub mod webhooks;
