//! What Microsoft Entra ID sends to `/adfs/ls/` and what it must get back, over the embedded demo
//! directory (tests/it/entra.rs repeats it against real AD and a real SAML SP library): SAML-P
//! to Microsoft 365 (IDPEmail, persistent ImmutableID, per-domain issuer), the login hint,
//! `wfresh=0`, `prompt=login`, `ForceAuthn`, `wauth`, `whr`, and no MFA claimed anywhere.

use super::*;
use crate::app::App;
use crate::config::Config;
use crate::session::{COOKIE, CSRF_COOKIE};
use crate::tokens::saml::{SAML2, SAMLP};
use crate::xml::parse::{parse, Limits, XmlNode};
use base64::Engine;
use std::io::Write;
use std::sync::Arc;

const M365: &str = "urn:federation:MicrosoftOnline";
const LOGIN_SRF: &str = "https://login.microsoftonline.com/login.srf";
const SAML_RP: &str = "https://sp.example.test/metadata";
const PASSWORD_URI: &str =
    "http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password";

/// The shipped Microsoft 365 relying party (config/altgate.yaml) plus a SAML SP.
fn app() -> Arc<App> {
    let yaml = format!(
        "server: {{ listen: 127.0.0.1:0, public_url: https://sts.example.test }}\n\
         alternate_login_id: {{ attribute: mail, lookup_forests: [contoso.com, fabrikam.com] }}\n\
         demo_directory: config/demo-directory.yaml\n\
         forests: [{{ name: contoso.com }}, {{ name: fabrikam.com }}]\n\
         token_signing: {{ cert_file: tests/fixtures/test-token-signing.crt, key_file: tests/fixtures/test-token-signing.key }}\n\
         federation: {{ federated_domains: [contoso.com, fabrikam.com] }}\n\
         relying_parties:\n\
         \x20 - {{ identifier: '{M365}', token_type: saml11, claims: [upn, immutable_id, alternate_login_id, inside_corporate_network, issuer_id], reply_urls: ['{LOGIN_SRF}'] }}\n\
         \x20 - {{ identifier: '{SAML_RP}', token_type: saml20, reply_urls: ['https://sp.example.test/acs'] }}\n"
    );
    App::new(Config::parse(&yaml, "test").expect("config")).expect("app")
}

async fn request(app: &App, post: bool, query: &str, body: &str, cookies: &str) -> LsResponse {
    handle(
        &app.passive(),
        &LsRequest {
            post,
            raw_query: query,
            body: body.as_bytes(),
            cookie_header: Some(cookies),
            accept_language: None,
            request: &crate::request::RequestContext::local(ip(), "test-activity"),
            idp_initiated: false,
            authorization: None,
            user_agent: None,
        },
    )
    .await
}

fn is_form(r: &LsResponse) -> bool {
    r.status == 200 && r.body.contains("id=\"userNameInput\"")
}

/// The user name the form shows.
fn prefilled(r: &LsResponse) -> String {
    let marker = "name=\"UserName\" type=\"text\" inputmode=\"email\" value=\"";
    let start = r.body.find(marker).expect("user name field") + marker.len();
    let end = start + r.body[start..].find('"').expect("end");
    r.body[start..end].to_string()
}

/// Posts the form `page` showed with `user` and the demo password.
async fn submit(app: &App, page: &LsResponse, user: &str) -> LsResponse {
    let csrf = cookie_pair(page, CSRF_COOKIE);
    let body = form(&[
        ("UserName", user),
        ("Password", DEMO_PW),
        ("AuthMethod", "FormsAuthentication"),
        ("csrf", &hidden(&page.body, "csrf")),
        ("ctx", &hidden(&page.body, "ctx")),
    ]);
    request(app, true, "", &body, &csrf).await
}

fn wsfed(extra: &str) -> String {
    format!("wa=wsignin1.0&wtrealm={}{extra}", enc(M365))
}

/// An AuthnRequest as Entra ID sends it (Microsoft's sample: no ACS URL, index 0, persistent
/// NameIDPolicy), with `attrs` on the root and `inner` after the NameIDPolicy.
fn entra_authn_request(id: &str, attrs: &str, inner: &str) -> String {
    let t = crate::tokens::instant((crate::clock::system_clock())());
    format!(
        "<samlp:AuthnRequest xmlns:samlp=\"{SAMLP}\" xmlns:saml=\"{SAML2}\" ID=\"{id}\" IssueInstant=\"{t}\" Version=\"2.0\" AssertionConsumerServiceIndex=\"0\"{attrs}><saml:Issuer>{M365}</saml:Issuer>{inner}<samlp:NameIDPolicy Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\"/></samlp:AuthnRequest>"
    )
}

/// The POST-binding body for `xml` (Entra posts its AuthnRequest).
fn post_binding(xml: &str) -> String {
    form(&[(
        "SAMLRequest",
        &base64::engine::general_purpose::STANDARD.encode(xml),
    )])
}

/// A Redirect-binding query for an AuthnRequest from the SAML SP.
fn sp_redirect(id: &str, attrs: &str, inner: &str) -> String {
    let t = crate::tokens::instant((crate::clock::system_clock())());
    let xml = format!(
        "<samlp:AuthnRequest xmlns:samlp=\"{SAMLP}\" xmlns:saml=\"{SAML2}\" ID=\"{id}\" IssueInstant=\"{t}\" Version=\"2.0\"{attrs}><saml:Issuer>{SAML_RP}</saml:Issuer>{inner}</samlp:AuthnRequest>"
    );
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(xml.as_bytes()).expect("deflate");
    format!(
        "SAMLRequest={}",
        enc(&base64::engine::general_purpose::STANDARD.encode(e.finish().expect("deflate")))
    )
}

fn decoded_response(r: &LsResponse) -> String {
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(hidden(&r.body, "SAMLResponse"))
            .expect("base64"),
    )
    .expect("utf-8")
}

fn child<'a>(n: &'a XmlNode, path: &[&str]) -> &'a XmlNode {
    path.iter().fold(n, |n, name| {
        n.child(SAML2, name)
            .or_else(|| n.child(SAMLP, name))
            .unwrap_or_else(|| panic!("no {name}"))
    })
}

/// A session for jdoe@contoso.com, from a WS-Fed form sign-in.
async fn session(app: &App) -> String {
    let page = get(app, &wsfed(""), "").await;
    assert!(is_form(&page));
    let r = submit(app, &page, "jdoe@contoso.com").await;
    assert!(r.body.contains("wresult"), "{}", r.body);
    cookie_pair(&r, COOKIE)
}

fn refused_for(app: &App, reason: &str) -> bool {
    app.metrics.render().lines().any(|l| {
        l.starts_with("altgate_token_failures_total") && l.contains(&format!("reason=\"{reason}\""))
    })
}

#[tokio::test]
async fn saml_p_to_microsoft_365_is_what_entra_requires() {
    let app = app();
    let id = "_7171b0b2-19f2-4ba2-8f94-24b5e56b7f1e";
    let page = request(
        &app,
        true,
        "",
        &post_binding(&entra_authn_request(id, "", "")),
        "",
    )
    .await;
    assert!(is_form(&page), "{}", page.body);
    let r = submit(&app, &page, "jdoe@contoso.com").await;
    assert_eq!(r.form_target.as_deref(), Some(LOGIN_SRF), "{}", r.body);
    let xml = decoded_response(&r);
    let root = parse(xml.as_bytes(), Limits::default()).expect("xml");
    let issuer = "http://contoso.com/adfs/services/trust/";
    assert!(root.is(SAMLP, "Response"));
    assert_eq!(root.attr("", "Destination"), Some(LOGIN_SRF));
    assert_eq!(root.attr("", "InResponseTo"), Some(id));
    assert_eq!(child(&root, &["Issuer"]).text(), issuer);
    let a = child(&root, &["Assertion"]);
    assert_eq!(
        child(a, &["Issuer"]).text(),
        issuer,
        "the per-domain issuer"
    );
    assert!(
        a.child(crate::tokens::DSIG, "Signature").is_some(),
        "the assertion itself is signed"
    );
    let name_id = child(a, &["Subject", "NameID"]);
    assert_eq!(
        name_id.attr("", "Format"),
        Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent")
    );
    let immutable = app
        .resolver
        .resolve("jdoe@contoso.com")
        .await
        .account
        .as_ref()
        .and_then(|a| a.immutable_id.clone())
        .expect("immutable id");
    assert_eq!(name_id.text(), immutable);
    let data = child(
        a,
        &["Subject", "SubjectConfirmation", "SubjectConfirmationData"],
    );
    assert_eq!(data.attr("", "Recipient"), Some(LOGIN_SRF));
    assert_eq!(data.attr("", "InResponseTo"), Some(id));
    assert_eq!(
        child(a, &["Conditions", "AudienceRestriction", "Audience"]).text(),
        M365
    );
    let first = child(a, &["AttributeStatement", "Attribute"]);
    assert_eq!(first.attr("", "Name"), Some("IDPEmail"));
    assert_eq!(
        first.child(SAML2, "AttributeValue").map(XmlNode::text),
        Some("jdoe@contoso.com"),
        "IDPEmail is the cloud UPN (the alternate login ID)"
    );
    assert_eq!(
        child(
            a,
            &["AuthnStatement", "AuthnContext", "AuthnContextClassRef"]
        )
        .text(),
        "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
    );
    assert!(!xml.contains("multipleauthn"), "no MFA claimed: {xml}");

    // WS-Fed to the same relying party is unchanged: SAML 1.1, no IDPEmail, password method.
    let sso = cookie_pair(&r, COOKIE);
    let w = get(&app, &wsfed(""), &sso).await;
    let wresult = hidden(&w.body, "wresult");
    assert!(wresult.contains("MajorVersion=\"1\""), "{wresult}");
    assert!(!wresult.contains("IDPEmail"), "{wresult}");
    assert!(wresult.contains("AuthenticationMethod=\"urn:oasis:names:tc:SAML:1.0:am:password\""));
    assert!(!wresult.contains("multipleauthn"));

    // Another SAML SP gets no IDPEmail.
    let other = get(&app, &sp_redirect("_other1", "", ""), &sso).await;
    let xml = decoded_response(&other);
    assert!(
        !xml.contains("IDPEmail") && !xml.contains("multipleauthn"),
        "{xml}"
    );
}

#[tokio::test]
async fn the_login_hint_prefills_the_form_escaped_and_bounded() {
    let app = app();
    let r = get(&app, &wsfed("&username=jdoe%40contoso.com"), "").await;
    assert!(is_form(&r));
    assert_eq!(prefilled(&r), "jdoe@contoso.com");
    assert!(
        r.body.contains("id=\"passwordInput\" name=\"Password\" type=\"password\" autocomplete=\"current-password\" required aria-required=\"true\" autofocus"),
        "the password has focus when the user name is given"
    );

    let evil = "x\"><script>alert(1)</script>@contoso.com";
    let r = get(&app, &wsfed(&format!("&username={}", enc(evil))), "").await;
    assert!(is_form(&r));
    assert!(!r.body.contains("<script>alert"), "{}", r.body);
    assert!(
        prefilled(&r).starts_with("x&quot;>&lt;script>"),
        "{}",
        prefilled(&r)
    );

    let long = format!("{}@contoso.com", "a".repeat(400));
    for dropped in [long.as_str(), "a\u{1}b@contoso.com", "   "] {
        let r = get(&app, &wsfed(&format!("&username={}", enc(dropped))), "").await;
        assert!(is_form(&r));
        assert_eq!(prefilled(&r), "", "{dropped:?}");
    }

    // The hint is never identity: the password of the typed user decides.
    let r = get(&app, &wsfed("&username=alice%40contoso.com"), "").await;
    let done = submit(&app, &r, "jdoe@contoso.com").await;
    let wresult = hidden(&done.body, "wresult");
    assert!(wresult.contains(">jdoe@contoso.com<"), "{wresult}");

    // SAML: Subject/NameID of the AuthnRequest.
    let q = sp_redirect(
        "_hint1",
        "",
        "<saml:Subject><saml:NameID>fuser@fabrikam.com</saml:NameID></saml:Subject>",
    );
    let r = get(&app, &q, "").await;
    assert!(is_form(&r), "{}", r.body);
    assert_eq!(prefilled(&r), "fuser@fabrikam.com");
    let entra = entra_authn_request(
        "_hint2",
        "",
        "<saml:Subject><saml:NameID>jdoe@contoso.com</saml:NameID></saml:Subject>",
    );
    let r = request(&app, true, "", &post_binding(&entra), "").await;
    assert_eq!(prefilled(&r), "jdoe@contoso.com");
}

#[tokio::test]
async fn fresh_password_requests_show_the_form_despite_a_good_session() {
    let app = app();
    let sso = session(&app).await;
    let token = |r: &LsResponse| r.status == 200 && r.body.contains("name=\"wresult\"");

    // The session alone, and with whr or a password wauth: a token without the form.
    for extra in [
        "",
        "&whr=contoso.com",
        "&whr=urn%3Afederation%3Aother",
        &format!("&wauth={}", enc("urn:oasis:names:tc:SAML:1.0:am:password")),
        &format!("&wauth={}", enc(PASSWORD_URI)),
        "&wfresh=60",
        "&prompt=none",
    ] {
        let r = get(&app, &wsfed(extra), &sso).await;
        assert!(token(&r), "{extra}: {}", r.body);
    }

    // Entra's default promptLoginBehavior (wfresh=0 + password wauth), wfresh=0 alone and
    // nativeSupport's prompt=login: the form, even with the session.
    for extra in [
        format!("&wfresh=0&wauth={}", enc(PASSWORD_URI)),
        "&wfresh=0".to_string(),
        "&prompt=login".to_string(),
        "&prompt=login&username=jdoe%40contoso.com".to_string(),
    ] {
        let r = get(&app, &wsfed(&extra), &sso).await;
        assert!(is_form(&r), "{extra}: {}", r.body);
        assert!(
            !r.set_cookies
                .iter()
                .any(|c| c.starts_with(&format!("{COOKIE}=;"))),
            "the session is kept"
        );
        // The form carries the original request on, fresh-password parameters included.
        let (_, carried) = super::request::decode_ctx(&hidden(&r.body, "ctx")).expect("ctx");
        assert!(carried.ends_with(&extra), "{carried}");
        // The form's POST signs in with the password and issues the token.
        let done = submit(&app, &r, "jdoe@contoso.com").await;
        assert!(token(&done), "{extra}: {}", done.body);
        assert!(done
            .set_cookies
            .iter()
            .any(|c| c.starts_with(&format!("{COOKIE}="))));
    }

    // SAML: ForceAuthn, or prompt=login beside the request, forces the form; neither: SSO.
    let r = get(&app, &sp_redirect("_f1", " ForceAuthn=\"true\"", ""), &sso).await;
    assert!(is_form(&r), "{}", r.body);
    let r = get(
        &app,
        &format!("{}&prompt=login", sp_redirect("_f2", "", "")),
        &sso,
    )
    .await;
    assert!(is_form(&r), "{}", r.body);
    let done = submit(&app, &r, "jdoe@contoso.com").await;
    assert!(done.body.contains("SAMLResponse"), "{}", done.body);
    let r = get(&app, &sp_redirect("_f3", "", ""), &sso).await;
    assert!(r.body.contains("SAMLResponse"), "{}", r.body);
    let entra = entra_authn_request("_f4", " ForceAuthn=\"true\"", "");
    let r = request(&app, true, "", &post_binding(&entra), &sso).await;
    assert!(is_form(&r), "{}", r.body);
}

#[tokio::test]
async fn other_authentication_methods_are_refused_like_ad_fs() {
    let app = app();
    let sso = session(&app).await;
    for wauth in [
        "urn:oasis:names:tc:SAML:2.0:ac:classes:X509",
        "http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/windows",
        "http://schemas.microsoft.com/claims/multipleauthn",
    ] {
        let r = get(&app, &wsfed(&format!("&wauth={}", enc(wauth))), &sso).await;
        assert_eq!(r.status, 400, "{wauth}");
        assert!(
            r.body.contains("id=\"activityId\">test-activity<"),
            "{}",
            r.body
        );
        assert!(
            !r.body.contains("wresult") && r.form_target.is_none(),
            "no token for {wauth}"
        );
    }
    assert!(refused_for(&app, "unsupported_auth_method"));
}

#[tokio::test]
async fn a_hint_naming_another_account_shows_the_form_and_keeps_the_session() {
    let app = app();
    let sso = session(&app).await;
    let token = |r: &LsResponse| r.status == 200 && r.body.contains("name=\"wresult\"");
    // The session's own account, however it is spelled: SSO.
    for same in [
        "jdoe@contoso.com",
        "JDoe@Contoso.COM",
        "CONTOSO%5Cjdoe",
        "jdoe%40corp.contoso.local",
    ] {
        let r = get(&app, &wsfed(&format!("&username={same}")), &sso).await;
        assert!(token(&r), "{same}: {}", r.body);
    }
    // Someone else (or no one): the form, pre-filled, the session kept.
    for other in ["alice@contoso.com", "FABRIKAM\\jdoe", "nobody@contoso.com"] {
        let r = get(&app, &wsfed(&format!("&username={}", enc(other))), &sso).await;
        assert!(is_form(&r), "{other}: {}", r.body);
        assert_eq!(prefilled(&r), other);
        assert!(
            !r.set_cookies
                .iter()
                .any(|c| c.starts_with(&format!("{COOKIE}=;"))),
            "{other}: the session is kept"
        );
    }
    assert!(app
        .metrics
        .render()
        .contains("altgate_sso_sessions_total{result=\"hint_mismatch\"} 3"));
    // The session still works without a hint.
    assert!(token(&get(&app, &wsfed(""), &sso).await));
    // SAML Subject/NameID of another user: the form too.
    let q = sp_redirect(
        "_h1",
        "",
        "<saml:Subject><saml:NameID>alice@contoso.com</saml:NameID></saml:Subject>",
    );
    assert!(is_form(&get(&app, &q, &sso).await));
}
