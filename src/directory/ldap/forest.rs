//! One forest's global catalogs in failover order: a search goes to the first one that answers
//! (servers in backoff are skipped), failovers are counted and announced, and the forest's
//! domains are read once from its partitions container.

use super::entry::attr;
use super::search_pool::{SearchPool, ServerError};
use crate::directory::{DirectoryError, DomainInfo};
use crate::events::{Events, GlobalCatalogFailover};
use crate::metrics::DirectoryMetrics;
use ldap3::{Scope, SearchEntry};
use std::sync::Arc;
use tokio::sync::RwLock;

/// One forest: its global catalogs and what it told us about its domains.
pub(super) struct ForestClient {
    pub(super) name: String,
    pub(super) base: String,
    pub(super) servers: Vec<Arc<SearchPool>>,
    pub(super) domains: RwLock<Option<Arc<Vec<DomainInfo>>>>,
    pub(super) metrics: DirectoryMetrics,
    events: Events,
}

impl ForestClient {
    /// A forest searching `base` on `servers`, in order.
    pub(super) fn new(
        name: &str,
        base: &str,
        servers: Vec<Arc<SearchPool>>,
        metrics: &DirectoryMetrics,
        events: &Events,
    ) -> ForestClient {
        ForestClient {
            name: name.to_string(),
            base: base.to_string(),
            servers,
            domains: RwLock::new(None),
            metrics: metrics.clone(),
            events: events.clone(),
        }
    }

    /// Runs a search on the first global catalog that answers.
    pub(super) async fn search(
        &self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
    ) -> Result<Vec<SearchEntry>, DirectoryError> {
        let mut failed: Option<&str> = None;
        let mut last_reason = String::from("no global catalog configured");
        for pool in &self.servers {
            let url = &pool.server.url;
            if pool.server.backing_off() {
                // Skipping a server that failed recently is not a new failover.
                last_reason = format!("{} failed recently; retrying after backoff", url);
                continue;
            }
            match pool.search(base, scope, filter, attrs).await {
                Ok(entries) => {
                    pool.server.mark_up();
                    self.metrics.set_forest_up(&self.name, true);
                    if let Some(from) = failed {
                        self.metrics.count_failover(&self.name);
                        self.events.emit(&GlobalCatalogFailover {
                            forest: &self.name,
                            from,
                            to: &url.url,
                        });
                    }
                    return Ok(entries);
                }
                Err(ServerError::Unavailable(reason)) => {
                    pool.server.mark_down(&reason);
                    failed.get_or_insert(url.url.as_str());
                    last_reason = format!("{}: {reason}", url);
                }
                Err(ServerError::Refused(reason) | ServerError::NoSuchObject(reason)) => {
                    pool.server.mark_up();
                    self.metrics.set_forest_up(&self.name, true);
                    return Err(DirectoryError::SearchFailed {
                        forest: self.name.clone(),
                        reason: format!("{}: {reason}", url),
                    });
                }
            }
        }
        self.metrics.set_forest_up(&self.name, false);
        Err(DirectoryError::Unreachable {
            forest: self.name.clone(),
            reason: last_reason,
        })
    }

    /// Reads the forest's domains (NetBIOS and DNS names) from its partitions container.
    pub(super) async fn load_domains(&self) -> Result<Arc<Vec<DomainInfo>>, DirectoryError> {
        let root = self
            .search(
                "",
                Scope::Base,
                "(objectClass=*)",
                &["configurationNamingContext"],
            )
            .await?;
        let config_nc = root
            .first()
            .and_then(|e| attr(e, "configurationNamingContext"))
            .ok_or_else(|| DirectoryError::SearchFailed {
                forest: self.name.clone(),
                reason: "rootDSE has no configurationNamingContext".into(),
            })?;
        let partitions = format!("CN=Partitions,{config_nc}");
        let refs = self
            .search(
                &partitions,
                Scope::OneLevel,
                "(&(objectClass=crossRef)(nETBIOSName=*)(dnsRoot=*))",
                &["nETBIOSName", "dnsRoot", "nCName"],
            )
            .await?;
        let domains: Vec<DomainInfo> = refs
            .iter()
            .filter_map(|e| {
                Some(DomainInfo {
                    dns_name: attr(e, "dnsRoot")?.to_ascii_lowercase(),
                    netbios_name: attr(e, "nETBIOSName")?.to_ascii_uppercase(),
                    dn: attr(e, "nCName")?,
                })
            })
            .collect();
        Ok(Arc::new(domains))
    }
}
