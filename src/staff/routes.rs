//! `/api/v1/admin/users`: administrators manage staff of their subtree;
//! other staff may look up colleagues in their own subtree (e.g. to assign).

use actix_web::{HttpResponse, web};
use diesel::prelude::*;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::NewStaff;
use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::users::{self, UserRow, UserView};
use crate::auth::{Principal, password};
use crate::db::DbConnection;
use crate::db::schema::{refresh_tokens, units as units_t, users as users_t};
use crate::domain::identity::check_password;
use crate::domain::roles::{self, Role, parse_staff_roles};
use crate::domain::text::contains_pattern;
use crate::error::{ApiError, Problem, Validator};
use crate::pagination::{Keyset, Page};
use crate::units;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/admin/users").route(web::get().to(list)).route(web::post().to(create)))
        .service(web::resource("/admin/users/{id}").route(web::get().to(get)).route(web::patch().to(update)));
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStaff {
    pub email: String,
    pub full_name: String,
    /// Initial password; the person changes it later.
    pub password: String,
    pub roles: Vec<Role>,
    /// The unit the account belongs to: its scope is that unit's subtree.
    pub unit_id: String,
    pub phone: Option<String>,
}

/// Create a staff account in a unit of the administrator's subtree.
#[utoipa::path(post, path = "/api/v1/admin/users", tag = "staff", request_body = CreateStaff,
    security(("bearer" = [])),
    responses((status = 201, body = UserView), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    audit: Audit,
    body: web::Json<CreateStaff>,
) -> Result<HttpResponse, ApiError> {
    principal.require_any(&[Role::Admin])?;
    let b = body.into_inner();
    let new = NewStaff::parse(&b.email, &b.full_name, &b.password, &b.roles, b.phone.as_deref())?;
    let hash = password::hash(b.password).await?;
    let view = audit
        .write(&state, move |conn, audit| {
            audit.status(actix_web::http::StatusCode::CREATED);
            let scope = principal.scope_path()?;
            let unit = units::find_in_scope(conn, &b.unit_id, &scope)?
                .ok_or_else(|| ApiError::invalid_field("unit_id", "no such unit in your scope"))?;
            let row = new.insert(conn, &unit, hash)?;
            audit.target(&row.id);
            Ok(UserView::new(row, Some(unit.code)))
        })
        .await?;
    tracing::info!(user_id = %view.id, "staff account created");
    Ok(HttpResponse::Created().json(view))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only accounts of this unit (not its subtree).
    pub unit: Option<String>,
    pub role: Option<Role>,
    /// Search e-mail and name.
    pub q: Option<String>,
    pub active: Option<bool>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// Staff accounts in the caller's subtree, ordered by e-mail.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "staff", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<UserView>), (status = 403, body = Problem)))]
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    principal.require_staff()?;
    let q = query.into_inner();
    let keyset = Keyset::parse(q.cursor.as_deref(), q.limit)?;
    let (fetch, after) = (keyset.fetch(), keyset.after.clone());
    let rows = state
        .db
        .run(move |conn| {
            let scope = principal.scope_path()?;
            let mut sql = users_t::table
                .inner_join(units_t::table)
                .filter(units_t::path.like(format!("{scope}%")))
                .select((UserRow::as_select(), units_t::code))
                .order(users_t::email.asc())
                .limit(fetch)
                .into_boxed();
            if let Some(unit) = q.unit {
                sql = sql.filter(users_t::unit_id.eq(unit));
            }
            if let Some(role) = q.role {
                sql = sql.filter(users_t::roles.like(format!("%{}%", role.as_str())));
            }
            if let Some(text) = q.q {
                let pattern = contains_pattern(&text);
                sql = sql.filter(
                    users_t::email.like(pattern.clone()).escape('\\').or(users_t::full_name.like(pattern).escape('\\')),
                );
            }
            if let Some(active) = q.active {
                sql = sql.filter(users_t::active.eq(active));
            }
            if let Some(after) = after {
                sql = sql.filter(users_t::email.gt(after));
            }
            Ok(sql.load::<(UserRow, String)>(conn)?)
        })
        .await?;
    let views = rows.into_iter().map(|(row, code)| UserView::new(row, Some(code))).collect();
    Ok(HttpResponse::Ok().json(keyset.page(views, |u: &UserView| u.email.clone())))
}

/// A staff account of `id` inside the caller's scope, or 404.
fn find_in_scope(conn: &mut DbConnection, principal: &Principal, id: &str) -> Result<UserRow, ApiError> {
    let scope = principal.scope_path()?;
    users_t::table
        .inner_join(units_t::table)
        .filter(users_t::id.eq(id).and(units_t::path.like(format!("{scope}%"))))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(ApiError::not_found)
}

/// One staff account of the caller's subtree.
#[utoipa::path(get, path = "/api/v1/admin/users/{id}", tag = "staff", params(("id" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = UserView), (status = 404, body = Problem)))]
pub async fn get(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require_staff()?;
    let id = id.into_inner();
    let view = state
        .db
        .run(move |conn| {
            let row = find_in_scope(conn, &principal, &id)?;
            Ok(users::view(conn, &row.id)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateStaff {
    pub full_name: Option<String>,
    pub roles: Option<Vec<Role>>,
    /// Move the account to another unit of the administrator's subtree.
    pub unit_id: Option<String>,
    /// Deactivating an account also ends its sessions.
    pub active: Option<bool>,
    /// Sets a new password and ends the account's sessions.
    pub password: Option<String>,
}

/// Change a staff account of the administrator's subtree.
#[utoipa::path(patch, path = "/api/v1/admin/users/{id}", tag = "staff", params(("id" = String, Path)),
    request_body = UpdateStaff, security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    state: web::Data<AppState>,
    principal: Principal,
    audit: Audit,
    id: web::Path<String>,
    body: web::Json<UpdateStaff>,
) -> Result<HttpResponse, ApiError> {
    principal.require_any(&[Role::Admin])?;
    let (id, u) = (id.into_inner(), body.into_inner());
    let mut v = Validator::default();
    let roles = u.roles.as_deref().and_then(|r| v.parsed("roles", parse_staff_roles(r)));
    if let Some(p) = &u.password {
        v.parsed("password", check_password(p, &[]));
    }
    let full_name = u.full_name.as_deref().map(|n| n.trim().to_string());
    if let Some(n) = &full_name {
        v.name("full_name", n, 200);
    }
    let myself = id == principal.user_id;
    v.check(!(myself && u.active == Some(false)), "active", "you cannot deactivate your own account");
    v.check(
        !(myself && roles.as_ref().is_some_and(|r| !r.contains(&Role::Admin))),
        "roles",
        "you cannot remove your own admin role",
    );
    v.finish()?;
    let hash = match u.password {
        Some(p) => Some(password::hash(p).await?),
        None => None,
    };
    let view = audit
        .write(&state, move |conn, _| {
            let row = find_in_scope(conn, &principal, &id)?;
            let unit_id = match u.unit_id {
                Some(unit) => {
                    let scope = principal.scope_path()?;
                    Some(
                        units::find_in_scope(conn, &unit, &scope)?
                            .ok_or_else(|| ApiError::invalid_field("unit_id", "no such unit in your scope"))?
                            .id,
                    )
                }
                None => None,
            };
            let ends_sessions = hash.is_some() || u.active == Some(false);
            diesel::update(users_t::table.find(&row.id))
                .set((
                    full_name.map(|n| users_t::full_name.eq(n)),
                    roles.map(|r| users_t::roles.eq(roles::encode(&r))),
                    unit_id.map(|unit| users_t::unit_id.eq(unit)),
                    u.active.map(|a| users_t::active.eq(a)),
                    hash.map(|h| users_t::password_hash.eq(h)),
                    users_t::updated_at.eq(crate::time::now()),
                ))
                .execute(conn)?;
            if ends_sessions {
                diesel::update(refresh_tokens::table)
                    .filter(refresh_tokens::user_id.eq(&row.id).and(refresh_tokens::revoked_at.is_null()))
                    .set(refresh_tokens::revoked_at.eq(crate::time::now()))
                    .execute(conn)?;
            }
            Ok(users::view(conn, &row.id)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}
