//! Browser sign-in against the real forests: WS-Federation round trips whose `wresult` token
//! xmlsec1 verifies, SAML 2.0 through a real SP library (pysaml2) and through a real headless
//! browser (Chromium), SSO across relying parties, and hostile requests.

use crate::harness::{self, metric, TestServer};
use base64::Engine;

const WSFED_RP: &str = "urn:wsfed:altgate-test";
const WSFED_REPLY: &str = "https://rp.altgate.test/wsfed";

pub fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = start + html[start..].find('"')?;
    Some(
        html[start..end]
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

fn form(fields: &[(&str, &str)]) -> Vec<u8> {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
        .into_bytes()
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

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
