//! Sign-in with a password, shared by every protocol: refuse bad input before any directory
//! traffic, resolve the login (alternate ID, UPN fallback, `DOMAIN\sam`), verify the password
//! with a bind as the resolved account on a DC of its own domain, and audit the outcome (AD FS
//! events 1202/1203). Clients only ever learn "failed"; the reason goes to the audit log and a
//! bounded metric label.

use crate::app::App;
use crate::directory::BindRejection;
use crate::events::{SignInFailed, SignInSucceeded};
use crate::resolve::{Outcome, Resolution, Via};
use crate::secret::Secret;
use std::net::IpAddr;
use std::sync::Arc;
use time::OffsetDateTime;

/// Longest password accepted, in bytes (AD's own limit is far lower).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Where a sign-in came from, for audit and claims.
#[derive(Debug, Clone)]
pub struct SignInContext<'a> {
    /// Protocol label (`wstrust_13`, `wstrust_2005`, `wsfed`, `saml`).
    pub protocol: &'static str,
    /// Relying party identifier (or `unknown`).
    pub relying_party: &'a str,
    /// Client address.
    pub client_ip: IpAddr,
}

/// Why a sign-in failed. Never shown to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInFailure {
    /// Empty password: refused before any directory traffic.
    EmptyPassword,
    /// Password longer than [`MAX_PASSWORD_BYTES`].
    PasswordTooLong,
    /// The login did not resolve (outcome and stable code).
    Unresolved {
        /// not_found, ambiguous or error.
        outcome: Outcome,
        /// The resolution's code (MSIS8014, not_found, ...).
        code: String,
    },
    /// Active Directory refused the bind.
    Rejected(BindRejection),
    /// No domain controller of the account's domain answered, or none is configured.
    DirectoryUnavailable(String),
}

impl SignInFailure {
    /// Bounded metric label / audit reason.
    pub fn reason(&self) -> &'static str {
        match self {
            SignInFailure::EmptyPassword => "empty_password",
            SignInFailure::PasswordTooLong => "password_too_long",
            SignInFailure::Unresolved {
                outcome: Outcome::NotFound,
                ..
            } => "not_found",
            SignInFailure::Unresolved {
                outcome: Outcome::Ambiguous,
                ..
            } => "ambiguous",
            SignInFailure::Unresolved { .. } => "unresolved",
            SignInFailure::Rejected(r) => r.code(),
            SignInFailure::DirectoryUnavailable(_) => "directory_unavailable",
        }
    }
}

/// A successful sign-in.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The resolution (outcome `Resolved`, account present).
    pub resolution: Arc<Resolution>,
    /// When the password was verified.
    pub auth_instant: OffsetDateTime,
}

/// Verifies `login` + `password`. Emits the audit event and counts the outcome.
pub async fn sign_in(
    app: &App,
    login: &str,
    password: &Secret,
    ctx: &SignInContext<'_>,
) -> Result<SignedIn, SignInFailure> {
    let result = verify(app, login, password).await;
    match &result {
        Ok(s) => {
            let account = s.resolution.account.as_ref();
            app.events.emit(&SignInSucceeded {
                login: &s.resolution.login,
                account: account.map_or("", |a| a.distinguished_name.as_str()),
                forest: account.map_or("", |a| a.forest.as_str()),
                via: s.resolution.via.map_or("none", Via::as_str),
                client_ip: ctx.client_ip,
                relying_party: ctx.relying_party,
                protocol: ctx.protocol,
            });
            if s.resolution.via == Some(Via::AlternateLoginId) {
                app.metrics.tokens.alternate_login_id_authentications.inc();
            }
        }
        Err(f) => app.events.emit(&SignInFailed {
            login: login.trim(),
            reason: f.reason(),
            client_ip: ctx.client_ip,
            relying_party: ctx.relying_party,
            protocol: ctx.protocol,
            detail: match f {
                SignInFailure::Unresolved { code, .. } => code.as_str(),
                SignInFailure::DirectoryUnavailable(d) => d.as_str(),
                _ => "",
            },
        }),
    }
    result
}

async fn verify(app: &App, login: &str, password: &Secret) -> Result<SignedIn, SignInFailure> {
    if password.is_empty() {
        return Err(SignInFailure::EmptyPassword);
    }
    if password.expose().len() > MAX_PASSWORD_BYTES {
        return Err(SignInFailure::PasswordTooLong);
    }
    let resolution = app.resolver.resolve(login).await;
    let Some(account) = resolution.account.as_ref() else {
        return Err(SignInFailure::Unresolved {
            outcome: resolution.outcome,
            code: resolution
                .failure
                .as_ref()
                .map_or_else(String::new, |f| f.code.clone()),
        });
    };
    match app
        .directory
        .bind(
            &account.forest,
            &account.domain,
            &account.distinguished_name,
            password.expose(),
        )
        .await
    {
        Ok(Ok(())) => Ok(SignedIn {
            resolution: resolution.clone(),
            auth_instant: (app.clock)(),
        }),
        Ok(Err(rejection)) => Err(SignInFailure::Rejected(rejection)),
        Err(e) => Err(SignInFailure::DirectoryUnavailable(e.to_string())),
    }
}
