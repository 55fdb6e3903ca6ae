//! Active Directory over LDAPS: [`LdapDirectory`], the [`Directory`] over every configured
//! forest. Each forest has its global catalogs in failover order (`forest`), each global
//! catalog a small pool of multiplexed connections bound as the service account
//! (`search_pool`); each domain has its domain controllers in failover order, each with a
//! pool of connections for password binds, bounded per DC (`bind_pool`), and a search pool bound
//! as the service account for fresh account-state reads (`account`). Every pool shares one
//! notion of a server (`server`; a DC's two pools share the same one): a server that fails is
//! skipped for `retry_backoff` so an outage costs one timeout, not one per request, and its
//! going down or up is announced once, whichever path saw it. Every operation goes through its
//! servers under one failover policy (`failover`); each only says what one attempt came to.

mod account;
mod bind_pool;
mod domain_read;
mod entry;
mod failover;
mod forest;
mod password_change;
mod scan;
mod search_pool;
mod server;

use super::{
    filter, AccountRef, AccountState, BindRejection, Directory, DirectoryEntry, DirectoryError,
    DomainAttributes, DomainInfo, DomainLockoutPolicy, PasswordChangeError, PasswordExpiry,
    ScanProgress, ScannedUser, UserQuery, WindowsAccount, WindowsLookup, ACCOUNT_ATTRIBUTES,
    SCAN_ATTRIBUTES,
};
use crate::config::{Config, DirectoryConfig, ForestConfig, ServiceAccount};
use crate::directory::{BindResult, Query, SearchResult, ServerHealth, ServerRole};
use crate::events::Events;
use crate::metrics::DirectoryMetrics;
use async_trait::async_trait;
use bind_pool::BindPool;
use entry::to_entry;
use failover::Failover;
use forest::ForestClient;
use ldap3::Scope;
use rustls::ClientConfig;
use search_pool::SearchPool;
use server::Server;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::time::Instant;

/// A building directory failed (bad CA file and the like).
#[derive(Debug, thiserror::Error)]
#[error("forest {forest}: {message}")]
pub struct LdapSetupError {
    /// The forest.
    pub forest: String,
    /// What failed.
    pub message: String,
}

/// Real Active Directory forests over LDAPS.
pub struct LdapDirectory {
    forests: HashMap<String, ForestClient>,
    /// (forest, domain) → its domain controllers in failover order.
    binders: HashMap<(String, String), Vec<BindPool>>,
    /// (forest, domain) → the same domain controllers' service-account search pools (account
    /// state), in the same order and over the same servers.
    readers: HashMap<(String, String), Vec<SearchPool>>,
    /// forest → its service account (reads the domains' lockout policies on their DCs).
    service_accounts: HashMap<String, ServiceAccount>,
    metrics: DirectoryMetrics,
}

impl LdapDirectory {
    /// Builds clients for every configured forest. Nothing connects until the first search.
    pub fn new(
        config: &Config,
        metrics: DirectoryMetrics,
        events: Events,
    ) -> Result<Self, LdapSetupError> {
        let mut forests = HashMap::new();
        let mut binders = HashMap::new();
        let mut readers = HashMap::new();
        let mut service_accounts = HashMap::new();
        for f in &config.forests {
            if let Some(account) = &f.service_account {
                service_accounts.insert(f.name.clone(), account.clone());
            }
            // One verifying TLS configuration per forest, for its GCs and its DCs.
            let tls =
                crate::tls::client_config(f.ca_file.as_deref()).map_err(|e| LdapSetupError {
                    forest: f.name.clone(),
                    message: e.to_string(),
                })?;
            forests.insert(
                f.name.clone(),
                Self::forest(f, &tls, config.directory, &metrics, &events)?,
            );
            for (domain, urls) in &f.domain_controllers {
                let tuning = config.directory;
                let (mut binds, mut reads) = (Vec::new(), Vec::new());
                for url in urls {
                    // One server per DC: its bind slots and its service-account connections.
                    let server = Arc::new(Server::new(
                        &f.name,
                        url,
                        &tls,
                        tuning,
                        tuning.max_concurrent_binds_per_dc + tuning.pool_size,
                        &metrics,
                        &events,
                    ));
                    binds.push(BindPool::new(server.clone()));
                    if let Some(account) = &f.service_account {
                        reads.push(SearchPool::new(server, account.clone()));
                    }
                }
                binders.insert((f.name.clone(), domain.clone()), binds);
                readers.insert((f.name.clone(), domain.clone()), reads);
            }
        }
        Ok(LdapDirectory {
            forests,
            binders,
            readers,
            service_accounts,
            metrics,
        })
    }

    fn forest(
        f: &ForestConfig,
        tls: &Arc<ClientConfig>,
        tuning: DirectoryConfig,
        metrics: &DirectoryMetrics,
        events: &Events,
    ) -> Result<ForestClient, LdapSetupError> {
        let err = |message: String| LdapSetupError {
            forest: f.name.clone(),
            message,
        };
        let account = f
            .service_account
            .clone()
            .ok_or_else(|| err("no service account configured".into()))?;
        let servers = f
            .global_catalogs
            .iter()
            .map(|url| {
                Arc::new(SearchPool::new(
                    Server::new(&f.name, url, tls, tuning, tuning.pool_size, metrics, events),
                    account.clone(),
                ))
            })
            .collect();
        Ok(ForestClient::new(
            &f.name,
            &f.search_base,
            servers,
            metrics,
            events,
        ))
    }

    /// The service-account search pools on `domain`'s DCs, in failover order.
    fn readers_of(&self, forest: &str, domain: &str) -> Result<&[SearchPool], DirectoryError> {
        Self::of_domain(&self.readers, forest, domain)
    }

    /// The bind pools of `domain`'s DCs, in failover order.
    fn binders_of(&self, forest: &str, domain: &str) -> Result<&[BindPool], DirectoryError> {
        Self::of_domain(&self.binders, forest, domain)
    }

    /// The non-empty list of `domain`'s DCs in `pools`.
    fn of_domain<'p, P>(
        pools: &'p HashMap<(String, String), Vec<P>>,
        forest: &str,
        domain: &str,
    ) -> Result<&'p [P], DirectoryError> {
        pools
            .get(&(forest.to_string(), domain.to_ascii_lowercase()))
            .filter(|p| !p.is_empty())
            .map(Vec::as_slice)
            .ok_or_else(|| DirectoryError::NoDomainController {
                forest: forest.to_string(),
                domain: domain.to_string(),
            })
    }

    /// The distinguished name of `domain` (DNS name): from `domains` (the forest's partitions)
    /// when they were read, else derived from the DNS name (`DC=contoso,DC=com`).
    fn domain_dn(domains: Option<&[DomainInfo]>, domain: &str) -> String {
        domains
            .and_then(|list| {
                list.iter()
                    .find(|d| d.dns_name.eq_ignore_ascii_case(domain))
                    .map(|d| d.dn.clone())
            })
            .unwrap_or_else(|| format!("DC={}", domain.split('.').collect::<Vec<_>>().join(",DC=")))
    }

    /// Times and counts one DC read (`kind` is a fixed label).
    fn count(&self, forest: &str, kind: Query, start: Instant, error: Option<&DirectoryError>) {
        self.metrics
            .observe_search(forest, kind, start.elapsed().as_secs_f64());
        self.metrics.count_search(
            forest,
            kind,
            error.map_or(SearchResult::Ok, SearchResult::of),
        );
    }

    fn client(&self, forest: &str) -> Result<&ForestClient, DirectoryError> {
        self.forests
            .get(forest)
            .ok_or_else(|| DirectoryError::UnknownForest {
                forest: forest.to_string(),
            })
    }
}

#[async_trait]
impl Directory for LdapDirectory {
    fn health(&self) -> Vec<ServerHealth> {
        let mut out = Vec::new();
        let mut forests: Vec<&ForestClient> = self.forests.values().collect();
        forests.sort_by(|a, b| a.name.cmp(&b.name));
        for f in forests {
            for pool in &f.servers {
                out.push(ServerHealth {
                    forest: f.name.clone(),
                    role: ServerRole::GlobalCatalog,
                    url: pool.server.url.url.clone(),
                    up: pool.server.is_up(),
                });
            }
        }
        let mut domains: Vec<(&(String, String), &Vec<BindPool>)> = self.binders.iter().collect();
        domains.sort_by(|a, b| a.0.cmp(b.0));
        for ((forest, domain), pools) in domains {
            for pool in pools {
                out.push(ServerHealth {
                    forest: forest.clone(),
                    role: ServerRole::DomainController {
                        domain: domain.clone(),
                    },
                    url: pool.server.url.url.clone(),
                    up: pool.server.is_up(),
                });
            }
        }
        out
    }

    async fn check_servers(&self) {
        let forests = self.forests.values().map(|f| async move {
            let answered =
                futures::future::join_all(f.servers.iter().map(|p| p.server.check())).await;
            f.metrics
                .set_forest_up(&f.name, answered.iter().any(|up| *up));
        });
        let dcs = self
            .binders
            .values()
            .flatten()
            .map(|pool| pool.server.check());
        futures::future::join(
            futures::future::join_all(forests),
            futures::future::join_all(dcs),
        )
        .await;
    }

    async fn search_users(
        &self,
        forest: &str,
        query: &UserQuery,
    ) -> Result<Vec<DirectoryEntry>, DirectoryError> {
        let client = self.client(forest)?;
        let filter = filter::for_query(query);
        let base = match query {
            UserQuery::SamAccountName { domain_dn, .. } => domain_dn.as_str(),
            UserQuery::AttributeEquals { .. } => client.base.as_str(),
        };
        let mut attrs: Vec<&str> = ACCOUNT_ATTRIBUTES.to_vec();
        if let UserQuery::AttributeEquals { attribute, .. } = query {
            if !attrs.iter().any(|a| a.eq_ignore_ascii_case(attribute)) {
                attrs.push(attribute);
            }
        }
        let start = Instant::now();
        let result = client.search(base, Scope::Subtree, &filter, &attrs).await;
        client
            .metrics
            .observe_search(forest, query.kind(), start.elapsed().as_secs_f64());
        let outcome = result
            .as_ref()
            .map_or_else(SearchResult::of, |_| SearchResult::Ok);
        client.metrics.count_search(forest, query.kind(), outcome);
        Ok(result?.iter().map(to_entry).collect())
    }

    async fn domains(&self, forest: &str) -> Result<Arc<Vec<DomainInfo>>, DirectoryError> {
        let client = self.client(forest)?;
        if let Some(d) = client.domains.read().await.as_ref() {
            return Ok(d.clone());
        }
        let mut slot = client.domains.write().await;
        if let Some(d) = slot.as_ref() {
            return Ok(d.clone());
        }
        let loaded = client.load_domains().await?;
        *slot = Some(loaded.clone());
        Ok(loaded)
    }

    async fn bind(
        &self,
        account: AccountRef<'_>,
        password: &str,
    ) -> Result<Result<(), BindRejection>, DirectoryError> {
        if password.is_empty() {
            return Err(DirectoryError::EmptyPassword);
        }
        let pools = self.binders_of(account.forest, account.domain)?;
        let start = Instant::now();
        let result = Failover::SERVERS_ONLY
            .run(pools, |pool| pool.attempt_bind(account, password))
            .await
            .unwrap_or_else(|e| Err(e.unreachable(account.forest)));
        self.metrics
            .observe_bind(account.domain, start.elapsed().as_secs_f64());
        self.metrics
            .count_bind(account.domain, BindResult::of(&result));
        result
    }

    async fn account_state(
        &self,
        account: AccountRef<'_>,
    ) -> Result<Option<AccountState>, DirectoryError> {
        let pools = self.readers_of(account.forest, account.domain)?;
        let forest = account.forest;
        let start = Instant::now();
        let result = account::read(pools, forest, account.dn).await;
        self.metrics
            .observe_search(forest, Query::AccountState, start.elapsed().as_secs_f64());
        let outcome = match &result {
            Ok(Some(_)) => SearchResult::Ok,
            Ok(None) => SearchResult::NotFound,
            Err(e) => SearchResult::of(e),
        };
        self.metrics
            .count_search(forest, Query::AccountState, outcome);
        result
    }

    async fn change_password(
        &self,
        account: AccountRef<'_>,
        old: &crate::secret::Secret,
        new: &crate::secret::Secret,
    ) -> Result<(), PasswordChangeError> {
        let pools = self
            .readers_of(account.forest, account.domain)
            .map_err(|e| PasswordChangeError::Unavailable(e.to_string()))?;
        password_change::change(pools, account.dn, old, new).await
    }

    async fn domain_attributes(
        &self,
        account: AccountRef<'_>,
    ) -> Result<Option<DomainAttributes>, DirectoryError> {
        let pools = self.readers_of(account.forest, account.domain)?;
        let start = Instant::now();
        let result = domain_read::domain_attributes(pools, account.forest, account.dn).await;
        self.count(
            account.forest,
            Query::DomainAttributes,
            start,
            result.as_ref().err(),
        );
        result.map(Some)
    }

    async fn password_expiry(
        &self,
        account: AccountRef<'_>,
    ) -> Result<Option<PasswordExpiry>, DirectoryError> {
        let AccountRef { forest, domain, dn } = account;
        let pools = self.readers_of(forest, domain)?;
        let domains = self.domains(forest).await.ok();
        let domain_dn = Self::domain_dn(domains.as_deref().map(Vec::as_slice), domain);
        let start = Instant::now();
        let result = domain_read::password_expiry(pools, forest, dn, &domain_dn).await;
        self.count(forest, Query::PasswordExpiry, start, result.as_ref().err());
        result
    }

    async fn windows_account(
        &self,
        forest: &str,
        domain: &DomainInfo,
        lookup: WindowsLookup<'_>,
        alternate_attribute: Option<&str>,
    ) -> Result<Option<WindowsAccount>, DirectoryError> {
        let pools = self.readers_of(forest, &domain.dns_name)?;
        let start = Instant::now();
        let result =
            domain_read::windows_account(pools, forest, &domain.dn, lookup, alternate_attribute)
                .await;
        self.count(forest, Query::WindowsAccount, start, result.as_ref().err());
        result
    }

    async fn lockout_policy(
        &self,
        forest: &str,
        domain: &str,
    ) -> Result<Option<DomainLockoutPolicy>, DirectoryError> {
        let Ok(pools) = self.binders_of(forest, domain) else {
            return Ok(None);
        };
        let account =
            self.service_accounts
                .get(forest)
                .ok_or_else(|| DirectoryError::UnknownForest {
                    forest: forest.to_string(),
                })?;
        let domains = self.domains(forest).await?;
        let dn = Self::domain_dn(Some(domains.as_slice()), domain);
        domain_read::lockout_policy(pools, account, forest, &dn).await
    }

    async fn scan_users(
        &self,
        forest: &str,
        extra: &[&str],
        progress: ScanProgress<'_>,
    ) -> Result<Vec<ScannedUser>, DirectoryError> {
        let client = self.client(forest)?;
        let mut attrs: Vec<&str> = SCAN_ATTRIBUTES.to_vec();
        attrs.extend(extra.iter().filter(|a| !SCAN_ATTRIBUTES.contains(a)));
        scan::scan_servers(
            forest,
            &client.servers,
            &client.base,
            &attrs,
            scan::Keep::Account(extra),
            progress,
        )
        .await
    }

    async fn scan_domain(
        &self,
        forest: &str,
        domain: &str,
        base: &str,
        attributes: &[&str],
        progress: ScanProgress<'_>,
    ) -> Result<Vec<ScannedUser>, DirectoryError> {
        let client = self.client(forest)?;
        let no_dc = || DirectoryError::NoDomainController {
            forest: forest.to_string(),
            domain: domain.to_string(),
        };
        // The domain's DCs in failover order, reached like its global catalogs: same TLS
        // configuration and service account, one connection each, for this scan only.
        let template = client.servers.first().ok_or_else(no_dc)?;
        let pools: Vec<Arc<SearchPool>> = self
            .binders
            .get(&(forest.to_string(), domain.to_ascii_lowercase()))
            .filter(|p| !p.is_empty())
            .ok_or_else(no_dc)?
            .iter()
            .map(|dc| Arc::new(template.on(template.server.sibling(&dc.server.url, 1))))
            .collect();
        scan::scan_servers(
            forest,
            &pools,
            base,
            attributes,
            scan::Keep::Only(attributes),
            progress,
        )
        .await
        .map_err(|e| match e {
            DirectoryError::Unreachable { forest, reason } => DirectoryError::DomainUnreachable {
                forest,
                domain: domain.to_string(),
                reason,
            },
            other => other,
        })
    }
}

#[cfg(test)]
mod tests;
