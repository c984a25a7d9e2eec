//! The root supervisor: starts the children in order (pool, planner, gateway), restarts a
//! child that crashes or is killed — after a backoff that doubles within a window — and gives
//! up (stopping itself, which ends `serve` with an error) after too many restarts in one window.
//! Shutdown runs in reverse start order: the gateway stops intake and drains first, the pool
//! goes last.
//!
//! ractor's default would stop the supervisor when any child exits; this one says its policy.

mod actor;
pub mod core;

pub use actor::{Child, ChildSpec, Supervisor, SupervisorMsg};
pub use core::{Decision, RestartPolicy, RestartTracker};
