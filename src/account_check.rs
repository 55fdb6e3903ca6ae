//! The account-state check an SSO reuse and an OAuth refresh make (enabled, still at its DN,
//! no password set since the sign-in), read on a domain controller at most once per
//! `passive.account_state_max_age` per account on each node. AD FS checks nothing at reuse;
//! altgate keeps the guarantee that a disabled or password-changed account loses its session,
//! within that window: a change made through altgate's own password pages applies at once on
//! the node that made it (it forgets the account), any other change (an admin's reset, a
//! disable, another node) within the window. `0s` reads on every reuse. Failed reads are never
//! kept.

use crate::directory::{AccountRef, AccountState, Directory, DirectoryError};
use std::time::Duration;

/// Recent account-state reads, per node.
pub struct AccountStates {
    cache: Option<moka::future::Cache<String, Option<AccountState>>>,
}

impl AccountStates {
    /// Reads kept `max_age` (none when zero), at most `capacity` accounts.
    pub fn new(max_age: Duration, capacity: u64) -> Self {
        AccountStates {
            cache: (!max_age.is_zero()).then(|| {
                moka::future::Cache::builder()
                    .max_capacity(capacity.max(1))
                    .time_to_live(max_age)
                    .build()
            }),
        }
    }

    fn key(account: &AccountRef<'_>) -> String {
        format!(
            "{}\n{}",
            account.forest.to_ascii_lowercase(),
            account.dn.to_lowercase()
        )
    }

    /// The account's state: from a read younger than the window, or read now through
    /// `directory` (concurrent reads of one account share one directory read).
    pub async fn get(
        &self,
        directory: &dyn Directory,
        account: AccountRef<'_>,
    ) -> Result<Option<AccountState>, DirectoryError> {
        let Some(cache) = &self.cache else {
            return directory.account_state(account).await;
        };
        cache
            .try_get_with(Self::key(&account), directory.account_state(account))
            .await
            .map_err(|e| (*e).clone())
    }

    /// Forgets the account (its password was just changed here): the next check reads it.
    pub async fn forget(&self, forest: &str, dn: &str) {
        if let Some(cache) = &self.cache {
            let key = Self::key(&AccountRef::new(forest, "", dn));
            cache.invalidate(&key).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::embedded::EmbeddedDirectory;
    use std::path::Path;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// The demo directory, counting account-state reads; failing them when `down`.
    struct Counting {
        inner: EmbeddedDirectory,
        reads: AtomicUsize,
        down: std::sync::atomic::AtomicBool,
    }

    #[async_trait::async_trait]
    impl Directory for Counting {
        async fn search_users(
            &self,
            forest: &str,
            query: &crate::directory::UserQuery,
        ) -> Result<Vec<crate::directory::DirectoryEntry>, DirectoryError> {
            self.inner.search_users(forest, query).await
        }
        async fn domains(
            &self,
            forest: &str,
        ) -> Result<Arc<Vec<crate::directory::DomainInfo>>, DirectoryError> {
            self.inner.domains(forest).await
        }
        async fn bind(
            &self,
            account: AccountRef<'_>,
            password: &str,
        ) -> Result<Result<(), crate::directory::BindRejection>, DirectoryError> {
            self.inner.bind(account, password).await
        }
        async fn account_state(
            &self,
            account: AccountRef<'_>,
        ) -> Result<Option<AccountState>, DirectoryError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            if self.down.load(Ordering::SeqCst) {
                return Err(DirectoryError::Unreachable {
                    forest: "contoso.com".into(),
                    reason: "test: down".into(),
                });
            }
            self.inner.account_state(account).await
        }
    }

    #[tokio::test]
    async fn reads_are_kept_for_the_window_failures_never_and_forgetting_reads_again() {
        let dir = Counting {
            inner: EmbeddedDirectory::load(Path::new("config/demo-directory.yaml")).expect("demo"),
            reads: AtomicUsize::new(0),
            down: Default::default(),
        };
        let dn = "CN=John Doe,OU=Staff,DC=contoso,DC=com";
        let account = || AccountRef::new("contoso.com", "contoso.com", dn);
        let kept = AccountStates::new(Duration::from_secs(60), 100);
        let first = kept.get(&dir, account()).await.expect("read");
        assert_eq!(kept.get(&dir, account()).await.expect("kept"), first);
        assert_eq!(dir.reads.load(Ordering::SeqCst), 1, "one directory read");
        kept.forget("contoso.com", dn).await;
        dir.down.store(true, Ordering::SeqCst);
        assert!(
            kept.get(&dir, account()).await.is_err(),
            "read again, failed"
        );
        assert!(
            kept.get(&dir, account()).await.is_err(),
            "the failure was not kept"
        );
        assert_eq!(dir.reads.load(Ordering::SeqCst), 3);
        let none = AccountStates::new(Duration::ZERO, 100);
        dir.down.store(false, Ordering::SeqCst);
        none.get(&dir, account()).await.expect("read");
        none.get(&dir, account()).await.expect("read");
        assert_eq!(dir.reads.load(Ordering::SeqCst), 5, "zero keeps nothing");
    }
}
