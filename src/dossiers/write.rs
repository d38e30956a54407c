//! The one write path. Every change to a dossier — actions, uploads,
//! results, payments, ratings, the applicant's download — goes through
//! [`change`] (a new dossier through [`create`]), which in one transaction:
//!
//! 1. locks the dossier's row (`SELECT … FOR UPDATE` on PostgreSQL; SQLite's
//!    `BEGIN IMMEDIATE` already excludes every other writer — see
//!    `src/db/backend.rs`), so that concurrent changes of one dossier, from
//!    any number of instances, run one after the other, each reading what
//!    the one before wrote;
//! 2. loads it, and how the caller relates to it (404 if they may not see it);
//! 3. lets the caller ask the pure rules of `src/domain/dossier.rs` what the
//!    change does, and write its rows and its event;
//! 4. moves the statistics' daily counts from the facts before to the facts
//!    after (`src/stats/daily.rs`);
//! 5. queues the dossier's sync record for the national portal, when the
//!    change is one the portal is told about (`src/portal/record.rs`);
//! 6. writes the request's audit entry (`src/audit/mod.rs`);
//!
//! and commits once. Nothing reads a dossier's state and writes depending on
//! it outside this lock. docs/reliability.md lists the tests that prove it.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{Access, DossierRow, KeptFacts, access_to};
use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::Principal;
use crate::db::DbConnection;
use crate::db::schema::{dossier_facts, dossier_units, dossiers};
use crate::domain::dossier::Dossier;
use crate::error::ApiError;
use crate::stats::daily;

/// A dossier locked for a change.
pub struct Locked {
    pub row: DossierRow,
    /// What the rules see of it.
    pub dossier: Dossier,
    /// How the caller relates to it; `None` for a payment provider.
    pub access: Option<Access>,
}

/// Whether a change can move what the statistics count: most do; moving a
/// dossier between people, units and the approval step
/// (`Action::is_counted`), preparing or retiring a result and binding its
/// applicant's account do not, and skip reading the counted facts twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    Counted,
    Uncounted,
}

impl Counting {
    pub fn of(counted: bool) -> Self {
        if counted { Self::Counted } else { Self::Uncounted }
    }
}

/// Changes dossier `id` as `f` decides, for `principal` (`None`: a payment
/// provider), with the request's audit entry, in one transaction.
pub async fn change<T, F>(
    state: &AppState,
    audit: Audit,
    principal: Option<Principal>,
    id: String,
    counting: Counting,
    f: F,
) -> Result<T, ApiError>
where
    F: FnOnce(&mut DbConnection, &mut Audit, Locked) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    audit
        .write(state, move |conn, audit| {
            audit.target(&id);
            change_in(conn, audit, principal.as_ref(), &id, counting, f)
        })
        .await
}

/// [`change`] inside the caller's write transaction (a claim picks its
/// dossier first).
pub fn change_in<T>(
    conn: &mut DbConnection,
    audit: &mut Audit,
    principal: Option<&Principal>,
    id: &str,
    counting: Counting,
    f: impl FnOnce(&mut DbConnection, &mut Audit, Locked) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let row: DossierRow = crate::first_locked!(&mut *conn, dossiers::table.find(id).select(DossierRow::as_select()))?
        .ok_or_else(ApiError::not_found)?;
    let access = principal.map(|p| access_to(conn, p, &row)).transpose()?;
    let position = crate::processes::position(conn, id)?;
    if counting == Counting::Uncounted {
        let kept: Option<KeptFacts> =
            dossier_facts::table.find(id).select(KeptFacts::as_select()).first(conn).optional()?;
        let dossier = row.dossier(kept.as_ref(), position);
        let out = f(conn, audit, Locked { row, dossier, access })?;
        mirror(conn, audit, id)?;
        return Ok(out);
    }
    let before = daily::facts(conn, id)?;
    let kept = before.as_ref().map(|(_, facts)| KeptFacts::from(facts));
    let dossier = row.dossier(kept.as_ref(), position);
    let out = f(conn, audit, Locked { row, dossier, access })?;
    let after = daily::facts(conn, id)?;
    daily::moved(conn, before.as_ref(), after.as_ref())?;
    mirror(conn, audit, id)?;
    Ok(out)
}

/// Queues the sync record of the change `audit` made to dossier `id`, when
/// the dossiers are mirrored to the national portal.
fn mirror(conn: &mut DbConnection, audit: &Audit, id: &str) -> QueryResult<()> {
    match audit.mirrors_portal() {
        Some(settle) => crate::portal::record::mirror(conn, id, audit.id(), settle),
        None => Ok(()),
    }
}

/// A dossier made by [`create`]'s caller.
pub struct Created {
    pub id: String,
    /// `false`: a replayed filing found the dossier it made before.
    pub new: bool,
}

/// Creates a dossier as `f` decides, with its first counts and the request's
/// audit entry, in one transaction.
pub async fn create<F>(state: &AppState, audit: Audit, f: F) -> Result<Created, ApiError>
where
    F: FnOnce(&mut DbConnection, &mut Audit) -> Result<Created, ApiError> + Send + 'static,
{
    audit
        .write(state, move |conn, audit| {
            let created = f(conn, audit)?;
            audit.target(&created.id);
            if created.new {
                let after = daily::facts(conn, &created.id)?;
                daily::moved(conn, None, after.as_ref())?;
                mirror(conn, audit, &created.id)?;
            }
            Ok(created)
        })
        .await
}

/// Writes the columns the rules decide (`after`) and where it is in its
/// process, and bumps the version: every change of a dossier gives it a new
/// `ETag`. A unit it moves to (a transfer, an inter-unit step) sees it from
/// then on (`dossier_units`).
pub fn store(conn: &mut DbConnection, row: &DossierRow, before: &Dossier, after: &Dossier) -> QueryResult<()> {
    let now = crate::time::now();
    diesel::update(dossiers::table.find(&row.id))
        .set((
            dossiers::status.eq(after.status.as_str()),
            dossiers::unit_id.eq(&after.unit_id),
            dossiers::assignee_id.eq(&after.assignee_id),
            dossiers::received_at.eq(after.received_at),
            dossiers::due_at.eq(after.due_at),
            dossiers::original_due_at.eq(after.original_due_at),
            dossiers::paused_at.eq(after.paused_at),
            dossiers::result_at.eq(after.result_at),
            dossiers::finished_at.eq(after.finished_at),
            dossiers::supplement_requests.eq(after.supplement_requests),
            dossiers::paid_at.eq(after.paid_at),
            dossiers::payment_channel.eq(after.payment_channel.map(|c| c.as_str())),
            dossiers::queue_at.eq(after.queue_at()),
            dossiers::version.eq(row.version + 1),
            dossiers::updated_at.eq(now),
        ))
        .execute(conn)?;
    let facts = |d: &Dossier| (d.apologized, d.e_result, d.working_days_taken);
    if facts(before) != facts(after) {
        diesel::update(dossier_facts::table.find(&row.id))
            .set((
                dossier_facts::apologized.eq(after.apologized),
                dossier_facts::e_result.eq(after.e_result),
                dossier_facts::working_days_taken.eq(after.working_days_taken),
            ))
            .execute(conn)?;
    }
    crate::processes::store_position(conn, &row.id, before.position.as_ref(), after.position.as_ref())?;
    if before.unit_id != after.unit_id {
        let known: bool = diesel::select(diesel::dsl::exists(dossier_units::table.find((&row.id, &after.unit_id))))
            .get_result(conn)?;
        if !known {
            diesel::insert_into(dossier_units::table)
                .values((dossier_units::dossier_id.eq(&row.id), dossier_units::unit_id.eq(&after.unit_id)))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// The earliest time a change of `d` at `now` counts working days from.
pub fn calendar_start(d: &Dossier, now: NaiveDateTime) -> NaiveDateTime {
    [d.received_at, d.paused_at].into_iter().flatten().fold(now, NaiveDateTime::min)
}
