//! `/api/v1/queue`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::Principal;
use crate::db::DbConnection;
use crate::db::schema::{dossiers, procedures};
use crate::domain::roles::Role;
use crate::domain::workflow::Status;
use crate::dossiers::actions::{self, ActionRequest};
use crate::dossiers::routes::respond;
use crate::dossiers::write;
use crate::dossiers::{DossierSummary, ListRow, summary};
use crate::error::{ApiError, Problem};
use crate::pagination::{Keyset, Page};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/queue").route(web::get().to(queue)))
        .service(web::resource("/queue/claim").route(web::post().to(claim)));
}

/// The statuses that wait for each role.
pub fn waiting_for(roles: &[Role]) -> Vec<&'static str> {
    let mut statuses: Vec<Status> = Vec::new();
    for role in roles {
        statuses.extend(match role {
            Role::Clerk => [Status::Submitted, Status::ResultReady].as_slice(),
            Role::Specialist => [Status::Received, Status::InProgress].as_slice(),
            Role::Approver => [Status::PendingApproval].as_slice(),
            _ => [].as_slice(),
        });
    }
    statuses.sort_by_key(|s| s.as_str());
    statuses.dedup();
    statuses.into_iter().map(Status::as_str).collect()
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    pub status: Option<Status>,
    /// Procedure code.
    pub procedure: Option<String>,
    pub overdue: Option<bool>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

const CURSOR_TIME: &str = "%Y-%m-%dT%H:%M:%S%.6f";

/// What waits for the caller, earliest appointment first: clerks the
/// dossiers to receive and to return, specialists the unassigned received
/// ones and their own in progress, approvers those pending approval.
#[utoipa::path(get, path = "/api/v1/queue", tag = "queue", params(QueueQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<DossierSummary>), (status = 403, body = Problem)))]
pub async fn queue(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<QueueQuery>,
) -> Result<HttpResponse, ApiError> {
    principal.require_any(&[Role::Clerk, Role::Specialist, Role::Approver])?;
    let q = query.into_inner();
    let keyset = Keyset::parse(q.cursor.as_deref(), q.limit)?;
    let after = match &keyset.after {
        Some(c) => Some(
            c.split_once('|')
                .and_then(|(t, id)| NaiveDateTime::parse_from_str(t, CURSOR_TIME).ok().map(|t| (t, id.to_string())))
                .ok_or_else(|| ApiError::invalid_field("cursor", "not a cursor returned by this API"))?,
        ),
        None => None,
    };
    let fetch = keyset.fetch();
    let now = crate::time::now();
    let rows = state
        .db
        .run(move |conn| {
            let scope = principal.scope_path()?;
            let in_scope = crate::units::ids_in_subtree(conn, &scope)?;
            let mut sql = crate::dossier_listing!()
                .filter(dossiers::unit_id.eq_any(in_scope))
                .filter(dossiers::status.eq_any(waiting_for(&principal.roles)))
                // In-progress dossiers wait only for their assignee.
                .filter(
                    dossiers::status
                        .ne(Status::InProgress.as_str())
                        .or(dossiers::assignee_id.eq(principal.user_id.clone())),
                )
                .order((dossiers::queue_at.asc(), dossiers::id.asc()))
                .limit(fetch)
                .into_boxed();
            if let Some(s) = q.status {
                sql = sql.filter(dossiers::status.eq(s.as_str()));
            }
            if let Some(code) = q.procedure {
                sql = sql.filter(procedures::code.eq(code));
            }
            sql = crate::filter_overdue!(sql, q.overdue, now);
            if let Some((t, id)) = after {
                sql = sql.filter(dossiers::queue_at.gt(t).or(dossiers::queue_at.eq(t).and(dossiers::id.gt(id))));
            }
            Ok(sql.load::<ListRow>(conn)?)
        })
        .await?;
    let page = keyset.page(rows, |(row, _, _)| format!("{}|{}", row.queue_at.format(CURSOR_TIME), row.id));
    let items = page.items.into_iter().map(|r| summary(r, now)).collect();
    Ok(HttpResponse::Ok().json(Page { items, next_cursor: page.next_cursor }))
}

/// Unassigned received dossiers, written as the predicate of the partial
/// index `dossiers_claimable_idx` (literally: a bound parameter would keep
/// the planners from using it).
const CLAIMABLE: &str = "dossiers.status = 'received' AND dossiers.assignee_id IS NULL";

/// The next unassigned received dossier of the caller's subtree, locked for
/// this transaction. PostgreSQL skips rows other claimers hold (`FOR UPDATE
/// SKIP LOCKED`), so concurrent claims — from any instance — get different
/// dossiers; SQLite's single writer serialises claims.
fn next_claimable(conn: &mut DbConnection, scope: &str) -> QueryResult<Option<String>> {
    let in_scope: Vec<String> =
        crate::units::ids_in_subtree(conn, scope)?.iter().map(|id| crate::db::text_literal(id)).collect();
    // The subtree through COALESCE, which no index serves: the planners then
    // read the claimable index in claiming order and stop at the first row of
    // the subtree, where SQLite would read the subtree's whole queue by unit
    // and sort it (60 ms per claim at a million dossiers).
    let claimable =
        format!("COALESCE(dossiers.unit_id, dossiers.unit_id) IN ({}) AND {CLAIMABLE}", in_scope.join(", "));
    macro_rules! candidate {
        () => {
            dossiers::table
                .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(&claimable))
                .order((dossiers::queue_at.asc(), dossiers::id.asc()))
                .select(dossiers::id)
                .limit(1)
        };
    }
    crate::first_unlocked!(conn, candidate!())
}

/// Claim the next unassigned received dossier (specialists). 204 when the
/// queue is empty.
#[utoipa::path(post, path = "/api/v1/queue/claim", tag = "queue", security(("bearer" = [])),
    responses((status = 200, body = crate::dossiers::DossierView), (status = 204, description = "Nothing to claim"),
        (status = 403, body = Problem)))]
pub async fn claim(state: web::Data<AppState>, principal: Principal, audit: Audit) -> Result<HttpResponse, ApiError> {
    principal.require_any(&[Role::Specialist])?;
    let (p, st) = (principal.clone(), state.clone());
    let claimed = audit
        .write(&state, move |conn, audit| {
            let scope = p.scope_path()?;
            let Some(id) = next_claimable(conn, &scope)? else {
                audit.status(StatusCode::NO_CONTENT);
                return Ok(None);
            };
            audit.target(&id);
            write::change_in(conn, audit, Some(&p), &id, write::Counting::Uncounted, |conn, audit, locked| {
                actions::apply(conn, &st, &p, audit, locked, &ActionRequest::Claim {}, None)
            })?;
            Ok(Some(id))
        })
        .await?;
    match claimed {
        Some(id) => respond(&state, principal, id, StatusCode::OK).await,
        None => Ok(HttpResponse::NoContent().finish()),
    }
}
