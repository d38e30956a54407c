//! `/api/v1/auth/*` and `/api/v1/me`.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::password;
use super::principal::Principal;
use super::tokens::{hash_secret_token, new_secret_token};
use super::users::{self, UserRow, UserView};
use crate::app::AppState;
use crate::audit::Audit;
use crate::db::DbConnection;
use crate::db::schema::{refresh_tokens, users as users_t};
use crate::domain::identity::{Email, NationalId, check_password, normalize_phone};
use crate::domain::roles::{self, Role};
use crate::error::{ApiError, Problem, ProblemCode, Validator};
use crate::time::{now, utc};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/auth/register").route(web::post().to(register)))
        .service(web::resource("/auth/login").route(web::post().to(login)))
        .service(web::resource("/auth/refresh").route(web::post().to(refresh)))
        .service(web::resource("/auth/logout").route(web::post().to(logout)))
        .service(web::resource("/me").route(web::get().to(me)))
        .configure(super::identity::configure)
        .configure(super::email::configure);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub email: String,
    pub password: String,
    pub full_name: String,
    /// 12-digit citizen identity number (CCCD).
    pub national_id: String,
    pub phone: Option<String>,
    /// `vi` (default) or `en`: the language of messages to this account.
    pub locale: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Lifetime of the access token in seconds.
    pub expires_in: i64,
    /// Single-use: each refresh returns a new one and retires this one.
    pub refresh_token: String,
    pub refresh_expires_at: DateTime<Utc>,
    pub user: UserView,
}

/// What registration answers, whether or not the address has an account.
#[derive(Debug, Serialize, ToSchema)]
pub struct Registration {
    pub email: String,
    /// Always `check_your_mailbox`: a new account gets its verification link;
    /// the owner of an address that has one, a message saying so.
    pub next: &'static str,
}

/// Register a citizen account.
///
/// Answers 202 whether or not the e-mail address already has an account, so
/// that registration tells nobody which addresses are known: a new account
/// gets its verification link by e-mail; the owner of an existing address a
/// message that someone tried to register it (and how to reset the password).
/// The national ID is a claim ([docs/accounts.md]): it never blocks.
/// Throttled per client address (429).
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 202, body = Registration), (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn register(
    state: web::Data<AppState>,
    audit: Audit,
    req: HttpRequest,
    body: web::Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let mut v = Validator::default();
    let email = v.parsed("email", Email::parse(&body.email));
    v.parsed("password", check_password(&body.password, &[&body.email, &body.full_name]));
    let national_id = v.parsed("national_id", NationalId::parse(&body.national_id));
    let phone = body.phone.as_deref().and_then(|p| v.parsed("phone", normalize_phone(p)));
    let full_name = body.full_name.trim().to_string();
    v.name("full_name", &full_name, 200);
    let locale = body.locale.unwrap_or_else(|| "vi".into());
    v.check(locale == "vi" || locale == "en", "locale", "the locale is `vi` or `en`");
    v.finish()?;
    let (email, national_id) = (email.expect("validated").into_string(), national_id.expect("validated"));
    let address = crate::http::client_address(&req).map(|a| a.to_string()).unwrap_or_default();
    state.throttles.register_address.attempt(&address)?;
    let answer = Registration { email: email.clone(), next: "check_your_mailbox" };
    let notifier = state.notifier.clone();

    // A known address costs no hashing; the answer waits as long as a
    // hashing would, so that its timing tells nothing either.
    let lookup = email.clone();
    if let Some(owner) = state.db.run(move |conn| Ok(users::find_by_email(conn, &lookup)?)).await? {
        audit
            .write(&state, move |conn, audit| {
                audit.status(actix_web::http::StatusCode::ACCEPTED);
                notifier.account_exists(conn, &owner)
            })
            .await?;
        password::wait_as_long_as_a_hash().await;
        return Ok(HttpResponse::Accepted().json(answer));
    }
    let password_hash = password::hash_for_registration(body.password).await?;
    let at = now();
    let row = UserRow {
        id: uuid::Uuid::now_v7().to_string(),
        email,
        password_hash,
        full_name,
        national_id: None,
        phone,
        roles: roles::encode(&[Role::Citizen]),
        unit_id: None,
        active: true,
        locale,
        email_verified_at: None,
        created_at: at,
        updated_at: at,
        national_id_claim: Some(national_id.to_string()),
        national_id_verified_at: None,
        national_id_verified_by: None,
        national_id_verified_unit_id: None,
    };
    audit
        .write(&state, move |conn, audit| {
            audit.status(actix_web::http::StatusCode::ACCEPTED);
            // Registered meanwhile by a concurrent request: its owner is told.
            if let Some(owner) = users::find_by_email(conn, &row.email)? {
                return notifier.account_exists(conn, &owner);
            }
            audit.target(&row.id);
            diesel::insert_into(users_t::table).values(&row).execute(conn)?;
            tracing::info!(user_id = %row.id, "citizen registered");
            super::email::send_verification(conn, &notifier, &row)
        })
        .await?;
    Ok(HttpResponse::Accepted().json(answer))
}

/// Log in with e-mail and password.
///
/// A wrong password, an unknown e-mail and a disabled account all answer the
/// same 401. Failures are throttled per account and address, per account
/// (looser) and per address: 429 with `Retry-After`.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = Problem), (status = 429, body = Problem)))]
pub async fn login(
    state: web::Data<AppState>,
    audit: Audit,
    req: HttpRequest,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let LoginRequest { email, password: given } = body.into_inner();
    let email = email.trim().to_lowercase();
    let address = crate::http::client_address(&req).map(|a| a.to_string()).unwrap_or_default();
    state.throttles.check_login(&email, &address)?;

    let lookup = email.clone();
    let user = state.db.run(move |conn| Ok(users::find_by_email(conn, &lookup)?)).await?;
    let ok = password::verify(given, user.as_ref().map(|u| u.password_hash.clone())).await?;
    let user = match user {
        Some(u) if ok && u.active => u,
        _ => {
            tracing::info!("login refused");
            state.throttles.login_failed(&email, &address);
            return Err(ApiError::unauthorized(
                ProblemCode::InvalidCredentials,
                "The e-mail or the password is incorrect.",
            ));
        }
    };
    state.throttles.login_succeeded(&email, &address);
    let family = uuid::Uuid::now_v7().to_string();
    let st = state.clone();
    let response =
        audit.write(&state, move |conn, _| issue_tokens(conn, &st, user, family, new_secret_token())).await?;
    Ok(HttpResponse::Ok().json(response))
}

/// Stores the refresh token `refresh` in `family` (a fresh one at login,
/// the successor of the one exchanged at refresh) and signs an access token.
fn issue_tokens(
    conn: &mut DbConnection,
    state: &AppState,
    user: UserRow,
    family: String,
    refresh: String,
) -> Result<TokenResponse, ApiError> {
    let at = now();
    let expires_at = at + chrono::Duration::days(state.tokens.refresh_ttl_days);
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::id.eq(uuid::Uuid::now_v7().to_string()),
            refresh_tokens::user_id.eq(&user.id),
            refresh_tokens::family_id.eq(family),
            refresh_tokens::token_hash.eq(hash_secret_token(&refresh)),
            refresh_tokens::created_at.eq(at),
            refresh_tokens::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    answer_tokens(conn, state, user, refresh, expires_at)
}

/// The pair for `user`: a new access token beside the refresh token `refresh`.
fn answer_tokens(
    conn: &mut DbConnection,
    state: &AppState,
    user: UserRow,
    refresh: String,
    expires_at: chrono::NaiveDateTime,
) -> Result<TokenResponse, ApiError> {
    let access_token = state.tokens.issue_access(&user.id, &user.role_list(), user.unit_id.as_deref());
    let user = users::view(conn, &user.id)?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: state.tokens.access_ttl_secs,
        refresh_token: refresh,
        refresh_expires_at: utc(expires_at),
        user,
    })
}

fn invalid_refresh() -> ApiError {
    ApiError::unauthorized(ProblemCode::InvalidToken, "The refresh token is invalid, expired or already used.")
}

/// Exchange a refresh token for a new pair.
///
/// Refresh tokens are single-use. Presenting one that was already exchanged
/// revokes its whole family: whoever holds a stolen copy is logged out too —
/// except within `auth.refresh_reuse_grace_secs` of the exchange, while its
/// successor is unused: two tabs refreshing at once both get that same new
/// refresh token (derived from the old one, never stored in clear).
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = Problem)))]
pub async fn refresh(
    state: web::Data<AppState>,
    audit: Audit,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let presented = body.refresh_token.trim().to_string();
    let hash = hash_secret_token(&presented);
    let st = state.clone();
    let response = audit
        .write(&state, move |conn, audit| {
            let Some((id, family, user_id, expires_at, revoked_at)) = refresh_tokens::table
                .filter(refresh_tokens::token_hash.eq(&hash))
                .select((
                    refresh_tokens::id,
                    refresh_tokens::family_id,
                    refresh_tokens::user_id,
                    refresh_tokens::expires_at,
                    refresh_tokens::revoked_at,
                ))
                .first::<(String, String, String, chrono::NaiveDateTime, Option<chrono::NaiveDateTime>)>(conn)
                .optional()?
            else {
                return Err(invalid_refresh());
            };
            // Refused below, the family revoked or nothing changed: a 401 either way.
            audit.status(actix_web::http::StatusCode::UNAUTHORIZED);
            let at = now();
            let successor = st.tokens.successor_of(&presented);
            // Retire this token; zero rows means someone used it before us.
            let retired = diesel::update(refresh_tokens::table)
                .filter(refresh_tokens::id.eq(&id).and(refresh_tokens::revoked_at.is_null()))
                .set(refresh_tokens::revoked_at.eq(at))
                .execute(conn)?;
            let user: UserRow = users_t::table.find(&user_id).select(UserRow::as_select()).first(conn)?;
            if revoked_at.is_some() || retired == 0 {
                // Exchanged a moment ago, and its successor still unused: the same pair again.
                let grace = chrono::Duration::seconds(st.settings.auth.refresh_reuse_grace_secs);
                let recent = revoked_at.is_none_or(|r| at - r <= grace);
                let next: Option<chrono::NaiveDateTime> = refresh_tokens::table
                    .filter(refresh_tokens::token_hash.eq(hash_secret_token(&successor)))
                    .filter(refresh_tokens::family_id.eq(&family).and(refresh_tokens::revoked_at.is_null()))
                    .select(refresh_tokens::expires_at)
                    .first(conn)
                    .optional()?;
                if let (true, Some(next_expires), true) = (recent, next, user.active) {
                    audit.status(actix_web::http::StatusCode::OK);
                    return answer_tokens(conn, &st, user, successor, next_expires).map(Some);
                }
                tracing::warn!(%user_id, family = %family, "refresh token reuse: revoking the family");
                revoke_family(conn, &family)?;
                return Ok(None);
            }
            if expires_at < at || !user.active {
                return Ok(None);
            }
            audit.status(actix_web::http::StatusCode::OK);
            issue_tokens(conn, &st, user, family, successor).map(Some)
        })
        .await?;
    // The revocation above must be committed, so the 401 is sent afterwards.
    response.map(|r| HttpResponse::Ok().json(r)).ok_or_else(invalid_refresh)
}

fn revoke_family(conn: &mut DbConnection, family: &str) -> QueryResult<usize> {
    diesel::update(refresh_tokens::table)
        .filter(refresh_tokens::family_id.eq(family).and(refresh_tokens::revoked_at.is_null()))
        .set(refresh_tokens::revoked_at.eq(now()))
        .execute(conn)
}

/// Log out: revokes the refresh token and every token of its family.
///
/// Answers 204 whether or not the token was known.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses((status = 204, description = "Logged out")))]
pub async fn logout(
    state: web::Data<AppState>,
    audit: Audit,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let hash = hash_secret_token(body.refresh_token.trim());
    audit
        .write(&state, move |conn, audit| {
            audit.status(actix_web::http::StatusCode::NO_CONTENT);
            let family: Option<String> = refresh_tokens::table
                .filter(refresh_tokens::token_hash.eq(&hash))
                .select(refresh_tokens::family_id)
                .first(conn)
                .optional()?;
            if let Some(family) = family {
                revoke_family(conn, &family)?;
            }
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The caller's own account.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 401, body = Problem)))]
pub async fn me(state: web::Data<AppState>, principal: Principal) -> Result<HttpResponse, ApiError> {
    let view = state.db.run(move |conn| Ok(users::view(conn, &principal.user_id)?)).await?;
    Ok(HttpResponse::Ok().json(view))
}
