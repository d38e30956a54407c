//! `GET /api/v1/dossiers/{id}/control-slip`: the processing control slip
//! (phiếu kiểm soát quá trình giải quyết hồ sơ, form 06 of Circular
//! 03/2025/TT-VPCP), computed from the dossier's events and the process it
//! follows (`domain::process::slip`; docs/processes.md).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ProcessRef, load_visible};
use crate::app::AppState;
use crate::auth::Principal;
use crate::domain::calendar::from_local;
use crate::domain::process::{self, StepKind, Timing};
use crate::domain::roles::Role;
use crate::error::{ApiError, Problem};

/// How a step's work compares with its deadline.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SlipTiming {
    Early,
    OnTime,
    Late,
    /// Not completed yet.
    Running,
}

/// One handover: a step, who passed the dossier on and who held it, when it
/// arrived, its deadline, and when and how it was completed.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlipRowView {
    /// 1-based position of the step in the process.
    pub step: usize,
    pub step_name: String,
    pub kind: StepKind,
    pub role: Role,
    /// The code of the unit that held the dossier during the step.
    pub unit_code: Option<String>,
    pub handed_over_by: Option<String>,
    pub held_by: Option<String>,
    pub received_at: DateTime<Utc>,
    /// The start plus the step's allotted working minutes (office hours of
    /// working days), moved by any supplement pause.
    pub deadline: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub completed_by: Option<String>,
    /// The action that completed the step.
    pub outcome: Option<String>,
    pub timing: SlipTiming,
    /// Working minutes before the deadline (`early`).
    pub early_by_minutes: Option<u32>,
    /// Working minutes past the deadline (`late`, or `running` past it).
    pub late_by_minutes: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ControlSlip {
    pub dossier_code: String,
    /// The desk of another unit that received it and handed it to the
    /// competent unit's first step (absent: received by the competent unit).
    pub receiving_desk: Option<super::UnitRef>,
    /// The process version it follows (absent: not received yet).
    pub process: Option<ProcessRef>,
    pub rows: Vec<SlipRowView>,
}

/// The control slip of a dossier, for anyone who may see it.
#[utoipa::path(get, path = "/api/v1/dossiers/{id}/control-slip", tag = "dossiers", params(("id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = ControlSlip), (status = 404, body = Problem)))]
pub async fn control_slip(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let hours = state.settings.dossiers.office_hours.clone();
    let slip = state
        .db
        .run(move |conn| {
            let (row, _) = load_visible(conn, &principal, &id)?;
            let receiving_desk = super::receiving_desk(conn, &id)?;
            let Some(pinned) = crate::processes::pinned(conn, &id)? else {
                return Ok(ControlSlip { dossier_code: row.code, receiving_desk, process: None, rows: Vec::new() });
            };
            let events = super::routes::load_events(conn, &id)?;
            let first = events.first().map_or(row.submitted_at, |e| e.at.naive_utc());
            let calendar = super::calendar_from(conn, first)?;
            let local: Vec<process::Event<'_>> = events
                .iter()
                .map(|e| process::Event {
                    at: super::local(e.at.naive_utc()),
                    action: &e.action,
                    actor: e.actor_name.as_deref(),
                    unit: e.unit_code.as_deref(),
                    to_status: &e.to_status,
                    step: e.payload.get("step").and_then(serde_json::Value::as_u64).map(|n| n as usize),
                })
                .collect();
            let steps = pinned.steps();
            let now = super::local(crate::time::now());
            let rows = process::slip(&steps, &local, now, &calendar, &hours)
                .into_iter()
                .map(|r| view(&steps[r.step - 1], r))
                .collect();
            Ok(ControlSlip {
                dossier_code: row.code,
                receiving_desk,
                process: Some(ProcessRef { id: pinned.id, version: pinned.version }),
                rows,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(slip))
}

fn view(spec: &process::StepSpec, r: process::SlipRow) -> SlipRowView {
    let utc = from_local;
    let (timing, early, late) = match r.timing {
        Timing::Early(m) => (SlipTiming::Early, Some(m), None),
        Timing::OnTime => (SlipTiming::OnTime, None, None),
        Timing::Late(m) => (SlipTiming::Late, None, Some(m)),
        Timing::Running(m) => (SlipTiming::Running, None, (m > 0).then_some(m)),
    };
    SlipRowView {
        step: r.step,
        step_name: spec.name.clone(),
        kind: spec.kind,
        role: spec.role,
        unit_code: r.unit,
        handed_over_by: r.handed_over_by,
        held_by: r.held_by,
        received_at: utc(r.received_at),
        deadline: utc(r.deadline),
        completed_at: r.completed_at.map(utc),
        completed_by: r.completed_by,
        outcome: r.outcome,
        timing,
        early_by_minutes: early,
        late_by_minutes: late,
    }
}
