//! `server:`: where and how altgate listens (address, public URL, TLS files, body size); its
//! `limits`, `trusted_proxies` and `banned_ips` are validated in [`super::edge`].

use super::edge::{Limits, RawLimits};
use super::{usize_of, Checked, Document, Validator};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

/// `server:` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    /// Socket address to listen on, e.g. `127.0.0.1:8443`.
    pub listen: Option<String>,
    /// The public base URL clients use, e.g. `https://sts.contoso.com`.
    pub public_url: Option<String>,
    /// TLS certificate and key (PEM). Without it altgate serves plain HTTP (for a TLS-terminating
    /// proxy in front); `check-config` warns.
    pub tls: Option<RawTls>,
    /// Largest request body accepted, in bytes (65536); larger bodies get 413.
    pub max_body_bytes: Option<Checked<u64>>,
    /// Connection deadlines and caps.
    pub limits: Option<RawLimits>,
    /// Proxies allowed to name the client (CIDR list).
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Client addresses refused before any work (CIDR list).
    #[serde(default)]
    pub banned_ips: Vec<String>,
}

/// `server.tls:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    /// PEM certificate chain, leaf first.
    pub cert_file: String,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: String,
    /// Demo/dev only: generate a self-signed pair into these files when they do not exist.
    #[serde(default)]
    pub generate_dev_certificate: bool,
}

/// `server:`.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Public base URL, without a trailing slash.
    pub public_url: String,
    /// `max_body_bytes` (default 65536, 1024..=16777216, 16 MiB): largest request body
    /// accepted.
    pub max_body_bytes: usize,
    /// TLS files; plain HTTP when `None`.
    pub tls: Option<TlsFiles>,
    /// Deadlines and caps for client connections.
    pub limits: Limits,
    /// Peers allowed to name the client address (X-Forwarded-For, Forwarded,
    /// X-MS-Forwarded-Client-IP): load balancers and proxies in front of altgate.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Client addresses refused before any work (AD FS `BannedIpList`).
    pub banned_ips: Vec<ipnet::IpNet>,
}

/// `server.tls:`.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// PEM certificate chain.
    pub cert_file: PathBuf,
    /// PEM private key.
    pub key_file: PathBuf,
    /// Generate a self-signed pair when the files are missing (demo mode).
    pub generate_dev_certificate: bool,
}

impl Validator {
    /// `server:` (required); `None` when the listener or public URL is unusable.
    pub(super) fn server(&mut self, doc: &mut Document) -> Option<ServerConfig> {
        let raw: RawServer = match self.take_value(doc, "server") {
            Some(mut v) => {
                // `limits` is read on its own, so a mistake inside it is reported at its path
                // without making the rest of `server:` look missing.
                let limits = v
                    .as_mapping_mut()
                    .and_then(|m| m.remove("limits"))
                    .and_then(|l| self.subtree::<RawLimits>("server.limits", l));
                match self.subtree::<RawServer>("server", v) {
                    Some(raw) => RawServer {
                        limits: limits.or(raw.limits),
                        ..raw
                    },
                    None => {
                        // Reported where it is; checking `limits` still finds its problems.
                        self.limits(limits.unwrap_or_default());
                        return None;
                    }
                }
            }
            None => {
                self.missing("server", "missing section");
                RawServer::default()
            }
        };
        let listen = match raw.listen.as_deref() {
            None => {
                self.err("server.listen", "required, e.g. 127.0.0.1:8443");
                None
            }
            Some(s) => match s.parse::<SocketAddr>() {
                Ok(a) => Some(a),
                Err(_) => {
                    self.err("server.listen", format!("{s:?} is not an IP:port address"));
                    None
                }
            },
        };
        let public_url = match raw.public_url.as_deref() {
            None => {
                self.err(
                    "server.public_url",
                    "required, e.g. https://sts.contoso.com",
                );
                None
            }
            Some(u) if !u.starts_with("https://") || u.len() <= "https://".len() => {
                self.err(
                    "server.public_url",
                    format!("{u:?} must be an https:// URL (clients only federate over TLS)"),
                );
                None
            }
            Some(u) => Some(u.trim_end_matches('/').to_string()),
        };
        let tls = raw.tls.map(|t| {
            let files = TlsFiles {
                cert_file: PathBuf::from(&t.cert_file),
                key_file: PathBuf::from(&t.key_file),
                generate_dev_certificate: t.generate_dev_certificate,
            };
            if !files.generate_dev_certificate {
                for (key, p) in [
                    ("cert_file", &files.cert_file),
                    ("key_file", &files.key_file),
                ] {
                    if !p.is_file() {
                        self.err(
                            format!("server.tls.{key}"),
                            format!("file not found: {}", p.display()),
                        );
                    }
                }
            }
            files
        });
        let limits = self.limits(raw.limits.unwrap_or_default());
        let trusted_proxies = self.networks("server.trusted_proxies", &raw.trusted_proxies);
        let banned_ips = self.networks("server.banned_ips", &raw.banned_ips);
        let max_body_bytes = usize_of(self.bounded_count(
            "server.max_body_bytes",
            raw.max_body_bytes,
            64 * 1024,
            1024,
            16 * 1024 * 1024,
        ));
        Some(ServerConfig {
            listen: listen?,
            public_url: public_url?,
            max_body_bytes,
            tls,
            limits,
            trusted_proxies,
            banned_ips,
        })
    }
}
