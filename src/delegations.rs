//! `/api/v1/delegations`: staff lend their roles to a colleague of their
//! unit for a period, and take them back (docs/delegation.md; the rules are
//! `src/domain/delegation.rs`). A delegation in force adds its roles to the
//! colleague's on every request (`src/auth/principal.rs`), and the events of
//! actions taken with them name the lender (`on_behalf_of`).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::Principal;
use crate::db::DbConnection;
use crate::db::schema::{delegations, units, users};
use crate::domain::delegation::{self, Grant};
use crate::domain::roles::{self, Role};
use crate::error::{ApiError, Problem, Validator};
use crate::pagination::{Keyset, Page};
use crate::time::utc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/delegations").route(web::get().to(list)).route(web::post().to(create)))
        .service(web::resource("/delegations/{id}/revoke").route(web::post().to(revoke)));
}

/// The roles lent to `delegate_id` now by delegations in force whose lender
/// still holds them, is active and both still belong to `unit_id`.
pub fn lent_to(conn: &mut DbConnection, delegate_id: &str, unit_id: &str) -> QueryResult<Vec<(Role, String)>> {
    let now = crate::time::now();
    let rows: Vec<(String, String, String)> = delegations::table
        .inner_join(users::table.on(users::id.eq(delegations::delegator_id)))
        .filter(delegations::delegate_id.eq(delegate_id))
        .filter(delegations::unit_id.eq(unit_id))
        .filter(delegations::starts_at.le(now).and(delegations::ends_at.gt(now)))
        .filter(delegations::revoked_at.is_null())
        .filter(users::active.eq(true).and(users::unit_id.eq(unit_id)))
        .select((delegations::roles, users::roles, delegations::delegator_id))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .flat_map(|(lent, held, delegator)| {
            let held = roles::decode(&held);
            roles::decode(&lent).into_iter().filter(move |r| held.contains(r)).map(move |r| (r, delegator.clone()))
        })
        .collect())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDelegation {
    /// The colleague (an active account of your unit).
    pub delegate_id: String,
    /// Roles you hold among clerk, specialist and approver.
    pub roles: Vec<Role>,
    /// Default: now.
    pub starts_at: Option<DateTime<Utc>>,
    /// At most 90 days after the start.
    pub ends_at: DateTime<Utc>,
    /// Leave, business trip…
    pub reason: String,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = delegations)]
struct DelegationRow {
    id: String,
    delegator_id: String,
    delegate_id: String,
    unit_id: String,
    roles: String,
    reason: String,
    starts_at: NaiveDateTime,
    ends_at: NaiveDateTime,
    revoked_at: Option<NaiveDateTime>,
    revoked_by: Option<String>,
    created_at: NaiveDateTime,
}

/// A delegation.
#[derive(Debug, Serialize, ToSchema)]
pub struct DelegationView {
    pub id: String,
    pub delegator_id: String,
    pub delegate_id: String,
    pub unit_id: String,
    pub roles: Vec<Role>,
    pub reason: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
    /// It lends its roles now.
    pub in_force: bool,
    pub created_at: DateTime<Utc>,
}

impl From<DelegationRow> for DelegationView {
    fn from(r: DelegationRow) -> Self {
        Self {
            in_force: delegation::in_force(r.starts_at, r.ends_at, r.revoked_at, crate::time::now()),
            id: r.id,
            delegator_id: r.delegator_id,
            delegate_id: r.delegate_id,
            unit_id: r.unit_id,
            roles: roles::decode(&r.roles),
            reason: r.reason,
            starts_at: utc(r.starts_at),
            ends_at: utc(r.ends_at),
            revoked_at: r.revoked_at.map(utc),
            revoked_by: r.revoked_by,
            created_at: utc(r.created_at),
        }
    }
}

fn load(conn: &mut DbConnection, id: &str) -> QueryResult<Option<DelegationRow>> {
    delegations::table.find(id).select(DelegationRow::as_select()).first(conn).optional()
}

/// Lend roles to a colleague of your unit for a period.
#[utoipa::path(post, path = "/api/v1/delegations", tag = "delegations", request_body = NewDelegation,
    security(("bearer" = [])),
    responses((status = 201, body = DelegationView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    audit: Audit,
    body: web::Json<NewDelegation>,
) -> Result<HttpResponse, ApiError> {
    principal.require_staff()?;
    let new = body.into_inner();
    let view = audit
        .write(&state, move |conn, audit| {
            audit.status(actix_web::http::StatusCode::CREATED);
            audit.target(&new.delegate_id);
            // The account's own roles, not those lent to it: a lent role is not lent on.
            let own: Vec<Role> = principal.roles.iter().copied().filter(|r| principal.lent_by(*r).is_none()).collect();
            let delegate: Option<(bool, Option<String>)> =
                users::table.find(&new.delegate_id).select((users::active, users::unit_id)).first(conn).optional()?;
            let now = crate::time::now();
            let starts_at = new.starts_at.map_or(now, |t| t.naive_utc());
            let grant = Grant {
                delegator_roles: &own,
                delegator_unit: principal.unit_id.as_deref(),
                delegator_id: &principal.user_id,
                delegate_id: &new.delegate_id,
                delegate_unit: delegate.as_ref().and_then(|(_, unit)| unit.as_deref()),
                delegate_active: delegate.as_ref().is_some_and(|(active, _)| *active),
                roles: &new.roles,
                starts_at,
                ends_at: new.ends_at.naive_utc(),
            };
            let mut v = Validator::default();
            if let Err(problems) = delegation::check(&grant, now) {
                for (field, message) in problems {
                    v.push(field, message);
                }
            }
            v.text("reason", new.reason.trim(), 500);
            v.finish()?;
            let unit_id = principal.unit_id.clone().ok_or_else(|| ApiError::forbidden("Only staff delegate."))?;
            let id = uuid::Uuid::now_v7().to_string();
            let lent: Vec<&str> = new.roles.iter().map(|r| r.as_str()).collect();
            diesel::insert_into(delegations::table)
                .values((
                    delegations::id.eq(&id),
                    delegations::delegator_id.eq(&principal.user_id),
                    delegations::delegate_id.eq(&new.delegate_id),
                    delegations::unit_id.eq(&unit_id),
                    delegations::roles.eq(lent.join(",")),
                    delegations::reason.eq(new.reason.trim()),
                    delegations::starts_at.eq(starts_at),
                    delegations::ends_at.eq(new.ends_at.naive_utc()),
                    delegations::created_at.eq(now),
                ))
                .execute(conn)?;
            Ok(DelegationView::from(load(conn, &id)?.ok_or_else(ApiError::not_found)?))
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only those that lend their roles now (`true`), or only the others.
    pub in_force: Option<bool>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// Delegations you gave or received, newest first; an administrator sees
/// those of the units in their subtree.
#[utoipa::path(get, path = "/api/v1/delegations", tag = "delegations", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<DelegationView>), (status = 403, body = Problem)))]
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
            let mut sql = delegations::table
                .select(DelegationRow::as_select())
                .order(delegations::id.desc())
                .limit(fetch)
                .into_boxed();
            if principal.has(Role::Admin) {
                let scope = format!("{}%", principal.scope_path()?);
                let in_scope = units::table.filter(units::path.like(scope)).select(units::id);
                sql = sql.filter(delegations::unit_id.eq_any(in_scope));
            } else {
                let me = principal.user_id.clone();
                sql = sql.filter(delegations::delegator_id.eq(me.clone()).or(delegations::delegate_id.eq(me)));
            }
            // `domain::delegation::in_force`, as a filter.
            let now = crate::time::now();
            let lending = delegations::starts_at
                .le(now)
                .and(delegations::ends_at.gt(now))
                .and(delegations::revoked_at.is_null().or(delegations::revoked_at.gt(now)));
            sql = match q.in_force {
                Some(true) => sql.filter(lending),
                Some(false) => sql.filter(diesel::dsl::not(lending)),
                None => sql,
            };
            if let Some(after) = after {
                sql = sql.filter(delegations::id.lt(after));
            }
            Ok(sql.load::<DelegationRow>(conn)?)
        })
        .await?;
    let page = keyset.page(rows.into_iter().map(DelegationView::from).collect(), |d| d.id.clone());
    Ok(HttpResponse::Ok().json(page))
}

/// Take a delegation back, at once: its lender, or an administrator whose
/// subtree holds its unit. Revoking one already ended changes nothing.
#[utoipa::path(post, path = "/api/v1/delegations/{id}/revoke", tag = "delegations", params(("id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = DelegationView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn revoke(
    state: web::Data<AppState>,
    principal: Principal,
    audit: Audit,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require_staff()?;
    let id = id.into_inner();
    let view = audit
        .write(&state, move |conn, audit| {
            audit.target(&id);
            let row = load(conn, &id)?.ok_or_else(ApiError::not_found)?;
            let unit_path: String = units::table.find(&row.unit_id).select(units::path).first(conn)?;
            let admin = principal.has(Role::Admin) && unit_path.starts_with(&principal.scope_path()?);
            if row.delegator_id != principal.user_id && !admin {
                return Err(ApiError::not_found());
            }
            // Only one not yet ended nor revoked changes; of revocations sent
            // at once, the first does (the update's own condition decides).
            let now = crate::time::now();
            let revoked = diesel::update(delegations::table.find(&id))
                .filter(delegations::revoked_at.is_null().and(delegations::ends_at.gt(now)))
                .set((delegations::revoked_at.eq(now), delegations::revoked_by.eq(&principal.user_id)))
                .execute(conn)?;
            if revoked == 0 {
                audit.nothing_changed();
            }
            Ok(DelegationView::from(load(conn, &id)?.ok_or_else(ApiError::not_found)?))
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}
