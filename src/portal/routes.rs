//! `/api/v1/portal/…`: the national portal files dossiers
//! (`POST /portal/dossiers`, its service account), and administrators see
//! which dossiers' mirrors lag (`GET /portal/sync`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use diesel::prelude::*;
use serde::Deserialize;
use utoipa::IntoParams;

use super::filing::{self, Intake, PortalFiling, PortalReceipt, Submission};
use super::sync::{Lag, Lagging};
use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::Principal;
use crate::db::schema::dossiers;
use crate::domain::roles::Role;
use crate::error::{ApiError, Problem, ProblemCode};
use crate::pagination::{Keyset, Page};

pub fn configure(cfg: &mut web::ServiceConfig, max_filing_bytes: usize) {
    cfg.service(
        web::resource("/portal/dossiers")
            .app_data(web::JsonConfig::default().limit(max_filing_bytes).error_handler(crate::error::json_error))
            .route(web::post().to(file)),
    )
    .service(web::resource("/portal/sync").route(web::get().to(sync)));
}

/// File a dossier a citizen filed on the national portal (its service
/// account only). Idempotent on `portal_code`: the same filing again
/// answers 200 with the same dossier; another filing with that code, 409
/// `portal_code_reused`. Every call is audited, refusals included.
#[utoipa::path(post, path = "/api/v1/portal/dossiers", tag = "portal", request_body = PortalFiling,
    security(("bearer" = [])),
    responses((status = 201, body = PortalReceipt), (status = 200, body = PortalReceipt),
        (status = 403, body = Problem), (status = 409, body = Problem), (status = 413, body = Problem),
        (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn file(
    state: web::Data<AppState>,
    principal: Principal,
    mut audit: Audit,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    principal.require_any(&[Role::Portal])?;
    match receive(&state, &principal, body.into_inner()).await {
        Ok(Received::Again(id)) => {
            audit.target(&id);
            audit.write_alone(&state).await?;
            receipt(&state, id, StatusCode::OK).await
        }
        Ok(Received::New(submission)) => {
            let (p, files) = (principal.clone(), state.files.clone());
            let (settings, notifier) = (state.settings.dossiers.clone(), state.notifier.clone());
            let created = crate::dossiers::write::create(&state, audit, move |conn, audit| {
                let created = filing::file(conn, audit, &p, *submission, files.as_ref(), &settings, &notifier)?;
                audit.status(if created.new { StatusCode::CREATED } else { StatusCode::OK });
                Ok(created)
            })
            .await?;
            receipt(&state, created.id, if created.new { StatusCode::CREATED } else { StatusCode::OK }).await
        }
        Err(refused) => {
            audit.status(refused.status);
            audit.write_alone(&state).await?;
            Err(refused)
        }
    }
}

enum Received {
    /// The same filing was made before: its dossier.
    Again(String),
    New(Box<Submission>),
}

/// Reads the filing and its documents: checked, and not already filed.
/// Everything that can be refused is refused here, before the dossier's
/// transaction (which checks again), so that the refusal is audited.
async fn receive(state: &AppState, principal: &Principal, body: serde_json::Value) -> Result<Received, ApiError> {
    let request: PortalFiling =
        serde_json::from_value(body).map_err(|e| ApiError::invalid_field("body", e.to_string()))?;
    let client = state.portal.clone();
    request.check(state.settings.portal.max_documents, |url| client.may_fetch(url))?;
    let (code, fingerprint) = (request.portal_code.clone(), request.fingerprint());
    let p = principal.clone();
    let (earlier, request) = state
        .db
        .run(move |conn| {
            let earlier = filing::earlier(conn, &code, &fingerprint)?;
            if earlier.is_none() {
                filing::resolve(conn, &p, &request)?;
            }
            Ok((earlier, request))
        })
        .await?;
    if let Some(id) = earlier {
        return Ok(Received::Again(id));
    }
    let max = state.settings.files.max_bytes as u64;
    let mut documents = Vec::with_capacity(request.documents.len());
    for (i, d) in request.documents.iter().enumerate() {
        let sink = match (&d.content_base64, &d.url) {
            (Some(content), _) => {
                let (files, content) = (state.files.clone(), content.clone());
                tokio::task::spawn_blocking(move || filing::decode(files.as_ref(), i, &content, max))
                    .await
                    .map_err(ApiError::internal)??
            }
            (None, Some(url)) => client.fetch(url, state.files.as_ref(), max).await.map_err(|e| unavailable(i, e))?,
            (None, None) => unreachable!("checked: one source per document"),
        };
        let intake = Intake { component: d.component, file_name: d.file_name.trim().to_string(), sink };
        intake.kind(i)?;
        documents.push(intake);
    }
    Ok(Received::New(Box::new(Submission { request, documents })))
}

fn unavailable(index: usize, e: super::client::FetchError) -> ApiError {
    use super::client::FetchError;
    match e {
        FetchError::TooLarge(max) => filing::too_large(max),
        FetchError::Storage(e) => ApiError::storage(e),
        other => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ProblemCode::DocumentUnavailable,
            format!("documents[{index}].url: {other}"),
        ),
    }
}

async fn receipt(state: &AppState, id: String, status: StatusCode) -> Result<HttpResponse, ApiError> {
    let receipt = state
        .db
        .run(move |conn| {
            let (row, portal_code): (crate::dossiers::DossierRow, String) = dossiers::table
                .find(&id)
                .inner_join(crate::db::schema::portal_dossiers::table)
                .select((crate::dossiers::DossierRow::as_select(), crate::db::schema::portal_dossiers::portal_code))
                .first(conn)?;
            Ok(PortalReceipt {
                national_status: row.national_status(),
                dossier_id: row.id,
                code: row.code,
                portal_code,
            })
        })
        .await?;
    Ok(HttpResponse::build(status).json(receipt))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SyncQuery {
    /// `pending` (default): every dossier whose latest record the portal
    /// has not acknowledged; `failed`: those whose last attempt failed.
    #[param(inline)]
    pub state: Option<Lag>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// The dossiers of the caller's subtree whose mirror on the national
/// portal lags, the longest waiting first, with the last error.
#[utoipa::path(get, path = "/api/v1/portal/sync", tag = "portal", params(SyncQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<Lagging>), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn sync(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<SyncQuery>,
) -> Result<HttpResponse, ApiError> {
    principal.require_any(&[Role::Admin])?;
    let q = query.into_inner();
    let keyset = Keyset::parse(q.cursor.as_deref(), q.limit)?;
    let after = match keyset.after.as_deref().map(parse_cursor) {
        Some(None) => return Err(ApiError::bad_request(ProblemCode::InvalidQuery, "Invalid cursor.")),
        Some(Some(after)) => Some(after),
        None => None,
    };
    let fetch = keyset.fetch();
    let allowed = chrono::Duration::minutes(state.settings.portal.overdue_after_minutes);
    let rows = state
        .db
        .run(move |conn| {
            let scope = principal.scope_path()?;
            let now = crate::time::now();
            Ok(super::sync::lagging(conn, &scope, q.state.unwrap_or(Lag::Pending), after, fetch, now, allowed)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(keyset.page(rows, |l: &Lagging| {
        let since = l.waiting_since.map(|t| t.naive_utc().format(CURSOR_TIME).to_string()).unwrap_or_default();
        format!("{since}|{}", l.dossier_id)
    })))
}

/// How a cursor of `GET /portal/sync` writes the waiting time of its last line.
const CURSOR_TIME: &str = "%Y-%m-%dT%H:%M:%S%.f";

/// A cursor of `GET /portal/sync`: the waiting time and id of the last line.
fn parse_cursor(cursor: &str) -> Option<(chrono::NaiveDateTime, String)> {
    let (since, id) = cursor.split_once('|')?;
    Some((chrono::NaiveDateTime::parse_from_str(since, CURSOR_TIME).ok()?, id.to_string()))
}
