//! The statistics' daily counts (`domain::daily`) in `daily_counts`, and
//! their sums per month in `monthly_counts`: kept in the same transaction as
//! every change to a dossier, read by the statistics with one aggregate over
//! months and days × units (× procedures), recomputed from the dossiers by
//! `motcua stats rebuild`.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::db::schema::{
    daily_counts, dossier_assessments, dossier_desks, dossier_facts, dossiers, monthly_counts, procedures, ratings,
};
use crate::db::{DbConnection, text_literal};
use crate::domain::daily::{Day, Facts, Part, Table, month_of, parts};

/// Where a dossier's counts go: its receiving (competent) unit, procedure,
/// and the desk that received it (the unit itself, or another unit's desk:
/// `dossier_desks`).
pub type Owner = (String, String, String);
type Key = (NaiveDate, String, String, String);

/// The columns `Facts` is read from.
macro_rules! facts_query {
    () => {
        dossiers::table
            .inner_join(dossier_facts::table)
            .inner_join(procedures::table)
            .left_join(ratings::table)
            .left_join(dossier_desks::table)
            .left_join(dossier_assessments::table)
            .select((
                dossiers::receiving_unit_id,
                dossiers::procedure_id,
                dossier_desks::unit_id.nullable(),
                dossiers::channel,
                dossiers::received_at,
                dossiers::original_due_at,
                dossiers::paused_at,
                dossiers::result_at,
                dossiers::finished_at,
                dossiers::supplement_requests,
                dossiers::fee_vnd,
                dossiers::payment_channel,
                dossier_facts::digitized,
                dossier_facts::reused,
                procedures::result_is_document,
                procedures::certifies_copies,
                dossier_facts::e_result,
                dossier_facts::apologized,
                dossier_facts::working_days_taken,
                ratings::rated_at.nullable(),
                ratings::satisfied.nullable(),
                dossier_assessments::total.nullable(),
            ))
    };
}

/// A dossier's row as `facts_query!` selects it.
#[derive(Queryable)]
struct FactsRow {
    unit_id: String,
    procedure_id: String,
    desk_id: Option<String>,
    channel: String,
    received_at: Option<NaiveDateTime>,
    original_due_at: Option<NaiveDateTime>,
    paused_at: Option<NaiveDateTime>,
    result_at: Option<NaiveDateTime>,
    finished_at: Option<NaiveDateTime>,
    supplement_requests: i32,
    fee_vnd: i64,
    payment_channel: Option<String>,
    digitized: bool,
    reused: bool,
    document_result: bool,
    certifies_copies: bool,
    e_result: bool,
    apologized: bool,
    working_days_taken: Option<i32>,
    rated_at: Option<NaiveDateTime>,
    satisfied: Option<bool>,
    assessment: Option<i32>,
}

fn facts_of(r: FactsRow) -> (Owner, Facts) {
    let facts = Facts {
        channel: r.channel,
        received_at: r.received_at,
        original_due_at: r.original_due_at,
        paused_at: r.paused_at,
        result_at: r.result_at,
        finished_at: r.finished_at,
        supplement_requests: r.supplement_requests,
        fee_bearing: r.fee_vnd > 0,
        paid_online: r.payment_channel.as_deref() == Some("online"),
        digitized: r.digitized,
        reused: r.reused,
        document_result: r.document_result,
        certifies_copies: r.certifies_copies,
        e_result: r.e_result,
        apologized: r.apologized,
        working_days_taken: r.working_days_taken,
        rating: r.rated_at.zip(r.satisfied),
        assessment: r.assessment,
    };
    let desk = r.desk_id.unwrap_or_else(|| r.unit_id.clone());
    ((r.unit_id, r.procedure_id, desk), facts)
}

/// What the statistics count of a dossier now: where its counts go, and its facts.
pub type Counted = (Owner, Facts);

/// The dossier's counted facts as stored now (`None`: no such dossier).
pub fn facts(conn: &mut DbConnection, dossier_id: &str) -> QueryResult<Option<Counted>> {
    Ok(facts_query!().filter(dossiers::id.eq(dossier_id)).first::<FactsRow>(conn).optional()?.map(facts_of))
}

/// Adds `sign` × the dossier's contributions to `into`.
fn contribute(into: &mut BTreeMap<Key, Day>, (owner, facts): &(Owner, Facts), sign: i64) {
    for (day, d) in facts.days() {
        let d = if sign < 0 { -d } else { d };
        *into.entry((day, owner.0.clone(), owner.1.clone(), owner.2.clone())).or_default() += d;
    }
}

/// Moves a dossier's counts from what it was (`before`; `None`: it did not
/// exist) to what it is, in the caller's transaction — the one of the change
/// (`src/dossiers/write.rs`), under the dossier's lock, so that concurrent
/// changes of one dossier move its counts one after the other.
pub fn moved(conn: &mut DbConnection, before: Option<&Counted>, after: Option<&Counted>) -> QueryResult<()> {
    if before == after {
        return Ok(());
    }
    let mut moved = BTreeMap::new();
    if let Some(b) = before {
        contribute(&mut moved, b, -1);
    }
    if let Some(a) = after {
        contribute(&mut moved, a, 1);
    }
    add(conn, &moved)
}

/// Adds the counts to their daily rows and to their months' rows
/// (`monthly_counts`), creating them as needed: one statement per 500 rows,
/// the days first, each table in key order (so that concurrent transactions
/// lock rows in the same order).
fn add(conn: &mut DbConnection, rows: &BTreeMap<Key, Day>) -> QueryResult<()> {
    let mut months: BTreeMap<Key, Day> = BTreeMap::new();
    for ((day, unit, procedure, desk), d) in rows {
        *months.entry((month_of(*day), unit.clone(), procedure.clone(), desk.clone())).or_default() += *d;
    }
    upsert(conn, "daily_counts", "day", rows)?;
    upsert(conn, "monthly_counts", "month", &months)
}

fn upsert(conn: &mut DbConnection, table: &str, period: &str, rows: &BTreeMap<Key, Day>) -> QueryResult<()> {
    let columns: Vec<&str> = Day::FLOWS.iter().chain(Day::STOCKS).copied().collect();
    let rows: Vec<_> = rows.iter().filter(|(_, d)| !d.is_zero()).collect();
    for chunk in rows.chunks(500) {
        let values: Vec<String> = chunk
            .iter()
            .map(|((day, unit, procedure, desk), d)| {
                let counts: Vec<String> = d.values().iter().map(i64::to_string).collect();
                let (unit, procedure, desk) = (text_literal(unit), text_literal(procedure), text_literal(desk));
                format!("('{day}', {unit}, {procedure}, {desk}, {})", counts.join(", "))
            })
            .collect();
        let set: Vec<String> = columns.iter().map(|c| format!("{c} = {table}.{c} + excluded.{c}")).collect();
        diesel::sql_query(format!(
            "INSERT INTO {table} ({period}, unit_id, procedure_id, desk_id, {}) VALUES {} \
             ON CONFLICT ({period}, unit_id, procedure_id, desk_id) DO UPDATE SET {}",
            columns.join(", "),
            values.join(", "),
            set.join(", ")
        ))
        .execute(conn)?;
    }
    Ok(())
}

/// What `rebuild` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rebuilt {
    /// Rows written.
    pub rows: usize,
    /// Rows whose kept counts differed from the recomputed ones (0 unless
    /// the database was edited around the service).
    pub differing: usize,
}

#[derive(QueryableByName)]
struct KeptRow {
    #[diesel(sql_type = Text)]
    day: String,
    #[diesel(sql_type = Text)]
    procedure_id: String,
    #[diesel(sql_type = Text)]
    desk_id: String,
    #[diesel(embed)]
    counts: Day,
}

/// Recomputes every count from the dossiers, one receiving unit at a time
/// (memory stays bounded by the largest unit), and compares them with the
/// counts kept so far.
pub fn rebuild(conn: &mut DbConnection) -> QueryResult<Rebuilt> {
    use crate::db::schema::units;
    let read = Day::FLOWS.iter().chain(Day::STOCKS).map(|c| format!("CAST({c} AS BIGINT) AS {c}"));
    let kept_query = format!(
        "SELECT CAST(day AS TEXT) AS day, procedure_id, desk_id, {} FROM daily_counts WHERE unit_id = $1",
        read.collect::<Vec<_>>().join(", ")
    );
    let done = crate::db::backend::write_transaction(conn, |conn| -> QueryResult<Rebuilt> {
        let mut done = Rebuilt { rows: 0, differing: 0 };
        for unit in units::table.select(units::id).order(units::id).load::<String>(conn)? {
            let mut rows = BTreeMap::new();
            for r in facts_query!().filter(dossiers::receiving_unit_id.eq(&unit)).load::<FactsRow>(conn)? {
                contribute(&mut rows, &facts_of(r), 1);
            }
            rows.retain(|_, d: &mut Day| !d.is_zero());
            let kept: BTreeMap<Key, Day> = diesel::sql_query(&kept_query)
                .bind::<Text, _>(&unit)
                .load::<KeptRow>(conn)?
                .into_iter()
                .filter(|r| !r.counts.is_zero())
                .map(|r| {
                    let day = r.day.parse().expect("dates read back as YYYY-MM-DD");
                    ((day, unit.clone(), r.procedure_id, r.desk_id), r.counts)
                })
                .collect();
            done.differing += rows.iter().filter(|(k, d)| kept.get(*k) != Some(*d)).count()
                + kept.keys().filter(|k| !rows.contains_key(*k)).count();
            done.rows += rows.len();
            diesel::delete(daily_counts::table.filter(daily_counts::unit_id.eq(&unit))).execute(conn)?;
            diesel::delete(monthly_counts::table.filter(monthly_counts::unit_id.eq(&unit))).execute(conn)?;
            add(conn, &rows)?;
        }
        Ok(done)
    })?;
    crate::db::backend::analyze(conn, Some("daily_counts"))?;
    crate::db::backend::analyze(conn, Some("monthly_counts"))?;
    Ok(done)
}

/// What the sums are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    Unit,
    /// The receiving unit and the procedure, keyed `{unit id}/{procedure id}`.
    UnitAndProcedure,
    /// The local month, keyed `YYYY-MM`.
    Month,
    /// The desk that received the dossiers.
    Desk,
}

#[derive(QueryableByName)]
struct Sum {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(embed)]
    day: Day,
}

/// For each group of the units `unit_ids`: the flows of the local dates
/// `[from, to)` and the stock changes of every day before `to`, so that
/// `Day::counts` gives the period's counts. Grouped by month, each month
/// has its own flows and stock changes (`domain::daily::Months` makes them
/// cumulative). One aggregate over the parts of the period
/// (`domain::daily::parts`): monthly roll-ups for whole months and every
/// month before, daily rows for the rest, each part a range of its table's
/// key — at most one row per month and group plus the days of two partial
/// months, whatever the number of dossiers. The ids and dates are written
/// into the statement (dates print as `YYYY-MM-DD`, ids are quoted):
/// PostgreSQL then knows how many rows they select and aggregates in
/// parallel.
pub fn sums(
    conn: &mut DbConnection,
    grouping: Grouping,
    unit_ids: &[&str],
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<(String, Day)>> {
    if unit_ids.is_empty() {
        return Ok(Vec::new());
    }
    let units: Vec<String> = unit_ids.iter().map(|id| text_literal(id)).collect();
    let units = units.join(", ");
    let select = |part: &Part| {
        let (table, date) = match part.table {
            Table::Months => ("monthly_counts", "month"),
            Table::Days => ("daily_counts", "day"),
        };
        let key = match grouping {
            Grouping::Unit => "unit_id".to_string(),
            Grouping::UnitAndProcedure => "unit_id || '/' || procedure_id".to_string(),
            Grouping::Month => format!("SUBSTR(CAST({date} AS TEXT), 1, 7)"),
            Grouping::Desk => "desk_id".to_string(),
        };
        let read = |columns: &[&str], wanted: bool| -> Vec<String> {
            columns.iter().map(|c| if wanted { c.to_string() } else { format!("0 AS {c}") }).collect()
        };
        let mut columns = read(Day::FLOWS, part.flows);
        columns.extend(read(Day::STOCKS, part.stocks));
        let lower = part.from.map(|f| format!("{date} >= '{f}' AND ")).unwrap_or_default();
        format!(
            "SELECT {key} AS key, {} FROM {table} WHERE {lower}{date} < '{}' AND unit_id IN ({units})",
            columns.join(", "),
            part.to
        )
    };
    let totals: Vec<String> = Day::FLOWS.iter().chain(Day::STOCKS).map(|c| format!("SUM({c}) AS {c}")).collect();
    let parts: Vec<String> = parts(from, to).iter().map(select).collect();
    let rows: Vec<Sum> = diesel::sql_query(format!(
        "SELECT key, {} FROM ({}) AS parts GROUP BY key",
        totals.join(", "),
        parts.join(" UNION ALL ")
    ))
    .load(conn)?;
    Ok(rows.into_iter().map(|s| (s.key, s.day)).collect())
}
