//! The configuration file as written: serde structures with `deny_unknown_fields`, no meaning yet.
//! The validator in [`super`] turns them into the typed [`super::Config`].

use serde::Deserialize;
use std::collections::BTreeMap;

/// `server:`: where and how altgate listens.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    /// Socket address to listen on, e.g. `127.0.0.1:8443`.
    pub listen: Option<String>,
    /// The public base URL clients use, e.g. `https://sts.contoso.com`.
    pub public_url: Option<String>,
    /// TLS certificate and key (PEM). Without it altgate serves plain HTTP (for a TLS-terminating
    /// proxy in front); `check-config` warns.
    pub tls: Option<RawTls>,
    /// Largest request body accepted, in bytes (65536); larger bodies get 413.
    pub max_body_bytes: Option<usize>,
    /// Connection deadlines and caps.
    pub limits: Option<super::edge::RawLimits>,
    /// Proxies allowed to name the client (CIDR list).
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Client addresses refused before any work (CIDR list).
    #[serde(default)]
    pub banned_ips: Vec<String>,
}

/// `server.tls:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    /// PEM certificate chain, leaf first.
    pub cert_file: String,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: String,
    /// Demo/dev only: generate a self-signed pair into these files when they do not exist.
    #[serde(default)]
    pub generate_dev_certificate: bool,
}

/// `alternate_login_id:`: both keys must be set to enable the feature (AD FS semantics).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlternateLoginId {
    /// LDAP name of the attribute users sign in with, usually `mail`.
    pub attribute: Option<String>,
    /// DNS names of the forests to search, each one listed under `forests:`.
    pub lookup_forests: Option<Vec<String>>,
}

/// One entry of `forests:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawForest {
    /// Forest DNS name (the forest root domain), e.g. `contoso.com`.
    pub name: String,
    /// Global catalog URLs (`ldaps://host:3269`), tried in order.
    #[serde(default)]
    pub global_catalogs: Vec<String>,
    /// Domain controllers per domain DNS name (`ldaps://host:636`), for password binds.
    #[serde(default)]
    pub domain_controllers: BTreeMap<String, Vec<String>>,
    /// Account altgate binds as to search the global catalog.
    pub service_account: Option<RawServiceAccount>,
    /// PEM CA bundle that issued the DCs' certificates; the system roots when absent.
    pub ca_file: Option<String>,
    /// Search base on the global catalog; empty (the whole forest) when absent.
    pub search_base: Option<String>,
}

/// `forests[].service_account:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServiceAccount {
    /// UPN, `DOMAIN\name` or DN of the service account.
    pub user: String,
    /// Environment variable holding the password.
    pub password_env: Option<String>,
    /// File holding the password (trailing newline ignored).
    pub password_file: Option<String>,
}

/// `cache:`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawCache {
    /// How long a resolved account is remembered (`5m`).
    pub positive_ttl: Option<String>,
    /// How long "no such account" and ambiguity are remembered (`30s`).
    pub negative_ttl: Option<String>,
    /// Upper bound on cached logins; `0` disables the cache.
    pub max_entries: Option<u64>,
}

/// `directory:`: LDAP connection tuning shared by every forest.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawDirectory {
    /// TCP + TLS + service bind must finish within this (`3s`).
    pub connect_timeout: Option<String>,
    /// One LDAP operation must answer within this (`5s`).
    pub operation_timeout: Option<String>,
    /// Long-lived connections per global catalog (`4`).
    pub pool_size: Option<usize>,
    /// After a server fails, skip it for this long before trying again (`2s`).
    pub retry_backoff: Option<String>,
    /// Password binds in flight per domain controller, and its pooled bind connections
    /// (`pool_size`).
    pub max_concurrent_binds_per_dc: Option<usize>,
    /// Longest a password bind waits for a free slot on its domain controller (`2s`).
    pub bind_queue_timeout: Option<String>,
}

/// `logging:`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawLogging {
    /// `text` (default) or `json`.
    pub format: Option<String>,
    /// A `tracing` filter such as `info` or `altgate=debug` (`RUST_LOG` wins when set).
    pub level: Option<String>,
}

/// `token_signing:`: the key that signs assertions and metadata.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTokenSigning {
    /// PEM certificate published in federation metadata.
    pub cert_file: String,
    /// PEM RSA private key (PKCS#1 or PKCS#8, 2048 bits or more).
    pub key_file: String,
    /// The next certificate, published during a rollover (Entra picks it up from metadata).
    pub next_cert_file: Option<String>,
    /// Demo/dev only: generate a self-signed RSA-2048 pair into these files when missing.
    #[serde(default)]
    pub generate_dev_certificate: bool,
}

/// One entry of `relying_parties:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRelyingParty {
    /// Identifier matched against WS-Trust AppliesTo (case-insensitively, trailing `/` ignored).
    pub identifier: String,
    /// `saml11` (default; what Microsoft 365 expects) or `saml20`.
    pub token_type: Option<String>,
    /// Assertion lifetime (`1h`).
    pub token_lifetime: Option<String>,
    /// Claims to issue: upn, immutable_id, alternate_login_id, name, given_name, surname,
    /// inside_corporate_network, issuer_id. Default: upn, immutable_id, alternate_login_id,
    /// inside_corporate_network.
    pub claims: Option<Vec<String>>,
    /// The only URLs tokens are ever posted to (SAML ACS / WS-Fed wreply); the first is the default.
    pub reply_urls: Option<Vec<String>>,
    /// SAML SP metadata file: entityID, ACS and logout URLs and signing certificate come from it.
    pub metadata_file: Option<String>,
    /// SAML NameID format: `persistent` (ImmutableID, default), `email` (the cloud UPN) or
    /// `unspecified` (ImmutableID).
    pub name_id_format: Option<String>,
    /// What to sign in SAML responses: `assertion` (default), `response` or `both`.
    pub sign: Option<String>,
    /// Where SAML LogoutResponses go (from metadata when there is one).
    pub logout_url: Option<String>,
    /// Refuse AuthnRequests that are not signed by the SP (HTTP-Redirect binding signatures).
    #[serde(default)]
    pub require_signed_requests: bool,
    /// PEM certificate that signs the SP's requests (from metadata when there is one).
    pub signing_cert_file: Option<String>,
    /// Issue tokens with the per-domain issuer of `federation.federated_domains` (what Entra ID
    /// needs for several federated domains). Default: true for `urn:federation:MicrosoftOnline`,
    /// false otherwise (other relying parties know altgate by its metadata entityID).
    pub per_domain_issuer: Option<bool>,
}

/// `federation:`: how altgate presents itself as an identity provider.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawFederation {
    /// Issuer URI for users outside `federated_domains`; default
    /// `http://{public host}/adfs/services/trust`.
    pub issuer: Option<String>,
    /// Domains federated with Entra ID; a user's issuer is `http://{domain}/adfs/services/trust/`
    /// of the domain their UPN claim falls under (sub-domains take their parent's).
    pub federated_domains: Option<Vec<String>>,
    /// CIDR blocks whose clients get `insidecorporatenetwork = true`.
    pub internal_networks: Option<Vec<String>>,
    /// `given_family` (default) or `family_given` for the `name` claim.
    pub display_name_order: Option<String>,
    /// Tolerated clock difference for WS-Security timestamps (`5m`).
    pub max_clock_skew: Option<String>,
}

/// `passive:`: browser sign-in at `/adfs/ls/` (WS-Federation and SAML 2.0) and the SSO session.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawPassive {
    /// Organisation name shown on the sign-in page.
    pub organization_name: Option<String>,
    /// Which identifier users should type, shown under the user name field
    /// (AD FS: "sign in with your e-mail address").
    pub sign_in_hint: Option<String>,
    /// Longest an SSO session lives after the password was typed (`8h`).
    pub session_lifetime: Option<String>,
    /// A session unused this long ends (`1h`).
    pub session_idle_timeout: Option<String>,
    /// File holding the session key (32 bytes or more, base64); every node of a farm uses the
    /// same one. Without it a single node generates one at start (and warns).
    pub session_key_file: Option<String>,
    /// Environment variable holding the session key instead.
    pub session_key_env: Option<String>,
    /// Allow `/adfs/ls/IdpInitiatedSignOn.aspx?loginToRp=...` (off, as on AD FS 2016+).
    #[serde(default)]
    pub idp_initiated_sign_on: bool,
}
