//! Electronic results (kết quả bản điện tử): drafted by the specialist,
//! signed with Ed25519 on approval, verifiable by anyone, revocable and
//! replaceable by an approver.

pub mod keys;
pub mod routes;

use chrono::{Datelike, NaiveDateTime, Timelike};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::db::DbConnection;
use crate::db::schema::{result_drafts, results, signing_keys, units, users};
use crate::domain::result_form::{ResultFields, result_number};
use crate::dossiers::DossierRow;
use crate::error::ApiError;
use crate::time::utc;
use keys::Signer;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = results)]
pub struct ResultRow {
    pub id: String,
    pub number: String,
    pub dossier_id: String,
    pub title: String,
    pub issuing_unit_id: String,
    pub issuing_unit_code: String,
    pub issuing_unit_name: String,
    pub signer_id: String,
    pub signer_name: String,
    pub issued_at: NaiveDateTime,
    pub sha256: String,
    pub size_bytes: i64,
    pub file_name: String,
    pub key_id: String,
    pub signature: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub status_changed_at: Option<NaiveDateTime>,
    pub replaces_id: Option<String>,
    pub replaced_by_id: Option<String>,
}

impl ResultRow {
    pub fn fields(&self) -> ResultFields<'_> {
        ResultFields {
            number: &self.number,
            title: &self.title,
            issuing_unit_code: &self.issuing_unit_code,
            issuing_unit_name: &self.issuing_unit_name,
            signer: &self.signer_name,
            issued_at: utc(self.issued_at),
            sha256: &self.sha256,
        }
    }
}

/// The file of a result: where it is stored and what it is called.
pub struct ResultFile {
    pub sha256: String,
    pub size_bytes: i64,
    pub file_name: String,
}

/// Records the signing key's public half (at start-up), so that it stays
/// published after the key is rotated.
pub fn publish_key(conn: &mut DbConnection, key_id: &str, public_key: &str) -> QueryResult<()> {
    let known: bool = diesel::select(diesel::dsl::exists(signing_keys::table.find(key_id))).get_result(conn)?;
    if known {
        return Ok(());
    }
    // Instances sharing one key may start at once: the first one publishes
    // it, and a savepoint keeps the others' transaction alive through the
    // unique violation.
    let inserted = conn.transaction(|c| {
        diesel::insert_into(signing_keys::table)
            .values((
                signing_keys::id.eq(key_id),
                signing_keys::public_key.eq(public_key),
                signing_keys::created_at.eq(crate::time::now()),
            ))
            .execute(c)
    });
    match inserted {
        Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) | Ok(_) => {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Signs and stores a result for `dossier`, issued by its current unit.
pub fn issue(
    conn: &mut DbConnection,
    signer: &Signer,
    dossier: &DossierRow,
    approver: &Principal,
    title: &str,
    file: ResultFile,
    replaces: Option<&ResultRow>,
) -> Result<ResultRow, ApiError> {
    // Signed to the second: the canonical form carries whole seconds.
    let now = crate::time::now().with_nanosecond(0).expect("zero nanoseconds");
    let (unit_code, unit_name): (String, String) =
        units::table.find(&dossier.unit_id).select((units::code, units::name)).first(conn)?;
    let signer_name: String = users::table.find(&approver.user_id).select(users::full_name).first(conn)?;
    let year = crate::dossiers::local(now).year();
    let seq = crate::db::next_in_sequence(conn, &format!("result:{}", dossier.unit_id), &year.to_string())?;
    let mut row = ResultRow {
        id: uuid::Uuid::now_v7().to_string(),
        number: result_number(&unit_code, year, seq as u32),
        dossier_id: dossier.id.clone(),
        title: title.to_string(),
        issuing_unit_id: dossier.unit_id.clone(),
        issuing_unit_code: unit_code,
        issuing_unit_name: unit_name,
        signer_id: approver.user_id.clone(),
        signer_name,
        issued_at: now,
        sha256: file.sha256,
        size_bytes: file.size_bytes,
        file_name: file.file_name,
        key_id: signer.key_id.clone(),
        signature: String::new(),
        status: "valid".into(),
        status_reason: None,
        status_changed_at: None,
        replaces_id: replaces.map(|r| r.id.clone()),
        replaced_by_id: None,
    };
    let canonical = row.fields().canonical().ok_or_else(|| ApiError::invalid_field("title", "no line breaks"))?;
    row.signature = signer.sign(canonical.as_bytes());
    diesel::insert_into(results::table).values(&row).execute(conn)?;
    crate::repository::add_result(conn, dossier, &row)?;
    Ok(row)
}

/// On approval: signs the dossier's draft result, if one was prepared. A
/// dossier approved without a draft gets a paper result (no e-result).
pub fn issue_from_draft(
    conn: &mut DbConnection,
    signer: &Signer,
    dossier: &DossierRow,
    approver: &Principal,
) -> Result<Option<ResultRow>, ApiError> {
    let draft: Option<(String, String, i64, String)> = result_drafts::table
        .find(&dossier.id)
        .select((result_drafts::title, result_drafts::sha256, result_drafts::size_bytes, result_drafts::file_name))
        .first(conn)
        .optional()?;
    let Some((title, sha256, size_bytes, file_name)) = draft else { return Ok(None) };
    let row = issue(conn, signer, dossier, approver, &title, ResultFile { sha256, size_bytes, file_name }, None)?;
    diesel::delete(result_drafts::table.find(&dossier.id)).execute(conn)?;
    Ok(Some(row))
}

/// Whether a result document waits to be signed on approval.
pub fn has_draft(conn: &mut DbConnection, dossier_id: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(result_drafts::table.find(dossier_id))).get_result(conn)
}

/// The dossier's current e-result: the latest one issued.
pub fn current(conn: &mut DbConnection, dossier_id: &str) -> QueryResult<Option<ResultRow>> {
    results::table
        .filter(results::dossier_id.eq(dossier_id))
        .order(results::id.desc())
        .select(ResultRow::as_select())
        .first(conn)
        .optional()
}

/// What public verification tells: what the result itself states, its
/// status, and what is needed to check its signature — nothing about the
/// applicant.
#[derive(Debug, Serialize, ToSchema)]
pub struct Verification {
    pub number: String,
    #[schema(value_type = crate::domain::dossier::ResultStatus)]
    pub status: String,
    /// Valid, unrevoked, and its signature checks with the published key.
    pub valid: bool,
    pub signature_valid: bool,
    pub title: String,
    pub issuing_unit_code: String,
    pub issuing_unit_name: String,
    pub signer: String,
    pub issued_at: chrono::DateTime<chrono::Utc>,
    pub sha256: String,
    pub key_id: String,
    /// Ed25519 signature of the canonical form, base64.
    pub signature: String,
    pub status_reason: Option<String>,
    pub status_changed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Number of the result this one replaces.
    pub replaces: Option<String>,
    /// Number of the result that replaced this one.
    pub replaced_by: Option<String>,
}

pub fn verification(conn: &mut DbConnection, row: ResultRow) -> QueryResult<Verification> {
    let public: String = signing_keys::table.find(&row.key_id).select(signing_keys::public_key).first(conn)?;
    let signature_valid = row.fields().canonical().is_some_and(|c| keys::verify(&public, c.as_bytes(), &row.signature));
    let number_of = |conn: &mut DbConnection, id: &Option<String>| -> QueryResult<Option<String>> {
        match id {
            Some(id) => results::table.find(id).select(results::number).first(conn).map(Some),
            None => Ok(None),
        }
    };
    let replaces = number_of(conn, &row.replaces_id)?;
    let replaced_by = number_of(conn, &row.replaced_by_id)?;
    Ok(Verification {
        valid: signature_valid && row.status == "valid",
        signature_valid,
        issued_at: utc(row.issued_at),
        status_changed_at: row.status_changed_at.map(utc),
        number: row.number,
        status: row.status,
        title: row.title,
        issuing_unit_code: row.issuing_unit_code,
        issuing_unit_name: row.issuing_unit_name,
        signer: row.signer_name,
        sha256: row.sha256,
        key_id: row.key_id,
        signature: row.signature,
        status_reason: row.status_reason,
        replaces,
        replaced_by,
    })
}
