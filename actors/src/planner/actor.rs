//! The planner shell: a mailbox that hands each request to its own task, and a typed handle.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ractor::rpc::CallResult;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::Serialize;
use sqlx::Row as _;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::core::fields::Entity;
use super::core::Planner;
use super::exec::{self, PgItem};
use crate::error::ApiError;
use crate::model::StreamRequest;
use crate::model::{
    CountMode, CountReply, CountRequest, ExplainReply, FacetValue, FacetsReply, FacetsRequest,
    Page, SearchRequest,
};
use crate::monitor::Monitor;
use crate::pool::{Class, Lease, Pool};

/// What the planner answers with; serialises as the bare reply body.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Answer {
    Page(Page<PgItem>),
    Explain(ExplainReply),
    Count(CountReply),
    Facets(FacetsReply),
    One(PgItem),
    SlowQueries(crate::model::SlowQueriesReply),
}

type Reply = RpcReplyPort<Result<Answer, ApiError>>;

/// What a stream's producer hands the gateway, one at a time through a bounded channel.
#[derive(Debug)]
pub enum StreamItem {
    Rows(Vec<PgItem>),
    Done(u64),
    Failed(ApiError),
}

pub enum PlannerMsg {
    Search(Entity, Box<SearchRequest>, Reply),
    /// Produce every match into the channel; its capacity is the flow control.
    Stream(Entity, Box<StreamRequest>, mpsc::Sender<StreamItem>),
    Count(Entity, CountRequest, Reply),
    Facets(Entity, FacetsRequest, Reply),
    Get(Entity, Uuid, Reply),
}

/// What the planner needs; kept by the supervisor so a restart gets the same pool.
#[derive(Clone)]
pub struct PlannerArgs {
    pub pool: Pool,
    pub planner: Arc<Planner>,
    pub monitor: Monitor,
}

pub struct PlannerActor;

impl Actor for PlannerActor {
    type Msg = PlannerMsg;
    type State = PlannerArgs;
    type Arguments = PlannerArgs;

    async fn pre_start(
        &self,
        _me: ActorRef<PlannerMsg>,
        args: PlannerArgs,
    ) -> Result<PlannerArgs, ActorProcessingErr> {
        Ok(args)
    }

    async fn handle(
        &self,
        _me: ActorRef<PlannerMsg>,
        msg: PlannerMsg,
        state: &mut PlannerArgs,
    ) -> Result<(), ActorProcessingErr> {
        // The mailbox only dispatches: each request waits for its lease and rows in its own
        // task, so one slow query never holds up the next request.
        let state = state.clone();
        tokio::spawn(async move { run(&state, msg).await });
        Ok(())
    }
}

/// Do what a message asks and answer on its port.
async fn run(state: &PlannerArgs, msg: PlannerMsg) {
    let (result, reply) = match msg {
        PlannerMsg::Stream(entity, req, sink) => return stream(state, entity, &req, sink).await,
        PlannerMsg::Search(entity, req, reply) => (search(state, entity, &req).await, reply),
        PlannerMsg::Count(entity, req, reply) => (count(state, entity, &req).await, reply),
        PlannerMsg::Facets(entity, req, reply) => (facets(state, entity, &req).await, reply),
        PlannerMsg::Get(entity, uuid, reply) => (get(state, entity, uuid).await, reply),
    };
    if reply.send(result).is_err() {
        tracing::debug!("Caller went away before the planner answered.");
    }
}

async fn search(s: &PlannerArgs, entity: Entity, req: &SearchRequest) -> Result<Answer, ApiError> {
    let plan = s.planner.search(entity, req)?;
    if req.explain {
        return Ok(Answer::Explain(s.planner.explain(&plan.page)?));
    }
    let mut lease = s.pool.lease(Class::Interactive).await?;
    let mut rows = timed(s, &mut lease, plan.page.tier.name(), &plan.page.sql).await?;
    let limit = plan.limit as usize;
    let next_cursor = match rows.get(limit) {
        // One row past the page exists, so the page's last row is where the next one starts.
        Some(_) => {
            let keys = exec::sort_keys(&rows[limit - 1], &plan.page).map_err(exec::db_error)?;
            Some(s.planner.next_cursor(&plan, &keys))
        }
        None => None,
    };
    rows.truncate(limit);
    let items = PgItem::all(entity, &plan.page.columns, rows);
    let total = match &plan.total {
        Some(sql) => Some(count_rows(&timed(s, &mut lease, "count", sql).await?)?),
        None => None,
    };
    Ok(Answer::Page(Page {
        items,
        next_cursor,
        total,
    }))
}

/// Fetch batch after batch by keyset, releasing the lease between batches, and hand each to
/// the sink; a full sink (a slow client) pauses the fetching, a dropped one stops it.
async fn stream(
    s: &PlannerArgs,
    entity: Entity,
    req: &StreamRequest,
    sink: mpsc::Sender<StreamItem>,
) {
    let mut after = None;
    let mut count = 0u64;
    loop {
        let batch = match next_batch(s, entity, req, after.take()).await {
            Ok(batch) => batch,
            Err(e) => {
                let _ = sink.send(StreamItem::Failed(e)).await;
                return;
            }
        };
        let (rows, next) = batch;
        count += rows.len() as u64;
        if !rows.is_empty() && sink.send(StreamItem::Rows(rows)).await.is_err() {
            tracing::debug!("Stream consumer went away.");
            return;
        }
        match next {
            Some(keys) => after = Some(keys),
            None => break,
        }
    }
    let _ = sink.send(StreamItem::Done(count)).await;
}

/// One batch and, when it was full, the sort key to continue after.
async fn next_batch(
    s: &PlannerArgs,
    entity: Entity,
    req: &StreamRequest,
    after: Option<Vec<super::core::datum::Datum>>,
) -> Result<(Vec<PgItem>, Option<Vec<super::core::datum::Datum>>), ApiError> {
    let plan = s.planner.stream_batch(entity, req, after)?;
    let pg_rows = {
        let mut lease = s.pool.lease(Class::Interactive).await?;
        timed(s, &mut lease, plan.tier.name(), &plan.sql).await?
    };
    let full = pg_rows.len() as u32 >= s.planner.config().stream_batch;
    let next = match pg_rows.last() {
        Some(last) if full => Some(exec::sort_keys(last, &plan).map_err(exec::db_error)?),
        _ => None,
    };
    Ok((PgItem::all(entity, &plan.columns, pg_rows), next))
}

/// Run a statement and tell the monitor how long the database took.
async fn timed(
    s: &PlannerArgs,
    lease: &mut Lease,
    tier: &'static str,
    sql: &super::core::sql::Sql,
) -> Result<Vec<sqlx::postgres::PgRow>, ApiError> {
    let started = std::time::Instant::now();
    let rows = exec::fetch_all(lease, sql).await;
    if rows.is_ok() {
        lease.settle();
    }
    s.monitor
        .record_query(Class::Interactive, tier, sql, started.elapsed());
    rows
}

fn count_rows(rows: &[sqlx::postgres::PgRow]) -> Result<u64, ApiError> {
    let n: i64 = rows
        .first()
        .ok_or_else(|| ApiError::Internal("count returned no row".into()))?
        .try_get(0)
        .map_err(exec::db_error)?;
    Ok(n.max(0) as u64)
}

async fn count(s: &PlannerArgs, entity: Entity, req: &CountRequest) -> Result<Answer, ApiError> {
    let sql = s.planner.count(entity, req)?;
    let mut lease = s.pool.lease(Class::Interactive).await?;
    let tier = match req.mode {
        CountMode::Exact => "count",
        CountMode::Estimated => "estimate",
    };
    let rows = timed(s, &mut lease, tier, &sql).await?;
    let count = match req.mode {
        CountMode::Exact => count_rows(&rows)?,
        CountMode::Estimated => {
            let plan: serde_json::Value = rows
                .first()
                .ok_or_else(|| ApiError::Internal("EXPLAIN returned no row".into()))?
                .try_get(0)
                .map_err(exec::db_error)?;
            plan[0]["Plan"]["Plan Rows"]
                .as_f64()
                .unwrap_or(0.0)
                .max(0.0)
                .round() as u64
        }
    };
    Ok(Answer::Count(CountReply {
        count,
        mode: req.mode,
    }))
}

async fn facets(s: &PlannerArgs, entity: Entity, req: &FacetsRequest) -> Result<Answer, ApiError> {
    let (sql, fields) = s.planner.facets(entity, req)?;
    let mut lease = s.pool.lease(Class::Interactive).await?;
    let rows = timed(s, &mut lease, "facets", &sql).await?;
    let mut facets: BTreeMap<String, Vec<FacetValue>> =
        req.facets.iter().map(|f| (f.clone(), Vec::new())).collect();
    for row in rows {
        let (i, value, n): (i32, String, i64) = (
            row.try_get(0).map_err(exec::db_error)?,
            row.try_get(1).map_err(exec::db_error)?,
            row.try_get(2).map_err(exec::db_error)?,
        );
        let name = fields
            .get(i as usize)
            .and_then(|f| f.scope(entity))
            .ok_or_else(|| ApiError::Internal("facet index out of range".into()))?;
        if let Some(values) = facets.get_mut(name) {
            values.push(FacetValue {
                value,
                count: n.max(0) as u64,
            });
        }
    }
    Ok(Answer::Facets(FacetsReply { facets }))
}

async fn get(s: &PlannerArgs, entity: Entity, uuid: Uuid) -> Result<Answer, ApiError> {
    let (sql, columns) = super::core::sql::get(entity, uuid);
    let mut lease = s.pool.lease(Class::Interactive).await?;
    let rows = timed(s, &mut lease, "get", &sql).await?;
    match PgItem::all(entity, &columns, rows).pop() {
        Some(item) => Ok(Answer::One(item)),
        None => Err(ApiError::NotFound {
            entity: entity.singular().into(),
            key: uuid.to_string(),
        }),
    }
}

/// A typed way to reach the planner by its registered name, surviving its restarts.
#[derive(Debug, Clone)]
pub struct Handle {
    name: String,
    /// When set, single answers are worked out on the caller's task with this shared state
    /// instead of through the mailbox: the same code, two fewer hops between threads per
    /// request (profiled in BENCHMARKS.md). Streams always go through the actor.
    inline: Option<PlannerArgs>,
}

impl std::fmt::Debug for PlannerArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PlannerArgs")
    }
}

impl Handle {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            inline: None,
        }
    }

    /// The planner actor under its registered name (a restart re-registers it).
    fn actor(&self) -> Result<ActorRef<PlannerMsg>, ApiError> {
        ractor::registry::where_is(self.name.clone())
            .map(Into::into)
            .ok_or_else(|| ApiError::Unavailable("the planner is restarting; retry".into()))
    }

    /// Answer on the caller's task (see `inline`).
    pub fn inline(mut self, state: PlannerArgs) -> Self {
        self.inline = Some(state);
        self
    }

    pub async fn ask(
        &self,
        build: impl FnOnce(Reply) -> PlannerMsg,
        deadline: Duration,
    ) -> Result<Answer, ApiError> {
        if let Some(state) = &self.inline {
            let (tx, rx) = ractor::concurrency::oneshot();
            let work = run(state, build(tx.into()));
            return match tokio::time::timeout(deadline, async {
                work.await;
                rx.await
            })
            .await
            {
                Ok(Ok(answer)) => answer,
                Ok(Err(_)) => Err(ApiError::Internal("the planner dropped a request".into())),
                Err(_) => Err(ApiError::Timeout(format!(
                    "no answer within {} ms",
                    deadline.as_millis()
                ))),
            };
        }
        match self.actor()?.call(build, Some(deadline)).await {
            Ok(CallResult::Success(answer)) => answer,
            Ok(CallResult::Timeout) => Err(ApiError::Timeout(format!(
                "no answer within {} ms",
                deadline.as_millis()
            ))),
            Ok(CallResult::SenderError) | Err(_) => Err(ApiError::Unavailable(
                "the planner stopped while handling the request; retry".into(),
            )),
        }
    }

    /// Start a stream; its rows arrive on the returned receiver.
    pub fn stream(
        &self,
        entity: Entity,
        req: StreamRequest,
        capacity: usize,
    ) -> Result<mpsc::Receiver<StreamItem>, ApiError> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        self.actor()?
            .cast(PlannerMsg::Stream(entity, Box::new(req), tx))
            .map_err(|_| ApiError::Unavailable("the planner is restarting; retry".into()))?;
        Ok(rx)
    }
}
