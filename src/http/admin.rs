//! The admin listener: what operators scrape (`GET /metrics`), readiness (`/ready`, `/health`)
//! and the account-activity API `altgate lockout` uses (AD FS `Get-AdfsAccountActivity`,
//! `Reset-AdfsAccountLockout`, `Set-AdfsAccountActivity`), apart from the public port so the
//! internet never sees altgate's counters (which would tell an attacker whether a guessed
//! account exists, where it lives and what the directory said). Plain HTTP only on loopback,
//! TLS otherwise; optionally a bearer token, which the calls that change state require.

use super::response::{self, Reply};
use crate::app::App;
use crate::endpoint::{AdminEndpoint, Unrouted};
use crate::events::AccountActivityChanged;
use crate::lockout::view::ActivityView;
use crate::lockout::AccountKey;
use crate::state::ResetScope;
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use std::net::IpAddr;

fn json(status: StatusCode, value: &serde_json::Value) -> Reply {
    let mut body = value.to_string();
    body.push('\n');
    response::respond(status, "application/json", body)
}

fn problem(status: StatusCode, code: &str, message: &str) -> Reply {
    json(
        status,
        &serde_json::json!({ "error": code, "message": message }),
    )
}

/// The query's parameters.
fn params(req: &Request<Incoming>) -> Vec<(String, String)> {
    form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn param<'p>(params: &'p [(String, String)], name: &str) -> Option<&'p str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Resolves `login` as a sign-in would and returns its lockout key.
async fn account(app: &App, login: &str) -> Result<AccountKey, Reply> {
    let r = app.resolver.resolve(login).await;
    match &r.account {
        Some(a) => Ok(crate::signin::lockout_key(a)),
        None => {
            let code = r.failure.as_ref().map_or("not_found", |f| f.code.as_str());
            Err(problem(
                StatusCode::NOT_FOUND,
                code,
                "the login does not resolve to exactly one account",
            ))
        }
    }
}

fn state_error(e: &crate::state::StateError) -> Reply {
    problem(StatusCode::SERVICE_UNAVAILABLE, e.code(), &e.to_string())
}

/// The account's activity as the store has it now.
async fn activity(app: &App, login: &str, key: &AccountKey) -> Reply {
    match app.lockout.activity(key).await {
        Ok(a) => json(
            StatusCode::OK,
            &serde_json::to_value(ActivityView::new(login, key.as_str(), &a)).unwrap_or_default(),
        ),
        Err(e) => state_error(&e),
    }
}

/// The account-activity endpoints.
async fn account_activity(
    app: &App,
    endpoint: AdminEndpoint,
    req: &Request<Incoming>,
    operator_ip: IpAddr,
) -> Reply {
    let params = params(req);
    let Some(login) = param(&params, "login").filter(|l| !l.is_empty()) else {
        return problem(StatusCode::BAD_REQUEST, "missing_login", "give ?login=");
    };
    let key = match account(app, login).await {
        Ok(k) => k,
        Err(reply) => return reply,
    };
    let method = req.method().as_str();
    let change = match (endpoint, method) {
        (AdminEndpoint::AccountActivity, "GET" | "HEAD") => None,
        (AdminEndpoint::AccountActivity | AdminEndpoint::AccountActivityReset, _) => {
            let (scope, action) = match param(&params, "location").unwrap_or("both") {
                "familiar" => (ResetScope::Familiar, "reset_familiar"),
                "unfamiliar" => (ResetScope::Unfamiliar, "reset_unfamiliar"),
                "both" => (ResetScope::Both, "reset_both"),
                _ => {
                    return problem(
                        StatusCode::BAD_REQUEST,
                        "bad_location",
                        "location is familiar, unfamiliar or both",
                    )
                }
            };
            Some((app.lockout.reset(&key, scope).await, action, String::new()))
        }
        (_, _) => {
            let Some(ip) = param(&params, "ip").and_then(|v| v.trim().parse::<IpAddr>().ok())
            else {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "bad_ip",
                    "give ?ip= (an IP address)",
                );
            };
            let (add, remove, action) = if method == "POST" {
                (vec![ip], vec![], "add_familiar_location")
            } else {
                (vec![], vec![ip], "remove_familiar_location")
            };
            Some((
                app.lockout.set_familiar(&key, &add, &remove).await,
                action,
                ip.to_string(),
            ))
        }
    };
    if let Some((result, action, ip)) = change {
        if let Err(e) = result {
            return state_error(&e);
        }
        app.events.emit(&AccountActivityChanged {
            login: crate::events::clip(login, 256),
            account: key.as_str(),
            action,
            ip: &ip,
            operator_ip,
        });
    }
    activity(app, login, &key).await
}

/// True when `header` carries `Bearer <token>` (compared in constant time).
fn authorised(header: Option<&str>, token: &str) -> bool {
    let Some(given) = header.and_then(|h| h.strip_prefix("Bearer ")) else {
        return false;
    };
    crate::secret::constant_time_eq(given.trim(), token)
}

/// Routes one admin request from `peer`.
pub async fn handle(app: &App, req: Request<Incoming>, peer: IpAddr) -> Reply {
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
        Ok(e) if e.changes_state(req.method().as_str()) && token.is_none() => problem(
            StatusCode::FORBIDDEN,
            "no_admin_token",
            "changes need admin.bearer_token_file to be set",
        ),
        Ok(AdminEndpoint::Metrics) => response::respond(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            app.metrics.render(),
        ),
        Ok(AdminEndpoint::Ready) => {
            let r = health(app);
            let status = if r.ready {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            response::respond(status, "text/plain; charset=utf-8", r.to_text())
        }
        Ok(AdminEndpoint::Health) => {
            let r = health(app);
            let status = if r.ready {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            json(status, &r.to_json())
        }
        Ok(
            e @ (AdminEndpoint::AccountActivity
            | AdminEndpoint::AccountActivityReset
            | AdminEndpoint::FamiliarLocations),
        ) => account_activity(app, e, &req, peer.to_canonical()).await,
        Err(Unrouted::MethodNotAllowed { allow }) => response::method_not_allowed(allow),
        Err(Unrouted::NotFound) => response::not_found(),
    };
    if req.method() == Method::HEAD {
        response::without_body(res)
    } else {
        res
    }
}

/// The node's health now.
fn health(app: &App) -> crate::health::HealthReport {
    let forests: Vec<String> = app.config.forests.iter().map(|f| f.name.clone()).collect();
    crate::health::report(
        &forests,
        app.directory.as_ref(),
        app.state.as_ref(),
        app.config.state.on_unavailable,
        &app.health_checked,
    )
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
