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
    #[error("Sign in to continue.")]
    Unauthorized,
    #[error("Only admins of your team can do that.")]
    Forbidden,
    /// A form field's value is not acceptable; the message says what is needed.
    #[error("{message}")]
    Invalid { field: String, message: String },
    /// A request that cannot be done as asked, in words for the person who asked.
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    TooManyRequests(String),
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
        use platform::Error as E;
        match cause {
            E::Invalid { field, message } => AppError::Invalid { field: field.into_owned(), message },
            E::NotFound => AppError::NotFound,
            E::TooManyAttempts { .. } => AppError::TooManyRequests(cause.to_string()),
            E::DuplicateEmail
            | E::InvalidCredentials
            | E::AlreadySetUp
            | E::LastAdmin
            | E::InviteExpired
            | E::InviteUsed
            | E::InviteRevoked
            | E::InvalidSecretPath(_)
            | E::InvalidSecretValue(_)
            | E::SecretConflict { .. }
            | E::ProviderCheck(_)
            | E::Refused(_) => AppError::Refused(cause.to_string()),
            // The operator's problem, not the admin's: logged, shown as internal.
            E::Database(_)
            | E::Migrate(_)
            | E::DataDir { .. }
            | E::InvalidDatabaseUrl(_)
            | E::PasswordHash(_)
            | E::Corrupt { .. }
            | E::SecretUndecryptable { .. }
            | E::SecretKey(_)
            | E::SecretBackend { .. }
            | E::LeaseLost => {
                tracing::error!(error = %cause, "server function failed");
                AppError::Internal
            }
        }
    }
}

impl AppError {
    /// The HTTP status a server function answers with for this error.
    pub fn status(&self) -> u16 {
        match self {
            AppError::NotFound => 404,
            AppError::Internal => 500,
            AppError::Unreachable => 502,
            AppError::Unauthorized => 401,
            AppError::Forbidden => 403,
            AppError::Invalid { .. } => 422,
            AppError::Refused(_) => 400,
            AppError::TooManyRequests(_) => 429,
        }
    }

    /// The message to show beside `field`, if this error is about it.
    pub fn for_field(&self, name: &str) -> Option<String> {
        match self {
            AppError::Invalid { field, message } if field == name => Some(message.clone()),
            _ => None,
        }
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
