//! Base-object reads of one account on the domain controllers of its own domain, for what the
//! global catalog does not hold (see [`crate::directory::pas`]): the account attributes outside
//! the partial attribute set (`mS-DS-ConsistencyGuid`), merged into the resolution before it is
//! cached, and the password-expiry facts, read fresh at each password sign-in. Same pools and
//! failover as the account-state read (`account`): the first DC not in backoff that answers.

use super::entry::{attr, bin_attr};
use super::search_pool::{SearchPool, ServerError};
use crate::directory::{
    DirectoryError, DomainAttributes, PasswordExpiry, DOMAIN_ATTRIBUTES, PASSWORD_EXPIRY_ATTRIBUTES,
};
use ldap3::{Scope, SearchEntry};

/// One base-scope read of `dn` (filter `filter`) for `attrs` on the first of `pools` that
/// answers. `Ok(None)`: no such object on that DC.
pub(super) async fn read_base(
    pools: &[SearchPool],
    forest: &str,
    dn: &str,
    filter: &str,
    attrs: &[&str],
) -> Result<Option<SearchEntry>, DirectoryError> {
    let mut last = String::from("every domain controller failed recently");
    for pool in pools {
        if pool.server.backing_off() {
            continue;
        }
        match pool.search(dn, Scope::Base, filter, attrs).await {
            Ok(entries) => {
                pool.server.mark_up();
                return Ok(entries.into_iter().next());
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

/// The account's [`DOMAIN_ATTRIBUTES`]. No user object at `dn` on the DC is an error (not yet
/// replicated there, or moved since the global catalog answered): never a guess.
pub(super) async fn domain_attributes(
    pools: &[SearchPool],
    forest: &str,
    dn: &str,
) -> Result<DomainAttributes, DirectoryError> {
    let entry = read_base(pools, forest, dn, "(objectClass=user)", DOMAIN_ATTRIBUTES)
        .await?
        .ok_or_else(|| DirectoryError::SearchFailed {
            forest: forest.to_string(),
            reason: format!("no user object at {dn} on the domain controllers of its domain"),
        })?;
    Ok(DomainAttributes {
        consistency_guid: bin_attr(&entry, "mS-DS-ConsistencyGuid").filter(|g| !g.is_empty()),
    })
}

/// The account's password-expiry facts; the domain's `maxPwdAge` (from the domain head object
/// `domain_dn`) is read only when the DC does not compute `msDS-UserPasswordExpiryTimeComputed`.
/// `Ok(None)`: no user object at `dn`.
pub(super) async fn password_expiry(
    pools: &[SearchPool],
    forest: &str,
    dn: &str,
    domain_dn: &str,
) -> Result<Option<PasswordExpiry>, DirectoryError> {
    let Some(entry) = read_base(
        pools,
        forest,
        dn,
        "(objectClass=user)",
        PASSWORD_EXPIRY_ATTRIBUTES,
    )
    .await?
    else {
        return Ok(None);
    };
    let int =
        |e: &SearchEntry, name: &str| attr(e, name).and_then(|v| v.trim().parse::<i64>().ok());
    let mut expiry = PasswordExpiry {
        computed: int(&entry, "msDS-UserPasswordExpiryTimeComputed"),
        pwd_last_set: int(&entry, "pwdLastSet"),
        // userAccountControl is a signed 32-bit integer on the wire: keep its bits.
        user_account_control: int(&entry, "userAccountControl").map(|v| v as u32),
        max_pwd_age: None,
    };
    if expiry.computed.is_none() {
        expiry.max_pwd_age = read_base(pools, forest, domain_dn, "(objectClass=*)", &["maxPwdAge"])
            .await?
            .and_then(|head| int(&head, "maxPwdAge"));
    }
    Ok(Some(expiry))
}
