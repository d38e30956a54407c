//! Identity and access: registration, login, token refresh and logout, the
//! authenticated principal and its unit scope, and the e-mailed links that
//! verify addresses and reset passwords; identity verification at the desk.

pub mod email;
pub mod identity;
pub mod password;
pub mod principal;
pub mod routes;
pub mod tokens;
pub mod users;

pub use principal::Principal;
