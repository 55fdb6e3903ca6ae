//! Must change at next logon, and an expired password, in headless Chromium: the change page,
//! then signed in at a pysaml2 SP.

use super::*;

/// A pysaml2 SP (scripts/saml_sp.py) on `port`, killed when dropped.
async fn start_sp(port: u16, idp_metadata: &Path) -> tokio::process::Child {
    let child = tokio::process::Command::new(harness::msal_python())
        .arg(harness::repo().join("scripts/saml_sp.py"))
        .args([
            "--port",
            &port.to_string(),
            "--name",
            "SP 1",
            "--idp-metadata",
        ])
        .arg(idp_metadata)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start saml_sp.py");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
            && harness::http_plain(port, "GET", "/health", None).await.0 == 200
        {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("SP on {port} did not start");
}

/// Why the user must change the password: the bind's answer and the page's first words.
#[derive(Clone, Copy)]
enum Why {
    MustChange,
    Expired,
}

impl Why {
    fn reason(self) -> &'static str {
        match self {
            Why::MustChange => "must_change_password",
            Why::Expired => "password_expired",
        }
    }
    fn intro(self) -> &'static str {
        match self {
            Why::MustChange => "You must change your password",
            Why::Expired => "Your password has expired",
        }
    }
}

#[tokio::test]
async fn must_change_at_next_logon_in_headless_chromium_then_signed_in_at_the_sp() {
    let _g = harness::shared().await;
    with_user(|user| browser_flow(user, Why::MustChange)).await;
}

#[tokio::test]
async fn an_expired_password_in_headless_chromium_then_signed_in_at_the_sp() {
    let _g = harness::shared().await;
    with_user(|user| browser_flow(user, Why::Expired)).await;
}

async fn browser_flow(user: TestUser, why: Why) {
    match why {
        Why::MustChange => must_change(&user).await,
        Why::Expired => expire(&user, OLD).await,
    }
    // What Samba answers: 773 or 532 for the right password, 52e (never those) for a wrong one.
    assert_eq!(bind(&user, OLD).await, Err(why.reason().into()));
    assert_eq!(
        bind(&user, "Not-The-Pw-9").await,
        Err("wrong_password".into())
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let port = harness::free_port();
    tokio::task::spawn_blocking(harness::msal_python)
        .await
        .expect("venv");
    let md = dir.path().join("sp.xml");
    let out = std::process::Command::new(harness::msal_python())
        .arg(harness::repo().join("scripts/saml_sp.py"))
        .args([
            "--port",
            &port.to_string(),
            "--name",
            "SP 1",
            "--write-metadata",
        ])
        .arg(&md)
        .output()
        .expect("saml_sp.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rp = format!(
        "  - {{ identifier: 'http://localhost:{port}/metadata', token_type: saml20, metadata_file: '{}', sign: assertion, claims: [upn, immutable_id, name] }}\n",
        md.display()
    );
    let s = TestServer::start_with_server("", &rp, "").await;
    let (status, _, idp_md) = s
        .browse(
            "GET",
            "/FederationMetadata/2007-06/FederationMetadata.xml",
            "",
            None,
        )
        .await;
    assert_eq!(status, 200);
    let idp_file = dir.path().join("idp.xml");
    std::fs::write(&idp_file, idp_md).expect("write");
    let _sp = start_sp(port, &idp_file).await;

    // WS-Trust first: the usual fault and the audit reason.
    let (status, body) = wstrust(&s, &user.mail, OLD).await;
    refused_without_token(status, &body);
    assert_eq!(
        metric(
            &s.app.metrics,
            &format!(
                "altgate_sign_in_failures_total{{reason=\"{}\"}}",
                why.reason()
            )
        ),
        1.0
    );

    let out = tokio::process::Command::new(harness::msal_python())
        .arg(harness::repo().join("scripts/browser_change_password.py"))
        .arg("--ca")
        .arg(&s.ca)
        .args(["--sp", &format!("http://localhost:{port}")])
        .args([
            "--username",
            &user.mail,
            "--old-password",
            OLD,
            "--new-password",
            NEW,
        ])
        .args(["--weak-password", "abc", "--mismatch"])
        .output()
        .await
        .expect("run the browser");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    assert!(out.status.success() && v["ok"] == true, "{v:#}");
    let page = &v["sp"]["change_page"];
    assert_eq!(page["old_password_in_page"], false, "{v:#}");
    assert_eq!(
        page["hidden_fields"],
        serde_json::json!(["PasswordChangeState", "csrf"]),
        "{v:#}"
    );
    assert!(
        page["intro"]
            .as_str()
            .is_some_and(|t| t.starts_with(why.intro())),
        "{v:#}"
    );
    assert!(
        v["sp"]["mismatch"]["error_text"]
            .as_str()
            .is_some_and(|t| t.starts_with("The new passwords don't match")),
        "{v:#}"
    );
    assert!(
        v["sp"]["weak_password"]["error_text"]
            .as_str()
            .is_some_and(|t| t.starts_with(POLICY_TEXT)),
        "{v:#}"
    );
    assert_eq!(v["sp"]["weak_password"]["form_shown_again"], true, "{v:#}");
    assert!(
        v["sp"]["signed_in_text"]
            .as_str()
            .is_some_and(|t| t.starts_with("Signed in to SP 1 as ")),
        "{v:#}"
    );
    assert_eq!(events(&s, "password_change_succeeded"), 1.0);
    assert_eq!(
        events(&s, "password_change_failed"),
        1.0,
        "the weak password"
    );

    assert_eq!(bind(&user, OLD).await, Err("wrong_password".into()));
    assert_eq!(bind(&user, NEW).await, Ok(()));
}
