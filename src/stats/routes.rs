//! `/api/v1/stats` and `/api/v1/stats/scorecard`.

use actix_web::{HttpResponse, web};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::steps::StepStatistics;
use super::{GroupBy, Statistics};
use crate::app::AppState;
use crate::auth::Principal;
use crate::db::DbConnection;
use crate::domain::roles::Role;
use crate::domain::scorecard::{Scorecard, score};
use crate::error::{ApiError, Problem};
use crate::units::UnitRow;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/stats").route(web::get().to(stats)))
        .service(web::resource("/stats/scorecard").route(web::get().to(scorecard)))
        .service(web::resource("/stats/steps").route(web::get().to(steps)));
}

/// The period and subtree of a statistics request.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    /// Root of the subtree (unit id); default the caller's unit.
    pub unit: Option<String>,
    /// First local date, inclusive; default 1 January of this year.
    pub from: Option<NaiveDate>,
    /// Last local date, exclusive; default tomorrow.
    pub to: Option<NaiveDate>,
    /// `unit` (default), `level`, `procedure`, `month`, or `desk` (the desk
    /// that received the dossiers).
    pub group_by: Option<GroupBy>,
}

impl StatsQuery {
    /// The caller's right to statistics, the unit (in scope, else 404) and the period.
    pub fn resolve(
        &self,
        conn: &mut DbConnection,
        principal: &Principal,
    ) -> Result<(UnitRow, NaiveDate, NaiveDate), ApiError> {
        principal.require_any(&[Role::Auditor, Role::Approver, Role::Admin])?;
        let scope = principal.scope_path()?;
        let id = self.unit.clone().or_else(|| principal.unit_id.clone()).unwrap_or_default();
        let unit = crate::units::find_in_scope(conn, &id, &scope)?.ok_or_else(ApiError::not_found)?;
        let today = crate::dossiers::local(crate::time::now()).date();
        let from = self.from.unwrap_or_else(|| NaiveDate::from_ymd_opt(today.year(), 1, 1).expect("1 January"));
        let to = self.to.unwrap_or_else(|| today.succ_opt().expect("in range"));
        if to <= from || (to - from).num_days() > 5 * 366 {
            return Err(ApiError::invalid_field("to", "`to` is after `from`, at most five years later"));
        }
        Ok((unit, from, to))
    }

    /// The statistics this request asks for (`group_by`, default by unit),
    /// with the portal's sync figure when dossiers are mirrored there.
    pub async fn statistics(self, state: &AppState, principal: Principal) -> Result<Statistics, ApiError> {
        let portal = &state.settings.portal;
        let overdue_after = portal.mirrors().map(|_| chrono::Duration::minutes(portal.overdue_after_minutes));
        let payable_online = !state.settings.payments.providers.is_empty();
        self.computed(state, principal, move |conn, unit, from, to, group_by| {
            super::compute(conn, unit, from, to, group_by, overdue_after, payable_online)
        })
        .await
    }

    /// The step statistics this request asks for (`group_by`, default by unit).
    pub async fn step_statistics(self, state: &AppState, principal: Principal) -> Result<StepStatistics, ApiError> {
        self.computed(state, principal, super::steps::compute).await
    }

    /// What `compute` makes of the caller's subtree, period and grouping.
    async fn computed<T: Send + 'static>(
        self,
        state: &AppState,
        principal: Principal,
        compute: impl FnOnce(&mut DbConnection, &UnitRow, NaiveDate, NaiveDate, GroupBy) -> diesel::QueryResult<T>
        + Send
        + 'static,
    ) -> Result<T, ApiError> {
        state
            .db
            .run(move |conn| {
                let (unit, from, to) = self.resolve(conn, &principal)?;
                Ok(compute(conn, &unit, from, to, self.group_by.unwrap_or(GroupBy::Unit))?)
            })
            .await
    }
}

/// Every figure of DESIGN.md §6 with numerator and denominator, for the
/// subtree of a unit and a period, grouped by unit, level, procedure or
/// month, with the total and level subtotals (auditors, approvers, admins).
#[utoipa::path(get, path = "/api/v1/stats", tag = "statistics", params(StatsQuery), security(("bearer" = [])),
    responses((status = 200, body = Statistics), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn stats(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    let stats = query.into_inner().statistics(&state, principal).await?;
    Ok(HttpResponse::Ok().json(stats))
}

/// Where dossiers are held up: per step of the internal processes, the
/// steps completed in the period, those completed late, their total and
/// average working minutes late — over the subtree, and per unit that did
/// the step, level, procedure or month (docs/processes.md).
#[utoipa::path(get, path = "/api/v1/stats/steps", tag = "statistics", params(StatsQuery), security(("bearer" = [])),
    responses((status = 200, body = StepStatistics), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn steps(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    let stats = query.into_inner().step_statistics(&state, principal).await?;
    Ok(HttpResponse::Ok().json(stats))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScorecardResponse {
    pub unit_id: String,
    pub unit_code: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    #[serde(flatten)]
    pub scorecard: Scorecard,
}

/// The service-quality scorecard (0–100) of a subtree and period, each
/// sub-indicator with its value, threshold, weight and points.
#[utoipa::path(get, path = "/api/v1/stats/scorecard", tag = "statistics", params(StatsQuery), security(("bearer" = [])),
    responses((status = 200, body = ScorecardResponse), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn scorecard(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    // The scorecard scores the total: any grouping will do, levels are the cheapest.
    let q = StatsQuery { group_by: Some(GroupBy::Level), ..query.into_inner() };
    let stats = q.statistics(&state, principal).await?;
    Ok(HttpResponse::Ok().json(ScorecardResponse {
        scorecard: score(&state.settings.scorecard, |name| {
            stats.total.figures.rate(name).cloned().or_else(|| stats.subtree_rate(name))
        }),
        unit_id: stats.unit_id,
        unit_code: stats.unit_code,
        from: stats.from,
        to: stats.to,
    }))
}
