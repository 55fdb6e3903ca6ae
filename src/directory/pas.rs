//! Where each attribute altgate reads lives in Windows Active Directory: in the global catalog's
//! partial attribute set (PAS), or only on the domain controllers of the object's own domain.
//! Samba's global catalog returns every attribute, so only this table (and the tests with a
//! global catalog that strips non-PAS attributes) keep altgate honest about real AD.
//!
//! | Attribute | Read by | In Global Catalog (schema) | Where altgate reads it |
//! |---|---|---|---|
//! | `sAMAccountName` | resolution (MSIS8012), `DOMAIN\sam` search | True | global catalog |
//! | `userPrincipalName` | resolution (UPN search), `upn` claim | True | global catalog |
//! | `mail` | default alternate login ID | True (`isMemberOfPartialAttributeSet: TRUE`) | global catalog |
//! | other `alternate_login_id.attribute` | alternate-ID search | must be True: AD FS searches it in the GC too | global catalog |
//! | `objectGUID` | ImmutableID when no consistency GUID | True | global catalog |
//! | `userAccountControl` | `enabled` | True | global catalog (and DC for account state) |
//! | `displayName`, `givenName`, `sn` | `name`, `givenname`, `surname` claims | True | global catalog |
//! | `canonicalName` | MSIS8013 check only | **False** (constructed, system flags `0x08000014`) | asked of the GC; the domain comes from the DN (`DC=` components), a returned value is only format-checked |
//! | `mS-DS-ConsistencyGuid` | ImmutableID (Entra Connect's source anchor) | **False** | DC of the user's domain, one base read, cached with the resolution; a GC value is never asked for nor trusted |
//! | `proxyAddresses` | audit only (not sign-in) | **False** in the base schema (Exchange's schema extension adds it) | DC (`altgate audit` domain scan) |
//! | `mailNickname`, `targetAddress`, `isCriticalSystemObject` | audit only | not relied on | DC (`altgate audit` domain scan) |
//! | `pwdLastSet` | account state (SSO), expiry fallback | **False** | DC, fresh, never cached |
//! | `msDS-UserPasswordExpiryTimeComputed` | password-expiry claims | **False** (constructed) | DC, fresh at each password sign-in |
//! | `maxPwdAge`, `lockoutThreshold`, ... | expiry fallback, extranet lockout policy | domain head object (not a user attribute) | DC of the domain |
//!
//! Sources: the "In Global Catalog" line of each attribute's page in Microsoft's Active Directory
//! Schema reference (learn.microsoft.com/windows/win32/adschema/a-*), and the
//! `isMemberOfPartialAttributeSet` line of Microsoft's published schema ([MS-ADA1..3]), which
//! Samba ships for provisioning: an integration test (`tests/it/dc_attributes.rs`) checks every
//! attribute of [`super::ACCOUNT_ATTRIBUTES`], [`DOMAIN_ATTRIBUTES`], [`NOT_IN_GLOBAL_CATALOG`]
//! and the expiry read against that text.

use super::account_state::filetime_to_datetime;
use time::OffsetDateTime;

/// The account attributes outside the partial attribute set that sign-in needs, read from a DC
/// of the account's domain ([`super::Directory::domain_attributes`]).
pub const DOMAIN_ATTRIBUTES: &[&str] = &["mS-DS-ConsistencyGuid"];

/// What a password-expiry read asks for on a DC (base read of the account's DN).
pub const PASSWORD_EXPIRY_ATTRIBUTES: &[&str] = &[
    "msDS-UserPasswordExpiryTimeComputed",
    "pwdLastSet",
    "userAccountControl",
];

/// User attributes the table above found outside the partial attribute set of Windows AD's
/// default schema, each with why: a global catalog search on one of them finds nobody.
pub const NOT_IN_GLOBAL_CATALOG: &[(&str, &str)] = &[
    ("canonicalName", "constructed"),
    ("mS-DS-ConsistencyGuid", "not in the partial attribute set"),
    (
        "proxyAddresses",
        "not in the partial attribute set of the base schema (Exchange's schema extension adds it)",
    ),
    ("pwdLastSet", "not in the partial attribute set"),
    ("msDS-UserPasswordExpiryTimeComputed", "constructed"),
];

/// Why a global catalog of a default Windows AD schema cannot be searched on `attribute`, when
/// the schema documentation says so (`None`: in the partial attribute set, or not known here).
pub fn not_in_global_catalog(attribute: &str) -> Option<&'static str> {
    NOT_IN_GLOBAL_CATALOG
        .iter()
        .find(|(a, _)| a.eq_ignore_ascii_case(attribute))
        .map(|(_, why)| *why)
}

/// `userAccountControl` bit: the password never expires (DONT_EXPIRE_PASSWD).
pub const UAC_DONT_EXPIRE_PASSWD: u32 = 0x1_0000;

/// `msDS-UserPasswordExpiryTimeComputed` value meaning "never expires".
const NEVER: i64 = i64::MAX;

/// The account attributes a domain controller of the account's own domain holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainAttributes {
    /// Raw bytes of `mS-DS-ConsistencyGuid`; `None` when the account has none.
    pub consistency_guid: Option<Vec<u8>>,
}

/// An account's password-expiry facts as a DC answered them. Every field is raw, as AD stores
/// it; [`PasswordExpiry::expires_at`] does the arithmetic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PasswordExpiry {
    /// `msDS-UserPasswordExpiryTimeComputed` (FILETIME; `0x7FFFFFFFFFFFFFFF` never, `0` must
    /// change), when the DC computes it.
    pub computed: Option<i64>,
    /// `pwdLastSet` (FILETIME; `0` must change at next logon).
    pub pwd_last_set: Option<i64>,
    /// `userAccountControl`.
    pub user_account_control: Option<u32>,
    /// The domain's `maxPwdAge` (a negative count of 100 ns; `0` or the most negative value:
    /// never), read only when `computed` is absent.
    pub max_pwd_age: Option<i64>,
}

impl PasswordExpiry {
    /// When the password expires, or `None` when it never does (or no time can be derived:
    /// must change at next logon, no password age limit, out-of-range values). The computed
    /// attribute wins; otherwise `pwdLastSet` + `|maxPwdAge|`, following the rules of
    /// [MS-ADTS] 3.1.1.4.5.x for `msDS-UserPasswordExpiryTimeComputed`.
    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        let ticks = match self.computed {
            Some(c) => c,
            None => {
                if self
                    .user_account_control
                    .is_some_and(|u| u & UAC_DONT_EXPIRE_PASSWD != 0)
                {
                    return None;
                }
                let set = self.pwd_last_set.filter(|s| *s > 0)?;
                let age = self.max_pwd_age.filter(|a| *a != 0 && *a != i64::MIN)?;
                set.checked_add(age.checked_abs()?)?
            }
        };
        if ticks <= 0 || ticks == NEVER {
            return None;
        }
        filetime_to_datetime(ticks)
    }
}

/// The password-expiry notice of a sign-in at `now` whose password expires at `expires_at`:
/// `Some(whole days left)` when it expires after `now` and no later than `now + horizon` (AD FS:
/// 14 days), else `None` (a zero horizon disables it). Days are whole days left, rounded down, as
/// .NET's `TimeSpan.Days` counts them: 2 days 23 hours is 2.
pub fn expiry_notice(
    expires_at: OffsetDateTime,
    now: OffsetDateTime,
    horizon: std::time::Duration,
) -> Option<i64> {
    let left = expires_at - now;
    let horizon = time::Duration::try_from(horizon).ok()?;
    (left.is_positive() && horizon.is_positive() && left <= horizon).then(|| left.whole_days())
}

#[cfg(test)]
mod tests {

    #[test]
    fn attributes_outside_the_partial_attribute_set_are_known() {
        assert!(not_in_global_catalog("proxyaddresses").is_some());
        assert_eq!(not_in_global_catalog("canonicalName"), Some("constructed"));
        assert!(not_in_global_catalog("mS-DS-ConsistencyGuid").is_some());
        for in_pas in ["mail", "userPrincipalName", "sAMAccountName", "employeeID"] {
            assert_eq!(not_in_global_catalog(in_pas), None, "{in_pas}");
        }
    }

    use super::*;
    use crate::clock::Clock;
    use crate::directory::datetime_to_filetime;
    use std::time::Duration;
    use time::macros::datetime;

    const DAY: Duration = Duration::from_secs(86_400);

    fn at(t: OffsetDateTime) -> i64 {
        datetime_to_filetime(t).expect("in range")
    }

    #[test]
    fn the_computed_attribute_wins_and_its_special_values_mean_no_expiry() {
        let t = datetime!(2026-11-27 18:00:00 UTC);
        let e = PasswordExpiry {
            computed: Some(at(t)),
            pwd_last_set: Some(at(datetime!(2020-01-01 00:00:00 UTC))),
            max_pwd_age: Some(-864_000_000_000),
            ..Default::default()
        };
        assert_eq!(e.expires_at(), Some(t));
        for never in [i64::MAX, 0, -5] {
            let e = PasswordExpiry {
                computed: Some(never),
                ..e
            };
            assert_eq!(e.expires_at(), None, "{never}");
        }
    }

    #[test]
    fn without_the_computed_attribute_pwd_last_set_plus_max_age() {
        let set = datetime!(2026-11-01 12:00:00 UTC);
        let e = PasswordExpiry {
            computed: None,
            pwd_last_set: Some(at(set)),
            user_account_control: Some(0x200),
            // 42 days, as AD writes it: negative 100 ns ticks.
            max_pwd_age: Some(-36_288_000_000_000),
        };
        assert_eq!(e.expires_at(), Some(datetime!(2026-12-13 12:00:00 UTC)));
        let dont = PasswordExpiry {
            user_account_control: Some(0x200 | UAC_DONT_EXPIRE_PASSWD),
            ..e
        };
        assert_eq!(dont.expires_at(), None, "DONT_EXPIRE_PASSWD");
        for age in [Some(0), Some(i64::MIN), None] {
            let e = PasswordExpiry {
                max_pwd_age: age,
                ..e
            };
            assert_eq!(e.expires_at(), None, "{age:?}: no maximum age");
        }
        let must_change = PasswordExpiry {
            pwd_last_set: Some(0),
            ..e
        };
        assert_eq!(must_change.expires_at(), None);
        let absurd = PasswordExpiry {
            pwd_last_set: Some(i64::MAX - 1),
            ..e
        };
        assert_eq!(
            absurd.expires_at(),
            None,
            "overflow is no expiry, not a panic"
        );
    }

    #[test]
    fn the_notice_covers_the_horizon_inclusive_and_counts_whole_days_down() {
        let clock: Clock = std::sync::Arc::new(|| datetime!(2026-11-24 18:00:00 UTC));
        let now = clock();
        let horizon = 14 * DAY;
        let in_ = |d: time::Duration| expiry_notice(now + d, now, horizon);
        assert_eq!(in_(time::Duration::days(3)), Some(3));
        assert_eq!(
            in_(time::Duration::days(3) - time::Duration::seconds(1)),
            Some(2)
        );
        assert_eq!(in_(time::Duration::hours(5)), Some(0));
        assert_eq!(in_(time::Duration::days(14)), Some(14), "edge: inclusive");
        assert_eq!(
            in_(time::Duration::days(14) + time::Duration::seconds(1)),
            None
        );
        assert_eq!(in_(time::Duration::ZERO), None, "already expired");
        assert_eq!(in_(-time::Duration::days(1)), None);
        assert_eq!(
            expiry_notice(now + time::Duration::days(1), now, Duration::ZERO),
            None,
            "a zero horizon disables the claims"
        );
    }
}
