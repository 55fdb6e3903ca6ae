//! Account-state reads on the domain controllers of the account's domain: a base-scope search of
//! the account's DN for `userAccountControl` and `pwdLastSet` on the first DC that answers (DCs
//! in backoff are skipped), over the DC's search pool bound as the service account. Never cached.
//!
//! Why a DC and not a global catalog: `pwdLastSet` is not in the global catalog's partial
//! attribute set, so a GC would answer without it (Samba's GC returns every attribute, which
//! hides this in tests). A DC of the domain also holds the domain's own replica, so neither
//! attribute waits for replication to a GC of another domain.

use super::domain_read::read_base;
use super::entry::attr;
use super::search_pool::SearchPool;
use crate::directory::{AccountState, DirectoryError, STATE_ATTRIBUTES, UAC_ACCOUNTDISABLE};
use ldap3::SearchEntry;

/// Reads the state of the account at `dn` from the first of `pools` (the domain's DCs, in
/// failover order) that answers, as every base read of a DC fails over
/// ([`super::domain_read::read_base`]). `Ok(None)`: no user object at `dn`.
pub(super) async fn read(
    pools: &[SearchPool],
    forest: &str,
    dn: &str,
) -> Result<Option<AccountState>, DirectoryError> {
    read_base(pools, forest, dn, "(objectClass=user)", STATE_ATTRIBUTES)
        .await?
        .map(|e| state(&e, forest))
        .transpose()
}

/// The state in one entry. Both attributes are always present on an AD user object: a missing
/// one means the service account may not read it, which is reported rather than guessed.
fn state(e: &SearchEntry, forest: &str) -> Result<AccountState, DirectoryError> {
    let read = |name: &str| {
        attr(e, name)
            .and_then(|v| v.trim().parse::<i64>().ok())
            .ok_or_else(|| DirectoryError::SearchFailed {
                forest: forest.to_string(),
                reason: format!("{} came back without a readable {name}", e.dn),
            })
    };
    let uac = read("userAccountControl")?;
    let pwd_last_set = read("pwdLastSet")?;
    Ok(AccountState {
        // userAccountControl is a signed 32-bit integer on the wire: keep its bits.
        enabled: (uac as u32) & UAC_ACCOUNTDISABLE == 0,
        pwd_last_set: Some(pwd_last_set),
    })
}
