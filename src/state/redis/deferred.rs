//! Writes that failed and must still happen: a cancellation for an attempt this node gave up
//! on, a success or take-back that did not reach the store, a revocation that was not written
//! (or not confirmed by enough replicas). One background task writes them again, oldest first,
//! with backoff while the store does not answer; each is given up once it no longer matters
//! (an attempt record's lifetime, a session's). Until a revocation is written, this node
//! treats the session as revoked ([`Deferred::revoked_here`]).

use super::{Core, ATTEMPT_RECORD_TTL};
use crate::events::{Events, StateDeferredWrite};
use crate::metrics::StateMetrics;
use crate::state::{Counted, LocationClass, LockoutPolicy};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};
use tokio::sync::Notify;
use tokio::time::Instant;

/// The most writes kept waiting; a write beyond it is dropped (and the event says so).
pub const MAX_PENDING: usize = 100_000;

const MIN_BACKOFF: Duration = Duration::from_millis(50);
/// The longest wait between two tries; a new connection (the store answering again) ends it
/// at once.
const MAX_BACKOFF: Duration = Duration::from_millis(500);

/// One write to do again.
#[derive(Debug, Clone)]
pub(super) enum Pending {
    /// Take back (or forestall) attempt `id`'s count.
    CancelAttempt { account: String, id: String },
    /// A successful sign-in's reset and familiar location.
    Succeeded {
        account: String,
        class: LocationClass,
        client_ips: Vec<IpAddr>,
        now: SystemTime,
        policy: LockoutPolicy,
    },
    /// An advance count that was not a bad password.
    NotCounted { account: String, counted: Counted },
    /// A revoked session (by digest), until `until`.
    Revoke {
        digest: String,
        until: Instant,
        ttl: Duration,
    },
}

impl Pending {
    fn op(&self) -> &'static str {
        match self {
            Pending::CancelAttempt { .. } => "cancel_attempt",
            Pending::Succeeded { .. } => "succeeded",
            Pending::NotCounted { .. } => "not_counted",
            Pending::Revoke { .. } => "revoke",
        }
    }

    /// When writing it no longer matters.
    fn expires(&self, queued: Instant) -> Instant {
        match self {
            Pending::Revoke { until, .. } => *until,
            _ => queued + ATTEMPT_RECORD_TTL,
        }
    }
}

struct Queued {
    write: Pending,
    queued: Instant,
}

/// The queue, its writer task and the revocations only this node has.
pub(super) struct Deferred {
    queue: Mutex<VecDeque<Queued>>,
    /// Session digests revoked here and not yet written, with when they stop mattering.
    revoked: Mutex<HashMap<String, Instant>>,
    wake: Arc<Notify>,
    events: Events,
    metrics: StateMetrics,
}

impl Deferred {
    /// The queue for `core`, its writer started; `wake` (also notified by the connection
    /// keeper when it connects) ends the writer's wait early. Must be called within a Tokio
    /// runtime.
    pub(super) fn start(
        core: &Arc<Core>,
        wake: Arc<Notify>,
        events: Events,
        metrics: StateMetrics,
    ) -> Arc<Deferred> {
        let d = Arc::new(Deferred {
            queue: Mutex::new(VecDeque::new()),
            revoked: Mutex::new(HashMap::new()),
            wake,
            events,
            metrics,
        });
        tokio::spawn(write_again(
            Arc::downgrade(core),
            Arc::downgrade(&d),
            d.wake.clone(),
        ));
        d
    }

    /// Queues `write` (a revocation also takes effect on this node at once).
    pub(super) fn push(&self, write: Pending) {
        if let Pending::Revoke { digest, until, .. } = &write {
            self.revoked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(digest.clone(), *until);
        }
        let op = write.op();
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        if q.len() >= MAX_PENDING {
            drop(q);
            self.settled(op, "dropped", Duration::ZERO);
            return;
        }
        q.push_back(Queued {
            write,
            queued: Instant::now(),
        });
        self.metrics.set_deferred(q.len());
        drop(q);
        self.wake.notify_one();
    }

    /// Writes waiting.
    pub(super) fn len(&self) -> usize {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// True while a revocation of the session `digest` waits here to be written.
    pub(super) fn revoked_here(&self, digest: &str) -> bool {
        let mut r = self.revoked.lock().unwrap_or_else(|p| p.into_inner());
        match r.get(digest) {
            Some(until) if Instant::now() < *until => true,
            Some(_) => {
                r.remove(digest);
                false
            }
            None => false,
        }
    }

    fn settled(&self, op: &'static str, outcome: &'static str, after: Duration) {
        self.events.emit(&StateDeferredWrite {
            op,
            outcome,
            after_seconds: after.as_secs(),
        });
    }

    /// The oldest write, dropping those that expired.
    fn front(&self) -> Option<(Pending, Instant)> {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(first) = q.front() {
            if Instant::now() < first.write.expires(first.queued) {
                return Some((first.write.clone(), first.queued));
            }
            if let Some(gone) = q.pop_front() {
                self.metrics.set_deferred(q.len());
                self.forget(&gone.write);
                self.settled(gone.write.op(), "expired", gone.queued.elapsed());
            }
        }
        None
    }

    /// The oldest write was written.
    fn pop(&self) {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(done) = q.pop_front() {
            self.metrics.set_deferred(q.len());
            drop(q);
            self.forget(&done.write);
            self.settled(done.write.op(), "written", done.queued.elapsed());
        }
    }

    fn forget(&self, write: &Pending) {
        if let Pending::Revoke { digest, .. } = write {
            self.revoked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(digest);
        }
    }
}

/// Writes one pending write.
async fn write(core: &Core, w: &Pending) -> bool {
    let result = match w {
        Pending::CancelAttempt { account, id } => core.cancel_attempt(account, id).await,
        Pending::Succeeded {
            account,
            class,
            client_ips,
            now,
            policy,
        } => {
            core.succeeded(account, *class, client_ips, *now, policy)
                .await
        }
        Pending::NotCounted { account, counted } => core.not_counted(account, counted).await,
        Pending::Revoke { digest, until, ttl } => {
            let left = until.saturating_duration_since(Instant::now());
            core.revoke(digest, left.min(*ttl)).await
        }
    };
    result.is_ok()
}

/// The writer: oldest first, backing off while the store does not answer. Ends when the store
/// is dropped.
async fn write_again(core: Weak<Core>, deferred: Weak<Deferred>, wake: Arc<Notify>) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let pause = {
            let (Some(core), Some(d)) = (core.upgrade(), deferred.upgrade()) else {
                return;
            };
            match d.front() {
                None => Duration::from_secs(1),
                Some((w, _)) => {
                    if write(&core, &w).await {
                        d.pop();
                        backoff = MIN_BACKOFF;
                        continue;
                    }
                    let b = backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    b
                }
            }
        };
        // Woken early by a new write, or by a new connection.
        let _ = tokio::time::timeout(pause, wake.notified()).await;
    }
}
