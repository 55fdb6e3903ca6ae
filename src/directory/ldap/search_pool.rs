//! One server's search pool: a few long-lived connections bound as the service account, on a
//! global catalog (account searches) or on a domain controller (account-state reads). ldap3
//! multiplexes concurrent operations over one connection, so a slot is shared, not checked out;
//! a slot whose connection died (DC restart) is reconnected on next use.

use super::server::{describe, GaugeGuard, Server};
use crate::config::ServiceAccount;
use ldap3::{Ldap, LdapError, Scope, SearchEntry};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::Mutex;

/// Why one server did not answer.
#[derive(Debug)]
pub(super) enum ServerError {
    /// Connection, TLS, service bind or timeout: try the next server.
    Unavailable(String),
    /// The server answered with an error result: the forest's answer is unknown.
    Refused(String),
    /// The server answered that the search base does not exist (LDAP result 32).
    NoSuchObject(String),
}

/// One server with its pooled, multiplexed connections.
pub(super) struct SearchPool {
    /// The server, shared with its bind pool when it is a domain controller (one health state).
    pub(super) server: Arc<Server>,
    account: ServiceAccount,
    slots: Vec<Mutex<Option<Ldap>>>,
    next: AtomicUsize,
}

impl SearchPool {
    /// A pool of `server.tuning.pool_size` slots, connected lazily as `account`.
    pub(super) fn new(server: impl Into<Arc<Server>>, account: ServiceAccount) -> SearchPool {
        let server = server.into();
        let slots = (0..server.tuning.pool_size)
            .map(|_| Mutex::new(None))
            .collect();
        SearchPool {
            server,
            account,
            slots,
            next: AtomicUsize::new(0),
        }
    }

    /// Opens one connection: TCP, TLS (verified), service-account bind, all within
    /// `connect_timeout`.
    async fn connect(&self) -> Result<Ldap, ServerError> {
        self.server
            .connect(|mut ldap| async move {
                let bind = ldap
                    .simple_bind(&self.account.user, self.account.password.expose())
                    .await
                    .map_err(|e| describe(&e))?;
                if bind.rc != 0 {
                    return Err(format!(
                        "service account bind refused: LDAP result {} {}",
                        bind.rc,
                        bind.text.trim_end_matches('\0')
                    ));
                }
                Ok(ldap)
            })
            .await
            .map_err(ServerError::Unavailable)
    }

    /// A pool of the same account on another server (a domain controller, for scans).
    pub(super) fn on(&self, server: Server) -> SearchPool {
        SearchPool::new(server, self.account.clone())
    }

    /// A live connection from the next slot, connecting if the slot is empty or dead.
    pub(super) async fn connection(&self, slot: usize, fresh: bool) -> Result<Ldap, ServerError> {
        let Some(cell) = self.slots.get(slot % self.slots.len().max(1)) else {
            return Err(ServerError::Unavailable("empty connection pool".into()));
        };
        let mut guard = cell.lock().await;
        if let Some(ldap) = guard.as_mut() {
            if !fresh && !ldap.is_closed() {
                return Ok(ldap.clone());
            }
        }
        *guard = None;
        let ldap = self.connect().await?;
        *guard = Some(ldap.clone());
        Ok(ldap)
    }

    /// One search on this server, with one retry on a fresh connection.
    pub(super) async fn search(
        &self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
    ) -> Result<Vec<SearchEntry>, ServerError> {
        let slot = self.next.fetch_add(1, Ordering::Relaxed);
        let mut last = String::new();
        // A pooled connection may have died since its last use (DC restart): one retry on a
        // fresh connection tells a stale socket from a dead server.
        for fresh in [false, true] {
            let mut ldap = self.connection(slot, fresh).await?;
            let server = &self.server;
            let [forest, url] = server.labels();
            let in_flight = server.metrics.in_flight(forest, url);
            in_flight.inc();
            let _guard = GaugeGuard(in_flight);
            let result = ldap
                .with_timeout(server.tuning.operation_timeout)
                .search(base, scope, filter, attrs.to_vec())
                .await;
            match result {
                Ok(res) => {
                    let rc = res.1.rc;
                    // 0 success; 10 referral from a GC means "not here" and is not an error.
                    if rc != 0 && rc != 10 {
                        let msg = format!("LDAP result {rc} {}", res.1.text.trim_end_matches('\0'));
                        return Err(match rc {
                            32 => ServerError::NoSuchObject(msg),
                            51..=53 | 80 => ServerError::Unavailable(msg),
                            _ => ServerError::Refused(msg),
                        });
                    }
                    return Ok(res
                        .0
                        .into_iter()
                        .filter(|e| !e.is_ref() && !e.is_intermediate())
                        .map(SearchEntry::construct)
                        .collect());
                }
                Err(LdapError::Timeout { .. }) => {
                    return Err(ServerError::Unavailable(format!(
                        "operation timed out after {:?}",
                        server.tuning.operation_timeout
                    )))
                }
                Err(e) => last = describe(&e),
            }
        }
        Err(ServerError::Unavailable(last))
    }
}
