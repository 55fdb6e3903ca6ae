//! The demo relying party over the embedded directory: WS-Federation and SAML sign-ins end at
//! "Signed in" with the claims; a changed, replayed, unsolicited or misaddressed token is refused.

use super::*;
use crate::app::App;
use crate::config::Config;
use crate::protocols::passive::{handle as ls, LsRequest};
use crate::session::CSRF_COOKIE;
use std::net::IpAddr;
use std::sync::Arc;

const BASE: &str = "https://sts.example.test";

fn app() -> Arc<App> {
    let yaml = format!(
        "server: {{ listen: 127.0.0.1:0, public_url: {BASE} }}\n\
         alternate_login_id: {{ attribute: mail, lookup_forests: [contoso.com, fabrikam.com] }}\n\
         demo_directory: config/demo-directory.yaml\n\
         forests: [{{ name: contoso.com }}, {{ name: fabrikam.com }}]\n\
         token_signing: {{ cert_file: tests/fixtures/test-token-signing.crt, key_file: tests/fixtures/test-token-signing.key }}\n\
         passive: {{ demo_relying_party: true }}\n"
    );
    App::new(Config::parse(&yaml, "test").expect("config")).expect("app")
}

fn pair(r: &LsResponse, name: &str) -> String {
    r.set_cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("no {name} in {:?}", r.set_cookies))
        .to_string()
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).map(|i| i + marker.len()).expect(name);
    let end = html[start..].find('"').map(|e| start + e).expect("end");
    html[start..end]
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#xA;", "\n")
        .replace("&#xD;", "\r")
        .replace("&#x9;", "\t")
        .replace("&amp;", "&")
}

async fn ls_call(app: &App, post: bool, query: &str, body: &str, cookies: &str) -> LsResponse {
    ls(
        &app.passive(),
        &LsRequest {
            post,
            raw_query: query,
            body: body.as_bytes(),
            cookie_header: Some(cookies),
            accept_language: None,
            request: &crate::request::RequestContext::local(IpAddr::from([127, 0, 0, 1]), "test"),
            idp_initiated: false,
            authorization: None,
            user_agent: None,
        },
    )
    .await
}

async fn demo_call(app: &App, path: &str, body: Option<&str>, cookies: &str) -> LsResponse {
    handle(
        &app.demo_rp(),
        &DemoRequest {
            path,
            post: body.is_some(),
            body: body.unwrap_or("").as_bytes(),
            cookie_header: Some(cookies),
        },
    )
    .await
}

/// From the demo application's start to the token page altgate posts back: (token page, the
/// demo state cookie).
async fn to_token(app: &App, start: &str) -> (LsResponse, String) {
    let go = demo_call(app, start, None, "").await;
    assert_eq!(go.status, 302);
    let state = pair(&go, STATE_COOKIE);
    let location = go.location.clone().expect("redirect");
    let query = location.strip_prefix("/adfs/ls/?").expect("to altgate");
    let form_page = ls_call(app, false, query, "", "").await;
    assert_eq!(form_page.status, 200, "{}", form_page.body);
    let csrf = pair(&form_page, CSRF_COOKIE);
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("UserName", "jdoe@contoso.com"),
            ("Password", "Demo-Passw0rd!"),
            ("csrf", &hidden(&form_page.body, "csrf")),
            ("ctx", &hidden(&form_page.body, "ctx")),
        ])
        .finish();
    let token = ls_call(app, true, "", &body, &csrf).await;
    assert_eq!(token.status, 200, "{}", token.body);
    (token, state)
}

fn post_body(fields: &[(&str, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields.iter().map(|(k, v)| (*k, v.as_str())))
        .finish()
}

#[tokio::test]
async fn wsfed_ends_signed_in_with_claims_and_refuses_changed_replayed_and_unsolicited_tokens() {
    let app = app();
    let (token, state) = to_token(&app, demo::WSFED).await;
    assert_eq!(
        token.form_target.as_deref(),
        Some(&*format!("{BASE}{}", demo::WSFED))
    );
    let sso = pair(&token, COOKIE);
    let fields = vec![
        ("wa", hidden(&token.body, "wa")),
        ("wresult", hidden(&token.body, "wresult")),
        ("wctx", hidden(&token.body, "wctx")),
    ];
    let cookies = format!("{state}; {sso}");

    // Changed after signing: the digest no longer matches.
    let mut changed = fields.clone();
    changed[1].1 = changed[1]
        .1
        .replacen("jdoe@contoso.com", "boss@contoso.com", 1);
    let r = demo_call(&app, demo::WSFED, Some(&post_body(&changed)), &cookies).await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("<code>digest</code>"), "{}", r.body);

    // Without the browser's state cookie: not this browser's sign-in.
    let r = demo_call(&app, demo::WSFED, Some(&post_body(&fields)), &sso).await;
    assert!(r.body.contains("<code>state</code>"), "{}", r.body);

    let r = demo_call(&app, demo::WSFED, Some(&post_body(&fields)), &cookies).await;
    assert_eq!(r.status, 200, "{}", r.body);
    for shown in [
        "<h1 id=\"signed-in\">Signed in</h1>",
        "as <strong>John Doe</strong>",
        "SAML 1.1 token over WS-Federation",
        "<td>jdoe@contoso.com</td>",
        "http://schemas.microsoft.com/ws/2013/11/alternateloginid",
        "<td id=\"issuer\">http://sts.example.test/adfs/services/trust</td>",
        "<table id=\"session\"><tr><th>Login</th><td>jdoe@contoso.com</td>",
        "name=\"wa\" value=\"wsignout1.0\"",
    ] {
        assert!(r.body.contains(shown), "{shown} in {}", r.body);
    }
    assert!(r
        .set_cookies
        .iter()
        .any(|c| c.starts_with(&format!("{STATE_COOKIE}=;"))));

    // The same token again: refused.
    let r = demo_call(&app, demo::WSFED, Some(&post_body(&fields)), &cookies).await;
    assert!(r.body.contains("<code>replayed</code>"), "{}", r.body);

    // The start page shows the SSO session; sign-out returns to it.
    let home = demo_call(&app, demo::HOME, None, &sso).await;
    assert!(home
        .body
        .contains("This browser has an altgate SSO session"));
    let out = ls_call(
        &app,
        false,
        &format!(
            "wa=wsignout1.0&wreply={}",
            form_urlencoded::byte_serialize(format!("{BASE}{}", demo::HOME).as_bytes())
                .collect::<String>()
        ),
        "",
        &sso,
    )
    .await;
    assert_eq!(out.status, 302);
    assert_eq!(out.location, Some(format!("{BASE}{}", demo::HOME)));
}

#[tokio::test]
async fn saml_ends_signed_in_and_checks_the_request_it_answers() {
    let app = app();
    let (token, state) = to_token(&app, demo::SAML).await;
    let fields = vec![
        ("SAMLResponse", hidden(&token.body, "SAMLResponse")),
        ("RelayState", hidden(&token.body, "RelayState")),
    ];
    // A state cookie from another request: InResponseTo does not match.
    let (kind_state, _) = state.rsplit_once('.').expect("state.id");
    let other = format!("{kind_state}._someotherrequest");
    let r = demo_call(&app, demo::SAML, Some(&post_body(&fields)), &other).await;
    assert!(r.body.contains("<code>in_response_to</code>"), "{}", r.body);

    let r = demo_call(&app, demo::SAML, Some(&post_body(&fields)), &state).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.contains("SAML 2.0 token over SAML 2.0"),
        "{}",
        r.body
    );
    assert!(r
        .body
        .contains("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"));
    assert!(r.body.contains("<td>jdoe@contoso.com</td>"));
}

#[tokio::test]
async fn a_token_signed_by_another_key_is_refused() {
    let app = app();
    let (token, _) = to_token(&app, demo::WSFED).await;
    let wresult = hidden(&token.body, "wresult");
    let rp = app.demo_rp();
    let mut e = expect(&rp);
    let (cert, _) = crate::keys::SigningKey::load(
        std::path::Path::new("tests/fixtures/test-token-signing.crt"),
        std::path::Path::new("tests/fixtures/test-token-signing.key"),
    )
    .map(|k| (k.cert_der().to_vec(), ()))
    .expect("key");
    assert_eq!(e.certs, vec![cert.as_slice()]);
    let other = rcgen::generate_simple_self_signed(vec!["x".to_string()]).expect("cert");
    let other_der = other.cert.der().to_vec();
    e.certs = vec![other_der.as_slice()];
    let refused = verify::wsfed(&wresult, &e).expect_err("another key");
    assert_eq!(refused.code, "signature");
}
