//! `/api/v1/me/documents`.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::DocumentRow;
use crate::app::AppState;
use crate::auth::Principal;
use crate::db::schema::{dossiers, repository_documents, results, users};
use crate::error::{ApiError, Problem};
use crate::pagination::{Keyset, Page};
use crate::time::utc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/me/documents").route(web::get().to(list)));
}

/// A document of the caller's repository.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentView {
    /// Give this as `document_id` to reuse the document in a new dossier.
    pub id: String,
    /// `component` (a digitized input document) or `e_result`.
    #[schema(value_type = super::DocumentSource)]
    pub source: String,
    /// The component's name or the result's title.
    pub document_type: String,
    #[schema(value_type = Option<crate::domain::dossier::Digitization>)]
    pub digitization: Option<String>,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub source_dossier_code: String,
    pub result_number: Option<String>,
    /// `valid`, or for an e-result `revoked` / `replaced`.
    #[schema(value_type = crate::domain::dossier::ResultStatus)]
    pub status: String,
    pub valid: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// The caller's documents, newest first: those of their dossiers, and those
/// filed under their national ID at a counter.
#[utoipa::path(get, path = "/api/v1/me/documents", tag = "repository", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<DocumentView>), (status = 401, body = Problem)))]
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let keyset = Keyset::parse(q.cursor.as_deref(), q.limit)?;
    let (fetch, after) = (keyset.fetch(), keyset.after.clone());
    let rows = state
        .db
        .run(move |conn| {
            let national_id: Option<String> =
                users::table.find(&principal.user_id).select(users::national_id).first(conn)?;
            let mut sql = repository_documents::table
                .inner_join(dossiers::table.on(dossiers::id.eq(repository_documents::source_dossier_id)))
                .left_join(results::table.on(results::id.nullable().eq(repository_documents::result_id)))
                .filter(
                    repository_documents::owner_user_id
                        .eq(principal.user_id.clone())
                        .or(repository_documents::owner_national_id.eq(national_id.unwrap_or_default())),
                )
                .select((
                    DocumentRow::as_select(),
                    dossiers::code,
                    results::number.nullable(),
                    results::status.nullable(),
                ))
                .order(repository_documents::id.desc())
                .limit(fetch)
                .into_boxed();
            if let Some(after) = after {
                sql = sql.filter(repository_documents::id.lt(after));
            }
            Ok(sql.load::<(DocumentRow, String, Option<String>, Option<String>)>(conn)?)
        })
        .await?;
    let items = rows
        .into_iter()
        .map(|(d, code, number, status)| {
            let status = status.unwrap_or_else(|| "valid".into());
            DocumentView {
                valid: status == "valid",
                status,
                id: d.id,
                source: d.source,
                document_type: d.document_type,
                digitization: d.digitization,
                file_name: d.file_name,
                content_type: d.content_type,
                size_bytes: d.size_bytes,
                sha256: d.sha256,
                source_dossier_code: code,
                result_number: number,
                created_at: utc(d.created_at),
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(keyset.page(items, |d: &DocumentView| d.id.clone())))
}
