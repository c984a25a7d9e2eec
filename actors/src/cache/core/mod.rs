//! The cache's pure core: keys, the table set a result depends on, and the store with its
//! per-table generations, expiry, bounds and metrics. No actors, no NATS, no clock: time
//! arrives as milliseconds from the shell.

pub mod key;
pub mod store;

pub use key::{Key, Tables, Variant};
pub use store::{Cached, Limits, Metrics, MetricsSnapshot, Store};
