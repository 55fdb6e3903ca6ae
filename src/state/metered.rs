//! A [`StateStore`] wrapper that times every operation and counts failures
//! (`altgate_state_operation_duration_seconds{op}`, `altgate_state_errors_total{op}`).

use super::{
    AccountActivity, AttemptDecision, Counted, LocationClass, LockoutPolicy, Op, Redeemed,
    ResetScope, Rotation, StateError, StateStore,
};
use crate::metrics::StateMetrics;
use async_trait::async_trait;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Times and counts every operation of the store it wraps.
pub struct Metered {
    inner: Arc<dyn StateStore>,
    metrics: StateMetrics,
}

impl Metered {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn StateStore>, metrics: StateMetrics) -> Self {
        Metered { inner, metrics }
    }

    async fn observe<T>(
        &self,
        op: Op,
        call: impl Future<Output = Result<T, StateError>>,
    ) -> Result<T, StateError> {
        let started = tokio::time::Instant::now();
        let result = call.await;
        self.metrics
            .observe(op, started.elapsed().as_secs_f64(), result.is_err());
        result
    }
}

#[async_trait]
impl StateStore for Metered {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    fn health(&self) -> super::StoreHealth {
        self.inner.health()
    }

    async fn attempt(
        &self,
        account: &str,
        client_ips: &[IpAddr],
        now: SystemTime,
        policy: &LockoutPolicy,
    ) -> Result<AttemptDecision, StateError> {
        self.observe(
            Op::Attempt,
            self.inner.attempt(account, client_ips, now, policy),
        )
        .await
    }

    async fn succeeded(
        &self,
        account: &str,
        class: LocationClass,
        client_ips: &[IpAddr],
        now: SystemTime,
        policy: &LockoutPolicy,
    ) -> Result<(), StateError> {
        self.observe(
            Op::Succeeded,
            self.inner
                .succeeded(account, class, client_ips, now, policy),
        )
        .await
    }

    async fn not_counted(&self, account: &str, counted: &Counted) -> Result<(), StateError> {
        self.observe(Op::NotCounted, self.inner.not_counted(account, counted))
            .await
    }

    async fn status(
        &self,
        account: &str,
        now: SystemTime,
        policy: &LockoutPolicy,
    ) -> Result<AccountActivity, StateError> {
        self.observe(Op::Status, self.inner.status(account, now, policy))
            .await
    }

    async fn reset(&self, account: &str, scope: ResetScope) -> Result<(), StateError> {
        self.observe(Op::Reset, self.inner.reset(account, scope))
            .await
    }

    async fn set_familiar(
        &self,
        account: &str,
        add: &[IpAddr],
        remove: &[IpAddr],
        now: SystemTime,
        policy: &LockoutPolicy,
    ) -> Result<(), StateError> {
        self.observe(
            Op::SetFamiliar,
            self.inner.set_familiar(account, add, remove, now, policy),
        )
        .await
    }

    async fn first_use(&self, id: &str, ttl: Duration) -> Result<bool, StateError> {
        self.observe(Op::FirstUse, self.inner.first_use(id, ttl))
            .await
    }

    async fn revoke(&self, session_id: &str, ttl: Duration) -> Result<(), StateError> {
        self.observe(Op::Revoke, self.inner.revoke(session_id, ttl))
            .await
    }

    async fn is_revoked(&self, session_id: &str) -> Result<bool, StateError> {
        self.observe(Op::IsRevoked, self.inner.is_revoked(session_id))
            .await
    }

    async fn ping(&self) -> Result<(), StateError> {
        self.observe(Op::Ping, self.inner.ping()).await
    }

    async fn put_code(&self, code: &str, record: &str, ttl: Duration) -> Result<(), StateError> {
        self.observe(Op::PutGrant, self.inner.put_code(code, record, ttl))
            .await
    }

    async fn redeem_code(&self, code: &str) -> Result<Redeemed, StateError> {
        self.observe(Op::RedeemCode, self.inner.redeem_code(code))
            .await
    }

    async fn put_family(
        &self,
        family: &str,
        current: &str,
        record: &str,
        ttl: Duration,
    ) -> Result<(), StateError> {
        self.observe(
            Op::PutGrant,
            self.inner.put_family(family, current, record, ttl),
        )
        .await
    }

    async fn rotate_refresh(
        &self,
        family: &str,
        presented: &str,
        next: &str,
    ) -> Result<Rotation, StateError> {
        self.observe(
            Op::RotateRefresh,
            self.inner.rotate_refresh(family, presented, next),
        )
        .await
    }

    async fn read_family(&self, family: &str) -> Result<Option<(String, String)>, StateError> {
        self.observe(Op::ReadFamily, self.inner.read_family(family))
            .await
    }

    async fn revoke_family(&self, family: &str) -> Result<bool, StateError> {
        self.observe(Op::RevokeFamily, self.inner.revoke_family(family))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;
    use crate::state::memory::MemoryStore;

    #[tokio::test]
    async fn operations_are_timed() {
        let m = Metrics::standalone().expect("metrics");
        let s = Metered::new(Arc::new(MemoryStore::new()), m.state.clone());
        assert_eq!(s.backend(), "memory");
        s.first_use("x", Duration::from_secs(1))
            .await
            .expect("first_use");
        s.ping().await.expect("ping");
        let text = m.render();
        assert!(
            text.contains("altgate_state_operation_duration_seconds_count{op=\"first_use\"} 1"),
            "{text}"
        );
        assert!(!text.contains("altgate_state_errors_total{"));
    }
}
