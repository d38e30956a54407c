//! Internal processes of procedures, stored: versions that are never
//! changed once written, the version in force for a unit, the default made
//! for a procedure without one, and the version a dossier is pinned to
//! (docs/processes.md; the rules are `src/domain/process.rs`).

pub mod routes;

use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::DbConnection;
use crate::db::schema::{dossier_processes, procedures, processes};
use crate::domain::calendar::OfficeHours;
use crate::domain::process::{self, Position, Route, Scope, StepSpec};
use crate::domain::units::Level;
use crate::domain::workflow::Status;
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

/// The route of the process in force for `procedure_id` at `unit_id`: what
/// a dossier received there now follows.
pub fn route(
    conn: &mut DbConnection,
    procedure_id: &str,
    unit_id: &str,
    office: &OfficeHours,
) -> Result<Route, ApiError> {
    let row = in_force(conn, procedure_id, unit_id, office)?;
    Ok(Route { steps: row.steps().into(), version: row.version, process_id: row.id })
}

/// Where dossier `dossier_id` is in its process, as stored.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = dossier_processes)]
struct PositionRow {
    process_id: String,
    pinned_at: NaiveDateTime,
    unit_id: Option<String>,
    step: Option<i32>,
    step_started_at: Option<NaiveDateTime>,
    step_due_at: Option<NaiveDateTime>,
    handed_by: Option<String>,
}

/// Where dossier `dossier_id` is in the process it follows; `None` before
/// it is received (and for a pin not yet settled, see [`settle`]).
pub fn position(conn: &mut DbConnection, dossier_id: &str) -> QueryResult<Option<Position>> {
    let found: Option<(PositionRow, i32, String)> = dossier_processes::table
        .find(dossier_id)
        .inner_join(processes::table)
        .select((PositionRow::as_select(), processes::version, processes::steps))
        .first(conn)
        .optional()?;
    Ok(found.and_then(|(row, version, steps)| {
        let steps: Arc<[StepSpec]> = serde_json::from_str::<Vec<StepSpec>>(&steps).ok()?.into();
        let index = usize::try_from(row.step?).ok().filter(|i| *i < steps.len())?;
        Some(Position {
            route: Route { process_id: row.process_id, version, steps },
            home_unit_id: row.unit_id?,
            pinned_at: row.pinned_at,
            index,
            started_at: row.step_started_at?,
            due_at: row.step_due_at?,
            handed_by: row.handed_by,
        })
    }))
}

/// Stores where dossier `dossier_id` is now, when it moved. The caller
/// holds the dossier (its lock, or the transaction that makes it).
pub fn store_position(
    conn: &mut DbConnection,
    dossier_id: &str,
    before: Option<&Position>,
    after: Option<&Position>,
) -> QueryResult<()> {
    let Some(p) = after.filter(|after| before != Some(*after)) else { return Ok(()) };
    let values = (
        dossier_processes::process_id.eq(&p.route.process_id),
        dossier_processes::pinned_at.eq(p.pinned_at),
        dossier_processes::unit_id.eq(&p.home_unit_id),
        dossier_processes::step.eq(p.index as i32),
        dossier_processes::step_role.eq(p.step().role.as_str()),
        dossier_processes::step_started_at.eq(p.started_at),
        dossier_processes::step_due_at.eq(p.due_at),
        dossier_processes::handed_by.eq(&p.handed_by),
        dossier_processes::step_alerted_at.eq(None::<NaiveDateTime>),
    );
    let moved = diesel::update(dossier_processes::table.find(dossier_id)).set(values).execute(conn)?;
    if moved == 0 {
        diesel::insert_into(dossier_processes::table)
            .values((dossier_processes::dossier_id.eq(dossier_id), values))
            .execute(conn)?;
    }
    Ok(())
}

/// Whether the process dossier `dossier_id` follows keeps separation of
/// duties and `user_id` did an earlier step of it
/// (`domain::process::EARLIER_STEP_ACTIONS`, not taken at the signing
/// step itself: an approver who claims a dossier to sign still signs it).
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
                .and(dossier_events::action.eq_any(process::EARLIER_STEP_ACTIONS.map(|a| a.as_str())))
                .and(
                    dossier_events::from_status
                        .is_null()
                        .or(dossier_events::from_status.ne(Status::PendingApproval.as_str())),
                ),
        ),
    ))
    .get_result(conn)
}

/// The process dossier `dossier_id` follows, if it was received.
pub fn pinned(conn: &mut DbConnection, dossier_id: &str) -> QueryResult<Option<ProcessRow>> {
    dossier_processes::table
        .find(dossier_id)
        .inner_join(processes::table)
        .select(ProcessRow::as_select())
        .first(conn)
        .optional()
}

/// A dossier in processing without a position yet, and its pin if any.
#[derive(Queryable)]
struct Unsettled {
    id: String,
    procedure_id: String,
    unit_id: String,
    received_at: Option<NaiveDateTime>,
    submitted_at: NaiveDateTime,
    pinned: Option<String>,
}

/// Gives every dossier in processing a position: those received before
/// processes existed are pinned to the process in force at their unit, and
/// pins made before steps were kept get their step
/// (`domain::process::Position::settled`). Run when the service starts;
/// instances starting together take turns, and the second finds nothing.
pub fn settle(conn: &mut DbConnection, office: &OfficeHours) -> Result<usize, ApiError> {
    use crate::db::schema::dossiers;
    crate::db::backend::lock_text_for_transaction(conn, "settle-positions")?;
    let open =
        [Status::Received, Status::InProgress, Status::AwaitingApplicant, Status::PendingApproval, Status::ResultReady]
            .map(Status::as_str);
    let unsettled: Vec<Unsettled> = dossiers::table
        .left_join(dossier_processes::table)
        .filter(dossiers::status.eq_any(open))
        .filter(dossier_processes::step.is_null())
        .select((
            dossiers::id,
            dossiers::procedure_id,
            dossiers::unit_id,
            dossiers::received_at,
            dossiers::submitted_at,
            dossier_processes::process_id.nullable(),
        ))
        .load(conn)?;
    let mut settled = 0;
    for d in &unsettled {
        // Under the dossier's lock, as any change: its status is read again.
        let (status, assignee): (String, Option<String>) = crate::first_locked!(
            &mut *conn,
            dossiers::table.find(&d.id).select((dossiers::status, dossiers::assignee_id))
        )?
        .ok_or(diesel::result::Error::NotFound)?;
        if !open.contains(&status.as_str()) {
            continue;
        }
        let route = match &d.pinned {
            Some(process_id) => {
                let row: ProcessRow = processes::table.find(process_id).select(ProcessRow::as_select()).first(conn)?;
                Route { steps: row.steps().into(), version: row.version, process_id: row.id }
            }
            None => route(conn, &d.procedure_id, &d.unit_id, office)?,
        };
        let status = Status::parse(&status).expect("statuses are written by the state machine");
        let since = d.received_at.unwrap_or(d.submitted_at);
        let calendar = crate::dossiers::calendar_from(conn, since)?;
        let mut position = Position::settled(route, &d.unit_id, status, since, &calendar, office);
        if status == Status::PendingApproval && assignee.is_some() {
            // Before steps, the specialist stayed assigned while the dossier
            // waited for approval: the signing step now waits in the
            // approvers' queue, and a return for rework goes back to them.
            position.handed_by = assignee;
            diesel::update(dossiers::table.find(&d.id))
                .set((dossiers::assignee_id.eq(None::<String>), dossiers::version.eq(dossiers::version + 1)))
                .execute(conn)?;
        }
        store_position(conn, &d.id, None, Some(&position))?;
        settled += 1;
    }
    if settled > 0 {
        tracing::info!(dossiers = settled, "dossiers in processing placed at a step of their process");
    }
    Ok(settled)
}
