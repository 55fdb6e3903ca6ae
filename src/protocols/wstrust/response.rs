//! WS-Trust responses: the RequestSecurityTokenResponse carrying the signed assertion, and SOAP
//! 1.2 faults in the shape AD FS sends and clients parse (Reason/Text and Subcode).

use super::request::{Version, SOAP12, WSSE, WSU};
use crate::tokens::instant;
use crate::tokens::saml::{SignedAssertion, TOKEN_TYPE_SAML11};
use crate::xml::{escape_attr, escape_text};
use time::OffsetDateTime;

/// WS-Addressing 1.0.
pub const WSA: &str = "http://www.w3.org/2005/08/addressing";
/// WS-Policy 2004/09.
pub const WSP: &str = "http://schemas.xmlsoap.org/ws/2004/09/policy";

/// The fault a client gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Bad credentials, or any sign-in failure (no account enumeration).
    Authentication,
    /// Unknown AppliesTo.
    Scope,
    /// Malformed or refused request.
    Request,
    /// The service cannot issue tokens right now (no signing key, signing failure).
    Unavailable,
}

impl Fault {
    fn subcode(self) -> &'static str {
        match self {
            Fault::Authentication => "a:FailedAuthentication",
            Fault::Scope => "a:InvalidRequest",
            Fault::Request | Fault::Unavailable => "a:RequestFailed",
        }
    }
    /// The Reason text.
    pub fn reason(self) -> &'static str {
        match self {
            Fault::Authentication => {
                "ID3242: The security token could not be authenticated or authorized."
            }
            Fault::Scope => "ID3082: The request scope is not valid or is unsupported.",
            Fault::Request | Fault::Unavailable => "MSIS3127: The specified request failed.",
        }
    }
}

/// A SOAP 1.2 fault envelope.
pub fn fault(version: Version, fault: Fault, relates_to: Option<&str>) -> String {
    let relates = relates_to
        .map(|r| format!("<a:RelatesTo>{}</a:RelatesTo>", escape_text(r)))
        .unwrap_or_default();
    format!(
        "<s:Envelope xmlns:s=\"{SOAP12}\" xmlns:a=\"{WSA}\"><s:Header>\
         <a:Action s:mustUnderstand=\"1\">http://www.w3.org/2005/08/addressing/soap/fault</a:Action>{relates}\
         </s:Header><s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode>\
         <s:Value xmlns:a=\"{}\">{}</s:Value></s:Subcode></s:Code><s:Reason>\
         <s:Text xml:lang=\"en-US\">{}</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>",
        version.ns(),
        fault.subcode(),
        fault.reason()
    )
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

/// The whole SOAP response carrying `assertion`.
pub fn rstr(
    version: Version,
    assertion: &SignedAssertion,
    token_type: &str,
    applies_to: &str,
    relates_to: Option<&str>,
    now: OffsetDateTime,
) -> String {
    let relates = relates_to
        .map(|r| format!("<a:RelatesTo>{}</a:RelatesTo>", escape_text(r)))
        .unwrap_or_default();
    let body = rstr_body(version, assertion, token_type, applies_to);
    format!(
        "<s:Envelope xmlns:s=\"{SOAP12}\" xmlns:a=\"{WSA}\" xmlns:u=\"{WSU}\"><s:Header>\
         <a:Action s:mustUnderstand=\"1\">{action}</a:Action>{relates}\
         <o:Security s:mustUnderstand=\"1\" xmlns:o=\"{WSSE}\"><u:Timestamp u:Id=\"_0\">\
         <u:Created>{now}</u:Created><u:Expires>{later}</u:Expires></u:Timestamp></o:Security>\
         </s:Header><s:Body>{body}</s:Body></s:Envelope>",
        action = version.response_action(),
        now = instant(now),
        later = instant(now + time::Duration::minutes(5)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::parse::{parse, Limits};

    fn assertion() -> SignedAssertion {
        let t = OffsetDateTime::UNIX_EPOCH;
        SignedAssertion {
            id: "_abc".into(),
            xml: "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:1.0:assertion\" AssertionID=\"_abc\"></saml:Assertion>".into(),
            not_before: t,
            not_on_or_after: t + time::Duration::hours(1),
        }
    }

    #[test]
    fn rstr_carries_the_assertion_verbatim_and_a_bare_token_type() {
        for v in [Version::Trust13, Version::Trust2005] {
            let body = rstr(
                v,
                &assertion(),
                TOKEN_TYPE_SAML11,
                "urn:federation:MicrosoftOnline",
                Some("urn:uuid:1"),
                OffsetDateTime::UNIX_EPOCH,
            );
            assert!(body.contains(&format!("RequestedSecurityToken>{}</", assertion().xml)));
            assert!(body.contains(":TokenType>urn:oasis:names:tc:SAML:1.0:assertion</"));
            assert_eq!(
                body.matches("<trust:RequestSecurityTokenResponse>").count()
                    + body.matches("<t:RequestSecurityTokenResponse ").count(),
                1
            );
            assert!(body.contains(v.response_action()));
            let env = parse(body.as_bytes(), Limits::default()).expect("well-formed");
            assert!(env.is(SOAP12, "Envelope"));
        }
    }

    #[test]
    fn faults_have_reason_and_subcode_where_clients_read_them() {
        let body = fault(Version::Trust13, Fault::Authentication, Some("urn:uuid:1"));
        let env = parse(body.as_bytes(), Limits::default()).expect("well-formed");
        let f = env
            .child(SOAP12, "Body")
            .and_then(|b| b.child(SOAP12, "Fault"))
            .expect("fault");
        let reason = f
            .child(SOAP12, "Reason")
            .and_then(|r| r.child(SOAP12, "Text"))
            .expect("text");
        assert_eq!(reason.text(), Fault::Authentication.reason());
        assert_eq!(
            reason.attr("http://www.w3.org/XML/1998/namespace", "lang"),
            Some("en-US")
        );
        let sub = f
            .child(SOAP12, "Code")
            .and_then(|c| c.child(SOAP12, "Subcode"))
            .and_then(|s| s.child(SOAP12, "Value"))
            .expect("subcode");
        assert_eq!(sub.text(), "a:FailedAuthentication");
        assert!(body.contains("http://www.w3.org/2005/08/addressing/soap/fault"));
        assert!(fault(Version::Trust2005, Fault::Scope, None).contains("ID3082"));
    }
}
