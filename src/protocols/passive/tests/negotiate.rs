//! Windows integrated sign-in at `/adfs/ls/` with a fake acceptor: who is challenged (internal,
//! listed User-Agent, no password demanded), that the challenge's body is the form, that a
//! good ticket signs in with a session and the reply token, and that a bad one (NTLM, garbage,
//! a refused ticket) gets the form unchallenged: no 401 loop.

use super::*;
use crate::fuzzing::samples::kerberos_token;
use crate::kerberos::{Acceptor, FakeAcceptor};
use crate::request::RequestContext;

const EDGE: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0";
const LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0.0.0";
const INSIDE: [u8; 4] = [10, 1, 2, 3];
const OUTSIDE: [u8; 4] = [203, 0, 113, 9];

fn wia_app(dir: &tempfile::TempDir) -> Arc<App> {
    let keytab = dir.path().join("http.keytab");
    let bytes = crate::fuzzing::samples::keytab("CONTOSO.COM", &[("sts.example.test", 1, 18)]);
    std::fs::write(&keytab, bytes).expect("keytab");
    let yaml = format!(
        "server: {{ listen: 127.0.0.1:0, public_url: https://sts.example.test }}\n\
         alternate_login_id: {{ attribute: mail, lookup_forests: [contoso.com, fabrikam.com] }}\n\
         demo_directory: config/demo-directory.yaml\n\
         forests: [{{ name: contoso.com }}, {{ name: fabrikam.com }}]\n\
         token_signing: {{ cert_file: tests/fixtures/test-token-signing.crt, key_file: tests/fixtures/test-token-signing.key }}\n\
         relying_parties:\n\
         \x20 - {{ identifier: '{WSFED_RP}', token_type: saml11, reply_urls: ['https://rp.example.test/wsfed'] }}\n\
         federation: {{ internal_networks: [10.0.0.0/8] }}\n\
         kerberos: {{ keytab_file: {} }}\n",
        keytab.display()
    );
    let config = Config::parse(&yaml, "test").expect("config");
    let m = crate::metrics::Metrics::standalone().expect("metrics");
    let directory: Arc<dyn Directory> = Arc::new(
        crate::directory::embedded::EmbeddedDirectory::load(std::path::Path::new(
            "config/demo-directory.yaml",
        ))
        .expect("demo"),
    );
    let key = crate::keys::SigningKey::load(
        std::path::Path::new("tests/fixtures/test-token-signing.crt"),
        std::path::Path::new("tests/fixtures/test-token-signing.key"),
    )
    .expect("key");
    App::with_parts(
        config,
        m,
        directory,
        Some(crate::tokens::issue::Signing {
            key,
            next_cert_der: None,
        }),
        crate::clock::system_clock(),
        Some(Acceptor::with(Arc::new(FakeAcceptor))),
    )
    .expect("app")
}

async fn get(app: &App, from: [u8; 4], ua: &str, query: &str, auth: Option<String>) -> LsResponse {
    let request = RequestContext::local(IpAddr::from(from), "test-activity");
    handle(
        &app.passive(),
        &LsRequest {
            post: false,
            raw_query: query,
            body: b"",
            cookie_header: None,
            accept_language: None,
            request: &request,
            idp_initiated: false,
            authorization: auth.as_deref(),
            user_agent: Some(ua),
        },
    )
    .await
}

fn negotiate(principal: &str) -> Option<String> {
    Some(format!(
        "Negotiate {}",
        base64::engine::general_purpose::STANDARD.encode(kerberos_token(principal.as_bytes()))
    ))
}

const SIGN_IN: &str = "wa=wsignin1.0&wtrealm=urn%3Awsfed%3Atest";

#[tokio::test]
async fn internal_listed_browsers_are_challenged_with_the_form_as_the_body() {
    let dir = tempfile::tempdir().expect("dir");
    let app = wia_app(&dir);
    let r = get(&app, INSIDE, EDGE, SIGN_IN, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.www_authenticate.as_deref(), Some("Negotiate"));
    assert!(
        r.body.contains("userNameInput"),
        "the form is the 401's body"
    );
    assert!(
        r.set_cookies.iter().any(|c| c.starts_with(CSRF_COOKIE)),
        "the form works"
    );
    // Not challenged: outside, an unlisted browser, a demand for a password.
    for (from, ua, query) in [
        (OUTSIDE, EDGE, SIGN_IN.to_string()),
        (INSIDE, LINUX, SIGN_IN.to_string()),
        (INSIDE, EDGE, format!("{SIGN_IN}&wfresh=0")),
        (INSIDE, EDGE, format!("{SIGN_IN}&prompt=login")),
        (
            INSIDE,
            EDGE,
            format!("{SIGN_IN}&wauth=urn%3Aoasis%3Anames%3Atc%3ASAML%3A1.0%3Aam%3Apassword"),
        ),
    ] {
        let r = get(&app, from, ua, &query, None).await;
        assert_eq!(
            (r.status, r.www_authenticate.as_deref()),
            (StatusCode::OK, None),
            "{query} {ua}"
        );
        assert!(r.body.contains("userNameInput"));
    }
}

#[tokio::test]
async fn a_good_ticket_signs_in_with_a_session_and_the_reply_token() {
    let dir = tempfile::tempdir().expect("dir");
    let app = wia_app(&dir);
    let r = get(&app, INSIDE, EDGE, SIGN_IN, negotiate("jdoe@CONTOSO.COM")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("wresult"), "the token page");
    assert_eq!(
        r.www_authenticate.as_deref(),
        Some(
            format!(
                "Negotiate {}",
                base64::engine::general_purpose::STANDARD.encode(b"reply")
            )
            .as_str()
        )
    );
    assert!(
        r.set_cookies.iter().any(|c| c.starts_with(COOKIE)),
        "an SSO session"
    );
    let token = hidden(&r.body, "wresult");
    assert!(
        token.contains("urn:federation:authentication:windows"),
        "{token}"
    );
    // Asking for Windows authentication (wauth) is honoured where Kerberos is on.
    let windows = format!(
        "{SIGN_IN}&wauth=http%3A%2F%2Fschemas.microsoft.com%2Fws%2F2008%2F06%2Fidentity%2Fauthenticationmethod%2Fwindows"
    );
    let r = get(&app, INSIDE, EDGE, &windows, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    // A ticket from outside is not even looked at.
    let r = get(&app, OUTSIDE, EDGE, SIGN_IN, negotiate("jdoe@CONTOSO.COM")).await;
    assert!(!r.body.contains("wresult") && r.body.contains("userNameInput"));
}

#[tokio::test]
async fn bad_tokens_get_the_form_without_a_challenge() {
    let dir = tempfile::tempdir().expect("dir");
    let app = wia_app(&dir);
    let ntlm =
        base64::engine::general_purpose::STANDARD.encode(b"NTLMSSP\0\x01\0\0\0\x07\x82\x08\xa2");
    for auth in [
        format!("Negotiate {ntlm}"),
        "Negotiate !!not-base64!!".to_string(),
        "Negotiate".to_string(),
        negotiate("!wrong_key").unwrap_or_default(),
        negotiate("disabled@CONTOSO.COM").unwrap_or_default(),
    ] {
        let r = get(&app, INSIDE, EDGE, SIGN_IN, Some(auth.clone())).await;
        assert_eq!(
            (r.status, r.www_authenticate.as_deref()),
            (StatusCode::OK, None),
            "{auth}"
        );
        assert!(r.body.contains("userNameInput"), "{auth}");
    }
    let m = app.metrics.render();
    for reason in [
        "ntlm_offered",
        "unsupported_mechanism",
        "wrong_key",
        "account_disabled",
    ] {
        assert!(
            m.contains(&format!(
                "altgate_windows_sign_in_failures_total{{reason=\"{reason}\"}} "
            )),
            "{reason}"
        );
    }
}
