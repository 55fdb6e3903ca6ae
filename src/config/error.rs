//! What a configuration check reports: each problem with its key path, and every problem of a
//! file together.

use std::fmt;

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// Key path, e.g. `forests[0].global_catalogs[1]`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem found in a configuration file.
#[derive(Debug, thiserror::Error)]
#[error("{} configuration problem(s) in {file}:\n{}", issues.len(), render(issues))]
pub struct ConfigError {
    /// The file that was read.
    pub file: String,
    /// The problems: unknown sections, then structural ones (wrong types, unknown keys), then
    /// the rest, section by section.
    pub issues: Vec<ConfigIssue>,
}

fn render(issues: &[ConfigIssue]) -> String {
    issues
        .iter()
        .map(|i| format!("  {i}"))
        .collect::<Vec<_>>()
        .join("\n")
}

crate::label::label_set! {
    /// How a configuration reload (SIGHUP, `POST /reload`) ended.
    pub enum ReloadResult: crate::label::kinds::ReloadResult {
        /// The file validated and every part was rebuilt: the next connection and request use
        /// it.
        Applied = "applied",
        /// The file has problems (the same ones `check-config` reports): the running
        /// configuration stays.
        Invalid = "invalid",
        /// The file validated but a part could not be built from it (a key, a keytab, a
        /// directory client): the running configuration stays.
        Failed = "failed",
    }
}
