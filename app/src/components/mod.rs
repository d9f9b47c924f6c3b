pub mod auth_layout;
pub mod empty_state;
pub mod error_view;
pub mod form;
pub mod layout;
pub mod page_header;
pub mod sync;
pub mod webhooks;
