//! The working-day calendar, appointment dates (DESIGN.md §4) and working
//! hours (the allotted times of an internal process's steps, docs/processes.md).
//!
//! Working days are Monday to Friday, less the holidays of the calendar, plus
//! the swapped working weekend days it lists. All times here are local
//! (Asia/Ho_Chi_Minh, UTC+7 without daylight saving).

use std::collections::HashSet;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday};

/// Vietnam's offset: UTC+7 all year.
pub fn local_offset() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).expect("valid offset")
}

pub fn to_local(t: DateTime<Utc>) -> NaiveDateTime {
    t.with_timezone(&local_offset()).naive_local()
}

pub fn from_local(t: NaiveDateTime) -> DateTime<Utc> {
    local_offset().from_local_datetime(&t).single().expect("fixed offsets are unambiguous").with_timezone(&Utc)
}

/// When (UTC) the local day holding `now` (UTC) began.
pub fn local_day_start(now: NaiveDateTime) -> NaiveDateTime {
    from_local(to_local(now.and_utc()).date().and_time(NaiveTime::MIN)).naive_utc()
}

/// Seconds from `now` (UTC) to the next local midnight (at least 1).
pub fn secs_to_local_midnight(now: NaiveDateTime) -> u64 {
    let next = local_day_start(now) + chrono::Duration::days(1);
    (next - now).num_seconds().max(1) as u64
}

/// The office hours of a working day, local: ordered, disjoint spans, e.g.
/// 07:30–11:30 and 13:30–17:00 (`dossiers.office_hours`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "Vec<String>")]
pub struct OfficeHours {
    spans: Vec<(NaiveTime, NaiveTime)>,
}

impl Default for OfficeHours {
    fn default() -> Self {
        Self::parse(&["07:30-11:30", "13:30-17:00"]).expect("valid default office hours")
    }
}

impl TryFrom<Vec<String>> for OfficeHours {
    type Error = String;

    fn try_from(spans: Vec<String>) -> Result<Self, String> {
        Self::parse(&spans)
    }
}

impl OfficeHours {
    /// Spans written `HH:MM-HH:MM`, in order and not overlapping; one to six.
    pub fn parse(spans: &[impl AsRef<str>]) -> Result<Self, String> {
        if spans.is_empty() || spans.len() > 6 {
            return Err("office hours are one to six spans".into());
        }
        let mut parsed = Vec::with_capacity(spans.len());
        for span in spans {
            let span = span.as_ref();
            let time = |t: &str| NaiveTime::parse_from_str(t.trim(), "%H:%M").ok();
            let Some((Some(from), Some(to))) = span.split_once('-').map(|(a, b)| (time(a), time(b))) else {
                return Err(format!("`{span}` is not a span HH:MM-HH:MM"));
            };
            if from >= to || parsed.last().is_some_and(|&(_, end)| from < end) {
                return Err(format!("`{span}` does not follow the span before it"));
            }
            parsed.push((from, to));
        }
        let hours = Self { spans: parsed };
        if hours.minutes_per_day() < 60 {
            return Err("office hours add up to at least an hour a day".into());
        }
        Ok(hours)
    }

    /// Working minutes in a working day.
    pub fn minutes_per_day(&self) -> u32 {
        self.spans.iter().map(|(from, to)| (*to - *from).num_minutes() as u32).sum()
    }
}

#[derive(Debug, Clone, Default)]
pub struct Calendar {
    holidays: HashSet<NaiveDate>,
    working_weekend_days: HashSet<NaiveDate>,
}

impl Calendar {
    pub fn new(
        holidays: impl IntoIterator<Item = NaiveDate>,
        working_weekend_days: impl IntoIterator<Item = NaiveDate>,
    ) -> Self {
        Self {
            holidays: holidays.into_iter().collect(),
            working_weekend_days: working_weekend_days.into_iter().collect(),
        }
    }

    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        if self.working_weekend_days.contains(&d) {
            return true;
        }
        !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) && !self.holidays.contains(&d)
    }

    /// The first working day strictly after `d`.
    pub fn next_working_day(&self, d: NaiveDate) -> NaiveDate {
        let mut day = d.succ_opt().expect("date in range");
        while !self.is_working_day(day) {
            day = day.succ_opt().expect("date in range");
        }
        day
    }

    /// `d` moved forward by `n` working days (`d` itself when `n` is 0).
    pub fn add_working_days(&self, d: NaiveDate, n: u32) -> NaiveDate {
        (0..n).fold(d, |day, _| self.next_working_day(day))
    }

    /// Working days in `(from, to]`: how far a pause from `from` to `to`
    /// pushes a deadline.
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        let mut n = 0;
        let mut day = from;
        while day < to {
            day = day.succ_opt().expect("date in range");
            if self.is_working_day(day) {
                n += 1;
            }
        }
        n
    }

    /// The day the clock starts for a dossier received at local time
    /// `received`: that day, or the next working day when received on a
    /// non-working day or at/after the cut-off hour.
    pub fn start_day(&self, received: NaiveDateTime, cutoff_hour: u32) -> NaiveDate {
        let day = received.date();
        let before_cutoff =
            received.time() < NaiveTime::from_hms_opt(cutoff_hour.min(23), 0, 0).expect("hour") || cutoff_hour >= 24;
        if self.is_working_day(day) && before_cutoff { day } else { self.next_working_day(day) }
    }

    /// The appointment date: the end of the working day reached by adding
    /// `processing_days` working days to the start day.
    pub fn due_at(
        &self,
        received: NaiveDateTime,
        processing_days: u32,
        cutoff_hour: u32,
        day_end: NaiveTime,
    ) -> NaiveDateTime {
        self.add_working_days(self.start_day(received, cutoff_hour), processing_days).and_time(day_end)
    }

    /// Working minutes (office hours of working days) in `[from, to)`, local
    /// times; 0 when `to` is not after `from`.
    pub fn working_minutes_between(&self, hours: &OfficeHours, from: NaiveDateTime, to: NaiveDateTime) -> u32 {
        let mut seconds = 0i64;
        let mut day = from.date();
        while day <= to.date() {
            if self.is_working_day(day) {
                for (open, close) in &hours.spans {
                    let start = day.and_time(*open).max(from);
                    let end = day.and_time(*close).min(to);
                    seconds += (end - start).num_seconds().max(0);
                }
            }
            day = day.succ_opt().expect("date in range");
        }
        (seconds / 60) as u32
    }

    /// The local instant `minutes` working minutes after local `start`:
    /// counting begins at `start`, or at the next opening when `start` is
    /// outside office hours; a run that ends with a span ends at its close
    /// (11:30, not 13:30). `start` itself when `minutes` is 0.
    pub fn add_working_minutes(&self, hours: &OfficeHours, start: NaiveDateTime, minutes: u32) -> NaiveDateTime {
        let mut left = i64::from(minutes) * 60;
        if left == 0 {
            return start;
        }
        let mut day = start.date();
        loop {
            if self.is_working_day(day) {
                for (open, close) in &hours.spans {
                    let from = day.and_time(*open).max(start);
                    let available = (day.and_time(*close) - from).num_seconds();
                    if available <= 0 {
                        continue;
                    }
                    if left <= available {
                        return from + chrono::Duration::seconds(left);
                    }
                    left -= available;
                }
            }
            day = day.succ_opt().expect("date in range");
        }
    }

    /// `due` pushed later by the working days of a pause from `paused` to
    /// `resumed` (local times), keeping its time of day.
    pub fn extend_for_pause(&self, due: NaiveDateTime, paused: NaiveDateTime, resumed: NaiveDateTime) -> NaiveDateTime {
        let days = self.working_days_between(paused.date(), resumed.date());
        self.add_working_days(due.date(), days).and_time(due.time())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_days_start_at_local_midnight() {
        let t = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        // 23:59:59 in Hà Nội is 16:59:59 UTC; the local day began at 17:00 UTC the day before.
        assert_eq!(local_day_start(t("2026-11-30 16:59:59")), t("2026-11-29 17:00:00"));
        assert_eq!(secs_to_local_midnight(t("2026-11-30 16:59:59")), 1);
        assert_eq!(local_day_start(t("2026-11-30 17:00:00")), t("2026-11-30 17:00:00"));
        assert_eq!(secs_to_local_midnight(t("2026-11-30 17:00:00")), 86_400);
    }
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn five_pm() -> NaiveTime {
        NaiveTime::from_hms_opt(17, 0, 0).unwrap()
    }

    /// Tết Bính Ngọ 2026 as shipped: 16–20 February, plus New Year with its swap.
    fn vn2026() -> Calendar {
        Calendar::new(
            ["2026-01-01", "2026-01-02", "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20"].map(d),
            [d("2026-01-10")],
        )
    }

    #[test]
    fn weekends_holidays_and_swapped_saturdays() {
        let c = vn2026();
        assert!(c.is_working_day(d("2026-02-13"))); // Friday
        assert!(!c.is_working_day(d("2026-02-14"))); // Saturday
        assert!(!c.is_working_day(d("2026-02-17"))); // Tết
        assert!(c.is_working_day(d("2026-01-10"))); // swapped Saturday
        assert!(!c.is_working_day(d("2026-01-02"))); // swapped-away Friday
        assert_eq!(c.next_working_day(d("2026-02-13")), d("2026-02-23"));
    }

    #[test]
    fn fifteen_days_from_a_friday_afternoon_before_tet() {
        // Received Friday 13 Feb 2026 at 16:30, after a 16:00 cut-off: the
        // clock starts Monday 23 Feb (Tết is 16–20 Feb). 15 working days
        // later: 24, 25, 26, 27 Feb, 2–6 Mar, 9–13 Mar, 16 Mar → Monday 16 March.
        let c = vn2026();
        assert_eq!(c.start_day(dt("2026-02-13 16:30"), 16), d("2026-02-23"));
        assert_eq!(c.due_at(dt("2026-02-13 16:30"), 15, 16, five_pm()), dt("2026-03-16 17:00"));
        // Before the cut-off the Friday counts: 15 working days from the 13th.
        assert_eq!(c.due_at(dt("2026-02-13 09:00"), 15, 16, five_pm()), dt("2026-03-13 17:00"));
    }

    #[test]
    fn cut_off_and_non_working_reception() {
        let c = vn2026();
        assert_eq!(c.start_day(dt("2026-03-02 15:59"), 16), d("2026-03-02"));
        assert_eq!(c.start_day(dt("2026-03-02 16:00"), 16), d("2026-03-03"));
        assert_eq!(c.start_day(dt("2026-03-07 09:00"), 16), d("2026-03-09")); // Saturday
        assert_eq!(c.start_day(dt("2026-01-10 09:00"), 16), d("2026-01-10")); // swapped Saturday works
        assert_eq!(c.due_at(dt("2026-03-02 10:00"), 0, 16, five_pm()), dt("2026-03-02 17:00"));
        assert_eq!(c.due_at(dt("2026-03-02 10:00"), 1, 16, five_pm()), dt("2026-03-03 17:00"));
    }

    #[test]
    fn pauses_push_the_deadline_by_working_days() {
        let c = vn2026();
        let due = dt("2026-03-10 17:00");
        // Paused Friday, resumed the Monday after: one working day.
        assert_eq!(c.extend_for_pause(due, dt("2026-03-06 10:00"), dt("2026-03-09 08:00")), dt("2026-03-11 17:00"));
        // Paused and resumed the same day: nothing.
        assert_eq!(c.extend_for_pause(due, dt("2026-03-06 10:00"), dt("2026-03-06 15:00")), due);
        // Over Tết: only the working days count.
        assert_eq!(c.working_days_between(d("2026-02-12"), d("2026-02-24")), 3);
    }

    #[test]
    fn local_time_is_utc_plus_seven() {
        let utc = DateTime::parse_from_rfc3339("2026-02-13T09:30:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(to_local(utc), dt("2026-02-13 16:30"));
        assert_eq!(from_local(dt("2026-02-13 16:30")), utc);
    }

    #[test]
    fn working_hours_skip_lunch_nights_weekends_and_holidays_and_count_swapped_saturdays() {
        let hours = OfficeHours::default();
        assert_eq!(hours.minutes_per_day(), 450);
        // Tết 2026: 16–20 Feb off; Saturday 7 Feb worked in exchange.
        let cal = Calendar::new((16..=20).map(|n| d(&format!("2026-02-{n}"))), [d("2026-02-07")]);
        let add = |start: &str, minutes| cal.add_working_minutes(&hours, dt(start), minutes);
        assert_eq!(add("2026-02-10 08:00", 0), dt("2026-02-10 08:00"));
        assert_eq!(add("2026-02-10 08:00", 210), dt("2026-02-10 11:30"), "ends at the close, not after lunch");
        assert_eq!(add("2026-02-10 08:00", 240), dt("2026-02-10 14:00"), "lunch is not counted");
        assert_eq!(add("2026-02-10 12:00", 30), dt("2026-02-10 14:00"), "starts at the next opening");
        assert_eq!(add("2026-02-10 18:00", 60), dt("2026-02-11 08:30"), "overnight");
        assert_eq!(add("2026-02-13 16:00", 120), dt("2026-02-23 08:30"), "Friday, then Tết, then Monday");
        assert_eq!(add("2026-02-06 16:30", 60), dt("2026-02-07 08:00"), "the swapped Saturday is worked");
        assert_eq!(add("2026-02-10 07:30", 450 * 2), dt("2026-02-11 17:00"), "two full days end at a close");
        let between = |a: &str, b: &str| cal.working_minutes_between(&hours, dt(a), dt(b));
        assert_eq!(between("2026-02-10 08:00", "2026-02-10 14:00"), 240);
        assert_eq!(between("2026-02-13 16:00", "2026-02-23 08:30"), 120);
        assert_eq!(between("2026-02-10 14:00", "2026-02-10 08:00"), 0);
    }

    #[test]
    fn office_hours_are_ordered_disjoint_spans() {
        assert_eq!(OfficeHours::parse(&["08:00-12:00"]).unwrap().minutes_per_day(), 240);
        for bad in [&["12:00-08:00"][..], &["08:00-12:00", "11:00-13:00"], &["8h-12h"], &[], &["08:00-08:30"]] {
            assert!(OfficeHours::parse(bad).is_err(), "{bad:?}");
        }
    }

    fn arb_calendar() -> impl Strategy<Value = Calendar> {
        let base = d("2026-01-01");
        (proptest::collection::vec(0u32..400, 0..40), proptest::collection::vec(0u32..400, 0..10)).prop_map(
            move |(h, w)| {
                let day = |n: u32| base + chrono::Duration::days(i64::from(n));
                Calendar::new(h.into_iter().map(day), w.into_iter().map(day))
            },
        )
    }

    proptest! {
        #[test]
        fn due_dates_are_working_days_and_monotonic(
            cal in arb_calendar(), offset in 0i64..300, minute in 0u32..1440, n in 0u32..60, cutoff in 0u32..=24,
        ) {
            let received = d("2026-01-01").and_hms_opt(0, 0, 0).unwrap()
                + chrono::Duration::days(offset) + chrono::Duration::minutes(i64::from(minute));
            let due = cal.due_at(received, n, cutoff, five_pm());
            prop_assert!(cal.is_working_day(due.date()));
            prop_assert!(due.date() >= received.date());
            let later = cal.due_at(received, n + 1, cutoff, five_pm());
            prop_assert!(later.date() > due.date());
            // Exactly n working days lie after the start day up to the due day.
            let start = cal.start_day(received, cutoff);
            prop_assert_eq!(cal.working_days_between(start, due.date()), n);
        }

        /// Any instant over two centuries, any number of days, any cut-off
        /// hour, a pause that ends before it starts: never a panic.
        #[test]
        fn arbitrary_inputs_never_panic(
            cal in arb_calendar(), days in -40_000i64..40_000, minute in 0u32..1440, n in 0u32..2000,
            cutoff in any::<u32>(), pause in -400i64..400,
        ) {
            let t = d("2026-01-01").and_hms_opt(0, 0, 0).unwrap()
                + chrono::Duration::days(days) + chrono::Duration::minutes(i64::from(minute));
            let due = cal.due_at(t, n, cutoff, five_pm());
            let moved = cal.extend_for_pause(due, t, t + chrono::Duration::days(pause));
            prop_assert!(moved >= due && cal.is_working_day(due.date()));
        }

        /// Adding working minutes and counting them back agree; the end lies
        /// in office hours of a working day, and more minutes never end earlier.
        #[test]
        fn working_minutes_add_and_count_back(
            cal in arb_calendar(), day in 0i64..300, minute in 0u32..1440, n in 0u32..10_000, more in 1u32..600,
        ) {
            let hours = OfficeHours::default();
            let start = d("2026-01-01").and_hms_opt(0, 0, 0).unwrap()
                + chrono::Duration::days(day) + chrono::Duration::minutes(i64::from(minute));
            let end = cal.add_working_minutes(&hours, start, n);
            prop_assert_eq!(cal.working_minutes_between(&hours, start, end), n);
            prop_assert!(end >= start);
            if n > 0 {
                prop_assert!(cal.is_working_day(end.date()));
                prop_assert!(hours.spans.iter().any(|(open, close)| end.time() > *open && end.time() <= *close));
            }
            prop_assert!(cal.add_working_minutes(&hours, start, n + more) > end);
        }

        #[test]
        fn pauses_never_shorten_and_add_exactly_the_paused_working_days(
            cal in arb_calendar(), a in 0i64..200, len in 0i64..30, n in 0u32..30,
        ) {
            let paused = d("2026-01-01").and_hms_opt(10, 0, 0).unwrap() + chrono::Duration::days(a);
            let resumed = paused + chrono::Duration::days(len);
            let due = cal.due_at(paused, n, 24, five_pm());
            let moved = cal.extend_for_pause(due, paused, resumed);
            prop_assert!(moved >= due);
            prop_assert_eq!(
                cal.working_days_between(due.date(), moved.date()),
                cal.working_days_between(paused.date(), resumed.date())
            );
        }
    }
}
