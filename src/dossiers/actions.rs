//! `POST /dossiers/{id}/actions`: one state-machine action, its payload
//! checked, its effect decided by `domain::dossier::apply` and stored with
//! its event through the one write path (`write.rs`).

use chrono::{DateTime, NaiveTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::write::{Locked, calendar_start, store};
use super::{DossierRow, NewEvent, actor};
use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::Principal;
use crate::db::DbConnection;
use crate::db::schema::{units, users};
use crate::domain::calendar::{Calendar, OfficeHours};
use crate::domain::dossier::{self as domain, Act, Now, Terms};
use crate::domain::process::Position;
use crate::domain::roles::{self, Role};
use crate::domain::workflow::{Action, Status};
use crate::error::{ApiError, ProblemCode, Validator};

/// An action and its payload: `{"action": "reject", "reason": "…"}`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionRequest {
    /// Clerk accepts a submitted dossier; the clock starts.
    #[schema(title = "ActionReceive")]
    Receive { note: Option<String> },
    /// Ask the applicant for missing items (at intake, or during processing: the clock pauses).
    #[schema(title = "ActionRequestSupplement")]
    RequestSupplement { reason: String, items: Vec<String> },
    /// The applicant has supplied what was asked.
    #[schema(title = "ActionSupplement")]
    Supplement { note: Option<String> },
    #[schema(title = "ActionReject")]
    Reject { reason: String },
    /// Clerk assigns (or reassigns) a specialist.
    #[schema(title = "ActionAssign")]
    Assign { assignee_id: String },
    /// Specialist takes this dossier.
    #[schema(title = "ActionClaim")]
    Claim {},
    /// Give the dossier back to the unassigned queue.
    #[schema(title = "ActionRelease")]
    Release { reason: Option<String> },
    /// Move the dossier to another unit (liên thông).
    #[schema(title = "ActionTransfer")]
    Transfer { target_unit_id: String, reason: String },
    #[schema(title = "ActionSubmitForApproval")]
    SubmitForApproval { note: Option<String> },
    #[schema(title = "ActionReturnForRework")]
    ReturnForRework { reason: String },
    #[schema(title = "ActionApprove")]
    Approve { note: Option<String> },
    #[schema(title = "ActionReturnResult")]
    ReturnResult { note: Option<String> },
    #[schema(title = "ActionWithdraw")]
    Withdraw { reason: String },
    #[schema(title = "ActionStop")]
    Stop { reason: String },
    /// Late-processing apology with a new appointment date.
    #[schema(title = "ActionApologize")]
    Apologize { reason: String, new_due_at: DateTime<Utc> },
    /// The current step's work is done: on to the next step of the process,
    /// held by `to` (a user of the next step's role and unit) or waiting in
    /// its queue. Into the signing step it is `submit_for_approval`.
    #[schema(title = "ActionForward")]
    Forward {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<String>,
        note: Option<String>,
    },
    /// Back to an earlier work step (its number, from 1), into its queue.
    #[schema(title = "ActionReturnToStep")]
    ReturnToStep { step: u32, reason: String },
}

impl ActionRequest {
    pub fn action(&self) -> Action {
        match self {
            Self::Receive { .. } => Action::Receive,
            Self::RequestSupplement { .. } => Action::RequestSupplement,
            Self::Supplement { .. } => Action::Supplement,
            Self::Reject { .. } => Action::Reject,
            Self::Assign { .. } => Action::Assign,
            Self::Claim {} => Action::Claim,
            Self::Release { .. } => Action::Release,
            Self::Transfer { .. } => Action::Transfer,
            Self::SubmitForApproval { .. } => Action::SubmitForApproval,
            Self::ReturnForRework { .. } => Action::ReturnForRework,
            Self::Approve { .. } => Action::Approve,
            Self::ReturnResult { .. } => Action::ReturnResult,
            Self::Withdraw { .. } => Action::Withdraw,
            Self::Stop { .. } => Action::Stop,
            Self::Apologize { .. } => Action::Apologize,
            Self::Forward { .. } => Action::Forward,
            Self::ReturnToStep { .. } => Action::ReturnToStep,
        }
    }

    /// Checks the payload's own shape (before any database work).
    pub fn validate(&self) -> Result<(), ApiError> {
        let mut v = Validator::default();
        let optional = |v: &mut Validator, field: &str, s: &Option<String>| {
            if let Some(s) = s {
                v.text(field, s, 2000);
            }
        };
        match self {
            Self::Receive { note }
            | Self::Supplement { note }
            | Self::SubmitForApproval { note }
            | Self::Approve { note }
            | Self::ReturnResult { note } => optional(&mut v, "note", note),
            Self::Release { reason } => optional(&mut v, "reason", reason),
            Self::RequestSupplement { reason, items } => {
                v.text("reason", reason.trim(), 2000);
                v.check(!items.is_empty() && items.len() <= 50, "items", "name 1 to 50 missing items");
                for (i, item) in items.iter().enumerate() {
                    v.text(&format!("items[{i}]"), item.trim(), 500);
                }
            }
            Self::Reject { reason }
            | Self::Withdraw { reason }
            | Self::Stop { reason }
            | Self::ReturnForRework { reason }
            | Self::ReturnToStep { reason, .. }
            | Self::Apologize { reason, .. } => {
                v.text("reason", reason.trim(), 2000);
            }
            Self::Forward { to, note } => {
                optional(&mut v, "note", note);
                if let Some(to) = to {
                    v.text("to", to, 64);
                }
            }
            Self::Transfer { target_unit_id, reason } => {
                v.text("target_unit_id", target_unit_id, 64);
                v.text("reason", reason.trim(), 2000);
            }
            Self::Assign { assignee_id } => {
                v.text("assignee_id", assignee_id, 64);
            }
            Self::Claim {} => {}
        }
        v.finish()
    }

    /// What the event keeps of the request; a forward also names the step
    /// it went to (from 1), as a return to a step does.
    fn payload(&self, forwarded_to: Option<&Position>) -> serde_json::Value {
        let mut p = serde_json::to_value(self).expect("serialisable");
        if let Some(o) = p.as_object_mut() {
            o.remove("action");
            if let Some(position) = forwarded_to {
                o.insert("step".into(), (position.index + 1).into());
            }
        }
        p
    }

    fn summary(&self) -> String {
        match self {
            Self::RequestSupplement { reason, items } => format!("{reason} — missing: {}", items.join("; ")),
            Self::Reject { reason }
            | Self::Withdraw { reason }
            | Self::Stop { reason }
            | Self::ReturnForRework { reason }
            | Self::ReturnToStep { reason, .. }
            | Self::Transfer { reason, .. } => reason.clone(),
            Self::Apologize { reason, new_due_at } => {
                format!("{reason} — new date {}", super::local(new_due_at.naive_utc()).format("%Y-%m-%d %H:%M"))
            }
            Self::Release { reason: Some(note) }
            | Self::Receive { note: Some(note) }
            | Self::Supplement { note: Some(note) }
            | Self::SubmitForApproval { note: Some(note) }
            | Self::Approve { note: Some(note) }
            | Self::ReturnResult { note: Some(note) }
            | Self::Forward { note: Some(note), .. } => note.clone(),
            other => other.action().as_str().replace('_', " "),
        }
    }
}

/// Checks an `If-Match` header against the dossier's version
/// (`domain::dossier::if_match_holds`).
pub fn check_if_match(if_match: Option<&str>, row: &DossierRow) -> Result<(), ApiError> {
    match if_match {
        Some(header) if !domain::if_match_holds(header, row.version) => Err(ApiError::new(
            actix_web::http::StatusCode::PRECONDITION_FAILED,
            ProblemCode::PreconditionFailed,
            format!(
                "The dossier has changed: it is now version {} (ETag {}); reload it and try again.",
                row.version,
                domain::etag(row.version)
            ),
        )),
        _ => Ok(()),
    }
}

/// Applies `request` to the locked dossier: the rules decide its effect
/// (`domain::dossier::apply`), stored here with its event and its messages.
pub fn apply(
    conn: &mut DbConnection,
    state: &AppState,
    principal: &Principal,
    audit: &Audit,
    locked: Locked,
    request: &ActionRequest,
    if_match: Option<&str>,
) -> Result<(), ApiError> {
    let Locked { row, dossier, access } = locked;
    let access = access.ok_or_else(ApiError::not_found)?;
    check_if_match(if_match, &row)?;
    let now = crate::time::now();
    let who = actor(conn, principal, access, &row)?;
    // Whether the caller may take the action now, before its payload is checked.
    domain::check(&dossier, request.action(), who, now)?;
    let office = &state.settings.dossiers.office_hours;
    let act = act_of(conn, request, &dossier, &row, principal, office)?;
    let (terms, calendar) = if act.needs_calendar() {
        let terms = terms_of(conn, &row, state.settings.dossiers.day_end_hour)?;
        (terms, super::calendar_from(conn, calendar_start(&dossier, now))?)
    } else {
        (Terms { processing_days: 0, cutoff_hour: 0, day_end: NaiveTime::MIN }, Calendar::default())
    };
    let after = domain::apply(&dossier, &act, who, &terms, Now { at: now, calendar: &calendar, hours: office })?;
    if let Act::Approve { e_result: true } = &act {
        crate::results::issue_from_draft(conn, &state.signer, &row, principal)?;
    }
    store(conn, &row, &dossier, &after)?;
    crate::stats::steps::track(conn, &row.id, &row.procedure_id, &dossier, &after, now, office)?;
    if dossier.result_at.is_none()
        && let Some(issued) = after.result_at
    {
        crate::assessment::record(conn, &row.id, issued, &state.settings.assessment)?;
    }
    NewEvent {
        audit_id: audit.id(),
        dossier_id: &row.id,
        actor: Some(principal),
        role: domain::acting_role(&dossier, act.action(), who, now),
        unit_id: Some(&row.unit_id),
        action: act.action().into(),
        from: Some(dossier.status),
        to: after.status,
        summary: request.summary(),
        payload: request.payload(after.position.as_ref().filter(|_| act.action() == Action::Forward)),
    }
    .insert(conn)?;
    state.notifier.after_action(conn, &row.id, request)
}

/// The rules' act for `request`, with what only the database can check:
/// that an assignee is an active specialist of the dossier's subtree, that a
/// transfer's target is an active unit, that a forward's addressee may do
/// the next step, whether a result draft waits; and the process in force
/// where a dossier is received.
fn act_of(
    conn: &mut DbConnection,
    request: &ActionRequest,
    dossier: &domain::Dossier,
    row: &DossierRow,
    principal: &Principal,
    office: &OfficeHours,
) -> Result<Act, ApiError> {
    Ok(match request {
        ActionRequest::Receive { .. } => {
            Act::Receive { route: crate::processes::route(conn, &row.procedure_id, &row.unit_id, office)? }
        }
        ActionRequest::RequestSupplement { .. } => Act::RequestSupplement,
        ActionRequest::Supplement { .. } => Act::Supplement,
        ActionRequest::Reject { .. } => Act::Reject,
        ActionRequest::Assign { assignee_id } => {
            let role = dossier.situation(crate::time::now()).step_role();
            Act::Assign { assignee_id: check_holder(conn, &row.unit_id, assignee_id, role, "assignee_id")? }
        }
        ActionRequest::Claim {} => Act::Claim { by: principal.user_id.clone() },
        ActionRequest::Release { .. } => Act::Release,
        ActionRequest::Transfer { target_unit_id, .. } => {
            let target = crate::units::find(conn, target_unit_id)?
                .filter(|u| u.active)
                .ok_or_else(|| ApiError::invalid_field("target_unit_id", "no other active unit with this id"))?;
            let route = crate::processes::route(conn, &row.procedure_id, &target.id, office)?;
            Act::Transfer { to_unit_id: target.id, route }
        }
        ActionRequest::SubmitForApproval { .. } => Act::SubmitForApproval,
        ActionRequest::Forward { to, .. } => {
            let to = match (to, &dossier.position) {
                (None, _) => None,
                (Some(to), Some(position)) if position.index + 1 < position.route.steps.len() => {
                    let next = position.index + 1;
                    let role = position.route.steps[next].role;
                    Some(check_holder(conn, position.unit_of(next), to, role, "to")?)
                }
                (Some(_), _) => return Err(ApiError::invalid_field("to", "the dossier has no next step to hand over")),
            };
            Act::Forward { to }
        }
        ActionRequest::ReturnToStep { step, .. } => {
            Act::ReturnToStep { step: (*step as usize).checked_sub(1).unwrap_or(usize::MAX) }
        }
        ActionRequest::ReturnForRework { .. } => Act::ReturnForRework,
        ActionRequest::Approve { .. } => Act::Approve { e_result: crate::results::has_draft(conn, &row.id)? },
        ActionRequest::ReturnResult { .. } => Act::ReturnResult,
        ActionRequest::Withdraw { .. } => Act::Withdraw,
        ActionRequest::Stop { .. } => Act::Stop,
        ActionRequest::Apologize { new_due_at, .. } => Act::Apologize { new_due_at: new_due_at.naive_utc() },
    })
}

/// The applicant collects the dossier's e-result: it is returned, once its
/// fee is settled (`domain::dossier::collect`); whether it changed.
pub fn collect(
    conn: &mut DbConnection,
    state: &AppState,
    principal: &Principal,
    audit: &Audit,
    locked: &Locked,
) -> Result<bool, ApiError> {
    let now = crate::time::now();
    let Some(after) = domain::collect(&locked.dossier, now)? else { return Ok(false) };
    let row = &locked.row;
    store(conn, row, &locked.dossier, &after)?;
    let office = &state.settings.dossiers.office_hours;
    crate::stats::steps::track(conn, &row.id, &row.procedure_id, &locked.dossier, &after, now, office)?;
    NewEvent {
        audit_id: audit.id(),
        dossier_id: &row.id,
        actor: Some(principal),
        role: Role::Citizen.as_str(),
        unit_id: Some(&row.unit_id),
        action: Action::ReturnResult.into(),
        from: Some(Status::ResultReady),
        to: Status::Returned,
        summary: "e-result collected by the applicant".into(),
        payload: serde_json::json!({}),
    }
    .insert(conn)?;
    state.notifier.after_action(conn, &row.id, &ActionRequest::ReturnResult { note: None })?;
    Ok(true)
}

/// The terms that set the appointment date of the dossier's procedure.
fn terms_of(conn: &mut DbConnection, row: &DossierRow, day_end_hour: u32) -> Result<Terms, ApiError> {
    use crate::db::schema::procedures;
    let (days, cutoff): (i32, i32) = procedures::table
        .find(&row.procedure_id)
        .select((procedures::processing_days, procedures::cutoff_hour))
        .first(conn)?;
    Ok(Terms::new(days, cutoff, day_end_hour))
}

/// Who is handed a step (`field` of the request): an active user of `role`
/// whose scope holds `unit_id`, the unit that does the step.
fn check_holder(
    conn: &mut DbConnection,
    unit_id: &str,
    user_id: &str,
    role: Role,
    field: &'static str,
) -> Result<String, ApiError> {
    let unit_path: String = units::table.find(unit_id).select(units::path).first(conn)?;
    let candidate: Option<(String, bool, String)> = users::table
        .inner_join(units::table)
        .filter(users::id.eq(user_id))
        .select((users::roles, users::active, units::path))
        .first(conn)
        .optional()?;
    match candidate {
        Some((r, true, path)) if roles::decode(&r).contains(&role) && unit_path.starts_with(&path) => {
            Ok(user_id.to_string())
        }
        _ => Err(ApiError::invalid_field(field, format!("no active {role} whose scope holds the step's unit"))),
    }
}
