//! Readiness and the background health check: whether this node can serve sign-ins (every
//! configured forest has a global catalog that answers, and the state store is usable or
//! `state.on_unavailable` is `fail_open`), as `/ready` and `/health` on the admin listener
//! report it, and the loop that keeps it true without traffic: every
//! `directory.health_check_interval`, each global catalog and domain controller is checked
//! (a connect and a RootDSE read, [`Directory::check_servers`]) and the store pinged, so a
//! server that died while no one signed in is marked down (and skipped) and a recovered one
//! marked up before a user pays for either. `/adfs/probe` stays AD FS's liveness probe.

use crate::config::state::OnUnavailable;
use crate::directory::{Directory, ServerHealth, ServerRole};
use crate::state::{StateStore, StoreHealth};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Whether the background check has completed a round yet (before it, nothing is known and
/// the node is not ready).
#[derive(Debug, Default)]
pub struct Checked(AtomicBool);

impl Checked {
    /// True once a round completed.
    pub fn done(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// One forest's health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForestHealth {
    /// The forest.
    pub name: String,
    /// True when a global catalog answers (or the directory has no servers to check: the
    /// demo directory).
    pub up: bool,
    /// Its servers as last seen.
    pub servers: Vec<ServerHealth>,
}

/// What `/health` shows and `/ready` decides on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthReport {
    /// Ready to serve sign-ins.
    pub ready: bool,
    /// Why not (empty when ready).
    pub problems: Vec<String>,
    /// Every configured forest.
    pub forests: Vec<ForestHealth>,
    /// The state store.
    pub state: StoreHealth,
    /// `state.on_unavailable`.
    pub on_unavailable: OnUnavailable,
}

/// The report for the configured `forests`, from what the directory and the store last saw.
pub fn report(
    forests: &[String],
    directory: &dyn Directory,
    state: &dyn StateStore,
    on_unavailable: OnUnavailable,
    checked: &Checked,
) -> HealthReport {
    let servers = directory.health();
    let mut problems = Vec::new();
    if !checked.done() {
        problems.push("the first health check has not completed yet".to_string());
    }
    let forests: Vec<ForestHealth> = forests
        .iter()
        .map(|name| {
            let mine: Vec<ServerHealth> = servers
                .iter()
                .filter(|s| &s.forest == name)
                .cloned()
                .collect();
            let gcs: Vec<&ServerHealth> = mine
                .iter()
                .filter(|s| s.role == ServerRole::GlobalCatalog)
                .collect();
            let up = gcs.is_empty() && mine.is_empty() || gcs.iter().any(|s| s.up);
            if !up {
                problems.push(format!("forest {name}: no global catalog answers"));
            }
            ForestHealth {
                name: name.clone(),
                up,
                servers: mine,
            }
        })
        .collect();
    let state = state.health();
    if !state.connected && on_unavailable == OnUnavailable::FailClosed {
        problems.push(
            "the state store is unreachable and state.on_unavailable is fail_closed".to_string(),
        );
    }
    HealthReport {
        ready: problems.is_empty(),
        problems,
        forests,
        state,
        on_unavailable,
    }
}

impl HealthReport {
    /// `/health`'s JSON.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "status": if self.ready { "ready" } else { "not_ready" },
            "problems": self.problems,
            "forests": self.forests.iter().map(|f| json!({
                "name": f.name,
                "up": f.up,
                "servers": f.servers.iter().map(|s| {
                    let (role, domain) = match &s.role {
                        ServerRole::GlobalCatalog => ("global_catalog", None),
                        ServerRole::DomainController { domain } => {
                            ("domain_controller", Some(domain.as_str()))
                        }
                    };
                    json!({ "role": role, "domain": domain, "url": s.url, "up": s.up })
                }).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "state": {
                "backend": self.state.backend,
                "connected": self.state.connected,
                "node": self.state.node,
                "deferred_writes": self.state.deferred_writes,
                "on_unavailable": self.on_unavailable.as_str(),
            },
        })
    }

    /// `/ready`'s body: `ready`, or `not ready` and one problem per line.
    pub fn to_text(&self) -> String {
        if self.ready {
            "ready\n".to_string()
        } else {
            let mut out = String::from("not ready\n");
            for p in &self.problems {
                out.push_str(p);
                out.push('\n');
            }
            out
        }
    }
}

/// The background check, every `interval` until the task is dropped: every directory server,
/// then the store (a ping, which also makes its connection keeper notice a dead connection).
pub async fn run(
    directory: Arc<dyn Directory>,
    state: Arc<dyn StateStore>,
    interval: Duration,
    checked: Arc<Checked>,
) {
    loop {
        round(directory.as_ref(), state.as_ref(), &checked).await;
        tokio::time::sleep(interval).await;
    }
}

/// One round of the background check: every directory server, then the store.
pub async fn round(directory: &dyn Directory, state: &dyn StateStore, checked: &Checked) {
    directory.check_servers().await;
    let _ = state.ping().await;
    checked.set();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::memory::MemoryStore;

    struct Servers(Vec<ServerHealth>);

    #[async_trait::async_trait]
    impl Directory for Servers {
        async fn search_users(
            &self,
            forest: &str,
            _: &crate::directory::UserQuery,
        ) -> Result<Vec<crate::directory::DirectoryEntry>, crate::directory::DirectoryError>
        {
            Err(crate::directory::DirectoryError::UnknownForest {
                forest: forest.into(),
            })
        }
        async fn domains(
            &self,
            forest: &str,
        ) -> Result<Arc<Vec<crate::directory::DomainInfo>>, crate::directory::DirectoryError>
        {
            Err(crate::directory::DirectoryError::UnknownForest {
                forest: forest.into(),
            })
        }
        async fn bind(
            &self,
            a: crate::directory::AccountRef<'_>,
            _: &str,
        ) -> Result<Result<(), crate::directory::BindRejection>, crate::directory::DirectoryError>
        {
            Err(crate::directory::DirectoryError::UnknownForest {
                forest: a.forest.into(),
            })
        }
        async fn account_state(
            &self,
            a: crate::directory::AccountRef<'_>,
        ) -> Result<Option<crate::directory::AccountState>, crate::directory::DirectoryError>
        {
            Err(crate::directory::DirectoryError::UnknownForest {
                forest: a.forest.into(),
            })
        }
        fn health(&self) -> Vec<ServerHealth> {
            self.0.clone()
        }
    }

    fn server(forest: &str, role: ServerRole, up: bool) -> ServerHealth {
        ServerHealth {
            forest: forest.into(),
            role,
            url: format!("ldaps://{forest}:3269"),
            up,
        }
    }

    fn checked() -> Checked {
        let c = Checked::default();
        c.set();
        c
    }

    #[test]
    fn ready_needs_a_global_catalog_per_forest_and_a_first_round() {
        let forests = ["contoso.com".to_string(), "fabrikam.com".to_string()];
        let dc = ServerRole::DomainController {
            domain: "contoso.com".into(),
        };
        let dir = Servers(vec![
            server("contoso.com", ServerRole::GlobalCatalog, false),
            server("contoso.com", ServerRole::GlobalCatalog, true),
            server("contoso.com", dc.clone(), false),
            server("fabrikam.com", ServerRole::GlobalCatalog, true),
        ]);
        let store = MemoryStore::new();
        let r = report(
            &forests,
            &dir,
            &store,
            OnUnavailable::FailClosed,
            &checked(),
        );
        assert!(r.ready, "{:?}", r.problems);
        assert_eq!(r.to_text(), "ready\n");
        let not_yet = report(
            &forests,
            &dir,
            &store,
            OnUnavailable::FailOpen,
            &Checked::default(),
        );
        assert!(!not_yet.ready);

        let dir = Servers(vec![
            server("contoso.com", ServerRole::GlobalCatalog, false),
            server("contoso.com", dc, true),
            server("fabrikam.com", ServerRole::GlobalCatalog, true),
        ]);
        let r = report(&forests, &dir, &store, OnUnavailable::FailOpen, &checked());
        assert!(!r.ready);
        assert_eq!(
            r.problems,
            ["forest contoso.com: no global catalog answers"]
        );
        assert!(r.to_text().starts_with("not ready\nforest contoso.com"));
        let j = r.to_json();
        assert_eq!(j["status"], "not_ready");
        assert_eq!(j["forests"][0]["servers"][1]["role"], "domain_controller");
        assert_eq!(j["forests"][0]["servers"][1]["domain"], "contoso.com");
        assert_eq!(j["state"]["backend"], "memory");
    }

    #[tokio::test]
    async fn an_unreachable_store_makes_the_node_unready_only_under_fail_closed() {
        // A store whose server does not listen: its connection keeper never connects.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let config = crate::config::state::RedisConfig {
            target: crate::config::state::RedisTarget::Url(format!("redis://127.0.0.1:{port}")),
            tls: false,
            ca_file: None,
            username: None,
            password: None,
            database: 0,
            replica_acks: 0,
        };
        let metrics = crate::metrics::Metrics::standalone().expect("metrics");
        let events = crate::events::Events::new(metrics.events.clone());
        let store = crate::state::redis::RedisStore::new(
            &config,
            "h:",
            std::time::Duration::from_millis(100),
            events,
            metrics.state,
        )
        .expect("store");
        let forests = ["contoso.com".to_string()];
        let dir = Servers(Vec::new());
        let closed = report(
            &forests,
            &dir,
            &store,
            OnUnavailable::FailClosed,
            &checked(),
        );
        assert!(!closed.ready);
        assert_eq!(
            closed.problems,
            ["the state store is unreachable and state.on_unavailable is fail_closed"]
        );
        assert_eq!(closed.to_json()["state"]["connected"], false);
        let open = report(&forests, &dir, &store, OnUnavailable::FailOpen, &checked());
        assert!(
            open.ready,
            "fail_open serves without the store: {:?}",
            open.problems
        );
    }

    #[test]
    fn a_directory_without_servers_is_up() {
        let r = report(
            &["contoso.com".to_string()],
            &Servers(Vec::new()),
            &MemoryStore::new(),
            OnUnavailable::FailClosed,
            &checked(),
        );
        assert!(r.ready && r.forests[0].up);
    }
}
