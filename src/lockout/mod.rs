//! Extranet smart lockout (AD FS semantics) around a password bind: [`ExtranetLockout`] asks the
//! state store before the bind ([`ExtranetLockout::before_bind`]) and settles the advance count
//! after it ([`ExtranetLockout::after_bind`]), in the configured mode (off, log-only, enforce),
//! failing open or closed when the store cannot answer. It also holds the per-source-IP failure
//! budget ([`budget::IpBudget`]). Results are typed ([`Gate`], [`LockoutReport`]); the caller
//! turns reports into events with [`LockoutReport::emit`].
//!
//! Sign-in flow:
//!
//! ```text
//! over = lockout.ip_budget_exhausted(source_ip)
//! resolve the login to an account (stable key: forest + objectGUID)
//! if over {
//!     familiar = account resolved && lockout.familiar(&key, &request.client).await
//!     match lockout.over_budget(familiar) {
//!         Refuse(delay) => refuse, held `delay` longer than any failure
//!         Delay(delay)  => wait `delay`, go on
//!         Proceed       => go on (log-only)
//!     }
//! }
//! match lockout.before_bind(&key, &request.client).await {
//!     Gate::Refuse(r)  => emit r.report, refuse without contacting AD
//!     Gate::Proceed(t) => emit t.report() if any; bind; for each report of
//!                         lockout.after_bind(t, outcome).await: emit it;
//!                         on failure lockout.charge_failure(source_ip)
//! }
//! ```

pub mod ad_policy;
pub mod budget;
pub mod events;
pub mod view;

pub use events::LockoutReport;

use crate::clock::Clock;
use crate::config::lockout::{ExtranetLockoutConfig, LockoutMode};
use crate::config::state::OnUnavailable;
use crate::label::{kinds, label_set};
use crate::metrics::LockoutMetrics;
use crate::request::ClientAddresses;
use crate::state::{
    AccountActivity, AttemptDecision, LocationClass, Op, ResetScope, StateError, StateStore,
    Verdict,
};
use budget::IpBudget;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

/// The key extranet lockout counts an account under: its forest and a stable identifier of the
/// account in it (see `signin::lockout_key`), so every spelling of a login counts together.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccountKey(String);

impl AccountKey {
    /// The key of the account `id` (ImmutableID, else lower-cased DN) in `forest`.
    pub fn new(forest: &str, id: &str) -> Self {
        AccountKey(format!("{forest}:{id}"))
    }

    /// The key as the state store keeps it (hashed there).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for AccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

label_set! {
    /// The location class a lockout decision was made in.
    pub enum Class: kinds::LockoutClass {
        /// Every client address is familiar to the account.
        Familiar = "familiar",
        /// Anything else.
        Unfamiliar = "unfamiliar",
        /// The state store did not answer: the class is unknown.
        Unknown = "unknown",
        /// The per-source-IP failure budget (counts only what it did to an address over it:
        /// `refuse`, `would_refuse`, `delay`).
        SourceIp = "source_ip",
    }
}

impl From<LocationClass> for Class {
    fn from(c: LocationClass) -> Self {
        match c {
            LocationClass::Familiar => Class::Familiar,
            LocationClass::Unfamiliar => Class::Unfamiliar,
        }
    }
}

label_set! {
    /// What extranet lockout decided before a password bind.
    pub enum Decision: kinds::LockoutDecision {
        /// Under the threshold: bind.
        Allow = "allow",
        /// Locked, but the observation window passed since the last bad password: one bind.
        Probe = "probe",
        /// Locked: refused without contacting AD (enforce mode).
        Refuse = "refuse",
        /// Locked, but log-only mode lets the bind happen.
        WouldRefuse = "would_refuse",
        /// The state store did not answer; the bind happened (`on_unavailable: fail_open`).
        FailOpen = "fail_open",
        /// The state store did not answer; refused (`on_unavailable: fail_closed`).
        FailClosed = "fail_closed",
        /// The address is over its failure budget, but the account signed in from it recently
        /// (it is familiar there): let through after `ip_budget_delay`.
        Delay = "delay",
    }
}

/// What a sign-in from an address over its failure budget gets
/// ([`ExtranetLockout::over_budget`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetVerdict {
    /// Go on as if within the budget (log-only mode: counted as a would-be refusal when the
    /// account is not familiar).
    Proceed,
    /// Wait this long (`ip_budget_delay`), then go on: the account is familiar with the address.
    Delay(std::time::Duration),
    /// Refused, and held this much longer than any other failure, so that the refusal takes
    /// what a familiar account's wait and failure take.
    Refuse(std::time::Duration),
}

/// How the bind ended, as far as lockout is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// AD accepted the password.
    Success,
    /// AD said the password is wrong, or refused the account after the right password
    /// (disabled, expired, locked by AD, logon hours, workstation): counted as a bad password
    /// so that repeating a candidate password can neither confirm it nor go uncounted.
    BadPassword,
    /// Anything else that says nothing against the password: the directory was unavailable, AD
    /// asked for a password change (expired or must change), the bind never ran.
    NotCounted,
}

#[derive(Debug, Clone, Copy)]
enum Settle {
    /// Mode off, or the store failed: nothing to settle.
    Nothing,
    /// The attempt was counted in advance.
    Counted(AttemptDecision),
    /// Log-only: the attempt would have been refused, so it was not counted.
    WouldRefuse(AttemptDecision),
}

/// A bind allowed to proceed; hand it back to [`ExtranetLockout::after_bind`].
#[derive(Debug, Clone)]
#[must_use = "settle the attempt with ExtranetLockout::after_bind"]
pub struct Ticket {
    account: String,
    client_ips: Vec<IpAddr>,
    settle: Settle,
    report: Option<LockoutReport>,
}

impl Ticket {
    /// Something to log before the bind: a log-only "would refuse" (1210, `enforced: false`) or
    /// a state store failure the sign-in went through despite (`fail_open`).
    pub fn report(&self) -> Option<&LockoutReport> {
        self.report.as_ref()
    }

    /// The attempt's location class, when the store answered.
    pub fn class(&self) -> Option<LocationClass> {
        match self.settle {
            Settle::Nothing => None,
            Settle::Counted(d) | Settle::WouldRefuse(d) => Some(d.class),
        }
    }
}

/// Why a bind must not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutRefusal {
    /// What to log: [`LockoutReport::Refused`] (1210) or [`LockoutReport::StateUnavailable`]
    /// (`fail_closed`).
    pub report: LockoutReport,
}

/// Why extranet lockout refused a bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalCause {
    /// The account is locked out for the attempt's location class (enforce mode).
    LockedOut,
    /// The state store did not answer and `on_unavailable` is `fail_closed`.
    StateUnavailable,
}

impl RefusalCause {
    /// Stable code: `extranet_lockout` or `state_unavailable`.
    pub fn code(self) -> &'static str {
        match self {
            RefusalCause::LockedOut => "extranet_lockout",
            RefusalCause::StateUnavailable => "state_unavailable",
        }
    }
}

impl LockoutRefusal {
    /// Locked out, or the store did not answer (`fail_closed`).
    pub fn cause(&self) -> RefusalCause {
        match self.report {
            LockoutReport::StateUnavailable { .. } => RefusalCause::StateUnavailable,
            _ => RefusalCause::LockedOut,
        }
    }

    /// `extranet_lockout` (the account is locked out for this location class) or
    /// `state_unavailable` (the store did not answer and `on_unavailable` is `fail_closed`).
    pub fn code(&self) -> &'static str {
        self.cause().code()
    }
}

/// The answer of [`ExtranetLockout::before_bind`].
#[derive(Debug, Clone)]
pub enum Gate {
    /// Bind, then call [`ExtranetLockout::after_bind`] with the ticket.
    Proceed(Ticket),
    /// Do not contact AD; the sign-in fails.
    Refuse(LockoutRefusal),
}

/// Extranet smart lockout for one node, over the farm-wide state store.
pub struct ExtranetLockout {
    config: ExtranetLockoutConfig,
    on_unavailable: OnUnavailable,
    store: Arc<dyn StateStore>,
    metrics: LockoutMetrics,
    budget: IpBudget,
    clock: Clock,
}

impl ExtranetLockout {
    /// Lockout per `config` over `store` (see [`crate::state::open`]), failing per
    /// `on_unavailable` (`state.on_unavailable`) when the store cannot answer; "now" (bad
    /// password times, lockout ends, familiar locations) comes from `clock`.
    pub fn new(
        config: ExtranetLockoutConfig,
        on_unavailable: OnUnavailable,
        store: Arc<dyn StateStore>,
        metrics: LockoutMetrics,
        clock: Clock,
    ) -> Self {
        let per_minute = match config.mode {
            LockoutMode::Off => 0,
            _ => config.ip_failures_per_minute,
        };
        ExtranetLockout {
            budget: IpBudget::new(per_minute, budget::DEFAULT_TRACKED),
            config,
            on_unavailable,
            store,
            metrics,
            clock,
        }
    }

    /// Now, by the injected clock, as the state store counts time.
    fn now(&self) -> SystemTime {
        SystemTime::from((self.clock)())
    }

    /// Off, log-only or enforce.
    pub fn mode(&self) -> LockoutMode {
        self.config.mode
    }

    fn enforced(&self) -> bool {
        self.config.mode == LockoutMode::Enforce
    }

    fn count(&self, class: impl Into<Class>, decision: Decision) {
        self.metrics
            .count_decision(self.config.mode, class.into(), decision);
    }

    /// Before a password bind for `account` (a stable key of the resolved account) from
    /// `client_ips` (every address the request carries beyond the trusted proxies).
    pub async fn before_bind(&self, account: &AccountKey, client: &ClientAddresses) -> Gate {
        self.before_bind_at(account, client.all(), self.now()).await
    }

    /// [`ExtranetLockout::before_bind`] at an explicit time instead of the clock's, from
    /// explicit addresses (tests walk through lockouts and windows with it).
    pub async fn before_bind_at(
        &self,
        account: &AccountKey,
        client_ips: &[IpAddr],
        now: SystemTime,
    ) -> Gate {
        let ticket = |settle, report| Ticket {
            account: account.as_str().to_string(),
            client_ips: client_ips.to_vec(),
            settle,
            report,
        };
        if self.config.mode == LockoutMode::Off {
            return Gate::Proceed(ticket(Settle::Nothing, None));
        }
        let decision = match self
            .store
            .attempt(account.as_str(), client_ips, now, &self.config.policy)
            .await
        {
            Ok(d) => d,
            Err(e) => {
                let refuse = self.enforced() && self.on_unavailable == OnUnavailable::FailClosed;
                let report = LockoutReport::state_unavailable(Op::Attempt, &e, refuse);
                if refuse {
                    self.count(Class::Unknown, Decision::FailClosed);
                    return Gate::Refuse(LockoutRefusal { report });
                }
                self.count(Class::Unknown, Decision::FailOpen);
                return Gate::Proceed(ticket(Settle::Nothing, Some(report)));
            }
        };
        let class = decision.class;
        match decision.verdict {
            Verdict::Allowed => {
                self.count(class, Decision::Allow);
                Gate::Proceed(ticket(Settle::Counted(decision), None))
            }
            Verdict::Probe => {
                self.count(class, Decision::Probe);
                Gate::Proceed(ticket(Settle::Counted(decision), None))
            }
            Verdict::Refused if self.enforced() => {
                self.count(class, Decision::Refuse);
                Gate::Refuse(LockoutRefusal {
                    report: LockoutReport::Refused {
                        decision,
                        enforced: true,
                    },
                })
            }
            Verdict::Refused => {
                self.count(class, Decision::WouldRefuse);
                let report = LockoutReport::Refused {
                    decision,
                    enforced: false,
                };
                Gate::Proceed(ticket(Settle::WouldRefuse(decision), Some(report)))
            }
        }
    }

    /// After the bind: settles the advance count and returns what to log (516, 515, store
    /// failures).
    pub async fn after_bind(&self, ticket: Ticket, outcome: Outcome) -> Vec<LockoutReport> {
        self.after_bind_at(ticket, outcome, self.now()).await
    }

    /// [`ExtranetLockout::after_bind`] at an explicit time instead of the clock's.
    pub async fn after_bind_at(
        &self,
        ticket: Ticket,
        outcome: Outcome,
        now: SystemTime,
    ) -> Vec<LockoutReport> {
        let enforced = self.enforced();
        let mut reports = Vec::new();
        match (ticket.settle, outcome) {
            (Settle::Nothing, _) => {}
            (Settle::Counted(decision), Outcome::BadPassword) => {
                if decision.count >= decision.threshold {
                    reports.push(LockoutReport::LockedOut { decision, enforced });
                }
            }
            (Settle::Counted(decision), Outcome::NotCounted) => {
                if let Some(counted) = &decision.counted {
                    if let Err(e) = self.store.not_counted(&ticket.account, counted).await {
                        reports.push(LockoutReport::state_unavailable(Op::NotCounted, &e, false));
                    }
                }
            }
            (Settle::Counted(decision), Outcome::Success)
            | (Settle::WouldRefuse(decision), Outcome::Success) => {
                if decision.verdict != Verdict::Allowed {
                    reports
                        .push(LockoutReport::LockedAccountCorrectPassword { decision, enforced });
                }
                if let Err(e) = self
                    .store
                    .succeeded(
                        &ticket.account,
                        decision.class,
                        &ticket.client_ips,
                        now,
                        &self.config.policy,
                    )
                    .await
                {
                    reports.push(LockoutReport::state_unavailable(Op::Succeeded, &e, false));
                }
            }
            // Not counted in advance: enforce mode would not have let it reach AD.
            (Settle::WouldRefuse(_), Outcome::BadPassword | Outcome::NotCounted) => {}
        }
        reports
    }

    /// True when the source `ip` has used up its failure budget (never when the budget or
    /// lockout is off). Nothing is decided or counted yet: that is [`ExtranetLockout::over_budget`],
    /// once the login has been resolved and its familiarity with the address checked.
    pub fn ip_budget_exhausted(&self, ip: IpAddr) -> bool {
        !self.budget.allows(ip)
    }

    /// What a sign-in from an address over its failure budget gets: an account `familiar` with
    /// every address of the request is let through after `ip_budget_delay`; anything else
    /// (other accounts, logins that do not exist) is refused after the same wait. Log-only mode
    /// never waits or refuses, and counts the would-be refusals.
    pub fn over_budget(&self, familiar: bool) -> BudgetVerdict {
        let delay = self.config.ip_budget_delay;
        match (self.enforced(), familiar) {
            (true, true) => {
                self.count(Class::SourceIp, Decision::Delay);
                BudgetVerdict::Delay(delay)
            }
            (true, false) => {
                self.count(Class::SourceIp, Decision::Refuse);
                BudgetVerdict::Refuse(delay)
            }
            (false, true) => BudgetVerdict::Proceed,
            (false, false) => {
                self.count(Class::SourceIp, Decision::WouldRefuse);
                BudgetVerdict::Proceed
            }
        }
    }

    /// True when every address of `client` is one of the account's familiar locations (it
    /// signed in successfully from it within `familiar_location_lifetime`), as the state store
    /// says now; false when the store does not answer or lockout is off.
    pub async fn familiar(&self, account: &AccountKey, client: &ClientAddresses) -> bool {
        self.familiar_at(account, client.all(), self.now()).await
    }

    /// [`ExtranetLockout::familiar`] at an explicit time, from explicit addresses.
    pub async fn familiar_at(
        &self,
        account: &AccountKey,
        client_ips: &[IpAddr],
        now: SystemTime,
    ) -> bool {
        if self.config.mode == LockoutMode::Off || client_ips.is_empty() {
            return false;
        }
        match self.activity_at(account, now).await {
            Ok(a) => client_ips.iter().all(|ip| {
                let ip = ip.to_canonical();
                a.familiar_locations.iter().any(|f| f.ip == ip)
            }),
            Err(_) => false,
        }
    }

    /// Charges one failed sign-in (any failure: bad password, unknown user) to source `ip`.
    pub fn charge_failure(&self, ip: IpAddr) {
        self.budget.charge(ip);
    }

    /// The account's lockout state (AD FS `Get-AdfsAccountActivity`).
    pub async fn activity(&self, account: &AccountKey) -> Result<AccountActivity, StateError> {
        self.activity_at(account, self.now()).await
    }

    /// [`ExtranetLockout::activity`] as of `now` instead of the clock's.
    pub async fn activity_at(
        &self,
        account: &AccountKey,
        now: SystemTime,
    ) -> Result<AccountActivity, StateError> {
        self.store
            .status(account.as_str(), now, &self.config.policy)
            .await
    }

    /// Operator reset (AD FS `Reset-AdfsAccountLockout`).
    pub async fn reset(&self, account: &AccountKey, scope: ResetScope) -> Result<(), StateError> {
        self.store.reset(account.as_str(), scope).await
    }

    /// Operator change of the account's familiar locations (see
    /// [`crate::state::StateStore::set_familiar`]), under the configured policy.
    pub async fn set_familiar(
        &self,
        account: &AccountKey,
        add: &[IpAddr],
        remove: &[IpAddr],
    ) -> Result<(), StateError> {
        self.store
            .set_familiar(
                account.as_str(),
                add,
                remove,
                self.now(),
                &self.config.policy,
            )
            .await
    }
}

#[cfg(test)]
mod tests;
