//! The sign-in simulation: for every enabled account and every identifier its user could type
//! (each alternate-ID value, the UPN, `NETBIOS\sam`), what would sign-in resolve to? It does
//! not restate the AD FS rules: the identifiers go through the real login parsing
//! ([`crate::resolve::login::parse`]) and the real [`Resolver`] (alternate ID in the lookup
//! forests, UPN fallback, `DOMAIN\sam`, the MSIS8012-8015 decisions), running against
//! [`Snapshot`], an in-memory [`Directory`] over what was read, which answers each search as a
//! global catalog would (case-insensitive equality, every object including disabled ones).
//! Whether the resulting token is acceptable to Microsoft 365 is decided by the token rules
//! themselves ([`Subject::cloud_upn`], [`issuer_for_upn`]).
//!
//! Every identifier that does not resolve to its own account is a finding naming the other
//! accounts involved; a disabled account among them gets an `info` finding: it is not
//! simulated itself, but it still blocks others.

use super::collect::{Object, Snapshot as Read};
use super::finding::Finding;
use super::hygiene::checks;
use super::lookup::{eq_ignoring_case, fold_hash, Index};
use super::rules::{Rule, Severity};
use crate::config::{AlternateLoginId, CacheConfig};
use crate::directory::{
    AccountRef, BindRejection, Directory, DirectoryEntry, DirectoryError, DomainInfo, UserQuery,
};
use crate::events::Events;
use crate::metrics::Metrics;
use crate::resolve::login::{self, Login};
use crate::resolve::{FailureCode, Outcome, Resolution, Resolver, Via};
use crate::tokens::claims::{issuer_for_upn, Subject};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// One forest's lookups: positions of its objects by value (see [`keys`]).
#[derive(Default)]
struct ForestIndex {
    domains: Arc<Vec<DomainInfo>>,
    alternate: Index<u32>,
    upn: Index<u32>,
    /// By domain DN and `sAMAccountName`.
    sam: Index<u32>,
}

/// What was read, searchable like the directory: the simulation's [`Directory`].
pub struct Snapshot {
    objects: Arc<Vec<Object>>,
    alternate: Option<String>,
    forests: HashMap<String, ForestIndex>,
}

fn domain_dn(dns: &str) -> String {
    dns.split('.')
        .map(|l| format!("dc={l}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Which lookup.
#[derive(Clone, Copy)]
enum By<'a> {
    Alternate(&'a str),
    Upn(&'a str),
    Sam { domain_dn: &'a str, sam: &'a str },
}

impl By<'_> {
    fn hash(self) -> u64 {
        match self {
            By::Alternate(v) => fold_hash("alternate", v),
            By::Upn(v) => fold_hash("upn", v),
            By::Sam { domain_dn, sam } => fold_hash(&domain_dn.to_lowercase(), sam),
        }
    }

    /// The object really holds the value (not just its hash).
    fn holds(self, o: &Object) -> bool {
        match self {
            By::Alternate(v) => o.alternate_ids.iter().any(|a| eq_ignoring_case(a, v)),
            By::Upn(v) => o
                .entry
                .user_principal_name
                .as_deref()
                .is_some_and(|u| eq_ignoring_case(u, v)),
            By::Sam { domain_dn: dn, sam } => {
                domain_dn(&o.domain).eq_ignore_ascii_case(dn)
                    && o.entry
                        .sam_account_name
                        .as_deref()
                        .is_some_and(|s| eq_ignoring_case(s, sam))
            }
        }
    }
}

impl Snapshot {
    /// Indexes `objects` by alternate ID (`alternate` names the attribute), UPN and
    /// `sAMAccountName`, per forest.
    pub fn new(
        objects: Arc<Vec<Object>>,
        domains: &HashMap<String, Arc<Vec<DomainInfo>>>,
        alternate: Option<&str>,
    ) -> Snapshot {
        type Lists = (Vec<(u64, u32)>, Vec<(u64, u32)>, Vec<(u64, u32)>);
        let mut lists: HashMap<&str, Lists> = HashMap::new();
        for (i, o) in objects.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            let (alt, upn, sam) = lists.entry(&*o.forest).or_default();
            for v in &o.alternate_ids {
                alt.push((By::Alternate(v).hash(), i));
            }
            if let Some(v) = &o.entry.user_principal_name {
                upn.push((By::Upn(v).hash(), i));
            }
            if let Some(v) = &o.entry.sam_account_name {
                let dn = domain_dn(&o.domain);
                sam.push((
                    By::Sam {
                        domain_dn: &dn,
                        sam: v,
                    }
                    .hash(),
                    i,
                ));
            }
        }
        let mut forests: HashMap<String, ForestIndex> = domains
            .iter()
            .map(|(f, d)| {
                (
                    f.clone(),
                    ForestIndex {
                        domains: d.clone(),
                        ..Default::default()
                    },
                )
            })
            .collect();
        for (f, (alt, upn, sam)) in lists {
            let ix = forests.entry(f.to_string()).or_default();
            ix.alternate = Index::new(alt);
            ix.upn = Index::new(upn);
            ix.sam = Index::new(sam);
        }
        Snapshot {
            objects,
            alternate: alternate.map(str::to_string),
            forests,
        }
    }

    /// The objects of `forest` found by `by`.
    fn find(&self, forest: &str, by: By<'_>) -> Option<Vec<usize>> {
        let f = self.forests.get(forest)?;
        let index = match by {
            By::Alternate(_) => &f.alternate,
            By::Upn(_) => &f.upn,
            By::Sam { .. } => &f.sam,
        };
        Some(
            index
                .get(by.hash())
                .map(|i| i as usize)
                .filter(|i| self.objects.get(*i).is_some_and(|o| by.holds(o)))
                .collect(),
        )
    }

    fn hits(&self, forest: &str, query: &UserQuery) -> Result<Vec<usize>, DirectoryError> {
        let by = match query {
            UserQuery::AttributeEquals { attribute, value } => {
                if self
                    .alternate
                    .as_deref()
                    .is_some_and(|a| a.eq_ignore_ascii_case(attribute))
                {
                    By::Alternate(value)
                } else if attribute.eq_ignore_ascii_case("userPrincipalName") {
                    By::Upn(value)
                } else {
                    return Err(DirectoryError::SearchFailed {
                        forest: forest.to_string(),
                        reason: format!("{attribute} is not indexed by the audit"),
                    });
                }
            }
            UserQuery::SamAccountName { domain_dn, sam } => By::Sam { domain_dn, sam },
        };
        self.find(forest, by)
            .ok_or_else(|| DirectoryError::UnknownForest {
                forest: forest.to_string(),
            })
    }

    /// The objects of `forests` holding `value` as their alternate ID.
    fn alternate_holders(&self, forests: &[String], value: &str) -> Vec<usize> {
        forests
            .iter()
            .filter_map(|f| self.find(f, By::Alternate(value)))
            .flatten()
            .collect()
    }

    /// The objects of `forests` holding `value` as their UPN.
    fn upn_holders(&self, forests: &[String], value: &str) -> Vec<usize> {
        forests
            .iter()
            .filter_map(|f| self.find(f, By::Upn(value)))
            .flatten()
            .collect()
    }
}

#[async_trait]
impl Directory for Snapshot {
    async fn search_users(
        &self,
        forest: &str,
        query: &UserQuery,
    ) -> Result<Vec<DirectoryEntry>, DirectoryError> {
        Ok(self
            .hits(forest, query)?
            .into_iter()
            .filter_map(|i| self.objects.get(i))
            .map(|o| o.entry.clone())
            .collect())
    }

    async fn domains(&self, forest: &str) -> Result<Arc<Vec<DomainInfo>>, DirectoryError> {
        self.forests
            .get(forest)
            .map(|f| f.domains.clone())
            .ok_or_else(|| DirectoryError::UnknownForest {
                forest: forest.to_string(),
            })
    }

    async fn bind(
        &self,
        account: AccountRef<'_>,
        _: &str,
    ) -> Result<Result<(), BindRejection>, DirectoryError> {
        Err(DirectoryError::SearchFailed {
            forest: account.forest.to_string(),
            reason: "the audit never binds".into(),
        })
    }

    async fn account_state(
        &self,
        account: AccountRef<'_>,
    ) -> Result<Option<crate::directory::AccountState>, DirectoryError> {
        Err(DirectoryError::SearchFailed {
            forest: account.forest.to_string(),
            reason: "the audit never reads account state".into(),
        })
    }
}

/// What the simulation needs from the configuration.
pub struct Settings<'a> {
    /// The alternate login ID, if configured.
    pub alternate: Option<&'a AlternateLoginId>,
    /// Every configured forest, in configuration order (UPN and `DOMAIN\sam` search them all).
    pub forests: Vec<String>,
    /// `federation.federated_domains` (empty: federation is not checked).
    pub federated_domains: &'a [String],
}

impl Settings<'_> {
    /// True when `o` can sign in with an alternate-ID value: alternate login ID is on, its
    /// forest is a lookup forest and it has a value.
    pub fn alternate_covers(&self, o: &Object) -> bool {
        self.alternate.is_some_and(|a| {
            a.lookup_forests.iter().any(|f| **f == *o.forest)
                && o.alternate_ids.iter().any(|v| !checks::is_blank(v))
        })
    }

    fn alternate_attribute(&self) -> &str {
        self.alternate.map_or("", |a| a.attribute.as_str())
    }

    fn lookup_forests(&self) -> &[String] {
        self.alternate.map_or(&[], |a| a.lookup_forests.as_slice())
    }

    /// A token naming `upn` would be refused: its domain is not routable, or (with
    /// federated domains configured) not under any of them.
    fn refused(&self, upn: &str) -> bool {
        !checks::routable(upn)
            || (!self.federated_domains.is_empty()
                && issuer_for_upn(upn, self.federated_domains).is_none())
    }
}

/// Which identifier of an account is being tried.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Identifier {
    Alternate,
    Upn,
    DownLevel,
}

/// A failed identifier: the rule and the other objects involved.
struct Failed {
    rule: Rule,
    attribute: String,
    value: String,
    related: Vec<usize>,
    detail: Option<String>,
}

/// The simulation over a read directory.
pub struct Simulation<'a> {
    objects: Arc<Vec<Object>>,
    snapshot: Arc<Snapshot>,
    resolver: Resolver,
    settings: &'a Settings<'a>,
    netbios: HashMap<(String, String), String>,
}

/// The simulation could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the sign-in simulation: {0}")]
pub struct SetupError(#[from] prometheus::Error);

impl SetupError {
    /// Stable code: `setup`.
    pub fn code(&self) -> &'static str {
        "setup"
    }
}

impl<'a> Simulation<'a> {
    /// A simulation over `read` (its objects move into the shared snapshot).
    pub fn new(read: Read, settings: &'a Settings<'a>) -> Result<Simulation<'a>, SetupError> {
        let objects = Arc::new(read.objects);
        let alternate = settings.alternate.map(|a| a.attribute.as_str());
        let snapshot = Arc::new(Snapshot::new(objects.clone(), &read.domains, alternate));
        // A private registry: the simulation's searches are not the service's.
        let metrics = Metrics::standalone()?;
        let resolver = Resolver::new(
            snapshot.clone(),
            settings.alternate.cloned(),
            settings.forests.clone(),
            CacheConfig {
                positive_ttl: Duration::from_secs(1),
                negative_ttl: Duration::from_secs(1),
                max_entries: 1,
            },
            metrics.cache.clone(),
            metrics.resolve.clone(),
            Events::new(metrics.events.clone()),
        );
        let netbios = read
            .domains
            .iter()
            .flat_map(|(f, ds)| {
                ds.iter()
                    .map(|d| ((f.clone(), d.dns_name.clone()), d.netbios_name.clone()))
            })
            .collect();
        Ok(Simulation {
            objects,
            snapshot,
            resolver,
            settings,
            netbios,
        })
    }

    /// The objects read (shared with the simulated directory).
    pub fn objects(&self) -> &Arc<Vec<Object>> {
        &self.objects
    }

    fn dn(&self, i: usize) -> Option<String> {
        self.objects.get(i).map(|o| o.entry.dn.clone())
    }

    /// The identifiers a user of `o` could type.
    fn identifiers(&self, o: &Object) -> Vec<(Identifier, String, String)> {
        let mut out = Vec::new();
        if self.settings.alternate_covers(o) {
            for v in o.alternate_ids.iter().filter(|v| !checks::is_blank(v)) {
                out.push((
                    Identifier::Alternate,
                    self.settings.alternate_attribute().to_string(),
                    v.clone(),
                ));
            }
        }
        // A UPN equal to one of the account's own alternate IDs is the same identifier.
        if let Some(v) = o.entry.user_principal_name.as_ref().filter(|v| {
            !checks::is_blank(v)
                && !out
                    .iter()
                    .any(|(_, _, alt): &(Identifier, String, String)| eq_ignoring_case(alt, v))
        }) {
            out.push((Identifier::Upn, "userPrincipalName".into(), v.clone()));
        }
        let netbios = self
            .netbios
            .get(&(o.forest.to_string(), o.domain.to_string()));
        if let (Some(nb), Some(sam)) = (netbios, &o.entry.sam_account_name) {
            out.push((
                Identifier::DownLevel,
                "sAMAccountName".into(),
                format!("{nb}\\{sam}"),
            ));
        }
        out
    }

    fn classify(
        &self,
        i: usize,
        o: &Object,
        kind: Identifier,
        attribute: &str,
        value: &str,
        r: &Resolution,
    ) -> Option<Failed> {
        let failed = |rule, related: Vec<usize>| Failed {
            rule,
            attribute: attribute.to_string(),
            value: value.to_string(),
            related: related.into_iter().filter(|j| *j != i).collect(),
            detail: None,
        };
        if let Some(account) = &r.account {
            if account.distinguished_name.eq_ignore_ascii_case(&o.entry.dn) {
                if kind == Identifier::Alternate {
                    let subject = Subject {
                        account,
                        via: r.via.unwrap_or(Via::AlternateLoginId),
                        login: &r.login,
                        inside_corporate_network: false,
                    };
                    if self.settings.refused(&subject.cloud_upn()) {
                        return Some(failed(Rule::AltIdDomainNotFederated, Vec::new()));
                    }
                }
                return None;
            }
        }
        let code = r.failure.as_ref().map(|f| f.code);
        match code {
            Some(FailureCode::Msis8012) => {
                return Some(Failed {
                    attribute: "sAMAccountName".into(),
                    value: String::new(),
                    ..failed(Rule::MissingSamAccountName, Vec::new())
                })
            }
            Some(FailureCode::Msis8013) => {
                return Some(Failed {
                    attribute: "canonicalName".into(),
                    value: o.entry.canonical_name.clone().unwrap_or_default(),
                    ..failed(Rule::BadCanonicalName, Vec::new())
                })
            }
            _ => {}
        }
        let other = r
            .account
            .as_ref()
            .map(|a| a.distinguished_name.to_lowercase());
        let by_dn = |dn: &str| {
            self.objects
                .iter()
                .position(|o| o.entry.dn.eq_ignore_ascii_case(dn))
        };
        let lookup = self.settings.lookup_forests();
        Some(match kind {
            Identifier::Alternate => {
                let rule = if code == Some(FailureCode::Msis8014) {
                    Rule::AltIdAmbiguousAcrossForests
                } else {
                    Rule::AltIdAmbiguousInForest
                };
                failed(rule, self.snapshot.alternate_holders(lookup, value))
            }
            // The alternate-ID lookup answered (no UPN fallback): another account has it.
            Identifier::Upn if self.settings.alternate.is_some() && r.upn_fallback.is_none() => {
                failed(
                    Rule::AltIdShadowsUpn,
                    self.snapshot.alternate_holders(lookup, value),
                )
            }
            Identifier::Upn => failed(
                Rule::UpnAmbiguous,
                self.snapshot.upn_holders(&self.settings.forests, value),
            ),
            Identifier::DownLevel => {
                let mut related: Vec<usize> =
                    other.as_deref().and_then(by_dn).into_iter().collect();
                if r.outcome == Outcome::Ambiguous {
                    let sam = o.entry.sam_account_name.as_deref().unwrap_or("");
                    related.extend(
                        self.objects
                            .iter()
                            .enumerate()
                            .filter(|(_, x)| {
                                x.forest == o.forest
                                    && x.domain == o.domain
                                    && x.entry
                                        .sam_account_name
                                        .as_deref()
                                        .is_some_and(|s| s.eq_ignore_ascii_case(sam))
                            })
                            .map(|(j, _)| j),
                    );
                }
                failed(Rule::DownLevelLoginFails, related)
            }
        })
    }

    /// Simulates every identifier of the objects `simulate` selects (enabled, audited,
    /// reported) and returns the findings, including the `info` ones for disabled accounts
    /// that block them (when `reported` selects those).
    pub async fn run(
        &self,
        simulate: impl Fn(usize, &Object) -> bool,
        reported: impl Fn(usize, &Object) -> bool,
    ) -> Vec<Finding> {
        let mut out = Vec::new();
        // (rule, disabled object, attribute, value) → the accounts it blocks.
        let mut blockers: BTreeMap<(Rule, usize, String, String), Vec<String>> = BTreeMap::new();
        for (i, o) in self.objects.iter().enumerate() {
            if !simulate(i, o) {
                continue;
            }
            let mut seen: Vec<Rule> = Vec::new();
            for (kind, attribute, value) in self.identifiers(o) {
                let failed = match login::parse(&value) {
                    Err(e) => Some(Failed {
                        rule: Rule::IdentifierRejected,
                        attribute: attribute.clone(),
                        value: value.clone(),
                        related: Vec::new(),
                        detail: Some(format!("{} ({})", e, e.code())),
                    }),
                    Ok(login) => {
                        let r = self.resolve(&login).await;
                        self.classify(i, o, kind, &attribute, &value, &r)
                    }
                };
                let Some(f) = failed else { continue };
                // MSIS8012/8013 are about the account: once, whichever identifier found it.
                if matches!(f.rule, Rule::MissingSamAccountName | Rule::BadCanonicalName) {
                    if seen.contains(&f.rule) {
                        continue;
                    }
                    seen.push(f.rule);
                }
                for j in &f.related {
                    let Some(b) = self.objects.get(*j) else {
                        continue;
                    };
                    if !b.enabled() && reported(*j, b) {
                        let (attr, val) = blocking_value(b, f.rule, &f.value, self.settings);
                        blockers
                            .entry((f.rule, *j, attr, val))
                            .or_default()
                            .push(o.entry.dn.clone());
                    }
                }
                let related = f.related.iter().filter_map(|j| self.dn(*j)).collect();
                let mut finding = Finding::new(f.rule, o, &f.attribute, &f.value).related(related);
                if let Some(d) = f.detail {
                    finding = finding.fix(format!("{}; {d}", f.rule.fix()));
                }
                out.push(finding);
            }
            if !self.settings.alternate_covers(o) {
                let upn = o.entry.user_principal_name.as_deref().unwrap_or("");
                if checks::is_blank(upn) || self.settings.refused(upn) {
                    out.push(Finding::new(
                        Rule::NoAltIdNonroutableUpn,
                        o,
                        "userPrincipalName",
                        upn,
                    ));
                }
            }
        }
        for ((rule, j, attribute, value), blocked) in blockers {
            if let Some(b) = self.objects.get(j) {
                out.push(
                    Finding::new(rule, b, &attribute, &value)
                        .severity(Severity::Info)
                        .related(blocked)
                        .fix(format!(
                            "disabled, yet still blocks the accounts listed: delete it or clear its {attribute}"
                        )),
                );
            }
        }
        out
    }

    async fn resolve(&self, login: &Login) -> Resolution {
        self.resolver.resolve_uncached(login).await
    }
}

/// The value by which a disabled account `b` takes part in a failure of `rule` on `value`.
fn blocking_value(b: &Object, rule: Rule, value: &str, s: &Settings<'_>) -> (String, String) {
    let same = |v: &&String| v.eq_ignore_ascii_case(value);
    match rule {
        Rule::UpnAmbiguous => (
            "userPrincipalName".into(),
            b.entry.user_principal_name.clone().unwrap_or_default(),
        ),
        Rule::DownLevelLoginFails => (
            "sAMAccountName".into(),
            b.entry.sam_account_name.clone().unwrap_or_default(),
        ),
        _ => (
            s.alternate_attribute().to_string(),
            b.alternate_ids
                .iter()
                .find(same)
                .cloned()
                .unwrap_or_else(|| value.to_string()),
        ),
    }
}
