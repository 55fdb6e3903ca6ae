//! Issuing a token for a signed-in user to a relying party: claims per the relying party's
//! configuration, the issuer per federated domain, and a signed SAML 1.1 or 2.0 assertion.

use super::claims::{attribute_claims, issuer_for_upn, Subject};
use super::saml::{
    response, saml11, saml20, saml20_element, AssertionSpec, ResponseSpec, SignedAssertion, Status,
};
use super::KeyError;
use crate::app::App;
use crate::config::{NameIdFormat, RelyingParty, SamlSigning, TokenType};
use crate::signin::SignedIn;
use std::net::IpAddr;
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
    name_id: String,
    name_id_format: &'static str,
    now: time::OffsetDateTime,
    lifetime: time::Duration,
    auth_instant: time::OffsetDateTime,
}

fn prepare(
    app: &App,
    rp: &RelyingParty,
    signed_in: &SignedIn,
    client_ip: IpAddr,
) -> Result<Prepared, IssueError> {
    let r = &signed_in.resolution;
    let account = r.account.as_ref().ok_or(IssueError::NoAccount)?;
    let fed = &app.config.federation;
    let subject = Subject {
        account,
        via: r.via.unwrap_or(crate::resolve::Via::Upn),
        login: &r.login,
        inside_corporate_network: fed.internal_networks.iter().any(|n| n.contains(&client_ip)),
    };
    let domain_issuer = rp
        .per_domain_issuer
        .then(|| issuer_for_upn(&subject.cloud_upn(), &fed.federated_domains))
        .flatten();
    let issuer = domain_issuer.clone().unwrap_or_else(|| fed.issuer.clone());
    let attributes = attribute_claims(
        &rp.claims,
        &subject,
        fed.display_name_order,
        domain_issuer.as_deref(),
    );
    let immutable = account
        .immutable_id
        .clone()
        .unwrap_or_else(|| subject.cloud_upn());
    let (name_id, name_id_format) = match (rp.token_type, rp.name_id_format) {
        (TokenType::Saml11, _) => (immutable, NAMEID_UNSPECIFIED),
        (TokenType::Saml20, NameIdFormat::Persistent) => (immutable, NAMEID_PERSISTENT),
        (TokenType::Saml20, NameIdFormat::Unspecified) => (immutable, NAMEID_UNSPECIFIED),
        (TokenType::Saml20, NameIdFormat::Email) => (subject.cloud_upn(), NAMEID_EMAIL),
    };
    Ok(Prepared {
        issuer,
        attributes,
        name_id,
        name_id_format,
        now: (app.clock)(),
        lifetime: time::Duration::try_from(rp.token_lifetime).unwrap_or(time::Duration::HOUR),
        auth_instant: signed_in.auth_instant,
    })
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
            recipient: delivery.recipient,
            in_response_to: delivery.in_response_to,
        }
    }
}

/// NameID format for e-mail addresses.
pub const NAMEID_EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

/// Builds and signs the assertion for `signed_in` to `rp`.
pub fn issue(
    app: &App,
    rp: &RelyingParty,
    signed_in: &SignedIn,
    client_ip: IpAddr,
    delivery: &Delivery<'_>,
) -> Result<SignedAssertion, IssueError> {
    let start = Instant::now();
    let signing = app.signing.as_ref().ok_or(IssueError::NoSigningKey)?;
    let prepared = prepare(app, rp, signed_in, client_ip)?;
    let spec = prepared.spec(rp, delivery);
    let assertion = match rp.token_type {
        TokenType::Saml11 => saml11(&spec, &signing.key)?,
        TokenType::Saml20 => saml20(&spec, &signing.key)?,
    };
    app.metrics
        .tokens
        .signing_duration
        .observe(start.elapsed().as_secs_f64());
    Ok(assertion)
}

/// A SAML 2.0 Response for `signed_in` to `rp`, posted to `acs`, signed per `rp.sign`.
pub fn saml_response(
    app: &App,
    rp: &RelyingParty,
    signed_in: &SignedIn,
    client_ip: IpAddr,
    acs: &str,
    in_response_to: Option<&str>,
) -> Result<String, IssueError> {
    let start = Instant::now();
    let signing = app.signing.as_ref().ok_or(IssueError::NoSigningKey)?;
    let rp20 = RelyingParty {
        token_type: TokenType::Saml20,
        ..rp.clone()
    };
    let prepared = prepare(app, &rp20, signed_in, client_ip)?;
    let delivery = Delivery {
        recipient: Some(acs),
        in_response_to,
    };
    let spec = prepared.spec(&rp20, &delivery);
    let sign_assertion = matches!(rp.sign, SamlSigning::Assertion | SamlSigning::Both);
    let sign_response = matches!(rp.sign, SamlSigning::Response | SamlSigning::Both);
    let (_, assertion) = saml20_element(&spec, sign_assertion.then_some(&signing.key))?;
    let xml = response(
        &ResponseSpec {
            issuer: &prepared.issuer,
            destination: acs,
            in_response_to,
            status: Status::Success,
            now: prepared.now,
        },
        Some(assertion),
        &signing.key,
        sign_response,
    )?;
    app.metrics
        .tokens
        .signing_duration
        .observe(start.elapsed().as_secs_f64());
    Ok(xml)
}
