//! The monitor's pure parts: a lock-free latency histogram with quantiles, the slow-query log,
//! the rate limit on plan captures, and SQL fingerprints. Time is passed in.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use sha2::{Digest, Sha256};

/// Upper bounds of the histogram buckets in microseconds: ×2 steps from 50 µs to ~55 min.
const BUCKETS: usize = 27;

fn bound_us(i: usize) -> u64 {
    50u64 << i
}

/// Latencies in fixed exponential buckets; record from any thread, read any time.
#[derive(Debug, Default)]
pub struct Latencies {
    counts: [AtomicU64; BUCKETS],
    total: AtomicU64,
    sum_us: AtomicU64,
}

/// A summary of [`Latencies`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Summary {
    pub count: u64,
    pub avg_ms: f64,
    /// Upper bound of the bucket holding the 99th percentile (at most 2× the true value).
    pub p99_ms: f64,
}

impl Latencies {
    pub fn record(&self, micros: u64) {
        let i = (0..BUCKETS)
            .find(|&i| micros <= bound_us(i))
            .unwrap_or(BUCKETS - 1);
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.total.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(micros, Ordering::Relaxed);
    }

    pub fn summary(&self) -> Summary {
        let count = self.total.load(Ordering::Relaxed);
        if count == 0 {
            return Summary::default();
        }
        let rank = count.saturating_mul(99).div_ceil(100);
        let mut seen = 0;
        let mut p99 = bound_us(BUCKETS - 1);
        for (i, c) in self.counts.iter().enumerate() {
            seen += c.load(Ordering::Relaxed);
            if seen >= rank {
                p99 = bound_us(i);
                break;
            }
        }
        Summary {
            count,
            avg_ms: self.sum_us.load(Ordering::Relaxed) as f64 / count as f64 / 1000.0,
            p99_ms: p99 as f64 / 1000.0,
        }
    }
}

/// A short, stable name for a SQL text (values are binds, so equal shapes share it).
pub fn fingerprint(sql: &str) -> String {
    let digest = Sha256::digest(sql.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Hide the quoted literals PostgreSQL prints in a plan (`'lovelace'::text`), where bind values
/// reappear, so what a user searched for never lands in the slow-query log.
pub fn redact_literals(plan: &str) -> String {
    let mut out = String::with_capacity(plan.len());
    let mut chars = plan.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            out.push(c);
            continue;
        }
        // Skip to the closing quote; a doubled quote is an escaped one.
        loop {
            match chars.next() {
                Some('\'') if chars.peek() == Some(&'\'') => {
                    chars.next();
                }
                Some('\'') | None => break,
                Some(_) => {}
            }
        }
        out.push_str("'?'");
    }
    out
}

/// One slow query as kept for inspection. Bind values are never kept.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlowQuery {
    pub id: u64,
    pub fingerprint: String,
    pub class: String,
    pub tier: String,
    pub elapsed_ms: f64,
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    pub sql: String,
    /// Bind types, in `$n` order; the values are redacted.
    pub bind_types: Vec<String>,
    /// `EXPLAIN (ANALYZE, BUFFERS)` output, when captured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
}

/// The most recent slow queries, oldest dropped first.
#[derive(Debug)]
pub struct SlowLog {
    capacity: usize,
    entries: VecDeque<SlowQuery>,
    next_id: u64,
}

impl SlowLog {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            entries: VecDeque::new(),
            next_id: 1,
        }
    }

    /// Keep an entry; returns the id it got.
    pub fn push(&mut self, mut entry: SlowQuery) -> u64 {
        entry.id = self.next_id;
        self.next_id += 1;
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        let id = entry.id;
        self.entries.push_back(entry);
        id
    }

    pub fn attach_plan(&mut self, id: u64, plan: String) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.id == id) {
            e.plan = Some(plan);
        }
    }

    /// Newest first.
    pub fn recent(&self, limit: usize) -> Vec<SlowQuery> {
        self.entries.iter().rev().take(limit).cloned().collect()
    }
}

/// At most `per_minute` plan captures in any sliding minute, so a storm of slow queries does
/// not double the load with EXPLAIN ANALYZE runs.
#[derive(Debug)]
pub struct CaptureLimiter {
    per_minute: usize,
    recent: VecDeque<u64>,
}

impl CaptureLimiter {
    pub fn new(per_minute: usize) -> Self {
        Self {
            per_minute,
            recent: VecDeque::new(),
        }
    }

    pub fn allow(&mut self, now_ms: u64) -> bool {
        while self
            .recent
            .front()
            .is_some_and(|&t| now_ms.saturating_sub(t) >= 60_000)
        {
            self.recent.pop_front();
        }
        if self.recent.len() >= self.per_minute {
            return false;
        }
        self.recent.push_back(now_ms);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_the_buckets() {
        let l = Latencies::default();
        assert_eq!(l.summary(), Summary::default());
        for _ in 0..99 {
            l.record(100);
        }
        l.record(1_000_000);
        let s = l.summary();
        assert_eq!(s.count, 100);
        assert_eq!(s.p99_ms, 0.1);
        assert!((s.avg_ms - 10.099).abs() < 1e-9);
        l.record(1_000_000);
        assert!(l.summary().p99_ms >= 1000.0);
    }

    #[test]
    fn the_slow_log_keeps_the_newest_and_plans_attach() {
        let mut log = SlowLog::new(2);
        let entry = |ms| SlowQuery {
            id: 0,
            fingerprint: "f".into(),
            class: "interactive".into(),
            tier: "minimal".into(),
            elapsed_ms: ms,
            at_ms: 0,
            sql: "SELECT 1".into(),
            bind_types: vec![],
            plan: None,
        };
        log.push(entry(1.0));
        let second = log.push(entry(2.0));
        log.push(entry(3.0));
        log.attach_plan(second, "Seq Scan".into());
        let recent = log.recent(10);
        assert_eq!(
            recent.iter().map(|e| e.elapsed_ms).collect::<Vec<_>>(),
            [3.0, 2.0]
        );
        assert_eq!(recent[1].plan.as_deref(), Some("Seq Scan"));
    }

    #[test]
    fn captures_are_rate_limited_per_sliding_minute() {
        let mut l = CaptureLimiter::new(2);
        assert!(l.allow(0));
        assert!(l.allow(10));
        assert!(!l.allow(20));
        assert!(l.allow(60_001));
    }

    #[test]
    fn plan_literals_are_redacted() {
        let plan =
            "Index Cond: (lower(last_name) = 'o''brien'::text)\nFilter: (x ~~* '%jo%'::text)";
        assert_eq!(
            redact_literals(plan),
            "Index Cond: (lower(last_name) = '?'::text)\nFilter: (x ~~* '?'::text)"
        );
    }

    #[test]
    fn fingerprints_ignore_nothing_but_are_short_and_stable() {
        assert_eq!(fingerprint("SELECT 1"), fingerprint("SELECT 1"));
        assert_ne!(fingerprint("SELECT 1"), fingerprint("SELECT 2"));
        assert_eq!(fingerprint("x").len(), 16);
    }
}
