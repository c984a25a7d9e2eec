//! The Rolodex engine: every actor of the supervision tree, each in its own folder as a pure
//! `core` (no I/O, unit-tested directly) plus a thin ractor `actor` shell that owns state,
//! mailbox and lifecycle. The `rolodex` binary crate wires them together.
//!
//! Map (see ARCHITECTURE.md for the invariants):
//! - [`wire`]: the request/reply codec (MessagePack, JSON, zstd, error bodies).
//! - [`model`]: entities and request shapes as they travel on the wire.
//! - [`planner`]: filters → SQL plans, executed on a pool lease.
//! - [`pool`]: the PostgreSQL connections, rationed between classes of work.
//! - [`gateway`]: the NATS micro service endpoints.
//! - [`apollo`]: Apollo.io search URL → Rolodex filters.
//! - [`normalize`]: industry mapping and canonical job titles (pure lookups).
//! - [`cache`]: the result cache (never stale, single flight) and the Apollo-URL cache.
//! - [`persist`]: events from JetStream, batched into PostgreSQL.
//! - [`supervisor`]: the root supervisor and its restart policy.
//! - [`nats_sync`]: a round trip through the NATS server, so subscriptions are known live.

pub mod apollo;
pub mod cache;
pub mod config;
pub mod error;
pub mod gateway;
pub mod model;
pub mod monitor;
pub mod nats_sync;
pub mod normalize;
pub mod persist;
pub mod planner;
pub mod pool;
pub mod supervisor;
pub mod wire;

pub use config::Config;
pub use error::ApiError;
