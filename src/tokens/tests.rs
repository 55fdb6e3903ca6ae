//! Token issuance without the rest of the application: claims, issuers and NameIDs per relying
//! party, and a sign-then-verify round trip of the enveloped signature (digest over the
//! canonical element without its signature, RSA-SHA256 over the canonical SignedInfo, checked
//! with the certificate's public key), which tampering breaks.

use super::issue::{issue, saml_response, Delivery, Issuance};
use super::*;
use crate::config::{Config, TokenType};
use crate::keys::SigningKey;
use crate::resolve::{Outcome, Resolution, ResolvedAccount, Via};
use crate::signin::SignedIn;
use crate::xml::parse::{parse, Limits};
use std::net::IpAddr;
use std::path::Path;

fn key() -> SigningKey {
    SigningKey::load(
        Path::new("tests/fixtures/test-token-signing.crt"),
        Path::new("tests/fixtures/test-token-signing.key"),
    )
    .expect("fixture pair")
}

fn config() -> Config {
    Config::load(Path::new("config/altgate.yaml")).expect("shipped config")
}

fn signed_in(typed: &str) -> SignedIn {
    let account = ResolvedAccount {
        forest: "contoso.com".into(),
        domain: "contoso.com".into(),
        netbios_domain: Some("CONTOSO".into()),
        user_principal_name: Some("jdoe@corp.contoso.local".into()),
        sam_account_name: "jdoe".into(),
        distinguished_name: "CN=John Doe,CN=Users,DC=contoso,DC=com".into(),
        immutable_id: Some("AahBpmDfd0qEwtNiqZzJ3Q==".into()),
        display_name: Some("John Doe".into()),
        given_name: Some("John".into()),
        surname: Some("Doe".into()),
        enabled: true,
    };
    SignedIn {
        resolution: std::sync::Arc::new(Resolution {
            // The cached resolution carries another request's spelling.
            login: "JDOE@CONTOSO.COM".into(),
            outcome: Outcome::Resolved,
            via: Some(Via::AlternateLoginId),
            account: Some(account),
            failure: None,
            forests_searched: vec![],
            unreachable_forests: vec![],
            upn_fallback: None,
        }),
        login: typed.into(),
        auth_instant: time::macros::datetime!(2026-11-24 08:59 UTC),
        method: crate::signin::Method::Password,
        device: None,
        password_expires_at: None,
    }
}

/// Verifies the enveloped signature of `element` (the signed element itself).
fn verify(element: &Element) -> Result<(), String> {
    use ring::digest::{digest, SHA256 as RING_SHA256};
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut unsigned = element.clone();
    let at = unsigned
        .children
        .iter()
        .position(|n| matches!(n, Node::Element(e) if e.name == "ds:Signature"))
        .ok_or("no signature")?;
    let Node::Element(signature) = unsigned.children.remove(at) else {
        return Err("not an element".into());
    };
    let child = |e: &Element, name: &str| -> Option<Element> {
        e.children.iter().find_map(|n| match n {
            Node::Element(c) if c.name == name => Some(c.clone()),
            _ => None,
        })
    };
    let text = |e: &Element| -> String {
        e.children
            .iter()
            .filter_map(|n| match n {
                Node::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect()
    };
    let signed_info = child(&signature, "ds:SignedInfo").ok_or("no SignedInfo")?;
    let reference = child(&signed_info, "ds:Reference").ok_or("no Reference")?;
    let id = element
        .attrs
        .iter()
        .find(|(k, _)| k == "ID" || k == "AssertionID")
        .map(|(_, v)| v.clone())
        .ok_or("no ID")?;
    let uri = reference
        .attrs
        .iter()
        .find(|(k, _)| k == "URI")
        .ok_or("no URI")?;
    if uri.1 != format!("#{id}") {
        return Err("reference does not point at the element".into());
    }
    let expected = text(&child(&reference, "ds:DigestValue").ok_or("no digest")?);
    let actual = b64.encode(digest(
        &RING_SHA256,
        unsigned.exc_c14n(&BTreeMap::new()).as_bytes(),
    ));
    if expected != actual {
        return Err("digest mismatch".into());
    }
    let cert = b64
        .decode(text(
            &child(
                &child(
                    &child(&signature, "ds:KeyInfo").ok_or("no KeyInfo")?,
                    "ds:X509Data",
                )
                .ok_or("no X509Data")?,
                "ds:X509Certificate",
            )
            .ok_or("no certificate")?,
        ))
        .map_err(|e| e.to_string())?;
    let (_, parsed) = x509_parser::parse_x509_certificate(&cert).map_err(|e| e.to_string())?;
    let public = parsed.public_key().subject_public_key.data.to_vec();
    let value = b64
        .decode(text(
            &child(&signature, "ds:SignatureValue").ok_or("no value")?,
        ))
        .map_err(|e| e.to_string())?;
    let mut scope = BTreeMap::new();
    scope.insert("ds".to_string(), DSIG.to_string());
    ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, public)
        .verify(signed_info.exc_c14n(&scope).as_bytes(), &value)
        .map_err(|_| "signature does not verify".to_string())
}

fn set_attr(e: &mut Element, name: &str, value: &str) {
    if let Some(a) = e.attrs.iter_mut().find(|(k, _)| k == name) {
        a.1 = value.to_string();
    }
}

#[test]
fn an_enveloped_signature_verifies_and_tampering_breaks_it() {
    let key = key();
    let id = new_id();
    let mut e = Element::new("saml:Assertion")
        .xmlns("saml", "urn:oasis:names:tc:SAML:2.0:assertion")
        .attr("ID", id.clone())
        .leaf("saml:Issuer", "http://contoso.com/adfs/services/trust/")
        .child(Element::new("saml:Subject").leaf("saml:NameID", "AahBpmDfd0qEwtNiqZzJ3Q=="));
    sign_enveloped(&mut e, &id, 1, &key).expect("sign");
    assert_eq!(verify(&e), Ok(()));

    let mut forged = e.clone();
    if let Some(Node::Element(subject)) = forged.children.get_mut(2) {
        subject.children = vec![Node::Element(
            Element::new("saml:NameID").text("someone-else"),
        )];
    }
    assert_eq!(verify(&forged), Err("digest mismatch".into()));

    let mut moved = e.clone();
    set_attr(&mut moved, "ID", "_other");
    assert!(verify(&moved).is_err());
}

#[test]
fn microsoft_365_gets_the_per_domain_issuer_immutable_id_and_this_requests_spelling() {
    let config = config();
    let rp =
        crate::protocols::relying_party(&config.relying_parties, "urn:federation:MicrosoftOnline")
            .expect("shipped M365 relying party");
    let key = key();
    let s = signed_in("JDoe@Contoso.com");
    let now = time::macros::datetime!(2026-11-24 09:00 UTC);
    let i = Issuance {
        federation: &config.federation,
        key: &key,
        relying_party: rp,
        token_type: TokenType::Saml11,
        signed_in: &s,
        now,
        client: &crate::request::ClientAddresses::single(IpAddr::from([203, 0, 113, 9])),
        password_change_url: None,
    };
    let a = issue(&i, &Delivery::default()).expect("issued");
    let doc = parse(a.xml.as_bytes(), Limits::default()).expect("well-formed");
    assert_eq!(doc.local, "Assertion");
    assert_eq!(
        doc.attr("", "Issuer"),
        Some("http://contoso.com/adfs/services/trust/")
    );
    assert!(a.xml.contains(">AahBpmDfd0qEwtNiqZzJ3Q==<"), "{}", a.xml);
    // The UPN claim is the spelling typed in this sign-in, not the cached resolution's.
    assert!(a.xml.contains(">JDoe@Contoso.com<"), "{}", a.xml);
    assert!(!a.xml.contains("JDOE@CONTOSO.COM"), "{}", a.xml);
    // 203.0.113.9 is outside the internal networks.
    assert!(a.xml.contains("insidecorporatenetwork"), "{}", a.xml);
    assert_eq!(a.not_before, now);
    assert_eq!(a.not_on_or_after, now + time::Duration::HOUR);

    let i20 = Issuance {
        token_type: TokenType::Saml20,
        ..i
    };
    let a20 = issue(&i20, &Delivery::default()).expect("issued");
    assert!(a20.xml.contains("urn:oasis:names:tc:SAML:2.0:assertion"));
    assert!(a20.xml.contains(issue::NAMEID_PERSISTENT));

    let response = saml_response(&i, "https://sp.example/acs", Some("_req1")).expect("response");
    let doc = parse(response.as_bytes(), Limits::default()).expect("well-formed");
    assert_eq!(doc.local, "Response");
    assert_eq!(doc.attr("", "InResponseTo"), Some("_req1"));
    assert_eq!(doc.attr("", "Destination"), Some("https://sp.example/acs"));
}

#[test]
fn issuance_without_an_account_is_an_error_not_a_panic() {
    let config = config();
    let rp = config.relying_parties.first().expect("a relying party");
    let key = key();
    let mut s = signed_in("jdoe@contoso.com");
    let mut r = (*s.resolution).clone();
    r.account = None;
    s.resolution = std::sync::Arc::new(r);
    let i = Issuance {
        federation: &config.federation,
        key: &key,
        relying_party: rp,
        token_type: TokenType::Saml11,
        signed_in: &s,
        now: time::macros::datetime!(2026-11-24 09:00 UTC),
        client: &crate::request::ClientAddresses::single(IpAddr::from([127, 0, 0, 1])),
        password_change_url: None,
    };
    assert!(matches!(
        issue(&i, &Delivery::default()),
        Err(issue::IssueError::NoAccount)
    ));
}
