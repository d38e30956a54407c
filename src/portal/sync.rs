//! `portal_sync`: where each dossier's mirror on the portal stands — the
//! last record queued (`latest_seq`), the last the portal acknowledged
//! (`acked_seq`), since when a record waits, and whether the last attempt
//! failed. Records are numbered under the dossier's lock (`next_seq`); the
//! delivery moves the acknowledgement (`acknowledged`, `failed`). The
//! classification is `domain::portal::sync_state`.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::dsl::count_star;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::DbConnection;
use crate::db::schema::{dossiers, outbox, portal_sync, units};
use crate::notify::outbox::{Channel, OutboxRow, State};

/// The pending records of a dossier.
macro_rules! pending_of {
    ($dossier_id:expr) => {
        outbox::table.filter(
            outbox::channel
                .eq(Channel::Portal.as_str())
                .and(outbox::dossier_id.eq($dossier_id))
                .and(outbox::state.eq(State::Pending.as_str())),
        )
    };
}

/// The number of the next record of `dossier_id`: 1, 2, 3 … Call it under
/// the dossier's lock (`src/dossiers/write.rs`), in the transaction that
/// queues the record.
pub fn next_seq(conn: &mut DbConnection, dossier_id: &str, now: NaiveDateTime) -> QueryResult<i32> {
    let bumped: Option<i32> =
        diesel::update(portal_sync::table.find(dossier_id))
            .set((
                portal_sync::latest_seq.eq(portal_sync::latest_seq + 1),
                portal_sync::waiting_since.eq(diesel::dsl::sql::<
                    diesel::sql_types::Nullable<diesel::sql_types::Timestamp>,
                >("COALESCE(waiting_since, ")
                .bind::<diesel::sql_types::Timestamp, _>(now)
                .sql(")")),
            ))
            .returning(portal_sync::latest_seq)
            .get_result(conn)
            .optional()?;
    if let Some(seq) = bumped {
        return Ok(seq);
    }
    diesel::insert_into(portal_sync::table)
        .values((
            portal_sync::dossier_id.eq(dossier_id),
            portal_sync::latest_seq.eq(1),
            portal_sync::acked_seq.eq(0),
            portal_sync::waiting_since.eq(Some(now)),
            portal_sync::failing.eq(false),
        ))
        .execute(conn)?;
    Ok(1)
}

/// A record that joined an earlier one: its place, and its change (`None`: a resync).
pub type Joined = (i32, Option<String>);

/// Takes out the records of dossiers `ids` queued and not built yet, which
/// join the claimed record of their dossier (`record::build`): by dossier,
/// their places in the order and their changes (`None`: a resync). One
/// statement for a batch. They are never claimed while the claimed record
/// before them is undelivered (`notify::outbox::claim_due`), so that no
/// other courier holds them.
pub fn join_later(conn: &mut DbConnection, ids: &[String]) -> QueryResult<HashMap<String, Vec<Joined>>> {
    let gone: Vec<(Option<String>, Option<i32>, Option<String>)> = diesel::delete(
        outbox::table.filter(
            outbox::channel
                .eq(Channel::Portal.as_str())
                .and(outbox::state.eq(State::Pending.as_str()))
                .and(outbox::text_body.eq(""))
                .and(outbox::dossier_id.eq_any(ids)),
        ),
    )
    .returning((outbox::dossier_id, outbox::seq, outbox::audit_id))
    .get_results(conn)?;
    let mut out: HashMap<String, Vec<Joined>> = HashMap::new();
    for (dossier_id, seq, audit_id) in gone {
        if let (Some(dossier_id), Some(seq)) = (dossier_id, seq) {
            out.entry(dossier_id).or_default().push((seq, audit_id));
        }
    }
    for joined in out.values_mut() {
        joined.sort_by_key(|(seq, _)| *seq);
    }
    Ok(out)
}

/// The portal acknowledged records `rows`, just marked sent: each dossier's
/// mirror has its record (and every record before it, delivered first).
/// Two statements for the batch, whatever its size: records a failure held
/// back (`failed`) are due again, then each dossier's acknowledgement moves
/// to its highest delivered record — records are delivered in their
/// dossier's order, and a claim holds one record of a dossier — and it
/// waits since its oldest undelivered record was queued, if any.
pub fn acknowledged(conn: &mut DbConnection, rows: &[&OutboxRow], now: NaiveDateTime) -> QueryResult<()> {
    let ids: Vec<&str> = rows.iter().filter(|r| r.seq.is_some()).filter_map(|r| r.dossier_id.as_deref()).collect();
    if ids.is_empty() {
        return Ok(());
    }
    // Only after a failure are a dossier's later records held; a record
    // still settling (`portal.settle_ms`) keeps its time.
    diesel::update(
        outbox::table.filter(
            outbox::channel
                .eq(Channel::Portal.as_str())
                .and(outbox::state.eq(State::Pending.as_str()))
                .and(outbox::dossier_id.eq_any(&ids))
                .and(outbox::next_attempt_at.gt(now))
                .and(diesel::dsl::exists(
                    portal_sync::table
                        .filter(portal_sync::dossier_id.nullable().eq(outbox::dossier_id).and(portal_sync::failing)),
                )),
        ),
    )
    .set(outbox::next_attempt_at.eq(now))
    .execute(conn)?;
    const DELIVERED: &str = "(SELECT MAX(o.seq) FROM outbox o WHERE o.dossier_id = portal_sync.dossier_id \
                             AND o.channel = 'portal' AND o.state = 'sent')";
    const OLDEST_WAITING: &str = "(SELECT MIN(o.created_at) FROM outbox o WHERE o.dossier_id = portal_sync.dossier_id \
                                  AND o.channel = 'portal' AND o.state IN ('pending', 'sending', 'dead'))";
    diesel::update(portal_sync::table.filter(portal_sync::dossier_id.eq_any(&ids)))
        .set((
            portal_sync::acked_seq.eq(diesel::dsl::sql::<diesel::sql_types::Integer>(DELIVERED)),
            portal_sync::acked_at.eq(Some(now)),
            portal_sync::failing.eq(false),
            portal_sync::last_error.eq(None::<String>),
            // A record queued as this runs may not be visible yet: then it
            // waits since about now.
            portal_sync::waiting_since.eq(
                diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Timestamp>>(&format!(
                    "CASE WHEN latest_seq > {DELIVERED} THEN COALESCE({OLDEST_WAITING}, "
                ))
                .bind::<diesel::sql_types::Timestamp, _>(now)
                .sql(") END"),
            ),
        ))
        .execute(conn)?;
    Ok(())
}

/// Delivering record `row` failed with `error`; it is retried at
/// `retry_at`, or never (a dead letter). The dossier's later records wait
/// for it (`notify::outbox::claim_next`): they are not due before it, so
/// that claims do not walk past them while it waits (`acknowledged`
/// makes them due again).
pub fn failed(
    conn: &mut DbConnection,
    row: &OutboxRow,
    error: &str,
    retry_at: Option<NaiveDateTime>,
) -> QueryResult<()> {
    let (Some(dossier_id), Some(seq)) = (&row.dossier_id, row.seq) else { return Ok(()) };
    diesel::update(portal_sync::table.find(dossier_id).filter(portal_sync::acked_seq.lt(seq)))
        .set((portal_sync::failing.eq(true), portal_sync::last_error.eq(error)))
        .execute(conn)?;
    let not_before = retry_at.unwrap_or_else(held);
    diesel::update(pending_of!(dossier_id).filter(outbox::seq.gt(seq)).filter(outbox::next_attempt_at.lt(not_before)))
        .set(outbox::next_attempt_at.eq(not_before))
        .execute(conn)?;
    Ok(())
}

/// When a record held behind a dead letter would be due: never, until the
/// dead letter is delivered.
fn held() -> NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(9999, 1, 1).expect("a date").and_time(chrono::NaiveTime::MIN)
}

/// Supersedes the undelivered records of dossier `dossier_id` — pending,
/// held or dead, not one being delivered — by the record with its whole
/// state that the caller queues next (`record::resync`), under its lock.
pub fn supersede(conn: &mut DbConnection, dossier_id: &str, now: NaiveDateTime) -> QueryResult<()> {
    let superseded = diesel::update(
        outbox::table.filter(
            outbox::channel
                .eq(Channel::Portal.as_str())
                .and(outbox::dossier_id.eq(dossier_id))
                .and(outbox::state.eq_any([State::Pending.as_str(), State::Dead.as_str()])),
        ),
    )
    .set((outbox::state.eq(State::Superseded.as_str()), outbox::lease_until.eq(None::<NaiveDateTime>)))
    .execute(conn)?;
    if superseded > 0 {
        diesel::update(portal_sync::table.find(dossier_id))
            .set((portal_sync::failing.eq(false), portal_sync::waiting_since.eq(Some(now))))
            .execute(conn)?;
    }
    Ok(())
}

/// The sync figure of a subtree and period: the portal's own indicator
/// (dossiers it has received from the province's system over dossiers),
/// over the dossiers received in the period by the units of the subtree.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct SyncFigures {
    /// Dossiers received in the period.
    pub dossiers: i64,
    /// Of them, those whose latest state the portal acknowledged.
    pub synced: i64,
    /// `synced / dossiers`, in percent; absent without dossiers.
    pub synced_rate: Option<f64>,
    /// Those whose latest delivery attempt failed.
    pub failed: i64,
    /// Those whose latest record waits longer than `portal.overdue_after_minutes`.
    pub overdue: i64,
}

/// The sync figure of the units `unit_ids` for local dates `[from, to)`:
/// four counts over `dossiers_receiving_unit_received_idx`.
pub fn figures(
    conn: &mut DbConnection,
    unit_ids: &[&str],
    from: NaiveDate,
    to: NaiveDate,
    overdue_since: NaiveDateTime,
) -> QueryResult<SyncFigures> {
    let (start, end) = (
        crate::dossiers::stored(from.and_time(chrono::NaiveTime::MIN)),
        crate::dossiers::stored(to.and_time(chrono::NaiveTime::MIN)),
    );
    macro_rules! received {
        () => {
            dossiers::table.filter(
                dossiers::receiving_unit_id
                    .eq_any(unit_ids)
                    .and(dossiers::received_at.ge(start))
                    .and(dossiers::received_at.lt(end)),
            )
        };
    }
    let dossiers: i64 = received!().select(count_star()).get_result(conn)?;
    let synced: i64 = received!()
        .inner_join(portal_sync::table)
        .filter(portal_sync::acked_seq.ge(portal_sync::latest_seq))
        .select(count_star())
        .get_result(conn)?;
    let failed: i64 = received!()
        .inner_join(portal_sync::table)
        .filter(portal_sync::acked_seq.lt(portal_sync::latest_seq).and(portal_sync::failing.eq(true)))
        .select(count_star())
        .get_result(conn)?;
    let overdue: i64 = received!()
        .inner_join(portal_sync::table)
        .filter(
            portal_sync::acked_seq
                .lt(portal_sync::latest_seq)
                .and(portal_sync::failing.eq(false))
                .and(portal_sync::waiting_since.lt(overdue_since)),
        )
        .select(count_star())
        .get_result(conn)?;
    Ok(SyncFigures {
        dossiers,
        synced,
        synced_rate: (dossiers > 0).then(|| (synced as f64) * 100.0 / dossiers as f64),
        failed,
        overdue,
    })
}

/// A dossier whose mirror lags, as `GET /portal/sync` lists it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Lagging {
    pub dossier_id: String,
    pub code: String,
    pub unit_code: String,
    #[schema(value_type = crate::domain::portal::SyncState)]
    pub state: crate::domain::portal::SyncState,
    pub latest_seq: i32,
    pub acked_seq: i32,
    /// When the oldest record not yet acknowledged was queued.
    pub waiting_since: Option<chrono::DateTime<chrono::Utc>>,
    pub last_error: Option<String>,
}

/// Which lagging dossiers to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Lag {
    /// The last attempt failed.
    Failed,
    /// Waiting, failed or not.
    Pending,
}

/// Lagging dossiers of the units under `scope`, oldest wait first, `limit`
/// from the dossier `after` (a keyset: waiting since, then id).
pub fn lagging(
    conn: &mut DbConnection,
    scope: &str,
    lag: Lag,
    after: Option<(NaiveDateTime, String)>,
    limit: i64,
    now: NaiveDateTime,
    allowed: chrono::Duration,
) -> QueryResult<Vec<Lagging>> {
    let mut q = portal_sync::table
        .inner_join(dossiers::table.inner_join(units::table.on(units::id.eq(dossiers::unit_id))))
        .filter(portal_sync::acked_seq.lt(portal_sync::latest_seq))
        .filter(portal_sync::waiting_since.is_not_null())
        .filter(units::path.like(format!("{scope}%")))
        .select((
            portal_sync::dossier_id,
            dossiers::code,
            units::code,
            portal_sync::latest_seq,
            portal_sync::acked_seq,
            portal_sync::waiting_since,
            portal_sync::failing,
            portal_sync::last_error,
        ))
        .order((portal_sync::waiting_since.asc(), portal_sync::dossier_id.asc()))
        .limit(limit)
        .into_boxed();
    if lag == Lag::Failed {
        q = q.filter(portal_sync::failing.eq(true));
    }
    if let Some((since, id)) = after {
        q = q.filter(
            portal_sync::waiting_since
                .gt(since)
                .or(portal_sync::waiting_since.eq(since).and(portal_sync::dossier_id.gt(id))),
        );
    }
    type Line = (String, String, String, i32, i32, Option<NaiveDateTime>, bool, Option<String>);
    Ok(q.load::<Line>(conn)?
        .into_iter()
        .map(|(dossier_id, code, unit_code, latest_seq, acked_seq, waiting_since, failing, last_error)| Lagging {
            state: crate::domain::portal::sync_state(latest_seq, acked_seq, failing, waiting_since, now, allowed),
            dossier_id,
            code,
            unit_code,
            latest_seq,
            acked_seq,
            waiting_since: waiting_since.map(crate::time::utc),
            last_error,
        })
        .collect())
}
