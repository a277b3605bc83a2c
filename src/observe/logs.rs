//! Where log lines go and in what shape: stderr (stdout carries only what a command answers,
//! `hoist reap --once`), as text for a person or as JSON lines for a collector. A request's
//! lines carry its id through the `request` span (`server::traced`).

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per event; colours on a terminal.
    Text,
    /// One JSON object per line, with the request's span fields (its id among them).
    Json,
}

/// Starts logging for the rest of the process. `RUST_LOG`-style filtering is not built in:
/// the level is INFO, which every line Hoist writes on purpose is at or above.
pub fn init(format: LogFormat) {
    let stderr = std::io::stderr();
    let builder = tracing_subscriber::fmt()
        .with_target(false)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&stderr))
            .init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}
