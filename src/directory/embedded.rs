//! The embedded in-memory directory: demo mode and unit tests. It answers the same queries as a
//! global catalog would (case-insensitive equality, user objects only) from a YAML file, so a
//! newcomer can see every resolution outcome without Active Directory. Never used to prove AD
//! behaviour: the integration tests talk to real domain controllers.

use super::{
    datetime_to_filetime, AccountState, BindRejection, Directory, DirectoryEntry, DirectoryError,
    DomainInfo, ScanProgress, ScannedUser, UserQuery, UAC_ACCOUNTDISABLE,
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

/// A demo user's state beside its entry: domain, extra attributes, `pwdLastSet`.
struct User {
    entry: DirectoryEntry,
    domain: String,
    extra: BTreeMap<String, String>,
    pwd_last_set: Option<i64>,
}

struct Forest {
    unreachable: bool,
    domains: Arc<Vec<DomainInfo>>,
    users: Vec<User>,
    passwords: HashMap<String, String>,
    /// `proxyAddresses` by lower-case DN.
    proxies: HashMap<String, Vec<String>>,
}

/// The embedded directory.
pub struct EmbeddedDirectory {
    forests: HashMap<String, Forest>,
    /// Counted like the LDAP directory's (searches, binds, forest up) when set.
    metrics: Option<crate::metrics::DirectoryMetrics>,
    /// Passwords changed since loading (in memory only): `forest\ndn` (lower case) → the new
    /// password and when it was set (FILETIME).
    changed: std::sync::Mutex<HashMap<String, (String, i64)>>,
    /// When a password change happens (`pwdLastSet`): the system clock unless
    /// [`EmbeddedDirectory::with_clock`] injects another.
    clock: crate::clock::Clock,
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

    /// Dates password changes by `clock` (the application's).
    pub fn with_clock(mut self, clock: crate::clock::Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Counts searches, binds and forest reachability into `metrics`, as the LDAP directory
    /// does (so the dashboard and alerts work in demo mode); every forest's `forest_up` is set
    /// now.
    pub fn with_metrics(mut self, metrics: crate::metrics::DirectoryMetrics) -> Self {
        for (name, f) in &self.forests {
            metrics.set_forest_up(name, !f.unreachable);
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

impl Forest {
    /// The user at `dn`, compared as AD compares DNs here (case-insensitively).
    fn user(&self, dn: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.entry.dn.eq_ignore_ascii_case(dn))
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
        let start = std::time::Instant::now();
        let result = self.search(forest, query);
        if let Some(m) = &self.metrics {
            let outcome = result.as_ref().map_or_else(|e| e.code(), |_| "ok");
            m.observe_search(forest, query.kind(), start.elapsed().as_secs_f64());
            m.count_search(forest, query.kind(), outcome);
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
            m.observe_bind(domain, start.elapsed().as_secs_f64());
            m.count_bind(domain, label);
        }
        result
    }

    async fn account_state(
        &self,
        forest: &str,
        _domain: &str,
        dn: &str,
    ) -> Result<Option<AccountState>, DirectoryError> {
        let changed = self.changed_password(forest, dn).map(|(_, at)| at);
        Ok(self.forest(forest)?.user(dn).map(|u| AccountState {
            enabled: u
                .entry
                .user_account_control
                .is_some_and(|uac| uac & UAC_ACCOUNTDISABLE == 0),
            pwd_last_set: changed.or(u.pwd_last_set),
        }))
    }

    async fn change_password(
        &self,
        forest: &str,
        _domain: &str,
        dn: &str,
        old: &crate::secret::Secret,
        new: &crate::secret::Secret,
    ) -> Result<(), super::PasswordChangeError> {
        use super::PasswordChangeError as E;
        match self.check_password(forest, dn, old.expose()) {
            Ok(Ok(()))
            | Ok(Err(BindRejection::MustChangePassword | BindRejection::PasswordExpired)) => {}
            Ok(Err(BindRejection::WrongPassword)) => return Err(E::WrongOldPassword),
            Ok(Err(other)) => return Err(E::Refused(other.code().to_string())),
            Err(e) => return Err(E::Unavailable(e.to_string())),
        }
        // The demo's policy: AD's default minimum length, and not the same password again.
        if new.expose().chars().count() < 7 {
            return Err(E::PolicyRefused("shorter than 7 characters".into()));
        }
        if new.expose() == old.expose() {
            return Err(E::PolicyRefused("the same as the current password".into()));
        }
        let Some(now) = super::datetime_to_filetime((self.clock)()) else {
            return Err(E::Unavailable("the clock is out of range".into()));
        };
        if let Ok(mut changed) = self.changed.lock() {
            changed.insert(
                Self::changed_key(forest, dn),
                (new.expose().to_string(), now),
            );
        }
        Ok(())
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
            .map(|u| scanned(f, u.entry.clone(), &u.extra, extra))
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
            .filter(|u| {
                u.domain.eq_ignore_ascii_case(domain) && u.entry.dn.to_lowercase().ends_with(&base)
            })
            .map(|user| {
                let mut u = scanned(f, user.entry.clone(), &user.extra, attributes);
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

impl EmbeddedDirectory {
    fn changed_key(forest: &str, dn: &str) -> String {
        format!("{}\n{}", forest.to_lowercase(), dn.to_lowercase())
    }

    /// The password changed since loading, if any, and when.
    fn changed_password(&self, forest: &str, dn: &str) -> Option<(String, i64)> {
        let changed = self.changed.lock().ok()?;
        changed.get(&Self::changed_key(forest, dn)).cloned()
    }

    fn search(
        &self,
        forest: &str,
        query: &UserQuery,
    ) -> Result<Vec<DirectoryEntry>, DirectoryError> {
        let f = self.forest(forest)?;
        let found = f.users.iter().filter(|u| match query {
            UserQuery::AttributeEquals {
                attribute: a,
                value,
            } => attribute(&u.entry, &u.extra, a).is_some_and(|v| eq_ci(v, value)),
            UserQuery::SamAccountName { domain_dn: dn, sam } => {
                eq_ci(&domain_dn(&u.domain), dn)
                    && u.entry
                        .sam_account_name
                        .as_deref()
                        .is_some_and(|s| eq_ci(s, sam))
            }
        });
        Ok(found.map(|u| u.entry.clone()).collect())
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
        let changed = self.changed_password(forest, dn);
        let Some(expected) = changed
            .as_ref()
            .map(|(p, _)| p)
            .or_else(|| f.passwords.get(&dn.to_lowercase()))
        else {
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
        let user = f.user(dn);
        let disabled = user
            .and_then(|u| u.entry.user_account_control)
            .is_some_and(|uac| uac & UAC_ACCOUNTDISABLE != 0);
        Ok(if disabled {
            Err(BindRejection::Disabled)
        } else if changed.is_none() && user.is_some_and(|u| u.pwd_last_set == Some(0)) {
            Err(BindRejection::MustChangePassword)
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

    fn one_user(pwd_last_set: &str) -> Result<EmbeddedDirectory, String> {
        let yaml = format!(
            "forests:\n- name: contoso.com\n  domains: [{{ dns: contoso.com, netbios: CONTOSO }}]\n  users:\n  - {{ display_name: Pat, object_guid: 6f9619ff-8b86-d011-b42d-00c04fc964ff, password: pw{pwd_last_set} }}\n"
        );
        EmbeddedDirectory::from_file(serde_yaml::from_str(&yaml).map_err(|e| e.to_string())?)
    }

    #[tokio::test]
    async fn a_must_change_demo_password_is_changed_in_memory_as_ad_would() {
        use crate::directory::PasswordChangeError as E;
        use crate::secret::Secret;
        const DN: &str = "CN=Pat,CN=Users,DC=contoso,DC=com";
        let s = |v: &str| Secret::new(v.to_string());
        let d = one_user(", pwd_last_set: 0").expect("load");
        let change = |old: &str, new: &str| {
            let (old, new) = (s(old), s(new));
            let d = &d;
            async move {
                d.change_password("contoso.com", "contoso.com", DN, &old, &new)
                    .await
            }
        };
        assert_eq!(
            change("nope", "Longer-Pw-1").await,
            Err(E::WrongOldPassword)
        );
        assert_eq!(
            change("pw", "short").await.map_err(|e| e.code()),
            Err("policy_refused")
        );
        assert_eq!(change("pw", "Longer-Pw-1").await, Ok(()));
        let bind = |p: &'static str| d.bind("contoso.com", "contoso.com", DN, p);
        assert_eq!(bind("Longer-Pw-1").await.expect("bind"), Ok(()));
        assert_eq!(
            bind("pw").await.expect("bind"),
            Err(BindRejection::WrongPassword)
        );
        let state = d
            .account_state("contoso.com", "contoso.com", DN)
            .await
            .expect("state")
            .expect("user");
        assert!(state.pwd_last_set.is_some_and(|t| t > 0), "{state:?}");
    }

    #[tokio::test]
    async fn demo_users_have_an_account_state_with_an_optional_pwd_last_set() {
        const DN: &str = "CN=Pat,CN=Users,DC=contoso,DC=com";
        async fn state(d: &EmbeddedDirectory) -> AccountState {
            d.account_state("contoso.com", "contoso.com", DN)
                .await
                .expect("state")
                .expect("user")
        }
        // Without pwd_last_set (every existing demo file): enabled, no time kept.
        let d = one_user("").expect("load");
        assert_eq!(
            state(&d).await,
            AccountState {
                enabled: true,
                pwd_last_set: None
            }
        );
        let d = one_user(", pwd_last_set: '2024-01-15T09:30:00Z'").expect("load");
        assert_eq!(state(&d).await.pwd_last_set, Some(133_497_846_000_000_000));
        let d = one_user(", pwd_last_set: 133497846000000000").expect("load");
        assert_eq!(state(&d).await.pwd_last_set, Some(133_497_846_000_000_000));
        // 0: must change at next logon, and the password bind says so.
        let d = one_user(", pwd_last_set: 0").expect("load");
        assert_eq!(state(&d).await.pwd_last_set, Some(0));
        assert_eq!(
            d.bind("contoso.com", "contoso.com", DN, "pw")
                .await
                .expect("bind"),
            Err(BindRejection::MustChangePassword)
        );
        for bad in [
            ", pwd_last_set: -5",
            ", pwd_last_set: yesterday",
            ", pwd_last_set: '1600-01-01T00:00:00Z'",
        ] {
            assert!(one_user(bad).is_err(), "{bad}");
        }
        // Unknown DN: no account; unknown forest: an error.
        let d = one_user("").expect("load");
        assert_eq!(
            d.account_state("contoso.com", "contoso.com", "CN=Nobody,DC=contoso,DC=com")
                .await
                .expect("answer"),
            None
        );
        assert!(d.account_state("nowhere.example", "x", DN).await.is_err());
        // Case-insensitive DN, disabled demo users are reported disabled.
        let shipped =
            EmbeddedDirectory::load(Path::new("config/demo-directory.yaml")).expect("load");
        let dee = shipped
            .account_state(
                "contoso.com",
                "contoso.com",
                "cn=dee disabled,cn=users,dc=contoso,dc=com",
            )
            .await
            .expect("answer")
            .expect("user");
        assert!(!dee.enabled);
    }
}
