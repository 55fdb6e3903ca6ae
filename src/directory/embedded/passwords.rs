//! The demo passwords: a password "bind" checks the one the file gives (or the one changed
//! since loading) in constant time and answers as AD would (wrong password, disabled, must
//! change at next logon); a password change replaces it in memory only, under AD's default
//! minimum length, and sets the account's `pwdLastSet` to the time of the change.

use super::EmbeddedDirectory;
use crate::directory::{
    datetime_to_filetime, AccountRef, BindRejection, DirectoryError, PasswordChangeError,
    UAC_ACCOUNTDISABLE,
};
use crate::secret::Secret;

impl EmbeddedDirectory {
    fn changed_key(forest: &str, dn: &str) -> String {
        format!("{}\n{}", forest.to_lowercase(), dn.to_lowercase())
    }

    /// The password changed since loading, if any, and when.
    pub(super) fn changed_password(&self, forest: &str, dn: &str) -> Option<(String, i64)> {
        let changed = self.changed.lock().ok()?;
        changed.get(&Self::changed_key(forest, dn)).cloned()
    }

    /// What AD would answer a simple bind as the account with `password`.
    pub(super) fn check_password(
        &self,
        account: AccountRef<'_>,
        password: &str,
    ) -> Result<Result<(), BindRejection>, DirectoryError> {
        let AccountRef { forest, dn, .. } = account;
        if password.is_empty() {
            return Err(DirectoryError::EmptyPassword);
        }
        let f = self.forest(forest)?;
        let changed = self.changed_password(forest, dn);
        let Some(expected) = changed
            .as_ref()
            .map(|(p, _)| p)
            .or_else(|| f.passwords.get(&dn.to_lowercase()))
        else {
            return Ok(Err(BindRejection::WrongPassword));
        };
        // Constant-time comparison: the demo should not teach timing leaks.
        let ok = expected.len() == password.len()
            && expected
                .bytes()
                .zip(password.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !ok {
            return Ok(Err(BindRejection::WrongPassword));
        }
        let user = f.user(dn);
        let disabled = user
            .and_then(|u| u.entry.user_account_control)
            .is_some_and(|uac| uac & UAC_ACCOUNTDISABLE != 0);
        Ok(if disabled {
            Err(BindRejection::Disabled)
        } else if changed.is_none() && user.is_some_and(|u| u.pwd_last_set == Some(0)) {
            Err(BindRejection::MustChangePassword)
        } else {
            Ok(())
        })
    }

    /// Changes the account's password from `old` to `new` in memory, as AD would: the old one
    /// must be right (expired and must-change passwords may be changed), the new one at least
    /// 7 characters and not the same.
    pub(super) fn change(
        &self,
        account: AccountRef<'_>,
        old: &Secret,
        new: &Secret,
    ) -> Result<(), PasswordChangeError> {
        use PasswordChangeError as E;
        match self.check_password(account, old.expose()) {
            Ok(Ok(()))
            | Ok(Err(BindRejection::MustChangePassword | BindRejection::PasswordExpired)) => {}
            Ok(Err(BindRejection::WrongPassword)) => return Err(E::WrongOldPassword),
            Ok(Err(other)) => return Err(E::Refused(other.code().to_string())),
            Err(e) => return Err(E::Unavailable(e.to_string())),
        }
        // The demo's policy: AD's default minimum length, and not the same password again.
        if new.expose().chars().count() < 7 {
            return Err(E::PolicyRefused("shorter than 7 characters".into()));
        }
        if new.expose() == old.expose() {
            return Err(E::PolicyRefused("the same as the current password".into()));
        }
        let Some(now) = datetime_to_filetime((self.clock)()) else {
            return Err(E::Unavailable("the clock is out of range".into()));
        };
        if let Ok(mut changed) = self.changed.lock() {
            changed.insert(
                Self::changed_key(account.forest, account.dn),
                (new.expose().to_string(), now),
            );
        }
        Ok(())
    }
}
