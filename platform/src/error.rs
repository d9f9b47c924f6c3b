use thiserror::Error;

/// Everything the platform can fail with. Callers at the HTTP edge log the
/// cause and show a generic message; nothing here is meant for end users.
#[derive(Debug, Error)]
pub enum Error {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
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
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
