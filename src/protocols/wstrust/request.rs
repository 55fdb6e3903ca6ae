//! Parsing a WS-Trust RequestSecurityToken (usernamemixed): SOAP 1.2 envelope, WS-Addressing
//! Action, WS-Security Timestamp and UsernameToken, AppliesTo.

use crate::secret::Secret;
use crate::xml::parse::{parse, Limits, XmlError, XmlNode};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// SOAP 1.2 envelope namespace.
pub const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
/// WS-Security extensions.
pub const WSSE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
/// WS-Security utility.
pub const WSU: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
/// The only password type accepted.
pub const PASSWORD_TEXT: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText";

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
    /// Metric/audit label.
    pub fn label(self) -> &'static str {
        match self {
            Version::Trust13 => "wstrust_13",
            Version::Trust2005 => "wstrust_2005",
        }
    }
    fn other(self) -> Version {
        match self {
            Version::Trust13 => Version::Trust2005,
            Version::Trust2005 => Version::Trust13,
        }
    }
}

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
    /// Bounded metric label.
    pub fn reason(&self) -> &'static str {
        match self {
            RstError::Xml(XmlError::Dtd) => "xml_dtd",
            RstError::Xml(XmlError::TooDeep(_)) | RstError::Xml(XmlError::TooManyElements(_)) => {
                "xml_limits"
            }
            RstError::Xml(_) => "xml_malformed",
            RstError::NotSoap12 => "not_soap12",
            RstError::WrongAction => "wrong_action",
            RstError::VersionMismatch => "version_mismatch",
            RstError::MissingRst => "missing_rst",
            RstError::WrongRequestType => "wrong_request_type",
            RstError::WrongKeyType => "wrong_key_type",
            RstError::MissingUsernameToken => "missing_username_token",
            RstError::PasswordType => "password_type",
            RstError::MissingAppliesTo => "missing_applies_to",
            RstError::BadTimestamp => "bad_timestamp",
            RstError::Expired => "timestamp_expired",
            RstError::FromFuture => "timestamp_future",
        }
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

/// Parses and checks a request for endpoint `version`, with timestamps judged against `now`.
pub fn parse_rst(
    body: &[u8],
    version: Version,
    now: OffsetDateTime,
    skew: time::Duration,
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
        if kt != Version::Trust13.key_type() && kt != Version::Trust2005.key_type() {
            return Err(RstError::WrongKeyType);
        }
    }
    let security = header
        .child(WSSE, "Security")
        .ok_or(RstError::MissingUsernameToken)?;
    if let Some(ts) = security.child(WSU, "Timestamp") {
        let created = time_of(ts.child(WSU, "Created"))?;
        let expires = time_of(ts.child(WSU, "Expires"))?;
        if expires.is_some_and(|e| e < now - skew) {
            return Err(RstError::Expired);
        }
        if created.is_some_and(|c| c > now + skew) {
            return Err(RstError::FromFuture);
        }
    }
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
    let password = Secret::new(password.text.clone());
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
