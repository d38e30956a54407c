//! Staff accounts (clerks, specialists, approvers, auditors, admins), each in
//! one unit, created by an administrator through the API or the CLI.

pub mod routes;

use diesel::prelude::*;

use crate::auth::users::{self, UserRow};
use crate::db::DbConnection;
use crate::db::schema::users as users_t;
use crate::domain::identity::{Email, check_password, normalize_phone};
use crate::domain::roles::{self, Role, parse_staff_roles};
use crate::error::{ApiError, ProblemCode, Validator};
use crate::units::UnitRow;

/// A staff account to create, validated.
pub struct NewStaff {
    pub email: String,
    pub full_name: String,
    pub phone: Option<String>,
    pub roles: Vec<Role>,
}

impl NewStaff {
    pub fn parse(
        email: &str,
        full_name: &str,
        password: &str,
        roles: &[Role],
        phone: Option<&str>,
    ) -> Result<Self, ApiError> {
        let mut v = Validator::default();
        v.parsed("password", check_password(password, &[email, full_name]));
        let email = v.parsed("email", Email::parse(email));
        let roles = v.parsed("roles", parse_staff_roles(roles));
        let phone = phone.and_then(|p| v.parsed("phone", normalize_phone(p)));
        let full_name = full_name.trim().to_string();
        v.name("full_name", &full_name, 200);
        v.finish()?;
        Ok(Self { email: email.expect("validated").into_string(), full_name, phone, roles: roles.expect("validated") })
    }

    /// The national portal's service account (docs/portal.md): role
    /// `portal` only, its secret checked like a password and hashed at rest.
    pub fn portal_account(email: &str, full_name: &str, secret: &str) -> Result<Self, ApiError> {
        let mut v = Validator::default();
        v.parsed("secret", check_password(secret, &[email, full_name]));
        let email = v.parsed("email", Email::parse(email));
        let full_name = full_name.trim().to_string();
        v.name("full_name", &full_name, 200);
        v.finish()?;
        Ok(Self { email: email.expect("validated").into_string(), full_name, phone: None, roles: vec![Role::Portal] })
    }

    /// Inserts the account in `unit`; `password_hash` is computed by the caller
    /// off the database thread.
    pub fn insert(self, conn: &mut DbConnection, unit: &UnitRow, password_hash: String) -> Result<UserRow, ApiError> {
        if users::email_taken(conn, &self.email)? {
            return Err(ApiError::conflict(ProblemCode::EmailTaken, "An account with this e-mail already exists."));
        }
        let at = crate::time::now();
        let row = UserRow {
            id: uuid::Uuid::now_v7().to_string(),
            email: self.email,
            password_hash,
            full_name: self.full_name,
            national_id: None,
            phone: self.phone,
            roles: roles::encode(&self.roles),
            unit_id: Some(unit.id.clone()),
            active: true,
            locale: "vi".into(),
            // Staff addresses are issued by the administration.
            email_verified_at: Some(at),
            created_at: at,
            updated_at: at,
            national_id_claim: None,
            national_id_verified_at: None,
            national_id_verified_by: None,
            national_id_verified_unit_id: None,
        };
        diesel::insert_into(users_t::table).values(&row).execute(conn)?;
        Ok(row)
    }
}
