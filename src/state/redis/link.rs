//! The connection to the data node, and how it is found again: a fixed URL, or the master the
//! sentinels name (Redis / Valkey Sentinel).
//!
//! One multiplexed connection serves every operation. It is opened and replaced by one
//! background task (the *keeper*), never by an operation: an operation takes the current
//! connection from a watch channel (no lock is held across an await), and when it fails in a
//! way that says the connection or the server is wrong (connection error, `READONLY` from a
//! demoted master, three timeouts in a row) it reports that and returns its error at once; the
//! keeper reconnects. With no connection, an operation waits for the keeper within its own
//! time budget.
//!
//! With sentinel, the keeper asks the sentinels (in order, the first that answers) for the
//! master's address every `check_interval` and after every failure, connects to it and checks
//! that it says `ROLE master` before using it; a master that comes back after a failover still
//! calling itself master is not used unless the sentinels name it. The `redis` crate's own
//! Sentinel client resolves the master only when it connects (redis-rs#1438), hence this.

use super::super::StateError;
use crate::config::state::{RedisConfig, RedisTarget, SentinelConfig};
use crate::events::{Events, StateMasterChanged, StateStoreConnected, StateStoreDisconnected};
use crate::metrics::StateMetrics;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, IntoConnectionInfo, TlsCertificates};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// Consecutive timeouts after which the connection is replaced (a black-holed server answers
/// nothing, not even a reset).
const TIMEOUTS_BEFORE_RECONNECT: u32 = 3;

/// The keeper's pause after a failed attempt to connect, doubled up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// The live connection and where it goes.
#[derive(Clone)]
pub(super) struct Current {
    pub(super) conn: MultiplexedConnection,
    /// A second connection to the same node for writes confirmed with `WAIT`, which blocks
    /// the connection it is sent on until the replicas answer.
    pub(super) confirm: MultiplexedConnection,
    /// `host:port` of the data node.
    pub(super) address: String,
    /// Bumped on every new connection, so a failure report about an old one is ignored.
    generation: u64,
}

/// What a failed operation says about the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Failure {
    /// Connection refused, reset or closed; TLS or authentication failed.
    Connection,
    /// The node is a replica now (`READONLY`): the master moved.
    ReadOnly,
    /// No answer within the operation's budget.
    Timeout,
}

/// How to reach data nodes (and sentinels).
struct Endpoint {
    tls: bool,
    ca: Option<Vec<u8>>,
    username: Option<String>,
    password: Option<crate::secret::Secret>,
    database: u16,
}

impl Endpoint {
    /// A client for `host:port`.
    fn client(&self, host: &str, port: u16) -> Result<Client, StateError> {
        let scheme = if self.tls { "rediss" } else { "redis" };
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        let url = format!("{scheme}://{host}:{port}/{}", self.database);
        self.client_for(&url)
    }

    /// A client for a whole URL (without credentials).
    fn client_for(&self, url: &str) -> Result<Client, StateError> {
        let setup = |e: redis::RedisError| StateError::Setup(e.to_string());
        let mut info = url.into_connection_info().map_err(setup)?;
        let mut settings = info.redis_settings().clone();
        if let Some(user) = &self.username {
            settings = settings.set_username(user);
        }
        if let Some(password) = &self.password {
            settings = settings.set_password(password.expose());
        }
        info = info.set_redis_settings(settings);
        if self.tls {
            // rustls needs a process-wide provider; altgate uses ring everywhere. Fails
            // harmlessly when one is installed already.
            let _ = rustls::crypto::ring::default_provider().install_default();
            Client::build_with_tls(
                info,
                TlsCertificates {
                    client_tls: None,
                    root_cert: self.ca.clone(),
                },
            )
            .map_err(setup)
        } else {
            Client::open(info).map_err(setup)
        }
    }
}

fn read_ca(path: Option<&std::path::Path>) -> Result<Option<Vec<u8>>, StateError> {
    path.map(|p| {
        std::fs::read(p).map_err(|e| StateError::Setup(format!("cannot read {}: {e}", p.display())))
    })
    .transpose()
}

/// How the data node is found.
enum Locator {
    /// One server.
    Fixed { client: Client, address: String },
    /// The sentinels' master.
    Sentinel {
        config: SentinelConfig,
        sentinels: Endpoint,
        data: Endpoint,
    },
}

/// The connection to the data node and its keeper.
pub(super) struct Link {
    locator: Locator,
    current: watch::Sender<Option<Current>>,
    wake: Arc<Notify>,
    timeout: Duration,
    timeouts: AtomicU32,
    /// Woken when a connection is made (the deferred writer waits on it).
    connected: Arc<Notify>,
    events: Events,
    metrics: StateMetrics,
}

impl Link {
    /// The link `config` describes, its keeper started (it connects at once, in the
    /// background). Must be called within a Tokio runtime.
    /// `connected` is notified whenever a new connection is made.
    pub(super) fn start(
        config: &RedisConfig,
        timeout: Duration,
        connected: Arc<Notify>,
        events: Events,
        metrics: StateMetrics,
    ) -> Result<Arc<Link>, StateError> {
        let data = Endpoint {
            tls: config.tls,
            ca: read_ca(config.ca_file.as_deref())?,
            username: config.username.clone(),
            password: config.password.clone(),
            database: config.database,
        };
        let locator = match &config.target {
            RedisTarget::Url(url) => {
                let client = data.client_for(url)?;
                let address = client.get_connection_info().addr().to_string();
                Locator::Fixed { client, address }
            }
            RedisTarget::Sentinel(s) => Locator::Sentinel {
                sentinels: Endpoint {
                    tls: s.tls,
                    ca: read_ca(s.ca_file.as_deref())?,
                    username: s.username.clone(),
                    password: s.password.clone(),
                    database: 0,
                },
                config: s.clone(),
                data,
            },
        };
        let link = Arc::new(Link {
            locator,
            current: watch::channel(None).0,
            wake: Arc::new(Notify::new()),
            timeout,
            timeouts: AtomicU32::new(0),
            connected,
            events,
            metrics,
        });
        tokio::spawn(keep(Arc::downgrade(&link), link.wake.clone()));
        Ok(link)
    }

    /// The current connection, waiting for the keeper at most `budget` when there is none.
    pub(super) async fn connection(&self, budget: Duration) -> Result<Current, StateError> {
        if let Some(c) = self.current.borrow().clone() {
            return Ok(c);
        }
        self.wake.notify_one();
        let mut rx = self.current.subscribe();
        let waited = tokio::time::timeout(budget, async {
            rx.wait_for(Option::is_some).await.map(|c| c.clone())
        })
        .await;
        match waited {
            Ok(Ok(Some(c))) => Ok(c),
            Ok(Ok(None)) => Err(unavailable("no connection")),
            Ok(Err(_)) => Err(unavailable("the connection keeper stopped")),
            Err(_) => Err(StateError::Unavailable(format!(
                "no connection to the state store within {budget:?}"
            ))),
        }
    }

    /// An operation on `current` succeeded.
    pub(super) fn succeeded(&self) {
        self.timeouts.store(0, Ordering::Relaxed);
    }

    /// An operation on `current` failed with `failure`: drops the connection (if it is still
    /// the current one) when the failure says it is wrong, and wakes the keeper.
    pub(super) fn failed(&self, current: &Current, failure: Failure) {
        if failure == Failure::Timeout
            && self.timeouts.fetch_add(1, Ordering::Relaxed) + 1 < TIMEOUTS_BEFORE_RECONNECT
        {
            return;
        }
        let dropped = self.current.send_if_modified(|c| {
            if c.as_ref()
                .is_some_and(|c| c.generation == current.generation)
            {
                *c = None;
                true
            } else {
                false
            }
        });
        if dropped {
            self.timeouts.store(0, Ordering::Relaxed);
            self.metrics.set_connected(false);
            self.events.emit(&StateStoreDisconnected {
                address: &current.address,
                reason: failure.as_str(),
            });
        }
        self.wake.notify_one();
    }

    /// `host:port` of the node in use, if connected.
    pub(super) fn address(&self) -> Option<String> {
        self.current.borrow().as_ref().map(|c| c.address.clone())
    }

    /// Opens a connection to `client`, checked with `ROLE` when `must_be_master`.
    /// Its replies are awaited up to `replies` (the confirmed-writes connection waits for
    /// `WAIT` too).
    async fn open(
        &self,
        client: &Client,
        must_be_master: bool,
        replies: Duration,
    ) -> Result<MultiplexedConnection, String> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(replies));
        let mut conn = client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| e.to_string())?;
        if must_be_master {
            let role: redis::Value = redis::cmd("ROLE")
                .query_async(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            let first = match &role {
                redis::Value::Array(items) => items.first(),
                _ => None,
            };
            let is_master = matches!(first, Some(redis::Value::BulkString(b)) if b == b"master")
                || matches!(first, Some(redis::Value::SimpleString(s)) if s == "master");
            if !is_master {
                return Err("the node the sentinels named is not a master (yet)".into());
            }
        }
        Ok(conn)
    }

    /// Asks the sentinels, in order, for the master's address.
    async fn ask_sentinels(
        &self,
        config: &SentinelConfig,
        sentinels: &Endpoint,
    ) -> Result<(String, u16), String> {
        let mut last = String::from("no sentinel configured");
        for (host, port) in &config.addresses {
            let asked = async {
                let client = sentinels.client(host, *port).map_err(|e| e.to_string())?;
                let mut conn = self.open(&client, false, self.timeout).await?;
                let reply: Option<(String, u16)> = redis::cmd("SENTINEL")
                    .arg("get-master-addr-by-name")
                    .arg(&config.master_name)
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                reply.ok_or_else(|| {
                    format!(
                        "it does not monitor a master named {:?}",
                        config.master_name
                    )
                })
            };
            match tokio::time::timeout(self.timeout.saturating_mul(2), asked).await {
                Ok(Ok(master)) => return Ok(master),
                Ok(Err(e)) => last = format!("sentinel {host}:{port}: {e}"),
                Err(_) => {
                    last = format!(
                        "sentinel {host}:{port}: no answer within {:?}",
                        self.timeout * 2
                    )
                }
            }
        }
        Err(last)
    }

    /// One round of the keeper: makes sure the current connection goes to the right node.
    /// Returns an error when there is none after it.
    /// `last` is the node of the last connection (kept while disconnected, so a master change
    /// across an outage is seen).
    async fn check(&self, generation: &mut u64, last: &mut Option<String>) -> Result<(), String> {
        let (client, address, must_be_master) = match &self.locator {
            Locator::Fixed { client, address } => {
                if self.current.borrow().is_some() {
                    return Ok(());
                }
                (client.clone(), address.clone(), false)
            }
            Locator::Sentinel {
                config,
                sentinels,
                data,
            } => {
                let (host, port) = self.ask_sentinels(config, sentinels).await?;
                let address = if host.contains(':') {
                    format!("[{host}]:{port}")
                } else {
                    format!("{host}:{port}")
                };
                if self.address().as_deref() == Some(address.as_str()) {
                    return Ok(());
                }
                (
                    data.client(&host, port).map_err(|e| e.to_string())?,
                    address,
                    true,
                )
            }
        };
        let conn = self
            .open(&client, must_be_master, self.timeout)
            .await
            .map_err(|e| format!("{address}: {e}"))?;
        let confirm = self
            .open(&client, false, self.timeout * 3)
            .await
            .map_err(|e| format!("{address}: {e}"))?;
        *generation += 1;
        let previous = self.current.send_replace(Some(Current {
            conn,
            confirm,
            address: address.clone(),
            generation: *generation,
        }));
        self.timeouts.store(0, Ordering::Relaxed);
        self.metrics.set_connected(true);
        self.metrics.set_master(&address);
        self.events.emit(&StateStoreConnected { address: &address });
        self.connected.notify_one();
        if let Some(old) = previous.map(|p| p.address).or(last.take()) {
            if old != address {
                self.metrics.count_master_change();
                self.events.emit(&StateMasterChanged {
                    from: &old,
                    to: &address,
                });
            }
        }
        *last = Some(address);
        Ok(())
    }

    fn interval(&self) -> Option<Duration> {
        match &self.locator {
            Locator::Fixed { .. } => None,
            Locator::Sentinel { config, .. } => Some(config.check_interval),
        }
    }
}

impl Failure {
    fn as_str(self) -> &'static str {
        match self {
            Failure::Connection => "connection",
            Failure::ReadOnly => "readonly",
            Failure::Timeout => "timeout",
        }
    }
}

fn unavailable(what: &str) -> StateError {
    StateError::Unavailable(what.to_string())
}

/// The keeper: connects, reconnects after failures (with backoff), and with sentinel asks for
/// the master every `check_interval`. Ends when the link is dropped (it holds the link only
/// during a round).
async fn keep(link: Weak<Link>, wake: Arc<Notify>) {
    /// How long the keeper of a fixed URL sleeps between rounds without a wake-up.
    const IDLE: Duration = Duration::from_secs(5);
    let mut generation = 0u64;
    let mut last = None;
    let mut backoff = MIN_BACKOFF;
    let mut reported = false;
    loop {
        let pause = {
            let Some(l) = link.upgrade() else { return };
            match l.check(&mut generation, &mut last).await {
                Ok(()) => {
                    backoff = MIN_BACKOFF;
                    reported = false;
                    l.interval().unwrap_or(IDLE)
                }
                Err(reason) => {
                    if !reported {
                        tracing::warn!(target: "altgate::ops", %reason, "state store: no usable connection; retrying");
                        reported = true;
                    }
                    let b = backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    b
                }
            }
        };
        let _ = tokio::time::timeout(pause, wake.notified()).await;
    }
}
