//! `/api/v1/dossiers` and `/api/v1/lookup`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::actions::{self, ActionRequest};
use super::filing::{self, Channel, FileDossier, Filing};
use super::write;
use super::{DossierRow, DossierSummary, DossierView, EventView, ListRow, Person, actor, load_visible, summary, view};
use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::Principal;
use crate::db::DbConnection;
use crate::db::schema::{dossier_events, dossier_units, dossiers, procedures, scope_units, units, users};
use crate::domain::dossier_code::DossierCode;
use crate::domain::text::contains_pattern;
use crate::domain::workflow::Status;
use crate::error::{ApiError, Problem};
use crate::pagination::{Keyset, Page};
use crate::time::utc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/dossiers").route(web::get().to(list)).route(web::post().to(create)))
        .service(web::resource("/dossiers/{id}").route(web::get().to(get)))
        .service(web::resource("/dossiers/{id}/events").route(web::get().to(events)))
        .service(web::resource("/dossiers/{id}/control-slip").route(web::get().to(super::slip::control_slip)))
        .service(web::resource("/dossiers/{id}/actions").route(web::post().to(act)))
        .service(web::resource("/lookup").route(web::get().to(lookup)));
}

/// The dossier `id` as the caller sees it, with its `ETag`.
pub async fn respond(
    state: &AppState,
    principal: Principal,
    id: String,
    status: actix_web::http::StatusCode,
) -> Result<HttpResponse, ApiError> {
    let view = state
        .db
        .run(move |conn| {
            let (row, access) = load_visible(conn, &principal, &id)?;
            let who = actor(conn, &principal, access, &row)?;
            view(conn, row, who)
        })
        .await?;
    Ok(HttpResponse::build(status).insert_header((header::ETAG, crate::domain::dossier::etag(view.version))).json(view))
}

/// File a dossier (citizen, online) or register one (clerk, counter or postal).
///
/// With an `Idempotency-Key` header, repeating the same request returns the
/// same dossier; reusing the key for another request answers 422.
#[utoipa::path(post, path = "/api/v1/dossiers", tag = "dossiers", request_body = FileDossier,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    security(("bearer" = [])),
    responses((status = 201, body = DossierView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    audit: Audit,
    req: HttpRequest,
    body: web::Json<FileDossier>,
) -> Result<HttpResponse, ApiError> {
    let key = crate::http::idempotency_key(&req)?;
    let filing = Filing {
        request: body.into_inner(),
        idempotency_key: key,
        require_verified_email: state.settings.notifications.require_verified_email_to_file,
    };
    let (settings, notifier, p) = (state.settings.dossiers.clone(), state.notifier.clone(), principal.clone());
    let id = write::create(&state, audit, move |conn, audit| {
        audit.status(actix_web::http::StatusCode::CREATED);
        filing::file(conn, audit, &p, filing, &settings, &notifier)
    })
    .await?
    .id;
    respond(&state, principal, id, actix_web::http::StatusCode::CREATED).await
}

/// One dossier, with `ETag`.
#[utoipa::path(get, path = "/api/v1/dossiers/{id}", tag = "dossiers", params(("id" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = DossierView), (status = 404, body = Problem)))]
pub async fn get(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    respond(&state, principal, id.into_inner(), actix_web::http::StatusCode::OK).await
}

/// Take an action on a dossier: `{"action": "receive"}`, `{"action": "reject", "reason": "…"}` …
///
/// Honours `If-Match` (412 when the dossier changed). An action the dossier's
/// status does not allow answers 409 with `allowed_actions`.
#[utoipa::path(post, path = "/api/v1/dossiers/{id}/actions", tag = "dossiers", request_body = ActionRequest,
    params(("id" = String, Path), ("If-Match" = Option<String>, Header,
        description = "The dossier's `ETag` (`\"3\"`) or its bare version (`3`): 412 if it has changed since")),
    security(("bearer" = [])),
    responses((status = 200, body = DossierView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn act(
    state: web::Data<AppState>,
    principal: Principal,
    audit: Audit,
    id: web::Path<String>,
    req: HttpRequest,
    body: web::Json<ActionRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.into_inner();
    request.validate()?;
    let if_match = req.headers().get(header::IF_MATCH).map(|v| v.to_str().unwrap_or("\"invalid\"").to_string());
    let (id, p, st) = (id.into_inner(), principal.clone(), state.clone());
    let counting = write::Counting::of(request.action().is_counted());
    write::change(&state, audit, Some(principal.clone()), id.clone(), counting, move |conn, audit, locked| {
        actions::apply(conn, &st, &p, audit, locked, &request, if_match.as_deref())
    })
    .await?;
    respond(&state, principal, id, actix_web::http::StatusCode::OK).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub status: Option<Status>,
    /// Procedure code.
    pub procedure: Option<String>,
    /// Current unit id (exactly this unit).
    pub unit: Option<String>,
    pub channel: Option<Channel>,
    /// Submitted on or after this local date (YYYY-MM-DD).
    pub from: Option<NaiveDate>,
    /// Submitted before this local date (YYYY-MM-DD).
    pub to: Option<NaiveDate>,
    pub overdue: Option<bool>,
    /// Dossier code or applicant name, with or without diacritics.
    pub q: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// Narrows a boxed dossier query to overdue (`Some(true)`) or not overdue
/// (`Some(false)`) dossiers at `now`, by `domain::dossier::overdue` in SQL:
/// past the appointment date (by date) while the clock runs, or paused for
/// the applicant only once past it. Shared by `/dossiers` and `/queue`.
#[macro_export]
macro_rules! filter_overdue {
    ($sql:expr, $overdue:expr, $now:expr, $conn:expr) => {{
        use $crate::domain::workflow::Status;
        let running: Vec<String> = Status::CLOCK_RUNNING.iter().map(|s| format!("'{}'", s.as_str())).collect();
        let paused = $crate::db::backend::local_day_start(&*$conn, "dossiers.paused_at");
        let today = $crate::domain::calendar::local_day_start($now);
        let late = || {
            diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
                "COALESCE((dossiers.status IN ({}) AND dossiers.due_at < ",
                running.join(", ")
            ))
            .bind::<diesel::sql_types::Timestamp, _>(today)
            .sql(&format!(
                ") OR (dossiers.status = '{}' AND dossiers.due_at < {paused}), FALSE)",
                Status::AwaitingApplicant.as_str()
            ))
        };
        match $overdue {
            Some(true) => $sql.filter(late()),
            Some(false) => $sql.filter(diesel::dsl::not(late())),
            None => $sql,
        }
    }};
}

/// Dossiers the caller may see, newest first: citizens their own, staff those
/// that are or were in their unit subtree.
#[utoipa::path(get, path = "/api/v1/dossiers", tag = "dossiers", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<DossierSummary>), (status = 400, body = Problem)))]
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let keyset = Keyset::parse(q.cursor.as_deref(), q.limit)?;
    let (fetch, after) = (keyset.fetch(), keyset.after.clone());
    let now = crate::time::now();
    let rows = state
        .db
        .run(move |conn| {
            let mut sql = crate::dossier_listing!().order(dossiers::id.desc()).limit(fetch).into_boxed();
            if principal.unit_id.is_some() {
                let scope = principal.scope_path()?;
                sql = sql.filter(
                    dossiers::id.eq_any(
                        dossier_units::table
                            .inner_join(scope_units.on(scope_units.field(units::id).eq(dossier_units::unit_id)))
                            .filter(scope_units.field(units::path).like(format!("{scope}%")))
                            .select(dossier_units::dossier_id),
                    ),
                );
            } else {
                sql = sql.filter(dossiers::applicant_user_id.eq(principal.user_id.clone()));
            }
            if let Some(s) = q.status {
                sql = sql.filter(dossiers::status.eq(s.as_str()));
            }
            if let Some(code) = q.procedure {
                sql = sql.filter(procedures::code.eq(code));
            }
            if let Some(unit) = q.unit {
                sql = sql.filter(dossiers::unit_id.eq(unit));
            }
            if let Some(channel) = q.channel {
                sql = sql.filter(dossiers::channel.eq(channel.as_str()));
            }
            if let Some(from) = q.from {
                sql = sql.filter(dossiers::submitted_at.ge(local_midnight(from)));
            }
            if let Some(to) = q.to {
                sql = sql.filter(dossiers::submitted_at.lt(local_midnight(to)));
            }
            sql = crate::filter_overdue!(sql, q.overdue, now, conn);
            if let Some(text) = q.q {
                sql = sql.filter(dossiers::search_text.like(contains_pattern(&text)).escape('\\'));
            }
            if let Some(after) = after {
                sql = sql.filter(dossiers::id.lt(after));
            }
            Ok(sql.load::<ListRow>(conn)?)
        })
        .await?;
    let items = rows.into_iter().map(|r| summary(r, now)).collect();
    Ok(HttpResponse::Ok().json(keyset.page(items, |d: &DossierSummary| d.id.clone())))
}

pub fn local_midnight(d: NaiveDate) -> NaiveDateTime {
    super::stored(d.and_hms_opt(0, 0, 0).expect("midnight"))
}

/// The processing-control slip: every action on the dossier, oldest first.
#[utoipa::path(get, path = "/api/v1/dossiers/{id}/events", tag = "dossiers", params(("id" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = Vec<EventView>), (status = 404, body = Problem)))]
pub async fn events(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let events = state
        .db
        .run(move |conn| {
            load_visible(conn, &principal, &id)?;
            load_events(conn, &id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(events))
}

type EventRow = (
    String,
    NaiveDateTime,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    String,
    (Option<String>, Option<String>),
    Option<String>,
    String,
    String,
);

pub(super) fn load_events(conn: &mut DbConnection, id: &str) -> Result<Vec<EventView>, ApiError> {
    use crate::db::schema::delegators;
    let rows: Vec<EventRow> = dossier_events::table
        .left_join(users::table.on(users::id.nullable().eq(dossier_events::actor_id)))
        .left_join(units::table.on(units::id.nullable().eq(dossier_events::unit_id)))
        .left_join(delegators.on(delegators.field(users::id).nullable().eq(dossier_events::on_behalf_of)))
        .filter(dossier_events::dossier_id.eq(id))
        .order(dossier_events::id.asc())
        .select((
            dossier_events::id,
            dossier_events::at,
            dossier_events::action,
            dossier_events::from_status,
            dossier_events::to_status,
            dossier_events::actor_id,
            users::full_name.nullable(),
            dossier_events::actor_role,
            (dossier_events::on_behalf_of, delegators.field(users::full_name).nullable()),
            units::code.nullable(),
            dossier_events::summary,
            dossier_events::payload,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(
                id,
                at,
                action,
                from_status,
                to_status,
                actor_id,
                actor_name,
                actor_role,
                (on_behalf_of, delegator_name),
                unit_code,
                summary,
                payload,
            )| {
                EventView {
                    id,
                    at: utc(at),
                    action,
                    from_status,
                    to_status,
                    actor_id,
                    actor_name,
                    actor_role,
                    on_behalf_of: on_behalf_of.map(|id| Person { id, name: delegator_name.unwrap_or_default() }),
                    unit_code,
                    summary,
                    payload: serde_json::from_str(&payload).unwrap_or_default(),
                }
            },
        )
        .collect())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LookupQuery {
    pub code: String,
    /// The applicant's national ID (CCCD).
    pub national_id: String,
}

/// What the public lookup tells: status and appointment date, nothing else.
#[derive(Debug, Serialize, ToSchema)]
pub struct LookupResult {
    pub code: String,
    pub status: Status,
    pub national_status: u8,
    pub due_at: Option<DateTime<Utc>>,
}

/// Public status lookup by dossier code and the applicant's national ID.
///
/// Throttled per client address, and per dossier code: after a few wrong
/// national IDs the code's lookup is locked for a while (429 with
/// `Retry-After`).
#[utoipa::path(get, path = "/api/v1/lookup", tag = "dossiers", params(LookupQuery),
    responses((status = 200, body = LookupResult), (status = 404, body = Problem), (status = 429, body = Problem)))]
pub async fn lookup(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<LookupQuery>,
) -> Result<HttpResponse, ApiError> {
    let LookupQuery { code, national_id } = query.into_inner();
    let code = code.trim().to_string();
    let address = crate::http::client_address(&req).map(|a| a.to_string()).unwrap_or_default();
    state.throttles.lookup_address.attempt(&address)?;
    state.throttles.lookup_code.check(&code)?;
    let lookup = code.clone();
    let found: Option<DossierRow> = match DossierCode::parse(&code) {
        Err(_) => None,
        Ok(_) => {
            state
                .db
                .run(move |conn| {
                    Ok(dossiers::table
                        .filter(dossiers::code.eq(&lookup).and(dossiers::applicant_national_id.eq(national_id.trim())))
                        .select(DossierRow::as_select())
                        .first(conn)
                        .optional()?)
                })
                .await?
        }
    };
    let Some(row) = found else {
        state.throttles.lookup_code.record(&code);
        return Err(ApiError::not_found());
    };
    Ok(HttpResponse::Ok().json(LookupResult {
        national_status: row.national_status(),
        status: row.status(),
        code: row.code,
        due_at: row.due_at.map(utc),
    }))
}
