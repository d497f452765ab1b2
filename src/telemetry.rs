//! Logs: `RUST_LOG` filters them (default: warnings, and info from Alpes); `--log-format`
//! (`ALPES_LOG_FORMAT`) writes them as text or as one JSON object per line — by default
//! text on a terminal and JSON otherwise (a container, a pipe, a file), so that log
//! collectors never get lines they cannot parse.

use std::io::IsTerminal;

use clap::ValueEnum;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

mod json;

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Text when stderr is a terminal, JSON otherwise.
    #[default]
    Auto,
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl LogFormat {
    /// The format actually written: `Auto` decided by whether stderr is a terminal.
    pub fn resolve(self, stderr_is_terminal: bool) -> LogFormat {
        match self {
            LogFormat::Auto if stderr_is_terminal => LogFormat::Text,
            LogFormat::Auto => LogFormat::Json,
            chosen => chosen,
        }
    }
}

/// Installs the global subscriber, writing to stderr; returns the format chosen.
pub fn init(format: LogFormat) -> LogFormat {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("warn,alpes=info,alpes_write=info,alpes_read=info,alpes_event_store=info")
    });
    let format = format.resolve(std::io::stderr().is_terminal());
    match format {
        LogFormat::Json => json::subscriber(filter, std::io::stderr).init(),
        LogFormat::Text | LogFormat::Auto => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init(),
    }
    format
}

#[cfg(test)]
mod tests {
    use super::LogFormat;

    #[test]
    fn auto_is_text_on_a_terminal_and_json_elsewhere() {
        assert_eq!(LogFormat::Auto.resolve(true), LogFormat::Text);
        assert_eq!(LogFormat::Auto.resolve(false), LogFormat::Json);
        assert_eq!(LogFormat::Json.resolve(true), LogFormat::Json);
        assert_eq!(LogFormat::Text.resolve(false), LogFormat::Text);
    }
}
