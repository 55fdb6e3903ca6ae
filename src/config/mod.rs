//! Configuration: the YAML file is read into [`raw`] structures section by section, then
//! validated into [`Config`]. Every problem found is reported at once, each with its key path
//! (`forests[1].service_account.password_env: ...`), the way `nginx -t` does.
//!
//! Relative file paths are taken from the working directory altgate is started in.

pub mod edge;
pub mod lockout;
pub mod raw;
pub mod state;

use crate::secret::Secret;
use crate::tokens::claims::{ClaimKind, NameOrder};
use raw::*;
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// Key path, e.g. `forests[0].global_catalogs[1]`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem found in a configuration file.
#[derive(Debug, thiserror::Error)]
#[error("{} configuration problem(s) in {file}:\n{}", issues.len(), render(issues))]
pub struct ConfigError {
    /// The file that was read.
    pub file: String,
    /// The problems, in file order.
    pub issues: Vec<ConfigIssue>,
}

fn render(issues: &[ConfigIssue]) -> String {
    issues
        .iter()
        .map(|i| format!("  {i}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listener settings.
    pub server: ServerConfig,
    /// Alternate login ID; `None` means sign-in by UPN or `DOMAIN\sam` only.
    pub alternate_login_id: Option<AlternateLoginId>,
    /// Every forest altgate knows, in file order.
    pub forests: Vec<ForestConfig>,
    /// Resolution cache.
    pub cache: CacheConfig,
    /// LDAP connection tuning.
    pub directory: DirectoryConfig,
    /// Demo mode: the embedded directory file that stands in for every forest.
    pub demo_directory: Option<PathBuf>,
    /// Log output.
    pub logging: LoggingConfig,
    /// Token-signing key; the token endpoints are off without it.
    pub token_signing: Option<TokenSigning>,
    /// Relying parties tokens may be issued to.
    pub relying_parties: Vec<RelyingParty>,
    /// Identity-provider settings.
    pub federation: Federation,
    /// Browser sign-in and SSO session.
    pub passive: Passive,
    /// The operators' listener (`/metrics`); absent: no admin listener.
    pub admin: Option<edge::AdminListener>,
    /// Extranet smart lockout.
    pub extranet_lockout: lockout::ExtranetLockoutConfig,
    /// Where state shared by a farm lives (lockout counters, replay cache, revoked sessions).
    pub state: state::StateConfig,
}

/// `token_signing:`.
#[derive(Debug, Clone)]
pub struct TokenSigning {
    /// PEM certificate.
    pub cert_file: PathBuf,
    /// PEM RSA key.
    pub key_file: PathBuf,
    /// Rollover certificate.
    pub next_cert_file: Option<PathBuf>,
    /// Generate a dev pair when missing.
    pub generate_dev_certificate: bool,
}

/// Token flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenType {
    /// SAML 1.1 assertion.
    Saml11,
    /// SAML 2.0 assertion.
    Saml20,
}

/// One relying party.
#[derive(Debug, Clone)]
pub struct RelyingParty {
    /// Identifier (AppliesTo / realm / entityID).
    pub identifier: String,
    /// Token flavour.
    pub token_type: TokenType,
    /// Assertion lifetime.
    pub token_lifetime: Duration,
    /// Claims issued.
    pub claims: Vec<ClaimKind>,
    /// The only URLs tokens are posted to; the first is the default.
    pub reply_urls: Vec<String>,
    /// SAML NameID format.
    pub name_id_format: NameIdFormat,
    /// What SAML responses sign.
    pub sign: SamlSigning,
    /// Where SAML LogoutResponses go.
    pub logout_url: Option<String>,
    /// Refuse unsigned AuthnRequests.
    pub require_signed_requests: bool,
    /// DER certificate that signs the SP's requests.
    pub signing_cert_der: Option<Vec<u8>>,
    /// Use the per-domain issuer (Entra ID).
    pub per_domain_issuer: bool,
}

/// SAML NameID format a relying party gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameIdFormat {
    /// `persistent`: the ImmutableID.
    Persistent,
    /// `emailAddress`: the cloud UPN.
    Email,
    /// `unspecified`: the ImmutableID.
    Unspecified,
}

/// What a SAML response signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SamlSigning {
    /// The assertion only (AD FS's default).
    Assertion,
    /// The Response only.
    Response,
    /// Both.
    Both,
}

/// `passive:`.
#[derive(Debug, Clone)]
pub struct Passive {
    /// Shown on the sign-in page.
    pub organization_name: String,
    /// Which identifier to type.
    pub sign_in_hint: String,
    /// Absolute SSO session lifetime.
    pub session_lifetime: Duration,
    /// Idle timeout.
    pub session_idle_timeout: Duration,
    /// Shared session key (32+ bytes); `None`: generate per process.
    pub session_key: Option<Secret>,
    /// IdP-initiated sign-on enabled.
    pub idp_initiated_sign_on: bool,
}

impl RelyingParty {
    /// True when `applies_to` names this relying party (case-insensitive, trailing `/` ignored).
    pub fn matches(&self, applies_to: &str) -> bool {
        self.identifier
            .trim_end_matches('/')
            .eq_ignore_ascii_case(applies_to.trim().trim_end_matches('/'))
    }
}

/// `federation:`.
#[derive(Debug, Clone)]
pub struct Federation {
    /// Default issuer.
    pub issuer: String,
    /// Federated domains, lower case.
    pub federated_domains: Vec<String>,
    /// Internal networks.
    pub internal_networks: Vec<ipnet::IpNet>,
    /// `name` claim order.
    pub display_name_order: NameOrder,
    /// WS-Security timestamp tolerance.
    pub max_clock_skew: Duration,
}

/// `server:`.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Public base URL, without a trailing slash.
    pub public_url: String,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// TLS files; plain HTTP when `None`.
    pub tls: Option<TlsFiles>,
    /// Deadlines and caps for client connections.
    pub limits: edge::Limits,
    /// Peers allowed to name the client address (X-Forwarded-For, Forwarded,
    /// X-MS-Forwarded-Client-IP): load balancers and proxies in front of altgate.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Client addresses refused before any work (AD FS `BannedIpList`).
    pub banned_ips: Vec<ipnet::IpNet>,
}

/// `server.tls:`.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// PEM certificate chain.
    pub cert_file: PathBuf,
    /// PEM private key.
    pub key_file: PathBuf,
    /// Generate a self-signed pair when the files are missing (demo mode).
    pub generate_dev_certificate: bool,
}

/// `alternate_login_id:`.
#[derive(Debug, Clone)]
pub struct AlternateLoginId {
    /// LDAP attribute name.
    pub attribute: String,
    /// Forests to search, each present in [`Config::forests`].
    pub lookup_forests: Vec<String>,
}

/// An `ldaps://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapUrl {
    /// The URL as configured.
    pub url: String,
    /// Host name or IP address (what the certificate must name).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl fmt::Display for LdapUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

/// One forest.
#[derive(Debug, Clone)]
pub struct ForestConfig {
    /// Forest DNS name, lower case.
    pub name: String,
    /// Global catalogs in failover order (empty in demo mode).
    pub global_catalogs: Vec<LdapUrl>,
    /// Domain controllers per domain (lower-case DNS name).
    pub domain_controllers: BTreeMap<String, Vec<LdapUrl>>,
    /// Service account (required outside demo mode).
    pub service_account: Option<ServiceAccount>,
    /// CA bundle for the DCs' certificates; system roots when `None`.
    pub ca_file: Option<PathBuf>,
    /// Global catalog search base; `""` searches the whole forest.
    pub search_base: String,
}

/// A service account and its password.
#[derive(Debug, Clone)]
pub struct ServiceAccount {
    /// Bind name.
    pub user: String,
    /// Password (redacted in `Debug`).
    pub password: Secret,
}

/// `cache:`.
#[derive(Debug, Clone, Copy)]
pub struct CacheConfig {
    /// Lifetime of resolved accounts.
    pub positive_ttl: Duration,
    /// Lifetime of not-found and ambiguous outcomes.
    pub negative_ttl: Duration,
    /// Capacity; 0 disables caching.
    pub max_entries: u64,
}

/// `directory:`.
#[derive(Debug, Clone, Copy)]
pub struct DirectoryConfig {
    /// Connect + TLS + service bind deadline.
    pub connect_timeout: Duration,
    /// Per-operation deadline.
    pub operation_timeout: Duration,
    /// Connections per global catalog.
    pub pool_size: usize,
    /// How long a failed server is skipped.
    pub retry_backoff: Duration,
    /// Password binds in flight per domain controller (and its pooled bind connections).
    pub max_concurrent_binds_per_dc: usize,
    /// Longest a password bind waits for one of those slots before failing.
    pub bind_queue_timeout: Duration,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `logging:`.
#[derive(Debug, Clone)]
pub struct LoggingConfig {
    /// Output format.
    pub format: LogFormat,
    /// Filter directive.
    pub level: String,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            positive_ttl: Duration::from_secs(300),
            negative_ttl: Duration::from_secs(30),
            max_entries: 100_000,
        }
    }
}

impl Default for DirectoryConfig {
    fn default() -> Self {
        DirectoryConfig {
            connect_timeout: Duration::from_secs(3),
            operation_timeout: Duration::from_secs(5),
            pool_size: 4,
            retry_backoff: Duration::from_secs(2),
            max_concurrent_binds_per_dc: 4,
            bind_queue_timeout: Duration::from_secs(2),
        }
    }
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.display().to_string(),
            issues: vec![ConfigIssue {
                path: "(file)".into(),
                message: format!("cannot read: {e}"),
            }],
        })?;
        Config::parse(&text, &path.display().to_string())
    }

    /// Validates configuration text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
        let mut v = Validator::default();
        let config = v.config(text);
        match config {
            Some(c) if v.issues.is_empty() => Ok(c),
            _ => Err(ConfigError {
                file: file.to_string(),
                issues: v.issues,
            }),
        }
    }

    /// The forest named `name`.
    pub fn forest(&self, name: &str) -> Option<&ForestConfig> {
        self.forests.iter().find(|f| f.name == name)
    }
}

/// Parses `30s`, `5m`, `1h 30m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|e| format!("invalid duration {s:?}: {e}"))
}

#[derive(Default)]
struct Validator {
    issues: Vec<ConfigIssue>,
}

const TOP_LEVEL_KEYS: &[&str] = &[
    "server",
    "alternate_login_id",
    "forests",
    "cache",
    "directory",
    "demo_directory",
    "logging",
    "token_signing",
    "relying_parties",
    "federation",
    "passive",
    "admin",
    "extranet_lockout",
    "state",
];

impl Validator {
    fn err(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.issues.push(ConfigIssue {
            path: path.into(),
            message: message.into(),
        });
    }

    /// Deserializes one subtree, recording a structural error with its full path.
    fn section<T: DeserializeOwned>(&mut self, path: &str, value: serde_yaml::Value) -> Option<T> {
        match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(t) => Some(t),
            Err(e) => {
                let inner = e.path().to_string();
                let full = if inner == "." || inner.is_empty() {
                    path.to_string()
                } else if inner.starts_with('[') {
                    format!("{path}{inner}")
                } else {
                    format!("{path}.{inner}")
                };
                self.err(full, e.into_inner().to_string());
                None
            }
        }
    }

    fn config(&mut self, text: &str) -> Option<Config> {
        let doc: serde_yaml::Value = match serde_yaml::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                self.err("(file)", format!("not valid YAML: {e}"));
                return None;
            }
        };
        let serde_yaml::Value::Mapping(map) = doc else {
            self.err("(file)", "the top level must be a mapping of sections");
            return None;
        };
        let mut sections: BTreeMap<String, serde_yaml::Value> = BTreeMap::new();
        for (k, val) in map {
            match k.as_str() {
                Some(key) if TOP_LEVEL_KEYS.contains(&key) => {
                    sections.insert(key.to_string(), val);
                }
                Some(key) => self.err(
                    key,
                    format!(
                        "unknown section, expected one of: {}",
                        TOP_LEVEL_KEYS.join(", ")
                    ),
                ),
                None => self.err("(file)", "section names must be strings"),
            }
        }
        let mut take = |name: &str| sections.remove(name).filter(|v| !v.is_null());

        let raw_server: RawServer = match take("server") {
            Some(v) => self.section("server", v).unwrap_or_default(),
            None => {
                self.err("server", "missing section");
                RawServer::default()
            }
        };
        let raw_alt: Option<RawAlternateLoginId> =
            take("alternate_login_id").and_then(|v| self.section("alternate_login_id", v));
        let raw_forests: Vec<Option<RawForest>> = match take("forests") {
            Some(serde_yaml::Value::Sequence(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| self.section(&format!("forests[{i}]"), item))
                .collect(),
            Some(_) => {
                self.err("forests", "must be a list of forests");
                Vec::new()
            }
            None => {
                self.err(
                    "forests",
                    "missing section: at least one forest is required",
                );
                Vec::new()
            }
        };
        let raw_cache: RawCache = take("cache")
            .and_then(|v| self.section("cache", v))
            .unwrap_or_default();
        let raw_dir: RawDirectory = take("directory")
            .and_then(|v| self.section("directory", v))
            .unwrap_or_default();
        let demo: Option<String> =
            take("demo_directory").and_then(|v| self.section("demo_directory", v));
        let raw_logging: RawLogging = take("logging")
            .and_then(|v| self.section("logging", v))
            .unwrap_or_default();
        let raw_signing: Option<RawTokenSigning> =
            take("token_signing").and_then(|v| self.section("token_signing", v));
        let raw_rps: Vec<Option<RawRelyingParty>> = match take("relying_parties") {
            Some(serde_yaml::Value::Sequence(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| self.section(&format!("relying_parties[{i}]"), item))
                .collect(),
            Some(_) => {
                self.err("relying_parties", "must be a list of relying parties");
                Vec::new()
            }
            None => Vec::new(),
        };
        let raw_fed: RawFederation = take("federation")
            .and_then(|v| self.section("federation", v))
            .unwrap_or_default();
        let raw_passive: RawPassive = take("passive")
            .and_then(|v| self.section("passive", v))
            .unwrap_or_default();
        let raw_admin: Option<edge::RawAdmin> =
            take("admin").and_then(|v| self.section("admin", v));
        let raw_lockout: lockout::RawExtranetLockout = take("extranet_lockout")
            .and_then(|v| self.section("extranet_lockout", v))
            .unwrap_or_default();
        let raw_state: state::RawState = take("state")
            .and_then(|v| self.section("state", v))
            .unwrap_or_default();

        let demo_directory = demo.map(PathBuf::from);
        if let Some(p) = &demo_directory {
            if !p.is_file() {
                self.err("demo_directory", format!("file not found: {}", p.display()));
            }
        }
        let server = self.server(raw_server);
        let forests = self.forests(raw_forests, demo_directory.is_some());
        let alternate_login_id = raw_alt.and_then(|a| self.alternate(a, &forests));
        let cache = self.cache(raw_cache);
        let directory = self.directory(raw_dir);
        let logging = self.logging(raw_logging);
        let token_signing = raw_signing.map(|s| self.token_signing(s));
        let relying_parties = self.relying_parties(raw_rps);
        let federation = self.federation(raw_fed, server.as_ref());
        let passive = self.passive(raw_passive);
        let admin = raw_admin.and_then(|a| self.admin(a));
        let extranet_lockout = lockout::validate(raw_lockout, &mut self.issues);
        let state = state::validate(raw_state, &mut self.issues);
        Some(Config {
            server: server?,
            alternate_login_id,
            forests,
            cache,
            directory,
            demo_directory,
            logging,
            token_signing,
            relying_parties,
            federation,
            passive,
            admin,
            extranet_lockout,
            state,
        })
    }

    fn passive(&mut self, raw: RawPassive) -> Passive {
        use base64::Engine;
        let session_key = match (&raw.session_key_file, &raw.session_key_env) {
            (Some(_), Some(_)) => {
                self.err(
                    "passive",
                    "set session_key_file or session_key_env, not both",
                );
                None
            }
            (None, None) => None,
            (Some(file), None) => match std::fs::read_to_string(file) {
                Ok(v) => Some((v, "passive.session_key_file")),
                Err(e) => {
                    self.err(
                        "passive.session_key_file",
                        format!("cannot read {file}: {e}"),
                    );
                    None
                }
            },
            (None, Some(var)) => match std::env::var(var) {
                Ok(v) => Some((v, "passive.session_key_env")),
                Err(_) => {
                    self.err(
                        "passive.session_key_env",
                        format!("environment variable {var} is not set"),
                    );
                    None
                }
            },
        }
        .and_then(|(text, path)| {
            match base64::engine::general_purpose::STANDARD.decode(text.trim()) {
                Ok(bytes) if bytes.len() >= 32 => Some(Secret::new(text.trim().to_string())),
                _ => {
                    self.err(
                        path,
                        "must be base64 of at least 32 random bytes (openssl rand -base64 32)",
                    );
                    None
                }
            }
        });
        Passive {
            organization_name: raw.organization_name.unwrap_or_else(|| "altgate".into()),
            sign_in_hint: raw
                .sign_in_hint
                .unwrap_or_else(|| "someone@example.com".into()),
            session_lifetime: self.duration(
                "passive.session_lifetime",
                raw.session_lifetime.as_deref(),
                Duration::from_secs(8 * 3600),
            ),
            session_idle_timeout: self.duration(
                "passive.session_idle_timeout",
                raw.session_idle_timeout.as_deref(),
                Duration::from_secs(3600),
            ),
            session_key,
            idp_initiated_sign_on: raw.idp_initiated_sign_on,
        }
    }

    fn token_signing(&mut self, raw: RawTokenSigning) -> TokenSigning {
        let t = TokenSigning {
            cert_file: PathBuf::from(&raw.cert_file),
            key_file: PathBuf::from(&raw.key_file),
            next_cert_file: raw.next_cert_file.map(PathBuf::from),
            generate_dev_certificate: raw.generate_dev_certificate,
        };
        let missing: Vec<(&str, &PathBuf)> =
            [("cert_file", &t.cert_file), ("key_file", &t.key_file)]
                .into_iter()
                .filter(|(_, p)| !p.is_file())
                .collect();
        if !t.generate_dev_certificate {
            for (key, p) in &missing {
                self.err(
                    format!("token_signing.{key}"),
                    format!("file not found: {}", p.display()),
                );
            }
        }
        if missing.is_empty() {
            if let Err(e) = crate::tokens::keys::SigningKey::load(&t.cert_file, &t.key_file) {
                self.err("token_signing", e.to_string());
            }
        }
        if let Some(next) = &t.next_cert_file {
            if let Err(e) = crate::tokens::keys::read_cert_der(next) {
                self.err("token_signing.next_cert_file", e.to_string());
            }
        }
        t
    }

    fn relying_parties(&mut self, raws: Vec<Option<RawRelyingParty>>) -> Vec<RelyingParty> {
        let mut out: Vec<RelyingParty> = Vec::new();
        for (i, raw) in raws.into_iter().enumerate() {
            let Some(raw) = raw else { continue };
            let p = format!("relying_parties[{i}]");
            let identifier = raw.identifier.trim().to_string();
            if identifier.is_empty() {
                self.err(format!("{p}.identifier"), "must not be empty");
            } else if out.iter().any(|r| r.matches(&identifier)) {
                self.err(
                    format!("{p}.identifier"),
                    format!("{identifier} is listed twice"),
                );
            }
            let token_type = match raw.token_type.as_deref() {
                None | Some("saml11") => TokenType::Saml11,
                Some("saml20") => TokenType::Saml20,
                Some(other) => {
                    self.err(
                        format!("{p}.token_type"),
                        format!("{other:?}: expected saml11 or saml20"),
                    );
                    TokenType::Saml11
                }
            };
            let token_lifetime = self.duration(
                &format!("{p}.token_lifetime"),
                raw.token_lifetime.as_deref(),
                Duration::from_secs(3600),
            );
            let claims = match raw.claims {
                None => ClaimKind::microsoft_online_defaults(),
                Some(names) => names
                    .iter()
                    .enumerate()
                    .filter_map(|(j, n)| {
                        match serde_yaml::from_value::<ClaimKind>(serde_yaml::Value::String(
                            n.clone(),
                        )) {
                            Ok(k) => Some(k),
                            Err(_) => {
                                self.err(
                                    format!("{p}.claims[{j}]"),
                                    format!("unknown claim {n:?}"),
                                );
                                None
                            }
                        }
                    })
                    .collect(),
            };
            let mut reply_urls = Vec::new();
            let mut logout_url = raw.logout_url.clone();
            let mut signing_cert_der = None;
            if let Some(file) = &raw.metadata_file {
                match sp_metadata(Path::new(file)) {
                    Ok(md) => {
                        if !md.entity_id.eq_ignore_ascii_case(&identifier) {
                            self.err(
                                format!("{p}.metadata_file"),
                                format!(
                                    "entityID {} does not match identifier {identifier}",
                                    md.entity_id
                                ),
                            );
                        }
                        reply_urls.extend(md.acs);
                        logout_url = logout_url.or(md.logout);
                        signing_cert_der = md.signing_cert;
                    }
                    Err(e) => self.err(format!("{p}.metadata_file"), format!("{file}: {e}")),
                }
            }
            for (j, u) in raw.reply_urls.iter().flatten().enumerate() {
                if is_reply_url(u) {
                    reply_urls.push(u.clone());
                } else {
                    self.err(
                        format!("{p}.reply_urls[{j}]"),
                        format!(
                            "{u:?} must be an absolute https:// URL (http:// only for localhost)"
                        ),
                    );
                }
            }
            if let Some(u) = &logout_url {
                if !is_reply_url(u) {
                    self.err(
                        format!("{p}.logout_url"),
                        format!("{u:?} must be an absolute https:// URL"),
                    );
                }
            }
            if let Some(file) = &raw.signing_cert_file {
                match crate::tokens::keys::read_cert_der(Path::new(file)) {
                    Ok(der) => signing_cert_der = Some(der),
                    Err(e) => self.err(format!("{p}.signing_cert_file"), e.to_string()),
                }
            }
            if raw.require_signed_requests && signing_cert_der.is_none() {
                self.err(
                    format!("{p}.require_signed_requests"),
                    "needs signing_cert_file or a metadata_file with a signing certificate",
                );
            }
            let name_id_format = match raw.name_id_format.as_deref() {
                None | Some("persistent") => NameIdFormat::Persistent,
                Some("email") => NameIdFormat::Email,
                Some("unspecified") => NameIdFormat::Unspecified,
                Some(other) => {
                    self.err(
                        format!("{p}.name_id_format"),
                        format!("{other:?}: expected persistent, email or unspecified"),
                    );
                    NameIdFormat::Persistent
                }
            };
            let sign = match raw.sign.as_deref() {
                None | Some("assertion") => SamlSigning::Assertion,
                Some("response") => SamlSigning::Response,
                Some("both") => SamlSigning::Both,
                Some(other) => {
                    self.err(
                        format!("{p}.sign"),
                        format!("{other:?}: expected assertion, response or both"),
                    );
                    SamlSigning::Assertion
                }
            };
            out.push(RelyingParty {
                token_type,
                token_lifetime,
                claims,
                reply_urls,
                name_id_format,
                sign,
                logout_url,
                require_signed_requests: raw.require_signed_requests,
                signing_cert_der,
                per_domain_issuer: raw
                    .per_domain_issuer
                    .unwrap_or(identifier.eq_ignore_ascii_case("urn:federation:MicrosoftOnline")),
                identifier,
            });
        }
        out
    }

    fn federation(&mut self, raw: RawFederation, server: Option<&ServerConfig>) -> Federation {
        let host = server
            .map(|s| {
                s.public_url
                    .trim_start_matches("https://")
                    .split(['/', ':'])
                    .next()
                    .unwrap_or("localhost")
                    .to_string()
            })
            .unwrap_or_else(|| "localhost".into());
        let issuer = raw
            .issuer
            .unwrap_or_else(|| format!("http://{host}/adfs/services/trust"));
        let mut federated_domains = Vec::new();
        for (i, d) in raw.federated_domains.unwrap_or_default().iter().enumerate() {
            let d = d.trim().to_ascii_lowercase();
            if is_dns_name(&d) {
                federated_domains.push(d);
            } else {
                self.err(
                    format!("federation.federated_domains[{i}]"),
                    format!("{d:?} is not a DNS name"),
                );
            }
        }
        let mut internal_networks = Vec::new();
        for (i, n) in raw.internal_networks.unwrap_or_default().iter().enumerate() {
            match n.trim().parse::<ipnet::IpNet>() {
                Ok(net) => internal_networks.push(net),
                Err(_) => self.err(
                    format!("federation.internal_networks[{i}]"),
                    format!("{n:?} is not a CIDR block such as 10.0.0.0/8"),
                ),
            }
        }
        let display_name_order = match raw.display_name_order.as_deref() {
            None | Some("given_family") => NameOrder::GivenFamily,
            Some("family_given") => NameOrder::FamilyGiven,
            Some(other) => {
                self.err(
                    "federation.display_name_order",
                    format!("{other:?}: expected given_family or family_given"),
                );
                NameOrder::GivenFamily
            }
        };
        Federation {
            issuer,
            federated_domains,
            internal_networks,
            display_name_order,
            max_clock_skew: self.duration(
                "federation.max_clock_skew",
                raw.max_clock_skew.as_deref(),
                Duration::from_secs(300),
            ),
        }
    }

    fn server(&mut self, raw: RawServer) -> Option<ServerConfig> {
        let listen = match raw.listen.as_deref() {
            None => {
                self.err("server.listen", "required, e.g. 127.0.0.1:8443");
                None
            }
            Some(s) => match s.parse::<SocketAddr>() {
                Ok(a) => Some(a),
                Err(_) => {
                    self.err("server.listen", format!("{s:?} is not an IP:port address"));
                    None
                }
            },
        };
        let public_url = match raw.public_url.as_deref() {
            None => {
                self.err(
                    "server.public_url",
                    "required, e.g. https://sts.contoso.com",
                );
                None
            }
            Some(u) if !u.starts_with("https://") || u.len() <= "https://".len() => {
                self.err(
                    "server.public_url",
                    format!("{u:?} must be an https:// URL (clients only federate over TLS)"),
                );
                None
            }
            Some(u) => Some(u.trim_end_matches('/').to_string()),
        };
        let tls = raw.tls.map(|t| {
            let files = TlsFiles {
                cert_file: PathBuf::from(&t.cert_file),
                key_file: PathBuf::from(&t.key_file),
                generate_dev_certificate: t.generate_dev_certificate,
            };
            if !files.generate_dev_certificate {
                for (key, p) in [
                    ("cert_file", &files.cert_file),
                    ("key_file", &files.key_file),
                ] {
                    if !p.is_file() {
                        self.err(
                            format!("server.tls.{key}"),
                            format!("file not found: {}", p.display()),
                        );
                    }
                }
            }
            files
        });
        let limits = self.limits(raw.limits.unwrap_or_default());
        let trusted_proxies = self.networks("server.trusted_proxies", &raw.trusted_proxies);
        let banned_ips = self.networks("server.banned_ips", &raw.banned_ips);
        let max_body_bytes = raw.max_body_bytes.unwrap_or(64 * 1024);
        if !(1024..=16 * 1024 * 1024).contains(&max_body_bytes) {
            self.err("server.max_body_bytes", "must be between 1024 and 16777216");
        }
        Some(ServerConfig {
            listen: listen?,
            public_url: public_url?,
            max_body_bytes,
            tls,
            limits,
            trusted_proxies,
            banned_ips,
        })
    }

    fn forests(&mut self, raws: Vec<Option<RawForest>>, demo: bool) -> Vec<ForestConfig> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for (i, raw) in raws.into_iter().enumerate() {
            let Some(raw) = raw else { continue };
            let p = format!("forests[{i}]");
            let name = raw.name.trim().to_ascii_lowercase();
            if !is_dns_name(&name) {
                self.err(
                    format!("{p}.name"),
                    format!("{:?} is not a DNS name", raw.name),
                );
            } else if !seen.insert(name.clone()) {
                self.err(
                    format!("{p}.name"),
                    format!("forest {name} is listed twice"),
                );
            }
            let global_catalogs: Vec<LdapUrl> = raw
                .global_catalogs
                .iter()
                .enumerate()
                .filter_map(|(j, u)| self.ldap_url(&format!("{p}.global_catalogs[{j}]"), u))
                .collect();
            if !demo && raw.global_catalogs.is_empty() {
                self.err(
                    format!("{p}.global_catalogs"),
                    "at least one ldaps:// global catalog is required",
                );
            }
            let mut domain_controllers = BTreeMap::new();
            for (domain, urls) in &raw.domain_controllers {
                let dp = format!("{p}.domain_controllers.{domain}");
                if !is_dns_name(&domain.to_ascii_lowercase()) {
                    self.err(&dp, "the key must be a domain DNS name");
                }
                let parsed: Vec<LdapUrl> = urls
                    .iter()
                    .enumerate()
                    .filter_map(|(j, u)| self.ldap_url(&format!("{dp}[{j}]"), u))
                    .collect();
                domain_controllers.insert(domain.to_ascii_lowercase(), parsed);
            }
            let service_account = match raw.service_account {
                Some(sa) => self.service_account(&format!("{p}.service_account"), sa),
                None => {
                    if !demo {
                        self.err(
                            format!("{p}.service_account"),
                            "required: the global catalog refuses anonymous searches",
                        );
                    }
                    None
                }
            };
            let ca_file = raw.ca_file.map(PathBuf::from);
            if let Some(ca) = &ca_file {
                if let Err(e) = crate::tls::load_ca_bundle(ca) {
                    self.err(format!("{p}.ca_file"), e.to_string());
                }
            }
            out.push(ForestConfig {
                name,
                global_catalogs,
                domain_controllers,
                service_account,
                ca_file,
                search_base: raw.search_base.unwrap_or_default(),
            });
        }
        out
    }

    fn ldap_url(&mut self, path: &str, url: &str) -> Option<LdapUrl> {
        let Some(rest) = url.strip_prefix("ldaps://") else {
            self.err(
                path,
                format!("{url:?} must be an ldaps:// URL (simple binds need TLS; verification is always on)"),
            );
            return None;
        };
        let hostport = rest.trim_end_matches('/');
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            match v6.split_once(']') {
                Some((h, p)) => (h.to_string(), p.strip_prefix(':').unwrap_or("")),
                None => (String::new(), ""),
            }
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p),
                None => (hostport.to_string(), ""),
            }
        };
        let port = if port.is_empty() {
            Some(636)
        } else {
            port.parse::<u16>().ok().filter(|p| *p != 0)
        };
        match port {
            Some(port) if !host.is_empty() && !host.contains('/') => Some(LdapUrl {
                url: url.trim_end_matches('/').to_string(),
                host,
                port,
            }),
            _ => {
                self.err(path, format!("{url:?} is not ldaps://host[:port]"));
                None
            }
        }
    }

    fn service_account(&mut self, path: &str, raw: RawServiceAccount) -> Option<ServiceAccount> {
        if raw.user.trim().is_empty() {
            self.err(format!("{path}.user"), "must not be empty");
        }
        let password = match (&raw.password_env, &raw.password_file) {
            (Some(_), Some(_)) => {
                self.err(path, "set password_env or password_file, not both");
                None
            }
            (None, None) => {
                self.err(path, "password_env or password_file is required");
                None
            }
            (Some(var), None) => match std::env::var(var) {
                Ok(v) if !v.is_empty() => Some(Secret::new(v)),
                _ => {
                    self.err(
                        format!("{path}.password_env"),
                        format!("environment variable {var} is not set or empty"),
                    );
                    None
                }
            },
            (None, Some(file)) => match std::fs::read_to_string(file) {
                Ok(v) => {
                    let v = v.trim_end_matches(['\r', '\n']).to_string();
                    if v.is_empty() {
                        self.err(format!("{path}.password_file"), format!("{file} is empty"));
                        None
                    } else {
                        Some(Secret::new(v))
                    }
                }
                Err(e) => {
                    self.err(
                        format!("{path}.password_file"),
                        format!("cannot read {file}: {e}"),
                    );
                    None
                }
            },
        };
        Some(ServiceAccount {
            user: raw.user,
            password: password?,
        })
    }

    fn alternate(
        &mut self,
        raw: RawAlternateLoginId,
        forests: &[ForestConfig],
    ) -> Option<AlternateLoginId> {
        let attribute = raw
            .attribute
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty());
        let lookup = raw.lookup_forests.filter(|l| !l.is_empty());
        match (attribute, lookup) {
            (None, None) => None,
            (Some(_), None) => {
                self.err(
                    "alternate_login_id.lookup_forests",
                    "required with attribute: both keys enable the feature",
                );
                None
            }
            (None, Some(_)) => {
                self.err(
                    "alternate_login_id.attribute",
                    "required with lookup_forests: both keys enable the feature",
                );
                None
            }
            (Some(attribute), Some(lookup)) => {
                if !is_ldap_attribute_name(&attribute) {
                    self.err(
                        "alternate_login_id.attribute",
                        format!("{attribute:?} is not an LDAP attribute name"),
                    );
                }
                let mut names = Vec::new();
                for (i, f) in lookup.iter().enumerate() {
                    let f = f.trim().to_ascii_lowercase();
                    if !forests.iter().any(|c| c.name == f) {
                        self.err(
                            format!("alternate_login_id.lookup_forests[{i}]"),
                            format!("{f} is not listed under forests"),
                        );
                    } else if names.contains(&f) {
                        self.err(
                            format!("alternate_login_id.lookup_forests[{i}]"),
                            format!("{f} is listed twice"),
                        );
                    } else {
                        names.push(f);
                    }
                }
                Some(AlternateLoginId {
                    attribute,
                    lookup_forests: names,
                })
            }
        }
    }

    fn duration(&mut self, path: &str, raw: Option<&str>, default: Duration) -> Duration {
        match raw.map(parse_duration) {
            None => default,
            Some(Ok(d)) if !d.is_zero() => d,
            Some(Ok(_)) => {
                self.err(path, "must be longer than zero");
                default
            }
            Some(Err(e)) => {
                self.err(path, e);
                default
            }
        }
    }

    fn cache(&mut self, raw: RawCache) -> CacheConfig {
        let d = CacheConfig::default();
        CacheConfig {
            positive_ttl: self.duration(
                "cache.positive_ttl",
                raw.positive_ttl.as_deref(),
                d.positive_ttl,
            ),
            negative_ttl: self.duration(
                "cache.negative_ttl",
                raw.negative_ttl.as_deref(),
                d.negative_ttl,
            ),
            max_entries: raw.max_entries.unwrap_or(d.max_entries),
        }
    }

    fn directory(&mut self, raw: RawDirectory) -> DirectoryConfig {
        let d = DirectoryConfig::default();
        let pool_size = raw.pool_size.unwrap_or(d.pool_size);
        if !(1..=64).contains(&pool_size) {
            self.err("directory.pool_size", "must be between 1 and 64");
        }
        let max_binds = raw
            .max_concurrent_binds_per_dc
            .unwrap_or(pool_size.clamp(1, 64));
        if !(1..=256).contains(&max_binds) {
            self.err(
                "directory.max_concurrent_binds_per_dc",
                "must be between 1 and 256",
            );
        }
        DirectoryConfig {
            connect_timeout: self.duration(
                "directory.connect_timeout",
                raw.connect_timeout.as_deref(),
                d.connect_timeout,
            ),
            operation_timeout: self.duration(
                "directory.operation_timeout",
                raw.operation_timeout.as_deref(),
                d.operation_timeout,
            ),
            pool_size: pool_size.clamp(1, 64),
            retry_backoff: self.duration(
                "directory.retry_backoff",
                raw.retry_backoff.as_deref(),
                d.retry_backoff,
            ),
            max_concurrent_binds_per_dc: max_binds.clamp(1, 256),
            bind_queue_timeout: self.duration(
                "directory.bind_queue_timeout",
                raw.bind_queue_timeout.as_deref(),
                d.bind_queue_timeout,
            ),
        }
    }

    fn logging(&mut self, raw: RawLogging) -> LoggingConfig {
        let format = match raw.format.as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                self.err(
                    "logging.format",
                    format!("{other:?}: expected text or json"),
                );
                LogFormat::Text
            }
        };
        LoggingConfig {
            format,
            level: raw.level.unwrap_or_else(|| "info".into()),
        }
    }
}

/// An absolute URL tokens may be posted to: https, or http on a loopback host (tests, demos).
fn is_reply_url(u: &str) -> bool {
    let host_of = |rest: &str| rest.split(['/', '?', '#']).next().unwrap_or("").to_string();
    if let Some(rest) = u.strip_prefix("https://") {
        let host = host_of(rest);
        return !host.is_empty() && !host.contains('@');
    }
    if let Some(rest) = u.strip_prefix("http://") {
        let host = host_of(rest);
        let name = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h);
        return matches!(name, "localhost" | "127.0.0.1" | "[::1]");
    }
    false
}

/// What altgate reads from a SAML SP metadata file.
struct SpMetadata {
    entity_id: String,
    acs: Vec<String>,
    logout: Option<String>,
    signing_cert: Option<Vec<u8>>,
}

fn sp_metadata(path: &Path) -> Result<SpMetadata, String> {
    use crate::xml::parse::{parse, Limits};
    use base64::Engine;
    const MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
    const POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
    const REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let limits = Limits {
        max_depth: 32,
        max_elements: 4096,
        max_attributes: 32,
    };
    let root = parse(&bytes, limits).map_err(|e| e.to_string())?;
    if !root.is(MD, "EntityDescriptor") {
        return Err("not a SAML 2.0 EntityDescriptor".into());
    }
    let entity_id = root.attr("", "entityID").ok_or("no entityID")?.to_string();
    let sp = root
        .child(MD, "SPSSODescriptor")
        .ok_or("no SPSSODescriptor")?;
    let acs = sp
        .children
        .iter()
        .filter(|c| c.is(MD, "AssertionConsumerService") && c.attr("", "Binding") == Some(POST))
        .filter_map(|c| c.attr("", "Location").map(str::to_string))
        .filter(|u| is_reply_url(u))
        .collect::<Vec<_>>();
    if acs.is_empty() {
        return Err("no HTTP-POST AssertionConsumerService with an https URL".into());
    }
    let logout = sp
        .children
        .iter()
        .filter(|c| c.is(MD, "SingleLogoutService"))
        .find(|c| matches!(c.attr("", "Binding"), Some(POST) | Some(REDIRECT)))
        .and_then(|c| c.attr("", "Location").map(str::to_string));
    let signing_cert = sp
        .children
        .iter()
        .filter(|c| c.is(MD, "KeyDescriptor") && c.attr("", "use") != Some("encryption"))
        .find_map(|k| {
            let text = k
                .child_local("KeyInfo")?
                .child_local("X509Data")?
                .child_local("X509Certificate")?
                .text();
            let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            base64::engine::general_purpose::STANDARD.decode(clean).ok()
        });
    Ok(SpMetadata {
        entity_id,
        acs,
        logout,
        signing_cert,
    })
}

/// A DNS name: dot-separated labels of letters, digits and hyphens.
fn is_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// An LDAP attribute descriptor (RFC 4512 `descr`): it is pasted into filters, so nothing else.
pub fn is_ldap_attribute_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-')
        && s.len() <= 64
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "
server: { listen: 127.0.0.1:0, public_url: https://sts.example.test }
demo_directory: config/demo-directory.yaml
forests:
  - name: contoso.com
";

    fn issues(text: &str) -> Vec<String> {
        match Config::parse(text, "test.yaml") {
            Ok(_) => Vec::new(),
            Err(e) => e.issues.iter().map(|i| i.to_string()).collect(),
        }
    }

    #[test]
    fn minimal_demo_config_parses_with_defaults() {
        let c = Config::parse(MINIMAL, "t").expect("valid");
        assert_eq!(c.cache.positive_ttl, Duration::from_secs(300));
        assert_eq!(c.cache.negative_ttl, Duration::from_secs(30));
        assert_eq!(c.directory.pool_size, 4);
        assert!(c.alternate_login_id.is_none());
        assert_eq!(c.server.public_url, "https://sts.example.test");
    }

    #[test]
    fn every_problem_is_reported_at_once_with_its_path() {
        let text = "
server: { listen: nowhere, public_url: http://plain }
bogus: 1
alternate_login_id: { attribute: 'mail)(x=*' , lookup_forests: [contoso.com, nowhere.com] }
forests:
  - name: contoso.com
    global_catalogs: [ldap://dc1.contoso.com:3268, 'ldaps://:99999']
    service_account: { user: svc, password_env: ALTGATE_TEST_SURELY_UNSET_VAR }
  - name: fabrikam.com
    global_catalogs: [ldaps://dc1.fabrikam.com]
    unknown_key: true
cache: { positive_ttl: 5 parsecs, max_entries: 10 }
directory: { pool_size: 0 }
";
        let found = issues(text);
        let expect = [
            "bogus: unknown section",
            "server.listen:",
            "server.public_url:",
            "forests[0].global_catalogs[0]: \"ldap://dc1.contoso.com:3268\" must be an ldaps:// URL",
            "forests[0].global_catalogs[1]:",
            "forests[0].service_account.password_env: environment variable ALTGATE_TEST_SURELY_UNSET_VAR",
            "forests[1].unknown_key: unknown field `unknown_key`",
            "alternate_login_id.attribute:",
            "alternate_login_id.lookup_forests[1]: nowhere.com is not listed under forests",
            "cache.positive_ttl:",
            "directory.pool_size:",
        ];
        for e in expect {
            assert!(
                found.iter().any(|f| f.starts_with(e)),
                "missing {e:?} in {found:#?}"
            );
        }
        assert_eq!(found.len(), expect.len(), "{found:#?}");
    }

    #[test]
    fn both_alternate_keys_are_required() {
        let text = format!("{MINIMAL}alternate_login_id: {{ attribute: mail }}\n");
        assert_eq!(
            issues(&text),
            vec!["alternate_login_id.lookup_forests: required with attribute: both keys enable the feature"]
        );
    }

    #[test]
    fn structural_errors_carry_nested_paths() {
        let text = format!("{MINIMAL}cache: {{ max_entries: lots }}\n");
        let found = issues(&text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("cache.max_entries:"), "{found:?}");
    }

    #[test]
    fn ldap_urls_default_to_636_and_keep_ipv6_hosts() {
        let mut v = Validator::default();
        let u = v.ldap_url("p", "ldaps://dc1.contoso.com").expect("valid");
        assert_eq!((u.host.as_str(), u.port), ("dc1.contoso.com", 636));
        let u = v.ldap_url("p", "ldaps://[::1]:3269").expect("valid");
        assert_eq!((u.host.as_str(), u.port), ("::1", 3269));
        assert!(v.ldap_url("p", "ldaps://host:0").is_none());
        assert!(v.issues.len() == 1);
    }

    #[test]
    fn attribute_names_that_could_inject_a_filter_are_refused() {
        assert!(is_ldap_attribute_name("mail"));
        assert!(is_ldap_attribute_name("extensionAttribute10"));
        assert!(is_ldap_attribute_name("msDS-cloudExtensionAttribute1"));
        for bad in ["", "1mail", "mail)(objectClass=*", "ma il", "mail*"] {
            assert!(!is_ldap_attribute_name(bad), "{bad}");
        }
    }

    #[test]
    fn reply_urls_must_be_https_or_loopback_http() {
        for ok in [
            "https://sp.example.org/acs",
            "http://localhost:8301/acs",
            "http://127.0.0.1/acs",
        ] {
            assert!(is_reply_url(ok), "{ok}");
        }
        for bad in [
            "http://sp.example.org/acs",
            "https://",
            "javascript:alert(1)",
            "//evil.example/",
            "https://user@evil.example/",
            "/relative",
            "http://localhost.evil.example/acs",
        ] {
            assert!(!is_reply_url(bad), "{bad}");
        }
    }

    #[test]
    fn sp_metadata_gives_acs_logout_and_certificate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cert = std::fs::read_to_string("tests/fixtures/test-token-signing.crt").expect("cert");
        let b64: String = cert.lines().filter(|l| !l.starts_with("-----")).collect();
        let md = format!(
            "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"https://sp.example.org/metadata\">\
             <md:SPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\
             <md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>\
             <md:SingleLogoutService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"https://sp.example.org/slo\"/>\
             <md:AssertionConsumerService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact\" Location=\"https://sp.example.org/artifact\" index=\"0\"/>\
             <md:AssertionConsumerService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"https://sp.example.org/acs\" index=\"1\"/>\
             </md:SPSSODescriptor></md:EntityDescriptor>"
        );
        let path = dir.path().join("sp.xml");
        std::fs::write(&path, md).expect("write");
        let parsed = sp_metadata(&path).expect("parse");
        assert_eq!(parsed.entity_id, "https://sp.example.org/metadata");
        assert_eq!(parsed.acs, vec!["https://sp.example.org/acs".to_string()]);
        assert_eq!(parsed.logout.as_deref(), Some("https://sp.example.org/slo"));
        assert!(parsed.signing_cert.is_some());
        let text = format!(
            "{MINIMAL}relying_parties:\n  - {{ identifier: 'https://other.example/metadata', token_type: saml20, metadata_file: '{}' }}\n",
            path.display()
        );
        let found = issues(&text);
        assert!(
            found
                .iter()
                .any(|i| i.contains("does not match identifier")),
            "{found:?}"
        );
    }

    #[test]
    fn secrets_do_not_appear_in_debug_output() {
        std::env::set_var("ALTGATE_TEST_DEBUG_PW", "do-not-print-me");
        let text = "
server: { listen: 127.0.0.1:0, public_url: https://sts.example.test }
forests:
  - name: contoso.com
    global_catalogs: [ldaps://127.0.0.1:3269]
    service_account: { user: svc@contoso.com, password_env: ALTGATE_TEST_DEBUG_PW }
";
        let c = Config::parse(text, "t").expect("valid");
        assert!(!format!("{c:?}").contains("do-not-print-me"));
    }

    #[test]
    fn bind_limits_default_to_the_pool_size_and_are_validated() {
        let c = Config::parse(&format!("{MINIMAL}directory: {{ pool_size: 8 }}\n"), "t")
            .expect("valid");
        assert_eq!(c.directory.max_concurrent_binds_per_dc, 8);
        assert_eq!(c.directory.bind_queue_timeout, Duration::from_secs(2));
        let c = Config::parse(
            &format!(
                "{MINIMAL}directory: {{ max_concurrent_binds_per_dc: 16, bind_queue_timeout: 500ms }}\n"
            ),
            "t",
        )
        .expect("valid");
        assert_eq!(c.directory.max_concurrent_binds_per_dc, 16);
        assert_eq!(c.directory.bind_queue_timeout, Duration::from_millis(500));
        let found = issues(&format!(
            "{MINIMAL}directory: {{ max_concurrent_binds_per_dc: 0, bind_queue_timeout: 0s }}\n"
        ));
        assert!(
            found
                .iter()
                .any(|i| i.starts_with("directory.max_concurrent_binds_per_dc:")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|i| i.starts_with("directory.bind_queue_timeout:")),
            "{found:?}"
        );
    }
}
