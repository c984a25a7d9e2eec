//! The restart policy as plain arithmetic over timestamps passed in (milliseconds).

use std::collections::VecDeque;
use std::time::Duration;

use crate::config::SupervisorConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    pub max_restarts: u32,
    pub window: Duration,
    pub backoff: Duration,
    pub max_backoff: Duration,
}

impl From<&SupervisorConfig> for RestartPolicy {
    fn from(c: &SupervisorConfig) -> Self {
        Self {
            max_restarts: c.max_restarts,
            window: Duration::from_secs(c.window_secs),
            backoff: Duration::from_millis(c.backoff_ms),
            max_backoff: Duration::from_millis(c.max_backoff_ms),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Start the child again after this delay.
    Restart(Duration),
    /// Too many restarts in the window: stop the tree and report.
    Escalate,
}

/// Remembers one child's recent failures.
#[derive(Debug, Clone)]
pub struct RestartTracker {
    policy: RestartPolicy,
    recent: VecDeque<u64>,
}

impl RestartTracker {
    pub fn new(policy: RestartPolicy) -> Self {
        Self {
            policy,
            recent: VecDeque::new(),
        }
    }

    /// Record a failure at `now_ms` and decide what to do.
    pub fn on_failure(&mut self, now_ms: u64) -> Decision {
        let window = self.policy.window.as_millis() as u64;
        while self
            .recent
            .front()
            .is_some_and(|&t| now_ms.saturating_sub(t) > window)
        {
            self.recent.pop_front();
        }
        if self.recent.len() as u32 >= self.policy.max_restarts {
            return Decision::Escalate;
        }
        let n = self.recent.len() as u32;
        self.recent.push_back(now_ms);
        let delay = self
            .policy
            .backoff
            .saturating_mul(2u32.saturating_pow(n))
            .min(self.policy.max_backoff);
        Decision::Restart(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RestartPolicy {
        RestartPolicy {
            max_restarts: 3,
            window: Duration::from_secs(10),
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(300),
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_then_escalates() {
        let mut t = RestartTracker::new(policy());
        assert_eq!(
            t.on_failure(0),
            Decision::Restart(Duration::from_millis(100))
        );
        assert_eq!(
            t.on_failure(1),
            Decision::Restart(Duration::from_millis(200))
        );
        assert_eq!(
            t.on_failure(2),
            Decision::Restart(Duration::from_millis(300))
        );
        assert_eq!(t.on_failure(3), Decision::Escalate);
    }

    #[test]
    fn failures_outside_the_window_are_forgotten() {
        let mut t = RestartTracker::new(policy());
        for i in 0..3 {
            t.on_failure(i);
        }
        assert_eq!(
            t.on_failure(20_000),
            Decision::Restart(Duration::from_millis(100))
        );
    }
}
