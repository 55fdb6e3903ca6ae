//! One LDAP server, whichever pool uses it (global catalog for searches, domain controller for
//! password binds): its address and TLS configuration, the connect path (TCP, verified TLS,
//! optional setup, all within `connect_timeout`), and its health: a server that fails is skipped
//! for `retry_backoff`, and its up/down state drives the `altgate_directory_server_up` gauge and
//! the `DirectoryServerDown`/`DirectoryServerUp` events, once per transition, whichever pool saw
//! it.

use crate::config::{DirectoryConfig, LdapUrl};
use crate::directory::ConnectResult;
use crate::events::{DirectoryServerDown, DirectoryServerUp, Events};
use crate::metrics::DirectoryMetrics;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError};
use rustls::ClientConfig;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::time::{timeout, Instant};

/// Decrements a gauge when dropped.
pub(super) struct GaugeGuard(pub(super) prometheus::IntGauge);

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// An LDAP error as one line (the server's diagnostic without its trailing NUL).
pub(super) fn describe(e: &LdapError) -> String {
    match e {
        LdapError::LdapResult { result } => {
            format!(
                "LDAP result {} {}",
                result.rc,
                result.text.trim_end_matches('\0')
            )
        }
        other => other.to_string(),
    }
}

/// One LDAP server, whichever pool uses it: where it is, how to reach it, and whether it failed
/// recently (then it is skipped for `retry_backoff`).
pub(super) struct Server {
    pub(super) forest: String,
    pub(super) url: LdapUrl,
    tls: Arc<ClientConfig>,
    pub(super) tuning: DirectoryConfig,
    pub(super) metrics: DirectoryMetrics,
    events: Events,
    down_until: std::sync::Mutex<Option<Instant>>,
    up: AtomicBool,
}

impl Server {
    /// A server whose pool holds at most `connections` connections (the pool-size gauge).
    pub(super) fn new(
        forest: &str,
        url: &LdapUrl,
        tls: &Arc<ClientConfig>,
        tuning: DirectoryConfig,
        connections: usize,
        metrics: &DirectoryMetrics,
        events: &Events,
    ) -> Server {
        metrics.set_pool_size(forest, &url.url, connections);
        Server {
            forest: forest.to_string(),
            url: url.clone(),
            tls: tls.clone(),
            tuning,
            metrics: metrics.clone(),
            events: events.clone(),
            down_until: std::sync::Mutex::new(None),
            up: AtomicBool::new(true),
        }
    }

    /// Another server of the same forest (same TLS configuration, tuning, metrics and events)
    /// whose pool holds at most `connections` connections.
    pub(super) fn sibling(&self, url: &LdapUrl, connections: usize) -> Server {
        Server::new(
            &self.forest,
            url,
            &self.tls,
            self.tuning,
            connections,
            &self.metrics,
            &self.events,
        )
    }

    /// False after a failure, until the server answers again.
    pub(super) fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// The background check: a fresh connection (TCP, verified TLS) and an anonymous RootDSE
    /// read, whatever the backoff; the server is marked up or down by the outcome. True when it
    /// answered.
    pub(super) async fn check(&self) -> bool {
        let operation_timeout = self.tuning.operation_timeout;
        let result = self
            .connect(|mut ldap| async move {
                let read = ldap
                    .with_timeout(operation_timeout)
                    .search(
                        "",
                        ldap3::Scope::Base,
                        "(objectClass=*)",
                        vec!["currentTime"],
                    )
                    .await
                    .map_err(|e| describe(&e))?;
                if read.1.rc != 0 {
                    return Err(format!(
                        "RootDSE read refused: LDAP result {} {}",
                        read.1.rc,
                        read.1.text.trim_end_matches('\0')
                    ));
                }
                let _ = ldap.unbind().await;
                Ok(ldap)
            })
            .await;
        match result {
            Ok(_) => {
                self.mark_up();
                true
            }
            Err(reason) => {
                self.mark_down(&reason);
                false
            }
        }
    }

    /// Metric labels: forest, server URL.
    pub(super) fn labels(&self) -> [&str; 2] {
        [self.forest.as_str(), self.url.url.as_str()]
    }

    /// True while the server is skipped after a failure.
    pub(super) fn backing_off(&self) -> bool {
        let guard = self.down_until.lock().unwrap_or_else(|p| p.into_inner());
        guard.is_some_and(|t| Instant::now() < t)
    }

    /// The server failed (connect, TLS, service bind, timeout): back off, and announce the
    /// transition if it was up.
    pub(super) fn mark_down(&self, reason: &str) {
        if self.record(false) {
            self.events.emit(&DirectoryServerDown {
                forest: &self.forest,
                server: &self.url.url,
                reason,
            });
        }
    }

    /// The server answered: announce the transition if it was down.
    pub(super) fn mark_up(&self) {
        if self.record(true) {
            self.events.emit(&DirectoryServerUp {
                forest: &self.forest,
                server: &self.url.url,
            });
        }
    }

    /// Records the outcome of the last attempt (a failure starts the backoff) and returns
    /// true when it changed the server's state (for exactly one of concurrent callers).
    fn record(&self, up: bool) -> bool {
        *self.down_until.lock().unwrap_or_else(|p| p.into_inner()) =
            (!up).then(|| Instant::now() + self.tuning.retry_backoff);
        self.metrics.set_server_up(&self.forest, &self.url.url, up);
        self.up.swap(up, Ordering::Relaxed) != up
    }

    /// TCP + verified TLS, then `setup` (a service bind, or nothing), all within
    /// `connect_timeout`; the connection's driver runs in its own task and the open-connection
    /// gauge follows it. Every attempt is counted.
    pub(super) async fn connect<F, Fut>(&self, setup: F) -> Result<Ldap, String>
    where
        F: FnOnce(Ldap) -> Fut,
        Fut: std::future::Future<Output = Result<Ldap, String>>,
    {
        let settings = LdapConnSettings::new()
            .set_config(self.tls.clone())
            .set_conn_timeout(self.tuning.connect_timeout);
        let attempt = async {
            let (conn, ldap) = LdapConnAsync::with_settings(settings, &self.url.url)
                .await
                .map_err(|e| describe(&e))?;
            let open = self.metrics.pool_connections(&self.forest, &self.url.url);
            open.inc();
            let guard = GaugeGuard(open);
            tokio::spawn(async move {
                let _guard = guard;
                // The driver ends when the server closes the connection or every handle is gone.
                let _ = conn.drive().await;
            });
            setup(ldap).await
        };
        let result = match timeout(self.tuning.connect_timeout, attempt).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "connect timed out after {:?}",
                self.tuning.connect_timeout
            )),
        };
        let outcome = if result.is_ok() {
            ConnectResult::Ok
        } else {
            ConnectResult::Error
        };
        self.metrics
            .count_connect(&self.forest, &self.url.url, outcome);
        result
    }
}
