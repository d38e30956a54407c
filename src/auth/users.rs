//! The `users` table: rows, the public view of an account, and queries shared
//! by authentication and staff administration.

use actix_web::http::StatusCode;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::DbConnection;
use crate::db::schema::{units, users};
use crate::domain::roles::{self, Role};
use crate::error::{ApiError, ProblemCode};
use crate::time::utc;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub full_name: String,
    /// The national ID a clerk verified (`src/auth/identity.rs`).
    pub national_id: Option<String>,
    pub phone: Option<String>,
    pub roles: String,
    pub unit_id: Option<String>,
    pub active: bool,
    pub locale: String,
    pub email_verified_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The national ID the account claims, until verified.
    pub national_id_claim: Option<String>,
    pub national_id_verified_at: Option<NaiveDateTime>,
    pub national_id_verified_by: Option<String>,
    pub national_id_verified_unit_id: Option<String>,
}

impl UserRow {
    pub fn role_list(&self) -> Vec<Role> {
        roles::decode(&self.roles)
    }

    /// The national ID the account goes by: the verified one, else its claim.
    pub fn stated_national_id(&self) -> Option<&str> {
        self.national_id.as_deref().or(self.national_id_claim.as_deref())
    }
}

/// An account as shown to its owner and to administrators.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub full_name: String,
    /// The verified national ID, else the one claimed at registration.
    pub national_id: Option<String>,
    /// A clerk has seen the card: the account receives the counter dossiers
    /// and repository documents of this national ID.
    pub national_id_verified: bool,
    pub national_id_verified_at: Option<DateTime<Utc>>,
    pub phone: Option<String>,
    pub roles: Vec<Role>,
    pub unit_id: Option<String>,
    /// Code of the unit, for staff.
    pub unit_code: Option<String>,
    pub active: bool,
    pub locale: String,
    pub email_verified: bool,
    pub created_at: DateTime<Utc>,
}

impl UserView {
    pub fn new(u: UserRow, unit_code: Option<String>) -> Self {
        Self {
            roles: u.role_list(),
            national_id: u.stated_national_id().map(str::to_string),
            national_id_verified: u.national_id.is_some(),
            national_id_verified_at: u.national_id_verified_at.map(utc),
            id: u.id,
            email: u.email,
            full_name: u.full_name,
            phone: u.phone,
            unit_id: u.unit_id,
            unit_code,
            active: u.active,
            locale: u.locale,
            email_verified: u.email_verified_at.is_some(),
            created_at: utc(u.created_at),
        }
    }
}

pub fn find_by_email(conn: &mut DbConnection, email: &str) -> QueryResult<Option<UserRow>> {
    users::table.filter(users::email.eq(email)).select(UserRow::as_select()).first(conn).optional()
}

/// One account with its unit code.
pub fn view(conn: &mut DbConnection, id: &str) -> QueryResult<UserView> {
    let (row, code) = users::table
        .left_join(units::table)
        .filter(users::id.eq(id))
        .select((UserRow::as_select(), units::code.nullable()))
        .first(conn)?;
    Ok(UserView::new(row, code))
}

/// 403 `email_not_verified` unless the account's e-mail address is verified.
pub fn require_verified_email(conn: &mut DbConnection, id: &str) -> Result<(), ApiError> {
    let verified: Option<NaiveDateTime> = users::table.find(id).select(users::email_verified_at).first(conn)?;
    match verified {
        Some(_) => Ok(()),
        None => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ProblemCode::EmailNotVerified,
            "Verify your e-mail address first: follow the link we sent you, or ask for a new one.",
        )),
    }
}

pub fn email_taken(conn: &mut DbConnection, email: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(users::table.filter(users::email.eq(email)))).get_result(conn)
}
