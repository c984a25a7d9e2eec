//! The cache actor owns the result cache of search, count and facets replies and of Apollo
//! URL analyses (DESIGN §3).
//!
//! Reads never go through the mailbox: request tasks hold a [`Handle`] and look the encoded
//! reply up in a shared concurrent map, so a hit costs a canonicalisation, a hash lookup and a
//! publish. The actor owns expiry, eviction (least recently used, past `max_entries` or
//! `max_bytes`), invalidation (it listens on `<prefix>.changes.>` and
//! `<prefix>.cache.invalidate`) and metrics.
//!
//! Guarantees:
//! - Never stale locally: each entry records the generation of every table it depends on as
//!   it was *before* its query ran; a write bumps the generations (through
//!   [`Handle::invalidate`] in-process, synchronously, before the writer replies), so no read
//!   after that can be served an entry older than the write. Across instances the broadcast
//!   makes entries die as soon as the notice arrives (NATS delivery latency, sub-millisecond
//!   on a LAN); a restart of this actor invalidates everything, since notices may have been
//!   missed while it was down.
//! - Single flight: identical concurrent misses run one query and share its answer (or
//!   error); a caller arriving after a write landed never joins a flight that started before.
//! - Bounded: entries, bytes (an entry larger than an eighth of the byte bound is served but
//!   not kept) and TTL.
//!
//! Never does: touch the database, cache errors, or cache `explain` and `get`.
//!
//! Why DashMap and not `moka`: the staleness rule is ours anyway (per-table generations
//! checked on read, which moka's predicate invalidation would only approximate with a scan),
//! single flight must refuse to join flights older than a write (moka's `get_with` cannot
//! know that), and DashMap is already a dependency — no new crate to build on two cores. The
//! cost is a hand-written LRU sweep, which runs in the actor, off the request path.

mod actor;
pub mod core;
mod handle;

use ractor::RpcReplyPort;

pub use actor::{CacheActor, CacheArgs};
pub use core::{Cached, Key, MetricsSnapshot, Tables, Variant};
pub use handle::{Broadcast, Handle, InvalidateNotice, Source};

pub enum CacheMsg {
    /// Drop expired and invalidated entries, then evict down to the bounds.
    Sweep,
    /// Invalidate and broadcast (for writers that hold only the actor's name).
    Invalidate(Tables),
    Metrics(RpcReplyPort<MetricsSnapshot>),
}
