//! `altgate lockout status|reset|familiar LOGIN`: the operator's view of extranet lockout (AD FS
//! `Get-AdfsAccountActivity`, `Reset-AdfsAccountLockout`, `Set-AdfsAccountActivity`), asked of
//! the running service through its admin API, whatever store it uses: the state shown is the
//! one the service read (its own memory on a single node, the shared store in a farm). The
//! service resolves the login exactly as a sign-in would, so every spelling of an account
//! (alternate ID, UPN, `DOMAIN\sam`) shows and changes the same counts.

use super::admin_client::{self, AdminClientError};
use crate::config::Config;
use crate::endpoint::AdminEndpoint;
use crate::lockout::view::ActivityView;

/// What went wrong, as the CLI reports it.
#[derive(Debug, thiserror::Error)]
pub enum LockoutCliError {
    /// The service could not be asked.
    #[error(transparent)]
    Admin(#[from] AdminClientError),
    /// The service answered with an error.
    #[error("the service answered {status}: {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// Its `error` code and message.
        message: String,
    },
}

/// What to do to the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change<'a> {
    /// Nothing: show it.
    None,
    /// Reset `familiar`, `unfamiliar` or `both`.
    Reset(&'static str),
    /// Add a familiar location.
    AddFamiliar(&'a str),
    /// Remove a familiar location.
    RemoveFamiliar(&'a str),
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Asks the running service, returns the account's activity after the change.
pub async fn run(
    config: &Config,
    login: &str,
    change: Change<'_>,
) -> Result<(ActivityView, String), LockoutCliError> {
    let login_q = format!("login={}", enc(login));
    let (method, path) = match change {
        Change::None => (
            "GET",
            format!("{}?{login_q}", AdminEndpoint::AccountActivity.path()),
        ),
        Change::Reset(location) => (
            "POST",
            format!(
                "{}?{login_q}&location={location}",
                AdminEndpoint::AccountActivityReset.path()
            ),
        ),
        Change::AddFamiliar(ip) | Change::RemoveFamiliar(ip) => (
            if matches!(change, Change::AddFamiliar(_)) {
                "POST"
            } else {
                "DELETE"
            },
            format!(
                "{}?{login_q}&ip={}",
                AdminEndpoint::FamiliarLocations.path(),
                enc(ip)
            ),
        ),
    };
    let answer = admin_client::request(config, method, &path).await?;
    if answer.status != 200 {
        let v: serde_json::Value = serde_json::from_str(&answer.body).unwrap_or_default();
        let field = |k: &str| v.get(k).and_then(serde_json::Value::as_str);
        let message = match (field("error"), field("message")) {
            (Some(code), Some(m)) => format!("{code}: {m}"),
            _ => answer.body.trim().to_string(),
        };
        return Err(LockoutCliError::Refused {
            status: answer.status,
            message,
        });
    }
    let view: ActivityView =
        serde_json::from_str(&answer.body).map_err(|e| LockoutCliError::Refused {
            status: answer.status,
            message: format!("unreadable answer: {e}"),
        })?;
    Ok((view, answer.body.trim().to_string()))
}
