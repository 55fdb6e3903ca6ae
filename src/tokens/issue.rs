//! Issuing a token for a signed-in user to a relying party: claims per the relying party's
//! configuration, the issuer per federated domain, and a signed SAML 1.1 or 2.0 assertion.

use super::claims::{attribute_claims, issuer_for_upn, password_expiry_claims, Subject};
use super::saml::{
    response, saml11, saml20, saml20_element, AssertionSpec, ResponseSpec, SignedAssertion, Status,
};
use super::KeyError;
use crate::clock::Clock;
use crate::config::{ClaimKind, Federation, NameIdFormat, RelyingParty, SamlSigning, TokenType};
use crate::keys::SigningKey;
use crate::request::ClientAddresses;
use crate::signin::SignedIn;
use prometheus::Histogram;
use std::sync::Arc;
use time::OffsetDateTime;
use tokio::time::Instant;

/// Token issuance failed.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// No token-signing key is configured.
    #[error("no token-signing key is configured")]
    NoSigningKey,
    /// The sign-in carries no account (a programming error, reported rather than panicking).
    #[error("the sign-in has no resolved account")]
    NoAccount,
    /// Signing failed.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// NameID format of the ImmutableID subject for SAML 1.1.
pub const NAMEID_UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
/// NameID format of the ImmutableID subject for SAML 2.0.
pub const NAMEID_PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";

/// The attribute holding the cloud UPN that Entra ID requires in a SAML 2.0 identity provider's
/// assertion (Microsoft's "SAML 2.0 identity provider" requirements: `<Attribute Name="IDPEmail">`).
pub const IDP_EMAIL: &str = "IDPEmail";

/// Where the token goes (SAML 2.0 browser flows set these).
#[derive(Debug, Clone, Default)]
pub struct Delivery<'a> {
    /// The ACS URL.
    pub recipient: Option<&'a str>,
    /// The AuthnRequest ID.
    pub in_response_to: Option<&'a str>,
}

/// Everything an assertion says, computed once from the sign-in and the relying party.
struct Prepared {
    issuer: String,
    attributes: Vec<(&'static str, String)>,
    cloud_upn: String,
    name_id: String,
    name_id_format: &'static str,
    now: time::OffsetDateTime,
    lifetime: time::Duration,
    auth_instant: time::OffsetDateTime,
    method: crate::signin::Method,
}

/// Everything one token depends on: the federation settings, the signing key, the relying
/// party and the token type to issue to it, the signed-in account, the time and the client
/// address. Issuance is a pure function of these.
#[derive(Clone, Copy)]
pub struct Issuance<'a> {
    /// Issuer, federated domains, internal networks, display-name order.
    pub federation: &'a Federation,
    /// The token-signing key.
    pub key: &'a SigningKey,
    /// The relying party.
    pub relying_party: &'a RelyingParty,
    /// SAML 1.1 or 2.0 (the relying party's own, or what a WS-Trust client asked for).
    pub token_type: TokenType,
    /// The verified sign-in.
    pub signed_in: &'a SignedIn,
    /// When the token is issued.
    pub now: OffsetDateTime,
    /// The client (for `insidecorporatenetwork`: a known client, not through an extranet edge,
    /// in `federation.internal_networks`).
    pub client: &'a ClientAddresses,
    /// Where users change their password (`passwordchangeurl`), when altgate offers the page.
    pub password_change_url: Option<&'a str>,
}

fn prepare(i: &Issuance<'_>) -> Result<Prepared, IssueError> {
    let rp = i.relying_party;
    let r = &i.signed_in.resolution;
    let account = r.account.as_ref().ok_or(IssueError::NoAccount)?;
    let fed = i.federation;
    let subject = Subject {
        account,
        via: r.via.unwrap_or(crate::resolve::Via::Upn),
        login: &i.signed_in.login,
        inside_corporate_network: i.client.is_internal(&fed.internal_networks),
    };
    let device = i.signed_in.device.as_ref();
    let domain_issuer = match device {
        // A device's issuer is its verified domain's, not a UPN's (it has none).
        Some(d) => d
            .issuer_domain
            .as_ref()
            .or(fed.federated_domains.first())
            .map(|d| format!("http://{d}/adfs/services/trust/")),
        None => rp
            .per_domain_issuer
            .then(|| issuer_for_upn(&subject.cloud_upn(), &fed.federated_domains))
            .flatten(),
    };
    let issuer = match device {
        Some(_) if !rp.per_domain_issuer => fed.issuer.clone(),
        _ => domain_issuer.clone().unwrap_or_else(|| fed.issuer.clone()),
    };
    let mut attributes = match device {
        Some(d) => device_claims(
            d,
            domain_issuer.as_deref(),
            subject.inside_corporate_network,
        ),
        None => attribute_claims(
            &rp.claims,
            &subject,
            fed.display_name_order,
            domain_issuer.as_deref(),
        ),
    };
    if device.is_none() && rp.is_microsoft_online() {
        attributes.push((ACCOUNT_TYPE, "User".to_string()));
    }
    if i.signed_in.method == crate::signin::Method::Windows {
        attributes.push((AUTHN_METHODS_REFERENCES, WINDOWS_METHOD.to_string()));
    }
    if rp.claims.contains(&ClaimKind::PasswordExpiry) {
        attributes.extend(password_expiry_claims(
            i.signed_in.password_expires_at,
            i.now,
            fed.password_expiry_notice,
            i.password_change_url,
        ));
    }
    let immutable = account
        .immutable_id
        .clone()
        .unwrap_or_else(|| subject.cloud_upn());
    let (name_id, name_id_format) = match (i.token_type, rp.name_id_format) {
        (TokenType::Saml11, _) => (immutable, NAMEID_UNSPECIFIED),
        (TokenType::Saml20, NameIdFormat::Persistent) => (immutable, NAMEID_PERSISTENT),
        (TokenType::Saml20, NameIdFormat::Unspecified) => (immutable, NAMEID_UNSPECIFIED),
        (TokenType::Saml20, NameIdFormat::Email) => (subject.cloud_upn(), NAMEID_EMAIL),
    };
    Ok(Prepared {
        issuer,
        attributes,
        cloud_upn: subject.cloud_upn(),
        name_id,
        name_id_format,
        now: i.now,
        lifetime: time::Duration::try_from(rp.token_lifetime).unwrap_or(time::Duration::HOUR),
        auth_instant: i.signed_in.auth_instant,
        method: i.signed_in.method,
    })
}

/// `accounttype`: `DJ` for a domain-joined computer, `User` for a user (AD FS's hybrid join
/// rules on `urn:federation:MicrosoftOnline`).
pub const ACCOUNT_TYPE: &str = "http://schemas.microsoft.com/ws/2012/01/accounttype";
/// `onpremobjectguid`: the computer's `objectGUID` (base64).
pub const ON_PREM_OBJECT_GUID: &str =
    "http://schemas.microsoft.com/identity/claims/onpremobjectguid";
/// `primarysid`: the computer's `objectSid`.
pub const PRIMARY_SID: &str = "http://schemas.microsoft.com/ws/2008/06/identity/claims/primarysid";
/// The authentication methods claim Entra reads (`amr`).
pub const AUTHN_METHODS_REFERENCES: &str =
    "http://schemas.microsoft.com/claims/authnmethodsreferences";
/// Windows integrated authentication, as a method claim value.
pub const WINDOWS_METHOD: &str =
    "http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/windows";

/// The claims of a domain-joined computer's token (entra-docs `hybrid-join-manual.md`):
/// `accounttype` DJ, `onpremobjectguid`, `primarysid`, `issuerid`, ImmutableID (its
/// `objectGUID`) and `insidecorporatenetwork`.
fn device_claims(
    d: &crate::signin::windows::Device,
    issuer_id: Option<&str>,
    inside: bool,
) -> Vec<(&'static str, String)> {
    let mut out = vec![
        (ACCOUNT_TYPE, "DJ".to_string()),
        (ON_PREM_OBJECT_GUID, d.object_guid.clone()),
        (PRIMARY_SID, d.object_sid.clone()),
    ];
    if let Some(issuer) = issuer_id {
        out.push((ClaimKind::IssuerId.uri(), issuer.to_string()));
    }
    out.push((ClaimKind::ImmutableId.uri(), d.object_guid.clone()));
    out.push((ClaimKind::InsideCorporateNetwork.uri(), inside.to_string()));
    out
}

impl Prepared {
    fn spec<'a>(&'a self, rp: &'a RelyingParty, delivery: &Delivery<'a>) -> AssertionSpec<'a> {
        AssertionSpec {
            issuer: &self.issuer,
            audience: &rp.identifier,
            name_id: &self.name_id,
            name_id_format: self.name_id_format,
            attributes: &self.attributes,
            now: self.now,
            lifetime: self.lifetime,
            auth_instant: self.auth_instant,
            method: self.method,
            recipient: delivery.recipient,
            in_response_to: delivery.in_response_to,
        }
    }
}

/// NameID format for e-mail addresses.
pub const NAMEID_EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

/// Builds and signs the assertion `i` describes (SAML 1.1 or 2.0 per `i.token_type`).
pub fn issue(i: &Issuance<'_>, delivery: &Delivery<'_>) -> Result<SignedAssertion, IssueError> {
    let prepared = prepare(i)?;
    let spec = prepared.spec(i.relying_party, delivery);
    Ok(match i.token_type {
        TokenType::Saml11 => saml11(&spec, i.key)?,
        TokenType::Saml20 => saml20(&spec, i.key)?,
    })
}

/// A SAML 2.0 Response carrying the assertion `i` describes, posted to `acs`, signed per the
/// relying party's `sign` setting. `i.token_type` is ignored: SAML-P always carries SAML 2.0.
/// To Microsoft 365 / Entra ID the assertion also carries the `IDPEmail` attribute (the cloud
/// UPN) first, as Entra requires of a SAML 2.0 identity provider; its NameID and issuer are the
/// relying party's (persistent ImmutableID and the per-domain issuer by default).
pub fn saml_response(
    i: &Issuance<'_>,
    acs: &str,
    in_response_to: Option<&str>,
) -> Result<String, IssueError> {
    let i = Issuance {
        token_type: TokenType::Saml20,
        ..*i
    };
    let rp = i.relying_party;
    let mut prepared = prepare(&i)?;
    if rp.is_microsoft_online() {
        prepared
            .attributes
            .insert(0, (IDP_EMAIL, prepared.cloud_upn.clone()));
    }
    let delivery = Delivery {
        recipient: Some(acs),
        in_response_to,
    };
    let spec = prepared.spec(rp, &delivery);
    let sign_assertion = matches!(rp.sign, SamlSigning::Assertion | SamlSigning::Both);
    let sign_response = matches!(rp.sign, SamlSigning::Response | SamlSigning::Both);
    let (_, assertion) = saml20_element(&spec, sign_assertion.then_some(i.key))?;
    Ok(response(
        &ResponseSpec {
            issuer: &prepared.issuer,
            destination: acs,
            in_response_to,
            status: Status::Success,
            now: prepared.now,
        },
        Some(assertion),
        i.key,
        sign_response,
    )?)
}

/// The token-signing material.
#[derive(Debug)]
pub struct Signing {
    /// The current key and certificate.
    pub key: SigningKey,
    /// The next certificate (DER), published in metadata during a rollover.
    pub next_cert_der: Option<Vec<u8>>,
}

/// The token service the protocols call: the federation settings, the signing material (absent:
/// the token endpoints answer "unavailable"), the clock, and the signing-time histogram.
#[derive(Clone)]
pub struct Tokens {
    federation: Arc<Federation>,
    signing: Option<Arc<Signing>>,
    clock: Clock,
    signing_duration: Histogram,
    password_change_url: Option<Arc<str>>,
}

impl Tokens {
    /// The same service naming `url` in the `passwordchangeurl` claim (`None`: no change page
    /// is offered, and the claim is left out).
    pub fn with_password_change_url(mut self, url: Option<String>) -> Self {
        self.password_change_url = url.map(Arc::from);
        self
    }

    /// A token service.
    pub fn new(
        federation: Federation,
        signing: Option<Signing>,
        clock: Clock,
        signing_duration: Histogram,
    ) -> Self {
        Tokens {
            federation: Arc::new(federation),
            signing: signing.map(Arc::new),
            clock,
            signing_duration,
            password_change_url: None,
        }
    }

    /// The signing material, when configured.
    pub fn signing(&self) -> Option<&Signing> {
        self.signing.as_deref()
    }

    /// The federation settings tokens are issued under.
    pub fn federation(&self) -> &Federation {
        &self.federation
    }

    /// "Now", from the injected clock.
    pub fn now(&self) -> OffsetDateTime {
        (self.clock)()
    }

    fn with<T>(
        &self,
        rp: &RelyingParty,
        token_type: TokenType,
        signed_in: &SignedIn,
        client: &ClientAddresses,
        f: impl FnOnce(&Issuance<'_>) -> Result<T, IssueError>,
    ) -> Result<T, IssueError> {
        let start = Instant::now();
        let signing = self.signing.as_deref().ok_or(IssueError::NoSigningKey)?;
        let out = f(&Issuance {
            federation: &self.federation,
            key: &signing.key,
            relying_party: rp,
            token_type,
            signed_in,
            now: self.now(),
            client,
            password_change_url: self.password_change_url.as_deref(),
        })?;
        self.signing_duration.observe(start.elapsed().as_secs_f64());
        Ok(out)
    }

    /// Builds and signs an assertion of `token_type` for `signed_in` to `rp`.
    pub fn issue(
        &self,
        rp: &RelyingParty,
        token_type: TokenType,
        signed_in: &SignedIn,
        client: &ClientAddresses,
        delivery: &Delivery<'_>,
    ) -> Result<SignedAssertion, IssueError> {
        self.with(rp, token_type, signed_in, client, |i| issue(i, delivery))
    }

    /// A signed SAML 2.0 Response for `signed_in` to `rp`, posted to `acs`.
    pub fn saml_response(
        &self,
        rp: &RelyingParty,
        signed_in: &SignedIn,
        client: &ClientAddresses,
        acs: &str,
        in_response_to: Option<&str>,
    ) -> Result<String, IssueError> {
        self.with(rp, TokenType::Saml20, signed_in, client, |i| {
            saml_response(i, acs, in_response_to)
        })
    }
}
