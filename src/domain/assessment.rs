//! The 18-point assessment of a dossier's handling: nine indices, each 0,
//! 1 or 2 points (Circular 01/2018/TT-VPCP Art. 13, guiding Decree
//! 61/2018/NĐ-CP Art. 31; docs/assessment.md says what each reads here and
//! where it departs from the text). A dossier is assessed when its result
//! is issued; index 7 changes when a complaint about it is found
//! substantiated.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::calendar::to_local;
use super::process::Timing;
use super::units::Level;

/// Points of a whole assessment.
pub const MAX_POINTS: i32 = 18;

/// How a part of the handling compares with its time limit: shorter,
/// equal or longer — for the whole dossier by local date against its
/// appointment date (`of`), for a step of the internal process to the
/// minute against its deadline (`of_step`, `process::timing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Pace {
    Early,
    OnTime,
    Late,
}

impl Pace {
    /// A result issued at `at` against the appointment date `due` (stored
    /// UTC times), by local date: before the day, on it, or after.
    pub fn of(due: NaiveDateTime, at: NaiveDateTime) -> Self {
        let (due, at) = (to_local(due.and_utc()).date(), to_local(at.and_utc()).date());
        match at.cmp(&due) {
            std::cmp::Ordering::Less => Self::Early,
            std::cmp::Ordering::Equal => Self::OnTime,
            std::cmp::Ordering::Greater => Self::Late,
        }
    }

    /// A step of the internal process, by its timing (`process::timing`).
    pub fn of_step(timing: Timing) -> Self {
        match timing {
            Timing::Early(_) => Self::Early,
            Timing::OnTime | Timing::Running(0) => Self::OnTime,
            Timing::Late(_) | Timing::Running(_) => Self::Late,
        }
    }

    /// 2 early, 1 on time, 0 late.
    fn points(self) -> u8 {
        match self {
            Self::Early => 2,
            Self::OnTime => 1,
            Self::Late => 0,
        }
    }
}

/// The steps of the dossier's internal process, each against its deadline
/// (`stats::steps::track` counts them as they complete).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Steps {
    pub early: i32,
    pub on_time: i32,
    pub late: i32,
}

impl Steps {
    /// Counts one more step finished at `pace`.
    pub fn add(&mut self, pace: Pace) {
        match pace {
            Pace::Early => self.early += 1,
            Pace::OnTime => self.on_time += 1,
            Pace::Late => self.late += 1,
        }
    }
}

/// The receiving unit's complaints this year up to the assessment whose
/// answer was due: those answered, and those still open past their day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnitComplaints {
    pub due: i64,
    /// Of them, answered on time.
    pub on_time: i64,
}

/// The receiving unit's online service this year up to the assessment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnitOnline {
    /// Procedures of the unit's level, and those offered online.
    pub procedures: i64,
    pub procedures_online: i64,
    /// Dossiers received, and received online.
    pub received: i64,
    pub received_online: i64,
    /// Dossiers finished late (not within time).
    pub late: i64,
}

/// What the indices read of a dossier whose result was just issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inputs {
    /// The appointment date (moved by pauses) and when the result was issued.
    pub due: NaiveDateTime,
    pub result_at: NaiveDateTime,
    pub steps: Steps,
    pub supplement_requests: i32,
    /// Filed online (no trip to the desk to file).
    pub filed_online: bool,
    /// The result is a signed e-result (no trip to the desk to collect it).
    pub e_result: bool,
    /// The receiving unit's level, and whether its one-stop unit decides
    /// (not only receives and returns) at least the level's share of
    /// procedures (`assessment.units_deciding_at_desk`).
    pub level: Level,
    pub decides_at_desk: bool,
    /// The procedure carries its code in the national procedure database.
    pub national_code: bool,
    /// A complaint about this dossier was found substantiated.
    pub substantiated_complaint: bool,
    pub unit_complaints: UnitComplaints,
    pub unit_online: UnitOnline,
}

/// One index: its number (1–9), points and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Index {
    pub index: u8,
    /// 0, 1 or 2.
    pub points: u8,
    pub reason: String,
}

/// A dossier's assessment: the nine indices and their total out of 18.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Assessment {
    pub indices: Vec<Index>,
    /// Out of [`MAX_POINTS`].
    pub total: i32,
}

fn index(n: u8, points: u8, reason: impl Into<String>) -> Index {
    Index { index: n, points, reason: reason.into() }
}

/// The share `part / whole` is at least `num / den` (false when `whole` is 0).
fn at_least(part: i64, whole: i64, num: i64, den: i64) -> bool {
    whole > 0 && part * den >= num * whole
}

/// Index 1: Total time against the legal time.
fn total_time(i: &Inputs) -> Index {
    let pace = Pace::of(i.due, i.result_at);
    let reason = match pace {
        Pace::Early => "result issued before the appointment date",
        Pace::OnTime => "result issued on the appointment date",
        Pace::Late => "result issued after the appointment date",
    };
    index(1, pace.points(), reason)
}

/// Index 2: Each unit's time against its allotment: every step early → 2, none
/// late → 1, a step late → 0. Without an internal process the receiving
/// unit handled it alone: as index 1.
fn units_time(i: &Inputs) -> Index {
    let s = i.steps;
    if s.early + s.on_time + s.late == 0 {
        let total = total_time(i);
        return index(2, total.points, "no internal process: the receiving unit's time is the total time");
    }
    if s.late > 0 {
        index(2, 0, format!("{} of the process's steps finished after their deadline", s.late))
    } else if s.on_time > 0 {
        index(2, 1, "every step finished by its deadline, some at its very minute")
    } else {
        index(2, 2, "every step finished before its deadline")
    }
}

/// Index 3: How many times the applicant had to come back to complete the dossier.
fn contacts(i: &Inputs) -> Index {
    match i.supplement_requests {
        0 => index(3, 2, "never asked to supplement the dossier"),
        1 => index(3, 1, "asked once to supplement the dossier"),
        n => index(3, 0, format!("asked {n} times to supplement the dossier")),
    }
}

/// Index 4: How many agencies the applicant had to go to: none when filed online
/// with an e-result; the one-stop desk otherwise (motcua sends no applicant
/// to another agency).
fn agencies(i: &Inputs) -> Index {
    if i.filed_online && i.e_result {
        index(4, 2, "filed online and answered with an e-result: no agency visited")
    } else {
        index(4, 1, "only the one-stop desk was visited")
    }
}

/// Index 5: Handled at the one-stop unit: every dossier here is received and
/// returned at a one-stop desk (1); 2 where the unit's one-stop unit also
/// decides at least the level's share of procedures (≥ 20% province or
/// department, ≥ 50% district, 100% commune).
fn one_stop(i: &Inputs) -> Index {
    let share = match i.level {
        Level::Province => "20%",
        Level::District => "50%",
        Level::Commune => "100%",
    };
    if i.decides_at_desk {
        index(5, 2, format!("the one-stop unit decides at least {share} of the procedures"))
    } else {
        index(5, 1, "received and returned at the one-stop desk")
    }
}

/// Index 6: The procedure is published: electronically in the public catalogue
/// (1), and accurately as in the national procedure database (2).
fn publication(i: &Inputs) -> Index {
    if i.national_code {
        index(6, 2, "published in the catalogue with its national procedure code")
    } else {
        index(6, 1, "published in the catalogue without a national procedure code")
    }
}

/// Index 7: Staff conduct: early and no substantiated complaint → 2; on time and
/// none → 1; a substantiated complaint, or late → 0.
fn conduct(total_time: u8, substantiated_complaint: bool) -> Index {
    match (substantiated_complaint, total_time) {
        (true, _) => index(7, 0, "a complaint about the dossier was found substantiated"),
        (false, 2) => index(7, 2, "early, with no substantiated complaint"),
        (false, 1) => index(7, 1, "on time, with no substantiated complaint"),
        (false, _) => index(7, 0, "late"),
    }
}

/// Index 8: The unit's complaints answered on time, those open past their
/// day counting as late: none or all → 2, ≥ 90% → 1.
fn complaints(c: UnitComplaints) -> Index {
    if c.due == 0 {
        index(8, 2, "the unit had no complaint to answer")
    } else if c.on_time == c.due {
        index(8, 2, format!("the unit answered all of its {} complaints on time", c.due))
    } else if at_least(c.on_time, c.due, 9, 10) {
        index(8, 1, format!("the unit answered {} of {} complaints on time (≥ 90%)", c.on_time, c.due))
    } else {
        index(8, 0, format!("the unit answered {} of {} complaints on time (< 90%)", c.on_time, c.due))
    }
}

/// Index 9: The unit's online services: ≥ 20% of procedures online, ≥ 30% of
/// dossiers online and none late → 2; online services and ≥ 15% of dossiers
/// online, none late → 1.
fn online(o: UnitOnline) -> Index {
    let procedures = at_least(o.procedures_online, o.procedures, 1, 5);
    let reason = format!(
        "{} of {} procedures online, {} of {} dossiers received online, {} finished late",
        o.procedures_online, o.procedures, o.received_online, o.received, o.late
    );
    let points = if o.late > 0 || o.procedures_online == 0 {
        0
    } else if procedures && at_least(o.received_online, o.received, 3, 10) {
        2
    } else if at_least(o.received_online, o.received, 3, 20) {
        1
    } else {
        0
    };
    index(9, points, reason)
}

impl Assessment {
    fn of(indices: Vec<Index>) -> Self {
        let total = indices.iter().map(|i| i32::from(i.points)).sum();
        Self { indices, total }
    }

    /// The assessment of a dossier whose result was just issued.
    pub fn assess(i: &Inputs) -> Self {
        let total = total_time(i);
        let points = total.points;
        Self::of(vec![
            total,
            units_time(i),
            contacts(i),
            agencies(i),
            one_stop(i),
            publication(i),
            conduct(points, i.substantiated_complaint),
            complaints(i.unit_complaints),
            online(i.unit_online),
        ])
    }

    /// The assessment once a complaint about the dossier was found
    /// substantiated: index 7 falls to 0.
    pub fn with_substantiated_complaint(&self) -> Self {
        let total_time = self.indices.iter().find(|i| i.index == 1).map_or(0, |i| i.points);
        let indices =
            self.indices.iter().map(|i| if i.index == 7 { conduct(total_time, true) } else { i.clone() }).collect();
        Self::of(indices)
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use proptest::prelude::*;

    use super::*;

    fn utc(s: &str) -> NaiveDateTime {
        super::super::calendar::from_local(NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()).naive_utc()
    }

    /// A dossier handled as well as it can be.
    fn best() -> Inputs {
        Inputs {
            due: utc("2026-03-16 17:00"),
            result_at: utc("2026-03-13 10:00"),
            steps: Steps { early: 3, on_time: 0, late: 0 },
            supplement_requests: 0,
            filed_online: true,
            e_result: true,
            level: Level::Commune,
            decides_at_desk: true,
            national_code: true,
            substantiated_complaint: false,
            unit_complaints: UnitComplaints::default(),
            unit_online: UnitOnline {
                procedures: 10,
                procedures_online: 10,
                received: 10,
                received_online: 5,
                late: 0,
            },
        }
    }

    fn points(a: &Assessment) -> Vec<u8> {
        a.indices.iter().map(|i| i.points).collect()
    }

    #[test]
    fn the_best_handling_scores_18() {
        let a = Assessment::assess(&best());
        assert_eq!(points(&a), [2; 9]);
        assert_eq!(a.total, 18);
        assert_eq!(a.indices.iter().map(|i| i.index).collect::<Vec<_>>(), (1..=9).collect::<Vec<_>>());
    }

    #[test]
    fn time_is_judged_by_date_at_the_days_edges() {
        let mut i = best();
        i.result_at = utc("2026-03-15 23:59");
        assert_eq!(points(&Assessment::assess(&i))[0], 2);
        i.result_at = utc("2026-03-16 00:00");
        assert_eq!(points(&Assessment::assess(&i))[0], 1, "on the appointment day, whatever the hour");
        i.result_at = utc("2026-03-16 23:59");
        assert_eq!(points(&Assessment::assess(&i))[..1], [1]);
        i.result_at = utc("2026-03-17 00:00");
        let a = Assessment::assess(&i);
        assert_eq!((points(&a)[0], points(&a)[6]), (0, 0), "late: index 1 and conduct fall");
    }

    #[test]
    fn a_typical_counter_dossier() {
        let mut i = best();
        i.result_at = utc("2026-03-16 15:00");
        i.steps = Steps { early: 1, on_time: 1, late: 0 };
        i.supplement_requests = 1;
        i.filed_online = false;
        i.decides_at_desk = false;
        i.national_code = false;
        i.unit_complaints = UnitComplaints { due: 10, on_time: 9 };
        i.unit_online =
            UnitOnline { procedures: 10, procedures_online: 10, received: 100, received_online: 20, late: 0 };
        let a = Assessment::assess(&i);
        assert_eq!(points(&a), [1, 1, 1, 1, 1, 1, 1, 1, 1]);
        assert_eq!(a.total, 9);
    }

    #[test]
    fn indices_fall_to_zero() {
        let mut i = best();
        i.steps.late = 1;
        i.supplement_requests = 2;
        i.unit_complaints = UnitComplaints { due: 10, on_time: 8 };
        i.unit_online.late = 1;
        let a = Assessment::assess(&i);
        assert_eq!(points(&a), [2, 0, 0, 2, 2, 2, 2, 0, 0]);
        assert!(a.indices[1].reason.contains("1 of the process's steps"), "{:?}", a.indices[1]);
    }

    #[test]
    fn without_a_process_index_2_follows_the_total_time() {
        let mut i = best();
        i.steps = Steps::default();
        i.result_at = utc("2026-03-16 12:00");
        assert_eq!(points(&Assessment::assess(&i))[..2], [1, 1]);
    }

    #[test]
    fn a_substantiated_complaint_takes_index_7() {
        let a = Assessment::assess(&best());
        let b = a.with_substantiated_complaint();
        assert_eq!(points(&b), [2, 2, 2, 2, 2, 2, 0, 2, 2]);
        assert_eq!(b.total, 16);
        assert_eq!(b.with_substantiated_complaint(), b, "once is enough");
        let mut i = best();
        i.substantiated_complaint = true;
        assert_eq!(Assessment::assess(&i), b, "the same whether the complaint came before or after");
    }

    #[test]
    fn online_thresholds() {
        let o = |received_online| UnitOnline {
            procedures: 5,
            procedures_online: 1,
            received: 100,
            received_online,
            late: 0,
        };
        assert_eq!(online(o(30)).points, 2);
        assert_eq!(online(o(29)).points, 1);
        assert_eq!(online(o(15)).points, 1);
        assert_eq!(online(o(14)).points, 0);
        assert_eq!(online(UnitOnline { procedures_online: 0, ..o(50) }).points, 0);
        assert_eq!(online(UnitOnline { procedures: 6, ..o(50) }).points, 1, "under 20% of procedures online");
    }

    proptest! {
        #[test]
        fn every_index_scores_0_to_2_and_the_total_is_their_sum(
            early in 0i32..5, on_day in 0i32..5, late in 0i32..5, supplements in 0i32..5,
            filed_online in any::<bool>(), e_result in any::<bool>(), desk in any::<bool>(), code in any::<bool>(),
            complaint in any::<bool>(), answered in 0i64..50, on_time_share in 0i64..=50,
            received in 0i64..100, online_share in 0i64..=100, unit_late in 0i64..3,
            result_day in 0i64..30,
        ) {
            let i = Inputs {
                due: utc("2026-03-16 17:00"),
                result_at: utc("2026-03-01 10:00") + chrono::Duration::days(result_day),
                steps: Steps { early, on_time: on_day, late },
                supplement_requests: supplements,
                filed_online, e_result,
                level: Level::District,
                decides_at_desk: desk,
                national_code: code,
                substantiated_complaint: complaint,
                unit_complaints: UnitComplaints { due: answered, on_time: answered * on_time_share / 50 },
                unit_online: UnitOnline {
                    procedures: 10, procedures_online: 10, received,
                    received_online: received * online_share / 100, late: unit_late,
                },
            };
            let a = Assessment::assess(&i);
            prop_assert_eq!(a.indices.len(), 9);
            prop_assert!(a.indices.iter().all(|x| x.points <= 2));
            prop_assert_eq!(a.total, a.indices.iter().map(|x| i32::from(x.points)).sum::<i32>());
            prop_assert!((0..=MAX_POINTS).contains(&a.total));
            // A substantiated complaint never raises a score.
            let b = a.with_substantiated_complaint();
            prop_assert!(b.total <= a.total);
            prop_assert_eq!(b.indices[6].points, 0);
        }

        #[test]
        fn pace_agrees_with_the_portals_lateness(due_day in 0i64..40, at_minutes in 0i64..(60 * 24 * 60)) {
            let start = utc("2026-01-01 00:00");
            let due = utc(&format!("{} 17:00", NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Duration::days(due_day)));
            let at = start + chrono::Duration::minutes(at_minutes);
            prop_assert_eq!(Pace::of(due, at) == Pace::Late, super::super::dossier::past_appointment(due, at));
        }
    }
}
