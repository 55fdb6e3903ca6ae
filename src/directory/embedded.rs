//! The embedded in-memory directory: demo mode and unit tests. It answers the same queries as a
//! global catalog would (case-insensitive equality, user objects only) from a YAML file, so a
//! newcomer can see every resolution outcome without Active Directory. Never used to prove AD
//! behaviour: the integration tests talk to real domain controllers.

use super::{
    BindRejection, Directory, DirectoryEntry, DirectoryError, DomainInfo, ScanProgress,
    ScannedUser, UserQuery, UAC_ACCOUNTDISABLE,
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
    /// `displayName`, also the CN (unless `cn` is given).
    pub display_name: String,
    /// The CN, when it differs from `displayName`.
    pub cn: Option<String>,
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
    /// `proxyAddresses` (multi-valued; read by `altgate audit` as from a domain controller).
    #[serde(default)]
    pub proxy_addresses: Vec<String>,
}

fn yes() -> bool {
    true
}

struct Forest {
    unreachable: bool,
    domains: Arc<Vec<DomainInfo>>,
    users: Vec<(DirectoryEntry, String, BTreeMap<String, String>)>,
    passwords: HashMap<String, String>,
    /// `proxyAddresses` by lower-case DN.
    proxies: HashMap<String, Vec<String>>,
}

/// The embedded directory.
pub struct EmbeddedDirectory {
    forests: HashMap<String, Forest>,
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
            let mut proxies = HashMap::new();
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
                let cn = u.cn.clone().unwrap_or_else(|| u.display_name.clone());
                let dn = format!("CN={cn},CN=Users,{}", domain_dn(&domain));
                if let Some(pw) = &u.password {
                    passwords.insert(dn.to_lowercase(), pw.clone());
                }
                if !u.proxy_addresses.is_empty() {
                    proxies.insert(dn.to_lowercase(), u.proxy_addresses);
                }
                let entry = DirectoryEntry {
                    dn,
                    sam_account_name: u.sam_account_name,
                    user_principal_name: u.user_principal_name,
                    canonical_name: Some(
                        u.canonical_name
                            .unwrap_or_else(|| format!("{domain}/Users/{cn}")),
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
                    proxies,
                },
            );
        }
        Ok(EmbeddedDirectory { forests })
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

/// Every value of `name` for one demo user: `proxyAddresses` from its list, anything else
/// from the account attributes or the free-form ones.
fn scanned_values(
    forest: &Forest,
    entry: &DirectoryEntry,
    extra: &BTreeMap<String, String>,
    name: &str,
) -> Vec<String> {
    if name.eq_ignore_ascii_case("proxyAddresses") {
        return forest
            .proxies
            .get(&entry.dn.to_lowercase())
            .cloned()
            .unwrap_or_default();
    }
    attribute(entry, extra, name)
        .map(|v| vec![v.to_string()])
        .unwrap_or_default()
}

fn scanned(
    forest: &Forest,
    entry: DirectoryEntry,
    extra: &BTreeMap<String, String>,
    names: &[&str],
) -> ScannedUser {
    let values = names
        .iter()
        .map(|n| scanned_values(forest, &entry, extra, n))
        .collect();
    ScannedUser { entry, values }
}

#[async_trait]
impl Directory for EmbeddedDirectory {
    async fn search_users(
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

    async fn domains(&self, forest: &str) -> Result<Arc<Vec<DomainInfo>>, DirectoryError> {
        Ok(self.forest(forest)?.domains.clone())
    }

    async fn bind(
        &self,
        forest: &str,
        _domain: &str,
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

    async fn scan_users(
        &self,
        forest: &str,
        extra: &[&str],
        progress: ScanProgress<'_>,
    ) -> Result<Vec<ScannedUser>, DirectoryError> {
        let f = self.forest(forest)?;
        let users: Vec<ScannedUser> = f
            .users
            .iter()
            .map(|(e, _, x)| scanned(f, e.clone(), x, extra))
            .collect();
        progress(users.len() as u64);
        Ok(users)
    }

    async fn scan_domain(
        &self,
        forest: &str,
        domain: &str,
        base: &str,
        attributes: &[&str],
        progress: ScanProgress<'_>,
    ) -> Result<Vec<ScannedUser>, DirectoryError> {
        let f = self.forest(forest)?;
        let base = base.to_lowercase();
        let users: Vec<ScannedUser> = f
            .users
            .iter()
            .filter(|(e, d, _)| {
                d.eq_ignore_ascii_case(domain) && e.dn.to_lowercase().ends_with(&base)
            })
            .map(|(e, _, x)| {
                let mut u = scanned(f, e.clone(), x, attributes);
                u.entry = DirectoryEntry {
                    dn: u.entry.dn,
                    ..Default::default()
                };
                u
            })
            .collect();
        progress(users.len() as u64);
        Ok(users)
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
