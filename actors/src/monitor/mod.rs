//! The monitor owns query timings, the slow-query log and the metrics (DESIGN §3).
//!
//! Guarantees: recording a timing is a few atomic operations on the caller's task (no mailbox
//! hop on the hot path); a query over `monitor.slow_ms` is logged with its SQL fingerprint,
//! plan tier and time — never its bind values; over `monitor.explain_ms` its plan is captured
//! with `EXPLAIN (ANALYZE, BUFFERS)` under a statement timeout, at most
//! `monitor.explain_per_minute` times a minute, on the jobs ration so searches keep theirs.
//! Never does: block a request, or keep a value a user searched for.

mod actor;
pub mod core;
pub mod metrics;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dashmap::DashMap;
use ractor::rpc::CallResult;
use ractor::ActorRef;

pub use actor::{MonitorActor, MonitorArgs, MonitorMsg};
pub use core::{SlowQuery, Summary};
pub use metrics::Metrics;

use crate::config::MonitorConfig;
use crate::error::ApiError;
use crate::planner::core::sql::Sql;
use crate::pool::Class;

/// The shared monitor: cheap to clone, recorded into from any task.
#[derive(Clone, Debug)]
pub struct Monitor {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: MonitorConfig,
    metrics: Metrics,
    queries: DashMap<(Class, &'static str), Arc<core::Latencies>>,
    actor_name: String,
}

/// A summary of one class and tier of queries.
#[derive(Debug, Clone, serde::Serialize)]
pub struct QuerySummary {
    pub class: &'static str,
    pub tier: &'static str,
    #[serde(flatten)]
    pub summary: Summary,
}

impl Monitor {
    pub fn new(config: MonitorConfig, actor_name: String) -> Monitor {
        Monitor {
            inner: Arc::new(Inner {
                config,
                metrics: Metrics::new(),
                queries: DashMap::new(),
                actor_name,
            }),
        }
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub fn config(&self) -> &MonitorConfig {
        &self.inner.config
    }

    /// A finished request, for the per-endpoint metrics.
    pub fn record_request(
        &self,
        endpoint: &'static str,
        error_code: Option<&'static str>,
        elapsed: Duration,
    ) {
        if self.inner.config.enabled {
            self.inner
                .metrics
                .record_request(endpoint, error_code, elapsed.as_secs_f64());
        }
    }

    /// A planned query's database time; slow ones go to the log (and maybe get their plan).
    pub fn record_query(&self, class: Class, tier: &'static str, sql: &Sql, elapsed: Duration) {
        let c = &self.inner.config;
        if !c.enabled {
            return;
        }
        let micros = elapsed.as_micros() as u64;
        self.inner
            .queries
            .entry((class, tier))
            .or_default()
            .record(micros);
        self.inner
            .metrics
            .query_seconds
            .get_or_create(&metrics::QueryLabel {
                class: class.name(),
                tier,
            })
            .observe(elapsed.as_secs_f64());
        if micros < c.slow_ms * 1000 {
            return;
        }
        self.inner.metrics.slow_queries.inc();
        let fingerprint = core::fingerprint(&sql.text);
        let elapsed_ms = micros as f64 / 1000.0;
        tracing::warn!(%fingerprint, class = class.name(), tier, elapsed_ms, "Slow query.");
        let entry = SlowQuery {
            id: 0,
            fingerprint,
            class: class.name().into(),
            tier: tier.into(),
            elapsed_ms,
            at_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            sql: sql.text.clone(),
            bind_types: sql.binds.iter().map(|b| b.pg_type().to_owned()).collect(),
            plan: None,
        };
        let capture = micros >= c.explain_ms * 1000;
        if let Some(actor) = self.actor() {
            let _ = actor.cast(MonitorMsg::Slow {
                entry,
                capture: capture.then(|| sql.clone()),
            });
        }
    }

    /// Average and p99 per class and tier.
    pub fn query_summaries(&self) -> Vec<QuerySummary> {
        let mut out: Vec<QuerySummary> = self
            .inner
            .queries
            .iter()
            .map(|e| QuerySummary {
                class: e.key().0.name(),
                tier: e.key().1,
                summary: e.value().summary(),
            })
            .collect();
        out.sort_by_key(|s| (s.class, s.tier));
        out
    }

    fn actor(&self) -> Option<ActorRef<MonitorMsg>> {
        ractor::registry::where_is(self.inner.actor_name.clone()).map(Into::into)
    }

    /// The most recent slow queries, newest first, with plans where captured.
    pub async fn slow_queries(&self, limit: usize) -> Result<Vec<SlowQuery>, ApiError> {
        let actor = self
            .actor()
            .ok_or_else(|| ApiError::Unavailable("the monitor is restarting; retry".into()))?;
        match actor
            .call(
                |r| MonitorMsg::Recent(limit, r),
                Some(Duration::from_secs(5)),
            )
            .await
        {
            Ok(CallResult::Success(list)) => Ok(list),
            _ => Err(ApiError::Unavailable("the monitor did not answer".into())),
        }
    }
}
