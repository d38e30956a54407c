//! Dossiers filed on the national portal: `POST /api/v1/portal/dossiers`,
//! by the portal's service account. The procedure is named by its national
//! code, the competent unit by its code; documents come inline (base64) or
//! by URL — fetched only from the portal's own origin (`portal.document_origin`),
//! never from an address the caller chooses. The dossier enters as an
//! online dossier at the competent unit, through the filing of
//! `src/dossiers/filing.rs`, with the portal's code kept beside motcua's
//! (`portal_dossiers`); the same portal code filed again finds it.

use base64::Engine;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::audit::Audit;
use crate::auth::Principal;
use crate::db::DbConnection;
use crate::db::schema::{dossier_components, portal_dossiers, procedure_components, procedures, units};
use crate::dossiers::Digitization;
use crate::dossiers::filing::{ApplicantInput, Channel, FileDossier, Filing};
use crate::dossiers::write::Created;
use crate::error::{ApiError, ProblemCode, Validator};
use crate::notify::Notifier;
use crate::storage::{DocumentKind, FileStore, Hashing};

/// A dossier as the portal sends it.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PortalFiling {
    /// The portal's own dossier code (its `MaHoSo`), kept beside motcua's.
    pub portal_code: String,
    /// The procedure's national code (`MaTTHC`, e.g. `1.001612`).
    pub procedure_code: String,
    /// The code of the competent unit.
    pub unit_code: String,
    pub applicant: ApplicantInput,
    /// Declared form fields.
    #[schema(value_type = Object)]
    pub form: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    pub documents: Vec<PortalDocument>,
}

/// A document of a portal dossier: its content inline, or a URL on the portal.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PortalDocument {
    /// The component's position in the procedure (0-based).
    pub component: i32,
    pub file_name: String,
    /// The content, base64 (standard alphabet).
    pub content_base64: Option<String>,
    /// Where the portal serves it: on `portal.document_origin` only.
    pub url: Option<String>,
}

/// What `POST /portal/dossiers` answers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PortalReceipt {
    pub dossier_id: String,
    /// motcua's code.
    pub code: String,
    pub portal_code: String,
    /// The national status (1: filed, awaiting reception).
    pub national_status: u8,
}

impl PortalFiling {
    /// What makes two filings with one portal code the same: everything but
    /// where the documents come from (a retry may carry freshly signed
    /// document URLs, or the content instead of a URL).
    pub fn fingerprint(&self) -> String {
        let documents: Vec<(i32, &str)> = self.documents.iter().map(|d| (d.component, d.file_name.as_str())).collect();
        let same = (&self.portal_code, &self.procedure_code, &self.unit_code, &self.applicant, &self.form, documents);
        hex::encode(Sha256::digest(serde_json::to_vec(&same).expect("serialisable")))
    }

    /// Checks what needs no database: codes, counts, one source per
    /// document, URLs on the portal's origin (`may_fetch`).
    pub fn check(&self, max_documents: usize, may_fetch: impl Fn(&str) -> bool) -> Result<(), ApiError> {
        let mut v = Validator::default();
        v.text("portal_code", &self.portal_code, 64);
        v.check(
            crate::domain::portal::valid_procedure_code(&self.procedure_code),
            "procedure_code",
            "a national procedure code, e.g. 1.001612",
        );
        v.text("unit_code", &self.unit_code, 64);
        v.check(self.documents.len() <= max_documents, "documents", &format!("at most {max_documents} documents"));
        for (i, d) in self.documents.iter().enumerate() {
            let field = |f: &str| format!("documents[{i}].{f}");
            v.text(&field("file_name"), &d.file_name, 200);
            match (&d.content_base64, &d.url) {
                (Some(_), None) => {}
                (None, Some(url)) => {
                    v.check(may_fetch(url), &field("url"), "documents are fetched from the portal's own address only");
                }
                _ => v.push(&field("content_base64"), "either content_base64 or url"),
            };
        }
        v.finish()
    }
}

/// A filing with its documents read.
pub struct Submission {
    pub request: PortalFiling,
    pub documents: Vec<Intake>,
}

/// A document read into a temporary file of the store, hashed.
pub struct Intake {
    pub component: i32,
    pub file_name: String,
    pub sink: Hashing,
}

impl Intake {
    /// Its kind, recognised by content (PDF, JPEG, PNG), else 415.
    pub fn kind(&self, index: usize) -> Result<DocumentKind, ApiError> {
        DocumentKind::sniff(self.sink.head()).ok_or_else(|| {
            ApiError::new(
                actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ProblemCode::UnsupportedFileType,
                format!("documents[{index}]: only PDF, JPEG and PNG documents are accepted (recognised by content)."),
            )
        })
    }
}

/// Writes an inline document into a temporary file of `files`; at most
/// `max` bytes. Runs on the blocking pool.
pub fn decode(files: &dyn FileStore, index: usize, content: &str, max: u64) -> Result<Hashing, ApiError> {
    use std::io::Write;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(content.trim())
        .map_err(|_| ApiError::invalid_field(&format!("documents[{index}].content_base64"), "not base64"))?;
    if bytes.len() as u64 > max {
        return Err(too_large(max));
    }
    let mut sink = Hashing::new(Some(files.incoming().map_err(ApiError::storage)?));
    sink.write_all(&bytes).map_err(ApiError::storage)?;
    Ok(sink)
}

pub fn too_large(max: u64) -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
        ProblemCode::PayloadTooLarge,
        format!("A document is at most {max} bytes."),
    )
}

/// Files the portal's dossier inside the write path's transaction, with
/// its documents; or finds the dossier an earlier filing of the same
/// portal code made (concurrent repeats wait for the first: the code is
/// locked). A portal code filed again with other content is refused.
pub fn file(
    conn: &mut DbConnection,
    audit: &Audit,
    principal: &Principal,
    submission: Submission,
    files: &dyn FileStore,
    settings: &crate::config::DossierSettings,
    notifier: &Notifier,
) -> Result<Created, ApiError> {
    let Submission { request, documents } = submission;
    let fingerprint = request.fingerprint();
    crate::db::backend::lock_text_for_transaction(conn, &format!("portal:{}", request.portal_code))?;
    if let Some(earlier) = earlier(conn, &request.portal_code, &fingerprint)? {
        return Ok(Created { id: earlier, new: false });
    }
    let resolved = resolve(conn, principal, &request)?;
    let portal_code = request.portal_code.clone();
    let filing = Filing {
        request: FileDossier {
            procedure_code: resolved.procedure_code,
            unit_id: resolved.unit_id,
            channel: Some(Channel::Online),
            applicant: Some(request.applicant),
            form: request.form,
            reuse: None,
        },
        idempotency_key: None,
        require_verified_email: false,
    };
    let created = crate::dossiers::filing::file(conn, audit, principal, filing, settings, notifier)?;
    attach(conn, audit, principal, &created.id, documents, files)?;
    diesel::insert_into(portal_dossiers::table)
        .values((
            portal_dossiers::dossier_id.eq(&created.id),
            portal_dossiers::portal_code.eq(&portal_code),
            portal_dossiers::request_hash.eq(&fingerprint),
            portal_dossiers::created_at.eq(crate::time::now()),
        ))
        .execute(conn)?;
    Ok(created)
}

/// What a filing names, found in the catalogue and the province.
pub struct Resolved {
    /// The catalogue's code of the procedure.
    pub procedure_code: String,
    pub unit_id: String,
}

/// Finds the procedure by its national code and the unit by its code among
/// the units of the service account's province, and checks that every
/// document names a component of the procedure: 422 otherwise.
pub fn resolve(conn: &mut DbConnection, principal: &Principal, request: &PortalFiling) -> Result<Resolved, ApiError> {
    let mut v = Validator::default();
    let procedure: Option<(String, String)> = procedures::table
        .filter(procedures::national_code.eq(&request.procedure_code).and(procedures::active.eq(true)))
        .select((procedures::id, procedures::code))
        .first(conn)
        .optional()?;
    match &procedure {
        None => v.push("procedure_code", "no active procedure of the catalogue has this national code"),
        Some((id, _)) => {
            let components: i64 = procedure_components::table
                .filter(procedure_components::procedure_id.eq(id))
                .count()
                .get_result(conn)?;
            for (i, d) in request.documents.iter().enumerate() {
                v.check(
                    (0..components).contains(&i64::from(d.component)),
                    &format!("documents[{i}].component"),
                    "no such component of the procedure",
                );
            }
        }
    }
    // The service account files for the units of its province only.
    let scope = principal.scope_path()?;
    let unit: Option<String> = units::table
        .filter(units::code.eq(&request.unit_code).and(units::path.like(format!("{scope}%"))))
        .select(units::id)
        .first(conn)
        .optional()?;
    if unit.is_none() {
        v.push("unit_code", "no unit of the province has this code");
    }
    v.finish()?;
    Ok(Resolved { procedure_code: procedure.expect("checked").1, unit_id: unit.expect("checked") })
}

/// The dossier an earlier filing of `portal_code` made, if it was the same
/// filing; 409 `portal_code_reused` if it was another.
pub fn earlier(conn: &mut DbConnection, portal_code: &str, fingerprint: &str) -> Result<Option<String>, ApiError> {
    let found: Option<(String, String)> = portal_dossiers::table
        .filter(portal_dossiers::portal_code.eq(portal_code))
        .select((portal_dossiers::dossier_id, portal_dossiers::request_hash))
        .first(conn)
        .optional()?;
    match found {
        None => Ok(None),
        Some((id, hash)) if hash == fingerprint => Ok(Some(id)),
        Some(_) => Err(ApiError::conflict(
            ProblemCode::PortalCodeReused,
            "A different dossier was already filed with this portal code.",
        )),
    }
}

/// Stores the documents and attaches them to their components as
/// electronic originals, with one upload event each.
fn attach(
    conn: &mut DbConnection,
    audit: &Audit,
    principal: &Principal,
    dossier_id: &str,
    documents: Vec<Intake>,
    files: &dyn FileStore,
) -> Result<(), ApiError> {
    for (i, doc) in documents.into_iter().enumerate() {
        let kind = doc.kind(i)?;
        let component: Option<(String, String)> = dossier_components::table
            .filter(dossier_components::dossier_id.eq(dossier_id).and(dossier_components::position.eq(doc.component)))
            .select((dossier_components::id, dossier_components::name))
            .first(conn)
            .optional()?;
        let (component, name) = component
            .ok_or_else(|| ApiError::invalid_field(&format!("documents[{i}].component"), "no such component"))?;
        let size = doc.sink.size();
        let (file, sha256, _) = doc.sink.finish();
        let file = file.ok_or_else(|| ApiError::internal("a document read without keeping it"))?;
        files.keep(file, &sha256).map_err(ApiError::storage)?;
        crate::dossiers::files::attach(
            conn,
            crate::dossiers::files::Attached {
                audit_id: audit.id(),
                dossier_id,
                component_id: &component,
                component_name: &name,
                sha256: &sha256,
                size_bytes: size as i64,
                content_type: kind.content_type(),
                file_name: &doc.file_name,
                digitization: Digitization::ElectronicOriginal,
                by: principal,
                role: crate::domain::roles::Role::Portal,
                unit_id: None,
                status: crate::domain::workflow::Status::Submitted,
            },
        )?;
    }
    crate::dossiers::refresh_digitized(conn, dossier_id)?;
    Ok(())
}
