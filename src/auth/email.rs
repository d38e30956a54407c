//! Account e-mail flows: verifying the address given at registration, and
//! resetting a forgotten password. Both send a single-use, expiring link
//! whose token the database keeps only as a SHA-256; issuing a new link of a
//! kind retires the earlier ones.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::password;
use super::principal::Principal;
use super::tokens::{hash_secret_token, new_secret_token};
use super::users::{self, UserRow};
use crate::app::AppState;
use crate::audit::Audit;
use crate::db::DbConnection;
use crate::db::schema::{account_tokens, refresh_tokens, users as users_t};
use crate::domain::identity::check_password;
use crate::error::{ApiError, Problem, ProblemCode, Validator};
use crate::notify::Notifier;
use crate::time::{now, utc};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/auth/verify-email").route(web::get().to(verify_email)))
        .service(web::resource("/auth/resend-verification").route(web::post().to(resend_verification)))
        .service(web::resource("/auth/password-reset").route(web::post().to(request_reset)))
        .service(
            web::resource("/auth/password-reset/confirm")
                .route(web::get().to(check_reset))
                .route(web::post().to(reset)),
        );
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    VerifyEmail,
    ResetPassword,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify_email",
            Purpose::ResetPassword => "reset_password",
        }
    }
}

fn invalid_link() -> ApiError {
    ApiError::bad_request(ProblemCode::InvalidLink, "This link is invalid, has expired or was already used.")
}

/// Issues a token for `user_id` valid for `ttl`, retiring the earlier unused
/// ones of the same purpose; returns the token (never stored).
fn issue(conn: &mut DbConnection, user_id: &str, purpose: Purpose, ttl: chrono::Duration) -> QueryResult<String> {
    let at = now();
    diesel::update(
        account_tokens::table.filter(
            account_tokens::user_id
                .eq(user_id)
                .and(account_tokens::purpose.eq(purpose.as_str()))
                .and(account_tokens::used_at.is_null()),
        ),
    )
    .set(account_tokens::used_at.eq(at))
    .execute(conn)?;
    let token = new_secret_token();
    diesel::insert_into(account_tokens::table)
        .values((
            account_tokens::id.eq(uuid::Uuid::now_v7().to_string()),
            account_tokens::user_id.eq(user_id),
            account_tokens::purpose.eq(purpose.as_str()),
            account_tokens::token_hash.eq(hash_secret_token(&token)),
            account_tokens::created_at.eq(at),
            account_tokens::expires_at.eq(at + ttl),
        ))
        .execute(conn)?;
    Ok(token)
}

/// The active account and expiry of an unused, unexpired token.
fn find_valid(conn: &mut DbConnection, token: &str, purpose: Purpose) -> Result<(UserRow, NaiveDateTime), ApiError> {
    account_tokens::table
        .inner_join(users_t::table)
        .filter(
            account_tokens::token_hash
                .eq(hash_secret_token(token.trim()))
                .and(account_tokens::purpose.eq(purpose.as_str()))
                .and(account_tokens::used_at.is_null())
                .and(account_tokens::expires_at.gt(now()))
                .and(users_t::active.eq(true)),
        )
        .select((UserRow::as_select(), account_tokens::expires_at))
        .first(conn)
        .optional()?
        .ok_or_else(invalid_link)
}

/// Uses a token up: its account, once; `invalid_link` otherwise (a
/// concurrent use included).
fn consume(conn: &mut DbConnection, token: &str, purpose: Purpose) -> Result<UserRow, ApiError> {
    let (user, _) = find_valid(conn, token, purpose)?;
    let used =
        diesel::update(account_tokens::table.filter(
            account_tokens::token_hash.eq(hash_secret_token(token.trim())).and(account_tokens::used_at.is_null()),
        ))
        .set(account_tokens::used_at.eq(now()))
        .execute(conn)?;
    if used == 1 { Ok(user) } else { Err(invalid_link()) }
}

/// Sends `user` a link that verifies their e-mail address (in the caller's
/// transaction).
pub fn send_verification(conn: &mut DbConnection, notifier: &Notifier, user: &UserRow) -> Result<(), ApiError> {
    let ttl = chrono::Duration::hours(notifier.settings().verification_ttl_hours);
    let token = issue(conn, &user.id, Purpose::VerifyEmail, ttl)?;
    notifier.verify_email(conn, user, &token)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TokenQuery {
    /// The token of the e-mailed link.
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmailVerified {
    pub email: String,
    pub email_verified: bool,
}

/// Verify an e-mail address: the link sent at registration.
///
/// A GET, so that the e-mailed link works when followed. Single-use.
#[utoipa::path(get, path = "/api/v1/auth/verify-email", tag = "auth", params(TokenQuery),
    responses((status = 200, body = EmailVerified), (status = 400, body = Problem)))]
pub async fn verify_email(
    state: web::Data<AppState>,
    audit: Audit,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, ApiError> {
    let token = query.into_inner().token;
    let email = audit
        .write(&state, move |conn, audit| {
            let user = consume(conn, &token, Purpose::VerifyEmail)?;
            audit.target(&user.id);
            diesel::update(users_t::table.find(&user.id).filter(users_t::email_verified_at.is_null()))
                .set((users_t::email_verified_at.eq(now()), users_t::updated_at.eq(now())))
                .execute(conn)?;
            Ok(user.email)
        })
        .await?;
    tracing::info!("e-mail address verified");
    Ok(HttpResponse::Ok().json(EmailVerified { email, email_verified: true }))
}

/// Send a new verification link to the caller's address (the earlier ones stop working).
#[utoipa::path(post, path = "/api/v1/auth/resend-verification", tag = "auth", security(("bearer" = [])),
    responses((status = 202, description = "A new link is on its way"), (status = 401, body = Problem),
        (status = 409, body = Problem)))]
pub async fn resend_verification(
    state: web::Data<AppState>,
    principal: Principal,
    audit: Audit,
) -> Result<HttpResponse, ApiError> {
    let notifier = state.notifier.clone();
    audit
        .write(&state, move |conn, audit| {
            audit.status(actix_web::http::StatusCode::ACCEPTED);
            let user: UserRow = users_t::table.find(&principal.user_id).select(UserRow::as_select()).first(conn)?;
            if user.email_verified_at.is_some() {
                return Err(ApiError::conflict(
                    ProblemCode::AlreadyVerified,
                    "This e-mail address is already verified.",
                ));
            }
            send_verification(conn, &notifier, &user)
        })
        .await?;
    Ok(HttpResponse::Accepted().finish())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    pub email: String,
}

/// Ask for a password-reset link.
///
/// Always answers 202, whether or not an account has this address, and
/// never sooner than [`RESET_ANSWER_TIME`] after the request: neither the
/// answer nor its timing reveals anything. Throttled per client address and
/// per address asked for, apart from the logins' budgets.
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "auth", request_body = ResetRequest,
    responses((status = 202, description = "If the address has an account, a link is on its way"),
        (status = 429, body = Problem)))]
pub async fn request_reset(
    state: web::Data<AppState>,
    audit: Audit,
    req: HttpRequest,
    body: web::Json<ResetRequest>,
) -> Result<HttpResponse, ApiError> {
    let answer_at = tokio::time::Instant::now() + RESET_ANSWER_TIME;
    let email = body.into_inner().email.trim().to_lowercase();
    let address = crate::http::client_address(&req).map(|a| a.to_string()).unwrap_or_default();
    state.throttles.reset_address.attempt(&address)?;
    state.throttles.reset_account.attempt(&email)?;
    let notifier = state.notifier.clone();
    audit
        .write(&state, move |conn, audit| {
            audit.status(actix_web::http::StatusCode::ACCEPTED);
            let Some(user) = users::find_by_email(conn, &email)?.filter(|u| u.active) else { return Ok(()) };
            let ttl = chrono::Duration::minutes(notifier.settings().password_reset_ttl_minutes);
            let token = issue(conn, &user.id, Purpose::ResetPassword, ttl)?;
            notifier.password_reset(conn, &user, &token)
        })
        .await?;
    tokio::time::sleep_until(answer_at).await;
    Ok(HttpResponse::Accepted().finish())
}

/// How long every password-reset request takes to answer, whether or not a
/// link was issued (it takes a few milliseconds more to issue one).
pub const RESET_ANSWER_TIME: std::time::Duration = std::time::Duration::from_millis(40);

#[derive(Debug, Serialize, ToSchema)]
pub struct ResetLink {
    pub expires_at: DateTime<Utc>,
}

/// Check a password-reset link before asking for the new password (the
/// e-mailed link; it stays usable).
#[utoipa::path(get, path = "/api/v1/auth/password-reset/confirm", tag = "auth", params(TokenQuery),
    responses((status = 200, body = ResetLink), (status = 400, body = Problem)))]
pub async fn check_reset(state: web::Data<AppState>, query: web::Query<TokenQuery>) -> Result<HttpResponse, ApiError> {
    let token = query.into_inner().token;
    let expires_at = state.db.run(move |conn| Ok(find_valid(conn, &token, Purpose::ResetPassword)?.1)).await?;
    Ok(HttpResponse::Ok().json(ResetLink { expires_at: utc(expires_at) }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirm {
    /// The token of the e-mailed link.
    pub token: String,
    pub new_password: String,
}

/// Choose a new password with a reset link.
///
/// The link works once. Every session of the account ends (its refresh
/// tokens are revoked), and the address counts as verified.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "auth", request_body = ResetConfirm,
    responses((status = 204, description = "Password changed"), (status = 400, body = Problem),
        (status = 422, body = Problem)))]
pub async fn reset(
    state: web::Data<AppState>,
    audit: Audit,
    body: web::Json<ResetConfirm>,
) -> Result<HttpResponse, ApiError> {
    let ResetConfirm { token, new_password } = body.into_inner();
    let mut v = Validator::default();
    v.parsed("new_password", check_password(&new_password, &[]));
    v.finish()?;
    let hash = password::hash(new_password).await?;
    let user_id = audit
        .write(&state, move |conn, audit| {
            audit.status(actix_web::http::StatusCode::NO_CONTENT);
            let user = consume(conn, &token, Purpose::ResetPassword)?;
            audit.target(&user.id);
            let at = now();
            diesel::update(users_t::table.find(&user.id))
                .set((
                    users_t::password_hash.eq(hash),
                    users_t::email_verified_at.eq(user.email_verified_at.unwrap_or(at)),
                    users_t::updated_at.eq(at),
                ))
                .execute(conn)?;
            diesel::update(
                refresh_tokens::table
                    .filter(refresh_tokens::user_id.eq(&user.id).and(refresh_tokens::revoked_at.is_null())),
            )
            .set(refresh_tokens::revoked_at.eq(at))
            .execute(conn)?;
            Ok(user.id)
        })
        .await?;
    tracing::info!(%user_id, "password reset; sessions revoked");
    Ok(HttpResponse::NoContent().finish())
}
