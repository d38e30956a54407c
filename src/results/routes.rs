//! `/api/v1/dossiers/{id}/result…`, `/api/v1/verify…` and `/api/v1/keys`.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ResultFile, ResultRow, Verification, verification};
use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::Principal;
use crate::db::schema::{result_drafts, results, signing_keys};
use crate::domain::dossier::{self as domain, ResultStatus};
use crate::domain::roles::Role;
use crate::dossiers::write::Counting::{Counted, Uncounted};
use crate::dossiers::write::{self, Locked};
use crate::dossiers::{Access, NewEvent, load_visible};
use crate::error::{ApiError, Problem, Validator};
use crate::time::utc;
use crate::upload::Keep;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/keys").route(web::get().to(keys)))
        .service(web::resource("/verify").route(web::post().to(verify_file)))
        .service(web::resource("/verify/{number}").route(web::get().to(verify_number)))
        .service(web::resource("/dossiers/{id}/result").route(web::get().to(download)).route(web::post().to(draft)))
        .service(web::resource("/dossiers/{id}/result/collect").route(web::post().to(collect)))
        .service(web::resource("/dossiers/{id}/result/revoke").route(web::post().to(revoke)))
        .service(web::resource("/dossiers/{id}/result/replace").route(web::post().to(replace)));
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublicKey {
    pub id: String,
    /// Always `Ed25519`.
    pub algorithm: &'static str,
    /// The raw 32-byte public key, base64.
    pub public_key: String,
    pub created_at: DateTime<Utc>,
    /// The key that signs new results.
    pub current: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    pub keys: Vec<PublicKey>,
}

/// Every key that has signed results, the current one included.
#[utoipa::path(get, path = "/api/v1/keys", tag = "results", responses((status = 200, body = KeyList)))]
pub async fn keys(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let rows: Vec<(String, String, chrono::NaiveDateTime)> = state
        .db
        .run(|conn| {
            Ok(signing_keys::table
                .order(signing_keys::created_at.asc())
                .select((signing_keys::id, signing_keys::public_key, signing_keys::created_at))
                .load(conn)?)
        })
        .await?;
    let keys = rows
        .into_iter()
        .map(|(id, public_key, at)| PublicKey {
            current: id == state.signer.key_id,
            id,
            algorithm: "Ed25519",
            public_key,
            created_at: utc(at),
        })
        .collect();
    Ok(HttpResponse::Ok().json(KeyList { keys }))
}

/// Whether a result number names a valid, revoked or replaced result.
#[utoipa::path(get, path = "/api/v1/verify/{number}", tag = "results", params(("number" = String, Path)),
    responses((status = 200, body = Verification), (status = 404, body = Problem)))]
pub async fn verify_number(state: web::Data<AppState>, number: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let number = number.into_inner();
    let v = state
        .db
        .run(move |conn| {
            let row: ResultRow = results::table
                .filter(results::number.eq(&number))
                .select(ResultRow::as_select())
                .first(conn)
                .optional()?
                .ok_or_else(ApiError::not_found)?;
            Ok(verification(conn, row)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(v))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FileVerification {
    /// The file is exactly an issued result (same SHA-256).
    pub matched: bool,
    pub sha256: String,
    /// The result it is, when matched.
    pub result: Option<Verification>,
}

/// A PDF to check (multipart, one `file` part).
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct FileForm {
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Whether an uploaded file is an unaltered issued result.
#[utoipa::path(post, path = "/api/v1/verify", tag = "results",
    request_body(content = FileForm, content_type = "multipart/form-data"),
    responses((status = 200, body = FileVerification), (status = 413, body = Problem)))]
pub async fn verify_file(
    state: web::Data<AppState>,
    mut audit: Audit,
    form: crate::upload::Form,
) -> Result<HttpResponse, ApiError> {
    // A check, not a change: anyone may verify, and nothing is recorded.
    audit.nothing_changed();
    let upload = crate::upload::read(&state, form, Keep::HashOnly, &[]).await?;
    let sha256 = upload.file.sha256;
    let lookup = sha256.clone();
    let result = state
        .db
        .run(move |conn| {
            let row: Option<ResultRow> = results::table
                .filter(results::sha256.eq(&lookup))
                .order(results::id.desc())
                .select(ResultRow::as_select())
                .first(conn)
                .optional()?;
            Ok(match row {
                Some(row) => Some(verification(conn, row)?),
                None => None,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(FileVerification { matched: result.is_some(), sha256, result }))
}

/// A result document to sign (multipart: `file`, a PDF; `title`, default the procedure's name).
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct DraftForm {
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    title: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Draft {
    pub title: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub file_name: String,
}

fn title_of(fields: &std::collections::HashMap<String, String>, default: String) -> Result<String, ApiError> {
    let title = fields.get("title").cloned().unwrap_or(default);
    let mut v = Validator::default();
    v.text("title", &title, 500);
    v.finish()?;
    Ok(title)
}

/// Prepare the result document (the assigned specialist or an approver,
/// while the dossier is in progress or pending approval). `approve` signs it.
#[utoipa::path(post, path = "/api/v1/dossiers/{id}/result", tag = "results", params(("id" = String, Path)),
    request_body(content = DraftForm, content_type = "multipart/form-data"), security(("bearer" = [])),
    responses((status = 201, body = Draft), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 415, body = Problem)))]
pub async fn draft(
    state: web::Data<AppState>,
    principal: Principal,
    audit: Audit,
    id: web::Path<String>,
    form: crate::upload::Form,
) -> Result<HttpResponse, ApiError> {
    let upload = crate::upload::read(&state, form, Keep::File, &["title"]).await?;
    upload.pdf()?;
    let (id, files) = (id.into_inner(), state.files.clone());
    let p = principal.clone();
    let draft = write::change(&state, audit, Some(principal), id, Uncounted, move |conn, audit, locked| {
        audit.status(StatusCode::CREATED);
        let Locked { row, dossier, access } = locked;
        let principal = p;
        let id = row.id.clone();
        let assignee = row.assignee_id.as_deref() == Some(principal.user_id.as_str());
        let may = access == Some(Access::Acting) && (principal.has(Role::Approver) || assignee);
        domain::may_draft_result(dossier.status, may)?;
        let procedure: String = crate::db::schema::procedures::table
            .find(&row.procedure_id)
            .select(crate::db::schema::procedures::name)
            .first(conn)?;
        let title = title_of(&upload.fields, procedure)?;
        let (sha256, size_bytes) = upload.file.store(files.as_ref())?;
        let draft = Draft { title, sha256, size_bytes, file_name: upload.file_name };
        diesel::delete(result_drafts::table.find(&id)).execute(conn)?;
        diesel::insert_into(result_drafts::table)
            .values((
                result_drafts::dossier_id.eq(&id),
                result_drafts::title.eq(&draft.title),
                result_drafts::sha256.eq(&draft.sha256),
                result_drafts::size_bytes.eq(draft.size_bytes),
                result_drafts::file_name.eq(&draft.file_name),
                result_drafts::uploaded_by.eq(&principal.user_id),
                result_drafts::created_at.eq(crate::time::now()),
            ))
            .execute(conn)?;
        Ok(draft)
    })
    .await?;
    Ok(HttpResponse::Created().json(draft))
}

/// Download the dossier's e-result (PDF). A read: it changes nothing, so a
/// prefetching or retrying client is harmless. The applicant receives it
/// once the fee is settled (409 `fee_unpaid` before); returning the dossier
/// is the explicit `POST …/result/collect`.
#[utoipa::path(get, path = "/api/v1/dossiers/{id}/result", tag = "results", params(("id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, description = "The signed result", body = inline(crate::http::Binary), content_type = "application/pdf",
            headers(("X-Result-Number" = String, description = "The result's number, to verify it by"),
                ("Content-Disposition" = String, description = "`attachment`, named after the result's number"),
                ("ETag" = String, description = "The file's SHA-256, in quotes"))),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn download(
    state: web::Data<AppState>,
    req: HttpRequest,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let st = state.clone();
    let (result, content) = state
        .db
        .run(move |conn| {
            let (row, access) = load_visible(conn, &principal, &id)?;
            let result = super::current(conn, &id)?.ok_or_else(ApiError::not_found)?;
            let dossier = row.dossier(None, None);
            domain::release_result(&dossier, access == Access::Applicant)?;
            let content = st.files.open(&result.sha256).map_err(ApiError::storage)?;
            Ok((result, content))
        })
        .await?;
    let name = format!("{}.pdf", result.number);
    let mut response = crate::http::send_file(&req, content, "application/pdf", &name, &result.sha256)?;
    let number = result.number.try_into().map_err(ApiError::internal)?;
    response.headers_mut().insert(header::HeaderName::from_static("x-result-number"), number);
    Ok(response)
}

/// The applicant collects the e-result: the dossier is returned (national
/// status 10) once its fee is settled. Idempotent: collecting a returned
/// dossier again answers the same and changes nothing.
#[utoipa::path(post, path = "/api/v1/dossiers/{id}/result/collect", tag = "results", params(("id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = crate::dossiers::DossierView,
            headers(("ETag" = String, description = "The dossier's version, in quotes"))),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn collect(
    state: web::Data<AppState>,
    principal: Principal,
    audit: Audit,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let (st, p) = (state.clone(), principal.clone());
    write::change(&state, audit, Some(principal.clone()), id.clone(), Counted, move |conn, audit, locked| {
        if locked.access != Some(Access::Applicant) {
            return Err(ApiError::forbidden("The applicant collects the e-result; staff return results at the desk."));
        }
        super::current(conn, &locked.row.id)?.ok_or_else(ApiError::not_found)?;
        if !crate::dossiers::actions::collect(conn, &st, &p, audit, &locked)? {
            audit.nothing_changed();
        }
        Ok(())
    })
    .await?;
    crate::dossiers::routes::respond(&state, principal, id, actix_web::http::StatusCode::OK).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    pub reason: String,
}

/// The dossier's current result, if an approver of the unit may retire it
/// (`domain::dossier::retire_result`), or why not.
fn current_for_approver(
    conn: &mut crate::db::DbConnection,
    principal: &Principal,
    locked: &Locked,
) -> Result<ResultRow, ApiError> {
    if locked.access != Some(Access::Acting) || !principal.has(Role::Approver) {
        return Err(ApiError::forbidden("An approver of the issuing unit revokes or replaces results."));
    }
    let result = super::current(conn, &locked.row.id)?.ok_or_else(ApiError::not_found)?;
    domain::retire_result(ResultStatus::parse(&result.status).unwrap_or(ResultStatus::Revoked))?;
    Ok(result)
}

/// Marks `result` revoked or replaced. A replacement's successor is linked
/// once issued: the old result stops being valid first.
fn retire(
    conn: &mut crate::db::DbConnection,
    result: &ResultRow,
    status: ResultStatus,
    reason: &str,
) -> QueryResult<usize> {
    diesel::update(results::table.find(&result.id))
        .set((
            results::status.eq(status.as_str()),
            results::status_reason.eq(reason),
            results::status_changed_at.eq(crate::time::now()),
        ))
        .execute(conn)
}

/// The dossier event of a revocation, or of a replacement by `replaced_by`.
fn record_retirement(
    conn: &mut crate::db::DbConnection,
    principal: &Principal,
    audit: &Audit,
    dossier: &crate::dossiers::DossierRow,
    result: &ResultRow,
    reason: &str,
    replaced_by: Option<&ResultRow>,
) -> QueryResult<()> {
    let summary = match replaced_by {
        Some(r) => format!("{} replaced by {}: {reason}", result.number, r.number),
        None => format!("{} revoked: {reason}", result.number),
    };
    NewEvent {
        audit_id: audit.id(),
        dossier_id: &dossier.id,
        actor: Some(principal),
        role: Role::Approver.as_str(),
        unit_id: Some(&dossier.unit_id),
        action: if replaced_by.is_some() {
            crate::domain::workflow::Recorded::ReplaceResult
        } else {
            crate::domain::workflow::Recorded::RevokeResult
        }
        .into(),
        from: Some(dossier.status()),
        to: dossier.status(),
        summary,
        payload: serde_json::json!({"number": result.number, "reason": reason,
                                    "replaced_by": replaced_by.map(|r| r.number.clone())}),
    }
    .insert(conn)
}

fn check_reason(reason: &str) -> Result<(), ApiError> {
    let mut v = Validator::default();
    v.text("reason", reason, 2000);
    v.finish()
}

/// Revoke the dossier's current result (approver), with a reason.
#[utoipa::path(post, path = "/api/v1/dossiers/{id}/result/revoke", tag = "results", params(("id" = String, Path)),
    request_body = RevokeRequest, security(("bearer" = [])),
    responses((status = 200, body = Verification), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn revoke(
    state: web::Data<AppState>,
    principal: Principal,
    audit: Audit,
    id: web::Path<String>,
    body: web::Json<RevokeRequest>,
) -> Result<HttpResponse, ApiError> {
    let reason = body.into_inner().reason.trim().to_string();
    check_reason(&reason)?;
    let p = principal.clone();
    let v = write::change(&state, audit, Some(principal), id.into_inner(), Uncounted, move |conn, audit, locked| {
        let result = current_for_approver(conn, &p, &locked)?;
        retire(conn, &result, ResultStatus::Revoked, &reason)?;
        record_retirement(conn, &p, audit, &locked.row, &result, &reason, None)?;
        let row = results::table.find(&result.id).select(ResultRow::as_select()).first(conn)?;
        Ok(verification(conn, row)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(v))
}

#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct ReplaceForm {
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    reason: String,
    title: Option<String>,
}

/// Replace the dossier's current result with a newly signed one (approver).
#[utoipa::path(post, path = "/api/v1/dossiers/{id}/result/replace", tag = "results", params(("id" = String, Path)),
    request_body(content = ReplaceForm, content_type = "multipart/form-data"), security(("bearer" = [])),
    responses((status = 201, body = Verification), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 415, body = Problem)))]
pub async fn replace(
    state: web::Data<AppState>,
    principal: Principal,
    audit: Audit,
    id: web::Path<String>,
    form: crate::upload::Form,
) -> Result<HttpResponse, ApiError> {
    let upload = crate::upload::read(&state, form, Keep::File, &["reason", "title"]).await?;
    upload.pdf()?;
    let reason = upload.fields.get("reason").cloned().unwrap_or_default();
    check_reason(&reason)?;
    let (st, p) = (state.clone(), principal.clone());
    let v = write::change(&state, audit, Some(principal), id.into_inner(), Uncounted, move |conn, audit, locked| {
        audit.status(StatusCode::CREATED);
        let old = current_for_approver(conn, &p, &locked)?;
        let title = title_of(&upload.fields, old.title.clone())?;
        let (sha256, size_bytes) = upload.file.store(st.files.as_ref())?;
        let file = ResultFile { sha256, size_bytes, file_name: upload.file_name };
        // The old one stops being valid before the new one is: a dossier has
        // at most one valid result (`results_one_valid_idx`).
        retire(conn, &old, ResultStatus::Replaced, &reason)?;
        let new = super::issue(conn, &st.signer, &locked.row, &p, &title, file, Some(&old))?;
        diesel::update(results::table.find(&old.id)).set(results::replaced_by_id.eq(&new.id)).execute(conn)?;
        record_retirement(conn, &p, audit, &locked.row, &old, &reason, Some(&new))?;
        Ok(verification(conn, new)?)
    })
    .await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(v))
}
