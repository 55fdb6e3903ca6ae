//! Parsing a WS-Trust RequestSecurityToken: SOAP 1.2 envelope, WS-Addressing Action,
//! WS-Security Timestamp and (usernamemixed) UsernameToken, AppliesTo. windowstransport
//! requests carry no `wsse:Security`: HTTP Negotiate authenticates them.

use super::RequestRefusal;
use crate::secret::Secret;
use crate::tokens::rstr::{WSSE, WSU};
use crate::xml::parse::{parse, Limits, XmlError, XmlNode};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The WS-Trust versions (they live with the RSTR in [`crate::tokens::rstr`]).
pub use crate::tokens::rstr::Version;

/// SOAP 1.2 envelope namespace.
pub const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
/// The only password type accepted.
pub const PASSWORD_TEXT: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText";

/// A parsed request.
#[derive(Debug)]
pub struct Rst {
    /// wsa:MessageID, echoed as RelatesTo.
    pub message_id: Option<String>,
    /// The username as sent.
    pub username: String,
    /// The password.
    pub password: Secret,
    /// AppliesTo address.
    pub applies_to: String,
    /// Requested TokenType, if any.
    pub token_type: Option<String>,
}

/// Why a request was refused (all answered with MSIS3127, reason logged).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RstError {
    /// The XML itself.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// Not a SOAP 1.2 envelope with Header and Body.
    #[error("not a SOAP 1.2 envelope with a Header and a Body")]
    NotSoap12,
    /// wsa:Action missing or not this endpoint's Issue action.
    #[error("wrong or missing wsa:Action")]
    WrongAction,
    /// The body holds the other WS-Trust version's RST.
    #[error("WS-Trust version does not match the endpoint")]
    VersionMismatch,
    /// No RequestSecurityToken in the body.
    #[error("no RequestSecurityToken in the body")]
    MissingRst,
    /// RequestType is not Issue.
    #[error("unsupported RequestType")]
    WrongRequestType,
    /// KeyType other than bearer.
    #[error("unsupported KeyType")]
    WrongKeyType,
    /// No wsse:Security/UsernameToken with Username and Password.
    #[error("no UsernameToken with Username and Password")]
    MissingUsernameToken,
    /// Password type other than PasswordText.
    #[error("unsupported password type")]
    PasswordType,
    /// No AppliesTo address.
    #[error("no AppliesTo address")]
    MissingAppliesTo,
    /// Timestamp unparseable.
    #[error("bad WS-Security timestamp")]
    BadTimestamp,
    /// Timestamp expired.
    #[error("the WS-Security timestamp has expired")]
    Expired,
    /// Timestamp created in the future.
    #[error("the WS-Security timestamp is in the future")]
    FromFuture,
}

impl RstError {
    /// The bounded reason (the failure metric's `reason`).
    pub fn reason(&self) -> RequestRefusal {
        match self {
            RstError::Xml(XmlError::Dtd) => RequestRefusal::XmlDtd,
            RstError::Xml(XmlError::TooDeep(_)) | RstError::Xml(XmlError::TooManyElements(_)) => {
                RequestRefusal::XmlLimits
            }
            RstError::Xml(_) => RequestRefusal::XmlMalformed,
            RstError::NotSoap12 => RequestRefusal::NotSoap12,
            RstError::WrongAction => RequestRefusal::WrongAction,
            RstError::VersionMismatch => RequestRefusal::VersionMismatch,
            RstError::MissingRst => RequestRefusal::MissingRst,
            RstError::WrongRequestType => RequestRefusal::WrongRequestType,
            RstError::WrongKeyType => RequestRefusal::WrongKeyType,
            RstError::MissingUsernameToken => RequestRefusal::MissingUsernameToken,
            RstError::PasswordType => RequestRefusal::PasswordType,
            RstError::MissingAppliesTo => RequestRefusal::MissingAppliesTo,
            RstError::BadTimestamp => RequestRefusal::BadTimestamp,
            RstError::Expired => RequestRefusal::TimestampExpired,
            RstError::FromFuture => RequestRefusal::TimestampFuture,
        }
    }

    /// Stable code: the id of [`RstError::reason`].
    pub fn code(&self) -> &'static str {
        self.reason().id()
    }
}

fn time_of(node: Option<&XmlNode>) -> Result<Option<OffsetDateTime>, RstError> {
    match node {
        None => Ok(None),
        Some(n) => OffsetDateTime::parse(n.text(), &Rfc3339)
            .map(Some)
            .map_err(|_| RstError::BadTimestamp),
    }
}

/// `KeyType` of the 2005 RST a Windows integrated client sends (MSAL.NET): no proof key, a
/// bearer token in effect.
pub const NO_PROOF_KEY: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey";

/// How the client authenticates an RST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials {
    /// `wsse:Security/UsernameToken` in the message (usernamemixed).
    UsernameToken,
    /// HTTP Negotiate below the message (windowstransport): no `wsse:Security` needed; a
    /// timestamp, when present, is still checked.
    Transport,
}

/// Parses and checks a usernamemixed request for endpoint `version`, with timestamps judged
/// against `now`.
pub fn parse_rst(
    body: &[u8],
    version: Version,
    now: OffsetDateTime,
    skew: time::Duration,
) -> Result<Rst, RstError> {
    parse_request(body, version, now, skew, Credentials::UsernameToken)
}

/// Parses and checks a request for endpoint `version` whose client authenticates by
/// `credentials`, with timestamps judged against `now`. Under [`Credentials::Transport`] the
/// username and password come back empty.
pub fn parse_request(
    body: &[u8],
    version: Version,
    now: OffsetDateTime,
    skew: time::Duration,
    credentials: Credentials,
) -> Result<Rst, RstError> {
    let env = parse(body, Limits::default())?;
    if !env.is(SOAP12, "Envelope") {
        return Err(RstError::NotSoap12);
    }
    let header = env.child(SOAP12, "Header").ok_or(RstError::NotSoap12)?;
    let body = env.child(SOAP12, "Body").ok_or(RstError::NotSoap12)?;
    let action = header
        .child_local("Action")
        .map(XmlNode::text)
        .ok_or(RstError::WrongAction)?;
    let rst = match body.child(version.ns(), "RequestSecurityToken") {
        Some(r) => r,
        None if body
            .child(version.other().ns(), "RequestSecurityToken")
            .is_some() =>
        {
            return Err(RstError::VersionMismatch)
        }
        None => return Err(RstError::MissingRst),
    };
    if action != version.request_action() {
        return Err(if action == version.other().request_action() {
            RstError::VersionMismatch
        } else {
            RstError::WrongAction
        });
    }
    if let Some(rt) = rst.child(version.ns(), "RequestType") {
        if rt.text() != version.request_type() {
            return Err(RstError::WrongRequestType);
        }
    }
    if let Some(kt) = rst.child(version.ns(), "KeyType") {
        let kt = kt.text();
        if kt != Version::Trust13.key_type()
            && kt != Version::Trust2005.key_type()
            && kt != NO_PROOF_KEY
        {
            return Err(RstError::WrongKeyType);
        }
    }
    let security = match (header.child(WSSE, "Security"), credentials) {
        (Some(s), _) => Some(s),
        (None, Credentials::Transport) => None,
        (None, Credentials::UsernameToken) => return Err(RstError::MissingUsernameToken),
    };
    if let Some(ts) = security.and_then(|s| s.child(WSU, "Timestamp")) {
        let created = time_of(ts.child(WSU, "Created"))?;
        let expires = time_of(ts.child(WSU, "Expires"))?;
        if expires.is_some_and(|e| e < now - skew) {
            return Err(RstError::Expired);
        }
        if created.is_some_and(|c| c > now + skew) {
            return Err(RstError::FromFuture);
        }
    }
    let (username, password) = match (security, credentials) {
        (Some(security), Credentials::UsernameToken) => {
            let token = security
                .child(WSSE, "UsernameToken")
                .ok_or(RstError::MissingUsernameToken)?;
            let username = token
                .child(WSSE, "Username")
                .map(|u| u.text().to_string())
                .ok_or(RstError::MissingUsernameToken)?;
            let password = token
                .child(WSSE, "Password")
                .ok_or(RstError::MissingUsernameToken)?;
            if let Some(t) = password.attr("", "Type") {
                if t != PASSWORD_TEXT {
                    return Err(RstError::PasswordType);
                }
            }
            // The password is taken as sent: leading or trailing spaces can be part of it.
            (username, Secret::new(password.text.clone()))
        }
        // A UsernameToken beside Negotiate is ignored: the ticket decides.
        _ => (String::new(), Secret::new(String::new())),
    };
    let applies_to = rst
        .child_local("AppliesTo")
        .and_then(|a| a.child_local("EndpointReference"))
        .and_then(|e| e.child_local("Address"))
        .map(|a| a.text().to_string())
        .filter(|a| !a.is_empty())
        .ok_or(RstError::MissingAppliesTo)?;
    Ok(Rst {
        message_id: header
            .child_local("MessageID")
            .map(|m| m.text().to_string()),
        username,
        password,
        applies_to,
        token_type: rst
            .child(version.ns(), "TokenType")
            .map(|t| t.text().to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-11-23T05:14:18Z";

    fn now() -> OffsetDateTime {
        OffsetDateTime::parse(NOW, &Rfc3339).expect("time")
    }

    /// The request MSAL 1.39 sends (captured), with single-quoted attributes, no Password Type
    /// and no XML declaration.
    fn msal_rst(password: &str) -> String {
        format!(
            "<s:Envelope xmlns:s='http://www.w3.org/2003/05/soap-envelope' xmlns:wsa='http://www.w3.org/2005/08/addressing' xmlns:wsu='{WSU}'>
        <s:Header>
            <wsa:Action s:mustUnderstand='1'>http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue</wsa:Action>
            <wsa:MessageID>urn:uuid:867f5299-e3dd-44a9-a5a5-4ef8e30a2fee</wsa:MessageID>
            <wsa:ReplyTo><wsa:Address>http://www.w3.org/2005/08/addressing/anonymous</wsa:Address></wsa:ReplyTo>
            <wsa:To s:mustUnderstand='1'>https://127.0.0.1:18443/adfs/services/trust/13/usernamemixed</wsa:To>
            <wsse:Security s:mustUnderstand='1' xmlns:wsse='{WSSE}'>
                <wsu:Timestamp wsu:Id='_0'><wsu:Created>2026-11-23T05:14:18Z</wsu:Created><wsu:Expires>2026-11-23T05:24:18Z</wsu:Expires></wsu:Timestamp>
                <wsse:UsernameToken wsu:Id='ADALUsernameToken'>
                    <wsse:Username>alice@corp.contoso.local</wsse:Username>
                    <wsse:Password>{password}</wsse:Password>
                </wsse:UsernameToken>
            </wsse:Security>
        </s:Header>
        <s:Body>
        <wst:RequestSecurityToken xmlns:wst='http://docs.oasis-open.org/ws-sx/ws-trust/200512'>
        <wsp:AppliesTo xmlns:wsp='http://schemas.xmlsoap.org/ws/2004/09/policy'>
            <wsa:EndpointReference><wsa:Address>urn:federation:MicrosoftOnline</wsa:Address></wsa:EndpointReference>
        </wsp:AppliesTo>
        <wst:KeyType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Bearer</wst:KeyType>
        <wst:RequestType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue</wst:RequestType>
        </wst:RequestSecurityToken>
        </s:Body>
        </s:Envelope>"
        )
    }

    fn skew() -> time::Duration {
        time::Duration::minutes(5)
    }

    #[test]
    fn parses_what_msal_sends_with_escaped_password() {
        let rst = parse_rst(
            msal_rst("p&amp;&lt;&quot;&apos;&gt;w").as_bytes(),
            Version::Trust13,
            now(),
            skew(),
        )
        .expect("valid");
        assert_eq!(rst.username, "alice@corp.contoso.local");
        assert_eq!(rst.password.expose(), "p&<\"'>w");
        assert_eq!(rst.applies_to, "urn:federation:MicrosoftOnline");
        assert_eq!(
            rst.message_id.as_deref(),
            Some("urn:uuid:867f5299-e3dd-44a9-a5a5-4ef8e30a2fee")
        );
        assert_eq!(rst.token_type, None);
    }

    #[test]
    fn timestamps_are_judged_with_skew() {
        let body = msal_rst("x");
        let late = now() + time::Duration::minutes(16);
        assert_eq!(
            parse_rst(body.as_bytes(), Version::Trust13, late, skew()).err(),
            Some(RstError::Expired)
        );
        let early = now() - time::Duration::minutes(6);
        assert_eq!(
            parse_rst(body.as_bytes(), Version::Trust13, early, skew()).err(),
            Some(RstError::FromFuture)
        );
        let within = now() + time::Duration::minutes(14);
        assert!(parse_rst(body.as_bytes(), Version::Trust13, within, skew()).is_ok());
        let bad = body.replace("2026-11-23T05:24:18Z", "tomorrow");
        assert_eq!(
            parse_rst(bad.as_bytes(), Version::Trust13, now(), skew()).err(),
            Some(RstError::BadTimestamp)
        );
    }

    #[test]
    fn version_and_action_must_match_the_endpoint() {
        let body = msal_rst("x");
        assert_eq!(
            parse_rst(body.as_bytes(), Version::Trust2005, now(), skew()).err(),
            Some(RstError::VersionMismatch)
        );
        let wrong = body.replace("RST/Issue<", "RST/Renew<");
        assert_eq!(
            parse_rst(wrong.as_bytes(), Version::Trust13, now(), skew()).err(),
            Some(RstError::WrongAction)
        );
    }

    #[test]
    fn missing_pieces_are_named() {
        let body = msal_rst("x");
        let cases = [
            (
                body.replace("wsse:UsernameToken", "wsse:X"),
                RstError::MissingUsernameToken,
            ),
            (
                body.replace("wsp:AppliesTo", "wsp:Nothing"),
                RstError::MissingAppliesTo,
            ),
            (
                body.replace("/Bearer<", "/SymmetricKey<"),
                RstError::WrongKeyType,
            ),
            (
                body.replace("200512/Issue<", "200512/Validate<"),
                RstError::WrongRequestType,
            ),
            (
                body.replace("<wsse:Password>", "<wsse:Password Type='urn:digest'>"),
                RstError::PasswordType,
            ),
            (
                body.replace("http://www.w3.org/2003/05/soap-envelope", "urn:other"),
                RstError::NotSoap12,
            ),
        ];
        for (b, e) in cases {
            assert_eq!(
                parse_rst(b.as_bytes(), Version::Trust13, now(), skew()).err(),
                Some(e.clone()),
                "{e}"
            );
        }
    }

    /// What MSAL.NET sends for integrated Windows authentication (2005): no `wsse:Security`,
    /// KeyType NoProofKey.
    fn iwa_rst_2005() -> String {
        "<s:Envelope xmlns:s='http://www.w3.org/2003/05/soap-envelope' xmlns:wsa='http://www.w3.org/2005/08/addressing'><s:Header><wsa:Action s:mustUnderstand='1'>http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Issue</wsa:Action><wsa:MessageID>urn:uuid:1</wsa:MessageID><wsa:To s:mustUnderstand='1'>https://sts.contoso.com/adfs/services/trust/2005/windowstransport</wsa:To></s:Header><s:Body><wst:RequestSecurityToken xmlns:wst='http://schemas.xmlsoap.org/ws/2005/02/trust'><wsp:AppliesTo xmlns:wsp='http://schemas.xmlsoap.org/ws/2004/09/policy'><wsa:EndpointReference><wsa:Address>urn:federation:MicrosoftOnline</wsa:Address></wsa:EndpointReference></wsp:AppliesTo><wst:KeyType>http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey</wst:KeyType><wst:RequestType>http://schemas.xmlsoap.org/ws/2005/02/trust/Issue</wst:RequestType></wst:RequestSecurityToken></s:Body></s:Envelope>".to_string()
    }

    #[test]
    fn windowstransport_requests_need_no_security_header_but_usernamemixed_ones_do() {
        let body = iwa_rst_2005();
        let rst = parse_request(
            body.as_bytes(),
            Version::Trust2005,
            now(),
            skew(),
            Credentials::Transport,
        )
        .expect("an IWA request parses");
        assert_eq!(rst.applies_to, "urn:federation:MicrosoftOnline");
        assert!(rst.username.is_empty() && rst.password.is_empty());
        assert_eq!(
            parse_rst(body.as_bytes(), Version::Trust2005, now(), skew()).map(|_| ()),
            Err(RstError::MissingUsernameToken),
            "usernamemixed still needs its UsernameToken"
        );
        // A UsernameToken beside Negotiate is ignored: the ticket decides.
        let msal = msal_rst("pw");
        let rst = parse_request(
            msal.as_bytes(),
            Version::Trust13,
            now(),
            skew(),
            Credentials::Transport,
        )
        .expect("parses");
        assert!(rst.username.is_empty());
    }
}
