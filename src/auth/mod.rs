//! Identity and access: registration, login, token refresh and logout, the
//! authenticated principal and its unit scope.

pub mod password;
pub mod principal;
pub mod rate_limit;
pub mod routes;
pub mod tokens;
pub mod users;

pub use principal::Principal;
