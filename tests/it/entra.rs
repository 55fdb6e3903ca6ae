//! Microsoft Entra ID against the real forests, over HTTPS, with the Microsoft 365 relying party
//! exactly as config/altgate.yaml ships it: an AuthnRequest shaped like Entra's (POST binding,
//! Issuer `urn:federation:MicrosoftOnline`, no ACS URL) gets a SAML 2.0 Response that pysaml2,
//! configured as Entra is (entityID `urn:federation:MicrosoftOnline`, ACS login.srf, signed
//! assertions required, IdP metadata naming the per-domain issuer and altgate's certificate),
//! accepts offline and xmlsec1 verifies; and what Entra adds to `/adfs/ls/` (the `username`
//! hint, `wfresh=0` + password `wauth`, `prompt=login`, `ForceAuthn`, `whr`) is honoured.

use crate::harness::{self, metric, TestServer};
use crate::kit::html::{enc, form, hidden};
use base64::Engine;

const M365: &str = "urn:federation:MicrosoftOnline";
const LOGIN_SRF: &str = "https://login.microsoftonline.com/login.srf";
const PASSWORD_WAUTH: &str =
    "http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password";
/// A provisioned user (scripts/ad-forests.sh) whose mS-DS-ConsistencyGuid differs from its
/// objectGUID; it signs in with its alternate login ID (mail).
const USER: &str = "consist@contoso.com";
const USER_IMMUTABLE_ID: &str = "AAECAwQFBgcICQoLDA0ODw==";
const CONTOSO_ISSUER: &str = "http://contoso.com/adfs/services/trust/";

/// The Microsoft 365 relying party as config/altgate.yaml ships it (its list item, verbatim).
fn shipped_m365_rp() -> String {
    let shipped = std::fs::read_to_string(harness::repo().join("config/altgate.yaml"))
        .expect("config/altgate.yaml");
    let mut lines = shipped
        .lines()
        .skip_while(|l| !l.starts_with("  - identifier: urn:federation:MicrosoftOnline"));
    let mut block = format!("{}\n", lines.next().expect("the shipped Microsoft 365 RP"));
    for l in lines.take_while(|l| l.starts_with("    ")) {
        block.push_str(l);
        block.push('\n');
    }
    assert!(block.contains(LOGIN_SRF), "{block}");
    block
}

/// A server whose Microsoft 365 relying party is the shipped one.
async fn server() -> TestServer {
    let tokens = harness::token_yaml();
    let start = tokens
        .find("  - identifier: urn:federation:MicrosoftOnline\n")
        .expect("harness M365 RP");
    let end = start
        + tokens[start..]
            .find("  - identifier: https://saml2.altgate.test/")
            .expect("next RP");
    let tokens = format!(
        "{}{}{}",
        &tokens[..start],
        shipped_m365_rp(),
        &tokens[end..]
    );
    TestServer::start_with_server_yaml(
        &[
            harness::ForestSpec::real("contoso.com"),
            harness::ForestSpec::real("fabrikam.com"),
        ],
        "",
        &tokens,
        "",
    )
    .await
}

/// An AuthnRequest as Entra ID sends it to a SAML 2.0 IdP (Microsoft's sample: no ACS URL,
/// `AssertionConsumerServiceIndex="0"`, persistent NameIDPolicy); `attrs` go on the root.
fn entra_request(id: &str, attrs: &str, subject: &str) -> String {
    let t = altgate::tokens::instant(time::OffsetDateTime::now_utc());
    format!(
        "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" IssueInstant=\"{t}\" Version=\"2.0\" AssertionConsumerServiceIndex=\"0\"{attrs}><saml:Issuer>{M365}</saml:Issuer>{subject}<samlp:NameIDPolicy Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\"/></samlp:AuthnRequest>"
    )
}

/// Entra posts its AuthnRequest (HTTP-POST binding).
async fn post_request(
    s: &TestServer,
    xml: &str,
    cookie: &str,
) -> (u16, Vec<(String, String)>, String) {
    let b64 = base64::engine::general_purpose::STANDARD.encode(xml);
    s.browse(
        "POST",
        "/adfs/ls/",
        cookie,
        Some(form(&[("SAMLRequest", &b64)])),
    )
    .await
}

fn is_form(page: &str) -> bool {
    page.contains("id=\"userNameInput\"")
}

/// The user name the sign-in form shows, as it is in the HTML.
fn prefilled(page: &str) -> String {
    let marker = "name=\"UserName\" type=\"text\" inputmode=\"email\" value=\"";
    let start = page.find(marker).expect("user name field") + marker.len();
    let end = start + page[start..].find('"').expect("end");
    page[start..end].to_string()
}

/// Posts the sign-in form `page` (which came with `headers`) as `user`.
async fn submit(
    s: &TestServer,
    page: &str,
    headers: &[(String, String)],
    user: &str,
) -> (u16, Vec<(String, String)>, String) {
    let csrf = harness::set_cookie(headers, "__Host-altgate-csrf").expect("csrf cookie");
    let pw = harness::forests().user_password.clone();
    let body = form(&[
        ("UserName", user),
        ("Password", &pw),
        ("AuthMethod", "FormsAuthentication"),
        ("csrf", &hidden(page, "csrf").expect("csrf")),
        ("ctx", &hidden(page, "ctx").expect("ctx")),
    ]);
    s.browse("POST", "/adfs/ls/", &csrf, Some(body)).await
}

/// Entra's side, offline: pysaml2 as the SP `urn:federation:MicrosoftOnline` with ACS login.srf
/// and signed assertions required, trusting the IdP metadata given.
const ENTRA_SP: &str = r#"
import json, sys
from saml2 import BINDING_HTTP_POST
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.saml import NAMEID_FORMAT_PERSISTENT
metadata, response_file, request_id = sys.argv[1:4]
acs = "https://login.microsoftonline.com/login.srf"
config = SPConfig()
config.load({
    "entityid": "urn:federation:MicrosoftOnline",
    "service": {"sp": {
        "endpoints": {"assertion_consumer_service": [(acs, BINDING_HTTP_POST)]},
        "allow_unsolicited": False,
        "want_assertions_signed": True,
        "want_response_signed": False,
        "name_id_format": [NAMEID_FORMAT_PERSISTENT],
    }},
    "metadata": {"local": [metadata]},
    "allow_unknown_attributes": True,
    "accepted_time_diff": 60,
    "xmlsec_binary": "/usr/bin/xmlsec1",
})
client = Saml2Client(config=config)
response = client.parse_authn_request_response(
    open(response_file).read(), BINDING_HTTP_POST, outstanding={request_id: "/"},
    conv_info={"remote_addr": "127.0.0.1", "request_uri": acs,
               "entity_id": "urn:federation:MicrosoftOnline"})
a = response.assertion
if a is None:
    sys.exit("pysaml2 accepted no assertion")
attributes = {}
for statement in a.attribute_statement:
    for attr in statement.attribute:
        attributes.setdefault(attr.name, []).extend((v.text or "").strip() for v in attr.attribute_value)
data = a.subject.subject_confirmation[0].subject_confirmation_data
print(json.dumps({
    "issuer": a.issuer.text.strip(),
    "assertion_signed": a.signature is not None,
    "name_id": response.name_id.text,
    "name_id_format": response.name_id.format,
    "attributes": attributes,
    "audience": [au.text for c in [a.conditions] for r in c.audience_restriction for au in r.audience],
    "recipient": data.recipient,
    "in_response_to": data.in_response_to,
    "authn_context": a.authn_statement[0].authn_context.authn_context_class_ref.text,
}))
"#;

/// Runs [`ENTRA_SP`] over `response` (base64): the parsed result, or pysaml2's refusal.
fn entra_parses(
    dir: &std::path::Path,
    metadata: &std::path::Path,
    response: &str,
    request_id: &str,
) -> Result<serde_json::Value, String> {
    let file = dir.join("response.b64");
    std::fs::write(&file, response).expect("write response");
    let out = std::process::Command::new(harness::msal_python())
        .arg("-c")
        .arg(ENTRA_SP)
        .arg(metadata)
        .arg(&file)
        .arg(request_id)
        .output()
        .expect("run python");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
}

/// IdP metadata as Entra knows the federated domain: entityID = the domain's issuer URI,
/// altgate's signing certificate.
fn idp_metadata(dir: &std::path::Path, entity_id: &str, base: &str) -> std::path::PathBuf {
    let (cert, _) = harness::signing_pair();
    let pem = std::fs::read_to_string(cert).expect("cert");
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let xml = format!(
        "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"{entity_id}\">\
         <md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\
         <md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>\
         <md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"{base}/adfs/ls/\"/>\
         </md:IDPSSODescriptor></md:EntityDescriptor>"
    );
    let file = dir.join("idp.xml");
    std::fs::write(&file, xml).expect("write metadata");
    file
}

#[tokio::test]
async fn entra_over_saml_p_gets_what_it_requires_from_the_shipped_relying_party() {
    let _g = harness::shared().await;
    tokio::task::spawn_blocking(harness::msal_python)
        .await
        .expect("venv");
    let s = server().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, _) = harness::signing_pair();

    let id = "_7171b0b2-19f2-4ba2-8f94-24b5e56b7f1e";
    let (status, headers, page) = post_request(&s, &entra_request(id, "", ""), "").await;
    assert_eq!(status, 200, "{page}");
    assert!(is_form(&page), "{page}");
    let (status, headers, done) = submit(&s, &page, &headers, USER).await;
    assert_eq!(status, 200, "{done}");
    assert!(done.contains(&format!("action=\"{LOGIN_SRF}\"")), "{done}");
    let response = hidden(&done, "SAMLResponse").expect("SAMLResponse");
    let xml = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(&response)
            .expect("base64"),
    )
    .expect("utf-8");
    eprintln!("SAML 2.0 Response to Entra:\n{xml}");
    assert!(
        harness::xmlsec_verify(
            &xml,
            cert,
            "ID",
            "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"
        ),
        "xmlsec1 verifies the assertion: {xml}"
    );
    assert!(!xml.contains("multipleauthn"), "no MFA claimed: {xml}");

    // Entra's side accepts it with the per-domain issuer...
    let md = idp_metadata(dir.path(), CONTOSO_ISSUER, &s.base);
    let got = entra_parses(dir.path(), &md, &response, id).expect("pysaml2 accepts it");
    eprintln!("pysaml2 as Entra: {got}");
    assert_eq!(got["issuer"], CONTOSO_ISSUER);
    assert_eq!(got["assertion_signed"], true);
    assert_eq!(
        got["name_id_format"],
        "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
    );
    assert_eq!(got["name_id"], USER_IMMUTABLE_ID, "the consistency GUID");
    assert_eq!(got["attributes"]["IDPEmail"], serde_json::json!([USER]));
    assert_eq!(
        got["attributes"]["http://schemas.xmlsoap.org/claims/UPN"],
        serde_json::json!([USER]),
        "IDPEmail is the UPN claim's value"
    );
    assert_eq!(got["audience"], serde_json::json!([M365]));
    assert_eq!(got["recipient"], LOGIN_SRF);
    assert_eq!(got["in_response_to"], id);
    assert_eq!(
        got["authn_context"],
        "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
    );
    // ...refuses it under another issuer (a domain federated with the global issuer), and
    // refuses a tampered copy.
    let md_global = idp_metadata(
        dir.path(),
        "https://sts.altgate.test/adfs/services/trust",
        &s.base,
    );
    let refused = entra_parses(dir.path(), &md_global, &response, id).expect_err("other issuer");
    eprintln!(
        "pysaml2, issuer not in its metadata: {}",
        refused.lines().last().unwrap_or("")
    );
    assert!(
        refused.contains("MissingKey"),
        "no key for that issuer: {refused}"
    );
    let md = idp_metadata(dir.path(), CONTOSO_ISSUER, &s.base);
    let tampered = base64::engine::general_purpose::STANDARD.encode(xml.replacen(
        &format!("<saml:AttributeValue>{USER}<"),
        "<saml:AttributeValue>jdoe@contoso.com<",
        1,
    ));
    let refused = entra_parses(dir.path(), &md, &tampered, id).expect_err("tampered");
    eprintln!(
        "pysaml2, tampered: {}",
        refused.lines().last().unwrap_or("")
    );
    assert!(refused.contains("SignatureError"), "{refused}");

    // The same relying party over WS-Fed still gets SAML 1.1 (token_type), from the session.
    let sso = harness::set_cookie(&headers, "__Host-altgate-sso").expect("sso cookie");
    let (_, _, page) = s
        .browse(
            "GET",
            &format!("/adfs/ls/?wa=wsignin1.0&wtrealm={}", enc(M365)),
            &sso,
            None,
        )
        .await;
    let wresult = hidden(&page, "wresult").expect("SSO token");
    assert!(harness::xmlsec_verify(
        &wresult,
        cert,
        "AssertionID",
        "urn:oasis:names:tc:SAML:1.0:assertion:Assertion"
    ));
    assert!(wresult.contains(&format!(">{USER_IMMUTABLE_ID}</saml:NameIdentifier>")));
    assert!(!wresult.contains("IDPEmail") && !wresult.contains("multipleauthn"));
    assert!(wresult.contains("AuthenticationMethod=\"urn:oasis:names:tc:SAML:1.0:am:password\""));
}

#[tokio::test]
async fn what_entra_sends_to_adfs_ls_is_honoured() {
    let _g = harness::shared().await;
    let s = server().await;
    let wsfed = |extra: &str| format!("/adfs/ls/?wa=wsignin1.0&wtrealm={}{extra}", enc(M365));

    // The username hint pre-fills the form, escaped.
    let (status, _, page) = s
        .browse("GET", &wsfed(&format!("&username={}", enc(USER))), "", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(prefilled(&page), USER);
    let evil = "\"><img src=x onerror=alert(1)>@contoso.com";
    let (_, _, page) = s
        .browse("GET", &wsfed(&format!("&username={}", enc(evil))), "", None)
        .await;
    assert!(!page.contains("<img src=x"), "{page}");
    assert_eq!(
        prefilled(&page),
        "&quot;>&lt;img src=x onerror=alert(1)>@contoso.com"
    );

    // A session, from the pre-filled form (whr accepted and ignored).
    let (status, headers, page) = s
        .browse(
            "GET",
            &wsfed(&format!("&username={}&whr=contoso.com", enc(USER))),
            "",
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, headers, done) = submit(&s, &page, &headers, USER).await;
    assert_eq!(status, 200, "{done}");
    assert!(hidden(&done, "wresult").is_some(), "{done}");
    let sso = harness::set_cookie(&headers, "__Host-altgate-sso").expect("sso cookie");

    // With the session: a token without the form for the same account, whr, a password wauth.
    for extra in [
        String::new(),
        format!("&username={}", enc(USER)),
        "&username=CONTOSO%5Cconsist".to_string(),
        "&whr=contoso.com".to_string(),
        format!("&wauth={}", enc(PASSWORD_WAUTH)),
    ] {
        let (status, _, page) = s.browse("GET", &wsfed(&extra), &sso, None).await;
        assert_eq!(status, 200, "{extra}");
        assert!(
            hidden(&page, "wresult").is_some(),
            "{extra}: SSO token expected: {page}"
        );
    }
    // Entra's default translation of prompt=login, nativeSupport's prompt=login, SAML
    // ForceAuthn, a hint for another user: the form, even with the session.
    for extra in [
        format!(
            "&wfresh=0&wauth={}&username={}",
            enc(PASSWORD_WAUTH),
            enc(USER)
        ),
        "&prompt=login".to_string(),
        "&username=jdoe%40contoso.com".to_string(),
    ] {
        let (status, _, page) = s.browse("GET", &wsfed(&extra), &sso, None).await;
        assert_eq!(status, 200, "{extra}");
        assert!(is_form(&page), "{extra}: the form expected: {page}");
    }
    let (_, _, page) = s
        .browse(
            "GET",
            &wsfed(&format!(
                "&wfresh=0&wauth={}&username={}",
                enc(PASSWORD_WAUTH),
                enc(USER)
            )),
            &sso,
            None,
        )
        .await;
    assert_eq!(prefilled(&page), USER);
    let forced = entra_request("_force-1", " ForceAuthn=\"true\"", "");
    let (status, headers, page) = post_request(&s, &forced, &sso).await;
    assert_eq!(status, 200);
    assert!(is_form(&page), "ForceAuthn: {page}");
    // The fresh sign-in completes the original request.
    let (status, _, done) = submit(&s, &page, &headers, USER).await;
    assert_eq!(status, 200, "{done}");
    assert!(hidden(&done, "SAMLResponse").is_some(), "{done}");
    // The SAML Subject/NameID hint pre-fills the form.
    let hinted = entra_request(
        "_hint-1",
        "",
        &format!("<saml:Subject><saml:NameID>{USER}</saml:NameID></saml:Subject>"),
    );
    let (_, _, page) = post_request(&s, &hinted, "").await;
    assert_eq!(prefilled(&page), USER);
    // Without ForceAuthn, the session answers Entra's SAML request.
    let (_, _, page) = post_request(&s, &entra_request("_sso-1", "", ""), &sso).await;
    assert!(hidden(&page, "SAMLResponse").is_some(), "{page}");

    // Any other authentication method: the error page, as AD FS refuses it (MSIS7102).
    let (status, _, page) = s
        .browse(
            "GET",
            &wsfed(&format!(
                "&wauth={}",
                enc("urn:oasis:names:tc:SAML:2.0:ac:classes:X509")
            )),
            &sso,
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert!(page.contains("id=\"activityId\""), "{page}");
    assert!(hidden(&page, "wresult").is_none());
    assert_eq!(
        metric(
            &s.app.metrics,
            "altgate_token_failures_total{protocol=\"wsfed\",reason=\"unsupported_auth_method\",relying_party=\"urn:federation:MicrosoftOnline\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(
            &s.app.metrics,
            "altgate_sso_sessions_total{result=\"hint_mismatch\"}"
        ),
        1.0
    );
}
