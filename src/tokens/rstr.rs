//! The WS-Trust RequestSecurityTokenResponse that carries an issued assertion: the body of a
//! WS-Trust answer and, unchanged, the `wresult` of a WS-Federation sign-in. Also the WS-Trust
//! versions and the WS-* namespaces it is written in, shared by both protocols.

use super::instant;
use super::saml::{SignedAssertion, TOKEN_TYPE_SAML11};
use crate::signin::Protocol;
use crate::xml::{escape_attr, escape_text};

/// WS-Security extensions.
pub const WSSE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
/// WS-Security utility.
pub const WSU: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
/// WS-Addressing 1.0.
pub const WSA: &str = "http://www.w3.org/2005/08/addressing";
/// WS-Policy 2004/09.
pub const WSP: &str = "http://schemas.xmlsoap.org/ws/2004/09/policy";

/// WS-Trust version, chosen by the endpoint path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// WS-Trust 1.3 (`/adfs/services/trust/13/usernamemixed`).
    Trust13,
    /// WS-Trust February 2005 (`/adfs/services/trust/2005/usernamemixed`).
    Trust2005,
}

impl Version {
    /// The wst namespace.
    pub fn ns(self) -> &'static str {
        match self {
            Version::Trust13 => "http://docs.oasis-open.org/ws-sx/ws-trust/200512",
            Version::Trust2005 => "http://schemas.xmlsoap.org/ws/2005/02/trust",
        }
    }
    /// The request's wsa:Action.
    pub fn request_action(self) -> &'static str {
        match self {
            Version::Trust13 => "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue",
            Version::Trust2005 => "http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Issue",
        }
    }
    /// The response's wsa:Action.
    pub fn response_action(self) -> &'static str {
        match self {
            Version::Trust13 => "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RSTRC/IssueFinal",
            Version::Trust2005 => "http://schemas.xmlsoap.org/ws/2005/02/trust/RSTR/Issue",
        }
    }
    /// The bearer KeyType.
    pub fn key_type(self) -> &'static str {
        match self {
            Version::Trust13 => "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Bearer",
            Version::Trust2005 => "http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey",
        }
    }
    /// The Issue RequestType.
    pub fn request_type(self) -> &'static str {
        match self {
            Version::Trust13 => "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue",
            Version::Trust2005 => "http://schemas.xmlsoap.org/ws/2005/02/trust/Issue",
        }
    }
    /// The protocol label of its endpoint.
    pub fn protocol(self) -> Protocol {
        match self {
            Version::Trust13 => Protocol::Wstrust13,
            Version::Trust2005 => Protocol::Wstrust2005,
        }
    }
    /// The other version (to tell a mismatched request from a malformed one).
    pub fn other(self) -> Version {
        match self {
            Version::Trust13 => Version::Trust2005,
            Version::Trust2005 => Version::Trust13,
        }
    }
}

/// The RSTR element alone (1.3: inside an RSTR collection) carrying `assertion`: the body of a
/// WS-Trust response, and the `wresult` of a WS-Federation sign-in. The assertion's bytes are
/// inserted verbatim: clients extract them with a regular expression, and the signature covers
/// exactly these bytes' canonical form (which they already are).
pub fn rstr_body(
    version: Version,
    assertion: &SignedAssertion,
    token_type: &str,
    applies_to: &str,
) -> String {
    let t = match version {
        Version::Trust13 => "trust",
        Version::Trust2005 => "t",
    };
    let (profile, value_type) = if token_type == TOKEN_TYPE_SAML11 {
        (
            "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1",
            "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.0#SAMLAssertionID",
        )
    } else {
        (
            "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV2.0",
            "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLID",
        )
    };
    let reference = format!(
        "<o:SecurityTokenReference xmlns:o=\"{WSSE}\" xmlns:k=\"http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd\" k:TokenType=\"{profile}\">\
         <o:KeyIdentifier ValueType=\"{value_type}\">{}</o:KeyIdentifier></o:SecurityTokenReference>",
        escape_text(&assertion.id)
    );
    let open = match version {
        Version::Trust13 => "<trust:RequestSecurityTokenResponse>".to_string(),
        Version::Trust2005 => format!(
            "<t:RequestSecurityTokenResponse xmlns:t=\"{}\">",
            escape_attr(version.ns())
        ),
    };
    let response = format!(
        "{open}\
         <{t}:Lifetime><wsu:Created xmlns:wsu=\"{WSU}\">{created}</wsu:Created><wsu:Expires xmlns:wsu=\"{WSU}\">{expires}</wsu:Expires></{t}:Lifetime>\
         <wsp:AppliesTo xmlns:wsp=\"{WSP}\"><wsa:EndpointReference xmlns:wsa=\"{WSA}\"><wsa:Address>{applies}</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>\
         <{t}:RequestedSecurityToken>{token}</{t}:RequestedSecurityToken>\
         <{t}:RequestedAttachedReference>{reference}</{t}:RequestedAttachedReference>\
         <{t}:RequestedUnattachedReference>{reference}</{t}:RequestedUnattachedReference>\
         <{t}:TokenType>{token_type}</{t}:TokenType>\
         <{t}:RequestType>{request_type}</{t}:RequestType>\
         <{t}:KeyType>{key_type}</{t}:KeyType>\
         </{t}:RequestSecurityTokenResponse>",
        created = instant(assertion.not_before),
        expires = instant(assertion.not_on_or_after),
        applies = escape_text(applies_to),
        token = assertion.xml,
        token_type = escape_text(token_type),
        request_type = version.request_type(),
        key_type = version.key_type(),
    );
    match version {
        Version::Trust13 => format!(
            "<trust:RequestSecurityTokenResponseCollection xmlns:trust=\"{}\">{response}</trust:RequestSecurityTokenResponseCollection>",
            version.ns()
        ),
        Version::Trust2005 => response,
    }
}
