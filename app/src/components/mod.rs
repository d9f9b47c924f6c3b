pub mod empty_state;
pub mod error_view;
pub mod layout;
pub mod page_header;
