//! `logging:`: log output format and filter.

use super::{Checked, Document, Validator};
use serde::Deserialize;

/// `logging:` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawLogging {
    /// `text` (default) or `json`.
    pub format: Option<Checked<LogFormat>>,
    /// A `tracing` filter such as `info` or `altgate=debug` (`RUST_LOG` wins when set).
    pub level: Option<Checked<String>>,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// `logging:`.
#[derive(Debug, Clone)]
pub struct LoggingConfig {
    /// Output format.
    pub format: LogFormat,
    /// Filter directive.
    pub level: String,
}

impl Validator {
    /// `logging:`; text at `info` when absent.
    pub(super) fn logging(&mut self, doc: &mut Document) -> LoggingConfig {
        let raw: RawLogging = self.take(doc, "logging").unwrap_or_default();
        let format = self
            .checked("logging.format", raw.format)
            .unwrap_or_default();
        LoggingConfig {
            format,
            level: self
                .checked("logging.level", raw.level)
                .unwrap_or_else(|| "info".into()),
        }
    }
}
