//! `server.limits`, `server.trusted_proxies`/`banned_ips` and `admin:`: how altgate's edge
//! treats the internet (deadlines, caps, which peers may name the client) and where operators
//! reach it.

use crate::secret::Secret;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// `server.limits`: deadlines and caps that keep slow or idle clients from holding altgate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// `tls_handshake_timeout` (default 10s, 1s..=60s): a client must finish TLS within it.
    pub tls_handshake_timeout: Duration,
    /// `header_read_timeout` (default 10s, 1s..=60s): a request's headers must arrive within
    /// it, counted from the connection (or the previous response) on.
    pub header_read_timeout: Duration,
    /// `body_read_timeout` (default 15s, 1s..=5m): a request body must arrive within it.
    pub body_read_timeout: Duration,
    /// `idle_timeout` (default 60s, 1s..=1h): a connection with no request in flight and no
    /// bytes moving for this long is closed (keep-alive idle).
    pub idle_timeout: Duration,
    /// `request_timeout` (default 30s, 1s..=5m): the most one request may take end to end.
    pub request_timeout: Duration,
    /// `max_connections` (default 4096, 16..=1,000,000): open connections; further ones are
    /// closed at once (the process also raises its file-descriptor limit to fit).
    pub max_connections: usize,
    /// `max_connections_per_ip` (default 64, 1..=1,000,000): open connections per client
    /// address, except from `trusted_proxies` (a load balancer carries everyone).
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
    /// `max_header_bytes` (default 65536, 8192..=1 MiB): request head size (HTTP/1 buffer,
    /// HTTP/2 header list).
    pub max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            tls_handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(15),
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
            max_connections: 4096,
            max_connections_per_ip: 64,
            http2_max_concurrent_streams: 32,
            http2_stream_window_bytes: 65_535,
            http2_connection_window_bytes: 262_144,
            max_header_bytes: 65_536,
        }
    }
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
