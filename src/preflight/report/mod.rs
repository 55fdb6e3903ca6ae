//! The audit's result and its four renderings: [`text`] for a terminal, [`json`]
//! (`{"summary": {...}, "findings": [...]}`), [`csv`] for Excel, and [`html`], a single file
//! with a chart per rule and per forest and a sortable table, to mail to the directory team.

pub mod csv;
pub mod html;
pub mod json;
pub mod text;

use super::collect::{ForestRead, Object};
use super::finding::Finding;
use super::rules::{Kind, Rule, Severity};
use super::Options;
use crate::config::Config;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A summary and the list, for a terminal.
    Text,
    /// One JSON object.
    Json,
    /// Comma-separated values for Excel.
    Csv,
    /// A single-file HTML report.
    Html,
}

/// Everything an audit found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Counts.
    pub summary: Summary,
    /// Every finding, worst first.
    pub findings: Vec<Finding>,
}

impl Report {
    /// The report in `format`.
    pub fn render(&self, format: Format) -> Vec<u8> {
        match format {
            Format::Text => text::render(self).into_bytes(),
            Format::Json => json::render(self).into_bytes(),
            Format::Csv => csv::render(self).into_bytes(),
            Format::Html => html::render(self).into_bytes(),
        }
    }

    /// True when some finding is an error (`altgate audit` then exits 1).
    pub fn has_errors(&self) -> bool {
        self.summary.errors > 0
    }
}

/// Findings of one rule.
#[derive(Debug, Clone, Serialize)]
pub struct RuleCount {
    /// The rule.
    pub rule: Rule,
    /// Sign-in simulation or hygiene.
    pub kind: Kind,
    /// The worst severity among its findings.
    pub severity: Severity,
    /// What it means.
    pub title: &'static str,
    /// Its findings.
    pub count: u64,
}

/// One forest.
#[derive(Debug, Clone, Serialize)]
pub struct ForestCount {
    /// The forest.
    pub forest: String,
    /// User objects read from its global catalogs.
    pub objects_read: u64,
    /// Of those, audited (reported and not left out as system objects).
    pub objects_audited: u64,
    /// Error findings.
    pub errors: u64,
    /// Warning findings.
    pub warnings: u64,
    /// Info findings.
    pub infos: u64,
}

/// The counts of a report.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// When the audit ran (RFC 3339, UTC).
    pub generated_at: String,
    /// The alternate-ID attribute, when alternate login ID is configured.
    pub alternate_login_id: Option<String>,
    /// `federation.federated_domains`.
    pub federated_domains: Vec<String>,
    /// `--forest`, when given.
    pub forest: Option<String>,
    /// User objects read, every forest.
    pub objects_read: u64,
    /// Objects audited (in the report's forests, not left out).
    pub objects_audited: u64,
    /// Objects left out as IdFix does (system accounts, conflict objects...).
    pub objects_skipped: u64,
    /// Enabled audited accounts whose sign-in was simulated.
    pub accounts_simulated: u64,
    /// Audited accounts with at least one error finding.
    pub accounts_with_errors: u64,
    /// Findings.
    pub findings: u64,
    /// Error findings.
    pub errors: u64,
    /// Warning findings.
    pub warnings: u64,
    /// Info findings.
    pub infos: u64,
    /// Per rule, worst first, then most findings.
    pub rules: Vec<RuleCount>,
    /// Per forest, in configuration order.
    pub forests: Vec<ForestCount>,
    /// Time spent reading the directory.
    pub seconds_reading: f64,
    /// Time spent simulating and checking.
    pub seconds_analysing: f64,
}

/// What a summary is counted from.
pub struct Counts<'a> {
    /// The configuration.
    pub config: &'a Config,
    /// The options.
    pub options: &'a Options,
    /// What each forest gave.
    pub forests: &'a [ForestRead],
    /// Every object read.
    pub objects: &'a [Object],
    /// Per object: left out.
    pub skipped: &'a [bool],
    /// Per object: in the report's forests.
    pub reported: &'a [bool],
    /// The findings.
    pub findings: &'a [Finding],
    /// Reading time.
    pub reading: Duration,
    /// Analysis time.
    pub analysing: Duration,
    /// When the report was made.
    pub generated_at: time::OffsetDateTime,
}

fn count(findings: &[Finding], keep: impl Fn(&Finding) -> bool) -> u64 {
    findings.iter().filter(|f| keep(f)).count() as u64
}

impl Summary {
    /// Counts everything.
    pub fn new(c: Counts<'_>) -> Summary {
        let at = |v: &[bool], i: usize| v.get(i).copied().unwrap_or(false);
        let audited: Vec<&Object> = c
            .objects
            .iter()
            .enumerate()
            .filter(|(i, _)| at(c.reported, *i) && !at(c.skipped, *i))
            .map(|(_, o)| o)
            .collect();
        let skipped = c
            .objects
            .iter()
            .enumerate()
            .filter(|(i, _)| at(c.reported, *i) && at(c.skipped, *i))
            .count() as u64;
        let mut per_rule: BTreeMap<Rule, (Severity, u64)> = BTreeMap::new();
        for f in c.findings {
            let e = per_rule.entry(f.rule).or_insert((f.severity, 0));
            e.0 = e.0.min(f.severity);
            e.1 += 1;
        }
        let mut rules: Vec<RuleCount> = per_rule
            .into_iter()
            .map(|(rule, (severity, count))| RuleCount {
                rule,
                kind: rule.kind(),
                severity,
                title: rule.title(),
                count,
            })
            .collect();
        rules.sort_by(|a, b| {
            (a.severity, std::cmp::Reverse(a.count), a.rule).cmp(&(
                b.severity,
                std::cmp::Reverse(b.count),
                b.rule,
            ))
        });
        let with_errors: BTreeSet<String> = c
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| f.distinguished_name.to_lowercase())
            .collect();
        let forests = c
            .forests
            .iter()
            .map(|f| {
                let mine = |x: &Finding| x.forest == f.name;
                ForestCount {
                    forest: f.name.clone(),
                    objects_read: f.objects,
                    objects_audited: audited.iter().filter(|o| *o.forest == f.name).count() as u64,
                    errors: count(c.findings, |x| mine(x) && x.severity == Severity::Error),
                    warnings: count(c.findings, |x| mine(x) && x.severity == Severity::Warning),
                    infos: count(c.findings, |x| mine(x) && x.severity == Severity::Info),
                }
            })
            .collect();
        Summary {
            generated_at: c
                .generated_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            alternate_login_id: c
                .config
                .alternate_login_id
                .as_ref()
                .map(|a| a.attribute.clone()),
            federated_domains: c.config.federation.federated_domains.clone(),
            forest: c.options.forest.clone(),
            objects_read: c.forests.iter().map(|f| f.objects).sum(),
            objects_audited: audited.len() as u64,
            objects_skipped: skipped,
            accounts_simulated: audited.iter().filter(|o| o.enabled()).count() as u64,
            accounts_with_errors: with_errors.len() as u64,
            findings: c.findings.len() as u64,
            errors: count(c.findings, |f| f.severity == Severity::Error),
            warnings: count(c.findings, |f| f.severity == Severity::Warning),
            infos: count(c.findings, |f| f.severity == Severity::Info),
            rules,
            forests,
            seconds_reading: c.reading.as_secs_f64(),
            seconds_analysing: c.analysing.as_secs_f64(),
        }
    }
}
