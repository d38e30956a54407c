//! Links recorded audit entries into the hash chain.
//!
//! A change's transaction writes its entry to `audit_pending` (`Audit::write`);
//! once committed it is visible here, and [`link`] moves it to `audit_log`
//! with the next `seq`, the previous entry's hash and its own, in one
//! transaction per batch under the chain lock (`db::backend::Lock::AuditChain`).
//! The chain's order is the order in which the linker finds committed
//! entries: their commit order, give or take entries committed while a
//! batch is read, which the next batch links. Every instance runs a linker,
//! woken after each write and once a second; `GET /audit` and
//! `GET /audit/verify` link before they read, so that they show every
//! committed entry.

use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use tokio::sync::Notify;

use super::{AuditEntry, PendingEntry};
use crate::db::backend::{Lock, lock_for_transaction};
use crate::db::schema::{audit_log, audit_pending};
use crate::db::{Db, DbConnection};
use crate::domain::audit_chain::GENESIS;
use crate::error::ApiError;

/// Entries linked per transaction.
const BATCH: i64 = 500;

/// How long a woken linker gathers entries before linking them: under load,
/// one linking transaction for all the changes of this interval rather than
/// one per change (`bench/RESULTS.md`).
const GATHER: Duration = Duration::from_millis(50);

/// Links every committed pending entry, a batch per transaction; returns how
/// many it linked. With none pending it only reads (no write lock taken).
pub async fn link_all(db: &Db) -> Result<usize, ApiError> {
    let pending: bool = db
        .run(|conn| {
            Ok(diesel::select(diesel::dsl::exists(audit_pending::table.select(audit_pending::id))).get_result(conn)?)
        })
        .await?;
    if !pending {
        return Ok(0);
    }
    let mut linked = 0;
    loop {
        let n = db.write(|conn| Ok(link(conn)?)).await?;
        linked += n;
        if (n as i64) < BATCH {
            return Ok(linked);
        }
    }
}

/// Links up to [`BATCH`] pending entries, inside the caller's write transaction.
pub fn link(conn: &mut DbConnection) -> QueryResult<usize> {
    lock_for_transaction(conn, Lock::AuditChain)?;
    let pending: Vec<PendingEntry> = audit_pending::table
        .select(PendingEntry::as_select())
        .order(audit_pending::id.asc())
        .limit(BATCH)
        .load(conn)?;
    if pending.is_empty() {
        return Ok(0);
    }
    let head: Option<(i64, String)> = audit_log::table
        .order(audit_log::seq.desc())
        .select((audit_log::seq, audit_log::hash))
        .first(conn)
        .optional()?;
    let (mut seq, mut prev_hash) = head.unwrap_or_else(|| (0, GENESIS.to_string()));
    let ids: Vec<String> = pending.iter().map(|p| p.id.clone()).collect();
    let mut linked: Vec<AuditEntry> = Vec::with_capacity(pending.len());
    for entry in pending {
        seq += 1;
        let entry = entry.link(seq, prev_hash);
        prev_hash = entry.hash.clone();
        linked.push(entry);
    }
    for chunk in linked.chunks(50) {
        crate::insert_rows!(&mut *conn, audit_log::table, chunk)?;
    }
    diesel::delete(audit_pending::table.filter(audit_pending::id.eq_any(&ids))).execute(conn)?;
    Ok(linked.len())
}

/// Wakes the background linker of this instance.
#[derive(Default)]
pub struct Linker {
    wake: Notify,
}

impl Linker {
    /// A change committed an entry: link it soon.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Links soon after being woken (gathering the changes of [`GATHER`]),
    /// and at least once a second (entries of other instances, and of a
    /// process killed before its linker ran), until the task is dropped.
    pub async fn run(self: Arc<Self>, db: Db) {
        loop {
            if let Err(e) = link_all(&db).await {
                tracing::warn!(error = %e, "linking audit entries failed; retrying");
            }
            if tokio::time::timeout(Duration::from_secs(1), self.wake.notified()).await.is_ok() {
                tokio::time::sleep(GATHER).await;
            }
        }
    }
}
