//! Reading the directory for the audit: every user object of every configured forest, from
//! its global catalogs exactly as sign-in searches see them (same search base, same
//! attributes, plus the alternate-ID attribute with all its values), and the attributes
//! outside the global catalog's partial attribute set (`proxyAddresses` in the base schema,
//! the Exchange attributes, `isCriticalSystemObject`) from each domain's domain controllers,
//! joined by distinguished name. Forests are read concurrently, and within a forest the global
//! catalog and the domain controllers too. Any forest or domain that cannot be read fails the
//! whole collection: an audit never silently covers less than it says.

use crate::config::ForestConfig;
use crate::directory::{
    Directory, DirectoryEntry, DirectoryError, DomainInfo, ScannedUser, UAC_ACCOUNTDISABLE,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Attributes read from the domain controllers rather than the global catalog.
pub const DC_ATTRIBUTES: &[&str] = &[
    "proxyAddresses",
    "mailNickname",
    "targetAddress",
    "isCriticalSystemObject",
];

/// Where objects are being read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The forest's global catalogs (the sign-in view).
    GlobalCatalog,
    /// The domains' domain controllers (attributes outside the partial attribute set).
    DomainControllers,
}

/// Told how far the reading has got, per forest.
pub trait Progress: Send + Sync {
    /// `objects` have been read so far from `source` of `forest`.
    fn read(&self, forest: &str, source: Source, objects: u64);
    /// `forest` has been read completely.
    fn finished(&self, forest: &str);
}

/// Progress that goes nowhere (not a terminal, tests).
pub struct Silent;

impl Progress for Silent {
    fn read(&self, _: &str, _: Source, _: u64) {}
    fn finished(&self, _: &str) {}
}

/// One user object with everything the audit looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Object {
    /// Its forest.
    pub forest: Arc<str>,
    /// Its domain's DNS name, from the `DC=` components of its DN.
    pub domain: Arc<str>,
    /// The account attributes as the global catalog returned them.
    pub entry: DirectoryEntry,
    /// Every value of the alternate-ID attribute (empty without alternate login ID).
    pub alternate_ids: Vec<String>,
    /// `proxyAddresses` (from a domain controller).
    pub proxy_addresses: Vec<String>,
    /// `mailNickname` (from a domain controller).
    pub mail_nickname: Option<String>,
    /// `targetAddress` (from a domain controller).
    pub target_address: Option<String>,
    /// `isCriticalSystemObject` is TRUE.
    pub critical_system_object: bool,
}

impl Object {
    /// False when `userAccountControl` has ACCOUNTDISABLE.
    pub fn enabled(&self) -> bool {
        self.entry
            .user_account_control
            .is_none_or(|uac| uac & UAC_ACCOUNTDISABLE == 0)
    }

    /// The value of the first RDN (the `CN`), unescaped.
    pub fn cn(&self) -> String {
        rdns(&self.entry.dn)
            .first()
            .and_then(|r| r.split_once('='))
            .map(|(_, v)| unescape(v))
            .unwrap_or_default()
    }
}

/// How much of one forest was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForestRead {
    /// The forest.
    pub name: String,
    /// User objects read from its global catalogs.
    pub objects: u64,
}

/// Everything read.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Per forest, in configuration order.
    pub forests: Vec<ForestRead>,
    /// Each forest's domains.
    pub domains: HashMap<String, Arc<Vec<DomainInfo>>>,
    /// Every user object of every forest.
    pub objects: Vec<Object>,
}

/// Splits a DN into its RDNs, honouring `\,` escapes.
pub fn rdns(dn: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in dn.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ',' => {
                out.push(dn.get(start..i).unwrap_or("").trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(dn.get(start..).unwrap_or("").trim());
    out
}

/// Removes DN escapes (`\,` → `,`; `\0A`-style hex pairs are left as they are).
fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.peek().copied() {
                if !n.is_ascii_hexdigit() {
                    out.push(n);
                    chars.next();
                    continue;
                }
            }
        }
        out.push(c);
    }
    out
}

/// The DNS name of the domain a DN lives in (its trailing `DC=` components), lower case.
pub fn domain_of(dn: &str) -> String {
    let labels: Vec<String> = rdns(dn)
        .iter()
        .rev()
        .map_while(|r| {
            let (k, v) = r.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("DC")
                .then(|| v.trim().to_lowercase())
        })
        .collect();
    labels.into_iter().rev().collect::<Vec<_>>().join(".")
}

/// True when `dn` is `parent` or below it (case-insensitive).
pub fn within(dn: &str, parent: &str) -> bool {
    let (dn, parent) = (dn.to_lowercase(), parent.to_lowercase());
    parent.is_empty() || dn == parent || dn.ends_with(&format!(",{parent}"))
}

/// The domains a search base covers, each with the base to scan on its domain controllers:
/// the search base itself in the domain that holds it, the whole domain for domains below it.
pub fn domains_in_scope(domains: &[DomainInfo], search_base: &str) -> Vec<(DomainInfo, String)> {
    if search_base.trim().is_empty() {
        return domains.iter().map(|d| (d.clone(), d.dn.clone())).collect();
    }
    let owner = domains
        .iter()
        .filter(|d| within(search_base, &d.dn))
        .max_by_key(|d| d.dn.len());
    domains
        .iter()
        .filter_map(|d| {
            if owner.is_some_and(|o| o.dn.eq_ignore_ascii_case(&d.dn)) {
                Some((d.clone(), search_base.to_string()))
            } else if within(&d.dn, search_base) {
                Some((d.clone(), d.dn.clone()))
            } else {
                None
            }
        })
        .collect()
}

/// One shared copy of each domain name.
#[derive(Default)]
struct Names(HashMap<String, Arc<str>>);

impl Names {
    fn get(&mut self, name: String) -> Arc<str> {
        self.0
            .entry(name)
            .or_insert_with_key(|k| Arc::from(k.as_str()))
            .clone()
    }
}

fn object(forest: &Arc<str>, names: &mut Names, u: ScannedUser) -> Object {
    let ScannedUser { entry, mut values } = u;
    // The alternate ID, when asked for, is the only extra attribute.
    let alternate_ids = values.pop().unwrap_or_default();
    Object {
        forest: forest.clone(),
        domain: names.get(domain_of(&entry.dn)),
        entry,
        alternate_ids,
        ..Default::default()
    }
}

/// Adds what the domain controllers returned to the objects read from the global catalog.
fn join(objects: &mut [Object], from_dcs: Vec<ScannedUser>) {
    let by_dn: HashMap<String, usize> = objects
        .iter()
        .enumerate()
        .map(|(i, o)| (o.entry.dn.to_lowercase(), i))
        .collect();
    for u in from_dcs {
        let Some(o) = by_dn
            .get(&u.entry.dn.to_lowercase())
            .and_then(|i| objects.get_mut(*i))
        else {
            continue;
        };
        // In the order of DC_ATTRIBUTES.
        let mut values = u.values.into_iter();
        let mut next = || values.next().unwrap_or_default();
        o.proxy_addresses = next();
        o.mail_nickname = next().into_iter().next();
        o.target_address = next().into_iter().next();
        o.critical_system_object = next()
            .first()
            .is_some_and(|v| v.eq_ignore_ascii_case("TRUE"));
    }
}

async fn read_forest(
    directory: &dyn Directory,
    forest: &ForestConfig,
    alternate: Option<&str>,
    progress: &dyn Progress,
) -> Result<(Arc<Vec<DomainInfo>>, Vec<Object>), DirectoryError> {
    let name = forest.name.as_str();
    let domains = directory.domains(name).await?;
    let scope = domains_in_scope(&domains, &forest.search_base);
    let extra: Vec<&str> = alternate.into_iter().collect();
    let gc_progress = |n: u64| progress.read(name, Source::GlobalCatalog, n);
    // Each domain reports its own running count; the forest shows their sum.
    let counts: Vec<AtomicU64> = scope.iter().map(|_| AtomicU64::new(0)).collect();
    let dc_progress: Vec<_> = (0..scope.len())
        .map(|i| {
            let counts = &counts;
            move |n: u64| {
                if let Some(c) = counts.get(i) {
                    c.store(n, Ordering::Relaxed);
                }
                let sum = counts.iter().map(|c| c.load(Ordering::Relaxed)).sum();
                progress.read(name, Source::DomainControllers, sum);
            }
        })
        .collect();
    let gc = directory.scan_users(name, &extra, &gc_progress);
    let dcs =
        futures::future::join_all(scope.iter().zip(&dc_progress).map(|((d, base), report)| {
            directory.scan_domain(name, &d.dns_name, base, DC_ATTRIBUTES, report)
        }));
    let (gc, dcs) = futures::join!(gc, dcs);
    let forest_name: Arc<str> = Arc::from(name);
    let mut names = Names::default();
    let mut objects: Vec<Object> = gc?
        .into_iter()
        .map(|u| object(&forest_name, &mut names, u))
        .collect();
    for from_dcs in dcs {
        join(&mut objects, from_dcs?);
    }
    progress.finished(name);
    Ok((domains, objects))
}

/// Reads every forest of `forests` concurrently; `alternate` names the alternate-ID attribute.
pub async fn collect(
    directory: &dyn Directory,
    forests: &[ForestConfig],
    alternate: Option<&str>,
    progress: &dyn Progress,
) -> Result<Snapshot, DirectoryError> {
    let reads = forests
        .iter()
        .map(|f| read_forest(directory, f, alternate, progress));
    let mut snapshot = Snapshot::default();
    for (f, read) in forests.iter().zip(futures::future::join_all(reads).await) {
        let (domains, objects) = read?;
        snapshot.forests.push(ForestRead {
            name: f.name.clone(),
            objects: objects.len() as u64,
        });
        snapshot.domains.insert(f.name.clone(), domains);
        snapshot.objects.extend(objects);
    }
    Ok(snapshot)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain(dns: &str) -> DomainInfo {
        DomainInfo {
            dns_name: dns.into(),
            netbios_name: dns.split('.').next().unwrap_or("").to_uppercase(),
            dn: dns
                .split('.')
                .map(|l| format!("DC={l}"))
                .collect::<Vec<_>>()
                .join(","),
        }
    }

    #[test]
    fn dns_pieces() {
        assert_eq!(
            rdns("CN=Doe\\, John,OU=X,DC=contoso,DC=com"),
            vec!["CN=Doe\\, John", "OU=X", "DC=contoso", "DC=com"]
        );
        assert_eq!(
            domain_of("CN=Doe\\, John,OU=X,DC=Contoso,DC=com"),
            "contoso.com"
        );
        assert_eq!(
            domain_of("CN=a,DC=emea,DC=contoso,DC=com"),
            "emea.contoso.com"
        );
        assert_eq!(domain_of("CN=a,OU=b"), "");
        let o = Object {
            entry: DirectoryEntry {
                dn: "CN=Doe\\, John,OU=X,DC=contoso,DC=com".into(),
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(o.cn(), "Doe, John");
        assert!(within(
            "CN=a,OU=X,DC=contoso,DC=com",
            "ou=x,dc=contoso,dc=com"
        ));
        assert!(!within(
            "CN=a,OU=XY,DC=contoso,DC=com",
            "OU=Y,DC=contoso,DC=com"
        ));
        assert!(within("CN=a", ""));
    }

    #[test]
    fn search_base_scopes_domains() {
        let ds = [domain("contoso.com"), domain("emea.contoso.com")];
        let all = domains_in_scope(&ds, "");
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].1, "DC=emea,DC=contoso,DC=com");
        let ou = domains_in_scope(&ds, "OU=Staff,DC=contoso,DC=com");
        assert_eq!(ou.len(), 1);
        assert_eq!(ou[0].0.dns_name, "contoso.com");
        assert_eq!(ou[0].1, "OU=Staff,DC=contoso,DC=com");
        let child = domains_in_scope(&ds, "OU=S,DC=emea,DC=contoso,DC=com");
        assert_eq!(child.len(), 1);
        assert_eq!(child[0].0.dns_name, "emea.contoso.com");
        let root = domains_in_scope(&ds, "DC=contoso,DC=com");
        assert_eq!(root.len(), 2);
        assert_eq!(root[0].1, "DC=contoso,DC=com");
        assert_eq!(root[1].1, "DC=emea,DC=contoso,DC=com");
    }
}
