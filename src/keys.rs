//! The token-signing key: an RSA key and its certificate from PEM files, RSA-SHA256 signing
//! with ring, and the development pair demo mode generates. It sits below both `config` (which
//! loads the files so check-config reports an unusable key) and `tokens` (which signs with it).

use crate::label::{kinds, label_set};
use rustls::pki_types::PrivateKeyDer;
use std::path::Path;
use time::OffsetDateTime;

label_set! {
    /// A token-signing certificate's role.
    pub enum CertificateRole: kinds::SigningCertificate {
        /// The certificate tokens are signed with.
        Current = "current",
        /// The one published for a rollover (`token_signing.next_cert_file`).
        Next = "next",
    }
}

label_set! {
    /// Which listener a TLS server certificate is for.
    pub enum TlsListener: kinds::TlsListener {
        /// The public listener (`server.tls`).
        Public = "public",
        /// The admin listener (`admin.tls`).
        Admin = "admin",
    }
}

/// A signing key problem.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A file could not be read or written.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What failed.
        message: String,
    },
    /// The key is not an RSA key ring accepts (2048 bits or more, PKCS#1 or PKCS#8).
    #[error("token-signing key: {0}")]
    Key(String),
    /// The certificate does not parse.
    #[error("token-signing certificate: {0}")]
    Certificate(String),
    /// Signing failed.
    #[error("signing failed")]
    Sign,
}

impl KeyError {
    /// Stable code: `key_file`, `key_invalid`, `certificate_invalid`, `signing_failed`.
    pub fn code(&self) -> &'static str {
        match self {
            KeyError::File { .. } => "key_file",
            KeyError::Key(_) => "key_invalid",
            KeyError::Certificate(_) => "certificate_invalid",
            KeyError::Sign => "signing_failed",
        }
    }
}

/// An RSA token-signing key with its certificate.
pub struct SigningKey {
    /// RSA signatures made with this key so far (see [`SigningKey::signatures`]).
    signatures: std::sync::atomic::AtomicU64,
    /// AWS-LC's RSA (as fast as OpenSSL's, using AVX-512 IFMA where the CPU has it): the
    /// private-key operation is most of a sign-in's CPU, and ring's takes twice as long.
    key: aws_lc_rs::signature::RsaKeyPair,
    rng: aws_lc_rs::rand::SystemRandom,
    cert_der: Vec<u8>,
    not_after: OffsetDateTime,
    subject: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("subject", &self.subject)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

fn file_err(path: &Path, message: impl ToString) -> KeyError {
    KeyError::File {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

/// Reads the first certificate of a PEM file as DER.
pub fn read_cert_der(path: &Path) -> Result<Vec<u8>, KeyError> {
    let pem = std::fs::read(path).map_err(|e| file_err(path, e))?;
    let cert = rustls_pemfile::certs(&mut pem.as_slice())
        .next()
        .ok_or_else(|| file_err(path, "no CERTIFICATE in the file"))?
        .map_err(|e| file_err(path, e))?;
    Ok(cert.to_vec())
}

/// The subject public key of a DER certificate (for RSA, the PKCS#1 `RSAPublicKey`).
fn certificate_public_key(der: &[u8]) -> Result<Vec<u8>, KeyError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| KeyError::Certificate(e.to_string()))?;
    Ok(cert.public_key().subject_public_key.data.to_vec())
}

/// The SHA-1 thumbprint of a DER certificate in upper-case hex, as AD FS and Windows show it.
pub fn thumbprint_hex(der: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// Subject and expiry of a DER certificate.
pub fn cert_info(der: &[u8]) -> Result<(String, OffsetDateTime), KeyError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| KeyError::Certificate(e.to_string()))?;
    let not_after = OffsetDateTime::from_unix_timestamp(cert.validity().not_after.timestamp())
        .map_err(|e| KeyError::Certificate(e.to_string()))?;
    Ok((cert.subject().to_string(), not_after))
}

impl SigningKey {
    /// Loads a PEM certificate and its PEM RSA private key.
    pub fn load(cert_file: &Path, key_file: &Path) -> Result<Self, KeyError> {
        let cert_der = read_cert_der(cert_file)?;
        let (subject, not_after) = cert_info(&cert_der)?;
        let pem = std::fs::read(key_file).map_err(|e| file_err(key_file, e))?;
        let key = rustls_pemfile::private_key(&mut pem.as_slice())
            .map_err(|e| file_err(key_file, e))?
            .ok_or_else(|| file_err(key_file, "no private key in the file"))?;
        let key = match key {
            PrivateKeyDer::Pkcs8(k) => {
                aws_lc_rs::signature::RsaKeyPair::from_pkcs8(k.secret_pkcs8_der())
            }
            PrivateKeyDer::Pkcs1(k) => {
                aws_lc_rs::signature::RsaKeyPair::from_der(k.secret_pkcs1_der())
            }
            _ => return Err(KeyError::Key("only RSA keys sign tokens".into())),
        }
        .map_err(|e| KeyError::Key(e.to_string()))?;
        use aws_lc_rs::signature::KeyPair;
        if certificate_public_key(&cert_der)?.as_slice() != key.public_key().as_ref() {
            return Err(KeyError::Key(format!(
                "{} is not the key of {}",
                key_file.display(),
                cert_file.display()
            )));
        }
        Ok(SigningKey {
            signatures: std::sync::atomic::AtomicU64::new(0),
            key,
            rng: aws_lc_rs::rand::SystemRandom::new(),
            cert_der,
            not_after,
            subject,
        })
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        self.signatures
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &self.rng,
                message,
                &mut sig,
            )
            .map_err(|_| KeyError::Sign)?;
        Ok(sig)
    }

    /// How many RSA signatures this key has made: the costly step of every signed token and
    /// message, so what a request costs in signatures can be counted.
    pub fn signatures(&self) -> u64 {
        self.signatures.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The certificate, DER.
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The certificate's expiry.
    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }
}

/// The subject (CN) of the token-signing pair demo mode generates: `altgate m365
/// federation-settings` refuses to hand a certificate with it to Entra ID.
pub const DEV_SIGNING_SUBJECT: &str = "altgate development token signing";

/// Writes a self-signed RSA-2048 token-signing pair unless both files exist (demo mode).
/// Returns true when it generated them.
pub fn ensure_dev_signing_pair(
    cert_file: &Path,
    key_file: &Path,
    subject: &str,
    now: OffsetDateTime,
) -> Result<bool, KeyError> {
    if cert_file.exists() && key_file.exists() {
        return Ok(false);
    }
    generate_signing_pair(cert_file, key_file, subject, now, 365)?;
    Ok(true)
}

/// Writes a new self-signed RSA-2048 token-signing pair (as AD FS's automatic rollover makes
/// them): `CN=subject`, valid from a day before `now` (for clocks behind) for `days` days;
/// the key private (0600), the certificate public (0644). Returns the certificate, DER.
pub fn generate_signing_pair(
    cert_file: &Path,
    key_file: &Path,
    subject: &str,
    now: OffsetDateTime,
    days: i64,
) -> Result<Vec<u8>, KeyError> {
    use rsa::pkcs8::EncodePrivateKey;
    let mut rng = rand_core_os();
    let private =
        rsa::RsaPrivateKey::new(&mut rng, 2048).map_err(|e| KeyError::Key(e.to_string()))?;
    let pkcs8 = private
        .to_pkcs8_der()
        .map_err(|e| KeyError::Key(e.to_string()))?;
    let pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
        &rustls::pki_types::PrivatePkcs8KeyDer::from(pkcs8.as_bytes()),
        &rcgen::PKCS_RSA_SHA256,
    )
    .map_err(|e| KeyError::Key(e.to_string()))?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
        .map_err(|e| KeyError::Key(e.to_string()))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, subject);
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(days);
    let cert = params
        .self_signed(&pair)
        .map_err(|e| KeyError::Key(e.to_string()))?;
    // The certificate is public (metadata publishes it); only the key is private. Each file
    // appears whole, the key first: once the certificate is there, so is its key.
    crate::tls::write_private_file(key_file, pair.serialize_pem().as_bytes())
        .map_err(|e| file_err(key_file, e))?;
    crate::tls::write_public_file(cert_file, cert.pem().as_bytes())
        .map_err(|e| file_err(cert_file, e))?;
    Ok(cert.der().to_vec())
}

fn rand_core_os() -> rsa::rand_core::OsRng {
    rsa::rand_core::OsRng
}

/// The subject of a token-signing certificate altgate generates for `host` (AD FS names its own
/// `ADFS Signing - host`).
pub fn signing_subject(host: &str) -> String {
    format!("altgate Signing - {host}")
}

/// Writes the next pair ([`generate_signing_pair`]) with the current pair's owner, group and
/// mode ([`match_ownership`]), so whoever reads the current pair reads the next one.
pub fn write_next_pair(
    (cert_file, key_file): (&Path, &Path),
    (next_cert_file, next_key_file): (&Path, &Path),
    host: &str,
    now: OffsetDateTime,
    days: i64,
) -> Result<Vec<u8>, KeyError> {
    let der = generate_signing_pair(
        next_cert_file,
        next_key_file,
        &signing_subject(host),
        now,
        days,
    )?;
    match_ownership(cert_file, next_cert_file)?;
    match_ownership(key_file, next_key_file)?;
    Ok(der)
}

/// When `path` was last written (its modification time), if that can be read.
pub fn written_at(path: &Path) -> Option<OffsetDateTime> {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .map(OffsetDateTime::from)
}

/// `path` with `.previous` appended: where a promotion keeps the pair it replaces.
pub fn previous_path(path: &Path) -> std::path::PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".previous");
    std::path::PathBuf::from(s)
}

/// Makes the next token-signing pair the current one: checks that it loads as a pair, keeps
/// the current pair as `<file>.previous`, then renames the next key and certificate over the
/// current ones. The key moves before its certificate: a node loading in between finds a key
/// that does not match its certificate ([`SigningKey::load`] refuses it) and keeps the pair it
/// has. Returns the promoted key.
pub fn promote_pair(
    cert_file: &Path,
    key_file: &Path,
    next_cert_file: &Path,
    next_key_file: &Path,
) -> Result<SigningKey, KeyError> {
    let next = SigningKey::load(next_cert_file, next_key_file)?;
    let step = |from: &Path, to: &Path| {
        std::fs::rename(from, to)
            .map_err(|e| file_err(from, format!("cannot move to {}: {e}", to.display())))
    };
    if cert_file.exists() && key_file.exists() {
        step(key_file, &previous_path(key_file))?;
        step(cert_file, &previous_path(cert_file))?;
    }
    step(next_key_file, key_file)?;
    step(next_cert_file, cert_file)?;
    Ok(next)
}

/// An exclusive lock on a rollover step, as a file created beside the next key (works for
/// nodes sharing the directory); removed when dropped.
pub struct RolloverLock(std::path::PathBuf);

impl RolloverLock {
    /// Takes the lock at `path` unless another holder has it (a lock written more than ten
    /// minutes before `now` is taken as left by a crashed holder and broken). `Ok(None)`:
    /// someone else holds it.
    pub fn acquire(path: &Path, now: OffsetDateTime) -> Result<Option<RolloverLock>, KeyError> {
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
            {
                Ok(_) => return Ok(Some(RolloverLock(path.to_path_buf()))),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let stale =
                        written_at(path).is_some_and(|t| now - t > time::Duration::minutes(10));
                    if !stale {
                        return Ok(None);
                    }
                    let _ = std::fs::remove_file(path);
                }
                Err(e) => return Err(file_err(path, e)),
            }
        }
        Ok(None)
    }
}

impl Drop for RolloverLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Gives `file` the owner, group and mode of `like` (a new next pair takes the current pair's,
/// so the service account can read what an administrator generated as root). A change of
/// owner this process may not make (it is not root) is left; the mode is always copied.
pub fn match_ownership(like: &Path, file: &Path) -> Result<(), KeyError> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let m = std::fs::metadata(like).map_err(|e| file_err(like, e))?;
    match std::os::unix::fs::chown(file, Some(m.uid()), Some(m.gid())) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {}
        Err(e) => return Err(file_err(file, e)),
    }
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(m.mode() & 0o777))
        .map_err(|e| file_err(file, e))
}
