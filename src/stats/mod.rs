//! Statistics: counts per group with four aggregate queries over indexed
//! columns, rolled up in memory to units, levels, procedures and months.
//! The figures themselves are `domain::stats`; the definitions are
//! `docs/statistics.md`.

pub mod exports;
pub mod routes;

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::DbConnection;
use crate::domain::stats::{Counts, Figures};
use crate::domain::units::Level;

/// How rows are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Unit,
    Level,
    Procedure,
    Month,
}

/// Which column the queries group by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    ReceivingUnit,
    Procedure,
}

impl Key {
    fn column(self) -> &'static str {
        match self {
            Key::ReceivingUnit => "d.receiving_unit_id",
            Key::Procedure => "d.procedure_id",
        }
    }
}

/// "On time": the result (or the period's end) no later than the appointment
/// date as set at reception and moved by pauses — an apology's new date does
/// not count — and no second supplement request.
const ON_TIME_FINISHED: &str = "d.result_at <= d.original_due_at AND d.supplement_requests <= 1";
const ON_TIME_OPEN: &str = "d.original_due_at >= $1 AND d.supplement_requests <= 1";
/// The dossiers received by a unit of the subtree whose path pattern is the last parameter.
const IN_SCOPE: &str = "d.receiving_unit_id IN (SELECT id FROM units WHERE path LIKE";

#[derive(QueryableByName)]
struct ReceivedRow {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = BigInt)]
    received: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    received_online: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    received_counter: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    received_postal: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    digitized: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    reused: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    fee_bearing: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    paid_online: Option<i64>,
}

#[derive(QueryableByName)]
struct FinishedRow {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = BigInt)]
    finished: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    on_time: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    processing_days: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    document_results: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    e_results: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    late_apologized: Option<i64>,
}

#[derive(QueryableByName)]
struct OpenRow {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = BigInt)]
    open: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    on_time: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    late_apologized: Option<i64>,
}

#[derive(QueryableByName)]
struct RatingRow {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = BigInt)]
    ratings: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    satisfied: Option<i64>,
}

/// Counts per key (receiving unit or procedure) for `[from, to)` (UTC) over
/// the subtree at `scope`. Four queries, whatever the number of dossiers.
fn counts_by(
    conn: &mut DbConnection,
    key: Key,
    scope: &str,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<BTreeMap<String, Counts>> {
    let k = key.column();
    let pattern = format!("{scope}%");
    let mut out: BTreeMap<String, Counts> = BTreeMap::new();

    let received: Vec<ReceivedRow> = diesel::sql_query(format!(
        "SELECT {k} AS key, COUNT(*) AS received, \
           SUM(CASE WHEN d.channel = 'online' THEN 1 ELSE 0 END) AS received_online, \
           SUM(CASE WHEN d.channel = 'counter' THEN 1 ELSE 0 END) AS received_counter, \
           SUM(CASE WHEN d.channel = 'postal' THEN 1 ELSE 0 END) AS received_postal, \
           SUM(CASE WHEN f.digitized THEN 1 ELSE 0 END) AS digitized, \
           SUM(CASE WHEN f.reused THEN 1 ELSE 0 END) AS reused, \
           SUM(CASE WHEN d.fee_vnd > 0 THEN 1 ELSE 0 END) AS fee_bearing, \
           SUM(CASE WHEN d.fee_vnd > 0 AND d.payment_channel = 'online' THEN 1 ELSE 0 END) AS paid_online \
         FROM dossiers d JOIN dossier_facts f ON f.dossier_id = d.id \
         WHERE d.received_at >= $1 AND d.received_at < $2 AND {IN_SCOPE} $3) GROUP BY {k}"
    ))
    .bind::<Timestamp, _>(from)
    .bind::<Timestamp, _>(to)
    .bind::<Text, _>(&pattern)
    .load(conn)?;
    for r in received {
        let c = out.entry(r.key).or_default();
        c.received = r.received;
        c.received_online = r.received_online.unwrap_or(0);
        c.received_counter = r.received_counter.unwrap_or(0);
        c.received_postal = r.received_postal.unwrap_or(0);
        c.digitized = r.digitized.unwrap_or(0);
        c.reused = r.reused.unwrap_or(0);
        c.fee_bearing = r.fee_bearing.unwrap_or(0);
        c.paid_online = r.paid_online.unwrap_or(0);
    }

    let finished: Vec<FinishedRow> = diesel::sql_query(format!(
        "SELECT {k} AS key, COUNT(*) AS finished, \
           SUM(CASE WHEN {ON_TIME_FINISHED} THEN 1 ELSE 0 END) AS on_time, \
           SUM(COALESCE(f.working_days_taken, 0)) AS processing_days, \
           SUM(CASE WHEN p.result_is_document THEN 1 ELSE 0 END) AS document_results, \
           SUM(CASE WHEN p.result_is_document AND f.e_result THEN 1 ELSE 0 END) AS e_results, \
           SUM(CASE WHEN NOT ({ON_TIME_FINISHED}) AND f.apologized THEN 1 ELSE 0 END) AS late_apologized \
         FROM dossiers d JOIN dossier_facts f ON f.dossier_id = d.id JOIN procedures p ON p.id = d.procedure_id \
         WHERE d.result_at >= $1 AND d.result_at < $2 AND {IN_SCOPE} $3) GROUP BY {k}"
    ))
    .bind::<Timestamp, _>(from)
    .bind::<Timestamp, _>(to)
    .bind::<Text, _>(&pattern)
    .load(conn)?;
    for r in finished {
        let c = out.entry(r.key).or_default();
        c.finished = r.finished;
        c.finished_on_time = r.on_time.unwrap_or(0);
        c.processing_days = r.processing_days.unwrap_or(0);
        c.document_results = r.document_results.unwrap_or(0);
        c.e_results = r.e_results.unwrap_or(0);
        c.late += r.finished - c.finished_on_time;
        c.late_apologized += r.late_apologized.unwrap_or(0);
    }

    // Still being processed when the period ended.
    let open: Vec<OpenRow> = diesel::sql_query(format!(
        "SELECT {k} AS key, COUNT(*) AS open, \
           SUM(CASE WHEN {ON_TIME_OPEN} THEN 1 ELSE 0 END) AS on_time, \
           SUM(CASE WHEN NOT ({ON_TIME_OPEN}) AND f.apologized THEN 1 ELSE 0 END) AS late_apologized \
         FROM dossiers d JOIN dossier_facts f ON f.dossier_id = d.id \
         WHERE d.received_at < $1 AND (d.result_at IS NULL OR d.result_at >= $1) \
           AND (d.finished_at IS NULL OR d.finished_at >= $1) AND {IN_SCOPE} $2) GROUP BY {k}"
    ))
    .bind::<Timestamp, _>(to)
    .bind::<Text, _>(&pattern)
    .load(conn)?;
    for r in open {
        let c = out.entry(r.key).or_default();
        c.in_progress = r.open;
        c.in_progress_on_time = r.on_time.unwrap_or(0);
        c.late += r.open - c.in_progress_on_time;
        c.late_apologized += r.late_apologized.unwrap_or(0);
    }

    let rated: Vec<RatingRow> = diesel::sql_query(format!(
        "SELECT {k} AS key, COUNT(*) AS ratings, SUM(CASE WHEN r.satisfied THEN 1 ELSE 0 END) AS satisfied \
         FROM ratings r JOIN dossiers d ON d.id = r.dossier_id \
         WHERE r.rated_at >= $1 AND r.rated_at < $2 AND {IN_SCOPE} $3) GROUP BY {k}"
    ))
    .bind::<Timestamp, _>(from)
    .bind::<Timestamp, _>(to)
    .bind::<Text, _>(&pattern)
    .load(conn)?;
    for r in rated {
        let c = out.entry(r.key).or_default();
        c.ratings = r.ratings;
        c.ratings_satisfied = r.satisfied.unwrap_or(0);
    }
    Ok(out)
}

/// A unit of the subtree, as statistics label it.
#[derive(Debug, Clone)]
struct UnitInfo {
    code: String,
    name: String,
    level: Level,
}

/// One line of a statistics table.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Row {
    /// The unit id, level, procedure code or month (YYYY-MM).
    pub key: String,
    pub label: String,
    pub counts: Counts,
    pub figures: Figures,
}

impl Row {
    fn new(key: String, label: String, counts: Counts) -> Self {
        Self { figures: Figures::from_counts(&counts), key, label, counts }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Statistics {
    pub unit_id: String,
    pub unit_code: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub group_by: GroupBy,
    /// The whole subtree.
    pub total: Row,
    /// Subtotals by level of the receiving unit (province, district, commune).
    pub levels: Vec<Row>,
    pub rows: Vec<Row>,
}

/// The statistics of the subtree of `unit` (path `scope`) for local dates `[from, to)`.
pub fn compute(
    conn: &mut DbConnection,
    unit: &crate::units::UnitRow,
    from: NaiveDate,
    to: NaiveDate,
    group_by: GroupBy,
) -> QueryResult<Statistics> {
    use crate::db::schema::units;
    let scope = unit.path.as_str();
    let (start, end) = (crate::dossiers::routes::local_midnight(from), crate::dossiers::routes::local_midnight(to));
    let units: BTreeMap<String, UnitInfo> = units::table
        .filter(units::path.like(format!("{scope}%")))
        .select((units::id, units::code, units::name, units::level))
        .load::<(String, String, String, String)>(conn)?
        .into_iter()
        .map(|(id, code, name, level)| (id, UnitInfo { code, name, level: level.parse().expect("valid level") }))
        .collect();
    let by_unit = counts_by(conn, Key::ReceivingUnit, scope, start, end)?;

    let mut total = Counts::default();
    let mut levels: BTreeMap<Level, Counts> = BTreeMap::new();
    for (id, c) in &by_unit {
        total += *c;
        if let Some(u) = units.get(id) {
            *levels.entry(u.level).or_default() += *c;
        }
    }
    let level_rows: Vec<Row> = levels.iter().map(|(l, c)| Row::new(l.as_str().into(), l.as_str().into(), *c)).collect();
    let rows = match group_by {
        GroupBy::Unit => units
            .iter()
            .map(|(id, u)| {
                Row::new(id.clone(), format!("{} {}", u.code, u.name), by_unit.get(id).copied().unwrap_or_default())
            })
            .collect(),
        GroupBy::Level => level_rows.clone(),
        GroupBy::Procedure => {
            use crate::db::schema::procedures;
            let names: BTreeMap<String, (String, String)> = procedures::table
                .select((procedures::id, procedures::code, procedures::name))
                .load::<(String, String, String)>(conn)?
                .into_iter()
                .map(|(id, code, name)| (id, (code, name)))
                .collect();
            counts_by(conn, Key::Procedure, scope, start, end)?
                .into_iter()
                .map(|(id, c)| {
                    let (code, name) = names.get(&id).cloned().unwrap_or_default();
                    Row::new(code, name, c)
                })
                .collect()
        }
        GroupBy::Month => months(from, to)
            .into_iter()
            .map(|(a, b)| {
                let mut c = Counts::default();
                for v in counts_by(
                    conn,
                    Key::ReceivingUnit,
                    scope,
                    crate::dossiers::routes::local_midnight(a),
                    crate::dossiers::routes::local_midnight(b),
                )?
                .into_values()
                {
                    c += v;
                }
                let key = a.format("%Y-%m").to_string();
                Ok(Row::new(key.clone(), key, c))
            })
            .collect::<QueryResult<Vec<_>>>()?,
    };
    Ok(Statistics {
        unit_id: unit.id.clone(),
        unit_code: unit.code.clone(),
        from,
        to,
        group_by,
        total: Row::new(unit.id.clone(), format!("{} {}", unit.code, unit.name), total),
        levels: level_rows,
        rows,
    })
}

/// `[from, to)` cut at month boundaries.
fn months(from: NaiveDate, to: NaiveDate) -> Vec<(NaiveDate, NaiveDate)> {
    let mut out = Vec::new();
    let mut start = from;
    while start < to {
        let next_month = NaiveDate::from_ymd_opt(start.year(), start.month(), 1)
            .and_then(|d| d.checked_add_months(chrono::Months::new(1)))
            .expect("in range");
        let end = next_month.min(to);
        out.push((start, end));
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn months_cut_the_period() {
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
}
