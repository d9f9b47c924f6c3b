pub mod activity;
pub mod integrations;
pub mod not_found;
pub mod settings;
pub mod team;
