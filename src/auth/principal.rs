//! The authenticated caller and the authorization rules every endpoint uses:
//! role checks, and for staff the subtree of their unit.

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, http::header, web};
use diesel::prelude::*;
use futures_util::future::LocalBoxFuture;

use crate::app::AppState;
use crate::db::DbConnection;
use crate::db::schema::{units, users};
use crate::domain::roles::Role;
use crate::error::ApiError;

/// The caller, from a valid `Authorization: Bearer` access token.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: String,
    pub roles: Vec<Role>,
    pub unit_id: Option<String>,
}

impl Principal {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// 403 unless the caller has at least one of `roles`.
    pub fn require_any(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.iter().any(|r| self.has(*r)) {
            Ok(())
        } else {
            let names: Vec<_> = roles.iter().map(|r| r.as_str()).collect();
            Err(ApiError::forbidden(format!("This needs one of the roles: {}.", names.join(", "))))
        }
    }

    pub fn require_staff(&self) -> Result<(), ApiError> {
        self.require_any(&Role::STAFF)
    }

    /// The materialised path of the caller's unit: the root of everything a
    /// staff member may see. Citizens have no scope.
    pub fn scope_path(&self, conn: &mut DbConnection) -> Result<String, ApiError> {
        let unit = self.unit_id.as_deref().ok_or_else(|| ApiError::forbidden("Only staff have a unit scope."))?;
        units::table
            .filter(units::id.eq(unit))
            .select(units::path)
            .first(conn)
            .optional()?
            .ok_or_else(|| ApiError::forbidden("Your unit no longer exists."))
    }

    /// Whether the caller's scope is a whole tree (their unit has no parent).
    pub fn is_at_root(&self, conn: &mut DbConnection) -> Result<bool, ApiError> {
        let path = self.scope_path(conn)?;
        Ok(path.matches('/').count() == 2)
    }
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    /// Authenticated once per request: the handler's extraction is kept in
    /// the request's extensions, so later extractors (the audit middleware)
    /// do not look the account up again.
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            if let Some(known) = req.extensions().get::<Principal>().cloned() {
                return Ok(known);
            }
            let principal = authenticate(&req).await?;
            req.extensions_mut().insert(principal.clone());
            Ok(principal)
        })
    }
}

/// A valid signature is not enough: the account must still be active, so that
/// deactivating a staff account ends its access at once rather than when its
/// access token expires (one primary-key lookup per authenticated request).
async fn authenticate(req: &HttpRequest) -> Result<Principal, ApiError> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::unauthorized("unauthenticated", "This needs a Bearer access token."))?;
    let state = req.app_data::<web::Data<AppState>>().expect("AppState is registered");
    let claims = state.tokens.decode_access(token.trim()).ok_or_else(invalid_token)?;
    let user_id = claims.sub.clone();
    let active = state
        .db
        .run(move |conn| Ok(users::table.find(user_id).select(users::active).first::<bool>(conn).optional()?))
        .await?;
    if active != Some(true) {
        return Err(invalid_token());
    }
    Ok(Principal { user_id: claims.sub, roles: claims.roles, unit_id: claims.unit })
}

fn invalid_token() -> ApiError {
    ApiError::unauthorized("invalid_token", "The access token is invalid or has expired.")
}
