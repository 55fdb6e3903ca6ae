//! WS-Trust responses: the RequestSecurityTokenResponse carrying the signed assertion, and SOAP
//! 1.2 faults in the shape AD FS sends and clients parse (Reason/Text and Subcode).

use super::request::SOAP12;
use crate::tokens::instant;
use crate::tokens::rstr::{rstr_body, Version, WSA, WSSE, WSU};
use crate::tokens::saml::SignedAssertion;
use crate::xml::escape_text;
use time::OffsetDateTime;

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
    use crate::tokens::saml::TOKEN_TYPE_SAML11;
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
