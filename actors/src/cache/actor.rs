//! The cache shell: subscribes to change notices and invalidation broadcasts, sweeps expired,
//! invalidated and over-bound entries on a timer, and answers metric requests.

use std::time::Duration;

use futures::StreamExt;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::task::JoinHandle;

use super::core::Tables;
use super::handle::Handle;
use super::CacheMsg;

/// What the cache actor needs; kept by the supervisor so a restart gets the same store.
#[derive(Clone)]
pub struct CacheArgs {
    pub handle: Handle,
    pub client: async_nats::Client,
    pub prefix: String,
    pub sweep: Duration,
}

/// Aborts its task when dropped, so a killed actor leaves no loop behind.
struct Task(JoinHandle<()>);

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub struct CacheState {
    args: CacheArgs,
    _notices: Task,
    _ticker: Task,
}

pub struct CacheActor;

impl Actor for CacheActor {
    type Msg = CacheMsg;
    type State = CacheState;
    type Arguments = CacheArgs;

    async fn pre_start(
        &self,
        me: ActorRef<CacheMsg>,
        args: CacheArgs,
    ) -> Result<CacheState, ActorProcessingErr> {
        let changes = args
            .client
            .subscribe(format!("{}.changes.>", args.prefix))
            .await?;
        let broadcasts = args
            .client
            .subscribe(format!("{}.cache.invalidate", args.prefix))
            .await?;
        crate::nats_sync::round_trip(&args.client).await?;
        // Notices sent while nobody listened (start, restart) are lost: assume everything
        // changed, now that we listen again.
        args.handle.invalidate_local(Tables::ALL);
        let handle = args.handle.clone();
        let prefix_len = args.prefix.len() + 1;
        let notices = tokio::spawn(async move {
            let mut all = futures::stream::select(changes, broadcasts);
            while let Some(msg) = all.next().await {
                // Applied here, not through the mailbox, so the window between a notice
                // arriving and entries dying is as short as it can be.
                let rest = msg.subject.get(prefix_len..).unwrap_or_default();
                if let Some(tables) = handle.apply_notice(rest, &msg.payload) {
                    tracing::debug!(tables = ?tables.names(), "Cache invalidated.");
                }
            }
        });
        let sweep = args.sweep;
        let ticker = tokio::spawn(async move {
            let mut every = tokio::time::interval(sweep);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                if me.cast(CacheMsg::Sweep).is_err() {
                    break;
                }
            }
        });
        Ok(CacheState {
            args,
            _notices: Task(notices),
            _ticker: Task(ticker),
        })
    }

    async fn handle(
        &self,
        _me: ActorRef<CacheMsg>,
        msg: CacheMsg,
        state: &mut CacheState,
    ) -> Result<(), ActorProcessingErr> {
        let h = &state.args.handle;
        match msg {
            CacheMsg::Sweep => h.sweep(),
            CacheMsg::Invalidate(tables) => h.invalidate(tables).await,
            CacheMsg::Metrics(reply) => {
                if reply.send(h.metrics()).is_err() {
                    tracing::debug!("Caller went away before the cache metrics were sent.");
                }
            }
        }
        Ok(())
    }
}
