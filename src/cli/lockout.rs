//! `altgate lockout status|reset LOGIN`: the operator's view of extranet lockout against the
//! configured state store (AD FS `Get-AdfsAccountActivity` / `Reset-AdfsAccountLockout`). The
//! login is resolved exactly as a sign-in would, so every spelling of an account (alternate
//! ID, UPN, `DOMAIN\sam`) shows and resets the same counts.

use crate::lockout::AccountKey;
use crate::signin::lockout_key;
use crate::state::{AccountActivity, ClassActivity, ResetScope};
use crate::App;
use serde_json::json;
use std::time::{SystemTime, UNIX_EPOCH};

fn unix(t: Option<SystemTime>) -> Option<u64> {
    t.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
}

fn rfc3339(t: Option<SystemTime>) -> String {
    t.and_then(|t| {
        time::OffsetDateTime::from(t)
            .format(&time::format_description::well_known::Rfc3339)
            .ok()
    })
    .unwrap_or_else(|| "-".into())
}

fn class_json(c: &ClassActivity) -> serde_json::Value {
    json!({
        "bad_password_count": c.count,
        "last_bad_password": unix(c.last_bad),
        "locked_until": unix(c.locked_until),
    })
}

/// The JSON form of an account's activity.
pub fn activity_json(login: &str, account: &str, a: &AccountActivity) -> serde_json::Value {
    json!({
        "login": login,
        "account": account,
        "familiar": class_json(&a.familiar),
        "unfamiliar": class_json(&a.unfamiliar),
        "familiar_locations": a.familiar_locations.iter().map(|l| json!({
            "ip": l.ip.to_string(),
            "last_seen": unix(Some(l.last_seen)),
        })).collect::<Vec<_>>(),
    })
}

/// The human-readable form.
pub fn activity_text(login: &str, account: &str, a: &AccountActivity) -> String {
    let mut out = format!("{login} ({account})\n");
    for (name, c) in [("familiar", &a.familiar), ("unfamiliar", &a.unfamiliar)] {
        out.push_str(&format!(
            "  {name:<10} bad passwords: {}  last bad: {}  locked until: {}\n",
            c.count,
            rfc3339(c.last_bad),
            rfc3339(c.locked_until)
        ));
    }
    if a.familiar_locations.is_empty() {
        out.push_str("  familiar locations: none\n");
    } else {
        out.push_str("  familiar locations:\n");
        for l in &a.familiar_locations {
            out.push_str(&format!(
                "    {}  last sign-in {}\n",
                l.ip,
                rfc3339(Some(l.last_seen))
            ));
        }
    }
    out
}

/// What went wrong, as the CLI reports it.
#[derive(Debug, thiserror::Error)]
pub enum LockoutCliError {
    /// The login does not resolve to exactly one account.
    #[error("{login} does not resolve to one account ({code})")]
    Unresolved {
        /// The login.
        login: String,
        /// The resolution's code.
        code: &'static str,
    },
    /// The state store did not answer.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
}

/// Resolves `login` and returns its lockout key.
async fn key(app: &App, login: &str) -> Result<AccountKey, LockoutCliError> {
    let r = app.resolver.resolve(login).await;
    match &r.account {
        Some(a) => Ok(lockout_key(a)),
        None => Err(LockoutCliError::Unresolved {
            login: login.to_string(),
            code: r.failure.as_ref().map_or("not_found", |f| f.code.as_str()),
        }),
    }
}

/// `lockout status`: the account's counts and familiar locations.
pub async fn status(app: &App, login: &str) -> Result<(String, AccountActivity), LockoutCliError> {
    let key = key(app, login).await?;
    let activity = app.lockout.activity(&key).await?;
    Ok((key.to_string(), activity))
}

/// `lockout reset`: clears the chosen counts; returns the activity afterwards.
pub async fn reset(
    app: &App,
    login: &str,
    scope: ResetScope,
) -> Result<(String, AccountActivity), LockoutCliError> {
    let key = key(app, login).await?;
    app.lockout.reset(&key, scope).await?;
    let activity = app.lockout.activity(&key).await?;
    Ok((key.to_string(), activity))
}
