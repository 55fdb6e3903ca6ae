//! `altgate audit`: the directory pre-flight that tells an admin, before go-live, exactly who
//! will fail to sign in and why.
//!
//! [`collect`] reads every user object of every configured forest (global catalogs as sign-in
//! sees them, attributes outside the partial attribute set from the domains' DCs);
//! [`simulate`] runs every identifier of every enabled account through altgate's own
//! resolution code; [`hygiene`] applies the sync preparation rules (seed 002, IdFix);
//! [`report`] renders the findings as text, JSON, CSV or a single-file HTML report. The rule
//! ids are listed in [`rules`] and documented in `docs/audit.md`.

pub mod collect;
pub mod finding;
pub mod hygiene;
pub mod lookup;
pub mod progress;
pub mod report;
pub mod rules;
pub mod simulate;

use crate::clock::Clock;
use crate::config::Config;
use crate::directory::{Directory, DirectoryError};
use collect::Progress;
use report::{Report, Summary};
use simulate::{Settings, Simulation};
use std::time::Instant;

/// What to audit.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Report only this forest's objects (every forest is still read: sign-in searches them
    /// all, so conflicts with the others count).
    pub forest: Option<String>,
}

/// The audit could not run: nothing is reported rather than a shorter report.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// `--forest` names a forest that is not configured.
    #[error("forest {0} is not configured")]
    UnknownForest(String),
    /// A forest or domain could not be read completely.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// The simulation could not be set up.
    #[error(transparent)]
    Setup(#[from] simulate::SetupError),
}

impl AuditError {
    /// Stable code: `unknown_forest`, `setup`, or the directory error's code (`unreachable`,
    /// `domain_unreachable`, `search_failed`, `no_domain_controller`...).
    pub fn code(&self) -> &'static str {
        match self {
            AuditError::UnknownForest(_) => "unknown_forest",
            AuditError::Directory(e) => e.code(),
            AuditError::Setup(_) => "setup",
        }
    }
}

fn flag(v: &[bool], i: usize) -> bool {
    v.get(i).copied().unwrap_or(false)
}

/// Runs the audit of `config`'s forests over `directory`; the report is dated by `clock`.
pub async fn audit(
    config: &Config,
    directory: &dyn Directory,
    options: &Options,
    progress: &dyn Progress,
    clock: &Clock,
) -> Result<Report, AuditError> {
    if let Some(f) = &options.forest {
        if config.forest(f).is_none() {
            return Err(AuditError::UnknownForest(f.clone()));
        }
    }
    let started = Instant::now();
    let alternate = config.alternate_login_id.as_ref();
    let read = collect::collect(
        directory,
        &config.forests,
        alternate.map(|a| a.attribute.as_str()),
        progress,
    )
    .await?;
    let reading = started.elapsed();
    let analysing = Instant::now();
    let forests = read.forests.clone();
    let settings = Settings {
        alternate,
        forests: config.forests.iter().map(|f| f.name.clone()).collect(),
        federated_domains: &config.federation.federated_domains,
    };
    let simulation = Simulation::new(read, &settings)?;
    let objects = simulation.objects().clone();
    let skipped: Vec<bool> = objects
        .iter()
        .map(|o| hygiene::skip_reason(o).is_some())
        .collect();
    let reported: Vec<bool> = objects
        .iter()
        .map(|o| options.forest.as_deref().is_none_or(|f| f == &*o.forest))
        .collect();
    let covers: Vec<bool> = objects
        .iter()
        .map(|o| settings.alternate_covers(o))
        .collect();
    let audited = |i: usize| flag(&reported, i) && !flag(&skipped, i);
    let mut findings = simulation
        .run(|i, o| audited(i) && o.enabled(), |i, _| audited(i))
        .await;
    findings.extend(hygiene::hygiene(
        &objects,
        &hygiene::Scope {
            skipped: &skipped,
            reported: &reported,
            alternate_covers: &covers,
        },
    ));
    finding::sort(&mut findings);
    let summary = Summary::new(report::Counts {
        config,
        options,
        forests: &forests,
        objects: &objects,
        skipped: &skipped,
        reported: &reported,
        findings: &findings,
        reading,
        analysing: analysing.elapsed(),
        generated_at: clock(),
    });
    Ok(Report { summary, findings })
}

#[cfg(test)]
mod tests;
