//! Kerberos for Windows integrated sign-in: the acceptor that turns an `Authorization:
//! Negotiate` token into the client principal it proves, for `HTTP/<sts host>` from a keytab.
//!
//! The cryptography is MIT Kerberos's, through its GSS-API library (`gss.rs`, cargo feature
//! `kerberos`): the replay cache, encryption types, clock skew and key versions are MIT's. This
//! module decides what reaches it ([`token::classify`]: Kerberos only, NTLM never), bounds how
//! many acceptances run at once, parses the principal ([`principal`]) and names every failure
//! with a bounded [`Rejection`]. Reading a keytab's principals, key versions and encryption
//! types (for `check-config` and the configuration's checks) is [`crate::keytab`].
//!
//! MIT reads the keytab named by `KRB5_KTNAME`; the binary sets it from `kerberos.keytab_file`
//! before any thread starts ([`prepare_process`]), and [`Acceptor::open`] refuses to start when
//! the process environment names another keytab.

#[cfg(feature = "kerberos")]
mod gss;
pub mod principal;
pub mod token;

use crate::config::KerberosConfig;
use crate::label::{kinds, label_set};
use principal::Principal;
use std::sync::Arc;
use tokio::sync::Semaphore;

label_set! {
    /// Why a Negotiate token did not sign anyone in, before any directory read.
    pub enum Rejection: kinds::WindowsFailure, also kinds::TokenFailure {
        /// The client offered NTLM (raw `NTLMSSP` or SPNEGO preferring NTLM): never accepted.
        /// The client is usually outside the domain, or reached altgate by an address or a
        /// name that has no SPN (it then falls back from Kerberos to NTLM).
        NtlmOffered = "ntlm_offered",
        /// Not a Kerberos token (another mechanism, a SPNEGO continuation, or garbage).
        UnsupportedMechanism = "unsupported_mechanism",
        /// The client's clock and altgate's differ by more than Kerberos allows (5 minutes by
        /// default), or the ticket is not valid yet: fix time synchronisation.
        ClockSkew = "clock_skew",
        /// The same authenticator was presented before (a replayed token).
        Replay = "replay",
        /// The ticket's key version is not in the keytab: the service account's password
        /// changed after the keytab was exported. Export it again.
        WrongKeyVersion = "wrong_key_version",
        /// The ticket is for a service principal altgate has no key for (another SPN, or
        /// `kerberos.service_principal` names another one).
        WrongService = "wrong_service",
        /// The ticket does not decrypt with the keytab's key: the keytab is out of date or for
        /// another account.
        WrongKey = "wrong_key",
        /// The ticket is encrypted with a type the keytab has no key for (RC4 ticket, AES-only
        /// keytab, or the reverse): set `msDS-SupportedEncryptionTypes` on the service account
        /// and export the keytab again.
        EncryptionType = "encryption_type",
        /// The ticket has expired.
        TicketExpired = "ticket_expired",
        /// The Kerberos token is malformed or failed a check not listed above (the log has
        /// MIT's message).
        InvalidToken = "invalid_token",
        /// The ticket names a principal that is not a user or a computer (a service), or a name
        /// altgate cannot read.
        UnusablePrincipal = "unusable_principal",
        /// More tokens were being accepted at once than the bound allows (32 per CPU).
        AcceptorBusy = "acceptor_busy",
    }
}

/// A token the acceptor verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The client principal.
    pub principal: Principal,
    /// The acceptor's reply token (mutual authentication), for `WWW-Authenticate: Negotiate`.
    pub reply: Option<Vec<u8>>,
}

/// A refused token: the reason, and the detail for the log (MIT's message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Bounded reason.
    pub reason: Rejection,
    /// What the acceptor said, for the log. Never shown to the client.
    pub detail: String,
}

impl Refused {
    /// A refusal for `reason`, with `detail` for the log.
    pub fn new(reason: Rejection, detail: impl Into<String>) -> Self {
        Refused {
            reason,
            detail: detail.into(),
        }
    }
}

/// What the GSS-API acceptor verified: the client principal as MIT prints it, and the reply
/// token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// `sam@REALM`, `WS01$@REALM`, `upn\@suffix@REALM`.
    pub principal: String,
    /// The reply token (mutual authentication).
    pub reply: Option<Vec<u8>>,
}

/// One GSS-API acceptance: CPU-bound, reading the keytab and the replay cache (page cache).
pub trait Accept: Send + Sync {
    /// Accepts one initial token.
    fn accept(&self, token: &[u8]) -> Result<Verified, Refused>;
}

/// Why the acceptor could not start.
#[derive(Debug, thiserror::Error)]
pub enum KerberosError {
    /// This binary was built without the `kerberos` feature.
    #[error("this altgate was built without Kerberos support (cargo feature `kerberos`); remove the kerberos section or install a build that has it")]
    NotBuilt,
    /// `KRB5_KTNAME` names another keytab than `kerberos.keytab_file`.
    #[error("the environment's KRB5_KTNAME is {found:?}, not {expected:?}: start altgate through its binary (which sets it from kerberos.keytab_file) or set it to that value")]
    KeytabNotSelected {
        /// What the configuration needs.
        expected: String,
        /// What the environment holds.
        found: String,
    },
    /// MIT could not acquire the acceptor credential.
    #[error("cannot acquire the Kerberos acceptor credential: {0}")]
    Credential(String),
}

/// The `KRB5_KTNAME` value for a keytab file.
pub fn ktname(config: &KerberosConfig) -> String {
    format!("FILE:{}", config.keytab_file.display())
}

/// Points MIT Kerberos at the configured keytab (`KRB5_KTNAME`). Call once at process start,
/// before any other thread exists (the environment is shared with C code): every command of the
/// binary does, when it loads the configuration.
pub fn prepare_process(config: Option<&KerberosConfig>) {
    if let Some(c) = config {
        std::env::set_var("KRB5_KTNAME", ktname(c));
    }
}

/// The acceptor: verifies Negotiate tokens. Cheap to clone.
#[derive(Clone)]
pub struct Acceptor {
    inner: Arc<dyn Accept>,
    /// Acceptances running at once.
    slots: Arc<Semaphore>,
}

/// Most acceptances running at once, per CPU; beyond that a token is refused
/// ([`Rejection::AcceptorBusy`]) rather than queued without bound.
const SLOTS_PER_CPU: usize = 32;

impl Acceptor {
    /// The acceptor for `config`: MIT's, over the keytab `KRB5_KTNAME` names (which must be the
    /// configured one).
    pub fn open(config: &KerberosConfig) -> Result<Acceptor, KerberosError> {
        #[cfg(feature = "kerberos")]
        {
            let expected = ktname(config);
            let found = std::env::var("KRB5_KTNAME").unwrap_or_default();
            if found != expected {
                return Err(KerberosError::KeytabNotSelected { expected, found });
            }
            // The keytab's own spelling, realm included: MIT would otherwise add the default
            // realm of krb5.conf, which need not be the service's.
            let principal = config.service_principal.as_ref().map(|_| {
                config
                    .accepted_keys()
                    .first()
                    .map(|k| k.principal.clone())
                    .unwrap_or_default()
            });
            let gss = gss::Gss::open(principal.as_deref()).map_err(KerberosError::Credential)?;
            Ok(Acceptor::with(Arc::new(gss)))
        }
        #[cfg(not(feature = "kerberos"))]
        {
            let _ = config;
            Err(KerberosError::NotBuilt)
        }
    }

    /// True when this binary can accept Kerberos (built with the `kerberos` feature).
    pub const fn built_in() -> bool {
        cfg!(feature = "kerberos")
    }

    /// An acceptor over `inner` (tests use a fake).
    pub fn with(inner: Arc<dyn Accept>) -> Acceptor {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        Acceptor {
            inner,
            slots: Arc::new(Semaphore::new(cpus.saturating_mul(SLOTS_PER_CPU))),
        }
    }

    /// Verifies a decoded Negotiate token: Kerberos only, then MIT's acceptor, then the client
    /// principal's form.
    pub async fn accept(&self, token: Vec<u8>) -> Result<Accepted, Refused> {
        match token::classify(&token) {
            token::Offered::Kerberos => {}
            token::Offered::Ntlm => {
                return Err(Refused::new(Rejection::NtlmOffered, "NTLM token"));
            }
            token::Offered::Other => {
                return Err(Refused::new(
                    Rejection::UnsupportedMechanism,
                    "not a Kerberos initial token",
                ));
            }
        }
        let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() else {
            return Err(Refused::new(Rejection::AcceptorBusy, "acceptor saturated"));
        };
        // Inline, like the token signature: MIT's acceptance is tens of microseconds of CPU
        // (the keytab and replay cache are in the page cache), less than a hand-off to another
        // thread and back costs (measured: benches/windows.rs). The permit bounds how many run
        // at once.
        let accepted = self.inner.accept(&token);
        drop(permit);
        let Verified {
            principal: name,
            reply,
        } = accepted?;
        let principal = principal::parse(&name).map_err(|e| {
            Refused::new(
                Rejection::UnusablePrincipal,
                format!("{e}: {}", crate::events::clip(&name, 256)),
            )
        })?;
        Ok(Accepted { principal, reply })
    }
}

/// A fake acceptor for tests: a Kerberos token whose payload is `principal` (UTF-8) is
/// accepted as that principal, with reply `b"reply"`; the payload `!reason` is refused with
/// that reason id.
#[cfg(test)]
pub(crate) struct FakeAcceptor;

#[cfg(test)]
impl Accept for FakeAcceptor {
    fn accept(&self, token: &[u8]) -> Result<Verified, Refused> {
        let payload = token.get(13..).unwrap_or_default();
        let text = String::from_utf8_lossy(payload).to_string();
        if let Some(id) = text.strip_prefix('!') {
            let reason = Rejection::ALL
                .iter()
                .copied()
                .find(|r| r.id() == id)
                .unwrap_or(Rejection::InvalidToken);
            return Err(Refused::new(reason, "fake"));
        }
        Ok(Verified {
            principal: text,
            reply: Some(b"reply".to_vec()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_kerberos_reaches_the_acceptor_and_principals_are_parsed() {
        let a = Acceptor::with(Arc::new(FakeAcceptor));
        let ok = a
            .accept(crate::fuzzing::samples::kerberos_token(
                b"krb-user@CONTOSO.COM",
            ))
            .await
            .expect("accepted");
        assert_eq!(ok.principal.name(), "krb-user");
        assert_eq!(ok.reply.as_deref(), Some(&b"reply"[..]));
        let ntlm = a.accept(b"NTLMSSP\0\x01\0\0\0".to_vec()).await;
        assert_eq!(ntlm.map_err(|r| r.reason), Err(Rejection::NtlmOffered));
        let other = a.accept(b"garbage".to_vec()).await;
        assert_eq!(
            other.map_err(|r| r.reason),
            Err(Rejection::UnsupportedMechanism)
        );
        let service = a
            .accept(crate::fuzzing::samples::kerberos_token(
                b"HTTP/x.contoso.com@CONTOSO.COM",
            ))
            .await;
        assert_eq!(
            service.map_err(|r| r.reason),
            Err(Rejection::UnusablePrincipal)
        );
        let skew = a
            .accept(crate::fuzzing::samples::kerberos_token(b"!clock_skew"))
            .await;
        assert_eq!(skew.map_err(|r| r.reason), Err(Rejection::ClockSkew));
    }
}
