//! Logs go to standard error, as text or as one JSON object per line.
//! Standard output is kept for what CLI commands print.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::LogFormat;

pub const DEFAULT_FILTER: &str = "info,sqlx=warn";

/// Checks a filter directive such as `info,platform=debug`.
pub fn check_filter(filter: &str) -> Result<String, String> {
    EnvFilter::try_new(filter.trim())
        .map(|_| filter.trim().to_owned())
        .map_err(|e| format!("not a log filter ({e}); try `info` or `info,platform=debug`"))
}

/// Installs the global subscriber. Call once, from the binary.
pub fn init(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Text => registry.with(fmt::layer().with_writer(std::io::stderr)).init(),
        LogFormat::Json => registry
            .with(fmt::layer().json().flatten_event(true).with_current_span(false).with_writer(std::io::stderr))
            .init(),
    }
}
