//! The demo directory file: its YAML format ([`EmbeddedFile`] and the types under it), and how
//! it is loaded and checked into an [`EmbeddedDirectory`] (DNs, `canonicalName`s and GUIDs
//! derived as AD would hold them, every problem reported with the user it concerns).

use super::{EmbeddedDirectory, Forest, User};
use crate::directory::{datetime_to_filetime, DirectoryEntry, DomainInfo, UAC_ACCOUNTDISABLE};
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
    /// When the password was last set (`pwdLastSet`): an RFC 3339 time, or a raw FILETIME
    /// integer as AD stores it (`0`: must change the password at next logon). Absent: the demo
    /// keeps no such time, and SSO sessions are not compared with it.
    pub pwd_last_set: Option<DemoPwdLastSet>,
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

/// `pwd_last_set` of a demo user.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum DemoPwdLastSet {
    /// A raw FILETIME (100 ns intervals since 1601-01-01 UTC); `0`: must change at next logon.
    Filetime(i64),
    /// An RFC 3339 time (`2024-01-15T09:30:00Z`).
    Time(String),
}

impl DemoPwdLastSet {
    /// As a FILETIME.
    fn filetime(&self) -> Result<i64, String> {
        match self {
            DemoPwdLastSet::Filetime(v) if *v >= 0 => Ok(*v),
            DemoPwdLastSet::Filetime(v) => Err(format!("{v} is negative")),
            DemoPwdLastSet::Time(t) => {
                let at =
                    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                        .map_err(|e| format!("{t:?} is not an RFC 3339 time: {e}"))?;
                datetime_to_filetime(at).ok_or_else(|| format!("{t:?} is before 1601"))
            }
        }
    }
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

/// The distinguished name of the domain with DNS name `dns` (`DC=contoso,DC=com`).
pub(super) fn domain_dn(dns: &str) -> String {
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
                let pwd_last_set = match &u.pwd_last_set {
                    Some(p) => Some(
                        p.filetime()
                            .map_err(|e| format!("user {}: pwd_last_set: {e}", u.display_name))?,
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
                users.push(User {
                    entry,
                    domain,
                    extra: u.attributes,
                    pwd_last_set,
                });
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
        Ok(EmbeddedDirectory {
            forests,
            metrics: None,
            changed: std::sync::Mutex::default(),
            clock: crate::clock::system_clock(),
        })
    }
}
