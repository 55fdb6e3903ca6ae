//! Parsing what the user typed: trimmed, length- and character-checked before any directory
//! traffic, and classified as an address (alternate ID or UPN) or a down-level `DOMAIN\sam`.

use std::fmt;

/// Longest accepted login, in characters (a 64-character local part, `@`, a 255-character
/// domain). Longer input is refused before it reaches a directory.
pub const MAX_LOGIN_CHARS: usize = 320;

/// A login that passed input checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// `jdoe@contoso.com` or any other value of the alternate-ID attribute, or a UPN.
    Address(String),
    /// `CONTOSO\jdoe`.
    DownLevel {
        /// NetBIOS domain name as typed.
        netbios: String,
        /// `sAMAccountName` as typed.
        sam: String,
    },
}

impl Login {
    /// The login as typed, trimmed.
    pub fn as_typed(&self) -> String {
        match self {
            Login::Address(a) => a.clone(),
            Login::DownLevel { netbios, sam } => format!("{netbios}\\{sam}"),
        }
    }

    /// The cache key: AD compares these values case-insensitively, so the key is lower case.
    pub fn cache_key(&self) -> String {
        self.as_typed().to_lowercase()
    }
}

/// Why a login was refused before any lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// Nothing but whitespace.
    #[error("the login is empty")]
    Empty,
    /// Longer than [`MAX_LOGIN_CHARS`].
    #[error("the login is longer than {MAX_LOGIN_CHARS} characters")]
    TooLong,
    /// A control character (NUL, newline, DEL...).
    #[error("the login contains a control character")]
    ControlCharacter,
    /// `DOMAIN\` or `\sam` or more than one backslash without `@`.
    #[error("the login is not DOMAIN\\name")]
    BadDownLevel,
}

impl LoginError {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            LoginError::Empty => "login_empty",
            LoginError::TooLong => "login_too_long",
            LoginError::ControlCharacter => "login_control_character",
            LoginError::BadDownLevel => "login_bad_down_level",
        }
    }
}

impl fmt::Display for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_typed())
    }
}

/// Checks and classifies a typed login.
pub fn parse(input: &str) -> Result<Login, LoginError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(LoginError::Empty);
    }
    if s.chars().count() > MAX_LOGIN_CHARS {
        return Err(LoginError::TooLong);
    }
    if s.chars().any(char::is_control) {
        return Err(LoginError::ControlCharacter);
    }
    // An address may legitimately contain a backslash (`back\slash@contoso.com`); only a value
    // without `@` is read as DOMAIN\name.
    if !s.contains('@') {
        if let Some((netbios, sam)) = s.split_once('\\') {
            if netbios.is_empty() || sam.is_empty() || sam.contains('\\') {
                return Err(LoginError::BadDownLevel);
            }
            return Ok(Login::DownLevel {
                netbios: netbios.to_string(),
                sam: sam.to_string(),
            });
        }
    }
    Ok(Login::Address(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_keeps_case_as_typed_but_keys_in_lower_case() {
        let l = parse("  JDoe@Contoso.COM \t").expect("ok");
        assert_eq!(l, Login::Address("JDoe@Contoso.COM".into()));
        assert_eq!(l.cache_key(), "jdoe@contoso.com");
    }

    #[test]
    fn refuses_empty_long_and_control_input() {
        assert_eq!(parse(""), Err(LoginError::Empty));
        assert_eq!(parse("   "), Err(LoginError::Empty));
        assert_eq!(
            parse(&"a".repeat(MAX_LOGIN_CHARS + 1)),
            Err(LoginError::TooLong)
        );
        assert!(parse(&"a".repeat(MAX_LOGIN_CHARS)).is_ok());
        assert_eq!(
            parse("jdoe\0@contoso.com"),
            Err(LoginError::ControlCharacter)
        );
        assert_eq!(
            parse("jdoe\n@contoso.com"),
            Err(LoginError::ControlCharacter)
        );
        assert_eq!(parse("jdoe\u{7f}"), Err(LoginError::ControlCharacter));
    }

    #[test]
    fn down_level_names() {
        assert_eq!(
            parse("CONTOSO\\jdoe"),
            Ok(Login::DownLevel {
                netbios: "CONTOSO".into(),
                sam: "jdoe".into()
            })
        );
        assert_eq!(parse("CONTOSO\\"), Err(LoginError::BadDownLevel));
        assert_eq!(parse("\\jdoe"), Err(LoginError::BadDownLevel));
        assert_eq!(parse("A\\B\\C"), Err(LoginError::BadDownLevel));
        // With an @ it is an address, backslash and all.
        assert_eq!(
            parse("back\\slash@contoso.com"),
            Ok(Login::Address("back\\slash@contoso.com".into()))
        );
    }

    #[test]
    fn unicode_lengths_count_characters_not_bytes() {
        let s = "山".repeat(MAX_LOGIN_CHARS);
        assert!(parse(&s).is_ok());
    }
}
