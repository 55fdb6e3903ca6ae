//! `altgate audit` against the two real forests: the accounts `scripts/ad-forests.sh` seeds in
//! OU=Audit of each (one or more per rule a real AD can hold) give exactly the expected findings
//! in JSON and in CSV, no more, no fewer; the text and HTML reports render, and the HTML report
//! opens in headless Chromium with its table and charts drawn (screenshot kept in the target
//! directory); an unreachable forest or domain controller is exit 2, never a shorter report; the
//! progress line appears on a terminal only; the shipped demo configuration shows every rule.

use crate::harness;
use crate::kit::cli::altgate;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// Both forests, alternate ID `mail`, each searched under its OU=Audit only (the users other
/// tests seed elsewhere are not this test's business). `gc`/`dc` override a forest's servers.
fn config(overrides: &[(&str, &str, &str)]) -> String {
    let mut y = String::from(
        "server: { listen: 127.0.0.1:0, public_url: https://sts.altgate.test }\n\
         alternate_login_id: { attribute: mail, lookup_forests: [contoso.com, fabrikam.com] }\n\
         federation: { federated_domains: [contoso.com, fabrikam.com] }\n\
         forests:\n",
    );
    for name in ["contoso.com", "fabrikam.com"] {
        let f = harness::forests().get(name);
        let (gc, dc) = overrides
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, gc, dc)| (gc.to_string(), dc.to_string()))
            .unwrap_or_else(|| (f.gc_url.clone(), f.dc_url.clone()));
        let pw = harness::secret_file(&format!("audit-{name}.pw"), &f.service_password);
        y.push_str(&format!(
            "  - name: {name}\n    global_catalogs: [{gc}]\n    domain_controllers: {{ {name}: [{dc}] }}\n    service_account: {{ user: {}, password_file: {} }}\n    ca_file: {}\n    search_base: OU=Audit,{}\n",
            f.service_user,
            pw.display(),
            f.ca_file,
            f.base_dn
        ));
    }
    let path = harness::write_config("audit.yaml", &y);
    path.to_str().expect("utf-8 path").to_string()
}

/// One finding, every field but `fix` (checked separately: one non-empty line).
type Row = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Vec<String>,
);

fn forest(f: char) -> &'static str {
    if f == 'c' {
        "contoso.com"
    } else {
        "fabrikam.com"
    }
}

fn dn(f: char, tag: &str) -> String {
    format!(
        "CN=Audit {tag},OU=Audit,DC={},DC=com",
        forest(f).trim_end_matches(".com")
    )
}

fn sam(tag: &str) -> String {
    if tag == "Longsam" {
        "aud-longsam-abcdefghi".into()
    } else {
        format!("aud-{}", tag.to_lowercase())
    }
}

/// A seeded finding: rule, severity, forest ('c' or 'f'), CN tag, attribute, value, related.
type Seeded<'a> = (
    &'a str,
    &'a str,
    char,
    &'a str,
    &'a str,
    &'a str,
    Vec<(char, &'a str)>,
);

/// The seeded findings.
fn expected() -> BTreeSet<Row> {
    let long = |c: char, n: usize| c.to_string().repeat(n);
    let l65 = format!("{}@contoso.com", long('l', 65));
    let p240 = format!("smtp:{}@contoso.com", long('p', 240));
    let t240 = format!("SMTP:{}@partner.example", long('t', 240));
    let (d256, g64) = (long('d', 256), long('g', 64));
    let e = "error";
    let w = "warning";
    #[rustfmt::skip]
    let rows: Vec<Seeded<'_>> = vec![
        ("alt_id_ambiguous_in_forest", e, 'c', "Dup1", "mail", "aud.dup@contoso.com", vec![('c', "Dup2")]),
        ("alt_id_ambiguous_in_forest", e, 'c', "Dup2", "mail", "aud.dup@contoso.com", vec![('c', "Dup1")]),
        ("alt_id_ambiguous_in_forest", e, 'c', "Helpdesk", "mail", "aud.helpdesk@contoso.com", vec![('c', "Oldhelp")]),
        ("alt_id_ambiguous_in_forest", "info", 'c', "Oldhelp", "mail", "aud.helpdesk@contoso.com", vec![('c', "Helpdesk")]),
        ("alt_id_ambiguous_across_forests", e, 'c', "Xf", "mail", "aud.cross@contoso.com", vec![('f', "Xf")]),
        ("alt_id_ambiguous_across_forests", e, 'f', "Xf", "mail", "aud.cross@contoso.com", vec![('c', "Xf")]),
        ("alt_id_shadows_upn", e, 'c', "Victim", "userPrincipalName", "aud.victim@contoso.com", vec![('c', "Shadow")]),
        ("upn_ambiguous", e, 'c', "Twin", "userPrincipalName", "aud.twin@contoso.com", vec![('f', "Twin")]),
        ("upn_ambiguous", e, 'f', "Twin", "userPrincipalName", "aud.twin@contoso.com", vec![('c', "Twin")]),
        ("no_alt_id_nonroutable_upn", e, 'c', "Nomail", "userPrincipalName", "aud.nomail@corp.contoso.local", vec![]),
        ("alt_id_domain_not_federated", e, 'c', "Badmail", "mail", "aud-broken-mail", vec![]),
        ("alt_id_domain_not_federated", e, 'c', "Partner", "mail", "aud.partner@partner.example", vec![]),
        ("identifier_rejected", e, 'c', "Ctl", "userPrincipalName", "aud.ctl\tx@contoso.com", vec![]),
        ("upn_too_long", e, 'c', "Longupn", "userPrincipalName", &l65, vec![]),
        ("upn_invalid_characters", e, 'c', "Badchar", "userPrincipalName", "aud.bad%char@contoso.com", vec![]),
        ("upn_invalid_characters", e, 'c', "Umlaut", "userPrincipalName", "aud.jürgen@contoso.com", vec![]),
        ("upn_format", e, 'c', "Ctl", "userPrincipalName", "aud.ctl\tx@contoso.com", vec![]),
        ("upn_format", e, 'c', "Dot", "userPrincipalName", "aud.dot.@contoso.com", vec![]),
        ("upn_duplicate", e, 'c', "Twin", "userPrincipalName", "aud.twin@contoso.com", vec![('f', "Twin")]),
        ("upn_duplicate", e, 'f', "Twin", "userPrincipalName", "aud.twin@contoso.com", vec![('c', "Twin")]),
        ("mail_duplicate", e, 'c', "Dup1", "mail", "aud.dup@contoso.com", vec![('c', "Dup2")]),
        ("mail_duplicate", e, 'c', "Dup2", "mail", "aud.dup@contoso.com", vec![('c', "Dup1")]),
        ("mail_duplicate", e, 'c', "Helpdesk", "mail", "aud.helpdesk@contoso.com", vec![('c', "Oldhelp")]),
        ("mail_duplicate", e, 'c', "Oldhelp", "mail", "aud.helpdesk@contoso.com", vec![('c', "Helpdesk")]),
        ("mail_duplicate", e, 'c', "Xf", "mail", "aud.cross@contoso.com", vec![('f', "Xf")]),
        ("mail_duplicate", e, 'f', "Xf", "mail", "aud.cross@contoso.com", vec![('c', "Xf")]),
        ("proxy_address_too_long", e, 'c', "Proxy", "proxyAddresses", &p240, vec![]),
        ("proxy_address_invalid_characters", e, 'c', "Proxy", "proxyAddresses", "smtp:aud.bad(paren)@contoso.com", vec![]),
        ("proxy_address_format", e, 'c', "Proxy", "proxyAddresses", "aud.noprefix@contoso.com", vec![]),
        ("proxy_address_duplicate", e, 'c', "Proxy", "proxyAddresses", "smtp:aud.shared.proxy@contoso.com", vec![('c', "Proxytwin")]),
        ("proxy_address_duplicate", e, 'c', "Proxytwin", "proxyAddresses", "smtp:aud.shared.proxy@contoso.com", vec![('c', "Proxy")]),
        ("mail_nickname_format", e, 'c', "Nick", "mailNickname", ".aud.nick", vec![]),
        ("mail_nickname_duplicate", e, 'c', "Nicktwin1", "mailNickname", "aud.samenick", vec![('c', "Nicktwin2")]),
        ("mail_nickname_duplicate", e, 'c', "Nicktwin2", "mailNickname", "aud.samenick", vec![('c', "Nicktwin1")]),
        ("display_name_blank", e, 'c', "Blankdisplay", "displayName", " ", vec![]),
        ("display_name_too_long", e, 'c', "Longdisplay", "displayName", &d256, vec![]),
        ("given_name_too_long", e, 'c', "Longdisplay", "givenName", &g64, vec![]),
        ("target_address_too_long", e, 'c', "Longtarget", "targetAddress", &t240, vec![]),
        ("target_address_invalid_characters", e, 'c', "Nick", "targetAddress", "SMTP:aud.nick(fwd)@partner.example", vec![]),
        ("target_address_format", e, 'c', "Blanknick", "targetAddress", "SMTP:not-an-address", vec![]),
        ("target_address_duplicate", e, 'c', "Nicktwin1", "targetAddress", "SMTP:aud.same.target@partner.example", vec![('c', "Nicktwin2")]),
        ("target_address_duplicate", e, 'c', "Nicktwin2", "targetAddress", "SMTP:aud.same.target@partner.example", vec![('c', "Nicktwin1")]),
        ("upn_blank", w, 'c', "Noupn", "userPrincipalName", "", vec![]),
        ("upn_unicode_characters", w, 'c', "Unicode", "userPrincipalName", "aud.josé@contoso.com", vec![]),
        ("upn_top_level_domain", w, 'c', "Nomail", "userPrincipalName", "aud.nomail@corp.contoso.local", vec![]),
        ("mail_format", w, 'c', "Badmail", "mail", "aud-broken-mail", vec![]),
        ("proxy_address_top_level_domain", w, 'c', "Proxy", "proxyAddresses", "smtp:aud.proxy@contoso.local", vec![]),
        ("address_conflict", w, 'c', "Helpdesk", "userPrincipalName", "aud.helpdesk@contoso.com", vec![('c', "Oldhelp")]),
        ("address_conflict", w, 'c', "Oldhelp", "mail", "aud.helpdesk@contoso.com", vec![('c', "Helpdesk")]),
        ("address_conflict", w, 'c', "Partner", "userPrincipalName", "aud.partner@contoso.com", vec![('c', "Proxy")]),
        ("address_conflict", w, 'c', "Proxy", "proxyAddresses", "smtp:aud.partner@contoso.com", vec![('c', "Partner")]),
        ("address_conflict", w, 'c', "Shadow", "mail", "aud.victim@contoso.com", vec![('c', "Victim")]),
        ("address_conflict", w, 'c', "Victim", "userPrincipalName", "aud.victim@contoso.com", vec![('c', "Shadow")]),
        ("mail_nickname_blank", w, 'c', "Blanknick", "mailNickname", " ", vec![]),
        ("sam_account_name_too_long", w, 'c', "Longsam", "sAMAccountName", "aud-longsam-abcdefghi", vec![]),
        ("target_address_blank", w, 'c', "Blanktarget", "targetAddress", "  ", vec![]),
    ];
    rows.into_iter()
        .map(|(rule, sev, f, tag, attr, value, related)| {
            (
                rule.to_string(),
                sev.to_string(),
                forest(f).to_string(),
                forest(f).to_string(),
                sam(tag),
                dn(f, tag),
                attr.to_string(),
                value.to_string(),
                related.iter().map(|(f, t)| dn(*f, t)).collect(),
            )
        })
        .collect()
}

fn from_json(f: &Value) -> Row {
    let s = |k: &str| {
        f[k].as_str()
            .unwrap_or_else(|| panic!("{k} in {f}"))
            .to_string()
    };
    let related = f["related"]
        .as_array()
        .expect("related")
        .iter()
        .map(|v| v.as_str().expect("dn").to_string())
        .collect();
    (
        s("rule"),
        s("severity"),
        s("forest"),
        s("domain"),
        s("sam_account_name"),
        s("distinguished_name"),
        s("attribute"),
        s("value"),
        related,
    )
}

/// RFC 4180: quoted fields may hold commas, quotes (doubled) and line breaks; rows end in CRLF.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let text = text
        .strip_prefix('\u{feff}')
        .expect("UTF-8 byte-order mark");
    let (mut rows, mut row, mut cell) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') if cell.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "CR without LF");
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    assert!(row.is_empty() && cell.is_empty(), "last row not terminated");
    rows
}

fn from_csv(cells: &[String]) -> Row {
    let c = |i: usize| cells.get(i).cloned().unwrap_or_default();
    let related = if c(8).is_empty() {
        Vec::new()
    } else {
        c(8).split("; ").map(str::to_string).collect()
    };
    (c(0), c(1), c(2), c(3), c(4), c(5), c(6), c(7), related)
}

fn diff(got: &BTreeSet<Row>, want: &BTreeSet<Row>) -> String {
    let extra: Vec<_> = got.difference(want).collect();
    let missing: Vec<_> = want.difference(got).collect();
    format!("extra findings: {extra:#?}\nmissing findings: {missing:#?}")
}

#[tokio::test]
async fn audit_of_the_real_forests_reports_exactly_the_seeded_findings() {
    let _g = harness::shared().await;
    let cfg = config(&[]);
    let want = expected();
    let dir = tempfile::tempdir().expect("tempdir");

    // JSON, to stdout: exit 1 (there are errors), nothing on stderr (not a terminal).
    let out = altgate(&["audit", "--config", &cfg, "--format", "json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.is_empty(),
        "no progress line off a terminal: {stderr:?}"
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let findings = v["findings"].as_array().expect("findings");
    let got: BTreeSet<Row> = findings.iter().map(from_json).collect();
    assert_eq!(got.len(), findings.len(), "no finding twice");
    assert!(got == want, "{}", diff(&got, &want));
    for f in findings {
        let fix = f["fix"].as_str().expect("fix");
        assert!(!fix.is_empty() && !fix.contains('\n'), "{f}");
    }
    let s = &v["summary"];
    assert_eq!(s["findings"], want.len());
    assert_eq!(s["errors"], 41);
    assert_eq!(s["warnings"], 14);
    assert_eq!(s["infos"], 1);
    // 31 + 3 users in the OUs; the HealthMailbox is left out as IdFix does.
    assert_eq!(s["objects_read"], 34);
    assert_eq!(s["objects_skipped"], 1);
    assert_eq!(s["objects_audited"], 33);
    assert_eq!(s["accounts_simulated"], 32);
    assert_eq!(s["alternate_login_id"], "mail");
    assert_eq!(s["rules"][0]["rule"], "mail_duplicate");
    assert_eq!(s["forests"][0]["forest"], "contoso.com");
    assert_eq!(s["forests"][1]["errors"], 4);
    // Every rule a real AD can hold is here (docs/audit.md lists the ones it cannot).
    let rules: BTreeSet<&str> = findings.iter().filter_map(|f| f["rule"].as_str()).collect();
    let impossible = [
        "missing_sam_account_name",
        "bad_canonical_name",
        "sam_account_name_invalid_characters",
        "sam_account_name_duplicate",
        "down_level_login_fails",
    ];
    for r in altgate::preflight::rules::Rule::ALL {
        assert!(
            rules.contains(r.id()) != impossible.contains(&r.id()),
            "{} seeded or impossible, not both",
            r.id()
        );
    }

    // CSV to a file: the same findings.
    let csv_path = dir.path().join("audit.csv");
    let out = altgate(&[
        "audit",
        "--config",
        &cfg,
        "--format",
        "csv",
        "--output",
        csv_path.to_str().expect("path"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("56 findings (41 errors, 14 warnings, 1 infos) written to"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = parse_csv(&std::fs::read_to_string(&csv_path).expect("csv"));
    let header = rows.first().expect("header").join(",");
    assert_eq!(
        header,
        "rule,severity,forest,domain,sam_account_name,distinguished_name,attribute,value,related,fix"
    );
    assert!(rows.iter().all(|r| r.len() == 10));
    let got: BTreeSet<Row> = rows.iter().skip(1).map(|r| from_csv(r)).collect();
    assert_eq!(rows.len() - 1, want.len());
    assert!(got == want, "{}", diff(&got, &want));

    // Text: the summary, every rule and every account; control characters escaped.
    let out = altgate(&["audit", "--config", &cfg]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(
        text.contains("read 34 user objects (contoso.com 31, fabrikam.com 3)"),
        "{text}"
    );
    assert!(
        text.contains("56 findings: 41 errors, 14 warnings, 1 infos"),
        "{text}"
    );
    for (rule, ..) in &want {
        assert!(text.contains(rule.as_str()), "{rule} missing from:\n{text}");
    }
    assert!(text.contains("\"aud.ctl\\u{9}x@contoso.com\""), "{text}");
    assert!(!text.contains('\t'));

    // HTML: rendered by a real browser, table and charts drawn, its own script working.
    let html = dir.path().join("audit.html");
    let out = altgate(&[
        "audit",
        "--config",
        &cfg,
        "--format",
        "html",
        "--output",
        html.to_str().expect("path"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let page = std::fs::read_to_string(&html).expect("html");
    // Nothing loaded from anywhere: no src, no href, no url().
    assert!(!page.contains(" src=") && !page.contains(" href=") && !page.contains("url("));
    let shot = dir.path().join("audit.png");
    let browser = tokio::process::Command::new(harness::msal_python())
        .arg(harness::repo().join("scripts/browser_report.py"))
        .arg("--report")
        .arg(&html)
        .arg("--screenshot")
        .arg(&shot)
        .output()
        .await
        .expect("run the browser");
    let stdout = String::from_utf8_lossy(&browser.stdout);
    let b: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "{e}: {stdout}\n{}",
            String::from_utf8_lossy(&browser.stderr)
        )
    });
    assert!(browser.status.success() && b["ok"] == true, "{b:#}");
    assert_eq!(b["rows"], want.len(), "{b:#}");
    assert_eq!(b["first_rule"], "alt_id_ambiguous_in_forest");
    assert_eq!(b["counts"]["error"], "41");
    let rules_chart = &b["charts"]["rules"];
    let widths = rules_chart["widths"].as_array().expect("bars");
    // One bar per rule and severity present: 34 rules, one of them with two severities.
    assert_eq!(widths.len(), 35, "{b:#}");
    assert!(
        widths.iter().all(|w| w.as_f64().is_some_and(|w| w >= 2.0)),
        "{b:#}"
    );
    assert!(
        rules_chart["height"].as_f64().is_some_and(|h| h > 300.0),
        "{b:#}"
    );
    let forests_chart = &b["charts"]["forests"];
    assert_eq!(forests_chart["bars"], 4, "{b:#}");
    assert_eq!(b["sorted_ascending"], true, "{b:#}");
    assert_eq!(b["sorted_descending"], true, "{b:#}");
    assert_eq!(b["rows_after_filter"], 1, "{b:#}");
    // No Content-Security-Policy violation or script error.
    assert_eq!(b["console"], serde_json::json!([]), "{b:#}");
    let png = std::fs::read(&shot).expect("screenshot");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 50_000,
        "{}",
        png.len()
    );
    let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join("audit-report.png");
    std::fs::copy(&shot, &keep).expect("keep the screenshot");
    eprintln!("audit report screenshot: {}", keep.display());
}

#[tokio::test]
async fn one_forest_is_reported_but_conflicts_with_the_other_still_count() {
    let _g = harness::shared().await;
    let cfg = config(&[]);
    let out = altgate(&[
        "audit",
        "--config",
        &cfg,
        "--format",
        "json",
        "--forest",
        "fabrikam.com",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let got: BTreeSet<Row> = v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(from_json)
        .collect();
    let want: BTreeSet<Row> = expected()
        .into_iter()
        .filter(|r| r.2 == "fabrikam.com")
        .collect();
    assert_eq!(want.len(), 4);
    assert!(got == want, "{}", diff(&got, &want));
    assert_eq!(v["summary"]["objects_read"], 34);
    assert_eq!(v["summary"]["objects_audited"], 3);

    let out = altgate(&["audit", "--config", &cfg, "--forest", "nowhere.example"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("forest nowhere.example is not configured")
    );
}

#[tokio::test]
async fn an_unreachable_forest_or_domain_controller_is_exit_2_not_a_shorter_report() {
    let _g = harness::shared().await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let nowhere = format!("ldaps://127.0.0.1:{closed}");
    let f = harness::forests().get("fabrikam.com");
    let cases = [
        (nowhere.as_str(), f.dc_url.as_str(), "(unreachable)"),
        (f.gc_url.as_str(), nowhere.as_str(), "(domain_unreachable)"),
    ];
    for (gc, dc, code) in cases {
        let cfg = config(&[("fabrikam.com", gc, dc)]);
        let out = altgate(&["audit", "--config", &cfg, "--format", "json"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{gc} {dc}: {stderr}");
        assert!(out.stdout.is_empty(), "no report at all");
        assert!(
            stderr.contains("fabrikam.com") && stderr.contains(code),
            "{stderr}"
        );
        if dc == nowhere {
            assert!(
                stderr.contains(
                    "no domain controller of domain fabrikam.com (forest fabrikam.com) answered"
                ),
                "{stderr}"
            );
        }
    }
}

#[tokio::test]
async fn the_progress_line_is_drawn_on_a_terminal() {
    let _g = harness::shared().await;
    if Command::new("script").arg("--version").output().is_err() {
        panic!("util-linux `script` is needed to give altgate a terminal");
    }
    let cfg = config(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dir.path().join("audit.json");
    // `script` gives altgate a pseudo-terminal for stdout and stderr; the report goes to a file.
    let cmd = format!(
        "{} audit --config {cfg} --format json --output {}",
        env!("CARGO_BIN_EXE_altgate"),
        report.display()
    );
    let out = Command::new("script")
        .args(["-qfec", &cmd, "/dev/null"])
        .output()
        .expect("run script");
    let tty = String::from_utf8_lossy(&out.stdout);
    assert!(tty.contains("reading: contoso.com"), "{tty:?}");
    assert!(
        tty.contains("fabrikam.com 3 read (GC), 3 (DC) done"),
        "{tty:?}"
    );
    assert!(tty.contains("\r\x1b[2K"), "redrawn in place: {tty:?}");
    let v: Value = serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("json");
    assert_eq!(v["summary"]["findings"], 56);
}
