//! `altgate::run` from a demo-mode configuration: the development certificate generated as it
//! starts, `/adfs/probe` over verified TLS, a clean shutdown. (The server over the real forests,
//! with `/metrics` on the admin listener only, is `tests/it/server.rs`.)

use crate::kit::certs::wait_for_certificate;
use crate::kit::config::parse;
use crate::kit::demo::{self, Served};
use crate::kit::http::https;
use hyper::{Method, StatusCode};
use std::net::SocketAddr;
use std::path::Path;

async fn get(addr: SocketAddr, ca: &Path, method: Method, path: &str) -> (StatusCode, String) {
    let (status, body) = https(addr, ca, method.as_str(), path, None, Vec::new()).await;
    (StatusCode::from_u16(status).expect("status"), body)
}

#[tokio::test]
async fn run_starts_from_a_config_in_demo_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cert = dir.path().join("s.crt");
    let key = dir.path().join("s.key");
    let config = parse(&demo::config_yaml(&cert, &key, ""));
    let server = Served::start(config).await;
    wait_for_certificate(&cert).await;
    let (status, body) = get(server.addr, &cert, Method::GET, "/adfs/probe").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "OK"));
    server.stop().await;
}
