//! Active Directory over LDAPS. Each forest has its global catalogs in failover order; each
//! global catalog has a small pool of long-lived connections bound as the service account.
//! ldap3 multiplexes concurrent operations over one connection, so a pool slot is shared, not
//! checked out. A connection that dies (DC restart) is replaced on next use; a server that
//! fails is skipped for `retry_backoff` so an outage costs one timeout, not one per request.

use super::{
    filter, BindRejection, Directory, DirectoryEntry, DirectoryError, DomainInfo, UserQuery,
    ACCOUNT_ATTRIBUTES,
};
use crate::config::{Config, DirectoryConfig, ForestConfig, LdapUrl, ServiceAccount};
use crate::events::{DirectoryServerDown, DirectoryServerUp, Events, GlobalCatalogFailover};
use crate::metrics::DirectoryMetrics;
use async_trait::async_trait;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry};
use rustls::ClientConfig;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{Mutex, RwLock};
use tokio::time::{timeout, Instant};

/// Why one server did not answer.
#[derive(Debug)]
enum ServerError {
    /// Connection, TLS, service bind or timeout: try the next server.
    Unavailable(String),
    /// The server answered with an error result: the forest's answer is unknown.
    Refused(String),
}

/// A building directory failed (bad CA file and the like).
#[derive(Debug, thiserror::Error)]
#[error("forest {forest}: {message}")]
pub struct LdapSetupError {
    /// The forest.
    pub forest: String,
    /// What failed.
    pub message: String,
}

/// One global catalog with its pooled, multiplexed connections.
struct ServerPool {
    server: Server,
    account: ServiceAccount,
    slots: Vec<Mutex<Option<Ldap>>>,
    next: AtomicUsize,
    events: Events,
}

/// Decrements a gauge when dropped.
struct GaugeGuard(prometheus::IntGauge);

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

fn describe(e: &LdapError) -> String {
    match e {
        LdapError::LdapResult { result } => {
            format!(
                "LDAP result {} {}",
                result.rc,
                result.text.trim_end_matches('\0')
            )
        }
        other => other.to_string(),
    }
}

/// One LDAP server, whichever pool uses it: where it is, how to reach it, and whether it failed
/// recently (then it is skipped for `retry_backoff`).
struct Server {
    forest: String,
    url: LdapUrl,
    tls: Arc<ClientConfig>,
    tuning: DirectoryConfig,
    metrics: DirectoryMetrics,
    down_until: std::sync::Mutex<Option<Instant>>,
    up: AtomicBool,
}

impl Server {
    fn new(
        forest: &str,
        url: &LdapUrl,
        tls: &Arc<ClientConfig>,
        tuning: DirectoryConfig,
        metrics: &DirectoryMetrics,
    ) -> Server {
        metrics
            .pool_size
            .with_label_values(&[forest, url.url.as_str()])
            .set(tuning.pool_size as i64);
        Server {
            forest: forest.to_string(),
            url: url.clone(),
            tls: tls.clone(),
            tuning,
            metrics: metrics.clone(),
            down_until: std::sync::Mutex::new(None),
            up: AtomicBool::new(true),
        }
    }

    fn labels(&self) -> [&str; 2] {
        [self.forest.as_str(), self.url.url.as_str()]
    }

    fn backing_off(&self) -> bool {
        let guard = self.down_until.lock().unwrap_or_else(|p| p.into_inner());
        guard.is_some_and(|t| Instant::now() < t)
    }

    /// Records the outcome of the last attempt (a failure starts the backoff) and returns
    /// true when it changed the server's state.
    fn record(&self, up: bool) -> bool {
        *self.down_until.lock().unwrap_or_else(|p| p.into_inner()) =
            (!up).then(|| Instant::now() + self.tuning.retry_backoff);
        self.metrics
            .server_up
            .with_label_values(&self.labels())
            .set(i64::from(up));
        self.up.swap(up, Ordering::Relaxed) != up
    }

    /// TCP + verified TLS, then `setup` (a service bind, or nothing), all within
    /// `connect_timeout`; the connection's driver runs in its own task and the open-connection
    /// gauge follows it. Every attempt is counted.
    async fn connect<F, Fut>(&self, setup: F) -> Result<Ldap, String>
    where
        F: FnOnce(Ldap) -> Fut,
        Fut: std::future::Future<Output = Result<Ldap, String>>,
    {
        let labels = self.labels();
        let settings = LdapConnSettings::new()
            .set_config(self.tls.clone())
            .set_conn_timeout(self.tuning.connect_timeout);
        let attempt = async {
            let (conn, ldap) = LdapConnAsync::with_settings(settings, &self.url.url)
                .await
                .map_err(|e| describe(&e))?;
            let open = self.metrics.pool_connections.with_label_values(&labels);
            open.inc();
            let guard = GaugeGuard(open);
            tokio::spawn(async move {
                let _guard = guard;
                // The driver ends when the server closes the connection or every handle is gone.
                let _ = conn.drive().await;
            });
            setup(ldap).await
        };
        let result = match timeout(self.tuning.connect_timeout, attempt).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "connect timed out after {:?}",
                self.tuning.connect_timeout
            )),
        };
        let outcome = if result.is_ok() { "ok" } else { "error" };
        self.metrics
            .connects
            .with_label_values(&[self.forest.as_str(), self.url.url.as_str(), outcome])
            .inc();
        result
    }
}

impl ServerPool {
    fn mark_down(&self, reason: &str) {
        if self.server.record(false) {
            self.events.emit(&DirectoryServerDown {
                forest: &self.server.forest,
                server: &self.server.url.url,
                reason,
            });
        }
    }

    fn mark_up(&self) {
        if self.server.record(true) {
            self.events.emit(&DirectoryServerUp {
                forest: &self.server.forest,
                server: &self.server.url.url,
            });
        }
    }

    /// Opens one connection: TCP, TLS (verified), service-account bind, all within
    /// `connect_timeout`.
    async fn connect(&self) -> Result<Ldap, ServerError> {
        self.server
            .connect(|mut ldap| async move {
                let bind = ldap
                    .simple_bind(&self.account.user, self.account.password.expose())
                    .await
                    .map_err(|e| describe(&e))?;
                if bind.rc != 0 {
                    return Err(format!(
                        "service account bind refused: LDAP result {} {}",
                        bind.rc,
                        bind.text.trim_end_matches('\0')
                    ));
                }
                Ok(ldap)
            })
            .await
            .map_err(ServerError::Unavailable)
    }

    /// A live connection from the next slot, connecting if the slot is empty or dead.
    async fn connection(&self, slot: usize, fresh: bool) -> Result<Ldap, ServerError> {
        let Some(cell) = self.slots.get(slot % self.slots.len().max(1)) else {
            return Err(ServerError::Unavailable("empty connection pool".into()));
        };
        let mut guard = cell.lock().await;
        if let Some(ldap) = guard.as_mut() {
            if !fresh && !ldap.is_closed() {
                return Ok(ldap.clone());
            }
        }
        *guard = None;
        let ldap = self.connect().await?;
        *guard = Some(ldap.clone());
        Ok(ldap)
    }

    async fn search(
        &self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
    ) -> Result<Vec<SearchEntry>, ServerError> {
        let slot = self.next.fetch_add(1, Ordering::Relaxed);
        let mut last = String::new();
        // A pooled connection may have died since its last use (DC restart): one retry on a
        // fresh connection tells a stale socket from a dead server.
        for fresh in [false, true] {
            let mut ldap = self.connection(slot, fresh).await?;
            let server = &self.server;
            let in_flight = server.metrics.in_flight.with_label_values(&server.labels());
            in_flight.inc();
            let _guard = GaugeGuard(in_flight);
            let result = ldap
                .with_timeout(server.tuning.operation_timeout)
                .search(base, scope, filter, attrs.to_vec())
                .await;
            match result {
                Ok(res) => {
                    let rc = res.1.rc;
                    // 0 success; 10 referral from a GC means "not here" and is not an error.
                    if rc != 0 && rc != 10 {
                        let msg = format!("LDAP result {rc} {}", res.1.text.trim_end_matches('\0'));
                        return Err(match rc {
                            51..=53 | 80 => ServerError::Unavailable(msg),
                            _ => ServerError::Refused(msg),
                        });
                    }
                    return Ok(res
                        .0
                        .into_iter()
                        .filter(|e| !e.is_ref() && !e.is_intermediate())
                        .map(SearchEntry::construct)
                        .collect());
                }
                Err(LdapError::Timeout { .. }) => {
                    return Err(ServerError::Unavailable(format!(
                        "operation timed out after {:?}",
                        server.tuning.operation_timeout
                    )))
                }
                Err(e) => last = describe(&e),
            }
        }
        Err(ServerError::Unavailable(last))
    }
}

/// One domain controller's pool of connections for password binds. A bind changes the
/// connection's identity, so connections are checked out exclusively (unlike the multiplexed
/// search pool) and re-bound by the next user: no TLS handshake per sign-in.
struct BindPool {
    server: Server,
    idle: std::sync::Mutex<Vec<Ldap>>,
    permits: tokio::sync::Semaphore,
}

impl BindPool {
    async fn connect(&self) -> Result<Ldap, String> {
        self.server.connect(|ldap| async move { Ok(ldap) }).await
    }

    /// One simple bind. `Ok(rc, diagnostic)` when the DC answered.
    async fn bind(&self, dn: &str, password: &str) -> Result<(u32, String), String> {
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

/// One forest: its global catalogs and what it told us about its domains.
struct ForestClient {
    name: String,
    base: String,
    servers: Vec<Arc<ServerPool>>,
    domains: RwLock<Option<Arc<Vec<DomainInfo>>>>,
    metrics: DirectoryMetrics,
    events: Events,
}

impl ForestClient {
    /// Runs a search on the first global catalog that answers.
    async fn search(
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
                    pool.mark_up();
                    self.metrics
                        .forest_up
                        .with_label_values(&[&self.name])
                        .set(1);
                    if let Some(from) = failed {
                        self.metrics
                            .failovers
                            .with_label_values(&[&self.name])
                            .inc();
                        self.events.emit(&GlobalCatalogFailover {
                            forest: &self.name,
                            from,
                            to: &url.url,
                        });
                    }
                    return Ok(entries);
                }
                Err(ServerError::Unavailable(reason)) => {
                    pool.mark_down(&reason);
                    failed.get_or_insert(url.url.as_str());
                    last_reason = format!("{}: {reason}", url);
                }
                Err(ServerError::Refused(reason)) => {
                    pool.mark_up();
                    self.metrics
                        .forest_up
                        .with_label_values(&[&self.name])
                        .set(1);
                    return Err(DirectoryError::SearchFailed {
                        forest: self.name.clone(),
                        reason: format!("{}: {reason}", url),
                    });
                }
            }
        }
        self.metrics
            .forest_up
            .with_label_values(&[&self.name])
            .set(0);
        Err(DirectoryError::Unreachable {
            forest: self.name.clone(),
            reason: last_reason,
        })
    }

    async fn load_domains(&self) -> Result<Arc<Vec<DomainInfo>>, DirectoryError> {
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

/// First value of an attribute, matched case-insensitively.
fn attr(e: &SearchEntry, name: &str) -> Option<String> {
    e.attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.first().cloned())
}

/// First value of a binary attribute, wherever ldap3 put it (valid UTF-8 lands in `attrs`).
fn bin_attr(e: &SearchEntry, name: &str) -> Option<Vec<u8>> {
    e.bin_attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.first().cloned())
        .or_else(|| attr(e, name).map(String::into_bytes))
}

fn to_entry(e: &SearchEntry) -> DirectoryEntry {
    DirectoryEntry {
        dn: e.dn.clone(),
        sam_account_name: attr(e, "sAMAccountName"),
        user_principal_name: attr(e, "userPrincipalName"),
        canonical_name: attr(e, "canonicalName"),
        object_guid: bin_attr(e, "objectGUID"),
        consistency_guid: bin_attr(e, "mS-DS-ConsistencyGuid"),
        user_account_control: attr(e, "userAccountControl")
            .and_then(|v| v.parse::<i64>().ok())
            .map(|v| v as u32),
        display_name: attr(e, "displayName"),
        given_name: attr(e, "givenName"),
        surname: attr(e, "sn"),
        mail: attr(e, "mail"),
    }
}

/// Real Active Directory forests over LDAPS.
pub struct LdapDirectory {
    forests: HashMap<String, ForestClient>,
    /// (forest, domain) → its domain controllers in failover order.
    binders: HashMap<(String, String), Vec<BindPool>>,
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
        for f in &config.forests {
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
                let pools = urls
                    .iter()
                    .map(|url| BindPool {
                        server: Server::new(&f.name, url, &tls, config.directory, &metrics),
                        idle: std::sync::Mutex::new(Vec::new()),
                        permits: tokio::sync::Semaphore::new(config.directory.pool_size),
                    })
                    .collect();
                binders.insert((f.name.clone(), domain.clone()), pools);
            }
        }
        Ok(LdapDirectory {
            forests,
            binders,
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
                Arc::new(ServerPool {
                    server: Server::new(&f.name, url, tls, tuning, metrics),
                    account: account.clone(),
                    slots: (0..tuning.pool_size).map(|_| Mutex::new(None)).collect(),
                    next: AtomicUsize::new(0),
                    events: events.clone(),
                })
            })
            .collect();
        Ok(ForestClient {
            name: f.name.clone(),
            base: f.search_base.clone(),
            servers,
            domains: RwLock::new(None),
            metrics: metrics.clone(),
            events: events.clone(),
        })
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
        let labels = [forest, query.kind()];
        client
            .metrics
            .search_duration
            .with_label_values(&labels)
            .observe(start.elapsed().as_secs_f64());
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => e.code(),
        };
        client
            .metrics
            .searches
            .with_label_values(&[forest, query.kind(), outcome])
            .inc();
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
        forest: &str,
        domain: &str,
        dn: &str,
        password: &str,
    ) -> Result<Result<(), BindRejection>, DirectoryError> {
        if password.is_empty() {
            return Err(DirectoryError::EmptyPassword);
        }
        let pools = self
            .binders
            .get(&(forest.to_string(), domain.to_ascii_lowercase()))
            .filter(|p| !p.is_empty())
            .ok_or_else(|| DirectoryError::NoDomainController {
                forest: forest.to_string(),
                domain: domain.to_string(),
            })?;
        let start = Instant::now();
        let mut last = String::from("every domain controller failed recently");
        let mut outcome = None;
        for pool in pools {
            if pool.server.backing_off() {
                continue;
            }
            match pool.bind(dn, password).await {
                Ok((rc, text)) => {
                    pool.server.record(true);
                    // 49 is AD's answer about the credentials: never retried on another DC.
                    match rc {
                        0 => outcome = Some(Ok(())),
                        49 => outcome = Some(Err(BindRejection::from_diagnostic(&text))),
                        other => {
                            last = format!("{}: LDAP result {other} {text}", pool.server.url);
                            continue;
                        }
                    }
                    break;
                }
                Err(reason) => {
                    pool.server.record(false);
                    last = format!("{}: {reason}", pool.server.url);
                }
            }
        }
        self.metrics
            .bind_duration
            .with_label_values(&[domain])
            .observe(start.elapsed().as_secs_f64());
        let label = match &outcome {
            Some(Ok(())) => "ok",
            Some(Err(r)) => r.code(),
            None => "unavailable",
        };
        self.metrics.binds.with_label_values(&[domain, label]).inc();
        outcome.ok_or(DirectoryError::Unreachable {
            forest: forest.to_string(),
            reason: last,
        })
    }
}
