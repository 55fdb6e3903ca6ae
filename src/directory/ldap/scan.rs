//! Directory scans for `altgate audit`: every user object of a forest from its global catalogs
//! (what sign-in searches see), and the attributes outside the global catalog's partial
//! attribute set (`proxyAddresses` in the base schema) from each domain's domain controllers.
//! Both page with the paged-results control (RFC 2696) over the same pooled, verified LDAPS
//! connections and service account as sign-in, and fail over between servers like a search:
//! a server that drops out mid-scan is marked down and the scan starts over on the next one,
//! so a forest is read completely or the scan fails.

use super::entry::to_entry;
use super::failover::{refused, Attempt, Failover};
use super::search_pool::{SearchPool, ServerError};
use super::server::describe;
use crate::directory::{DirectoryError, ScanProgress, ScannedUser, SCAN_PAGE_SIZE};
use ldap3::adapters::PagedResults;
use ldap3::{LdapError, Scope, SearchEntry};
use std::sync::Arc;
use std::time::Duration;

/// Report progress every this many objects (and at the end).
const PROGRESS_EVERY: u64 = 500;

/// The longest wait for the next entry of a scan (at least `directory.operation_timeout`): a
/// server evaluates the whole filter before it sends the first page of a paged search, which
/// takes seconds for 100,000 objects on a busy domain controller.
pub(super) const SCAN_WAIT: Duration = Duration::from_secs(120);

/// What a scan keeps of each entry.
#[derive(Clone, Copy)]
pub(super) enum Keep<'a> {
    /// The account attributes plus every value of these.
    Account(&'a [&'a str]),
    /// The DN plus every value of these.
    Only(&'a [&'a str]),
}

impl Keep<'_> {
    fn convert(self, e: &SearchEntry) -> ScannedUser {
        let (entry, names) = match self {
            Keep::Account(names) => (to_entry(e), names),
            Keep::Only(names) => (
                crate::directory::DirectoryEntry {
                    dn: e.dn.clone(),
                    ..Default::default()
                },
                names,
            ),
        };
        let values = names
            .iter()
            .map(|n| {
                e.attrs
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(n))
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            })
            .collect();
        ScannedUser { entry, values }
    }
}

impl SearchPool {
    /// One paged subtree scan on this server, with one retry on a fresh connection when the
    /// pooled one turns out to be dead before anything was read.
    async fn scan(
        &self,
        base: &str,
        filter: &str,
        attrs: &[&str],
        keep: Keep<'_>,
        progress: ScanProgress<'_>,
    ) -> Result<Vec<ScannedUser>, ServerError> {
        let mut last = String::new();
        for fresh in [false, true] {
            let mut ldap = self.connection(0, fresh).await?;
            let timeout = self.server.tuning.operation_timeout.max(SCAN_WAIT);
            let started = ldap
                .with_timeout(timeout)
                .streaming_search_with(
                    PagedResults::new(SCAN_PAGE_SIZE),
                    base,
                    Scope::Subtree,
                    filter,
                    attrs.to_vec(),
                )
                .await;
            let mut stream = match started {
                Ok(s) => s,
                Err(LdapError::Timeout { .. }) => {
                    return Err(ServerError::Unavailable(format!(
                        "scan timed out after {timeout:?}"
                    )))
                }
                Err(e) => {
                    last = describe(&e);
                    continue;
                }
            };
            let mut out = Vec::new();
            let mut read = 0u64;
            loop {
                match stream.next().await {
                    Ok(Some(r)) if r.is_ref() || r.is_intermediate() => {}
                    Ok(Some(r)) => {
                        out.push(keep.convert(&SearchEntry::construct(r)));
                        read += 1;
                        if read % PROGRESS_EVERY == 0 {
                            progress(read);
                        }
                    }
                    Ok(None) => break,
                    // Any failure mid-scan (timeout, connection lost): this server's answer is
                    // incomplete, so it is unavailable for this scan.
                    Err(e) => {
                        return Err(ServerError::Unavailable(format!(
                            "scan failed after {read} objects: {}",
                            describe(&e)
                        )))
                    }
                }
            }
            let done = stream.finish().await;
            // 0 success; 10 referral (objects of other naming contexts) is not an error.
            if done.rc != 0 && done.rc != 10 {
                let msg = format!(
                    "LDAP result {} {}",
                    done.rc,
                    done.text.trim_end_matches('\0')
                );
                return Err(match done.rc {
                    51..=53 | 80 => ServerError::Unavailable(msg),
                    _ => ServerError::Refused(msg),
                });
            }
            progress(read);
            return Ok(out);
        }
        Err(ServerError::Unavailable(last))
    }
}

/// Scans on the first of `pools` that answers completely, under the failover policy
/// ([`Failover::SERVERS_ONLY`]: a scan counts no failover and reports no forest). A server that
/// drops out is marked down and the count starts over (`progress(0)`) on the next one; a
/// refusal is the answer.
pub(super) async fn scan_servers(
    forest: &str,
    pools: &[Arc<SearchPool>],
    base: &str,
    attrs: &[&str],
    keep: Keep<'_>,
    progress: ScanProgress<'_>,
) -> Result<Vec<ScannedUser>, DirectoryError> {
    let filter = crate::directory::filter::all_users();
    let filter = filter.as_str();
    Failover::SERVERS_ONLY
        .run(pools, |pool| async move {
            match pool.scan(base, filter, attrs, keep, progress).await {
                Ok(users) => Attempt::Answer(Ok(users)),
                Err(ServerError::Unavailable(reason)) => {
                    progress(0);
                    Attempt::ServerFailed(reason)
                }
                Err(ServerError::Refused(reason) | ServerError::NoSuchObject(reason)) => {
                    Attempt::Answer(Err(refused(forest, &pool.server, &reason)))
                }
            }
        })
        .await
        .unwrap_or_else(|e| Err(e.unreachable(forest)))
}
