//! `/adfs/ls/` flows over the embedded demo directory (the integration suite repeats them
//! against real AD, a real SAML SP library and a real browser).

use super::*;
use crate::app::App;
use crate::config::Config;
use crate::directory::{AccountState, Directory, DirectoryError};
use crate::session::{COOKIE, CSRF_COOKIE};
use crate::tokens::saml::{SAML2, SAMLP};
use base64::Engine;
use std::io::Write;
use std::sync::Arc;

pub(super) const DEMO_PW: &str = "Demo-Passw0rd!";
pub(super) const WSFED_RP: &str = "urn:wsfed:test";
const SAML_RP: &str = "https://sp.example.test/metadata";

pub(super) fn app() -> Arc<App> {
    let yaml = format!(
        "server: {{ listen: 127.0.0.1:0, public_url: https://sts.example.test }}\n\
         alternate_login_id: {{ attribute: mail, lookup_forests: [contoso.com, fabrikam.com] }}\n\
         demo_directory: config/demo-directory.yaml\n\
         forests: [{{ name: contoso.com }}, {{ name: fabrikam.com }}]\n\
         token_signing: {{ cert_file: tests/fixtures/test-token-signing.crt, key_file: tests/fixtures/test-token-signing.key }}\n\
         relying_parties:\n\
         \x20 - {{ identifier: '{WSFED_RP}', token_type: saml11, reply_urls: ['https://rp.example.test/wsfed'] }}\n\
         \x20 - {{ identifier: '{SAML_RP}', token_type: saml20, reply_urls: ['https://sp.example.test/acs'], logout_url: 'https://sp.example.test/slo' }}\n"
    );
    let config = Config::parse(&yaml, "test").expect("config");
    App::new(config).expect("app")
}

pub(super) fn ip() -> IpAddr {
    IpAddr::from([192, 0, 2, 1])
}

pub(super) async fn get(app: &App, query: &str, cookies: &str) -> LsResponse {
    handle(
        &app.passive(),
        &LsRequest {
            post: false,
            raw_query: query,
            body: b"",
            cookie_header: Some(cookies),
            accept_language: None,
            client_ip: ip(),
            client_addresses: &[],
            idp_initiated: false,
            activity_id: "test-activity",
        },
    )
    .await
}

pub(super) async fn post(app: &App, body: &str, cookies: &str) -> LsResponse {
    handle(
        &app.passive(),
        &LsRequest {
            post: true,
            raw_query: "",
            body: body.as_bytes(),
            cookie_header: Some(cookies),
            accept_language: Some("ja"),
            client_ip: ip(),
            client_addresses: &[],
            idp_initiated: false,
            activity_id: "test-activity",
        },
    )
    .await
}

pub(super) fn hidden(html: &str, name: &str) -> String {
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

pub(super) fn cookie_pair(r: &LsResponse, name: &str) -> String {
    r.set_cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie in {:?}", r.set_cookies))
        .to_string()
}

pub(super) fn form(fields: &[(&str, &str)]) -> String {
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
    let now = time::OffsetDateTime::now_utc()
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
            client_ip: ip(),
            client_addresses: &[],
            idp_initiated: true,
            activity_id: "test-activity",
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
            client_ip: ip(),
            client_addresses: &[],
            idp_initiated: true,
            activity_id: "test-activity",
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

const SIGNED_RP: &str = "https://signed.example.test/metadata";
const FIXTURE_CRT: &str = "tests/fixtures/test-token-signing.crt";
const FIXTURE_KEY: &str = "tests/fixtures/test-token-signing.key";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

/// The demo app plus an SP that signs its requests (with the fixture key).
fn signing_app() -> Arc<App> {
    let yaml = format!(
        "server: {{ listen: 127.0.0.1:0, public_url: https://sts.example.test }}\n\
         alternate_login_id: {{ attribute: mail, lookup_forests: [contoso.com, fabrikam.com] }}\n\
         demo_directory: config/demo-directory.yaml\n\
         forests: [{{ name: contoso.com }}, {{ name: fabrikam.com }}]\n\
         token_signing: {{ cert_file: {FIXTURE_CRT}, key_file: {FIXTURE_KEY} }}\n\
         relying_parties:\n\
         \x20 - {{ identifier: '{WSFED_RP}', token_type: saml11, reply_urls: ['https://rp.example.test/wsfed'] }}\n\
         \x20 - {{ identifier: '{SAML_RP}', token_type: saml20, reply_urls: ['https://sp.example.test/acs'], logout_url: 'https://sp.example.test/slo' }}\n\
         \x20 - {{ identifier: '{SIGNED_RP}', token_type: saml20, reply_urls: ['https://signed.example.test/acs'], logout_url: 'https://signed.example.test/slo', require_signed_requests: true, signing_cert_file: {FIXTURE_CRT} }}\n"
    );
    App::new(Config::parse(&yaml, "test").expect("config")).expect("app")
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A SAML request (`AuthnRequest` or `LogoutRequest`) from `issuer`, issued at `at`.
fn saml_xml(kind: &str, id: &str, issuer: &str, at: time::OffsetDateTime) -> String {
    let t = at
        .format(&time::format_description::well_known::Rfc3339)
        .expect("t");
    let extra = if kind == "AuthnRequest" {
        " AssertionConsumerServiceURL=\"https://signed.example.test/acs\""
    } else {
        ""
    };
    let subject = if kind == "LogoutRequest" {
        "<saml:NameID>someone</saml:NameID>"
    } else {
        ""
    };
    format!(
        "<samlp:{kind} xmlns:samlp=\"{SAMLP}\" xmlns:saml=\"{SAML2}\" ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{t}\"{extra}><saml:Issuer>{issuer}</saml:Issuer>{subject}</samlp:{kind}>"
    )
}

/// The HTTP-Redirect encoding of a message: raw DEFLATE, base64, URL-encoded.
fn redirect_value(xml: &str) -> String {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(xml.as_bytes()).expect("deflate");
    enc(&base64::engine::general_purpose::STANDARD.encode(e.finish().expect("deflate")))
}

/// A Redirect-binding query for `xml`, signed as the SP signs it (RSA-SHA256 over
/// `SAMLRequest=…&RelayState=…&SigAlg=…`, with the fixture key).
fn signed_query(xml: &str, relay: &str) -> String {
    let key = crate::keys::SigningKey::load(
        std::path::Path::new(FIXTURE_CRT),
        std::path::Path::new(FIXTURE_KEY),
    )
    .expect("fixture key");
    let signed = format!(
        "SAMLRequest={}&RelayState={}&SigAlg={}",
        redirect_value(xml),
        enc(relay),
        enc(RSA_SHA256)
    );
    let signature = key.sign(signed.as_bytes()).expect("sign");
    format!(
        "{signed}&Signature={}",
        enc(&base64::engine::general_purpose::STANDARD.encode(signature))
    )
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn refused_for(app: &App, reason: &str) -> bool {
    app.metrics.render().lines().any(|l| {
        l.starts_with("altgate_token_failures_total") && l.contains(&format!("reason=\"{reason}\""))
    })
}

fn assert_refused(r: &LsResponse, what: &str) {
    assert_eq!(r.status, 400, "{what}: {}", r.body);
    assert!(
        r.form_target.is_none() && r.location.is_none() && r.set_cookies.is_empty(),
        "{what}: nothing posted, redirected or set"
    );
    assert!(!r.body.contains("userNameInput"), "{what}: no sign-in form");
}

#[tokio::test]
async fn signed_authn_requests_are_verified_over_the_parameters_actually_used() {
    let app = signing_app();
    let captured = signed_query(
        &saml_xml("AuthnRequest", "_captured", SIGNED_RP, now()),
        "rs-1",
    );
    let page = get(&app, &captured, "").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("userNameInput"));

    // A request of the attacker's own riding on the captured signature: its name
    // percent-encoded so that routing (decoded names) and a raw-name signature check would read
    // different SAMLRequests.
    let evil = redirect_value(&saml_xml("AuthnRequest", "_evil", SIGNED_RP, now()));
    for forged in [
        format!("SAML%52equest={evil}&{captured}"),
        format!("{captured}&SAML%52equest={evil}"),
        format!(
            "SAML%52equest={evil}&{}",
            captured.replacen("SAMLRequest=", "x=", 1)
        ),
        captured.replacen("RelayState=", "Relay%53tate=", 1),
        captured.replacen("SigAlg=", "Sig%41lg=", 1),
    ] {
        assert_refused(&get(&app, &forged, "").await, &forged);
    }
    assert!(refused_for(&app, "encoded_parameter_name"));
    // Unsigned, or signed over something else: refused.
    let unsigned = format!("SAMLRequest={evil}&RelayState=rs-1");
    assert_refused(&get(&app, &unsigned, "").await, "unsigned");
    let other = redirect_value(&saml_xml("AuthnRequest", "_other", SIGNED_RP, now()));
    let (_, sig) = captured.rsplit_once("&SigAlg=").expect("sigalg");
    let swapped = format!("SAMLRequest={other}&RelayState=rs-1&SigAlg={sig}");
    assert_refused(
        &get(&app, &swapped, "").await,
        "signature of another request",
    );
    assert!(refused_for(&app, "saml_signature"));
}

#[tokio::test]
async fn duplicate_protocol_parameters_are_refused() {
    let app = signing_app();
    let captured = signed_query(&saml_xml("AuthnRequest", "_dup", SIGNED_RP, now()), "rs-1");
    let (message, _) = captured.split_once('&').expect("parts");
    let realm = enc(WSFED_RP);
    for bad in [
        format!("{captured}&{message}"),
        format!("{message}&{captured}"),
        format!("{captured}&RelayState=other"),
        format!("{captured}&Signature=AAAA"),
        format!("wa=wsignin1.0&wtrealm={realm}&wtrealm=urn:other"),
        format!("wa=wsignin1.0&wtrealm={realm}&wa=wsignout1.0"),
        format!("wa=wsignin1.0&wtrealm={realm}&wreply=https://rp.example.test/wsfed&wreply=https://evil.example/"),
    ] {
        assert_refused(&get(&app, &bad, "").await, &bad);
    }
    assert!(refused_for(&app, "duplicate_parameter"));
    // The form's context is decoded the same way: a duplicate smuggled into ctx is refused too.
    let ctx = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
        "get\nwa=wsignin1.0&wtrealm={realm}&wtrealm=urn:other"
    ));
    let body = form(&[
        ("UserName", "jdoe@contoso.com"),
        ("Password", DEMO_PW),
        ("csrf", "t"),
        ("ctx", &ctx),
    ]);
    let r = post(&app, &body, &format!("{CSRF_COOKIE}=t")).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(!r.body.contains("wresult"));
}

#[tokio::test]
async fn logout_requests_from_signing_sps_are_verified_and_answered_once() {
    let app = signing_app();
    let sso = {
        let q = format!("wa=wsignin1.0&wtrealm={}", enc(WSFED_RP));
        let (r, _) = sign_in_with(&app, &q, "jdoe@contoso.com", DEMO_PW).await;
        cookie_pair(&r, COOKIE)
    };

    // Unsigned: refused, and the session survives.
    let unsigned = format!(
        "SAMLRequest={}&RelayState=lo",
        redirect_value(&saml_xml("LogoutRequest", "_lo0", SIGNED_RP, now()))
    );
    assert_refused(&get(&app, &unsigned, &sso).await, "unsigned LogoutRequest");
    // POST binding (enveloped signatures are not verified): refused like AuthnRequests.
    let xml = saml_xml("LogoutRequest", "_lo0", SIGNED_RP, now());
    let posted = form(&[(
        "SAMLRequest",
        &base64::engine::general_purpose::STANDARD.encode(&xml),
    )]);
    assert_refused(
        &post(&app, &posted, &sso).await,
        "POST-binding LogoutRequest",
    );
    assert!(refused_for(&app, "saml_signature"));

    // Properly signed: the SP gets a signed LogoutResponse, the session cookie is cleared.
    let signed = signed_query(&saml_xml("LogoutRequest", "_lo1", SIGNED_RP, now()), "lo");
    let r = get(&app, &signed, &sso).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.form_target.as_deref(),
        Some("https://signed.example.test/slo")
    );
    assert_eq!(hidden(&r.body, "RelayState"), "lo");
    let xml = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(hidden(&r.body, "SAMLResponse"))
            .expect("b64"),
    )
    .expect("utf-8");
    assert!(xml.starts_with("<samlp:LogoutResponse"), "{xml}");
    assert!(xml.contains("InResponseTo=\"_lo1\""), "{xml}");
    assert!(xml.contains("Destination=\"https://signed.example.test/slo\""));
    assert!(xml.contains("<ds:SignatureValue>"), "{xml}");
    assert!(r
        .set_cookies
        .iter()
        .any(|c| c.starts_with(&format!("{COOKIE}=;"))));

    // The same signed request again: refused (same cache as AuthnRequests).
    assert_refused(&get(&app, &signed, &sso).await, "replayed LogoutRequest");
    assert!(refused_for(&app, "replayed_request"));
    assert!(app.answered_requests.contains_key("_lo1"));

    // An SP that does not sign is answered as before.
    let plain = format!(
        "SAMLRequest={}",
        redirect_value(&saml_xml("LogoutRequest", "_lo2", SAML_RP, now()))
    );
    let r = get(&app, &plain, "").await;
    assert_eq!(
        r.form_target.as_deref(),
        Some("https://sp.example.test/slo")
    );
}

#[tokio::test]
async fn requests_are_not_accepted_longer_than_their_ids_are_remembered() {
    let app = signing_app();
    let ttl = app
        .answered_requests
        .policy()
        .time_to_live()
        .expect("the replay cache has a TTL");
    let ttl = time::Duration::try_from(ttl).expect("ttl");
    let skew = time::Duration::try_from(app.config.federation.max_clock_skew).expect("skew");
    let at = |id: &str, t: time::OffsetDateTime| {
        signed_query(&saml_xml("AuthnRequest", id, SIGNED_RP, t), "r")
    };
    let t = now();
    // As far ahead as the skew: accepted; further: refused.
    assert_eq!(
        get(&app, &at("_f1", t + skew - time::Duration::seconds(5)), "")
            .await
            .status,
        200
    );
    assert_refused(
        &get(&app, &at("_f2", t + skew + time::Duration::seconds(5)), "").await,
        "future",
    );
    // Old: accepted only while its whole acceptance span still fits in the cache's TTL.
    let oldest = ttl - skew - crate::protocols::passive::saml::REPLAY_MARGIN;
    assert_eq!(
        get(
            &app,
            &at("_p1", t - oldest + time::Duration::seconds(5)),
            ""
        )
        .await
        .status,
        200
    );
    assert_refused(
        &get(
            &app,
            &at("_p2", t - oldest - time::Duration::seconds(5)),
            "",
        )
        .await,
        "old",
    );
    assert!(refused_for(&app, "saml_stale"));
}

/// The demo directory with an account state the test sets (`None`: what the demo file says).
struct Flippable {
    inner: Arc<dyn Directory>,
    state: std::sync::Mutex<Option<Result<Option<AccountState>, DirectoryError>>>,
}

impl Flippable {
    fn set(&self, state: Option<Result<Option<AccountState>, DirectoryError>>) {
        *self.state.lock().expect("lock") = state;
    }
}

#[async_trait::async_trait]
impl Directory for Flippable {
    async fn search_users(
        &self,
        forest: &str,
        query: &crate::directory::UserQuery,
    ) -> Result<Vec<crate::directory::DirectoryEntry>, DirectoryError> {
        self.inner.search_users(forest, query).await
    }
    async fn domains(
        &self,
        forest: &str,
    ) -> Result<Arc<Vec<crate::directory::DomainInfo>>, DirectoryError> {
        self.inner.domains(forest).await
    }
    async fn bind(
        &self,
        forest: &str,
        domain: &str,
        dn: &str,
        password: &str,
    ) -> Result<Result<(), crate::directory::BindRejection>, DirectoryError> {
        self.inner.bind(forest, domain, dn, password).await
    }
    async fn account_state(
        &self,
        forest: &str,
        domain: &str,
        dn: &str,
    ) -> Result<Option<AccountState>, DirectoryError> {
        let set = self.state.lock().expect("lock").clone();
        match set {
            Some(state) => state,
            None => self.inner.account_state(forest, domain, dn).await,
        }
    }
}

async fn get_via(view: &Passive<'_>, query: &str, cookies: &str) -> LsResponse {
    handle(
        view,
        &LsRequest {
            post: false,
            raw_query: query,
            body: b"",
            cookie_header: Some(cookies),
            accept_language: None,
            client_ip: ip(),
            client_addresses: &[],
            idp_initiated: false,
            activity_id: "test",
        },
    )
    .await
}

fn sessions_total(app: &App, result: &str) -> u64 {
    app.metrics
        .passive
        .sessions
        .with_label_values(&[result])
        .get()
}

fn cleared(r: &LsResponse) -> bool {
    r.set_cookies
        .iter()
        .any(|c| c.starts_with(&format!("{COOKIE}=;")) && c.contains("Max-Age=0"))
}

#[tokio::test]
async fn sso_ends_with_its_account_and_survives_an_unreadable_directory() {
    let app = app();
    let dir = Flippable {
        inner: app.directory.clone(),
        state: std::sync::Mutex::new(None),
    };
    let view = Passive {
        directory: &dir,
        ..app.passive()
    };
    let q = format!("wa=wsignin1.0&wtrealm={}", enc(WSFED_RP));
    let (r, _) = sign_in_with(&app, &q, "jdoe@contoso.com", DEMO_PW).await;
    let sso = cookie_pair(&r, COOKIE);
    let value = sso.split_once('=').map(|(_, v)| v).expect("value");
    let signed_in = app.sessions.open(value).expect("session").auth_instant;
    let at_sign_in = time::OffsetDateTime::from_unix_timestamp(signed_in).expect("t");
    let filetime = crate::directory::datetime_to_filetime(at_sign_in).expect("filetime");
    let state = |enabled: bool, pwd_last_set: i64| {
        Some(Ok(Some(AccountState {
            enabled,
            pwd_last_set: Some(pwd_last_set),
        })))
    };
    let sso_works = |r: &LsResponse| {
        !r.body.contains("userNameInput") && hidden(&r.body, "wresult").contains("<saml:Assertion")
    };

    // The demo file's state, then a password set at (not after) the sign-in's second: SSO.
    assert!(sso_works(&get_via(&view, &q, &sso).await));
    dir.set(state(true, filetime));
    assert!(sso_works(&get_via(&view, &q, &sso).await));

    // No DC answers: the form, but the session is not over (no clearing cookie), and it works
    // again once the directory is back.
    dir.set(Some(Err(DirectoryError::Unreachable {
        forest: "contoso.com".into(),
        reason: "test".into(),
    })));
    let r = get_via(&view, &q, &sso).await;
    assert!(r.body.contains("userNameInput"), "{}", r.body);
    assert!(!cleared(&r), "{:?}", r.set_cookies);
    assert_eq!(sessions_total(&app, "directory_unavailable"), 1);
    dir.set(None);
    assert!(sso_works(&get_via(&view, &q, &sso).await));

    // Each way the account ends the session: the form, the cookie cleared, a distinct result
    // and an audit event.
    let cases = [
        (state(true, filetime + 1), "password_changed"),
        (state(true, 0), "password_changed"),
        (state(false, filetime), "account_disabled"),
        (Some(Ok(None)), "account_missing"),
    ];
    let mut ended = 0;
    for (account, result) in cases {
        dir.set(account);
        let before = sessions_total(&app, result);
        let r = get_via(&view, &q, &sso).await;
        assert!(r.body.contains("userNameInput"), "{result}: {}", r.body);
        assert!(!r.body.contains("wresult"), "{result}: no token");
        assert!(cleared(&r), "{result}: {:?}", r.set_cookies);
        assert_eq!(sessions_total(&app, result), before + 1, "{result}");
        ended += 1;
        assert_eq!(
            app.metrics
                .events
                .events
                .with_label_values(&["sso_session_ended", "audit"])
                .get(),
            ended
        );
    }
    // A fresh password sign-in after the reset starts a session that the new time allows.
    dir.set(None);
    let (r, _) = sign_in_with(&app, &q, "jdoe@contoso.com", DEMO_PW).await;
    let renewed = cookie_pair(&r, COOKIE);
    dir.set(state(true, filetime));
    assert!(sso_works(&get_via(&view, &q, &renewed).await));
}
