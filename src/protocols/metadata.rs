//! Federation metadata (`/FederationMetadata/2007-06/FederationMetadata.xml`): a signed SAML 2.0
//! `EntityDescriptor` with a WS-Federation `SecurityTokenServiceType` role and an
//! `IDPSSODescriptor`, carrying the token-signing certificate (and the next one during a
//! rollover) and the endpoints, so Entra ID and relying parties can read altgate's settings.

use crate::config::{
    ClaimKind, PASSWORD_CHANGE_URL, PASSWORD_EXPIRATION_DAYS, PASSWORD_EXPIRATION_TIME,
};
use crate::endpoint::PublicEndpoints;
use crate::keys::KeyError;
use crate::tokens::issue::Signing;
use crate::tokens::{new_id, sign_enveloped, DSIG};
use crate::xml::Element;
use base64::Engine;

/// SAML 2.0 metadata namespace.
pub const MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
/// WS-Federation namespace.
pub const FED: &str = "http://docs.oasis-open.org/wsfed/federation/200706";

fn key_descriptor(cert_der: &[u8]) -> Element {
    let b64 = base64::engine::general_purpose::STANDARD.encode(cert_der);
    Element::new("KeyDescriptor").attr("use", "signing").child(
        Element::new("KeyInfo")
            .xmlns("", DSIG)
            .child(Element::new("X509Data").leaf("X509Certificate", b64)),
    )
}

fn endpoint(name: &str, address: &str) -> Element {
    Element::new(name).child(
        Element::new("wsa:EndpointReference")
            .xmlns("wsa", "http://www.w3.org/2005/08/addressing")
            .leaf("wsa:Address", address),
    )
}

/// Builds and signs the metadata document for the service at `base` (the public URL) issuing as
/// `issuer`.
pub fn document(base: &str, issuer: &str, signing: Option<&Signing>) -> Result<String, KeyError> {
    let signing = signing.ok_or(KeyError::Sign)?;
    let urls = PublicEndpoints::new(base);
    let mut keys = vec![key_descriptor(signing.key.cert_der())];
    if let Some(next) = &signing.next_cert_der {
        keys.push(key_descriptor(next));
    }
    let claims = [
        (ClaimKind::Upn, "UPN"),
        (ClaimKind::ImmutableId, "ImmutableID"),
        (ClaimKind::AlternateLoginId, "Alternate login ID"),
        (ClaimKind::Name, "Name"),
        (ClaimKind::GivenName, "Given Name"),
        (ClaimKind::Surname, "Surname"),
        (
            ClaimKind::InsideCorporateNetwork,
            "Inside Corporate Network",
        ),
        (ClaimKind::IssuerId, "Issuer ID"),
    ];
    // `password_expiry` is three claims.
    let expiry = [
        (PASSWORD_EXPIRATION_TIME, "Password Expiration Time"),
        (PASSWORD_EXPIRATION_DAYS, "Password Expiration Days"),
        (PASSWORD_CHANGE_URL, "Update Password URL"),
    ];
    let types = claims
        .iter()
        .map(|(k, name)| (k.uri(), *name))
        .chain(expiry);
    let offered = Element::new("fed:ClaimTypesOffered").children(types.map(|(uri, name)| {
        Element::new("auth:ClaimType")
            .xmlns(
                "auth",
                "http://docs.oasis-open.org/wsfed/authorization/200706",
            )
            .attr("Optional", "true")
            .attr("Uri", uri)
            .leaf("auth:DisplayName", name)
    }));
    let sts = Element::new("RoleDescriptor")
        .xmlns("fed", FED)
        .xmlns("xsi", "http://www.w3.org/2001/XMLSchema-instance")
        .attr("xsi:type", "fed:SecurityTokenServiceType")
        .attr("protocolSupportEnumeration", FED)
        .children(keys.clone())
        .child(offered)
        .child(endpoint(
            "fed:SecurityTokenServiceEndpoint",
            urls.active_sign_in(),
        ))
        .child(endpoint("fed:PassiveRequestorEndpoint", &urls.passive));
    let ls = urls.passive.clone();
    let binding = |b: &str| format!("urn:oasis:names:tc:SAML:2.0:bindings:{b}");
    let service = |name: &str, b: &str| {
        Element::new(name)
            .attr("Binding", binding(b))
            .attr("Location", ls.clone())
    };
    let idp = Element::new("IDPSSODescriptor")
        .attr(
            "protocolSupportEnumeration",
            "urn:oasis:names:tc:SAML:2.0:protocol",
        )
        .children(keys)
        .child(service("SingleLogoutService", "HTTP-Redirect"))
        .child(service("SingleLogoutService", "HTTP-POST"))
        .leaf(
            "NameIDFormat",
            "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
        )
        .leaf(
            "NameIDFormat",
            "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
        )
        .child(service("SingleSignOnService", "HTTP-Redirect"))
        .child(service("SingleSignOnService", "HTTP-POST"));
    let id = new_id();
    let mut entity = Element::new("EntityDescriptor")
        .xmlns("", MD)
        .attr("ID", id.clone())
        .attr("entityID", issuer)
        .child(sts)
        .child(idp);
    // The signature comes first in an EntityDescriptor.
    sign_enveloped(&mut entity, &id, 0, &signing.key)?;
    Ok(format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>{}",
        entity.to_document()
    ))
}
