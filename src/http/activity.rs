//! Activity IDs: every public request gets one, like AD FS's Activity ID, so a help desk can go
//! from what a user quotes to the request's audit events.
//!
//! - A request from a trusted proxy configured with `request_id: true` (it sets or overwrites
//!   the header itself) may bring its own: `X-Request-Id` (1-64 characters of letters, digits
//!   and `-_.:`), else the trace ID of a W3C `traceparent` (32 hex digits), so the proxy's logs
//!   and altgate's share one ID. From anyone else, other proxies included (they pass the
//!   client's headers through), these headers are ignored: a client must not be able to plant
//!   IDs in the audit log.
//! - Otherwise altgate generates one: 128 random bits written as a GUID
//!   (`6f1c2a9e-0b7d-4c3e-9a51-2f0e8d7c6b5a`, version 4), the format AD FS shows.
//! - The ID is a field of the request's tracing span ([`span`]), so every event and log line of
//!   the request carries it (`request{activity_id=...}` in text logs, `"span":{"activity_id":
//!   ...}` in JSON); it goes back in the `X-Request-Id` response header ([`HEADER`]) and is
//!   shown, with the time, on every error page.

use crate::config::edge::TrustedProxy;
use hyper::header::HeaderMap;
use std::net::IpAddr;

/// The request and response header carrying the activity ID.
pub const HEADER: &str = "x-request-id";
/// Longest `X-Request-Id` accepted from a trusted proxy.
pub const MAX_LEN: usize = 64;

/// An `X-Request-Id` value worth carrying: short, and nothing that could confuse a log.
fn request_id(v: &str) -> Option<String> {
    let v = v.trim();
    ((1..=MAX_LEN).contains(&v.len())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
    .then(|| v.to_string())
}

/// The trace ID of a W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`), lower case; `None`
/// when malformed or all zeros (invalid by the specification).
fn trace_id(v: &str) -> Option<String> {
    let mut parts = v.trim().split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| s.len() == n && s.chars().all(|c| c.is_ascii_hexdigit());
    let ok = hex(version, 2)
        && version != "ff"
        && hex(trace, 32)
        && hex(parent, 16)
        && hex(flags, 2)
        && trace.chars().any(|c| c != '0');
    ok.then(|| trace.to_ascii_lowercase())
}

/// A fresh activity ID: 128 random bits as a version-4 GUID.
pub fn generate() -> String {
    use ring::rand::SecureRandom;
    use std::sync::atomic::{AtomicU64, Ordering};
    static FALLBACK: AtomicU64 = AtomicU64::new(0);
    let mut b = [0u8; 16];
    if ring::rand::SystemRandom::new().fill(&mut b).is_err() {
        // No entropy source: unique within this process is the best that can be done.
        let n = FALLBACK.fetch_add(1, Ordering::Relaxed);
        let t =
            u128::try_from((crate::clock::system_clock())().unix_timestamp_nanos()).unwrap_or(0);
        b = (t ^ (u128::from(n) << 64)).to_le_bytes();
    }
    if let Some(v) = b.get_mut(6) {
        *v = (*v & 0x0f) | 0x40;
    }
    if let Some(v) = b.get_mut(8) {
        *v = (*v & 0x3f) | 0x80;
    }
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        hex.get(0..8).unwrap_or(""),
        hex.get(8..12).unwrap_or(""),
        hex.get(12..16).unwrap_or(""),
        hex.get(16..20).unwrap_or(""),
        hex.get(20..32).unwrap_or("")
    )
}

/// The activity ID of a request from `peer`: its proxy's, when `peer` is a trusted proxy
/// configured with `request_id: true`; otherwise a fresh one.
pub fn activity_id(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[TrustedProxy]) -> String {
    if super::client_ip::sends_request_id(peer, trusted_proxies) {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if let Some(id) = header(HEADER).and_then(request_id) {
            return id;
        }
        if let Some(id) = header("traceparent").and_then(trace_id) {
            return id;
        }
    }
    generate()
}

/// The request's span: every event inside carries `activity_id`. At error level so that no
/// level filter (`logging.level: warn`, say) drops it while keeping the events inside.
pub fn span(activity_id: &str) -> tracing::Span {
    tracing::error_span!("request", activity_id = %activity_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("header value"));
        }
        h
    }

    /// A load balancer that sets its own request ID.
    fn proxies() -> Vec<TrustedProxy> {
        vec![TrustedProxy {
            request_id: true,
            ..TrustedProxy::x_forwarded_for("10.0.0.0/8".parse().expect("net"))
        }]
    }

    fn is_guid(s: &str) -> bool {
        let parts: Vec<&str> = s.split('-').collect();
        parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
            && s.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
            && s.as_bytes().get(14) == Some(&b'4')
    }

    #[test]
    fn generated_ids_are_distinct_version_4_guids() {
        let (a, b) = (generate(), generate());
        assert!(is_guid(&a) && is_guid(&b), "{a} {b}");
        assert_ne!(a, b);
    }

    #[test]
    fn a_trusted_proxy_not_configured_to_send_one_passes_the_clients_id_which_is_ignored() {
        let passing = vec![TrustedProxy::x_forwarded_for(
            "10.0.0.0/8".parse().expect("net"),
        )];
        let h = headers(&[("x-request-id", "chosen-by-the-client")]);
        assert!(is_guid(&activity_id(
            IpAddr::from([10, 1, 2, 3]),
            &h,
            &passing
        )));
    }

    #[test]
    fn only_trusted_proxies_name_the_activity() {
        let proxy = IpAddr::from([10, 1, 2, 3]);
        let client = IpAddr::from([192, 0, 2, 9]);
        let h = headers(&[("x-request-id", "lb-7f3a:01")]);
        assert_eq!(activity_id(proxy, &h, &proxies()), "lb-7f3a:01");
        assert!(
            is_guid(&activity_id(client, &h, &proxies())),
            "an untrusted peer's id is ignored"
        );
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().expect("ip");
        assert_eq!(activity_id(mapped, &h, &proxies()), "lb-7f3a:01");

        let tp = "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01";
        let h = headers(&[("traceparent", tp)]);
        assert_eq!(
            activity_id(proxy, &h, &proxies()),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        // X-Request-Id wins over traceparent; malformed ones fall through to a fresh id.
        let h = headers(&[("x-request-id", "abc"), ("traceparent", tp)]);
        assert_eq!(activity_id(proxy, &h, &proxies()), "abc");
        for bad in ["a b", "x\"y", "", &"x".repeat(65), "é"] {
            let h = headers(&[("x-request-id", bad)]);
            assert!(is_guid(&activity_id(proxy, &h, &proxies())), "{bad:?}");
        }
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f35-00f067aa0ba902b7-01",
        ] {
            let h = headers(&[("traceparent", bad)]);
            assert!(is_guid(&activity_id(proxy, &h, &proxies())), "{bad}");
        }
    }

    #[test]
    fn events_inside_the_span_carry_the_activity_id_in_json_logs() {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().expect("lock").extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let out = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_span_list(false)
            .with_max_level(tracing::Level::WARN)
            .with_writer(move || buf.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let _in = span("6f1c2a9e-0b7d-4c3e-9a51-2f0e8d7c6b5a").entered();
            tracing::warn!(target: "altgate::audit", event = "x", "inside");
        });
        let text = String::from_utf8(out.0.lock().expect("lock").clone()).expect("utf-8");
        let v: serde_json::Value = serde_json::from_str(text.trim()).expect("one JSON line");
        assert_eq!(
            v["span"]["activity_id"], "6f1c2a9e-0b7d-4c3e-9a51-2f0e8d7c6b5a",
            "{text}"
        );
        assert_eq!(v["event"], "x");
    }
}
