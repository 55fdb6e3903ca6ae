//! Password changes on the domain controllers of the account's domain: one modify of the
//! account's DN (delete the old `unicodePwd`, add the new one) over a DC's service-account
//! connection (the pool that also reads account state), on the first DC that can be reached, in
//! failover order. The service account needs no reset rights: AD lets anyone *change* a
//! password when the old one is given, and checks it (see [`crate::directory::PasswordChangeError`]).
//!
//! A modify is sent at most once: a DC that cannot be reached is skipped, but once a DC got
//! the request its answer (or a lost connection) is final, so a change that went through is
//! never retried into a misleading "wrong old password".

use super::failover::{Attempt, Exhausted, Failover};
use super::search_pool::{SearchPool, ServerError};
use super::server::GaugeGuard;
use crate::directory::{unicode_pwd, PasswordChangeError};
use crate::secret::Secret;
use ldap3::{LdapError, Mod};
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};

static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

/// Changes the password at `dn` from `old` to `new` on the first of `pools` (the domain's
/// DCs) that can be reached ([`Failover::SERVERS_ONLY`]). A DC whose connection cannot be had
/// is marked down and the next one is tried; once the modify is sent, the DC's answer is the
/// outcome, and a lost answer settles it too (the change may have been made: never sent
/// twice, and no verdict on the DC: a pooled connection may just have been stale).
pub(super) async fn change(
    pools: &[SearchPool],
    dn: &str,
    old: &Secret,
    new: &Secret,
) -> Result<(), PasswordChangeError> {
    let slot = NEXT_SLOT.fetch_add(1, Ordering::Relaxed);
    Failover::SERVERS_ONLY
        .run(pools, |pool| async move {
            let mut ldap = match pool.connection(slot, false).await {
                Ok(l) => l,
                Err(
                    ServerError::Unavailable(reason)
                    | ServerError::Refused(reason)
                    | ServerError::NoSuchObject(reason),
                ) => return Attempt::ServerFailed(reason),
            };
            let old_value = unicode_pwd(old.expose());
            let new_value = unicode_pwd(new.expose());
            let mods = vec![
                Mod::Delete(&b"unicodePwd"[..], HashSet::from([old_value.as_slice()])),
                Mod::Add(&b"unicodePwd"[..], HashSet::from([new_value.as_slice()])),
            ];
            let server = &pool.server;
            let [forest, url] = server.labels();
            let in_flight = server.metrics.in_flight(forest, url);
            in_flight.inc();
            let _guard = GaugeGuard(in_flight);
            let result = ldap
                .with_timeout(server.tuning.operation_timeout)
                .modify(dn, mods)
                .await;
            match result {
                Ok(res) => Attempt::Answer(PasswordChangeError::from_result(res.rc, &res.text)),
                Err(LdapError::Timeout { .. }) => {
                    Attempt::Settled(Err(PasswordChangeError::Unavailable(format!(
                        "{}: no answer within {:?} (the change may or may not have been made)",
                        server.url, server.tuning.operation_timeout
                    ))))
                }
                Err(e) => Attempt::Settled(Err(PasswordChangeError::Unavailable(format!(
                    "{}: {} (the change may or may not have been made)",
                    server.url,
                    super::server::describe(&e)
                )))),
            }
        })
        .await
        .unwrap_or_else(|Exhausted { reason }| Err(PasswordChangeError::Unavailable(reason)))
}
