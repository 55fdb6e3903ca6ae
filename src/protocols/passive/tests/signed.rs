//! Signed SAML requests: signatures verified over the parameters actually used, duplicate
//! parameters refused, LogoutRequests verified and answered once, request IDs remembered as
//! long as the requests are acceptable.

use super::*;

pub(super) const SIGNED_RP: &str = "https://signed.example.test/metadata";
pub(super) const FIXTURE_CRT: &str = "tests/fixtures/test-token-signing.crt";
pub(super) const FIXTURE_KEY: &str = "tests/fixtures/test-token-signing.key";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

/// The demo app plus an SP that signs its requests (with the fixture key).
pub(super) fn signing_app() -> Arc<App> {
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

/// A SAML request (`AuthnRequest` or `LogoutRequest`) from `issuer`, issued at `at`.
pub(super) fn saml_xml(kind: &str, id: &str, issuer: &str, at: time::OffsetDateTime) -> String {
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
pub(super) fn redirect_value(xml: &str) -> String {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(xml.as_bytes()).expect("deflate");
    enc(&base64::engine::general_purpose::STANDARD.encode(e.finish().expect("deflate")))
}

/// A Redirect-binding query for `xml`, signed as the SP signs it (RSA-SHA256 over
/// `SAMLRequest=…&RelayState=…&SigAlg=…`, with the fixture key).
pub(super) fn signed_query(xml: &str, relay: &str) -> String {
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

/// Now the way the application's (system) clock tells it.
pub(super) fn now() -> time::OffsetDateTime {
    (crate::clock::system_clock())()
}

pub(super) fn refused_for(app: &App, reason: &str) -> bool {
    app.metrics.render().lines().any(|l| {
        l.starts_with("altgate_token_failures_total") && l.contains(&format!("reason=\"{reason}\""))
    })
}

pub(super) fn assert_refused(r: &LsResponse, what: &str) {
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

    // Properly signed: the SP gets a signed LogoutResponse (one RSA signature), the session
    // cookie is cleared.
    let key = &app.tokens.signing().expect("key").key;
    let before = key.signatures();
    let signed = signed_query(&saml_xml("LogoutRequest", "_lo1", SIGNED_RP, now()), "lo");
    let r = get(&app, &signed, &sso).await;
    assert_eq!(key.signatures(), before + 1);
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
    assert!(app.answered_requests.contains("_lo1"));
    assert_eq!(key.signatures(), before + 1, "a refused replay costs none");
}

#[tokio::test]
async fn requests_are_not_accepted_longer_than_their_ids_are_remembered() {
    let app = signing_app();
    let ttl = time::Duration::try_from(app.answered_requests.ttl()).expect("ttl");
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
