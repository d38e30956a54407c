//! `POST /api/v1/dossiers/{id}/rating` and `GET /api/v1/ratings`.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::Principal;
use crate::db::schema::{dossiers, ratings, scope_units, units};
use crate::domain::dossier::{self as domain, Rated};
use crate::domain::roles::Role;
use crate::dossiers::write::Counting::Counted;
use crate::dossiers::write::{self, Locked};
use crate::dossiers::{Access, NewEvent};
use crate::error::{ApiError, Problem, Validator};
use crate::pagination::{Keyset, Page};
use crate::time::utc;
use actix_web::http::StatusCode;

use crate::domain::dossier::RATING_CHANGEABLE_DAYS as CHANGEABLE_DAYS;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/dossiers/{id}/rating").route(web::post().to(rate)))
        .service(web::resource("/ratings").route(web::get().to(list)));
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Satisfaction {
    VerySatisfied,
    Satisfied,
    Dissatisfied,
}

impl Satisfaction {
    fn as_str(self) -> &'static str {
        match self {
            Self::VerySatisfied => "very_satisfied",
            Self::Satisfied => "satisfied",
            Self::Dissatisfied => "dissatisfied",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "very_satisfied" => Self::VerySatisfied,
            "satisfied" => Self::Satisfied,
            _ => Self::Dissatisfied,
        }
    }
}

/// One judgement per criterion of the national rating form.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingRequest {
    /// Reception and guidance.
    pub reception: Satisfaction,
    pub processing_time: Satisfaction,
    pub staff_conduct: Satisfaction,
    pub result: Satisfaction,
    pub comment: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RatingView {
    pub dossier_id: String,
    pub dossier_code: String,
    pub reception: Satisfaction,
    pub processing_time: Satisfaction,
    pub staff_conduct: Satisfaction,
    pub result: Satisfaction,
    pub comment: Option<String>,
    /// No criterion is dissatisfied (what the satisfaction rate counts).
    pub satisfied: bool,
    /// Some criterion is dissatisfied: flagged for the unit.
    pub flagged: bool,
    pub rated_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub changeable_until: DateTime<Utc>,
}

type RatingRow =
    (String, String, String, String, String, String, Option<String>, bool, bool, NaiveDateTime, NaiveDateTime);

fn view(r: RatingRow) -> RatingView {
    let (
        dossier_id,
        dossier_code,
        reception,
        processing_time,
        staff_conduct,
        result,
        comment,
        satisfied,
        flagged,
        rated_at,
        updated_at,
    ) = r;
    RatingView {
        dossier_id,
        dossier_code,
        reception: Satisfaction::parse(&reception),
        processing_time: Satisfaction::parse(&processing_time),
        staff_conduct: Satisfaction::parse(&staff_conduct),
        result: Satisfaction::parse(&result),
        comment,
        satisfied,
        flagged,
        rated_at: utc(rated_at),
        updated_at: utc(updated_at),
        changeable_until: utc(rated_at + chrono::Duration::days(CHANGEABLE_DAYS)),
    }
}

macro_rules! rating_select {
    () => {
        (
            ratings::dossier_id,
            dossiers::code,
            ratings::reception,
            ratings::processing_time,
            ratings::staff_conduct,
            ratings::result,
            ratings::comment,
            ratings::satisfied,
            ratings::flagged,
            ratings::rated_at,
            ratings::updated_at,
        )
    };
}

/// Rate a finished dossier (its applicant): once returned, rejected or
/// stopped. One rating per dossier, changeable for 7 days.
#[utoipa::path(post, path = "/api/v1/dossiers/{id}/rating", tag = "ratings", params(("id" = String, Path)),
    request_body = RatingRequest, security(("bearer" = [])),
    responses((status = 201, body = RatingView, description = "Rated"), (status = 200, body = RatingView, description = "Changed"),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn rate(
    state: web::Data<AppState>,
    principal: Principal,
    audit: Audit,
    id: web::Path<String>,
    body: web::Json<RatingRequest>,
) -> Result<HttpResponse, ApiError> {
    let r = body.into_inner();
    let comment = r.comment.as_deref().map(str::trim).filter(|c| !c.is_empty()).map(str::to_string);
    if let Some(c) = &comment {
        let mut v = Validator::default();
        v.text("comment", c, 2000);
        v.finish()?;
    }
    let p = principal.clone();
    let (rated, rating) =
        write::change(&state, audit, Some(principal), id.into_inner(), Counted, move |conn, audit, locked| {
            let Locked { row, dossier, access } = locked;
            let (id, principal) = (row.id.clone(), p);
            if access != Some(Access::Applicant) {
                return Err(ApiError::forbidden("Only the applicant rates a dossier."));
            }
            let criteria = [r.reception, r.processing_time, r.staff_conduct, r.result];
            let flagged = criteria.contains(&Satisfaction::Dissatisfied);
            let now = crate::time::now();
            let first: Option<NaiveDateTime> =
                ratings::table.find(&id).select(ratings::rated_at).first(conn).optional()?;
            let rated = domain::rate(dossier.status, first, now)?;
            let values = (
                ratings::reception.eq(r.reception.as_str()),
                ratings::processing_time.eq(r.processing_time.as_str()),
                ratings::staff_conduct.eq(r.staff_conduct.as_str()),
                ratings::result.eq(r.result.as_str()),
                ratings::comment.eq(&comment),
                ratings::satisfied.eq(!flagged),
                ratings::flagged.eq(flagged),
                ratings::updated_at.eq(now),
            );
            match rated {
                Rated::Changed => diesel::update(ratings::table.find(&id)).set(values).execute(conn)?,
                Rated::First => {
                    audit.status(StatusCode::CREATED);
                    diesel::insert_into(ratings::table)
                        .values((
                            ratings::dossier_id.eq(&id),
                            ratings::rated_by.eq(&principal.user_id),
                            ratings::rated_at.eq(now),
                            values,
                        ))
                        .execute(conn)?
                }
            };
            NewEvent {
                audit_id: audit.id(),
                dossier_id: &id,
                actor: Some(&principal),
                role: Role::Citizen.as_str(),
                unit_id: Some(&row.unit_id),
                action: crate::domain::workflow::Recorded::Rate.into(),
                from: Some(dossier.status),
                to: dossier.status,
                summary: if flagged { "rated: dissatisfied".into() } else { "rated: satisfied".into() },
                payload: serde_json::to_value(&r).unwrap_or_default(),
            }
            .insert(conn)?;
            let rating = ratings::table
                .inner_join(dossiers::table)
                .filter(ratings::dossier_id.eq(&id))
                .select(rating_select!())
                .first::<RatingRow>(conn)?;
            Ok((rated, view(rating)))
        })
        .await?;
    Ok(if rated == Rated::First { HttpResponse::Created() } else { HttpResponse::Ok() }.json(rating))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only ratings with a dissatisfied criterion.
    pub flagged: Option<bool>,
    /// Rated on or after this local date.
    pub from: Option<NaiveDate>,
    /// Rated before this local date.
    pub to: Option<NaiveDate>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// Ratings of dossiers received in the caller's subtree, newest first.
#[utoipa::path(get, path = "/api/v1/ratings", tag = "ratings", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<RatingView>), (status = 403, body = Problem)))]
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
            let mut sql = ratings::table
                .inner_join(dossiers::table)
                .filter(
                    dossiers::receiving_unit_id.eq_any(
                        scope_units
                            .select(scope_units.field(units::id))
                            .filter(scope_units.field(units::path).like(format!("{scope}%"))),
                    ),
                )
                .select(rating_select!())
                .order(ratings::dossier_id.desc())
                .limit(fetch)
                .into_boxed();
            if let Some(flagged) = q.flagged {
                sql = sql.filter(ratings::flagged.eq(flagged));
            }
            if let Some(from) = q.from {
                sql = sql.filter(ratings::rated_at.ge(crate::dossiers::routes::local_midnight(from)));
            }
            if let Some(to) = q.to {
                sql = sql.filter(ratings::rated_at.lt(crate::dossiers::routes::local_midnight(to)));
            }
            if let Some(after) = after {
                sql = sql.filter(ratings::dossier_id.lt(after));
            }
            Ok(sql.load::<RatingRow>(conn)?)
        })
        .await?;
    let items = rows.into_iter().map(view).collect();
    Ok(HttpResponse::Ok().json(keyset.page(items, |r: &RatingView| r.dossier_id.clone())))
}
