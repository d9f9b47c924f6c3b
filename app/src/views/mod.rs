//! Presenters, server side only: from the platform's read models to the
//! wire types in `models`, which pages render. Server functions and the
//! server's live-update stream call them; neither holds presentation rules.

pub mod api_tokens;
pub mod integrations;
pub mod sync;
pub mod webhooks;
