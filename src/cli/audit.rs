//! `altgate audit`: reads every forest, simulates every sign-in, checks the sync rules, and
//! writes the report (text, JSON, CSV or HTML) to stdout or `--output`. A progress line is
//! drawn on stderr while reading, only when stderr is a terminal. Exit 0 without error
//! findings, 1 with some, 2 when the audit could not run (usage, configuration, a forest or
//! domain that could not be read: never a silently shorter report).

use crate::config::Config;
use crate::directory::embedded::EmbeddedDirectory;
use crate::directory::ldap::LdapDirectory;
use crate::directory::Directory;
use crate::events::Events;
use crate::metrics::Metrics;
use crate::preflight::collect::{Progress, Silent};
use crate::preflight::progress::Line;
use crate::preflight::report::Format;
use crate::preflight::{audit, Options};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The report format (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuditFormat {
    /// Summary and list for a terminal.
    Text,
    /// `{"summary": {...}, "findings": [...]}`.
    Json,
    /// One row per finding, for Excel.
    Csv,
    /// A single-file HTML report with charts and a sortable table.
    Html,
}

impl From<AuditFormat> for Format {
    fn from(f: AuditFormat) -> Format {
        match f {
            AuditFormat::Text => Format::Text,
            AuditFormat::Json => Format::Json,
            AuditFormat::Csv => Format::Csv,
            AuditFormat::Html => Format::Html,
        }
    }
}

/// Exit status when the audit could not run.
const EXIT_UNUSABLE: u8 = 2;

fn fail(message: String) -> ExitCode {
    eprintln!("altgate: audit: {message}");
    ExitCode::from(EXIT_UNUSABLE)
}

/// The directory the configuration describes: the demo directory, or the forests over LDAPS.
fn directory(config: &Config) -> Result<Box<dyn Directory>, String> {
    match &config.demo_directory {
        Some(path) => {
            let d = EmbeddedDirectory::load(path).map_err(|e| e.to_string())?;
            let known = d.forest_names();
            if let Some(missing) = config.forests.iter().find(|f| !known.contains(&f.name)) {
                return Err(format!(
                    "forest {} is configured but not in the demo directory",
                    missing.name
                ));
            }
            Ok(Box::new(d))
        }
        None => {
            let metrics = Metrics::standalone().map_err(|e| e.to_string())?;
            let events = Events::new(metrics.events.clone());
            let d = LdapDirectory::new(config, metrics.directory.clone(), events)
                .map_err(|e| e.to_string())?;
            Ok(Box::new(d))
        }
    }
}

/// Runs `altgate audit`.
pub fn run(
    config_path: &Path,
    format: AuditFormat,
    output: Option<PathBuf>,
    forest: Option<String>,
) -> ExitCode {
    let config = match Config::load(config_path) {
        Ok(c) => c,
        Err(e) => return fail(e.to_string()),
    };
    super::init_tracing(config.logging.format, "warn");
    let directory = match directory(&config) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(format!("cannot start the runtime: {e}")),
    };
    let names: Vec<String> = config.forests.iter().map(|f| f.name.clone()).collect();
    let line = std::io::stderr()
        .is_terminal()
        .then(|| Line::new(&names, std::io::stderr()));
    let progress: &dyn Progress = match &line {
        Some(l) => l,
        None => &Silent,
    };
    let options = Options { forest };
    let clock = crate::clock::system_clock();
    let result = runtime.block_on(audit(
        &config,
        directory.as_ref(),
        &options,
        progress,
        &clock,
    ));
    if let Some(l) = &line {
        l.clear();
    }
    let report = match result {
        Ok(r) => r,
        Err(e) => return fail(format!("{e} ({})", e.code())),
    };
    let bytes = report.render(format.into());
    let written = match &output {
        Some(path) => std::fs::write(path, &bytes)
            .map_err(|e| format!("cannot write {}: {e}", path.display())),
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)
                .and_then(|()| out.flush())
                .map_err(|e| format!("cannot write the report: {e}"))
        }
    };
    if let Err(e) = written {
        return fail(e);
    }
    if let Some(path) = &output {
        let s = &report.summary;
        eprintln!(
            "altgate: audit: {} findings ({} errors, {} warnings, {} infos) written to {}",
            s.findings,
            s.errors,
            s.warnings,
            s.infos,
            path.display()
        );
    }
    if report.has_errors() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
