//! Credentials in the configuration: every secret is named by a `<name>_env` key (an
//! environment variable) or a `<name>_file` key (a file), never written in the file itself.
//! [`Validator::secret_source`] turns the pair into a [`SecretSource`] (at most one of the
//! two; exactly one when the secret is required) and [`Validator::secret`] reads it, reporting
//! a problem at the key that named the source. The keys are each section's own
//! (`forests[].service_account.password_env`/`password_file`, `state.password_env`/
//! `password_file`, `passive.session_key_env`/`session_key_file`, `admin.bearer_token_file`).

use super::{Checked, Validator};
use crate::secret::{Secret, SecretError, SecretSource};
use std::path::PathBuf;

/// The two keys that can name one secret, as written.
pub(super) struct SecretKeys {
    /// `<name>_env`: the environment variable.
    pub(super) env: Option<Checked<String>>,
    /// `<name>_file`: the file.
    pub(super) file: Option<Checked<String>>,
}

impl Validator {
    /// The source of secret `name` of the section (or entry) at `path`, with the path of the
    /// key that named it; `None` when neither key is set (reported when `required`), when both
    /// are, or when the one set is not a string.
    pub(super) fn secret_source(
        &mut self,
        path: &str,
        name: &str,
        keys: SecretKeys,
        required: bool,
    ) -> Option<(String, SecretSource)> {
        let env_key = format!("{name}_env");
        let file_key = format!("{name}_file");
        let at = |key: &str| format!("{path}.{key}");
        match (keys.env, keys.file) {
            (Some(_), Some(_)) => {
                self.err(path, format!("set {env_key} or {file_key}, not both"));
                None
            }
            (None, None) => {
                if required {
                    self.err(path, format!("{env_key} or {file_key} is required"));
                }
                None
            }
            (Some(env), None) => {
                let var = self.checked(&at(&env_key), Some(env))?;
                Some((at(&env_key), SecretSource::Env(var)))
            }
            (None, Some(file)) => {
                let file = self.checked(&at(&file_key), Some(file))?;
                Some((at(&file_key), SecretSource::File(PathBuf::from(file))))
            }
        }
    }

    /// Secret `name` of the section at `path`, read as text ([`SecretSource::read_text`]);
    /// `None` when it is not configured or cannot be read (reported at its key).
    pub(super) fn secret(
        &mut self,
        path: &str,
        name: &str,
        keys: SecretKeys,
        required: bool,
    ) -> Option<(String, Secret)> {
        let (key, source) = self.secret_source(path, name, keys, required)?;
        let secret = self.read(&key, source.read_text())?;
        Some((key, secret))
    }

    /// What reading a secret gave (text or bytes: a keytab reads its [`SecretSource`] with
    /// `read_bytes`), its problem reported at `key`.
    pub(super) fn read<T>(&mut self, key: &str, read: Result<T, SecretError>) -> Option<T> {
        read.map_err(|e| self.err(key, e.to_string())).ok()
    }
}
