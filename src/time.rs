//! Timestamps are stored as UTC without zone (portable across backends) and
//! shown as RFC 3339 UTC.

use chrono::{DateTime, NaiveDateTime, Utc};

/// Now, truncated to microseconds so that both backends store it exactly.
pub fn now() -> NaiveDateTime {
    let n = Utc::now().naive_utc();
    n - chrono::Duration::nanoseconds(i64::from(n.and_utc().timestamp_subsec_nanos() % 1000))
}

pub fn utc(n: NaiveDateTime) -> DateTime<Utc> {
    n.and_utc()
}
