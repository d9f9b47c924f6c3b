//! The one error type server functions return and pages display.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

/// What the browser may learn about a failure. Internal causes are logged on
/// the server and never cross the wire: `Internal` carries no detail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("That page or item does not exist.")]
    NotFound,
    #[error("Something went wrong on our side. It has been logged; try again in a moment.")]
    Internal,
    #[error("The console could not reach the server. Check your connection and try again.")]
    Unreachable,
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) => AppError::Unreachable,
            _ => AppError::Internal,
        }
    }
}

#[cfg(feature = "ssr")]
impl From<platform::Error> for AppError {
    fn from(cause: platform::Error) -> Self {
        tracing::error!(error = %cause, "server function failed");
        AppError::Internal
    }
}
