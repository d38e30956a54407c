//! `/api/v1/procedures`: the public catalogue; the province administrator
//! maintains it.

use actix_web::{HttpResponse, web};
use diesel::prelude::*;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{Component, OnlineLevel, ProcedureRow, ProcedureSpec, ProcedureView};
use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::Principal;
use crate::db::schema::procedures;
use crate::domain::roles::Role;
use crate::domain::text::contains_pattern;
use crate::domain::units::Level;
use crate::error::{ApiError, Problem, ProblemCode};
use crate::pagination::{Keyset, Page};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/procedures").route(web::get().to(list)).route(web::post().to(create)))
        .service(web::resource("/procedures/{code}").route(web::get().to(get)).route(web::patch().to(update)));
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Search code, name and field, with or without Vietnamese diacritics.
    pub q: Option<String>,
    /// Exact sector name.
    pub field: Option<String>,
    /// Only procedures performed at this level.
    pub level: Option<Level>,
    pub online_level: Option<OnlineLevel>,
    /// Default: only active procedures.
    pub active: Option<bool>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// Search the catalogue, ordered by code.
#[utoipa::path(get, path = "/api/v1/procedures", tag = "procedures", params(ListQuery),
    responses((status = 200, body = Page<ProcedureView>), (status = 400, body = Problem)))]
pub async fn list(state: web::Data<AppState>, query: web::Query<ListQuery>) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let keyset = Keyset::parse(q.cursor.as_deref(), q.limit)?;
    let fetch = keyset.fetch();
    let after = keyset.after.clone();
    let views = state
        .db
        .run(move |conn| {
            let mut sql = procedures::table
                .select(ProcedureRow::as_select())
                .filter(procedures::active.eq(q.active.unwrap_or(true)))
                .order(procedures::code.asc())
                .limit(fetch)
                .into_boxed();
            if let Some(text) = &q.q {
                sql = sql.filter(procedures::search_text.like(contains_pattern(text)).escape('\\'));
            }
            if let Some(field) = q.field {
                sql = sql.filter(procedures::field.eq(field));
            }
            if let Some(level) = q.level {
                sql = sql.filter(procedures::levels.like(format!("%{}%", level.as_str())));
            }
            if let Some(online) = q.online_level {
                sql = sql.filter(procedures::online_level.eq(online.as_str()));
            }
            if let Some(after) = after {
                sql = sql.filter(procedures::code.gt(after));
            }
            let rows = sql.load(conn)?;
            Ok(super::views(conn, rows)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(keyset.page(views, |p| p.spec.code.clone())))
}

/// One procedure by its code.
#[utoipa::path(get, path = "/api/v1/procedures/{code}", tag = "procedures", params(("code" = String, Path)),
    responses((status = 200, body = ProcedureView), (status = 404, body = Problem)))]
pub async fn get(state: web::Data<AppState>, code: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let code = code.into_inner();
    let view = state.db.run(move |conn| super::find_by_code(conn, &code)?.ok_or_else(ApiError::not_found)).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// The catalogue is the province's: only an administrator of a root unit
/// changes it.
fn require_catalogue_admin(principal: &Principal) -> Result<(), ApiError> {
    principal.require_any(&[Role::Admin])?;
    if principal.is_at_root()? {
        Ok(())
    } else {
        Err(ApiError::forbidden("Only an administrator of the province manages the catalogue."))
    }
}

/// Add a procedure to the catalogue.
#[utoipa::path(post, path = "/api/v1/procedures", tag = "procedures", request_body = ProcedureSpec,
    security(("bearer" = [])),
    responses((status = 201, body = ProcedureView), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    audit: Audit,
    body: web::Json<ProcedureSpec>,
) -> Result<HttpResponse, ApiError> {
    principal.require_any(&[Role::Admin])?;
    let mut spec = body.into_inner();
    let view = audit
        .write(&state, move |conn, audit| {
            audit.status(actix_web::http::StatusCode::CREATED);
            audit.target(&spec.code);
            require_catalogue_admin(&principal)?;
            spec.validate()?;
            if super::find_by_code(conn, &spec.code)?.is_some() {
                return Err(ApiError::conflict(
                    ProblemCode::ProcedureCodeTaken,
                    format!("Procedure code {} is already used.", spec.code),
                ));
            }
            let id = uuid::Uuid::now_v7().to_string();
            super::check_national_code(conn, &id, &spec)?;
            super::save(conn, &id, &spec, true, true)?;
            super::find_by_code(conn, &spec.code)?.ok_or_else(ApiError::not_found)
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProcedure {
    /// The code in the national procedure database (MaTTHC).
    pub national_code: Option<String>,
    pub name: Option<String>,
    pub field: Option<String>,
    pub levels: Option<Vec<Level>>,
    pub processing_days: Option<i32>,
    pub cutoff_hour: Option<i32>,
    pub fee_vnd: Option<i64>,
    pub online_level: Option<OnlineLevel>,
    pub result_is_document: Option<bool>,
    pub certifies_copies: Option<bool>,
    /// Replaces the whole list of components.
    pub components: Option<Vec<Component>>,
    pub active: Option<bool>,
}

/// Change a procedure; absent fields keep their value.
#[utoipa::path(patch, path = "/api/v1/procedures/{code}", tag = "procedures", params(("code" = String, Path)),
    request_body = UpdateProcedure, security(("bearer" = [])),
    responses((status = 200, body = ProcedureView), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn update(
    state: web::Data<AppState>,
    principal: Principal,
    audit: Audit,
    code: web::Path<String>,
    body: web::Json<UpdateProcedure>,
) -> Result<HttpResponse, ApiError> {
    principal.require_any(&[Role::Admin])?;
    let (code, u) = (code.into_inner(), body.into_inner());
    let office = state.settings.dossiers.office_hours.clone();
    let view = audit
        .write(&state, move |conn, _| {
            require_catalogue_admin(&principal)?;
            let current = super::find_by_code(conn, &code)?.ok_or_else(ApiError::not_found)?;
            let s = current.spec;
            let mut spec = ProcedureSpec {
                code: s.code,
                national_code: u.national_code.or(s.national_code),
                name: u.name.unwrap_or(s.name),
                field: u.field.unwrap_or(s.field),
                levels: u.levels.unwrap_or(s.levels),
                processing_days: u.processing_days.unwrap_or(s.processing_days),
                cutoff_hour: u.cutoff_hour.unwrap_or(s.cutoff_hour),
                fee_vnd: u.fee_vnd.unwrap_or(s.fee_vnd),
                online_level: u.online_level.unwrap_or(s.online_level),
                result_is_document: u.result_is_document.unwrap_or(s.result_is_document),
                certifies_copies: u.certifies_copies.unwrap_or(s.certifies_copies),
                components: u.components.unwrap_or(s.components),
            };
            spec.validate()?;
            super::check_national_code(conn, &current.id, &spec)?;
            if spec.processing_days != s.processing_days {
                crate::processes::fit(conn, &current.id, spec.processing_days as u32, &office)?;
            }
            super::save(conn, &current.id, &spec, u.active.unwrap_or(current.active), false)?;
            super::find_by_code(conn, &code)?.ok_or_else(ApiError::not_found)
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}
