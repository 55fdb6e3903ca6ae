//! Browser sign-in against the real forests: WS-Federation round trips whose `wresult` token
//! xmlsec1 verifies, SAML 2.0 through a real SP library (pysaml2) and through a real headless
//! browser (Chromium), SSO across relying parties, SSO sessions ended by their account (a
//! password reset, a disable, on throwaway users), hostile requests, and what unsigned requests
//! may cost and do (no RSA signature for IsPassive or LogoutRequest floods, no sign-out by an
//! unsigned LogoutRequest from an SP that must sign, no WS-Fed or IdP-initiated token for a
//! relying party that requires signed requests).

use crate::ad_users;
use crate::harness::{self, metric, TestServer};
use crate::kit::html::{enc, form, hidden};
use base64::Engine;

const WSFED_RP: &str = "urn:wsfed:altgate-test";
const WSFED_REPLY: &str = "https://rp.altgate.test/wsfed";

/// The relying parties these tests use, beside the harness's own.
fn passive_yaml() -> String {
    format!(
        "  - {{ identifier: '{WSFED_RP}', token_type: saml11, reply_urls: ['{WSFED_REPLY}'], claims: [upn, immutable_id, alternate_login_id, name] }}\n"
    )
}

async fn server() -> TestServer {
    // Appended relying parties extend the harness's list (YAML flow continues the sequence).
    TestServer::start_with_relying_parties(&passive_yaml()).await
}

/// A server reading the account's state for SSO on a DC at most every `max_age`.
async fn server_reading_every(max_age: &str) -> TestServer {
    TestServer::start_with_server(
        "",
        &passive_yaml(),
        &format!("passive: {{ account_state_max_age: {max_age} }}\n"),
    )
    .await
}

#[tokio::test]
async fn wsfed_round_trip_with_sso_and_sign_out() {
    let _g = harness::shared().await;
    let s = server().await;
    let pw = harness::forests().user_password.clone();
    let (cert, _) = harness::signing_pair();
    let start = format!(
        "/adfs/ls/?wa=wsignin1.0&wtrealm={}&wctx=rp-context",
        enc(WSFED_RP)
    );
    let (status, headers, page) = s.browse("GET", &start, "", None).await;
    assert_eq!(status, 200);
    for h in [
        "content-security-policy",
        "x-frame-options",
        "cache-control",
    ] {
        assert!(
            headers.iter().any(|(k, _)| k == h),
            "{h} missing: {headers:?}"
        );
    }
    assert!(page.contains("id=\"userNameInput\"") && page.contains("id=\"passwordInput\""));
    let csrf_cookie = harness::set_cookie(&headers, "__Host-altgate-csrf").expect("csrf cookie");
    let body = form(&[
        ("UserName", "jdoe@contoso.com"),
        ("Password", &pw),
        ("AuthMethod", "FormsAuthentication"),
        ("csrf", &hidden(&page, "csrf").expect("csrf")),
        ("ctx", &hidden(&page, "ctx").expect("ctx")),
    ]);
    let (status, headers, done) = s
        .browse("POST", "/adfs/ls/", &csrf_cookie, Some(body))
        .await;
    assert_eq!(status, 200, "{done}");
    assert!(done.contains(&format!("action=\"{WSFED_REPLY}\"")));
    assert_eq!(hidden(&done, "wa").as_deref(), Some("wsignin1.0"));
    assert_eq!(hidden(&done, "wctx").as_deref(), Some("rp-context"));
    let wresult = hidden(&done, "wresult").expect("wresult");
    assert!(
        harness::xmlsec_verify(
            &wresult,
            cert,
            "AssertionID",
            "urn:oasis:names:tc:SAML:1.0:assertion:Assertion"
        ),
        "{wresult}"
    );
    assert!(wresult.contains("AttributeName=\"UPN\" AttributeNamespace=\"http://schemas.xmlsoap.org/claims\"><saml:AttributeValue>jdoe@contoso.com</saml:AttributeValue>"), "{wresult}");
    let sso = harness::set_cookie(&headers, "__Host-altgate-sso").expect("session cookie");

    // Minutes later, the same or another WS-Fed app: no password.
    let (status, _, again) = s.browse("GET", &start, &sso, None).await;
    assert_eq!(status, 200);
    assert!(!again.contains("userNameInput"));
    assert!(harness::xmlsec_verify(
        &hidden(&again, "wresult").expect("wresult"),
        cert,
        "AssertionID",
        "urn:oasis:names:tc:SAML:1.0:assertion:Assertion"
    ));
    assert_eq!(
        metric(
            &s.app.metrics,
            "altgate_sso_sessions_total{result=\"reused\"}"
        ),
        1.0
    );
    assert_eq!(metric(&s.app.metrics, "altgate_tokens_issued_total{protocol=\"wsfed\",relying_party=\"urn:wsfed:altgate-test\"}"), 2.0);

    // Sign-out ends it.
    let (status, headers, _) = s
        .browse(
            "GET",
            &format!("/adfs/ls/?wa=wsignout1.0&wreply={}", enc(WSFED_REPLY)),
            &sso,
            None,
        )
        .await;
    assert_eq!(status, 302);
    assert!(headers
        .iter()
        .any(|(k, v)| k == "location" && v == WSFED_REPLY));
    assert!(headers
        .iter()
        .any(|(k, v)| k == "set-cookie" && v.starts_with("__Host-altgate-sso=;")));

    // A forged or foreign cookie is worth nothing.
    let (_, _, page) = s
        .browse(
            "GET",
            &start,
            "__Host-altgate-sso=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            None,
        )
        .await;
    assert!(page.contains("userNameInput"));
    assert_eq!(
        metric(
            &s.app.metrics,
            "altgate_sso_sessions_total{result=\"invalid\"}"
        ),
        1.0
    );
}

#[tokio::test]
async fn hostile_browser_requests_get_an_error_page_an_event_and_no_token() {
    let _g = harness::shared().await;
    let s = server().await;
    let pw = harness::forests().user_password.clone();
    let huge = "A".repeat(70 * 1024);
    let cases: Vec<(String, &str, Option<Vec<u8>>, u16)> = vec![
        (
            format!(
                "/adfs/ls/?wa=wsignin1.0&wtrealm={}&wreply={}",
                enc(WSFED_RP),
                enc("https://evil.example/collect")
            ),
            "GET",
            None,
            400,
        ),
        (
            "/adfs/ls/?wa=wsignin1.0&wtrealm=urn:not-registered".into(),
            "GET",
            None,
            400,
        ),
        (
            "/adfs/ls/?SAMLRequest=%21%21not-base64&RelayState=x".into(),
            "GET",
            None,
            400,
        ),
        (
            format!(
                "/adfs/ls/?SAMLRequest={}",
                enc(&base64::engine::general_purpose::STANDARD.encode(b"<not deflated xml/>"))
            ),
            "GET",
            None,
            400,
        ),
        (
            format!(
                "/adfs/ls/?wa=wsignin1.0&wtrealm={}&wctx={}",
                enc(WSFED_RP),
                "x".repeat(20 * 1024)
            ),
            "GET",
            None,
            400,
        ),
        (
            "/adfs/ls/".into(),
            "POST",
            Some(format!("SAMLRequest={huge}").into_bytes()),
            413,
        ),
        (
            "/adfs/ls/".into(),
            "POST",
            Some(form(&[
                ("UserName", "jdoe@contoso.com"),
                ("Password", &pw),
                ("csrf", "x"),
                ("ctx", "bm9wZQ"),
            ])),
            400,
        ),
        (
            "/adfs/ls/IdpInitiatedSignOn.aspx?loginToRp=urn:federation:MicrosoftOnline".into(),
            "GET",
            None,
            400,
        ),
    ];
    for (path, method, body, status) in cases {
        let (got, headers, page) = s.browse(method, &path, "", body).await;
        assert_eq!(got, status, "{path}: {page}");
        assert!(
            !page.contains("wresult") && !page.contains("SAMLResponse"),
            "{path}: no token"
        );
        assert!(
            !headers.iter().any(|(k, _)| k == "location"),
            "{path}: no redirect"
        );
        assert!(page.contains("id=\"errorText\""), "{path}");
        // The activity ID the page shows is the response's X-Request-Id.
        let id = headers
            .iter()
            .find(|(k, _)| k == "x-request-id")
            .map(|(_, v)| v.as_str())
            .expect("x-request-id");
        assert!(
            page.contains(&format!("<dd id=\"activityId\">{id}</dd>")),
            "{path}: {page}"
        );
    }
    assert!(
        metric(
            &s.app.metrics,
            "altgate_events_total{category=\"audit\",event=\"passive_request_refused\"}"
        ) >= 7.0
    );

    // A real form whose CSRF token does not match its cookie.
    let (_, headers, page) = s
        .browse(
            "GET",
            &format!("/adfs/ls/?wa=wsignin1.0&wtrealm={}", enc(WSFED_RP)),
            "",
            None,
        )
        .await;
    let cookie = harness::set_cookie(&headers, "__Host-altgate-csrf").expect("cookie");
    let body = form(&[
        ("UserName", "jdoe@contoso.com"),
        ("Password", &pw),
        ("csrf", "forged"),
        ("ctx", &hidden(&page, "ctx").expect("ctx")),
    ]);
    let (status, _, page) = s.browse("POST", "/adfs/ls/", &cookie, Some(body)).await;
    assert_eq!(status, 400);
    assert!(!page.contains("wresult"));
    assert_eq!(
        metric(
            &s.app.metrics,
            "altgate_binds_total{domain=\"contoso.com\",result=\"ok\"}"
        ),
        0.0,
        "no bind without a valid form"
    );
}

/// A pysaml2 service provider (scripts/saml_sp.py) running on `port`; killed when dropped.
pub(crate) struct Sp {
    port: u16,
    _child: tokio::process::Child,
}

pub(crate) fn sp_metadata(port: u16, name: &str, dir: &std::path::Path) -> std::path::PathBuf {
    let file = dir.join(format!("sp-{port}.xml"));
    let out = std::process::Command::new(harness::msal_python())
        .arg(harness::repo().join("scripts/saml_sp.py"))
        .args([
            "--port",
            &port.to_string(),
            "--name",
            name,
            "--write-metadata",
        ])
        .arg(&file)
        .output()
        .expect("run saml_sp.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    file
}

pub(crate) async fn start_sp(
    port: u16,
    name: &str,
    idp_metadata: &std::path::Path,
    extra: &[&str],
) -> Sp {
    let child = tokio::process::Command::new(harness::msal_python())
        .arg(harness::repo().join("scripts/saml_sp.py"))
        .args([
            "--port",
            &port.to_string(),
            "--name",
            name,
            "--idp-metadata",
        ])
        .arg(idp_metadata)
        .args(extra)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start saml_sp.py");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            let (status, _, _) = harness::http_plain(port, "GET", "/health", None).await;
            if status == 200 {
                return Sp {
                    port,
                    _child: child,
                };
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("SP on {port} did not start");
}

/// Two pysaml2 SPs registered in altgate through their metadata files, and altgate's metadata
/// for them.
async fn server_with_sps(
    dir: &std::path::Path,
    ports: [u16; 2],
    sign: &str,
) -> (TestServer, std::path::PathBuf) {
    tokio::task::spawn_blocking(harness::msal_python)
        .await
        .expect("venv");
    let mut rps = passive_yaml();
    for (i, port) in ports.iter().enumerate() {
        let md = sp_metadata(*port, &format!("SP {}", i + 1), dir);
        rps.push_str(&format!(
            "  - {{ identifier: 'http://localhost:{port}/metadata', token_type: saml20, metadata_file: '{}', sign: {sign}, claims: [upn, immutable_id, alternate_login_id, name] }}\n",
            md.display()
        ));
    }
    let s = TestServer::start_with_relying_parties(&rps).await;
    let (status, _, md) = s
        .browse(
            "GET",
            "/FederationMetadata/2007-06/FederationMetadata.xml",
            "",
            None,
        )
        .await;
    assert_eq!(status, 200);
    let file = dir.join("idp-metadata.xml");
    std::fs::write(&file, md).expect("write metadata");
    (s, file)
}

#[tokio::test]
async fn a_real_saml_sp_library_accepts_altgates_responses() {
    let _g = harness::shared().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ports = [harness::free_port(), harness::free_port()];
    let (s, idp_md) = server_with_sps(dir.path(), ports, "both").await;
    let sp = start_sp(ports[0], "SP 1", &idp_md, &["--want-response-signed"]).await;
    let pw = harness::forests().user_password.clone();

    // SP-initiated: the SP redirects to altgate with a deflated AuthnRequest.
    let (status, headers, _) = harness::http_plain(sp.port, "GET", "/login", None).await;
    assert_eq!(status, 302);
    let location = headers
        .iter()
        .find(|(k, _)| k == "location")
        .map(|(_, v)| v.clone())
        .expect("location");
    let path = location
        .strip_prefix(&s.base)
        .expect("redirects to altgate")
        .to_string();
    assert!(path.starts_with("/adfs/ls/?SAMLRequest="), "{path}");
    let (status, headers, page) = s.browse("GET", &path, "", None).await;
    assert_eq!(status, 200, "{page}");
    let csrf = harness::set_cookie(&headers, "__Host-altgate-csrf").expect("csrf");
    let body = form(&[
        ("UserName", "jdoe@contoso.com"),
        ("Password", &pw),
        ("csrf", &hidden(&page, "csrf").expect("csrf")),
        ("ctx", &hidden(&page, "ctx").expect("ctx")),
    ]);
    let (status, _, done) = s.browse("POST", "/adfs/ls/", &csrf, Some(body)).await;
    assert_eq!(status, 200, "{done}");
    assert!(done.contains(&format!("action=\"http://localhost:{}/acs\"", sp.port)));
    let response = hidden(&done, "SAMLResponse").expect("SAMLResponse");
    let relay = hidden(&done, "RelayState").expect("RelayState preserved");

    // A tampered copy is refused by the SP (signature), the real one accepted.
    let xml = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(&response)
            .expect("b64"),
    )
    .expect("utf-8");
    let tampered = base64::engine::general_purpose::STANDARD.encode(xml.replacen(
        "jdoe@contoso.com",
        "jdoe@contoso.org",
        1,
    ));
    let (status, _, page) = harness::http_plain(
        sp.port,
        "POST",
        "/acs",
        Some(form(&[("SAMLResponse", &tampered), ("RelayState", &relay)])),
    )
    .await;
    assert_eq!(status, 403, "a tampered response must be rejected: {page}");
    let (status, _, page) = harness::http_plain(
        sp.port,
        "POST",
        "/acs",
        Some(form(&[("SAMLResponse", &response), ("RelayState", &relay)])),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let immutable = s
        .app
        .resolver
        .resolve("jdoe@contoso.com")
        .await
        .account
        .as_ref()
        .and_then(|a| a.immutable_id.clone())
        .expect("id");
    assert!(
        page.contains(&format!(
            "id=\"signed-in\">Signed in to SP 1 as {immutable}"
        )),
        "{page}"
    );
    assert!(page.contains("jdoe@contoso.com"), "UPN claim: {page}");
    // And the SP refuses the same response twice.
    let (status, _, _) = harness::http_plain(
        sp.port,
        "POST",
        "/acs",
        Some(form(&[("SAMLResponse", &response), ("RelayState", &relay)])),
    )
    .await;
    assert_eq!(status, 403);
    // Replaying the AuthnRequest at altgate yields no second response.
    let (status, _, page) = s.browse("GET", &path, "", None).await;
    assert_eq!(status, 400, "{page}");
}

#[tokio::test]
async fn headless_chromium_signs_in_through_one_sp_and_into_another_without_the_form() {
    let _g = harness::shared().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ports = [harness::free_port(), harness::free_port()];
    let (s, idp_md) = server_with_sps(dir.path(), ports, "assertion").await;
    let _sp1 = start_sp(ports[0], "SP 1", &idp_md, &[]).await;
    let _sp2 = start_sp(ports[1], "SP 2", &idp_md, &[]).await;
    let pw = harness::forests().user_password.clone();
    let out = tokio::process::Command::new(harness::msal_python())
        .arg(harness::repo().join("scripts/browser_signin.py"))
        .arg("--ca")
        .arg(&s.ca)
        .args(["--sp1", &format!("http://localhost:{}", ports[0])])
        .args(["--sp2", &format!("http://localhost:{}", ports[1])])
        .args([
            "--username",
            "jdoe@contoso.com",
            "--password",
            &pw,
            "--wrong-password",
            "Not-It-9",
        ])
        .output()
        .await
        .expect("run the browser");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    assert!(out.status.success() && v["ok"] == true, "{v:#}");
    assert!(
        v["sp1"]["wrong_password"]["error_text"]
            .as_str()
            .is_some_and(|t| t.starts_with("Incorrect user ID or password")),
        "{v:#}"
    );
    assert!(
        v["sp1"]["signed_in_text"]
            .as_str()
            .is_some_and(|t| t.starts_with("Signed in to SP 1 as ")),
        "{v:#}"
    );
    assert_eq!(v["sp2"]["sign_in_form_shown"], false, "{v:#}");
    assert!(
        v["sp2"]["signed_in_text"]
            .as_str()
            .is_some_and(|t| t.starts_with("Signed in to SP 2 as ")),
        "{v:#}"
    );
    assert_eq!(
        metric(
            &s.app.metrics,
            "altgate_sso_sessions_total{result=\"reused\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(
            &s.app.metrics,
            "altgate_sign_in_failures_total{reason=\"wrong_password\"}"
        ),
        1.0
    );
}

const SIGNED_SP: &str = "https://signed-sp.altgate.test/metadata";
const SIGNED_ACS: &str = "https://signed-sp.altgate.test/acs";

/// A deflated, base64'd, URL-encoded AuthnRequest from the signing SP (HTTP-Redirect binding).
fn signed_sp_request(id: &str) -> String {
    use std::io::Write;
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("time");
    let xml = format!(
        "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{now}\" AssertionConsumerServiceURL=\"{SIGNED_ACS}\"><saml:Issuer>{SIGNED_SP}</saml:Issuer></samlp:AuthnRequest>"
    );
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(xml.as_bytes()).expect("deflate");
    enc(&base64::engine::general_purpose::STANDARD.encode(e.finish().expect("deflate")))
}

/// Signs a Redirect-binding query the way an SP does, with OpenSSL (RSA-SHA256 over
/// `SAMLRequest=…&RelayState=…&SigAlg=…`), and appends the Signature.
fn openssl_signed_query(saml_request: &str, key: &std::path::Path) -> String {
    use std::io::Write;
    let signed = format!(
        "SAMLRequest={saml_request}&RelayState=rs&SigAlg={}",
        enc("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")
    );
    let mut child = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run openssl");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(signed.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("openssl");
    assert!(out.status.success());
    format!(
        "{signed}&Signature={}",
        enc(&base64::engine::general_purpose::STANDARD.encode(out.stdout))
    )
}

#[tokio::test]
async fn an_encoded_parameter_name_cannot_ride_on_a_captured_signed_request() {
    let _g = harness::shared().await;
    // The SP signs with the harness's (OpenSSL-made) pair; altgate holds its certificate.
    let (cert, key) = harness::signing_pair();
    let rps = format!(
        "{}  - {{ identifier: '{SIGNED_SP}', token_type: saml20, reply_urls: ['{SIGNED_ACS}'], require_signed_requests: true, signing_cert_file: '{}' }}\n",
        passive_yaml(),
        cert.display()
    );
    let s = TestServer::start_with_relying_parties(&rps).await;
    let captured = openssl_signed_query(&signed_sp_request("_captured-1"), key);
    let (status, _, page) = s
        .browse("GET", &format!("/adfs/ls/?{captured}"), "", None)
        .await;
    assert_eq!(status, 200, "the genuine signed request: {page}");
    assert!(page.contains("userNameInput"));

    // The attacker's own request, under a percent-encoded name, next to the captured one.
    let forged = signed_sp_request("_forged-1");
    for path in [
        format!("/adfs/ls/?SAML%52equest={forged}&{captured}"),
        format!("/adfs/ls/?{captured}&SAML%52equest={forged}"),
        format!("/adfs/ls/?SAMLRequest={forged}&{captured}"),
    ] {
        let (status, headers, page) = s.browse("GET", &path, "", None).await;
        assert_eq!(status, 400, "{path}: {page}");
        assert!(page.contains("id=\"errorText\""), "{path}");
        assert!(!page.contains("userNameInput") && !page.contains("SAMLResponse"));
        assert!(!headers.iter().any(|(k, _)| k == "location"));
    }
    assert_eq!(
        metric(
            &s.app.metrics,
            "altgate_token_failures_total{protocol=\"saml\",reason=\"encoded_parameter_name\",relying_party=\"unknown\"}"
        ),
        2.0
    );
    assert_eq!(
        metric(
            &s.app.metrics,
            "altgate_token_failures_total{protocol=\"saml\",reason=\"duplicate_parameter\",relying_party=\"unknown\"}"
        ),
        1.0
    );
}

/// The browser sign-in form for `login` at `start`: returns the SSO cookie (`name=value`).
async fn form_sign_in(s: &TestServer, start: &str, login: &str, password: &str) -> String {
    let (status, headers, page) = s.browse("GET", start, "", None).await;
    assert_eq!(status, 200, "{page}");
    let csrf_cookie = harness::set_cookie(&headers, "__Host-altgate-csrf").expect("csrf cookie");
    let body = form(&[
        ("UserName", login),
        ("Password", password),
        ("AuthMethod", "FormsAuthentication"),
        ("csrf", &hidden(&page, "csrf").expect("csrf")),
        ("ctx", &hidden(&page, "ctx").expect("ctx")),
    ]);
    let (status, headers, done) = s
        .browse("POST", "/adfs/ls/", &csrf_cookie, Some(body))
        .await;
    assert_eq!(status, 200, "{done}");
    assert!(
        hidden(&done, "wresult").is_some(),
        "{login} signed in: {done}"
    );
    harness::set_cookie(&headers, "__Host-altgate-sso").expect("session cookie")
}

/// Uses the SSO cookie at `start`: true when it gave a token without the form. Checks that a
/// refusal shows the form and says whether it cleared the cookie.
async fn sso(s: &TestServer, start: &str, cookie: &str) -> (bool, bool) {
    let (status, headers, page) = s.browse("GET", start, cookie, None).await;
    assert_eq!(status, 200, "{page}");
    let token = hidden(&page, "wresult").is_some_and(|w| w.contains("Assertion"));
    assert_eq!(
        token,
        !page.contains("userNameInput"),
        "a token or the form"
    );
    let cleared = headers
        .iter()
        .any(|(k, v)| k == "set-cookie" && v.starts_with("__Host-altgate-sso=;"));
    (token, cleared)
}

/// The session keeps whole seconds and a password set during the sign-in's own second counts
/// as newer: a test signs in a second after it last set the password.
async fn next_second() {
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
}

#[tokio::test]
async fn a_password_reset_ends_the_sso_session_at_its_next_use() {
    let _g = harness::shared().await;
    let pw = harness::forests().user_password.clone();
    ad_users::with_user("contoso.com", "sso-reset", &pw.clone(), |user| async move {
        let s = server_reading_every("0s").await;
        let start = format!("/adfs/ls/?wa=wsignin1.0&wtrealm={}", enc(WSFED_RP));
        next_second().await;
        let cookie = form_sign_in(&s, &start, &user.mail, &pw).await;
        assert_eq!(sso(&s, &start, &cookie).await, (true, false), "SSO before the reset");

        // The domain administrator resets the password: the very next use ends the session.
        let new_pw = "Reset-Altgate-Pw2!";
        ad_users::reset_password(&user, new_pw).await;
        assert_eq!(sso(&s, &start, &cookie).await, (false, true), "after the reset");
        let m = &s.app.metrics;
        assert_eq!(
            metric(m, "altgate_sso_sessions_total{result=\"password_changed\"}"),
            1.0
        );
        assert_eq!(metric(m, "altgate_sso_sessions_total{result=\"reused\"}"), 1.0);
        assert_eq!(
            metric(
                m,
                "altgate_events_total{category=\"audit\",event=\"sso_session_ended\"}"
            ),
            1.0
        );
        // Read on the account's DC, not the global catalog.
        assert!(
            metric(
                m,
                "altgate_directory_searches_total{forest=\"contoso.com\",query=\"account_state\",result=\"ok\"}"
            ) >= 2.0
        );

        // The new password starts a session that lives on.
        next_second().await;
        let renewed = form_sign_in(&s, &start, &user.mail, new_pw).await;
        assert_eq!(sso(&s, &start, &renewed).await, (true, false), "new session");
        assert_eq!(sso(&s, &start, &cookie).await, (false, true), "the old one stays over");
    })
    .await;
}

#[tokio::test]
async fn disabling_the_account_ends_the_sso_session_at_its_next_use() {
    let _g = harness::shared().await;
    let pw = harness::forests().user_password.clone();
    ad_users::with_user(
        "contoso.com",
        "sso-disable",
        &pw.clone(),
        |user| async move {
            let s = server_reading_every("0s").await;
            let start = format!("/adfs/ls/?wa=wsignin1.0&wtrealm={}", enc(WSFED_RP));
            next_second().await;
            let cookie = form_sign_in(&s, &start, &user.mail, &pw).await;
            assert_eq!(
                sso(&s, &start, &cookie).await,
                (true, false),
                "SSO while enabled"
            );

            // Disabled (the resolution cache still holds the login, enabled): ended at once.
            ad_users::set_enabled(&user, false).await;
            assert_eq!(
                sso(&s, &start, &cookie).await,
                (false, true),
                "while disabled"
            );
            assert_eq!(
                metric(
                    &s.app.metrics,
                    "altgate_sso_sessions_total{result=\"account_disabled\"}"
                ),
                1.0
            );

            // Enabled again: the password signs in as before.
            ad_users::set_enabled(&user, true).await;
            let renewed = form_sign_in(&s, &start, &user.mail, &pw).await;
            assert_eq!(sso(&s, &start, &renewed).await, (true, false), "re-enabled");
        },
    )
    .await;
}

#[tokio::test]
async fn with_a_freshness_window_reuse_reads_the_dc_once_and_a_disable_ends_the_session_within_it()
{
    let _g = harness::shared().await;
    let pw = harness::forests().user_password.clone();
    ad_users::with_user(
        "contoso.com",
        "sso-window",
        &pw.clone(),
        |user| async move {
            let s = server_reading_every("3s").await;
            let start = format!("/adfs/ls/?wa=wsignin1.0&wtrealm={}", enc(WSFED_RP));
            next_second().await;
            let cookie = form_sign_in(&s, &start, &user.mail, &pw).await;
            let reads = || {
                metric(
                    &s.app.metrics,
                    "altgate_directory_searches_total{forest=\"contoso.com\",query=\"account_state\",result=\"ok\"}",
                )
            };
            let before = reads();
            for _ in 0..5 {
                assert_eq!(sso(&s, &start, &cookie).await, (true, false), "reuse");
            }
            assert_eq!(reads() - before, 1.0, "five reuses, one DC read");

            // Disabled: the session ends once the window has passed, at the latest.
            ad_users::set_enabled(&user, false).await;
            tokio::time::sleep(std::time::Duration::from_millis(3200)).await;
            assert_eq!(
                sso(&s, &start, &cookie).await,
                (false, true),
                "ended within the window"
            );
            ad_users::set_enabled(&user, true).await;
        },
    )
    .await;
}

/// A deflated, base64'd, URL-encoded LogoutRequest from `issuer` (HTTP-Redirect binding).
fn logout_request(id: &str, issuer: &str) -> String {
    use std::io::Write;
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("time");
    let xml = format!(
        "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{now}\"><saml:Issuer>{issuer}</saml:Issuer><saml:NameID>jdoe@contoso.com</saml:NameID></samlp:LogoutRequest>"
    );
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(xml.as_bytes()).expect("deflate");
    enc(&base64::engine::general_purpose::STANDARD.encode(e.finish().expect("deflate")))
}

/// The SAML message an auto-post page carries, decoded.
fn posted_saml(page: &str) -> String {
    let b64 = hidden(page, "SAMLResponse").unwrap_or_else(|| panic!("no SAMLResponse: {page}"));
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("b64"),
    )
    .expect("utf-8")
}

/// An SP that does not sign (no certificate registered): its LogoutRequests are refused by
/// default.
const PLAIN_SP: &str = "https://plain-sp.altgate.test/metadata";
const PLAIN_ACS: &str = "https://plain-sp.altgate.test/acs";
/// An SP that sends unsigned LogoutRequests and is allowed to (`logout_requests:
/// accept_unsigned`).
const OPEN_SP: &str = "https://open-sp.altgate.test/metadata";

/// The relying parties of the unsigned-request tests: the WS-Fed one, [`SIGNED_SP`] (requires
/// signed requests; signs with the harness pair), [`PLAIN_SP`] and [`OPEN_SP`], every SAML one
/// wanting its responses signed too (`sign: both`).
fn unsigned_yaml() -> String {
    let (cert, _) = harness::signing_pair();
    format!(
        "{}  - {{ identifier: '{SIGNED_SP}', token_type: saml20, sign: both, reply_urls: ['{SIGNED_ACS}'], logout_url: 'https://signed-sp.altgate.test/slo', require_signed_requests: true, signing_cert_file: '{}' }}\n\
         \x20 - {{ identifier: '{PLAIN_SP}', token_type: saml20, sign: both, reply_urls: ['{PLAIN_ACS}'], logout_url: 'https://plain-sp.altgate.test/slo' }}\n\
         \x20 - {{ identifier: '{OPEN_SP}', token_type: saml20, sign: both, reply_urls: ['https://open-sp.altgate.test/acs'], logout_url: 'https://open-sp.altgate.test/slo', logout_requests: accept_unsigned }}\n",
        passive_yaml(),
        cert.display()
    )
}

/// RSA signatures altgate's token-signing key has made.
fn signatures(s: &TestServer) -> u64 {
    s.app
        .tokens
        .signing()
        .expect("token signing")
        .key
        .signatures()
}

#[tokio::test]
async fn is_passive_and_logout_request_floods_cost_no_rsa_signature() {
    let _g = harness::shared().await;
    let s = TestServer::start_with_relying_parties(&unsigned_yaml()).await;
    let before = signatures(&s);
    let n = 50;
    for i in 0..n {
        // IsPassive without a session: the NoPassive response, unsigned although the SP wants
        // signed responses (it carries no assertion).
        let xml = format!(
            "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_passive-{i}\" Version=\"2.0\" IssueInstant=\"{}\" AssertionConsumerServiceURL=\"{PLAIN_ACS}\" IsPassive=\"true\"><saml:Issuer>{PLAIN_SP}</saml:Issuer></samlp:AuthnRequest>",
            time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .expect("time")
        );
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut e, xml.as_bytes()).expect("deflate");
        let q =
            enc(&base64::engine::general_purpose::STANDARD.encode(e.finish().expect("deflate")));
        let (status, _, page) = s
            .browse("GET", &format!("/adfs/ls/?SAMLRequest={q}"), "", None)
            .await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains(&format!("action=\"{PLAIN_ACS}\"")), "{page}");
        let response = posted_saml(&page);
        assert!(response.contains("status:NoPassive"), "{response}");
        assert!(!response.contains("Signature"), "{response}");

        // Unsigned LogoutRequests: refused where they must be signed, answered unsigned where
        // the SP may send them so.
        for sp in [SIGNED_SP, PLAIN_SP] {
            let (status, _, page) = s
                .browse(
                    "GET",
                    &format!(
                        "/adfs/ls/?SAMLRequest={}",
                        logout_request(&format!("_lo-{i}"), sp)
                    ),
                    "",
                    None,
                )
                .await;
            assert_eq!(status, 400, "{sp}: {page}");
        }
        let (status, _, page) = s
            .browse(
                "GET",
                &format!(
                    "/adfs/ls/?SAMLRequest={}",
                    logout_request(&format!("_open-{i}"), OPEN_SP)
                ),
                "",
                None,
            )
            .await;
        assert_eq!(status, 200, "{page}");
        let response = posted_saml(&page);
        assert!(response.starts_with("<samlp:LogoutResponse"), "{response}");
        assert!(!response.contains("Signature"), "{response}");
    }
    assert_eq!(
        signatures(&s) - before,
        0,
        "{} unauthenticated requests made RSA signatures",
        4 * n
    );
    let m = &s.app.metrics;
    assert_eq!(
        metric(
            m,
            "altgate_passive_requests_total{outcome=\"no_passive\",protocol=\"saml\"}"
        ),
        f64::from(n)
    );
    assert_eq!(
        metric(m, "altgate_token_signing_duration_seconds_count"),
        0.0
    );
    assert_eq!(
        metric(
            m,
            &format!("altgate_token_failures_total{{protocol=\"saml\",reason=\"saml_signature\",relying_party=\"{PLAIN_SP}\"}}")
        ),
        f64::from(n)
    );
}

#[tokio::test]
async fn an_unsigned_logout_request_from_an_sp_that_must_sign_does_not_end_the_session() {
    let _g = harness::shared().await;
    let (cert, key) = harness::signing_pair();
    let s = TestServer::start_with_relying_parties(&unsigned_yaml()).await;
    let pw = harness::forests().user_password.clone();
    let start = format!("/adfs/ls/?wa=wsignin1.0&wtrealm={}", enc(WSFED_RP));
    let cookie = form_sign_in(&s, &start, "jdoe@contoso.com", &pw).await;
    assert_eq!(sso(&s, &start, &cookie).await, (true, false), "signed in");

    // What any page can make the browser send: unsigned LogoutRequests naming SPs that must
    // sign (one requires signed requests, one has no certificate and the default
    // `logout_requests: require_signed`). Refused; the cookie stays and still signs in.
    for sp in [SIGNED_SP, PLAIN_SP] {
        let path = format!(
            "/adfs/ls/?SAMLRequest={}&RelayState=x",
            logout_request("_forged", sp)
        );
        let (status, headers, page) = s.browse("GET", &path, &cookie, None).await;
        assert_eq!(status, 400, "{sp}: {page}");
        assert!(page.contains("id=\"errorText\""), "{page}");
        assert!(
            !headers
                .iter()
                .any(|(k, v)| k == "set-cookie" && v.starts_with("__Host-altgate-sso=")),
            "{sp}: the session cookie was touched"
        );
        assert_eq!(sso(&s, &start, &cookie).await, (true, false), "after {sp}");
    }
    let m = &s.app.metrics;
    assert_eq!(
        metric(
            m,
            "altgate_events_total{category=\"audit\",event=\"signed_out\"}"
        ),
        0.0
    );
    assert_eq!(
        metric(m, "altgate_sso_sessions_total{result=\"reused\"}"),
        3.0
    );

    // The same SP's genuine (OpenSSL-signed) LogoutRequest ends it, with a LogoutResponse that
    // xmlsec1 verifies.
    let signed = openssl_signed_query(&logout_request("_genuine", SIGNED_SP), key);
    let (status, headers, page) = s
        .browse("GET", &format!("/adfs/ls/?{signed}"), &cookie, None)
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(headers
        .iter()
        .any(|(k, v)| k == "set-cookie" && v.starts_with("__Host-altgate-sso=;")));
    let response = posted_saml(&page);
    assert!(response.contains("InResponseTo=\"_genuine\""), "{response}");
    assert!(
        harness::xmlsec_verify(
            &response,
            cert,
            "ID",
            "urn:oasis:names:tc:SAML:2.0:protocol:LogoutResponse"
        ),
        "{response}"
    );
    assert_eq!(sso(&s, &start, &cookie).await, (false, true), "signed out");
}

#[tokio::test]
async fn wsfed_and_idp_initiated_sign_on_get_no_token_for_a_relying_party_that_requires_signed_requests(
) {
    let _g = harness::shared().await;
    let s = TestServer::start_with_server(
        "",
        &unsigned_yaml(),
        "passive: { idp_initiated_sign_on: true }\n",
    )
    .await;
    let pw = harness::forests().user_password.clone();
    let start = format!("/adfs/ls/?wa=wsignin1.0&wtrealm={}", enc(WSFED_RP));
    let cookie = form_sign_in(&s, &start, "jdoe@contoso.com", &pw).await;
    for (path, cookies) in [
        (
            format!("/adfs/ls/?wa=wsignin1.0&wtrealm={}", enc(SIGNED_SP)),
            "",
        ),
        (
            format!("/adfs/ls/?wa=wsignin1.0&wtrealm={}", enc(SIGNED_SP)),
            cookie.as_str(),
        ),
        (
            format!(
                "/adfs/ls/IdpInitiatedSignOn.aspx?loginToRp={}",
                enc(SIGNED_SP)
            ),
            "",
        ),
        (
            format!(
                "/adfs/ls/IdpInitiatedSignOn.aspx?loginToRp={}",
                enc(SIGNED_SP)
            ),
            cookie.as_str(),
        ),
    ] {
        let (status, _, page) = s.browse("GET", &path, cookies, None).await;
        assert_eq!(status, 400, "{path}: {page}");
        assert!(page.contains("id=\"errorText\""), "{path}");
        assert!(
            !page.contains("userNameInput")
                && !page.contains("SAMLResponse")
                && !page.contains("wresult"),
            "{path}: no form, no token"
        );
    }
    let m = &s.app.metrics;
    for protocol in ["idp_initiated", "wsfed"] {
        assert_eq!(
            metric(
                m,
                &format!("altgate_token_failures_total{{protocol=\"{protocol}\",reason=\"signed_requests_required\",relying_party=\"{SIGNED_SP}\"}}")
            ),
            2.0,
            "{protocol}"
        );
    }
    // Other relying parties keep IdP-initiated sign-on.
    let (status, _, page) = s
        .browse(
            "GET",
            &format!(
                "/adfs/ls/IdpInitiatedSignOn.aspx?loginToRp={}",
                enc(PLAIN_SP)
            ),
            &cookie,
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(posted_saml(&page).contains("status:Success"));
}
