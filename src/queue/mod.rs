//! Work queues: what waits for the caller's role in their unit subtree, and
//! the atomic claim of the next dossier.

pub mod routes;
