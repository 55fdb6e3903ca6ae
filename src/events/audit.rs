//! Security audit events (`target: "altgate::audit"`): who signed in, who failed and why, what
//! was refused. AD FS event ids where AD FS has one.

use crate::event;
use crate::label::{kinds, Id};
use std::net::IpAddr;

event! {
    /// AD FS event 364: a sign-in failed while resolving the login (MSIS8012–8015, not found,
    /// directory unavailable, invalid input).
    LoginResolutionFailed<'a>: audit, warn, LoginResolutionFailed [event_id = 364] {
        /// The login as typed (trimmed, bounded).
        login: &'a str,
        /// `not_found`, `ambiguous` or `error`.
        outcome: Id<kinds::ResolutionOutcome> => %,
        /// Stable error code (`MSIS8014`, `not_found`, `directory_unavailable`, ...).
        code: &'a str,
        /// The MSIS code where AD FS has one.
        msis: Option<Id<kinds::MsisCode>> => opt,
        /// Forests searched.
        forests: &'a [String] => list,
        /// Forests that could not be reached.
        unreachable_forests: &'a [String] => list,
        /// Set when the UPN fallback ran, with its reason.
        upn_fallback: Option<Id<kinds::UpnFallback>> => opt,
        /// The message (the exact AD FS text for MSIS codes).
        message: &'a str,
    }
    count(self, m) {
        if let Some(code) = self.msis {
            m.msis.with_label_values(&[code.as_str()]).inc();
        }
    }
}

event! {
    /// A login was resolved to exactly one account.
    LoginResolved<'a>: audit, info, LoginResolved "login resolved" {
        /// The login as typed (trimmed).
        login: &'a str,
        /// `alternate_login_id`, `upn` or `sam_account_name`.
        via: Id<kinds::ResolutionVia> => %,
        /// Forest of the account.
        forest: &'a str,
        /// Distinguished name of the account.
        dn: &'a str,
        /// Forests that could not be reached (the result was not cached).
        unreachable_forests: &'a [String] => list,
        /// Set when the UPN fallback ran, with its reason.
        upn_fallback: Option<Id<kinds::UpnFallback>> => opt,
    }
}

event! {
    /// AD FS event 1202: fresh credentials validated.
    SignInSucceeded<'a>: audit, info, SignInSucceeded [event_id = 1202, outcome = "success"] "fresh credentials validated" {
        /// The login as typed.
        login: &'a str,
        /// Distinguished name of the account.
        account: &'a str,
        /// Its forest.
        forest: &'a str,
        /// `alternate_login_id`, `upn` or `sam_account_name`.
        via: Id<kinds::ResolutionVia> => %,
        /// Client address.
        client_ip: IpAddr => %,
        /// Relying party.
        relying_party: &'a str,
        /// Protocol.
        protocol: Id<kinds::Protocol> => %,
    }
}

event! {
    /// AD FS event 1203: fresh credentials refused. The reason stays in the log; the client only
    /// ever sees a generic failure.
    SignInFailed<'a>: audit, warn, SignInFailed [event_id = 1203, outcome = "failure"] "fresh credentials refused" {
        /// The login as typed (bounded).
        login: &'a str,
        /// Bounded reason (wrong_password, account_disabled, not_found, ...).
        reason: Id<kinds::SignInFailure> => %,
        /// Client address.
        client_ip: IpAddr => %,
        /// Relying party.
        relying_party: &'a str,
        /// Protocol.
        protocol: Id<kinds::Protocol> => %,
        /// More detail (the resolution code, the unavailable DC), never a password.
        detail: Option<&'a str>,
    }
    count(self, m) {
        m.count_sign_in_failure(self.reason);
    }
}

event! {
    /// AD FS event 1202 for Windows integrated authentication: a Kerberos ticket was verified
    /// and its account (read fresh) signed in.
    WindowsSignInSucceeded<'a>: audit, info, WindowsSignInSucceeded [event_id = 1202, outcome = "success", method = "windows"] "Kerberos ticket validated" {
        /// The cloud login the token carries (alternate ID, UPN or `DOMAIN\sam`).
        login: &'a str,
        /// Distinguished name of the account.
        account: &'a str,
        /// Its forest.
        forest: &'a str,
        /// A domain-joined computer (hybrid join), not a user.
        device: bool,
        /// Client address.
        client_ip: IpAddr => %,
        /// Relying party.
        relying_party: &'a str,
        /// Protocol.
        protocol: Id<kinds::Protocol> => %,
    }
    count(self, m) {
        m.windows_sign_ins.with_label_values(&[self.protocol.as_str()]).inc();
    }
}

event! {
    /// AD FS event 1203 for Windows integrated authentication: a Negotiate token signed nobody
    /// in (NTLM, clock skew, wrong key, a disabled account...). The browser gets the sign-in
    /// form; the reason stays in the log.
    WindowsSignInFailed<'a>: audit, warn, WindowsSignInFailed [event_id = 1203, outcome = "failure", method = "windows"] "Kerberos sign-in refused" {
        /// The ticket's principal, when the ticket was good (bounded).
        principal: &'a str,
        /// Bounded reason.
        reason: Id<kinds::WindowsFailure> => %,
        /// Client address.
        client_ip: IpAddr => %,
        /// Relying party.
        relying_party: &'a str,
        /// Protocol.
        protocol: Id<kinds::Protocol> => %,
        /// MIT's message or the directory's answer.
        detail: Option<&'a str>,
    }
    count(self, m) {
        m.windows_failures.with_label_values(&[self.reason.as_str()]).inc();
    }
}

event! {
    /// A browser signed in to a relying party from its SSO session, without a password.
    SsoSessionUsed<'a>: audit, info, SsoSessionUsed "signed in from the SSO session" {
        /// The login of the session.
        login: &'a str,
        /// Account DN.
        account: &'a str,
        /// Relying party.
        relying_party: &'a str,
        /// Protocol.
        protocol: Id<kinds::Protocol> => %,
        /// Client address.
        client_ip: IpAddr => %,
    }
}

event! {
    /// An SSO session was ended because of its account: disabled, password set since the
    /// session's sign-in, or no longer at the session's DN. The cookie is cleared; the browser
    /// gets the sign-in form.
    SsoSessionEnded<'a>: audit, info, SsoSessionEnded "SSO session ended by the account's state" {
        /// The login of the session.
        login: &'a str,
        /// Account DN the session is bound to.
        account: &'a str,
        /// `account_disabled`, `password_changed` or `account_missing`.
        reason: Id<kinds::SsoResult> => %,
        /// When the password was last set (RFC 3339), for `password_changed`; empty when the
        /// directory says "must change at next logon" or keeps no time.
        password_last_set: &'a str,
        /// Client address.
        client_ip: IpAddr => %,
    }
}

event! {
    /// A browser request at `/adfs/ls/` was refused (bad message, unregistered reply URL, failed
    /// CSRF check, replay...). The request itself is never logged.
    PassiveRequestRefused<'a>: audit, warn, PassiveRequestRefused "browser sign-in request refused" {
        /// Protocol.
        protocol: Id<kinds::Protocol> => %,
        /// Relying party, or `unknown`.
        relying_party: &'a str,
        /// Bounded reason.
        reason: Id<kinds::PassiveRefusal> => %,
        /// What the request asked for, when that is the problem (the unknown realm or issuer,
        /// the unregistered reply URL, the unknown `wa`): at most 256 bytes, escaped by the log
        /// format like every string.
        requested: Option<&'a str>,
        /// Client address.
        client_ip: IpAddr => %,
    }
}

event! {
    /// An OAuth 2.0 / OpenID Connect request was refused (bad request, client authentication,
    /// invalid or replayed code or refresh token, failed ROPC sign-in...). Tokens, codes and
    /// secrets are never logged.
    OAuthRequestRefused<'a>: audit, warn, OAuthRequestRefused "OAuth request refused" {
        /// Protocol (`oidc` at the authorization endpoint, `oauth_token` at the others).
        protocol: Id<kinds::Protocol> => %,
        /// The configured client the request named, or `unknown`.
        client_id: &'a str,
        /// Bounded reason.
        reason: Id<kinds::TokenFailure> => %,
        /// Client address.
        client_ip: IpAddr => %,
    }
}

event! {
    /// Everything issued under an OAuth grant was revoked because of a replayed code, a reused
    /// refresh token, another client's refresh token or a changed account.
    OAuthGrantRevoked<'a>: audit, warn, OAuthGrantRevoked "OAuth grant revoked" {
        /// The client the grant was issued to.
        client_id: &'a str,
        /// Why.
        reason: Id<kinds::TokenFailure> => %,
        /// The revocation reached the state store (false: the store did not answer).
        stored: bool,
    }
}

event! {
    /// A browser signed out.
    SignedOut<'a>: audit, info, SignedOut "signed out" {
        /// Protocol.
        protocol: Id<kinds::Protocol> => %,
        /// The session's login, when there was one.
        login: &'a str,
        /// Client address.
        client_ip: IpAddr => %,
    }
}

event! {
    /// A request from an address in `server.banned_ips` was refused before any work (AD FS
    /// `BannedIpList`).
    BannedAddressRefused: audit, warn, BannedAddressRefused "request from a banned address refused" {
        /// The client address that matched (or the first of them).
        client_ip: IpAddr => %,
        /// The TCP peer (a trusted proxy, or the client itself).
        peer: IpAddr => %,
    }
}

event! {
    /// AD FS event 1210: a sign-in was refused without contacting AD because the account is
    /// locked out for its location class (in log-only mode: would have been).
    ExtranetLockoutRefused<'a>: audit, warn, ExtranetLockoutRefused [event_id = 1210] {
        /// The user as typed.
        user: &'a str,
        /// The request's client addresses.
        client_ips: &'a [IpAddr] => ?,
        /// `familiar` or `unfamiliar`.
        location: Id<kinds::LockoutClass> => %,
        /// Bad passwords counted for that class.
        bad_password_count: u32,
        /// The class's threshold.
        threshold: u32,
        /// Last bad password (Unix seconds).
        last_bad_password: Option<u64>,
        /// When the lockout ends (Unix seconds).
        locked_until: Option<u64>,
        /// False in log-only mode.
        enforced: bool,
        /// What happened.
        message: &'static str,
    }
}

event! {
    /// AD FS event 516: a bad password brought the account's count for a location class to its
    /// threshold (or the one attempt per window failed again): the account is locked out there.
    ExtranetAccountLockedOut<'a>: audit, warn, ExtranetAccountLockedOut [event_id = 516] "the account is locked out for this location class" {
        /// The user as typed.
        user: &'a str,
        /// The request's client addresses.
        client_ips: &'a [IpAddr] => ?,
        /// `familiar` or `unfamiliar`.
        location: Id<kinds::LockoutClass> => %,
        /// Bad passwords counted for that class.
        bad_password_count: u32,
        /// The class's threshold.
        threshold: u32,
        /// Last bad password (Unix seconds).
        last_bad_password: Option<u64>,
        /// When the lockout ends (Unix seconds).
        locked_until: Option<u64>,
        /// False in log-only mode.
        enforced: bool,
    }
}

event! {
    /// AD FS event 515: an account locked out for a location class presented the correct
    /// password (its one attempt per window, or a log-only attempt); its count is reset.
    ExtranetLockedAccountCorrectPassword<'a>: audit, warn, ExtranetLockedAccountCorrectPassword [event_id = 515] "a locked-out account presented the correct password; its count is reset" {
        /// The user as typed.
        user: &'a str,
        /// The request's client addresses.
        client_ips: &'a [IpAddr] => ?,
        /// `familiar` or `unfamiliar`.
        location: Id<kinds::LockoutClass> => %,
        /// Bad passwords counted for that class before the reset.
        bad_password_count: u32,
        /// The class's threshold.
        threshold: u32,
        /// False in log-only mode.
        enforced: bool,
    }
}

event! {
    /// AD FS event 1204: a user changed the password (an expired or must-change password at
    /// sign-in, or the voluntary change page).
    PasswordChangeSucceeded<'a>: audit, info, PasswordChangeSucceeded [event_id = 1204, outcome = "success"] "password change succeeded" {
        /// The login as typed (bounded).
        login: &'a str,
        /// Distinguished name of the account.
        account: &'a str,
        /// Its forest.
        forest: &'a str,
        /// Why the password was changed: `password_expired`, `must_change_password` or
        /// `voluntary`.
        trigger: Id<kinds::PasswordChangeTrigger> => %,
        /// Client address.
        client_ip: IpAddr => %,
        /// Relying party of the sign-in in flight (`none` on the voluntary page).
        relying_party: &'a str,
    }
}

event! {
    /// AD FS event 1205: a password change failed. The reason stays in the log.
    PasswordChangeFailed<'a>: audit, warn, PasswordChangeFailed [event_id = 1205, outcome = "failure"] "password change failed" {
        /// The login as typed (bounded).
        login: &'a str,
        /// Bounded reason: the old password's sign-in failure (`wrong_password`, `not_found`,
        /// ...) or the change's (`policy_refused`, `refused`, `unavailable`).
        reason: Id<kinds::PasswordChangeFailure> => %,
        /// `password_expired`, `must_change_password` or `voluntary`.
        trigger: Id<kinds::PasswordChangeTrigger> => %,
        /// Client address.
        client_ip: IpAddr => %,
        /// Relying party of the sign-in in flight (`none` on the voluntary page).
        relying_party: &'a str,
        /// More detail (AD's diagnostic, the unavailable DC), never a password.
        detail: Option<&'a str>,
    }
}

event! {
    /// An operator changed an account's extranet lockout activity through the admin API
    /// (AD FS `Reset-AdfsAccountLockout` / `Set-AdfsAccountActivity`).
    AccountActivityChanged<'a>: audit, warn, AccountActivityChanged "account activity changed by an operator" {
        /// The login as given.
        login: &'a str,
        /// The account's lockout key.
        account: &'a str,
        /// `reset_familiar`, `reset_unfamiliar`, `reset_both`, `add_familiar_location` or
        /// `remove_familiar_location`.
        action: &'static str,
        /// The IP added or removed (empty for a reset).
        ip: &'a str,
        /// The admin client's address.
        operator_ip: IpAddr => %,
    }
}
