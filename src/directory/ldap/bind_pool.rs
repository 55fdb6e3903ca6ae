//! One domain controller's pool of connections for password binds. A bind changes the
//! connection's identity, so connections are checked out exclusively (unlike the multiplexed
//! search pool) and re-bound by the next user: no TLS handshake per sign-in.

use super::server::{describe, GaugeGuard, Server};
use ldap3::{Ldap, LdapError};

/// One domain controller's bind connections.
pub(super) struct BindPool {
    pub(super) server: Server,
    idle: std::sync::Mutex<Vec<Ldap>>,
    permits: tokio::sync::Semaphore,
}

impl BindPool {
    /// An empty pool: connections open on demand, at most `pool_size` binds at once.
    pub(super) fn new(server: Server) -> BindPool {
        let permits = tokio::sync::Semaphore::new(server.tuning.pool_size);
        BindPool {
            server,
            idle: std::sync::Mutex::new(Vec::new()),
            permits,
        }
    }

    async fn connect(&self) -> Result<Ldap, String> {
        self.server.connect(|ldap| async move { Ok(ldap) }).await
    }

    /// One simple bind. `Ok(rc, diagnostic)` when the DC answered.
    pub(super) async fn bind(&self, dn: &str, password: &str) -> Result<(u32, String), String> {
        let permit = match self.permits.try_acquire() {
            Ok(p) => p,
            Err(_) => {
                self.server
                    .metrics
                    .pool_waits
                    .with_label_values(&self.server.labels())
                    .inc();
                self.permits
                    .acquire()
                    .await
                    .map_err(|_| "bind pool closed".to_string())?
            }
        };
        let pooled = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            std::iter::from_fn(|| idle.pop()).find(|l| {
                let mut l = l.clone();
                !l.is_closed()
            })
        };
        let in_flight = self
            .server
            .metrics
            .in_flight
            .with_label_values(&self.server.labels());
        in_flight.inc();
        let _in_flight = GaugeGuard(in_flight);
        let mut attempt_pooled = pooled.is_some();
        let mut ldap = match pooled {
            Some(l) => l,
            None => self.connect().await?,
        };
        loop {
            let result = ldap
                .with_timeout(self.server.tuning.operation_timeout)
                .simple_bind(dn, password)
                .await;
            match result {
                Ok(res) => {
                    let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
                    if idle.len() < self.server.tuning.pool_size {
                        idle.push(ldap);
                    }
                    drop(idle);
                    drop(permit);
                    return Ok((res.rc, res.text.trim_end_matches('\0').to_string()));
                }
                Err(LdapError::Timeout { .. }) => {
                    return Err(format!(
                        "bind timed out after {:?}",
                        self.server.tuning.operation_timeout
                    ))
                }
                // A pooled connection can die while idle (DC restart, idle timeout): retry once
                // on a fresh one. The bind never reached AD, so this is not a second guess.
                Err(e) if attempt_pooled => {
                    tracing::debug!(target: "altgate::ops", error = %describe(&e), "stale bind connection");
                    attempt_pooled = false;
                    ldap = self.connect().await?;
                }
                Err(e) => return Err(describe(&e)),
            }
        }
    }
}
