//! The admin listener: what operators scrape (`GET /metrics`), apart from the public port so the
//! internet never sees altgate's counters (which would tell an attacker whether a guessed
//! account exists, where it lives and what the directory said). Plain HTTP only on loopback,
//! TLS otherwise; optionally a bearer token.

use super::response::{self, Reply};
use crate::app::App;
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};

/// True when `header` carries `Bearer <token>` (compared in constant time).
fn authorised(header: Option<&str>, token: &str) -> bool {
    let Some(given) = header.and_then(|h| h.strip_prefix("Bearer ")) else {
        return false;
    };
    let given = given.trim().as_bytes();
    let want = token.as_bytes();
    given.len() == want.len()
        && given
            .iter()
            .zip(want)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Routes one admin request.
pub async fn handle(app: &App, req: Request<Incoming>) -> Reply {
    let path = req.uri().path().to_ascii_lowercase();
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
    match (req.method(), path.as_str()) {
        (&Method::GET, "/metrics") => response::respond(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            app.metrics.render(),
        ),
        (_, "/metrics") => response::method_not_allowed(),
        _ => response::not_found(),
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
