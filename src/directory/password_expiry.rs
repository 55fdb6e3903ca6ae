//! An account's password expiry ([`PasswordExpiry`]): the facts a domain controller of the
//! account's domain holds (`msDS-UserPasswordExpiryTimeComputed`, constructed; `pwdLastSet`;
//! `userAccountControl`; the domain's `maxPwdAge`), read fresh at each password sign-in, the
//! arithmetic that turns them into a time, and AD FS's password-expiry notice. None of these is
//! in the global catalog (see the table in [`super::partial_attribute_set`]).

use super::account_state::filetime_to_datetime;
use time::OffsetDateTime;

/// What a password-expiry read asks for on a DC (base read of the account's DN).
pub const PASSWORD_EXPIRY_ATTRIBUTES: &[&str] = &[
    "msDS-UserPasswordExpiryTimeComputed",
    "pwdLastSet",
    "userAccountControl",
];

/// `userAccountControl` bit: the password never expires (DONT_EXPIRE_PASSWD).
pub const UAC_DONT_EXPIRE_PASSWD: u32 = 0x1_0000;

/// `msDS-UserPasswordExpiryTimeComputed` value meaning "never expires".
const NEVER: i64 = i64::MAX;

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
