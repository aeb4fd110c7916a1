//! Logging setup: `tracing` to stderr, filtered by the configured directive.

use tracing_subscriber::EnvFilter;

/// Install the global subscriber (once; later calls are ignored, which suits tests).
pub fn init(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
