//! The supervisor shell.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use ractor::{
    Actor, ActorCell, ActorProcessingErr, ActorRef, RpcReplyPort, SpawnErr, SupervisionEvent,
};

use super::core::{Decision, RestartPolicy, RestartTracker};

type SpawnFuture<'a> = Pin<Box<dyn Future<Output = Result<ActorCell, SpawnErr>> + Send + 'a>>;

/// Something the supervisor can (re)start.
pub trait Child: Send + Sync + 'static {
    fn name(&self) -> &str;
    fn spawn(&self, supervisor: ActorCell) -> SpawnFuture<'_>;
}

/// A child built from an actor and the arguments it is restarted with.
pub struct ChildSpec<A: Actor> {
    pub name: String,
    pub make: fn() -> A,
    pub args: A::Arguments,
}

impl<A> Child for ChildSpec<A>
where
    A: Actor,
    A::Arguments: Clone + Sync,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn spawn(&self, supervisor: ActorCell) -> SpawnFuture<'_> {
        Box::pin(async move {
            let (actor, _join) = Actor::spawn_linked(
                Some(self.name.clone()),
                (self.make)(),
                self.args.clone(),
                supervisor,
            )
            .await?;
            Ok(actor.get_cell())
        })
    }
}

pub enum SupervisorMsg {
    /// Start child `i` again (sent to itself after the backoff).
    Restart(usize),
    /// Stop the children in reverse order, waiting up to the deadline for each.
    Shutdown(Duration, RpcReplyPort<()>),
    /// How many times each child was restarted.
    Restarts(RpcReplyPort<Vec<(String, u32)>>),
}

struct Slot {
    child: Box<dyn Child>,
    cell: Option<ActorCell>,
    tracker: RestartTracker,
    restarts: u32,
}

pub struct SupervisorState {
    slots: Vec<Slot>,
    started: Instant,
    stopping: bool,
}

pub struct Supervisor;

impl Actor for Supervisor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = (RestartPolicy, Vec<Box<dyn Child>>);

    async fn pre_start(
        &self,
        me: ActorRef<SupervisorMsg>,
        (policy, children): Self::Arguments,
    ) -> Result<SupervisorState, ActorProcessingErr> {
        let mut slots = Vec::with_capacity(children.len());
        for child in children {
            let cell = child.spawn(me.get_cell()).await?;
            slots.push(Slot {
                child,
                cell: Some(cell),
                tracker: RestartTracker::new(policy),
                restarts: 0,
            });
        }
        Ok(SupervisorState {
            slots,
            started: Instant::now(),
            stopping: false,
        })
    }

    async fn handle(
        &self,
        me: ActorRef<SupervisorMsg>,
        msg: SupervisorMsg,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SupervisorMsg::Restart(i) if !state.stopping => {
                let slot = &mut state.slots[i];
                match slot.child.spawn(me.get_cell()).await {
                    Ok(cell) => {
                        slot.restarts += 1;
                        tracing::warn!(
                            child = slot.child.name(),
                            restarts = slot.restarts,
                            "Child restarted."
                        );
                        slot.cell = Some(cell);
                    }
                    Err(e) => {
                        tracing::warn!(child = slot.child.name(), error = %e, "Child failed to restart.");
                        schedule(&me, state, i);
                    }
                }
            }
            SupervisorMsg::Restart(_) => {}
            SupervisorMsg::Shutdown(deadline, reply) => {
                state.stopping = true;
                for slot in state.slots.iter_mut().rev() {
                    if let Some(cell) = slot.cell.take() {
                        if cell
                            .stop_and_wait(Some("shutdown".into()), Some(deadline))
                            .await
                            .is_err()
                        {
                            tracing::warn!(
                                child = slot.child.name(),
                                "Child did not stop in time; killing it."
                            );
                            cell.kill();
                        }
                    }
                }
                let _ = reply.send(());
                me.stop(Some("shutdown".into()));
            }
            SupervisorMsg::Restarts(reply) => {
                let counts = state
                    .slots
                    .iter()
                    .map(|s| (s.child.name().to_owned(), s.restarts))
                    .collect();
                let _ = reply.send(counts);
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        me: ActorRef<SupervisorMsg>,
        event: SupervisionEvent,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        let (cell, why) = match event {
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                (cell, reason.unwrap_or_else(|| "stopped".into()))
            }
            SupervisionEvent::ActorFailed(cell, err) => (cell, err.to_string()),
            _ => return Ok(()),
        };
        if state.stopping {
            return Ok(());
        }
        let Some(i) = state
            .slots
            .iter()
            .position(|s| s.cell.as_ref().is_some_and(|c| c.get_id() == cell.get_id()))
        else {
            return Ok(());
        };
        state.slots[i].cell = None;
        tracing::warn!(child = state.slots[i].child.name(), reason = %why, "Child exited.");
        schedule(&me, state, i);
        Ok(())
    }
}

/// Ask the policy, then restart after the backoff or give up.
fn schedule(me: &ActorRef<SupervisorMsg>, state: &mut SupervisorState, i: usize) {
    let now = state.started.elapsed().as_millis() as u64;
    let slot = &mut state.slots[i];
    match slot.tracker.on_failure(now) {
        Decision::Restart(after) => {
            me.send_after(after, move || SupervisorMsg::Restart(i));
        }
        Decision::Escalate => {
            tracing::error!(
                child = slot.child.name(),
                "Child keeps crashing; stopping Rolodex."
            );
            me.stop(Some(format!(
                "child {} restarted too often",
                slot.child.name()
            )));
        }
    }
}
