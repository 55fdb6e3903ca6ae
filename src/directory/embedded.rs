//! The embedded in-memory directory: demo mode and unit tests. It answers the same queries as a
//! global catalog would (case-insensitive equality, user objects only) from a YAML file, so a
//! newcomer can see every resolution outcome without Active Directory. Never used to prove AD
//! behaviour: the integration tests talk to real domain controllers.

use super::{
    BindRejection, Directory, DirectoryEntry, DirectoryError, DomainInfo, UserQuery,
    UAC_ACCOUNTDISABLE,
};
use async_trait::async_trait;
use base64::Engine;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

/// The demo directory file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddedFile {
    /// The forests.
    pub forests: Vec<EmbeddedForest>,
}

/// One forest of the demo directory.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddedForest {
    /// Forest DNS name.
    pub name: String,
    /// Its domains; the first is the forest root.
    pub domains: Vec<EmbeddedDomain>,
    /// Pretend every global catalog is down (to show `unreachable_forests`).
    #[serde(default)]
    pub unreachable: bool,
    /// User objects.
    #[serde(default)]
    pub users: Vec<EmbeddedUser>,
}

/// A domain of a demo forest.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddedDomain {
    /// DNS name.
    pub dns: String,
    /// NetBIOS name.
    pub netbios: String,
}

/// A user object of the demo directory.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddedUser {
    /// `sAMAccountName`; leave it out to demonstrate MSIS8012.
    pub sam_account_name: Option<String>,
    /// `userPrincipalName`.
    pub user_principal_name: Option<String>,
    /// `mail`.
    pub mail: Option<String>,
    /// `displayName`, also the CN.
    pub display_name: String,
    /// `givenName`.
    pub given_name: Option<String>,
    /// `sn`.
    pub surname: Option<String>,
    /// DNS name of the user's domain; the forest root when absent.
    pub domain: Option<String>,
    /// `objectGUID` in its usual text form (`2d0c4b2e-...`).
    pub object_guid: String,
    /// `mS-DS-ConsistencyGuid`, base64.
    pub consistency_guid: Option<String>,
    /// `false` sets ACCOUNTDISABLE.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Overrides the derived `canonicalName` (to demonstrate MSIS8013).
    pub canonical_name: Option<String>,
    /// Demo password (demo mode only; real directories never hand out passwords).
    pub password: Option<String>,
    /// Any other attribute (an alternate login ID other than mail, say).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

fn yes() -> bool {
    true
}

struct Forest {
    unreachable: bool,
    domains: Arc<Vec<DomainInfo>>,
    users: Vec<(DirectoryEntry, String, BTreeMap<String, String>)>,
    passwords: HashMap<String, String>,
}

/// The embedded directory.
pub struct EmbeddedDirectory {
    forests: HashMap<String, Forest>,
    /// Counted like the LDAP directory's (searches, binds, forest up) when set.
    metrics: Option<crate::metrics::DirectoryMetrics>,
}

/// The embedded directory file is unusable.
#[derive(Debug, thiserror::Error)]
#[error("demo directory {file}: {message}")]
pub struct EmbeddedError {
    /// The file.
    pub file: String,
    /// What is wrong.
    pub message: String,
}

fn domain_dn(dns: &str) -> String {
    dns.split('.')
        .map(|l| format!("DC={l}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses a GUID's text form into AD's byte order (first three fields little-endian).
pub fn guid_bytes(text: &str) -> Option<Vec<u8>> {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let mut b = Vec::with_capacity(16);
    for i in 0..16 {
        b.push(u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?);
    }
    b.get_mut(0..4)?.reverse();
    b.get_mut(4..6)?.reverse();
    b.get_mut(6..8)?.reverse();
    Some(b)
}

impl EmbeddedDirectory {
    /// Loads a demo directory file.
    pub fn load(path: &Path) -> Result<Self, EmbeddedError> {
        let err = |message: String| EmbeddedError {
            file: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let file: EmbeddedFile = serde_yaml::from_str(&text).map_err(|e| err(e.to_string()))?;
        Self::from_file(file).map_err(err)
    }

    /// Builds the directory from parsed contents.
    pub fn from_file(file: EmbeddedFile) -> Result<Self, String> {
        let mut forests = HashMap::new();
        for f in file.forests {
            let name = f.name.to_ascii_lowercase();
            let domains: Vec<DomainInfo> = f
                .domains
                .iter()
                .map(|d| DomainInfo {
                    dns_name: d.dns.to_ascii_lowercase(),
                    netbios_name: d.netbios.to_ascii_uppercase(),
                    dn: domain_dn(&d.dns.to_ascii_lowercase()),
                })
                .collect();
            let root = domains
                .first()
                .map(|d| d.dns_name.clone())
                .ok_or_else(|| format!("forest {name} has no domains"))?;
            let mut users = Vec::new();
            let mut passwords = HashMap::new();
            for u in f.users {
                let domain = u
                    .domain
                    .clone()
                    .unwrap_or_else(|| root.clone())
                    .to_ascii_lowercase();
                if !domains.iter().any(|d| d.dns_name == domain) {
                    return Err(format!(
                        "user {} is in unknown domain {domain}",
                        u.display_name
                    ));
                }
                let object_guid = guid_bytes(&u.object_guid)
                    .ok_or_else(|| format!("user {}: bad object_guid", u.display_name))?;
                let consistency_guid = match &u.consistency_guid {
                    Some(b) => Some(
                        base64::engine::general_purpose::STANDARD
                            .decode(b)
                            .map_err(|e| {
                                format!("user {}: consistency_guid: {e}", u.display_name)
                            })?,
                    ),
                    None => None,
                };
                let dn = format!("CN={},CN=Users,{}", u.display_name, domain_dn(&domain));
                if let Some(pw) = &u.password {
                    passwords.insert(dn.to_lowercase(), pw.clone());
                }
                let entry = DirectoryEntry {
                    dn,
                    sam_account_name: u.sam_account_name,
                    user_principal_name: u.user_principal_name,
                    canonical_name: Some(
                        u.canonical_name
                            .unwrap_or_else(|| format!("{domain}/Users/{}", u.display_name)),
                    ),
                    object_guid: Some(object_guid),
                    consistency_guid,
                    user_account_control: Some(if u.enabled {
                        0x200
                    } else {
                        0x200 | UAC_ACCOUNTDISABLE
                    }),
                    display_name: Some(u.display_name),
                    given_name: u.given_name,
                    surname: u.surname,
                    mail: u.mail,
                };
                users.push((entry, domain, u.attributes));
            }
            forests.insert(
                name,
                Forest {
                    unreachable: f.unreachable,
                    domains: Arc::new(domains),
                    users,
                    passwords,
                },
            );
        }
        Ok(EmbeddedDirectory {
            forests,
            metrics: None,
        })
    }

    /// Counts searches, binds and forest reachability into `metrics`, as the LDAP directory
    /// does (so the dashboard and alerts work in demo mode); every forest's `forest_up` is set
    /// now.
    pub fn with_metrics(mut self, metrics: crate::metrics::DirectoryMetrics) -> Self {
        for (name, f) in &self.forests {
            metrics
                .forest_up
                .with_label_values(&[name])
                .set(i64::from(!f.unreachable));
        }
        self.metrics = Some(metrics);
        self
    }

    /// Names of the forests in the file.
    pub fn forest_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.forests.keys().cloned().collect();
        v.sort();
        v
    }

    fn forest(&self, name: &str) -> Result<&Forest, DirectoryError> {
        let f = self
            .forests
            .get(name)
            .ok_or_else(|| DirectoryError::UnknownForest {
                forest: name.to_string(),
            })?;
        if f.unreachable {
            return Err(DirectoryError::Unreachable {
                forest: name.to_string(),
                reason: "marked unreachable in the demo directory".into(),
            });
        }
        Ok(f)
    }
}

fn eq_ci(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}

fn attribute<'a>(
    entry: &'a DirectoryEntry,
    extra: &'a BTreeMap<String, String>,
    name: &str,
) -> Option<&'a str> {
    let known = match name.to_ascii_lowercase().as_str() {
        "mail" => entry.mail.as_deref(),
        "userprincipalname" => entry.user_principal_name.as_deref(),
        "samaccountname" => entry.sam_account_name.as_deref(),
        "displayname" => entry.display_name.as_deref(),
        _ => None,
    };
    known.or_else(|| {
        extra
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    })
}

#[async_trait]
impl Directory for EmbeddedDirectory {
    async fn search_users(
        &self,
        forest: &str,
        query: &UserQuery,
    ) -> Result<Vec<DirectoryEntry>, DirectoryError> {
        let start = std::time::Instant::now();
        let result = self.search(forest, query);
        if let Some(m) = &self.metrics {
            let outcome = result.as_ref().map_or_else(|e| e.code(), |_| "ok");
            m.search_duration
                .with_label_values(&[forest, query.kind()])
                .observe(start.elapsed().as_secs_f64());
            m.searches
                .with_label_values(&[forest, query.kind(), outcome])
                .inc();
        }
        result
    }

    async fn domains(&self, forest: &str) -> Result<Arc<Vec<DomainInfo>>, DirectoryError> {
        Ok(self.forest(forest)?.domains.clone())
    }

    async fn bind(
        &self,
        forest: &str,
        domain: &str,
        dn: &str,
        password: &str,
    ) -> Result<Result<(), BindRejection>, DirectoryError> {
        let start = std::time::Instant::now();
        let result = self.check_password(forest, dn, password);
        if let Some(m) = &self.metrics {
            let label = match &result {
                Ok(Ok(())) => "ok",
                Ok(Err(r)) => r.code(),
                Err(e) => e.code(),
            };
            m.bind_duration
                .with_label_values(&[domain])
                .observe(start.elapsed().as_secs_f64());
            m.binds.with_label_values(&[domain, label]).inc();
        }
        result
    }
}

impl EmbeddedDirectory {
    fn search(
        &self,
        forest: &str,
        query: &UserQuery,
    ) -> Result<Vec<DirectoryEntry>, DirectoryError> {
        let f = self.forest(forest)?;
        let found = f.users.iter().filter(|(entry, domain, extra)| match query {
            UserQuery::AttributeEquals {
                attribute: a,
                value,
            } => attribute(entry, extra, a).is_some_and(|v| eq_ci(v, value)),
            UserQuery::SamAccountName { domain_dn: dn, sam } => {
                eq_ci(&domain_dn(domain), dn)
                    && entry
                        .sam_account_name
                        .as_deref()
                        .is_some_and(|s| eq_ci(s, sam))
            }
        });
        Ok(found.map(|(e, _, _)| e.clone()).collect())
    }

    fn check_password(
        &self,
        forest: &str,
        dn: &str,
        password: &str,
    ) -> Result<Result<(), BindRejection>, DirectoryError> {
        if password.is_empty() {
            return Err(DirectoryError::EmptyPassword);
        }
        let f = self.forest(forest)?;
        let Some(expected) = f.passwords.get(&dn.to_lowercase()) else {
            return Ok(Err(BindRejection::WrongPassword));
        };
        // Constant-time comparison: the demo should not teach timing leaks.
        let ok = expected.len() == password.len()
            && expected
                .bytes()
                .zip(password.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !ok {
            return Ok(Err(BindRejection::WrongPassword));
        }
        let disabled = f
            .users
            .iter()
            .find(|(e, _, _)| e.dn.eq_ignore_ascii_case(dn))
            .and_then(|(e, _, _)| e.user_account_control)
            .is_some_and(|uac| uac & UAC_ACCOUNTDISABLE != 0);
        Ok(if disabled {
            Err(BindRejection::Disabled)
        } else {
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_text_maps_to_ad_byte_order() {
        let b = guid_bytes("00112233-4455-6677-8899-aabbccddeeff").expect("guid");
        assert_eq!(
            b,
            vec![
                0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
                0xee, 0xff
            ]
        );
        assert!(guid_bytes("not-a-guid").is_none());
    }

    #[tokio::test]
    async fn shipped_demo_directory_loads_and_answers_case_insensitively() {
        let d = EmbeddedDirectory::load(Path::new("config/demo-directory.yaml")).expect("load");
        assert!(d.forest_names().len() >= 2);
        let q = UserQuery::AttributeEquals {
            attribute: "mail".into(),
            value: "JDOE@CONTOSO.COM".into(),
        };
        let found = d.search_users("contoso.com", &q).await.expect("search");
        assert_eq!(found.len(), 1);
        assert!(d.search_users("nowhere.example", &q).await.is_err());
    }
}
