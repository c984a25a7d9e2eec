//! Prometheus metrics (prometheus-client), with low-cardinality labels only: endpoint, error
//! code, class of work, plan tier — never a user or a value.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::pool::PoolStats;

// The labels written on every request are static names, so recording one allocates nothing.

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabel {
    pub endpoint: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabel {
    pub endpoint: &'static str,
    pub code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueryLabel {
    pub class: &'static str,
    pub tier: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClassLabel {
    pub class: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    pub state: String,
}

fn latency_histogram() -> Histogram {
    // 100 µs .. ~105 s
    Histogram::new(exponential_buckets(0.0001, 2.0, 21))
}

/// Every metric Rolodex exports.
pub struct Metrics {
    pub registry: Registry,
    pub requests: Family<EndpointLabel, Counter>,
    pub errors: Family<ErrorLabel, Counter>,
    pub request_seconds: Family<EndpointLabel, Histogram, fn() -> Histogram>,
    pub query_seconds: Family<QueryLabel, Histogram, fn() -> Histogram>,
    pub slow_queries: Counter,
    pub plans_captured: Counter,
    pub pool_connections: Family<StateLabel, Gauge>,
    pub pool_in_use: Family<ClassLabel, Gauge>,
    pub pool_waiting: Family<ClassLabel, Gauge>,
    pub pool_ration: Family<ClassLabel, Gauge>,
    pub pool_timeouts: Family<ClassLabel, Gauge>,
    pub cache_operations: Family<KindLabel, Gauge>,
    pub cache_size: Family<KindLabel, Gauge>,
    pub cache_hit_rate: Gauge<f64, std::sync::atomic::AtomicU64>,
    pub events_applied: Counter,
    pub event_batches: Histogram,
    pub batch_seconds: Histogram,
    pub dead_letters: Counter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("rolodex");
        let m = Metrics {
            requests: Family::default(),
            errors: Family::default(),
            request_seconds: Family::new_with_constructor(latency_histogram),
            query_seconds: Family::new_with_constructor(latency_histogram),
            slow_queries: Counter::default(),
            plans_captured: Counter::default(),
            pool_connections: Family::default(),
            pool_in_use: Family::default(),
            pool_waiting: Family::default(),
            pool_ration: Family::default(),
            pool_timeouts: Family::default(),
            cache_operations: Family::default(),
            cache_size: Family::default(),
            cache_hit_rate: Gauge::default(),
            events_applied: Counter::default(),
            event_batches: Histogram::new(exponential_buckets(1.0, 2.0, 14)),
            batch_seconds: latency_histogram(),
            dead_letters: Counter::default(),
            registry: Registry::default(),
        };
        registry.register(
            "requests",
            "Requests handled, per endpoint",
            m.requests.clone(),
        );
        registry.register(
            "request_errors",
            "Requests answered with an error, per endpoint and code",
            m.errors.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "End-to-end request time, per endpoint",
            m.request_seconds.clone(),
        );
        registry.register(
            "query_duration_seconds",
            "Database time of planned queries, per class and plan tier",
            m.query_seconds.clone(),
        );
        registry.register(
            "slow_queries",
            "Queries over monitor.slow_ms",
            m.slow_queries.clone(),
        );
        registry.register(
            "plans_captured",
            "Slow queries whose plan was captured with EXPLAIN ANALYZE",
            m.plans_captured.clone(),
        );
        registry.register(
            "pool_connections",
            "Open PostgreSQL connections by state (open, idle)",
            m.pool_connections.clone(),
        );
        registry.register(
            "pool_leases_in_use",
            "Connections leased, per class of work",
            m.pool_in_use.clone(),
        );
        registry.register(
            "pool_waiters",
            "Requests waiting for a lease, per class",
            m.pool_waiting.clone(),
        );
        registry.register(
            "pool_ration",
            "Most leases a class may hold",
            m.pool_ration.clone(),
        );
        registry.register(
            "pool_acquire_timeouts",
            "Lease requests that timed out, per class (a counter)",
            m.pool_timeouts.clone(),
        );
        registry.register("cache_operations", "Result-cache operations since start, per kind (hit, miss, eviction, expiration, invalidation, stale, query, coalesced)", m.cache_operations.clone());
        registry.register(
            "cache_size",
            "Result-cache entries and bytes",
            m.cache_size.clone(),
        );
        registry.register(
            "cache_hit_rate",
            "Result-cache hits / (hits + misses)",
            m.cache_hit_rate.clone(),
        );
        registry.register(
            "events_applied",
            "Events committed by the persist actor (rate: applied events/s)",
            m.events_applied.clone(),
        );
        registry.register(
            "event_batch_size",
            "Events per committed batch",
            m.event_batches.clone(),
        );
        registry.register(
            "event_batch_duration_seconds",
            "Time to write and commit one batch",
            m.batch_seconds.clone(),
        );
        registry.register(
            "dead_letters",
            "Events sent to <prefix>.events.dead",
            m.dead_letters.clone(),
        );
        Metrics { registry, ..m }
    }

    pub fn record_request(
        &self,
        endpoint: &'static str,
        error_code: Option<&'static str>,
        seconds: f64,
    ) {
        let label = EndpointLabel { endpoint };
        self.requests.get_or_create(&label).inc();
        self.request_seconds.get_or_create(&label).observe(seconds);
        if let Some(code) = error_code {
            self.errors
                .get_or_create(&ErrorLabel { endpoint, code })
                .inc();
        }
    }

    /// Copy the pool's current numbers into the gauges (called at scrape time).
    pub fn observe_pool(&self, stats: &PoolStats) {
        let state = |s: &str| StateLabel {
            state: s.to_owned(),
        };
        self.pool_connections
            .get_or_create(&state("open"))
            .set(i64::from(stats.size));
        self.pool_connections
            .get_or_create(&state("idle"))
            .set(i64::from(stats.idle));
        for c in &stats.classes {
            let l = ClassLabel {
                class: c.class.clone(),
            };
            self.pool_in_use.get_or_create(&l).set(c.in_use as i64);
            self.pool_waiting.get_or_create(&l).set(c.waiting as i64);
            self.pool_ration.get_or_create(&l).set(i64::from(c.ration));
            self.pool_timeouts.get_or_create(&l).set(c.timeouts as i64);
        }
    }

    /// Copy the result cache's counters into the gauges (called at scrape time).
    pub fn observe_cache(&self, c: &crate::cache::MetricsSnapshot) {
        let kind = |k: &str| KindLabel { kind: k.to_owned() };
        for (k, v) in [
            ("hit", c.hits),
            ("miss", c.misses),
            ("eviction", c.evictions),
            ("expiration", c.expirations),
            ("invalidation", c.invalidations),
            ("stale", c.stale),
            ("query", c.queries),
            ("coalesced", c.coalesced),
        ] {
            self.cache_operations.get_or_create(&kind(k)).set(v as i64);
        }
        self.cache_size
            .get_or_create(&kind("entries"))
            .set(c.entries as i64);
        self.cache_size
            .get_or_create(&kind("bytes"))
            .set(c.bytes as i64);
        self.cache_hit_rate.set(c.hit_rate);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
