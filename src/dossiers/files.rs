//! Documents of a dossier's components: upload (multipart) and download.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use diesel::prelude::*;
use serde::Deserialize;
use utoipa::ToSchema;

use super::write::Counting::Counted;
use super::write::{self, Locked};
use super::{Access, Digitization, NewEvent, load_visible};
use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::Principal;
use crate::db::DbConnection;
use crate::db::backend::lock_text_for_transaction;
use crate::db::schema::{dossier_components, dossier_files};
use crate::domain::dossier::{self as domain, Uploader};
use crate::domain::roles::Role;
use crate::error::{ApiError, Problem};
use crate::upload::Keep;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/dossiers/{id}/components/{component}/files").route(web::post().to(upload)))
        .service(web::resource("/dossiers/{id}/files/{file}").route(web::get().to(download)));
}

/// The multipart form of an upload (for the OpenAPI document).
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// A PDF, JPEG or PNG document, recognised by its content.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// `electronic_original` (applicants; the default for them), `scanned`
    /// (clerks; their default) or `e_copy_certified` (clerks, when the
    /// component accepts certified copies).
    digitization: Option<Digitization>,
}

/// Upload a document for a component: applicants add electronic originals
/// while the dossier is with them; clerks digitize paper documents.
#[utoipa::path(post, path = "/api/v1/dossiers/{id}/components/{component}/files", tag = "dossiers",
    params(("id" = String, Path), ("component" = String, Path, description = "Component id")),
    request_body(content = UploadForm, content_type = "multipart/form-data"), security(("bearer" = [])),
    responses((status = 201, body = super::DossierView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn upload(
    state: web::Data<AppState>,
    principal: Principal,
    audit: Audit,
    path: web::Path<(String, String)>,
    form: crate::upload::Form,
) -> Result<HttpResponse, ApiError> {
    let (id, component) = path.into_inner();
    let upload = crate::upload::read(&state, form, Keep::File, &["digitization"]).await?;
    let kind = upload.kind()?;
    let requested = match upload.fields.get("digitization") {
        Some(text) => Some(
            serde_plain::from_str::<Digitization>(text)
                .map_err(|_| ApiError::invalid_field("digitization", "not a digitization status"))?,
        ),
        None => None,
    };
    let (p, files, quota) = (principal.clone(), state.files.clone(), state.settings.files.quota());
    write::change(&state, audit, Some(principal.clone()), id.clone(), Counted, move |conn, audit, locked| {
        audit.status(StatusCode::CREATED);
        let Locked { row, dossier, access } = locked;
        let (name, e_copy_accepted): (String, bool) = dossier_components::table
            .filter(dossier_components::id.eq(&component).and(dossier_components::dossier_id.eq(&row.id)))
            .select((dossier_components::name, dossier_components::e_copy_accepted))
            .first(conn)
            .optional()?
            .ok_or_else(ApiError::not_found)?;
        let who = match access {
            Some(Access::Applicant) => Uploader::Applicant,
            Some(Access::Acting) if p.has(Role::Clerk) => Uploader::Clerk,
            _ => Uploader::Other,
        };
        let digitization = domain::upload(dossier.status, who, requested, e_copy_accepted)?;
        let usage = upload_usage(conn, &row.id, &p.user_id, who)?;
        domain::admit_upload(quota, usage, upload.file.size, who)?;
        let (sha256, size_bytes) = upload.file.store(files.as_ref())?;
        let role = if who == Uploader::Applicant { Role::Citizen } else { Role::Clerk };
        attach(
            conn,
            Attached {
                audit_id: audit.id(),
                dossier_id: &row.id,
                component_id: &component,
                component_name: &name,
                sha256: &sha256,
                size_bytes,
                content_type: kind.content_type(),
                file_name: &upload.file_name,
                digitization,
                by: &p,
                role,
                unit_id: Some(&row.unit_id),
                status: dossier.status,
            },
        )?;
        crate::repository::add_component(
            conn,
            &row,
            crate::repository::ComponentFile {
                document_type: &name,
                digitization: digitization.as_str(),
                sha256: &sha256,
                content_type: kind.content_type(),
                size_bytes,
                file_name: &upload.file_name,
            },
        )?;
        super::refresh_digitized(conn, &row.id)?;
        write::store(conn, &row, &dossier, &dossier)?;
        Ok(())
    })
    .await?;
    super::routes::respond(&state, principal, id, StatusCode::CREATED).await
}

/// A document kept for a component of a dossier locked by the caller.
pub struct Attached<'a> {
    pub audit_id: &'a str,
    pub dossier_id: &'a str,
    pub component_id: &'a str,
    pub component_name: &'a str,
    pub sha256: &'a str,
    pub size_bytes: i64,
    pub content_type: &'a str,
    pub file_name: &'a str,
    pub digitization: Digitization,
    pub by: &'a Principal,
    /// The role the document was added in.
    pub role: Role,
    pub unit_id: Option<&'a str>,
    /// The dossier's status, which adding a document does not change.
    pub status: crate::domain::workflow::Status,
}

/// Records document `a` of a component — its file row, the component's
/// digitization status and the dossier's event — for an upload, or a
/// dossier filed on the national portal (`src/portal/filing.rs`). The
/// caller refreshes the dossier's digitized flag (`refresh_digitized`) once
/// its documents are in.
pub fn attach(conn: &mut DbConnection, a: Attached) -> QueryResult<()> {
    diesel::insert_into(dossier_files::table)
        .values((
            dossier_files::id.eq(uuid::Uuid::now_v7().to_string()),
            dossier_files::dossier_id.eq(a.dossier_id),
            dossier_files::component_id.eq(a.component_id),
            dossier_files::sha256.eq(a.sha256),
            dossier_files::size_bytes.eq(a.size_bytes),
            dossier_files::content_type.eq(a.content_type),
            dossier_files::file_name.eq(a.file_name),
            dossier_files::uploaded_by.eq(&a.by.user_id),
            dossier_files::created_at.eq(crate::time::now()),
        ))
        .execute(conn)?;
    diesel::update(dossier_components::table.find(a.component_id))
        .set(dossier_components::digitization.eq(a.digitization.as_str()))
        .execute(conn)?;
    NewEvent {
        audit_id: a.audit_id,
        dossier_id: a.dossier_id,
        actor: Some(a.by),
        role: a.role.as_str(),
        unit_id: a.unit_id,
        action: crate::domain::workflow::Recorded::Upload.into(),
        from: Some(a.status),
        to: a.status,
        summary: format!("{}: {} ({})", a.component_name, a.file_name, a.digitization.as_str()),
        payload: serde_json::json!({
            "component_id": a.component_id, "sha256": a.sha256, "digitization": a.digitization.as_str()
        }),
    }
    .insert(conn)
}

/// What the dossier (locked by the caller) holds, and what an applicant
/// uploaded today. An applicant's uploads take turns (a lock per account),
/// so that two at once on two dossiers cannot both fit the last of the
/// day's budget.
fn upload_usage(
    conn: &mut DbConnection,
    dossier_id: &str,
    user_id: &str,
    who: Uploader,
) -> Result<domain::UploadUsage, ApiError> {
    use diesel::dsl::{count_star, sql};
    // SUM of a BIGINT is NUMERIC on PostgreSQL: cast back on both backends.
    let total = || sql::<diesel::sql_types::BigInt>("CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT)");
    let (files, bytes): (i64, i64) = dossier_files::table
        .filter(dossier_files::dossier_id.eq(dossier_id))
        .select((count_star(), total()))
        .first(conn)?;
    let mut today = 0;
    if who == Uploader::Applicant {
        lock_text_for_transaction(conn, &format!("uploads:{user_id}"))?;
        let since = crate::domain::calendar::local_day_start(crate::time::now());
        today = dossier_files::table
            .filter(dossier_files::uploaded_by.eq(user_id).and(dossier_files::created_at.ge(since)))
            .select(total())
            .first(conn)?;
    }
    let count = |n: i64| n.max(0) as u64;
    Ok(domain::UploadUsage {
        dossier_files: count(files),
        dossier_bytes: count(bytes),
        account_bytes_today: count(today),
    })
}

/// Download a document of a dossier the caller may see.
#[utoipa::path(get, path = "/api/v1/dossiers/{id}/files/{file}", tag = "dossiers",
    params(("id" = String, Path), ("file" = String, Path)), security(("bearer" = [])),
    responses((status = 200, description = "The document, as the type its content was recognised as",
            content((inline(crate::http::Binary) = "application/pdf"), (inline(crate::http::Binary) = "image/jpeg"),
                (inline(crate::http::Binary) = "image/png")),
            headers(("Content-Disposition" = String, description = "`attachment`, with the uploaded file name"),
                ("ETag" = String, description = "The file's SHA-256, in quotes"))),
        (status = 404, body = Problem)))]
pub async fn download(
    state: web::Data<AppState>,
    req: HttpRequest,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, file) = path.into_inner();
    let files = state.files.clone();
    let (name, content_type, sha256, content) = state
        .db
        .run(move |conn| {
            load_visible(conn, &principal, &id)?;
            let (name, content_type, sha256): (String, String, String) = dossier_files::table
                .filter(dossier_files::id.eq(&file).and(dossier_files::dossier_id.eq(&id)))
                .select((dossier_files::file_name, dossier_files::content_type, dossier_files::sha256))
                .first(conn)
                .optional()?
                .ok_or_else(ApiError::not_found)?;
            let content = files.open(&sha256).map_err(ApiError::storage)?;
            Ok((name, content_type, sha256, content))
        })
        .await?;
    crate::http::send_file(&req, content, &content_type, &name, &sha256)
}
