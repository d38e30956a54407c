//! `motcua files gc`: removes stored documents no row names. A crash
//! between storing an upload (`FileStore::keep`) and committing its row, or
//! a refused change after the store, leaves such a file behind; so do
//! uploads cut off mid-body on a crash (`.incoming`). Only files older than a
//! grace period go — an upload in flight is younger — and nothing is
//! removed unless asked (`--delete`).

use std::time::{Duration, SystemTime};

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{dossier_files, repository_documents, result_drafts, results};
use crate::storage::{LocalDir, Stored};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Files older than the grace period.
    pub examined: usize,
    /// Of those, the ones no row names (and left-over incoming files).
    pub orphans: usize,
    pub orphan_bytes: u64,
    /// How many were removed (0 on a dry run).
    pub removed: usize,
}

/// How many names are looked up in one query.
const BATCH: usize = 500;

/// Finds (and with `delete`, removes) the files of `store` older than
/// `grace` that no row names.
pub fn run(conn: &mut DbConnection, store: &LocalDir, grace: Duration, delete: bool) -> anyhow::Result<Report> {
    let before = SystemTime::now() - grace;
    let old = store.older_than(before)?;
    let mut report = Report { examined: old.len(), ..Report::default() };
    for batch in old.chunks(BATCH) {
        let names: Vec<&str> = batch
            .iter()
            .filter_map(|s| match s {
                Stored::Document { sha256, .. } => Some(sha256.as_str()),
                Stored::Incoming { .. } => None,
            })
            .collect();
        let named = referenced(conn, &names)?;
        for stored in batch {
            let orphan = match stored {
                Stored::Document { sha256, .. } => !named.contains(sha256),
                Stored::Incoming { .. } => true,
            };
            if !orphan {
                continue;
            }
            report.orphans += 1;
            report.orphan_bytes += stored.bytes();
            if delete && store.remove_unless_touched(stored, before)? {
                report.removed += 1;
            }
        }
    }
    Ok(report)
}

/// Which of `names` a row names: a dossier's file, a result draft, a result
/// or a document of the repository.
fn referenced(conn: &mut DbConnection, names: &[&str]) -> QueryResult<std::collections::HashSet<String>> {
    let mut found: Vec<String> =
        dossier_files::table.filter(dossier_files::sha256.eq_any(names)).select(dossier_files::sha256).load(conn)?;
    found.extend(
        result_drafts::table.filter(result_drafts::sha256.eq_any(names)).select(result_drafts::sha256).load(conn)?,
    );
    found.extend(results::table.filter(results::sha256.eq_any(names)).select(results::sha256).load::<String>(conn)?);
    found.extend(
        repository_documents::table
            .filter(repository_documents::sha256.eq_any(names))
            .select(repository_documents::sha256)
            .load::<String>(conn)?,
    );
    Ok(found.into_iter().collect())
}
