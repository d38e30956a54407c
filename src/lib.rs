//! motcua: the backend of an electronic one-stop shop for Vietnamese public
//! administration. See README.md for the map of the code.

pub mod app;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod config;
pub mod db;
pub mod delegations;
pub mod domain;
pub mod dossiers;
pub mod error;
pub mod files_gc;
pub mod holidays;
pub mod http;
pub mod notify;
pub mod openapi;
pub mod ops;
pub mod pagination;
pub mod payments;
pub mod portal;
pub mod procedures;
pub mod processes;
pub mod queue;
pub mod ratings;
pub mod repository;
pub mod results;
pub mod seed;
pub mod simulate;
pub mod staff;
pub mod stats;
pub mod storage;
pub mod telemetry;
pub mod throttle;
pub mod time;
pub mod units;
pub mod upload;
