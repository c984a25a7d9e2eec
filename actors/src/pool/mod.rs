//! The pool actor owns the PostgreSQL connections (DESIGN §6): `size + max_overflow`
//! connections (25 kept warm, 50 overflow that idle out), leased by class of work under
//! per-class rations so a burst of imports or exports can never starve searches.
//!
//! Guarantees: a lease request either gets a connection within `timeout_secs` or fails with
//! 503 `pool_exhausted` naming its class, never hangs; lease counts per class are observable.
//! Never does: run queries itself, or hand out a connection outside a ration.
//!
//! Leasing goes straight to the shared [`Pool`] (a semaphore per class, then the idle stack),
//! not through the mailbox, so the hot path costs no actor hop. The connections are sqlx
//! `PgConnection`s kept by Rolodex itself rather than by sqlx's pool, which pings every
//! connection it takes back: a lease whose statement ran to completion says so
//! ([`Lease::settle`]) and its connection goes straight back; any other is pinged first (which
//! reads what an interrupted statement left and sends a pending rollback). The lifecycle
//! rules (pre-ping after idle, recycle, idle-out of overflow) are pure, in [`core::Lifecycle`]. The actor owns the lifecycle:
//! it keeps the pool across restarts of its own and answers stats requests.

mod actor;
pub mod core;

pub use actor::{connect_options, Lease, Pool, PoolActor, PoolMsg};
pub use core::{Class, ClassStats, PoolStats};
