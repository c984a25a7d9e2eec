//! The shell: the JetStream stream and durable pull consumer, the pull loop that batches
//! events, the writer tasks, dead letters and change notices, and the ractor actor that owns
//! the loop's lifecycle.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::pull, AckKind};
use async_nats::HeaderMap;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tracing::Instrument as _;

use super::core::{
    changes_subject, dead_letter_subject, halves, lane, nak_delay, notices, parse_subject,
    stream_name, stream_subjects, validate, Batcher, Event, CONSUMER,
};
use super::pull::Puller;
use super::write::{apply, Failure};
use crate::config::PersistConfig;
use crate::normalize::TitleCache;
use crate::pool::Pool;
use crate::wire::{headers, Codec, RequestMeta};

/// Header naming the subject a dead-lettered event was published on.
pub const ORIGINAL_SUBJECT: &str = "Rolodex-Original-Subject";
/// Header with the reason an event was dead-lettered.
pub const REASON: &str = "Rolodex-Reason";

/// What the persist actor needs; kept by the supervisor so a restart gets the same.
#[derive(Clone)]
pub struct PersistArgs {
    pub client: async_nats::Client,
    pub pool: Pool,
    pub codec: Codec,
    pub prefix: String,
    pub config: PersistConfig,
    /// How long shutdown waits for the current batches to commit and ack.
    pub drain: Duration,
    /// This instance's result cache, invalidated right after each commit (before the acks),
    /// so a search that follows a landed write never sees the cached past. Other instances
    /// learn of the write from the change notice.
    pub cache: Option<crate::cache::Handle>,
    /// Where batch sizes, applied events and dead letters are counted.
    pub monitor: Option<crate::monitor::Monitor>,
    /// Canonical job titles, written with each event's `title`.
    pub titles: Arc<TitleCache>,
}

/// Errors setting up or running the consumer; each ends the actor, which the supervisor
/// restarts (the durable consumer resumes where the last ack left it).
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("cannot create the event stream {stream}: {reason}")]
    Stream { stream: String, reason: String },
    #[error("cannot create the consumer on {stream}: {reason}")]
    Consumer { stream: String, reason: String },
    #[error("the event consumer failed: {0}")]
    Consume(String),
}

/// Create the events stream if it is missing (work-queue retention: an acked event is gone;
/// discard-new: a full stream refuses publishes rather than dropping unconsumed events).
pub async fn ensure_stream(
    js: &jetstream::Context,
    prefix: &str,
    config: &PersistConfig,
) -> Result<jetstream::stream::Stream, PersistError> {
    let name = stream_name(prefix);
    js.get_or_create_stream(jetstream::stream::Config {
        name: name.clone(),
        description: Some(format!("Rolodex events for prefix {prefix}")),
        subjects: stream_subjects(prefix),
        retention: jetstream::stream::RetentionPolicy::WorkQueue,
        discard: jetstream::stream::DiscardPolicy::New,
        storage: jetstream::stream::StorageType::File,
        max_bytes: config.max_bytes,
        max_age: Duration::from_secs(config.max_age_secs),
        duplicate_window: Duration::from_secs(config.duplicate_window_secs),
        ..Default::default()
    })
    .await
    .map_err(|e| PersistError::Stream {
        stream: name,
        reason: e.to_string(),
    })
}

/// The durable pull consumer. `max_deliver` is unlimited on the server: the persist actor
/// itself dead-letters a message that keeps failing, because the server would simply stop
/// redelivering it — a silent drop.
pub async fn ensure_consumer(
    stream: &jetstream::stream::Stream,
    name: &str,
    config: &PersistConfig,
) -> Result<jetstream::consumer::Consumer<pull::Config>, PersistError> {
    stream
        .get_or_create_consumer(
            CONSUMER,
            pull::Config {
                durable_name: Some(CONSUMER.into()),
                description: Some("Rolodex persist: events into PostgreSQL".into()),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait: Duration::from_secs(config.ack_wait_secs),
                max_deliver: -1,
                max_ack_pending: config.max_in_flight as i64,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| PersistError::Consumer {
            stream: name.into(),
            reason: e.to_string(),
        })
}

/// An event waiting in a batch, with the message to settle once its fate is known.
struct Pending {
    msg: jetstream::Message,
    event: Event,
    delivered: i64,
}

/// What every task of the loop shares.
struct Ctx {
    client: async_nats::Client,
    pool: Pool,
    codec: Codec,
    prefix: String,
    config: PersistConfig,
    cache: Option<crate::cache::Handle>,
    monitor: Option<crate::monitor::Monitor>,
    titles: Arc<TitleCache>,
}

pub enum PersistMsg {
    /// The pull loop ended with an error: fail, so the supervisor restarts the actor.
    LoopFailed(String),
}

pub struct PersistState {
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    drain: Duration,
}

pub struct PersistActor;

impl Actor for PersistActor {
    type Msg = PersistMsg;
    type State = PersistState;
    type Arguments = PersistArgs;

    async fn pre_start(
        &self,
        me: ActorRef<PersistMsg>,
        args: PersistArgs,
    ) -> Result<PersistState, ActorProcessingErr> {
        let js = jetstream::new(args.client.clone());
        let stream = ensure_stream(&js, &args.prefix, &args.config).await?;
        let name = stream_name(&args.prefix);
        let consumer = ensure_consumer(&stream, &name, &args.config).await?;
        let (stop, stopped) = watch::channel(false);
        let drain = args.drain;
        let ctx = Arc::new(Ctx {
            client: args.client,
            pool: args.pool,
            codec: args.codec,
            prefix: args.prefix,
            config: args.config,
            cache: args.cache,
            monitor: args.monitor,
            titles: args.titles,
        });
        tracing::info!(stream = %name, consumer = CONSUMER, "Consuming events.");
        let task = tokio::spawn(async move {
            if let Err(e) = run(ctx, js, consumer, stopped).await {
                tracing::warn!(error = %e, "Event consumer failed.");
                let _ = me.send_message(PersistMsg::LoopFailed(e.to_string()));
            }
        });
        Ok(PersistState {
            stop,
            task: Some(task),
            drain,
        })
    }

    async fn handle(
        &self,
        _me: ActorRef<PersistMsg>,
        msg: PersistMsg,
        _state: &mut PersistState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            PersistMsg::LoopFailed(why) => Err(PersistError::Consume(why).into()),
        }
    }

    async fn post_stop(
        &self,
        _me: ActorRef<PersistMsg>,
        state: &mut PersistState,
    ) -> Result<(), ActorProcessingErr> {
        // Stop pulling, write and ack what is batched; never longer than the drain deadline
        // (what is left unacked is redelivered, and applying it twice changes nothing).
        let _ = state.stop.send(true);
        if let Some(task) = state.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(state.drain, task).await.is_err() {
                tracing::warn!(
                    "Persist did not drain in time; unacked events will be redelivered."
                );
                abort.abort();
            }
        }
        Ok(())
    }
}

/// The pull loop: accept messages into the batch, hand full or due batches to at most
/// `writers` writer tasks, pause pulling while the database is down.
async fn run(
    ctx: Arc<Ctx>,
    js: jetstream::Context,
    consumer: jetstream::consumer::Consumer<pull::Config>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), PersistError> {
    let cfg = &ctx.config;
    let size = (cfg.batch_size * cfg.writers).min(cfg.max_in_flight);
    let mut puller = Puller::new(js, consumer, size).await?;
    // One lane per writer, chosen by uuid: the events of one entity are always written by the
    // same lane, one batch at a time, so two transactions of this instance never race on an
    // entity (an insert racing a delete could otherwise miss the other's tombstone).
    let lanes = cfg.writers;
    let mut batchers: Vec<Batcher<Pending>> = (0..lanes)
        .map(|_| Batcher::new(cfg.batch_size, Duration::from_millis(cfg.flush_ms)))
        .collect();
    let mut busy = vec![false; lanes];
    let mut writers: JoinSet<(usize, bool)> = JoinSet::new();
    loop {
        let deadline = (0..lanes)
            .filter(|&l| !busy[l])
            .filter_map(|l| batchers[l].deadline())
            .min();
        let room = batchers.iter().all(|b| b.len() < cfg.batch_size);
        if room {
            // Outside the select: a pull request half made must not be dropped by another branch.
            puller.request().await?;
        }
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            Some(done) = writers.join_next(), if !writers.is_empty() => {
                let ok = match done {
                    Ok((lane, ok)) => {
                        busy[lane] = false;
                        ok
                    }
                    Err(e) => return Err(PersistError::Consume(format!("a writer failed: {e}"))),
                };
                if !ok && !pause(&ctx, &mut stop).await {
                    break;
                }
            }
            _ = sleep_until(deadline), if deadline.is_some() => {}
            next = puller.next(), if room => {
                if let Some(msg) = next? {
                    if let Some(p) = accept(&ctx, msg).await {
                        let l = lane(p.event.uuid, lanes);
                        batchers[l].push(p, Instant::now());
                    }
                }
            }
        }
        let now = Instant::now();
        for l in 0..lanes {
            if !busy[l] && batchers[l].is_due(now) {
                busy[l] = true;
                let batch = batchers[l].take();
                let ctx = ctx.clone();
                // One span per batch, so its log lines (splits, dead letters) say which batch.
                let span = tracing::info_span!("batch", lane = l, events = batch.len());
                writers.spawn(async move { (l, write(ctx, batch).await) }.instrument(span));
            }
        }
    }
    // Shutdown: let the running writers finish, write what is batched, then return (acks sent).
    while writers.join_next().await.is_some() {}
    for b in &mut batchers {
        if !b.is_empty() {
            write(ctx.clone(), b.take()).await;
        }
    }
    Ok(())
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

/// After a transient failure, stop pulling until the database answers again (so an outage
/// does not burn deliveries). False when asked to stop meanwhile.
async fn pause(ctx: &Ctx, stop: &mut watch::Receiver<bool>) -> bool {
    let base = Duration::from_millis(ctx.config.retry_backoff_ms);
    let max = Duration::from_millis(ctx.config.max_backoff_ms);
    for attempt in 1.. {
        let delay = nak_delay(attempt, base, max);
        tokio::select! {
            _ = stop.changed() => return false,
            _ = tokio::time::sleep(delay) => {}
        }
        if ctx.pool.check().await.is_ok() {
            tracing::info!(attempts = attempt, "PostgreSQL is back; resuming events.");
            return true;
        }
    }
    true
}

/// Decode and validate a delivered message; a bad one is dead-lettered and `None` returned.
async fn accept(ctx: &Ctx, msg: jetstream::Message) -> Option<Pending> {
    let delivered = msg.info().map(|i| i.delivered).unwrap_or(1);
    // A message that keeps coming back without ever being settled (e.g. it crashes the
    // daemon) is given up on, loudly, rather than retried forever.
    if delivered > ctx.config.max_deliver.saturating_mul(2) {
        let reason = format!("delivered {delivered} times without being settled");
        dead_letter(ctx, &msg, &reason).await;
        return None;
    }
    match decode(ctx, &msg) {
        Ok(event) => Some(Pending {
            msg,
            event,
            delivered,
        }),
        Err(reason) => {
            dead_letter(ctx, &msg, &reason).await;
            None
        }
    }
}

fn decode(ctx: &Ctx, msg: &jetstream::Message) -> Result<Event, String> {
    let (entity, op) = parse_subject(&ctx.prefix, msg.subject.as_str()).map_err(|e| e.0)?;
    let header = |name: &str| {
        msg.headers
            .as_ref()
            .and_then(|h| h.get(name))
            .map(|v| v.as_str())
    };
    let meta = RequestMeta {
        content_type: header(headers::CONTENT_TYPE),
        content_encoding: header(headers::CONTENT_ENCODING),
        accept_encoding: None,
    };
    let negotiated = ctx.codec.negotiate(meta, &msg.payload);
    let body: serde_json::Value = ctx
        .codec
        .decode(meta, negotiated, &msg.payload)
        .map_err(|e| e.to_string())?;
    validate(entity, op, body, &|title| {
        ctx.titles.normalize(title).to_string()
    })
    .map_err(|e| e.0)
}

/// Write one batch; on a data failure split it until the bad event is alone. False when the
/// batch hit a transient failure (the loop then pauses).
async fn write(ctx: Arc<Ctx>, batch: Vec<Pending>) -> bool {
    let mut stack = vec![batch];
    while let Some(piece) = stack.pop() {
        let started = Instant::now();
        let events: Vec<&Event> = piece.iter().map(|p| &p.event).collect();
        match apply(&ctx.pool, &events).await {
            Ok(()) => {
                tracing::debug!(
                    rows = piece.len(),
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "Batch committed."
                );
                if let Some(m) = &ctx.monitor {
                    let metrics = m.metrics();
                    metrics.events_applied.inc_by(piece.len() as u64);
                    metrics.event_batches.observe(piece.len() as f64);
                    metrics
                        .batch_seconds
                        .observe(started.elapsed().as_secs_f64());
                }
                announce(&ctx, &events).await;
                for p in &piece {
                    if let Err(e) = p.msg.ack().await {
                        tracing::debug!(error = %e, "Ack failed; the event will be redelivered.");
                    }
                }
            }
            Err(Failure::Data(reason)) if piece.len() == 1 => {
                dead_letter(&ctx, &piece[0].msg, &reason).await;
            }
            Err(Failure::Data(reason)) => {
                tracing::info!(rows = piece.len(), %reason, "Batch refused; splitting it.");
                let (front, back) = halves(piece);
                stack.push(back);
                stack.push(front);
            }
            Err(Failure::Retry(reason)) => {
                tracing::warn!(rows = piece.len(), %reason, "Batch failed; retrying later.");
                for p in stack.into_iter().flatten().chain(piece) {
                    retry(&ctx, &p, &reason).await;
                }
                return false;
            }
        }
    }
    true
}

/// Nak with backoff, or dead-letter a message that has failed `max_deliver` times.
async fn retry(ctx: &Ctx, p: &Pending, reason: &str) {
    if p.delivered >= ctx.config.max_deliver {
        let why = format!("failed {} deliveries; last: {reason}", p.delivered);
        dead_letter(ctx, &p.msg, &why).await;
        return;
    }
    let delay = nak_delay(
        p.delivered,
        Duration::from_millis(ctx.config.retry_backoff_ms),
        Duration::from_millis(ctx.config.max_backoff_ms),
    );
    if let Err(e) = p.msg.ack_with(AckKind::Nak(Some(delay))).await {
        tracing::debug!(error = %e, "Nak failed; the event is redelivered after ack_wait.");
    }
}

/// Publish the event, its original subject and the reason to `<prefix>.events.dead`, and only
/// once that is flushed to the server terminate it. If the publish fails, nak instead: the
/// event comes back rather than vanishing.
async fn dead_letter(ctx: &Ctx, msg: &jetstream::Message, reason: &str) {
    let mut h = HeaderMap::new();
    h.insert(ORIGINAL_SUBJECT, msg.subject.as_str());
    h.insert(REASON, header_safe(reason).as_str());
    if let Some(orig) = &msg.headers {
        for name in [
            headers::CONTENT_TYPE,
            headers::CONTENT_ENCODING,
            "Nats-Msg-Id",
        ] {
            if let Some(v) = orig.get(name) {
                h.insert(name, v.as_str());
            }
        }
    }
    let subject = dead_letter_subject(&ctx.prefix);
    let sent = match ctx
        .client
        .publish_with_headers(subject, h, msg.payload.clone())
        .await
    {
        Ok(()) => ctx.client.flush().await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match sent {
        Ok(()) => {
            tracing::warn!(subject = %msg.subject, %reason, "Event dead-lettered.");
            if let Some(m) = &ctx.monitor {
                m.metrics().dead_letters.inc();
            }
            if let Err(e) = msg.ack_with(AckKind::Term).await {
                tracing::debug!(error = %e, "Term failed; the event may be dead-lettered twice.");
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "Dead-letter publish failed; the event will come back.");
            let _ = msg
                .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                .await;
        }
    }
}

/// Header values end at a line break; keep the reason on one line.
fn header_safe(reason: &str) -> String {
    reason.replace(['\r', '\n'], " ")
}

/// Tell `<prefix>.changes.<contacts|companies>` which uuids a committed batch touched.
async fn announce(ctx: &Ctx, events: &[&Event]) {
    for (entity, notice) in notices(events) {
        if let Some(cache) = &ctx.cache {
            cache.invalidate_local(crate::cache::Tables::of_change(entity.table()));
        }
        let body = match serde_json::to_vec(&notice) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "Cannot encode a change notice.");
                continue;
            }
        };
        let mut h = HeaderMap::new();
        h.insert(headers::CONTENT_TYPE, headers::JSON);
        let subject = changes_subject(&ctx.prefix, entity);
        if let Err(e) = ctx
            .client
            .publish_with_headers(subject, h, body.into())
            .await
        {
            tracing::warn!(error = %e, "Change notice not published.");
        }
    }
}

/// Whether every event published to a prefix's stream so far has been settled (acked or
/// terminated): nothing pending, nothing awaiting an ack. False when the stream or the consumer
/// does not exist (yet).
pub async fn settled(client: &async_nats::Client, prefix: &str) -> bool {
    let js = jetstream::new(client.clone());
    let Ok(stream) = js.get_stream(stream_name(prefix)).await else {
        return false;
    };
    let Ok(mut consumer) = stream
        .get_consumer::<jetstream::consumer::pull::Config>(CONSUMER)
        .await
    else {
        return false;
    };
    match consumer.info().await {
        Ok(i) => i.num_pending == 0 && i.num_ack_pending == 0,
        Err(_) => false,
    }
}
