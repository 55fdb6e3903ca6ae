//! An account's live state as the directory holds it right now ([`AccountState`]: enabled,
//! password last set), read fresh for every SSO reuse, and the Windows FILETIME arithmetic
//! `pwdLastSet` needs. Nothing here is cached: it is what ends an SSO session with its account.

use time::OffsetDateTime;

/// 100 ns intervals between 1601-01-01 (FILETIME epoch) and 1970-01-01 (Unix epoch).
const FILETIME_UNIX_EPOCH: i128 = 116_444_736_000_000_000;
/// 100 ns intervals per second.
const TICKS_PER_SECOND: i128 = 10_000_000;

/// The attributes an account-state read asks for.
pub const STATE_ATTRIBUTES: &[&str] = &["userAccountControl", "pwdLastSet"];

/// An account's state, read fresh from the directory (never from the resolution cache).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountState {
    /// False when `userAccountControl` has ACCOUNTDISABLE.
    pub enabled: bool,
    /// Raw `pwdLastSet`: a FILETIME (100 ns intervals since 1601-01-01 UTC); `0` means "must
    /// change the password at next logon". `None` when the directory keeps no such time (a demo
    /// user without `pwd_last_set`): Active Directory always has one, and the LDAP directory
    /// reports its absence as an error rather than `None`.
    pub pwd_last_set: Option<i64>,
}

impl AccountState {
    /// True when the password was (re)set after `auth_instant` (Unix seconds, as the SSO
    /// session keeps it), so a session authenticated then must end.
    ///
    /// The session keeps whole seconds (truncated), so the comparison is against the start of
    /// that second: a password set during the very second of the sign-in also counts as newer.
    /// That errs towards one extra password prompt, never towards a session that outlives a
    /// reset. `pwdLastSet = 0` (must change at next logon) and any negative value count as
    /// "changed now"; values beyond any real date (a FILETIME near `i64::MAX`) count as newer.
    /// No arithmetic here can overflow (it is done in `i128`).
    pub fn password_set_after(&self, auth_instant: i64) -> bool {
        let Some(set) = self.pwd_last_set else {
            return false;
        };
        if set <= 0 {
            return true;
        }
        let set_since_unix = i128::from(set) - FILETIME_UNIX_EPOCH;
        set_since_unix > i128::from(auth_instant) * TICKS_PER_SECOND
    }

    /// When the password was last set, for logs; `None` for 0 ("must change"), absent or
    /// out-of-range values.
    pub fn password_set_at(&self) -> Option<OffsetDateTime> {
        self.pwd_last_set
            .filter(|v| *v > 0)
            .and_then(filetime_to_datetime)
    }
}

/// A FILETIME (100 ns intervals since 1601-01-01 UTC) as a date, `None` when it is outside what
/// [`OffsetDateTime`] represents (before year -9999 or after 9999).
pub fn filetime_to_datetime(filetime: i64) -> Option<OffsetDateTime> {
    let nanos = (i128::from(filetime) - FILETIME_UNIX_EPOCH).checked_mul(100)?;
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

/// A date as a FILETIME, `None` when it does not fit (before 1601 or too far ahead).
pub fn datetime_to_filetime(at: OffsetDateTime) -> Option<i64> {
    let ticks = (at.unix_timestamp_nanos() / 100).checked_add(FILETIME_UNIX_EPOCH)?;
    i64::try_from(ticks).ok().filter(|t| *t >= 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn state(pwd_last_set: Option<i64>) -> AccountState {
        AccountState {
            enabled: true,
            pwd_last_set,
        }
    }

    #[test]
    fn filetime_round_trips_and_matches_ad() {
        // 2024-01-15 09:30:00 UTC as AD stores it.
        let at = datetime!(2024-01-15 09:30:00 UTC);
        assert_eq!(datetime_to_filetime(at), Some(133_497_846_000_000_000));
        assert_eq!(filetime_to_datetime(133_497_846_000_000_000), Some(at));
        assert_eq!(
            filetime_to_datetime(116_444_736_000_000_000),
            Some(OffsetDateTime::UNIX_EPOCH)
        );
        assert_eq!(
            datetime_to_filetime(datetime!(1600-12-31 23:59:59 UTC)),
            None
        );
        assert!(filetime_to_datetime(i64::MAX).is_none(), "year 30828");
        assert!(filetime_to_datetime(i64::MIN).is_none());
        assert!(filetime_to_datetime(-1).is_some_and(|d| d.year() == 1600));
    }

    #[test]
    fn a_password_set_after_the_sign_in_second_ends_the_session() {
        let signed_in = datetime!(2024-01-15 09:30:00 UTC).unix_timestamp();
        let at = |t: OffsetDateTime| state(datetime_to_filetime(t));
        assert!(!at(datetime!(2024-01-15 09:29:59.9999999 UTC)).password_set_after(signed_in));
        assert!(!at(datetime!(2024-01-15 09:30:00 UTC)).password_set_after(signed_in));
        // The same second, later: counted as newer (the session keeps whole seconds).
        assert!(at(datetime!(2024-01-15 09:30:00.0000001 UTC)).password_set_after(signed_in));
        assert!(at(datetime!(2024-01-15 09:30:01 UTC)).password_set_after(signed_in));
    }

    #[test]
    fn special_and_absurd_values_never_panic_and_fail_closed() {
        let now = datetime!(2026-02-01 08:00:00 UTC).unix_timestamp();
        assert!(
            state(Some(0)).password_set_after(now),
            "must change at next logon"
        );
        assert!(state(Some(-1)).password_set_after(now));
        assert!(state(Some(i64::MIN)).password_set_after(now));
        assert!(state(Some(i64::MAX)).password_set_after(now));
        assert!(!state(Some(1)).password_set_after(now), "1601 is long ago");
        assert!(!state(Some(1)).password_set_after(i64::MAX));
        assert!(state(Some(1)).password_set_after(i64::MIN));
        assert!(
            !state(None).password_set_after(now),
            "no time kept: nothing to compare"
        );
        assert_eq!(state(Some(0)).password_set_at(), None);
        assert_eq!(state(Some(i64::MAX)).password_set_at(), None);
    }
}
