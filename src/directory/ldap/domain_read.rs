//! Base-object reads on the domain controllers of one domain, for what the global catalog does
//! not hold (see [`crate::directory::partial_attribute_set`]): an account's attributes outside
//! the partial attribute set (`mS-DS-ConsistencyGuid`), merged into the resolution before it is
//! cached; its password-expiry facts, read fresh at each password sign-in; its state (`account`
//! reads through [`read_base`]); the domain head object's lockout policy; and the account a
//! Kerberos ticket names (a subtree search of the domain, [`windows_account`]). Every read goes to
//! the first DC not in backoff that answers, under the one failover policy (`failover`).

use super::bind_pool::{BindFailure, BindPool};
use super::entry::{attr, bin_attr};
use super::failover::{refused, Attempt, Failover};
use super::search_pool::{SearchPool, ServerError};
use crate::config::ServiceAccount;
use crate::directory::filter::{escape_value, USER_CLASS};
use crate::directory::windows_account::{sid_to_string, WINDOWS_ACCOUNT_ATTRIBUTES};
use crate::directory::{
    DirectoryError, DomainAttributes, DomainLockoutPolicy, PasswordExpiry, WindowsAccount,
    WindowsLookup, DOMAIN_ATTRIBUTES, PASSWORD_EXPIRY_ATTRIBUTES,
};
use ldap3::{Scope, SearchEntry};

/// One base-scope read of `dn` (filter `filter`) for `attrs` on the first of `pools` that
/// answers ([`Failover::SERVERS_ONLY`]). `Ok(None)`: no such object on that DC (LDAP result 32
/// or no entry), an answer like any other; an LDAP refusal is an answer too (an error no other
/// DC is asked about).
pub(super) async fn read_base(
    pools: &[SearchPool],
    forest: &str,
    dn: &str,
    filter: &str,
    attrs: &[&str],
) -> Result<Option<SearchEntry>, DirectoryError> {
    Failover::SERVERS_ONLY
        .run(pools, |pool| async move {
            match pool.search(dn, Scope::Base, filter, attrs).await {
                Ok(entries) => Attempt::Answer(Ok(entries.into_iter().next())),
                Err(ServerError::NoSuchObject(_)) => Attempt::Answer(Ok(None)),
                Err(ServerError::Refused(reason)) => {
                    Attempt::Answer(Err(refused(forest, &pool.server, &reason)))
                }
                Err(ServerError::Unavailable(reason)) => Attempt::ServerFailed(reason),
            }
        })
        .await
        .unwrap_or_else(|e| Err(e.unreachable(forest)))
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

/// The lockout policy attributes of a domain head object.
const LOCKOUT_ATTRIBUTES: &[&str] = &[
    "lockoutThreshold",
    "lockOutObservationWindow",
    "lockoutDuration",
];

/// The domain's own lockout policy from its head object `domain_dn`, read as `account` on a
/// fresh connection to the first of `pools` (the domain's DCs, under the password binds'
/// admission) that answers ([`Failover::SERVERS_ONLY`]). A DC without a free bind slot is
/// passed over (busy, not down: nothing is said about its health); a refusal (the service bind
/// or the search) ends the read without a verdict on the DC ([`BindPool::read_as`]).
pub(super) async fn lockout_policy(
    pools: &[BindPool],
    account: &ServiceAccount,
    forest: &str,
    domain_dn: &str,
) -> Result<Option<DomainLockoutPolicy>, DirectoryError> {
    Failover::SERVERS_ONLY
        .run(pools, |pool| async move {
            let url = &pool.server.url;
            let read = pool
                .read_as(
                    &account.user,
                    account.password.expose(),
                    domain_dn,
                    LOCKOUT_ATTRIBUTES,
                )
                .await;
            match read {
                Ok(Ok(entry)) => {
                    let read = |name| entry.as_ref().and_then(|e| attr(e, name));
                    Attempt::Answer(
                        DomainLockoutPolicy::from_attributes(
                            read("lockoutThreshold").as_deref(),
                            read("lockOutObservationWindow").as_deref(),
                            read("lockoutDuration").as_deref(),
                        )
                        .map(Some)
                        .ok_or_else(|| DirectoryError::SearchFailed {
                            forest: forest.to_string(),
                            reason: format!(
                                "{domain_dn} on {url} has no readable lockoutThreshold"
                            ),
                        }),
                    )
                }
                Ok(Err(reason)) => Attempt::Settled(Err(DirectoryError::SearchFailed {
                    forest: forest.to_string(),
                    reason: format!("{url}: {reason}"),
                })),
                Err(BindFailure::Unavailable(reason)) => Attempt::ServerFailed(reason),
                Err(BindFailure::QueueFull { waited }) => {
                    Attempt::Busy(format!("no bind slot within {waited:?}"))
                }
            }
        })
        .await
        .unwrap_or_else(|e| Err(e.unreachable(forest)))
}

/// The account a Kerberos ticket names: one subtree search under `domain_dn` on the first of
/// `pools` (the domain's DCs) that answers. Users and computers by `sAMAccountName`, users by
/// UPN; more than one match is refused, never guessed.
pub(super) async fn windows_account(
    pools: &[SearchPool],
    forest: &str,
    domain_dn: &str,
    lookup: WindowsLookup<'_>,
    alternate_attribute: Option<&str>,
) -> Result<Option<WindowsAccount>, DirectoryError> {
    let filter = match lookup {
        WindowsLookup::SamAccountName(sam) => {
            format!(
                "(&(objectClass=user)(sAMAccountName={}))",
                escape_value(sam)
            )
        }
        WindowsLookup::Upn(upn) => {
            format!("(&{USER_CLASS}(userPrincipalName={}))", escape_value(upn))
        }
    };
    let mut attrs: Vec<&str> = WINDOWS_ACCOUNT_ATTRIBUTES.to_vec();
    if let Some(a) = alternate_attribute {
        attrs.push(a);
    }
    let (filter, attrs) = (filter.as_str(), attrs.as_slice());
    let entries = Failover::SERVERS_ONLY
        .run(pools, |pool| async move {
            match pool.search(domain_dn, Scope::Subtree, filter, attrs).await {
                Ok(entries) => Attempt::Answer(Ok(entries)),
                Err(ServerError::NoSuchObject(_)) => Attempt::Answer(Ok(Vec::new())),
                Err(ServerError::Refused(reason)) => {
                    Attempt::Answer(Err(refused(forest, &pool.server, &reason)))
                }
                Err(ServerError::Unavailable(reason)) => Attempt::ServerFailed(reason),
            }
        })
        .await
        .unwrap_or_else(|e| Err(e.unreachable(forest)))?;
    let mut entries = entries.into_iter();
    let Some(entry) = entries.next() else {
        return Ok(None);
    };
    if entries.next().is_some() {
        return Err(DirectoryError::SearchFailed {
            forest: forest.to_string(),
            reason: format!("more than one account in {domain_dn} matches {lookup:?}"),
        });
    }
    let int = |name: &str| attr(&entry, name).and_then(|v| v.trim().parse::<i64>().ok());
    let sam = attr(&entry, "sAMAccountName");
    let (Some(sam), Some(uac)) = (sam, int("userAccountControl")) else {
        return Err(DirectoryError::SearchFailed {
            forest: forest.to_string(),
            reason: format!(
                "{} came back without a readable sAMAccountName or userAccountControl",
                entry.dn
            ),
        });
    };
    let computer = entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("objectClass"))
        .is_some_and(|(_, v)| v.iter().any(|c| c.eq_ignore_ascii_case("computer")));
    Ok(Some(WindowsAccount {
        dn: entry.dn.clone(),
        sam_account_name: sam,
        user_principal_name: attr(&entry, "userPrincipalName"),
        alternate_id: alternate_attribute.and_then(|a| attr(&entry, a)),
        object_guid: bin_attr(&entry, "objectGUID"),
        object_sid: bin_attr(&entry, "objectSid").and_then(|s| sid_to_string(&s)),
        primary_group_id: int("primaryGroupID").and_then(|v| u32::try_from(v).ok()),
        computer,
        // userAccountControl is a signed 32-bit integer on the wire: keep its bits.
        user_account_control: uac as u32,
        pwd_last_set: int("pwdLastSet"),
        account_expires: int("accountExpires"),
        computed_control: int("msDS-User-Account-Control-Computed").map(|v| v as u32),
    }))
}
