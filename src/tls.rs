//! TLS material: CA bundles for verifying domain controllers, the server's certificate and key,
//! and the self-signed development pair demo mode generates. Verification is never switched off.

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::path::Path;
use std::sync::Arc;

/// A TLS file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file holds no usable PEM item of the expected kind.
    #[error("{path}: {what}")]
    Content {
        /// The file.
        path: String,
        /// What is missing or wrong.
        what: String,
    },
    /// rustls refused the material.
    #[error("TLS configuration rejected: {0}")]
    Rustls(#[from] rustls::Error),
    /// Generating the development certificate failed.
    #[error("cannot generate a development certificate: {0}")]
    Generate(String),
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.display().to_string(),
        source,
    })
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let certs: Result<Vec<_>, _> = rustls_pemfile::certs(&mut pem.as_slice()).collect();
    let certs = certs.map_err(|e| TlsError::Content {
        path: path.display().to_string(),
        what: format!("bad PEM: {e}"),
    })?;
    if certs.is_empty() {
        return Err(TlsError::Content {
            path: path.display().to_string(),
            what: "no CERTIFICATE in the file".into(),
        });
    }
    Ok(certs)
}

/// Loads a PEM CA bundle into a root store.
pub fn load_ca_bundle(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in certs(path)? {
        roots.add(cert).map_err(|e| TlsError::Content {
            path: path.display().to_string(),
            what: format!("unusable CA certificate: {e}"),
        })?;
    }
    Ok(roots)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server's provider: ring's (key exchange, ciphers, verification, ECDSA keys) with an RSA
/// server key's signatures in AWS-LC ([`AwsLcKeys`]): the one costly step of a full handshake
/// with an RSA certificate (an RSA-2048 signature takes AWS-LC half ring's time on this kind of
/// CPU). ECDSA keys stay with ring, whose P-256 signature is as fast (the handshake bench moved
/// within its noise when they went to AWS-LC).
fn server_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::CryptoProvider {
        key_provider: &AwsLcKeys,
        ..rustls::crypto::ring::default_provider()
    })
}

/// Loads RSA server keys (PKCS#1 or PKCS#8) into AWS-LC, and every other key through ring,
/// through rustls's documented key-provider extension point.
#[derive(Debug)]
struct AwsLcKeys;

impl rustls::crypto::KeyProvider for AwsLcKeys {
    fn load_private_key(
        &self,
        key_der: PrivateKeyDer<'static>,
    ) -> Result<Arc<dyn rustls::sign::SigningKey>, rustls::Error> {
        use aws_lc_rs::signature::RsaKeyPair;
        let der = key_der.secret_der();
        let rsa = match &key_der {
            PrivateKeyDer::Pkcs1(_) => RsaKeyPair::from_der(der).ok(),
            PrivateKeyDer::Pkcs8(_) => RsaKeyPair::from_pkcs8(der).ok(),
            _ => None,
        };
        match rsa {
            Some(key) => Ok(Arc::new(RsaServerKey(Arc::new(key)))),
            None => rustls::crypto::ring::default_provider()
                .key_provider
                .load_private_key(key_der),
        }
    }
}

/// RSA schemes in rustls's order of preference (PSS first).
const RSA_SCHEMES: [rustls::SignatureScheme; 6] = [
    rustls::SignatureScheme::RSA_PSS_SHA512,
    rustls::SignatureScheme::RSA_PSS_SHA384,
    rustls::SignatureScheme::RSA_PSS_SHA256,
    rustls::SignatureScheme::RSA_PKCS1_SHA512,
    rustls::SignatureScheme::RSA_PKCS1_SHA384,
    rustls::SignatureScheme::RSA_PKCS1_SHA256,
];

struct RsaServerKey(Arc<aws_lc_rs::signature::RsaKeyPair>);

impl std::fmt::Debug for RsaServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RsaServerKey(<redacted>)")
    }
}

impl rustls::sign::SigningKey for RsaServerKey {
    fn choose_scheme(
        &self,
        offered: &[rustls::SignatureScheme],
    ) -> Option<Box<dyn rustls::sign::Signer>> {
        RSA_SCHEMES
            .iter()
            .find(|s| offered.contains(s))
            .map(|&scheme| {
                Box::new(RsaSigner {
                    key: self.0.clone(),
                    scheme,
                }) as Box<dyn rustls::sign::Signer>
            })
    }

    fn algorithm(&self) -> rustls::SignatureAlgorithm {
        rustls::SignatureAlgorithm::RSA
    }
}

struct RsaSigner {
    key: Arc<aws_lc_rs::signature::RsaKeyPair>,
    scheme: rustls::SignatureScheme,
}

impl std::fmt::Debug for RsaSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RsaSigner({:?})", self.scheme)
    }
}

impl rustls::sign::Signer for RsaSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        use aws_lc_rs::signature as sig;
        let encoding: &'static dyn sig::RsaEncoding = match self.scheme {
            rustls::SignatureScheme::RSA_PSS_SHA512 => &sig::RSA_PSS_SHA512,
            rustls::SignatureScheme::RSA_PSS_SHA384 => &sig::RSA_PSS_SHA384,
            rustls::SignatureScheme::RSA_PSS_SHA256 => &sig::RSA_PSS_SHA256,
            rustls::SignatureScheme::RSA_PKCS1_SHA512 => &sig::RSA_PKCS1_SHA512,
            rustls::SignatureScheme::RSA_PKCS1_SHA384 => &sig::RSA_PKCS1_SHA384,
            _ => &sig::RSA_PKCS1_SHA256,
        };
        let mut out = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(
                encoding,
                &aws_lc_rs::rand::SystemRandom::new(),
                message,
                &mut out,
            )
            .map_err(|_| rustls::Error::General("RSA signing failed".into()))?;
        Ok(out)
    }

    fn scheme(&self) -> rustls::SignatureScheme {
        self.scheme
    }
}

/// A verifying client configuration trusting `ca_file`, or the system roots when `None`.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, TlsError> {
    let roots = match ca_file {
        Some(p) => load_ca_bundle(p)?,
        None => {
            let mut roots = RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                // A broken system certificate should not stop the others from loading.
                let _ = roots.add(cert);
            }
            roots
        }
    };
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Bytes of a shared session-ticket key (`server.tls.ticket_key_file`).
pub const TICKET_KEY_BYTES: usize = 32;

/// TLS 1.3 session resumption (`server.tls.session_tickets`, `.ticket_key_file`).
#[derive(Debug, Clone, Default)]
pub enum Tickets {
    /// No tickets: every connection makes a full handshake.
    Off,
    /// Tickets under this node's own keys (rustls's, rotated every 6 hours): a client resumes
    /// on the node that issued its ticket.
    #[default]
    PerNode,
    /// Tickets under the farm's shared key: a client resumes on any node.
    Shared(TicketKey),
}

impl PartialEq for Tickets {
    /// The same setting, and for a shared key the same key.
    fn eq(&self, other: &Tickets) -> bool {
        match (self, other) {
            (Tickets::Off, Tickets::Off) | (Tickets::PerNode, Tickets::PerNode) => true,
            (Tickets::Shared(a), Tickets::Shared(b)) => *a.0 == *b.0,
            _ => false,
        }
    }
}

/// A shared session-ticket key: never printed, wiped on drop.
#[derive(Clone)]
pub struct TicketKey(zeroize::Zeroizing<Vec<u8>>);

impl TicketKey {
    /// The key ([`TICKET_KEY_BYTES`] bytes).
    pub fn new(bytes: Vec<u8>) -> Self {
        TicketKey(zeroize::Zeroizing::new(bytes))
    }
}

impl std::fmt::Debug for TicketKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TicketKey(<redacted>)")
    }
}

/// Session tickets sealed with a key every node of a farm shares (AES-256-GCM, a random
/// 96-bit nonce per ticket, which carries it in front of the ciphertext).
struct SharedTicketer {
    key: ring::aead::LessSafeKey,
    rng: ring::rand::SystemRandom,
}

impl std::fmt::Debug for SharedTicketer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedTicketer(<key redacted>)")
    }
}

/// How long a ticket resumes a session (seconds): as long as rustls's own keys live.
const TICKET_LIFETIME: u32 = 6 * 60 * 60;

impl rustls::server::ProducesTickets for SharedTicketer {
    fn enabled(&self) -> bool {
        true
    }

    fn lifetime(&self) -> u32 {
        TICKET_LIFETIME
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        use ring::rand::SecureRandom;
        let mut nonce = [0u8; ring::aead::NONCE_LEN];
        self.rng.fill(&mut nonce).ok()?;
        let mut sealed = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                ring::aead::Nonce::assume_unique_for_key(nonce),
                ring::aead::Aad::empty(),
                &mut sealed,
            )
            .ok()?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Some(out)
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        let nonce = cipher.get(..ring::aead::NONCE_LEN)?;
        let mut sealed = cipher.get(ring::aead::NONCE_LEN..)?.to_vec();
        let nonce = ring::aead::Nonce::try_assume_unique_for_key(nonce).ok()?;
        let plain = self
            .key
            .open_in_place(nonce, ring::aead::Aad::empty(), &mut sealed)
            .ok()?;
        Some(plain.to_vec())
    }
}

/// The HTTPS server configuration from PEM files, resuming sessions per `tickets`.
pub fn server_config(
    cert_file: &Path,
    key_file: &Path,
    tickets: &Tickets,
) -> Result<Arc<ServerConfig>, TlsError> {
    server_config_after(cert_file, key_file, tickets, None)
}

/// [`server_config`] for a reload: with `previous` (built with the same `tickets`), its
/// ticket keys and session cache are kept, so clients resume across the reload as before it.
pub fn server_config_after(
    cert_file: &Path,
    key_file: &Path,
    tickets: &Tickets,
    previous: Option<&ServerConfig>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = certs(cert_file)?;
    let pem = read(key_file)?;
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|e| TlsError::Content {
            path: key_file.display().to_string(),
            what: format!("bad PEM: {e}"),
        })?
        .ok_or_else(|| TlsError::Content {
            path: key_file.display().to_string(),
            what: "no private key in the file".into(),
        })?;
    let mut config = ServerConfig::builder_with_provider(server_provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    match tickets {
        Tickets::Off => {
            config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
            config.send_tls13_tickets = 0;
        }
        Tickets::PerNode => {
            config.ticketer = rustls::crypto::ring::Ticketer::new()
                .map_err(|e| TlsError::Generate(e.to_string()))?;
        }
        Tickets::Shared(key) => {
            let key = ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &key.0)
                .map_err(|_| TlsError::Generate("bad ticket key".into()))?;
            config.ticketer = Arc::new(SharedTicketer {
                key: ring::aead::LessSafeKey::new(key),
                rng: ring::rand::SystemRandom::new(),
            });
        }
    }
    if let Some(previous) = previous {
        config.ticketer = previous.ticketer.clone();
        config.session_storage = previous.session_storage.clone();
    }
    Ok(Arc::new(config))
}

/// Validity of the development certificate: one year from its creation.
pub const DEV_CERTIFICATE_DAYS: i64 = 365;

/// Writes a self-signed development certificate for `host` (and `localhost`, `127.0.0.1`,
/// `::1`, each named once) unless both files exist: subject `CN=altgate development certificate
/// (host)`, valid for a year from `now` (the caller's clock; a day of slack before, for clocks
/// behind), the
/// certificate world-readable (0644, it is public) and the key private (0600). Returns true when
/// it generated them.
///
/// Each file appears whole (see [`write_public_file`]), the key first: once the certificate is
/// there, so is its key, and a reader waiting for the certificate never reads half of either.
pub fn ensure_dev_certificate(
    cert_file: &Path,
    key_file: &Path,
    host: &str,
    now: time::OffsetDateTime,
) -> Result<bool, TlsError> {
    if cert_file.exists() && key_file.exists() {
        return Ok(false);
    }
    let mut names: Vec<String> = Vec::new();
    for name in [host, "localhost", "127.0.0.1", "::1"] {
        let name = name.trim().to_ascii_lowercase();
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    }
    let generate = |e: rcgen::Error| TlsError::Generate(e.to_string());
    let mut params = rcgen::CertificateParams::new(names).map_err(generate)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("altgate development certificate ({host})"),
    );
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "altgate (demo)");
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(DEV_CERTIFICATE_DAYS);
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key = rcgen::KeyPair::generate().map_err(generate)?;
    let cert = params.self_signed(&key).map_err(generate)?;
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| TlsError::Read { path, source }
    };
    write_private_file(key_file, key.serialize_pem().as_bytes()).map_err(io(key_file))?;
    write_public_file(cert_file, cert.pem().as_bytes()).map_err(io(cert_file))?;
    Ok(true)
}

/// Writes a file anyone may read (mode 644: certificates), creating its directory. The file
/// appears whole or not at all: a concurrent reader sees the old file or the new one, never a
/// half-written one.
pub fn write_public_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    write_atomically(path, bytes, 0o644)
}

/// Writes a file readable by its owner only (mode 600), creating its directory; like
/// [`write_public_file`], it appears whole or not at all.
pub fn write_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    write_atomically(path, bytes, 0o600)
}

/// Writes `bytes` to a new temporary file beside `path` (same directory, so the same file
/// system) created with `mode`, flushes it to disk and renames it over `path`; the temporary
/// file is removed if any step fails.
fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(
        ".{}.{}.tmp",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp = path.with_file_name(tmp_name);
    let written = write_new(&tmp, bytes, mode).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Writes `bytes` to `path`, which must not exist yet, created with `mode`, and syncs it.
#[cfg(unix)]
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    // The umask may have taken bits off `mode`; the file gets exactly `mode`.
    f.set_permissions(std::fs::Permissions::from_mode(mode))?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_new(path: &Path, bytes: &[u8], _mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Now, by the system clock: the certificates are used as real ones.
    fn now() -> time::OffsetDateTime {
        (crate::clock::system_clock())()
    }

    /// Handshakes once with `server` over an in-memory pipe: how the handshake went.
    async fn handshake(
        server: Arc<ServerConfig>,
        client: Arc<ClientConfig>,
    ) -> Option<rustls::HandshakeKind> {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let accept = tokio::spawn(async move {
            let _ = tokio_rustls::TlsAcceptor::from(server).accept(b).await;
        });
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let stream = tokio_rustls::TlsConnector::from(client)
            .connect(name, a)
            .await
            .expect("handshake");
        // The ticket arrives after the handshake: read until the server side ends.
        let mut stream = stream;
        let mut buf = [0u8; 16];
        let _ = tokio::time::timeout(
            std::time::Duration::from_millis(200),
            tokio::io::AsyncReadExt::read(&mut stream, &mut buf),
        )
        .await;
        let kind = stream.get_ref().1.handshake_kind();
        accept.abort();
        kind
    }

    /// A self-signed certificate for `localhost` over `key` (PKCS#8 PEM), written to `dir` with
    /// the key as `key_file_pem` (the same key in another encoding, or `key`).
    fn pair_for(
        dir: &Path,
        name: &str,
        (key_pem, key_file_pem): (&str, &str),
        alg: &'static rcgen::SignatureAlgorithm,
    ) -> (std::path::PathBuf, std::path::PathBuf) {
        let pair = rcgen::KeyPair::from_pem_and_sign_algo(key_pem, alg).expect("key");
        let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("params");
        let cert = params.self_signed(&pair).expect("cert");
        let (c, k) = (
            dir.join(format!("{name}.crt")),
            dir.join(format!("{name}.key")),
        );
        std::fs::write(&c, cert.pem()).expect("cert");
        std::fs::write(&k, key_file_pem).expect("key");
        (c, k)
    }

    #[tokio::test]
    async fn server_keys_sign_rsa_in_aws_lc_and_ecdsa_in_ring_in_every_encoding_and_scheme() {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        use rsa::pkcs8::EncodePrivateKey;
        let dir = tempfile::tempdir().expect("tempdir");
        let rsa = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("rsa");
        let pkcs8 = rsa.to_pkcs8_pem(Default::default()).expect("pkcs8");
        let pkcs1 = rsa.to_pkcs1_pem(Default::default()).expect("pkcs1");
        let ec = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("p256");
        let ec384 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).expect("p384");
        let (ec, ec384) = (ec.serialize_pem(), ec384.serialize_pem());
        let pairs = [
            pair_for(
                dir.path(),
                "rsa8",
                (&pkcs8, &pkcs8),
                &rcgen::PKCS_RSA_SHA256,
            ),
            pair_for(
                dir.path(),
                "rsa1",
                (&pkcs8, &pkcs1),
                &rcgen::PKCS_RSA_SHA256,
            ),
            pair_for(
                dir.path(),
                "p256",
                (&ec, &ec),
                &rcgen::PKCS_ECDSA_P256_SHA256,
            ),
            pair_for(
                dir.path(),
                "p384",
                (&ec384, &ec384),
                &rcgen::PKCS_ECDSA_P384_SHA384,
            ),
        ];
        for (cert, key) in &pairs {
            let server = server_config(cert, key, &Tickets::Off).expect("server");
            // TLS 1.3 (RSA-PSS or ECDSA) and TLS 1.2 (which offers PKCS#1 too): the client
            // verifies the server's signature over the handshake each time.
            for versions in [
                &[&rustls::version::TLS13][..],
                &[&rustls::version::TLS12][..],
            ] {
                let client = Arc::new(
                    ClientConfig::builder_with_provider(provider())
                        .with_protocol_versions(versions)
                        .expect("versions")
                        .with_root_certificates(load_ca_bundle(cert).expect("ca"))
                        .with_no_client_auth(),
                );
                assert_eq!(
                    handshake(server.clone(), client).await,
                    Some(rustls::HandshakeKind::Full),
                    "{}",
                    cert.display()
                );
            }
        }
        // RSA keys are AWS-LC's (and never print), ECDSA keys ring's.
        for ((_, key), expect) in pairs.iter().zip([
            "RsaServerKey(<redacted>)",
            "RsaServerKey(<redacted>)",
            "EcdsaSigningKey",
            "EcdsaSigningKey",
        ]) {
            let pem = std::fs::read(key).expect("key");
            let der = rustls_pemfile::private_key(&mut pem.as_slice())
                .expect("pem")
                .expect("a key");
            let loaded =
                rustls::crypto::KeyProvider::load_private_key(&AwsLcKeys, der).expect("loads");
            assert!(format!("{loaded:?}").starts_with(expect), "{loaded:?}");
        }
    }

    #[tokio::test]
    async fn a_shared_ticket_key_resumes_on_every_node_and_a_node_key_only_on_its_node() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert, key) = (dir.path().join("s.crt"), dir.path().join("s.key"));
        ensure_dev_certificate(&cert, &key, "localhost", now()).expect("gen");
        let shared = Tickets::Shared(TicketKey::new(vec![7u8; TICKET_KEY_BYTES]));
        let a = server_config(&cert, &key, &shared).expect("a");
        let b = server_config(&cert, &key, &shared).expect("b");
        let c = server_config(&cert, &key, &Tickets::PerNode).expect("c");
        let off = server_config(&cert, &key, &Tickets::Off).expect("off");
        let client = || {
            Arc::new(
                ClientConfig::builder_with_provider(provider())
                    .with_safe_default_protocol_versions()
                    .expect("versions")
                    .with_root_certificates(load_ca_bundle(&cert).expect("ca"))
                    .with_no_client_auth(),
            )
        };
        use rustls::HandshakeKind::{Full, Resumed};
        let one = client();
        assert_eq!(handshake(a.clone(), one.clone()).await, Some(Full));
        assert_eq!(handshake(b, one.clone()).await, Some(Resumed), "node B");
        let two = client();
        assert_eq!(handshake(c.clone(), two.clone()).await, Some(Full));
        assert_eq!(handshake(c, two.clone()).await, Some(Resumed), "same node");
        assert_eq!(handshake(a, two).await, Some(Full), "another node's key");
        let three = client();
        assert_eq!(handshake(off.clone(), three.clone()).await, Some(Full));
        assert_eq!(handshake(off, three).await, Some(Full), "tickets off");
    }

    #[test]
    fn dev_certificate_is_generated_once_and_loads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cert = dir.path().join("c/server.crt");
        let key = dir.path().join("c/server.key");
        assert!(ensure_dev_certificate(&cert, &key, "sts.example.test", now()).expect("gen"));
        assert!(!ensure_dev_certificate(&cert, &key, "sts.example.test", now()).expect("again"));
        server_config(&cert, &key, &Tickets::PerNode).expect("server config");
        load_ca_bundle(&cert).expect("a self-signed cert is its own CA");
    }

    #[test]
    fn dev_certificate_names_altgate_and_its_host_once_for_a_year_and_only_the_key_is_private() {
        use std::os::unix::fs::PermissionsExt;
        use x509_parser::extensions::GeneralName;
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert, key) = (dir.path().join("server.crt"), dir.path().join("server.key"));
        ensure_dev_certificate(&cert, &key, "localhost", now()).expect("gen");
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&cert), 0o644);
        assert_eq!(mode(&key), 0o600);
        let der = certs(&cert).expect("pem").remove(0);
        let (_, c) = x509_parser::parse_x509_certificate(&der).expect("x509");
        let cn = c
            .subject()
            .iter_common_name()
            .next()
            .and_then(|a| a.as_str().ok());
        assert_eq!(cn, Some("altgate development certificate (localhost)"));
        let days =
            (c.validity().not_after.timestamp() - c.validity().not_before.timestamp()) / 86_400;
        assert_eq!(
            days,
            DEV_CERTIFICATE_DAYS + 1,
            "a year, plus a day of slack before"
        );
        let san = c.subject_alternative_name().expect("ext").expect("san");
        let names: Vec<String> = san
            .value
            .general_names
            .iter()
            .map(|n| match n {
                GeneralName::DNSName(d) => d.to_string(),
                GeneralName::IPAddress(ip) => format!("ip:{ip:?}"),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(names.len(), 3, "localhost once, 127.0.0.1, ::1: {names:?}");
        assert_eq!(names.iter().filter(|n| *n == "localhost").count(), 1);
    }

    #[test]
    fn a_reader_waiting_for_the_certificate_never_reads_half_a_file_or_misses_the_key() {
        // A server writes its development pair while a test waits for the certificate to
        // appear and reads it at once (as the integration tests' servers do).
        let dir = tempfile::tempdir().expect("tempdir");
        for round in 0..40 {
            let sub = dir.path().join(round.to_string());
            let (cert, key) = (sub.join("server.crt"), sub.join("server.key"));
            let writer = {
                let (cert, key) = (cert.clone(), key.clone());
                std::thread::spawn(move || ensure_dev_certificate(&cert, &key, "localhost", now()))
            };
            while !cert.exists() {
                assert!(
                    !writer.is_finished() || cert.exists(),
                    "round {round}: the writer ended without a certificate"
                );
                std::hint::spin_loop();
            }
            load_ca_bundle(&cert).expect("a certificate that exists is whole");
            assert!(
                key.exists(),
                "round {round}: the certificate appeared before its key"
            );
            assert!(writer.join().expect("writer").expect("generated"));
            server_config(&cert, &key, &Tickets::PerNode).expect("the pair loads");
            let mut names: Vec<String> = std::fs::read_dir(&sub)
                .expect("dir")
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            assert_eq!(
                names,
                ["server.crt", "server.key"],
                "no temporary file is left"
            );
        }
    }

    #[test]
    fn garbage_pem_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("ca.pem");
        std::fs::write(&p, "not a certificate").expect("write");
        let e = load_ca_bundle(&p).expect_err("must fail").to_string();
        assert!(e.contains("no CERTIFICATE"), "{e}");
    }
}
