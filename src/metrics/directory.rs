//! The directory's metrics: searches, binds, failovers and LDAP connection pools per forest and
//! server.

use super::{configured, counter_vec, gauge_vec, histogram_vec, vocabulary, Reg};
use crate::label::{kinds, Id};
use prometheus::{Histogram, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec};

/// Directory (LDAP) connections and searches.
#[derive(Clone)]
pub struct DirectoryMetrics {
    /// `altgate_directory_search_duration_seconds{forest,query}`: one forest's answer to one
    /// query, failover included ("Average Search Latency for Alternate Login ID");
    /// `query="account_state"` is the SSO session's fresh read on a domain controller,
    /// `domain_attributes` the resolution's read of the non-GC attributes (consistency GUID) and
    /// `password_expiry` the password sign-in's expiry read, both on a DC of the account's domain.
    pub search_duration: HistogramVec,
    /// `altgate_directory_searches_total{forest,query,result}`: result is ok, not_found (account
    /// state only) or the directory error's code.
    pub searches: IntCounterVec,
    /// `altgate_forest_up{forest}`: 1 when the forest's last search was answered.
    pub forest_up: IntGaugeVec,
    /// `altgate_directory_server_up{forest,server}`: 1 when the server's last attempt succeeded.
    pub server_up: IntGaugeVec,
    /// `altgate_directory_failovers_total{forest}`: searches that tried a server, saw it fail and
    /// were answered by a later one (skipping a server in backoff does not count again).
    pub failovers: IntCounterVec,
    /// `altgate_ldap_connects_total{forest,server,result}`: connection attempts (TLS + service
    /// bind); result is ok or error. Every ok after the first per slot is a reconnect.
    pub connects: IntCounterVec,
    /// `altgate_ldap_pool_connections{forest,server}`: open pooled connections.
    pub pool_connections: IntGaugeVec,
    /// `altgate_ldap_pool_size{forest,server}`: configured connections per server.
    pub pool_size: IntGaugeVec,
    /// `altgate_ldap_operations_in_flight{forest,server}`: operations awaiting an answer.
    pub in_flight: IntGaugeVec,
    /// `altgate_ldap_pool_waits_total{forest,server}`: binds that waited for a free connection.
    pub pool_waits: IntCounterVec,
    /// `altgate_directory_bind_queue_wait_seconds{forest,server}`: how long each password bind
    /// waited for a slot on its domain controller (0 when one was free).
    pub bind_queue_wait: HistogramVec,
    /// `altgate_directory_bind_queue_timeouts_total{forest,server}`: password binds refused
    /// because no slot on the domain controller freed up within `bind_queue_timeout`.
    pub bind_queue_timeouts: IntCounterVec,
    /// `altgate_bind_duration_seconds{domain}`: password binds, failover included.
    pub bind_duration: HistogramVec,
    /// `altgate_binds_total{domain,result}`: ok, a rejection reason, unavailable or
    /// bind_queue_full.
    pub binds: IntCounterVec,
}

impl DirectoryMetrics {
    /// Registers the directory metrics.
    pub fn register(r: &Reg<'_>) -> prometheus::Result<Self> {
        Ok(DirectoryMetrics {
            search_duration: histogram_vec(
                r,
                "altgate_directory_search_duration_seconds",
                "Time for one forest to answer one account search, failover included.",
                &[
                    configured("forest", "configured forests"),
                    vocabulary::<kinds::DirectoryQuery>("query"),
                ],
            )?,
            searches: counter_vec(
                r,
                "altgate_directory_searches_total",
                "Account searches per forest by query kind and result.",
                &[
                    configured("forest", "configured forests"),
                    vocabulary::<kinds::DirectoryQuery>("query"),
                    vocabulary::<kinds::SearchResult>("result"),
                ],
            )?,
            forest_up: gauge_vec(
                r,
                "altgate_forest_up",
                "1 when the forest's global catalogs answered the last search.",
                &[
                    configured("forest", "configured forests"),
                ],
            )?,
            server_up: gauge_vec(
                r,
                "altgate_directory_server_up",
                "1 when the last connection or operation on this LDAP server succeeded.",
                &[
                    configured("forest", "configured forests"),
                    configured("server", "configured LDAP URLs"),
                ],
            )?,
            failovers: counter_vec(
                r,
                "altgate_directory_failovers_total",
                "Searches that had to move on to the next global catalog of the forest.",
                &[
                    configured("forest", "configured forests"),
                ],
            )?,
            connects: counter_vec(
                r,
                "altgate_ldap_connects_total",
                "LDAPS connection attempts (TCP, TLS, service bind) by result.",
                &[
                    configured("forest", "configured forests"),
                    configured("server", "configured LDAP URLs"),
                    vocabulary::<kinds::ConnectResult>("result"),
                ],
            )?,
            pool_connections: gauge_vec(
                r,
                "altgate_ldap_pool_connections",
                "Open pooled LDAPS connections.",
                &[
                    configured("forest", "configured forests"),
                    configured("server", "configured LDAP URLs"),
                ],
            )?,
            pool_size: gauge_vec(
                r,
                "altgate_ldap_pool_size",
                "Configured pooled connections per LDAP server.",
                &[
                    configured("forest", "configured forests"),
                    configured("server", "configured LDAP URLs"),
                ],
            )?,
            in_flight: gauge_vec(
                r,
                "altgate_ldap_operations_in_flight",
                "LDAP operations (searches and binds) sent and not yet answered: connections in use.",
                &[
                    configured("forest", "configured forests"),
                    configured("server", "configured LDAP URLs"),
                ],
            )?,
            pool_waits: counter_vec(
                r,
                "altgate_ldap_pool_waits_total",
                "Password binds that waited for a free pooled connection.",
                &[
                    configured("forest", "configured forests"),
                    configured("server", "configured LDAP URLs"),
                ],
            )?,
            bind_queue_wait: histogram_vec(
                r,
                "altgate_directory_bind_queue_wait_seconds",
                "Time a password bind waited for a free slot on its domain controller.",
                &[
                    configured("forest", "configured forests"),
                    configured("server", "configured LDAP URLs"),
                ],
            )?,
            bind_queue_timeouts: counter_vec(
                r,
                "altgate_directory_bind_queue_timeouts_total",
                "Password binds refused because the domain controller's slots stayed busy past bind_queue_timeout.",
                &[
                    configured("forest", "configured forests"),
                    configured("server", "configured LDAP URLs"),
                ],
            )?,
            bind_duration: histogram_vec(
                r,
                "altgate_bind_duration_seconds",
                "Password bind time per domain, failover included.",
                &[
                    configured("domain", "configured domains"),
                ],
            )?,
            binds: counter_vec(
                r,
                "altgate_binds_total",
                "Password binds per domain by result (ok, AD's refusal reason, unavailable, bind_queue_full).",
                &[
                    configured("domain", "configured domains"),
                    vocabulary::<kinds::BindResult>("result"),
                ],
            )?,
        })
    }

    /// One forest's answer to one `query` (search kind, or `account_state`,
    /// `domain_attributes`, `password_expiry`) took `secs`.
    pub fn observe_search(
        &self,
        forest: &str,
        query: impl Into<Id<kinds::DirectoryQuery>>,
        secs: f64,
    ) {
        self.search_duration
            .with_label_values(&[forest, query.into().as_str()])
            .observe(secs);
    }

    /// One search of `query` in `forest` ended with `result` (ok or an error code).
    pub fn count_search(
        &self,
        forest: &str,
        query: impl Into<Id<kinds::DirectoryQuery>>,
        result: impl Into<Id<kinds::SearchResult>>,
    ) {
        self.searches
            .with_label_values(&[forest, query.into().as_str(), result.into().as_str()])
            .inc();
    }

    /// Whether `forest`'s global catalogs answered the last search.
    pub fn set_forest_up(&self, forest: &str, up: bool) {
        self.forest_up
            .with_label_values(&[forest])
            .set(i64::from(up));
    }

    /// Creates `forest`'s failover series at zero, so the first failover is seen by
    /// `increase()` and panels show 0, not "No data".
    pub fn initialise_forest(&self, forest: &str) {
        let _ = self.failovers.with_label_values(&[forest]);
    }

    /// Creates `server`'s wait and queue-timeout series at zero.
    pub fn initialise_server(&self, forest: &str, server: &str) {
        let _ = self.pool_waits.with_label_values(&[forest, server]);
        let _ = self
            .bind_queue_timeouts
            .with_label_values(&[forest, server]);
    }

    /// A search of `forest` was answered by a later server after an earlier one failed.
    pub fn count_failover(&self, forest: &str) {
        self.failovers.with_label_values(&[forest]).inc();
    }

    /// Whether the last attempt on `server` of `forest` succeeded.
    pub fn set_server_up(&self, forest: &str, server: &str, up: bool) {
        self.server_up
            .with_label_values(&[forest, server])
            .set(i64::from(up));
    }

    /// A connection attempt to `server` ended with `result` (ok or error).
    pub fn count_connect(
        &self,
        forest: &str,
        server: &str,
        result: impl Into<Id<kinds::ConnectResult>>,
    ) {
        self.connects
            .with_label_values(&[forest, server, result.into().as_str()])
            .inc();
    }

    /// The gauge of open pooled connections to `server`.
    pub fn pool_connections(&self, forest: &str, server: &str) -> IntGauge {
        self.pool_connections.with_label_values(&[forest, server])
    }

    /// Records `server`'s configured pool size.
    pub fn set_pool_size(&self, forest: &str, server: &str, size: usize) {
        self.pool_size
            .with_label_values(&[forest, server])
            .set(i64::try_from(size).unwrap_or(i64::MAX));
    }

    /// The gauge of operations awaiting an answer from `server`.
    pub fn in_flight(&self, forest: &str, server: &str) -> IntGauge {
        self.in_flight.with_label_values(&[forest, server])
    }

    /// A password bind on `server` waited for a free connection.
    pub fn count_pool_wait(&self, forest: &str, server: &str) {
        self.pool_waits.with_label_values(&[forest, server]).inc();
    }

    /// The histogram of how long password binds on `server` waited for a slot.
    pub fn bind_queue_wait(&self, forest: &str, server: &str) -> Histogram {
        self.bind_queue_wait.with_label_values(&[forest, server])
    }

    /// A password bind on `server` found no slot within `bind_queue_timeout`.
    pub fn count_bind_queue_timeout(&self, forest: &str, server: &str) {
        self.bind_queue_timeouts
            .with_label_values(&[forest, server])
            .inc();
    }

    /// A password bind in `domain` (failover included) took `secs`.
    pub fn observe_bind(&self, domain: &str, secs: f64) {
        self.bind_duration
            .with_label_values(&[domain])
            .observe(secs);
    }

    /// A password bind in `domain` ended with `result`.
    pub fn count_bind(&self, domain: &str, result: impl Into<Id<kinds::BindResult>>) {
        self.binds
            .with_label_values(&[domain, result.into().as_str()])
            .inc();
    }
}
