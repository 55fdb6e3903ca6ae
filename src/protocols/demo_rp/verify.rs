//! What a service provider checks before it believes a token, done by the demo relying party:
//! the enveloped XML signature over the assertion (Exclusive C14N recomputed from the received
//! document, RSA-SHA256 with altgate's token-signing certificate pinned, never the certificate
//! the token carries; the reference must name the assertion itself), then issuer, audience,
//! validity window, and for SAML 2.0 the Response's destination, status and `InResponseTo` and
//! the bearer confirmation's recipient. Claims are read only from the bytes the signature covers.

use crate::tokens::saml::{SAML1, SAML2, SAMLP};
use crate::tokens::{DSIG, ENVELOPED, EXC_C14N, RSA_SHA256, SHA256};
use crate::xml::as_written::{
    attr, children, find_all, is, read_tree, text_of, with_declarations, Scope, MAX_DEPTH,
    MAX_ELEMENTS,
};
use crate::xml::parse::{parse, Limits, XmlNode};
use crate::xml::{Element, Node};
use base64::Engine;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// What the relying party expects of a token.
#[derive(Debug, Clone)]
pub struct Expect<'a> {
    /// The issuer (altgate's metadata entityID).
    pub issuer: &'a str,
    /// Its own identifier.
    pub audience: &'a str,
    /// Certificates that may sign (DER): altgate's current and next token-signing certificate.
    pub certs: Vec<&'a [u8]>,
    /// Now.
    pub now: OffsetDateTime,
    /// Clock skew tolerated on validity windows.
    pub skew: time::Duration,
}

/// A token the checks accepted.
#[derive(Debug, Clone, Default)]
pub struct Verified {
    /// `SAML 1.1` or `SAML 2.0`.
    pub token_type: &'static str,
    /// The assertion's ID.
    pub assertion_id: String,
    /// Its issuer.
    pub issuer: String,
    /// Its audience.
    pub audience: String,
    /// The subject's name identifier and its format.
    pub subject: String,
    /// The name identifier's format.
    pub subject_format: String,
    /// NotBefore, as sent.
    pub not_before: String,
    /// NotOnOrAfter, as sent.
    pub not_on_or_after: String,
    /// When the user authenticated, as sent.
    pub authn_instant: String,
    /// Claims: type URI and value, in token order.
    pub claims: Vec<(String, String)>,
    /// SHA-256 of the certificate whose key verified the signature (hex).
    pub signer_sha256: String,
}

/// Why a token was refused: a short code and what exactly was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Stable code (`signature`, `audience`, `expired`, ...).
    pub code: &'static str,
    /// Details for the page.
    pub detail: String,
}

fn refused(code: &'static str, detail: impl Into<String>) -> Refused {
    Refused {
        code,
        detail: detail.into(),
    }
}

fn one<'a>(
    el: &'a Element,
    scope: &Scope,
    local: &str,
    code: &'static str,
) -> Result<&'a Element, Refused> {
    match children(el, scope, DSIG, local).as_slice() {
        [only] => Ok(only),
        [] => Err(refused(code, format!("no ds:{local}"))),
        _ => Err(refused(code, format!("more than one ds:{local}"))),
    }
}

fn algorithm(el: &Element) -> &str {
    attr(el, "Algorithm").unwrap_or("")
}

/// Checks the enveloped signature of `assertion` (whose ancestors bind `inherited`, and whose
/// ID is `id`) against the pinned certificates; returns the assertion's canonical form without
/// the signature (exactly the signed bytes) and the verifying certificate's SHA-256.
fn verify_signature(
    assertion: &Element,
    inherited: &Scope,
    id: &str,
    certs: &[&[u8]],
) -> Result<(String, String), Refused> {
    let own = with_declarations(inherited, assertion);
    let positions: Vec<usize> = assertion
        .children
        .iter()
        .enumerate()
        .filter_map(|(i, c)| match c {
            Node::Element(e) if is(e, &own, DSIG, "Signature") => Some(i),
            _ => None,
        })
        .collect();
    let [at] = positions.as_slice() else {
        return Err(refused(
            "signature",
            "the assertion must carry exactly one enveloped signature",
        ));
    };
    let Some(Node::Element(signature)) = assertion.children.get(*at) else {
        return Err(refused("signature", "no signature"));
    };
    let sig_scope = with_declarations(&own, signature);
    let signed_info = one(signature, &sig_scope, "SignedInfo", "signature")?;
    let si_scope = with_declarations(&sig_scope, signed_info);
    let c14n = one(
        signed_info,
        &si_scope,
        "CanonicalizationMethod",
        "signature",
    )?;
    let method = one(signed_info, &si_scope, "SignatureMethod", "signature")?;
    if algorithm(c14n) != EXC_C14N || algorithm(method) != RSA_SHA256 {
        return Err(refused(
            "signature",
            "only Exclusive C14N with RSA-SHA256 is accepted",
        ));
    }
    let reference = one(signed_info, &si_scope, "Reference", "signature")?;
    if attr(reference, "URI") != Some(format!("#{id}").as_str()) {
        return Err(refused(
            "signature",
            "the signature does not reference this assertion",
        ));
    }
    let ref_scope = with_declarations(&si_scope, reference);
    let transforms = one(reference, &ref_scope, "Transforms", "signature")?;
    let t_scope = with_declarations(&ref_scope, transforms);
    let algorithms: Vec<&str> = children(transforms, &t_scope, DSIG, "Transform")
        .into_iter()
        .map(algorithm)
        .collect();
    if algorithms != [ENVELOPED, EXC_C14N] {
        return Err(refused(
            "signature",
            "transforms must be enveloped-signature then Exclusive C14N",
        ));
    }
    if algorithm(one(reference, &ref_scope, "DigestMethod", "signature")?) != SHA256 {
        return Err(refused("signature", "only SHA-256 digests are accepted"));
    }
    let digest_value = text_of(one(reference, &ref_scope, "DigestValue", "signature")?);
    let mut unsigned = assertion.clone();
    unsigned.children.remove(*at);
    let canonical = unsigned.exc_c14n(inherited);
    let b64 = base64::engine::general_purpose::STANDARD;
    let digest = b64.encode(ring::digest::digest(
        &ring::digest::SHA256,
        canonical.as_bytes(),
    ));
    if digest != digest_value.trim() {
        return Err(refused(
            "digest",
            "the assertion was changed after it was signed (digest mismatch)",
        ));
    }
    let value: String = text_of(one(signature, &sig_scope, "SignatureValue", "signature")?)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let value = b64
        .decode(value)
        .map_err(|_| refused("signature", "SignatureValue is not base64"))?;
    let signed = signed_info.exc_c14n(&sig_scope);
    for der in certs {
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
            continue;
        };
        let key = cert.public_key().subject_public_key.data.to_vec();
        let ok = ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            key,
        )
        .verify(signed.as_bytes(), &value)
        .is_ok();
        if ok {
            let sha = ring::digest::digest(&ring::digest::SHA256, der);
            let hex = sha.as_ref().iter().map(|b| format!("{b:02X}")).collect();
            return Ok((canonical, hex));
        }
    }
    Err(refused(
        "signature",
        "the signature does not verify with altgate's token-signing certificate",
    ))
}

/// The one assertion `{ns}Assertion` in `root` (refusing none or several), signature verified;
/// the signed bytes parsed for reading.
fn signed_assertion(
    root: &Element,
    ns: &str,
    id_attr: &str,
    certs: &[&[u8]],
) -> Result<(XmlNode, String), Refused> {
    let mut found = Vec::new();
    find_all(root, &Scope::new(), ns, "Assertion", &mut found);
    let [(assertion, inherited)] = found.as_slice() else {
        return Err(refused(
            "assertion",
            format!("expected exactly one assertion, found {}", found.len()),
        ));
    };
    let id = attr(assertion, id_attr)
        .ok_or_else(|| refused("assertion", format!("the assertion has no {id_attr}")))?;
    let (canonical, signer) = verify_signature(assertion, inherited, id, certs)?;
    let limits = Limits {
        max_depth: MAX_DEPTH,
        max_elements: MAX_ELEMENTS,
        max_attributes: 32,
    };
    let node = parse(canonical.as_bytes(), limits)
        .map_err(|e| refused("malformed", format!("signed assertion: {e}")))?;
    Ok((node, signer))
}

fn instant(v: &str, what: &str) -> Result<OffsetDateTime, Refused> {
    OffsetDateTime::parse(v, &Rfc3339)
        .map_err(|_| refused("malformed", format!("{what} is not an instant: {v:?}")))
}

/// NotBefore/NotOnOrAfter against now, with skew.
fn check_window(
    not_before: Option<&str>,
    not_on_or_after: Option<&str>,
    e: &Expect<'_>,
) -> Result<(), Refused> {
    if let Some(nb) = not_before {
        if instant(nb, "NotBefore")? > e.now + e.skew {
            return Err(refused("not_yet_valid", format!("valid only from {nb}")));
        }
    }
    let end = not_on_or_after.ok_or_else(|| refused("malformed", "no NotOnOrAfter"))?;
    if instant(end, "NotOnOrAfter")? <= e.now - e.skew {
        return Err(refused("expired", format!("expired at {end}")));
    }
    Ok(())
}

fn check_issuer_and_audience(issuer: &str, audience: &str, e: &Expect<'_>) -> Result<(), Refused> {
    if issuer != e.issuer {
        return Err(refused(
            "issuer",
            format!("issued by {issuer:?}, expected {:?}", e.issuer),
        ));
    }
    if audience != e.audience {
        return Err(refused(
            "audience",
            format!("meant for {audience:?}, not {:?}", e.audience),
        ));
    }
    Ok(())
}

/// A WS-Federation `wresult` (a WS-Trust RSTR holding a SAML 1.1 assertion).
pub fn wsfed(wresult: &str, e: &Expect<'_>) -> Result<Verified, Refused> {
    let root = read_tree(wresult.as_bytes()).map_err(|e| refused("malformed", e))?;
    let (a, signer) = signed_assertion(&root, SAML1, "AssertionID", &e.certs)?;
    let conditions = a
        .child(SAML1, "Conditions")
        .ok_or_else(|| refused("malformed", "no Conditions"))?;
    let audience = conditions
        .child(SAML1, "AudienceRestrictionCondition")
        .and_then(|r| r.child(SAML1, "Audience"))
        .map(|n| n.text().to_string())
        .unwrap_or_default();
    let issuer = a.attr("", "Issuer").unwrap_or("").to_string();
    check_issuer_and_audience(&issuer, &audience, e)?;
    check_window(
        conditions.attr("", "NotBefore"),
        conditions.attr("", "NotOnOrAfter"),
        e,
    )?;
    let statement = a
        .child(SAML1, "AttributeStatement")
        .ok_or_else(|| refused("malformed", "no AttributeStatement"))?;
    let name_id = statement
        .child(SAML1, "Subject")
        .and_then(|s| s.child(SAML1, "NameIdentifier"));
    let claims = statement
        .children
        .iter()
        .filter(|c| c.is(SAML1, "Attribute"))
        .flat_map(|attribute| {
            let uri = format!(
                "{}/{}",
                attribute.attr("", "AttributeNamespace").unwrap_or(""),
                attribute.attr("", "AttributeName").unwrap_or("")
            );
            attribute
                .children
                .iter()
                .filter(|v| v.is(SAML1, "AttributeValue"))
                .map(move |v| (uri.clone(), v.text().to_string()))
        })
        .collect();
    Ok(Verified {
        token_type: "SAML 1.1",
        assertion_id: a.attr("", "AssertionID").unwrap_or("").to_string(),
        issuer,
        audience,
        subject: name_id.map(|n| n.text().to_string()).unwrap_or_default(),
        subject_format: name_id
            .and_then(|n| n.attr("", "Format"))
            .unwrap_or("")
            .to_string(),
        not_before: conditions.attr("", "NotBefore").unwrap_or("").to_string(),
        not_on_or_after: conditions
            .attr("", "NotOnOrAfter")
            .unwrap_or("")
            .to_string(),
        authn_instant: a
            .child(SAML1, "AuthenticationStatement")
            .and_then(|s| s.attr("", "AuthenticationInstant"))
            .unwrap_or("")
            .to_string(),
        claims,
        signer_sha256: signer,
    })
}

/// A SAML 2.0 `Response` posted to `acs`, answering the AuthnRequest `request_id`.
pub fn saml(xml: &[u8], acs: &str, request_id: &str, e: &Expect<'_>) -> Result<Verified, Refused> {
    let root = read_tree(xml).map_err(|e| refused("malformed", e))?;
    if !is(&root, &Scope::new(), SAMLP, "Response") {
        return Err(refused("malformed", "not a samlp:Response"));
    }
    if attr(&root, "Destination") != Some(acs) {
        return Err(refused(
            "destination",
            format!(
                "Destination {:?} is not {acs:?}",
                attr(&root, "Destination")
            ),
        ));
    }
    if attr(&root, "InResponseTo") != Some(request_id) {
        return Err(refused(
            "in_response_to",
            "the response does not answer this application's request",
        ));
    }
    let scope = with_declarations(&Scope::new(), &root);
    let status = children(&root, &scope, SAMLP, "Status")
        .first()
        .and_then(|s| {
            let s_scope = with_declarations(&scope, s);
            children(s, &s_scope, SAMLP, "StatusCode")
                .first()
                .and_then(|c| attr(c, "Value"))
                .map(str::to_string)
        })
        .unwrap_or_default();
    if status != "urn:oasis:names:tc:SAML:2.0:status:Success" {
        return Err(refused("status", format!("status {status}")));
    }
    let (a, signer) = signed_assertion(&root, SAML2, "ID", &e.certs)?;
    let issuer = a
        .child(SAML2, "Issuer")
        .map(|n| n.text().to_string())
        .unwrap_or_default();
    let conditions = a
        .child(SAML2, "Conditions")
        .ok_or_else(|| refused("malformed", "no Conditions"))?;
    let audience = conditions
        .child(SAML2, "AudienceRestriction")
        .and_then(|r| r.child(SAML2, "Audience"))
        .map(|n| n.text().to_string())
        .unwrap_or_default();
    check_issuer_and_audience(&issuer, &audience, e)?;
    check_window(
        conditions.attr("", "NotBefore"),
        conditions.attr("", "NotOnOrAfter"),
        e,
    )?;
    let subject = a
        .child(SAML2, "Subject")
        .ok_or_else(|| refused("malformed", "no Subject"))?;
    let confirmation = subject
        .child(SAML2, "SubjectConfirmation")
        .filter(|c| c.attr("", "Method") == Some("urn:oasis:names:tc:SAML:2.0:cm:bearer"))
        .and_then(|c| c.child(SAML2, "SubjectConfirmationData"))
        .ok_or_else(|| refused("confirmation", "no bearer SubjectConfirmationData"))?;
    if confirmation.attr("", "Recipient") != Some(acs)
        || confirmation.attr("", "InResponseTo") != Some(request_id)
    {
        return Err(refused(
            "confirmation",
            "the bearer confirmation names another recipient or request",
        ));
    }
    check_window(None, confirmation.attr("", "NotOnOrAfter"), e)?;
    let name_id = subject.child(SAML2, "NameID");
    let claims = a
        .child(SAML2, "AttributeStatement")
        .map(|s| {
            s.children
                .iter()
                .filter(|c| c.is(SAML2, "Attribute"))
                .flat_map(|attribute| {
                    let uri = attribute.attr("", "Name").unwrap_or("").to_string();
                    attribute
                        .children
                        .iter()
                        .filter(|v| v.is(SAML2, "AttributeValue"))
                        .map(move |v| (uri.clone(), v.text().to_string()))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Verified {
        token_type: "SAML 2.0",
        assertion_id: a.attr("", "ID").unwrap_or("").to_string(),
        issuer,
        audience,
        subject: name_id.map(|n| n.text().to_string()).unwrap_or_default(),
        subject_format: name_id
            .and_then(|n| n.attr("", "Format"))
            .unwrap_or("")
            .to_string(),
        not_before: conditions.attr("", "NotBefore").unwrap_or("").to_string(),
        not_on_or_after: conditions
            .attr("", "NotOnOrAfter")
            .unwrap_or("")
            .to_string(),
        authn_instant: a
            .child(SAML2, "AuthnStatement")
            .and_then(|s| s.attr("", "AuthnInstant"))
            .unwrap_or("")
            .to_string(),
        claims,
        signer_sha256: signer,
    })
}
