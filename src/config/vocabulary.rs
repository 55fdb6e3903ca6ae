//! Configuration vocabulary: the words the file uses that other layers act on. Which claims a
//! relying party gets ([`ClaimKind`], with their claim type URIs) and the `name` claim's order
//! ([`NameOrder`]); `tokens::claims` maps them onto a resolved account.

use serde::Deserialize;

/// A claim altgate can issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimKind {
    /// The cloud UPN: the alternate login ID when the user signed in with one, else the on-premises UPN.
    Upn,
    /// ImmutableID (base64 objectGUID or mS-DS-ConsistencyGuid); also the subject's NameID.
    ImmutableId,
    /// The alternate login ID value, when the user signed in with one.
    AlternateLoginId,
    /// Display name, given/family order per configuration.
    Name,
    /// Given name.
    GivenName,
    /// Family name.
    Surname,
    /// True when the request came from a configured internal network.
    InsideCorporateNetwork,
    /// The per-domain issuer (`http://{domain}/adfs/services/trust/`).
    IssuerId,
    /// AD FS's three password-expiry claims (`passwordexpirationtime`,
    /// `passwordexpirationdays`, `passwordchangeurl`), issued after a password sign-in whose
    /// password expires within `federation.password_expiry_notice` (Office shows the warning).
    PasswordExpiry,
}

/// Claim type of the password's expiry time (UTC, `xs:dateTime`).
pub const PASSWORD_EXPIRATION_TIME: &str =
    "http://schemas.microsoft.com/ws/2012/01/passwordexpirationtime";
/// Claim type of the whole days left before the password expires.
pub const PASSWORD_EXPIRATION_DAYS: &str =
    "http://schemas.microsoft.com/ws/2012/01/passwordexpirationdays";
/// Claim type of the URL where the user can change the password.
pub const PASSWORD_CHANGE_URL: &str = "http://schemas.microsoft.com/ws/2012/01/passwordchangeurl";

impl ClaimKind {
    /// The claim type URI.
    pub fn uri(self) -> &'static str {
        match self {
            ClaimKind::Upn => "http://schemas.xmlsoap.org/claims/UPN",
            ClaimKind::ImmutableId => {
                "http://schemas.microsoft.com/LiveID/Federation/2008/05/ImmutableID"
            }
            ClaimKind::AlternateLoginId => {
                "http://schemas.microsoft.com/ws/2013/11/alternateloginid"
            }
            ClaimKind::Name => "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
            ClaimKind::GivenName => {
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname"
            }
            ClaimKind::Surname => "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
            ClaimKind::InsideCorporateNetwork => {
                "http://schemas.microsoft.com/ws/2012/01/insidecorporatenetwork"
            }
            ClaimKind::IssuerId => {
                "http://schemas.microsoft.com/ws/2008/06/identity/claims/issuerid"
            }
            ClaimKind::PasswordExpiry => PASSWORD_EXPIRATION_TIME,
        }
    }

    /// What Microsoft 365 needs by default.
    pub fn microsoft_online_defaults() -> Vec<ClaimKind> {
        vec![
            ClaimKind::Upn,
            ClaimKind::ImmutableId,
            ClaimKind::AlternateLoginId,
            ClaimKind::InsideCorporateNetwork,
            ClaimKind::PasswordExpiry,
        ]
    }
}

/// Order of given and family name in the `name` claim (seed 000 Q13: Japanese tenants want the
/// family name first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NameOrder {
    /// "John Doe".
    #[default]
    GivenFamily,
    /// "Doe John".
    FamilyGiven,
}
