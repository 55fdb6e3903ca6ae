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

/// The HTTPS server configuration from PEM files.
pub fn server_config(cert_file: &Path, key_file: &Path) -> Result<Arc<ServerConfig>, TlsError> {
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
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
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

    #[test]
    fn dev_certificate_is_generated_once_and_loads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cert = dir.path().join("c/server.crt");
        let key = dir.path().join("c/server.key");
        assert!(ensure_dev_certificate(&cert, &key, "sts.example.test", now()).expect("gen"));
        assert!(!ensure_dev_certificate(&cert, &key, "sts.example.test", now()).expect("again"));
        server_config(&cert, &key).expect("server config");
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
            server_config(&cert, &key).expect("the pair loads");
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
