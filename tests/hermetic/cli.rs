//! The `altgate` binary in demo mode (the shipped configuration, no directory): `resolve --json`
//! shows every outcome, `check-config` accepts the default and reports every problem with exit 2,
//! every file in `config/` parses. (`resolve --json` against the real forests is
//! `tests/it/cli.rs`.)

use crate::kit::cli::{altgate, json};
use crate::kit::files::{repo, write_config};
use serde_json::Value;

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
    let shipped = std::fs::read_to_string(repo().join("config/altgate.yaml")).expect("config");
    assert!(shipped.contains("  attribute: mail\n"));
    let proxy = write_config(
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
        let file = write_config("german.yaml", &shipped.replace(ja_line, &texts));
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

    let bad = write_config(
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
    let dir = repo().join("config");
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

#[test]
fn check_config_lists_the_keytab_and_warns_about_rc4_or_says_kerberos_is_not_built_in() {
    let dir = tempfile::tempdir().expect("dir");
    let kt = dir.path().join("http.keytab");
    let bytes = altgate::fuzzing::samples::keytab("CONTOSO.COM", &[("sts.example.test", 3, 23)]);
    std::fs::write(&kt, bytes).expect("keytab");
    let shipped = std::fs::read_to_string(repo().join("config/altgate.yaml")).expect("config");
    let cfg = write_config(
        "kerberos.yaml",
        &format!(
            "{shipped}\nkerberos: {{ keytab_file: {}, service_principal: HTTP/sts.example.test }}\n",
            kt.display()
        ),
    );
    let out = altgate(&["check-config", "--config", cfg.to_str().expect("utf-8")]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        stdout.contains("HTTP/sts.example.test@CONTOSO.COM kvno 3 arcfour-hmac (RC4)"),
        "{stdout}{stderr}"
    );
    assert!(
        stdout.contains("warning: the keytab holds only RC4/DES keys"),
        "{stdout}"
    );
    if cfg!(feature = "kerberos") {
        assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
        assert!(stdout.contains("test is successful"), "{stdout}");
    } else {
        // The truth: this binary cannot serve the configuration.
        assert_ne!(out.status.code(), Some(0), "{stdout}{stderr}");
        assert!(
            stderr.contains("built without Kerberos support"),
            "{stderr}"
        );
    }
}

#[test]
fn check_config_warns_about_an_unauthenticated_off_host_state_store() {
    let shipped = std::fs::read_to_string(repo().join("config/altgate.yaml")).expect("config");
    for (state, warned) in [
        ("state: { url: redis://10.20.30.40:6379 }\n", true),
        ("state: { url: redis://127.0.0.1:6379 }\n", false),
        ("state: { url: rediss://cache.contoso.com:6380 }\n", false),
    ] {
        let file = write_config("state-warning.yaml", &format!("{shipped}{state}"));
        let out = altgate(&["check-config", "--config", file.to_str().expect("utf-8")]);
        assert_eq!(out.status.code(), Some(0), "{state}: {out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            text.contains("warning: state: the Redis store is on another host over plain TCP without a password"),
            warned,
            "{state}: {text}"
        );
    }
}

#[test]
fn federation_settings_are_refused_for_the_shipped_demo() {
    // What a new user tries first: the shipped demo configuration would point Entra ID at
    // https://localhost:8443 with the demo's self-signed signing certificate; nothing is printed.
    for format in ["text", "json", "powershell"] {
        let out = altgate(&["m365", "federation-settings", "--format", format]);
        assert_eq!(out.status.code(), Some(1), "{format}: {out:?}");
        assert!(out.stdout.is_empty(), "{format}: printed settings");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("refused (demo_mode)"), "{err}");
        assert!(err.contains("refused (public_url_not_public)"), "{err}");
        assert!(err.contains("refused (development_certificate)"), "{err}");
    }
}
