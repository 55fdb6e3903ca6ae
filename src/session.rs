//! The SSO session: an encrypted, integrity-protected cookie (AES-256-GCM) bound to the account
//! that typed its password, with an absolute lifetime and an idle timeout. The key comes from
//! configuration so every node of a farm accepts every other node's cookies; nothing is stored
//! server-side. Also the `Set-Cookie` values of the session and CSRF cookies, and reading a
//! cookie out of a `Cookie` header.

use crate::secret::Secret;
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The session cookie's name (`__Host-`: Secure, path `/`, no Domain).
pub const COOKIE: &str = "__Host-altgate-sso";
/// The CSRF cookie's name.
pub const CSRF_COOKIE: &str = "__Host-altgate-csrf";
const AAD: &[u8] = b"altgate-sso-v1";

/// What the cookie remembers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Random identifier: what sign-out revokes farm-wide (empty in cookies from before it
    /// existed, which then cannot be revoked server-side and simply expire).
    #[serde(default)]
    pub id: String,
    /// The login as typed (re-resolved on reuse).
    pub login: String,
    /// The account's DN: the session is bound to it.
    pub dn: String,
    /// When the password was verified (Unix seconds).
    pub auth_instant: i64,
    /// Last use (Unix seconds), for the idle timeout.
    pub last_used: i64,
    /// The session began with a Kerberos ticket (Windows integrated authentication), not a
    /// password: its tokens say so.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub windows: bool,
}

impl Session {
    /// True while neither the lifetime nor the idle timeout has passed at `now`.
    pub fn is_live(&self, now: i64, lifetime: Duration, idle: Duration) -> bool {
        let life = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
        let idle = i64::try_from(idle.as_secs()).unwrap_or(i64::MAX);
        now >= self.auth_instant
            && now.saturating_sub(self.auth_instant) < life
            && now.saturating_sub(self.last_used) < idle
    }
}

/// Seals and opens session cookies.
pub struct SessionKeys {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKeys(<redacted>)")
    }
}

/// The session key could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("session key: {0}")]
pub struct SessionKeyError(String);

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

impl SessionKeys {
    /// Keys derived (HKDF-SHA256) from the configured secret, or from fresh randomness when there
    /// is none (then a farm's nodes do not share sessions). Returns whether it was generated.
    pub fn new(secret: Option<&Secret>) -> Result<(Self, bool), SessionKeyError> {
        let rng = SystemRandom::new();
        let (ikm, generated) = match secret {
            Some(s) => (
                base64::engine::general_purpose::STANDARD
                    .decode(s.expose())
                    .map_err(|e| SessionKeyError(e.to_string()))?,
                false,
            ),
            None => {
                let mut k = vec![0u8; 32];
                rng.fill(&mut k)
                    .map_err(|_| SessionKeyError("no randomness".into()))?;
                (k, true)
            }
        };
        let salt = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"altgate session");
        let prk = salt.extract(&ikm);
        let info: [&[u8]; 1] = [b"altgate sso cookie aes-256-gcm v1"];
        let okm = prk
            .expand(&info, &AES_256_GCM)
            .map_err(|_| SessionKeyError("key derivation failed".into()))?;
        let key = LessSafeKey::new(UnboundKey::from(okm));
        Ok((SessionKeys { key, rng }, generated))
    }

    /// Encrypts a session into a cookie value.
    pub fn seal(&self, s: &Session) -> Option<String> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).ok()?;
        let mut data = serde_json::to_vec(s).ok()?;
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(AAD),
                &mut data,
            )
            .ok()?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Some(b64().encode(out))
    }

    /// Decrypts a cookie value; `None` for anything forged, truncated or from another key.
    pub fn open(&self, value: &str) -> Option<Session> {
        if value.len() > 4096 {
            return None;
        }
        let raw = b64().decode(value).ok()?;
        if raw.len() < NONCE_LEN + 16 {
            return None;
        }
        let (nonce, rest) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut data = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(AAD), &mut data)
            .ok()?;
        serde_json::from_slice(plain).ok()
    }

    /// A fresh random session identifier (128 bits).
    pub fn session_id(&self) -> String {
        let mut b = [0u8; 16];
        if self.rng.fill(&mut b).is_err() {
            return String::new();
        }
        b64().encode(b)
    }

    /// A random token (CSRF).
    pub fn random_token(&self) -> Option<String> {
        let mut b = [0u8; 32];
        self.rng.fill(&mut b).ok()?;
        Some(b64().encode(b))
    }
}

/// The `Set-Cookie` value storing a sealed session for `max_age` seconds. `SameSite=None`: relying
/// parties send the browser back to altgate from other sites and the session must come along.
pub fn session_cookie(value: &str, max_age: u64) -> String {
    format!("{COOKIE}={value}; Path=/; Secure; HttpOnly; SameSite=None; Max-Age={max_age}")
}

/// The `Set-Cookie` value deleting the session cookie.
pub fn clear_session_cookie() -> String {
    format!("{COOKIE}=; Path=/; Secure; HttpOnly; SameSite=None; Max-Age=0")
}

/// The `Set-Cookie` value carrying the sign-in form's CSRF token (`SameSite=Strict`: only a form
/// altgate served itself can post it back).
pub fn csrf_cookie(token: &str) -> String {
    format!("{CSRF_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict")
}

/// The value of cookie `name` in a `Cookie` header, if present.
pub fn cookie<'a>(header: Option<&'a str>, name: &str) -> Option<&'a str> {
    header?
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Sealing other short-lived browser state with the session key (the password-change form's
/// state): the same AES-256-GCM key, told apart from the SSO cookie and from each other by the
/// associated data `purpose`, which the opener must give again.
impl SessionKeys {
    /// Encrypts `data` for `purpose` (nonce ‖ ciphertext ‖ tag, base64url).
    pub fn seal_bytes(&self, purpose: &[u8], data: &[u8]) -> Option<String> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).ok()?;
        let mut buf = zeroize::Zeroizing::new(data.to_vec());
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(purpose),
                &mut *buf,
            )
            .ok()?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Some(b64().encode(out))
    }

    /// Decrypts a value made by [`SessionKeys::seal_bytes`] for the same `purpose`; `None` for
    /// anything forged, truncated, longer than `max_len` characters or sealed for another
    /// purpose. The plaintext is wiped when dropped.
    pub fn open_bytes(
        &self,
        purpose: &[u8],
        value: &str,
        max_len: usize,
    ) -> Option<zeroize::Zeroizing<Vec<u8>>> {
        if value.len() > max_len {
            return None;
        }
        let raw = b64().decode(value).ok()?;
        if raw.len() < NONCE_LEN + 16 {
            return None;
        }
        let (nonce, rest) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut data = zeroize::Zeroizing::new(rest.to_vec());
        let len = self
            .key
            .open_in_place(nonce, Aad::from(purpose), &mut data)
            .ok()?
            .len();
        data.truncate(len);
        Some(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session {
            id: "c2Vzc2lvbi1pZA".into(),
            login: "jdoe@contoso.com".into(),
            dn: "CN=John Doe,CN=Users,DC=contoso,DC=com".into(),
            auth_instant: 1_000,
            last_used: 1_000,
            windows: false,
        }
    }

    #[test]
    fn a_farm_sharing_the_key_accepts_each_others_cookies() {
        let key = Secret::new(base64::engine::general_purpose::STANDARD.encode([7u8; 32]));
        let (a, generated) = SessionKeys::new(Some(&key)).expect("a");
        assert!(!generated);
        let (b, _) = SessionKeys::new(Some(&key)).expect("b");
        let cookie = a.seal(&session()).expect("seal");
        assert_eq!(b.open(&cookie), Some(session()));
        let (other, generated) = SessionKeys::new(None).expect("c");
        assert!(generated);
        assert_eq!(other.open(&cookie), None, "another key cannot open it");
    }

    #[test]
    fn tampering_is_detected() {
        let (k, _) = SessionKeys::new(None).expect("k");
        let cookie = k.seal(&session()).expect("seal");
        let mut bytes = b64().decode(&cookie).expect("b64");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(k.open(&b64().encode(&bytes)), None);
        assert_eq!(k.open("garbage"), None);
        assert_eq!(k.open(""), None);
        assert_eq!(k.open(&"A".repeat(5000)), None);
    }

    #[test]
    fn cookies_are_read_by_name_and_written_secure() {
        let header = Some("a=1; __Host-altgate-sso=v=x ;b=");
        assert_eq!(cookie(header, COOKIE), Some("v=x"));
        assert_eq!(cookie(header, "b"), Some(""));
        assert_eq!(cookie(header, CSRF_COOKIE), None);
        assert_eq!(cookie(None, COOKIE), None);
        for c in [
            session_cookie("v", 60),
            clear_session_cookie(),
            csrf_cookie("t"),
        ] {
            assert!(c.contains("; Path=/; Secure; HttpOnly; SameSite="), "{c}");
        }
        assert!(clear_session_cookie().ends_with("Max-Age=0"));
        assert!(csrf_cookie("t").ends_with("SameSite=Strict"));
    }

    #[test]
    fn lifetime_and_idle_timeout() {
        let s = session();
        let (life, idle) = (Duration::from_secs(8 * 3600), Duration::from_secs(3600));
        assert!(s.is_live(1_000 + 3599, life, idle));
        assert!(!s.is_live(1_000 + 3600, life, idle), "idle");
        let used = Session {
            last_used: 1_000 + 8 * 3600 - 10,
            ..s.clone()
        };
        assert!(used.is_live(1_000 + 8 * 3600 - 5, life, idle));
        assert!(
            !used.is_live(1_000 + 8 * 3600, life, idle),
            "absolute lifetime"
        );
        assert!(!s.is_live(999, life, idle), "from the future");
    }
}
