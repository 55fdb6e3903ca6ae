//! Password changes (not resets): what Active Directory answers when a user's old password is
//! replaced by a new one, read into [`PasswordChangeError`]. An AD *password change* is one LDAP
//! modify of the user's DN that deletes the old `unicodePwd` and adds the new one, each a
//! double-quoted UTF-16LE string ([`unicode_pwd`]); AD allows it to any caller (the "Change
//! Password" right belongs to Everyone) and checks the old password itself, so a service
//! account with no reset rights can carry it for a user whose expired password cannot bind.
//!
//! AD refuses with result 19 (constraintViolation) and a Win32 code at the start of its
//! diagnostic: `00000056` (`ERROR_INVALID_PASSWORD`) when the old password is wrong,
//! `0000052D` (`ERROR_PASSWORD_RESTRICTION`) when the new one fails the history, length,
//! complexity or minimum-age rules. Seen on Samba 4.17:
//! `00000056: Constraint violation - check_password_restrictions: The old password specified
//! doesn't match!` and `0000052D: Constraint violation - check_password_restrictions: the
//! password is too short. It should be equal or longer than 7 characters!`.

use super::BindRejection;
use zeroize::Zeroizing;

/// A password change did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordChangeError {
    /// The old password is not the account's current one (AD counts it as a bad password).
    #[error("the old password is wrong")]
    WrongOldPassword,
    /// The new password does not meet the domain's policy (history, length, complexity,
    /// minimum age); nothing changed.
    #[error("the new password does not meet the password policy: {0}")]
    PolicyRefused(String),
    /// The domain controller refused the change for another reason (the account may not
    /// change its password, insufficient rights, an unencrypted connection).
    #[error("the domain controller refused the password change: {0}")]
    Refused(String),
    /// No domain controller of the account's domain could be asked (or none is configured).
    #[error("no domain controller could change the password: {0}")]
    Unavailable(String),
}

impl PasswordChangeError {
    /// Stable code for logs, metrics and audit: `wrong_old_password`, `policy_refused`,
    /// `refused`, `unavailable`.
    pub fn code(&self) -> &'static str {
        match self {
            PasswordChangeError::WrongOldPassword => "wrong_old_password",
            PasswordChangeError::PolicyRefused(_) => "policy_refused",
            PasswordChangeError::Refused(_) => "refused",
            PasswordChangeError::Unavailable(_) => "unavailable",
        }
    }

    /// Reads a domain controller's answer to the change's modify: LDAP result `rc` and its
    /// diagnostic message. `Ok(())` for success (0).
    pub fn from_result(rc: u32, text: &str) -> Result<(), PasswordChangeError> {
        let text = text.trim_end_matches('\0').trim();
        let win32 = text
            .split([':', ' '])
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let detail = || format!("LDAP result {rc} {text}");
        match (rc, win32.as_str()) {
            (0, _) => Ok(()),
            // 0x56 ERROR_INVALID_PASSWORD: the old password does not match.
            (19 | 53, "00000056") => Err(PasswordChangeError::WrongOldPassword),
            // 0x52D ERROR_PASSWORD_RESTRICTION: history, length, complexity, minimum age.
            (19 | 53, "0000052D") => Err(PasswordChangeError::PolicyRefused(detail())),
            (19, _) => Err(PasswordChangeError::PolicyRefused(detail())),
            // A bind-style refusal (some AD versions answer the old-password check like a bind).
            (49, _) => match BindRejection::from_diagnostic(text) {
                BindRejection::WrongPassword | BindRejection::InvalidCredentials => {
                    Err(PasswordChangeError::WrongOldPassword)
                }
                other => Err(PasswordChangeError::Refused(format!(
                    "{} ({})",
                    detail(),
                    other.code()
                ))),
            },
            (51 | 52 | 80, _) => Err(PasswordChangeError::Unavailable(detail())),
            _ => Err(PasswordChangeError::Refused(detail())),
        }
    }
}

/// A password as `unicodePwd` takes it: in double quotes, UTF-16LE (wiped when dropped).
pub fn unicode_pwd(password: &str) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(2 * password.len() + 4));
    for unit in "\""
        .encode_utf16()
        .chain(password.encode_utf16())
        .chain("\"".encode_utf16())
    {
        out.extend_from_slice(&unit.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ad_answers_to_a_password_change_map_to_typed_errors() {
        assert_eq!(PasswordChangeError::from_result(0, ""), Ok(()));
        let wrong = PasswordChangeError::from_result(
            19,
            "00000056: Constraint violation - check_password_restrictions: The old password specified doesn't match!\0",
        );
        assert_eq!(wrong, Err(PasswordChangeError::WrongOldPassword));
        // Windows AD's form of the same answer.
        let windows = PasswordChangeError::from_result(
            19,
            "00000056: AtrErr: DSID-03190F80, #1:\n\t0: 00000056: DSID-03190F80, problem 1005 (CONSTRAINT_ATT_TYPE), data 0, Att 9005a (unicodePwd)\n",
        );
        assert_eq!(windows, Err(PasswordChangeError::WrongOldPassword));
        for text in [
            "0000052D: Constraint violation - check_password_restrictions: the password is too short. It should be equal or longer than 7 characters!",
            "0000052D: Constraint violation - check_password_restrictions: the password does not meet the complexity criteria!",
            "0000052d: AtrErr: DSID-03191083, #1:\n\t0: 0000052D: DSID-03191083, problem 1005 (CONSTRAINT_ATT_TYPE), data 0, Att 9005a (unicodePwd)",
        ] {
            let e = PasswordChangeError::from_result(19, text).expect_err(text);
            assert_eq!(e.code(), "policy_refused", "{text}");
        }
        let e = PasswordChangeError::from_result(
            53,
            "0000052D: SvcErr: DSID-031A12D2, problem 5003 (WILL_NOT_PERFORM)",
        )
        .expect_err("53");
        assert_eq!(e.code(), "policy_refused");
        let e = PasswordChangeError::from_result(
            49,
            "80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 52e, v1db1",
        )
        .expect_err("49");
        assert_eq!(e, PasswordChangeError::WrongOldPassword);
        let e = PasswordChangeError::from_result(
            49,
            "80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 775, v1db1",
        )
        .expect_err("49 locked");
        assert_eq!(e.code(), "refused");
        assert_eq!(
            PasswordChangeError::from_result(50, "00002098: insufficient access")
                .expect_err("50")
                .code(),
            "refused"
        );
        assert_eq!(
            PasswordChangeError::from_result(52, "")
                .expect_err("52")
                .code(),
            "unavailable"
        );
    }

    #[test]
    fn unicode_pwd_is_quoted_utf16le() {
        assert_eq!(
            unicode_pwd("aé").as_slice(),
            &[b'"', 0, b'a', 0, 0xe9, 0, b'"', 0]
        );
        // Outside the BMP: a surrogate pair.
        assert_eq!(unicode_pwd("😀").len(), 2 * 4);
    }
}
