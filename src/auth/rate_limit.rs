//! Login throttling per account and per client address (in memory, per
//! instance).

use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::config::AuthSettings;
use crate::error::ApiError;

pub struct LoginLimiter {
    per_account: DefaultKeyedRateLimiter<String>,
    per_address: DefaultKeyedRateLimiter<String>,
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n.max(1)).expect("at least one"))
}

impl LoginLimiter {
    pub fn new(settings: &AuthSettings) -> Self {
        Self {
            per_account: DefaultKeyedRateLimiter::keyed(per_minute(settings.login_attempts_per_minute_per_account)),
            per_address: DefaultKeyedRateLimiter::keyed(per_minute(settings.login_attempts_per_minute_per_address)),
        }
    }

    /// Counts one attempt; 429 with the wait when either budget is spent.
    pub fn check(&self, account: &str, address: &str) -> Result<(), ApiError> {
        let clock = DefaultClock::default();
        for (limiter, key) in [(&self.per_address, address), (&self.per_account, account)] {
            if let Err(not_until) = limiter.check_key(&key.to_string()) {
                let wait = not_until.wait_time_from(clock.now());
                return Err(ApiError::too_many_requests(wait.as_secs() + 1));
            }
            if limiter.len() > 100_000 {
                limiter.retain_recent();
            }
        }
        Ok(())
    }
}
