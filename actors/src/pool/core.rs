//! Classes of work and the numbers the pool reports. Pure: no I/O.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{Rations, StatementTimeouts};

/// A class of database work, each with its own ration of connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// Searches, counts, gets: what a user waits for.
    Interactive,
    /// Event and import batches.
    Ingest,
    /// Exports and other background jobs.
    Jobs,
}

impl Class {
    pub const ALL: [Class; 3] = [Class::Interactive, Class::Ingest, Class::Jobs];

    pub fn name(self) -> &'static str {
        match self {
            Class::Interactive => "interactive",
            Class::Ingest => "ingest",
            Class::Jobs => "jobs",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// How many leases this class may hold at once.
    pub fn ration(self, rations: &Rations) -> u32 {
        match self {
            Class::Interactive => rations.interactive,
            Class::Ingest => rations.ingest,
            Class::Jobs => rations.jobs,
        }
    }

    /// This class's `statement_timeout`, in milliseconds (0: none).
    pub fn statement_timeout_ms(self, timeouts: &StatementTimeouts) -> u64 {
        match self {
            Class::Interactive => timeouts.interactive,
            Class::Ingest => timeouts.ingest,
            Class::Jobs => timeouts.jobs,
        }
    }
}

/// Lease counters of one class.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassStats {
    pub class: String,
    pub ration: u32,
    pub in_use: u64,
    pub waiting: u64,
    pub granted: u64,
    pub timeouts: u64,
}

/// A snapshot of the pool.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolStats {
    /// Open connections.
    pub size: u32,
    /// Open and idle.
    pub idle: u32,
    /// The most connections the pool opens.
    pub max: u32,
    pub classes: Vec<ClassStats>,
}

impl PoolStats {
    pub fn class(&self, class: Class) -> Option<&ClassStats> {
        self.classes.iter().find(|c| c.class == class.name())
    }
}

/// When connections are retired or checked: the pool's lifecycle rules, as numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifecycle {
    /// Connections kept open even when idle.
    pub warm: u32,
    /// A connection older than this is closed instead of reused (`recycle_secs`).
    pub max_lifetime: Duration,
    /// An idle connection beyond the warm ones closes after this long unused (`idle_secs`).
    pub idle_timeout: Duration,
    /// Ping a connection that sat idle at least this long before handing it out; `None` when
    /// `pre_ping` is off.
    pub ping_after_idle: Option<Duration>,
}

/// What to do with an idle connection about to be handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handout {
    /// Hand it out as it is: it was in use moments ago.
    Use,
    /// Ping it first (pool_pre_ping): it sat idle long enough that the server may have gone.
    PingFirst,
    /// Close it and take another: it outlived `max_lifetime`.
    Retire,
}

impl Lifecycle {
    pub fn handout(&self, age: Duration, idle_for: Duration) -> Handout {
        if age >= self.max_lifetime {
            Handout::Retire
        } else if self.ping_after_idle.is_some_and(|after| idle_for >= after) {
            Handout::PingFirst
        } else {
            Handout::Use
        }
    }

    /// Which idle connections (given as `(age, idle_for)`, oldest-idle first) the periodic
    /// sweep closes, when `open` connections exist: every one past its lifetime, and overflow
    /// ones idle past the timeout, so long as `warm` stay open.
    pub fn sweep(&self, idle: &[(Duration, Duration)], open: u32) -> Vec<usize> {
        let mut open = open;
        let mut close = Vec::new();
        for (i, &(age, idle_for)) in idle.iter().enumerate() {
            let expired = age >= self.max_lifetime;
            let idled_out = open > self.warm && idle_for >= self.idle_timeout;
            if expired || idled_out {
                close.push(i);
                open = open.saturating_sub(1);
            }
        }
        close
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    fn lifecycle() -> Lifecycle {
        Lifecycle {
            warm: 2,
            max_lifetime: S(1800),
            idle_timeout: S(600),
            ping_after_idle: Some(S(1)),
        }
    }

    #[test]
    fn a_connection_in_constant_use_is_handed_out_unchecked() {
        assert_eq!(
            lifecycle().handout(S(100), Duration::from_millis(3)),
            Handout::Use
        );
    }

    #[test]
    fn one_that_sat_idle_is_pinged_first_unless_pre_ping_is_off() {
        assert_eq!(lifecycle().handout(S(100), S(5)), Handout::PingFirst);
        let off = Lifecycle {
            ping_after_idle: None,
            ..lifecycle()
        };
        assert_eq!(off.handout(S(100), S(5)), Handout::Use);
    }

    #[test]
    fn one_past_its_lifetime_is_retired_even_if_fresh_from_use() {
        assert_eq!(lifecycle().handout(S(1800), S(0)), Handout::Retire);
    }

    #[test]
    fn the_sweep_closes_idle_overflow_but_keeps_the_warm_ones() {
        // Five open, four idle for 700 s: two close (overflow), the warm two stay.
        let idle = vec![(S(900), S(700)); 4];
        assert_eq!(lifecycle().sweep(&idle, 5), vec![0, 1, 2]);
        assert_eq!(lifecycle().sweep(&idle, 4), vec![0, 1]);
        // Recently used ones stay however many are open.
        assert!(lifecycle().sweep(&[(S(900), S(10)); 4], 40).is_empty());
    }

    #[test]
    fn the_sweep_closes_expired_ones_even_below_the_warm_count() {
        let idle = [(S(2000), S(0)), (S(10), S(0))];
        assert_eq!(lifecycle().sweep(&idle, 2), vec![0]);
    }
}
