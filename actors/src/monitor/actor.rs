//! The monitor shell: keeps the slow-query log and captures plans within the rate limit.

use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use sqlx::Row;

use super::core::{CaptureLimiter, SlowLog, SlowQuery};
use super::Monitor;
use crate::planner::core::sql::Sql;
use crate::planner::exec;
use crate::pool::{Class, Pool};

pub enum MonitorMsg {
    /// A slow query; `capture` carries the statement when its plan should be captured.
    Slow {
        entry: SlowQuery,
        capture: Option<Sql>,
    },
    /// A captured plan for the entry with this id.
    Plan(u64, String),
    /// The newest `n` slow queries.
    Recent(usize, RpcReplyPort<Vec<SlowQuery>>),
}

#[derive(Clone)]
pub struct MonitorArgs {
    pub monitor: Monitor,
    pub pool: Pool,
}

pub struct MonitorState {
    log: SlowLog,
    limiter: CaptureLimiter,
    started: Instant,
    args: MonitorArgs,
}

pub struct MonitorActor;

impl Actor for MonitorActor {
    type Msg = MonitorMsg;
    type State = MonitorState;
    type Arguments = MonitorArgs;

    async fn pre_start(
        &self,
        _me: ActorRef<MonitorMsg>,
        args: MonitorArgs,
    ) -> Result<MonitorState, ActorProcessingErr> {
        let c = args.monitor.config();
        Ok(MonitorState {
            log: SlowLog::new(c.slow_log_size),
            limiter: CaptureLimiter::new(c.explain_per_minute),
            started: Instant::now(),
            args,
        })
    }

    async fn handle(
        &self,
        me: ActorRef<MonitorMsg>,
        msg: MonitorMsg,
        state: &mut MonitorState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            MonitorMsg::Slow { entry, capture } => {
                let id = state.log.push(entry);
                let now = state.started.elapsed().as_millis() as u64;
                if let Some(sql) = capture.filter(|_| state.limiter.allow(now)) {
                    let args = state.args.clone();
                    tokio::spawn(async move {
                        match explain(&args, &sql).await {
                            Ok(plan) => {
                                args.monitor.metrics().plans_captured.inc();
                                let _ = me.cast(MonitorMsg::Plan(id, plan));
                            }
                            Err(e) => tracing::info!(error = %e, "Plan capture failed."),
                        }
                    });
                }
            }
            MonitorMsg::Plan(id, plan) => state.log.attach_plan(id, plan),
            MonitorMsg::Recent(n, reply) => {
                if reply.send(state.log.recent(n)).is_err() {
                    tracing::debug!("Slow-query caller went away.");
                }
            }
        }
        Ok(())
    }
}

/// Run the statement again under `EXPLAIN (ANALYZE, BUFFERS)` inside a transaction that is
/// rolled back, with its own statement timeout.
async fn explain(args: &MonitorArgs, sql: &Sql) -> Result<String, String> {
    let timeout_ms = args.monitor.config().explain_timeout_ms;
    let mut lease = args
        .pool
        .lease(Class::Jobs)
        .await
        .map_err(|e| e.to_string())?;
    let mut tx = sqlx::Connection::begin(&mut *lease)
        .await
        .map_err(|e| e.to_string())?;
    sqlx::query("SELECT set_config('statement_timeout', $1, true)")
        .bind(format!("{timeout_ms}ms"))
        .execute(&mut *tx)
        .await
        .map_err(|e| e.to_string())?;
    let text = format!("EXPLAIN (ANALYZE, BUFFERS) {}", sql.text);
    let args_ = exec::arguments(&sql.binds).map_err(|e| e.to_string())?;
    let rows = tokio::time::timeout(
        Duration::from_millis(timeout_ms + 1000),
        sqlx::query_with(&text, args_).fetch_all(&mut *tx),
    )
    .await
    .map_err(|_| "timed out".to_string())?
    .map_err(|e| e.to_string())?;
    let _ = tx.rollback().await;
    let plan = rows
        .iter()
        .filter_map(|r| r.try_get::<String, _>(0).ok())
        .collect::<Vec<_>>()
        .join("\n");
    Ok(super::core::redact_literals(&plan))
}
