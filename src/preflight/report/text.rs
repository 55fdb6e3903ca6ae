//! The terminal rendering: what was read, the counts per rule (worst first), then every
//! finding. Directory values are untrusted: control characters are shown escaped, never sent
//! to the terminal.

use super::Report;
use std::fmt::Write;

/// A value safe for a terminal: control characters as `\u{..}`.
pub fn printable(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// The text report.
pub fn render(r: &Report) -> String {
    let s = &r.summary;
    let mut out = String::new();
    let _ = writeln!(out, "altgate audit ({})", s.generated_at);
    let _ = writeln!(
        out,
        "alternate login ID: {}; federated domains: {}",
        s.alternate_login_id
            .as_deref()
            .unwrap_or("(not configured)"),
        if s.federated_domains.is_empty() {
            "(none configured)".to_string()
        } else {
            s.federated_domains.join(", ")
        }
    );
    let per_forest: Vec<String> = s
        .forests
        .iter()
        .map(|f| format!("{} {}", f.forest, f.objects_read))
        .collect();
    let _ = writeln!(
        out,
        "read {} user objects ({}) in {:.1} s; audited {}{}, left out {} system objects",
        s.objects_read,
        per_forest.join(", "),
        s.seconds_reading,
        s.objects_audited,
        s.forest
            .as_deref()
            .map(|f| format!(" in {f}"))
            .unwrap_or_default(),
        s.objects_skipped
    );
    let _ = writeln!(
        out,
        "simulated the sign-in of {} enabled accounts; {} accounts have errors",
        s.accounts_simulated, s.accounts_with_errors
    );
    let _ = writeln!(
        out,
        "{} findings: {} errors, {} warnings, {} infos",
        s.findings, s.errors, s.warnings, s.infos
    );
    if r.findings.is_empty() {
        let _ = writeln!(
            out,
            "\nno findings: every identifier resolves to its account"
        );
        return out;
    }
    let width = s
        .rules
        .iter()
        .map(|c| c.rule.id().len())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        out,
        "\n{:<width$}  {:<8} {:>6}  MEANING",
        "RULE", "SEVERITY", "COUNT"
    );
    for c in &s.rules {
        let _ = writeln!(
            out,
            "{:<width$}  {:<8} {:>6}  {}",
            c.rule.id(),
            c.severity.as_str(),
            c.count,
            c.title
        );
    }
    let _ = writeln!(out, "\nFINDINGS");
    for f in &r.findings {
        let who = if f.sam_account_name.is_empty() {
            "(no sAMAccountName)".to_string()
        } else {
            printable(&f.sam_account_name)
        };
        let _ = writeln!(
            out,
            "{:<7} {}  {}  {}",
            f.severity.as_str(),
            f.rule.id(),
            f.forest,
            who
        );
        let _ = writeln!(out, "        {}", printable(&f.distinguished_name));
        let _ = writeln!(out, "        {}: \"{}\"", f.attribute, printable(&f.value));
        for other in &f.related {
            let _ = writeln!(out, "        also: {}", printable(other));
        }
        let _ = writeln!(out, "        fix: {}", printable(&f.fix));
    }
    out
}
