//! Throttling by counting events in a sliding window: at most `limit` events
//! of one key in any `window`. What counts as an event is the caller's
//! choice — every attempt (registrations, resets, lookups by an address) or
//! only failures (logins, lookups of one dossier code) — see
//! `src/throttle.rs` for the budgets the service keeps.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// At most `limit` events in any `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub limit: u32,
    pub window: Duration,
}

impl Budget {
    pub fn per_minute(limit: u32) -> Self {
        Self { limit, window: Duration::from_secs(60) }
    }

    pub fn per_hour(limit: u32) -> Self {
        Self { limit, window: Duration::from_secs(3600) }
    }
}

/// The events of one key still inside the window, oldest first; never more
/// than the budget's limit of them (older ones no longer matter).
#[derive(Debug, Clone, Default)]
pub struct Tally {
    events: VecDeque<Instant>,
}

impl Tally {
    fn forget_before(&mut self, budget: Budget, now: Instant) {
        while self.events.front().is_some_and(|&t| now.saturating_duration_since(t) >= budget.window) {
            self.events.pop_front();
        }
    }

    /// How long until one more event fits the budget; `None`: it fits now.
    pub fn wait(&mut self, budget: Budget, now: Instant) -> Option<Duration> {
        self.forget_before(budget, now);
        if (self.events.len() as u64) < u64::from(budget.limit.max(1)) {
            return None;
        }
        let oldest = *self.events.front()?;
        Some(budget.window.saturating_sub(now.saturating_duration_since(oldest)).max(Duration::from_millis(1)))
    }

    /// Counts an event at `now`.
    pub fn record(&mut self, budget: Budget, now: Instant) {
        self.forget_before(budget, now);
        self.events.push_back(now);
        while self.events.len() > budget.limit.max(1) as usize {
            self.events.pop_front();
        }
    }

    /// When the last event happened, if any is still counted.
    pub fn last(&self) -> Option<Instant> {
        self.events.back().copied()
    }

    /// Nothing counted at `now`.
    pub fn is_spent(&mut self, budget: Budget, now: Instant) -> bool {
        self.forget_before(budget, now);
        self.events.is_empty()
    }
}

/// How slowly a request body may arrive: after a `grace` period, at least
/// `min_bytes_per_sec` on average since the start, and whole within `max`.
/// A client trickling a byte every few seconds is cut off after the grace
/// period; a large scan on a slow line finishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyPace {
    pub grace: Duration,
    pub min_bytes_per_sec: u64,
    pub max: Duration,
}

impl BodyPace {
    /// How long after its start a body that has delivered `received` bytes
    /// may wait for its next byte.
    pub fn deadline(&self, received: u64) -> Duration {
        let earned = match self.min_bytes_per_sec {
            0 => self.max,
            rate => Duration::from_secs_f64(received as f64 / rate as f64),
        };
        (self.grace + earned).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_earns_time_by_what_it_delivers() {
        let pace = BodyPace { grace: Duration::from_secs(20), min_bytes_per_sec: 1024, max: Duration::from_secs(3600) };
        assert_eq!(pace.deadline(0), Duration::from_secs(20));
        // A byte every five seconds earns nothing worth having.
        assert!(pace.deadline(4) < Duration::from_secs(21));
        assert_eq!(pace.deadline(10 * 1024), Duration::from_secs(30));
        // 20 MiB at the minimum rate would outlast the hour: the hour wins.
        assert_eq!(pace.deadline(20 << 20), Duration::from_secs(3600));
        let unpaced = BodyPace { min_bytes_per_sec: 0, ..pace };
        assert_eq!(unpaced.deadline(0), Duration::from_secs(3600));
    }
    use proptest::prelude::*;

    #[test]
    fn a_full_window_waits_for_its_oldest_event() {
        let budget = Budget { limit: 3, window: Duration::from_secs(60) };
        let t0 = Instant::now();
        let mut tally = Tally::default();
        for s in [0, 10, 20] {
            assert_eq!(tally.wait(budget, t0 + Duration::from_secs(s)), None);
            tally.record(budget, t0 + Duration::from_secs(s));
        }
        assert_eq!(tally.wait(budget, t0 + Duration::from_secs(30)), Some(Duration::from_secs(30)));
        assert_eq!(tally.wait(budget, t0 + Duration::from_secs(60)), None, "the first left the window");
        assert!(!tally.is_spent(budget, t0 + Duration::from_secs(61)));
        assert!(tally.is_spent(budget, t0 + Duration::from_secs(80)));
    }

    proptest! {
        /// Whatever the events, no window of the budget ever holds more than
        /// its limit of the events that were allowed, and a refused event
        /// waits exactly until one fits.
        #[test]
        fn never_more_than_the_limit_in_any_window(limit in 1u32..6, gaps in proptest::collection::vec(0u64..40, 1..60)) {
            let budget = Budget { limit, window: Duration::from_secs(60) };
            let t0 = Instant::now();
            let (mut tally, mut now, mut allowed) = (Tally::default(), t0, Vec::new());
            for gap in gaps {
                now += Duration::from_secs(gap);
                match tally.wait(budget, now) {
                    None => {
                        tally.record(budget, now);
                        allowed.push(now);
                    }
                    Some(wait) => prop_assert_eq!(tally.clone().wait(budget, now + wait), None),
                }
            }
            for (i, &start) in allowed.iter().enumerate() {
                let within = allowed[i..].iter().filter(|&&t| t.duration_since(start) < budget.window).count();
                prop_assert!(within <= limit as usize);
            }
        }

        /// A body that keeps the minimum rate is never cut off, and the
        /// longer it has delivered, the longer it may run, up to the maximum.
        #[test]
        fn the_minimum_rate_is_always_enough(rate in 1u64..100_000, grace in 0u64..60, secs in 0u64..10_000, more in 0u64..1_000_000) {
            let pace = BodyPace { grace: Duration::from_secs(grace), min_bytes_per_sec: rate, max: Duration::from_secs(3600) };
            let at_rate = rate * secs;
            prop_assert!(pace.deadline(at_rate) >= Duration::from_secs(secs).min(pace.max));
            prop_assert!(pace.deadline(at_rate + more) >= pace.deadline(at_rate));
            prop_assert!(pace.deadline(at_rate + more) <= pace.max);
        }
    }
}
