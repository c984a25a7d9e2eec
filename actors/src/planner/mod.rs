//! The planner actor turns a request into the cheapest correct SQL (its pure [`core`]), runs
//! it on an interactive lease from the pool, and answers.
//!
//! Guarantees: every value is a bind; names come from the whitelist; only the tables a request
//! touches are joined; a request whose caller gave up still returns its lease.
//! Never does: build SQL anywhere but `core::sql`; wait on the database inside its mailbox —
//! each request runs in its own task, bounded by the interactive ration of the pool.

mod actor;
pub mod core;
/// Binding and decoding, public so the benchmark's floor runs the planner's SQL the same way.
pub mod exec;

pub use actor::{Answer, Handle, PlannerActor, PlannerArgs, PlannerMsg, StreamItem};
