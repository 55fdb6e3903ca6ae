//! Sign-in with a password, shared by every protocol: refuse bad input before any directory
//! traffic, resolve the login (alternate ID, UPN fallback, `DOMAIN\sam`), verify the password
//! with a bind as the resolved account on a DC of its own domain, and audit the outcome (AD FS
//! events 1202/1203). Clients only ever learn "failed"; the reason goes to the audit log and a
//! bounded metric label.

pub mod password_change;
pub mod timing;
pub mod windows;

use crate::clock::Clock;
use crate::config::{ClaimKind, RelyingParty};
use crate::directory::{BindRejection, Directory, DirectoryError};
use crate::events::{Events, SignInFailed, SignInSucceeded};
use crate::label::{kinds, label_set, Id};
use crate::lockout::{self, AccountKey, BudgetVerdict, ExtranetLockout, Gate, RefusalCause};
use crate::request::RequestContext;
use crate::resolve::{FailureCode, NoVia, Outcome, Resolution, ResolvedAccount, Resolver, Via};
use crate::secret::Secret;
use prometheus::IntCounter;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// Longest password accepted, in bytes (AD's own limit is far lower).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// The most of a typed login an audit record carries: a login longer than any real one is cut
/// here, so an attacker cannot make each failed attempt write kilobytes of log.
pub const LOGGED_LOGIN_MAX_BYTES: usize = 256;

/// The key extranet lockout counts an account under: its forest and its ImmutableID (stable
/// across renames and moves), else its distinguished name. Every way of typing the login
/// (alternate ID, UPN, `DOMAIN\sam`) reaches the same key.
pub fn lockout_key(account: &ResolvedAccount) -> AccountKey {
    match &account.immutable_id {
        Some(id) => AccountKey::new(&account.forest, id),
        None => AccountKey::new(&account.forest, &account.distinguished_name.to_lowercase()),
    }
}

label_set! {
    /// The protocol a request, a sign-in or a token came through.
    pub enum Protocol: kinds::Protocol {
        /// WS-Trust 1.3 usernamemixed.
        Wstrust13 = "wstrust_13",
        /// WS-Trust 2005 usernamemixed.
        Wstrust2005 = "wstrust_2005",
        /// WS-Federation at `/adfs/ls/`.
        Wsfed = "wsfed",
        /// SAML 2.0 at `/adfs/ls/`.
        Saml = "saml",
        /// IdP-initiated sign-on.
        IdpInitiated = "idp_initiated",
        /// The voluntary password-change page.
        UpdatePassword = "update_password",
        /// OpenID Connect / OAuth 2.0 authorization at `/adfs/oauth2/authorize/` (the browser).
        Oidc = "oidc",
        /// OAuth 2.0 at `/adfs/oauth2/token/` (password, refresh and client grants).
        OAuthToken = "oauth_token",
    }
}

label_set! {
    /// How the user or device proved who it is: the authentication method of its tokens.
    pub enum Method: kinds::AuthenticationMethod {
        /// A password (forms, WS-Trust usernamemixed).
        Password = "password",
        /// A Kerberos ticket (Windows integrated authentication).
        Windows = "windows",
    }
}

impl Method {
    /// SAML 1.1 `AuthenticationStatement/@AuthenticationMethod`, as AD FS writes it.
    pub fn saml11(self) -> &'static str {
        match self {
            Method::Password => "urn:oasis:names:tc:SAML:1.0:am:password",
            Method::Windows => WINDOWS_AUTHN_CONTEXT,
        }
    }

    /// SAML 2.0 `AuthnContextClassRef`, as AD FS writes it.
    pub fn saml20(self) -> &'static str {
        match self {
            Method::Password => "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
            Method::Windows => WINDOWS_AUTHN_CONTEXT,
        }
    }
}

/// AD FS's authentication context for Windows integrated authentication (SAML 1.1
/// `AuthenticationMethod`, SAML 2.0 `AuthnContextClassRef`).
pub const WINDOWS_AUTHN_CONTEXT: &str = "urn:federation:authentication:windows";

/// Where a sign-in came from and what it is for, for audit, lockout and claims.
#[derive(Debug, Clone)]
pub struct SignInContext<'a> {
    /// The protocol.
    pub protocol: Protocol,
    /// Relying party identifier (`none` for the password-change page).
    pub relying_party: &'a str,
    /// Who sent the request (every address beyond the trusted proxies) and its activity.
    pub request: &'a RequestContext,
    /// The relying party takes the password-expiry claims: read the password's expiry after a
    /// successful bind (one DC read, only then).
    pub password_expiry: bool,
}

impl<'a> SignInContext<'a> {
    /// A sign-in over `protocol` for `rp` (`None`: no relying party, e.g. the voluntary
    /// password-change page) from `request`.
    pub fn new(
        protocol: Protocol,
        rp: Option<&'a RelyingParty>,
        request: &'a RequestContext,
    ) -> Self {
        SignInContext {
            protocol,
            relying_party: rp.map_or("none", |rp| rp.identifier.as_str()),
            request,
            password_expiry: rp.is_some_and(|rp| rp.claims.contains(&ClaimKind::PasswordExpiry)),
        }
    }

    /// The client address.
    pub fn client_ip(&self) -> IpAddr {
        self.request.client_ip()
    }
}

/// Why a sign-in failed. Never shown to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInFailure {
    /// Empty password: refused before any directory traffic.
    EmptyPassword,
    /// Password longer than [`MAX_PASSWORD_BYTES`].
    PasswordTooLong,
    /// A control character (NUL, newline...) in the password: refused before any bind (a DC
    /// would cut the password at a NUL and accept a prefix).
    PasswordControlCharacter,
    /// The login did not resolve (outcome and stable code).
    Unresolved {
        /// not_found, ambiguous or error.
        outcome: Outcome,
        /// The resolution's code (MSIS8014, not_found, ...).
        code: FailureCode,
    },
    /// Active Directory refused the bind.
    Rejected(BindRejection),
    /// No domain controller of the account's domain answered, or none is configured.
    DirectoryUnavailable(String),
    /// Extranet lockout refused the attempt without contacting AD (or, with `fail_closed`, the
    /// state store could not answer): the cause says which.
    ExtranetLockout(RefusalCause),
    /// The client address has used up its failure budget.
    AddressBudgetExhausted,
}

impl SignInFailure {
    /// True when a domain controller said the password is wrong: the failure every other
    /// failure is made to look like.
    fn wrong_password(&self) -> bool {
        matches!(self, SignInFailure::Rejected(BindRejection::WrongPassword))
    }

    /// The bounded reason: audit reason, `altgate_sign_in_failures_total{reason}` and (as a
    /// token failure) `altgate_token_failures_total{reason}`.
    pub fn reason(&self) -> FailureReason {
        match self {
            SignInFailure::EmptyPassword => FailureReason::EmptyPassword,
            SignInFailure::PasswordTooLong => FailureReason::PasswordTooLong,
            SignInFailure::PasswordControlCharacter => FailureReason::PasswordControlCharacter,
            SignInFailure::Unresolved {
                outcome: Outcome::NotFound,
                ..
            } => FailureReason::NotFound,
            SignInFailure::Unresolved {
                outcome: Outcome::Ambiguous,
                ..
            } => FailureReason::Ambiguous,
            SignInFailure::Unresolved { .. } => FailureReason::Unresolved,
            SignInFailure::Rejected(r) => FailureReason::from(*r),
            SignInFailure::DirectoryUnavailable(_) => FailureReason::DirectoryUnavailable,
            SignInFailure::ExtranetLockout(cause) => FailureReason::from(*cause),
            SignInFailure::AddressBudgetExhausted => FailureReason::AddressFailureBudget,
        }
    }

    /// Stable code: the id of [`SignInFailure::reason`].
    pub fn code(&self) -> &'static str {
        self.reason().id()
    }
}

label_set! {
    /// Why a password sign-in failed: the reason of AD FS event 1203, of
    /// `altgate_sign_in_failures_total` and, for a sign-in behind a token request, of
    /// `altgate_token_failures_total`. Never shown to the client.
    pub enum FailureReason: kinds::SignInFailure, also kinds::TokenFailure, kinds::PasswordChangeFailure {
        /// The password was empty: refused before any directory traffic.
        EmptyPassword = "empty_password",
        /// The password was longer than 1024 bytes: refused before any directory traffic.
        PasswordTooLong = "password_too_long",
        /// The password held a control character (NUL, newline...): refused before any bind (a
        /// DC would cut the password at a NUL and accept a prefix).
        PasswordControlCharacter = "password_control_character",
        /// The client address has used up its failure budget (extranet lockout's
        /// `ip_failures_per_minute`) and the account, if the login names one, has not signed in
        /// from it recently: refused without a bind.
        AddressFailureBudget = "address_failure_budget",
        /// No account has this login.
        NotFound = "not_found",
        /// More than one account has this login (MSIS8014/8015).
        Ambiguous = "ambiguous",
        /// The login did not resolve for another reason: bad input, unusable account data
        /// (MSIS8012/8013) or no directory answered; the audit record's `detail` has the
        /// resolution's code.
        Unresolved = "unresolved",
        /// Extranet lockout refused the attempt without contacting AD: the account is locked out
        /// for the attempt's location class (AD FS event 1210).
        ExtranetLockout = "extranet_lockout",
        /// The farm state store did not answer and `state.on_unavailable` is `fail_closed`:
        /// extranet lockout refused the attempt without contacting AD.
        StateUnavailable = "state_unavailable",
        /// AD: wrong password (`data 52e`, also AD's answer for an unknown user).
        WrongPassword = "wrong_password",
        /// AD: no such user (`data 525`).
        NoSuchUser = "no_such_user",
        /// AD: outside the account's logon hours (`data 530`).
        LogonHours = "logon_hours",
        /// AD: not allowed to log on from this workstation (`data 531`).
        Workstation = "workstation",
        /// AD: the password has expired (`data 532`); the browser sign-in offers the password
        /// change.
        PasswordExpired = "password_expired",
        /// AD: the account is disabled (`data 533`).
        AccountDisabled = "account_disabled",
        /// AD: the account has expired (`data 701`).
        AccountExpired = "account_expired",
        /// AD: the password must be changed at next logon (`data 773`); the browser sign-in
        /// offers the password change.
        MustChangePassword = "must_change_password",
        /// AD: the account is locked out by the domain's own lockout policy (`data 775`).
        LockedOut = "locked_out",
        /// AD refused the bind (LDAP result 49) without a sub-code altgate knows.
        InvalidCredentials = "invalid_credentials",
        /// No domain controller of the account's domain answered, or none is configured.
        DirectoryUnavailable = "directory_unavailable",
    }
}

impl From<BindRejection> for FailureReason {
    fn from(r: BindRejection) -> Self {
        match r {
            BindRejection::WrongPassword => FailureReason::WrongPassword,
            BindRejection::NoSuchUser => FailureReason::NoSuchUser,
            BindRejection::LogonHours => FailureReason::LogonHours,
            BindRejection::Workstation => FailureReason::Workstation,
            BindRejection::PasswordExpired => FailureReason::PasswordExpired,
            BindRejection::Disabled => FailureReason::AccountDisabled,
            BindRejection::AccountExpired => FailureReason::AccountExpired,
            BindRejection::MustChangePassword => FailureReason::MustChangePassword,
            BindRejection::LockedOut => FailureReason::LockedOut,
            BindRejection::InvalidCredentials => FailureReason::InvalidCredentials,
        }
    }
}

impl From<RefusalCause> for FailureReason {
    fn from(c: RefusalCause) -> Self {
        match c {
            RefusalCause::LockedOut => FailureReason::ExtranetLockout,
            RefusalCause::StateUnavailable => FailureReason::StateUnavailable,
        }
    }
}

/// True for AD's refusals that extranet lockout counts as a bad password: a wrong password
/// (`52e`, or result 49 without a sub-code), and every refusal AD gives only after the *right*
/// password of an account that may not sign in now: disabled (`533`), expired (`701`), locked
/// out by AD (`775`), outside its logon hours (`530`) or workstations (`531`). Counting those
/// closes a confirmation oracle: otherwise a leaked candidate password could be repeated
/// without limit (and without ever locking anything) until its answer stood out. Not counted:
/// an expired or must-change password (`532`, `773`; the user is offered the password change
/// for them) and `525` (the account vanished between resolution and bind).
pub fn counts_as_bad_password(r: BindRejection) -> bool {
    matches!(
        r,
        BindRejection::WrongPassword
            | BindRejection::InvalidCredentials
            | BindRejection::Disabled
            | BindRejection::AccountExpired
            | BindRejection::LockedOut
            | BindRejection::LogonHours
            | BindRejection::Workstation
    )
}

/// What extranet lockout makes of a checked password.
fn lockout_outcome(checked: &Result<(), SignInFailure>) -> lockout::Outcome {
    match checked {
        Ok(()) => lockout::Outcome::Success,
        Err(SignInFailure::Rejected(r)) if counts_as_bad_password(*r) => {
            lockout::Outcome::BadPassword
        }
        Err(_) => lockout::Outcome::NotCounted,
    }
}

/// Input checks on a password, before any directory traffic.
fn input_problem(password: &Secret) -> Option<SignInFailure> {
    if password.is_empty() {
        Some(SignInFailure::EmptyPassword)
    } else if password.expose().len() > MAX_PASSWORD_BYTES {
        Some(SignInFailure::PasswordTooLong)
    } else if password.expose().chars().any(char::is_control) {
        Some(SignInFailure::PasswordControlCharacter)
    } else {
        None
    }
}

/// What a password check did, for its timing ([`timing`]).
#[derive(Debug, Default)]
struct Trace {
    /// The resolved account's domain (its wrong-password times are the ones to match).
    domain: Option<String>,
    /// The load level the bind was sent at; `None` when there was no bind.
    bind_level: Option<usize>,
    /// The bind found no free slot on the DC (`directory.bind_queue_timeout` passed).
    queue_full: bool,
    /// The address was over its failure budget: the answer comes this much later
    /// (`extranet_lockout.ip_budget_delay`).
    budget_delay: Duration,
}

impl Trace {
    /// True when the failure is the real thing every other failure is made to look like: a
    /// wrong password for an existing account, or a bind that waited out the DC's queue, both
    /// at their load level and not slowed by the failure budget. Such failures are remembered
    /// and not held.
    fn sets_the_pace(&self, failure: &SignInFailure) -> bool {
        let real = failure.wrong_password()
            || (self.queue_full && matches!(failure, SignInFailure::DirectoryUnavailable(_)));
        real && self.bind_level.is_some()
    }
}

/// A successful sign-in.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The resolution (outcome `Resolved`, account present). It may come from the cache, so its
    /// `login` is whichever spelling first reached it: tokens use [`SignedIn::login`] instead.
    pub resolution: Arc<Resolution>,
    /// The login exactly as typed in this sign-in (trimmed): the cloud UPN of an alternate-ID
    /// sign-in is this spelling, never another request's.
    pub login: String,
    /// When the password was verified.
    pub auth_instant: OffsetDateTime,
    /// When the account's password expires, read fresh from a DC right after the bind (only
    /// when `federation.password_expiry_notice` is on); `None` when it never expires, could not
    /// be read, or the sign-in reused an SSO session (AD FS issues the expiry claims for a
    /// password authentication only).
    pub password_expires_at: Option<OffsetDateTime>,
    /// How the account proved itself (an SSO reuse keeps its session's method).
    pub method: Method,
    /// The hybrid-join facts, when a domain-joined computer signed in (windowstransport).
    pub device: Option<windows::Device>,
}

/// The password sign-in service: what every protocol calls with a login and a password. It
/// holds only what sign-in needs (the resolver, the directory for the bind, the event sink, a
/// counter and the clock), so it can be built and tested without the rest of the application.
#[derive(Clone)]
pub struct SignIn {
    resolver: Arc<Resolver>,
    directory: Arc<dyn Directory>,
    events: Events,
    alternate_login_id_authentications: IntCounter,
    clock: Clock,
    timing: Arc<timing::Equalizer>,
    lockout: Option<Arc<ExtranetLockout>>,
    password_expiry_notice: std::time::Duration,
}

impl SignIn {
    /// A sign-in service resolving through `resolver` and binding through `directory`.
    /// `alternate_login_id_authentications` counts successful sign-ins that used an alternate ID.
    pub fn new(
        resolver: Arc<Resolver>,
        directory: Arc<dyn Directory>,
        events: Events,
        alternate_login_id_authentications: IntCounter,
        clock: Clock,
    ) -> Self {
        SignIn {
            resolver,
            directory,
            events,
            alternate_login_id_authentications,
            clock,
            timing: Arc::new(timing::Equalizer::default()),
            lockout: None,
            password_expiry_notice: std::time::Duration::ZERO,
        }
    }

    /// The same service reading the password's expiry after each successful bind, for the
    /// password-expiry claims (`federation.password_expiry_notice`; zero reads nothing).
    pub fn with_password_expiry_notice(mut self, notice: std::time::Duration) -> Self {
        self.password_expiry_notice = notice;
        self
    }

    /// When the password of the account just bound as expires: one base read on a DC of its
    /// domain, fresh. A failed read costs the user the notice, never the sign-in (the claims
    /// are advisory); it is logged.
    async fn password_expires_at(
        &self,
        account: &ResolvedAccount,
        ctx: &SignInContext<'_>,
    ) -> Option<OffsetDateTime> {
        if self.password_expiry_notice.is_zero() || !ctx.password_expiry {
            return None;
        }
        match self.directory.password_expiry(account.account_ref()).await {
            Ok(expiry) => expiry.and_then(|e| e.expires_at()),
            Err(e) => {
                tracing::warn!(
                    target: "altgate::ops",
                    forest = %account.forest,
                    domain = %account.domain,
                    code = e.code(),
                    error = %e,
                    "password expiry not read: no password-expiry claims for this sign-in"
                );
                None
            }
        }
    }

    /// The same service with extranet lockout in front of every bind.
    pub fn with_lockout(mut self, lockout: Arc<ExtranetLockout>) -> Self {
        self.lockout = Some(lockout);
        self
    }

    /// Verifies `login` + `password`. Emits the audit event and counts the outcome. Every
    /// failure other than a wrong password (unknown or ambiguous login, bad input, disabled,
    /// expired, locked out...) takes what a wrong password for an existing account takes now
    /// ([`timing`]).
    pub async fn sign_in(
        &self,
        login: &str,
        password: &Secret,
        ctx: &SignInContext<'_>,
    ) -> Result<SignedIn, SignInFailure> {
        let start = Instant::now();
        let mut trace = Trace::default();
        let result = self.verify(login, password, ctx, &mut trace).await;
        if let Err(f) = &result {
            self.settle_timing(login, f, &trace, start).await;
        }
        if let (Err(_), Some(l)) = (&result, &self.lockout) {
            l.charge_failure(ctx.client_ip());
        }
        match &result {
            Ok(s) => {
                let account = s.resolution.account.as_ref();
                self.events.emit(&SignInSucceeded {
                    login: &s.resolution.login,
                    account: account.map_or("", |a| a.distinguished_name.as_str()),
                    forest: account.map_or("", |a| a.forest.as_str()),
                    via: s.resolution.via.map_or(NoVia::None.into(), Id::from),
                    client_ip: ctx.client_ip(),
                    relying_party: ctx.relying_party,
                    protocol: ctx.protocol.into(),
                });
                if s.resolution.via == Some(Via::AlternateLoginId) {
                    self.alternate_login_id_authentications.inc();
                }
            }
            Err(f) => self.events.emit(&SignInFailed {
                login: crate::events::clip(login.trim(), LOGGED_LOGIN_MAX_BYTES),
                reason: f.reason().into(),
                client_ip: ctx.client_ip(),
                relying_party: ctx.relying_party,
                protocol: ctx.protocol.into(),
                detail: match f {
                    SignInFailure::Unresolved { code, .. } => Some(code.as_str()),
                    SignInFailure::DirectoryUnavailable(d) => Some(d.as_str()),
                    _ => None,
                },
            }),
        }
        result
    }

    /// After a failed password check that began at `start`: a wrong password (the real thing)
    /// is remembered at its domain and load level; any other failure is held until a duration
    /// drawn for the account's domain (or the one `login`'s suffix belongs to) at the load
    /// level its bind was sent at, or the domain's level now when there was no bind, plus the
    /// failure budget's delay when the address is over it.
    async fn settle_timing(
        &self,
        login: &str,
        failure: &SignInFailure,
        trace: &Trace,
        start: Instant,
    ) {
        if trace.sets_the_pace(failure) {
            if let (Some(domain), Some(level)) = (&trace.domain, trace.bind_level) {
                if trace.budget_delay.is_zero() {
                    self.timing.record(domain, level, start.elapsed());
                }
            }
            return;
        }
        let domain = trace
            .domain
            .clone()
            .or_else(|| self.timing.domain_for(login));
        let level = trace
            .bind_level
            .unwrap_or_else(|| domain.as_deref().map_or(0, |d| self.timing.level_now(d)));
        let hold = trace.budget_delay + self.timing.draw(domain.as_deref(), level);
        self.timing.hold_until(start, hold).await;
    }

    async fn verify(
        &self,
        login: &str,
        password: &Secret,
        ctx: &SignInContext<'_>,
        trace: &mut Trace,
    ) -> Result<SignedIn, SignInFailure> {
        if let Some(f) = input_problem(password) {
            return Err(f);
        }
        let resolution = self
            .check_password(login, password, ctx, trace, |_| false)
            .await?;
        let password_expires_at = match resolution.account.as_ref() {
            Some(account) => self.password_expires_at(account, ctx).await,
            None => None,
        };
        Ok(SignedIn {
            resolution,
            login: login.trim().to_string(),
            auth_instant: (self.clock)(),
            password_expires_at,
            method: Method::Password,
            device: None,
        })
    }

    /// The password check shared by sign-in and the password change, after the input checks:
    /// the address failure budget, resolution, extranet lockout, a bind as the resolved account
    /// on a DC of its domain, and settling lockout. Ok (with the resolution, which has an
    /// account) when AD accepted the password or answered a rejection `accepted` takes as
    /// proof of it (the password change takes "expired" and "must change").
    async fn check_password(
        &self,
        login: &str,
        password: &Secret,
        ctx: &SignInContext<'_>,
        trace: &mut Trace,
        accepted: fn(BindRejection) -> bool,
    ) -> Result<Arc<Resolution>, SignInFailure> {
        // The budget is checked now but decided after resolution: an address over it still
        // lets through the accounts familiar with it. Either way the answer waits the same, so
        // a refusal says nothing about whether the login exists.
        let over_budget = self
            .lockout
            .as_ref()
            .is_some_and(|l| l.ip_budget_exhausted(ctx.client_ip()));
        let resolution = self.resolver.resolve(login).await;
        if let Some(account) = resolution.account.as_ref() {
            let domain = account.domain.to_ascii_lowercase();
            self.timing.learn(login, &domain);
            trace.domain = Some(domain);
        }
        if let (true, Some(l)) = (over_budget, &self.lockout) {
            let familiar = match resolution.account.as_ref() {
                Some(account) => l.familiar(&lockout_key(account), &ctx.request.client).await,
                None => false,
            };
            match l.over_budget(familiar) {
                BudgetVerdict::Proceed => {}
                BudgetVerdict::Delay(delay) => {
                    trace.budget_delay = delay;
                    tokio::time::sleep(delay).await;
                }
                BudgetVerdict::Refuse(delay) => {
                    trace.budget_delay = delay;
                    return Err(SignInFailure::AddressBudgetExhausted);
                }
            }
        }
        let Some(account) = resolution.account.as_ref() else {
            return Err(SignInFailure::Unresolved {
                outcome: resolution.outcome,
                code: resolution
                    .failure
                    .as_ref()
                    .map_or(FailureCode::NotFound, |f| f.code),
            });
        };
        let user = crate::events::clip(login.trim(), LOGGED_LOGIN_MAX_BYTES);
        let addresses = ctx.request.client.all();
        let ticket = match &self.lockout {
            None => None,
            Some(l) => match l
                .before_bind(&lockout_key(account), &ctx.request.client)
                .await
            {
                Gate::Refuse(refusal) => {
                    refusal.report.emit(&self.events, user, addresses);
                    return Err(SignInFailure::ExtranetLockout(refusal.cause()));
                }
                Gate::Proceed(ticket) => {
                    if let Some(report) = ticket.report() {
                        report.emit(&self.events, user, addresses);
                    }
                    Some(ticket)
                }
            },
        };
        let in_flight = self
            .timing
            .bind_started(trace.domain.as_deref().unwrap_or_default());
        trace.bind_level = Some(in_flight.level());
        let bound = self
            .directory
            .bind(account.account_ref(), password.expose())
            .await;
        drop(in_flight);
        let checked = match bound {
            Ok(Ok(())) => Ok(()),
            Ok(Err(r)) if accepted(r) => Ok(()),
            Ok(Err(r)) => Err(SignInFailure::Rejected(r)),
            Err(e) => {
                trace.queue_full = matches!(e, DirectoryError::BindQueueFull { .. });
                Err(SignInFailure::DirectoryUnavailable(e.to_string()))
            }
        };
        if let (Some(l), Some(ticket)) = (&self.lockout, ticket) {
            for report in l.after_bind(ticket, lockout_outcome(&checked)).await {
                report.emit(&self.events, user, addresses);
            }
        }
        checked.map(|()| resolution.clone())
    }
}

#[cfg(test)]
mod tests;
