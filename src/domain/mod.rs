//! Pure rules: no I/O, no database, no HTTP. Each module has its own tests.

pub mod identity;
pub mod roles;
pub mod text;
pub mod units;
