//! Statistics: counts per group from the daily counts (`daily`), rolled up
//! in memory to units, levels, procedures and months. The figures themselves
//! are `domain::stats`; the definitions are `docs/statistics.md`.

pub mod daily;
pub mod exports;
pub mod routes;
pub mod steps;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use self::daily::Grouping;
use crate::db::DbConnection;
use crate::domain::daily::{Months, months};
use crate::domain::stats::{Counts, Figure, Figures};
use crate::domain::units::Level;

/// How rows are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Unit,
    Level,
    Procedure,
    Month,
    /// The one-stop desk that received the dossiers (docs/processes.md,
    /// reception at any desk of the province).
    Desk,
}

/// A unit of the subtree, as statistics label it.
#[derive(Debug, Clone)]
struct UnitInfo {
    code: String,
    name: String,
    level: Level,
}

impl UnitInfo {
    fn label(&self) -> String {
        format!("{} {}", self.code, self.name)
    }
}

/// The units of the subtree of `unit`, by id.
fn subtree(conn: &mut DbConnection, unit: &crate::units::UnitRow) -> QueryResult<BTreeMap<String, UnitInfo>> {
    use crate::db::schema::units;
    Ok(units::table
        .filter(units::path.like(format!("{}%", unit.path)))
        .select((units::id, units::code, units::name, units::level))
        .load::<(String, String, String, String)>(conn)?
        .into_iter()
        .map(|(id, code, name, level)| (id, UnitInfo { code, name, level: level.parse().expect("valid level") }))
        .collect())
}

/// A procedure of the catalogue as the statistics read it.
struct Offered {
    code: String,
    name: String,
    levels: String,
    national_code: Option<String>,
    fee_vnd: i64,
    active: bool,
}

/// The whole catalogue by procedure id, in one query.
fn catalogue(conn: &mut DbConnection) -> QueryResult<BTreeMap<String, Offered>> {
    use crate::db::schema::procedures;
    type Read = (String, String, String, String, Option<String>, i64, bool);
    Ok(procedures::table
        .select((
            procedures::id,
            procedures::code,
            procedures::name,
            procedures::levels,
            procedures::national_code,
            procedures::fee_vnd,
            procedures::active,
        ))
        .load::<Read>(conn)?
        .into_iter()
        .map(|(id, code, name, levels, national_code, fee_vnd, active)| {
            (id, Offered { code, name, levels, national_code, fee_vnd, active })
        })
        .collect())
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
    /// The national portal's sync figure over the subtree (docs/portal.md);
    /// absent when dossiers are not mirrored there.
    pub portal: Option<crate::portal::sync::SyncFigures>,
    /// Complaints and petitions answered by the units of the subtree
    /// (docs/complaints.md).
    pub complaints: crate::complaints::ComplaintFigures,
    /// The catalogue's procedures at the levels of the subtree's units.
    pub procedures: ProcedureFigures,
}

/// The catalogue's active procedures performed at the levels of a
/// subtree's units (docs/statistics.md).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ProcedureFigures {
    /// Those carrying their code in the national procedure database, of all.
    pub published: Figure,
    /// Those that received at least one dossier online in the subtree in
    /// the period, of all (every catalogue procedure is an online public
    /// service, fully or in part).
    pub with_online_dossiers: Figure,
    /// Fee-bearing ones payable online (a payment provider is configured),
    /// of the fee-bearing ones.
    pub payable_online: Figure,
}

impl Statistics {
    /// A rate of the subtree as a whole, by its name in the scorecard
    /// (`domain::scorecard::SUBTREE_RATES`); the portal's is unmeasured
    /// when dossiers are not mirrored there.
    pub fn subtree_rate(&self, name: &str) -> Option<Figure> {
        Some(match name {
            "procedures_published_rate" => self.procedures.published.clone(),
            "procedures_with_online_dossiers_rate" => self.procedures.with_online_dossiers.clone(),
            "procedures_payable_online_rate" => self.procedures.payable_online.clone(),
            "complaints_on_time_rate" => self.complaints.on_time.clone(),
            "portal_synced_rate" => self.portal.map_or(Figure::ratio(0, 0), |p| Figure::ratio(p.synced, p.dossiers)),
            _ => return None,
        })
    }
}

/// The procedure figures of the subtree `units`: the active procedures of
/// the catalogue at their levels, and those it received online dossiers
/// for (`by_procedure`, the period's counts per procedure id).
fn procedure_figures(
    catalogue: &BTreeMap<String, Offered>,
    units: &BTreeMap<String, UnitInfo>,
    by_procedure: &BTreeMap<String, Counts>,
    payable_online: bool,
) -> ProcedureFigures {
    let levels: Vec<&str> = units.values().map(|u| u.level.as_str()).collect();
    let offered: Vec<(&String, &Offered)> =
        catalogue.iter().filter(|(_, p)| p.active && p.levels.split(',').any(|l| levels.contains(&l))).collect();
    let count = |f: &dyn Fn(&String, &Offered) -> bool| offered.iter().filter(|(id, p)| f(id, p)).count() as i64;
    let all = offered.len() as i64;
    let fee_bearing = count(&|_, p| p.fee_vnd > 0);
    let online = |id: &String| by_procedure.get(id).is_some_and(|c| c.received_online > 0);
    ProcedureFigures {
        published: Figure::ratio(count(&|_, p| p.national_code.is_some()), all),
        with_online_dossiers: Figure::ratio(count(&|id, _| online(id)), all),
        payable_online: Figure::ratio(if payable_online { fee_bearing } else { 0 }, fee_bearing),
    }
}

/// The statistics of the subtree of `unit` (path `scope`) for local dates
/// `[from, to)`; with the portal's sync figure when dossiers are mirrored,
/// a record waiting longer than `overdue_after` being overdue; fee-bearing
/// procedures payable online when `payable_online` (a provider is configured).
pub fn compute(
    conn: &mut DbConnection,
    unit: &crate::units::UnitRow,
    from: NaiveDate,
    to: NaiveDate,
    group_by: GroupBy,
    overdue_after: Option<chrono::Duration>,
    payable_online: bool,
) -> QueryResult<Statistics> {
    let units = subtree(conn, unit)?;
    let ids: Vec<&str> = units.keys().map(String::as_str).collect();
    // One aggregate by unit and procedure, summed both ways.
    let mut by_unit: BTreeMap<String, Counts> = BTreeMap::new();
    let mut by_procedure: BTreeMap<String, Counts> = BTreeMap::new();
    for (key, d) in daily::sums(conn, Grouping::UnitAndProcedure, &ids, from, to)? {
        let (unit_id, procedure_id) = key.split_once('/').unwrap_or((key.as_str(), ""));
        let c = d.counts();
        *by_unit.entry(unit_id.to_string()).or_default() += c;
        *by_procedure.entry(procedure_id.to_string()).or_default() += c;
    }
    let catalogue = catalogue(conn)?;

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
            .map(|(id, u)| Row::new(id.clone(), u.label(), by_unit.get(id).copied().unwrap_or_default()))
            .collect(),
        GroupBy::Level => level_rows.clone(),
        GroupBy::Procedure => by_procedure
            .iter()
            .map(|(id, c)| match catalogue.get(id) {
                Some(p) => Row::new(p.code.clone(), p.name.clone(), *c),
                None => Row::new(String::new(), String::new(), *c),
            })
            .collect(),
        GroupBy::Desk => {
            let by_desk: BTreeMap<String, Counts> =
                daily::sums(conn, Grouping::Desk, &ids, from, to)?.into_iter().map(|(k, d)| (k, d.counts())).collect();
            let desk_ids: Vec<&str> = by_desk.keys().map(String::as_str).collect();
            let labels: BTreeMap<String, String> = {
                use crate::db::schema::units;
                units::table
                    .filter(units::id.eq_any(desk_ids))
                    .select((units::id, units::code, units::name))
                    .load::<(String, String, String)>(conn)?
                    .into_iter()
                    .map(|(id, code, name)| (id, format!("{code} {name}")))
                    .collect()
            };
            by_desk
                .into_iter()
                .map(|(id, c)| Row::new(id.clone(), labels.get(&id).cloned().unwrap_or_default(), c))
                .collect()
        }
        GroupBy::Month => {
            let mut sums = Vec::new();
            for (month, d) in daily::sums(conn, Grouping::Month, &ids, from, to)? {
                let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
                    .map_err(|e| diesel::result::Error::DeserializationError(format!("month {month:?}: {e}").into()))?;
                sums.push((first, d));
            }
            let by_month = Months::new(sums);
            months(from, to)
                .into_iter()
                .map(|(a, _)| {
                    let key = a.format("%Y-%m").to_string();
                    Row::new(key.clone(), key, by_month.of(a).counts())
                })
                .collect()
        }
    };
    let portal = match overdue_after {
        Some(allowed) => Some(crate::portal::sync::figures(conn, &ids, from, to, crate::time::now() - allowed)?),
        None => None,
    };
    let complaints = crate::complaints::figures(conn, &ids, from, to)?;
    let procedures = procedure_figures(&catalogue, &units, &by_procedure, payable_online);
    Ok(Statistics {
        procedures,
        portal,
        complaints,
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
