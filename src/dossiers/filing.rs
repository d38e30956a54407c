//! Filing: a citizen submits online; a clerk registers a counter or postal
//! dossier, received at once (`domain::dossier::file`); the national
//! portal's service account files online the dossiers citizens filed there
//! (`src/portal/filing.rs`). All get a gap-free code; all go through the
//! write path's `create` (`write.rs`).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::write::Created;
use super::{Applicant, DossierRow, NewEvent};
use crate::audit::Audit;
use crate::auth::Principal;
use crate::auth::users::UserRow;
use crate::db::DbConnection;
use crate::db::schema::{
    dossier_components, dossier_desks, dossier_facts, dossier_files, dossier_units, dossiers, idempotency_keys, users,
};
pub use crate::domain::dossier::Channel;
use crate::domain::dossier::{self as domain, Now, Terms};
use crate::domain::dossier_code::DossierCode;
use crate::domain::identity::{Email, NationalId, normalize_phone};
use crate::domain::roles::Role;
use crate::domain::text::fold;
use crate::domain::units::Reception;
use crate::error::{ApiError, Validator};
use crate::notify::Notifier;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApplicantKind {
    Citizen,
    Business,
    Representative,
}

impl ApplicantKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Citizen => "citizen",
            Self::Business => "business",
            Self::Representative => "representative",
        }
    }
}

/// Who applies. Online, a citizen's own details come from the account and
/// only the address (and, for a business or a representative, the rest) is
/// given here.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicantInput {
    pub kind: ApplicantKind,
    pub name: Option<String>,
    pub national_id: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FileDossier {
    pub procedure_code: String,
    /// The receiving unit; its level must perform the procedure.
    pub unit_id: String,
    /// `online` for citizens (the default); `counter` or `postal` for clerks.
    pub channel: Option<Channel>,
    pub applicant: Option<ApplicantInput>,
    /// Declared form fields.
    #[schema(value_type = Object)]
    pub form: Option<serde_json::Map<String, serde_json::Value>>,
    /// Components taken from the applicant's document repository instead of
    /// uploaded (status `reused`; no file is copied).
    pub reuse: Option<Vec<Reuse>>,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reuse {
    /// The component's position in the procedure (0-based).
    pub component: i32,
    /// A document of `GET /me/documents`.
    pub document_id: String,
}

fn check_applicant(a: &ApplicantInput, v: &mut Validator) -> Result<Applicant, ApiError> {
    let name = a.name.as_deref().map(str::trim).unwrap_or_default().to_string();
    v.name("applicant.name", &name, 200);
    let national_id = match (&a.national_id, a.kind) {
        (Some(id), _) => v.parsed("applicant.national_id", NationalId::parse(id)).map(|n| n.to_string()),
        (None, ApplicantKind::Citizen | ApplicantKind::Representative) => {
            v.push("applicant.national_id", "a person applies with their national ID");
            None
        }
        (None, ApplicantKind::Business) => None,
    };
    let email = a.email.as_deref().and_then(|e| v.parsed("applicant.email", Email::parse(e))).map(Email::into_string);
    let phone = a.phone.as_deref().and_then(|p| v.parsed("applicant.phone", normalize_phone(p)));
    let address = a.address.as_deref().map(str::trim).map(str::to_string);
    if let Some(addr) = &address {
        v.text("applicant.address", addr, 500);
    }
    Ok(Applicant { kind: a.kind.as_str().into(), name, national_id, email, phone, address })
}

/// The applicant of an online dossier: the account's identity, with the
/// address and, for a business or a representative, the given details.
fn online_applicant(
    account: &UserRow,
    input: Option<&ApplicantInput>,
    v: &mut Validator,
) -> Result<Applicant, ApiError> {
    match input {
        Some(a) if a.kind != ApplicantKind::Citizen => check_applicant(a, v),
        _ => {
            let address = input.and_then(|a| a.address.as_deref()).map(str::trim).map(str::to_string);
            if let Some(addr) = &address {
                v.text("applicant.address", addr, 500);
            }
            Ok(Applicant {
                kind: ApplicantKind::Citizen.as_str().into(),
                name: account.full_name.clone(),
                national_id: account.stated_national_id().map(str::to_string),
                email: Some(account.email.clone()),
                phone: account.phone.clone(),
                address,
            })
        }
    }
}

/// Everything needed to create a dossier, decided before the transaction.
pub struct Filing {
    pub request: FileDossier,
    pub idempotency_key: Option<String>,
    /// Online filing needs a verified e-mail address.
    pub require_verified_email: bool,
}

/// Who files: a citizen online, a clerk at the desk, or the national portal
/// for a citizen who filed there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Filer {
    Citizen,
    Desk,
    Portal,
}

/// Files or registers a dossier inside the write path's transaction; or,
/// for a request repeated with its `Idempotency-Key`, finds the dossier it
/// made (concurrent repeats wait for the first: the key is locked).
pub fn file(
    conn: &mut DbConnection,
    audit: &Audit,
    principal: &Principal,
    filing: Filing,
    settings: &crate::config::DossierSettings,
    notifier: &Notifier,
) -> Result<Created, ApiError> {
    let Filing { request, idempotency_key, require_verified_email } = filing;
    let fingerprint = crate::http::fingerprint(&request);
    if let Some(key) = &idempotency_key {
        crate::db::backend::lock_text_for_transaction(conn, &format!("idempotency:{}:{key}", principal.user_id))?;
        let earlier: Option<(String, String)> = idempotency_keys::table
            .find((&principal.user_id, key))
            .select((idempotency_keys::request_hash, idempotency_keys::dossier_id))
            .first(conn)
            .optional()?;
        if let Some((hash, dossier_id)) = earlier {
            return if hash == fingerprint {
                Ok(Created { id: dossier_id, new: false })
            } else {
                Err(crate::http::idempotency_key_reused())
            };
        }
    }

    let channel = request.channel.unwrap_or(Channel::Online);
    let filer = if channel != Channel::Online {
        principal.require_any(&[Role::Clerk])?;
        Filer::Desk
    } else if principal.has(Role::Citizen) {
        Filer::Citizen
    } else if principal.has(Role::Portal) {
        Filer::Portal
    } else {
        return Err(ApiError::forbidden(
            "Online dossiers are filed by citizens; clerks register counter or postal ones.",
        ));
    };
    let registering = filer == Filer::Desk;
    if filer == Filer::Citizen && require_verified_email {
        crate::auth::users::require_verified_email(conn, &principal.user_id)?;
    }

    let mut v = Validator::default();
    let procedure = crate::procedures::find_by_code(conn, &request.procedure_code)?.filter(|p| p.active);
    if procedure.is_none() {
        v.push("procedure_code", "no active procedure with this code");
    }
    let unit = crate::units::find(conn, &request.unit_id)?.filter(|u| u.active);
    match (&unit, &procedure) {
        (None, _) => v.push("unit_id", "no active unit with this id"),
        (Some(u), Some(p)) if !p.spec.levels.contains(&u.level()) => {
            v.push("unit_id", format!("a {} does not perform this procedure", u.level()))
        }
        _ => {}
    }
    // Registered at the clerk's desk for another unit of the province, it
    // is routed to that unit's process (docs/processes.md).
    let mut desk: Option<String> = None;
    if let (true, Some(u)) = (registering, &unit) {
        match crate::domain::units::reception(&u.path, &principal.scope_path()?) {
            Some(Reception::Own) => {}
            Some(Reception::ForAnother) => desk = principal.unit_id.clone(),
            None => v.push("unit_id", "clerks register dossiers for a unit of their province"),
        }
    }
    let applicant = if filer != Filer::Citizen {
        match &request.applicant {
            Some(a) => check_applicant(a, &mut v)?,
            None => {
                v.push("applicant", "a dossier filed for someone names its applicant");
                Applicant {
                    kind: String::new(),
                    name: String::new(),
                    national_id: None,
                    email: None,
                    phone: None,
                    address: None,
                }
            }
        }
    } else {
        let account: UserRow = users::table.find(&principal.user_id).select(UserRow::as_select()).first(conn)?;
        online_applicant(&account, request.applicant.as_ref(), &mut v)?
    };
    let form = request.form.clone().unwrap_or_default();
    v.check(form.len() <= 200, "form", "at most 200 fields");
    v.check(request.reuse.as_ref().is_none_or(|r| r.len() <= 50), "reuse", "at most 50 documents");
    v.check(filer != Filer::Portal || request.reuse.is_none(), "reuse", "the portal attaches documents, not reuses");
    v.finish()?;
    let (procedure, unit) = (procedure.expect("validated"), unit.expect("validated"));

    // A dossier filed for someone belongs to the citizen account whose
    // national ID a clerk verified (`users.national_id`), so that they can
    // follow it online; a claimed national ID binds nothing
    // (`src/auth/identity.rs`).
    let owner = if filer != Filer::Citizen {
        match &applicant.national_id {
            Some(nid) => crate::auth::identity::verified_account(conn, nid)?,
            None => None,
        }
    } else {
        Some(principal.user_id.clone())
    };

    let now = crate::time::now();
    let local_now = super::local(now);
    let day = DossierCode::day_key(local_now.date());
    let seq = crate::db::next_in_sequence(conn, &format!("dossier:{}", unit.id), &day)?;
    let code = DossierCode::new(&unit.code, local_now.date(), seq as u32).to_string();
    let terms = Terms::new(procedure.spec.processing_days, procedure.spec.cutoff_hour, settings.day_end_hour);
    let calendar = super::calendar_from(conn, now)?;
    let office = &settings.office_hours;
    let route = match channel {
        Channel::Online => None,
        _ => Some(crate::processes::route(conn, &procedure.id, &unit.id, office)?),
    };
    let now_ = Now { at: now, calendar: &calendar, hours: office };
    let dossier = domain::file(channel, &unit.id, procedure.spec.fee_vnd, &terms, route, now_);
    let row = DossierRow {
        id: uuid::Uuid::now_v7().to_string(),
        search_text: fold(&format!("{code} {}", applicant.name)),
        code,
        procedure_id: procedure.id.clone(),
        unit_id: unit.id.clone(),
        receiving_unit_id: unit.id.clone(),
        applicant_user_id: owner,
        applicant_kind: applicant.kind.clone(),
        applicant_name: applicant.name.clone(),
        applicant_national_id: applicant.national_id.clone(),
        applicant_email: applicant.email.clone(),
        applicant_phone: applicant.phone.clone(),
        applicant_address: applicant.address.clone(),
        form_data: serde_json::Value::Object(form).to_string(),
        channel: channel.as_str().into(),
        status: dossier.status.as_str().into(),
        assignee_id: None,
        submitted_at: dossier.submitted_at,
        received_at: dossier.received_at,
        due_at: dossier.due_at,
        original_due_at: dossier.original_due_at,
        paused_at: None,
        result_at: None,
        finished_at: None,
        supplement_requests: 0,
        fee_vnd: dossier.fee_vnd,
        version: 1,
        queue_at: dossier.queue_at(),
        paid_at: None,
        payment_channel: None,
        created_at: now,
        updated_at: now,
    };
    {
        diesel::insert_into(dossiers::table).values(&row).execute(conn)?;
        for held in [Some(&unit.id), desk.as_ref()].into_iter().flatten() {
            diesel::insert_into(dossier_units::table)
                .values((dossier_units::dossier_id.eq(&row.id), dossier_units::unit_id.eq(held)))
                .execute(conn)?;
        }
        if let Some(desk) = &desk {
            diesel::insert_into(dossier_desks::table)
                .values((dossier_desks::dossier_id.eq(&row.id), dossier_desks::unit_id.eq(desk)))
                .execute(conn)?;
        }
        crate::processes::store_position(conn, &row.id, None, dossier.position.as_ref())?;
        for (i, c) in procedure.spec.components.iter().enumerate() {
            diesel::insert_into(dossier_components::table)
                .values((
                    dossier_components::id.eq(uuid::Uuid::now_v7().to_string()),
                    dossier_components::dossier_id.eq(&row.id),
                    dossier_components::position.eq(i as i32),
                    dossier_components::name.eq(&c.name),
                    dossier_components::mandatory.eq(c.mandatory),
                    dossier_components::e_copy_accepted.eq(c.e_copy_accepted),
                    dossier_components::digitization.eq(super::Digitization::NotDigitized.as_str()),
                ))
                .execute(conn)?;
        }
        let reuse = request.reuse.as_deref().unwrap_or_default();
        // Documents of the applicant: a clerk reuses those of the national ID
        // on the card; a citizen online those of their own account, and of
        // their national ID once verified.
        let reuse_national_id = if registering {
            row.applicant_national_id.clone()
        } else {
            crate::auth::identity::verified_national_id(conn, &principal.user_id)?
        };
        reuse_documents(conn, principal, &row, reuse, reuse_national_id.as_deref(), now)?;
        diesel::insert_into(dossier_facts::table)
            .values((dossier_facts::dossier_id.eq(&row.id), dossier_facts::reused.eq(!reuse.is_empty())))
            .execute(conn)?;
        super::refresh_digitized(conn, &row.id)?;
    }
    let summary = match dossier.due_at {
        Some(due) => {
            format!("registered at the {} desk; due {}", channel.as_str(), super::local(due).format("%Y-%m-%d %H:%M"))
        }
        None if filer == Filer::Portal => "filed on the national public service portal".to_string(),
        None => "submitted online".to_string(),
    };
    NewEvent {
        audit_id: audit.id(),
        dossier_id: &row.id,
        actor: Some(principal),
        role: match filer {
            Filer::Desk => Role::Clerk,
            Filer::Citizen => Role::Citizen,
            Filer::Portal => Role::Portal,
        }
        .as_str(),
        // The desk that received it, where that is not the competent unit.
        unit_id: Some(desk.as_ref().unwrap_or(&unit.id)),
        action: if registering {
            crate::domain::workflow::Recorded::Register
        } else {
            crate::domain::workflow::Recorded::Submit
        }
        .into(),
        from: None,
        to: dossier.status,
        summary,
        payload: serde_json::json!({"channel": channel.as_str(), "procedure_code": procedure.spec.code}),
    }
    .insert(conn)?;
    if registering {
        notifier.dossier_received(conn, &row.id)?;
    }
    if let Some(key) = idempotency_key {
        // Keys are kept two days (at least the promised 24 hours).
        let expired = now - chrono::Duration::hours(48);
        diesel::delete(
            idempotency_keys::table
                .filter(idempotency_keys::user_id.eq(&principal.user_id).and(idempotency_keys::created_at.lt(expired))),
        )
        .execute(conn)?;
        diesel::insert_into(idempotency_keys::table)
            .values((
                idempotency_keys::user_id.eq(&principal.user_id),
                idempotency_keys::idempotency_key.eq(key),
                idempotency_keys::request_hash.eq(fingerprint),
                idempotency_keys::dossier_id.eq(&row.id),
                idempotency_keys::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(Created { id: row.id, new: true })
}

/// Points components at repository documents of the applicant: the
/// component becomes `reused` and lists the document's file, stored once.
fn reuse_documents(
    conn: &mut DbConnection,
    principal: &Principal,
    row: &DossierRow,
    reuse: &[Reuse],
    national_id: Option<&str>,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    for (i, r) in reuse.iter().enumerate() {
        let component: Option<String> = dossier_components::table
            .filter(dossier_components::dossier_id.eq(&row.id).and(dossier_components::position.eq(r.component)))
            .select(dossier_components::id)
            .first(conn)
            .optional()?;
        let component =
            component.ok_or_else(|| ApiError::invalid_field(&format!("reuse[{i}].component"), "no such component"))?;
        let doc = crate::repository::find_usable(conn, &r.document_id, row.applicant_user_id.as_deref(), national_id)?
            .ok_or_else(|| {
                ApiError::invalid_field(
                    &format!("reuse[{i}].document_id"),
                    "no valid document of the applicant's repository",
                )
            })?;
        diesel::update(dossier_components::table.find(&component))
            .set((
                dossier_components::digitization.eq(super::Digitization::Reused.as_str()),
                dossier_components::reused_document_id.eq(&doc.id),
            ))
            .execute(conn)?;
        diesel::insert_into(dossier_files::table)
            .values((
                dossier_files::id.eq(uuid::Uuid::now_v7().to_string()),
                dossier_files::dossier_id.eq(&row.id),
                dossier_files::component_id.eq(&component),
                dossier_files::sha256.eq(&doc.sha256),
                dossier_files::size_bytes.eq(doc.size_bytes),
                dossier_files::content_type.eq(&doc.content_type),
                dossier_files::file_name.eq(&doc.file_name),
                dossier_files::uploaded_by.eq(&principal.user_id),
                dossier_files::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}
