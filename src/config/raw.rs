//! The configuration file as written: serde structures with `deny_unknown_fields`, no meaning yet.
//! [`super::validate`] turns them into the typed [`super::Config`].

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
