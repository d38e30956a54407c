//! The authenticated caller and the authorization rules every endpoint uses:
//! role checks, and for staff the subtree of their unit.

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, http::header, web};
use diesel::prelude::*;
use futures_util::future::LocalBoxFuture;

use crate::app::AppState;
use crate::db::schema::{units, users};
use crate::domain::roles::Role;
use crate::error::{ApiError, ProblemCode};

/// The caller, from a valid `Authorization: Bearer` access token.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: String,
    /// The account's roles, and those lent to it now (`lent`).
    pub roles: Vec<Role>,
    pub unit_id: Option<String>,
    /// The materialised path of `unit_id`.
    scope: Option<String>,
    /// Roles lent by a colleague's delegation in force, with the colleague's
    /// id (docs/delegation.md); the account's own roles are not listed.
    pub lent: Vec<(Role, String)>,
}

impl Principal {
    /// Whose delegation lends `role` to the caller, when the caller holds it
    /// only through one.
    pub fn lent_by(&self, role: Role) -> Option<&str> {
        self.lent.iter().find(|(r, _)| *r == role).map(|(_, delegator)| delegator.as_str())
    }

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
    pub fn scope_path(&self) -> Result<String, ApiError> {
        self.unit_id.as_deref().ok_or_else(|| ApiError::forbidden("Only staff have a unit scope."))?;
        self.scope.clone().ok_or_else(|| ApiError::forbidden("Your unit no longer exists."))
    }

    /// The materialised path of the caller's unit, if any (staff).
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// Whether the caller's scope is a whole tree (their unit has no parent).
    pub fn is_at_root(&self) -> Result<bool, ApiError> {
        let path = self.scope_path()?;
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

/// A valid signature is not enough: the account must still be active, and
/// its roles and unit are read with it, so that deactivating an account or
/// changing its roles or unit takes effect at once rather than when its
/// access token expires (one query per authenticated request, which also
/// yields the unit's path for every scope check of the request).
async fn authenticate(req: &HttpRequest) -> Result<Principal, ApiError> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::unauthorized(ProblemCode::Unauthenticated, "This needs a Bearer access token."))?;
    let state = req.app_data::<web::Data<AppState>>().expect("AppState is registered");
    let claims = state.tokens.decode_access(token.trim()).ok_or_else(invalid_token)?;
    let user_id = claims.sub.clone();
    // One trip to the database: the account, and for staff the roles lent
    // to them by delegations in force.
    let account = state
        .db
        .run(move |conn| {
            let account = users::table
                .find(&user_id)
                .left_join(units::table.on(units::id.nullable().eq(users::unit_id)))
                .select((users::active, users::roles, users::unit_id, units::path.nullable()))
                .first::<(bool, String, Option<String>, Option<String>)>(conn)
                .optional()?;
            let lent = match &account {
                Some((true, _, Some(unit), _)) => crate::delegations::lent_to(conn, &user_id, unit)?,
                _ => Vec::new(),
            };
            Ok(account.map(|a| (a, lent)))
        })
        .await?;
    match account {
        Some(((true, roles, unit_id, scope), lent)) => {
            let mut roles = crate::domain::roles::decode(&roles);
            let lent: Vec<(Role, String)> = lent.into_iter().filter(|(role, _)| !roles.contains(role)).collect();
            roles.extend(lent.iter().map(|(role, _)| *role));
            roles.sort();
            roles.dedup();
            Ok(Principal { user_id: claims.sub, roles, unit_id, scope, lent })
        }
        _ => Err(invalid_token()),
    }
}

fn invalid_token() -> ApiError {
    ApiError::unauthorized(ProblemCode::InvalidToken, "The access token is invalid or has expired.")
}
