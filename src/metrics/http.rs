//! The public listener: requests by endpoint and status, connections.

use super::{counter_vec, histogram_vec, other, vocabulary, Reg};
use crate::label::{kinds, Id};
use prometheus::{HistogramVec, IntCounterVec, IntGauge};

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
    /// `altgate_http_connections_evicted_total{reason}`: idle connections closed to make room
    /// for a new one at a cap.
    pub connections_evicted: IntCounterVec,
}

impl HttpMetrics {
    /// Counts one answered request at `endpoint` that started at `start`.
    pub fn count(
        &self,
        endpoint: impl Into<Id<kinds::Endpoint>>,
        res: &hyper::Response<http_body_util::Full<bytes::Bytes>>,
        start: tokio::time::Instant,
    ) {
        let endpoint = endpoint.into().as_str();
        self.requests
            .with_label_values(&[endpoint, res.status().as_str()])
            .inc();
        self.duration
            .with_label_values(&[endpoint])
            .observe(start.elapsed().as_secs_f64());
    }

    /// Counts a connection refused at accept (`max_connections`, `max_connections_per_ip`).
    pub fn count_refused_connection(&self, reason: impl Into<Id<kinds::ConnectionRefusal>>) {
        self.connections_refused
            .with_label_values(&[reason.into().as_str()])
            .inc();
    }

    /// Counts an idle connection closed to admit a new one at a cap (`max_connections`,
    /// `max_connections_per_ip`).
    pub fn count_evicted_connection(&self, reason: impl Into<Id<kinds::ConnectionEviction>>) {
        self.connections_evicted
            .with_label_values(&[reason.into().as_str()])
            .inc();
    }

    /// Registers the HTTP metrics.
    pub fn register(r: &Reg<'_>) -> prometheus::Result<Self> {
        let open_connections = IntGauge::new(
            "altgate_http_open_connections",
            "Client connections open on the public listener.",
        )?;
        r.add(open_connections.clone(), "gauge", &[])?;
        Ok(HttpMetrics {
            open_connections,
            connections_refused: counter_vec(
                r,
                "altgate_http_connections_refused_total",
                "Connections closed at accept because a connection cap was reached.",
                &[vocabulary::<kinds::ConnectionRefusal>("reason")],
            )?,
            connections_evicted: counter_vec(
                r,
                "altgate_http_connections_evicted_total",
                "Idle connections closed to make room for a new one at a connection cap.",
                &[vocabulary::<kinds::ConnectionEviction>("reason")],
            )?,
            requests: counter_vec(
                r,
                "altgate_http_requests_total",
                "HTTP requests by endpoint and status code.",
                &[
                    vocabulary::<kinds::Endpoint>("endpoint"),
                    other("status", "HTTP status codes"),
                ],
            )?,
            duration: histogram_vec(
                r,
                "altgate_http_request_duration_seconds",
                "HTTP request handling time by endpoint.",
                &[vocabulary::<kinds::Endpoint>("endpoint")],
            )?,
        })
    }
}
