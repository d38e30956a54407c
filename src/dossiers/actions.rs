//! `POST /dossiers/{id}/actions`: one state-machine action, its payload
//! checked, applied with its event in one transaction.

use chrono::{DateTime, NaiveDateTime, Timelike, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{DossierRow, NewEvent, actor, load_visible};
use crate::app::AppState;
use crate::auth::Principal;
use crate::db::DbConnection;
use crate::db::schema::{dossier_facts, dossier_units, dossiers, units, users};
use crate::domain::roles::{self, Role};
use crate::domain::workflow::{Action, Actor, Refusal, Situation, Status, permitted, transition};
use crate::error::{ApiError, Validator};

/// An action and its payload: `{"action": "reject", "reason": "…"}`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionRequest {
    /// Clerk accepts a submitted dossier; the clock starts.
    Receive {
        note: Option<String>,
    },
    /// Ask the applicant for missing items (at intake, or during processing: the clock pauses).
    RequestSupplement {
        reason: String,
        items: Vec<String>,
    },
    /// The applicant has supplied what was asked.
    Supplement {
        note: Option<String>,
    },
    Reject {
        reason: String,
    },
    /// Clerk assigns (or reassigns) a specialist.
    Assign {
        assignee_id: String,
    },
    /// Specialist takes this dossier.
    Claim,
    /// Give the dossier back to the unassigned queue.
    Release {
        reason: Option<String>,
    },
    /// Move the dossier to another unit (liên thông).
    Transfer {
        target_unit_id: String,
        reason: String,
    },
    SubmitForApproval {
        note: Option<String>,
    },
    ReturnForRework {
        reason: String,
    },
    Approve {
        note: Option<String>,
    },
    ReturnResult {
        note: Option<String>,
    },
    Withdraw {
        reason: String,
    },
    Stop {
        reason: String,
    },
    /// Late-processing apology with a new appointment date.
    Apologize {
        reason: String,
        new_due_at: DateTime<Utc>,
    },
}

impl ActionRequest {
    pub fn action(&self) -> Action {
        match self {
            Self::Receive { .. } => Action::Receive,
            Self::RequestSupplement { .. } => Action::RequestSupplement,
            Self::Supplement { .. } => Action::Supplement,
            Self::Reject { .. } => Action::Reject,
            Self::Assign { .. } => Action::Assign,
            Self::Claim => Action::Claim,
            Self::Release { .. } => Action::Release,
            Self::Transfer { .. } => Action::Transfer,
            Self::SubmitForApproval { .. } => Action::SubmitForApproval,
            Self::ReturnForRework { .. } => Action::ReturnForRework,
            Self::Approve { .. } => Action::Approve,
            Self::ReturnResult { .. } => Action::ReturnResult,
            Self::Withdraw { .. } => Action::Withdraw,
            Self::Stop { .. } => Action::Stop,
            Self::Apologize { .. } => Action::Apologize,
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
            | Self::Apologize { reason, .. } => {
                v.text("reason", reason.trim(), 2000);
            }
            Self::Transfer { target_unit_id, reason } => {
                v.text("target_unit_id", target_unit_id, 64);
                v.text("reason", reason.trim(), 2000);
            }
            Self::Assign { assignee_id } => {
                v.text("assignee_id", assignee_id, 64);
            }
            Self::Claim => {}
        }
        v.finish()
    }

    fn payload(&self) -> serde_json::Value {
        let mut p = serde_json::to_value(self).expect("serialisable");
        if let Some(o) = p.as_object_mut() {
            o.remove("action");
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
            | Self::Transfer { reason, .. } => reason.clone(),
            Self::Apologize { reason, new_due_at } => {
                format!("{reason} — new date {}", super::local(new_due_at.naive_utc()).format("%Y-%m-%d %H:%M"))
            }
            Self::Release { reason: Some(note) }
            | Self::Receive { note: Some(note) }
            | Self::Supplement { note: Some(note) }
            | Self::SubmitForApproval { note: Some(note) }
            | Self::Approve { note: Some(note) }
            | Self::ReturnResult { note: Some(note) } => note.clone(),
            other => other.action().as_str().replace('_', " "),
        }
    }
}

/// The first of the caller's roles that allows `action`: what the event records.
fn acting_role(s: Situation, action: Action, who: Actor<'_>) -> &'static str {
    if who.is_applicant {
        return Role::Citizen.as_str();
    }
    who.roles
        .iter()
        .find(|r| permitted(s, action, Actor { roles: std::slice::from_ref(r), ..who }))
        .map_or("staff", |r| r.as_str())
}

/// Checks an `If-Match` header against the dossier's version.
pub fn check_if_match(if_match: Option<&str>, row: &DossierRow) -> Result<(), ApiError> {
    match if_match.map(str::trim) {
        None | Some("*") => Ok(()),
        Some(tags) if tags.split(',').any(|t| t.trim().trim_start_matches("W/") == row.etag()) => Ok(()),
        Some(_) => Err(ApiError::new(
            actix_web::http::StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            format!("The dossier has changed (now version {}); reload it and try again.", row.version),
        )),
    }
}

/// Applies `request` to dossier `id`, with its event.
pub fn apply(
    conn: &mut DbConnection,
    state: &AppState,
    principal: &Principal,
    id: &str,
    request: &ActionRequest,
    if_match: Option<&str>,
) -> Result<(), ApiError> {
    let (row, access) = load_visible(conn, principal, id)?;
    check_if_match(if_match, &row)?;
    let now = crate::time::now();
    let situation = row.situation(now);
    let who = actor(principal, access, &row);
    let action = request.action();
    if action == Action::ReturnResult && situation.status == Status::ResultReady && situation.fee_due {
        return Err(ApiError::conflict("fee_unpaid", "The fee must be paid before the result is returned."));
    }
    let to = transition(situation, action, who).map_err(|refusal| match refusal {
        Refusal::NotNow { allowed } => ApiError::illegal_action(action, situation.status, allowed),
        Refusal::NotYours => {
            ApiError::forbidden(format!("You may not {} this dossier.", action.as_str().replace('_', " ")))
        }
    })?;
    let role = acting_role(situation, action, who);
    let mut change = Change::new(&row, to, now);
    let change_it = |conn: &mut DbConnection| -> Result<(), ApiError> {
        match request {
            ActionRequest::Receive { .. } => {
                let procedure = procedure_of(conn, &row)?;
                let due = super::filing::due_date(conn, &procedure, now, state.settings.dossiers.day_end_hour)?;
                change.received_at = Some(now);
                change.due_at = Some(due);
                change.original_due_at = Some(due);
            }
            ActionRequest::RequestSupplement { .. } => {
                change.supplement_requests += 1;
                if to == Status::AwaitingApplicant {
                    change.paused_at = Some(now);
                }
            }
            ActionRequest::Supplement { .. } => {
                if let (Some(paused), Some(due)) = (row.paused_at, row.due_at) {
                    let calendar = super::calendar_from(conn, paused)?;
                    let push = |t: NaiveDateTime| {
                        super::stored(calendar.extend_for_pause(
                            super::local(t),
                            super::local(paused),
                            super::local(now),
                        ))
                    };
                    change.due_at = Some(push(due));
                    change.original_due_at = row.original_due_at.map(push);
                }
                change.paused_at = None;
            }
            ActionRequest::Assign { assignee_id } => {
                change.assignee_id = Some(check_assignee(conn, &row, assignee_id)?);
            }
            ActionRequest::Claim => change.assignee_id = Some(principal.user_id.clone()),
            ActionRequest::Release { .. } => change.assignee_id = None,
            ActionRequest::Transfer { target_unit_id, .. } => {
                let target = crate::units::find(conn, target_unit_id)?
                    .filter(|u| u.active && u.id != row.unit_id)
                    .ok_or_else(|| ApiError::invalid_field("target_unit_id", "no other active unit with this id"))?;
                change.unit_id = target.id.clone();
                change.assignee_id = None;
                let known: bool = diesel::select(diesel::dsl::exists(dossier_units::table.find((&row.id, &target.id))))
                    .get_result(conn)?;
                if !known {
                    diesel::insert_into(dossier_units::table)
                        .values((dossier_units::dossier_id.eq(&row.id), dossier_units::unit_id.eq(&target.id)))
                        .execute(conn)?;
                }
            }
            ActionRequest::Approve { .. } => {
                change.result_at = Some(now);
                let e_result = crate::results::issue_from_draft(conn, &state.signer, &row, principal)?.is_some();
                let taken = match row.received_at {
                    Some(received) => {
                        let calendar = super::calendar_from(conn, received)?;
                        Some(calendar.working_days_between(super::local(received).date(), super::local(now).date())
                            as i32)
                    }
                    None => None,
                };
                diesel::update(dossier_facts::table.find(&row.id))
                    .set((dossier_facts::e_result.eq(e_result), dossier_facts::working_days_taken.eq(taken)))
                    .execute(conn)?;
            }
            ActionRequest::Reject { .. }
            | ActionRequest::Withdraw { .. }
            | ActionRequest::Stop { .. }
            | ActionRequest::ReturnResult { .. } => change.finished_at = Some(now),
            ActionRequest::Apologize { new_due_at, .. } => {
                // Appointment dates are to the second (and stored alike on both backends).
                let new_due = new_due_at.naive_utc().with_nanosecond(0).expect("zero is a valid nanosecond");
                if new_due <= now || row.due_at.is_some_and(|d| new_due <= d) {
                    return Err(ApiError::invalid_field(
                        "new_due_at",
                        "the new date is later than now and than the current one",
                    ));
                }
                change.due_at = Some(new_due);
                diesel::update(dossier_facts::table.find(&row.id))
                    .set(dossier_facts::apologized.eq(true))
                    .execute(conn)?;
            }
            ActionRequest::SubmitForApproval { .. } | ActionRequest::ReturnForRework { .. } => {}
        }
        if to.is_terminal() || to == Status::Received {
            // Finished dossiers and dossiers back in the shared queue have no assignee.
            if !matches!(request, ActionRequest::Assign { .. } | ActionRequest::Claim) {
                change.assignee_id = None;
            }
        }
        change.save(conn, &row)
    };
    if action.is_counted() {
        crate::stats::daily::track(conn, &row.id, change_it)?;
    } else {
        change_it(conn)?;
    }
    NewEvent {
        dossier_id: &row.id,
        actor: Some(principal),
        role,
        unit_id: Some(&row.unit_id),
        action: action.as_str(),
        from: Some(situation.status),
        to,
        summary: request.summary(),
        payload: request.payload(),
    }
    .insert(conn)?;
    state.notifier.after_action(conn, &row.id, request)
}

/// The applicant's first download of a ready e-result returns the dossier,
/// once its fee is settled (DESIGN.md §4: `return_result`).
pub fn return_on_download(
    conn: &mut DbConnection,
    state: &AppState,
    principal: &Principal,
    row: &DossierRow,
) -> Result<(), ApiError> {
    let now = crate::time::now();
    let situation = row.situation(now);
    if situation.status != Status::ResultReady
        || crate::domain::workflow::target(situation, Action::ReturnResult).is_none()
    {
        return Ok(());
    }
    let mut change = Change::new(row, Status::Returned, now);
    change.finished_at = Some(now);
    crate::stats::daily::track(conn, &row.id, |conn| change.save(conn, row))?;
    NewEvent {
        dossier_id: &row.id,
        actor: Some(principal),
        role: Role::Citizen.as_str(),
        unit_id: Some(&row.unit_id),
        action: Action::ReturnResult.as_str(),
        from: Some(Status::ResultReady),
        to: Status::Returned,
        summary: "e-result downloaded by the applicant".into(),
        payload: serde_json::json!({}),
    }
    .insert(conn)?;
    state.notifier.after_action(conn, &row.id, &ActionRequest::ReturnResult { note: None })
}

fn procedure_of(conn: &mut DbConnection, row: &DossierRow) -> Result<crate::procedures::ProcedureView, ApiError> {
    use crate::db::schema::procedures;
    let code: String = procedures::table.find(&row.procedure_id).select(procedures::code).first(conn)?;
    crate::procedures::find_by_code(conn, &code)?.ok_or_else(ApiError::not_found)
}

/// An assignee is an active specialist whose scope holds the dossier's unit.
fn check_assignee(conn: &mut DbConnection, row: &DossierRow, assignee_id: &str) -> Result<String, ApiError> {
    let dossier_path: String = units::table.find(&row.unit_id).select(units::path).first(conn)?;
    let candidate: Option<(String, bool, String)> = users::table
        .inner_join(units::table)
        .filter(users::id.eq(assignee_id))
        .select((users::roles, users::active, units::path))
        .first(conn)
        .optional()?;
    match candidate {
        Some((r, true, path)) if roles::decode(&r).contains(&Role::Specialist) && dossier_path.starts_with(&path) => {
            Ok(assignee_id.to_string())
        }
        _ => Err(ApiError::invalid_field("assignee_id", "no active specialist whose scope holds this dossier")),
    }
}

/// The columns an action changes; `save` bumps the version.
struct Change {
    status: Status,
    unit_id: String,
    assignee_id: Option<String>,
    received_at: Option<NaiveDateTime>,
    due_at: Option<NaiveDateTime>,
    original_due_at: Option<NaiveDateTime>,
    paused_at: Option<NaiveDateTime>,
    result_at: Option<NaiveDateTime>,
    finished_at: Option<NaiveDateTime>,
    supplement_requests: i32,
    now: NaiveDateTime,
}

impl Change {
    fn new(row: &DossierRow, status: Status, now: NaiveDateTime) -> Self {
        Self {
            status,
            unit_id: row.unit_id.clone(),
            assignee_id: row.assignee_id.clone(),
            received_at: row.received_at,
            due_at: row.due_at,
            original_due_at: row.original_due_at,
            paused_at: row.paused_at,
            result_at: row.result_at,
            finished_at: row.finished_at,
            supplement_requests: row.supplement_requests,
            now,
        }
    }

    /// Writes the change if the dossier is still at the version read.
    fn save(self, conn: &mut DbConnection, row: &DossierRow) -> Result<(), ApiError> {
        let updated =
            diesel::update(dossiers::table.filter(dossiers::id.eq(&row.id).and(dossiers::version.eq(row.version))))
                .set((
                    dossiers::status.eq(self.status.as_str()),
                    dossiers::unit_id.eq(&self.unit_id),
                    dossiers::assignee_id.eq(&self.assignee_id),
                    dossiers::received_at.eq(self.received_at),
                    dossiers::due_at.eq(self.due_at),
                    dossiers::original_due_at.eq(self.original_due_at),
                    dossiers::paused_at.eq(self.paused_at),
                    dossiers::result_at.eq(self.result_at),
                    dossiers::finished_at.eq(self.finished_at),
                    dossiers::supplement_requests.eq(self.supplement_requests),
                    dossiers::queue_at.eq(self.due_at.unwrap_or(row.submitted_at)),
                    dossiers::version.eq(row.version + 1),
                    dossiers::updated_at.eq(self.now),
                ))
                .execute(conn)?;
        if updated == 1 {
            Ok(())
        } else {
            Err(ApiError::new(
                actix_web::http::StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
                "The dossier changed while this action was applied; reload it and try again.",
            ))
        }
    }
}
