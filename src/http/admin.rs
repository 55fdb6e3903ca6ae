//! The admin listener: what operators scrape (`GET /metrics`), readiness (`/ready`, `/health`)
//! and the account-activity API `altgate lockout` uses (AD FS `Get-AdfsAccountActivity`,
//! `Reset-AdfsAccountLockout`, `Set-AdfsAccountActivity`) and the reload call
//! (`POST /api/v1/reload`, as SIGHUP), apart from the public port so the
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

/// Why an admin request was refused; each becomes one JSON problem (`error`: the stable code,
/// `message`) with its status, here and nowhere else.
#[derive(Debug, thiserror::Error)]
enum AdminError {
    /// A change (POST, DELETE) without `admin.bearer_token_file` configured.
    #[error("changes need admin.bearer_token_file to be set")]
    NoToken,
    /// No `?login=`.
    #[error("give ?login=")]
    MissingLogin,
    /// `location` is not a location class.
    #[error("location is familiar, unfamiliar or both")]
    BadLocation,
    /// `ip` is missing or not an address.
    #[error("give ?ip= (an IP address)")]
    BadIp,
    /// The login does not resolve to one account (the resolution's code).
    #[error("the login does not resolve to exactly one account")]
    Unresolved(&'static str),
    /// The state store did not answer.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
}

impl AdminError {
    /// Stable code: `no_admin_token`, `missing_login`, `bad_location`, `bad_ip`, the
    /// resolution's code (`not_found`, an MSIS code, ...) or the store's.
    fn code(&self) -> &'static str {
        match self {
            AdminError::NoToken => "no_admin_token",
            AdminError::MissingLogin => "missing_login",
            AdminError::BadLocation => "bad_location",
            AdminError::BadIp => "bad_ip",
            AdminError::Unresolved(code) => code,
            AdminError::State(e) => e.code(),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            AdminError::NoToken => StatusCode::FORBIDDEN,
            AdminError::MissingLogin | AdminError::BadLocation | AdminError::BadIp => {
                StatusCode::BAD_REQUEST
            }
            AdminError::Unresolved(_) => StatusCode::NOT_FOUND,
            AdminError::State(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn reply(&self) -> Reply {
        json(
            self.status(),
            &serde_json::json!({ "error": self.code(), "message": self.to_string() }),
        )
    }
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
async fn account(app: &App, login: &str) -> Result<AccountKey, AdminError> {
    let r = app.resolver.resolve(login).await;
    match &r.account {
        Some(a) => Ok(crate::signin::lockout_key(a)),
        None => Err(AdminError::Unresolved(
            r.failure.as_ref().map_or("not_found", |f| f.code.as_str()),
        )),
    }
}

/// The account-activity endpoints: the account's activity after the change, if any.
async fn account_activity(
    app: &App,
    endpoint: AdminEndpoint,
    req: &Request<Incoming>,
    operator_ip: IpAddr,
) -> Result<ActivityView, AdminError> {
    let params = params(req);
    let login = param(&params, "login")
        .filter(|l| !l.is_empty())
        .ok_or(AdminError::MissingLogin)?;
    let key = account(app, login).await?;
    let method = req.method().as_str();
    let change = match (endpoint, method) {
        (AdminEndpoint::AccountActivity, "GET" | "HEAD") => None,
        (AdminEndpoint::AccountActivity | AdminEndpoint::AccountActivityReset, _) => {
            let (scope, action) = match param(&params, "location").unwrap_or("both") {
                "familiar" => (ResetScope::Familiar, "reset_familiar"),
                "unfamiliar" => (ResetScope::Unfamiliar, "reset_unfamiliar"),
                "both" => (ResetScope::Both, "reset_both"),
                _ => return Err(AdminError::BadLocation),
            };
            app.lockout.reset(&key, scope).await?;
            Some((action, String::new()))
        }
        (_, _) => {
            let ip = param(&params, "ip")
                .and_then(|v| v.trim().parse::<IpAddr>().ok())
                .ok_or(AdminError::BadIp)?;
            let (add, remove, action) = if method == "POST" {
                (vec![ip], vec![], "add_familiar_location")
            } else {
                (vec![], vec![ip], "remove_familiar_location")
            };
            app.lockout.set_familiar(&key, &add, &remove).await?;
            Some((action, ip.to_string()))
        }
    };
    if let Some((action, ip)) = change {
        app.events.emit(&AccountActivityChanged {
            login: crate::events::clip(login, 256),
            account: key.as_str(),
            action,
            ip: &ip,
            operator_ip,
        });
    }
    let activity = app.lockout.activity(&key).await?;
    Ok(ActivityView::new(login, key.as_str(), &activity))
}

/// True when `header` carries `Bearer <token>` (compared in constant time).
fn authorised(header: Option<&str>, token: &str) -> bool {
    let Some(given) = header.and_then(|h| h.strip_prefix("Bearer ")) else {
        return false;
    };
    crate::secret::constant_time_eq(given.trim(), token)
}

/// Routes one admin request from `peer`.
pub async fn handle(
    live: &super::live::Live,
    app: &App,
    req: Request<Incoming>,
    peer: IpAddr,
) -> Reply {
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
        Ok(e) if e.changes_state(req.method().as_str()) && token.is_none() => {
            AdminError::NoToken.reply()
        }
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
        ) => match account_activity(app, e, &req, peer.to_canonical()).await {
            Ok(view) => json(
                StatusCode::OK,
                &serde_json::to_value(view).unwrap_or_default(),
            ),
            Err(e) => e.reply(),
        },
        Ok(AdminEndpoint::Reload) => reload(live).await,
        Ok(AdminEndpoint::Certificates) => certificates(live),
        Err(Unrouted::MethodNotAllowed { allow }) => response::method_not_allowed(allow),
        Err(Unrouted::NotFound) => response::not_found(),
    };
    if req.method() == Method::HEAD {
        response::without_body(res)
    } else {
        res
    }
}

/// `POST /api/v1/reload`: 200 with what changed, or the refusal with every problem (422 for
/// an invalid file, 500 when a part could not be built); either way the node keeps serving.
async fn reload(live: &super::live::Live) -> Reply {
    match live.reload().await {
        Ok(r) => json(
            StatusCode::OK,
            &serde_json::json!({
                "result": crate::config::ReloadResult::Applied.id(),
                "changed": r.changed,
                "needs_restart": r.needs_restart,
                "directory_kept": r.directory_kept,
            }),
        ),
        Err(r) => {
            let status = match r.result {
                crate::config::ReloadResult::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            json(
                status,
                &serde_json::json!({
                    "result": r.result.id(),
                    "problems": r.problems,
                }),
            )
        }
    }
}

/// `GET /api/v1/certificates`: what this node loaded, for `altgate certs status` to compare
/// with the files.
fn certificates(live: &super::live::Live) -> Reply {
    let list: Vec<serde_json::Value> = live
        .certificates()
        .into_iter()
        .map(|(role, der)| {
            let not_after = crate::keys::cert_info(&der)
                .map(|(_, t)| t.unix_timestamp())
                .ok();
            serde_json::json!({
                "certificate": role,
                "thumbprint": crate::keys::thumbprint_hex(&der),
                "not_after": not_after,
            })
        })
        .collect();
    json(StatusCode::OK, &serde_json::json!({ "certificates": list }))
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
    use super::{authorised, AdminError};
    use hyper::StatusCode;

    #[test]
    fn problems_have_stable_codes_and_statuses() {
        for (e, code, status) in [
            (AdminError::NoToken, "no_admin_token", StatusCode::FORBIDDEN),
            (
                AdminError::MissingLogin,
                "missing_login",
                StatusCode::BAD_REQUEST,
            ),
            (
                AdminError::BadLocation,
                "bad_location",
                StatusCode::BAD_REQUEST,
            ),
            (AdminError::BadIp, "bad_ip", StatusCode::BAD_REQUEST),
            (
                AdminError::Unresolved("MSIS8014"),
                "MSIS8014",
                StatusCode::NOT_FOUND,
            ),
            (
                AdminError::State(crate::state::StateError::Timeout(
                    std::time::Duration::from_millis(250),
                )),
                "state_timeout",
                StatusCode::SERVICE_UNAVAILABLE,
            ),
        ] {
            assert_eq!((e.code(), e.status()), (code, status), "{e}");
            assert_eq!(e.reply().status(), status);
        }
    }

    #[test]
    fn bearer_tokens_must_match_exactly() {
        assert!(authorised(Some("Bearer s3cret"), "s3cret"));
        assert!(!authorised(Some("Bearer s3cre"), "s3cret"));
        assert!(!authorised(Some("Bearer s3cretX"), "s3cret"));
        assert!(!authorised(Some("Basic s3cret"), "s3cret"));
        assert!(!authorised(None, "s3cret"));
    }
}
