//! The first hour with altgate, as a process: the shipped demo configuration served by the
//! `altgate` binary and driven by a real headless Chromium from the demo application's start page
//! to "Signed in" and back out (the README's screenshots come from this run); activity IDs on the
//! error page, in the response header and in the audit log; logs without escape codes when not
//! on a terminal and no warnings at a demo's start; demo metrics on the admin listener; the demo's
//! Prometheus configuration checked by promtool. (The README's examples against real output, the
//! demo relying party refused outside demo mode and the hint for a missing configuration file
//! need nothing installed: `tests/hermetic/demo.rs`.)

use crate::harness;
use crate::kit::html::between;
use crate::kit::http::header;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

const DEMO_PASSWORD: &str = "Demo-Passw0rd!";

/// `text` with `from` replaced by `to`, which must be there (the shipped file changed otherwise).
fn replaced(text: &str, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "config/altgate.yaml no longer has {from:?}"
    );
    text.replacen(from, to, 1)
}

/// The `altgate serve` process of the shipped demo configuration on free ports, its stderr going
/// to a file (not a terminal); killed when dropped.
struct Demo {
    base: String,
    port: u16,
    admin: u16,
    cert: PathBuf,
    log: PathBuf,
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

impl Demo {
    async fn start() -> Demo {
        let dir = tempfile::tempdir().expect("tempdir");
        let (port, admin) = (harness::free_port(), harness::free_port());
        let shipped =
            std::fs::read_to_string(harness::repo().join("config/altgate.yaml")).expect("read");
        let mut yaml = replaced(
            &shipped,
            "listen: 127.0.0.1:8443",
            &format!("listen: 127.0.0.1:{port}"),
        );
        yaml = replaced(
            &yaml,
            "public_url: https://localhost:8443",
            &format!("public_url: https://localhost:{port}"),
        );
        yaml = replaced(
            &yaml,
            "listen: 127.0.0.1:9464",
            &format!("listen: 127.0.0.1:{admin}"),
        );
        let cert = dir.path().join("server.crt");
        for (from, to) in [
            ("certs/server.crt", cert.clone()),
            ("certs/server.key", dir.path().join("server.key")),
            (
                "certs/token-signing.crt",
                dir.path().join("token-signing.crt"),
            ),
            (
                "certs/token-signing.key",
                dir.path().join("token-signing.key"),
            ),
        ] {
            yaml = replaced(&yaml, from, &to.display().to_string());
        }
        let config = dir.path().join("altgate.yaml");
        std::fs::write(&config, yaml).expect("write config");
        let log = dir.path().join("altgate.log");
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_altgate"))
            .args(["serve", "--config"])
            .arg(&config)
            .current_dir(harness::repo())
            .env_remove("RUST_LOG")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .kill_on_drop(true)
            .spawn()
            .expect("start altgate serve");
        for _ in 0..600 {
            if std::fs::read_to_string(&log).is_ok_and(|l| l.contains("altgate listening")) {
                return Demo {
                    base: format!("https://localhost:{port}"),
                    port,
                    admin,
                    cert,
                    log,
                    _child: child,
                    _dir: dir,
                };
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!(
            "the demo did not start:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).expect("log")
    }

    fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }
}

#[tokio::test]
async fn the_shipped_demo_ends_signed_in_in_a_real_browser_with_traceable_errors_and_clean_logs() {
    // Not the forests, but the real components they stand for; and no load on an exclusive test.
    let _g = harness::shared().await;
    let demo = Demo::start().await;
    let shots = tempfile::tempdir().expect("tempdir");
    tokio::task::spawn_blocking(harness::msal_python)
        .await
        .expect("venv");
    let out = tokio::process::Command::new(harness::msal_python())
        .arg(harness::repo().join("scripts/browser_demo.py"))
        .arg("--ca")
        .arg(&demo.cert)
        .args(["--base", &demo.base])
        .args([
            "--username",
            "jdoe@contoso.com",
            "--password",
            DEMO_PASSWORD,
        ])
        .args(["--wrong-password", "Not-It-9"])
        .arg("--screenshots")
        .arg(shots.path())
        .output()
        .await
        .expect("run the browser");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    assert!(out.status.success() && v["ok"] == true, "{v:#}");

    // The sign-in page: branded, labelled, keyboard-usable.
    let page = &v["sign_in_page"];
    assert_eq!(page["html_lang"], "en", "{page:#}");
    assert_eq!(page["title"], "Sign in - Contoso");
    assert_eq!(
        page["logo"]["loaded"], true,
        "the logo is served by altgate: {page:#}"
    );
    assert_eq!(page["logo"]["alt"], "Contoso");
    assert_eq!(
        page["button_background"], "rgb(15, 108, 189)",
        "accent colour"
    );
    assert_eq!(page["button_color"], "rgb(255, 255, 255)");
    assert_eq!(
        page["tab_order"],
        serde_json::json!(["userNameInput", "passwordInput", "submitButton"])
    );
    assert_eq!(page["focus_outline"], "solid 3px");
    for label in page["labels"].as_array().expect("labels") {
        assert_eq!(label["field"], "INPUT", "{label}");
    }
    assert!(page["hint"]
        .as_str()
        .is_some_and(|h| h.ends_with("for example jdoe@contoso.com")));
    assert!(page["help_desk"]
        .as_str()
        .is_some_and(|h| h.contains("Demo-Passw0rd!")));
    assert!(v["wrong_password"]["error_text"]
        .as_str()
        .is_some_and(|t| t.starts_with("Incorrect user ID or password")));
    assert_eq!(v["wrong_password"]["username_kept"], "jdoe@contoso.com");

    // Signed in at the demo application, which verified the token and shows the claims.
    let done = &v["signed_in"];
    assert_eq!(done["heading"], "Signed in", "{done:#}");
    assert_eq!(done["url"], format!("{}/demo/wsfed", demo.base));
    assert!(done["who"].as_str().is_some_and(|w| w.contains("John Doe")));
    let claims: Vec<(String, String)> =
        serde_json::from_value(done["claims"].clone()).expect("claims");
    for (uri, value) in [
        ("http://schemas.xmlsoap.org/claims/UPN", "jdoe@contoso.com"),
        (
            "http://schemas.microsoft.com/ws/2013/11/alternateloginid",
            "jdoe@contoso.com",
        ),
        (
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
            "John Doe",
        ),
    ] {
        assert!(
            claims.iter().any(|(u, v)| u == uri && v == value),
            "{uri} = {value} in {claims:?}"
        );
    }
    assert!(done["session"]
        .as_str()
        .is_some_and(|s| s.contains("jdoe@contoso.com")));
    assert_eq!(
        v["signed_out"]["session"],
        "This browser has no altgate SSO session."
    );

    // The error page: the activity ID and the time, and the same ID in the audit log.
    let err = &v["error_page"];
    let activity = err["activity_id"]
        .as_str()
        .expect("activity id")
        .to_string();
    assert_eq!(activity.len(), 36, "{err:#}");
    assert!(err["time"].as_str().is_some_and(|t| t.ends_with('Z')));
    let log = demo.log();
    let refusal = log
        .lines()
        .find(|l| {
            l.contains(&format!("activity_id={activity}")) && l.contains("passive_request_refused")
        })
        .unwrap_or_else(|| panic!("no audit event with activity {activity} in\n{log}"));
    assert!(
        refusal.contains("requested=\"urn:altgate:not-registered\""),
        "{refusal}"
    );

    // The response header carries the id the page shows; an untrusted client cannot pick it.
    let (status, headers, body) = harness::browse(
        demo.addr(),
        &demo.cert,
        "GET",
        "/adfs/ls/?wa=wsignin1.0&wtrealm=urn%3Aaltgate%3Anot-registered",
        "",
        None,
    )
    .await;
    assert_eq!(status, 400);
    let id = header(&headers, "x-request-id").expect("x-request-id");
    assert_eq!(between(&body, "<dd id=\"activityId\">", "</dd>"), Some(id));
    let (_, headers, _) =
        harness::browse(demo.addr(), &demo.cert, "GET", "/adfs/probe", "", None).await;
    assert!(header(&headers, "x-request-id").is_some_and(|h| h.len() == 36));

    // Logs fit where they go: no colour in a file, no warnings at a demo's start.
    assert!(
        !log.contains('\u{1b}'),
        "escape codes in a log file:\n{log}"
    );
    let startup: Vec<&str> = log
        .lines()
        .take_while(|l| !l.contains("altgate listening"))
        .collect();
    assert!(
        startup
            .iter()
            .all(|l| !l.contains(" WARN ") && !l.contains(" ERROR ")),
        "{startup:#?}"
    );
    assert!(startup
        .iter()
        .any(|l| l.contains(&format!("open={}/demo/", demo.base))));

    // Demo metrics: the embedded directory counts like the LDAP one.
    let (status, _, metrics) = harness::admin_get(
        std::net::SocketAddr::from(([127, 0, 0, 1], demo.admin)),
        "/metrics",
        None,
    )
    .await;
    assert_eq!(status, 200);
    for series in [
        "altgate_forest_up{forest=\"contoso.com\"} 1",
        "altgate_forest_up{forest=\"fabrikam.com\"} 1",
        "altgate_directory_searches_total{forest=\"contoso.com\",query=\"alternate_login_id\",result=\"ok\"}",
        "altgate_binds_total{domain=\"contoso.com\",result=\"ok\"} 1",
        "altgate_binds_total{domain=\"contoso.com\",result=\"wrong_password\"} 1",
        "altgate_http_requests_total{endpoint=\"demo\",status=\"200\"}",
        "altgate_http_requests_total{endpoint=\"logo\",status=\"200\"}",
    ] {
        assert!(metrics.contains(series), "{series} missing from\n{metrics}");
    }

    // The screenshots the README shows come from this run.
    let docs = harness::repo().join("docs/screenshots");
    for name in ["sign-in.png", "signed-in.png", "error.png"] {
        let png = std::fs::read(shots.path().join(name)).expect(name);
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}");
        assert!(png.len() < 400 * 1024, "{name} is {} bytes", png.len());
        if std::env::var_os("ALTGATE_UPDATE_SCREENSHOTS").is_some() {
            std::fs::create_dir_all(&docs).expect("docs/screenshots");
            std::fs::write(docs.join(name), &png).expect("write screenshot");
        }
        assert!(
            docs.join(name).is_file(),
            "docs/screenshots/{name} is missing: run with ALTGATE_UPDATE_SCREENSHOTS=1"
        );
    }
}

#[test]
fn the_demo_prometheus_configuration_is_valid() {
    harness::prepared();
    let out = Command::new("promtool")
        .args(["check", "config"])
        .arg(harness::repo().join("dashboards/prometheus-demo.yml"))
        .output()
        .expect("promtool must be installed (scripts/test.sh installs Debian's prometheus)");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(harness::repo().join("dashboards/prometheus-demo.yml"))
        .expect("read");
    let config = altgate::config::Config::load(&harness::repo().join("config/altgate.yaml"))
        .expect("shipped config");
    let admin = config.admin.expect("the demo has an admin listener").listen;
    assert!(
        text.contains(&format!("'{admin}'")),
        "scrapes the demo's admin listener {admin}"
    );
}
