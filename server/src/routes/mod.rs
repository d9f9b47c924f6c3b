pub mod oauth;
pub mod ops;
