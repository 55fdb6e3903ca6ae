//! What Microsoft Entra ID needs to federate each of altgate's domains: the Microsoft Graph
//! `internalDomainFederation` settings (issuer, endpoints, signing certificates, protocol and
//! prompt/MFA behaviour), generated from the same sources the running service uses: the
//! endpoints of [`crate::endpoint`] (which federation metadata publishes), the per-domain
//! issuer of [`crate::tokens::claims::issuer_for_upn`] (which tokens carry), and the configured
//! token-signing certificates. [`generate`] refuses, with every reason at once, what would
//! leave users unable to sign in; [`render`] writes the result as JSON, Graph PowerShell or an
//! explanation for people.

pub mod render;

use crate::clock::Clock;
use crate::config::Federation;
use crate::endpoint::PublicEndpoints;
use crate::tokens::claims::issuer_for_upn;
use base64::Engine;
use time::OffsetDateTime;

/// A signing certificate must stay valid at least this long for its settings to be handed to
/// Entra (Entra itself starts looking for the next certificate 30 days before expiry).
pub const MIN_CERT_VALIDITY: time::Duration = time::Duration::days(30);

/// Entra's `preferredAuthenticationProtocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PreferredProtocol {
    /// `wsFed` (AD FS's default for Microsoft 365).
    #[default]
    WsFed,
    /// `saml` (SAML 2.0 protocol).
    Saml,
}

impl PreferredProtocol {
    /// The Graph value.
    pub fn graph(self) -> &'static str {
        match self {
            PreferredProtocol::WsFed => "wsFed",
            PreferredProtocol::Saml => "saml",
        }
    }
}

/// Entra's `promptLoginBehavior`: what Entra sends altgate when an application asks for
/// `prompt=login`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PromptLogin {
    /// `translateToFreshPasswordAuthentication` (Entra's default): `wfresh=0` plus a password
    /// `wauth`.
    #[default]
    TranslateToFreshPasswordAuthentication,
    /// `nativeSupport`: `prompt=login` is passed on as it is.
    NativeSupport,
    /// `disabled`: only `wfresh=0` is sent.
    Disabled,
}

impl PromptLogin {
    /// The Graph value.
    pub fn graph(self) -> &'static str {
        match self {
            PromptLogin::TranslateToFreshPasswordAuthentication => {
                "translateToFreshPasswordAuthentication"
            }
            PromptLogin::NativeSupport => "nativeSupport",
            PromptLogin::Disabled => "disabled",
        }
    }
}

/// Entra's `federatedIdpMfaBehavior` for altgate: it performs no MFA, so Entra must do MFA
/// itself and never take a claim of it from altgate.
pub const MFA_BEHAVIOR: &str = "rejectMfaByFederatedIdp";

/// The Graph `@odata.type` of the settings object.
pub const ODATA_TYPE: &str = "#microsoft.graph.internalDomainFederation";

/// What the settings are generated from.
pub struct Input<'a> {
    /// `server.public_url`.
    pub public_url: &'a str,
    /// `federation:`.
    pub federation: &'a Federation,
    /// The current token-signing certificate (DER), if token signing is configured.
    pub signing_cert: Option<&'a [u8]>,
    /// The next certificate (DER) during a rollover.
    pub next_cert: Option<&'a [u8]>,
    /// The domains asked for (any case); empty: every federated domain.
    pub domains: &'a [String],
    /// `preferredAuthenticationProtocol`.
    pub protocol: PreferredProtocol,
    /// `promptLoginBehavior`.
    pub prompt_login: PromptLogin,
    /// Where "now" comes from (for the certificates' validity).
    pub clock: &'a Clock,
    /// Demo mode (`demo_directory`): nothing in it may reach a real tenant.
    pub demo: bool,
}

/// One certificate as Entra gets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// Base64 of the DER (no PEM armour), as Graph wants it.
    pub base64: String,
    /// Subject, for people.
    pub subject: String,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
}

/// The settings of one domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainFederation {
    /// The domain (lower case).
    pub domain: String,
    /// A federated domain this one is a sub-domain of, if any.
    pub parent: Option<String>,
    /// `displayName`.
    pub display_name: String,
    /// `issuerUri`: exactly the issuer altgate's tokens carry for users of this domain.
    pub issuer_uri: String,
    /// The endpoints (`passiveSignInUri`, `activeSignInUri`, `metadataExchangeUri`,
    /// `signOutUri`).
    pub endpoints: PublicEndpoints,
    /// `signingCertificate`.
    pub signing: Certificate,
    /// `nextSigningCertificate`, during a rollover.
    pub next_signing: Option<Certificate>,
    /// `preferredAuthenticationProtocol`.
    pub protocol: PreferredProtocol,
    /// `promptLoginBehavior`.
    pub prompt_login: PromptLogin,
}

/// Why no settings are handed out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsRefusal {
    /// `federation.federated_domains` is empty.
    #[error(
        "federation.federated_domains is empty: list the domains Entra ID federates with altgate"
    )]
    NoFederatedDomains,
    /// A domain asked for is not federated.
    #[error("{domain} is not in federation.federated_domains ({listed}); altgate would not issue its users the issuer Entra expects")]
    UnknownDomain {
        /// The domain.
        domain: String,
        /// The configured list.
        listed: String,
    },
    /// A domain asked for is an unlisted sub-domain of a federated one.
    #[error("{domain} is not in federation.federated_domains but is a sub-domain of {parent}: in Entra ID it inherits {parent}'s federation and altgate issues its users {parent}'s issuer {issuer}; apply {parent}'s settings, {domain} needs none of its own")]
    SubDomain {
        /// The domain.
        domain: String,
        /// Its federated parent.
        parent: String,
        /// The parent's issuer.
        issuer: String,
    },
    /// `server.public_url` is not https.
    #[error("server.public_url {0:?} is not an https:// URL; Entra ID only federates over TLS")]
    NotHttps(String),
    /// No token signing.
    #[error(
        "token_signing is not configured: there is no signing certificate for Entra ID to trust"
    )]
    NoSigningCertificate,
    /// A certificate does not parse.
    #[error("the {which} certificate does not parse: {message}")]
    BadCertificate {
        /// `token-signing` or `next token-signing`.
        which: &'static str,
        /// The parser's message.
        message: String,
    },
    /// A certificate has expired.
    #[error(
        "the {which} certificate expired on {not_after}; put a valid certificate in place first"
    )]
    Expired {
        /// Which one.
        which: &'static str,
        /// Its expiry.
        not_after: String,
    },
    /// A certificate is not valid yet.
    #[error("the {which} certificate is not valid before {not_before}; Entra ID would reject tokens signed with it")]
    NotYetValid {
        /// Which one.
        which: &'static str,
        /// Its start.
        not_before: String,
    },
    /// `server.public_url` names a host the internet cannot reach.
    #[error("server.public_url {url:?} is {why}: Entra ID would send every user's browser there; give altgate the public name clients reach it by")]
    NotPublic {
        /// The URL.
        url: String,
        /// What kind of host it names.
        why: &'static str,
    },
    /// Demo mode: its users and generated certificates must never reach a real tenant.
    #[error("this configuration is in demo mode (demo_directory): its users and its generated certificates must never reach Entra ID; use a configuration with your forests and your own token-signing certificate")]
    DemoMode,
    /// A certificate is the development one altgate generated.
    #[error("the {which} certificate is the self-signed development certificate altgate generated ({subject}); give token_signing a certificate of your own (AD FS's, or one made for altgate)")]
    DevelopmentCertificate {
        /// Which one.
        which: &'static str,
        /// Its subject.
        subject: String,
    },
    /// The signing certificate expires within [`MIN_CERT_VALIDITY`].
    #[error("the token-signing certificate expires on {not_after}, in {days} days (fewer than 30): roll it over first (altgate certs rollover, then altgate certs promote)")]
    ExpiresSoon {
        /// Its expiry.
        not_after: String,
        /// Whole days left.
        days: i64,
    },
}

impl SettingsRefusal {
    /// A stable identifier for scripts.
    pub fn code(&self) -> &'static str {
        match self {
            SettingsRefusal::NoFederatedDomains => "no_federated_domains",
            SettingsRefusal::DemoMode => "demo_mode",
            SettingsRefusal::NotPublic { .. } => "public_url_not_public",
            SettingsRefusal::DevelopmentCertificate { .. } => "development_certificate",
            SettingsRefusal::UnknownDomain { .. } => "unknown_domain",
            SettingsRefusal::SubDomain { .. } => "sub_domain",
            SettingsRefusal::NotHttps(_) => "not_https",
            SettingsRefusal::NoSigningCertificate => "no_signing_certificate",
            SettingsRefusal::BadCertificate { .. } => "bad_certificate",
            SettingsRefusal::Expired { .. } => "certificate_expired",
            SettingsRefusal::NotYetValid { .. } => "certificate_not_yet_valid",
            SettingsRefusal::ExpiresSoon { .. } => "certificate_expires_soon",
        }
    }
}

/// RFC 3339 for messages.
pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

fn certificate(der: &[u8], which: &'static str) -> Result<Certificate, SettingsRefusal> {
    let bad = |message: String| SettingsRefusal::BadCertificate { which, message };
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| bad(e.to_string()))?;
    let at = |t: x509_parser::time::ASN1Time| {
        OffsetDateTime::from_unix_timestamp(t.timestamp()).map_err(|e| bad(e.to_string()))
    };
    Ok(Certificate {
        base64: base64::engine::general_purpose::STANDARD.encode(der),
        subject: cert.subject().to_string(),
        not_before: at(cert.validity().not_before)?,
        not_after: at(cert.validity().not_after)?,
    })
}

/// The validity problems of `cert` at `now` (the 30-day rule only for the current one).
fn validity(
    cert: &Certificate,
    which: &'static str,
    now: OffsetDateTime,
    current: bool,
) -> Option<SettingsRefusal> {
    if cert.not_after <= now {
        return Some(SettingsRefusal::Expired {
            which,
            not_after: rfc3339(cert.not_after),
        });
    }
    if current && cert.not_before > now {
        return Some(SettingsRefusal::NotYetValid {
            which,
            not_before: rfc3339(cert.not_before),
        });
    }
    if current && cert.not_after - now < MIN_CERT_VALIDITY {
        return Some(SettingsRefusal::ExpiresSoon {
            not_after: rfc3339(cert.not_after),
            days: (cert.not_after - now).whole_days(),
        });
    }
    None
}

/// The federated domain `domain` is a proper sub-domain of (the longest), if any.
fn parent_of<'a>(domain: &str, federated: &'a [String]) -> Option<&'a String> {
    federated
        .iter()
        .filter(|d| domain.ends_with(&format!(".{d}")))
        .max_by_key(|d| d.len())
}

/// Why the host of `url` cannot be reached from the internet, if it cannot: `localhost`, a
/// loopback, private, link-local or unspecified address, a single-label name, or a name under a
/// reserved or internal top-level domain (RFC 6761 and 6762, `.internal`, `home.arpa`).
pub fn not_public(url: &str) -> Option<&'static str> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") {
        return Some("localhost");
    }
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        let private = match ip.to_canonical() {
            std::net::IpAddr::V4(v4) => {
                v4.is_loopback()
                    || v4.is_private()
                    || v4.is_link_local()
                    || v4.is_unspecified()
                    // 100.64.0.0/10: carrier-grade NAT
                    || (v4.octets()[0] == 100 && (64..128).contains(&v4.octets()[1]))
            }
            std::net::IpAddr::V6(v6) => {
                v6.is_loopback()
                    || v6.is_unspecified()
                    || (v6.segments()[0] & 0xfe00) == 0xfc00
                    || (v6.segments()[0] & 0xffc0) == 0xfe80
            }
        };
        return private.then_some("a loopback, private or link-local address");
    }
    if !host.contains('.') {
        return Some("a single-label name nobody outside resolves");
    }
    const RESERVED: &[&str] = &[
        ".test",
        ".example",
        ".invalid",
        ".local",
        ".internal",
        ".lan",
        ".home.arpa",
    ];
    RESERVED
        .iter()
        .any(|tld| host.ends_with(tld))
        .then_some("a name under a reserved or internal top-level domain")
}

/// The settings of every requested domain, parents before their sub-domains, or every reason
/// to refuse.
pub fn generate(input: &Input<'_>) -> Result<Vec<DomainFederation>, Vec<SettingsRefusal>> {
    let mut refusals = Vec::new();
    if input.demo {
        refusals.push(SettingsRefusal::DemoMode);
    }
    let federated = &input.federation.federated_domains;
    if federated.is_empty() {
        refusals.push(SettingsRefusal::NoFederatedDomains);
    }
    let mut domains: Vec<String> = if input.domains.is_empty() {
        federated.clone()
    } else {
        input
            .domains
            .iter()
            .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
            .collect()
    };
    let mut chosen: Vec<String> = Vec::new();
    for domain in domains.drain(..) {
        if chosen.contains(&domain) {
            continue;
        }
        if federated.contains(&domain) {
            chosen.push(domain);
        } else if let Some(parent) = parent_of(&domain, federated) {
            refusals.push(SettingsRefusal::SubDomain {
                issuer: issuer_for_upn(&format!("@{domain}"), federated).unwrap_or_default(),
                parent: parent.clone(),
                domain,
            });
        } else if !federated.is_empty() {
            refusals.push(SettingsRefusal::UnknownDomain {
                domain,
                listed: federated.join(", "),
            });
        }
    }
    if !input.public_url.starts_with("https://") {
        refusals.push(SettingsRefusal::NotHttps(input.public_url.to_string()));
    } else if let Some(why) = not_public(input.public_url) {
        refusals.push(SettingsRefusal::NotPublic {
            url: input.public_url.to_string(),
            why,
        });
    }
    let now = (input.clock)();
    let mut check = |der: Option<&[u8]>, which: &'static str, current: bool| {
        let cert = der.map(|d| certificate(d, which)).transpose();
        match cert {
            Ok(Some(c)) if c.subject.contains(crate::keys::DEV_SIGNING_SUBJECT) => {
                refusals.push(SettingsRefusal::DevelopmentCertificate {
                    which,
                    subject: c.subject,
                });
                None
            }
            Ok(Some(c)) => match validity(&c, which, now, current) {
                Some(r) => {
                    refusals.push(r);
                    None
                }
                None => Some(c),
            },
            Ok(None) => None,
            Err(r) => {
                refusals.push(r);
                None
            }
        }
    };
    let signing = check(input.signing_cert, "token-signing", true);
    let next_signing = check(input.next_cert, "next token-signing", false);
    if input.signing_cert.is_none() {
        refusals.push(SettingsRefusal::NoSigningCertificate);
    }
    let Some(signing) = signing.filter(|_| refusals.is_empty()) else {
        return Err(refusals);
    };
    // Parents first: a parent has fewer labels than any of its sub-domains.
    chosen.sort_by_key(|d| d.split('.').count());
    let endpoints = PublicEndpoints::new(input.public_url);
    let mut out = Vec::new();
    for domain in chosen {
        // The issuer exactly as tokens carry it for a user whose UPN is in this domain.
        let Some(issuer_uri) = issuer_for_upn(&format!("@{domain}"), federated) else {
            continue;
        };
        out.push(DomainFederation {
            parent: parent_of(&domain, federated).cloned(),
            display_name: domain.clone(),
            issuer_uri,
            endpoints: endpoints.clone(),
            signing: signing.clone(),
            next_signing: next_signing.clone(),
            protocol: input.protocol,
            prompt_login: input.prompt_login,
            domain,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
