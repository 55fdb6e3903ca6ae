//! WS-Trust against the real forests: Microsoft's MSAL (a third-party client) discovers the
//! endpoints from mex and gets tokens; xmlsec1 (an independent implementation) verifies every
//! signature over the exact bytes sent; hand-written requests cover every fault.

use crate::harness::{self, metric, TestServer};
use altgate::xml::parse::{parse, Limits, XmlNode};
use serde_json::Value;

const SAML1: &str = "urn:oasis:names:tc:SAML:1.0:assertion";
const SAML2: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const ID11: (&str, &str) = (
    "AssertionID",
    "urn:oasis:names:tc:SAML:1.0:assertion:Assertion",
);
const SOAP: &str = "application/soap+xml; charset=utf-8";

/// Runs the MSAL client as a subprocess without blocking the runtime the server runs on.
async fn msal(server: &TestServer, username: &str, password: &str, prefer: &str) -> Value {
    let python = tokio::task::spawn_blocking(harness::msal_python)
        .await
        .expect("setup");
    let out = tokio::process::Command::new(python)
        .arg(harness::repo().join("scripts/wstrust_client.py"))
        .args(["--mex", &format!("{}/adfs/services/trust/mex", server.base)])
        .arg("--ca")
        .arg(&server.ca)
        .args([
            "--username",
            username,
            "--password",
            password,
            "--prefer",
            prefer,
        ])
        .output()
        .await
        .expect("run the MSAL client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)))
}

/// SAML 1.1 attribute values by AttributeName.
fn saml11_attributes(assertion: &XmlNode) -> Vec<(String, String)> {
    assertion
        .child(SAML1, "AttributeStatement")
        .map(|s| {
            s.children
                .iter()
                .filter(|a| a.is(SAML1, "Attribute"))
                .map(|a| {
                    (
                        a.attr("", "AttributeName").unwrap_or_default().to_string(),
                        a.child(SAML1, "AttributeValue")
                            .map(|v| v.text().to_string())
                            .unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn attr<'a>(attrs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn limits() -> Limits {
    Limits {
        max_depth: 32,
        max_elements: 4096,
        max_attributes: 32,
    }
}

#[tokio::test]
async fn msal_gets_verified_tokens_for_every_kind_of_login_on_both_endpoints() {
    let _g = harness::shared().await;
    let server = TestServer::start("").await;
    let pw = harness::forests().user_password.clone();
    let (cert, _) = harness::signing_pair();
    // (login, expected UPN claim, alternateloginid claim, issuer)
    let cases = [
        (
            "jdoe@contoso.com",
            "jdoe@contoso.com",
            Some("jdoe@contoso.com"),
            "http://contoso.com/adfs/services/trust/",
        ),
        (
            "jdoe@corp.contoso.local",
            "jdoe@corp.contoso.local",
            None,
            "http://localhost/adfs/services/trust",
        ),
        (
            "CONTOSO\\jdoe",
            "jdoe@corp.contoso.local",
            None,
            "http://localhost/adfs/services/trust",
        ),
        (
            "fuser@fabrikam.com",
            "fuser@fabrikam.com",
            Some("fuser@fabrikam.com"),
            "http://fabrikam.com/adfs/services/trust/",
        ),
    ];
    for (login, upn, alt, issuer) in cases {
        let resolved = server.app.resolver.resolve(login).await;
        let immutable = resolved
            .account
            .as_ref()
            .and_then(|a| a.immutable_id.clone())
            .expect("immutable id");
        for prefer in ["13", "2005"] {
            let v = msal(&server, login, &pw, prefer).await;
            let ctx = format!("{login} over {prefer}: {v}");
            assert!(v.get("error").is_none(), "{ctx}");
            assert!(
                v["endpoint"].as_str().is_some_and(
                    |e| e.ends_with(&format!("/adfs/services/trust/{prefer}/usernamemixed"))
                ),
                "{ctx}"
            );
            assert_eq!(
                v["token_type"], "urn:oasis:names:tc:SAML:1.0:assertion",
                "{ctx}"
            );
            let token = v["token"].as_str().expect("token");
            assert!(
                harness::xmlsec_verify(token, cert, ID11.0, ID11.1),
                "xmlsec1 must verify the token MSAL extracted: {ctx}"
            );
            let a = parse(token.as_bytes(), limits()).expect("assertion parses");
            assert!(a.is(SAML1, "Assertion"));
            assert_eq!(a.attr("", "Issuer"), Some(issuer), "{ctx}");
            assert_eq!(a.attr("", "MajorVersion"), Some("1"));
            assert_eq!(a.attr("", "MinorVersion"), Some("1"));
            let audience = a
                .child(SAML1, "Conditions")
                .and_then(|c| c.child(SAML1, "AudienceRestrictionCondition"))
                .and_then(|c| c.child(SAML1, "Audience"))
                .map(XmlNode::text);
            assert_eq!(audience, Some("urn:federation:MicrosoftOnline"));
            let subject = a
                .child(SAML1, "AttributeStatement")
                .and_then(|s| s.child(SAML1, "Subject"))
                .expect("subject");
            assert_eq!(
                subject.child(SAML1, "NameIdentifier").map(XmlNode::text),
                Some(immutable.as_str()),
                "{ctx}"
            );
            let method = a
                .child(SAML1, "AuthenticationStatement")
                .and_then(|s| s.attr("", "AuthenticationMethod"));
            assert_eq!(method, Some("urn:oasis:names:tc:SAML:1.0:am:password"));
            let attrs = saml11_attributes(&a);
            assert_eq!(attr(&attrs, "UPN"), Some(upn), "{ctx}");
            assert_eq!(
                attr(&attrs, "ImmutableID"),
                Some(immutable.as_str()),
                "{ctx}"
            );
            assert_eq!(attr(&attrs, "alternateloginid"), alt, "{ctx}");
            assert_eq!(
                attr(&attrs, "insidecorporatenetwork"),
                Some("true"),
                "{ctx}"
            );
            // display_name_order: family_given.
            if login.contains("jdoe") {
                assert_eq!(attr(&attrs, "name"), Some("Doe John"), "{ctx}");
            } else {
                assert!(attr(&attrs, "name").is_some_and(|n| !n.is_empty()), "{ctx}");
            }
        }
    }
    assert!(metric(&server.app.metrics, "altgate_tokens_issued_total{protocol=\"wstrust_13\",relying_party=\"urn:federation:MicrosoftOnline\"}") >= 4.0);
    assert!(metric(&server.app.metrics, "altgate_tokens_issued_total{protocol=\"wstrust_2005\",relying_party=\"urn:federation:MicrosoftOnline\"}") >= 4.0);
    assert_eq!(
        metric(
            &server.app.metrics,
            "altgate_alternate_login_id_authentications_total"
        ),
        4.0
    );
}

pub(crate) fn rst(
    version: &str,
    username: &str,
    password: &str,
    applies_to: &str,
    extra_body: &str,
    skew_minutes: i64,
) -> String {
    let (wst, action, key, req) = if version == "13" {
        (
            "http://docs.oasis-open.org/ws-sx/ws-trust/200512",
            "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue",
            "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Bearer",
            "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue",
        )
    } else {
        (
            "http://schemas.xmlsoap.org/ws/2005/02/trust",
            "http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Issue",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey",
            "http://schemas.xmlsoap.org/ws/2005/02/trust/Issue",
        )
    };
    let now = time::OffsetDateTime::now_utc() + time::Duration::minutes(skew_minutes);
    let fmt = time::format_description::well_known::Rfc3339;
    let created = now.format(&fmt).expect("time");
    let expires = (now + time::Duration::minutes(10))
        .format(&fmt)
        .expect("time");
    let esc = altgate::xml::escape_text;
    format!(
        "<s:Envelope xmlns:s='http://www.w3.org/2003/05/soap-envelope' xmlns:wsa='http://www.w3.org/2005/08/addressing' xmlns:wsu='http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd'>\
<s:Header><wsa:Action s:mustUnderstand='1'>{action}</wsa:Action><wsa:MessageID>urn:uuid:0f0e0d0c-0b0a-0908-0706-050403020100</wsa:MessageID>\
<wsse:Security s:mustUnderstand='1' xmlns:wsse='http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd'>\
<wsu:Timestamp wsu:Id='_0'><wsu:Created>{created}</wsu:Created><wsu:Expires>{expires}</wsu:Expires></wsu:Timestamp>\
<wsse:UsernameToken wsu:Id='u'><wsse:Username>{}</wsse:Username><wsse:Password Type='http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText'>{}</wsse:Password></wsse:UsernameToken>\
</wsse:Security></s:Header><s:Body><wst:RequestSecurityToken xmlns:wst='{wst}'>\
<wsp:AppliesTo xmlns:wsp='http://schemas.xmlsoap.org/ws/2004/09/policy'><wsa:EndpointReference><wsa:Address>{}</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>\
<wst:KeyType>{key}</wst:KeyType><wst:RequestType>{req}</wst:RequestType>{extra_body}</wst:RequestSecurityToken></s:Body></s:Envelope>",
        esc(username),
        esc(password),
        esc(applies_to)
    )
}

fn fault_reason(body: &str) -> String {
    let env = parse(body.as_bytes(), limits()).unwrap_or_else(|e| panic!("{e}: {body}"));
    let soap = "http://www.w3.org/2003/05/soap-envelope";
    env.child(soap, "Body")
        .and_then(|b| b.child(soap, "Fault"))
        .and_then(|f| f.child(soap, "Reason"))
        .and_then(|r| r.child(soap, "Text"))
        .map(|t| t.text().to_string())
        .unwrap_or_else(|| panic!("no fault reason in {body}"))
}

const ID3242: &str = "ID3242: The security token could not be authenticated or authorized.";
const ID3082: &str = "ID3082: The request scope is not valid or is unsupported.";
const MSIS3127: &str = "MSIS3127: The specified request failed.";

#[tokio::test]
async fn credential_failures_all_look_the_same_to_the_client() {
    let _g = harness::shared().await;
    let server = TestServer::start("").await;
    let pw = harness::forests().user_password.clone();
    let m = &server.app.metrics;
    let post = |body: String| {
        server.request(
            "POST",
            "/adfs/services/trust/13/usernamemixed",
            Some(SOAP),
            body.into_bytes(),
        )
    };
    let cases = [
        ("jdoe@contoso.com", "Wrong-Password-1", "wrong_password"),
        ("disabled@contoso.com", pw.as_str(), "account_disabled"),
        ("nobody@contoso.com", pw.as_str(), "not_found"),
        ("cross@example.com", pw.as_str(), "ambiguous"),
    ];
    for (login, password, reason) in cases {
        let (status, body) = post(rst(
            "13",
            login,
            password,
            "urn:federation:MicrosoftOnline",
            "",
            0,
        ))
        .await;
        assert_eq!(status, 500, "{login}");
        assert_eq!(
            fault_reason(&body),
            ID3242,
            "{login}: the client never learns why"
        );
        assert!(body.contains("a:FailedAuthentication"));
        assert!(
            !body.contains(reason) && !body.contains(login),
            "no enumeration: {body}"
        );
        let series = format!("altgate_sign_in_failures_total{{reason=\"{reason}\"}}");
        assert_eq!(metric(m, &series), 1.0, "{series}");
    }
    assert_eq!(
        metric(
            m,
            "altgate_binds_total{domain=\"contoso.com\",result=\"wrong_password\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(
            m,
            "altgate_binds_total{domain=\"contoso.com\",result=\"account_disabled\"}"
        ),
        1.0
    );

    // An empty password is refused before any directory traffic: no search, no bind.
    let before_searches = m
        .render()
        .matches("altgate_directory_searches_total{")
        .count();
    let (status, body) = post(rst(
        "13",
        "fuser@fabrikam.com",
        "",
        "urn:federation:MicrosoftOnline",
        "",
        0,
    ))
    .await;
    assert_eq!((status, fault_reason(&body).as_str()), (500, ID3242));
    assert_eq!(
        metric(
            m,
            "altgate_sign_in_failures_total{reason=\"empty_password\"}"
        ),
        1.0
    );
    assert_eq!(
        crate::kit::config::total(
            &m.render(),
            "altgate_binds_total",
            "domain=\"fabrikam.com\""
        ),
        0.0,
        "no bind reached fabrikam's DC"
    );
    assert_eq!(
        m.render()
            .matches("altgate_directory_searches_total{")
            .count(),
        before_searches
    );

    // The right password still works after all that (no lockout side effects here).
    let (status, body) = post(rst(
        "13",
        "jdoe@contoso.com",
        &pw,
        "urn:federation:MicrosoftOnline",
        "",
        0,
    ))
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn the_response_verifies_as_sent_and_saml2_can_be_requested() {
    let _g = harness::shared().await;
    let server = TestServer::start("").await;
    let pw = harness::forests().user_password.clone();
    let (cert, _) = harness::signing_pair();
    for version in ["13", "2005"] {
        let (status, body) = server
            .request(
                "POST",
                &format!("/adfs/services/trust/{version}/usernamemixed"),
                Some(SOAP),
                rst(
                    version,
                    "jdoe@contoso.com",
                    &pw,
                    "urn:federation:MicrosoftOnline",
                    "",
                    0,
                )
                .into_bytes(),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        // The signature verifies inside the whole response, over the bytes on the wire.
        assert!(
            harness::xmlsec_verify(&body, cert, ID11.0, ID11.1),
            "{body}"
        );
        assert!(body
            .contains("<a:RelatesTo>urn:uuid:0f0e0d0c-0b0a-0908-0706-050403020100</a:RelatesTo>"));
        assert!(body.contains(">urn:oasis:names:tc:SAML:1.0:assertion</"));
        // Tampering with one character breaks it.
        let tampered = body.replacen(
            "jdoe@contoso.com</saml:AttributeValue>",
            "jdoe@contoso.org</saml:AttributeValue>",
            1,
        );
        assert_ne!(tampered, body);
        assert!(!harness::xmlsec_verify(&tampered, cert, ID11.0, ID11.1));
    }
    let (status, body) = server
        .request(
            "POST",
            "/adfs/services/trust/13/usernamemixed",
            Some(SOAP),
            rst(
                "13",
                "fuser@fabrikam.com",
                &pw,
                "urn:federation:MicrosoftOnline",
                "<wst:TokenType>urn:oasis:names:tc:SAML:2.0:assertion</wst:TokenType>",
                0,
            )
            .into_bytes(),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(">urn:oasis:names:tc:SAML:2.0:assertion</"));
    assert!(
        harness::xmlsec_verify(
            &body,
            cert,
            "ID",
            "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"
        ),
        "{body}"
    );
    // A relying party configured for SAML 2.0 gets SAML 2.0 by default.
    let (status, body) = server
        .request(
            "POST",
            "/adfs/services/trust/2005/usernamemixed",
            Some(SOAP),
            rst(
                "2005",
                "fuser@fabrikam.com",
                &pw,
                "https://saml2.altgate.test",
                "",
                0,
            )
            .into_bytes(),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let start = body.find("<saml:Assertion").expect("assertion");
    let end = body.find("</saml:Assertion>").expect("end") + "</saml:Assertion>".len();
    let a = parse(&body.as_bytes()[start..end], limits()).expect("parse");
    assert!(a.is(SAML2, "Assertion"));
    // Not Microsoft 365: the issuer is altgate's entityID, not the per-domain one.
    assert_eq!(
        a.child(SAML2, "Issuer").map(XmlNode::text),
        Some("http://localhost/adfs/services/trust")
    );
}

/// (name, endpoint version, content type, body, expected status, expected fault reason)
type HostileCase<'a> = (&'a str, &'a str, Option<&'a str>, Vec<u8>, u16, &'a str);

#[tokio::test]
async fn malformed_and_hostile_requests_get_faults_and_never_reach_the_directory() {
    let _g = harness::shared().await;
    let server = TestServer::start("").await;
    let pw = harness::forests().user_password.clone();
    let good = rst(
        "13",
        "jdoe@contoso.com",
        &pw,
        "urn:federation:MicrosoftOnline",
        "",
        0,
    );
    let bomb = format!(
        "<?xml version='1.0'?><!DOCTYPE s:Envelope [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'><!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;'>]>{}",
        good.replace("jdoe@contoso.com", "&c;")
    );
    let xxe = format!(
        "<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>{}",
        good.replace("jdoe@contoso.com", "&e;")
    );
    let deep = good.replace(
        "<s:Body>",
        &format!("<s:Body>{}{}", "<x>".repeat(100), "</x>".repeat(100)),
    );
    let cases: Vec<HostileCase> = vec![
        (
            "entity expansion",
            "13",
            Some(SOAP),
            bomb.into_bytes(),
            500,
            MSIS3127,
        ),
        (
            "external entity",
            "13",
            Some(SOAP),
            xxe.into_bytes(),
            500,
            MSIS3127,
        ),
        (
            "deep nesting",
            "13",
            Some(SOAP),
            deep.into_bytes(),
            500,
            MSIS3127,
        ),
        (
            "not xml",
            "13",
            Some(SOAP),
            b"hello".to_vec(),
            500,
            MSIS3127,
        ),
        (
            "truncated",
            "13",
            Some(SOAP),
            good.as_bytes()[..good.len() / 2].to_vec(),
            500,
            MSIS3127,
        ),
        (
            "not utf-8",
            "13",
            Some(SOAP),
            vec![0xff, 0xfe, 0x00, 0x3c],
            500,
            MSIS3127,
        ),
        (
            "soap 1.1",
            "13",
            Some(SOAP),
            good.replace(
                "http://www.w3.org/2003/05/soap-envelope",
                "http://schemas.xmlsoap.org/soap/envelope/",
            )
            .into_bytes(),
            500,
            MSIS3127,
        ),
        (
            "wrong action",
            "13",
            Some(SOAP),
            good.replace("RST/Issue<", "RST/Cancel<").into_bytes(),
            500,
            MSIS3127,
        ),
        (
            "2005 body at 1.3",
            "13",
            Some(SOAP),
            rst(
                "2005",
                "jdoe@contoso.com",
                &pw,
                "urn:federation:MicrosoftOnline",
                "",
                0,
            )
            .into_bytes(),
            500,
            MSIS3127,
        ),
        (
            "no username token",
            "13",
            Some(SOAP),
            good.replace("wsse:UsernameToken", "wsse:Other")
                .into_bytes(),
            500,
            MSIS3127,
        ),
        (
            "expired timestamp",
            "13",
            Some(SOAP),
            rst(
                "13",
                "jdoe@contoso.com",
                &pw,
                "urn:federation:MicrosoftOnline",
                "",
                -60,
            )
            .into_bytes(),
            500,
            MSIS3127,
        ),
        (
            "future timestamp",
            "13",
            Some(SOAP),
            rst(
                "13",
                "jdoe@contoso.com",
                &pw,
                "urn:federation:MicrosoftOnline",
                "",
                60,
            )
            .into_bytes(),
            500,
            MSIS3127,
        ),
        (
            "digest password",
            "13",
            Some(SOAP),
            good.replace("#PasswordText", "#PasswordDigest")
                .into_bytes(),
            500,
            MSIS3127,
        ),
        (
            "wrong content type",
            "13",
            Some("text/plain"),
            good.clone().into_bytes(),
            500,
            MSIS3127,
        ),
        (
            "oversize",
            "13",
            Some(SOAP),
            good.replace(
                "<s:Body>",
                &format!("<s:Body><!--{}-->", "x".repeat(70 * 1024)),
            )
            .into_bytes(),
            413,
            MSIS3127,
        ),
        (
            "unknown applies-to",
            "13",
            Some(SOAP),
            rst(
                "13",
                "jdoe@contoso.com",
                &pw,
                "urn:evil:relying-party",
                "",
                0,
            )
            .into_bytes(),
            500,
            ID3082,
        ),
        (
            "ldap metacharacters",
            "2005",
            Some(SOAP),
            rst(
                "2005",
                "*)(mail=*",
                &pw,
                "urn:federation:MicrosoftOnline",
                "",
                0,
            )
            .into_bytes(),
            500,
            ID3242,
        ),
    ];
    for (name, version, ct, body, status, reason) in cases {
        let before = server.app.metrics.render();
        let (got, text) = server
            .request(
                "POST",
                &format!("/adfs/services/trust/{version}/usernamemixed"),
                ct,
                body,
            )
            .await;
        assert_eq!(got, status, "{name}: {text}");
        assert_eq!(fault_reason(&text), reason, "{name}");
        let after = server.app.metrics.render();
        if reason != ID3242 {
            assert_eq!(
                before.matches("altgate_directory_searches_total{").count(),
                after.matches("altgate_directory_searches_total{").count(),
                "{name} must not reach the directory"
            );
            assert_eq!(
                crate::kit::config::total(&after, "altgate_binds_total", ""),
                0.0,
                "{name}: no bind"
            );
        }
    }
    // The server is still fine.
    let (status, _) = server
        .request(
            "POST",
            "/adfs/services/trust/13/usernamemixed",
            Some(SOAP),
            good.into_bytes(),
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn mex_and_signed_metadata_point_at_the_live_endpoints() {
    let _g = harness::shared().await;
    let server = TestServer::start("").await;
    let (cert, _) = harness::signing_pair();
    let (status, mex) = server
        .request("GET", "/adfs/services/trust/mex", None, Vec::new())
        .await;
    assert_eq!(status, 200);
    for v in ["13", "2005"] {
        assert!(mex.contains(&format!(
            "<wsa10:Address>{}/adfs/services/trust/{v}/usernamemixed</wsa10:Address>",
            server.base
        )));
    }
    let (status, md) = server
        .request(
            "GET",
            "/FederationMetadata/2007-06/FederationMetadata.xml",
            None,
            Vec::new(),
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        harness::xmlsec_verify(
            &md,
            cert,
            "ID",
            "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor"
        ),
        "{md}"
    );
    let pem = std::fs::read_to_string(cert).expect("cert");
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(
        md.contains(&format!("<X509Certificate>{b64}</X509Certificate>")),
        "the signing certificate is published"
    );
    assert!(md.contains(&format!(
        "<wsa:Address>{}/adfs/services/trust/2005/usernamemixed</wsa:Address>",
        server.base
    )));
    assert!(md.contains(&format!("Location=\"{}/adfs/ls/\"", server.base)));
    // Every claim type altgate can issue is offered, the three password-expiry ones included.
    for uri in [
        "http://schemas.xmlsoap.org/claims/UPN",
        "http://schemas.microsoft.com/LiveID/Federation/2008/05/ImmutableID",
        "http://schemas.microsoft.com/ws/2012/01/passwordexpirationtime",
        "http://schemas.microsoft.com/ws/2012/01/passwordexpirationdays",
        "http://schemas.microsoft.com/ws/2012/01/passwordchangeurl",
    ] {
        assert!(
            md.contains(&format!("Optional=\"true\" Uri=\"{uri}\"")),
            "{uri} offered: {md}"
        );
    }
    let root = parse(md.as_bytes(), limits()).expect("metadata parses");
    assert!(root.is("urn:oasis:names:tc:SAML:2.0:metadata", "EntityDescriptor"));
    assert_eq!(
        root.attr("", "entityID"),
        Some("http://localhost/adfs/services/trust")
    );
}
