//! `/api/v1/units`: public reads, administrator writes within their subtree.

use actix_web::{HttpResponse, web};
use diesel::prelude::*;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{UnitRow, UnitView};
use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::Principal;
use crate::db::schema::units;
use crate::domain::roles::Role;
use crate::domain::text::contains_pattern;
use crate::domain::units::{Level, child_path, in_subtree};
use crate::error::{ApiError, Problem, Validator};
use crate::pagination::{Keyset, Page};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/units").route(web::get().to(list)).route(web::post().to(create)))
        .service(web::resource("/units/{id}").route(web::get().to(get)).route(web::patch().to(update)));
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only units of this level.
    pub level: Option<Level>,
    /// Only the direct children of this unit id.
    pub parent: Option<String>,
    /// `true`: only the roots (units without a parent); `false`: only the others.
    pub root: Option<bool>,
    /// Search in names and codes, with or without diacritics.
    pub q: Option<String>,
    pub active: Option<bool>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// List units, ordered by code.
#[utoipa::path(get, path = "/api/v1/units", tag = "units", params(ListQuery),
    responses((status = 200, body = Page<UnitView>), (status = 400, body = Problem)))]
pub async fn list(state: web::Data<AppState>, query: web::Query<ListQuery>) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let keyset = Keyset::parse(q.cursor.as_deref(), q.limit)?;
    let rows = state
        .db
        .run(move |conn| {
            let mut sql =
                units::table.select(UnitRow::as_select()).order(units::code.asc()).limit(keyset.fetch()).into_boxed();
            if let Some(level) = q.level {
                sql = sql.filter(units::level.eq(level.as_str()));
            }
            if let Some(parent) = q.parent {
                sql = sql.filter(units::parent_id.eq(parent));
            }
            match q.root {
                Some(true) => sql = sql.filter(units::parent_id.is_null()),
                Some(false) => sql = sql.filter(units::parent_id.is_not_null()),
                None => {}
            }
            if let Some(active) = q.active {
                sql = sql.filter(units::active.eq(active));
            }
            if let Some(after) = &keyset.after {
                sql = sql.filter(units::code.gt(after.clone()));
            }
            if let Some(q) = &q.q {
                sql = sql.filter(units::search_text.like(contains_pattern(q)).escape('\\'));
            }
            let rows: Vec<UnitRow> = sql.load(conn)?;
            Ok((rows, keyset))
        })
        .await?;
    let (rows, keyset) = rows;
    let page = keyset.page(rows.into_iter().map(UnitView::from).collect(), |u| u.code.clone());
    Ok(HttpResponse::Ok().json(page))
}

/// One unit.
#[utoipa::path(get, path = "/api/v1/units/{id}", tag = "units", params(("id" = String, Path)),
    responses((status = 200, body = UnitView), (status = 404, body = Problem)))]
pub async fn get(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let row = state.db.run(move |conn| super::find(conn, &id)?.ok_or_else(ApiError::not_found)).await?;
    Ok(HttpResponse::Ok().json(UnitView::from(row)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUnit {
    pub code: String,
    pub name: String,
    pub level: Level,
    /// The parent unit, in the administrator's scope. Roots (provinces) are
    /// created with the CLI.
    pub parent_id: Option<String>,
}

/// Create a unit (admin, under a unit of their subtree).
#[utoipa::path(post, path = "/api/v1/units", tag = "units", request_body = CreateUnit, security(("bearer" = [])),
    responses((status = 201, body = UnitView), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    audit: Audit,
    body: web::Json<CreateUnit>,
) -> Result<HttpResponse, ApiError> {
    principal.require_any(&[Role::Admin])?;
    let body = body.into_inner();
    let row = audit
        .write(&state, move |conn, audit| {
            audit.status(actix_web::http::StatusCode::CREATED);
            let scope = principal.scope_path()?;
            let parent = match &body.parent_id {
                Some(id) => Some(
                    super::find_in_scope(conn, id, &scope)?
                        .ok_or_else(|| ApiError::invalid_field("parent_id", "no such unit in your scope"))?,
                ),
                // A new root would lie outside every administrator's scope.
                None => {
                    return Err(ApiError::forbidden(
                        "Root units (provinces) are created with `motcua unit create`, not through the API.",
                    ));
                }
            };
            let row = super::create(conn, &body.code, &body.name, body.level, parent.as_ref())?;
            audit.target(&row.id);
            Ok(row)
        })
        .await?;
    tracing::info!(unit = %row.code, "unit created");
    Ok(HttpResponse::Created().json(UnitView::from(row)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUnit {
    pub name: Option<String>,
    /// Move the unit (and its subtree) under another unit of your scope.
    pub parent_id: Option<String>,
    pub active: Option<bool>,
}

/// Rename, move or (de)activate a unit of the administrator's subtree.
#[utoipa::path(patch, path = "/api/v1/units/{id}", tag = "units", params(("id" = String, Path)),
    request_body = UpdateUnit, security(("bearer" = [])),
    responses((status = 200, body = UnitView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    state: web::Data<AppState>,
    principal: Principal,
    audit: Audit,
    id: web::Path<String>,
    body: web::Json<UpdateUnit>,
) -> Result<HttpResponse, ApiError> {
    principal.require_any(&[Role::Admin])?;
    let (id, body) = (id.into_inner(), body.into_inner());
    let name = body.name.as_deref().map(str::trim).map(str::to_string);
    if let Some(n) = &name {
        let mut v = Validator::default();
        v.name("name", n, 200);
        v.finish()?;
    }
    let row = audit
        .write(&state, move |conn, _| {
            let scope = principal.scope_path()?;
            let unit = super::find_in_scope(conn, &id, &scope)?.ok_or_else(ApiError::not_found)?;
            let at = crate::time::now();
            diesel::update(units::table.find(&id))
                .set((
                    name.as_ref().map(|n| units::search_text.eq(super::search_text(&unit.code, n))),
                    name.map(|n| units::name.eq(n)),
                    body.active.map(|a| units::active.eq(a)),
                    units::updated_at.eq(at),
                ))
                .execute(conn)?;
            if let Some(parent_id) = body.parent_id.filter(|p| unit.parent_id.as_ref() != Some(p)) {
                let parent = super::find_in_scope(conn, &parent_id, &scope)?
                    .filter(|p| !in_subtree(&p.path, &unit.path))
                    .ok_or_else(|| {
                        ApiError::invalid_field("parent_id", "no such unit in your scope outside this unit's subtree")
                    })?;
                super::check_level(unit.level(), Some(&parent))?;
                move_subtree(conn, &unit, &parent)?;
            }
            super::find(conn, &id)?.ok_or_else(ApiError::not_found)
        })
        .await?;
    Ok(HttpResponse::Ok().json(UnitView::from(row)))
}

/// Re-parents `unit` and rewrites the paths of its whole subtree.
fn move_subtree(conn: &mut crate::db::DbConnection, unit: &UnitRow, parent: &UnitRow) -> Result<(), ApiError> {
    let new_path = child_path(Some(&parent.path), &unit.id);
    let subtree: Vec<(String, String)> =
        units::table.filter(units::path.like(format!("{}%", unit.path))).select((units::id, units::path)).load(conn)?;
    diesel::update(units::table.find(&unit.id)).set(units::parent_id.eq(&parent.id)).execute(conn)?;
    for (id, path) in subtree {
        let moved = format!("{new_path}{}", &path[unit.path.len()..]);
        diesel::update(units::table.find(id)).set(units::path.eq(moved)).execute(conn)?;
    }
    Ok(())
}
