//! One domain controller's pool of connections for password binds. A bind changes the
//! connection's identity, so connections are checked out exclusively (unlike the multiplexed
//! search pool) and re-bound by the next user: no TLS handshake per sign-in.
//!
//! At most `directory.max_concurrent_binds_per_dc` binds run on one DC at a time (one
//! connection each; as many are kept for reuse). A bind waits for a slot at most
//! `directory.bind_queue_timeout`, then fails fast with [`BindFailure::QueueFull`]: under a
//! surge, sign-ins fail quickly instead of piling up behind a slow DC, and the DC's load stays
//! bounded.

use super::failover::Attempt;
use super::server::{describe, GaugeGuard, Server};
use crate::directory::{AccountRef, BindRejection, DirectoryError};
use ldap3::{Ldap, LdapError, Scope, SearchEntry};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::{timeout, Instant};

/// Why a bind got no answer from the DC.
#[derive(Debug)]
pub(super) enum BindFailure {
    /// Connection, TLS or timeout: the DC is down for this attempt.
    Unavailable(String),
    /// No bind slot freed up within `bind_queue_timeout`: the DC is busy, not down, and the
    /// password was never sent.
    QueueFull {
        /// How long the bind waited.
        waited: Duration,
    },
}

/// A password bind's outcome: AD's answer about the credentials, or a directory error.
pub(super) type BindOutcome = Result<Result<(), BindRejection>, DirectoryError>;

/// What one password bind as `account` on the DC at `server` came to, for the failover policy:
/// - LDAP result 0 (accepted) or 49 (refused; the reason read from AD's diagnostic) is AD's
///   answer about the credentials, an authentication outcome: final, never retried on another
///   DC, and the DC is up;
/// - another LDAP result: the DC is up but said nothing about the password; the next DC is
///   asked;
/// - no answer (connect, TLS, timeout): the DC is down; the next DC is asked;
/// - no free slot within `bind_queue_timeout`: settled as [`DirectoryError::BindQueueFull`],
///   with no verdict on the DC (busy, not down): the sign-in fails fast rather than queue on
///   the next DC too, and the password was never sent.
pub(super) fn bind_attempt(
    account: AccountRef<'_>,
    server: &str,
    result: Result<(u32, String), BindFailure>,
) -> Attempt<BindOutcome> {
    match result {
        Ok((0, _)) => Attempt::Answer(Ok(Ok(()))),
        Ok((49, text)) => Attempt::Answer(Ok(Err(BindRejection::from_diagnostic(&text)))),
        Ok((rc, text)) => Attempt::Declined(format!("LDAP result {rc} {text}")),
        Err(BindFailure::Unavailable(reason)) => Attempt::ServerFailed(reason),
        Err(BindFailure::QueueFull { waited }) => {
            Attempt::Settled(Err(DirectoryError::BindQueueFull {
                forest: account.forest.to_string(),
                domain: account.domain.to_string(),
                server: server.to_string(),
                waited,
            }))
        }
    }
}

/// One domain controller's bind connections.
pub(super) struct BindPool {
    /// The DC, shared with its account-state search pool (one health state).
    pub(super) server: Arc<Server>,
    idle: std::sync::Mutex<Vec<Ldap>>,
    permits: Semaphore,
    capacity: usize,
}

impl BindPool {
    /// An empty pool: connections open on demand, at most `max_concurrent_binds_per_dc` binds
    /// at once.
    pub(super) fn new(server: impl Into<Arc<Server>>) -> BindPool {
        let server = server.into();
        let capacity = server.tuning.max_concurrent_binds_per_dc.max(1);
        BindPool {
            server,
            idle: std::sync::Mutex::new(Vec::new()),
            permits: Semaphore::new(capacity),
            capacity,
        }
    }

    async fn connect(&self) -> Result<Ldap, String> {
        self.server.connect(|ldap| async move { Ok(ldap) }).await
    }

    /// A bind slot, waiting at most `bind_queue_timeout` for one. Every wait is observed (0 when
    /// a slot was free); waits and timeouts are counted.
    pub(super) async fn admit(&self) -> Result<SemaphorePermit<'_>, BindFailure> {
        let [forest, server] = self.server.labels();
        let metrics = &self.server.metrics;
        let wait = metrics.bind_queue_wait(forest, server);
        if let Ok(permit) = self.permits.try_acquire() {
            wait.observe(0.0);
            return Ok(permit);
        }
        metrics.count_pool_wait(forest, server);
        let start = Instant::now();
        let waited = timeout(
            self.server.tuning.bind_queue_timeout,
            self.permits.acquire(),
        )
        .await;
        wait.observe(start.elapsed().as_secs_f64());
        match waited {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(BindFailure::Unavailable("bind pool closed".into())),
            Err(_) => {
                metrics.count_bind_queue_timeout(forest, server);
                Err(BindFailure::QueueFull {
                    waited: start.elapsed(),
                })
            }
        }
    }

    /// One simple bind. `Ok(rc, diagnostic)` when the DC answered.
    pub(super) async fn bind(
        &self,
        dn: &str,
        password: &str,
    ) -> Result<(u32, String), BindFailure> {
        let permit = self.admit().await?;
        let pooled = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            std::iter::from_fn(|| idle.pop()).find(|l| {
                let mut l = l.clone();
                !l.is_closed()
            })
        };
        let [forest, server] = self.server.labels();
        let in_flight = self.server.metrics.in_flight(forest, server);
        in_flight.inc();
        let _in_flight = GaugeGuard(in_flight);
        let mut attempt_pooled = pooled.is_some();
        let mut ldap = match pooled {
            Some(l) => l,
            None => self.connect().await.map_err(BindFailure::Unavailable)?,
        };
        loop {
            let result = ldap
                .with_timeout(self.server.tuning.operation_timeout)
                .simple_bind(dn, password)
                .await;
            match result {
                Ok(res) => {
                    let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
                    if idle.len() < self.capacity {
                        idle.push(ldap);
                    }
                    drop(idle);
                    drop(permit);
                    return Ok((res.rc, res.text.trim_end_matches('\0').to_string()));
                }
                Err(LdapError::Timeout { .. }) => {
                    return Err(BindFailure::Unavailable(format!(
                        "bind timed out after {:?}",
                        self.server.tuning.operation_timeout
                    )))
                }
                // A pooled connection can die while idle (DC restart, idle timeout): retry once
                // on a fresh one. The bind never reached AD, so this is not a second guess.
                Err(e) if attempt_pooled => {
                    tracing::debug!(target: "altgate::ops", error = %describe(&e), "stale bind connection");
                    attempt_pooled = false;
                    ldap = self.connect().await.map_err(BindFailure::Unavailable)?;
                }
                Err(e) => return Err(BindFailure::Unavailable(describe(&e))),
            }
        }
    }

    /// One password bind as `account` on this DC, classified for the failover policy
    /// ([`bind_attempt`]).
    pub(super) async fn attempt_bind(
        &self,
        account: AccountRef<'_>,
        password: &str,
    ) -> Attempt<BindOutcome> {
        let result = self.bind(account.dn, password).await;
        bind_attempt(account, &self.server.url.url, result)
    }

    /// Reads one object (`base`, scope base) as `user` on a fresh connection to this DC, under
    /// the same admission as password binds. The outer error is the DC not answering; the inner
    /// one its refusal (the bind or the search), which says nothing about the DC's health.
    pub(super) async fn read_as(
        &self,
        user: &str,
        password: &str,
        base: &str,
        attrs: &[&str],
    ) -> Result<Result<Option<SearchEntry>, String>, BindFailure> {
        let _permit = self.admit().await?;
        let mut ldap = self.connect().await.map_err(BindFailure::Unavailable)?;
        let timeout = self.server.tuning.operation_timeout;
        let unavailable = |e: LdapError| match e {
            LdapError::Timeout { .. } => {
                BindFailure::Unavailable(format!("operation timed out after {timeout:?}"))
            }
            other => BindFailure::Unavailable(describe(&other)),
        };
        let bind = ldap
            .with_timeout(timeout)
            .simple_bind(user, password)
            .await
            .map_err(unavailable)?;
        if bind.rc != 0 {
            return Ok(Err(format!(
                "service account bind refused: LDAP result {} {}",
                bind.rc,
                bind.text.trim_end_matches('\0')
            )));
        }
        let ldap3::SearchResult(entries, result) = ldap
            .with_timeout(timeout)
            .search(base, Scope::Base, "(objectClass=*)", attrs.to_vec())
            .await
            .map_err(unavailable)?;
        let _ = ldap.unbind().await;
        if result.rc != 0 {
            return Ok(Err(format!(
                "LDAP result {} {}",
                result.rc,
                result.text.trim_end_matches('\0')
            )));
        }
        Ok(Ok(entries
            .into_iter()
            .filter(|e| !e.is_ref() && !e.is_intermediate())
            .map(SearchEntry::construct)
            .next()))
    }
}
