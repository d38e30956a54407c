//! `/api/v1/procedures/{code}/processes` and `/api/v1/processes/{id}`: the
//! internal processes of a procedure, read by anyone, written by the
//! province's administrators as new versions.

use actix_web::{HttpResponse, web};
use diesel::prelude::*;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{ProcessRow, ProcessView};
use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::Principal;
use crate::db::DbConnection;
use crate::db::schema::{procedures, processes};
use crate::domain::process::{self, Scope, StepSpec};
use crate::domain::roles::Role;
use crate::domain::units::Level;
use crate::error::{ApiError, Problem, Validator};
use crate::procedures::{ProcedureSpec, ProcedureView};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/procedures/{code}/processes").route(web::get().to(list)).route(web::post().to(create)))
        .service(web::resource("/processes/{id}").route(web::get().to(get)));
}

/// A new version of a procedure's process.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProcess {
    /// Only for the units of this level (the procedure's level must be one).
    pub level: Option<Level>,
    /// Only for this unit (which performs the procedure); not with `level`.
    pub unit_id: Option<String>,
    /// The signer may not have done an earlier step of the dossier. Default: true.
    pub separation_of_duties: Option<bool>,
    /// What changed, or the decision that approved it.
    pub note: Option<String>,
    pub steps: Vec<StepSpec>,
}

/// The procedure with this code (`procedures::find_by_code`), or 404.
fn procedure(conn: &mut DbConnection, code: &str) -> Result<ProcedureView, ApiError> {
    crate::procedures::find_by_code(conn, code)?.ok_or_else(ApiError::not_found)
}

/// Every version of the procedure's processes, newest first; `latest` marks
/// what dossiers received now follow in each scope.
#[utoipa::path(get, path = "/api/v1/procedures/{code}/processes", tag = "processes", params(("code" = String, Path)),
    responses((status = 200, body = Vec<ProcessView>), (status = 404, body = Problem)))]
pub async fn list(state: web::Data<AppState>, code: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let code = code.into_inner();
    let views = state
        .db
        .run(move |conn| {
            let id = procedure(conn, &code)?.id;
            let rows =
                processes::table.filter(processes::procedure_id.eq(&id)).select(ProcessRow::as_select()).load(conn)?;
            Ok(super::views(&code, rows))
        })
        .await?;
    Ok(HttpResponse::Ok().json(views))
}

/// One version of a process.
#[utoipa::path(get, path = "/api/v1/processes/{id}", tag = "processes", params(("id" = String, Path)),
    responses((status = 200, body = ProcessView), (status = 404, body = Problem)))]
pub async fn get(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let view = state.db.run(move |conn| view(conn, &id)).await?;
    Ok(HttpResponse::Ok().json(view))
}

fn view(conn: &mut DbConnection, id: &str) -> Result<ProcessView, ApiError> {
    let (row, code): (ProcessRow, String) = processes::table
        .find(id)
        .inner_join(procedures::table)
        .select((ProcessRow::as_select(), procedures::code))
        .first(conn)
        .optional()?
        .ok_or_else(ApiError::not_found)?;
    let scope = row.scope.clone();
    let procedure_id = row.procedure_id.clone();
    // Whether a later version of its scope exists decides `latest`.
    let siblings = processes::table
        .filter(processes::procedure_id.eq(&procedure_id).and(processes::scope.eq(&scope)))
        .select(ProcessRow::as_select())
        .load(conn)?;
    super::views(&code, siblings).into_iter().find(|v| v.id == id).ok_or_else(ApiError::not_found)
}

/// Save a new version of the procedure's process (an administrator of the
/// province). Dossiers already received keep the version they follow.
#[utoipa::path(post, path = "/api/v1/procedures/{code}/processes", tag = "processes", params(("code" = String, Path)),
    request_body = NewProcess, security(("bearer" = [])),
    responses((status = 201, body = ProcessView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    audit: Audit,
    code: web::Path<String>,
    body: web::Json<NewProcess>,
) -> Result<HttpResponse, ApiError> {
    principal.require_any(&[Role::Admin])?;
    let (code, new) = (code.into_inner(), body.into_inner());
    let minutes_per_day = state.settings.dossiers.office_hours.minutes_per_day();
    let view = audit
        .write(&state, move |conn, audit| {
            audit.status(actix_web::http::StatusCode::CREATED);
            audit.target(&code);
            if !principal.is_at_root()? {
                return Err(ApiError::forbidden("Only an administrator of the province manages processes."));
            }
            let procedure = procedure(conn, &code)?;
            let scope = check(conn, &new, &procedure.spec, minutes_per_day)?;
            let id = super::save(
                conn,
                &procedure.id,
                &scope,
                new.separation_of_duties.unwrap_or(true),
                &new.steps,
                new.note.as_deref().unwrap_or("").trim(),
                Some(&principal.user_id),
            )?;
            view(conn, &id)
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// The rules of `domain::process::validate`, and what only the database
/// knows: the units named exist and are active, and the scope's units
/// perform the procedure.
fn check(
    conn: &mut DbConnection,
    new: &NewProcess,
    procedure: &ProcedureSpec,
    minutes_per_day: u32,
) -> Result<Scope, ApiError> {
    let processing_days = procedure.processing_days.max(0) as u32;
    let mut v = Validator::default();
    if let Err(problems) = process::validate(&new.steps, processing_days, minutes_per_day) {
        for (field, message) in problems {
            v.push(&field, message);
        }
    }
    if let Some(note) = new.note.as_deref().filter(|n| !n.trim().is_empty()) {
        v.text("note", note, 2000);
    }
    let performs = |level: Level| procedure.levels.contains(&level);
    let scope = match (&new.level, &new.unit_id) {
        (Some(_), Some(_)) => {
            v.push("unit_id", "a process serves a level or a unit, not both");
            Scope::All
        }
        (Some(level), None) => {
            v.check(performs(*level), "level", "the procedure is not performed at this level");
            Scope::Level(*level)
        }
        (None, Some(unit_id)) => {
            let level = active_level(conn, unit_id)?;
            v.check(level.is_some_and(performs), "unit_id", "an active unit that performs the procedure");
            Scope::Unit(unit_id.clone())
        }
        (None, None) => Scope::All,
    };
    for (i, step) in new.steps.iter().enumerate() {
        if let Some(unit_id) = &step.unit_id {
            let known = active_level(conn, unit_id)?.is_some();
            v.check(known, &format!("steps[{i}].unit_id"), "an active unit");
        }
    }
    v.finish()?;
    Ok(scope)
}

/// The level of unit `id`, if it exists and is active (`units::find`).
fn active_level(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Level>> {
    Ok(crate::units::find(conn, id)?.filter(|u| u.active).map(|u| u.level()))
}
