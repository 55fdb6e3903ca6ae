//! `server:`: where and how altgate listens (address, public URL, TLS files, body size); its
//! `limits`, `trusted_proxies` and `banned_ips` are validated in [`super::edge`].

use super::edge::{Limits, RawLimits, TrustedProxy};
use super::{usize_of, Checked, CheckedList, Document, PublicUrl, Validator};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

/// `server:` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    /// Socket address to listen on, e.g. `127.0.0.1:8443`. Required.
    pub listen: Option<Checked<String>>,
    /// The public base URL clients use, e.g. `https://sts.contoso.com` ([`PublicUrl`]).
    /// Required.
    pub public_url: Option<Checked<String>>,
    /// TLS certificate and key (PEM). Without it altgate serves plain HTTP (for a TLS-terminating
    /// proxy in front); `check-config` warns.
    pub tls: Option<Checked<RawTls>>,
    /// Largest request body accepted, in bytes (65536); larger bodies get 413.
    pub max_body_bytes: Option<Checked<u64>>,
    /// Connection deadlines and caps.
    pub limits: Option<Checked<RawLimits>>,
    /// Proxies allowed to name the client: a CIDR (it appends to `X-Forwarded-For`) or a
    /// mapping ([`super::edge::RawTrustedProxy`]).
    pub trusted_proxies: Option<CheckedList<serde_yaml::Value>>,
    /// Client addresses refused before any work (CIDR list).
    pub banned_ips: Option<CheckedList<String>>,
}

/// `server.tls:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    /// PEM certificate chain, leaf first. Required.
    pub cert_file: Option<Checked<String>>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1). Required.
    pub key_file: Option<Checked<String>>,
    /// Demo/dev only: generate a self-signed pair into these files when they do not exist
    /// (default false).
    pub generate_dev_certificate: Option<Checked<bool>>,
    /// TLS 1.3 session tickets, so a returning client resumes without a full handshake
    /// (default true: each node makes its own keys, rotated every 6 hours).
    pub session_tickets: Option<Checked<bool>>,
    /// A farm's shared ticket key (base64 of 32 random bytes, `openssl rand -base64 32`): a
    /// ticket from one node resumes on every node. Rotate it by replacing the file on every node.
    pub ticket_key_file: Option<Checked<String>>,
}

/// `server:`.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Public base URL, checked and without a trailing slash.
    pub public_url: PublicUrl,
    /// `max_body_bytes` (default 65536, 1024..=16777216, 16 MiB): largest request body
    /// accepted.
    pub max_body_bytes: usize,
    /// TLS files; plain HTTP when `None`.
    pub tls: Option<TlsFiles>,
    /// Deadlines and caps for client connections.
    pub limits: Limits,
    /// Peers allowed to name the client address, each with the one header it writes: load
    /// balancers and proxies in front of altgate (see [`TrustedProxy`]).
    pub trusted_proxies: Vec<TrustedProxy>,
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
    /// TLS 1.3 session resumption.
    pub tickets: crate::tls::Tickets,
}

impl Validator {
    /// `server:` (required); `None` when the listener or public URL is unusable.
    pub(super) fn server(&mut self, doc: &mut Document) -> Option<ServerConfig> {
        let raw: RawServer = match self.take_value(doc, "server") {
            Some(v) => self.typed("server", v)?,
            None => {
                self.missing("server", "missing section");
                RawServer::default()
            }
        };
        let listen = self
            .required("server.listen", raw.listen, ", e.g. 127.0.0.1:8443")
            .and_then(|s| match s.parse::<SocketAddr>() {
                Ok(a) => Some(a),
                Err(_) => {
                    self.err("server.listen", format!("{s:?} is not an IP:port address"));
                    None
                }
            });
        let public_url = self
            .required(
                "server.public_url",
                raw.public_url,
                ", e.g. https://sts.contoso.com",
            )
            .and_then(|u| match PublicUrl::parse(&u) {
                Ok(u) => Some(u),
                Err(e) => {
                    self.err("server.public_url", e);
                    None
                }
            });
        let tls = self
            .checked("server.tls", raw.tls)
            .and_then(|t| self.tls_files("server.tls", t));
        let limits = self
            .checked("server.limits", raw.limits)
            .unwrap_or_default();
        let limits = self.limits(limits);
        let trusted_proxies = self.trusted_proxies("server.trusted_proxies", raw.trusted_proxies);
        let banned_ips = self.networks("server.banned_ips", raw.banned_ips);
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

    /// `server.tls:`: both files, which must exist unless a development pair is generated.
    fn tls_files(&mut self, path: &str, raw: RawTls) -> Option<TlsFiles> {
        let cert_file = self.required(&format!("{path}.cert_file"), raw.cert_file, "");
        let key_file = self.required(&format!("{path}.key_file"), raw.key_file, "");
        let generate_dev_certificate = self
            .checked(
                &format!("{path}.generate_dev_certificate"),
                raw.generate_dev_certificate,
            )
            .unwrap_or(false);
        let tickets_on = self
            .checked(&format!("{path}.session_tickets"), raw.session_tickets)
            .unwrap_or(true);
        let key_at = format!("{path}.ticket_key_file");
        let shared = self
            .checked::<String>(&key_at, raw.ticket_key_file)
            .and_then(|file| {
                let read = crate::secret::SecretSource::File(PathBuf::from(file)).read_text();
                let text = self.read(&key_at, read)?;
                use base64::Engine;
                match base64::engine::general_purpose::STANDARD.decode(text.expose().trim()) {
                    Ok(k) if k.len() == crate::tls::TICKET_KEY_BYTES => {
                        Some(crate::tls::TicketKey::new(k))
                    }
                    _ => {
                        self.err(
                            &key_at,
                            format!(
                                "must hold the base64 of {} random bytes (openssl rand -base64 {})",
                                crate::tls::TICKET_KEY_BYTES,
                                crate::tls::TICKET_KEY_BYTES
                            ),
                        );
                        None
                    }
                }
            });
        let tickets = match (tickets_on, shared) {
            (false, Some(_)) => {
                self.err(&key_at, "set, but session_tickets is false");
                crate::tls::Tickets::Off
            }
            (false, None) => crate::tls::Tickets::Off,
            (true, Some(k)) => crate::tls::Tickets::Shared(k),
            (true, None) => crate::tls::Tickets::PerNode,
        };
        let files = TlsFiles {
            cert_file: PathBuf::from(cert_file?),
            key_file: PathBuf::from(key_file?),
            generate_dev_certificate,
            tickets,
        };
        if !files.generate_dev_certificate {
            for (key, p) in [
                ("cert_file", &files.cert_file),
                ("key_file", &files.key_file),
            ] {
                if !p.is_file() {
                    self.err(
                        format!("{path}.{key}"),
                        format!("file not found: {}", p.display()),
                    );
                }
            }
        }
        Some(files)
    }
}
