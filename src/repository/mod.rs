//! The applicant's document repository (kho dữ liệu điện tử cá nhân): every
//! digitized component and every e-result, reusable in later dossiers.

pub mod routes;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{repository_documents, results};
use crate::dossiers::DossierRow;
use crate::results::ResultRow;

/// A stored document, as the repository keeps it.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = repository_documents)]
pub struct DocumentRow {
    pub id: String,
    pub owner_user_id: Option<String>,
    pub owner_national_id: Option<String>,
    pub source: String,
    pub document_type: String,
    pub digitization: Option<String>,
    pub sha256: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub file_name: String,
    pub source_dossier_id: String,
    pub result_id: Option<String>,
    pub created_at: NaiveDateTime,
}

/// A digitized file of a component, as it enters the repository.
pub struct ComponentFile<'a> {
    pub document_type: &'a str,
    pub digitization: &'a str,
    pub sha256: &'a str,
    pub content_type: &'a str,
    pub size_bytes: i64,
    pub file_name: &'a str,
}

/// The national ID a document of `dossier` is filed under: the number on
/// the card for a dossier registered at a desk; for an online dossier, the
/// verified national ID of the account that filed it — none while it is only
/// claimed (`src/auth/identity.rs`).
fn owner_national_id(conn: &mut DbConnection, dossier: &DossierRow) -> QueryResult<Option<String>> {
    if dossier.channel != crate::domain::dossier::Channel::Online.as_str() {
        return Ok(dossier.applicant_national_id.clone());
    }
    match &dossier.applicant_user_id {
        Some(user) => crate::auth::identity::verified_national_id(conn, user),
        None => Ok(None),
    }
}

/// Where a repository document comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentSource {
    /// A digitized input document of a dossier.
    Component,
    /// A signed e-result.
    EResult,
}

impl DocumentSource {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentSource::Component => "component",
            DocumentSource::EResult => "e_result",
        }
    }
}

fn new_row(conn: &mut DbConnection, dossier: &DossierRow, source: DocumentSource) -> QueryResult<DocumentRow> {
    Ok(DocumentRow {
        id: uuid::Uuid::now_v7().to_string(),
        owner_user_id: dossier.applicant_user_id.clone(),
        owner_national_id: owner_national_id(conn, dossier)?,
        source: source.as_str().into(),
        document_type: String::new(),
        digitization: None,
        sha256: String::new(),
        content_type: String::new(),
        size_bytes: 0,
        file_name: String::new(),
        source_dossier_id: dossier.id.clone(),
        result_id: None,
        created_at: crate::time::now(),
    })
}

/// Files the digitized document in its applicant's repository.
pub fn add_component(conn: &mut DbConnection, dossier: &DossierRow, f: ComponentFile<'_>) -> QueryResult<()> {
    let row = DocumentRow {
        document_type: f.document_type.into(),
        digitization: Some(f.digitization.into()),
        sha256: f.sha256.into(),
        content_type: f.content_type.into(),
        size_bytes: f.size_bytes,
        file_name: f.file_name.into(),
        ..new_row(conn, dossier, DocumentSource::Component)?
    };
    diesel::insert_into(repository_documents::table).values(&row).execute(conn).map(drop)
}

/// Files an issued e-result in its applicant's repository.
pub fn add_result(conn: &mut DbConnection, dossier: &DossierRow, result: &ResultRow) -> QueryResult<()> {
    let row = DocumentRow {
        document_type: result.title.clone(),
        sha256: result.sha256.clone(),
        content_type: "application/pdf".into(),
        size_bytes: result.size_bytes,
        file_name: result.file_name.clone(),
        result_id: Some(result.id.clone()),
        ..new_row(conn, dossier, DocumentSource::EResult)?
    };
    diesel::insert_into(repository_documents::table).values(&row).execute(conn).map(drop)
}

/// A document of the applicant identified by account and/or national ID,
/// usable now: an e-result only while it is valid.
pub fn find_usable(
    conn: &mut DbConnection,
    id: &str,
    user_id: Option<&str>,
    national_id: Option<&str>,
) -> QueryResult<Option<DocumentRow>> {
    let Some(doc) =
        repository_documents::table.find(id).select(DocumentRow::as_select()).first::<DocumentRow>(conn).optional()?
    else {
        return Ok(None);
    };
    let owned = (user_id.is_some() && doc.owner_user_id.as_deref() == user_id)
        || (national_id.is_some() && doc.owner_national_id.as_deref() == national_id);
    if !owned {
        return Ok(None);
    }
    let status = match &doc.result_id {
        Some(r) => results::table.find(r).select(results::status).first::<String>(conn)?,
        None => "valid".into(),
    };
    Ok((status == "valid").then_some(doc))
}
