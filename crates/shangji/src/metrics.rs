//! Prometheus metrics (`GET /metrics`, OpenMetrics text): requests and their latency by route,
//! counted as they are answered; the database pool, the background jobs, the analytics
//! projection's backlog and the outgoing deliveries, read at each scrape.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::ops::health::Gauges;
use crate::state::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    /// The route's pattern (`/api/v1/opportunities/{id}`), `unmatched` for no route.
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NameLabel {
    name: String,
}

type FloatGauge = Gauge<f64, std::sync::atomic::AtomicU64>;

/// The registry and the metrics in it.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    pool: Family<NameLabel, Gauge>,
    backlog: Gauge,
    deliveries: Family<NameLabel, Gauge>,
    job_since_turn: Family<NameLabel, FloatGauge>,
    job_healthy: Family<NameLabel, Gauge>,
    job_turns: Family<NameLabel, Gauge>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("shangji");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route and status",
            requests.clone(),
        );
        // 1 ms … 8 s.
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 14))
        });
        registry.register(
            "http_request_duration_seconds",
            "Time to answer a request, by method and route",
            latency.clone(),
        );
        let pool = Family::<NameLabel, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Database connections: open, idle, max",
            pool.clone(),
        );
        let backlog = Gauge::default();
        registry.register(
            "analytics_projection_backlog",
            "Deals whose analytics projection is not yet up to date",
            backlog.clone(),
        );
        let deliveries = Family::<NameLabel, Gauge>::default();
        registry.register(
            "deliveries",
            "Outgoing notifications (e-mail, webhooks) by status, failed included",
            deliveries.clone(),
        );
        let job_since_turn = Family::<NameLabel, FloatGauge>::default();
        registry.register(
            "job_seconds_since_turn",
            "Seconds since a background job's latest turn began",
            job_since_turn.clone(),
        );
        let job_healthy = Family::<NameLabel, Gauge>::default();
        registry.register(
            "job_healthy",
            "1 while a background job runs as it should",
            job_healthy.clone(),
        );
        let job_turns = Family::<NameLabel, Gauge>::default();
        registry.register(
            "job_turns",
            "Turns a background job has finished since the start",
            job_turns.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            pool,
            backlog,
            deliveries,
            job_since_turn,
            job_healthy,
            job_turns,
        }
    }
}

fn name(n: &str) -> NameLabel {
    NameLabel { name: n.into() }
}

impl Metrics {
    /// The metrics as OpenMetrics text, the scrape's numbers set first.
    pub fn render(&self, g: &Gauges) -> String {
        self.pool
            .get_or_create(&name("open"))
            .set(g.pool.open.into());
        self.pool
            .get_or_create(&name("idle"))
            .set(g.pool.idle.into());
        self.pool.get_or_create(&name("max")).set(g.pool.max.into());
        self.backlog.set(g.projection_backlog);
        // A status no delivery has any more is dropped, not left at its last count.
        self.deliveries.clear();
        for (status, n) in &g.deliveries {
            self.deliveries.get_or_create(&name(status)).set(*n);
        }
        for j in &g.jobs {
            let l = name(&j.name);
            self.job_since_turn
                .get_or_create(&l)
                .set(j.since_turn_seconds.unwrap_or(-1.0));
            self.job_healthy.get_or_create(&l).set(i64::from(j.healthy));
            self.job_turns
                .get_or_create(&l)
                .set(i64::try_from(j.turns).unwrap_or(i64::MAX));
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Counts each request and its time by the route it matched.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let metrics: Arc<Metrics> = state.metrics.clone();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let start = std::time::Instant::now();
    let resp = next.run(req).await;
    metrics
        .latency
        .get_or_create(&RouteLabels {
            method: method.clone(),
            route: route.clone(),
        })
        .observe(start.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&RequestLabels {
            method,
            route,
            status: resp.status().as_u16(),
        })
        .inc();
    resp
}
