//! The audit over the shipped demo configuration: every rule shows, with exactly the findings
//! the demo directory's audit users were written for (and none on the users written for the
//! resolution examples beyond the ones those examples are about).

use super::*;
use crate::directory::embedded::EmbeddedDirectory;
use crate::preflight::collect::Silent;
use crate::preflight::report::Format;
use crate::preflight::rules::{Rule, Severity};
use std::collections::BTreeSet;
use std::path::Path;

/// A fixed date for the reports.
fn clock() -> crate::clock::Clock {
    crate::clock::fixed_clock(time::macros::datetime!(2026-03-01 09:00 UTC))
}

async fn demo_report(options: &Options) -> Report {
    let config = Config::load(Path::new("config/altgate.yaml")).expect("config");
    let directory = EmbeddedDirectory::load(Path::new("config/demo-directory.yaml")).expect("demo");
    audit(&config, &directory, options, &Silent, &clock())
        .await
        .expect("audit")
}

fn compact(r: &Report) -> Vec<String> {
    let mut v: Vec<String> = r
        .findings
        .iter()
        .map(|f| {
            let sam = if f.sam_account_name.is_empty() {
                "-"
            } else {
                f.sam_account_name.as_str()
            };
            format!("{} {} {} {sam}", f.severity.as_str(), f.rule.id(), f.forest)
        })
        .collect();
    v.sort();
    v
}

const EXPECTED: &[&str] = &[
    "error alt_id_ambiguous_in_forest contoso.com helpdesk",
    "error alt_id_ambiguous_in_forest contoso.com dupa",
    "error alt_id_ambiguous_in_forest contoso.com dupb",
    "error alt_id_ambiguous_across_forests contoso.com crossc",
    "error alt_id_ambiguous_across_forests fabrikam.com crossf",
    "error alt_id_shadows_upn contoso.com alice",
    "error upn_ambiguous contoso.com ttwin",
    "error upn_ambiguous fabrikam.com ttwin",
    "error no_alt_id_nonroutable_upn contoso.com nomail",
    "error alt_id_domain_not_federated contoso.com brokenmail",
    "error alt_id_domain_not_federated contoso.com pat",
    "error missing_sam_account_name contoso.com -",
    "error bad_canonical_name contoso.com badcanon",
    "error down_level_login_fails contoso.com samtwin",
    "error down_level_login_fails contoso.com samtwin",
    "error identifier_rejected contoso.com tabname",
    "error upn_too_long contoso.com longupn",
    "error upn_invalid_characters contoso.com badchars",
    "error upn_format contoso.com tabname",
    "error upn_format contoso.com trailing",
    "error upn_duplicate contoso.com ttwin",
    "error upn_duplicate fabrikam.com ttwin",
    "error mail_duplicate contoso.com crossc",
    "error mail_duplicate contoso.com helpdesk",
    "error mail_duplicate contoso.com oldhelpdesk",
    "error mail_duplicate contoso.com dupa",
    "error mail_duplicate contoso.com dupb",
    "error mail_duplicate fabrikam.com crossf",
    "error proxy_address_too_long contoso.com proxyprob",
    "error proxy_address_invalid_characters contoso.com proxyprob",
    "error proxy_address_format contoso.com proxyprob",
    "error proxy_address_duplicate contoso.com proxyprob",
    "error proxy_address_duplicate contoso.com proxytwin",
    "error mail_nickname_format contoso.com nickprob",
    "error mail_nickname_duplicate contoso.com nicktwina",
    "error mail_nickname_duplicate contoso.com nicktwinb",
    "error sam_account_name_duplicate contoso.com samtwin",
    "error sam_account_name_duplicate contoso.com samtwin",
    "error display_name_blank contoso.com blankdisplay",
    "error display_name_too_long contoso.com longdisplay",
    "error given_name_too_long contoso.com longdisplay",
    "error target_address_too_long contoso.com targetprob",
    "error target_address_invalid_characters contoso.com nickprob",
    "error target_address_format contoso.com blanknick",
    "error target_address_duplicate contoso.com nicktwina",
    "error target_address_duplicate contoso.com nicktwinb",
    "warning upn_blank contoso.com noupn",
    "warning upn_unicode_characters contoso.com jose",
    "warning upn_top_level_domain contoso.com nomail",
    "warning mail_format contoso.com brokenmail",
    "warning proxy_address_top_level_domain contoso.com proxyprob",
    "warning address_conflict contoso.com alice",
    "warning address_conflict contoso.com helpdesk",
    "warning address_conflict contoso.com mallory",
    "warning address_conflict contoso.com oldhelpdesk",
    "warning address_conflict contoso.com pat",
    "warning address_conflict contoso.com proxyprob",
    "warning mail_nickname_blank contoso.com blanknick",
    "warning sam_account_name_too_long contoso.com abcdefghijklmnopqrstu",
    "warning sam_account_name_invalid_characters contoso.com bad[sam]",
    "warning target_address_blank contoso.com blanktarget",
    "info alt_id_ambiguous_in_forest contoso.com oldhelpdesk",
];

#[tokio::test]
async fn the_demo_shows_every_rule_exactly_where_it_was_seeded() {
    let report = demo_report(&Options::default()).await;
    let seen: BTreeSet<Rule> = report.findings.iter().map(|f| f.rule).collect();
    let missing: Vec<&str> = Rule::ALL
        .iter()
        .filter(|r| !seen.contains(r))
        .map(|r| r.id())
        .collect();
    assert!(
        missing.is_empty(),
        "rules without a demo finding: {missing:?}"
    );
    let mut expected: Vec<String> = EXPECTED.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(compact(&report), expected);
    let s = &report.summary;
    assert!(report.has_errors());
    assert_eq!(s.findings, EXPECTED.len() as u64);
    assert_eq!(s.errors + s.warnings + s.infos, s.findings);
    // The HealthMailbox user is left out as IdFix does; everyone else is audited.
    assert_eq!(s.objects_skipped, 1);
    assert_eq!(s.objects_audited + 1, s.objects_read);
    assert_eq!(s.forests.len(), 2);
    // Worst first, then most findings.
    let first = s.rules.first().expect("rules");
    assert_eq!(first.severity, Severity::Error);
    assert_eq!(first.rule, Rule::MailDuplicate);
}

#[tokio::test]
async fn the_disabled_account_is_info_and_names_whom_it_blocks() {
    let report = demo_report(&Options::default()).await;
    let info: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.rule == Rule::AltIdAmbiguousInForest && f.sam_account_name == "oldhelpdesk")
        .collect();
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].severity, Severity::Info);
    assert_eq!(
        info[0].related,
        vec!["CN=Helpdesk,CN=Users,DC=contoso,DC=com"]
    );
    assert_eq!(info[0].value, "helpdesk@contoso.com");
}

#[tokio::test]
async fn one_forest_is_reported_but_every_forest_is_read() {
    let options = Options {
        forest: Some("fabrikam.com".into()),
    };
    let report = demo_report(&options).await;
    assert!(report.findings.iter().all(|f| f.forest == "fabrikam.com"));
    let rules: BTreeSet<&str> = report.findings.iter().map(|f| f.rule.id()).collect();
    // Conflicts with contoso.com still count.
    assert!(
        rules.contains("alt_id_ambiguous_across_forests"),
        "{rules:?}"
    );
    assert!(rules.contains("upn_ambiguous"), "{rules:?}");
    assert_eq!(report.summary.forest.as_deref(), Some("fabrikam.com"));
    assert!(report.summary.objects_audited < report.summary.objects_read);
    let config = Config::load(Path::new("config/altgate.yaml")).expect("config");
    let directory = EmbeddedDirectory::load(Path::new("config/demo-directory.yaml")).expect("demo");
    let bad = Options {
        forest: Some("nowhere.example".into()),
    };
    let err = audit(&config, &directory, &bad, &Silent, &clock())
        .await
        .expect_err("refused");
    assert_eq!(err.code(), "unknown_forest");
}

#[tokio::test]
async fn an_unreachable_forest_fails_the_audit() {
    let config = Config::load(Path::new("config/altgate.yaml")).expect("config");
    let yaml = std::fs::read_to_string("config/demo-directory.yaml").expect("read");
    let yaml = yaml.replacen(
        "  - name: fabrikam.com\n",
        "  - name: fabrikam.com\n    unreachable: true\n",
        1,
    );
    let file = serde_yaml::from_str(&yaml).expect("yaml");
    let directory = EmbeddedDirectory::from_file(file).expect("demo");
    let err = audit(&config, &directory, &Options::default(), &Silent, &clock())
        .await
        .expect_err("no report from half the directory");
    assert_eq!(err.code(), "unreachable");
}

#[tokio::test]
async fn every_format_renders_the_findings() {
    let report = demo_report(&Options::default()).await;
    let text = String::from_utf8(report.render(Format::Text)).expect("utf8");
    assert!(text.contains("alt_id_ambiguous_in_forest"));
    // The control character in Tab Name's UPN is shown escaped, never sent to the terminal.
    assert!(text.contains("\"tab\\u{9}name@contoso.com\""), "{text}");
    assert!(!text.contains('\t'));
    let json: serde_json::Value =
        serde_json::from_slice(&report.render(Format::Json)).expect("json");
    assert_eq!(
        json["findings"].as_array().map(Vec::len),
        Some(EXPECTED.len())
    );
    assert_eq!(json["summary"]["findings"], EXPECTED.len());
    assert_eq!(json["findings"][0]["rule"], "alt_id_ambiguous_in_forest");
    let csv = String::from_utf8(report.render(Format::Csv)).expect("utf8");
    assert!(csv.starts_with("\u{feff}rule,severity,forest,domain,sam_account_name,"));
    assert_eq!(csv.matches("\r\n").count(), EXPECTED.len() + 1);
    let html = String::from_utf8(report.render(Format::Html)).expect("utf8");
    assert!(html.contains("<svg id=\"chart-rules\""));
    assert!(html.contains("<table id=\"findings\""));
    assert_eq!(html.matches("<tr><td class=\"sev").count(), EXPECTED.len());
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
}
