//! The gateway owns the NATS service endpoints (DESIGN §4): one NATS micro service named
//! `rolodex` whose endpoints share the queue group, so instances split the load and
//! `nats micro ls/info/stats` see them.
//!
//! Guarantees: every request gets exactly one reply — the answer, or an error with
//! `Nats-Service-Error-Code`, `Nats-Service-Error` and a `{code, message, details}` body in
//! the caller's format; bodies and decompression are bounded; at most `max_in_flight`
//! requests run at once (the rest get 429 at once rather than queueing without bound).
//! Never does: touch the database (it decodes, validates, routes to the planner).
//!
//! async-nats' own service replies to errors with an empty body, so the micro protocol
//! (`$SRV.PING|INFO|STATS`) is answered here instead, with the same stats the library keeps.

mod actor;
pub mod core;
mod request;
mod stream;

pub use actor::{GatewayActor, GatewayArgs, GatewayMsg};
pub use core::{EndpointStats, Route, ServiceIdentity};
