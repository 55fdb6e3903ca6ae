//! Every `server.limits` key at its bounds and beyond, in demo mode (no directory needed):
//! `altgate check-config` accepts the bounds and names each key beyond them (exit 2), and a
//! server runs at both extremes, over HTTP/1.1 and HTTP/2. (The attacks these limits stop,
//! against the real forests, are `tests/it/edge/`.)

use crate::kit::attack;
use crate::kit::cli::altgate;
use crate::kit::config::parse;
use crate::kit::demo::{self, Served};
use crate::kit::files::write_config;
use crate::kit::http::request_from;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

const LOCALHOST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// A demo-mode configuration (no forests needed) with `limits` as `server.limits`.
fn demo_yaml(limits: &str, cert: &Path, key: &Path) -> String {
    demo::config_yaml(cert, key, &format!(", limits: {{ {limits} }}"))
}

/// A `server.limits` key: (key, lowest allowed, highest allowed, below, above).
type Bound = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

/// Every `server.limits` key.
const BOUNDS: &[Bound] = &[
    ("tls_handshake_timeout", "1s", "60s", "999ms", "61s"),
    ("first_request_timeout", "1s", "1m", "500ms", "1m 1s"),
    ("header_read_timeout", "1s", "1m", "0s", "1m 1s"),
    ("body_read_timeout", "1s", "5m", "500ms", "301s"),
    ("idle_timeout", "1s", "1h", "0s", "1h 1s"),
    ("request_timeout", "1s", "5m", "1ms", "5m 1s"),
    ("max_connections", "16", "1000000", "15", "1000001"),
    ("max_connections_per_ip", "1", "1000000", "0", "1000001"),
    ("http2_max_concurrent_streams", "1", "1000", "0", "1001"),
    (
        "http2_stream_window_bytes",
        "65535",
        "16777216",
        "65534",
        "16777217",
    ),
    (
        "http2_connection_window_bytes",
        "65535",
        "67108864",
        "1024",
        "67108865",
    ),
    ("max_header_bytes", "8192", "1048576", "8191", "1048577"),
];

/// Every key with the value `pick` chooses, as the inside of a YAML flow mapping.
fn all_limits(pick: fn(&Bound) -> &'static str) -> String {
    BOUNDS
        .iter()
        .map(|row| format!("{}: {}", row.0, pick(row)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_config(yaml: &str, name: &str) -> (Option<i32>, String) {
    let path = write_config(name, yaml);
    let out = altgate(&[
        "check-config",
        "--config",
        path.to_str().expect("utf-8 path"),
    ]);
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn check_config_accepts_every_limit_at_its_bounds_and_names_each_one_beyond() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (dir.path().join("s.crt"), dir.path().join("s.key"));
    altgate::tls::ensure_dev_certificate(
        &cert,
        &key,
        "localhost",
        altgate::clock::system_clock()(),
    )
    .expect("certificate");
    for (label, limits) in [
        ("lowest", all_limits(|r| r.1)),
        ("highest", all_limits(|r| r.2)),
    ] {
        let (code, out) = check_config(&demo_yaml(&limits, &cert, &key), "limits-ok.yaml");
        assert_eq!(code, Some(0), "every key at its {label} bound:\n{out}");
    }
    // Beyond a bound, each key alone, then every key at once: exit 2 naming each key.
    let mut table = Vec::new();
    for (k, _, _, below, above) in BOUNDS {
        table.push((*k, below.to_string()));
        table.push((*k, above.to_string()));
    }
    // Values no bound check should even see.
    for (k, v) in [
        ("max_connections", "-1"),
        ("max_connections", "18446744073709551616"),
        ("max_connections_per_ip", "lots"),
        ("http2_stream_window_bytes", "4294967296"),
        ("idle_timeout", "forever"),
        ("header_read_timeout", "-1s"),
        ("body_read_timeout", "10"),
    ] {
        table.push((k, v.to_string()));
    }
    for (k, value) in &table {
        // Numbers as YAML integers, the rest as strings.
        let yaml_value = if value.parse::<i128>().is_ok() {
            value.clone()
        } else {
            format!("'{value}'")
        };
        let (code, out) = check_config(
            &demo_yaml(&format!("{k}: {yaml_value}"), &cert, &key),
            "limits-bad.yaml",
        );
        assert_eq!(code, Some(2), "{k}: {value} must be refused:\n{out}");
        assert!(
            out.contains(&format!("server.limits.{k}")),
            "{k}: {value}: the message must name the key:\n{out}"
        );
    }
    let (code, out) = check_config(
        &demo_yaml(&all_limits(|r| r.4), &cert, &key),
        "limits-all-bad.yaml",
    );
    assert_eq!(code, Some(2), "{out}");
    for (k, ..) in BOUNDS {
        assert!(
            out.contains(&format!("server.limits.{k}:")),
            "server.limits.{k} missing from:\n{out}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn altgate_serves_with_every_limit_at_its_lowest_and_at_its_highest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (dir.path().join("s.crt"), dir.path().join("s.key"));
    altgate::tls::ensure_dev_certificate(
        &cert,
        &key,
        "localhost",
        altgate::clock::system_clock()(),
    )
    .expect("certificate");
    for limits in [all_limits(|r| r.1), all_limits(|r| r.2)] {
        let server = Served::start(parse(&demo_yaml(&limits, &cert, &key))).await;
        let addr = server.addr;
        // HTTP/1.1.
        let (status, _, body) = request_from(
            LOCALHOST,
            addr,
            &cert,
            "GET",
            "/adfs/probe",
            &[],
            Vec::new(),
        )
        .await;
        assert_eq!((status, body.as_str()), (200, "OK"), "{limits}");
        // HTTP/2, once the HTTP/1.1 connection is gone (the lowest per-address cap is 1).
        let h2 = attack::client_tls(&cert, &[b"h2"]);
        let mut tls = None;
        for _ in 0..100 {
            if let Ok(t) = attack::tls_from(LOCALHOST, addr, h2.clone()).await {
                tls = Some(t);
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let tls = tls.expect("an HTTP/2 connection");
        let (client, conn) = h2::client::handshake(tls).await.expect("h2 handshake");
        let conn = tokio::spawn(conn);
        let mut client = client.ready().await.expect("ready");
        let req = hyper::Request::get("https://localhost/adfs/probe")
            .body(())
            .expect("request");
        let (response, _) = client.send_request(req, true).expect("stream");
        let res = response.await.expect("response");
        assert_eq!(res.status(), 200, "{limits}");
        drop(client);
        conn.abort();
        server.stop().await;
    }
}
