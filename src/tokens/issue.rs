//! Issuing a token for a signed-in user to a relying party: claims per the relying party's
//! configuration, the issuer per federated domain, and a signed SAML 1.1 or 2.0 assertion.

use super::claims::{attribute_claims, issuer_for_upn, Subject};
use super::saml::{saml11, saml20, AssertionSpec, SignedAssertion};
use super::KeyError;
use crate::app::App;
use crate::config::{RelyingParty, TokenType};
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
    let r = &signed_in.resolution;
    let account = r.account.as_ref().ok_or(IssueError::NoAccount)?;
    let fed = &app.config.federation;
    let subject = Subject {
        account,
        via: r.via.unwrap_or(crate::resolve::Via::Upn),
        login: &r.login,
        inside_corporate_network: fed.internal_networks.iter().any(|n| n.contains(&client_ip)),
    };
    let domain_issuer = issuer_for_upn(&subject.cloud_upn(), &fed.federated_domains);
    let issuer = domain_issuer.clone().unwrap_or_else(|| fed.issuer.clone());
    let attributes = attribute_claims(
        &rp.claims,
        &subject,
        fed.display_name_order,
        domain_issuer.as_deref(),
    );
    let name_id = account
        .immutable_id
        .clone()
        .unwrap_or_else(|| subject.cloud_upn());
    let now = (app.clock)();
    let lifetime = time::Duration::try_from(rp.token_lifetime).unwrap_or(time::Duration::HOUR);
    let spec = AssertionSpec {
        issuer: &issuer,
        audience: &rp.identifier,
        name_id: &name_id,
        name_id_format: match rp.token_type {
            TokenType::Saml11 => NAMEID_UNSPECIFIED,
            TokenType::Saml20 => NAMEID_PERSISTENT,
        },
        attributes: &attributes,
        now,
        lifetime,
        auth_instant: signed_in.auth_instant,
        recipient: delivery.recipient,
        in_response_to: delivery.in_response_to,
    };
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
