//! `/api/v1/complaints`: complaints and petitions (phản ánh, kiến nghị). A
//! citizen lodges one about a dossier of theirs or about a unit; staff of
//! the unit's subtree find it in their queue and answer it, once, within
//! `complaints.answer_working_days`, saying whether it was substantiated;
//! the answer is e-mailed to the citizen. The rules are
//! `src/domain/complaint.rs`; the manual is docs/complaints.md.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use diesel::dsl::count_star;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::Principal;
use crate::db::schema::{complaints, dossiers, scope_units, units};
use crate::db::{DbConnection, text_literal};
use crate::domain::complaint::{self as rules, Refusal, State};
use crate::domain::roles::Role;
use crate::domain::stats::Figure;
use crate::dossiers::routes::local_midnight;
use crate::dossiers::write::{self, Counting};
use crate::dossiers::{Access, DossierRow, local, stored};
use crate::error::{ApiError, Problem, ProblemCode, Validator};
use crate::pagination::{Keyset, Page};
use crate::time::utc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/complaints").route(web::get().to(list)).route(web::post().to(lodge)))
        .service(web::resource("/complaints/{id}").route(web::get().to(show)))
        .service(web::resource("/complaints/{id}/answer").route(web::post().to(answer)));
}

/// The roles that answer complaints: those that work dossiers, and the
/// unit's administrator.
const ANSWERING: [Role; 4] = [Role::Clerk, Role::Specialist, Role::Approver, Role::Admin];

/// Longest subject and text, in characters.
const MAX_SUBJECT: usize = 200;
const MAX_TEXT: usize = 4000;

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::TooManyOpen { max } => Self::conflict(
                ProblemCode::TooManyOpenComplaints,
                format!("An account has at most {max} complaints waiting for an answer at once."),
            ),
            Refusal::AlreadyAnswered => {
                Self::conflict(ProblemCode::ComplaintAnswered, "This complaint has been answered; an answer is final.")
            }
        }
    }
}

/// A new complaint: about one of your dossiers, or about a unit.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewComplaint {
    /// The dossier complained about (one of yours); or
    pub dossier_id: Option<String>,
    /// the unit complained about, when no dossier is.
    pub unit_id: Option<String>,
    /// One line, at most 200 characters.
    pub subject: String,
    /// The complaint, at most 4000 characters; line breaks allowed.
    pub content: String,
}

/// The answer to a complaint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerRequest {
    /// At most 4000 characters; line breaks allowed.
    pub answer: String,
    /// Whether the complaint was found to be right (có cơ sở).
    pub substantiated: bool,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = complaints)]
struct ComplaintRow {
    id: String,
    applicant_id: String,
    dossier_id: Option<String>,
    unit_id: String,
    subject: String,
    content: String,
    state: String,
    lodged_at: NaiveDateTime,
    due_at: NaiveDateTime,
    answered_at: Option<NaiveDateTime>,
    answered_by: Option<String>,
    answer: Option<String>,
    substantiated: Option<bool>,
    answered_on_time: Option<bool>,
}

/// A complaint, as its citizen and the staff in scope see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ComplaintView {
    pub id: String,
    pub dossier_id: Option<String>,
    /// The unit that answers: the dossier's receiving unit, or the unit complained about.
    pub unit_id: String,
    pub subject: String,
    pub content: String,
    pub state: State,
    pub lodged_at: DateTime<Utc>,
    /// The end of the day the answer is due.
    pub due_at: DateTime<Utc>,
    /// Open after the day its answer was due.
    pub overdue: bool,
    pub answered_at: Option<DateTime<Utc>>,
    pub answered_by: Option<String>,
    pub answer: Option<String>,
    pub substantiated: Option<bool>,
    /// Answered on or before the day it was due.
    pub answered_on_time: Option<bool>,
}

impl ComplaintView {
    /// The complaint as its applicant sees it: who answered (a staff
    /// account) is the unit's business, the answer the applicant's.
    fn for_applicant(self) -> Self {
        Self { answered_by: None, ..self }
    }

    /// The complaint as `principal` sees it: staff in full.
    fn for_caller(self, principal: &Principal) -> Self {
        if principal.require_staff().is_ok() { self } else { self.for_applicant() }
    }
}

impl From<ComplaintRow> for ComplaintView {
    fn from(r: ComplaintRow) -> Self {
        let state = State::parse(&r.state).unwrap_or(State::Open);
        Self {
            overdue: rules::overdue(state, r.due_at, crate::time::now()),
            id: r.id,
            dossier_id: r.dossier_id,
            unit_id: r.unit_id,
            subject: r.subject,
            content: r.content,
            state,
            lodged_at: utc(r.lodged_at),
            due_at: utc(r.due_at),
            answered_at: r.answered_at.map(utc),
            answered_by: r.answered_by,
            answer: r.answer,
            substantiated: r.substantiated,
            answered_on_time: r.answered_on_time,
        }
    }
}

fn load(conn: &mut DbConnection, id: &str) -> QueryResult<Option<ComplaintRow>> {
    complaints::table.find(id).select(ComplaintRow::as_select()).first(conn).optional()
}

/// Whether `principal` may see complaint `row`: its citizen, or staff whose
/// subtree holds its unit.
fn visible(conn: &mut DbConnection, principal: &Principal, row: &ComplaintRow) -> QueryResult<bool> {
    if row.applicant_id == principal.user_id {
        return Ok(true);
    }
    if principal.require_staff().is_err() {
        return Ok(false);
    }
    let Some(scope) = principal.scope() else { return Ok(false) };
    Ok(crate::units::find_in_scope(conn, &row.unit_id, scope)?.is_some())
}

/// What a complaint is about.
enum About {
    Dossier(String),
    Unit(String),
}

/// Text a citizen or a clerk writes: trimmed, line breaks as `\n`.
fn paragraphs(s: &str) -> String {
    s.replace("\r\n", "\n").trim().to_string()
}

/// Lodge a complaint about one of your dossiers, or about a unit (citizens).
/// An account has at most `complaints.max_open_per_applicant` open at once.
/// With an `Idempotency-Key` header, repeating the same request returns the
/// same complaint; reusing the key for another request answers 422.
#[utoipa::path(post, path = "/api/v1/complaints", tag = "complaints", request_body = NewComplaint,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    security(("bearer" = [])),
    responses((status = 201, body = ComplaintView), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn lodge(
    state: web::Data<AppState>,
    principal: Principal,
    audit: Audit,
    req: HttpRequest,
    body: web::Json<NewComplaint>,
) -> Result<HttpResponse, ApiError> {
    principal.require_any(&[Role::Citizen])?;
    let key = crate::http::idempotency_key(&req)?;
    let new = body.into_inner();
    let fingerprint = crate::http::fingerprint(&new);
    let (subject, content) = (new.subject.trim().to_string(), paragraphs(&new.content));
    let mut v = Validator::default();
    v.text("subject", &subject, MAX_SUBJECT);
    v.paragraphs("content", &content, MAX_TEXT);
    let about = match (new.dossier_id, new.unit_id) {
        (Some(dossier_id), None) => Ok(About::Dossier(dossier_id)),
        (None, Some(unit_id)) => Ok(About::Unit(unit_id)),
        _ => Err(ApiError::invalid_field("dossier_id", "name either a dossier of yours or a unit, not both")),
    };
    v.finish()?;
    let about = about?;
    let (limit, day_end) = (state.settings.complaints.clone(), state.settings.dossiers.day_end_hour);
    // Like filing, lodging waits for a verified e-mail address.
    let require_verified_email = state.settings.notifications.require_verified_email_to_file;
    let view = audit
        .write(&state, move |conn, audit| {
            audit.status(StatusCode::CREATED);
            if require_verified_email {
                crate::auth::users::require_verified_email(conn, &principal.user_id)?;
            }
            let (dossier_id, unit_id) = match about {
                About::Dossier(dossier_id) => {
                    audit.target(&dossier_id);
                    let row: DossierRow = dossiers::table
                        .find(&dossier_id)
                        .select(DossierRow::as_select())
                        .first(conn)
                        .optional()?
                        .ok_or_else(ApiError::not_found)?;
                    if crate::dossiers::access_to(conn, &principal, &row)? != Access::Applicant {
                        return Err(ApiError::not_found());
                    }
                    (Some(dossier_id), row.receiving_unit_id)
                }
                About::Unit(unit_id) => {
                    audit.target(&unit_id);
                    let unit: Option<String> = units::table.find(&unit_id).select(units::id).first(conn).optional()?;
                    (None, unit.ok_or_else(|| ApiError::invalid_field("unit_id", "no such unit"))?)
                }
            };
            // One account's lodgings one at a time, so that the limit holds
            // whatever the number of concurrent requests.
            crate::db::backend::lock_text_for_transaction(conn, &format!("complaints:{}", principal.user_id))?;
            // A lodging repeated with its key: the complaint it made.
            if let Some(key) = &key {
                let earlier: Option<(String, Option<String>)> = complaints::table
                    .filter(complaints::applicant_id.eq(&principal.user_id).and(complaints::idempotency_key.eq(key)))
                    .select((complaints::id, complaints::request_hash))
                    .first(conn)
                    .optional()?;
                if let Some((id, hash)) = earlier {
                    if hash.as_deref() != Some(fingerprint.as_str()) {
                        return Err(crate::http::idempotency_key_reused());
                    }
                    return Ok(ComplaintView::from(load(conn, &id)?.ok_or_else(ApiError::not_found)?).for_applicant());
                }
            }
            let open: i64 = complaints::table
                .filter(complaints::applicant_id.eq(&principal.user_id).and(complaints::state.eq(State::Open.as_str())))
                .select(count_star())
                .first(conn)?;
            rules::may_lodge(open, limit.max_open_per_applicant)?;
            let now = crate::time::now();
            let calendar = crate::dossiers::calendar_from(conn, now)?;
            let day_end = NaiveTime::from_hms_opt(day_end, 0, 0).expect("a validated hour");
            let due = stored(rules::due(&calendar, local(now), limit.answer_working_days, day_end));
            let id = uuid::Uuid::now_v7().to_string();
            diesel::insert_into(complaints::table)
                .values((
                    complaints::id.eq(&id),
                    complaints::applicant_id.eq(&principal.user_id),
                    complaints::dossier_id.eq(&dossier_id),
                    complaints::unit_id.eq(&unit_id),
                    complaints::subject.eq(&subject),
                    complaints::content.eq(&content),
                    complaints::state.eq(State::Open.as_str()),
                    complaints::lodged_at.eq(now),
                    complaints::due_at.eq(due),
                    complaints::idempotency_key.eq(&key),
                    complaints::request_hash.eq(key.as_ref().map(|_| &fingerprint)),
                ))
                .execute(conn)?;
            Ok(ComplaintView::from(load(conn, &id)?.ok_or_else(ApiError::not_found)?).for_applicant())
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[param(inline)]
    pub state: Option<State>,
    /// Only those open after the day their answer was due.
    pub overdue: Option<bool>,
    pub dossier_id: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// Complaints, newest first: a citizen's own; for staff, those their
/// subtree answers — the queue is `?state=open`.
#[utoipa::path(get, path = "/api/v1/complaints", tag = "complaints", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<ComplaintView>), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let keyset = Keyset::parse(q.cursor.as_deref(), q.limit)?;
    let (fetch, after) = (keyset.fetch(), keyset.after.clone());
    let staff = principal.require_staff().is_ok();
    if !staff {
        principal.require_any(&[Role::Citizen])?;
    }
    let rows = state
        .db
        .run(move |conn| {
            let mut sql = complaints::table
                .select(ComplaintRow::as_select())
                .order(complaints::id.desc())
                .limit(fetch)
                .into_boxed();
            sql = if staff {
                let scope = principal.scope_path()?;
                sql.filter(
                    complaints::unit_id.eq_any(
                        scope_units
                            .select(scope_units.field(units::id))
                            .filter(scope_units.field(units::path).like(format!("{scope}%"))),
                    ),
                )
            } else {
                sql.filter(complaints::applicant_id.eq(principal.user_id.clone()))
            };
            if let Some(s) = q.state {
                sql = sql.filter(complaints::state.eq(s.as_str()));
            }
            if let Some(overdue) = q.overdue {
                // `rules::overdue`: open, due before today began.
                let today = crate::domain::calendar::local_day_start(crate::time::now());
                let late = complaints::state.eq(State::Open.as_str()).and(complaints::due_at.lt(today));
                sql = if overdue { sql.filter(late) } else { sql.filter(diesel::dsl::not(late)) };
            }
            if let Some(d) = q.dossier_id {
                sql = sql.filter(complaints::dossier_id.eq(d));
            }
            if let Some(after) = after {
                sql = sql.filter(complaints::id.lt(after));
            }
            Ok(sql.load::<ComplaintRow>(conn)?)
        })
        .await?;
    let items =
        rows.into_iter().map(|r| if staff { r.into() } else { ComplaintView::from(r).for_applicant() }).collect();
    Ok(HttpResponse::Ok().json(keyset.page(items, |c: &ComplaintView| c.id.clone())))
}

/// One complaint: its citizen's, or in the caller's subtree.
#[utoipa::path(get, path = "/api/v1/complaints/{id}", tag = "complaints", params(("id" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = ComplaintView), (status = 404, body = Problem)))]
pub async fn show(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let view = state
        .db
        .run(move |conn| {
            let row = load(conn, &id)?.ok_or_else(ApiError::not_found)?;
            if !visible(conn, &principal, &row)? {
                return Err(ApiError::not_found());
            }
            Ok(ComplaintView::from(row).for_caller(&principal))
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Answer a complaint of your subtree, once, saying whether it was
/// substantiated; the citizen is e-mailed the answer.
#[utoipa::path(post, path = "/api/v1/complaints/{id}/answer", tag = "complaints", params(("id" = String, Path)),
    request_body = AnswerRequest, security(("bearer" = [])),
    responses((status = 200, body = ComplaintView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn answer(
    state: web::Data<AppState>,
    principal: Principal,
    audit: Audit,
    id: web::Path<String>,
    body: web::Json<AnswerRequest>,
) -> Result<HttpResponse, ApiError> {
    principal.require_any(&ANSWERING)?;
    let (id, request) = (id.into_inner(), body.into_inner());
    let text = paragraphs(&request.answer);
    let mut v = Validator::default();
    v.paragraphs("answer", &text, MAX_TEXT);
    v.finish()?;
    let about: Option<Option<String>> = {
        let id = id.clone();
        state
            .db
            .run(move |conn| Ok(complaints::table.find(&id).select(complaints::dossier_id).first(conn).optional()?))
            .await?
    };
    let st = state.clone();
    let answer = move |conn: &mut DbConnection, audit: &mut Audit| {
        audit.target(&id);
        answer_in(conn, &st, &principal, &id, &text, request.substantiated)
    };
    let view = match about {
        None => return Err(ApiError::not_found()),
        // A complaint about a dossier may lower its assessment: answered
        // under the dossier's lock, its counts moved (`src/dossiers/write.rs`).
        Some(Some(dossier_id)) => {
            write::change(&state, audit, None, dossier_id, Counting::Counted, move |conn, audit, _| answer(conn, audit))
                .await?
        }
        Some(None) => audit.write(&state, answer).await?,
    };
    Ok(HttpResponse::Ok().json(view))
}

/// Answers complaint `id` for `principal`, once, in the caller's
/// transaction; e-mails the answer.
fn answer_in(
    conn: &mut DbConnection,
    state: &AppState,
    principal: &Principal,
    id: &str,
    text: &str,
    substantiated: bool,
) -> Result<ComplaintView, ApiError> {
    // Answers of one complaint one at a time: the first is final.
    let row = crate::first_locked!(&mut *conn, complaints::table.find(id).select(ComplaintRow::as_select()))?
        .ok_or_else(ApiError::not_found)?;
    if !visible(conn, principal, &row)? {
        return Err(ApiError::not_found());
    }
    if row.applicant_id == principal.user_id {
        return Err(ApiError::forbidden("You do not answer your own complaint."));
    }
    rules::may_answer(State::parse(&row.state).unwrap_or(State::Answered))?;
    let now = crate::time::now();
    diesel::update(complaints::table.find(id).filter(complaints::state.eq(State::Open.as_str())))
        .set((
            complaints::state.eq(State::Answered.as_str()),
            complaints::answered_at.eq(now),
            complaints::answered_by.eq(&principal.user_id),
            complaints::answer.eq(text),
            complaints::substantiated.eq(substantiated),
            complaints::answered_on_time.eq(rules::answered_on_time(row.due_at, now)),
        ))
        .execute(conn)?;
    if let Some(dossier_id) = row.dossier_id.as_deref().filter(|_| substantiated) {
        crate::assessment::substantiated_complaint(conn, dossier_id)?;
    }
    let answered = load(conn, id)?.ok_or_else(ApiError::not_found)?;
    let applicant = answered.applicant_id.clone();
    let view = ComplaintView::from(answered);
    state.notifier.complaint_answered(conn, &applicant, &view)?;
    Ok(view)
}

/// What the statistics say of complaints over units `unit_ids` for local
/// dates `[from, to)` (docs/complaints.md).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ComplaintFigures {
    /// Lodged in the period.
    pub lodged: i64,
    /// Answered in the period: on time of those answered.
    pub answered_on_time: Figure,
    /// Handled within time, as the national portal counts it: answered in
    /// the period on time, or open at its end and not past their day; of
    /// those answered in the period and those open at its end.
    pub on_time: Figure,
    /// Answered in the period: found substantiated of those answered.
    pub substantiated: Figure,
    /// Lodged before the period's end and not answered by then.
    pub open: i64,
    /// … of which past the day their answer was due.
    pub open_overdue: i64,
}

/// The complaint figures: six counts along the unit's indexes, whatever
/// the number of dossiers.
pub fn figures(
    conn: &mut DbConnection,
    unit_ids: &[&str],
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<ComplaintFigures> {
    #[derive(QueryableByName)]
    struct Tally {
        #[diesel(sql_type = BigInt)]
        lodged: i64,
        #[diesel(sql_type = BigInt)]
        answered: i64,
        #[diesel(sql_type = BigInt)]
        on_time: i64,
        #[diesel(sql_type = BigInt)]
        substantiated: i64,
        #[diesel(sql_type = BigInt)]
        open: i64,
        #[diesel(sql_type = BigInt)]
        open_overdue: i64,
    }
    let units: Vec<String> = unit_ids.iter().map(|id| text_literal(id)).collect();
    // One pass over the units' complaints. Open at the period's end: lodged
    // before it, not answered by then; overdue if due on one of its days
    // or before (`rules::overdue` once the period is over).
    let count = |condition: &str| format!("COALESCE(SUM(CASE WHEN {condition} THEN 1 ELSE 0 END), 0)");
    let answered = "answered_at >= $1 AND answered_at < $2";
    let open = "lodged_at < $2 AND (answered_at IS NULL OR answered_at >= $2)";
    // An empty subtree selects nothing (`IN ('')`).
    let units = if units.is_empty() { vec!["''".to_string()] } else { units };
    let t: Tally = diesel::sql_query(format!(
        "SELECT {} AS lodged, {} AS answered, {} AS on_time, {} AS substantiated, {} AS open, {} AS open_overdue \
         FROM complaints WHERE unit_id IN ({})",
        count("lodged_at >= $1 AND lodged_at < $2"),
        count(answered),
        count(&format!("{answered} AND answered_on_time")),
        count(&format!("{answered} AND substantiated")),
        count(open),
        count(&format!("{open} AND due_at < $2")),
        units.join(", ")
    ))
    .bind::<Timestamp, _>(local_midnight(from))
    .bind::<Timestamp, _>(local_midnight(to))
    .get_result(conn)?;
    let Tally { lodged, answered, on_time, substantiated, open, open_overdue } = t;
    Ok(ComplaintFigures {
        lodged,
        answered_on_time: Figure::ratio(on_time, answered),
        on_time: Figure::ratio(on_time + open - open_overdue, answered + open),
        substantiated: Figure::ratio(substantiated, answered),
        open,
        open_overdue,
    })
}
