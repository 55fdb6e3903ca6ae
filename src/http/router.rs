//! The public router: which path goes to which protocol, request bodies read under their size
//! and time limits, banned client addresses refused before any work. Every request runs in a
//! span carrying its activity ID ([`super::activity`]), which its reply returns. Operators'
//! endpoints are not here: they live on the admin listener ([`super::admin`]).

use super::activity;
use super::client_ip::{client_addresses, is_banned};
use super::conn::Body;
use super::response::{self, Reply};
use crate::app::App;
use crate::config::demo;
use crate::events::BannedAddressRefused;
use crate::protocols::wstrust::{self, request::Version, Refusal};
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::{Method, Request, StatusCode};
use std::net::IpAddr;
use std::time::Duration;
use tokio::time::Instant;
use tracing::Instrument;

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

async fn wstrust_endpoint(
    app: &App,
    req: Request<Body>,
    version: Version,
    ip: IpAddr,
    all: &[IpAddr],
) -> Reply {
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
    response::soap(wstrust.handle(version, &body, ip, all).await)
}

fn metadata(app: &App) -> Reply {
    if let Some(doc) = app.metadata.get() {
        return response::xml(doc.clone());
    }
    match crate::protocols::metadata::document(
        app.config.server.public_url.as_str(),
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

/// Where a browser request came from and what identifies it.
struct Origin<'a> {
    ip: IpAddr,
    all: &'a [IpAddr],
    tls: bool,
    activity_id: &'a str,
}

/// The voluntary password-change page (`passive.update_password_page`): read like `/adfs/ls/`.
async fn update_password_endpoint(app: &App, req: Request<Body>, origin: &Origin<'_>) -> Reply {
    ls_or_update_password(app, req, origin, false, true).await
}

async fn ls_endpoint(
    app: &App,
    req: Request<Body>,
    origin: &Origin<'_>,
    idp_initiated: bool,
) -> Reply {
    ls_or_update_password(app, req, origin, idp_initiated, false).await
}

async fn ls_or_update_password(
    app: &App,
    req: Request<Body>,
    origin: &Origin<'_>,
    idp_initiated: bool,
    update_password: bool,
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
                let trace = crate::protocols::passive::page::Trace {
                    activity_id: origin.activity_id,
                    time: app.tokens.now(),
                };
                let r = crate::protocols::passive::unreadable(
                    &app.pages,
                    accept_language.as_deref(),
                    status,
                    &trace,
                );
                return response::page(r, origin.tls, &app.pages);
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
        client_ip: origin.ip,
        client_addresses: origin.all,
        idp_initiated,
        activity_id: origin.activity_id,
    };
    let r = if update_password {
        crate::protocols::passive::update_password(&app.passive(), &ls).await
    } else {
        crate::protocols::passive::handle(&app.passive(), &ls).await
    };
    response::page(r, origin.tls, &app.pages)
}

/// The demo relying party (demo mode with `passive.demo_relying_party` only).
async fn demo_endpoint(app: &App, req: Request<Body>, path: &str, tls: bool) -> Reply {
    let cookie_header = {
        let all: Vec<&str> = req
            .headers()
            .get_all(hyper::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        (!all.is_empty()).then(|| all.join("; "))
    };
    let post = req.method() == Method::POST;
    let body = if post {
        let server = &app.config.server;
        match read_body(req, server.max_body_bytes, server.limits.body_read_timeout).await {
            Ok(b) => b,
            Err(BodyError::TooLarge) => {
                return response::text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n")
            }
            Err(BodyError::Timeout) => {
                return response::text(StatusCode::REQUEST_TIMEOUT, "request body too slow\n")
            }
        }
    } else {
        Bytes::new()
    };
    let demo_req = crate::protocols::demo_rp::DemoRequest {
        path,
        post,
        body: &body,
        cookie_header: cookie_header.as_deref(),
    };
    response::page(
        crate::protocols::demo_rp::handle(&app.demo_rp(), &demo_req).await,
        tls,
        &app.pages,
    )
}

/// Routes one public request from `peer` inside the span of its activity ID `id` (from
/// [`activity::activity_id`]), which the reply carries back in `X-Request-Id`.
pub async fn handle(app: &App, req: Request<Body>, peer: IpAddr, tls: bool, id: &str) -> Reply {
    let mut res = route(app, req, peer, tls, id)
        .instrument(activity::span(id))
        .await;
    response::set_activity_id(&mut res, id);
    res
}

/// Routes one public request. Endpoint labels are fixed strings, never the request path.
async fn route(app: &App, req: Request<Body>, peer: IpAddr, tls: bool, activity_id: &str) -> Reply {
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
    let all = addresses.all.as_slice();
    let origin = Origin {
        ip,
        all,
        tls,
        activity_id,
    };
    let path = req.uri().path().to_ascii_lowercase();
    let method = req.method().clone();
    let demo = app.config.passive.demo_relying_party;
    let (endpoint, res) = match (method, path.as_str()) {
        (Method::POST, "/adfs/services/trust/13/usernamemixed") => (
            "wstrust_13",
            wstrust_endpoint(app, req, Version::Trust13, ip, all).await,
        ),
        (Method::POST, "/adfs/services/trust/2005/usernamemixed") => (
            "wstrust_2005",
            wstrust_endpoint(app, req, Version::Trust2005, ip, all).await,
        ),
        (Method::GET | Method::POST, "/adfs/ls/" | "/adfs/ls") => {
            ("ls", ls_endpoint(app, req, &origin, false).await)
        }
        (Method::GET | Method::POST, "/adfs/ls/idpinitiatedsignon.aspx") => {
            ("idp_initiated", ls_endpoint(app, req, &origin, true).await)
        }
        (
            Method::GET | Method::POST,
            "/adfs/portal/updatepassword/" | "/adfs/portal/updatepassword",
        ) if app.config.passive.update_password_page => (
            "update_password",
            update_password_endpoint(app, req, &origin).await,
        ),
        (Method::GET, crate::protocols::passive::page::LOGO_PATH) => (
            "logo",
            match &app.config.passive.branding.logo {
                Some(logo) => response::image(logo),
                None => response::not_found(),
            },
        ),
        (Method::GET, demo::HOME | "/demo") if demo => {
            ("demo", demo_endpoint(app, req, demo::HOME, tls).await)
        }
        (Method::GET | Method::POST, demo::WSFED | demo::SAML) if demo => {
            let p = if path == demo::WSFED {
                demo::WSFED
            } else {
                demo::SAML
            };
            ("demo", demo_endpoint(app, req, p, tls).await)
        }
        (Method::GET, "/adfs/services/trust/mex") => (
            "mex",
            response::xml(wstrust::mex::document(
                app.config.server.public_url.as_str(),
            )),
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
