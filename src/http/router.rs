//! The public router: the request is matched once against the route table
//! ([`crate::endpoint::Endpoint`]), so every path, 404 and 405 (with `Allow`) comes from one
//! place; HEAD is answered as GET without a body. Request bodies are read under their size and
//! time limits, browser requests by one reader (`BrowserRequest`), and banned client addresses
//! are refused before any work. Every request runs in a span carrying its activity ID
//! ([`super::activity`]), which its reply returns. Operators' endpoints are not here: they live
//! on the admin listener ([`super::admin`]).

use super::activity;
use super::client_ip::{client_addresses, is_banned};
use super::conn::Body;
use super::response::{self, Reply};
use crate::app::App;
use crate::endpoint::{Enabled, Endpoint, Unrouted};
use crate::events::BannedAddressRefused;
use crate::label::{kinds, label_set};
use crate::protocols::passive::page::Trace;
use crate::protocols::wstrust::{self, BodyRefusal};
use crate::request::{ActivityId, RequestContext};
use crate::tokens::rstr::Version;
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::header::HeaderMap;
use hyper::{Method, Request, StatusCode};
use std::net::IpAddr;
use std::time::Duration;
use tokio::time::Instant;
use tracing::Instrument;

label_set! {
    /// A public request no endpoint answered (the rest of the `endpoint` label's values are
    /// [`Endpoint`]'s).
    pub enum Unserved: kinds::Endpoint {
        /// Refused because an address it carries is in `server.banned_ips`.
        Banned = "banned",
        /// A served path with a method it does not answer (405).
        MethodNotAllowed = "method_not_allowed",
        /// No endpoint at this path (404).
        NotFound = "not_found",
    }
}

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

/// The request context of a public request from `peer`: its client addresses (through
/// `server.trusted_proxies`) and activity ID, built once here and passed whole.
pub fn request_context(app: &App, peer: IpAddr, headers: &HeaderMap, tls: bool) -> RequestContext {
    let proxies = &app.config.server.trusted_proxies;
    RequestContext {
        peer: peer.to_canonical(),
        client: client_addresses(peer, headers, proxies),
        activity_id: ActivityId::new(activity::activity_id(peer, headers, proxies)),
        tls,
    }
}

/// What a browser endpoint reads from a request: cookies, language, query and (for a POST) the
/// body, read under `server.max_body_bytes` and `server.limits.body_read_timeout`.
struct BrowserRequest {
    post: bool,
    raw_query: String,
    cookie_header: Option<String>,
    accept_language: Option<String>,
    authorization: Option<String>,
    user_agent: Option<String>,
    /// The body was sent as `application/x-www-form-urlencoded`.
    form: bool,
    body: Bytes,
}

impl BrowserRequest {
    async fn read(app: &App, req: Request<Body>) -> Result<Self, (BodyError, Option<String>)> {
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
        let authorization = header(hyper::header::AUTHORIZATION);
        let user_agent = header(hyper::header::USER_AGENT);
        let form = header(hyper::header::CONTENT_TYPE).is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
        let raw_query = req.uri().query().unwrap_or("").to_string();
        let post = req.method() == Method::POST;
        let body = if post {
            let server = &app.config.server;
            read_body(req, server.max_body_bytes, server.limits.body_read_timeout)
                .await
                .map_err(|e| (e, accept_language.clone()))?
        } else {
            Bytes::new()
        };
        Ok(BrowserRequest {
            post,
            raw_query,
            cookie_header,
            accept_language,
            authorization,
            user_agent,
            form,
            body,
        })
    }
}

/// The SOAP body of a WS-Trust request (either endpoint), or why it is refused: too large
/// (413), too slow (408), not `application/soap+xml`.
async fn soap_body(app: &App, req: Request<Body>) -> Result<Bytes, BodyRefusal> {
    let is_soap = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("application/soap+xml")
        });
    let server = &app.config.server;
    match read_body(req, server.max_body_bytes, server.limits.body_read_timeout).await {
        Ok(_) if !is_soap => Err(BodyRefusal::ContentType),
        Ok(b) => Ok(b),
        Err(BodyError::TooLarge) => Err(BodyRefusal::BodyTooLarge),
        Err(BodyError::Timeout) => Err(BodyRefusal::BodyTimeout),
    }
}

async fn wstrust_endpoint(
    app: &App,
    req: Request<Body>,
    version: Version,
    ctx: &RequestContext,
) -> Reply {
    match soap_body(app, req).await {
        Ok(body) => response::soap(app.wstrust().handle(version, &body, ctx).await),
        Err(refusal) => response::soap(app.wstrust().refuse(version, refusal)),
    }
}

/// WS-Trust windowstransport: internal clients only (an extranet request gets 404, as behind
/// an AD FS proxy: the endpoint bypasses extranet lockout), authenticated with HTTP Negotiate.
async fn windows_endpoint(
    app: &App,
    req: Request<Body>,
    version: Version,
    ctx: &RequestContext,
) -> Reply {
    let internal = ctx
        .client
        .is_internal(&app.config.federation.internal_networks);
    let (Some(windows), true) = (app.windows.as_ref(), internal) else {
        return response::not_found();
    };
    let authorization = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    match soap_body(app, req).await {
        Ok(body) => response::soap(
            app.wstrust()
                .handle_windows(
                    version,
                    &body,
                    ctx,
                    &windows.service,
                    authorization.as_deref(),
                )
                .await,
        ),
        Err(refusal) => response::soap(app.wstrust().refuse(version, refusal)),
    }
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

/// `/adfs/ls/`, IdP-initiated sign-on and the voluntary password-change page.
async fn browser_endpoint(
    app: &App,
    req: Request<Body>,
    ctx: &RequestContext,
    endpoint: Endpoint,
) -> Reply {
    let b = match BrowserRequest::read(app, req).await {
        Ok(b) => b,
        Err((e, accept_language)) => {
            let status = match e {
                BodyError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
                BodyError::Timeout => StatusCode::REQUEST_TIMEOUT,
            };
            let trace = Trace {
                activity_id: ctx.activity_id.as_str(),
                time: app.tokens.now(),
            };
            let r = crate::protocols::passive::unreadable(
                &app.pages,
                accept_language.as_deref(),
                status,
                &trace,
            );
            return response::page(r, ctx.tls, &app.pages);
        }
    };
    let body = if b.form { &b.body[..] } else { &[] };
    let ls = crate::protocols::passive::LsRequest {
        post: b.post,
        raw_query: &b.raw_query,
        body,
        cookie_header: b.cookie_header.as_deref(),
        accept_language: b.accept_language.as_deref(),
        request: ctx,
        idp_initiated: endpoint == Endpoint::IdpInitiated,
        authorization: b.authorization.as_deref(),
        user_agent: b.user_agent.as_deref(),
    };
    let r = if endpoint == Endpoint::UpdatePassword {
        crate::protocols::passive::update_password(&app.passive(), &ls).await
    } else {
        crate::protocols::passive::handle(&app.passive(), &ls).await
    };
    response::page(r, ctx.tls, &app.pages)
}

/// The demo relying party (demo mode with `passive.demo_relying_party` only).
async fn demo_endpoint(
    app: &App,
    req: Request<Body>,
    endpoint: Endpoint,
    ctx: &RequestContext,
) -> Reply {
    let b = match BrowserRequest::read(app, req).await {
        Ok(b) => b,
        Err((BodyError::TooLarge, _)) => {
            return response::text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n")
        }
        Err((BodyError::Timeout, _)) => {
            return response::text(StatusCode::REQUEST_TIMEOUT, "request body too slow\n")
        }
    };
    let demo_req = crate::protocols::demo_rp::DemoRequest {
        path: endpoint.path(),
        post: b.post,
        body: &b.body,
        cookie_header: b.cookie_header.as_deref(),
    };
    response::page(
        crate::protocols::demo_rp::handle(&app.demo_rp(), &demo_req).await,
        ctx.tls,
        &app.pages,
    )
}

/// Serves one routed request.
async fn serve(app: &App, endpoint: Endpoint, req: Request<Body>, ctx: &RequestContext) -> Reply {
    match endpoint {
        Endpoint::Wstrust13 => wstrust_endpoint(app, req, Version::Trust13, ctx).await,
        Endpoint::Wstrust2005 => wstrust_endpoint(app, req, Version::Trust2005, ctx).await,
        Endpoint::Wstrust13Windows => windows_endpoint(app, req, Version::Trust13, ctx).await,
        Endpoint::Wstrust2005Windows => windows_endpoint(app, req, Version::Trust2005, ctx).await,
        Endpoint::Passive | Endpoint::IdpInitiated | Endpoint::UpdatePassword => {
            browser_endpoint(app, req, ctx, endpoint).await
        }
        Endpoint::Logo => match &app.config.passive.branding.logo {
            Some(logo) => response::image(logo),
            None => response::not_found(),
        },
        Endpoint::DemoHome | Endpoint::DemoWsfed | Endpoint::DemoSaml => {
            demo_endpoint(app, req, endpoint, ctx).await
        }
        Endpoint::Mex => response::xml(wstrust::mex::document(
            app.config.server.public_url.as_str(),
            app.windows.is_some() && app.config.windows_integrated.windows_transport,
        )),
        Endpoint::FederationMetadata => metadata(app),
        Endpoint::Probe => response::text(StatusCode::OK, "OK"),
        Endpoint::OAuthDiscovery
        | Endpoint::OAuthKeys
        | Endpoint::OAuthAuthorize
        | Endpoint::OAuthToken
        | Endpoint::OAuthUserinfo
        | Endpoint::OAuthLogout
        | Endpoint::OAuthRevoke
        | Endpoint::OAuthIntrospect => oauth_endpoint(app, req, ctx, endpoint).await,
    }
}

/// `/adfs/oauth2/...`, userinfo, discovery and keys (with `oauth`).
async fn oauth_endpoint(
    app: &App,
    req: Request<Body>,
    ctx: &RequestContext,
    endpoint: Endpoint,
) -> Reply {
    use crate::protocols::oauth;
    let Some(view) = app.oauth() else {
        return response::not_found();
    };
    match endpoint {
        Endpoint::OAuthDiscovery => return response::json(oauth::discovery(&view)),
        Endpoint::OAuthKeys => return response::json(oauth::jwks(&view)),
        _ => {}
    }
    let b = match BrowserRequest::read(app, req).await {
        Ok(b) => b,
        Err((BodyError::TooLarge, _)) => {
            return response::text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n")
        }
        Err((BodyError::Timeout, _)) => {
            return response::text(StatusCode::REQUEST_TIMEOUT, "request body too slow\n")
        }
    };
    let body = if b.form { &b.body[..] } else { &[] };
    if matches!(endpoint, Endpoint::OAuthAuthorize | Endpoint::OAuthLogout) {
        let ls = crate::protocols::passive::LsRequest {
            post: b.post,
            raw_query: &b.raw_query,
            body,
            cookie_header: b.cookie_header.as_deref(),
            accept_language: b.accept_language.as_deref(),
            request: ctx,
            idp_initiated: false,
            authorization: b.authorization.as_deref(),
            user_agent: b.user_agent.as_deref(),
        };
        let r = if endpoint == Endpoint::OAuthAuthorize {
            crate::protocols::passive::authorize(&view.passive, &ls).await
        } else {
            oauth::logout(&view, &ls).await
        };
        return response::page(r, ctx.tls, &app.pages);
    }
    let api = oauth::ApiRequest {
        post: b.post,
        raw_query: &b.raw_query,
        body: &b.body,
        form: b.form,
        authorization: b.authorization.as_deref(),
        request: ctx,
    };
    response::json(match endpoint {
        Endpoint::OAuthToken => oauth::token(&view, &api).await,
        Endpoint::OAuthUserinfo => oauth::userinfo(&view, &api).await,
        Endpoint::OAuthRevoke => oauth::revoke(&view, &api).await,
        _ => oauth::introspect(&view, &api).await,
    })
}

/// Routes one public request inside the span of its activity ID, which the reply carries back
/// in `X-Request-Id`.
pub async fn handle(app: &App, req: Request<Body>, ctx: &RequestContext) -> Reply {
    let mut res = route(app, req, ctx)
        .instrument(activity::span(ctx.activity_id.as_str()))
        .await;
    response::set_activity_id(&mut res, ctx.activity_id.as_str());
    res
}

/// Routes one public request. Endpoint labels come from the route table, never the path.
async fn route(app: &App, req: Request<Body>, ctx: &RequestContext) -> Reply {
    let start = Instant::now();
    let server = &app.config.server;
    if is_banned(&ctx.client, &server.banned_ips) {
        app.events.emit(&BannedAddressRefused {
            client_ip: ctx.client_ip(),
            peer: ctx.peer,
        });
        let res = response::text(StatusCode::FORBIDDEN, "forbidden\n");
        app.metrics.http.count(Unserved::Banned, &res, start);
        return res;
    }
    let enabled = Enabled {
        update_password: app.config.passive.update_password_page,
        demo: app.config.passive.demo_relying_party,
        windows_transport: app.windows.is_some() && app.config.windows_integrated.windows_transport,
        oauth: app.config.oauth.is_some(),
    };
    let head = req.method() == Method::HEAD;
    let res = match Endpoint::route(req.method().as_str(), req.uri().path(), enabled) {
        Ok(endpoint) => {
            let res = serve(app, endpoint, req, ctx).await;
            app.metrics.http.count(endpoint, &res, start);
            res
        }
        Err(Unrouted::NotFound) => {
            let res = response::not_found();
            app.metrics.http.count(Unserved::NotFound, &res, start);
            res
        }
        Err(Unrouted::MethodNotAllowed { allow }) => {
            let res = response::method_not_allowed(allow);
            app.metrics
                .http
                .count(Unserved::MethodNotAllowed, &res, start);
            res
        }
    };
    if head {
        response::without_body(res)
    } else {
        res
    }
}
