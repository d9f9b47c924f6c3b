use thiserror::Error;

/// Everything the platform can fail with, in two families:
/// - words for the person who asked ([`Error::Refused`], [`Error::Invalid`],
///   [`Error::NotFound`], …), which the edge shows as they are;
/// - internal faults ([`Error::Corrupt`], [`Error::Database`], the secret
///   backend's, …), which the edge logs and answers with a generic message
///   ([`Error::is_internal`]).
#[derive(Debug, Error)]
pub enum Error {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A job's lease lapsed and another worker may hold it; this one stops.
    #[error("the job's lease was lost to another worker")]
    LeaseLost,
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("could not create the data directory {path}: {source}")]
    DataDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    InvalidDatabaseUrl(String),
    #[error("password hashing failed: {0}")]
    PasswordHash(String),
    /// Something stored is not what the code wrote: an unknown state or
    /// kind, an id or a token that does not parse. Never shown; `what` is
    /// for the log.
    #[error("stored data is not valid: {what}")]
    Corrupt { what: String },

    // The secret store. Messages name what an operator can fix and never
    // carry a value, nor a backend's raw error text, which may echo one.
    /// A path or prefix that could move a secret, or that SSM would refuse.
    #[error("secret path: {0}")]
    InvalidSecretPath(String),
    /// A value SSM would refuse: empty, or too large for the configured tier.
    #[error("secret value: {0}")]
    InvalidSecretValue(String),
    /// A versioned write found another version stored; nothing was written.
    #[error("the secret at {name} changed since it was read; read it again")]
    SecretConflict { name: String },
    /// The value at `name` does not decrypt: altered, copied from another
    /// name, or encrypted under a key this process does not hold.
    #[error(
        "the secret at {name} cannot be decrypted: it was altered, copied from another name, \
         or encrypted with a key this server does not have"
    )]
    SecretUndecryptable { name: String },
    /// The local store's key is missing, unreadable or does not fit the data.
    #[error("{0}")]
    SecretKey(String),
    /// The backend did not answer or refused us, in words an operator can act on.
    #[error("secret store ({backend}): {message}")]
    SecretBackend { backend: &'static str, message: String },

    // What a person did that cannot be done; each is shown to them as is.
    /// A field's value is not acceptable; `message` says what is needed.
    #[error("{field}: {message}")]
    Invalid { field: std::borrow::Cow<'static, str>, message: String },
    #[error("An account with this email already exists.")]
    DuplicateEmail,
    #[error("That email and password do not match an account.")]
    InvalidCredentials,
    #[error("Too many sign-in attempts. Wait {retry_after_minutes} minutes, then try again.")]
    TooManyAttempts { retry_after_minutes: i64 },
    #[error("A team already exists; ask one of its admins for an invite.")]
    AlreadySetUp,
    #[error("A team needs at least one admin. Make someone else an admin first.")]
    LastAdmin,
    #[error("That does not exist.")]
    NotFound,
    /// The provider did not accept what was entered, or could not be
    /// asked; the message says what happened and what to do.
    #[error("{0}")]
    ProviderCheck(String),
    /// What was asked cannot be done as things are (a connection exists
    /// already, or no longer does; the provider connects another way), in
    /// words for the person who asked.
    #[error("{0}")]
    Refused(String),
    #[error("This invite has expired. Ask an admin of the team for a new one.")]
    InviteExpired,
    #[error("This invite has already been used. Sign in instead, or ask an admin for a new one.")]
    InviteUsed,
    #[error("This invite was revoked. Ask an admin of the team for a new one.")]
    InviteRevoked,
}

impl Error {
    /// Whether this is an internal fault: logged, never shown as it is.
    pub fn is_internal(&self) -> bool {
        match self {
            Error::Database(_)
            | Error::LeaseLost
            | Error::Migrate(_)
            | Error::DataDir { .. }
            | Error::InvalidDatabaseUrl(_)
            | Error::PasswordHash(_)
            | Error::Corrupt { .. }
            | Error::SecretUndecryptable { .. }
            | Error::SecretKey(_)
            | Error::SecretBackend { .. } => true,
            Error::InvalidSecretPath(_)
            | Error::InvalidSecretValue(_)
            | Error::SecretConflict { .. }
            | Error::Invalid { .. }
            | Error::DuplicateEmail
            | Error::InvalidCredentials
            | Error::TooManyAttempts { .. }
            | Error::AlreadySetUp
            | Error::LastAdmin
            | Error::NotFound
            | Error::ProviderCheck(_)
            | Error::Refused(_)
            | Error::InviteExpired
            | Error::InviteUsed
            | Error::InviteRevoked => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
