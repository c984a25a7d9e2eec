//! Logging: pretty for a terminal, JSON for collectors, one style throughout
//! (`info!(rows, elapsed_ms, "Batch committed.")`).

use rolodex_actors::config::{LogConfig, LogFormat};
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::EnvFilter;

/// Where log lines go: the daemon's to stdout, as services log; a command's to stderr, so
/// that its stdout holds only its answer (a reply, a report).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    Stdout,
    Stderr,
}

/// Install the global subscriber once; later calls (tests) are no-ops.
pub fn init(config: &LogConfig, sink: Sink) {
    let filter = EnvFilter::try_from_env("RUST_LOG")
        .or_else(|_| EnvFilter::try_new(&config.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let writer = match sink {
        Sink::Stdout => BoxMakeWriter::new(std::io::stdout),
        Sink::Stderr => BoxMakeWriter::new(std::io::stderr),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(false);
    let _ = match config.format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
