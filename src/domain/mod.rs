//! Pure rules: no I/O, no database, no HTTP. Each module has its own tests.

pub mod assessment;
pub mod audit_chain;
pub mod calendar;
pub mod complaint;
pub mod daily;
pub mod delegation;
pub mod dossier;
pub mod dossier_code;
pub mod identity;
pub mod portal;
pub mod process;
pub mod result_form;
pub mod roles;
pub mod scorecard;
pub mod stats;
pub mod text;
pub mod throttle;
pub mod units;
pub mod workflow;
