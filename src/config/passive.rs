//! `passive:`: browser sign-in at `/adfs/ls/` (WS-Federation and SAML 2.0) and the SSO session
//! (lifetimes, the shared session key, IdP-initiated sign-on).

use super::{Checked, Document, HumanDuration, Validator, DAY};
use crate::secret::Secret;
use base64::Engine;
use serde::Deserialize;
use std::time::Duration;

/// `passive:` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawPassive {
    /// Organisation name shown on the sign-in page.
    pub organization_name: Option<String>,
    /// Which identifier users should type, shown under the user name field
    /// (AD FS: "sign in with your e-mail address").
    pub sign_in_hint: Option<String>,
    /// Longest an SSO session lives after the password was typed (`8h`).
    pub session_lifetime: Option<Checked<HumanDuration>>,
    /// A session unused this long ends (`1h`).
    pub session_idle_timeout: Option<Checked<HumanDuration>>,
    /// File holding the session key (32 bytes or more, base64); every node of a farm uses the
    /// same one. Without it a single node generates one at start (and warns).
    pub session_key_file: Option<String>,
    /// Environment variable holding the session key instead.
    pub session_key_env: Option<String>,
    /// Allow `/adfs/ls/IdpInitiatedSignOn.aspx?loginToRp=...` (off, as on AD FS 2016+).
    #[serde(default)]
    pub idp_initiated_sign_on: bool,
}

/// `passive:`.
#[derive(Debug, Clone)]
pub struct Passive {
    /// Shown on the sign-in page.
    pub organization_name: String,
    /// Which identifier to type.
    pub sign_in_hint: String,
    /// `session_lifetime` (default 8h, at most [`MAX_SESSION`], 30 days): absolute SSO session
    /// lifetime.
    pub session_lifetime: Duration,
    /// `session_idle_timeout` (default 1h, at most [`MAX_SESSION`], 30 days): idle timeout.
    pub session_idle_timeout: Duration,
    /// Shared session key (32+ bytes); `None`: generate per process.
    pub session_key: Option<Secret>,
    /// IdP-initiated sign-on enabled.
    pub idp_initiated_sign_on: bool,
}

/// Longest `passive.session_lifetime` and `passive.session_idle_timeout`: 30 days (a password
/// typed once a month at least).
pub const MAX_SESSION: Duration = Duration::from_secs(30 * DAY.as_secs());

impl Validator {
    /// `passive:`; defaults when absent. The session key, when configured, must be base64 of
    /// 32 bytes or more.
    pub(super) fn passive(&mut self, doc: &mut Document) -> Passive {
        let raw: RawPassive = self.take(doc, "passive").unwrap_or_default();
        let session_key = match (&raw.session_key_file, &raw.session_key_env) {
            (Some(_), Some(_)) => {
                self.err(
                    "passive",
                    "set session_key_file or session_key_env, not both",
                );
                None
            }
            (None, None) => None,
            (Some(file), None) => match std::fs::read_to_string(file) {
                Ok(v) => Some((v, "passive.session_key_file")),
                Err(e) => {
                    self.err(
                        "passive.session_key_file",
                        format!("cannot read {file}: {e}"),
                    );
                    None
                }
            },
            (None, Some(var)) => match std::env::var(var) {
                Ok(v) => Some((v, "passive.session_key_env")),
                Err(_) => {
                    self.err(
                        "passive.session_key_env",
                        format!("environment variable {var} is not set"),
                    );
                    None
                }
            },
        }
        .and_then(|(text, path)| {
            match base64::engine::general_purpose::STANDARD.decode(text.trim()) {
                Ok(bytes) if bytes.len() >= 32 => Some(Secret::new(text.trim().to_string())),
                _ => {
                    self.err(
                        path,
                        "must be base64 of at least 32 random bytes (openssl rand -base64 32)",
                    );
                    None
                }
            }
        });
        Passive {
            organization_name: raw.organization_name.unwrap_or_else(|| "altgate".into()),
            sign_in_hint: raw
                .sign_in_hint
                .unwrap_or_else(|| "someone@example.com".into()),
            session_lifetime: self.duration(
                "passive.session_lifetime",
                raw.session_lifetime,
                Duration::from_secs(8 * 3600),
                MAX_SESSION,
            ),
            session_idle_timeout: self.duration(
                "passive.session_idle_timeout",
                raw.session_idle_timeout,
                Duration::from_secs(3600),
                MAX_SESSION,
            ),
            session_key,
            idp_initiated_sign_on: raw.idp_initiated_sign_on,
        }
    }
}
