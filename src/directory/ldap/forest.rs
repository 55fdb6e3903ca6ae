//! One forest's global catalogs in failover order: a search goes to the first one that answers
//! under the failover policy that also reports the forest (`failover`: servers in backoff are
//! skipped, failovers are counted and announced), and the forest's domains are read once from
//! its partitions container.

use super::entry::attr;
use super::failover::{refused, Attempt, Failover};
use super::search_pool::{SearchPool, ServerError};
use crate::directory::{DirectoryError, DomainInfo};
use crate::events::Events;
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

    /// Runs a search on the first global catalog that answers ([`Failover::reporting_forest`]):
    /// a server that fails is marked down and the next one is asked; an LDAP refusal (or no
    /// such search base) is the forest's answer, an error that no other server is asked about.
    pub(super) async fn search(
        &self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
    ) -> Result<Vec<SearchEntry>, DirectoryError> {
        let forest = self.name.as_str();
        Failover::reporting_forest(forest, &self.metrics, &self.events)
            .run(&self.servers, |pool| async move {
                match pool.search(base, scope, filter, attrs).await {
                    Ok(entries) => Attempt::Answer(Ok(entries)),
                    Err(ServerError::Unavailable(reason)) => Attempt::ServerFailed(reason),
                    Err(ServerError::Refused(reason) | ServerError::NoSuchObject(reason)) => {
                        Attempt::Answer(Err(refused(forest, &pool.server, &reason)))
                    }
                }
            })
            .await
            .unwrap_or_else(|e| Err(e.unreachable(forest)))
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
