//! Where dossiers are held up: the step statistics (`GET /stats/steps`,
//! docs/processes.md). `step_counts` keeps, per local day of completion,
//! unit that did the step, procedure and step, the steps completed, those
//! completed late and their working minutes late — added in the same
//! transaction as the change that completes a step (`track`), so that the
//! statistics read one aggregate, never the events.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Integer, Text};
use serde::Serialize;
use utoipa::ToSchema;

use super::{GroupBy, catalogue, subtree};
use crate::db::schema::dossier_facts;
use crate::db::{DbConnection, text_literal};
use crate::domain::assessment::Pace;
use crate::domain::calendar::{Calendar, OfficeHours};
use crate::domain::daily::months;
use crate::domain::dossier::Dossier;
use crate::domain::process::{self, StepTally};
use crate::units::UnitRow;

/// Counts the step the change from `before` to `after` of dossier
/// `dossier_id` of `procedure_id` completed at `now` (UTC), if any
/// (`domain::process::completed`), late by the working minutes past its
/// deadline; and, for the dossier's assessment (`domain::assessment`),
/// whether it finished before the day of its deadline, on that day or
/// after it. The caller holds the dossier's lock.
pub fn track(
    conn: &mut DbConnection,
    dossier_id: &str,
    procedure_id: &str,
    before: &Dossier,
    after: &Dossier,
    now: NaiveDateTime,
    hours: &OfficeHours,
) -> QueryResult<()> {
    let Some(done) =
        process::completed((before.status, before.position.as_ref()), (after.status, after.position.as_ref()))
    else {
        return Ok(());
    };
    let local = crate::dossiers::local;
    // The calendar decides only whether a step past its deadline is late.
    let calendar =
        if now > done.due_at { crate::dossiers::calendar_from(conn, done.due_at)? } else { Calendar::default() };
    let timing = process::timing(&calendar, hours, local(done.due_at), local(now));
    let late = timing.late_minutes();
    let t = StepTally::one(late);
    diesel::sql_query(
        "INSERT INTO step_counts (day, unit_id, procedure_id, step, step_name, completed, late, delay_minutes) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (day, unit_id, procedure_id, step, step_name) DO UPDATE SET \
         completed = step_counts.completed + excluded.completed, late = step_counts.late + excluded.late, \
         delay_minutes = step_counts.delay_minutes + excluded.delay_minutes",
    )
    .bind::<Date, _>(local(now).date())
    .bind::<Text, _>(&done.unit_id)
    .bind::<Text, _>(procedure_id)
    .bind::<Integer, _>(done.index as i32 + 1)
    .bind::<Text, _>(&done.name)
    .bind::<Integer, _>(t.completed as i32)
    .bind::<Integer, _>(t.late as i32)
    .bind::<BigInt, _>(t.delay_minutes)
    .execute(conn)?;
    let pace = Pace::of_step(timing);
    let one = |p: Pace| i32::from(pace == p);
    diesel::update(dossier_facts::table.find(dossier_id))
        .set((
            dossier_facts::steps_early.eq(dossier_facts::steps_early + one(Pace::Early)),
            dossier_facts::steps_on_time.eq(dossier_facts::steps_on_time + one(Pace::OnTime)),
            dossier_facts::steps_late.eq(dossier_facts::steps_late + one(Pace::Late)),
        ))
        .execute(conn)?;
    Ok(())
}

/// One line of the step statistics: a group and a step.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StepRow {
    /// The unit id, level, procedure code or month (YYYY-MM); `total` for
    /// the whole subtree.
    pub key: String,
    pub label: String,
    /// The step's position in its process, from 1.
    pub step: i32,
    pub step_name: String,
    #[serde(flatten)]
    pub tally: StepTally,
    /// Late steps over completed ones.
    pub late_rate: Option<f64>,
    /// Working minutes late per late step.
    pub average_delay_minutes: Option<f64>,
}

impl StepRow {
    fn new(key: String, label: String, (step, step_name): (i32, String), tally: StepTally) -> Self {
        Self {
            late_rate: tally.late_rate(),
            average_delay_minutes: tally.average_delay_minutes(),
            key,
            label,
            step,
            step_name,
            tally,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StepStatistics {
    pub unit_id: String,
    pub unit_code: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub group_by: GroupBy,
    /// Each step over the whole subtree, most delay first.
    pub steps: Vec<StepRow>,
    /// Each group and step.
    pub rows: Vec<StepRow>,
}

#[derive(QueryableByName)]
struct Sum {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = Integer)]
    step: i32,
    #[diesel(sql_type = Text)]
    step_name: String,
    #[diesel(sql_type = BigInt)]
    completed: i64,
    #[diesel(sql_type = BigInt)]
    late: i64,
    #[diesel(sql_type = BigInt)]
    delay_minutes: i64,
}

type Step = (i32, String);

/// The tallies of the local dates `[from, to)` over the units `unit_ids`,
/// per `key` column (`unit_id`, `procedure_id` or the day) and step: one
/// aggregate over `step_counts`.
fn sums(
    conn: &mut DbConnection,
    key: &str,
    unit_ids: &[&str],
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<(String, Step, StepTally)>> {
    if unit_ids.is_empty() {
        return Ok(Vec::new());
    }
    let units: Vec<String> = unit_ids.iter().map(|id| text_literal(id)).collect();
    let rows: Vec<Sum> = diesel::sql_query(format!(
        "SELECT {key} AS key, step, step_name, CAST(SUM(completed) AS BIGINT) AS completed, \
         CAST(SUM(late) AS BIGINT) AS late, CAST(SUM(delay_minutes) AS BIGINT) AS delay_minutes \
         FROM step_counts WHERE day >= $1 AND day < $2 AND unit_id IN ({}) GROUP BY {key}, step, step_name",
        units.join(", ")
    ))
    .bind::<Date, _>(from)
    .bind::<Date, _>(to)
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|s| {
            let tally = StepTally { completed: s.completed, late: s.late, delay_minutes: s.delay_minutes };
            (s.key, (s.step, s.step_name), tally)
        })
        .collect())
}

/// Adds `tally` to the group `key` and `step` of `into`.
fn add(into: &mut BTreeMap<(String, Step), StepTally>, key: String, step: Step, tally: StepTally) {
    *into.entry((key, step)).or_default() += tally;
}

/// The step statistics of the subtree of `unit` for the local dates
/// `[from, to)`, grouped like `GET /stats` (by the unit that did the step).
pub fn compute(
    conn: &mut DbConnection,
    unit: &UnitRow,
    from: NaiveDate,
    to: NaiveDate,
    group_by: GroupBy,
) -> QueryResult<StepStatistics> {
    let units = subtree(conn, unit)?;
    let ids: Vec<&str> = units.keys().map(String::as_str).collect();
    // Steps are counted where they were done: by desk, as by unit.
    let key = match group_by {
        GroupBy::Unit | GroupBy::Level | GroupBy::Desk => "unit_id",
        GroupBy::Procedure => "procedure_id",
        GroupBy::Month => "CAST(day AS TEXT)",
    };
    let mut grouped: BTreeMap<(String, Step), StepTally> = BTreeMap::new();
    let mut steps: BTreeMap<Step, StepTally> = BTreeMap::new();
    let names = if group_by == GroupBy::Procedure { catalogue(conn)? } else { BTreeMap::new() };
    let mut labels: BTreeMap<String, String> = BTreeMap::new();
    let periods = months(from, to);
    for (k, step, tally) in sums(conn, key, &ids, from, to)? {
        *steps.entry(step.clone()).or_default() += tally;
        let (key, label) = match group_by {
            GroupBy::Unit | GroupBy::Desk => {
                let label = units.get(&k).map(|u| u.label()).unwrap_or_default();
                (k, label)
            }
            GroupBy::Level => {
                let level = units.get(&k).map_or("", |u| u.level.as_str()).to_string();
                (level.clone(), level)
            }
            GroupBy::Procedure => names.get(&k).map(|p| (p.code.clone(), p.name.clone())).unwrap_or_default(),
            GroupBy::Month => {
                let day: NaiveDate = k.parse().expect("dates read back as YYYY-MM-DD");
                let month = periods.iter().find(|(a, b)| *a <= day && day < *b).map_or(day, |(a, _)| *a);
                let month = month.format("%Y-%m").to_string();
                (month.clone(), month)
            }
        };
        labels.insert(key.clone(), label);
        add(&mut grouped, key, step, tally);
    }
    let mut totals: Vec<StepRow> = steps
        .into_iter()
        .map(|(step, tally)| StepRow::new("total".into(), format!("{} {}", unit.code, unit.name), step, tally))
        .collect();
    totals.sort_by(|a, b| b.tally.delay_minutes.cmp(&a.tally.delay_minutes).then(a.step.cmp(&b.step)));
    let rows = grouped
        .into_iter()
        .map(|((key, step), tally)| {
            let label = labels.get(&key).cloned().unwrap_or_default();
            StepRow::new(key, label, step, tally)
        })
        .collect();
    Ok(StepStatistics {
        unit_id: unit.id.clone(),
        unit_code: unit.code.clone(),
        from,
        to,
        group_by,
        steps: totals,
        rows,
    })
}
