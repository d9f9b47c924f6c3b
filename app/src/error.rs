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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_failures_read_as_unreachable_and_everything_else_as_internal() {
        assert_eq!(
            AppError::from_server_fn_error(ServerFnErrorErr::Request("connection reset".into())),
            AppError::Unreachable
        );
        let internal = AppError::from_server_fn_error(ServerFnErrorErr::ServerError(
            "duplicate key value violates unique constraint".into(),
        ));
        assert_eq!(internal, AppError::Internal);
        // What the browser is shown carries none of the cause.
        assert!(!internal.to_string().contains("constraint"));
    }
}
