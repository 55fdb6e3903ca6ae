//! Secrets (passwords, tokens, keys) that never reach logs, `Debug` output or error messages,
//! and where they are read from ([`SecretSource`]: an environment variable or a file).

use std::fmt;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// A secret string. `Debug` and `Display` print a placeholder; the memory is wiped on drop.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: String) -> Self {
        Secret(Zeroizing::new(value))
    }

    /// The secret itself, for the one place that must send it (an LDAP bind).
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }

    /// True when the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Secret bytes (a keytab, a key). `Debug` prints a placeholder; the memory is wiped on drop.
#[derive(Clone)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Wraps secret bytes.
    pub fn new(value: Vec<u8>) -> Self {
        SecretBytes(Zeroizing::new(value))
    }

    /// The bytes themselves, for the one place that must use them.
    pub fn expose(&self) -> &[u8] {
        self.0.as_slice()
    }

    /// The number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes(<{} bytes redacted>)", self.0.len())
    }
}

/// Where a credential is read from: the configuration names it (`password_env: VAR` or
/// `password_file: /run/secrets/x`) and never holds the secret itself. Reading never puts the
/// secret in an error message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// The environment variable of this name.
    Env(String),
    /// The file at this path.
    File(PathBuf),
}

/// Why a secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The variable is absent, empty or (for text) not Unicode.
    #[error("environment variable {0} is not set or empty")]
    EnvUnset(String),
    /// The file could not be read (absent, no permission, not UTF-8 text).
    #[error("cannot read {path}: {source}")]
    Unreadable {
        /// The file.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file holds nothing (or only a line ending).
    #[error("{0} is empty")]
    EmptyFile(String),
}

impl SecretSource {
    /// The secret as text: the variable's value, or the file's text without its trailing line
    /// ending(s) (`\n`, `\r\n`), which editors and `echo` add; any other character, spaces
    /// included, is part of the secret. Empty is an error.
    pub fn read_text(&self) -> Result<Secret, SecretError> {
        match self {
            SecretSource::Env(var) => match std::env::var(var) {
                Ok(v) if !v.is_empty() => Ok(Secret::new(v)),
                _ => Err(SecretError::EnvUnset(var.clone())),
            },
            SecretSource::File(path) => {
                let mut text = std::fs::read_to_string(path).map_err(|e| unreadable(path, e))?;
                let kept = text.trim_end_matches(['\r', '\n']).len();
                text.truncate(kept);
                let secret = Secret::new(text);
                if secret.is_empty() {
                    return Err(SecretError::EmptyFile(path.display().to_string()));
                }
                Ok(secret)
            }
        }
    }

    /// The secret as bytes (a keytab, a binary key): the variable's value, or the file's bytes
    /// as they are. Empty is an error.
    pub fn read_bytes(&self) -> Result<SecretBytes, SecretError> {
        match self {
            SecretSource::Env(var) => match std::env::var_os(var) {
                Some(v) if !v.is_empty() => Ok(SecretBytes::new(v.into_encoded_bytes())),
                _ => Err(SecretError::EnvUnset(var.clone())),
            },
            SecretSource::File(path) => {
                let bytes = SecretBytes::new(std::fs::read(path).map_err(|e| unreadable(path, e))?);
                if bytes.is_empty() {
                    return Err(SecretError::EmptyFile(path.display().to_string()));
                }
                Ok(bytes)
            }
        }
    }
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Env(var) => write!(f, "environment variable {var}"),
            SecretSource::File(path) => write!(f, "file {}", path.display()),
        }
    }
}

fn unreadable(path: &Path, source: std::io::Error) -> SecretError {
    SecretError::Unreadable {
        path: path.display().to_string(),
        source,
    }
}

/// Compares two secrets (tokens, CSRF values) in time that depends only on their lengths, never
/// on where they first differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_read_text_and_bytes_and_say_what_is_wrong_without_the_secret() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cret \r\n").expect("write");
        let source = SecretSource::File(file.clone());
        assert_eq!(source.read_text().expect("text").expose(), "s3cret ");
        assert_eq!(source.read_bytes().expect("bytes").expose(), b"s3cret \r\n");
        std::fs::write(&file, "\n").expect("write");
        let e = source.read_text().expect_err("empty");
        assert_eq!(e.to_string(), format!("{} is empty", file.display()));
        let missing = SecretSource::File(dir.path().join("absent"));
        assert!(missing
            .read_text()
            .expect_err("absent")
            .to_string()
            .starts_with("cannot read "));
        assert!(missing.read_bytes().is_err());
        let var = SecretSource::Env("ALTGATE_TEST_SURELY_UNSET_SECRET".into());
        assert_eq!(
            var.read_text().expect_err("unset").to_string(),
            "environment variable ALTGATE_TEST_SURELY_UNSET_SECRET is not set or empty"
        );
        assert!(var.read_bytes().is_err());
        let bytes = SecretBytes::new(b"keytab-bytes".to_vec());
        assert!(!format!("{bytes:?}").contains("keytab"));
        assert_eq!(
            var.to_string(),
            "environment variable ALTGATE_TEST_SURELY_UNSET_SECRET"
        );
    }

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new("hunter2-very-secret".into());
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!format!("{s}").contains("hunter2"));
        assert_eq!(s.expose(), "hunter2-very-secret");
    }
}
