//! SAML 1.1 (the Microsoft 365 default) and SAML 2.0 assertions, signed with an enveloped
//! signature. Attribute order within each element follows Canonical XML, so the bytes sent are
//! already their own canonical form.

use super::{instant, new_id, sign_enveloped, KeyError, SigningKey};
use crate::xml::Element;
use time::{Duration, OffsetDateTime};

/// SAML 1.0/1.1 assertion namespace.
pub const SAML1: &str = "urn:oasis:names:tc:SAML:1.0:assertion";
/// SAML 2.0 assertion namespace.
pub const SAML2: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
/// WS-Trust TokenType of a SAML 1.1 assertion (clients compare it literally).
pub const TOKEN_TYPE_SAML11: &str = "urn:oasis:names:tc:SAML:1.0:assertion";
/// WS-Trust TokenType of a SAML 2.0 assertion.
pub const TOKEN_TYPE_SAML20: &str = "urn:oasis:names:tc:SAML:2.0:assertion";

/// What an assertion says.
#[derive(Debug, Clone)]
pub struct AssertionSpec<'a> {
    /// Issuer URI.
    pub issuer: &'a str,
    /// Audience (the relying party identifier).
    pub audience: &'a str,
    /// Subject NameID (ImmutableID for Microsoft 365).
    pub name_id: &'a str,
    /// NameID format.
    pub name_id_format: &'a str,
    /// Attribute claims: type URI and value.
    pub attributes: &'a [(&'static str, String)],
    /// Issue instant; NotBefore.
    pub now: OffsetDateTime,
    /// NotOnOrAfter = now + lifetime.
    pub lifetime: Duration,
    /// When the user authenticated.
    pub auth_instant: OffsetDateTime,
    /// How (SAML 1.1 `AuthenticationMethod`, SAML 2.0 `AuthnContextClassRef`).
    pub method: crate::signin::Method,
    /// SAML 2.0 only: SubjectConfirmationData Recipient (the ACS URL).
    pub recipient: Option<&'a str>,
    /// SAML 2.0 only: InResponseTo (the AuthnRequest ID).
    pub in_response_to: Option<&'a str>,
}

/// A signed assertion.
#[derive(Debug, Clone)]
pub struct SignedAssertion {
    /// Its ID (`AssertionID` or `ID`).
    pub id: String,
    /// The XML, exactly as it must be sent.
    pub xml: String,
    /// NotBefore.
    pub not_before: OffsetDateTime,
    /// NotOnOrAfter.
    pub not_on_or_after: OffsetDateTime,
}

/// Splits a claim type URI into SAML 1.1's AttributeNamespace and AttributeName.
fn split_claim(uri: &str) -> (&str, &str) {
    uri.rsplit_once('/').unwrap_or(("", uri))
}

/// A SAML 1.1 assertion as Office 365 expects it.
pub fn saml11(spec: &AssertionSpec<'_>, key: &SigningKey) -> Result<SignedAssertion, KeyError> {
    let id = new_id();
    let not_after = spec.now + spec.lifetime;
    let subject = || {
        Element::new("saml:Subject")
            .child(
                Element::new("saml:NameIdentifier")
                    .attr("Format", spec.name_id_format)
                    .text(spec.name_id),
            )
            .child(Element::new("saml:SubjectConfirmation").leaf(
                "saml:ConfirmationMethod",
                "urn:oasis:names:tc:SAML:1.0:cm:bearer",
            ))
    };
    let attributes = spec.attributes.iter().map(|(uri, value)| {
        let (ns, name) = split_claim(uri);
        Element::new("saml:Attribute")
            .attr("AttributeName", name)
            .attr("AttributeNamespace", ns)
            .leaf("saml:AttributeValue", value.clone())
    });
    let mut assertion = Element::new("saml:Assertion")
        .xmlns("saml", SAML1)
        .attr("AssertionID", id.clone())
        .attr("IssueInstant", instant(spec.now))
        .attr("Issuer", spec.issuer)
        .attr("MajorVersion", "1")
        .attr("MinorVersion", "1")
        .child(
            Element::new("saml:Conditions")
                .attr("NotBefore", instant(spec.now))
                .attr("NotOnOrAfter", instant(not_after))
                .child(
                    Element::new("saml:AudienceRestrictionCondition")
                        .leaf("saml:Audience", spec.audience),
                ),
        )
        .child(
            Element::new("saml:AttributeStatement")
                .child(subject())
                .children(attributes),
        )
        .child(
            Element::new("saml:AuthenticationStatement")
                .attr("AuthenticationInstant", instant(spec.auth_instant))
                .attr("AuthenticationMethod", spec.method.saml11())
                .child(subject()),
        );
    // SAML 1.1: the signature follows the statements.
    let at = assertion.children.len();
    sign_enveloped(&mut assertion, &id, at, key)?;
    Ok(SignedAssertion {
        id,
        xml: assertion.to_document(),
        not_before: spec.now,
        not_on_or_after: not_after,
    })
}

/// A signed SAML 2.0 assertion.
pub fn saml20(spec: &AssertionSpec<'_>, key: &SigningKey) -> Result<SignedAssertion, KeyError> {
    let (id, assertion) = saml20_element(spec, Some(key))?;
    Ok(SignedAssertion {
        id,
        xml: assertion.to_document(),
        not_before: spec.now,
        not_on_or_after: spec.now + spec.lifetime,
    })
}

/// A SAML 2.0 assertion as an element, signed when `key` is given (a Response may carry an
/// unsigned assertion and sign itself instead).
pub fn saml20_element(
    spec: &AssertionSpec<'_>,
    key: Option<&SigningKey>,
) -> Result<(String, Element), KeyError> {
    let id = new_id();
    let not_after = spec.now + spec.lifetime;
    let mut confirmation_data =
        Element::new("saml:SubjectConfirmationData").attr("NotOnOrAfter", instant(not_after));
    if let Some(irt) = spec.in_response_to {
        confirmation_data = confirmation_data.attr("InResponseTo", irt);
    }
    if let Some(r) = spec.recipient {
        confirmation_data = confirmation_data.attr("Recipient", r);
    }
    let attributes: Vec<Element> = spec
        .attributes
        .iter()
        .map(|(uri, value)| {
            Element::new("saml:Attribute")
                .attr("Name", *uri)
                .leaf("saml:AttributeValue", value.clone())
        })
        .collect();
    let mut assertion = Element::new("saml:Assertion")
        .xmlns("saml", SAML2)
        .attr("ID", id.clone())
        .attr("IssueInstant", instant(spec.now))
        .attr("Version", "2.0")
        .leaf("saml:Issuer", spec.issuer)
        .child(
            Element::new("saml:Subject")
                .child(
                    Element::new("saml:NameID")
                        .attr("Format", spec.name_id_format)
                        .text(spec.name_id),
                )
                .child(
                    Element::new("saml:SubjectConfirmation")
                        .attr("Method", "urn:oasis:names:tc:SAML:2.0:cm:bearer")
                        .child(confirmation_data),
                ),
        )
        .child(
            Element::new("saml:Conditions")
                .attr("NotBefore", instant(spec.now))
                .attr("NotOnOrAfter", instant(not_after))
                .child(
                    Element::new("saml:AudienceRestriction").leaf("saml:Audience", spec.audience),
                ),
        );
    if !attributes.is_empty() {
        assertion = assertion.child(Element::new("saml:AttributeStatement").children(attributes));
    }
    assertion = assertion.child(
        Element::new("saml:AuthnStatement")
            .attr("AuthnInstant", instant(spec.auth_instant))
            .attr("SessionIndex", id.clone())
            .child(
                Element::new("saml:AuthnContext")
                    .leaf("saml:AuthnContextClassRef", spec.method.saml20()),
            ),
    );
    // SAML 2.0: the signature follows the Issuer.
    if let Some(key) = key {
        sign_enveloped(&mut assertion, &id, 1, key)?;
    }
    Ok((id, assertion))
}

/// SAML 2.0 protocol namespace.
pub const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";

/// A SAML 2.0 status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Success.
    Success,
    /// IsPassive was requested and the user would have to sign in.
    NoPassive,
    /// The request was refused.
    RequestDenied,
}

/// The envelope of a `samlp:Response`.
#[derive(Debug, Clone)]
pub struct ResponseSpec<'a> {
    /// IdP issuer.
    pub issuer: &'a str,
    /// The ACS URL.
    pub destination: &'a str,
    /// The AuthnRequest ID (none for IdP-initiated).
    pub in_response_to: Option<&'a str>,
    /// The status.
    pub status: Status,
    /// IssueInstant.
    pub now: time::OffsetDateTime,
}

/// A `samlp:LogoutResponse` answering a LogoutRequest.
#[derive(Debug, Clone)]
pub struct LogoutResponseSpec<'a> {
    /// IdP issuer.
    pub issuer: &'a str,
    /// The SP's single logout URL.
    pub destination: &'a str,
    /// The LogoutRequest ID.
    pub in_response_to: &'a str,
    /// IssueInstant.
    pub now: time::OffsetDateTime,
}

/// A `samlp:LogoutResponse` with status Success, signed with `key` when one is given.
pub fn logout_response(
    spec: &LogoutResponseSpec<'_>,
    key: Option<&SigningKey>,
) -> Result<String, KeyError> {
    let id = new_id();
    let mut r = Element::new("samlp:LogoutResponse")
        .xmlns("samlp", SAMLP)
        .attr("Destination", spec.destination)
        .attr("ID", id.clone())
        .attr("InResponseTo", spec.in_response_to)
        .attr("IssueInstant", instant(spec.now))
        .attr("Version", "2.0")
        .child(
            Element::new("saml:Issuer")
                .xmlns("saml", SAML2)
                .text(spec.issuer),
        )
        .child(
            Element::new("samlp:Status").child(
                Element::new("samlp:StatusCode")
                    .attr("Value", "urn:oasis:names:tc:SAML:2.0:status:Success"),
            ),
        );
    if let Some(key) = key {
        sign_enveloped(&mut r, &id, 1, key)?;
    }
    Ok(r.to_document())
}

/// A `samlp:Response` carrying `assertion` (if any), signed when `sign`.
pub fn response(
    spec: &ResponseSpec<'_>,
    assertion: Option<Element>,
    key: &SigningKey,
    sign: bool,
) -> Result<String, KeyError> {
    let ResponseSpec {
        issuer,
        destination,
        in_response_to,
        status,
        now,
    } = *spec;
    let id = new_id();
    let mut r = Element::new("samlp:Response")
        .xmlns("samlp", SAMLP)
        .attr("Destination", destination)
        .attr("ID", id.clone())
        .attr("IssueInstant", instant(now))
        .attr("Version", "2.0");
    if let Some(irt) = in_response_to {
        r = r.attr("InResponseTo", irt);
    }
    r = r.child(
        Element::new("saml:Issuer")
            .xmlns("saml", SAML2)
            .text(issuer),
    );
    let code = |v: &str| {
        Element::new("samlp:StatusCode")
            .attr("Value", format!("urn:oasis:names:tc:SAML:2.0:status:{v}"))
    };
    let status = match status {
        Status::Success => Element::new("samlp:Status").child(code("Success")),
        Status::NoPassive => {
            Element::new("samlp:Status").child(code("Responder").child(code("NoPassive")))
        }
        Status::RequestDenied => {
            Element::new("samlp:Status").child(code("Responder").child(code("RequestDenied")))
        }
    };
    r = r.child(status);
    if let Some(a) = assertion {
        r = r.child(a);
    }
    if sign {
        sign_enveloped(&mut r, &id, 1, key)?;
    }
    Ok(r.to_document())
}
