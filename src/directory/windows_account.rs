//! The account a Kerberos ticket names, read fresh (never cached) on a domain controller of
//! the ticket's domain: users and computers by `sAMAccountName` in that exact domain, users by
//! UPN (enterprise principals). It carries what Windows integrated sign-in needs beyond a
//! resolution: the account's alternate login ID (to build the same claims as a password
//! sign-in), `objectSid` and `primaryGroupID` (hybrid join), and its state now (disabled,
//! locked out, expired: AD refuses a password for those, so a ticket issued before must not
//! outlive them).

use super::account_state::datetime_to_filetime;
use super::UAC_ACCOUNTDISABLE;
use time::OffsetDateTime;

/// What to look the account up by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowsLookup<'a> {
    /// `sAMAccountName` in the domain (users and computers).
    SamAccountName(&'a str),
    /// `userPrincipalName` in the domain (users).
    Upn(&'a str),
}

/// The attributes a Windows account read asks for (besides the alternate login ID's).
pub const WINDOWS_ACCOUNT_ATTRIBUTES: &[&str] = &[
    "objectClass",
    "sAMAccountName",
    "userPrincipalName",
    "objectGUID",
    "objectSid",
    "primaryGroupID",
    "userAccountControl",
    "pwdLastSet",
    "accountExpires",
    "msDS-User-Account-Control-Computed",
];

/// `primaryGroupID` of Domain Computers (RID 515): what makes a computer domain-joined for
/// hybrid join (AD FS's rule: a group SID ending `-515`).
pub const DOMAIN_COMPUTERS_RID: u32 = 515;

/// `msDS-User-Account-Control-Computed` bit: locked out.
const UF_LOCKOUT: u32 = 0x10;
/// `msDS-User-Account-Control-Computed` bit: password expired.
const UF_PASSWORD_EXPIRED: u32 = 0x0080_0000;

/// The account behind a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowsAccount {
    /// Distinguished name.
    pub dn: String,
    /// `sAMAccountName`.
    pub sam_account_name: String,
    /// `userPrincipalName`.
    pub user_principal_name: Option<String>,
    /// The alternate login ID attribute's value, when one is configured and set.
    pub alternate_id: Option<String>,
    /// Raw `objectGUID`.
    pub object_guid: Option<Vec<u8>>,
    /// `objectSid` in its text form (`S-1-5-21-...`).
    pub object_sid: Option<String>,
    /// `primaryGroupID`.
    pub primary_group_id: Option<u32>,
    /// A computer object (`objectClass: computer`).
    pub computer: bool,
    /// `userAccountControl`.
    pub user_account_control: u32,
    /// `pwdLastSet` (FILETIME; 0: must change at next logon).
    pub pwd_last_set: Option<i64>,
    /// `accountExpires` (FILETIME; 0 or `i64::MAX`: never).
    pub account_expires: Option<i64>,
    /// `msDS-User-Account-Control-Computed` (lockout, password expiry), when the DC computes it.
    pub computed_control: Option<u32>,
}

/// Why an account may not sign in now, whatever its ticket says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountBlock {
    /// ACCOUNTDISABLE.
    Disabled,
    /// Locked out by the domain's lockout policy.
    LockedOut,
    /// `accountExpires` has passed.
    Expired,
    /// The password has expired, or must be changed at next logon.
    PasswordExpired,
}

impl WindowsAccount {
    /// Domain-joined computer: a computer whose primary group is Domain Computers.
    pub fn domain_joined_computer(&self) -> bool {
        self.computer && self.primary_group_id == Some(DOMAIN_COMPUTERS_RID)
    }

    /// What stops the account signing in at `now`, if anything. AD refuses a password for each
    /// of these; the ticket was issued before, so the account's state now decides.
    pub fn block(&self, now: OffsetDateTime) -> Option<AccountBlock> {
        let computed = self.computed_control.unwrap_or(0);
        if self.user_account_control & UAC_ACCOUNTDISABLE != 0 {
            return Some(AccountBlock::Disabled);
        }
        if computed & UF_LOCKOUT != 0 {
            return Some(AccountBlock::LockedOut);
        }
        let never = |v: i64| v <= 0 || v == i64::MAX;
        if let (Some(expires), Some(now)) = (self.account_expires, datetime_to_filetime(now)) {
            if !never(expires) && expires <= now {
                return Some(AccountBlock::Expired);
            }
        }
        // A computer's password is the machine's own business (it rotates it); a user's
        // "must change" (pwdLastSet 0) or expired password is AD's refusal of a password logon.
        if !self.computer && (computed & UF_PASSWORD_EXPIRED != 0 || self.pwd_last_set == Some(0)) {
            return Some(AccountBlock::PasswordExpired);
        }
        None
    }
}

/// A binary `objectSid` in its text form (`S-1-5-21-...`); `None` when malformed.
pub fn sid_to_string(sid: &[u8]) -> Option<String> {
    let (&revision, rest) = sid.split_first()?;
    let (&count, rest) = rest.split_first()?;
    let authority = rest.get(..6)?;
    let subs = rest.get(6..)?;
    if subs.len() != usize::from(count) * 4 {
        return None;
    }
    let authority = authority
        .iter()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    let mut out = format!("S-{revision}-{authority}");
    for chunk in subs.chunks_exact(4) {
        let v = u32::from_le_bytes(<[u8; 4]>::try_from(chunk).ok()?);
        out.push_str(&format!("-{v}"));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn account() -> WindowsAccount {
        WindowsAccount {
            dn: "CN=WS01,CN=Computers,DC=contoso,DC=com".into(),
            sam_account_name: "WS01$".into(),
            user_principal_name: None,
            alternate_id: None,
            object_guid: Some(vec![1; 16]),
            object_sid: Some("S-1-5-21-1-2-3-1104".into()),
            primary_group_id: Some(515),
            computer: true,
            user_account_control: 4096,
            pwd_last_set: Some(133_497_846_000_000_000),
            account_expires: Some(i64::MAX),
            computed_control: Some(0),
        }
    }

    #[test]
    fn sids_print_as_windows_does() {
        let mut sid = vec![1, 5, 0, 0, 0, 0, 0, 5];
        for v in [21u32, 1_004_336_348, 1_177_238_915, 682_003_330, 1104] {
            sid.extend(v.to_le_bytes());
        }
        assert_eq!(
            sid_to_string(&sid).as_deref(),
            Some("S-1-5-21-1004336348-1177238915-682003330-1104")
        );
        assert_eq!(sid_to_string(&sid[..sid.len() - 1]), None);
        assert_eq!(sid_to_string(&[]), None);
        assert_eq!(
            sid_to_string(&[1, 0, 0, 0, 0, 0, 0, 5]).as_deref(),
            Some("S-1-5")
        );
    }

    #[test]
    fn state_now_decides() {
        let now = datetime!(2026-12-05 12:00 UTC);
        let a = account();
        assert!(a.domain_joined_computer());
        assert_eq!(a.block(now), None);
        let disabled = WindowsAccount {
            user_account_control: 4096 | UAC_ACCOUNTDISABLE,
            ..a.clone()
        };
        assert_eq!(disabled.block(now), Some(AccountBlock::Disabled));
        let locked = WindowsAccount {
            computed_control: Some(UF_LOCKOUT),
            ..a.clone()
        };
        assert_eq!(locked.block(now), Some(AccountBlock::LockedOut));
        let past = datetime_to_filetime(datetime!(2026-12-01 0:00 UTC));
        let expired = WindowsAccount {
            account_expires: past,
            ..a.clone()
        };
        assert_eq!(expired.block(now), Some(AccountBlock::Expired));
        let never = WindowsAccount {
            account_expires: Some(0),
            ..a.clone()
        };
        assert_eq!(never.block(now), None);
        let user_must_change = WindowsAccount {
            computer: false,
            pwd_last_set: Some(0),
            ..a.clone()
        };
        assert_eq!(
            user_must_change.block(now),
            Some(AccountBlock::PasswordExpired)
        );
        let pg = WindowsAccount {
            primary_group_id: Some(516),
            ..a
        };
        assert!(
            !pg.domain_joined_computer(),
            "a domain controller is not DJ"
        );
    }
}
