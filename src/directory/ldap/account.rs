//! Account-state reads on the domain controllers of the account's domain: a base-scope search of
//! the account's DN for `userAccountControl` and `pwdLastSet` on the first DC that answers (DCs
//! in backoff are skipped), over the DC's search pool bound as the service account. Never cached.
//!
//! Why a DC and not a global catalog: `pwdLastSet` is not in the global catalog's partial
//! attribute set, so a GC would answer without it (Samba's GC returns every attribute, which
//! hides this in tests). A DC of the domain also holds the domain's own replica, so neither
//! attribute waits for replication to a GC of another domain.

use super::entry::attr;
use super::search_pool::{SearchPool, ServerError};
use crate::directory::{AccountState, DirectoryError, STATE_ATTRIBUTES, UAC_ACCOUNTDISABLE};
use ldap3::{Scope, SearchEntry};

/// Reads the state of the account at `dn` from the first of `pools` (the domain's DCs, in
/// failover order) that answers. `Ok(None)`: no user object at `dn`.
pub(super) async fn read(
    pools: &[SearchPool],
    forest: &str,
    dn: &str,
) -> Result<Option<AccountState>, DirectoryError> {
    let mut last = String::from("every domain controller failed recently");
    for pool in pools {
        if pool.server.backing_off() {
            continue;
        }
        match pool
            .search(dn, Scope::Base, "(objectClass=user)", STATE_ATTRIBUTES)
            .await
        {
            Ok(entries) => {
                pool.server.mark_up();
                return entries.first().map(|e| state(e, forest)).transpose();
            }
            Err(ServerError::NoSuchObject(_)) => {
                pool.server.mark_up();
                return Ok(None);
            }
            Err(ServerError::Refused(reason)) => {
                pool.server.mark_up();
                return Err(DirectoryError::SearchFailed {
                    forest: forest.to_string(),
                    reason: format!("{}: {reason}", pool.server.url),
                });
            }
            Err(ServerError::Unavailable(reason)) => {
                pool.server.mark_down(&reason);
                last = format!("{}: {reason}", pool.server.url);
            }
        }
    }
    Err(DirectoryError::Unreachable {
        forest: forest.to_string(),
        reason: last,
    })
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
