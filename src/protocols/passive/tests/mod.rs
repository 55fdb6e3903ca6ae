//! `/adfs/ls/` flows over the embedded demo directory (the integration suite repeats them
//! against real AD, a real SAML SP library and a real browser): WS-Fed and SAML sign-in, CSRF
//! and reply URLs, IdP-initiated sign-on here; signed SAML requests in `signed`, SSO sessions
//! ending with their account in `sso`, what Microsoft Entra ID sends in `entra`, the
//! change-password flow in `password`, what unsigned requests may cost and do in `unsigned`. The helpers here are shared with those modules.

use super::*;
use crate::app::App;
use crate::config::Config;
use crate::directory::{AccountState, Directory, DirectoryError};
use crate::session::{COOKIE, CSRF_COOKIE};
use crate::tokens::saml::{SAML2, SAMLP};
use base64::Engine;
use std::io::Write;
use std::net::IpAddr;
use std::sync::Arc;

pub(crate) const DEMO_PW: &str = "Demo-Passw0rd!";
pub(super) const WSFED_RP: &str = "urn:wsfed:test";
pub(super) const SAML_RP: &str = "https://sp.example.test/metadata";

pub(super) fn app() -> Arc<App> {
    let yaml = format!(
        "server: {{ listen: 127.0.0.1:0, public_url: https://sts.example.test }}\n\
         alternate_login_id: {{ attribute: mail, lookup_forests: [contoso.com, fabrikam.com] }}\n\
         demo_directory: config/demo-directory.yaml\n\
         forests: [{{ name: contoso.com }}, {{ name: fabrikam.com }}]\n\
         token_signing: {{ cert_file: tests/fixtures/test-token-signing.crt, key_file: tests/fixtures/test-token-signing.key }}\n\
         passive: {{ account_state_max_age: 0s }}\n\
         relying_parties:\n\
         \x20 - {{ identifier: '{WSFED_RP}', token_type: saml11, reply_urls: ['https://rp.example.test/wsfed'] }}\n\
         \x20 - {{ identifier: '{SAML_RP}', token_type: saml20, reply_urls: ['https://sp.example.test/acs'], logout_url: 'https://sp.example.test/slo' }}\n"
    );
    let config = Config::parse(&yaml, "test").expect("config");
    App::new(config).expect("app")
}

pub(crate) fn ip() -> IpAddr {
    IpAddr::from([192, 0, 2, 1])
}

/// A browser's GET with `query` and `cookies` from `request`.
pub(crate) fn get_request<'a>(
    query: &'a str,
    cookies: &'a str,
    request: &'a crate::request::RequestContext,
) -> LsRequest<'a> {
    LsRequest {
        post: false,
        raw_query: query,
        body: b"",
        cookie_header: Some(cookies),
        accept_language: None,
        request,
        idp_initiated: false,
        authorization: None,
        user_agent: None,
    }
}

pub(super) async fn get(app: &App, query: &str, cookies: &str) -> LsResponse {
    let request = crate::request::RequestContext::local(ip(), "test-activity");
    handle(&app.passive(), &get_request(query, cookies, &request)).await
}

pub(crate) async fn post(app: &App, body: &str, cookies: &str) -> LsResponse {
    handle(
        &app.passive(),
        &LsRequest {
            post: true,
            raw_query: "",
            body: body.as_bytes(),
            cookie_header: Some(cookies),
            accept_language: Some("ja"),
            request: &crate::request::RequestContext::local(ip(), "test-activity"),
            idp_initiated: false,
            authorization: None,
            user_agent: None,
        },
    )
    .await
}

pub(crate) fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .map(|i| i + marker.len())
        .unwrap_or_else(|| panic!("no {name} in {html}"));
    let end = html[start..].find('"').map(|e| start + e).unwrap_or(start);
    html[start..end]
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&amp;", "&")
}

pub(crate) fn cookie_pair(r: &LsResponse, name: &str) -> String {
    r.set_cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie in {:?}", r.set_cookies))
        .to_string()
}

pub(crate) fn form(fields: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

/// Runs the form: GET the request, POST the credentials. Returns (page response, cookies).
pub(super) async fn sign_in_with(
    app: &App,
    query: &str,
    user: &str,
    pw: &str,
) -> (LsResponse, String) {
    let page = get(app, query, "").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("id=\"userNameInput\""));
    let csrf = cookie_pair(&page, CSRF_COOKIE);
    let body = form(&[
        ("UserName", user),
        ("Password", pw),
        ("AuthMethod", "FormsAuthentication"),
        ("csrf", &hidden(&page.body, "csrf")),
        ("ctx", &hidden(&page.body, "ctx")),
    ]);
    let r = post(app, &body, &csrf).await;
    (r, csrf)
}

#[tokio::test]
async fn wsfed_sign_in_then_sso_then_sign_out() {
    let app = app();
    let q = format!(
        "wa=wsignin1.0&wtrealm={}&wctx=ctx-123",
        form_urlencoded::byte_serialize(WSFED_RP.as_bytes()).collect::<String>()
    );
    let (r, csrf) = sign_in_with(&app, &q, "jdoe@contoso.com", DEMO_PW).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.form_target.as_deref(),
        Some("https://rp.example.test/wsfed")
    );
    assert_eq!(hidden(&r.body, "wa"), "wsignin1.0");
    assert_eq!(hidden(&r.body, "wctx"), "ctx-123");
    let wresult = hidden(&r.body, "wresult");
    assert!(wresult.starts_with(
        "<t:RequestSecurityTokenResponse xmlns:t=\"http://schemas.xmlsoap.org/ws/2005/02/trust\">"
    ));
    assert!(wresult.contains("<saml:Assertion"));
    let sso = cookie_pair(&r, COOKIE);
    assert!(r
        .set_cookies
        .iter()
        .any(|c| c.contains("HttpOnly") && c.contains("Secure") && c.contains("SameSite=None")));

    // A second sign-in with the session: no form.
    let again = get(&app, &q, &format!("{sso}; {csrf}")).await;
    assert!(!again.body.contains("userNameInput"), "{}", again.body);
    assert!(hidden(&again.body, "wresult").contains("<saml:Assertion"));
    assert!(app
        .metrics
        .render()
        .contains("altgate_sso_sessions_total{result=\"reused\"} 1"));

    // wfresh=0 forces the form.
    let fresh = get(&app, &format!("{q}&wfresh=0"), &sso).await;
    assert!(fresh.body.contains("userNameInput"));

    // Sign-out clears the cookie; the next request shows the form.
    let out = get(&app, "wa=wsignout1.0", &sso).await;
    assert!(out
        .set_cookies
        .iter()
        .any(|c| c.starts_with(&format!("{COOKIE}=;")) && c.contains("Max-Age=0")));
}

#[tokio::test]
async fn bad_credentials_show_one_generic_message_in_the_users_language() {
    let app = app();
    let q = format!("wa=wsignin1.0&wtrealm={WSFED_RP}");
    for (user, pw) in [
        ("jdoe@contoso.com", "nope"),
        ("nobody@contoso.com", DEMO_PW),
        ("cross@example.com", DEMO_PW),
        ("disabled@contoso.com", DEMO_PW),
    ] {
        let (r, _) = sign_in_with(&app, &q, user, pw).await;
        assert_eq!(r.status, 200);
        assert!(r.body.contains("id=\"errorText\""), "{user}");
        assert!(
            r.body
                .contains("ユーザー ID またはパスワードが正しくありません"),
            "{user}"
        );
        assert!(
            r.set_cookies.iter().all(|c| !c.starts_with(COOKIE)),
            "no session for {user}"
        );
    }
}

#[tokio::test]
async fn csrf_and_reply_urls_are_enforced() {
    let app = app();
    let q = format!("wa=wsignin1.0&wtrealm={WSFED_RP}");
    let page = get(&app, &q, "").await;
    let body = form(&[
        ("UserName", "jdoe@contoso.com"),
        ("Password", DEMO_PW),
        ("csrf", "forged"),
        ("ctx", &hidden(&page.body, "ctx")),
    ]);
    let r = post(&app, &body, &cookie_pair(&page, CSRF_COOKIE)).await;
    assert_eq!(r.status, 400);
    assert!(!r.body.contains("wresult"));
    let r = post(&app, &body, "").await;
    assert_eq!(r.status, 400, "no CSRF cookie");

    for bad in [
        format!("{q}&wreply=https://evil.example/steal"),
        "wa=wsignin1.0&wtrealm=urn:unknown".to_string(),
        "wa=wsignin1.0".to_string(),
        "wa=bogus".to_string(),
        "".to_string(),
        format!("{q}&wctx={}", "x".repeat(2000)),
    ] {
        let r = get(&app, &bad, "").await;
        assert_eq!(r.status, 400, "{bad}");
        assert!(
            r.location.is_none() && r.form_target.is_none(),
            "never redirect or post for {bad}"
        );
    }
    // Sign-out never redirects to an unregistered URL either.
    let r = get(&app, "wa=wsignout1.0&wreply=https://evil.example/", "").await;
    assert_eq!((r.status.as_u16(), r.location), (200, None));
    let r = get(
        &app,
        "wa=wsignout1.0&wreply=https://rp.example.test/wsfed",
        "",
    )
    .await;
    assert_eq!(r.location.as_deref(), Some("https://rp.example.test/wsfed"));
}

fn authn_request(id: &str, extra: &str) -> String {
    // Now the way the application's (system) clock tells it.
    let now = (crate::clock::system_clock())()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("t");
    let xml = format!(
        "<samlp:AuthnRequest xmlns:samlp=\"{SAMLP}\" xmlns:saml=\"{SAML2}\" ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{now}\" AssertionConsumerServiceURL=\"https://sp.example.test/acs\"{extra}><saml:Issuer>{SAML_RP}</saml:Issuer></samlp:AuthnRequest>"
    );
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(xml.as_bytes()).expect("deflate");
    let b64 = base64::engine::general_purpose::STANDARD.encode(e.finish().expect("deflate"));
    form(&[("SAMLRequest", b64.as_str()), ("RelayState", "state-1")])
}

#[tokio::test]
async fn saml_redirect_sign_in_replay_and_is_passive() {
    let app = app();
    let q = authn_request("_req1", "");
    let (r, _) = sign_in_with(&app, &q, "fuser@fabrikam.com", DEMO_PW).await;
    assert_eq!(
        r.form_target.as_deref(),
        Some("https://sp.example.test/acs")
    );
    assert_eq!(hidden(&r.body, "RelayState"), "state-1");
    let xml = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(hidden(&r.body, "SAMLResponse"))
            .expect("b64"),
    )
    .expect("utf-8");
    assert!(xml.contains("InResponseTo=\"_req1\""), "{xml}");
    assert!(xml.contains("Destination=\"https://sp.example.test/acs\""));
    assert!(xml.contains("Recipient=\"https://sp.example.test/acs\""));
    assert!(xml.contains("urn:oasis:names:tc:SAML:2.0:status:Success"));

    // The same AuthnRequest again: refused.
    let r = get(&app, &q, "").await;
    assert_eq!(r.status, 400, "{}", r.body);

    // IsPassive without a session: NoPassive, never the form.
    let r = get(&app, &authn_request("_req2", " IsPassive=\"true\""), "").await;
    let xml = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(hidden(&r.body, "SAMLResponse"))
            .expect("b64"),
    )
    .expect("utf-8");
    assert!(xml.contains("NoPassive"), "{xml}");
    assert!(!r.body.contains("userNameInput"));

    // Tampered: garbage where the request should be.
    let r = get(&app, "SAMLRequest=AAAA%21%21&RelayState=x", "").await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn idp_initiated_sign_on_only_when_enabled() {
    let disabled = app();
    let r = handle(
        &disabled.passive(),
        &LsRequest {
            post: false,
            raw_query: &format!("loginToRp={SAML_RP}"),
            body: b"",
            cookie_header: None,
            accept_language: None,
            request: &crate::request::RequestContext::local(ip(), "test-activity"),
            idp_initiated: true,
            authorization: None,
            user_agent: None,
        },
    )
    .await;
    assert_eq!(r.status, 400);

    let yaml = format!(
        "server: {{ listen: 127.0.0.1:0, public_url: https://sts.example.test }}\n\
         demo_directory: config/demo-directory.yaml\n\
         forests: [{{ name: contoso.com }}, {{ name: fabrikam.com }}]\n\
         token_signing: {{ cert_file: tests/fixtures/test-token-signing.crt, key_file: tests/fixtures/test-token-signing.key }}\n\
         passive: {{ idp_initiated_sign_on: true }}\n\
         relying_parties: [{{ identifier: '{SAML_RP}', token_type: saml20, reply_urls: ['https://sp.example.test/acs'] }}]\n"
    );
    let enabled = App::new(Config::parse(&yaml, "t").expect("config")).expect("app");
    let q = format!(
        "loginToRp={}",
        form_urlencoded::byte_serialize(SAML_RP.as_bytes()).collect::<String>()
    );
    let page = handle(
        &enabled.passive(),
        &LsRequest {
            post: false,
            raw_query: &q,
            body: b"",
            cookie_header: None,
            accept_language: None,
            request: &crate::request::RequestContext::local(ip(), "test-activity"),
            idp_initiated: true,
            authorization: None,
            user_agent: None,
        },
    )
    .await;
    assert_eq!(page.status, 200);
    // The form carries the request on; credentials give an unsolicited response.
    let body = form(&[
        ("UserName", "jdoe@corp.contoso.local"),
        ("Password", DEMO_PW),
        ("csrf", &hidden(&page.body, "csrf")),
        ("ctx", &hidden(&page.body, "ctx")),
    ]);
    let r = post(&enabled, &body, &cookie_pair(&page, CSRF_COOKIE)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.form_target.as_deref(),
        Some("https://sp.example.test/acs")
    );
    let xml = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(hidden(&r.body, "SAMLResponse"))
            .expect("b64"),
    )
    .expect("utf-8");
    assert!(xml.contains("urn:oasis:names:tc:SAML:2.0:status:Success"));
    assert!(!xml.contains("InResponseTo"), "unsolicited: {xml}");
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

mod entra;
mod negotiate;
mod password_change;
mod signed;
mod sso;
mod unsigned;
