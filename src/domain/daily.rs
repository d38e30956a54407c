//! One dossier's contribution to the statistics, day by day (DESIGN.md §6,
//! `docs/statistics.md`).
//!
//! The statistics count flows — dossiers received, finished or rated in a
//! period — and one stock: the dossiers still in progress when the period
//! ends. A dossier adds its flows to the local day they happened on, and
//! each stock as +1 on the day it starts counting and −1 on the day it stops,
//! so that the stock at the start of day `t` is the sum of the changes of the
//! days before `t`. Kept per day, receiving unit and procedure in the same
//! transaction as every change (`stats::daily`), these sums answer any
//! period without reading a single dossier.

use std::ops::{AddAssign, Neg};

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use diesel::QueryableByName;

use super::dossier::{Timeliness, past_appointment, supplemented_twice};
use super::stats::Counts;

macro_rules! daily_columns {
    (flows: $($flow:ident),*; stocks: $($stock:ident),* $(,)?) => {
        /// The counts of one day (or the sum of several): flows that
        /// happened on it and changes of the stocks.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, QueryableByName)]
        pub struct Day {
            $(#[diesel(sql_type = diesel::sql_types::BigInt)] pub $flow: i64,)*
            $(#[diesel(sql_type = diesel::sql_types::BigInt)] pub $stock: i64,)*
        }

        impl Day {
            /// The flow columns, counted on the day they happen.
            pub const FLOWS: &'static [&'static str] = &[$(stringify!($flow)),*];
            /// The stock columns, summed over every earlier day.
            pub const STOCKS: &'static [&'static str] = &[$(stringify!($stock)),*];

            /// The values in the order of `FLOWS` then `STOCKS`.
            pub fn values(&self) -> Vec<i64> {
                vec![$(self.$flow,)* $(self.$stock,)*]
            }

            /// Only the stock changes.
            pub fn stocks(self) -> Self {
                Self { $($stock: self.$stock,)* ..Self::default() }
            }

            /// Only the flows.
            fn flows(self) -> Self {
                Self { $($flow: self.$flow,)* ..Self::default() }
            }
        }

        impl AddAssign for Day {
            fn add_assign(&mut self, o: Self) {
                $(self.$flow += o.$flow;)*
                $(self.$stock += o.$stock;)*
            }
        }

        impl Neg for Day {
            type Output = Self;
            fn neg(self) -> Self {
                Self { $($flow: -self.$flow,)* $($stock: -self.$stock,)* }
            }
        }
    };
}

daily_columns! {
    flows: received, received_online, received_counter, received_postal, digitized, reused, fee_bearing,
        paid_online, finished, finished_on_time, processing_days, document_results, e_results,
        finished_late_apologized, ratings, ratings_satisfied, finished_within, assessed, assessment_points,
        certified_copies_requested, certified_copies_done, fully_online;
    stocks: in_progress, in_progress_on_time, in_progress_late_apologized, in_progress_within
}

impl Day {
    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }

    /// The counts of a period from the sum of its days' flows and of every
    /// earlier day's stock changes.
    pub fn counts(&self) -> Counts {
        Counts {
            received: self.received,
            received_online: self.received_online,
            received_counter: self.received_counter,
            received_postal: self.received_postal,
            digitized: self.digitized,
            reused: self.reused,
            fee_bearing: self.fee_bearing,
            paid_online: self.paid_online,
            finished: self.finished,
            finished_on_time: self.finished_on_time,
            processing_days: self.processing_days,
            in_progress: self.in_progress,
            in_progress_on_time: self.in_progress_on_time,
            document_results: self.document_results,
            e_results: self.e_results,
            late: self.finished - self.finished_within + self.in_progress - self.in_progress_within,
            late_apologized: self.finished_late_apologized + self.in_progress_late_apologized,
            ratings: self.ratings,
            ratings_satisfied: self.ratings_satisfied,
            assessed: self.assessed,
            assessment_points: self.assessment_points,
            certified_copies_requested: self.certified_copies_requested,
            certified_copies_done: self.certified_copies_done,
            fully_online: self.fully_online,
        }
    }
}

/// The first day of `day`'s month.
pub fn month_of(day: NaiveDate) -> NaiveDate {
    day.with_day(1).expect("every month has a first day")
}

/// The table a part of a period is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// `monthly_counts`, a row per month (keyed by its first day).
    Months,
    /// `daily_counts`, a row per day.
    Days,
}

/// A part of a period's reading: the rows of `table` whose date is in
/// `[from, to)` (from the first row when `from` is `None`), their flows,
/// their stock changes, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    pub table: Table,
    pub from: Option<NaiveDate>,
    pub to: NaiveDate,
    pub flows: bool,
    pub stocks: bool,
}

/// How the statistics read the local dates `[from, to)` (`stats::daily::sums`):
/// the flows of its days and the stock changes of every day before `to`, as
/// the daily rows alone would give them, but from the monthly roll-ups for
/// every whole month. With `first` the first 1st of a month on or after
/// `from` and `end` the last on or before `to`:
///
/// - months `[first, end)`: flows and stocks;
/// - months before both: stocks;
/// - days `[max(end, from), to)`: flows and stocks;
/// - days `[end, from)` (a period inside one month): stocks;
/// - days `[from, first)` before `end`: flows.
///
/// So a period reads one row per month and group plus the days of two
/// partial months, and each part is a range of its table's key.
pub fn parts(from: NaiveDate, to: NaiveDate) -> Vec<Part> {
    let first = if from == month_of(from) { from } else { next_month(from) };
    let end = month_of(to);
    let part = |table, from: Option<NaiveDate>, to, flows, stocks| Part { table, from, to, flows, stocks };
    [
        part(Table::Months, Some(first), end, true, true),
        part(Table::Months, None, first.min(end), false, true),
        part(Table::Days, Some(end.max(from)), to, true, true),
        part(Table::Days, Some(end), from.min(to), false, true),
        part(Table::Days, Some(from), first.min(end), true, false),
    ]
    .into_iter()
    .filter(|p| p.from.is_none_or(|f| f < p.to))
    .collect()
}

fn next_month(day: NaiveDate) -> NaiveDate {
    month_of(day).checked_add_months(chrono::Months::new(1)).expect("in range")
}

/// `[from, to)` cut at month boundaries.
pub fn months(from: NaiveDate, to: NaiveDate) -> Vec<(NaiveDate, NaiveDate)> {
    let mut out = Vec::new();
    let mut start = from;
    while start < to {
        let end = next_month(start).min(to);
        out.push((start, end));
        start = end;
    }
    out
}

/// A period's sums per month (`stats::daily::sums` grouped by month, keyed
/// by the month's first day) made cumulative in their stocks.
pub struct Months(std::collections::BTreeMap<NaiveDate, Day>);

impl Months {
    pub fn new(sums: impl IntoIterator<Item = (NaiveDate, Day)>) -> Self {
        let mut by_month: std::collections::BTreeMap<NaiveDate, Day> = Default::default();
        for (month, d) in sums {
            *by_month.entry(month_of(month)).or_default() += d;
        }
        let mut stocks = Day::default();
        for d in by_month.values_mut() {
            stocks += d.stocks();
            *d = d.flows();
            *d += stocks;
        }
        Self(by_month)
    }

    /// The sums of the part of the period in the month of `day`: its flows,
    /// and the stock changes of it and of every earlier month.
    pub fn of(&self, day: NaiveDate) -> Day {
        let month = month_of(day);
        match self.0.range(..=month).next_back() {
            Some((m, d)) if *m == month => *d,
            Some((_, d)) => d.stocks(),
            None => Day::default(),
        }
    }
}

/// A dossier as the statistics see it. Times are UTC, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// `online`, `counter` or `postal`.
    pub channel: String,
    pub received_at: Option<NaiveDateTime>,
    /// The appointment date set at reception, moved by pauses (not by apologies).
    pub original_due_at: Option<NaiveDateTime>,
    /// Since when it waits for the applicant's supplement, if it does.
    pub paused_at: Option<NaiveDateTime>,
    pub result_at: Option<NaiveDateTime>,
    pub finished_at: Option<NaiveDateTime>,
    pub supplement_requests: i32,
    pub fee_bearing: bool,
    pub paid_online: bool,
    pub digitized: bool,
    pub reused: bool,
    /// The procedure's result is a document.
    pub document_result: bool,
    /// The procedure's result is a copy certified from an original.
    pub certifies_copies: bool,
    pub e_result: bool,
    pub apologized: bool,
    pub working_days_taken: Option<i32>,
    /// When the applicant rated the dossier, and whether satisfied.
    pub rating: Option<(NaiveDateTime, bool)>,
    /// The points of its assessment out of 18 (`domain::assessment`),
    /// assessed when its result was issued.
    pub assessment: Option<i32>,
}

/// The local date of a stored (UTC) time.
fn local_day(t: NaiveDateTime) -> NaiveDate {
    super::calendar::to_local(t.and_utc()).date()
}

impl Facts {
    /// How it stands against its appointment date when its result was
    /// issued (`domain::dossier::Timeliness`).
    fn finished(&self) -> Option<Timeliness> {
        Some(Timeliness::finished(self.original_due_at?, self.result_at?, self.supplement_requests))
    }

    /// Finished within time, by date; on time if also not asked to
    /// supplement twice.
    pub fn finished_on_time(&self) -> bool {
        self.finished() == Some(Timeliness::OnTime)
    }

    fn finished_within(&self) -> bool {
        self.finished().is_some_and(|t| t != Timeliness::Late)
    }

    /// The last local day at whose start, still in progress, it is within
    /// time: its appointment date (judged by date) — for ever (`None`) while
    /// it waits for a supplement asked for on or before that date
    /// (`domain::dossier::overdue`).
    fn within_until(&self) -> Option<NaiveDate> {
        match self.original_due_at {
            Some(due) if self.paused_at.is_some_and(|p| !past_appointment(due, p)) => None,
            Some(due) => Some(local_day(due)),
            None => self.received_at.map(local_day),
        }
    }

    /// Its result was issued and reached the applicant online: as a signed
    /// e-result, or with no document to hand over.
    fn returned_online(&self) -> bool {
        self.result_at.is_some() && (!self.document_result || self.e_result)
    }

    /// Fully online: filed online, its fee (if any) paid online, and its
    /// result returned online.
    fn fully_online(&self) -> bool {
        self.channel == "online" && (!self.fee_bearing || self.paid_online) && self.returned_online()
    }

    /// Processing ended: the result was issued, or the dossier was returned,
    /// rejected, withdrawn or stopped.
    fn left_at(&self) -> Option<NaiveDateTime> {
        match (self.result_at, self.finished_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The dossier's contributions by local day.
    pub fn days(&self) -> Vec<(NaiveDate, Day)> {
        let mut out = Vec::new();
        if let Some(received) = self.received_at {
            out.push((
                local_day(received),
                Day {
                    received: 1,
                    received_online: i64::from(self.channel == "online"),
                    received_counter: i64::from(self.channel == "counter"),
                    received_postal: i64::from(self.channel == "postal"),
                    digitized: i64::from(self.digitized),
                    reused: i64::from(self.reused),
                    fee_bearing: i64::from(self.fee_bearing),
                    paid_online: i64::from(self.fee_bearing && self.paid_online),
                    fully_online: i64::from(self.fully_online()),
                    ..Day::default()
                },
            ));
            // In progress at the start of day t: received before t, not left before t.
            let start = local_day(received);
            let end = self.left_at().map(local_day);
            span(&mut out, start, end, |d, n| d.in_progress = n);
            // … within time until its appointment date has passed; on time
            // if also not asked to supplement twice; late after.
            let until = self.within_until();
            let within = match until {
                Some(until) => Some(end.map_or(until, |e| e.min(until))),
                None => end,
            };
            span(&mut out, start, within, |d, n| d.in_progress_within = n);
            if !supplemented_twice(self.supplement_requests) {
                span(&mut out, start, within, |d, n| d.in_progress_on_time = n);
            }
            if let Some(until) = until.filter(|_| self.apologized) {
                span(&mut out, start.max(until), end, |d, n| d.in_progress_late_apologized = n);
            }
        }
        if let Some(result) = self.result_at {
            let within = self.finished_within();
            out.push((
                local_day(result),
                Day {
                    finished: 1,
                    finished_on_time: i64::from(self.finished_on_time()),
                    finished_within: i64::from(within),
                    processing_days: i64::from(self.working_days_taken.unwrap_or(0)),
                    document_results: i64::from(self.document_result),
                    e_results: i64::from(self.document_result && self.e_result),
                    finished_late_apologized: i64::from(!within && self.apologized),
                    assessed: i64::from(self.assessment.is_some()),
                    assessment_points: i64::from(self.assessment.unwrap_or(0)),
                    certified_copies_requested: i64::from(self.certifies_copies),
                    certified_copies_done: i64::from(self.certifies_copies && self.returned_online()),
                    ..Day::default()
                },
            ));
        }
        if let Some((rated, satisfied)) = self.rating {
            out.push((local_day(rated), Day { ratings: 1, ratings_satisfied: i64::from(satisfied), ..Day::default() }));
        }
        out
    }
}

/// A stock counted at the start of the days after `start` up to `end`
/// inclusive (or for ever): +1 on `start`, −1 on `end`.
fn span(out: &mut Vec<(NaiveDate, Day)>, start: NaiveDate, end: Option<NaiveDate>, set: fn(&mut Day, i64)) {
    if end.is_some_and(|e| e <= start) {
        return;
    }
    let mut plus = Day::default();
    set(&mut plus, 1);
    out.push((start, plus));
    if let Some(end) = end {
        out.push((end, -plus));
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveTime;
    use proptest::prelude::*;

    use super::*;

    /// The sums for the local dates `[from, to)`: the flows of those days and the
    /// stock changes of every day before `to`.
    fn window(days: impl IntoIterator<Item = (NaiveDate, Day)>, from: NaiveDate, to: NaiveDate) -> Day {
        let mut sum = Day::default();
        for (day, d) in days {
            if day >= to {
                continue;
            }
            sum += if day >= from { d } else { d.stocks() };
        }
        sum
    }

    /// Local midnight of `d`, as stored (UTC).
    fn midnight(d: NaiveDate) -> NaiveDateTime {
        super::super::calendar::from_local(d.and_time(NaiveTime::MIN)).naive_utc()
    }

    /// The local date of a stored time.
    fn date_of(t: NaiveDateTime) -> NaiveDate {
        (t + chrono::Duration::hours(7)).date()
    }

    /// The statistics' definitions read directly off the dossiers, as
    /// `docs/statistics.md` words them, for the local dates `[from, to)`.
    fn direct(dossiers: &[Facts], from: NaiveDate, to: NaiveDate) -> Counts {
        let (start, end) = (midnight(from), midnight(to));
        let within = |t: Option<NaiveDateTime>| t.is_some_and(|t| start <= t && t < end);
        let mut c = Counts::default();
        for f in dossiers {
            if within(f.received_at) {
                c.received += 1;
                c.received_online += i64::from(f.channel == "online");
                c.received_counter += i64::from(f.channel == "counter");
                c.received_postal += i64::from(f.channel == "postal");
                c.digitized += i64::from(f.digitized);
                c.reused += i64::from(f.reused);
                c.fee_bearing += i64::from(f.fee_bearing);
                c.paid_online += i64::from(f.fee_bearing && f.paid_online);
                // Fully online once its result has reached the applicant online.
                let returned_online = f.result_at.is_some() && (!f.document_result || f.e_result);
                let paid = !f.fee_bearing || f.paid_online;
                c.fully_online += i64::from(f.channel == "online" && paid && returned_online);
            }
            // By date; a second supplement request is not on time, yet not late.
            let once = f.supplement_requests <= 1;
            if within(f.result_at) {
                let in_time = f.original_due_at.zip(f.result_at).is_some_and(|(d, r)| date_of(r) <= date_of(d));
                c.finished += 1;
                c.finished_on_time += i64::from(in_time && once);
                c.processing_days += i64::from(f.working_days_taken.unwrap_or(0));
                c.document_results += i64::from(f.document_result);
                c.e_results += i64::from(f.document_result && f.e_result);
                c.late += i64::from(!in_time);
                c.late_apologized += i64::from(!in_time && f.apologized);
                // A certified copy is requested and, issued online, done.
                c.certified_copies_requested += i64::from(f.certifies_copies);
                c.certified_copies_done += i64::from(f.certifies_copies && (!f.document_result || f.e_result));
                if let Some(points) = f.assessment {
                    c.assessed += 1;
                    c.assessment_points += i64::from(points);
                }
            }
            let open = f.received_at.is_some_and(|r| r < end)
                && f.result_at.is_none_or(|r| r >= end)
                && f.finished_at.is_none_or(|r| r >= end);
            if open {
                // Not past its appointment date when the period ends, or
                // paused for a supplement asked for on or before it.
                let in_time = f
                    .original_due_at
                    .is_some_and(|d| date_of(d) >= to || f.paused_at.is_some_and(|p| date_of(p) <= date_of(d)));
                c.in_progress += 1;
                c.in_progress_on_time += i64::from(in_time && once);
                c.late += i64::from(!in_time);
                c.late_apologized += i64::from(!in_time && f.apologized);
            }
            if let Some((_, satisfied)) = f.rating.filter(|(t, _)| within(Some(*t))) {
                c.ratings += 1;
                c.ratings_satisfied += i64::from(satisfied);
            }
        }
        c
    }

    fn counted(dossiers: &[Facts], from: NaiveDate, to: NaiveDate) -> Counts {
        window(dossiers.iter().flat_map(Facts::days), from, to).counts()
    }

    const EPOCH: &str = "2026-01-01T00:00:00";

    /// A time within 40 days of the epoch, to the minute, so that local
    /// midnights and day ends are hit often.
    fn time() -> impl Strategy<Value = NaiveDateTime> {
        prop_oneof![
            (0i64..40, 0i64..24).prop_map(|(d, h)| (d, h * 60 - 7 * 60)),
            (0i64..40 * 24 * 60).prop_map(|m| (0, m)),
        ]
        .prop_map(|(d, m)| {
            EPOCH.parse::<NaiveDateTime>().unwrap() + chrono::Duration::days(d) + chrono::Duration::minutes(m)
        })
    }

    prop_compose! {
        fn facts()(
            channel in prop::sample::select(vec!["online", "counter", "postal"]),
            received in prop::option::of(time()),
            due_after in 0i64..20 * 24 * 60,
            result_after in prop::option::of(0i64..30 * 24 * 60),
            finished_after in prop::option::of(0i64..30 * 24 * 60),
            supplement_requests in 0..3i32,
            flags in prop::array::uniform8(any::<bool>()),
            working_days in prop::option::of(0..30i32),
            rating in prop::option::of((0i64..10 * 24 * 60, any::<bool>())),
            paused_after in prop::option::of(0i64..25 * 24 * 60),
            assessment in prop::option::of(0..=18i32),
        ) -> Facts {
            let after = |t: NaiveDateTime, m: i64| t + chrono::Duration::minutes(m);
            let result_at = received.zip(result_after).map(|(r, m)| after(r, m));
            let finished_at = received.zip(finished_after).map(|(r, m)| after(result_at.unwrap_or(r), m));
            // Only a dossier still in processing waits for a supplement.
            let open = result_at.is_none() && finished_at.is_none();
            Facts {
                channel: channel.to_string(),
                received_at: received,
                original_due_at: received.map(|r| after(r, due_after)),
                paused_at: received.zip(paused_after).filter(|_| open).map(|(r, m)| after(r, m)),
                result_at,
                finished_at,
                supplement_requests,
                fee_bearing: flags[0],
                paid_online: flags[1],
                digitized: flags[2],
                reused: flags[3],
                document_result: flags[4],
                certifies_copies: flags[7],
                e_result: flags[5],
                apologized: flags[6],
                working_days_taken: result_at.and(working_days),
                rating: finished_at.zip(rating).map(|(f, (m, s))| (after(f, m), s)),
                // Assessed when the result is issued.
                assessment: result_at.and(assessment),
            }
        }
    }

    fn date(offset: i64) -> NaiveDate {
        EPOCH.parse::<NaiveDateTime>().unwrap().date() + chrono::Duration::days(offset)
    }

    #[test]
    fn months_cut_the_period() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(
            months(d("2026-01-15"), d("2026-03-02")),
            [
                (d("2026-01-15"), d("2026-02-01")),
                (d("2026-02-01"), d("2026-03-01")),
                (d("2026-03-01"), d("2026-03-02"))
            ]
        );
        assert!(months(d("2026-01-01"), d("2026-01-01")).is_empty());
    }

    /// What `stats::daily::sums` reads for `[from, to)` from the monthly
    /// roll-ups of `days` and from `days` themselves, keyed by month.
    fn rolled_up(days: &[(NaiveDate, Day)], from: NaiveDate, to: NaiveDate) -> Vec<(NaiveDate, Day)> {
        let mut months: std::collections::BTreeMap<NaiveDate, Day> = Default::default();
        for (day, d) in days {
            *months.entry(month_of(*day)).or_default() += *d;
        }
        let mut out = Vec::new();
        for part in parts(from, to) {
            let rows: Vec<(NaiveDate, Day)> = match part.table {
                Table::Months => months.iter().map(|(m, d)| (*m, *d)).collect(),
                Table::Days => days.to_vec(),
            };
            for (date, d) in
                rows.into_iter().filter(|(date, _)| part.from.is_none_or(|f| *date >= f) && *date < part.to)
            {
                let mut read = if part.flows { d.flows() } else { Day::default() };
                if part.stocks {
                    read += d.stocks();
                }
                out.push((month_of(date), read));
            }
        }
        out
    }

    proptest! {
        /// Summing the days gives, for any period, what the definitions
        /// count on the dossiers themselves.
        #[test]
        fn days_add_up_to_the_definitions(
            dossiers in prop::collection::vec(facts(), 0..30),
            from in -2i64..45,
            length in 0i64..45,
        ) {
            let (from, to) = (date(from), date(from + length));
            prop_assert_eq!(counted(&dossiers, from, to), direct(&dossiers, from, to));
        }

        /// The monthly roll-ups and the days outside whole months read any
        /// period as the days alone do, in total and month by month.
        #[test]
        fn months_and_days_read_as_the_days(
            dossiers in prop::collection::vec(facts(), 0..30),
            from in -2i64..70,
            length in 0i64..70,
        ) {
            let (from, to) = (date(from), date(from + length));
            let days: Vec<(NaiveDate, Day)> = dossiers.iter().flat_map(Facts::days).collect();
            let read = rolled_up(&days, from, to);
            let total = read.iter().fold(Day::default(), |mut a, (_, d)| { a += *d; a });
            prop_assert_eq!(total.counts(), window(days.iter().copied(), from, to).counts());
            let by_month = Months::new(read);
            for (start, end) in months(from, to) {
                prop_assert_eq!(by_month.of(start).counts(), window(days.iter().copied(), start, end).counts());
            }
        }

        /// A change moves the counts from the old facts to the new: what
        /// `stats::daily::moved` stores.
        #[test]
        fn a_change_is_the_difference(before in facts(), after in facts(), from in 0i64..40, length in 0i64..40) {
            let (from, to) = (date(from), date(from + length));
            let moved = before.days().into_iter().map(|(d, c)| (d, -c)).chain(after.days());
            let mut counts = counted(std::slice::from_ref(&before), from, to);
            counts += window(moved, from, to).counts();
            prop_assert_eq!(counts, direct(std::slice::from_ref(&after), from, to));
        }
    }

    /// Issue 17: paused for a supplement on its appointment day, a dossier
    /// stays within time while it waits; asked twice, it is not on time but
    /// not late either.
    #[test]
    fn pauses_and_second_supplements_are_counted_by_the_portals_rules() {
        let t = |s: &str| s.parse::<NaiveDateTime>().unwrap();
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        // Received 2 March, due 5 March 17:00 local, paused 5 March 23:00 local.
        let mut f = Facts {
            channel: "online".into(),
            received_at: Some(t("2026-03-02T03:00:00")),
            original_due_at: Some(t("2026-03-05T10:00:00")),
            paused_at: Some(t("2026-03-05T16:00:00")),
            result_at: None,
            finished_at: None,
            supplement_requests: 1,
            fee_bearing: false,
            paid_online: false,
            digitized: false,
            reused: false,
            document_result: true,
            certifies_copies: false,
            e_result: false,
            apologized: false,
            working_days_taken: None,
            rating: None,
            assessment: None,
        };
        let at = |f: &Facts, to: &str| counted(std::slice::from_ref(f), d("2026-03-01"), d(to));
        let c = at(&f, "2026-03-20");
        assert_eq!((c.in_progress, c.in_progress_on_time, c.late), (1, 1, 0), "within time while paused");
        f.paused_at = Some(t("2026-03-05T17:00:00"));
        assert_eq!(at(&f, "2026-03-20").late, 1, "paused the day after: late");
        f.paused_at = None;
        f.supplement_requests = 2;
        let c = at(&f, "2026-03-05");
        assert_eq!((c.in_progress, c.in_progress_on_time, c.late), (1, 0, 0), "asked twice: not on time, not late");
        f.result_at = Some(t("2026-03-05T16:59:00"));
        let c = at(&f, "2026-03-06");
        assert_eq!((c.finished, c.finished_on_time, c.late), (1, 0, 0));
        f.supplement_requests = 1;
        assert_eq!(at(&f, "2026-03-06").finished_on_time, 1, "a result on the appointment day, at 23:59, is on time");
    }

    #[test]
    fn a_dossier_in_progress_is_counted_until_its_result() {
        let t = |s: &str| s.parse::<NaiveDateTime>().unwrap();
        // Received 2 March 10:00 local, due 5 March 17:00, result 9 March 08:00.
        let f = Facts {
            channel: "counter".into(),
            received_at: Some(t("2026-03-02T03:00:00")),
            original_due_at: Some(t("2026-03-05T10:00:00")),
            paused_at: None,
            result_at: Some(t("2026-03-09T01:00:00")),
            finished_at: None,
            supplement_requests: 0,
            fee_bearing: false,
            paid_online: false,
            digitized: true,
            reused: false,
            document_result: true,
            certifies_copies: false,
            e_result: true,
            apologized: true,
            working_days_taken: Some(5),
            rating: None,
            assessment: None,
        };
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let at = |to: &str| counted(std::slice::from_ref(&f), d("2026-03-01"), d(to));
        // Not yet received at the start of 2 March; in progress on time from 3 March.
        assert_eq!(at("2026-03-02").in_progress, 0);
        assert_eq!((at("2026-03-03").in_progress, at("2026-03-03").in_progress_on_time), (1, 1));
        // Still on time at the start of its due day, late from the next.
        assert_eq!(at("2026-03-05").in_progress_on_time, 1);
        let late = at("2026-03-06");
        assert_eq!((late.in_progress, late.in_progress_on_time, late.late, late.late_apologized), (1, 0, 1, 1));
        // Finished late on 9 March: no longer in progress from 10 March.
        let done = at("2026-03-10");
        assert_eq!((done.in_progress, done.finished, done.finished_on_time, done.late), (0, 1, 0, 1));
        assert_eq!((done.e_results, done.processing_days, done.late_apologized), (1, 5, 1));
    }
}
