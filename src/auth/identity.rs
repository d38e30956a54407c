//! Identity binding: `POST /api/v1/identity/verifications`.
//!
//! A citizen's national ID typed into the registration form is a *claim*
//! (`users.national_id_claim`), not a proof. A clerk who has seen the card
//! at a one-stop desk *verifies* it (`users.national_id`, unique among
//! verified accounts, with the clerk, time and unit). Only a verified
//! account receives the counter and postal dossiers registered under its
//! national ID and the repository documents filed under it — those from
//! before the verification too; an unverified account sees only what it
//! filed itself. A claim never blocks the card's real owner: registering
//! with a claimed national ID succeeds, and verifying one account detaches
//! the same claim from every other unverified account.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Principal;
use super::users::UserRow;
use crate::app::AppState;
use crate::audit::Audit;
use crate::db::DbConnection;
use crate::db::schema::{dossiers, users};
use crate::domain::identity::{Email, NationalId};
use crate::domain::roles::Role;
use crate::domain::workflow::Status;
use crate::dossiers::NewEvent;
use crate::dossiers::write::Counting::Uncounted;
use crate::error::{ApiError, Problem, ProblemCode, Validator};
use crate::time::utc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/identity/verifications").route(web::post().to(verify)));
}

/// The citizen account whose national ID `national_id` a clerk verified.
pub fn verified_account(conn: &mut DbConnection, national_id: &str) -> QueryResult<Option<String>> {
    users::table
        .filter(users::national_id.eq(national_id).and(users::roles.eq(Role::Citizen.as_str())))
        .select(users::id)
        .first(conn)
        .optional()
}

/// The verified national ID of account `user_id`, if any.
pub fn verified_national_id(conn: &mut DbConnection, user_id: &str) -> QueryResult<Option<String>> {
    users::table.find(user_id).select(users::national_id).first::<Option<String>>(conn).optional().map(Option::flatten)
}

/// The citizen at the desk: the e-mail of their account and the number on
/// the card the clerk holds.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyIdentity {
    pub email: String,
    /// The 12-digit number on the card (CCCD), which becomes the account's.
    pub national_id: String,
}

/// What a verification did.
#[derive(Debug, Serialize, ToSchema)]
pub struct IdentityVerification {
    pub user_id: String,
    pub email: String,
    pub full_name: String,
    pub national_id: String,
    pub verified_at: DateTime<Utc>,
    /// The clerk who saw the card.
    pub verified_by: String,
    /// The clerk's unit.
    pub verified_unit_id: Option<String>,
    /// Counter and postal dossiers of this national ID now followed by the account.
    pub dossiers_bound: usize,
    /// Other unverified accounts that claimed this national ID and no longer do.
    pub claims_detached: usize,
}

/// Verify a citizen's national ID at the desk (clerks): the account then
/// receives the counter and postal dossiers and the repository documents of
/// that national ID. Verifying an account again with the same number changes
/// nothing; another number, or a number another verified account holds,
/// answers 409.
#[utoipa::path(post, path = "/api/v1/identity/verifications", tag = "auth", request_body = VerifyIdentity,
    security(("bearer" = [])),
    responses((status = 200, body = IdentityVerification), (status = 403, body = Problem),
        (status = 404, body = Problem, description = "No active citizen account with this e-mail"),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn verify(
    state: web::Data<AppState>,
    principal: Principal,
    audit: Audit,
    body: web::Json<VerifyIdentity>,
) -> Result<HttpResponse, ApiError> {
    principal.require_any(&[Role::Clerk])?;
    let body = body.into_inner();
    let mut v = Validator::default();
    let email = v.parsed("email", Email::parse(&body.email));
    let national_id = v.parsed("national_id", NationalId::parse(&body.national_id));
    v.finish()?;
    let (email, national_id) = (email.expect("validated").into_string(), national_id.expect("validated").to_string());
    let done = audit
        .write(&state, move |conn, audit| {
            // Verifications of one national ID take turns (they detach each
            // other's claims), then the account's row is locked.
            crate::db::backend::lock_text_for_transaction(conn, &format!("national-id:{national_id}"))?;
            let account: UserRow = crate::first_locked!(
                &mut *conn,
                users::table.filter(users::email.eq(&email)).select(UserRow::as_select())
            )?
            .filter(|u| u.active && u.role_list() == [Role::Citizen])
            .ok_or_else(ApiError::not_found)?;
            audit.target(&account.id);
            bind(conn, audit, &principal, account, &national_id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(done))
}

fn bind(
    conn: &mut DbConnection,
    audit: &mut Audit,
    clerk: &Principal,
    account: UserRow,
    national_id: &str,
) -> Result<IdentityVerification, ApiError> {
    let now = crate::time::now();
    let (verified_at, verified_by, verified_unit_id) = match &account.national_id {
        Some(known) if known == national_id => (
            account.national_id_verified_at.unwrap_or(now),
            account.national_id_verified_by.clone().unwrap_or_default(),
            account.national_id_verified_unit_id.clone(),
        ),
        Some(_) => {
            return Err(ApiError::conflict(
                ProblemCode::IdentityAlreadyVerified,
                "This account is verified with another national ID.",
            ));
        }
        None => {
            // A verified account holding the number answers 409 `national_id_taken`
            // (checked here, and by the unique index for concurrent verifications).
            if verified_account(conn, national_id)?.is_some() {
                return Err(ApiError::conflict(
                    ProblemCode::NationalIdTaken,
                    "A verified account holds this national ID.",
                ));
            }
            diesel::update(users::table.find(&account.id))
                .set((
                    users::national_id.eq(national_id),
                    users::national_id_claim.eq(None::<String>),
                    users::national_id_verified_at.eq(now),
                    users::national_id_verified_by.eq(&clerk.user_id),
                    users::national_id_verified_unit_id.eq(&clerk.unit_id),
                    users::updated_at.eq(now),
                ))
                .execute(conn)?;
            (now, clerk.user_id.clone(), clerk.unit_id.clone())
        }
    };
    let claims_detached = diesel::update(users::table.filter(
        users::national_id_claim.eq(national_id).and(users::national_id.is_null()).and(users::id.ne(&account.id)),
    ))
    .set(users::national_id_claim.eq(None::<String>))
    .execute(conn)?;
    // Each counter or postal dossier of the national ID, wherever it is
    // held, through the write path.
    let unbound: Vec<String> = dossiers::table
        .filter(
            dossiers::applicant_national_id
                .eq(national_id)
                .and(dossiers::channel.ne(crate::domain::dossier::Channel::Online.as_str()))
                .and(dossiers::applicant_user_id.is_null()),
        )
        .select(dossiers::id)
        .order(dossiers::id)
        .load(conn)?;
    let mut dossiers_bound = 0;
    for id in &unbound {
        dossiers_bound += crate::dossiers::write::change_in(conn, audit, None, id, Uncounted, |conn, audit, l| {
            if l.row.applicant_user_id.is_some() {
                return Ok(0);
            }
            diesel::update(dossiers::table.find(&l.row.id))
                .set((
                    dossiers::applicant_user_id.eq(&account.id),
                    dossiers::version.eq(l.row.version + 1),
                    dossiers::updated_at.eq(now),
                ))
                .execute(conn)?;
            let status: Status = l.dossier.status;
            NewEvent {
                audit_id: audit.id(),
                dossier_id: &l.row.id,
                actor: Some(clerk),
                role: Role::Clerk.as_str(),
                unit_id: clerk.unit_id.as_deref(),
                action: crate::domain::workflow::Recorded::BindApplicant.into(),
                from: Some(status),
                to: status,
                summary: "the applicant's national ID was verified at a desk: followed online by their account".into(),
                payload: serde_json::json!({"user_id": account.id}),
            }
            .insert(conn)?;
            Ok(1)
        })?;
    }
    Ok(IdentityVerification {
        user_id: account.id,
        email: account.email,
        full_name: account.full_name,
        national_id: national_id.to_string(),
        verified_at: utc(verified_at),
        verified_by,
        verified_unit_id,
        dossiers_bound,
        claims_detached,
    })
}
