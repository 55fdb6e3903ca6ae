//! SAML requests at `/adfs/ls/`: mutated messages never panic and are accepted only well-formed;
//! generated requests are judged as their fields say; the HTTP-Redirect decoding returns exactly
//! what was deflated, within its bound; a signed query verifies only with the parameters it was
//! signed over.

use crate::gen::{mutate, mutate_str, property, Rng};
use crate::samples::{self, NOW};
use altgate::fuzzing::Query;
use altgate::protocols::passive::saml::{
    self, AuthnRequest, LogoutRequest, Request, SamlError, Window, BINDING_POST,
};
use std::sync::OnceLock;
use time::format_description::well_known::Rfc3339;
use time::Duration;

fn good_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 256
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

#[test]
fn mutated_requests_never_panic_and_are_accepted_only_well_formed() {
    let samples = [samples::authn(), samples::logout()];
    let window = Window::symmetric(Duration::minutes(5));
    property(
        "saml_mutated",
        3000,
        |rng| {
            let s = rng.pick(&samples).as_bytes();
            mutate(rng, s)
        },
        |xml| {
            let authn = saml::authn_request(xml, NOW, window);
            let logout = saml::logout_request(xml, NOW, window);
            match saml::request(xml, NOW, window) {
                Ok(Request::Authn(r)) => {
                    assert!(good_id(&r.id) && !r.issuer.is_empty(), "{r:?}");
                    assert_eq!(authn, Ok(r));
                }
                Ok(Request::Logout(r)) => {
                    assert!(good_id(&r.id) && !r.issuer.is_empty(), "{r:?}");
                    assert_eq!(logout, Ok(r));
                }
                Err(_) => assert!(authn.is_err() && logout.is_err()),
            }
        },
    );
}

/// A generated request: every field valid or not, and the faults that make it invalid.
#[derive(Debug)]
struct Generated {
    xml: String,
    window: Window,
    expected: Result<Request, Vec<SamlError>>,
}

const ID_CHARS: &[&str] = &["a", "Z", "0", "_", "-", ".", " ", "/", "é", ":", "<", "&"];

fn xml_attr(v: &str) -> String {
    v.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
}

fn generate(rng: &mut Rng) -> Generated {
    let mut faults = Vec::new();
    let kind = *rng.pick(&["AuthnRequest", "LogoutRequest", "AuthnRequest", "Response"]);
    let ns = if rng.chance(95) {
        "urn:oasis:names:tc:SAML:2.0:protocol"
    } else {
        "urn:other"
    };
    if kind == "Response" || ns == "urn:other" {
        faults.push(SamlError::Malformed("unexpected message"));
    }
    let mut attrs = String::new();
    match rng.below(10) {
        0 => faults.push(SamlError::Malformed("Version")),
        1 => {
            attrs.push_str(" Version=\"1.1\"");
            faults.push(SamlError::Malformed("Version"));
        }
        _ => attrs.push_str(" Version=\"2.0\""),
    }
    let id = if rng.chance(10) {
        None
    } else if rng.chance(5) {
        Some("a".repeat(250 + rng.below(12)))
    } else {
        Some(rng.string_of(ID_CHARS, 12))
    };
    match &id {
        Some(id) => {
            attrs.push_str(&format!(" ID=\"{}\"", xml_attr(id)));
            if !good_id(id) {
                faults.push(SamlError::Malformed("ID"));
            }
        }
        None => faults.push(SamlError::Malformed("ID")),
    }
    let window = Window {
        past: Duration::seconds(rng.range(0, 900)),
        future: Duration::seconds(rng.range(0, 900)),
    };
    match rng.below(10) {
        0 => faults.push(SamlError::Malformed("IssueInstant")),
        1 => {
            attrs.push_str(" IssueInstant=\"yesterday\"");
            faults.push(SamlError::Malformed("IssueInstant"));
        }
        _ => {
            let t = NOW + Duration::seconds(rng.range(-1200, 1200));
            attrs.push_str(&format!(
                " IssueInstant=\"{}\"",
                t.format(&Rfc3339).expect("t")
            ));
            if t < NOW - window.past || t > NOW + window.future {
                faults.push(SamlError::Stale);
            }
        }
    }
    let issuer = *rng.pick(&[
        "https://sp/metadata",
        " https://sp/metadata\n",
        "",
        "  ",
        "-",
    ]);
    let issuer_xml = if issuer == "-" {
        faults.push(SamlError::Malformed("Issuer"));
        String::new()
    } else {
        if issuer.trim().is_empty() {
            faults.push(SamlError::Malformed("Issuer"));
        }
        format!("<saml:Issuer>{issuer}</saml:Issuer>")
    };
    let acs = rng.chance(50).then(|| "https://sp/acs?a=1&b=2".to_string());
    if let Some(a) = &acs {
        attrs.push_str(&format!(" AssertionConsumerServiceURL=\"{}\"", xml_attr(a)));
    }
    if kind == "AuthnRequest" {
        match rng.below(3) {
            0 => attrs.push_str(&format!(" ProtocolBinding=\"{BINDING_POST}\"")),
            1 => {
                attrs.push_str(
                    " ProtocolBinding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact\"",
                );
                faults.push(SamlError::Malformed(
                    "ProtocolBinding (only HTTP-POST responses)",
                ));
            }
            _ => {}
        }
    }
    let flag = |rng: &mut Rng| *rng.pick(&["true", "1", "false", "0", "TRUE", ""]);
    let (force, passive) = (flag(rng), flag(rng));
    attrs.push_str(&format!(" ForceAuthn=\"{force}\" IsPassive=\"{passive}\""));
    let xml = format!(
        "<samlp:{kind} xmlns:samlp=\"{ns}\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\"{attrs}>{issuer_xml}</samlp:{kind}>"
    );
    let expected = if !faults.is_empty() {
        Err(faults)
    } else {
        let id = id.unwrap_or_default();
        let issuer = issuer.trim().to_string();
        Ok(if kind == "LogoutRequest" {
            Request::Logout(LogoutRequest { id, issuer })
        } else {
            Request::Authn(AuthnRequest {
                id,
                issuer,
                acs_url: acs,
                force_authn: matches!(force, "true" | "1"),
                is_passive: matches!(passive, "true" | "1"),
                subject_hint: None,
            })
        })
    };
    Generated {
        xml,
        window,
        expected,
    }
}

#[test]
fn generated_requests_are_judged_by_their_fields() {
    property("saml_generated", 3000, generate, |g| {
        match (saml::request(g.xml.as_bytes(), NOW, g.window), &g.expected) {
            (Ok(got), Ok(want)) => assert_eq!(&got, want),
            (Err(e), Err(faults)) => assert!(faults.contains(&e), "{e:?} not in {faults:?}"),
            (got, want) => panic!("got {got:?}, want {want:?}"),
        }
    });
}

#[test]
fn redirect_decoding_returns_what_was_deflated_within_its_bound() {
    property(
        "saml_redirect_decoding",
        3000,
        |rng| {
            let max = 16 + rng.below(2048);
            let data = if rng.chance(50) {
                rng.bytes(max * 2)
            } else {
                samples::authn().into_bytes()
            };
            let deflated = rng.chance(70);
            let mut value = samples::b64(&if deflated {
                samples::deflate(&data)
            } else {
                data.clone()
            });
            // Line breaks and spaces inside the base64 are ignored.
            for _ in 0..rng.below(4) {
                let at = rng.below(value.len() + 1);
                value.insert(at, *rng.pick(&['\n', ' ', '\r', '\t']));
            }
            (max, deflated, data, value)
        },
        |(max, deflated, data, value)| {
            let got = saml::decode(value, *deflated, *max);
            if data.len() <= *max {
                assert_eq!(got.as_ref(), Ok(data));
            } else {
                assert!(matches!(got, Err(SamlError::Decode(_))), "{got:?}");
            }
        },
    );
}

#[test]
fn mutated_redirect_values_never_panic() {
    let samples = [
        samples::b64(&samples::deflate(samples::authn().as_bytes())),
        samples::b64(&samples::deflate(samples::logout().as_bytes())),
        samples::b64(samples::authn().as_bytes()),
    ];
    let window = Window::symmetric(Duration::minutes(5));
    property(
        "saml_redirect_mutated",
        3000,
        |rng| {
            let value = if rng.chance(20) {
                // A random DEFLATE stream, as the inflater sees it.
                samples::b64(&rng.bytes(300))
            } else {
                let s = rng.pick(&samples);
                mutate_str(rng, s)
            };
            (rng.chance(80), 64 + rng.below(4096), value)
        },
        |(deflated, max, value)| {
            if let Ok(xml) = saml::decode(value, *deflated, *max) {
                assert!(xml.len() <= *max);
                let _ = saml::request(&xml, NOW, window);
            }
        },
    );
}

/// Queries signed by the fixture key (signing is slow without optimisation: done once).
fn signed_queries() -> &'static [String] {
    static QUERIES: OnceLock<Vec<String>> = OnceLock::new();
    QUERIES.get_or_init(|| {
        vec![
            samples::signed_redirect_query(&samples::authn(), "rs-1"),
            samples::signed_redirect_query(&samples::logout(), "lo"),
            samples::signed_redirect_query(&samples::authn(), "a b&c=d/é"),
        ]
    })
}

#[test]
fn signed_queries_verify_only_with_the_parameters_signed() {
    let cert = samples::fixture_key().cert_der().to_vec();
    for q in signed_queries() {
        let parsed = Query::parse(q);
        let rq = parsed.redirect_query().expect("SAMLRequest");
        assert_eq!(saml::verify_redirect_signature(&rq, &cert), Ok(()), "{q}");
    }
    property(
        "saml_redirect_signature",
        2000,
        |rng| {
            let i = rng.below(signed_queries().len());
            (i, mutate_str(rng, &signed_queries()[i]))
        },
        |(i, mutated)| {
            let original = Query::parse(&signed_queries()[*i]);
            let q = Query::parse(mutated);
            let Some(rq) = q.redirect_query() else {
                return;
            };
            if saml::verify_redirect_signature(&rq, &cert).is_ok() {
                // Whatever the edit, it changed nothing the request is then read from.
                for name in ["SAMLRequest", "RelayState", "SigAlg"] {
                    assert_eq!(q.get(name), original.get(name), "{name}");
                }
            }
        },
    );
}
