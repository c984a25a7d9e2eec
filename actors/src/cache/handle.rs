//! The typed handle every request task holds: lookups straight into the shared store (no
//! mailbox hop), single flight for misses, and invalidation for local writers.

use std::future::Future;
use std::sync::Arc;

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::time::Instant;

use super::core::store::Gens;
use super::core::{Cached, Key, Limits, MetricsSnapshot, Store, Tables};
use super::CacheMsg;
use crate::config::CacheConfig;
use crate::error::ApiError;

/// Where a reply came from: the `Rolodex-Cache` header value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Hit,
    Miss,
}

impl Source {
    pub fn header(self) -> &'static str {
        match self {
            Source::Hit => "hit",
            Source::Miss => "miss",
        }
    }
}

/// The body of a `<prefix>.cache.invalidate` broadcast.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InvalidateNotice {
    /// Table names (`contacts`, `companies`, `contacts_metadata`, `companies_metadata`).
    pub tables: Vec<String>,
    /// The instance that sent it (it has already applied it).
    #[serde(default)]
    pub origin: String,
}

/// Where local invalidations are broadcast so other instances drop their entries too.
#[derive(Clone)]
pub struct Broadcast {
    pub client: async_nats::Client,
    pub subject: String,
}

#[derive(Debug, Clone)]
enum Outcome {
    Pending,
    Done(Result<Cached, ApiError>),
    /// The leader went away without an answer: followers run their own query.
    Abandoned,
}

struct Flight {
    gens: Gens,
    done: watch::Sender<Outcome>,
}

struct Inner {
    store: Store,
    flights: DashMap<Key, Arc<Flight>>,
    /// Raw-request key → canonical key (see [`Key::of_raw`]).
    aliases: DashMap<Key, Key>,
    epoch: Instant,
    config: CacheConfig,
    origin: String,
    actor: String,
    broadcast: Option<Broadcast>,
}

/// Cheap to clone; shared by the gateway, the cache actor and local writers.
#[derive(Clone)]
pub struct Handle {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("cache::Handle")
            .field("origin", &self.inner.origin)
            .field("entries", &self.inner.store.len())
            .finish()
    }
}

/// Removes the flight when the leader finishes or is dropped, telling followers either way.
struct Leading<'a> {
    handle: &'a Handle,
    key: Key,
    flight: Arc<Flight>,
}

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        self.flight.done.send_if_modified(|o| {
            let pending = matches!(o, Outcome::Pending);
            if pending {
                *o = Outcome::Abandoned;
            }
            pending
        });
        self.handle
            .inner
            .flights
            .remove_if(&self.key, |_, f| Arc::ptr_eq(f, &self.flight));
    }
}

impl Handle {
    /// `origin` names this instance in broadcasts; `actor` is the cache actor's registered
    /// name (nudged to evict when an insert goes past the bounds).
    pub fn new(
        config: &CacheConfig,
        origin: impl Into<String>,
        actor: impl Into<String>,
        broadcast: Option<Broadcast>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store: Store::new(Limits {
                    max_entries: config.max_entries,
                    max_bytes: config.max_bytes,
                }),
                flights: DashMap::new(),
                aliases: DashMap::new(),
                epoch: Instant::now(),
                config: config.clone(),
                origin: origin.into(),
                actor: actor.into(),
                broadcast,
            }),
        }
    }

    pub fn enabled(&self) -> bool {
        self.inner.config.enabled
    }

    pub fn origin(&self) -> &str {
        &self.inner.origin
    }

    pub fn result_ttl_ms(&self) -> u64 {
        self.inner.config.ttl_secs.saturating_mul(1000)
    }

    pub fn apollo_ttl_ms(&self) -> u64 {
        self.inner.config.apollo_ttl_secs.saturating_mul(1000)
    }

    /// Milliseconds since this handle was made (tokio time, so tests can pause it).
    pub fn now_ms(&self) -> u64 {
        self.inner.epoch.elapsed().as_millis() as u64
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn metrics(&self) -> MetricsSnapshot {
        self.inner.store.snapshot()
    }

    /// A hit for a request whose exact bytes were seen before, without decoding it. `None`
    /// (not counted as a miss) sends the caller down the normal path.
    pub fn raw_hit(&self, raw: Key) -> Option<Cached> {
        let key = *self.inner.aliases.get(&raw)?;
        // Counted as a hit by the store; a miss here is not counted (the normal path will).
        self.inner.store.peek(key, self.now_ms())
    }

    /// Remember that the request with raw key `raw` canonicalises to `key`.
    pub fn alias(&self, raw: Key, key: Key) {
        let aliases = &self.inner.aliases;
        if aliases.len() >= self.inner.config.max_entries.saturating_mul(4) {
            aliases.clear();
        }
        aliases.insert(raw, key);
    }

    /// Drop aliases whose entry is gone (the actor's sweep).
    pub fn sweep(&self) {
        self.inner.store.sweep(self.now_ms());
        let store = &self.inner.store;
        self.inner.aliases.retain(|_, key| store.contains(*key));
    }

    /// The cached reply for `key`, or the one `compute` produces. Identical concurrent misses
    /// share one `compute` (single flight) unless a table they depend on changed after it
    /// started; errors are shared with the waiters but never stored.
    pub async fn fetch<F, Fut>(
        &self,
        key: Key,
        deps: Tables,
        ttl_ms: u64,
        compute: F,
    ) -> Result<(Cached, Source), ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Cached, ApiError>>,
    {
        let store = &self.inner.store;
        if let Some(hit) = store.get(key, self.now_ms()) {
            return Ok((hit, Source::Hit));
        }
        // Taken before the query starts: a write landing meanwhile makes the result stale.
        let gens = store.generations();
        let (flight, leader) = match self.inner.flights.entry(key) {
            Entry::Occupied(e) if store.current(deps, &e.get().gens) => (e.get().clone(), false),
            Entry::Occupied(mut e) => {
                let f = Self::flight(gens);
                e.insert(f.clone());
                (f, true)
            }
            Entry::Vacant(e) => {
                let f = Self::flight(gens);
                e.insert(f.clone());
                (f, true)
            }
        };
        if !leader {
            store.metrics.coalesced.fetch_add(1, relaxed());
            let mut rx = flight.done.subscribe();
            let outcome = rx
                .wait_for(|o| !matches!(o, Outcome::Pending))
                .await
                .map(|o| o.clone());
            if let Ok(Outcome::Done(result)) = outcome {
                return result.map(|c| (c, Source::Miss));
            }
            store.metrics.queries.fetch_add(1, relaxed());
            return compute().await.map(|c| (c, Source::Miss));
        }
        let leading = Leading {
            handle: self,
            key,
            flight,
        };
        store.metrics.queries.fetch_add(1, relaxed());
        let result = compute().await;
        if let Ok(c) = &result {
            let stored = store.insert(key, c.clone(), deps, gens, ttl_ms, self.now_ms());
            if stored && store.over_bounds() {
                self.nudge();
            }
        }
        leading
            .flight
            .done
            .send_replace(Outcome::Done(result.clone()));
        drop(leading);
        result.map(|c| (c, Source::Miss))
    }

    fn flight(gens: Gens) -> Arc<Flight> {
        Arc::new(Flight {
            gens,
            done: watch::Sender::new(Outcome::Pending),
        })
    }

    fn nudge(&self) {
        if let Some(cell) = ractor::registry::where_is(self.inner.actor.clone()) {
            let _ = cell.send_message(CacheMsg::Sweep);
        }
    }

    /// Apply an invalidation here only (a notice from NATS, or a restart).
    pub fn invalidate_local(&self, tables: Tables) {
        self.inner.store.invalidate(tables);
    }

    /// For local writers, after their commit: every entry depending on `tables` is dead on
    /// this instance before this returns, and the other instances are told on
    /// `<prefix>.cache.invalidate`.
    pub async fn invalidate(&self, tables: Tables) {
        self.invalidate_local(tables);
        let Some(b) = &self.inner.broadcast else {
            return;
        };
        let notice = InvalidateNotice {
            tables: tables.names().into_iter().map(str::to_owned).collect(),
            origin: self.inner.origin.clone(),
        };
        let body = serde_json::to_vec(&notice).unwrap_or_default();
        if let Err(e) = b.client.publish(b.subject.clone(), body.into()).await {
            tracing::warn!(error = %e, "Could not broadcast a cache invalidation.");
        }
    }

    /// Apply a message from `<prefix>.changes.<what>` or `<prefix>.cache.invalidate`.
    /// `rest` is the subject after the prefix. Returns the tables bumped.
    pub fn apply_notice(&self, rest: &str, body: &[u8]) -> Option<Tables> {
        let tables = if let Some(what) = rest.strip_prefix("changes.") {
            Tables::of_change(what.split('.').next().unwrap_or_default())
        } else if rest == "cache.invalidate" {
            match serde_json::from_slice::<InvalidateNotice>(body) {
                Ok(n) if n.origin == self.inner.origin => return None,
                Ok(n) => n
                    .tables
                    .iter()
                    .map(|t| Tables::parse(t).unwrap_or(Tables::ALL))
                    .fold(Tables::NONE, |a, b| Tables(a.0 | b.0)),
                // An unreadable notice still means "something changed".
                Err(_) => Tables::ALL,
            }
        } else {
            return None;
        };
        let tables = if tables == Tables::NONE {
            Tables::ALL
        } else {
            tables
        };
        self.invalidate_local(tables);
        Some(tables)
    }
}

fn relaxed() -> std::sync::atomic::Ordering {
    std::sync::atomic::Ordering::Relaxed
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::time::Duration;

    fn handle() -> Handle {
        Handle::new(&CacheConfig::default(), "me", "nowhere/cache", None)
    }

    fn body(s: &'static str) -> Cached {
        Cached {
            body: Bytes::from_static(s.as_bytes()),
            content_type: "application/json",
            zstd: false,
        }
    }

    const DEPS: Tables = Tables(1);

    #[tokio::test(start_paused = true)]
    async fn entries_expire_after_the_ttl_in_paused_time() {
        let h = handle();
        let ttl = h.result_ttl_ms();
        let (_, s) = h
            .fetch(Key(1), DEPS, ttl, || async { Ok(body("a")) })
            .await
            .unwrap();
        assert_eq!(s, Source::Miss);
        tokio::time::advance(Duration::from_secs(299)).await;
        let (c, s) = h
            .fetch(Key(1), DEPS, ttl, || async { Ok(body("b")) })
            .await
            .unwrap();
        assert_eq!((c, s), (body("a"), Source::Hit));
        tokio::time::advance(Duration::from_secs(2)).await;
        let (c, s) = h
            .fetch(Key(1), DEPS, ttl, || async { Ok(body("c")) })
            .await
            .unwrap();
        assert_eq!((c, s), (body("c"), Source::Miss));
        assert_eq!(h.metrics().expirations, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_misses_share_one_query() {
        let h = handle();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let leader = {
            let h = h.clone();
            tokio::spawn(async move {
                h.fetch(Key(7), DEPS, 1000, || async {
                    let _ = rx.await;
                    Ok(body("one"))
                })
                .await
            })
        };
        tokio::task::yield_now().await;
        let followers: Vec<_> = (0..49)
            .map(|_| {
                let h = h.clone();
                tokio::spawn(async move {
                    h.fetch(Key(7), DEPS, 1000, || async { Ok(body("other")) })
                        .await
                })
            })
            .collect();
        tokio::task::yield_now().await;
        let _ = tx.send(());
        for f in followers {
            assert_eq!(f.await.unwrap().unwrap().0, body("one"));
        }
        assert_eq!(leader.await.unwrap().unwrap().0, body("one"));
        let m = h.metrics();
        assert_eq!((m.queries, m.coalesced), (1, 49));
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_during_a_flight_sends_later_callers_to_a_new_query() {
        let h = handle();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let leader = {
            let h = h.clone();
            tokio::spawn(async move {
                h.fetch(Key(7), DEPS, 1000, || async {
                    let _ = rx.await;
                    Ok(body("before the write"))
                })
                .await
            })
        };
        tokio::task::yield_now().await;
        h.invalidate(DEPS).await;
        let (c, _) = h
            .fetch(Key(7), DEPS, 1000, || async { Ok(body("after")) })
            .await
            .unwrap();
        assert_eq!(c, body("after"));
        let _ = tx.send(());
        leader.await.unwrap().unwrap();
        // The late result of the old flight was not stored over the fresh one... nor at all.
        let (c, s) = h
            .fetch(Key(7), DEPS, 1000, || async { Ok(body("x")) })
            .await
            .unwrap();
        assert_eq!((c, s), (body("after"), Source::Hit));
    }

    #[tokio::test(start_paused = true)]
    async fn the_raw_fast_path_obeys_generations_like_the_canonical_one() {
        let h = handle();
        assert!(
            h.raw_hit(Key(100)).is_none(),
            "unknown bytes go the normal way"
        );
        h.fetch(Key(1), DEPS, 1000, || async { Ok(body("a")) })
            .await
            .unwrap();
        h.alias(Key(100), Key(1));
        assert_eq!(h.raw_hit(Key(100)), Some(body("a")));
        h.invalidate(DEPS).await;
        assert!(
            h.raw_hit(Key(100)).is_none(),
            "a write kills the fast path too"
        );
        h.sweep();
        assert!(h.raw_hit(Key(100)).is_none());
        let m = h.metrics();
        assert_eq!(
            (m.hits, m.misses),
            (1, 1),
            "fast-path misses are not counted twice"
        );
    }

    #[test]
    fn notices_bump_the_right_tables_and_skip_our_own() {
        let h = handle();
        assert_eq!(
            h.apply_notice("changes.companies", b"{}"),
            Some(Tables::of_change("companies"))
        );
        let own = br#"{"tables":["contacts"],"origin":"me"}"#;
        assert_eq!(h.apply_notice("cache.invalidate", own), None);
        let other = br#"{"tables":["contacts"],"origin":"you"}"#;
        assert_eq!(h.apply_notice("cache.invalidate", other), Some(DEPS));
        assert_eq!(
            h.apply_notice("cache.invalidate", b"junk"),
            Some(Tables::ALL)
        );
    }
}
