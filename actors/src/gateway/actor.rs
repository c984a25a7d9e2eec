//! The gateway shell: subscriptions, intake loops, the micro verbs, and orderly stop.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use serde_json::Value;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

use super::core::{self, EndpointStats, Route, ServiceIdentity};
use super::request::{self, Ctx};
use crate::planner::Handle;
use crate::wire::Codec;

/// Where the gateway's extra `$SRV.STATS` data comes from (pool, restarts, ...).
pub type StatsSource = Arc<dyn Fn() -> Value + Send + Sync>;

#[derive(Clone)]
pub struct GatewayArgs {
    pub client: async_nats::Client,
    pub prefix: String,
    pub codec: Codec,
    pub planner: Handle,
    pub max_in_flight: usize,
    pub deadline: Duration,
    pub drain: Duration,
    pub stream_window: usize,
    pub stream_ack_timeout: Duration,
    pub monitor: crate::monitor::Monitor,
    pub identity: ServiceIdentity,
    /// Per-endpoint counters, created once so they survive restarts of the gateway.
    pub stats: Arc<Vec<(Route, Arc<EndpointStats>)>>,
    pub extra_stats: StatsSource,
    /// The result cache every request looks in first.
    pub cache: crate::cache::Handle,
    /// Industry tag ids for `apollo.analyze`.
    pub industries: Arc<crate::normalize::Industries>,
    /// `query.default_limit`, made explicit in cache keys.
    pub default_limit: u32,
}

pub enum GatewayMsg {}

/// Aborts its task when dropped, so a killed gateway leaves no intake loop behind.
struct Task(JoinHandle<()>);

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub struct GatewayState {
    intake: Vec<Task>,
    verbs: Task,
    stop: watch::Sender<bool>,
    ctx: Arc<Ctx>,
    args: GatewayArgs,
}

pub struct GatewayActor;

impl Actor for GatewayActor {
    type Msg = GatewayMsg;
    type State = GatewayState;
    type Arguments = GatewayArgs;

    async fn pre_start(
        &self,
        _me: ActorRef<GatewayMsg>,
        args: GatewayArgs,
    ) -> Result<GatewayState, ActorProcessingErr> {
        let ctx = Arc::new(Ctx {
            client: args.client.clone(),
            codec: args.codec.clone(),
            planner: args.planner.clone(),
            in_flight: Arc::new(Semaphore::new(args.max_in_flight)),
            deadline: args.deadline,
            stream_window: args.stream_window,
            stream_ack_timeout: args.stream_ack_timeout,
            monitor: args.monitor.clone(),
            cache: args.cache.clone(),
            industries: args.industries.clone(),
            default_limit: args.default_limit,
        });
        let (stop, stopped) = watch::channel(false);
        let mut intake = Vec::new();
        for (route, stats) in args.stats.iter() {
            let subject = format!("{}.{}", args.prefix, route.suffix());
            let sub = args
                .client
                .queue_subscribe(subject, args.identity.queue_group.clone())
                .await?;
            intake.push(Task(tokio::spawn(intake_loop(
                sub,
                ctx.clone(),
                *route,
                stats.clone(),
                stopped.clone(),
            ))));
        }
        let verbs = Task(tokio::spawn(verb_loop(args.clone()).await?));
        // Make sure the server has our interest before anyone is told we are ready.
        crate::nats_sync::round_trip(&args.client).await?;
        Ok(GatewayState {
            intake,
            verbs,
            stop,
            ctx,
            args,
        })
    }

    async fn post_stop(
        &self,
        _me: ActorRef<GatewayMsg>,
        state: &mut GatewayState,
    ) -> Result<(), ActorProcessingErr> {
        // Stop intake: each loop drains its subscription (no new requests reach us, the
        // buffered ones are still handled), then wait for requests in flight.
        let _ = state.stop.send(true);
        let deadline = state.args.drain;
        for task in state.intake.drain(..) {
            let mut task = task;
            if tokio::time::timeout(deadline, &mut task.0).await.is_err() {
                tracing::warn!("An intake loop did not drain in time.");
            }
        }
        let all = state.args.max_in_flight as u32;
        if tokio::time::timeout(deadline, state.ctx.in_flight.acquire_many(all))
            .await
            .is_err()
        {
            tracing::warn!("Requests still in flight at the drain deadline.");
        }
        state.verbs.0.abort();
        let _ = state.args.client.flush().await;
        Ok(())
    }
}

async fn intake_loop(
    mut sub: async_nats::Subscriber,
    ctx: Arc<Ctx>,
    route: Route,
    stats: Arc<EndpointStats>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut draining = false;
    loop {
        tokio::select! {
            msg = sub.next() => match msg {
                Some(msg) => request::dispatch(&ctx, route, &stats, msg).await,
                None => break,
            },
            _ = stopped.changed(), if !draining => {
                draining = true;
                if sub.drain().await.is_err() {
                    break;
                }
            }
        }
    }
}

/// Subscribe to the micro verbs and return the loop answering them.
async fn verb_loop(
    args: GatewayArgs,
) -> Result<impl std::future::Future<Output = ()>, async_nats::SubscribeError> {
    let mut subs = Vec::new();
    for verb in ["PING", "INFO", "STATS"] {
        for subject in core::verb_subjects(verb, &args.identity) {
            subs.push(args.client.subscribe(subject).await?);
        }
    }
    let mut all = futures::stream::select_all(subs);
    Ok(async move {
        let endpoints: Vec<(Route, String)> = args
            .stats
            .iter()
            .map(|(r, _)| (*r, format!("{}.{}", args.prefix, r.suffix())))
            .collect();
        while let Some(msg) = all.next().await {
            let Some(reply) = msg.reply else { continue };
            let verb = msg.subject.split('.').nth(1).unwrap_or_default();
            let body = match verb {
                "PING" => core::ping(&args.identity),
                "INFO" => core::info(&args.identity, &endpoints),
                _ => {
                    let rows: Vec<(Route, String, &EndpointStats)> = args
                        .stats
                        .iter()
                        .zip(&endpoints)
                        .map(|((r, s), (_, subject))| (*r, subject.clone(), s.as_ref()))
                        .collect();
                    core::stats(&args.identity, &rows, &(args.extra_stats)())
                }
            };
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            if let Err(e) = args.client.publish(reply, bytes.into()).await {
                tracing::debug!(error = %e, "Could not answer a micro verb.");
            }
        }
    })
}
