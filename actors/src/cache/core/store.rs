//! The store: a concurrent map of encoded replies that readers use directly, with a
//! generation counter per table that makes every entry depending on a changed table invisible
//! at once (no scan), and the bounds (entries, bytes, TTL) the cache actor enforces.
//!
//! Never stale: an entry records the generations of its tables as they were *before* its
//! query ran; a read serves it only if they are all still current. A write that lands while
//! the query runs therefore leaves the entry dead on arrival.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use dashmap::DashMap;
use serde::Serialize;

use super::key::{Key, Tables};

/// Generations of the four tables, as a reader or writer saw them.
pub type Gens = [u64; 4];

/// An encoded reply, ready to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cached {
    pub body: Bytes,
    pub content_type: &'static str,
    pub zstd: bool,
}

/// Bounds of the store.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_entries: usize,
    pub max_bytes: usize,
}

#[derive(Debug)]
struct Entry {
    cached: Cached,
    deps: Tables,
    gens: Gens,
    expires_ms: u64,
    last_used_ms: AtomicU64,
    size: usize,
}

/// Counters the monitor reads (`$SRV.STATS` `data.cache`).
#[derive(Debug, Default)]
pub struct Metrics {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    /// Entries removed to stay within the bounds.
    pub evictions: AtomicU64,
    /// Entries removed because their TTL passed.
    pub expirations: AtomicU64,
    /// Invalidation events applied (each bumps one or more tables).
    pub invalidations: AtomicU64,
    /// Entries found or swept dead because a table they depend on changed.
    pub stale: AtomicU64,
    /// Queries run to fill the cache (one per single flight).
    pub queries: AtomicU64,
    /// Misses that waited for an identical query already running instead of running their own.
    pub coalesced: AtomicU64,
}

/// A copy of the metrics plus the store's size.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct MetricsSnapshot {
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
    pub expirations: u64,
    pub invalidations: u64,
    pub stale: u64,
    pub queries: u64,
    pub coalesced: u64,
    pub entries: usize,
    pub bytes: usize,
    /// hits / (hits + misses), 0 before the first lookup.
    pub hit_rate: f64,
}

/// The shared store. Readers call [`Store::get`]; the cache actor calls [`Store::sweep`].
#[derive(Debug)]
pub struct Store {
    map: DashMap<Key, Arc<Entry>>,
    gens: [AtomicU64; 4],
    bytes: AtomicUsize,
    limits: Limits,
    pub metrics: Metrics,
}

fn add(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Store {
    pub fn new(limits: Limits) -> Self {
        Self {
            map: DashMap::new(),
            gens: Default::default(),
            bytes: AtomicUsize::new(0),
            limits,
            metrics: Metrics::default(),
        }
    }

    /// The current generations; take them *before* running a query whose result is stored.
    pub fn generations(&self) -> Gens {
        std::array::from_fn(|i| self.gens[i].load(Ordering::Acquire))
    }

    /// Whether no table in `deps` changed since `gens` was taken.
    pub fn current(&self, deps: Tables, gens: &Gens) -> bool {
        deps.iter().all(|t| {
            let i = Tables::index(t);
            self.gens[i].load(Ordering::Acquire) == gens[i]
        })
    }

    /// A live entry, or `None` (counted as a miss). Dead entries found on the way are removed.
    pub fn get(&self, key: Key, now_ms: u64) -> Option<Cached> {
        self.lookup(key, now_ms, true)
    }

    /// [`Store::get`] without counting a miss (a fast path that falls back to `get`).
    pub fn peek(&self, key: Key, now_ms: u64) -> Option<Cached> {
        self.lookup(key, now_ms, false)
    }

    pub fn contains(&self, key: Key) -> bool {
        self.map.contains_key(&key)
    }

    fn lookup(&self, key: Key, now_ms: u64, count_miss: bool) -> Option<Cached> {
        let found = self.map.get(&key).map(|e| Arc::clone(e.value()));
        let Some(entry) = found else {
            if count_miss {
                add(&self.metrics.misses);
            }
            return None;
        };
        let fresh = self.current(entry.deps, &entry.gens);
        if !fresh || now_ms >= entry.expires_ms {
            self.remove_exact(key, &entry);
            add(if fresh {
                &self.metrics.expirations
            } else {
                &self.metrics.stale
            });
            if count_miss {
                add(&self.metrics.misses);
            }
            return None;
        }
        entry.last_used_ms.store(now_ms, Ordering::Relaxed);
        add(&self.metrics.hits);
        Some(entry.cached.clone())
    }

    /// Store a reply computed from a query that started when the generations were `gens`.
    /// Returns false when it was not stored: already stale, or too large for the bounds.
    /// The caller nudges the actor to evict when [`Store::over_bounds`] says so.
    pub fn insert(
        &self,
        key: Key,
        cached: Cached,
        deps: Tables,
        gens: Gens,
        ttl_ms: u64,
        now_ms: u64,
    ) -> bool {
        let size = cached.body.len() + 128;
        if !self.current(deps, &gens) || size > self.limits.max_bytes / 8 {
            return false;
        }
        let entry = Arc::new(Entry {
            cached,
            deps,
            gens,
            expires_ms: now_ms.saturating_add(ttl_ms),
            last_used_ms: AtomicU64::new(now_ms),
            size,
        });
        self.bytes.fetch_add(size, Ordering::Relaxed);
        if let Some(old) = self.map.insert(key, entry) {
            self.bytes.fetch_sub(old.size, Ordering::Relaxed);
        }
        true
    }

    fn remove_exact(&self, key: Key, entry: &Arc<Entry>) {
        if self
            .map
            .remove_if(&key, |_, e| Arc::ptr_eq(e, entry))
            .is_some()
        {
            self.bytes.fetch_sub(entry.size, Ordering::Relaxed);
        }
    }

    /// Bump the generation of every table in `tables`: every entry depending on one of them
    /// is dead from this instant (the sweep frees its memory later).
    pub fn invalidate(&self, tables: Tables) {
        for t in tables.iter() {
            self.gens[Tables::index(t)].fetch_add(1, Ordering::AcqRel);
        }
        add(&self.metrics.invalidations);
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    pub fn over_bounds(&self) -> bool {
        self.len() > self.limits.max_entries || self.bytes() > self.limits.max_bytes
    }

    /// Remove expired and invalidated entries, then the least recently used until the store
    /// is back under 90% of its bounds (so one insert does not trigger one sweep).
    pub fn sweep(&self, now_ms: u64) {
        let mut dead = Vec::new();
        let mut live = Vec::new();
        for e in self.map.iter() {
            let fresh = self.current(e.deps, &e.gens);
            if !fresh || now_ms >= e.expires_ms {
                dead.push((*e.key(), Arc::clone(e.value()), fresh));
            } else {
                live.push((
                    e.last_used_ms.load(Ordering::Relaxed),
                    *e.key(),
                    Arc::clone(e.value()),
                ));
            }
        }
        for (key, entry, fresh) in dead {
            self.remove_exact(key, &entry);
            add(if fresh {
                &self.metrics.expirations
            } else {
                &self.metrics.stale
            });
        }
        if !self.over_bounds() {
            return;
        }
        let max_entries = self.limits.max_entries * 9 / 10;
        let max_bytes = self.limits.max_bytes / 10 * 9;
        live.sort_by_key(|(used, key, _)| (*used, *key));
        for (_, key, entry) in live {
            if self.len() <= max_entries && self.bytes() <= max_bytes {
                break;
            }
            self.remove_exact(key, &entry);
            add(&self.metrics.evictions);
        }
    }

    pub fn snapshot(&self) -> MetricsSnapshot {
        let m = &self.metrics;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let (hits, misses) = (get(&m.hits), get(&m.misses));
        MetricsSnapshot {
            hits,
            misses,
            evictions: get(&m.evictions),
            expirations: get(&m.expirations),
            invalidations: get(&m.invalidations),
            stale: get(&m.stale),
            queries: get(&m.queries),
            coalesced: get(&m.coalesced),
            entries: self.len(),
            bytes: self.bytes(),
            hit_rate: if hits + misses == 0 {
                0.0
            } else {
                hits as f64 / (hits + misses) as f64
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planner::core::fields::Table;

    fn cached(n: usize) -> Cached {
        Cached {
            body: Bytes::from(vec![7; n]),
            content_type: "application/json",
            zstd: false,
        }
    }

    fn store() -> Store {
        Store::new(Limits {
            max_entries: 10,
            max_bytes: 1 << 20,
        })
    }

    const CONTACTS: Tables = Tables(1);

    #[test]
    fn a_hit_until_the_ttl_then_a_miss() {
        let s = store();
        assert!(s.insert(Key(1), cached(3), CONTACTS, s.generations(), 1000, 0));
        assert_eq!(s.get(Key(1), 999), Some(cached(3)));
        assert_eq!(s.get(Key(1), 1000), None);
        let m = s.snapshot();
        assert_eq!((m.hits, m.misses, m.expirations, m.entries), (1, 1, 1, 0));
        assert_eq!(m.hit_rate, 0.5);
    }

    #[test]
    fn invalidating_a_dependency_kills_the_entry_and_others_survive() {
        let s = store();
        let g = s.generations();
        let joined = Tables::of(&[Table::Contacts, Table::Companies]);
        s.insert(Key(1), cached(1), CONTACTS, g, 1000, 0);
        s.insert(Key(2), cached(1), joined, g, 1000, 0);
        s.invalidate(Tables::of(&[Table::Companies]));
        assert!(s.get(Key(1), 1).is_some());
        assert!(s.get(Key(2), 1).is_none());
        assert_eq!(s.snapshot().stale, 1);
    }

    #[test]
    fn a_result_whose_query_raced_a_write_is_never_stored() {
        let s = store();
        let before = s.generations();
        s.invalidate(CONTACTS);
        assert!(!s.insert(Key(1), cached(1), CONTACTS, before, 1000, 0));
        assert!(s.get(Key(1), 1).is_none());
    }

    #[test]
    fn the_sweep_evicts_least_recently_used_down_to_the_bounds() {
        let s = store();
        for k in 0..12u64 {
            s.insert(Key(k.into()), cached(1), CONTACTS, s.generations(), 1000, k);
        }
        s.get(Key(0), 50);
        assert!(s.over_bounds());
        s.sweep(60);
        assert_eq!(s.len(), 9);
        assert!(s.get(Key(0), 61).is_some(), "recently used survives");
        assert!(s.get(Key(1), 61).is_none(), "least recently used goes");
        assert_eq!(s.snapshot().evictions, 3);
        // Too big for the byte bound: refused rather than evicting everything else.
        assert!(!s.insert(Key(99), cached(1 << 18), CONTACTS, s.generations(), 1, 0));
    }
}
