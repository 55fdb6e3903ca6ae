//! The `altgate` binary: `resolve --json` against the real forests, `check-config`, demo mode.

use crate::harness;
use serde_json::Value;
use std::process::{Command, Output};

fn altgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_altgate"))
        .args(args)
        .current_dir(harness::repo())
        .env_remove("RUST_LOG")
        .output()
        .expect("run altgate")
}

fn json(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "exactly one JSON object on stdout: {stdout}"
    );
    serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[tokio::test]
async fn resolve_json_against_real_forests() {
    let _g = harness::shared().await;
    let cfg = harness::write_config("cli-real.yaml", &harness::both_forests_yaml(""));
    let cfg = cfg.to_str().expect("utf-8 path");

    let out = altgate(&["resolve", "--config", cfg, "--json", "jdoe@contoso.com"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["login"], "jdoe@contoso.com");
    assert_eq!(v["outcome"], "resolved");
    assert_eq!(v["via"], "alternate_login_id");
    assert_eq!(v["forest"], "contoso.com");
    assert_eq!(v["domain"], "contoso.com");
    assert_eq!(v["netbios_domain"], "CONTOSO");
    assert_eq!(v["user_principal_name"], "jdoe@corp.contoso.local");
    assert_eq!(v["sam_account_name"], "jdoe");
    assert_eq!(
        v["distinguished_name"],
        "CN=John Doe,CN=Users,DC=contoso,DC=com"
    );
    assert!(v["immutable_id"].as_str().is_some_and(|s| s.len() == 24));
    assert_eq!(v["unreachable_forests"], serde_json::json!([]));

    let out = altgate(&["resolve", "--config", cfg, "--json", "cross@example.com"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["outcome"], "ambiguous");
    assert_eq!(v["msis"], "MSIS8014");
    assert_eq!(v["event_id"], 364);
    assert_eq!(
        v["message"],
        "MSIS8014: Found multiple user accounts with identity 'cross@example.com' in forests: contoso.com, fabrikam.com"
    );

    let out = altgate(&[
        "resolve",
        "--config",
        cfg,
        "--json",
        "nomail@corp.contoso.local",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out)["via"], "upn");

    let out = altgate(&["resolve", "--config", cfg, "--json", "CONTOSO\\jdoe"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out)["via"], "sam_account_name");

    let out = altgate(&["resolve", "--config", cfg, "--json", "nobody@contoso.com"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["outcome"], "not_found");

    // Refused input: an error outcome, exit 1, and the reason.
    let out = altgate(&["resolve", "--config", cfg, "--json", "  "]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["outcome"], "error");
    assert_eq!(v["code"], "login_empty");
    assert_eq!(v["event_id"], 364);

    let out = altgate(&["resolve", "--config", cfg, "--json", "shared@contoso.com"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["msis"], "MSIS8015");
    // The service account's password never reaches the output.
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains(&harness::forests().get("contoso.com").service_password));
}

#[test]
fn demo_mode_shows_every_outcome() {
    let cases = [
        (
            "jdoe@contoso.com",
            0,
            "resolved",
            Some("alternate_login_id"),
            None,
        ),
        (
            "nomail@corp.contoso.local",
            0,
            "resolved",
            Some("upn"),
            None,
        ),
        (
            "CONTOSO\\jdoe",
            0,
            "resolved",
            Some("sam_account_name"),
            None,
        ),
        (
            "alice@contoso.com",
            0,
            "resolved",
            Some("alternate_login_id"),
            None,
        ),
        ("shared@contoso.com", 1, "ambiguous", None, Some("MSIS8015")),
        ("cross@example.com", 1, "ambiguous", None, Some("MSIS8014")),
        ("nosam@contoso.com", 1, "error", None, Some("MSIS8012")),
        ("badcanon@contoso.com", 1, "error", None, Some("MSIS8013")),
        ("nobody@contoso.com", 1, "not_found", None, None),
    ];
    for (login, code, outcome, via, msis) in cases {
        let out = altgate(&["resolve", "--json", login]);
        assert_eq!(out.status.code(), Some(code), "{login}");
        let v = json(&out);
        assert_eq!(v["outcome"], outcome, "{login}");
        assert_eq!(v.get("via").and_then(Value::as_str), via, "{login}");
        assert_eq!(v.get("msis").and_then(Value::as_str), msis, "{login}");
    }
    let out = altgate(&["resolve", "alice@contoso.com"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("CONTOSO\\mallory"), "{text}");
}

#[test]
fn check_config_accepts_the_default_and_reports_every_problem_with_exit_2() {
    let out = altgate(&["check-config"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("test is successful"));
    assert!(!text.contains("alternate_login_id.attribute"), "{text}");

    // An alternate-ID attribute a Windows global catalog does not hold is worth a warning.
    let shipped =
        std::fs::read_to_string(harness::repo().join("config/altgate.yaml")).expect("config");
    assert!(shipped.contains("  attribute: mail\n"));
    let proxy = harness::write_config(
        "proxy-addresses.yaml",
        &shipped.replace("  attribute: mail\n", "  attribute: proxyAddresses\n"),
    );
    let out = altgate(&["check-config", "--config", proxy.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("warning: alternate_login_id.attribute proxyAddresses is not in a Windows global catalog"),
        "{text}"
    );

    // A language the pages do not ship, without its password-change strings, is worth a
    // warning: its users would see those pages in English.
    let all = |keys: &[&str]| {
        keys.iter()
            .map(|k| format!("{k}: x"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let ja_line = shipped
        .lines()
        .find(|l| l.starts_with("    ja: { help_desk:"))
        .expect("the shipped texts have a Japanese line");
    let german = format!(
        "{ja_line}\n    de: {{ {} }}",
        all(altgate::config::branding::PageTexts::KEYS)
    );
    let german_password = format!(
        "{german}\n  password_texts:\n    de: {{ {} }}",
        all(altgate::config::branding::PasswordPageTexts::KEYS)
    );
    let warning = "warning: passive.texts.de has no passive.password_texts.de";
    for (texts, warned) in [(german, true), (german_password, false)] {
        let file = harness::write_config("german.yaml", &shipped.replace(ja_line, &texts));
        let out = altgate(&["check-config", "--config", file.to_str().expect("utf-8")]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(text.contains(warning), warned, "{text}");
    }

    let bad = harness::write_config(
        "broken.yaml",
        "server: { listen: 'x', public_url: https://sts.example.test }\nforests:\n  - name: contoso.com\n    global_catalogs: [ldap://dc1:389]\ncache: { negative_ttl: soon }\nsurprise: true\n",
    );
    let out = altgate(&["check-config", "--config", bad.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for path in [
        "server.listen:",
        "forests[0].global_catalogs[0]:",
        "forests[0].service_account:",
        "cache.negative_ttl:",
        "surprise:",
    ] {
        assert!(err.contains(path), "{path} missing from:\n{err}");
    }
}

#[test]
fn every_file_in_config_parses() {
    let dir = harness::repo().join("config");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("config/") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if !name.ends_with(".yaml") {
            continue;
        }
        seen += 1;
        if name == "demo-directory.yaml" {
            altgate::directory::embedded::EmbeddedDirectory::load(&path).expect("demo directory");
            continue;
        }
        match altgate::config::Config::load(&path) {
            Ok(_) => {}
            // Example deployments name files and variables that exist only on real servers;
            // anything else (a typo, a structural mistake) fails.
            Err(e) => {
                for issue in &e.issues {
                    let m = &issue.message;
                    assert!(
                        m.starts_with("file not found")
                            || m.starts_with("cannot read")
                            || m.starts_with("environment variable"),
                        "{name}: {issue}"
                    );
                }
            }
        }
    }
    assert!(
        seen >= 3,
        "config/ should hold the default, the example and the demo directory"
    );
}
