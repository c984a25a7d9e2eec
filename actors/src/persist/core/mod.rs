//! The persist actor's pure logic: event validation ([`event`]), the set-based statements and
//! their column arrays ([`statements`]), the pull credit ([`credit`]), and here batching by
//! count and time (time is passed in), ordering a batch into rounds, splitting a failed batch,
//! nak backoff and change notices.
//! No ractor, sqlx, async-nats or tokio in here.

pub mod credit;
pub mod event;
pub mod statements;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use event::{parse_subject, validate, Change, Entity, Event, Op, Reject};

/// Collects items into batches that close when full or when the first item has waited
/// `flush_after`.
#[derive(Debug)]
pub struct Batcher<T> {
    max: usize,
    flush_after: Duration,
    items: Vec<T>,
    opened: Option<Instant>,
}

impl<T> Batcher<T> {
    pub fn new(max: usize, flush_after: Duration) -> Self {
        Self {
            max: max.max(1),
            flush_after,
            items: Vec::new(),
            opened: None,
        }
    }

    /// Add an item; true when the batch is now full and must be written.
    pub fn push(&mut self, item: T, now: Instant) -> bool {
        self.opened.get_or_insert(now);
        self.items.push(item);
        self.items.len() >= self.max
    }

    /// When the open batch must be written even if not full.
    pub fn deadline(&self) -> Option<Instant> {
        self.opened.map(|t| t + self.flush_after)
    }

    pub fn is_due(&self, now: Instant) -> bool {
        self.deadline().is_some_and(|d| now >= d) || self.items.len() >= self.max
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Close the batch and hand it over.
    pub fn take(&mut self) -> Vec<T> {
        self.opened = None;
        std::mem::take(&mut self.items)
    }
}

/// The events of one round: at most one per (entity, uuid), so a set-based statement never
/// touches a row twice. Indices point into the batch.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Round {
    pub upserts: BTreeMap<Entity, Vec<usize>>,
    pub deletes: BTreeMap<Entity, Vec<usize>>,
}

/// Order a batch into rounds: round k holds each entity's k-th event by version, so several
/// events for one uuid in a batch apply oldest first, each as the version gate sees fit.
/// Exact duplicates (same entity, uuid and version — redeliveries, republished events) are
/// applied once.
pub fn rounds(events: &[&Event]) -> Vec<Round> {
    let mut seen = HashSet::new();
    let mut per_entity: HashMap<(Entity, Uuid), Vec<usize>> = HashMap::new();
    for (i, e) in events.iter().enumerate() {
        if seen.insert((e.entity, e.uuid, e.version)) {
            per_entity.entry((e.entity, e.uuid)).or_default().push(i);
        }
    }
    let mut out: Vec<Round> = Vec::new();
    let mut groups: Vec<_> = per_entity.into_values().collect();
    groups.sort_unstable_by_key(|g| g[0]);
    for mut group in groups {
        group.sort_by_key(|&i| events[i].version);
        for (k, i) in group.into_iter().enumerate() {
            if out.len() <= k {
                out.push(Round::default());
            }
            let e = events[i];
            let slot = match e.change {
                Change::Delete => &mut out[k].deletes,
                Change::Upsert { .. } => &mut out[k].upserts,
            };
            slot.entry(e.entity).or_default().push(i);
        }
    }
    out
}

/// How many entity locks there are. Every instance maps an entity to the same one, so two
/// instances writing the same entity queue behind each other; a bounded count keeps one
/// batch's locks well inside PostgreSQL's lock table (`max_locks_per_transaction`).
pub const ENTITY_LOCKS: u32 = 512;

/// The first key of `pg_advisory_xact_lock(int4, int4)` for entity locks ("Rolo"), so they
/// cannot collide with another application's advisory locks in the same database.
pub const ENTITY_LOCK_SPACE: i32 = 0x526f_6c6f;

/// The entity lock of a uuid, `0..ENTITY_LOCKS`: a fixed mix of all 128 bits (not the last
/// bits alone, which are constant in time-and-node uuids), the same on every instance and
/// every version of Rolodex.
pub fn entity_lock(uuid: Uuid) -> u32 {
    let x = uuid.as_u128();
    let folded = (x as u64) ^ ((x >> 64) as u64);
    let top = folded.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32;
    ((top * u64::from(ENTITY_LOCKS)) >> 32) as u32
}

/// The sorted, distinct entity locks a batch takes before writing. Every transaction takes
/// its locks in ascending order, so two of them can wait for each other but never deadlock.
pub fn entity_locks(events: &[&Event]) -> Vec<i32> {
    let mut locks: Vec<i32> = events.iter().map(|e| entity_lock(e.uuid) as i32).collect();
    locks.sort_unstable();
    locks.dedup();
    locks
}

/// The writer lane of an entity, derived from its entity lock: the lanes of one instance
/// never share a lock, so they never wait for each other.
pub fn lane(uuid: Uuid, lanes: usize) -> usize {
    entity_lock(uuid) as usize % lanes.max(1)
}

/// Split a failed batch in two (the first half keeps the earlier events).
pub fn halves<T>(mut items: Vec<T>) -> (Vec<T>, Vec<T>) {
    let back = items.split_off(items.len() / 2);
    (items, back)
}

/// The nak delay for a message delivered `delivered` times: doubles from `base`, capped.
pub fn nak_delay(delivered: i64, base: Duration, max: Duration) -> Duration {
    let exp = delivered.clamp(1, 20) as u32 - 1;
    base.saturating_mul(1u32 << exp).min(max)
}

/// The stream name for a subject prefix: `ROLODEX_EVENTS` for `rolodex`, otherwise
/// `ROLODEX_EVENTS_<PREFIX>` upper-cased with every character outside `A-Z0-9_-` as `_`.
pub fn stream_name(prefix: &str) -> String {
    if prefix == "rolodex" {
        return "ROLODEX_EVENTS".into();
    }
    let tail: String = prefix
        .chars()
        .map(|c| match c.to_ascii_uppercase() {
            c @ ('A'..='Z' | '0'..='9' | '_' | '-') => c,
            _ => '_',
        })
        .collect();
    format!("ROLODEX_EVENTS_{tail}")
}

/// The durable consumer's name (one per stream; instances with one prefix share it).
pub const CONSUMER: &str = "rolodex-persist";

/// Subjects the stream captures: the four event types, never `<prefix>.events.dead`.
pub fn stream_subjects(prefix: &str) -> Vec<String> {
    Entity::ALL
        .iter()
        .map(|e| format!("{prefix}.events.{}.*", e.name()))
        .collect()
}

pub fn dead_letter_subject(prefix: &str) -> String {
    format!("{prefix}.events.dead")
}

/// Where committed changes are announced: `<prefix>.changes.contacts|companies`.
pub fn changes_subject(prefix: &str, entity: Entity) -> String {
    format!("{prefix}.changes.{}", entity.table())
}

/// The body of a change notice (JSON): which entity, which uuids a committed batch touched
/// (events that turned out to be no-ops included: a spurious invalidation is harmless), and
/// how many.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeNotice {
    pub entity: String,
    pub count: usize,
    pub uuids: Vec<Uuid>,
}

/// One notice per entity the batch touched, uuids deduplicated in first-seen order.
pub fn notices(events: &[&Event]) -> Vec<(Entity, ChangeNotice)> {
    Entity::ALL
        .into_iter()
        .filter_map(|entity| {
            let mut seen = HashSet::new();
            let uuids: Vec<Uuid> = events
                .iter()
                .filter(|e| e.entity == entity && seen.insert(e.uuid))
                .map(|e| e.uuid)
                .collect();
            (!uuids.is_empty()).then(|| {
                (
                    entity,
                    ChangeNotice {
                        entity: entity.table().into(),
                        count: uuids.len(),
                        uuids,
                    },
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(entity: Entity, n: u128, version: i64, delete: bool) -> Event {
        Event {
            entity,
            uuid: Uuid::from_u128(n),
            version,
            change: if delete {
                Change::Delete
            } else {
                Change::Upsert {
                    fields: vec![],
                    meta: None,
                }
            },
        }
    }

    #[test]
    fn a_batch_closes_by_count_or_by_time() {
        let t0 = Instant::now();
        let mut b = Batcher::new(3, Duration::from_millis(20));
        assert_eq!(b.deadline(), None);
        assert!(!b.push(1, t0));
        assert!(!b.push(2, t0 + Duration::from_millis(5)));
        assert_eq!(b.deadline(), Some(t0 + Duration::from_millis(20)));
        assert!(!b.is_due(t0 + Duration::from_millis(19)));
        assert!(b.is_due(t0 + Duration::from_millis(20)));
        assert!(b.push(3, t0 + Duration::from_millis(6)));
        assert_eq!(b.take(), vec![1, 2, 3]);
        assert!(b.is_empty());
        assert_eq!(b.deadline(), None);
    }

    #[test]
    fn rounds_apply_each_uuid_oldest_first_and_duplicates_once() {
        let a = ev(Entity::Contact, 1, 5, false);
        let a_old = ev(Entity::Contact, 1, 3, false);
        let a_dup = ev(Entity::Contact, 1, 5, false);
        let a_del = ev(Entity::Contact, 1, 4, true);
        let b = ev(Entity::Contact, 2, 1, false);
        let c = ev(Entity::Company, 1, 1, true);
        let batch = [&a, &a_old, &b, &a_dup, &a_del, &c];
        let r = rounds(&batch);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].upserts[&Entity::Contact], vec![1, 2]);
        assert_eq!(r[0].deletes[&Entity::Company], vec![5]);
        assert_eq!(r[1].deletes[&Entity::Contact], vec![4]);
        assert_eq!(r[2].upserts[&Entity::Contact], vec![0]);
        let total: usize = r
            .iter()
            .flat_map(|r| r.upserts.values().chain(r.deletes.values()))
            .map(Vec::len)
            .sum();
        assert_eq!(total, 5, "the duplicate is applied once");
    }

    #[test]
    fn halves_and_backoff() {
        assert_eq!(halves(vec![1, 2, 3]), (vec![1], vec![2, 3]));
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(1);
        assert_eq!(nak_delay(1, base, max), base);
        assert_eq!(nak_delay(3, base, max), Duration::from_millis(400));
        assert_eq!(nak_delay(50, base, max), max);
    }

    #[test]
    fn names_follow_the_prefix() {
        assert_eq!(stream_name("rolodex"), "ROLODEX_EVENTS");
        assert_eq!(stream_name("t_x.y-z"), "ROLODEX_EVENTS_T_X_Y-Z");
        assert_eq!(
            stream_subjects("p"),
            vec!["p.events.contact.*", "p.events.company.*"]
        );
        assert_eq!(changes_subject("p", Entity::Company), "p.changes.companies");
    }

    #[test]
    fn entity_locks_spread_sort_and_partition_the_lanes() {
        // Uuids that differ only in their high bits (as time-based ones do) still spread.
        let uuids: Vec<Uuid> = (0..10_000u128).map(|n| Uuid::from_u128(n << 80)).collect();
        let distinct: HashSet<u32> = uuids.iter().map(|&u| entity_lock(u)).collect();
        assert!(distinct.len() > 450, "only {} locks used", distinct.len());
        assert!(distinct.iter().all(|&l| l < ENTITY_LOCKS));
        // Each lock belongs to exactly one lane, whatever the writer count.
        for lanes in 1..=16 {
            let mut owner: HashMap<u32, usize> = HashMap::new();
            for &u in &uuids {
                let l = *owner.entry(entity_lock(u)).or_insert(lane(u, lanes));
                assert_eq!(l, lane(u, lanes));
            }
        }
        let events: Vec<Event> = (0..50u128)
            .map(|n| ev(Entity::Contact, n, 1, false))
            .collect();
        let refs: Vec<&Event> = events.iter().chain(&events).collect();
        let locks = entity_locks(&refs);
        assert!(locks.windows(2).all(|w| w[0] < w[1]), "sorted and distinct");
        assert_eq!(
            locks.len(),
            events
                .iter()
                .map(|e| entity_lock(e.uuid))
                .collect::<HashSet<_>>()
                .len()
        );
    }

    #[test]
    fn notices_group_uuids_by_entity() {
        let a = ev(Entity::Contact, 1, 1, false);
        let a2 = ev(Entity::Contact, 1, 2, true);
        let c = ev(Entity::Company, 9, 1, false);
        let n = notices(&[&a, &c, &a2]);
        assert_eq!(n.len(), 2);
        assert_eq!(n[0].1.uuids, vec![Uuid::from_u128(1)]);
        assert_eq!(n[1].1.entity, "companies");
    }
}
