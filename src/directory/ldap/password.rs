//! Password changes on the domain controllers of the account's domain: one modify of the
//! account's DN (delete the old `unicodePwd`, add the new one) over a DC's service-account
//! connection (the pool that also reads account state), on the first DC that can be reached, in
//! failover order. The service account needs no reset rights: AD lets anyone *change* a
//! password when the old one is given, and checks it (see [`crate::directory::PasswordChangeError`]).
//!
//! A modify is sent at most once: a DC that cannot be reached is skipped, but once a DC got
//! the request its answer (or a lost connection) is final, so a change that went through is
//! never retried into a misleading "wrong old password".

use super::search_pool::{SearchPool, ServerError};
use super::server::GaugeGuard;
use crate::directory::{unicode_pwd, PasswordChangeError};
use crate::secret::Secret;
use ldap3::{LdapError, Mod};
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};

static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

/// Changes the password at `dn` from `old` to `new` on the first of `pools` (the domain's
/// DCs) that can be reached.
pub(super) async fn change(
    pools: &[SearchPool],
    dn: &str,
    old: &Secret,
    new: &Secret,
) -> Result<(), PasswordChangeError> {
    let mut last = String::from("every domain controller failed recently");
    let slot = NEXT_SLOT.fetch_add(1, Ordering::Relaxed);
    for pool in pools {
        if pool.server.backing_off() {
            continue;
        }
        let mut ldap = match pool.connection(slot, false).await {
            Ok(l) => l,
            Err(ServerError::Unavailable(reason))
            | Err(ServerError::Refused(reason))
            | Err(ServerError::NoSuchObject(reason)) => {
                pool.server.mark_down(&reason);
                last = format!("{}: {reason}", pool.server.url);
                continue;
            }
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
        return match result {
            Ok(res) => {
                server.mark_up();
                PasswordChangeError::from_result(res.rc, &res.text)
            }
            Err(LdapError::Timeout { .. }) => Err(PasswordChangeError::Unavailable(format!(
                "{}: no answer within {:?} (the change may or may not have been made)",
                server.url, server.tuning.operation_timeout
            ))),
            Err(e) => Err(PasswordChangeError::Unavailable(format!(
                "{}: {} (the change may or may not have been made)",
                server.url,
                super::server::describe(&e)
            ))),
        };
    }
    Err(PasswordChangeError::Unavailable(last))
}
