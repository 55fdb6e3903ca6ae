//! The one failover policy of the LDAP directory: how an operation goes through the servers of a
//! forest (its global catalogs) or of a domain (its domain controllers), in the configured
//! order. Every operation (searches, scans, account-state and domain reads, password binds and
//! changes, lockout-policy reads) runs through [`Failover::run`]; what differs between them is
//! only how each classifies one attempt ([`Attempt`]) and whether the forest is reported.
//!
//! The rules, for every operation:
//! - a server in backoff (it failed within `retry_backoff`) is skipped without being asked;
//!   skipping is not a failover;
//! - [`Attempt::Answer`] ends the operation, and the server is up. Everything a server answers
//!   about the request itself is an answer: entries, no entry, an LDAP refusal, and a password
//!   bind's LDAP result 49 (invalid credentials), which is an authentication outcome: never
//!   retried on another server, never a server failure;
//! - [`Attempt::ServerFailed`] (connect, TLS, service bind, timeout, busy/unavailable results:
//!   infrastructure) marks the server down (backoff, `altgate_directory_server_up`, one
//!   `directory_server_down` event per transition) and the next server is tried;
//! - [`Attempt::Declined`], [`Attempt::Busy`] and [`Attempt::Settled`] are the exceptions some
//!   operations need (each variant names them);
//! - when no server settles the operation, [`Exhausted`] carries the last failure seen in this
//!   operation (or why no server was asked).
//!
//! [`Failover::reporting_forest`] adds the forest's own reporting, for global-catalog searches:
//! `altgate_forest_up`, and one failover (`altgate_directory_failovers_total` and the
//! `global_catalog_failover` event) when a server answers after one that failed in the same
//! operation.

use super::bind_pool::BindPool;
use super::search_pool::SearchPool;
use super::server::Server;
use crate::directory::DirectoryError;
use crate::events::{Events, GlobalCatalogFailover};
use crate::metrics::DirectoryMetrics;
use std::future::Future;
use std::sync::Arc;

/// What one attempt on one server came to: what it says about the server's health, and
/// whether the operation is over or goes on to the next server.
#[derive(Debug)]
pub(super) enum Attempt<T> {
    /// The server answered, and the answer is the operation's outcome (entries, none, an LDAP
    /// refusal, a password bind's 0 or 49): the server is up; no further server is asked.
    Answer(T),
    /// The server could not be reached or did not answer (connect, TLS, service bind, timeout,
    /// busy or unavailable): it is marked down and the next server is tried.
    ServerFailed(String),
    /// The server answered, but with nothing this operation can use (a password bind's LDAP
    /// result other than 0 and 49): it is up, and the next server is tried.
    Declined(String),
    /// The server was not asked and nothing is known about its health (a lockout-policy read
    /// found no free bind slot): the next server is tried.
    Busy(String),
    /// The operation is over without a verdict on the server's health: a password bind whose
    /// DC has no free slot (fail fast rather than queue on the next DC too), a password change
    /// whose modify was sent but got no answer (it may have been made: never sent twice), a
    /// lockout-policy read the DC refused.
    Settled(T),
}

/// No server settled the operation: every server failed, was busy, declined or was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Exhausted {
    /// The last failure of this operation (`url: reason`); when no server was asked, the last
    /// server skipped in backoff, or that no server is configured.
    pub(super) reason: String,
}

impl Exhausted {
    /// The directory error of an operation in `forest` that no server answered.
    pub(super) fn unreachable(self, forest: &str) -> DirectoryError {
        DirectoryError::Unreachable {
            forest: forest.to_string(),
            reason: self.reason,
        }
    }
}

/// The directory error of a search `server` of `forest` answered with an LDAP refusal.
pub(super) fn refused(forest: &str, server: &Server, reason: &str) -> DirectoryError {
    DirectoryError::SearchFailed {
        forest: forest.to_string(),
        reason: format!("{}: {reason}", server.url),
    }
}

/// Anything that runs on one [`Server`] (a pool of connections to it, or the server itself).
pub(super) trait OnServer {
    /// The server, with its health.
    fn server(&self) -> &Server;
}

impl OnServer for Server {
    fn server(&self) -> &Server {
        self
    }
}

impl OnServer for SearchPool {
    fn server(&self) -> &Server {
        &self.server
    }
}

impl OnServer for BindPool {
    fn server(&self) -> &Server {
        &self.server
    }
}

impl<P: OnServer> OnServer for Arc<P> {
    fn server(&self) -> &Server {
        P::server(self)
    }
}

/// The forest-level reporting of global-catalog searches.
#[derive(Clone, Copy)]
struct ForestReport<'a> {
    forest: &'a str,
    metrics: &'a DirectoryMetrics,
    events: &'a Events,
}

/// The failover policy of one operation: the servers' health always; the forest's reporting
/// only for global-catalog searches ([`Failover::reporting_forest`]).
#[derive(Clone, Copy)]
pub(super) struct Failover<'a> {
    forest: Option<ForestReport<'a>>,
}

impl Failover<'static> {
    /// Servers are marked up and down, nothing else is reported: domain-controller operations
    /// and directory scans (the audit).
    pub(super) const SERVERS_ONLY: Failover<'static> = Failover { forest: None };
}

impl<'a> Failover<'a> {
    /// Also reports `forest`: `altgate_forest_up` is 1 after an answer and 0 when no global
    /// catalog settled the search, and an answer from a server after one that failed in the
    /// same search counts one failover and emits `global_catalog_failover` (from the first
    /// server that failed to the one that answered).
    pub(super) fn reporting_forest(
        forest: &'a str,
        metrics: &'a DirectoryMetrics,
        events: &'a Events,
    ) -> Failover<'a> {
        Failover {
            forest: Some(ForestReport {
                forest,
                metrics,
                events,
            }),
        }
    }

    /// Runs `attempt` on `servers` in order, skipping those in backoff, until one attempt
    /// settles the operation ([`Attempt::Answer`] or [`Attempt::Settled`]).
    pub(super) async fn run<'s, P, T, F, Fut>(
        &self,
        servers: &'s [P],
        mut attempt: F,
    ) -> Result<T, Exhausted>
    where
        P: OnServer,
        F: FnMut(&'s P) -> Fut,
        Fut: Future<Output = Attempt<T>>,
    {
        // The first server that failed in this operation (a later answer is a failover).
        let mut failed: Option<&Server> = None;
        let mut last_failure: Option<String> = None;
        let mut last_skipped: Option<&Server> = None;
        for item in servers {
            let server = item.server();
            if server.backing_off() {
                last_skipped = Some(server);
                continue;
            }
            match attempt(item).await {
                Attempt::Answer(answer) => {
                    server.mark_up();
                    self.answered(failed, server);
                    return Ok(answer);
                }
                Attempt::Settled(outcome) => return Ok(outcome),
                Attempt::ServerFailed(reason) => {
                    server.mark_down(&reason);
                    failed.get_or_insert(server);
                    last_failure = Some(format!("{}: {reason}", server.url));
                }
                Attempt::Declined(reason) => {
                    server.mark_up();
                    last_failure = Some(format!("{}: {reason}", server.url));
                }
                Attempt::Busy(reason) => last_failure = Some(format!("{}: {reason}", server.url)),
            }
        }
        if let Some(report) = self.forest {
            report.metrics.set_forest_up(report.forest, false);
        }
        let reason = match (last_failure, last_skipped) {
            (Some(failure), _) => failure,
            (None, Some(skipped)) => {
                format!("{} failed recently; retrying after backoff", skipped.url)
            }
            (None, None) => "no server configured".to_string(),
        };
        Err(Exhausted { reason })
    }

    /// `server` answered, after `failed` failed in the same operation when set.
    fn answered(&self, failed: Option<&Server>, server: &Server) {
        let Some(report) = self.forest else {
            return;
        };
        report.metrics.set_forest_up(report.forest, true);
        if let Some(from) = failed {
            report.metrics.count_failover(report.forest);
            report.events.emit(&GlobalCatalogFailover {
                forest: report.forest,
                from: &from.url.url,
                to: &server.url.url,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DirectoryConfig, LdapUrl};
    use crate::metrics::Metrics;
    use std::sync::Mutex;
    use std::time::Duration;

    const FOREST: &str = "contoso.com";

    /// Servers at `ldap://127.0.0.1:1`, `:2`, ... (never connected to: the attempts are
    /// scripted), with their metrics and events.
    fn servers(n: u16, retry_backoff: Duration) -> (Vec<Server>, Metrics, Events) {
        let metrics = Metrics::standalone().expect("metrics");
        let events = Events::new(metrics.events.clone());
        let tls = crate::tls::client_config(None).expect("tls");
        let tuning = DirectoryConfig {
            connect_timeout: Duration::from_secs(1),
            operation_timeout: Duration::from_secs(1),
            pool_size: 1,
            retry_backoff,
            max_concurrent_binds_per_dc: 1,
            bind_queue_timeout: Duration::from_secs(1),
            health_check_interval: Duration::from_secs(10),
        };
        let servers = (1..=n)
            .map(|port| {
                let url = LdapUrl {
                    url: format!("ldap://127.0.0.1:{port}"),
                    host: "127.0.0.1".into(),
                    port,
                };
                Server::new(FOREST, &url, &tls, tuning, 1, &metrics.directory, &events)
            })
            .collect();
        (servers, metrics, events)
    }

    fn url(port: u16) -> String {
        format!("ldap://127.0.0.1:{port}")
    }

    fn up(m: &Metrics, port: u16) -> i64 {
        m.directory
            .server_up
            .with_label_values(&[FOREST, &url(port)])
            .get()
    }

    fn events(m: &Metrics, name: &str) -> u64 {
        m.events
            .events
            .with_label_values(&[name, "operational"])
            .get()
    }

    fn failovers(m: &Metrics) -> u64 {
        m.directory.failovers.with_label_values(&[FOREST]).get()
    }

    fn forest_up(m: &Metrics) -> i64 {
        m.directory.forest_up.with_label_values(&[FOREST]).get()
    }

    /// Runs `policy` over `servers`, the attempt on the server at port `p` being
    /// `script(p)`; returns the outcome and the ports asked, in order.
    async fn run(
        policy: Failover<'_>,
        servers: &[Server],
        script: impl Fn(u16) -> Attempt<&'static str>,
    ) -> (Result<&'static str, Exhausted>, Vec<u16>) {
        let asked = Mutex::new(Vec::new());
        let result = policy
            .run(servers, |s: &Server| {
                asked.lock().expect("lock").push(s.url.port);
                let attempt = script(s.url.port);
                async move { attempt }
            })
            .await;
        let asked = asked.into_inner().expect("lock");
        (result, asked)
    }

    fn failed(p: u16) -> Attempt<&'static str> {
        Attempt::ServerFailed(format!("connection refused by {p}"))
    }

    #[tokio::test]
    async fn an_answer_stops_the_loop_and_marks_the_server_up() {
        let (s, m, _) = servers(3, Duration::from_secs(60));
        let (r, asked) = run(Failover::SERVERS_ONLY, &s, |p| match p {
            1 => failed(p),
            _ => Attempt::Answer("entries"),
        })
        .await;
        assert_eq!(r, Ok("entries"));
        assert_eq!(asked, vec![1, 2], "the third server is never asked");
        assert_eq!((up(&m, 1), up(&m, 2)), (0, 1));
        assert_eq!(events(&m, "directory_server_down"), 1);
        assert_eq!(failovers(&m), 0, "only forest searches count failovers");
    }

    #[tokio::test]
    async fn a_server_in_backoff_is_skipped_without_being_asked() {
        let (s, m, _) = servers(2, Duration::from_secs(60));
        let (_, asked) = run(Failover::SERVERS_ONLY, &s, |p| match p {
            1 => failed(p),
            _ => Attempt::Answer("ok"),
        })
        .await;
        assert_eq!(asked, vec![1, 2]);
        let (r, asked) = run(Failover::SERVERS_ONLY, &s, |_| Attempt::Answer("ok")).await;
        assert_eq!(r, Ok("ok"));
        assert_eq!(asked, vec![2], "the server that failed backs off");
        assert_eq!(events(&m, "directory_server_down"), 1);
    }

    #[tokio::test]
    async fn a_server_is_asked_again_after_its_backoff() {
        let (s, m, _) = servers(1, Duration::from_millis(20));
        let (_, asked) = run(Failover::SERVERS_ONLY, &s, failed).await;
        assert_eq!(asked, vec![1]);
        tokio::time::sleep(Duration::from_millis(40)).await;
        let (r, asked) = run(Failover::SERVERS_ONLY, &s, |_| Attempt::Answer("back")).await;
        assert_eq!((r, asked), (Ok("back"), vec![1]));
        assert_eq!(up(&m, 1), 1);
        assert_eq!(events(&m, "directory_server_up"), 1);
    }

    #[tokio::test]
    async fn when_every_server_fails_the_last_failure_is_reported() {
        let (s, m, e) = servers(2, Duration::from_secs(60));
        let policy = Failover::reporting_forest(FOREST, &m.directory, &e);
        let (r, asked) = run(policy, &s, failed).await;
        assert_eq!(asked, vec![1, 2]);
        assert_eq!(
            r,
            Err(Exhausted {
                reason: format!("{}: connection refused by 2", url(2))
            })
        );
        assert_eq!((up(&m, 1), up(&m, 2)), (0, 0));
        assert_eq!(events(&m, "directory_server_down"), 2);
        assert_eq!(forest_up(&m), 0);
        assert_eq!(failovers(&m), 0, "nobody answered: no failover");
    }

    #[tokio::test]
    async fn a_real_failure_is_reported_rather_than_a_later_skip() {
        let (s, _, _) = servers(2, Duration::from_secs(60));
        // Server 2 fails and backs off.
        let (_, asked) = run(Failover::SERVERS_ONLY, &s, |p| match p {
            1 => Attempt::Declined("LDAP result 53 unwilling".into()),
            _ => failed(p),
        })
        .await;
        assert_eq!(asked, vec![1, 2]);
        // Server 1 fails, server 2 is skipped: the failure is what is reported.
        let (r, asked) = run(Failover::SERVERS_ONLY, &s, failed).await;
        assert_eq!(asked, vec![1]);
        assert_eq!(
            r.map_err(|e| e.reason),
            Err(format!("{}: connection refused by 1", url(1)))
        );
        // Every server in backoff: the last skip is what there is to report.
        let (r, asked) = run(Failover::SERVERS_ONLY, &s, failed).await;
        assert!(asked.is_empty());
        assert_eq!(
            r.map_err(|e| e.reason),
            Err(format!(
                "{} failed recently; retrying after backoff",
                url(2)
            ))
        );
        let (r, _) = run(Failover::SERVERS_ONLY, &[], failed).await;
        assert_eq!(r.map_err(|e| e.reason), Err("no server configured".into()));
    }

    #[tokio::test]
    async fn invalid_credentials_are_an_answer_never_a_failover() {
        // A password bind's LDAP result 49 is classified as an answer (`bind_pool::bind_attempt`,
        // tested with real binds in `ldap/tests.rs`): the DC is up and the next DC is never
        // asked.
        let (s, m, _) = servers(2, Duration::from_secs(60));
        let (r, asked) = run(Failover::SERVERS_ONLY, &s, |_| {
            Attempt::Answer("49 invalid credentials")
        })
        .await;
        assert_eq!(r, Ok("49 invalid credentials"));
        assert_eq!(asked, vec![1]);
        assert_eq!(up(&m, 1), 1);
        assert_eq!(events(&m, "directory_server_down"), 0);
    }

    #[tokio::test]
    async fn a_failover_is_counted_once_per_operation_from_the_first_failure() {
        let (s, m, e) = servers(3, Duration::from_secs(60));
        let policy = Failover::reporting_forest(FOREST, &m.directory, &e);
        let (r, asked) = run(policy, &s, |p| match p {
            3 => Attempt::Answer("entries"),
            _ => failed(p),
        })
        .await;
        assert_eq!((r, asked), (Ok("entries"), vec![1, 2, 3]));
        assert_eq!(failovers(&m), 1, "two servers failed, one failover");
        assert_eq!(events(&m, "global_catalog_failover"), 1);
        assert_eq!(forest_up(&m), 1);
        // Skipping the servers in backoff is not a new failover.
        let (r, asked) = run(policy, &s, |_| Attempt::Answer("entries")).await;
        assert_eq!((r, asked), (Ok("entries"), vec![3]));
        assert_eq!(failovers(&m), 1);
        assert_eq!(events(&m, "global_catalog_failover"), 1);
    }

    #[tokio::test]
    async fn a_refusal_after_a_failure_is_an_answer_and_a_failover() {
        let (s, m, e) = servers(2, Duration::from_secs(60));
        let policy = Failover::reporting_forest(FOREST, &m.directory, &e);
        let (r, _) = run(policy, &s, |p| match p {
            1 => failed(p),
            _ => Attempt::Answer("LDAP result 50 insufficient access"),
        })
        .await;
        assert_eq!(r, Ok("LDAP result 50 insufficient access"));
        assert_eq!(failovers(&m), 1);
        assert_eq!(forest_up(&m), 1);
    }

    #[tokio::test]
    async fn declined_busy_and_settled_attempts() {
        let (s, m, _) = servers(3, Duration::from_secs(60));
        // Declined: up, next server; busy: health unknown, next server.
        let (r, asked) = run(Failover::SERVERS_ONLY, &s, |p| match p {
            1 => Attempt::Declined("LDAP result 53 unwilling".into()),
            2 => Attempt::Busy("no bind slot within 2s".into()),
            _ => Attempt::Settled("queue full"),
        })
        .await;
        assert_eq!(r, Ok("queue full"));
        assert_eq!(asked, vec![1, 2, 3]);
        assert_eq!(up(&m, 1), 1);
        assert_eq!(events(&m, "directory_server_down"), 0);
        assert!(s.iter().all(|s| !s.backing_off()), "nobody marked down");
        assert_eq!(events(&m, "directory_server_up"), 0, "nobody was down");
        let (r, _) = run(Failover::SERVERS_ONLY, &s, |p| match p {
            1 => Attempt::Declined("LDAP result 53 unwilling".into()),
            _ => Attempt::Busy("no bind slot within 2s".into()),
        })
        .await;
        assert_eq!(
            r.map_err(|e| e.reason),
            Err(format!("{}: no bind slot within 2s", url(3)))
        );
    }
}
