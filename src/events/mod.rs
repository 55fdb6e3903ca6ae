//! Events: every notable occurrence is one type that logs (structured, via `tracing`) and counts
//! (a metric) in one call, [`Events::emit`]. Security audit events (`target: "altgate::audit"`,
//! [`audit`]) are kept apart from operational ones (`target: "altgate::ops"`, [`ops`]), so they
//! can be routed to different sinks with a `tracing` filter. No event ever carries a password.
//!
//! Each event is declared once with the `event!` macro, which writes the struct, its log record
//! and its name and category; counting beyond `altgate_events_total` is the event's own
//! `count`.

pub mod audit;
pub mod ops;

pub use audit::*;
pub use ops::*;

use crate::label::{kinds, label_set};
use crate::metrics::EventMetrics;

label_set! {
    /// Audit or operational.
    pub enum Category: kinds::EventCategory {
        /// Who signed in, who failed and why (the AD FS Security log's role).
        Audit = "audit",
        /// The health of altgate and its directories (the AD FS Admin log's role).
        Operational = "operational",
    }
}

label_set! {
    /// Every event's name: each `event!` declaration names one of these.
    pub enum EventName: kinds::EventName {
        /// AD FS event 364: a sign-in failed while resolving the login (MSIS8012–8015, not found, directory unavailable, invalid input).
        LoginResolutionFailed = "login_resolution_failed",
        /// A login was resolved to exactly one account.
        LoginResolved = "login_resolved",
        /// AD FS event 1202: fresh credentials validated.
        SignInSucceeded = "sign_in_succeeded",
        /// AD FS event 1203: fresh credentials refused. The reason stays in the log; the client only ever sees a generic failure.
        SignInFailed = "sign_in_failed",
        /// AD FS event 1202 for Windows integrated authentication: a Kerberos ticket was verified and its account (read fresh) signed in.
        WindowsSignInSucceeded = "windows_sign_in_succeeded",
        /// AD FS event 1203 for Windows integrated authentication: a Negotiate token signed nobody in (NTLM, clock skew, wrong key, a disabled account...). The browser gets the sign-in form; the reason stays in the log.
        WindowsSignInFailed = "windows_sign_in_failed",
        /// A browser signed in to a relying party from its SSO session, without a password.
        SsoSessionUsed = "sso_session_used",
        /// An SSO session was ended because of its account: disabled, password set since the session's sign-in, or no longer at the session's DN. The cookie is cleared; the browser gets the sign-in form.
        SsoSessionEnded = "sso_session_ended",
        /// A browser request at `/adfs/ls/` was refused (bad message, unregistered reply URL, failed CSRF check, replay...). The request itself is never logged.
        PassiveRequestRefused = "passive_request_refused",
        /// A browser signed out.
        SignedOut = "signed_out",
        /// An OAuth 2.0 / OpenID Connect request was refused (bad request, client authentication, invalid or replayed code or refresh token, failed ROPC sign-in...). Tokens, codes and secrets are never logged.
        OAuthRequestRefused = "oauth_request_refused",
        /// Everything issued under an OAuth grant was revoked because of a replayed code, a reused refresh token, another client's refresh token or a changed account.
        OAuthGrantRevoked = "oauth_grant_revoked",
        /// An operator changed an account's extranet lockout activity through the admin API (AD FS `Reset-AdfsAccountLockout` / `Set-AdfsAccountActivity`).
        AccountActivityChanged = "account_activity_changed",
        /// A request from an address in `server.banned_ips` was refused before any work (AD FS `BannedIpList`).
        BannedAddressRefused = "banned_address_refused",
        /// AD FS event 1210: a sign-in was refused without contacting AD because the account is locked out for its location class (in log-only mode: would have been).
        ExtranetLockoutRefused = "extranet_lockout_refused",
        /// AD FS event 516: a bad password brought the account's count for a location class to its threshold (or the one attempt per window failed again): the account is locked out there.
        ExtranetAccountLockedOut = "extranet_account_locked_out",
        /// AD FS event 515: an account locked out for a location class presented the correct password (its one attempt per window, or a log-only attempt); its count is reset.
        ExtranetLockedAccountCorrectPassword = "extranet_locked_account_correct_password",
        /// AD FS event 1204: a user changed the password (an expired or must-change password at sign-in, or the voluntary change page).
        PasswordChangeSucceeded = "password_change_succeeded",
        /// AD FS event 1205: a password change failed. The reason stays in the log.
        PasswordChangeFailed = "password_change_failed",
        /// An LDAP server stopped answering (logged on the transition, not on every failure).
        DirectoryServerDown = "directory_server_down",
        /// An LDAP server answers again.
        DirectoryServerUp = "directory_server_up",
        /// A forest's search moved on from a failed global catalog to the next.
        GlobalCatalogFailover = "global_catalog_failover",
        /// The farm state store (Redis) did not answer; extranet lockout let the sign-in through unprotected (`fail_open`) or refused it (`fail_closed`).
        StateStoreUnavailable = "state_store_unavailable",
        /// altgate connected to a state store node (Redis or Valkey): at start, after an outage, or to a new master after a failover.
        StateStoreConnected = "state_store_connected",
        /// altgate dropped its connection to a state store node: the connection failed, the node turned replica (`READONLY`), or it stopped answering.
        StateStoreDisconnected = "state_store_disconnected",
        /// The sentinels named another master than the one altgate used last (a failover).
        StateMasterChanged = "state_master_changed",
        /// Store writes that failed (a timed-out attempt to cancel, a success or sign-out to write again) were written after all, or given up when their time had passed.
        StateDeferredWrite = "state_deferred_write",
        /// Extranet lockout does not fit a domain's own lockout policy (read at start-up): AD would lock an account before altgate does, AD never locks (altgate is the only lockout), or altgate's observation window is shorter than AD's.
        AdLockoutPolicyWarning = "ad_lockout_policy_warning",
        /// A configuration reload (SIGHUP, `POST /reload`) applied: the next connection and request use the new file and certificates.
        ConfigReloaded = "config_reloaded",
        /// A configuration reload was refused (every problem listed): the running configuration stays.
        ConfigReloadRefused = "config_reload_refused",
        /// Automatic token-signing rollover (`token_signing.auto_rollover`) wrote the next pair or promoted it.
        TokenSigningRollover = "token_signing_rollover",
    }
}

impl EventName {
    /// The category of the event of this name (checked against each `event!` declaration at
    /// compile time).
    pub const fn category(self) -> Category {
        match self {
            EventName::LoginResolutionFailed
            | EventName::LoginResolved
            | EventName::SignInSucceeded
            | EventName::SignInFailed
            | EventName::WindowsSignInSucceeded
            | EventName::WindowsSignInFailed
            | EventName::SsoSessionUsed
            | EventName::SsoSessionEnded
            | EventName::PassiveRequestRefused
            | EventName::SignedOut
            | EventName::OAuthRequestRefused
            | EventName::OAuthGrantRevoked
            | EventName::AccountActivityChanged
            | EventName::BannedAddressRefused
            | EventName::ExtranetLockoutRefused
            | EventName::ExtranetAccountLockedOut
            | EventName::ExtranetLockedAccountCorrectPassword
            | EventName::PasswordChangeSucceeded
            | EventName::PasswordChangeFailed => Category::Audit,
            EventName::DirectoryServerDown
            | EventName::DirectoryServerUp
            | EventName::GlobalCatalogFailover
            | EventName::StateStoreUnavailable
            | EventName::StateStoreConnected
            | EventName::StateStoreDisconnected
            | EventName::StateMasterChanged
            | EventName::StateDeferredWrite
            | EventName::AdLockoutPolicyWarning
            | EventName::ConfigReloaded
            | EventName::ConfigReloadRefused
            | EventName::TokenSigningRollover => Category::Operational,
        }
    }
}

/// A notable occurrence.
pub trait Event {
    /// Stable event name (metric label, log field).
    const NAME: &'static str;
    /// Audit or operational.
    const CATEGORY: Category;
    /// Writes the structured log record.
    fn log(&self);
    /// Counts anything beyond `altgate_events_total`.
    fn count(&self, _metrics: &EventMetrics) {}
}

/// The sink every component emits events through.
#[derive(Clone)]
pub struct Events {
    metrics: EventMetrics,
}

impl Events {
    /// An event sink counting into `metrics`.
    pub fn new(metrics: EventMetrics) -> Self {
        Events { metrics }
    }

    /// Logs and counts one event.
    pub fn emit<E: Event>(&self, event: &E) {
        event.log();
        self.metrics
            .events
            .with_label_values(&[E::NAME, E::CATEGORY.as_str()])
            .inc();
        event.count(&self.metrics);
    }
}

/// `s` cut to at most `max` bytes on a character boundary: for untrusted strings (typed logins)
/// in log records, which must stay bounded whatever the client sends.
pub fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

/// A list logged with `Debug`, or nothing when it is empty (no `field=[]` in every record).
pub fn nonempty<'a, T: std::fmt::Debug>(
    list: &&'a [T],
) -> Option<tracing::field::DebugValue<&'a [T]>> {
    (!list.is_empty()).then(|| tracing::field::debug(*list))
}

/// Declares an event: the struct (with its documented fields) and its [`Event`] impl. Each field
/// is logged under its own name; `%` logs it with `Display`, `?` with `Debug`, `list` a slice
/// with `Debug` unless it is empty, `opt` an `Option` with `Display` (left out when `None`),
/// nothing as a value (an `Option` that is `None` is left
/// out); constant fields go in `[...]`. A field named `message` becomes the record's message; otherwise the literal after
/// the level is.
///
/// ```text
/// event! {
///     /// AD FS event 1203.
///     SignInFailed<'a>: audit, warn, SignInFailed [event_id = 1203] "fresh credentials refused" {
///         /// The login as typed.
///         login: &'a str,
///         /// Client address.
///         client_ip: std::net::IpAddr => %,
///     }
/// }
/// ```
#[macro_export]
#[doc(hidden)]
macro_rules! event {
    (@target audit) => { "altgate::audit" };
    (@target ops) => { "altgate::ops" };
    (@category audit) => { $crate::events::Category::Audit };
    (@category ops) => { $crate::events::Category::Operational };
    (@level error) => { tracing::Level::ERROR };
    (@level warn) => { tracing::Level::WARN };
    (@level info) => { tracing::Level::INFO };
    (@value [?] $e:expr) => { tracing::field::debug(&$e) };
    (@value [%] $e:expr) => { tracing::field::display(&$e) };
    (@value [list] $e:expr) => { $crate::events::nonempty(&$e) };
    (@value [opt] $e:expr) => { $e.as_ref().map(tracing::field::display) };
    (@value [] $e:expr) => { $e };
    (
        $(#[$meta:meta])*
        $ty:ident $(<$lt:lifetime>)?: $cat:ident, $level:ident, $name:ident
        $([ $($ckey:ident = $cval:literal),* $(,)? ])? $($msg:literal)? {
            $( $(#[$fmeta:meta])* $field:ident : $fty:ty $(=> $fmt:tt)? ),* $(,)?
        }
        $(count($self_:ident, $m:ident) $count:block)?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        pub struct $ty $(<$lt>)? {
            $( $(#[$fmeta])* pub $field: $fty, )*
        }

        impl $(<$lt>)? $crate::events::Event for $ty $(<$lt>)? {
            const NAME: &'static str = $crate::events::EventName::$name.id();
            const CATEGORY: $crate::events::Category = {
                let declared = $crate::event!(@category $cat);
                assert!(
                    $crate::events::EventName::$name.category() as u8 == declared as u8,
                    concat!("EventName::category disagrees with the event! declaration of ", stringify!($name))
                );
                declared
            };
            fn log(&self) {
                tracing::event!(
                    target: $crate::event!(@target $cat),
                    $crate::event!(@level $level),
                    event = $crate::events::EventName::$name.id(),
                    $($( $ckey = $cval, )*)?
                    $( $field = $crate::event!(@value [$($fmt)?] self.$field), )*
                    $( $msg )?
                );
            }
            $(
                fn count(&$self_, $m: &$crate::metrics::EventMetrics) $count
            )?
        }
    };
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;

    #[test]
    fn emitting_counts_by_name_category_and_msis_code() {
        let m = Metrics::standalone().expect("metrics");
        let events = Events::new(m.events.clone());
        let forests = vec!["contoso.com".to_string(), "fabrikam.com".to_string()];
        events.emit(&LoginResolutionFailed {
            login: "x@example.com",
            outcome: crate::resolve::Outcome::Ambiguous.into(),
            code: "MSIS8014",
            msis: Some(crate::resolve::Msis::Msis8014.into()),
            message: "MSIS8014: ...",
            forests: &forests,
            unreachable_forests: &[],
            upn_fallback: None,
        });
        let text = m.render();
        assert!(
            text.contains("altgate_msis_events_total{code=\"MSIS8014\"} 1"),
            "{text}"
        );
        assert!(text.contains(
            "altgate_events_total{category=\"audit\",event=\"login_resolution_failed\"} 1"
        ));
    }

    /// Captures what one closure logs, as JSON lines.
    fn captured(f: impl FnOnce()) -> String {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().expect("lock").extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let out = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_writer(move || buf.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = out.0.lock().expect("lock").clone();
        String::from_utf8(bytes).expect("utf-8")
    }

    #[test]
    fn declared_events_log_their_fields_constants_target_and_message() {
        let m = Metrics::standalone().expect("metrics");
        let events = Events::new(m.events.clone());
        let line = captured(|| {
            events.emit(&SignInFailed {
                login: "jdoe@contoso.com",
                reason: crate::signin::FailureReason::WrongPassword.into(),
                client_ip: std::net::IpAddr::from([192, 0, 2, 7]),
                relying_party: "urn:federation:MicrosoftOnline",
                protocol: crate::signin::Protocol::Wstrust13.into(),
                detail: None,
            })
        });
        let v: serde_json::Value = serde_json::from_str(line.trim()).expect("one JSON line");
        assert_eq!(v["target"], "altgate::audit");
        assert_eq!(v["level"], "WARN");
        let f = &v["fields"];
        assert_eq!(f["event"], "sign_in_failed");
        assert_eq!(f["event_id"], 1203);
        assert_eq!(f["outcome"], "failure");
        assert_eq!(f["client_ip"], "192.0.2.7");
        assert_eq!(f["reason"], "wrong_password");
        assert_eq!(f["message"], "fresh credentials refused");
        assert!(f.get("detail").is_none(), "no empty detail: {line}");
        assert!(m
            .render()
            .contains("altgate_sign_in_failures_total{reason=\"wrong_password\"} 1"));

        let line = captured(|| {
            events.emit(&DirectoryServerUp {
                forest: "contoso.com",
                server: "ldaps://dc1",
            })
        });
        let v: serde_json::Value = serde_json::from_str(line.trim()).expect("one JSON line");
        assert_eq!(v["target"], "altgate::ops");
        assert_eq!(v["fields"]["message"], "directory server reachable");
    }

    #[test]
    fn clip_cuts_on_a_character_boundary() {
        assert_eq!(clip("abc", 5), "abc");
        assert_eq!(clip("abcdef", 3), "abc");
        assert_eq!(clip("ééé", 3), "é");
        assert_eq!(clip(&"x".repeat(62_000), 256).len(), 256);
    }
}
