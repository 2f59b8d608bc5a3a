//! What an operator scrapes: the gateway's metrics, served at `GET /metrics` in the
//! OpenMetrics text format (which Prometheus reads natively).
//!
//! One process-wide set, recorded where things happen: requests by the HTTP layer
//! ([`crate::http::observe`]), connections by [`crate::http::connections`], decisions by the
//! guard, policy calls and their failures by the WebAssembly host, swaps by the policy in
//! force. What is a state rather than an event (the version in force, the database pool) is
//! read when scraped.
//!
//! | metric | labels |
//! |---|---|
//! | `fieldguard_http_requests_total` | `route`, `operation`, `status` |
//! | `fieldguard_http_request_duration_seconds` | `route`, `operation` |
//! | `fieldguard_http_connections_open` | |
//! | `fieldguard_policy_decisions_total` | `kind` (field, action, visibility), `type`, `name`, `outcome` |
//! | `fieldguard_policy_call_duration_seconds` | `call` (decide, filter, resolve, instantiate) |
//! | `fieldguard_policy_failures_total` | `kind` (trap, timeout, malformed, overloaded, instantiate) |
//! | `fieldguard_policy_swaps_total` | |
//! | `fieldguard_policy_active` | `name`, `hash` (1 for the version in force) |
//! | `fieldguard_db_pool_connections` | `state` (idle, in_use) |
//! | `fieldguard_db_pool_max_connections` | |

use std::sync::OnceLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use rustc_hash::FxHashMap;

/// The content type of [`render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    operation: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    kind: &'static str,
    r#type: &'static str,
    name: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    call: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    name: String,
    hash: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: &'static str,
}

/// Every metric of the process.
struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    connections: Gauge,
    decisions: Family<DecisionLabels, Counter>,
    calls: Family<CallLabels, Histogram>,
    failures: Family<KindLabels, Counter>,
    swaps: Counter,
    active: Family<VersionLabels, Gauge>,
    pool: Family<PoolLabels, Gauge>,
    pool_max: Gauge,
}

fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let mut registry = Registry::default();
        let requests = Family::default();
        registry.register(
            "fieldguard_http_requests",
            "HTTP requests answered, by route, GraphQL operation type and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_5, 2.0, 16))
        });
        registry.register(
            "fieldguard_http_request_duration_seconds",
            "How long requests took to answer, by route and GraphQL operation type",
            latency.clone(),
        );
        let connections = Gauge::default();
        registry.register(
            "fieldguard_http_connections_open",
            "Client connections open",
            connections.clone(),
        );
        let decisions = Family::default();
        registry.register(
            "fieldguard_policy_decisions",
            "Decisions the policy made (memoized ones counted once per request), by kind, type, \
             field or action, and outcome",
            decisions.clone(),
        );
        let calls = Family::<CallLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_001, 4.0, 12))
        });
        registry.register(
            "fieldguard_policy_call_duration_seconds",
            "How long each call into the policy took",
            calls.clone(),
        );
        let failures = Family::default();
        registry.register(
            "fieldguard_policy_failures",
            "Policy calls that failed and so denied: traps, timeouts, malformed answers, calls \
             not made because the version's slow lane was full, instances that did not start",
            failures.clone(),
        );
        let swaps = Counter::default();
        registry.register(
            "fieldguard_policy_swaps",
            "Times a policy version was put in force while serving",
            swaps.clone(),
        );
        let active = Family::default();
        registry.register(
            "fieldguard_policy_active",
            "The policy version in force (1), by name and hash",
            active.clone(),
        );
        let pool = Family::default();
        registry.register(
            "fieldguard_db_pool_connections",
            "Database connections of the pool, idle or in use",
            pool.clone(),
        );
        let pool_max = Gauge::default();
        registry.register(
            "fieldguard_db_pool_max_connections",
            "The most connections the database pool opens",
            pool_max.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            connections,
            decisions,
            calls,
            failures,
            swaps,
            active,
            pool,
            pool_max,
        }
    })
}

/// Records an answered request.
pub fn request(route: &'static str, operation: &'static str, status: u16, took: Duration) {
    let metrics = metrics();
    metrics.requests.get_or_create(&RequestLabels { route, operation, status }).inc();
    metrics.latency.get_or_create(&RouteLabels { route, operation }).observe(took.as_secs_f64());
}

/// Records a connection opened (`1`) or closed (`-1`).
pub fn connections(change: i64) {
    metrics().connections.inc_by(change);
}

/// Decisions to count, gathered over one batch so that each distinct label set is looked up
/// once.
#[derive(Default)]
pub struct Decisions<'a> {
    counts: FxHashMap<(&'static str, &'static str, &'a str, &'static str), u64>,
}

impl<'a> Decisions<'a> {
    /// Counts one decision: `kind` is `field`, `action` or `visibility`.
    pub fn add(
        &mut self,
        kind: &'static str,
        type_name: &'static str,
        name: &'a str,
        outcome: &'static str,
    ) {
        *self.counts.entry((kind, type_name, name, outcome)).or_default() += 1;
    }

    /// Adds them to the metrics.
    pub fn record(self) {
        let metrics = metrics();
        for ((kind, r#type, name, outcome), count) in self.counts {
            let labels = DecisionLabels { kind, r#type, name: name.to_owned(), outcome };
            metrics.decisions.get_or_create(&labels).inc_by(count);
        }
    }
}

/// Records how long a call into the policy took.
pub fn policy_call(call: &'static str, took: Duration) {
    metrics().calls.get_or_create(&CallLabels { call }).observe(took.as_secs_f64());
}

/// Records a policy call that failed: `trap`, `timeout`, `malformed`, `overloaded` or
/// `instantiate`.
pub fn policy_failure(kind: &'static str) {
    metrics().failures.get_or_create(&KindLabels { kind }).inc();
}

/// Records a policy version put in force while serving.
pub fn policy_swapped() {
    metrics().swaps.inc();
}

/// What is read rather than counted, as of a scrape.
pub struct Snapshot<'a> {
    /// The version in force: name and hash.
    pub policy: (&'a str, &'a str),
    /// The database pool: connections open, of them idle, and the most it opens.
    pub pool: Option<(u32, u32, u32)>,
}

/// The metrics as OpenMetrics text, with `snapshot`'s states.
pub fn render(snapshot: &Snapshot<'_>) -> String {
    let metrics = metrics();
    let (name, hash) = snapshot.policy;
    metrics.active.clear();
    metrics.active.get_or_create(&VersionLabels { name: name.into(), hash: hash.into() }).set(1);
    if let Some((size, idle, max)) = snapshot.pool {
        metrics.pool.get_or_create(&PoolLabels { state: "idle" }).set(i64::from(idle));
        metrics
            .pool
            .get_or_create(&PoolLabels { state: "in_use" })
            .set(i64::from(size.saturating_sub(idle)));
        metrics.pool_max.set(i64::from(max));
    }
    let mut text = String::new();
    if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &metrics.registry) {
        tracing::error!(%error, "could not encode the metrics");
    }
    text
}
