//! The one response boundary: every reply altgate sends is rendered here, from a protocol's
//! typed answer (status, body, cookies, form target) or one of the HTTP-level refusals this
//! layer owns (404, 405, 413). Security headers are set in one place, and so is the activity ID
//! every reply carries (`X-Request-Id`).

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::HeaderValue;
use hyper::{Response, StatusCode};

/// What every handler returns.
pub type Reply = Response<Full<Bytes>>;

/// A reply with `no-store` caching and `nosniff`.
pub fn respond(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Reply {
    let mut res = Response::new(Full::new(body.into()));
    *res.status_mut() = status;
    let h = res.headers_mut();
    if let Ok(v) = content_type.parse() {
        h.insert(hyper::header::CONTENT_TYPE, v);
    }
    h.insert(
        hyper::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    res
}

const SOAP_CONTENT_TYPE: &str = "application/soap+xml; charset=utf-8";

/// A WS-Trust answer.
pub fn soap(answer: crate::protocols::wstrust::Answer) -> Reply {
    let mut res = respond(answer.status, SOAP_CONTENT_TYPE, answer.body);
    if let Some(v) = answer
        .www_authenticate
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        res.headers_mut().insert(hyper::header::WWW_AUTHENTICATE, v);
    }
    res
}

/// An XML document (metadata, MEX).
pub fn xml(body: impl Into<Bytes>) -> Reply {
    respond(StatusCode::OK, "text/xml; charset=utf-8", body)
}

/// An OAuth / OpenID Connect JSON answer (`no-store` unless it says it may be cached).
pub fn json(answer: crate::protocols::oauth::JsonAnswer) -> Reply {
    let mut res = respond(answer.status, "application/json;charset=UTF-8", answer.body);
    let h = res.headers_mut();
    if let Some(secs) = answer.cache_seconds {
        if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={secs}")) {
            h.insert(hyper::header::CACHE_CONTROL, v);
        }
    } else {
        h.insert("pragma", HeaderValue::from_static("no-cache"));
    }
    if let Some(v) = answer
        .www_authenticate
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        h.insert(hyper::header::WWW_AUTHENTICATE, v);
    }
    res
}

/// A plain-text reply.
pub fn text(status: StatusCode, body: &'static str) -> Reply {
    respond(status, "text/plain", body)
}

/// 404 for any path altgate does not serve.
pub fn not_found() -> Reply {
    text(StatusCode::NOT_FOUND, "not found\n")
}

/// 405 for a known path with the wrong method; `allow` lists the methods it answers.
pub fn method_not_allowed(allow: &'static str) -> Reply {
    let mut res = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    res.headers_mut()
        .insert(hyper::header::ALLOW, HeaderValue::from_static(allow));
    res
}

/// The answer to a HEAD request: `res` (the GET answer) with its headers, its length in
/// `Content-Length`, and no body.
pub fn without_body(res: Reply) -> Reply {
    use hyper::body::Body as _;
    let (mut parts, body) = res.into_parts();
    let len = body.size_hint().exact().unwrap_or(0);
    parts
        .headers
        .insert(hyper::header::CONTENT_LENGTH, HeaderValue::from(len));
    Response::from_parts(parts, Full::new(Bytes::new()))
}

/// Browser pages: HTML with a strict Content-Security-Policy, never cached, never framed.
pub fn page(
    r: crate::protocols::passive::LsResponse,
    tls: bool,
    pages: &crate::protocols::passive::page::Pages,
) -> Reply {
    let status = r.status;
    let mut res = respond(status, "text/html; charset=utf-8", r.body);
    let h = res.headers_mut();
    let csp = pages.csp(r.form_target.as_deref());
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert("content-security-policy", v);
    }
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert("pragma", HeaderValue::from_static("no-cache"));
    if tls {
        h.insert(
            "strict-transport-security",
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    for c in &r.set_cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            h.append(hyper::header::SET_COOKIE, v);
        }
    }
    if let Some(v) = r
        .www_authenticate
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        h.insert(hyper::header::WWW_AUTHENTICATE, v);
    }
    if let Some(loc) = r
        .location
        .as_deref()
        .and_then(|l| HeaderValue::from_str(l).ok())
    {
        h.insert(hyper::header::LOCATION, loc);
    }
    res
}

/// The organisation's logo (`passive.logo_file`), cacheable for a day. An SVG gets its own
/// sandboxing policy, so opening it directly runs nothing.
pub fn image(logo: &crate::config::branding::Logo) -> Reply {
    let mut res = respond(StatusCode::OK, logo.content_type, logo.bytes.clone());
    let h = res.headers_mut();
    h.insert(
        hyper::header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    h.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; sandbox"),
    );
    res
}

/// Returns the request's activity ID in the `X-Request-Id` header (see [`super::activity`]).
pub fn set_activity_id(res: &mut Reply, activity_id: &str) {
    if let Ok(v) = HeaderValue::from_str(activity_id) {
        res.headers_mut().insert(super::activity::HEADER, v);
    }
}
