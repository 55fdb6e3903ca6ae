//! The embedded in-memory directory: demo mode and unit tests. It answers the same queries as a
//! global catalog would (case-insensitive equality, user objects only) from a YAML file, so a
//! newcomer can see every resolution outcome without Active Directory. Never used to prove AD
//! behaviour: the integration tests talk to real domain controllers.
//!
//! [`EmbeddedDirectory`] and its [`Directory`] implementation are here; the file format and
//! its loading are `file`, the searches and scans `search`, the password checks and changes
//! `passwords`.

mod file;
mod passwords;
mod search;

pub use file::{
    guid_bytes, DemoPwdLastSet, EmbeddedDomain, EmbeddedError, EmbeddedFile, EmbeddedForest,
    EmbeddedUser,
};

use super::{
    AccountRef, AccountState, BindRejection, Directory, DirectoryEntry, DirectoryError, DomainInfo,
    PasswordChangeError, ScanProgress, ScannedUser, UserQuery, WindowsAccount, WindowsLookup,
    UAC_ACCOUNTDISABLE,
};
use super::{BindResult, SearchResult};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// A demo user's state beside its entry: domain, extra attributes, `pwdLastSet`.
struct User {
    entry: DirectoryEntry,
    domain: String,
    extra: BTreeMap<String, String>,
    pwd_last_set: Option<i64>,
}

/// A demo forest: its domains, users and passwords.
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

impl EmbeddedDirectory {
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

impl EmbeddedDirectory {
    /// A demo user's state now (its password change since loading included).
    fn state_of(&self, forest: &str, u: &User) -> AccountState {
        let changed = self.changed_password(forest, &u.entry.dn).map(|(_, at)| at);
        AccountState {
            enabled: u
                .entry
                .user_account_control
                .is_some_and(|uac| uac & UAC_ACCOUNTDISABLE == 0),
            pwd_last_set: changed.or(u.pwd_last_set),
        }
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
            let outcome = result
                .as_ref()
                .map_or_else(SearchResult::of, |_| SearchResult::Ok);
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
        account: AccountRef<'_>,
        password: &str,
    ) -> Result<Result<(), BindRejection>, DirectoryError> {
        let start = std::time::Instant::now();
        let result = self.check_password(account, password);
        if let Some(m) = &self.metrics {
            m.observe_bind(account.domain, start.elapsed().as_secs_f64());
            m.count_bind(account.domain, BindResult::of(&result));
        }
        result
    }

    async fn account_state(
        &self,
        account: AccountRef<'_>,
    ) -> Result<Option<AccountState>, DirectoryError> {
        let AccountRef { forest, dn, .. } = account;
        Ok(self
            .forest(forest)?
            .user(dn)
            .map(|u| self.state_of(forest, u)))
    }

    async fn windows_account(
        &self,
        forest: &str,
        domain: &DomainInfo,
        lookup: WindowsLookup<'_>,
        alternate_attribute: Option<&str>,
    ) -> Result<Option<WindowsAccount>, DirectoryError> {
        self.windows_user(forest, &domain.dns_name, lookup, alternate_attribute)
    }

    async fn change_password(
        &self,
        account: AccountRef<'_>,
        old: &crate::secret::Secret,
        new: &crate::secret::Secret,
    ) -> Result<(), PasswordChangeError> {
        self.change(account, old, new)
    }

    async fn scan_users(
        &self,
        forest: &str,
        extra: &[&str],
        progress: ScanProgress<'_>,
    ) -> Result<Vec<ScannedUser>, DirectoryError> {
        let users = self.scan_forest(forest, extra)?;
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
        let users = self.scan_domain_users(forest, domain, base, attributes)?;
        progress(users.len() as u64);
        Ok(users)
    }
}

#[cfg(test)]
mod tests;
