//! Request counts by route and status, and a latency histogram, served in
//! Prometheus text format at `/metrics`. Each application owns its registry,
//! so tests can run several servers in one process.

use std::{sync::Arc, time::Instant};

use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::Response,
};
use http::Method;
use prometheus::{
    Encoder as _, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

#[derive(Clone, Debug)]
pub struct HttpMetrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    pub db_connections: IntGaugeVec,
    pub webhooks: IntGaugeVec,
}

impl HttpMetrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("patchbay".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests answered, by method, route and status."),
            &["method", "route", "status"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "Time to answer an HTTP request, by method and route.")
                .buckets(vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]),
            &["method", "route"],
        )?;
        let db_connections =
            IntGaugeVec::new(Opts::new("db_pool_connections", "Database pool connections, by state."), &["state"])?;
        let webhooks = IntGaugeVec::new(
            Opts::new(
                "webhook_deliveries",
                "Webhook deliveries this process answered since it started, by outcome: accepted, duplicate, \
                 refused (unknown endpoint or failed verification), refused_unread (too large, wrong type, too many).",
            ),
            &["outcome"],
        )?;
        let build_info = IntGauge::with_opts(
            Opts::new("build_info", "Always 1; labelled with the running version.")
                .const_label("version", env!("CARGO_PKG_VERSION")),
        )?;
        build_info.set(1);
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(db_connections.clone()))?;
        registry.register(Box::new(webhooks.clone()))?;
        registry.register(Box::new(build_info))?;
        Ok(Self { registry, requests, duration, db_connections, webhooks })
    }

    pub fn observe(&self, method: &Method, route: &str, status: u16, seconds: f64) {
        let method = method_label(method);
        self.requests.with_label_values(&[method, route, &status.to_string()]).inc();
        self.duration.with_label_values(&[method, route]).observe(seconds);
    }

    /// The registry in Prometheus text exposition format 0.0.4.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        // Encoding into a Vec cannot fail for the metric types used here.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buffer);
        String::from_utf8(buffer).unwrap_or_default()
    }
}

/// Keeps label cardinality bounded: unusual methods share one label.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Labels a request by its route pattern, never its raw path, so that IDs and
/// probes for random URLs do not create new series.
pub async fn track(State(metrics): State<Arc<HttpMetrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let matched = request.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status();
    let route = match matched {
        Some(route) => route,
        // The fallback serves the site's static files and the 404 page.
        None if status.is_success() || status == http::StatusCode::NOT_MODIFIED => "static".to_owned(),
        None => "unmatched".to_owned(),
    };
    metrics.observe(&method, &route, status.as_u16(), started.elapsed().as_secs_f64());
    response
}
