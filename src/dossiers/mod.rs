//! Dossiers (hồ sơ): filing, the state machine's actions, events, documents.
//! The rules live in `domain::workflow` and `domain::calendar`; this module
//! stores and shows.

pub mod actions;
pub mod files;
pub mod filing;
pub mod routes;
pub mod slip;
pub mod write;

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::db::DbConnection;
use crate::db::schema::{
    dossier_components, dossier_events, dossier_files, dossier_units, dossiers, procedures, units, users,
};
use crate::domain::calendar::{Calendar, from_local, to_local};
use crate::domain::dossier as domain;
pub use crate::domain::dossier::Digitization;
use crate::domain::process::{Here, Position, StepKind, StepState};
use crate::domain::roles::Role;
use crate::domain::workflow::{Action, Actor, Situation, Status, allowed_actions};
use crate::error::ApiError;
use crate::time::utc;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = dossiers)]
pub struct DossierRow {
    pub id: String,
    pub code: String,
    pub procedure_id: String,
    pub unit_id: String,
    pub receiving_unit_id: String,
    pub applicant_user_id: Option<String>,
    pub applicant_kind: String,
    pub applicant_name: String,
    pub applicant_national_id: Option<String>,
    pub applicant_email: Option<String>,
    pub applicant_phone: Option<String>,
    pub applicant_address: Option<String>,
    pub form_data: String,
    pub channel: String,
    pub status: String,
    pub assignee_id: Option<String>,
    pub submitted_at: NaiveDateTime,
    pub received_at: Option<NaiveDateTime>,
    pub due_at: Option<NaiveDateTime>,
    pub original_due_at: Option<NaiveDateTime>,
    pub paused_at: Option<NaiveDateTime>,
    pub result_at: Option<NaiveDateTime>,
    pub finished_at: Option<NaiveDateTime>,
    pub supplement_requests: i32,
    pub fee_vnd: i64,
    pub version: i32,
    pub queue_at: NaiveDateTime,
    pub search_text: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub paid_at: Option<NaiveDateTime>,
    pub payment_channel: Option<String>,
}

impl DossierRow {
    pub fn status(&self) -> Status {
        Status::parse(&self.status).expect("statuses are written by the state machine")
    }

    /// Late (`domain::dossier::overdue`).
    pub fn overdue(&self, now: NaiveDateTime) -> bool {
        domain::overdue(self.status(), self.due_at, self.paused_at, now)
    }

    /// As the state machine sees it, at `step` of its process.
    pub fn situation(&self, now: NaiveDateTime, step: Option<Here>) -> Situation {
        Situation {
            status: self.status(),
            assigned: self.assignee_id.is_some(),
            overdue: self.overdue(now),
            fee_due: self.fee_due(),
            step,
        }
    }

    pub fn fee_due(&self) -> bool {
        domain::fee_due(self.fee_vnd, self.paid_at)
    }

    pub fn national_status(&self) -> u8 {
        domain::national_status(self.status(), self.fee_due())
    }

    /// What the rules see of the dossier, with its `facts` and where it is
    /// in its process.
    pub fn dossier(&self, facts: Option<&KeptFacts>, position: Option<Position>) -> domain::Dossier {
        domain::Dossier {
            status: self.status(),
            unit_id: self.unit_id.clone(),
            assignee_id: self.assignee_id.clone(),
            submitted_at: self.submitted_at,
            received_at: self.received_at,
            due_at: self.due_at,
            original_due_at: self.original_due_at,
            paused_at: self.paused_at,
            result_at: self.result_at,
            finished_at: self.finished_at,
            supplement_requests: self.supplement_requests,
            fee_vnd: self.fee_vnd,
            paid_at: self.paid_at,
            payment_channel: self.payment_channel.as_deref().and_then(domain::PaymentChannel::parse),
            apologized: facts.is_some_and(|f| f.apologized),
            e_result: facts.is_some_and(|f| f.e_result),
            working_days_taken: facts.and_then(|f| f.working_days_taken),
            position,
        }
    }
}

/// The facts of `dossier_facts` that the rules decide (the others — digitized,
/// reused — follow from the components).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = crate::db::schema::dossier_facts)]
pub struct KeptFacts {
    pub apologized: bool,
    pub e_result: bool,
    pub working_days_taken: Option<i32>,
}

impl From<&crate::domain::daily::Facts> for KeptFacts {
    fn from(f: &crate::domain::daily::Facts) -> Self {
        Self { apologized: f.apologized, e_result: f.e_result, working_days_taken: f.working_days_taken }
    }
}

/// How the caller relates to a dossier they may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The dossier's applicant.
    Applicant,
    /// Staff whose scope holds the dossier's current unit: may act.
    Acting,
    /// Staff of a unit that held the dossier before a transfer: may read.
    Former,
}

/// Who the caller is for the state machine. For an approver acting on the
/// dossier, whether separation of duties keeps them from signing it
/// (`processes::did_earlier_step`: one query).
pub fn actor<'a>(
    conn: &mut DbConnection,
    principal: &'a Principal,
    access: Access,
    row: &DossierRow,
) -> QueryResult<Actor<'a>> {
    let staff = access == Access::Acting;
    let signer = staff && principal.has(Role::Approver);
    Ok(Actor {
        roles: if staff { &principal.roles } else { &[] },
        is_applicant: access == Access::Applicant,
        is_assignee: staff && row.assignee_id.as_deref() == Some(principal.user_id.as_str()),
        did_earlier_step: signer && crate::processes::did_earlier_step(conn, &row.id, &principal.user_id)?,
    })
}

/// The dossier `id` if the caller may see it, with how; 404 otherwise.
pub fn load_visible(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &str,
) -> Result<(DossierRow, Access), ApiError> {
    let row: DossierRow = dossiers::table
        .find(id)
        .select(DossierRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(ApiError::not_found)?;
    let access = access_to(conn, principal, &row)?;
    Ok((row, access))
}

/// How the caller relates to the dossier `row`; 404 if they may not see it.
pub fn access_to(conn: &mut DbConnection, principal: &Principal, row: &DossierRow) -> Result<Access, ApiError> {
    if row.applicant_user_id.as_deref() == Some(principal.user_id.as_str()) && principal.has(Role::Citizen) {
        return Ok(Access::Applicant);
    }
    let Some(scope) = principal.scope().filter(|_| principal.unit_id.is_some()) else {
        return Err(ApiError::not_found());
    };
    let current: String = units::table.find(&row.unit_id).select(units::path).first(conn)?;
    if current.starts_with(scope) {
        return Ok(Access::Acting);
    }
    let held: bool = diesel::select(diesel::dsl::exists(
        dossier_units::table
            .inner_join(units::table)
            .filter(dossier_units::dossier_id.eq(&row.id).and(units::path.like(format!("{scope}%")))),
    ))
    .get_result(conn)?;
    if held { Ok(Access::Former) } else { Err(ApiError::not_found()) }
}

/// The working-day calendar for `[from, from + 2 years)`, long enough for any
/// processing time.
pub fn calendar_from(conn: &mut DbConnection, from: NaiveDateTime) -> QueryResult<Calendar> {
    let start = to_local(utc(from)).date();
    let end = start.checked_add_months(chrono::Months::new(24)).unwrap_or(start);
    let days = crate::holidays::in_range(conn, start, end)?;
    let (working, holidays): (Vec<_>, Vec<_>) =
        days.into_iter().partition(|h| h.kind == crate::holidays::DayKind::WorkingDay);
    Ok(Calendar::new(holidays.into_iter().map(|h| h.date), working.into_iter().map(|h| h.date)))
}

/// A local date-time from the calendar as the stored UTC timestamp.
pub fn stored(local: NaiveDateTime) -> NaiveDateTime {
    from_local(local).naive_utc()
}

/// A stored UTC timestamp as local time.
pub fn local(t: NaiveDateTime) -> NaiveDateTime {
    to_local(utc(t))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FileView {
    pub id: String,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub uploaded_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ComponentView {
    pub id: String,
    pub position: i32,
    pub name: String,
    pub mandatory: bool,
    pub e_copy_accepted: bool,
    pub digitization: Digitization,
    pub files: Vec<FileView>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema, Clone, PartialEq, Eq)]
pub struct Applicant {
    #[schema(value_type = crate::dossiers::filing::ApplicantKind)]
    pub kind: String,
    pub name: String,
    pub national_id: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnitRef {
    pub id: String,
    pub code: String,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProcedureRef {
    pub code: String,
    pub name: String,
}

/// A dossier as its applicant and the staff in scope see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DossierView {
    pub id: String,
    pub code: String,
    pub procedure: ProcedureRef,
    /// The unit holding the dossier now.
    pub unit: UnitRef,
    /// The one-stop desk of another unit that received it for this one
    /// (Decree 118/2025/NĐ-CP; docs/processes.md); absent when the competent
    /// unit received it.
    pub receiving_desk: Option<UnitRef>,
    #[schema(value_type = crate::domain::dossier::Channel)]
    pub channel: String,
    pub status: Status,
    /// Status code of the national public-service portal (1–10; 6 while a fee is due).
    pub national_status: u8,
    pub applicant: Applicant,
    #[schema(value_type = Object)]
    pub form: serde_json::Value,
    pub assignee_id: Option<String>,
    pub submitted_at: DateTime<Utc>,
    pub received_at: Option<DateTime<Utc>>,
    /// Appointment date (ngày hẹn trả).
    pub due_at: Option<DateTime<Utc>>,
    /// The appointment date before any apology (pauses included).
    pub original_due_at: Option<DateTime<Utc>>,
    pub overdue: bool,
    pub result_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub supplement_requests: i32,
    /// A second supplement request counts against on-time processing.
    pub repeated_supplement_request: bool,
    pub fee_vnd: i64,
    /// When the fee was settled (absent: unpaid, or no fee).
    pub paid_at: Option<DateTime<Utc>>,
    #[schema(value_type = Option<crate::domain::dossier::PaymentChannel>)]
    pub payment_channel: Option<String>,
    /// Every mandatory component has an electronic form.
    pub digitized: bool,
    pub components: Vec<ComponentView>,
    /// What the caller may do now.
    pub allowed_actions: Vec<Action>,
    /// The internal process it follows, pinned when it was received
    /// (`GET /processes/{id}`), with how far it got with each step; absent
    /// before.
    pub process: Option<ProcessProgress>,
    /// The step it is at, its holder and deadline; absent when no step is
    /// current (before reception, once signed without a return step, once
    /// finished).
    pub current_step: Option<CurrentStep>,
    /// Sent as `ETag`; give it back as `If-Match` with actions.
    pub version: i32,
}

/// A version of an internal process.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProcessRef {
    pub id: String,
    pub version: i32,
}

/// The process a dossier follows, and how far it got with each step.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProcessProgress {
    pub id: String,
    pub version: i32,
    pub steps: Vec<StepProgress>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StepProgress {
    /// From 1.
    pub number: usize,
    pub name: String,
    pub role: Role,
    pub kind: StepKind,
    /// The unit that does it.
    pub unit_id: String,
    pub allotted_minutes: u32,
    pub state: StepState,
}

/// The step a dossier is at.
#[derive(Debug, Serialize, ToSchema)]
pub struct CurrentStep {
    /// From 1.
    pub number: usize,
    pub name: String,
    /// Who does it: its holder, or whoever claims it from the step's queue.
    pub role: Role,
    pub kind: StepKind,
    /// The unit that does it.
    pub unit_id: String,
    /// Who holds it; absent while it waits in the step's queue.
    pub holder: Option<Person>,
    pub started_at: DateTime<Utc>,
    /// The start plus the step's allotted working minutes, moved by any
    /// supplement pause.
    pub due_at: DateTime<Utc>,
    /// Past its deadline while the dossier's clock runs.
    pub overdue: bool,
}

/// A line of a dossier list.
#[derive(Debug, Serialize, ToSchema)]
pub struct DossierSummary {
    pub id: String,
    pub code: String,
    pub procedure_code: String,
    pub procedure_name: String,
    pub unit_code: String,
    #[schema(value_type = crate::domain::dossier::Channel)]
    pub channel: String,
    pub status: Status,
    pub national_status: u8,
    pub applicant_name: String,
    pub assignee_id: Option<String>,
    pub submitted_at: DateTime<Utc>,
    pub received_at: Option<DateTime<Utc>>,
    pub due_at: Option<DateTime<Utc>>,
    pub overdue: bool,
}

/// Rows of a list with their procedure and unit, in one query.
pub type ListRow = (DossierRow, (String, String), String);

/// The select of a dossier list (one query for rows, procedures and units),
/// shared by `GET /dossiers` and `GET /queue`. A macro because the boxed
/// query's type is not worth spelling out.
#[macro_export]
macro_rules! dossier_listing {
    () => {{
        use $crate::db::schema::{dossiers, procedures, units};
        dossiers::table
            .inner_join(procedures::table)
            .inner_join(units::table.on(units::id.eq(dossiers::unit_id)))
            .select(($crate::dossiers::DossierRow::as_select(), (procedures::code, procedures::name), units::code))
    }};
}

pub fn summary((row, (procedure_code, procedure_name), unit_code): ListRow, now: NaiveDateTime) -> DossierSummary {
    DossierSummary {
        overdue: row.overdue(now),
        status: row.status(),
        national_status: row.national_status(),
        id: row.id,
        code: row.code,
        procedure_code,
        procedure_name,
        unit_code,
        channel: row.channel,
        applicant_name: row.applicant_name,
        assignee_id: row.assignee_id,
        submitted_at: utc(row.submitted_at),
        received_at: row.received_at.map(utc),
        due_at: row.due_at.map(utc),
    }
}

/// The full representation: the row, its procedure, unit, components,
/// files, process and receiving desk (at most eight queries whatever the
/// size).
pub fn view(conn: &mut DbConnection, row: DossierRow, actor: Actor<'_>) -> Result<DossierView, ApiError> {
    let now = crate::time::now();
    let procedure: (String, String) =
        procedures::table.find(&row.procedure_id).select((procedures::code, procedures::name)).first(conn)?;
    let unit: (String, String, String) =
        units::table.find(&row.unit_id).select((units::id, units::code, units::name)).first(conn)?;
    let comps: Vec<(String, i32, String, bool, bool, String)> = dossier_components::table
        .filter(dossier_components::dossier_id.eq(&row.id))
        .order(dossier_components::position)
        .select((
            dossier_components::id,
            dossier_components::position,
            dossier_components::name,
            dossier_components::mandatory,
            dossier_components::e_copy_accepted,
            dossier_components::digitization,
        ))
        .load(conn)?;
    let mut files: HashMap<String, Vec<FileView>> = HashMap::new();
    for (component, f) in dossier_files::table
        .filter(dossier_files::dossier_id.eq(&row.id))
        .order(dossier_files::id)
        .select((
            dossier_files::component_id,
            (
                dossier_files::id,
                dossier_files::file_name,
                dossier_files::content_type,
                dossier_files::size_bytes,
                dossier_files::sha256,
                dossier_files::created_at,
            ),
        ))
        .load::<(String, (String, String, String, i64, String, NaiveDateTime))>(conn)?
    {
        let (id, file_name, content_type, size_bytes, sha256, at) = f;
        files.entry(component).or_default().push(FileView {
            id,
            file_name,
            content_type,
            size_bytes,
            sha256,
            uploaded_at: utc(at),
        });
    }
    let components: Vec<ComponentView> = comps
        .into_iter()
        .map(|(id, position, name, mandatory, e_copy_accepted, digitization)| ComponentView {
            files: files.remove(&id).unwrap_or_default(),
            id,
            position,
            name,
            mandatory,
            e_copy_accepted,
            digitization: Digitization::parse(&digitization),
        })
        .collect();
    let digitized = domain::digitized(components.iter().map(|c| (c.mandatory, c.digitization)));
    let position = crate::processes::position(conn, &row.id)?;
    let situation = row.situation(now, position.as_ref().map(Position::here));
    let (process, current_step) = match position {
        Some(p) => progress(conn, &row, p, now)?,
        None => (None, None),
    };
    Ok(DossierView {
        id: row.id.clone(),
        code: row.code.clone(),
        procedure: ProcedureRef { code: procedure.0, name: procedure.1 },
        unit: UnitRef { id: unit.0, code: unit.1, name: unit.2 },
        receiving_desk: receiving_desk(conn, &row.id)?,
        channel: row.channel.clone(),
        status: situation.status,
        national_status: row.national_status(),
        applicant: Applicant {
            kind: row.applicant_kind.clone(),
            name: row.applicant_name.clone(),
            national_id: row.applicant_national_id.clone(),
            email: row.applicant_email.clone(),
            phone: row.applicant_phone.clone(),
            address: row.applicant_address.clone(),
        },
        form: serde_json::from_str(&row.form_data).unwrap_or(serde_json::Value::Null),
        assignee_id: row.assignee_id.clone(),
        submitted_at: utc(row.submitted_at),
        received_at: row.received_at.map(utc),
        due_at: row.due_at.map(utc),
        original_due_at: row.original_due_at.map(utc),
        overdue: situation.overdue,
        result_at: row.result_at.map(utc),
        finished_at: row.finished_at.map(utc),
        supplement_requests: row.supplement_requests,
        repeated_supplement_request: domain::supplemented_twice(row.supplement_requests),
        fee_vnd: row.fee_vnd,
        paid_at: row.paid_at.map(utc),
        payment_channel: row.payment_channel.clone(),
        digitized,
        components,
        allowed_actions: allowed_actions(situation, actor),
        process,
        current_step,
        version: row.version,
    })
}

/// The process a dossier follows with each step's state, and the step it
/// is at (while one is current).
fn progress(
    conn: &mut DbConnection,
    row: &DossierRow,
    p: Position,
    now: NaiveDateTime,
) -> Result<(Option<ProcessProgress>, Option<CurrentStep>), ApiError> {
    let states = crate::domain::process::progress(&p.route.steps, p.index, row.status());
    let current = match states[p.index] {
        StepState::Current => {
            let holder = match &row.assignee_id {
                Some(id) => users::table
                    .find(id)
                    .select((users::id, users::full_name))
                    .first::<(String, String)>(conn)
                    .optional()?
                    .map(|(id, name)| Person { id, name }),
                None => None,
            };
            let step = p.step();
            Some(CurrentStep {
                number: p.index + 1,
                name: step.name.clone(),
                role: step.role,
                kind: step.kind,
                unit_id: p.unit_of(p.index).to_string(),
                holder,
                started_at: utc(p.started_at),
                due_at: utc(p.due_at),
                overdue: row.status().clock_runs() && now > p.due_at,
            })
        }
        _ => None,
    };
    let steps = p
        .route
        .steps
        .iter()
        .zip(states)
        .enumerate()
        .map(|(i, (spec, state))| StepProgress {
            number: i + 1,
            name: spec.name.clone(),
            role: spec.role,
            kind: spec.kind,
            unit_id: p.unit_of(i).to_string(),
            allotted_minutes: spec.allotted_minutes,
            state,
        })
        .collect();
    Ok((Some(ProcessProgress { id: p.route.process_id.clone(), version: p.route.version, steps }), current))
}

/// The desk of another unit that received dossier `dossier_id`, if any.
pub fn receiving_desk(conn: &mut DbConnection, dossier_id: &str) -> QueryResult<Option<UnitRef>> {
    use crate::db::schema::dossier_desks;
    Ok(dossier_desks::table
        .find(dossier_id)
        .inner_join(units::table)
        .select((units::id, units::code, units::name))
        .first::<(String, String, String)>(conn)
        .optional()?
        .map(|(id, code, name)| UnitRef { id, code, name }))
}

/// Recomputes whether the dossier is digitized (`domain::dossier::digitized`).
pub fn refresh_digitized(conn: &mut DbConnection, dossier_id: &str) -> QueryResult<()> {
    use crate::db::schema::dossier_facts;
    let components: Vec<(bool, String)> = dossier_components::table
        .filter(dossier_components::dossier_id.eq(dossier_id))
        .select((dossier_components::mandatory, dossier_components::digitization))
        .load(conn)?;
    let digitized = domain::digitized(components.iter().map(|(m, d)| (*m, Digitization::parse(d))));
    diesel::update(dossier_facts::table.find(dossier_id)).set(dossier_facts::digitized.eq(digitized)).execute(conn)?;
    Ok(())
}

/// One line of the processing-control slip.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub id: String,
    pub at: DateTime<Utc>,
    /// A state-machine action, or another change of the dossier.
    #[schema(value_type = crate::domain::workflow::EventAction)]
    pub action: String,
    #[schema(value_type = Option<Status>)]
    pub from_status: Option<String>,
    #[schema(value_type = Status)]
    pub to_status: String,
    pub actor_id: Option<String>,
    pub actor_name: Option<String>,
    /// The role in which the actor acted.
    pub actor_role: String,
    /// When the actor acted in a role lent by a colleague's delegation: that
    /// colleague (docs/delegation.md).
    pub on_behalf_of: Option<Person>,
    pub unit_code: Option<String>,
    pub summary: String,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

/// A staff member, as an event names them.
#[derive(Debug, Serialize, ToSchema)]
pub struct Person {
    pub id: String,
    pub name: String,
}

/// An event to record in the same transaction as the change it describes.
pub struct NewEvent<'a> {
    /// The audit entry of the request that made it (`src/dossiers/write.rs`).
    pub audit_id: &'a str,
    pub dossier_id: &'a str,
    pub actor: Option<&'a Principal>,
    pub role: &'a str,
    pub unit_id: Option<&'a str>,
    pub action: crate::domain::workflow::EventAction,
    pub from: Option<Status>,
    pub to: Status,
    pub summary: String,
    pub payload: serde_json::Value,
}

impl NewEvent<'_> {
    /// The colleague whose delegation lent the role the actor acted in.
    fn on_behalf_of(&self) -> Option<String> {
        let role: Role = self.role.parse().ok()?;
        self.actor?.lent_by(role).map(str::to_string)
    }

    pub fn insert(self, conn: &mut DbConnection) -> QueryResult<()> {
        let on_behalf_of = self.on_behalf_of();
        diesel::insert_into(dossier_events::table)
            .values((
                dossier_events::id.eq(uuid::Uuid::now_v7().to_string()),
                dossier_events::dossier_id.eq(self.dossier_id),
                dossier_events::at.eq(crate::time::now()),
                dossier_events::actor_id.eq(self.actor.map(|p| p.user_id.as_str())),
                dossier_events::actor_role.eq(self.role),
                dossier_events::unit_id.eq(self.unit_id),
                dossier_events::action.eq(self.action.as_str()),
                dossier_events::from_status.eq(self.from.map(Status::as_str)),
                dossier_events::to_status.eq(self.to.as_str()),
                dossier_events::summary.eq(self.summary),
                dossier_events::payload.eq(self.payload.to_string()),
                dossier_events::audit_id.eq(self.audit_id),
                dossier_events::on_behalf_of.eq(on_behalf_of),
            ))
            .execute(conn)?;
        Ok(())
    }
}
