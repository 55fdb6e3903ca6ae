//! `server.limits`, `server.trusted_proxies`/`banned_ips` and `admin:`: how altgate's edge
//! treats the internet (deadlines, caps, which peers may name the client) and where operators
//! reach it.

use super::secret_source::SecretKeys;
use super::{
    u32_of, usize_of, Checked, CheckedList, Document, HumanDuration, Validator, MINUTE, SECOND,
};
use crate::secret::Secret;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// `server.limits`: deadlines and caps that keep slow or idle clients from holding altgate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// `tls_handshake_timeout` (default 10s, 1s..=60s): a client must finish TLS within it.
    pub tls_handshake_timeout: Duration,
    /// `first_request_timeout` (default 5s, 1s..=60s): a new connection must have begun its
    /// first request (TLS done, the whole head received) within it of the TCP accept, whatever
    /// `tls_handshake_timeout` and `header_read_timeout` allow; otherwise it is closed. Later
    /// requests on the connection are held to `idle_timeout` instead.
    pub first_request_timeout: Duration,
    /// `header_read_timeout` (default 10s, 1s..=60s): a request's headers must arrive within
    /// it, counted from the end of the TLS handshake (or the previous response) on.
    pub header_read_timeout: Duration,
    /// `body_read_timeout` (default 15s, 1s..=5m): a request body must arrive within it.
    pub body_read_timeout: Duration,
    /// `idle_timeout` (default 60s, 1s..=1h): a connection with no request in flight and no
    /// bytes moving for this long is closed (keep-alive idle); at `max_connections` an idle
    /// connection may be closed sooner to make room.
    pub idle_timeout: Duration,
    /// `request_timeout` (default 30s, 1s..=5m): the most one request may take end to end.
    pub request_timeout: Duration,
    /// `max_connections` (default 4096, 16..=1,000,000): open connections. At the cap a new
    /// connection makes the longest-idle one with no request in flight close (gracefully); it
    /// is closed at once only when every open connection has a request in flight (the process
    /// also raises its file-descriptor limit to fit).
    pub max_connections: usize,
    /// `max_connections_per_ip` (default 256, 1..=1,000,000): open connections per client
    /// address (per /64 for IPv6), except from `trusted_proxies` (a load balancer carries
    /// everyone); at the cap, as with `max_connections`, among that address's connections.
    pub max_connections_per_ip: usize,
    /// `http2_max_concurrent_streams` (default 32, 1..=1000).
    pub http2_max_concurrent_streams: u32,
    /// `http2_stream_window_bytes` (default 65535, 65535..=16 MiB): what one HTTP/2 stream
    /// may have in flight towards altgate.
    pub http2_stream_window_bytes: u32,
    /// `http2_connection_window_bytes` (default 262144, 65535..=64 MiB): the same for the
    /// whole connection; with `max_connections` it bounds what slow clients can make altgate
    /// buffer.
    pub http2_connection_window_bytes: u32,
    /// `max_header_bytes` (default 65536, or [`KERBEROS_HEADER_BYTES`] with `kerberos`
    /// configured; 8192..=1 MiB): request head size (HTTP/1 buffer, HTTP/2 header list).
    pub max_header_bytes: usize,
    /// `max_header_bytes` was written in the file (not the default).
    pub max_header_bytes_set: bool,
}

/// `server.limits.max_header_bytes` when `kerberos` is configured and the key is not written:
/// room for an `Authorization: Negotiate` header of a user in many groups (Windows' default
/// MaxTokenSize of 48,000 bytes is 64,000 in base64; AD FS admins raise IIS's limits for it).
pub const KERBEROS_HEADER_BYTES: usize = 131_072;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            tls_handshake_timeout: Duration::from_secs(10),
            first_request_timeout: Duration::from_secs(5),
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(15),
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
            max_connections: 4096,
            max_connections_per_ip: 256,
            http2_max_concurrent_streams: 32,
            http2_stream_window_bytes: 65_535,
            http2_connection_window_bytes: 262_144,
            max_header_bytes: 65_536,
            max_header_bytes_set: false,
        }
    }
}

/// The one header a trusted proxy names its client in (`server.trusted_proxies[].header`).
/// Any other forwarding header from that proxy is ignored: a proxy passes its client's own
/// headers through, and a client must not be able to choose its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `x-forwarded-for` (the default): the proxy appends its peer's address.
    XForwardedFor,
    /// `forwarded` (RFC 7239): the proxy appends a `for=` element.
    Forwarded,
    /// `x-ms-forwarded-client-ip`: a Microsoft service relaying for an end user (Exchange
    /// Online's legacy authentication) names the user; the relay's own address is kept beside
    /// it, and such a request is never internal.
    XMsForwardedClientIp,
}

impl ForwardedHeader {
    /// The HTTP header name, lower case.
    pub fn name(self) -> &'static str {
        match self {
            ForwardedHeader::XForwardedFor => "x-forwarded-for",
            ForwardedHeader::Forwarded => "forwarded",
            ForwardedHeader::XMsForwardedClientIp => "x-ms-forwarded-client-ip",
        }
    }
}

/// One entry of `server.trusted_proxies`: a peer allowed to name the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedProxy {
    /// `network`: the proxy's address or CIDR network.
    pub network: ipnet::IpNet,
    /// `header` (default `x-forwarded-for`): the one header it names its client in.
    pub header: ForwardedHeader,
    /// `request_id` (default false): it sends its own request ID (`X-Request-Id`, else the
    /// `traceparent` trace ID), which then becomes the activity ID. Only for a proxy that sets
    /// (or overwrites) the header itself: otherwise the client would choose it.
    pub request_id: bool,
    /// `extranet_edge` (default false): it faces the internet (an edge load balancer, a Web
    /// Application Proxy): a request through it is never inside the corporate network, whatever
    /// address it names.
    pub extranet_edge: bool,
}

impl TrustedProxy {
    /// A proxy at `network` that appends to `X-Forwarded-For` and nothing else.
    pub fn x_forwarded_for(network: ipnet::IpNet) -> Self {
        TrustedProxy {
            network,
            header: ForwardedHeader::XForwardedFor,
            request_id: false,
            extranet_edge: false,
        }
    }
}

/// `server.trusted_proxies[]` written as a mapping.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrustedProxy {
    /// See [`TrustedProxy::network`]. Required.
    pub network: Option<Checked<String>>,
    /// See [`TrustedProxy::header`].
    pub header: Option<Checked<String>>,
    /// See [`TrustedProxy::request_id`].
    pub request_id: Option<Checked<bool>>,
    /// See [`TrustedProxy::extranet_edge`].
    pub extranet_edge: Option<Checked<bool>>,
}

/// `admin:`: the operators' listener (`/metrics`), apart from the public one.
#[derive(Debug, Clone)]
pub struct AdminListener {
    /// `listen`: e.g. `127.0.0.1:9464` (Prometheus convention).
    pub listen: SocketAddr,
    /// `tls`: certificate and key files; plain HTTP without (then `listen` must be loopback).
    pub tls: Option<AdminTls>,
    /// `bearer_token_file`: when set, scrapes must send `Authorization: Bearer <token>`.
    pub bearer_token: Option<Secret>,
}

/// `admin.tls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminTls {
    /// PEM certificate chain.
    pub cert_file: PathBuf,
    /// PEM private key.
    pub key_file: PathBuf,
}

/// `server.limits:` as written.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// See [`Limits::tls_handshake_timeout`].
    pub tls_handshake_timeout: Option<Checked<HumanDuration>>,
    /// See [`Limits::first_request_timeout`].
    pub first_request_timeout: Option<Checked<HumanDuration>>,
    /// See [`Limits::header_read_timeout`].
    pub header_read_timeout: Option<Checked<HumanDuration>>,
    /// See [`Limits::body_read_timeout`].
    pub body_read_timeout: Option<Checked<HumanDuration>>,
    /// See [`Limits::idle_timeout`].
    pub idle_timeout: Option<Checked<HumanDuration>>,
    /// See [`Limits::request_timeout`].
    pub request_timeout: Option<Checked<HumanDuration>>,
    /// See [`Limits::max_connections`].
    pub max_connections: Option<Checked<u64>>,
    /// See [`Limits::max_connections_per_ip`].
    pub max_connections_per_ip: Option<Checked<u64>>,
    /// See [`Limits::http2_max_concurrent_streams`].
    pub http2_max_concurrent_streams: Option<Checked<u64>>,
    /// See [`Limits::http2_stream_window_bytes`].
    pub http2_stream_window_bytes: Option<Checked<u64>>,
    /// See [`Limits::http2_connection_window_bytes`].
    pub http2_connection_window_bytes: Option<Checked<u64>>,
    /// See [`Limits::max_header_bytes`].
    pub max_header_bytes: Option<Checked<u64>>,
}

/// `admin:` as written.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    /// Socket address, e.g. `127.0.0.1:9464`. Required.
    pub listen: Option<Checked<String>>,
    /// Certificate and key for HTTPS on the admin port.
    pub tls: Option<Checked<RawAdminTls>>,
    /// File holding the bearer token scrapers must send (surrounding whitespace ignored).
    pub bearer_token_file: Option<Checked<String>>,
}

/// `admin.tls:` as written.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdminTls {
    /// PEM certificate chain. Required.
    pub cert_file: Option<Checked<String>>,
    /// PEM private key. Required.
    pub key_file: Option<Checked<String>>,
}

impl Validator {
    /// `server.limits:`.
    pub(super) fn limits(&mut self, raw: RawLimits) -> Limits {
        let d = Limits::default();
        let max_header_bytes_set = raw.max_header_bytes.is_some();
        let p = |k: &str| format!("server.limits.{k}");
        Limits {
            tls_handshake_timeout: self.bounded_duration(
                &p("tls_handshake_timeout"),
                raw.tls_handshake_timeout,
                d.tls_handshake_timeout,
                SECOND,
                MINUTE,
            ),
            first_request_timeout: self.bounded_duration(
                &p("first_request_timeout"),
                raw.first_request_timeout,
                d.first_request_timeout,
                SECOND,
                MINUTE,
            ),
            header_read_timeout: self.bounded_duration(
                &p("header_read_timeout"),
                raw.header_read_timeout,
                d.header_read_timeout,
                SECOND,
                MINUTE,
            ),
            body_read_timeout: self.bounded_duration(
                &p("body_read_timeout"),
                raw.body_read_timeout,
                d.body_read_timeout,
                SECOND,
                5 * MINUTE,
            ),
            idle_timeout: self.bounded_duration(
                &p("idle_timeout"),
                raw.idle_timeout,
                d.idle_timeout,
                SECOND,
                60 * MINUTE,
            ),
            request_timeout: self.bounded_duration(
                &p("request_timeout"),
                raw.request_timeout,
                d.request_timeout,
                SECOND,
                5 * MINUTE,
            ),
            max_connections: usize_of(self.bounded_count(
                &p("max_connections"),
                raw.max_connections,
                4096,
                16,
                1_000_000,
            )),
            max_connections_per_ip: usize_of(self.bounded_count(
                &p("max_connections_per_ip"),
                raw.max_connections_per_ip,
                256,
                1,
                1_000_000,
            )),
            http2_max_concurrent_streams: u32_of(self.bounded_count(
                &p("http2_max_concurrent_streams"),
                raw.http2_max_concurrent_streams,
                32,
                1,
                1000,
            )),
            http2_stream_window_bytes: u32_of(self.bounded_count(
                &p("http2_stream_window_bytes"),
                raw.http2_stream_window_bytes,
                65_535,
                65_535,
                16 * 1024 * 1024,
            )),
            http2_connection_window_bytes: u32_of(self.bounded_count(
                &p("http2_connection_window_bytes"),
                raw.http2_connection_window_bytes,
                262_144,
                65_535,
                64 * 1024 * 1024,
            )),
            max_header_bytes: usize_of(self.bounded_count(
                &p("max_header_bytes"),
                raw.max_header_bytes,
                65_536,
                8192,
                1024 * 1024,
            )),
            max_header_bytes_set,
        }
    }

    /// A list of CIDR networks (a bare address is a /32 or /128).
    pub(super) fn networks(
        &mut self,
        path: &str,
        raw: Option<CheckedList<String>>,
    ) -> Vec<ipnet::IpNet> {
        let mut out = Vec::new();
        for (at, s) in self.list::<String>(path, raw) {
            out.extend(self.network(&at, &s));
        }
        out
    }

    /// `server.trusted_proxies`: each item a CIDR (an `X-Forwarded-For` proxy) or a mapping
    /// ([`RawTrustedProxy`]).
    pub(super) fn trusted_proxies(
        &mut self,
        path: &str,
        raw: Option<CheckedList<serde_yaml::Value>>,
    ) -> Vec<TrustedProxy> {
        let mut out = Vec::new();
        for (at, item) in self.list::<serde_yaml::Value>(path, raw) {
            let proxy = match item {
                serde_yaml::Value::String(s) => {
                    self.network(&at, &s).map(TrustedProxy::x_forwarded_for)
                }
                mapping @ serde_yaml::Value::Mapping(_) => {
                    let Some(raw) = self.typed::<RawTrustedProxy>(&at, mapping) else {
                        continue;
                    };
                    let network = self
                        .required(&format!("{at}.network"), raw.network, ", e.g. 10.0.0.0/24")
                        .and_then(|s| self.network(&format!("{at}.network"), &s));
                    let header = self.word(
                        &format!("{at}.header"),
                        raw.header,
                        ForwardedHeader::XForwardedFor,
                        &[
                            ("x-forwarded-for", ForwardedHeader::XForwardedFor),
                            ("forwarded", ForwardedHeader::Forwarded),
                            (
                                "x-ms-forwarded-client-ip",
                                ForwardedHeader::XMsForwardedClientIp,
                            ),
                        ],
                    );
                    let request_id = self
                        .checked(&format!("{at}.request_id"), raw.request_id)
                        .unwrap_or(false);
                    let extranet_edge = self
                        .checked(&format!("{at}.extranet_edge"), raw.extranet_edge)
                        .unwrap_or(false);
                    network.map(|network| TrustedProxy {
                        network,
                        header,
                        request_id,
                        extranet_edge,
                    })
                }
                _ => {
                    self.err(
                        at,
                        "expected a CIDR network or a mapping with network, header, request_id, extranet_edge",
                    );
                    None
                }
            };
            out.extend(proxy);
        }
        out
    }

    /// One address or CIDR network at `at` (a bare address is a /32 or /128).
    fn network(&mut self, at: &str, s: &str) -> Option<ipnet::IpNet> {
        let s = s.trim();
        match s
            .parse::<ipnet::IpNet>()
            .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        {
            Ok(n) => Some(n.trunc()),
            Err(_) => {
                self.err(at, format!("{s:?} is not an address or CIDR network"));
                None
            }
        }
    }

    /// `admin:`; `None` when absent or when its listener is unusable.
    pub(super) fn admin(&mut self, doc: &mut Document) -> Option<AdminListener> {
        let raw: RawAdmin = self.take(doc, "admin")?;
        let listen = self
            .required("admin.listen", raw.listen, ", e.g. 127.0.0.1:9464")
            .and_then(|s| match s.parse::<SocketAddr>() {
                Ok(a) => Some(a),
                Err(_) => {
                    self.err("admin.listen", "not an IP:port address");
                    None
                }
            });
        let tls = self.checked("admin.tls", raw.tls).and_then(|t| {
            let cert_file = self.required("admin.tls.cert_file", t.cert_file, "");
            let key_file = self.required("admin.tls.key_file", t.key_file, "");
            Some(AdminTls {
                cert_file: PathBuf::from(cert_file?),
                key_file: PathBuf::from(key_file?),
            })
        });
        if let Some(t) = &tls {
            for (key, p) in [("cert_file", &t.cert_file), ("key_file", &t.key_file)] {
                if !p.is_file() {
                    self.err(
                        format!("admin.tls.{key}"),
                        format!("file not found: {}", p.display()),
                    );
                }
            }
        }
        if let (Some(a), None) = (listen, &tls) {
            if !a.ip().is_loopback() {
                self.err(
                    "admin.listen",
                    "plain HTTP is only allowed on a loopback address; add admin.tls to listen elsewhere",
                );
            }
        }
        let bearer_token = self
            .secret(
                "admin",
                "bearer_token",
                SecretKeys {
                    env: None,
                    file: raw.bearer_token_file,
                },
                false,
            )
            .and_then(|(key, token)| {
                // A token is one word: whitespace around it is the file's, not the token's.
                let trimmed = token.expose().trim();
                if trimmed.is_empty() {
                    self.err(key, "the file holds only whitespace");
                    return None;
                }
                Some(Secret::new(trimmed.to_string()))
            });
        Some(AdminListener {
            listen: listen?,
            tls,
            bearer_token,
        })
    }
}
