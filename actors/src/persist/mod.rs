//! The persist actor owns event ingestion (DESIGN §4 Events, §7): the JetStream stream
//! `ROLODEX_EVENTS` (named after the prefix), its durable pull consumer `rolodex-persist`, and
//! the batched writes of contact and company events into PostgreSQL.
//!
//! Guarantees:
//! - An event is acked only after the transaction holding it commits; one batch is one
//!   transaction on an `ingest` lease (so a flood of events never starves searches).
//! - Applying is idempotent and ordered by version: an event not newer than the stored row or
//!   than the entity's tombstone changes nothing; a delete leaves a versioned tombstone.
//! - Two writers never interleave on one entity: a batch first takes the advisory locks of its
//!   entities (512 of them, by a fixed hash of the uuid, in ascending order), so instances
//!   sharing the consumer queue behind each other where their batches overlap; the lanes of
//!   one instance own disjoint locks and never wait for each other.
//! - Nothing is silently dropped: an event that cannot be decoded or validated, that the
//!   database refuses (found by splitting its batch), or that keeps failing is published to
//!   `<prefix>.events.dead` with headers `Rolodex-Original-Subject` and `Rolodex-Reason` (the
//!   payload as body), and terminated only after that publish is flushed.
//! - After each commit a notice goes to `<prefix>.changes.contacts|companies`: a JSON body
//!   `{"entity": "contacts", "count": 2, "uuids": ["…", "…"]}` listing the uuids the batch
//!   touched (no-op events included), for cache invalidation.
//!
//! Never does: write outside its batches' transactions, hold more than `max_in_flight`
//! unacked events, or ack before commit. Killing it loses nothing: unacked events come back.

mod actor;
pub mod core;
mod pull;
mod write;

pub use actor::{
    ensure_consumer, ensure_stream, settled, PersistActor, PersistArgs, PersistError, PersistMsg,
    ORIGINAL_SUBJECT, REASON,
};
pub use write::{classify, write_batch, Failure};
