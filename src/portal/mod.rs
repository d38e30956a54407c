//! The national public service portal (Cổng Dịch vụ công quốc gia): every
//! change of a dossier the portal cares about is mirrored there, and the
//! dossiers citizens file there are processed here. docs/portal.md is the
//! manual.
//!
//! - `record`: the sync record of a change, queued by the write path in the
//!   change's transaction (`src/dossiers/write.rs`), in the outbox's portal
//!   channel (`src/notify/outbox.rs`), delivered in each dossier's order by
//!   the courier (`src/notify/worker.rs`) through `client`;
//! - `sync`: where each dossier's mirror stands, the sync figure of
//!   `GET /stats` and the lagging dossiers of `GET /portal/sync`;
//! - `filing`, `routes`: dossiers filed on the portal;
//! - [`resync`]: `motcua portal resync`.
//!
//! The vocabulary and rules are `src/domain/portal.rs`.

pub mod client;
pub mod filing;
pub mod record;
pub mod routes;
pub mod sync;

use std::sync::Arc;

use chrono::{NaiveDate, NaiveTime};
use diesel::prelude::*;

use crate::db::Db;
use crate::db::schema::dossiers;
use crate::error::ApiError;
use crate::notify::worker::{Courier, Retry};
use client::PortalClient;

/// The courier of the outbox's portal channel.
pub type PortalCourier = Courier<Arc<PortalClient>>;

impl From<&crate::config::PortalSettings> for Retry {
    fn from(p: &crate::config::PortalSettings) -> Self {
        Self {
            max_attempts: p.max_attempts,
            backoff_base_secs: p.backoff_base_secs,
            backoff_max_secs: p.backoff_max_secs,
            poll_interval_ms: p.poll_interval_ms,
        }
    }
}

/// The courier that delivers sync records, when the portal is configured.
pub fn courier(
    settings: &crate::config::PortalSettings,
    client: &Arc<PortalClient>,
    db: &Db,
) -> Option<Arc<PortalCourier>> {
    settings.mirrors().map(|_| {
        let timeout = std::time::Duration::from_secs(settings.timeout_secs);
        Arc::new(Courier::new(db.clone(), client.clone(), Retry::from(settings), timeout))
    })
}

/// Queues a record with the whole state of every dossier filed or changed
/// on the local dates `[from, to)`, each under its lock, 25 per
/// transaction: after an outage of the portal, or when an existing
/// database is first connected. Returns how many were queued.
pub async fn resync(db: &Db, from: NaiveDate, to: NaiveDate) -> Result<usize, ApiError> {
    let start = crate::dossiers::stored(from.and_time(NaiveTime::MIN));
    let end = crate::dossiers::stored(to.and_time(NaiveTime::MIN));
    let mut after = String::new();
    let mut queued = 0;
    loop {
        let last = after.clone();
        let ids: Vec<String> = db
            .run(move |conn| {
                Ok(dossiers::table
                    .filter(
                        dossiers::id.gt(&last).and(
                            dossiers::submitted_at
                                .ge(start)
                                .and(dossiers::submitted_at.lt(end))
                                .or(dossiers::updated_at.ge(start).and(dossiers::updated_at.lt(end))),
                        ),
                    )
                    .order(dossiers::id.asc())
                    .select(dossiers::id)
                    .limit(25)
                    .load(conn)?)
            })
            .await?;
        let Some(next) = ids.last().cloned() else { return Ok(queued) };
        queued += ids.len();
        db.write(move |conn| {
            for id in &ids {
                // Under the dossier's lock, like every change (src/dossiers/write.rs).
                let locked: Option<String> =
                    crate::first_locked!(&mut *conn, dossiers::table.find(id).select(dossiers::id))?;
                if locked.is_some() {
                    record::resync(conn, id)?;
                }
            }
            Ok(())
        })
        .await?;
        after = next;
    }
}
