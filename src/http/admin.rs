//! The admin listener: what operators scrape (`GET /metrics`), apart from the public port so the
//! internet never sees altgate's counters (which would tell an attacker whether a guessed
//! account exists, where it lives and what the directory said). Plain HTTP only on loopback,
//! TLS otherwise; optionally a bearer token.

use super::response::{self, Reply};
use crate::app::App;
use crate::endpoint::{AdminEndpoint, Unrouted};
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};

/// True when `header` carries `Bearer <token>` (compared in constant time).
fn authorised(header: Option<&str>, token: &str) -> bool {
    let Some(given) = header.and_then(|h| h.strip_prefix("Bearer ")) else {
        return false;
    };
    crate::secret::constant_time_eq(given.trim(), token)
}

/// Routes one admin request.
pub async fn handle(app: &App, req: Request<Incoming>) -> Reply {
    let token = app
        .config
        .admin
        .as_ref()
        .and_then(|a| a.bearer_token.as_ref());
    if let Some(token) = token {
        let header = req
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if !authorised(header, token.expose()) {
            let mut res = response::text(StatusCode::UNAUTHORIZED, "unauthorized\n");
            res.headers_mut().insert(
                hyper::header::WWW_AUTHENTICATE,
                hyper::header::HeaderValue::from_static("Bearer"),
            );
            return res;
        }
    }
    let res = match AdminEndpoint::route(req.method().as_str(), req.uri().path()) {
        Ok(AdminEndpoint::Metrics) => response::respond(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            app.metrics.render(),
        ),
        Err(Unrouted::MethodNotAllowed { allow }) => response::method_not_allowed(allow),
        Err(Unrouted::NotFound) => response::not_found(),
    };
    if req.method() == Method::HEAD {
        response::without_body(res)
    } else {
        res
    }
}

#[cfg(test)]
mod tests {
    use super::authorised;

    #[test]
    fn bearer_tokens_must_match_exactly() {
        assert!(authorised(Some("Bearer s3cret"), "s3cret"));
        assert!(!authorised(Some("Bearer s3cre"), "s3cret"));
        assert!(!authorised(Some("Bearer s3cretX"), "s3cret"));
        assert!(!authorised(Some("Basic s3cret"), "s3cret"));
        assert!(!authorised(None, "s3cret"));
    }
}
