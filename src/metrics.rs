//! Prometheus metrics. One struct per component, each registered into a [`Registry`] passed in,
//! so tests and benches can build as many independent instances as they like. Every name has the
//! `altgate_` prefix; label values come from the configuration or from fixed sets, never from
//! user input.

use prometheus::core::Collector;
use prometheus::{
    exponential_buckets, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGauge, IntGaugeVec, Opts, Registry,
};

/// One metric as the code registers it: the source of the metrics catalogue (docs/metrics.md is
/// checked against it by a test).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricInfo {
    /// Full name.
    pub name: String,
    /// counter, gauge or histogram.
    pub kind: &'static str,
    /// Label names.
    pub labels: Vec<String>,
    /// Help text.
    pub help: String,
}

/// A registry that also records what is registered into it.
pub struct Reg<'a> {
    registry: &'a Registry,
    catalogue: std::cell::RefCell<Vec<MetricInfo>>,
}

impl Reg<'_> {
    fn add(&self, c: impl Collector + 'static, kind: &'static str) -> prometheus::Result<()> {
        for d in c.desc() {
            self.catalogue.borrow_mut().push(MetricInfo {
                name: d.fq_name.clone(),
                kind,
                labels: d.variable_labels.clone(),
                help: d.help.clone(),
            });
        }
        self.registry.register(Box::new(c))
    }
}

/// Latency buckets from 0.5 ms to ~16 s.
fn latency_buckets() -> Vec<f64> {
    exponential_buckets(0.0005, 2.0, 16).unwrap_or_else(|_| vec![0.001, 0.01, 0.1, 1.0, 10.0])
}

fn counter_vec(
    r: &Reg<'_>,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntCounterVec> {
    let c = IntCounterVec::new(Opts::new(name, help), labels)?;
    r.add(c.clone(), "counter")?;
    Ok(c)
}

fn gauge_vec(
    r: &Reg<'_>,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntGaugeVec> {
    let g = IntGaugeVec::new(Opts::new(name, help), labels)?;
    r.add(g.clone(), "gauge")?;
    Ok(g)
}

fn histogram_vec(
    r: &Reg<'_>,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<HistogramVec> {
    let h = HistogramVec::new(
        HistogramOpts::new(name, help).buckets(latency_buckets()),
        labels,
    )?;
    r.add(h.clone(), "histogram")?;
    Ok(h)
}

/// Directory (LDAP) connections and searches.
#[derive(Clone)]
pub struct DirectoryMetrics {
    /// `altgate_directory_search_duration_seconds{forest,query}`: one forest's answer to one
    /// query, failover included ("Average Search Latency for Alternate Login ID");
    /// `query="account_state"` is the SSO session's fresh read on a domain controller,
    /// `domain_attributes` the resolution's read of the non-GC attributes (consistency GUID) and
    /// `password_expiry` the password sign-in's expiry read, both on a DC of the account's domain.
    pub search_duration: HistogramVec,
    /// `altgate_directory_searches_total{forest,query,result}`: result is ok, not_found (account
    /// state only) or the directory error's code.
    pub searches: IntCounterVec,
    /// `altgate_forest_up{forest}`: 1 when the forest's last search was answered.
    pub forest_up: IntGaugeVec,
    /// `altgate_directory_server_up{forest,server}`: 1 when the server's last attempt succeeded.
    pub server_up: IntGaugeVec,
    /// `altgate_directory_failovers_total{forest}`: searches that tried a server, saw it fail and
    /// were answered by a later one (skipping a server in backoff does not count again).
    pub failovers: IntCounterVec,
    /// `altgate_ldap_connects_total{forest,server,result}`: connection attempts (TLS + service
    /// bind); result is ok or error. Every ok after the first per slot is a reconnect.
    pub connects: IntCounterVec,
    /// `altgate_ldap_pool_connections{forest,server}`: open pooled connections.
    pub pool_connections: IntGaugeVec,
    /// `altgate_ldap_pool_size{forest,server}`: configured connections per server.
    pub pool_size: IntGaugeVec,
    /// `altgate_ldap_operations_in_flight{forest,server}`: operations awaiting an answer.
    pub in_flight: IntGaugeVec,
    /// `altgate_ldap_pool_waits_total{forest,server}`: binds that waited for a free connection.
    pub pool_waits: IntCounterVec,
    /// `altgate_directory_bind_queue_wait_seconds{forest,server}`: how long each password bind
    /// waited for a slot on its domain controller (0 when one was free).
    pub bind_queue_wait: HistogramVec,
    /// `altgate_directory_bind_queue_timeouts_total{forest,server}`: password binds refused
    /// because no slot on the domain controller freed up within `bind_queue_timeout`.
    pub bind_queue_timeouts: IntCounterVec,
    /// `altgate_bind_duration_seconds{domain}`: password binds, failover included.
    pub bind_duration: HistogramVec,
    /// `altgate_binds_total{domain,result}`: ok, a rejection reason, unavailable or
    /// bind_queue_full.
    pub binds: IntCounterVec,
}

impl DirectoryMetrics {
    /// Registers the directory metrics.
    pub fn register(r: &Reg<'_>) -> prometheus::Result<Self> {
        Ok(DirectoryMetrics {
            search_duration: histogram_vec(
                r,
                "altgate_directory_search_duration_seconds",
                "Time for one forest to answer one account search, failover included.",
                &["forest", "query"],
            )?,
            searches: counter_vec(
                r,
                "altgate_directory_searches_total",
                "Account searches per forest by query kind and result.",
                &["forest", "query", "result"],
            )?,
            forest_up: gauge_vec(
                r,
                "altgate_forest_up",
                "1 when the forest's global catalogs answered the last search.",
                &["forest"],
            )?,
            server_up: gauge_vec(
                r,
                "altgate_directory_server_up",
                "1 when the last connection or operation on this LDAP server succeeded.",
                &["forest", "server"],
            )?,
            failovers: counter_vec(
                r,
                "altgate_directory_failovers_total",
                "Searches that had to move on to the next global catalog of the forest.",
                &["forest"],
            )?,
            connects: counter_vec(
                r,
                "altgate_ldap_connects_total",
                "LDAPS connection attempts (TCP, TLS, service bind) by result.",
                &["forest", "server", "result"],
            )?,
            pool_connections: gauge_vec(
                r,
                "altgate_ldap_pool_connections",
                "Open pooled LDAPS connections.",
                &["forest", "server"],
            )?,
            pool_size: gauge_vec(
                r,
                "altgate_ldap_pool_size",
                "Configured pooled connections per LDAP server.",
                &["forest", "server"],
            )?,
            in_flight: gauge_vec(
                r,
                "altgate_ldap_operations_in_flight",
                "LDAP operations (searches and binds) sent and not yet answered: connections in use.",
                &["forest", "server"],
            )?,
            pool_waits: counter_vec(
                r,
                "altgate_ldap_pool_waits_total",
                "Password binds that waited for a free pooled connection.",
                &["forest", "server"],
            )?,
            bind_queue_wait: histogram_vec(
                r,
                "altgate_directory_bind_queue_wait_seconds",
                "Time a password bind waited for a free slot on its domain controller.",
                &["forest", "server"],
            )?,
            bind_queue_timeouts: counter_vec(
                r,
                "altgate_directory_bind_queue_timeouts_total",
                "Password binds refused because the domain controller's slots stayed busy past bind_queue_timeout.",
                &["forest", "server"],
            )?,
            bind_duration: histogram_vec(
                r,
                "altgate_bind_duration_seconds",
                "Password bind time per domain, failover included.",
                &["domain"],
            )?,
            binds: counter_vec(
                r,
                "altgate_binds_total",
                "Password binds per domain by result (ok, AD's refusal reason, unavailable, bind_queue_full).",
                &["domain", "result"],
            )?,
        })
    }

    /// One forest's answer to one `query` (search kind, or `account_state`,
    /// `domain_attributes`, `password_expiry`) took `secs`.
    pub fn observe_search(&self, forest: &str, query: &str, secs: f64) {
        self.search_duration
            .with_label_values(&[forest, query])
            .observe(secs);
    }

    /// One search of `query` in `forest` ended with `result` (ok or an error code).
    pub fn count_search(&self, forest: &str, query: &str, result: &str) {
        self.searches
            .with_label_values(&[forest, query, result])
            .inc();
    }

    /// Whether `forest`'s global catalogs answered the last search.
    pub fn set_forest_up(&self, forest: &str, up: bool) {
        self.forest_up
            .with_label_values(&[forest])
            .set(i64::from(up));
    }

    /// A search of `forest` was answered by a later server after an earlier one failed.
    pub fn count_failover(&self, forest: &str) {
        self.failovers.with_label_values(&[forest]).inc();
    }

    /// Whether the last attempt on `server` of `forest` succeeded.
    pub fn set_server_up(&self, forest: &str, server: &str, up: bool) {
        self.server_up
            .with_label_values(&[forest, server])
            .set(i64::from(up));
    }

    /// A connection attempt to `server` ended with `result` (ok or error).
    pub fn count_connect(&self, forest: &str, server: &str, result: &str) {
        self.connects
            .with_label_values(&[forest, server, result])
            .inc();
    }

    /// The gauge of open pooled connections to `server`.
    pub fn pool_connections(&self, forest: &str, server: &str) -> IntGauge {
        self.pool_connections.with_label_values(&[forest, server])
    }

    /// Records `server`'s configured pool size.
    pub fn set_pool_size(&self, forest: &str, server: &str, size: usize) {
        self.pool_size
            .with_label_values(&[forest, server])
            .set(i64::try_from(size).unwrap_or(i64::MAX));
    }

    /// The gauge of operations awaiting an answer from `server`.
    pub fn in_flight(&self, forest: &str, server: &str) -> IntGauge {
        self.in_flight.with_label_values(&[forest, server])
    }

    /// A password bind on `server` waited for a free connection.
    pub fn count_pool_wait(&self, forest: &str, server: &str) {
        self.pool_waits.with_label_values(&[forest, server]).inc();
    }

    /// The histogram of how long password binds on `server` waited for a slot.
    pub fn bind_queue_wait(&self, forest: &str, server: &str) -> Histogram {
        self.bind_queue_wait.with_label_values(&[forest, server])
    }

    /// A password bind on `server` found no slot within `bind_queue_timeout`.
    pub fn count_bind_queue_timeout(&self, forest: &str, server: &str) {
        self.bind_queue_timeouts
            .with_label_values(&[forest, server])
            .inc();
    }

    /// A password bind in `domain` (failover included) took `secs`.
    pub fn observe_bind(&self, domain: &str, secs: f64) {
        self.bind_duration
            .with_label_values(&[domain])
            .observe(secs);
    }

    /// A password bind in `domain` ended with `result`.
    pub fn count_bind(&self, domain: &str, result: &str) {
        self.binds.with_label_values(&[domain, result]).inc();
    }
}

/// Login resolution outcomes.
#[derive(Clone)]
pub struct ResolveMetrics {
    /// `altgate_login_resolutions_total{outcome,via}`: every resolution. `via="alternate_login_id"`
    /// with `outcome="resolved"` is AD FS's "Alternate Login Id Authentications" (its rate is
    /// "…/Sec").
    pub resolutions: IntCounterVec,
    /// `altgate_login_resolution_duration_seconds{cache}`: whole resolution, cache hit or miss.
    pub duration: HistogramVec,
    /// `altgate_upn_fallbacks_total{reason}`: reason is no_match or no_forest_answered.
    pub upn_fallbacks: IntCounterVec,
}

impl ResolveMetrics {
    /// Registers the resolution metrics.
    pub fn register(r: &Reg<'_>) -> prometheus::Result<Self> {
        Ok(ResolveMetrics {
            resolutions: counter_vec(
                r,
                "altgate_login_resolutions_total",
                "Login resolutions by outcome and by the rule that found the account.",
                &["outcome", "via"],
            )?,
            duration: histogram_vec(
                r,
                "altgate_login_resolution_duration_seconds",
                "Time to resolve a login, by whether the cache answered.",
                &["cache"],
            )?,
            upn_fallbacks: counter_vec(
                r,
                "altgate_upn_fallbacks_total",
                "Resolutions that fell back from the alternate login ID to the UPN, by reason.",
                &["reason"],
            )?,
        })
    }
}

/// The resolution cache.
#[derive(Clone)]
pub struct CacheMetrics {
    /// `altgate_cache_requests_total{result}`: hit or miss.
    pub requests: IntCounterVec,
    /// `altgate_cache_entries`: entries currently held.
    pub entries: IntGauge,
    /// `altgate_cache_evictions_total{cause}`: size (capacity pressure) or expired.
    pub evictions: IntCounterVec,
    /// `altgate_cache_coalesced_total`: lookups that waited for another caller's directory trip.
    pub coalesced: IntCounter,
}

impl CacheMetrics {
    /// Counts one lookup, hit or miss.
    pub fn count_request(&self, hit: bool) {
        self.requests
            .with_label_values(&[if hit { "hit" } else { "miss" }])
            .inc();
    }

    /// Registers the cache metrics.
    pub fn register(r: &Reg<'_>) -> prometheus::Result<Self> {
        let entries = IntGauge::new(
            "altgate_cache_entries",
            "Logins held in the resolution cache.",
        )?;
        r.add(entries.clone(), "gauge")?;
        let coalesced = IntCounter::new(
            "altgate_cache_coalesced_total",
            "Cache misses served by another caller's concurrent directory lookup.",
        )?;
        r.add(coalesced.clone(), "counter")?;
        Ok(CacheMetrics {
            requests: counter_vec(
                r,
                "altgate_cache_requests_total",
                "Resolution cache lookups by result.",
                &["result"],
            )?,
            entries,
            evictions: counter_vec(
                r,
                "altgate_cache_evictions_total",
                "Entries removed from the resolution cache by cause.",
                &["cause"],
            )?,
            coalesced,
        })
    }
}

/// Events (audit and operational) by kind.
#[derive(Clone)]
pub struct EventMetrics {
    /// `altgate_events_total{event,category}`.
    pub events: IntCounterVec,
    /// `altgate_msis_events_total{code}`: AD FS event 364 failures by MSIS code.
    pub msis: IntCounterVec,
    /// `altgate_sign_in_failures_total{reason}`: event 1203 by reason.
    pub sign_in_failures: IntCounterVec,
}

impl EventMetrics {
    /// Registers the event metrics.
    pub fn register(r: &Reg<'_>) -> prometheus::Result<Self> {
        Ok(EventMetrics {
            events: counter_vec(
                r,
                "altgate_events_total",
                "Notable occurrences by event name and category (audit or operational).",
                &["event", "category"],
            )?,
            msis: counter_vec(
                r,
                "altgate_msis_events_total",
                "Sign-in failures logged as AD FS event 364, by MSIS code.",
                &["code"],
            )?,
            sign_in_failures: counter_vec(
                r,
                "altgate_sign_in_failures_total",
                "Password sign-ins refused (AD FS event 1203), by reason.",
                &["reason"],
            )?,
        })
    }
}

/// Token issuance.
#[derive(Clone)]
pub struct TokenMetrics {
    /// `altgate_tokens_issued_total{protocol,relying_party}`.
    pub issued: IntCounterVec,
    /// `altgate_token_failures_total{protocol,relying_party,reason}`.
    pub failed: IntCounterVec,
    /// `altgate_token_signing_duration_seconds`: building and signing one assertion.
    pub signing_duration: Histogram,
    /// `altgate_alternate_login_id_authentications_total`: password sign-ins whose login was an
    /// alternate login ID (AD FS "Alternate Login Id Authentications"; `rate()` gives "/Sec").
    pub alternate_login_id_authentications: IntCounter,
    /// `altgate_token_signing_certificate_expiry_timestamp_seconds{certificate}`: current, next.
    pub certificate_expiry: IntGaugeVec,
}

impl TokenMetrics {
    /// Counts one issued token.
    pub fn count_issued(&self, protocol: &str, relying_party: &str) {
        self.issued
            .with_label_values(&[protocol, relying_party])
            .inc();
    }

    /// Counts one failed token request with its stable reason code.
    pub fn count_failed(&self, protocol: &str, relying_party: &str, reason: &str) {
        self.failed
            .with_label_values(&[protocol, relying_party, reason])
            .inc();
    }

    /// Registers the token metrics.
    pub fn register(r: &Reg<'_>) -> prometheus::Result<Self> {
        let signing_duration = Histogram::with_opts(
            HistogramOpts::new(
                "altgate_token_signing_duration_seconds",
                "Time to build and sign one assertion.",
            )
            .buckets(latency_buckets()),
        )?;
        r.add(signing_duration.clone(), "histogram")?;
        let alt = IntCounter::new(
            "altgate_alternate_login_id_authentications_total",
            "Password sign-ins that used an alternate login ID (AD FS Alternate Login Id Authentications).",
        )?;
        r.add(alt.clone(), "counter")?;
        Ok(TokenMetrics {
            issued: counter_vec(
                r,
                "altgate_tokens_issued_total",
                "Tokens issued by protocol and relying party.",
                &["protocol", "relying_party"],
            )?,
            failed: counter_vec(
                r,
                "altgate_token_failures_total",
                "Token requests refused by protocol, relying party and reason.",
                &["protocol", "relying_party", "reason"],
            )?,
            signing_duration,
            alternate_login_id_authentications: alt,
            certificate_expiry: gauge_vec(
                r,
                "altgate_token_signing_certificate_expiry_timestamp_seconds",
                "Expiry (Unix time) of the token-signing certificates.",
                &["certificate"],
            )?,
        })
    }
}

/// Browser sign-in (`/adfs/ls/`) and SSO sessions.
#[derive(Clone)]
pub struct PassiveMetrics {
    /// `altgate_passive_requests_total{protocol,outcome}`: protocol wsfed, saml or
    /// idp_initiated; outcome token, sso_token, sign_in_page, no_passive, refused, signed_out.
    pub requests: IntCounterVec,
    /// `altgate_sso_sessions_total{result}`: created, reused, expired, invalid, mismatch,
    /// revoked, state_unavailable, account_disabled, password_changed, account_missing,
    /// directory_unavailable.
    pub sessions: IntCounterVec,
}

impl PassiveMetrics {
    /// Counts one `/adfs/ls/` request of `protocol` by how it ended.
    pub fn count_request(&self, protocol: &str, outcome: &str) {
        self.requests.with_label_values(&[protocol, outcome]).inc();
    }

    /// Counts an SSO session event (created, reused, or why one was not used).
    pub fn count_session(&self, result: &str) {
        self.sessions.with_label_values(&[result]).inc();
    }

    /// Registers the passive metrics.
    pub fn register(r: &Reg<'_>) -> prometheus::Result<Self> {
        Ok(PassiveMetrics {
            requests: counter_vec(
                r,
                "altgate_passive_requests_total",
                "Browser sign-in requests at /adfs/ls/ by protocol and outcome.",
                &["protocol", "outcome"],
            )?,
            sessions: counter_vec(
                r,
                "altgate_sso_sessions_total",
                "SSO session cookies by what happened to them.",
                &["result"],
            )?,
        })
    }
}

/// HTTP requests.
#[derive(Clone)]
pub struct HttpMetrics {
    /// `altgate_http_requests_total{endpoint,status}`.
    pub requests: IntCounterVec,
    /// `altgate_http_request_duration_seconds{endpoint}`.
    pub duration: HistogramVec,
    /// `altgate_http_open_connections`: client connections open on the public listener.
    pub open_connections: IntGauge,
    /// `altgate_http_connections_refused_total{reason}`: connections closed at accept because
    /// a cap was reached.
    pub connections_refused: IntCounterVec,
}

impl HttpMetrics {
    /// Counts one answered request at `endpoint` that started at `start`.
    pub fn count(
        &self,
        endpoint: &str,
        res: &hyper::Response<http_body_util::Full<bytes::Bytes>>,
        start: tokio::time::Instant,
    ) {
        self.requests
            .with_label_values(&[endpoint, res.status().as_str()])
            .inc();
        self.duration
            .with_label_values(&[endpoint])
            .observe(start.elapsed().as_secs_f64());
    }

    /// Counts a connection refused at accept (`max_connections`, `max_connections_per_ip`).
    pub fn count_refused_connection(&self, reason: &str) {
        self.connections_refused.with_label_values(&[reason]).inc();
    }

    /// Registers the HTTP metrics.
    pub fn register(r: &Reg<'_>) -> prometheus::Result<Self> {
        let open_connections = IntGauge::new(
            "altgate_http_open_connections",
            "Client connections open on the public listener.",
        )?;
        r.add(open_connections.clone(), "gauge")?;
        Ok(HttpMetrics {
            open_connections,
            connections_refused: counter_vec(
                r,
                "altgate_http_connections_refused_total",
                "Connections closed at accept because a connection cap was reached.",
                &["reason"],
            )?,
            requests: counter_vec(
                r,
                "altgate_http_requests_total",
                "HTTP requests by endpoint and status code.",
                &["endpoint", "status"],
            )?,
            duration: histogram_vec(
                r,
                "altgate_http_request_duration_seconds",
                "HTTP request handling time by endpoint.",
                &["endpoint"],
            )?,
        })
    }
}

/// The farm-wide state store (`state:`), every backend.
#[derive(Clone)]
pub struct StateMetrics {
    /// `altgate_state_operation_duration_seconds{op}`: op is attempt, succeeded, not_counted,
    /// status, reset, first_use, revoke, is_revoked or ping.
    pub duration: HistogramVec,
    /// `altgate_state_errors_total{op}`: operations that failed (timeout, unreachable, bad
    /// answer).
    pub errors: IntCounterVec,
}

impl StateMetrics {
    /// Registers the state store metrics.
    pub fn register(r: &Reg<'_>) -> prometheus::Result<Self> {
        Ok(StateMetrics {
            duration: histogram_vec(
                r,
                "altgate_state_operation_duration_seconds",
                "State store operation time by operation, failures included.",
                &["op"],
            )?,
            errors: counter_vec(
                r,
                "altgate_state_errors_total",
                "State store operations that failed, by operation.",
                &["op"],
            )?,
        })
    }
}

/// Extranet (smart) lockout decisions.
#[derive(Clone)]
pub struct LockoutMetrics {
    /// `altgate_lockout_decisions_total{mode,class,decision}`: mode log_only or enforce; class
    /// familiar, unfamiliar, unknown (the state store failed) or source_ip (the per-IP failure
    /// budget); decision allow, probe, refuse, would_refuse, fail_open or fail_closed.
    pub decisions: IntCounterVec,
}

impl LockoutMetrics {
    /// Registers the lockout metrics.
    pub fn register(r: &Reg<'_>) -> prometheus::Result<Self> {
        Ok(LockoutMetrics {
            decisions: counter_vec(
                r,
                "altgate_lockout_decisions_total",
                "Extranet lockout decisions by mode, location class and decision.",
                &["mode", "class", "decision"],
            )?,
        })
    }
}

/// Every component's metrics, registered into one registry.
#[derive(Clone)]
pub struct Metrics {
    /// The registry `/metrics` renders.
    pub registry: Registry,
    /// Directory connections and searches.
    pub directory: DirectoryMetrics,
    /// Resolution outcomes.
    pub resolve: ResolveMetrics,
    /// Resolution cache.
    pub cache: CacheMetrics,
    /// Events.
    pub events: EventMetrics,
    /// HTTP.
    pub http: HttpMetrics,
    /// Tokens.
    pub tokens: TokenMetrics,
    /// Browser sign-in.
    pub passive: PassiveMetrics,
    /// State store.
    pub state: StateMetrics,
    /// Extranet lockout.
    pub lockout: LockoutMetrics,
    /// Every metric registered, in registration order.
    pub catalogue: Vec<MetricInfo>,
}

impl Metrics {
    /// Registers every component's metrics and `altgate_build_info` into `registry`.
    pub fn new(registry: Registry) -> prometheus::Result<Self> {
        let build = IntGaugeVec::new(
            Opts::new("altgate_build_info", "Always 1; labels carry the build."),
            &["version", "commit"],
        )?;
        build
            .with_label_values(&[
                env!("CARGO_PKG_VERSION"),
                option_env!("ALTGATE_GIT_COMMIT").unwrap_or("unknown"),
            ])
            .set(1);
        let r = Reg {
            registry: &registry,
            catalogue: std::cell::RefCell::new(Vec::new()),
        };
        r.add(build, "gauge")?;
        let directory = DirectoryMetrics::register(&r)?;
        let resolve = ResolveMetrics::register(&r)?;
        let cache = CacheMetrics::register(&r)?;
        let events = EventMetrics::register(&r)?;
        let http = HttpMetrics::register(&r)?;
        let tokens = TokenMetrics::register(&r)?;
        let passive = PassiveMetrics::register(&r)?;
        let state = StateMetrics::register(&r)?;
        let lockout = LockoutMetrics::register(&r)?;
        let catalogue = r.catalogue.into_inner();
        Ok(Metrics {
            directory,
            resolve,
            cache,
            events,
            http,
            tokens,
            passive,
            state,
            lockout,
            catalogue,
            registry,
        })
    }

    /// A fresh registry with every metric (tests, benches, the CLI).
    pub fn standalone() -> prometheus::Result<Self> {
        Metrics::new(Registry::new())
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let encoder = prometheus::TextEncoder::new();
        // Encoding into a String only fails on invalid metric families, which registration
        // already refused; an empty page is the safe answer if it ever did.
        let _ = encoder.encode_utf8(&self.registry.gather(), &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_metrics_register_once_and_render() {
        let m = Metrics::standalone().expect("register");
        m.cache.requests.with_label_values(&["hit"]).inc();
        let text = m.render();
        assert!(text.contains("altgate_build_info{"));
        assert!(text.contains("altgate_cache_requests_total{result=\"hit\"} 1"));
        for line in text.lines().filter(|l| l.starts_with("# TYPE")) {
            let name = line.split_whitespace().nth(2).unwrap_or("");
            assert!(name.starts_with("altgate_"), "{name}");
        }
    }
}

#[cfg(test)]
mod catalogue_tests {
    use super::*;

    /// The first three columns of docs/metrics.md: name, type, label names.
    fn documented() -> Vec<(String, String, Vec<String>)> {
        let text = std::fs::read_to_string("docs/metrics.md").expect("docs/metrics.md");
        text.lines()
            .filter(|l| l.starts_with("| `altgate_"))
            .map(|l| {
                let cols: Vec<&str> = l.split('|').map(str::trim).collect();
                let name = cols.get(1).unwrap_or(&"").trim_matches('`').to_string();
                let kind = cols.get(2).unwrap_or(&"").to_string();
                let labels = cols
                    .get(3)
                    .unwrap_or(&"")
                    .split(',')
                    .map(|s| s.trim().trim_matches('`').to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                (name, kind, labels)
            })
            .collect()
    }

    #[test]
    fn catalogue_matches_docs() {
        let m = Metrics::standalone().expect("metrics");
        let mut code: Vec<(String, String, Vec<String>)> = m
            .catalogue
            .iter()
            .map(|i| (i.name.clone(), i.kind.to_string(), i.labels.clone()))
            .collect();
        let mut docs = documented();
        code.sort();
        docs.sort();
        assert_eq!(
            code, docs,
            "docs/metrics.md and the registered metrics differ"
        );
    }

    #[test]
    fn names_follow_prometheus_conventions() {
        let m = Metrics::standalone().expect("metrics");
        for i in &m.catalogue {
            assert!(i.name.starts_with("altgate_"), "{}", i.name);
            match i.kind {
                "counter" => assert!(i.name.ends_with("_total"), "{}", i.name),
                "histogram" => assert!(i.name.ends_with("_seconds"), "{}", i.name),
                _ => assert!(!i.name.ends_with("_total"), "{}", i.name),
            }
            assert!(!i.help.is_empty());
        }
    }
}
