//! Internal processes of procedures, stored: versions that are never
//! changed once written, the version in force for a unit, the default made
//! for a procedure without one, and the version a dossier is pinned to
//! (docs/processes.md; the rules are `src/domain/process.rs`).

pub mod routes;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::DbConnection;
use crate::db::schema::{dossier_processes, procedures, processes};
use crate::domain::calendar::OfficeHours;
use crate::domain::process::{self, Scope, StepSpec};
use crate::domain::units::Level;
use crate::error::ApiError;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = processes)]
pub struct ProcessRow {
    pub id: String,
    pub procedure_id: String,
    pub scope: String,
    pub version: i32,
    pub separation_of_duties: bool,
    pub steps: String,
    pub note: String,
    pub builtin: bool,
    pub created_by: Option<String>,
    pub created_at: NaiveDateTime,
}

impl ProcessRow {
    pub fn steps(&self) -> Vec<StepSpec> {
        serde_json::from_str(&self.steps).expect("steps are written from validated StepSpecs")
    }
}

/// A version of a procedure's internal process.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProcessView {
    pub id: String,
    pub procedure_code: String,
    /// The units of this level follow it (absent: not limited to a level).
    pub level: Option<Level>,
    /// This unit follows it (absent: not limited to a unit).
    pub unit_id: Option<String>,
    /// Numbered from 1 within its procedure and scope.
    pub version: i32,
    /// The signer may not have done an earlier step of the dossier.
    pub separation_of_duties: bool,
    pub note: String,
    pub steps: Vec<StepSpec>,
    /// The working minutes the steps are allotted in all.
    pub allotted_minutes: u32,
    /// Made by the service for a procedure without a process of its own
    /// (today's path: the unit's specialist, then its approver).
    pub builtin: bool,
    /// The latest version of its scope: what dossiers received now follow.
    pub latest: bool,
    pub created_at: DateTime<Utc>,
}

/// `rows` (of the procedure `procedure_code`) as views, newest first.
pub fn views(procedure_code: &str, mut rows: Vec<ProcessRow>) -> Vec<ProcessView> {
    rows.sort_by(|a, b| (&a.scope, b.version).cmp(&(&b.scope, a.version)));
    let latest: Vec<(String, i32)> = rows.iter().fold(Vec::new(), |mut seen, r| {
        if !seen.iter().any(|(scope, _)| *scope == r.scope) {
            seen.push((r.scope.clone(), r.version));
        }
        seen
    });
    let mut views: Vec<ProcessView> = rows
        .into_iter()
        .map(|r| {
            let steps = r.steps();
            let (level, unit_id) = match Scope::decode(&r.scope) {
                Scope::All => (None, None),
                Scope::Level(level) => (Some(level), None),
                Scope::Unit(id) => (None, Some(id)),
            };
            ProcessView {
                latest: latest.contains(&(r.scope.clone(), r.version)),
                id: r.id,
                procedure_code: procedure_code.to_string(),
                level,
                unit_id,
                version: r.version,
                separation_of_duties: r.separation_of_duties,
                note: r.note,
                allotted_minutes: steps.iter().map(|s| s.allotted_minutes).sum(),
                steps,
                builtin: r.builtin,
                created_at: crate::time::utc(r.created_at),
            }
        })
        .collect();
    views.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.version.cmp(&a.version)));
    views
}

/// Writes a new version of the process of `procedure_id` for `scope`: the
/// one after the latest of that scope. Saves at the same moment wait for
/// each other (a lock per procedure and scope) and take the next numbers;
/// the unique `(procedure_id, scope, version)` backs it.
pub fn save(
    conn: &mut DbConnection,
    procedure_id: &str,
    scope: &Scope,
    separation_of_duties: bool,
    steps: &[StepSpec],
    note: &str,
    created_by: Option<&str>,
) -> QueryResult<String> {
    save_as(conn, procedure_id, scope, separation_of_duties, steps, note, created_by, false)
}

#[allow(clippy::too_many_arguments)]
fn save_as(
    conn: &mut DbConnection,
    procedure_id: &str,
    scope: &Scope,
    separation_of_duties: bool,
    steps: &[StepSpec],
    note: &str,
    created_by: Option<&str>,
    builtin: bool,
) -> QueryResult<String> {
    let scope = scope.encode();
    crate::db::backend::lock_text_for_transaction(conn, &format!("process:{procedure_id}:{scope}"))?;
    let latest: Option<i32> = processes::table
        .filter(processes::procedure_id.eq(procedure_id).and(processes::scope.eq(&scope)))
        .select(diesel::dsl::max(processes::version))
        .first(conn)?;
    let id = uuid::Uuid::now_v7().to_string();
    diesel::insert_into(processes::table)
        .values((
            processes::id.eq(&id),
            processes::procedure_id.eq(procedure_id),
            processes::scope.eq(&scope),
            processes::version.eq(latest.unwrap_or(0) + 1),
            processes::separation_of_duties.eq(separation_of_duties),
            processes::steps.eq(serde_json::to_string(steps).expect("steps serialize")),
            processes::note.eq(note),
            processes::builtin.eq(builtin),
            processes::created_by.eq(created_by),
            processes::created_at.eq(crate::time::now()),
        ))
        .execute(conn)?;
    Ok(id)
}

/// The process version in force for procedure `procedure_id` at unit
/// `unit_id` (`domain::process::in_force`). A procedure without one gets
/// the builtin default first: today's path, over its processing time.
pub fn in_force(
    conn: &mut DbConnection,
    procedure_id: &str,
    unit_id: &str,
    office: &OfficeHours,
) -> Result<ProcessRow, ApiError> {
    let level = crate::units::find(conn, unit_id)?.ok_or_else(ApiError::not_found)?.level();
    let find = |conn: &mut DbConnection| -> QueryResult<Option<ProcessRow>> {
        let rows: Vec<ProcessRow> = processes::table
            .filter(processes::procedure_id.eq(procedure_id))
            .select(ProcessRow::as_select())
            .load(conn)?;
        let versions: Vec<(Scope, i32)> = rows.iter().map(|r| (Scope::decode(&r.scope), r.version)).collect();
        Ok(process::in_force(&versions, unit_id, level).map(|i| rows[i].clone()))
    };
    if let Some(row) = find(conn)? {
        return Ok(row);
    }
    // Another request may make the default at the same moment: the first
    // makes it, the others wait and read it.
    crate::db::backend::lock_text_for_transaction(conn, &format!("process-default:{procedure_id}"))?;
    if let Some(row) = find(conn)? {
        return Ok(row);
    }
    let days: i32 = procedures::table.find(procedure_id).select(procedures::processing_days).first(conn)?;
    let steps = process::builtin(days.max(0) as u32, office.minutes_per_day());
    let note = "Quy trình mặc định: chuyên viên thụ lý, lãnh đạo phê duyệt";
    save_as(conn, procedure_id, &Scope::All, true, &steps, note, None, true)?;
    find(conn)?.ok_or_else(|| ApiError::internal("the default process was not stored"))
}

/// Keeps the processes of procedure `procedure_id` within a new processing
/// time of `processing_days`: a default gets a new version over the new
/// time; a process of the province's that no longer fits refuses the change
/// (422 on `processing_days`) until a version that fits is saved.
pub fn fit(
    conn: &mut DbConnection,
    procedure_id: &str,
    processing_days: u32,
    office: &OfficeHours,
) -> Result<(), ApiError> {
    let rows: Vec<ProcessRow> = processes::table
        .filter(processes::procedure_id.eq(procedure_id))
        .order((processes::scope, processes::version.desc()))
        .select(ProcessRow::as_select())
        .load(conn)?;
    let budget = process::budget(processing_days, office.minutes_per_day());
    let mut seen: Vec<&str> = Vec::new();
    for latest in &rows {
        if seen.contains(&latest.scope.as_str()) {
            continue;
        }
        seen.push(&latest.scope);
        let steps = latest.steps();
        if steps.iter().map(|s| u64::from(s.allotted_minutes)).sum::<u64>() <= u64::from(budget) {
            continue;
        }
        if !latest.builtin {
            return Err(ApiError::invalid_field(
                "processing_days",
                format!(
                    "version {} of the procedure's process allots more working time: save one that fits first",
                    latest.version
                ),
            ));
        }
        let steps = process::builtin(processing_days, office.minutes_per_day());
        let scope = Scope::decode(&latest.scope);
        save_as(conn, procedure_id, &scope, true, &steps, &latest.note, None, true)?;
    }
    Ok(())
}

/// Pins dossier `dossier_id` to the process in force at `unit_id`: at
/// reception, and again when it moves to another unit. The caller holds the
/// dossier (its lock, or the transaction that makes it).
pub fn pin(
    conn: &mut DbConnection,
    dossier_id: &str,
    procedure_id: &str,
    unit_id: &str,
    office: &OfficeHours,
) -> Result<(), ApiError> {
    let process = in_force(conn, procedure_id, unit_id, office)?;
    let now = crate::time::now();
    let moved = diesel::update(dossier_processes::table.find(dossier_id))
        .set((dossier_processes::process_id.eq(&process.id), dossier_processes::pinned_at.eq(now)))
        .execute(conn)?;
    if moved == 0 {
        diesel::insert_into(dossier_processes::table)
            .values((
                dossier_processes::dossier_id.eq(dossier_id),
                dossier_processes::process_id.eq(&process.id),
                dossier_processes::pinned_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Whether the process dossier `dossier_id` follows keeps separation of
/// duties and `user_id` did an earlier step of it
/// (`domain::process::EARLIER_STEP_ACTIONS`).
pub fn did_earlier_step(conn: &mut DbConnection, dossier_id: &str, user_id: &str) -> QueryResult<bool> {
    use crate::db::schema::dossier_events;
    let separated = dossier_processes::table
        .find(dossier_id)
        .inner_join(processes::table)
        .select(processes::separation_of_duties)
        .first::<bool>(conn)
        .optional()?
        .unwrap_or(true);
    if !separated {
        return Ok(false);
    }
    diesel::select(diesel::dsl::exists(
        dossier_events::table.filter(
            dossier_events::dossier_id
                .eq(dossier_id)
                .and(dossier_events::actor_id.eq(user_id))
                .and(dossier_events::action.eq_any(process::EARLIER_STEP_ACTIONS.map(|a| a.as_str()))),
        ),
    ))
    .get_result(conn)
}

/// The process dossier `dossier_id` follows, if it was received.
pub fn pinned(conn: &mut DbConnection, dossier_id: &str) -> QueryResult<Option<(ProcessRow, String)>> {
    dossier_processes::table
        .find(dossier_id)
        .inner_join(processes::table.inner_join(procedures::table))
        .select((ProcessRow::as_select(), procedures::code))
        .first(conn)
        .optional()
}
