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
use crate::db::schema::{dossier_processes, dossiers, procedures};
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

/// The roles that work steps.
const STEP_ROLES: [Role; 3] = [Role::Clerk, Role::Specialist, Role::Approver];

/// The caller's roles that work steps.
pub fn step_roles(roles: &[Role]) -> Vec<&'static str> {
    STEP_ROLES.into_iter().filter(|r| roles.contains(r)).map(Role::as_str).collect()
}

/// The dossiers that wait for user `$user_id` of `$roles` (of a query that
/// joins `dossier_processes`): those they hold, those waiting in the queue of
/// a step done by one of their roles, and for clerks those to receive and to
/// return. The queue and the staff digest read it.
#[macro_export]
macro_rules! waiting_for {
    ($user_id:expr, $roles:expr) => {{
        use $crate::db::schema::{dossier_processes, dossiers};
        use $crate::domain::roles::Role;
        use $crate::domain::workflow::Status;
        let roles: &[Role] = $roles;
        let at_desk: Vec<&str> = if roles.contains(&Role::Clerk) {
            [Status::Submitted, Status::ResultReady].map(Status::as_str).to_vec()
        } else {
            Vec::new()
        };
        let at_a_step = [Status::Received, Status::InProgress, Status::PendingApproval].map(Status::as_str);
        dossiers::status.eq_any(at_desk).or(dossiers::status.eq_any(at_a_step).and(
            dossiers::assignee_id.eq($user_id).or(dossiers::assignee_id
                .is_null()
                .and(dossier_processes::step_role.eq_any($crate::queue::routes::step_roles(roles)))),
        ))
    }};
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    pub status: Option<Status>,
    /// Procedure code.
    pub procedure: Option<String>,
    pub overdue: Option<bool>,
    /// Only dossiers whose current step is due within
    /// `dossiers.due_soon_working_hours` working hours (and not yet late).
    pub due_soon: Option<bool>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

const CURSOR_TIME: &str = "%Y-%m-%dT%H:%M:%S%.6f";

/// What waits for the caller, earliest appointment first: the dossiers they
/// hold, those waiting in the queue of a step done by one of their roles
/// (docs/processes.md), and for clerks the dossiers to receive and to return.
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
    let hours = state.settings.dossiers.office_hours.clone();
    let soon_minutes = state.settings.dossiers.due_soon_working_hours * 60;
    let rows = state
        .db
        .run(move |conn| {
            let scope = principal.scope_path()?;
            let in_scope = crate::units::ids_in_subtree(conn, &scope)?;
            let mut sql = crate::dossier_listing!()
                .left_join(dossier_processes::table)
                .filter(dossiers::unit_id.eq_any(in_scope))
                .filter(crate::waiting_for!(principal.user_id.clone(), &principal.roles))
                .order((dossiers::queue_at.asc(), dossiers::id.asc()))
                .limit(fetch)
                .into_boxed();
            if let Some(s) = q.status {
                sql = sql.filter(dossiers::status.eq(s.as_str()));
            }
            if let Some(code) = q.procedure {
                sql = sql.filter(procedures::code.eq(code));
            }
            sql = crate::filter_overdue!(sql, q.overdue, now, conn);
            if let Some(soon) = q.due_soon {
                let local_now = crate::dossiers::local(now);
                let until =
                    crate::dossiers::calendar_from(conn, now)?.add_working_minutes(&hours, local_now, soon_minutes);
                let due_soon = dossiers::status
                    .eq_any(Status::CLOCK_RUNNING.map(Status::as_str))
                    .and(dossier_processes::step_due_at.gt(now))
                    .and(dossier_processes::step_due_at.le(crate::dossiers::stored(until)));
                // A dossier at no step (to receive, say) is never due soon.
                sql = if soon {
                    sql.filter(due_soon.assume_not_null())
                } else {
                    sql.filter(
                        dossier_processes::step_due_at.is_null().or(diesel::dsl::not(due_soon.assume_not_null())),
                    )
                };
            }
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

/// Dossiers waiting in a step's queue, written as the predicate of the
/// partial index `dossiers_claimable_idx` (literally: a bound parameter
/// would keep the planners from using it).
const CLAIMABLE: &str =
    "dossiers.status IN ('received', 'in_progress', 'pending_approval') AND dossiers.assignee_id IS NULL";

/// The next dossier of the caller's subtree waiting in the queue of a step
/// done by one of `roles`, locked for this transaction. PostgreSQL skips rows
/// other claimers hold (`FOR UPDATE SKIP LOCKED`), so concurrent claims —
/// from any instance — get different dossiers; SQLite's single writer
/// serialises claims.
fn next_claimable(conn: &mut DbConnection, scope: &str, roles: &[&str]) -> QueryResult<Option<String>> {
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
                .inner_join(dossier_processes::table)
                .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(&claimable))
                .filter(dossier_processes::step_role.eq_any(roles))
                .order((dossiers::queue_at.asc(), dossiers::id.asc()))
                .select(dossiers::id)
                .limit(1)
        };
    }
    crate::first_unlocked!(conn, candidate!())
}

/// Claim the next dossier waiting in the queue of a step done by one of the
/// caller's roles (docs/processes.md). 204 when the queue is empty.
#[utoipa::path(post, path = "/api/v1/queue/claim", tag = "queue", security(("bearer" = [])),
    responses((status = 200, body = crate::dossiers::DossierView), (status = 204, description = "Nothing to claim"),
        (status = 403, body = Problem)))]
pub async fn claim(state: web::Data<AppState>, principal: Principal, audit: Audit) -> Result<HttpResponse, ApiError> {
    principal.require_any(&STEP_ROLES)?;
    let (p, st) = (principal.clone(), state.clone());
    let claimed = audit
        .write(&state, move |conn, audit| {
            let scope = p.scope_path()?;
            let Some(id) = next_claimable(conn, &scope, &step_roles(&p.roles))? else {
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
