//! The public router: which path goes to which protocol, request bodies read under their size
//! and time limits, banned client addresses refused before any work. Operators' endpoints are
//! not here: they live on the admin listener ([`super::admin`]).

use super::client_ip::{client_addresses, is_banned};
use super::conn::Body;
use super::response::{self, Reply};
use crate::app::App;
use crate::events::BannedAddressRefused;
use crate::protocols::wstrust::{self, request::Version, Refusal};
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::{Method, Request, StatusCode};
use std::net::IpAddr;
use std::time::Duration;
use tokio::time::Instant;

/// Why a request body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyError {
    /// Larger than `server.max_body_bytes` (declared or sent).
    TooLarge,
    /// Not all there within `server.limits.body_read_timeout`.
    Timeout,
}

/// Reads a body of at most `limit` bytes within `deadline`.
async fn read_body(
    req: Request<Body>,
    limit: usize,
    deadline: Duration,
) -> Result<Bytes, BodyError> {
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    match tokio::time::timeout(deadline, Limited::new(req.into_body(), limit).collect()).await {
        Ok(Ok(c)) => Ok(c.to_bytes()),
        Ok(Err(_)) => Err(BodyError::TooLarge),
        Err(_) => Err(BodyError::Timeout),
    }
}

async fn wstrust_endpoint(app: &App, req: Request<Body>, version: Version, ip: IpAddr) -> Reply {
    let is_soap = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("application/soap+xml")
        });
    let wstrust = app.wstrust();
    let server = &app.config.server;
    let body = match read_body(req, server.max_body_bytes, server.limits.body_read_timeout).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => {
            return response::soap(wstrust.refuse(version, Refusal::BodyTooLarge))
        }
        Err(BodyError::Timeout) => {
            return response::soap(wstrust.refuse(version, Refusal::BodyTimeout))
        }
    };
    if !is_soap {
        return response::soap(wstrust.refuse(version, Refusal::ContentType));
    }
    response::soap(wstrust.handle(version, &body, ip).await)
}

fn metadata(app: &App) -> Reply {
    if let Some(doc) = app.metadata.get() {
        return response::xml(doc.clone());
    }
    match crate::protocols::metadata::document(
        &app.config.server.public_url,
        &app.config.federation.issuer,
        app.tokens.signing(),
    ) {
        Ok(doc) => response::xml(app.metadata.get_or_init(|| doc).clone()),
        Err(e) => {
            tracing::error!(target: "altgate::ops", error = %e, "cannot build federation metadata");
            response::text(StatusCode::SERVICE_UNAVAILABLE, "metadata unavailable\n")
        }
    }
}

async fn ls_endpoint(
    app: &App,
    req: Request<Body>,
    ip: IpAddr,
    tls: bool,
    idp_initiated: bool,
) -> Reply {
    let header = |name: hyper::header::HeaderName| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    // HTTP/2 clients send each cookie as its own header field: join them all.
    let cookie_header = {
        let all: Vec<&str> = req
            .headers()
            .get_all(hyper::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        (!all.is_empty()).then(|| all.join("; "))
    };
    let accept_language = header(hyper::header::ACCEPT_LANGUAGE);
    let raw_query = req.uri().query().unwrap_or("").to_string();
    let post = req.method() == Method::POST;
    let body = if post {
        let is_form = header(hyper::header::CONTENT_TYPE).is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
        let server = &app.config.server;
        match read_body(req, server.max_body_bytes, server.limits.body_read_timeout).await {
            Ok(b) if is_form => b,
            Ok(_) => Bytes::new(),
            Err(e) => {
                let status = match e {
                    BodyError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
                    BodyError::Timeout => StatusCode::REQUEST_TIMEOUT,
                };
                let r = crate::protocols::passive::unreadable(accept_language.as_deref(), status);
                return response::page(r, tls);
            }
        }
    } else {
        Bytes::new()
    };
    let ls = crate::protocols::passive::LsRequest {
        post,
        raw_query: &raw_query,
        body: &body,
        cookie_header: cookie_header.as_deref(),
        accept_language: accept_language.as_deref(),
        client_ip: ip,
        idp_initiated,
    };
    response::page(
        crate::protocols::passive::handle(&app.passive(), &ls).await,
        tls,
    )
}

/// Routes one public request from `peer`. Endpoint labels are fixed strings, never the
/// request path.
pub async fn handle(app: &App, req: Request<Body>, peer: IpAddr, tls: bool) -> Reply {
    let start = Instant::now();
    let server = &app.config.server;
    let addresses = client_addresses(peer, req.headers(), &server.trusted_proxies);
    if is_banned(&addresses, &server.banned_ips) {
        app.events.emit(&BannedAddressRefused {
            client_ip: addresses.client,
            peer,
        });
        let res = response::text(StatusCode::FORBIDDEN, "forbidden\n");
        app.metrics.http.count("banned", &res, start);
        return res;
    }
    let ip = addresses.client;
    let path = req.uri().path().to_ascii_lowercase();
    let method = req.method().clone();
    let (endpoint, res) = match (method, path.as_str()) {
        (Method::POST, "/adfs/services/trust/13/usernamemixed") => (
            "wstrust_13",
            wstrust_endpoint(app, req, Version::Trust13, ip).await,
        ),
        (Method::POST, "/adfs/services/trust/2005/usernamemixed") => (
            "wstrust_2005",
            wstrust_endpoint(app, req, Version::Trust2005, ip).await,
        ),
        (Method::GET | Method::POST, "/adfs/ls/" | "/adfs/ls") => {
            ("ls", ls_endpoint(app, req, ip, tls, false).await)
        }
        (Method::GET | Method::POST, "/adfs/ls/idpinitiatedsignon.aspx") => {
            ("idp_initiated", ls_endpoint(app, req, ip, tls, true).await)
        }
        (Method::GET, "/adfs/services/trust/mex") => (
            "mex",
            response::xml(wstrust::mex::document(&app.config.server.public_url)),
        ),
        (Method::GET, "/federationmetadata/2007-06/federationmetadata.xml") => {
            ("federation_metadata", metadata(app))
        }
        (Method::GET, "/adfs/probe") => ("probe", response::text(StatusCode::OK, "OK")),
        (
            _,
            "/adfs/probe"
            | "/adfs/ls/"
            | "/adfs/ls"
            | "/adfs/ls/idpinitiatedsignon.aspx"
            | "/adfs/services/trust/mex"
            | "/adfs/services/trust/13/usernamemixed"
            | "/adfs/services/trust/2005/usernamemixed"
            | "/federationmetadata/2007-06/federationmetadata.xml",
        ) => ("method_not_allowed", response::method_not_allowed()),
        _ => ("not_found", response::not_found()),
    };
    app.metrics.http.count(endpoint, &res, start);
    res
}
