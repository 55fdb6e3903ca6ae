//! `forests:` (global catalogs and domain controllers as `ldaps://` URLs, the service account
//! and its password, CA bundle, search base), `alternate_login_id:` (which names the forests
//! to search) and `demo_directory:` (the embedded directory that stands in for every forest).

use super::secret_source::SecretKeys;
use super::{is_dns_name, Checked, CheckedList, Document, Validator};
use crate::secret::Secret;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

/// One entry of `forests:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawForest {
    /// Forest DNS name (the forest root domain), e.g. `contoso.com`. Required.
    pub name: Option<Checked<String>>,
    /// Global catalog URLs (`ldaps://host:3269`), tried in order.
    pub global_catalogs: Option<CheckedList<String>>,
    /// Domain controllers per domain DNS name (`ldaps://host:636`), for password binds.
    pub domain_controllers: Option<Checked<BTreeMap<String, CheckedList<String>>>>,
    /// Account altgate binds as to search the global catalog.
    pub service_account: Option<Checked<RawServiceAccount>>,
    /// PEM CA bundle that issued the DCs' certificates; the system roots when absent.
    pub ca_file: Option<Checked<String>>,
    /// Search base on the global catalog; empty (the whole forest) when absent.
    pub search_base: Option<Checked<String>>,
}

/// `forests[].service_account:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServiceAccount {
    /// UPN, `DOMAIN\name` or DN of the service account. Required.
    pub user: Option<Checked<String>>,
    /// Environment variable holding the password.
    pub password_env: Option<Checked<String>>,
    /// File holding the password (trailing newline ignored).
    pub password_file: Option<Checked<String>>,
}

/// `alternate_login_id:` as written: both keys must be set to enable the feature (AD FS
/// semantics).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlternateLoginId {
    /// LDAP name of the attribute users sign in with, usually `mail`.
    pub attribute: Option<Checked<String>>,
    /// DNS names of the forests to search, each one listed under `forests:`.
    pub lookup_forests: Option<CheckedList<String>>,
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

/// A service account and its password.
#[derive(Debug, Clone)]
pub struct ServiceAccount {
    /// Bind name.
    pub user: String,
    /// Password (redacted in `Debug`).
    pub password: Secret,
}

/// `alternate_login_id:`.
#[derive(Debug, Clone)]
pub struct AlternateLoginId {
    /// LDAP attribute name.
    pub attribute: String,
    /// Forests to search, each present in [`super::Config::forests`].
    pub lookup_forests: Vec<String>,
}

/// An LDAP attribute descriptor (RFC 4512 `descr`): it is pasted into filters, so nothing else.
pub fn is_ldap_attribute_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-')
        && s.len() <= 64
}

impl Validator {
    /// `demo_directory:`: the file must exist.
    pub(super) fn demo_directory(&mut self, doc: &mut Document) -> Option<PathBuf> {
        let demo: String = self.take(doc, "demo_directory")?;
        let path = PathBuf::from(demo);
        if !path.is_file() {
            self.err(
                "demo_directory",
                format!("file not found: {}", path.display()),
            );
        }
        Some(path)
    }

    /// `forests:` (required); in demo mode global catalogs and service accounts may be left out.
    pub(super) fn forests(&mut self, doc: &mut Document, demo: bool) -> Vec<ForestConfig> {
        let Some(raws) = self.take_list::<RawForest>(doc, "forests", "forests") else {
            self.missing(
                "forests",
                "missing section: at least one forest is required",
            );
            return Vec::new();
        };
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for (i, raw) in raws.into_iter().enumerate() {
            let Some(raw) = raw else { continue };
            let p = format!("forests[{i}]");
            let written = self.required(&format!("{p}.name"), raw.name, "");
            let name = written
                .as_deref()
                .map(|n| n.trim().to_ascii_lowercase())
                .unwrap_or_default();
            if let Some(written) = &written {
                if !is_dns_name(&name) {
                    self.err(
                        format!("{p}.name"),
                        format!("{written:?} is not a DNS name"),
                    );
                } else if !seen.insert(name.clone()) {
                    self.err(
                        format!("{p}.name"),
                        format!("forest {name} is listed twice"),
                    );
                }
            }
            let gp = format!("{p}.global_catalogs");
            let given = raw.global_catalogs.is_some();
            let written = self.checked(&gp, raw.global_catalogs);
            let none_written = !given || written.as_ref().is_some_and(Vec::is_empty);
            let global_catalogs: Vec<LdapUrl> = self
                .items::<String>(&gp, written.unwrap_or_default())
                .into_iter()
                .filter_map(|(at, u)| self.ldap_url(&at, &u))
                .collect();
            if !demo && none_written {
                self.err(
                    format!("{p}.global_catalogs"),
                    "at least one ldaps:// global catalog is required",
                );
            }
            let mut domain_controllers = BTreeMap::new();
            let dcs = self
                .checked(&format!("{p}.domain_controllers"), raw.domain_controllers)
                .unwrap_or_default();
            for (domain, urls) in dcs {
                let dp = format!("{p}.domain_controllers.{domain}");
                if !is_dns_name(&domain.to_ascii_lowercase()) {
                    self.err(&dp, "the key must be a domain DNS name");
                }
                let parsed: Vec<LdapUrl> = self
                    .list::<String>(&dp, Some(urls))
                    .into_iter()
                    .filter_map(|(at, u)| self.ldap_url(&at, &u))
                    .collect();
                domain_controllers.insert(domain.to_ascii_lowercase(), parsed);
            }
            let sa_path = format!("{p}.service_account");
            let sa_given = raw.service_account.is_some();
            let service_account = match self.checked(&sa_path, raw.service_account) {
                Some(sa) => self.service_account(&sa_path, sa),
                None => {
                    if !demo && !sa_given {
                        self.err(
                            &sa_path,
                            "required: the global catalog refuses anonymous searches",
                        );
                    }
                    None
                }
            };
            let ca_file = self
                .checked::<String>(&format!("{p}.ca_file"), raw.ca_file)
                .map(PathBuf::from);
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
                search_base: self
                    .checked(&format!("{p}.search_base"), raw.search_base)
                    .unwrap_or_default(),
            });
        }
        out
    }

    /// An `ldaps://host[:port]` URL (port 636 when absent).
    pub(super) fn ldap_url(&mut self, path: &str, url: &str) -> Option<LdapUrl> {
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

    /// A service account with exactly one password source, which must yield a password.
    fn service_account(&mut self, path: &str, raw: RawServiceAccount) -> Option<ServiceAccount> {
        let user = self.required(&format!("{path}.user"), raw.user, "");
        if user.as_deref().is_some_and(|u| u.trim().is_empty()) {
            self.err(format!("{path}.user"), "must not be empty");
        }
        let password = self.secret(
            path,
            "password",
            SecretKeys {
                env: raw.password_env,
                file: raw.password_file,
            },
            true,
        );
        Some(ServiceAccount {
            user: user?,
            password: password?.1,
        })
    }

    /// `alternate_login_id:`: both keys or neither; every lookup forest listed once under
    /// `forests:`.
    pub(super) fn alternate_login_id(
        &mut self,
        doc: &mut Document,
        forests: &[ForestConfig],
    ) -> Option<AlternateLoginId> {
        let raw: RawAlternateLoginId = self.take(doc, "alternate_login_id")?;
        let attribute = self
            .checked::<String>("alternate_login_id.attribute", raw.attribute)
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty());
        let lookup =
            Some(self.list::<String>("alternate_login_id.lookup_forests", raw.lookup_forests))
                .filter(|l| !l.is_empty());
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
                for (at, f) in lookup {
                    let f = f.trim().to_ascii_lowercase();
                    if !forests.iter().any(|c| c.name == f) {
                        self.err(at, format!("{f} is not listed under forests"));
                    } else if names.contains(&f) {
                        self.err(at, format!("{f} is listed twice"));
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
}
