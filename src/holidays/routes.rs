//! `/api/v1/holidays`: public read; the province administrator maintains it.

use actix_web::{HttpResponse, web};
use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{DayKind, Holiday};
use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::Principal;
use crate::db::schema::holidays;
use crate::domain::calendar::to_local;
use crate::domain::roles::Role;
use crate::error::{ApiError, Problem, Validator};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/holidays").route(web::get().to(list)))
        .service(web::resource("/holidays/{date}").route(web::put().to(put)).route(web::delete().to(delete)));
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// A calendar year; default: the current one. Ignored when `from` or `to` is given.
    pub year: Option<i32>,
    /// First day, inclusive (YYYY-MM-DD); default: a year before `to`.
    pub from: Option<NaiveDate>,
    /// Last day, exclusive (YYYY-MM-DD); default: a year after `from`.
    pub to: Option<NaiveDate>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HolidayList {
    pub items: Vec<Holiday>,
}

/// Non-working days and swapped working days in a period.
#[utoipa::path(get, path = "/api/v1/holidays", tag = "holidays", params(ListQuery),
    responses((status = 200, body = HolidayList), (status = 400, body = Problem), (status = 422, body = Problem)))]
pub async fn list(state: web::Data<AppState>, query: web::Query<ListQuery>) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let (from, to) = period(q.year, q.from, q.to)?;
    if to <= from || (to - from).num_days() > 3660 {
        return Err(ApiError::invalid_field("to", "`to` is after `from`, at most ten years later"));
    }
    let items = state.db.run(move |conn| Ok(super::in_range(conn, from, to)?)).await?;
    Ok(HttpResponse::Ok().json(HolidayList { items }))
}

/// `[from, to)` from the query: an explicit bound, else one year from the
/// other bound, else the calendar year (the current one in Vietnam).
fn period(
    year: Option<i32>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let year_later = |d: NaiveDate| d.checked_add_months(chrono::Months::new(12)).unwrap_or(NaiveDate::MAX);
    let year_earlier = |d: NaiveDate| d.checked_sub_months(chrono::Months::new(12)).unwrap_or(NaiveDate::MIN);
    Ok(match (from, to) {
        (Some(f), Some(t)) => (f, t),
        (Some(f), None) => (f, year_later(f)),
        (None, Some(t)) => (year_earlier(t), t),
        (None, None) => {
            let year = year.unwrap_or_else(|| to_local(chrono::Utc::now()).year());
            let first =
                NaiveDate::from_ymd_opt(year, 1, 1).ok_or_else(|| ApiError::invalid_field("year", "not a year"))?;
            (first, year_later(first))
        }
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutHoliday {
    pub kind: DayKind,
    pub name: String,
}

fn parse_date(s: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| ApiError::invalid_field("date", "a date is YYYY-MM-DD"))
}

fn require_calendar_admin(principal: &Principal) -> Result<(), ApiError> {
    principal.require_any(&[Role::Admin])?;
    if principal.is_at_root()? {
        Ok(())
    } else {
        Err(ApiError::forbidden("Only an administrator of the province manages the calendar."))
    }
}

/// Declare a day a holiday or a swapped working day (creates or replaces).
#[utoipa::path(put, path = "/api/v1/holidays/{date}", tag = "holidays", params(("date" = String, Path)),
    request_body = PutHoliday, security(("bearer" = [])),
    responses((status = 200, body = Holiday), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn put(
    state: web::Data<AppState>,
    principal: Principal,
    audit: Audit,
    date: web::Path<String>,
    body: web::Json<PutHoliday>,
) -> Result<HttpResponse, ApiError> {
    require_calendar_admin(&principal)?;
    let day = parse_date(&date)?;
    let PutHoliday { kind, name } = body.into_inner();
    let name = name.trim().to_string();
    let mut v = Validator::default();
    v.text("name", &name, 200);
    let weekend = day.weekday().number_from_monday() >= 6;
    v.check(kind != DayKind::WorkingDay || weekend, "kind", "a swapped working day falls on a weekend");
    v.check(kind != DayKind::Holiday || !weekend, "kind", "weekends are already non-working days");
    v.finish()?;
    let holiday = Holiday { date: day, kind, name };
    let stored = holiday.clone();
    audit
        .write(&state, move |conn, _| {
            diesel::delete(holidays::table.find(day)).execute(conn)?;
            diesel::insert_into(holidays::table)
                .values((holidays::day.eq(day), holidays::kind.eq(kind.as_str()), holidays::name.eq(&stored.name)))
                .execute(conn)?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Ok().json(holiday))
}

/// Remove a day from the calendar.
#[utoipa::path(delete, path = "/api/v1/holidays/{date}", tag = "holidays", params(("date" = String, Path)),
    security(("bearer" = [])), responses((status = 204, description = "Removed"), (status = 404, body = Problem)))]
pub async fn delete(
    state: web::Data<AppState>,
    principal: Principal,
    audit: Audit,
    date: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_calendar_admin(&principal)?;
    let day = parse_date(&date)?;
    audit
        .write(&state, move |conn, audit| {
            audit.status(actix_web::http::StatusCode::NO_CONTENT);
            match diesel::delete(holidays::table.find(day)).execute(conn)? {
                0 => Err(ApiError::not_found()),
                _ => Ok(()),
            }
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
