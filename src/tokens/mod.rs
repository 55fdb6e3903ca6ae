//! Tokens: the claims altgate issues, SAML 1.1 and SAML 2.0 assertions, and their enveloped XML
//! signatures (Exclusive C14N, RSA-SHA256, SHA-256 digest) made with the token-signing key.
//!
//! The assertions are built as [`crate::xml::Element`] trees whose canonical form is computed
//! by altgate itself; independent implementations (xmlsec1, a SAML SP library, a WS-Trust client)
//! judge the result in the integration tests.

pub mod claims;
pub mod issue;
pub mod jwt;
pub mod rstr;
pub mod saml;

use crate::keys::{KeyError, SigningKey};
use crate::xml::{Element, Node};
use base64::Engine;
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// XML-DSig namespace.
pub const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
/// Exclusive XML Canonicalization 1.0 (omits comments).
pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
/// RSA with SHA-256.
pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
/// SHA-256 digest.
pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
/// The enveloped-signature transform.
pub const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/// `2026-11-23T05:00:00.123Z`, the instant format SAML and WS-Trust use.
pub fn instant(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// A fresh identifier usable as an XML ID (`_` + 32 hex digits of randomness).
pub fn new_id() -> String {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 16];
    // SystemRandom only fails when the OS has no entropy source; a time-based fallback keeps IDs
    // unique enough to never collide within one process.
    if ring::rand::SystemRandom::new().fill(&mut b).is_err() {
        let n = (crate::clock::system_clock())().unix_timestamp_nanos();
        b = n.to_le_bytes();
    }
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("_{hex}")
}

/// Signs `element` (whose ID attribute holds `id`) with an enveloped signature inserted as its
/// child at `position`. The element must declare every namespace it uses itself.
pub fn sign_enveloped(
    element: &mut Element,
    id: &str,
    position: usize,
    key: &SigningKey,
) -> Result<(), KeyError> {
    use ring::digest::{digest, SHA256 as RING_SHA256};
    let b64 = base64::engine::general_purpose::STANDARD;
    let canonical = element.exc_c14n(&BTreeMap::new());
    let digest_value = b64.encode(digest(&RING_SHA256, canonical.as_bytes()));
    let signed_info = Element::new("ds:SignedInfo")
        .child(Element::new("ds:CanonicalizationMethod").attr("Algorithm", EXC_C14N))
        .child(Element::new("ds:SignatureMethod").attr("Algorithm", RSA_SHA256))
        .child(
            Element::new("ds:Reference")
                .attr("URI", format!("#{id}"))
                .child(
                    Element::new("ds:Transforms")
                        .child(Element::new("ds:Transform").attr("Algorithm", ENVELOPED))
                        .child(Element::new("ds:Transform").attr("Algorithm", EXC_C14N)),
                )
                .child(Element::new("ds:DigestMethod").attr("Algorithm", SHA256))
                .leaf("ds:DigestValue", digest_value),
        );
    let mut scope = BTreeMap::new();
    scope.insert("ds".to_string(), DSIG.to_string());
    let signature_value = b64.encode(key.sign(signed_info.exc_c14n(&scope).as_bytes())?);
    let signature = Element::new("ds:Signature")
        .xmlns("ds", DSIG)
        .child(signed_info)
        .leaf("ds:SignatureValue", signature_value)
        .child(Element::new("ds:KeyInfo").child(
            Element::new("ds:X509Data").leaf("ds:X509Certificate", b64.encode(key.cert_der())),
        ));
    let at = position.min(element.children.len());
    element.children.insert(at, Node::Element(signature));
    Ok(())
}

#[cfg(test)]
mod tests;
