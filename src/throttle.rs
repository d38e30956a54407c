//! The service's throttles (`[throttle]` in `config/default.toml`), in
//! memory and per instance: with several instances, each keeps its own
//! budgets. The counting rule is `domain::throttle`.
//!
//! Every table holds at most [`MAX_KEYS`] keys: when it is full, keys whose
//! events have all left the window go first, then the longest idle ones, so
//! that no caller can make an instance hold more.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::ThrottleSettings;
use crate::domain::throttle::{Budget, Tally};
use crate::error::ApiError;

/// Keys one throttle remembers at most.
pub const MAX_KEYS: usize = 100_000;

/// One budget, kept per key.
pub struct Throttle {
    budget: Budget,
    tallies: Mutex<HashMap<String, Tally>>,
}

impl Throttle {
    pub fn new(budget: Budget) -> Self {
        Self { budget, tallies: Mutex::default() }
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Tally>) -> T) -> T {
        f(&mut self.tallies.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// 429 with the wait when `key` has spent its budget; counts nothing.
    pub fn check(&self, key: &str) -> Result<(), ApiError> {
        let now = Instant::now();
        match self.with(|t| t.get_mut(key).and_then(|tally| tally.wait(self.budget, now))) {
            Some(wait) => Err(too_many(wait)),
            None => Ok(()),
        }
    }

    /// Counts an event of `key`.
    pub fn record(&self, key: &str) {
        let (now, budget) = (Instant::now(), self.budget);
        self.with(|t| {
            if t.len() >= MAX_KEYS && !t.contains_key(key) {
                make_room(t, budget, now);
            }
            t.entry(key.to_string()).or_default().record(budget, now);
        });
    }

    /// Counts an attempt of `key`, or refuses it with 429 when its budget is spent.
    pub fn attempt(&self, key: &str) -> Result<(), ApiError> {
        self.check(key)?;
        self.record(key);
        Ok(())
    }

    /// Forgets `key` (a login that succeeded).
    pub fn clear(&self, key: &str) {
        self.with(|t| t.remove(key));
    }
}

fn too_many(wait: Duration) -> ApiError {
    ApiError::too_many_requests(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
}

/// Drops the keys with nothing left in the window, then the tenth idle longest.
fn make_room(tallies: &mut HashMap<String, Tally>, budget: Budget, now: Instant) {
    tallies.retain(|_, tally| !tally.is_spent(budget, now));
    if tallies.len() < MAX_KEYS {
        return;
    }
    let mut by_age: Vec<(Instant, String)> =
        tallies.iter().map(|(k, t)| (t.last().unwrap_or(now), k.clone())).collect();
    by_age.sort();
    for (_, key) in by_age.into_iter().take(MAX_KEYS / 10) {
        tallies.remove(&key);
    }
}

/// Every budget of the service.
pub struct Throttles {
    /// Failed logins of one account from one address.
    pub login_account_address: Throttle,
    /// Failed logins of one account from anywhere: looser, and short.
    pub login_account: Throttle,
    /// Failed logins from one address, whatever the account.
    pub login_address: Throttle,
    pub reset_address: Throttle,
    pub reset_account: Throttle,
    pub register_address: Throttle,
    pub lookup_address: Throttle,
    /// Failed lookups of one dossier code: a wrong national ID locks the code.
    pub lookup_code: Throttle,
}

impl Throttles {
    pub fn new(s: &ThrottleSettings) -> Self {
        let minutes = |limit, m: u64| Throttle::new(Budget { limit, window: Duration::from_secs(60 * m) });
        Self {
            login_account_address: minutes(s.login_failures_per_minute_per_account_and_address, 1),
            login_account: minutes(s.login_failures_per_minute_per_account, 1),
            login_address: minutes(s.login_failures_per_minute_per_address, 1),
            reset_address: minutes(s.password_resets_per_hour_per_address, 60),
            reset_account: minutes(s.password_resets_per_hour_per_account, 60),
            register_address: minutes(s.registrations_per_hour_per_address, 60),
            lookup_address: minutes(s.lookups_per_minute_per_address, 1),
            lookup_code: minutes(s.lookup_failures_per_code, s.lookup_lock_minutes),
        }
    }

    /// Refuses a login while any of its failure budgets is spent.
    pub fn check_login(&self, account: &str, address: &str) -> Result<(), ApiError> {
        self.login_address.check(address)?;
        self.login_account_address.check(&format!("{account}\n{address}"))?;
        self.login_account.check(account)
    }

    /// Counts a failed login in each budget.
    pub fn login_failed(&self, account: &str, address: &str) {
        self.login_address.record(address);
        self.login_account_address.record(&format!("{account}\n{address}"));
        self.login_account.record(account);
    }

    /// A login that succeeded forgets this address's failures of the account.
    pub fn login_succeeded(&self, account: &str, address: &str) {
        self.login_account_address.clear(&format!("{account}\n{address}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_refuse_with_the_wait_and_forget_on_success() {
        let t = Throttle::new(Budget::per_minute(2));
        assert!(t.attempt("a").is_ok() && t.attempt("a").is_ok());
        let e = t.attempt("a").unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (429, crate::error::ProblemCode::RateLimited));
        assert!(e.retry_after_secs.is_some_and(|s| (1..=60).contains(&s)));
        assert!(t.attempt("b").is_ok(), "keys are apart");
        t.clear("a");
        assert!(t.check("a").is_ok());
    }

    #[test]
    fn a_full_table_makes_room_instead_of_growing() {
        let t = Throttle::new(Budget::per_minute(1));
        for n in 0..MAX_KEYS + 10 {
            t.record(&n.to_string());
        }
        assert!(t.with(|m| m.len()) <= MAX_KEYS);
    }
}
