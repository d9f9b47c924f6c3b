pub mod activity;
pub mod integrations;
pub mod invite;
pub mod login;
pub mod not_found;
pub mod settings;
pub mod setup;
pub mod team;
