//! The 18-point assessment of dossiers (docs/assessment.md): gathered and
//! stored when a dossier's result is issued (`record`, called by the action
//! under the dossier's lock, `src/dossiers/actions.rs`), lowered when a
//! complaint about it is found substantiated (`substantiated_complaint`,
//! `src/complaints.rs`), shown by `GET /dossiers/{id}/assessment`. The
//! rules are `src/domain/assessment.rs`; the statistics count each
//! dossier's points on the day its result was issued (`domain::daily`).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};
use diesel::dsl::count_star;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::auth::Principal;
use crate::db::DbConnection;
use crate::db::schema::{complaints, dossier_assessments, dossier_facts, dossiers, procedures, ratings, units};
use crate::domain::assessment::{Assessment, Index, Inputs, MAX_POINTS, Steps, UnitComplaints, UnitOnline};
use crate::domain::complaint::State;
use crate::dossiers::routes::local_midnight;
use crate::error::{ApiError, Problem, ProblemCode};
use crate::stats::daily::{Grouping, sums};
use crate::time::utc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/dossiers/{id}/assessment").route(web::get().to(show)));
}

/// The local 1 January of the year holding `t` (UTC), and the next day after `t`.
fn year_to_date(t: NaiveDateTime) -> (NaiveDate, NaiveDate) {
    let day = crate::dossiers::local(t).date();
    (NaiveDate::from_ymd_opt(day.year(), 1, 1).expect("1 January"), day.succ_opt().unwrap_or(day))
}

/// What the indices read of dossier `id`, whose result was issued at
/// `result_at`: its own data, its procedure's, and its receiving unit's
/// complaints and online service this year so far. Seven queries.
fn inputs(
    conn: &mut DbConnection,
    id: &str,
    result_at: NaiveDateTime,
    settings: &crate::config::AssessmentSettings,
) -> Result<Inputs, ApiError> {
    type Own = (Option<NaiveDateTime>, i32, String, String, bool, i32, i32, i32, Option<String>, String, String);
    let (due, supplement_requests, channel, unit_id, e_result, early, on_time, late, national_code, level, code): Own =
        dossiers::table
            .inner_join(dossier_facts::table)
            .inner_join(procedures::table)
            .inner_join(units::table.on(units::id.eq(dossiers::receiving_unit_id)))
            .filter(dossiers::id.eq(id))
            .select((
                dossiers::original_due_at,
                dossiers::supplement_requests,
                dossiers::channel,
                dossiers::receiving_unit_id,
                dossier_facts::e_result,
                dossier_facts::steps_early,
                dossier_facts::steps_on_time,
                dossier_facts::steps_late,
                procedures::national_code,
                units::level,
                units::code,
            ))
            .first(conn)?;
    let level: crate::domain::units::Level = level.parse().map_err(ApiError::internal)?;
    let substantiated_complaint: bool = diesel::select(diesel::dsl::exists(
        complaints::table.filter(complaints::dossier_id.eq(id).and(complaints::substantiated.eq(true))),
    ))
    .get_result(conn)?;
    let (from, to) = year_to_date(result_at);
    let answered = || {
        complaints::table.filter(
            complaints::unit_id
                .eq(&unit_id)
                .and(complaints::state.eq(State::Answered.as_str()))
                .and(complaints::answered_at.ge(local_midnight(from))),
        )
    };
    // Still open after the day its answer was due (`domain::complaint::overdue`).
    let open_late: i64 = complaints::table
        .filter(
            complaints::unit_id
                .eq(&unit_id)
                .and(complaints::state.eq(State::Open.as_str()))
                .and(complaints::due_at.lt(crate::domain::calendar::local_day_start(result_at))),
        )
        .select(count_star())
        .first(conn)?;
    let unit_complaints = UnitComplaints {
        due: answered().select(count_star()).first::<i64>(conn)? + open_late,
        on_time: answered().filter(complaints::answered_on_time.eq(true)).select(count_star()).first(conn)?,
    };
    let at_level =
        || procedures::table.filter(procedures::active.and(procedures::levels.like(format!("%{}%", level.as_str()))));
    let procedures: i64 = at_level().select(count_star()).first(conn)?;
    // Every procedure of the catalogue is an online public service, fully
    // or in part (`procedures::OnlineLevel`).
    let year = sums(conn, Grouping::Unit, &[unit_id.as_str()], from, to)?.pop().map(|(_, d)| d).unwrap_or_default();
    Ok(Inputs {
        due: due.unwrap_or(result_at),
        result_at,
        steps: Steps { early, on_time, late },
        supplement_requests,
        filed_online: channel == "online",
        e_result,
        level,
        decides_at_desk: settings.decides_at_desk(&code),
        national_code: national_code.is_some(),
        substantiated_complaint,
        unit_complaints,
        unit_online: UnitOnline {
            procedures,
            procedures_online: procedures,
            received: year.received,
            received_online: year.received_online,
            late: year.finished - year.finished_within,
        },
    })
}

/// A dossier's stored assessment (`dossier_assessments`).
#[derive(Insertable)]
#[diesel(table_name = dossier_assessments)]
pub struct AssessmentRow {
    dossier_id: String,
    assessed_at: NaiveDateTime,
    total: i32,
    indices: String,
}

impl AssessmentRow {
    pub fn new(dossier_id: &str, a: &Assessment, at: NaiveDateTime) -> Self {
        let indices = serde_json::to_string(&a.indices).expect("indices serialise");
        Self { dossier_id: dossier_id.to_string(), assessed_at: at, total: a.total, indices }
    }
}

/// Stores dossier `id`'s assessment made at `at`, or replaces its indices.
fn store(conn: &mut DbConnection, id: &str, a: &Assessment, at: NaiveDateTime) -> QueryResult<()> {
    let row = AssessmentRow::new(id, a, at);
    let values = (dossier_assessments::total.eq(row.total), dossier_assessments::indices.eq(&row.indices));
    let replaced = diesel::update(dossier_assessments::table.find(id)).set(values).execute(conn)?;
    if replaced == 0 {
        diesel::insert_into(dossier_assessments::table).values(&row).execute(conn)?;
    }
    Ok(())
}

fn load(conn: &mut DbConnection, id: &str) -> Result<Option<(NaiveDateTime, Assessment)>, ApiError> {
    let row: Option<(NaiveDateTime, i32, String)> = dossier_assessments::table
        .find(id)
        .select((dossier_assessments::assessed_at, dossier_assessments::total, dossier_assessments::indices))
        .first(conn)
        .optional()?;
    row.map(|(at, total, indices)| {
        let indices: Vec<Index> = serde_json::from_str(&indices).map_err(ApiError::internal)?;
        Ok((at, Assessment { indices, total }))
    })
    .transpose()
}

/// Assesses dossier `id`, whose result was issued at `result_at`. The
/// caller holds the dossier's lock, in the transaction that issues it.
pub fn record(
    conn: &mut DbConnection,
    id: &str,
    result_at: NaiveDateTime,
    settings: &crate::config::AssessmentSettings,
) -> Result<(), ApiError> {
    let inputs = inputs(conn, id, result_at, settings)?;
    Ok(store(conn, id, &Assessment::assess(&inputs), result_at)?)
}

/// A complaint about dossier `id` was found substantiated: its assessment,
/// if it has one yet, loses index 7 (one not assessed yet reads the
/// complaint when it is). The caller holds the dossier's lock.
pub fn substantiated_complaint(conn: &mut DbConnection, id: &str) -> Result<(), ApiError> {
    if let Some((at, a)) = load(conn, id)? {
        store(conn, id, &a.with_substantiated_complaint(), at)?;
    }
    Ok(())
}

/// The applicant's own answers to the rating form.
#[derive(Debug, Serialize, ToSchema)]
pub struct CitizenAnswers {
    pub reception: String,
    pub processing_time: String,
    pub staff_conduct: String,
    pub result: String,
    /// No criterion dissatisfied.
    pub satisfied: bool,
}

/// A dossier's assessment.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssessmentView {
    pub dossier_id: String,
    /// When the result was issued.
    pub assessed_at: DateTime<Utc>,
    /// The nine indices, 1 to 9, each 0 to 2 points with the reason.
    pub indices: Vec<Index>,
    pub total: i32,
    /// 18.
    pub max: i32,
    /// `total / max`, in percent, to one decimal.
    pub percent: f64,
    /// The applicant's answers, once they rated the dossier.
    pub citizen: Option<CitizenAnswers>,
}

/// A dossier's 18-point assessment, each index with the reason for its
/// points: its applicant and staff who see the dossier; 409
/// `not_assessed` until its result is issued (and for a result issued
/// before assessments were kept).
#[utoipa::path(get, path = "/api/v1/dossiers/{id}/assessment", tag = "dossiers", params(("id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = AssessmentView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn show(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let view = state
        .db
        .run(move |conn| {
            crate::dossiers::load_visible(conn, &principal, &id)?;
            let (at, a) = load(conn, &id)?.ok_or_else(|| {
                ApiError::conflict(
                    ProblemCode::NotAssessed,
                    "A dossier is assessed when its result is issued; this one has no assessment.",
                )
            })?;
            let citizen = ratings::table
                .find(&id)
                .select((
                    ratings::reception,
                    ratings::processing_time,
                    ratings::staff_conduct,
                    ratings::result,
                    ratings::satisfied,
                ))
                .first::<(String, String, String, String, bool)>(conn)
                .optional()?
                .map(|(reception, processing_time, staff_conduct, result, satisfied)| CitizenAnswers {
                    reception,
                    processing_time,
                    staff_conduct,
                    result,
                    satisfied,
                });
            Ok(AssessmentView {
                dossier_id: id,
                assessed_at: utc(at),
                percent: (f64::from(a.total) * 1000.0 / f64::from(MAX_POINTS)).round() / 10.0,
                indices: a.indices,
                total: a.total,
                max: MAX_POINTS,
                citizen,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}
