//! Password changes, under the same rules as sign-in: the old password is checked like a
//! sign-in's (input checks, the address failure budget, extranet lockout, a bind as the resolved
//! account on a DC of its own domain) and only a right one (the bind succeeds, or AD answers
//! "expired" or "must change", which it only says for the right password) goes on to the change.
//! Then AD's *password change* ([`crate::directory::Directory::change_password`]) and a bind with
//! the new password, which proves it works and signs the user in. A wrong old password is a bad
//! password for extranet lockout and looks exactly like any other failed sign-in (same answer,
//! same timing); AD FS events 1204 / 1205 record the outcome.
//!
//! Checking the old password with a bind first (rather than letting the change check it) keeps
//! AD's policy answer (which names no account) for callers who proved they know the password:
//! a weak new password with a wrong old one is just a failed sign-in.

use super::{
    input_problem, FailureReason, SignIn, SignInContext, SignInFailure, SignedIn, Trace,
    LOGGED_LOGIN_MAX_BYTES,
};
use crate::directory::{BindRejection, PasswordChangeError};
use crate::events::{PasswordChangeFailed, PasswordChangeSucceeded, SignInSucceeded};
use crate::label::{kinds, label_set, Id, Kind};
use crate::resolve::{FailureCode, NoVia};
use crate::secret::Secret;

label_set! {
    /// Why the password is being changed.
    pub enum ChangeTrigger: kinds::PasswordChangeTrigger {
        /// AD answered `data 532` at sign-in.
        PasswordExpired = "password_expired",
        /// AD answered `data 773` at sign-in (`pwdLastSet` = 0).
        MustChangePassword = "must_change_password",
        /// The voluntary change page.
        Voluntary = "voluntary",
    }
}

impl ChangeTrigger {
    /// The trigger a sign-in refusal asks for, if it asks for a change at all.
    pub fn from_rejection(r: BindRejection) -> Option<ChangeTrigger> {
        match r {
            BindRejection::PasswordExpired => Some(ChangeTrigger::PasswordExpired),
            BindRejection::MustChangePassword => Some(ChangeTrigger::MustChangePassword),
            _ => None,
        }
    }
}

/// Why a password change failed. Only [`PasswordChangeFailure::NewPasswordRefused`] tells the
/// user something specific; everything else reads as a failed sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordChangeFailure {
    /// The old password did not pass sign-in's checks (wrong, unknown login, locked out...).
    SignIn(SignInFailure),
    /// The new password was refused: by altgate's input checks (empty, too long, a control
    /// character) or by AD's policy (history, length, complexity, minimum age). Nothing
    /// changed; the user may try another one.
    NewPasswordRefused(String),
    /// The domain controller refused the change for another reason, or none could be asked.
    Directory(PasswordChangeError),
}

label_set! {
    /// Why a password change failed once the old password was right: the reasons of AD FS
    /// event 1205 (and of `altgate_token_failures_total` for a change in a browser sign-in)
    /// besides the old password's sign-in failures ([`FailureReason`]).
    pub enum ChangeFailureReason: kinds::PasswordChangeFailure, also kinds::TokenFailure {
        /// The new password was refused, by altgate's input checks (empty, too long, a control
        /// character) or by the domain's password policy (history, length, complexity, minimum
        /// age). Nothing changed; the user may try another one.
        PolicyRefused = "policy_refused",
        /// The domain controller refused the change for another reason (the account may not
        /// change its password, insufficient rights, an unencrypted connection), or the new
        /// password did not bind right after the change.
        Refused = "refused",
        /// No domain controller of the account's domain could change the password (or none is
        /// configured), or none could check the new password after the change.
        Unavailable = "unavailable",
    }
}

impl PasswordChangeFailure {
    /// The bounded reason, as a value of family `K`: the audit reason
    /// ([`kinds::PasswordChangeFailure`]) or the token failure ([`kinds::TokenFailure`]).
    pub fn reason<K: Kind>(&self) -> Id<K>
    where
        FailureReason: Into<Id<K>>,
        ChangeFailureReason: Into<Id<K>>,
    {
        match self {
            PasswordChangeFailure::SignIn(f) => f.reason().into(),
            PasswordChangeFailure::NewPasswordRefused(_)
            | PasswordChangeFailure::Directory(PasswordChangeError::PolicyRefused(_)) => {
                ChangeFailureReason::PolicyRefused.into()
            }
            // Never built: `change` reports AD's "wrong old password" as the sign-in failure it
            // amounts to, and so does this.
            PasswordChangeFailure::Directory(PasswordChangeError::WrongOldPassword) => {
                FailureReason::WrongPassword.into()
            }
            PasswordChangeFailure::Directory(PasswordChangeError::Refused(_)) => {
                ChangeFailureReason::Refused.into()
            }
            PasswordChangeFailure::Directory(PasswordChangeError::Unavailable(_)) => {
                ChangeFailureReason::Unavailable.into()
            }
        }
    }

    /// Stable code: the id of [`PasswordChangeFailure::reason`].
    pub fn code(&self) -> &'static str {
        self.reason::<kinds::PasswordChangeFailure>().as_str()
    }

    fn detail(&self) -> Option<&str> {
        match self {
            PasswordChangeFailure::SignIn(SignInFailure::DirectoryUnavailable(d))
            | PasswordChangeFailure::NewPasswordRefused(d) => Some(d),
            PasswordChangeFailure::SignIn(SignInFailure::Unresolved { code, .. }) => {
                Some(code.as_str())
            }
            PasswordChangeFailure::Directory(
                PasswordChangeError::Refused(d) | PasswordChangeError::Unavailable(d),
            ) => Some(d),
            _ => None,
        }
    }
}

impl SignIn {
    /// Changes `login`'s password from `old` to `new` and signs the user in with the new one.
    /// Emits AD FS event 1204 or 1205 (and 1202 for the sign-in that follows). Failures of the
    /// old password are answered no sooner than a wrong password would be, as at sign-in.
    pub async fn change_password(
        &self,
        login: &str,
        old: &Secret,
        new: &Secret,
        trigger: ChangeTrigger,
        ctx: &SignInContext<'_>,
    ) -> Result<SignedIn, PasswordChangeFailure> {
        let start = std::time::Instant::now();
        let mut trace = Trace::default();
        let result = self.change(login, old, new, ctx, &mut trace).await;
        if let Err(PasswordChangeFailure::SignIn(f)) = &result {
            self.settle_timing(login, f, &trace, start).await;
        }
        if let (Err(PasswordChangeFailure::SignIn(_)), Some(l)) = (&result, &self.lockout) {
            l.charge_failure(ctx.client_ip());
        }
        let user = crate::events::clip(login.trim(), LOGGED_LOGIN_MAX_BYTES);
        match &result {
            Ok(s) => {
                let account = s.resolution.account.as_ref();
                let dn = account.map_or("", |a| a.distinguished_name.as_str());
                let forest = account.map_or("", |a| a.forest.as_str());
                self.events.emit(&PasswordChangeSucceeded {
                    login: user,
                    account: dn,
                    forest,
                    trigger: trigger.into(),
                    client_ip: ctx.client_ip(),
                    relying_party: ctx.relying_party,
                });
                if trigger != ChangeTrigger::Voluntary {
                    self.events.emit(&SignInSucceeded {
                        login: &s.resolution.login,
                        account: dn,
                        forest,
                        via: s.resolution.via.map_or(NoVia::None.into(), Id::from),
                        client_ip: ctx.client_ip(),
                        relying_party: ctx.relying_party,
                        protocol: ctx.protocol.into(),
                    });
                }
            }
            Err(f) => self.events.emit(&PasswordChangeFailed {
                login: user,
                reason: f.reason(),
                trigger: trigger.into(),
                client_ip: ctx.client_ip(),
                relying_party: ctx.relying_party,
                detail: f.detail(),
            }),
        }
        result
    }

    async fn change(
        &self,
        login: &str,
        old: &Secret,
        new: &Secret,
        ctx: &SignInContext<'_>,
        trace: &mut Trace,
    ) -> Result<SignedIn, PasswordChangeFailure> {
        use PasswordChangeFailure as F;
        if let Some(f) = input_problem(old) {
            return Err(F::SignIn(f));
        }
        if let Some(f) = input_problem(new) {
            return Err(F::NewPasswordRefused(f.code().to_string()));
        }
        // The old password, checked as at sign-in: right means the bind works or AD says the
        // password must be changed (AD says so only for the right password).
        let resolution = self
            .check_password(login, old, ctx, trace, |r| {
                matches!(
                    r,
                    BindRejection::PasswordExpired | BindRejection::MustChangePassword
                )
            })
            .await
            .map_err(F::SignIn)?;
        let Some(account) = resolution.account.as_ref() else {
            return Err(F::SignIn(SignInFailure::Unresolved {
                outcome: resolution.outcome,
                code: FailureCode::NotFound,
            }));
        };
        let target = account.account_ref();
        match self.directory.change_password(target, old, new).await {
            Ok(()) => {}
            Err(PasswordChangeError::PolicyRefused(d)) => return Err(F::NewPasswordRefused(d)),
            // The bind just accepted the old password: a wrong one now means it changed in
            // between (another change won); report it as the sign-in failure it amounts to.
            Err(PasswordChangeError::WrongOldPassword) => {
                // Not a wrong password's time: held like any other failure.
                trace.bind_level = None;
                return Err(F::SignIn(SignInFailure::Rejected(
                    BindRejection::WrongPassword,
                )));
            }
            Err(e) => return Err(F::Directory(e)),
        }
        // The SSO session keeps whole seconds and treats a password set during its sign-in's
        // second as newer than the sign-in: start the sign-in in the next second.
        let into_second = (self.clock)().nanosecond();
        let wait = 1_000_000_000u32.saturating_sub(into_second);
        tokio::time::sleep(std::time::Duration::from_nanos(
            u64::from(wait) + 20_000_000,
        ))
        .await;
        // The new password must work now: it is what signs the user in.
        match self.directory.bind(target, new.expose()).await {
            Ok(Ok(())) => Ok(SignedIn {
                password_expires_at: match resolution.account.as_ref() {
                    Some(account) => self.password_expires_at(account, ctx).await,
                    None => None,
                },
                resolution: resolution.clone(),
                login: login.trim().to_string(),
                auth_instant: (self.clock)(),
                method: super::Method::Password,
                device: None,
            }),
            Ok(Err(r)) => Err(F::Directory(PasswordChangeError::Refused(format!(
                "the password was changed but the new one does not bind yet: {}",
                r.code()
            )))),
            Err(e) => Err(F::Directory(PasswordChangeError::Unavailable(format!(
                "the password was changed but the new one could not be checked: {e}"
            )))),
        }
    }
}
