//! Login resolution: "the user typed `jdoe@contoso.com`; which account in which forest is that?"
//!
//! [`login`] checks and classifies the input, [`decision`] holds the pure AD FS rules, and
//! [`Resolver`] runs them against a [`Directory`]: the alternate-ID attribute in every lookup
//! forest's global catalog concurrently, then the UPN fallback, with the cache in front.

mod compact;
pub mod decision;
pub mod login;

use crate::cache::CacheResult;
use crate::cache::{Lifetime, ResolutionCache};
use crate::config::{AlternateLoginId, CacheConfig};
use crate::directory::{
    AccountRef, Directory, DirectoryEntry, DirectoryError, UserQuery, UAC_ACCOUNTDISABLE,
};
use crate::events::{Events, LoginResolutionFailed, LoginResolved};
use crate::label::{kinds, label_set, Id};
use crate::metrics::{CacheMetrics, ResolveMetrics};
use base64::Engine;
use decision::{check_account, decide, messages, AccountDataError, Decision, ForestAnswer};
use login::Login;
use serde::Serialize;
use std::sync::Arc;
use tokio::time::Instant;

/// AD FS event id for these failures.
pub const EVENT_ID: u16 = 364;

label_set! {
    /// The outcome of a resolution.
    #[derive(Serialize)]
    #[serde(rename_all = "snake_case")]
    pub enum Outcome: kinds::ResolutionOutcome {
        /// Exactly one account.
        Resolved = "resolved",
        /// No account has this login.
        NotFound = "not_found",
        /// More than one account has it (MSIS8014/8015).
        Ambiguous = "ambiguous",
        /// Bad input, unusable account data (MSIS8012/8013) or no directory answered.
        Error = "error",
    }
}

label_set! {
    /// Which rule found the account.
    #[derive(Serialize)]
    #[serde(rename_all = "snake_case")]
    pub enum Via: kinds::ResolutionVia {
        /// The alternate login ID attribute.
        AlternateLoginId = "alternate_login_id",
        /// `userPrincipalName` (directly, or as the fallback).
        Upn = "upn",
        /// `DOMAIN\sam`.
        SamAccountName = "sam_account_name",
    }
}

label_set! {
    /// The `via` of a resolution that found no account.
    pub enum NoVia: kinds::ResolutionVia {
        /// No rule found an account.
        None = "none",
    }
}

label_set! {
    /// Why the UPN lookup ran after the alternate-ID lookup.
    #[derive(Serialize)]
    #[serde(rename_all = "snake_case")]
    pub enum UpnFallback: kinds::UpnFallback {
        /// The forests that answered had no account with this alternate ID.
        NoMatch = "no_match",
        /// No lookup forest answered (AD FS then falls back to the UPN directly).
        NoForestAnswered = "no_forest_answered",
    }
}

label_set! {
    /// The MSIS codes AD FS logs with event 364 for alternate login ID failures.
    pub enum Msis: kinds::MsisCode {
        /// The account has no `sAMAccountName`.
        Msis8012 = "MSIS8012",
        /// The account's `canonicalName` is not in the expected format.
        Msis8013 = "MSIS8013",
        /// Accounts in more than one forest have this login.
        Msis8014 = "MSIS8014",
        /// More than one account in one forest has this login.
        Msis8015 = "MSIS8015",
    }
}

/// The account a login resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedAccount {
    /// Forest DNS name.
    pub forest: String,
    /// Domain DNS name (from the DN's `DC=` components, as `canonicalName` is constructed):
    /// where the password bind goes.
    pub domain: String,
    /// NetBIOS name of that domain (from the partitions container), when it could be read.
    pub netbios_domain: Option<String>,
    /// On-premises UPN.
    pub user_principal_name: Option<String>,
    /// `sAMAccountName`.
    pub sam_account_name: String,
    /// Distinguished name.
    pub distinguished_name: String,
    /// Base64 of `mS-DS-ConsistencyGuid` (read from a DC of the account's domain) when present,
    /// else of `objectGUID`.
    pub immutable_id: Option<String>,
    /// `displayName`.
    pub display_name: Option<String>,
    /// `givenName`.
    pub given_name: Option<String>,
    /// `sn` (family name).
    pub surname: Option<String>,
    /// False when `userAccountControl` has ACCOUNTDISABLE.
    pub enabled: bool,
}

impl ResolvedAccount {
    /// The account as the directory names it (forest, domain, DN).
    pub fn account_ref(&self) -> AccountRef<'_> {
        AccountRef::new(&self.forest, &self.domain, &self.distinguished_name)
    }
}

/// Why a resolution failed: the stable code of every way a login can fail to resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureCode {
    /// The typed login was refused before any directory traffic.
    InvalidLogin(login::LoginError),
    /// No account has this login.
    NotFound,
    /// No forest (or no forest holding the named domain) could be reached.
    DirectoryUnavailable,
    /// MSIS8012: the account has no `sAMAccountName`.
    Msis8012,
    /// MSIS8013: the account's `canonicalName` is not in the expected format.
    Msis8013,
    /// MSIS8014: accounts in more than one forest have this login.
    Msis8014,
    /// MSIS8015: more than one account in one forest has this login.
    Msis8015,
}

impl FailureCode {
    /// The stable code: the MSIS code where AD FS has one, else `not_found`,
    /// `directory_unavailable` or the login check's `login_*` code.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureCode::InvalidLogin(kind) => kind.code(),
            FailureCode::NotFound => "not_found",
            FailureCode::DirectoryUnavailable => "directory_unavailable",
            FailureCode::Msis8012 => "MSIS8012",
            FailureCode::Msis8013 => "MSIS8013",
            FailureCode::Msis8014 => "MSIS8014",
            FailureCode::Msis8015 => "MSIS8015",
        }
    }

    /// The MSIS code, where AD FS has one.
    pub fn msis_code(self) -> Option<Msis> {
        match self {
            FailureCode::Msis8012 => Some(Msis::Msis8012),
            FailureCode::Msis8013 => Some(Msis::Msis8013),
            FailureCode::Msis8014 => Some(Msis::Msis8014),
            FailureCode::Msis8015 => Some(Msis::Msis8015),
            _ => None,
        }
    }

    /// The MSIS code's id, where AD FS has one.
    pub fn msis(self) -> Option<&'static str> {
        self.msis_code().map(Msis::id)
    }
}

impl std::fmt::Display for FailureCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for FailureCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Why a resolution failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// Stable code: an MSIS code, or `not_found`, `directory_unavailable`, `login_empty`...
    pub code: FailureCode,
    /// The MSIS code, where AD FS has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msis: Option<&'static str>,
    /// Always 364.
    pub event_id: u16,
    /// The message (the exact AD FS text for MSIS codes).
    pub message: String,
}

/// The result of resolving one login. Serializes to the `altgate resolve --json` shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolution {
    /// The login as typed, trimmed.
    pub login: String,
    /// What happened.
    pub outcome: Outcome,
    /// The rule that found the account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<Via>,
    /// The account, when resolved.
    #[serde(flatten)]
    pub account: Option<ResolvedAccount>,
    /// Why not, otherwise.
    #[serde(flatten)]
    pub failure: Option<Failure>,
    /// Forests searched.
    pub forests_searched: Vec<String>,
    /// Forests that could not be reached (the result is then never cached).
    pub unreachable_forests: Vec<String>,
    /// Set when the UPN fallback ran after the alternate-ID lookup.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upn_fallback: Option<UpnFallback>,
}

impl Resolution {
    fn lifetime(&self) -> Lifetime {
        if !self.unreachable_forests.is_empty() {
            return Lifetime::Uncacheable;
        }
        match self.outcome {
            Outcome::Resolved => Lifetime::Positive,
            Outcome::NotFound | Outcome::Ambiguous => Lifetime::Negative,
            Outcome::Error => match self.failure.as_ref().map(|f| f.code) {
                // Broken account data is a stable answer, like ambiguity.
                Some(FailureCode::Msis8012 | FailureCode::Msis8013) => Lifetime::Negative,
                _ => Lifetime::Uncacheable,
            },
        }
    }

    /// A resolution to `account` by `via`, made outside the resolver (a Kerberos computer
    /// account, which no login resolves to).
    pub fn resolved(login: String, via: Via, account: ResolvedAccount) -> Self {
        Resolution {
            login,
            outcome: Outcome::Resolved,
            via: Some(via),
            account: Some(account),
            failure: None,
            forests_searched: Vec::new(),
            unreachable_forests: Vec::new(),
            upn_fallback: None,
        }
    }

    fn failed(login: String, outcome: Outcome, code: FailureCode, message: String) -> Self {
        Resolution {
            login,
            outcome,
            via: None,
            account: None,
            failure: Some(Failure {
                code,
                msis: code.msis(),
                event_id: EVENT_ID,
                message,
            }),
            forests_searched: Vec::new(),
            unreachable_forests: Vec::new(),
            upn_fallback: None,
        }
    }
}

/// Resolves logins to accounts: the alternate-ID rules, the UPN fallback, `DOMAIN\sam`, and
/// the cache.
pub struct Resolver {
    directory: Arc<dyn Directory>,
    alternate: Option<AlternateLoginId>,
    forests: Vec<String>,
    cache: ResolutionCache<compact::Compact>,
    interner: compact::Interner,
    metrics: ResolveMetrics,
    events: Events,
}

impl Resolver {
    /// A resolver over `directory`. `forests` is every configured forest (UPN and `DOMAIN\sam`
    /// lookups search them all); the alternate ID searches only its lookup forests.
    pub fn new(
        directory: Arc<dyn Directory>,
        alternate: Option<AlternateLoginId>,
        forests: Vec<String>,
        cache: CacheConfig,
        cache_metrics: CacheMetrics,
        metrics: ResolveMetrics,
        events: Events,
    ) -> Self {
        Resolver {
            directory,
            alternate,
            forests,
            cache: ResolutionCache::new(cache, cache_metrics),
            interner: compact::Interner::default(),
            metrics,
            events,
        }
    }

    /// Resolves a typed login, through the cache. Logs and counts the outcome.
    pub async fn resolve(&self, input: &str) -> Arc<Resolution> {
        let start = Instant::now();
        let (resolution, hit) = match login::parse(input) {
            Err(e) => (
                Arc::new(Resolution::failed(
                    input.trim().chars().take(login::MAX_LOGIN_CHARS).collect(),
                    Outcome::Error,
                    FailureCode::InvalidLogin(e),
                    e.to_string(),
                )),
                false,
            ),
            Ok(login) => {
                // Kept compact (a few hundred bytes an identity), handed out whole.
                let key = login.cache_key();
                let (kept, hit) = self
                    .cache
                    .get_or_load(key.clone(), compact::Compact::lifetime, async {
                        let r = self.resolve_uncached(&login).await;
                        compact::Compact::pack(&r, &key, &self.interner)
                    })
                    .await;
                (Arc::new(kept.expand(&key)), hit)
            }
        };
        self.metrics
            .observe(CacheResult::of(hit), start.elapsed().as_secs_f64());
        self.record(&resolution);
        resolution
    }

    fn record(&self, r: &Resolution) {
        let via = r.via.map_or(NoVia::None.into(), Id::from);
        self.metrics.count(r.outcome, via);
        match (&r.account, &r.failure) {
            (Some(account), _) => self.events.emit(&LoginResolved {
                login: &r.login,
                via,
                forest: &account.forest,
                dn: &account.distinguished_name,
                unreachable_forests: &r.unreachable_forests,
                upn_fallback: r.upn_fallback.map(Id::from),
            }),
            (None, Some(f)) => self.events.emit(&LoginResolutionFailed {
                login: &r.login,
                outcome: r.outcome.into(),
                code: f.code.as_str(),
                msis: f.code.msis_code().map(Id::from),
                message: &f.message,
                forests: &r.forests_searched,
                unreachable_forests: &r.unreachable_forests,
                upn_fallback: r.upn_fallback.map(Id::from),
            }),
            (None, None) => {}
        }
    }

    /// Resolves without the cache (benchmarks, and the cache's loader).
    pub async fn resolve_uncached(&self, login: &Login) -> Resolution {
        match login {
            Login::Address(value) => self.resolve_address(value).await,
            Login::DownLevel { netbios, sam } => self.resolve_down_level(login, netbios, sam).await,
        }
    }

    async fn search_all(&self, forests: &[String], query: &UserQuery) -> Vec<ForestAnswer> {
        let searches = forests.iter().map(|f| async move {
            ForestAnswer {
                forest: f.clone(),
                result: self.directory.search_users(f, query).await,
            }
        });
        futures::future::join_all(searches).await
    }

    async fn resolve_address(&self, value: &str) -> Resolution {
        let mut searched: Vec<String> = Vec::new();
        let mut unreachable: Vec<String> = Vec::new();
        let mut fallback = None;
        if let Some(alt) = &self.alternate {
            let query = UserQuery::AttributeEquals {
                attribute: alt.attribute.clone(),
                value: value.to_string(),
            };
            let answers = self.search_all(&alt.lookup_forests, &query).await;
            note_forests(&answers, &mut searched, &mut unreachable);
            match decide(&answers) {
                Decision::NoMatch => fallback = Some(UpnFallback::NoMatch),
                Decision::NoForestAnswered => fallback = Some(UpnFallback::NoForestAnswered),
                decision => {
                    return self
                        .conclude(
                            value,
                            decision,
                            Via::AlternateLoginId,
                            searched,
                            unreachable,
                            None,
                        )
                        .await
                }
            }
            if let Some(reason) = fallback {
                self.metrics.count_fallback(reason);
            }
        }
        let query = UserQuery::AttributeEquals {
            attribute: "userPrincipalName".into(),
            value: value.to_string(),
        };
        let answers = self.search_all(&self.forests, &query).await;
        note_forests(&answers, &mut searched, &mut unreachable);
        let decision = decide(&answers);
        self.conclude(value, decision, Via::Upn, searched, unreachable, fallback)
            .await
    }

    async fn resolve_down_level(&self, login: &Login, netbios: &str, sam: &str) -> Resolution {
        let typed = login.as_typed();
        let lookups = self
            .forests
            .iter()
            .map(|f| async move { (f.clone(), self.directory.domains(f).await) });
        let mut unreachable = Vec::new();
        let mut target = None;
        for (forest, domains) in futures::future::join_all(lookups).await {
            match domains {
                Ok(list) => {
                    if let Some(d) = list
                        .iter()
                        .find(|d| d.netbios_name.eq_ignore_ascii_case(netbios))
                    {
                        target.get_or_insert((forest, d.dn.clone(), d.dns_name.clone()));
                    }
                }
                Err(_) => unreachable.push(forest),
            }
        }
        let Some((forest, domain_dn, dns_name)) = target else {
            let mut r = if unreachable.len() == self.forests.len() {
                Resolution::failed(
                    typed,
                    Outcome::Error,
                    FailureCode::DirectoryUnavailable,
                    "no forest could be reached to find the domain".into(),
                )
            } else {
                Resolution::failed(
                    typed,
                    Outcome::NotFound,
                    FailureCode::NotFound,
                    format!("no domain with NetBIOS name '{netbios}' in any reachable forest"),
                )
            };
            r.forests_searched = self.forests.clone();
            r.unreachable_forests = unreachable;
            return r;
        };
        let query = UserQuery::SamAccountName {
            domain_dn,
            sam: sam.to_string(),
        };
        let mut answers = self.search_all(std::slice::from_ref(&forest), &query).await;
        decision::only_in_domain(&mut answers, &dns_name);
        let mut searched = Vec::new();
        note_forests(&answers, &mut searched, &mut unreachable);
        let decision = decide(&answers);
        self.conclude(
            &typed,
            decision,
            Via::SamAccountName,
            searched,
            unreachable,
            None,
        )
        .await
    }

    /// Turns a decision into a resolution: the account checks for a unique match, the MSIS
    /// messages for ambiguity.
    async fn conclude(
        &self,
        login: &str,
        decision: Decision<'_>,
        via: Via,
        searched: Vec<String>,
        unreachable: Vec<String>,
        upn_fallback: Option<UpnFallback>,
    ) -> Resolution {
        let mut r = match decision {
            Decision::Unique { forest, entry } => match self.account(forest, entry).await {
                Ok(account) => Resolution {
                    login: login.to_string(),
                    outcome: Outcome::Resolved,
                    via: Some(via),
                    account: Some(account),
                    failure: None,
                    forests_searched: Vec::new(),
                    unreachable_forests: Vec::new(),
                    upn_fallback: None,
                },
                Err(AccountFailure::Data(AccountDataError::MissingSamAccountName)) => {
                    Resolution::failed(
                        login.to_string(),
                        Outcome::Error,
                        FailureCode::Msis8012,
                        messages::msis8012(login),
                    )
                }
                Err(AccountFailure::Data(AccountDataError::BadCanonicalName(c))) => {
                    Resolution::failed(
                        login.to_string(),
                        Outcome::Error,
                        FailureCode::Msis8013,
                        messages::msis8013(&c, login),
                    )
                }
                // Fail closed: an ImmutableID from objectGUID for an account whose consistency
                // GUID could not be read would sign the user into the wrong cloud account (or
                // none). Uncacheable, like every directory_unavailable.
                Err(AccountFailure::DomainController(e)) => Resolution::failed(
                    login.to_string(),
                    Outcome::Error,
                    FailureCode::DirectoryUnavailable,
                    format!(
                        "the account's attributes outside the global catalog could not be read \
                         from a domain controller of its domain: {e}"
                    ),
                ),
            },
            Decision::AmbiguousInForest { forest, identities } => Resolution::failed(
                login.to_string(),
                Outcome::Ambiguous,
                FailureCode::Msis8015,
                messages::msis8015(login, forest, &identities),
            ),
            Decision::AmbiguousAcrossForests { forests } => Resolution::failed(
                login.to_string(),
                Outcome::Ambiguous,
                FailureCode::Msis8014,
                messages::msis8014(login, &forests),
            ),
            Decision::NoMatch => Resolution::failed(
                login.to_string(),
                Outcome::NotFound,
                FailureCode::NotFound,
                format!(
                    "no account found for '{login}' in forests: {}",
                    searched.join(", ")
                ),
            ),
            Decision::NoForestAnswered => Resolution::failed(
                login.to_string(),
                Outcome::Error,
                FailureCode::DirectoryUnavailable,
                format!(
                    "no forest answered for '{login}'; unreachable: {}",
                    unreachable.join(", ")
                ),
            ),
        };
        r.forests_searched = searched;
        r.unreachable_forests = unreachable;
        r.upn_fallback = upn_fallback;
        r
    }

    /// The resolved account: the checks, then the attributes outside the global catalog's
    /// partial attribute set read from a DC of the account's domain (one base read), merged in
    /// before the resolution is cached.
    async fn account(
        &self,
        forest: &str,
        entry: &DirectoryEntry,
    ) -> Result<ResolvedAccount, AccountFailure> {
        let (sam, domain) = check_account(entry).map_err(AccountFailure::Data)?;
        let consistency_guid = match self
            .directory
            .domain_attributes(AccountRef::new(forest, &domain, &entry.dn))
            .await
        {
            Ok(Some(read)) => read.consistency_guid,
            // This directory has no partial attribute set: its search answer stands.
            Ok(None) => entry.consistency_guid.clone(),
            Err(e) => return Err(AccountFailure::DomainController(e)),
        };
        let netbios_domain = match self.directory.domains(forest).await {
            Ok(list) => list
                .iter()
                .find(|d| d.dns_name == domain)
                .map(|d| d.netbios_name.clone()),
            Err(_) => None,
        };
        let b64 = base64::engine::general_purpose::STANDARD;
        let immutable_id = consistency_guid
            .as_ref()
            .filter(|g| !g.is_empty())
            .or(entry.object_guid.as_ref())
            .map(|g| b64.encode(g));
        Ok(ResolvedAccount {
            forest: forest.to_string(),
            domain,
            netbios_domain,
            user_principal_name: entry.user_principal_name.clone(),
            sam_account_name: sam,
            distinguished_name: entry.dn.clone(),
            immutable_id,
            display_name: entry.display_name.clone(),
            given_name: entry.given_name.clone(),
            surname: entry.surname.clone(),
            enabled: entry
                .user_account_control
                .is_none_or(|uac| uac & UAC_ACCOUNTDISABLE == 0),
        })
    }

    /// Forgets every cached resolution.
    pub fn clear_cache(&self) {
        self.cache.clear();
    }
}

/// Why the account a unique match named could not be made a [`ResolvedAccount`].
enum AccountFailure {
    /// Its data breaks an AD FS rule (MSIS8012/8013).
    Data(AccountDataError),
    /// No domain controller of its domain answered the read of its non-GC attributes.
    DomainController(DirectoryError),
}

fn note_forests(
    answers: &[ForestAnswer],
    searched: &mut Vec<String>,
    unreachable: &mut Vec<String>,
) {
    for a in answers {
        if !searched.contains(&a.forest) {
            searched.push(a.forest.clone());
        }
        if a.result.is_err() && !unreachable.contains(&a.forest) {
            unreachable.push(a.forest.clone());
        }
    }
}

#[cfg(test)]
mod tests;
