//! Prometheus metrics. One struct per component, each registered into a [`Registry`] passed in,
//! so tests and benches can build as many independent instances as they like. Every name has the
//! `altgate_` prefix; label values come from the configuration or from fixed sets, never from
//! user input.

mod directory;
mod events;
mod http;
mod protocols;
mod resolve;
mod service;
mod state;

pub use directory::DirectoryMetrics;
pub use events::EventMetrics;
pub use http::HttpMetrics;
pub use protocols::{PassiveMetrics, TokenMetrics};
pub use resolve::{CacheMetrics, ResolveMetrics};
pub use service::ServiceMetrics;
pub use state::{LockoutMetrics, StateMetrics};

use crate::label::Kind;
use prometheus::core::Collector;
use prometheus::{
    exponential_buckets, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
};

/// Where a label's values come from: the configuration, a typed vocabulary
/// ([`crate::label`]), or another bounded set. Never user input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Values {
    /// Taken from the configuration (forests, servers, domains, relying parties): which.
    Configured(&'static str),
    /// The values of one label family ([`crate::label::Kind::NAME`]).
    Vocabulary(&'static str),
    /// Another bounded set, in words (HTTP status codes, the build).
    Other(&'static str),
}

/// One label of a metric: its name and where its values come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelSpec {
    /// The label's name.
    pub name: &'static str,
    /// Its values.
    pub values: Values,
}

/// A label whose values come from the configuration (`what`: "configured forests").
pub const fn configured(name: &'static str, what: &'static str) -> LabelSpec {
    LabelSpec {
        name,
        values: Values::Configured(what),
    }
}

/// A label whose values are the vocabulary of family `K`.
pub const fn vocabulary<K: Kind>(name: &'static str) -> LabelSpec {
    LabelSpec {
        name,
        values: Values::Vocabulary(K::NAME),
    }
}

/// A label with another bounded set of values, described by `what`.
pub const fn other(name: &'static str, what: &'static str) -> LabelSpec {
    LabelSpec {
        name,
        values: Values::Other(what),
    }
}

/// One metric as the code registers it: the source of the metrics catalogue (docs/metrics.md is
/// checked against it by a test, label values included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricInfo {
    /// Full name.
    pub name: String,
    /// counter, gauge or histogram.
    pub kind: &'static str,
    /// Labels, in order.
    pub labels: Vec<LabelSpec>,
    /// Help text.
    pub help: String,
}

impl MetricInfo {
    /// The label values as `docs/metrics.md` lists them: `` `label`: source `` per label, a
    /// vocabulary as a link to its table.
    pub fn values_cell(&self) -> String {
        self.labels
            .iter()
            .map(|l| match l.values {
                Values::Configured(what) | Values::Other(what) => {
                    format!("`{}`: {what}", l.name)
                }
                Values::Vocabulary(k) => format!("`{}`: [{k}](#{k})", l.name),
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// A registry that also records what is registered into it.
pub struct Reg<'a> {
    registry: &'a Registry,
    catalogue: std::cell::RefCell<Vec<MetricInfo>>,
}

impl Reg<'_> {
    pub(crate) fn add(
        &self,
        c: impl Collector + 'static,
        kind: &'static str,
        labels: &[LabelSpec],
    ) -> prometheus::Result<()> {
        for d in c.desc() {
            self.catalogue.borrow_mut().push(MetricInfo {
                name: d.fq_name.clone(),
                kind,
                labels: labels.to_vec(),
                help: d.help.clone(),
            });
        }
        self.registry.register(Box::new(c))
    }
}

fn names(labels: &[LabelSpec]) -> Vec<&'static str> {
    labels.iter().map(|l| l.name).collect()
}

/// Latency buckets from 0.5 ms to ~16 s.
pub(crate) fn latency_buckets() -> Vec<f64> {
    exponential_buckets(0.0005, 2.0, 16).unwrap_or_else(|_| vec![0.001, 0.01, 0.1, 1.0, 10.0])
}

pub(crate) fn counter_vec(
    r: &Reg<'_>,
    name: &str,
    help: &str,
    labels: &[LabelSpec],
) -> prometheus::Result<IntCounterVec> {
    let c = IntCounterVec::new(Opts::new(name, help), &names(labels))?;
    r.add(c.clone(), "counter", labels)?;
    Ok(c)
}

pub(crate) fn gauge_vec(
    r: &Reg<'_>,
    name: &str,
    help: &str,
    labels: &[LabelSpec],
) -> prometheus::Result<IntGaugeVec> {
    let g = IntGaugeVec::new(Opts::new(name, help), &names(labels))?;
    r.add(g.clone(), "gauge", labels)?;
    Ok(g)
}

pub(crate) fn histogram_vec(
    r: &Reg<'_>,
    name: &str,
    help: &str,
    labels: &[LabelSpec],
) -> prometheus::Result<HistogramVec> {
    let h = HistogramVec::new(
        HistogramOpts::new(name, help).buckets(latency_buckets()),
        &names(labels),
    )?;
    r.add(h.clone(), "histogram", labels)?;
    Ok(h)
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
    /// Configuration reloads and TLS certificates.
    pub service: ServiceMetrics,
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
        r.add(
            build,
            "gauge",
            &[
                other("version", "crate version"),
                other("commit", "git commit"),
            ],
        )?;
        let directory = DirectoryMetrics::register(&r)?;
        let resolve = ResolveMetrics::register(&r)?;
        let cache = CacheMetrics::register(&r)?;
        let events = EventMetrics::register(&r)?;
        let http = HttpMetrics::register(&r)?;
        let tokens = TokenMetrics::register(&r)?;
        let passive = PassiveMetrics::register(&r)?;
        let state = StateMetrics::register(&r)?;
        let lockout = LockoutMetrics::register(&r)?;
        let service = ServiceMetrics::register(&r)?;
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
            service,
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
