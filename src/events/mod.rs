//! Events: every notable occurrence is one type that logs (structured, via `tracing`) and counts
//! (a metric) in one call, [`Events::emit`]. Security audit events (`target: "altgate::audit"`)
//! are kept apart from operational ones (`target: "altgate::ops"`), so they can be routed to
//! different sinks with a `tracing` filter. No event ever carries a password.

use crate::metrics::EventMetrics;

/// Audit or operational.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// Who signed in, who failed and why (the AD FS Security log's role).
    Audit,
    /// The health of altgate and its directories (the AD FS Admin log's role).
    Operational,
}

impl Category {
    /// Metric label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Audit => "audit",
            Category::Operational => "operational",
        }
    }
}

/// A notable occurrence.
pub trait Event {
    /// Stable event name (metric label, log field).
    fn name(&self) -> &'static str;
    /// Audit or operational.
    fn category(&self) -> Category;
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
    pub fn emit(&self, event: &impl Event) {
        event.log();
        self.metrics
            .events
            .with_label_values(&[event.name(), event.category().as_str()])
            .inc();
        event.count(&self.metrics);
    }
}

/// AD FS event 364: a sign-in failed while resolving the login (MSIS8012–8015, not found,
/// directory unavailable, invalid input).
#[derive(Debug, Clone)]
pub struct LoginResolutionFailed<'a> {
    /// The login as typed (trimmed).
    pub login: &'a str,
    /// `not_found`, `ambiguous` or `error`.
    pub outcome: &'static str,
    /// Stable error code (`MSIS8014`, `not_found`, `directory_unavailable`, ...).
    pub code: &'a str,
    /// The MSIS code where AD FS has one.
    pub msis: Option<&'a str>,
    /// The message (the exact AD FS text for MSIS codes).
    pub message: &'a str,
    /// Forests searched.
    pub forests: &'a [String],
    /// Forests that could not be reached.
    pub unreachable_forests: &'a [String],
    /// Set when the UPN fallback ran, with its reason.
    pub upn_fallback: Option<&'static str>,
}

impl Event for LoginResolutionFailed<'_> {
    fn name(&self) -> &'static str {
        "login_resolution_failed"
    }
    fn category(&self) -> Category {
        Category::Audit
    }
    fn log(&self) {
        tracing::warn!(
            target: "altgate::audit",
            event = self.name(),
            event_id = 364,
            outcome = self.outcome,
            code = self.code,
            msis = self.msis,
            login = self.login,
            forests = ?self.forests,
            unreachable_forests = ?self.unreachable_forests,
            upn_fallback = self.upn_fallback,
            "{}",
            self.message
        );
    }
    fn count(&self, m: &EventMetrics) {
        if let Some(code) = self.msis {
            m.msis.with_label_values(&[code]).inc();
        }
    }
}

/// A login was resolved to exactly one account.
#[derive(Debug, Clone)]
pub struct LoginResolved<'a> {
    /// The login as typed (trimmed).
    pub login: &'a str,
    /// `alternate_login_id`, `upn` or `sam_account_name`.
    pub via: &'static str,
    /// Forest of the account.
    pub forest: &'a str,
    /// Distinguished name of the account.
    pub distinguished_name: &'a str,
    /// Forests that could not be reached (the result was not cached).
    pub unreachable_forests: &'a [String],
    /// Set when the UPN fallback ran, with its reason.
    pub upn_fallback: Option<&'static str>,
}

impl Event for LoginResolved<'_> {
    fn name(&self) -> &'static str {
        "login_resolved"
    }
    fn category(&self) -> Category {
        Category::Audit
    }
    fn log(&self) {
        tracing::info!(
            target: "altgate::audit",
            event = self.name(),
            login = self.login,
            via = self.via,
            forest = self.forest,
            dn = self.distinguished_name,
            unreachable_forests = ?self.unreachable_forests,
            upn_fallback = self.upn_fallback,
            "login resolved"
        );
    }
}

/// AD FS event 1202: fresh credentials validated.
#[derive(Debug, Clone)]
pub struct SignInSucceeded<'a> {
    /// The login as typed.
    pub login: &'a str,
    /// Distinguished name of the account.
    pub account: &'a str,
    /// Its forest.
    pub forest: &'a str,
    /// How the login was resolved.
    pub via: &'static str,
    /// Client address.
    pub client_ip: std::net::IpAddr,
    /// Relying party.
    pub relying_party: &'a str,
    /// Protocol.
    pub protocol: &'static str,
}

impl Event for SignInSucceeded<'_> {
    fn name(&self) -> &'static str {
        "sign_in_succeeded"
    }
    fn category(&self) -> Category {
        Category::Audit
    }
    fn log(&self) {
        tracing::info!(
            target: "altgate::audit",
            event = self.name(),
            event_id = 1202,
            login = self.login,
            account = self.account,
            forest = self.forest,
            via = self.via,
            client_ip = %self.client_ip,
            relying_party = self.relying_party,
            protocol = self.protocol,
            outcome = "success",
            "fresh credentials validated"
        );
    }
}

/// AD FS event 1203: fresh credentials refused. The reason stays in the log; the client only
/// ever sees a generic failure.
#[derive(Debug, Clone)]
pub struct SignInFailed<'a> {
    /// The login as typed.
    pub login: &'a str,
    /// Bounded reason (wrong_password, account_disabled, not_found, ...).
    pub reason: &'static str,
    /// Client address.
    pub client_ip: std::net::IpAddr,
    /// Relying party.
    pub relying_party: &'a str,
    /// Protocol.
    pub protocol: &'static str,
    /// More detail (the resolution code, the unavailable DC), never a password.
    pub detail: &'a str,
}

impl Event for SignInFailed<'_> {
    fn name(&self) -> &'static str {
        "sign_in_failed"
    }
    fn category(&self) -> Category {
        Category::Audit
    }
    fn log(&self) {
        tracing::warn!(
            target: "altgate::audit",
            event = self.name(),
            event_id = 1203,
            login = self.login,
            reason = self.reason,
            client_ip = %self.client_ip,
            relying_party = self.relying_party,
            protocol = self.protocol,
            detail = self.detail,
            outcome = "failure",
            "fresh credentials refused"
        );
    }
    fn count(&self, m: &EventMetrics) {
        m.sign_in_failures.with_label_values(&[self.reason]).inc();
    }
}

/// A browser signed in to a relying party from its SSO session, without a password.
#[derive(Debug, Clone)]
pub struct SsoSessionUsed<'a> {
    /// The login of the session.
    pub login: &'a str,
    /// Account DN.
    pub account: &'a str,
    /// Relying party.
    pub relying_party: &'a str,
    /// Protocol.
    pub protocol: &'static str,
    /// Client address.
    pub client_ip: std::net::IpAddr,
}

impl Event for SsoSessionUsed<'_> {
    fn name(&self) -> &'static str {
        "sso_session_used"
    }
    fn category(&self) -> Category {
        Category::Audit
    }
    fn log(&self) {
        tracing::info!(
            target: "altgate::audit",
            event = self.name(),
            login = self.login,
            account = self.account,
            relying_party = self.relying_party,
            protocol = self.protocol,
            client_ip = %self.client_ip,
            "signed in from the SSO session"
        );
    }
}

/// A browser request at `/adfs/ls/` was refused (bad message, unregistered reply URL, failed
/// CSRF check, replay...). The request itself is never logged.
#[derive(Debug, Clone)]
pub struct PassiveRequestRefused<'a> {
    /// Protocol.
    pub protocol: &'static str,
    /// Relying party, or `unknown`.
    pub relying_party: &'a str,
    /// Bounded reason.
    pub reason: &'static str,
    /// Client address.
    pub client_ip: std::net::IpAddr,
}

impl Event for PassiveRequestRefused<'_> {
    fn name(&self) -> &'static str {
        "passive_request_refused"
    }
    fn category(&self) -> Category {
        Category::Audit
    }
    fn log(&self) {
        tracing::warn!(
            target: "altgate::audit",
            event = self.name(),
            protocol = self.protocol,
            relying_party = self.relying_party,
            reason = self.reason,
            client_ip = %self.client_ip,
            "browser sign-in request refused"
        );
    }
}

/// A browser signed out.
#[derive(Debug, Clone)]
pub struct SignedOut<'a> {
    /// Protocol.
    pub protocol: &'static str,
    /// The session's login, when there was one.
    pub login: &'a str,
    /// Client address.
    pub client_ip: std::net::IpAddr,
}

impl Event for SignedOut<'_> {
    fn name(&self) -> &'static str {
        "signed_out"
    }
    fn category(&self) -> Category {
        Category::Audit
    }
    fn log(&self) {
        tracing::info!(
            target: "altgate::audit",
            event = self.name(),
            protocol = self.protocol,
            login = self.login,
            client_ip = %self.client_ip,
            "signed out"
        );
    }
}

/// An LDAP server stopped answering (logged on the transition, not on every failure).
#[derive(Debug, Clone)]
pub struct DirectoryServerDown<'a> {
    /// Forest of the server.
    pub forest: &'a str,
    /// Server URL.
    pub server: &'a str,
    /// Why (connection refused, timeout, TLS failure, bind refused...).
    pub reason: &'a str,
}

impl Event for DirectoryServerDown<'_> {
    fn name(&self) -> &'static str {
        "directory_server_down"
    }
    fn category(&self) -> Category {
        Category::Operational
    }
    fn log(&self) {
        tracing::error!(
            target: "altgate::ops",
            event = self.name(),
            forest = self.forest,
            server = self.server,
            reason = self.reason,
            "directory server unreachable"
        );
    }
}

/// An LDAP server answers again.
#[derive(Debug, Clone)]
pub struct DirectoryServerUp<'a> {
    /// Forest of the server.
    pub forest: &'a str,
    /// Server URL.
    pub server: &'a str,
}

impl Event for DirectoryServerUp<'_> {
    fn name(&self) -> &'static str {
        "directory_server_up"
    }
    fn category(&self) -> Category {
        Category::Operational
    }
    fn log(&self) {
        tracing::info!(
            target: "altgate::ops",
            event = self.name(),
            forest = self.forest,
            server = self.server,
            "directory server reachable"
        );
    }
}

/// A forest's search moved on from a failed global catalog to the next.
#[derive(Debug, Clone)]
pub struct GlobalCatalogFailover<'a> {
    /// Forest.
    pub forest: &'a str,
    /// The server that failed or was backing off.
    pub from: &'a str,
    /// The server that answered.
    pub to: &'a str,
}

impl Event for GlobalCatalogFailover<'_> {
    fn name(&self) -> &'static str {
        "global_catalog_failover"
    }
    fn category(&self) -> Category {
        Category::Operational
    }
    fn log(&self) {
        tracing::warn!(
            target: "altgate::ops",
            event = self.name(),
            forest = self.forest,
            from = self.from,
            to = self.to,
            "global catalog failover"
        );
    }
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
            outcome: "ambiguous",
            code: "MSIS8014",
            msis: Some("MSIS8014"),
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
}
