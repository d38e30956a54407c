//! Complaints and petitions (phản ánh, kiến nghị) about how a dossier was
//! handled, or about a unit: when an answer is due, whether it came on time,
//! and who may lodge one more (docs/complaints.md).

use chrono::{NaiveDateTime, NaiveTime};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::calendar::Calendar;
use super::dossier::past_appointment;

/// Where a complaint stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Lodged, waiting for the unit's answer.
    Open,
    /// Answered, with the unit's finding.
    Answered,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Answered => "answered",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Open, Self::Answered].into_iter().find(|k| k.as_str() == s)
    }
}

/// Why a complaint cannot be lodged or answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The applicant already has as many open complaints as one may.
    TooManyOpen { max: u32 },
    /// It has been answered; an answer is final.
    AlreadyAnswered,
}

/// When (local time) the answer to a complaint lodged at local time `lodged` is due:
/// the end of the day `answer_working_days` working days after the day it
/// was lodged (on a non-working day, the next working day counts as that
/// day) — the same calendar as a dossier's appointment date.
pub fn due(calendar: &Calendar, lodged: NaiveDateTime, answer_working_days: u32, day_end: NaiveTime) -> NaiveDateTime {
    calendar.due_at(lodged, answer_working_days, 24, day_end)
}

/// Answered on time: by local date, on or before the day it was due, like
/// a dossier's result (`dossier::past_appointment`; stored UTC times).
pub fn answered_on_time(due: NaiveDateTime, answered_at: NaiveDateTime) -> bool {
    !past_appointment(due, answered_at)
}

/// Still open after the day its answer was due (stored UTC times).
pub fn overdue(state: State, due: NaiveDateTime, now: NaiveDateTime) -> bool {
    state == State::Open && past_appointment(due, now)
}

/// Whether an applicant with `open` complaints waiting may lodge another:
/// one account holds at most `max` open at once.
pub fn may_lodge(open: i64, max: u32) -> Result<(), Refusal> {
    if open >= i64::from(max) { Err(Refusal::TooManyOpen { max }) } else { Ok(()) }
}

/// Whether a complaint in `state` may be answered: once.
pub fn may_answer(state: State) -> Result<(), Refusal> {
    match state {
        State::Open => Ok(()),
        State::Answered => Err(Refusal::AlreadyAnswered),
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use proptest::prelude::*;

    use super::*;

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn five_pm() -> NaiveTime {
        NaiveTime::from_hms_opt(17, 0, 0).unwrap()
    }

    #[test]
    fn the_answer_is_due_n_working_days_after_the_day_it_was_lodged() {
        let cal = Calendar::default();
        // Monday 2 March 2026, late in the evening: still that day.
        assert_eq!(due(&cal, dt("2026-03-02 22:30"), 10, five_pm()), dt("2026-03-16 17:00"));
        // Saturday: counted from Monday.
        assert_eq!(due(&cal, dt("2026-03-07 09:00"), 10, five_pm()), dt("2026-03-23 17:00"));
        // Holidays do not count.
        let tet = Calendar::new((16..=20).map(|d| NaiveDate::from_ymd_opt(2026, 2, d).unwrap()), []);
        assert_eq!(due(&tet, dt("2026-02-13 10:00"), 1, five_pm()), dt("2026-02-23 17:00"));
    }

    #[test]
    fn on_time_is_judged_by_local_date() {
        let utc = |s: &str| crate::domain::calendar::from_local(dt(s)).naive_utc();
        let due = utc("2026-03-16 17:00");
        assert!(answered_on_time(due, utc("2026-03-16 23:59")));
        assert!(!answered_on_time(due, utc("2026-03-17 00:00")));
        assert!(!overdue(State::Open, due, utc("2026-03-16 23:59")));
        assert!(overdue(State::Open, due, utc("2026-03-17 00:01")));
        assert!(!overdue(State::Answered, due, utc("2026-04-01 00:00")));
    }

    #[test]
    fn an_answer_is_given_once() {
        assert_eq!(may_answer(State::Open), Ok(()));
        assert_eq!(may_answer(State::Answered), Err(Refusal::AlreadyAnswered));
    }

    proptest! {
        #[test]
        fn an_applicant_holds_at_most_max_open(open in 0i64..50, max in 0u32..20) {
            prop_assert_eq!(may_lodge(open, max).is_ok(), open < i64::from(max));
        }

        #[test]
        fn a_complaint_is_overdue_exactly_when_an_answer_now_would_be_late(
            due_day in 0i64..60, at_minutes in 0i64..(90 * 24 * 60),
        ) {
            let start = dt("2026-01-01 00:00");
            let due = (start + chrono::Duration::days(due_day)).date().and_time(five_pm());
            let now = start + chrono::Duration::minutes(at_minutes);
            prop_assert_eq!(overdue(State::Open, due, now), !answered_on_time(due, now));
        }

        #[test]
        fn states_read_back(open in any::<bool>()) {
            let s = if open { State::Open } else { State::Answered };
            prop_assert_eq!(State::parse(s.as_str()), Some(s));
        }
    }
}
