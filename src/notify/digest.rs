//! The staff's daily digest: each active clerk, specialist or approver whose
//! queue holds overdue dossiers, or dossiers due within
//! `notifications.digest_soon_working_days` working days, gets one e-mail
//! listing them. The worker queues the digests once per local day, from
//! `notifications.digest_hour` on, whatever the number of instances.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use diesel::prelude::*;

use super::Notifier;
use super::messages::{DigestLine, local_time};
use crate::auth::users::UserRow;
use crate::db::DbConnection;
use crate::db::schema::{dossiers, procedures, scheduled_runs, units, users};
use crate::domain::workflow::Status;
use crate::error::ApiError;
use crate::queue::routes::waiting_for;

const JOB: &str = "staff_digest";

/// Dossiers listed per section of a digest; the rest are counted.
const PAGE: usize = 30;

/// Takes today's run of the digest: true for exactly one caller per local
/// day (the row update serialises concurrent instances).
pub fn claim_day(conn: &mut DbConnection, today: NaiveDate) -> QueryResult<bool> {
    let updated = diesel::update(
        scheduled_runs::table.filter(scheduled_runs::job.eq(JOB).and(scheduled_runs::last_run_on.lt(today))),
    )
    .set(scheduled_runs::last_run_on.eq(today))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Queues the digest of every staff member with something to report at
/// `now`; returns how many were queued.
pub fn queue_digests(conn: &mut DbConnection, notifier: &Notifier, now: NaiveDateTime) -> Result<usize, ApiError> {
    let today = crate::dossiers::local(now).date();
    let calendar = crate::dossiers::calendar_from(conn, now)?;
    let last_day = calendar.add_working_days(today, notifier.settings().digest_soon_working_days);
    let horizon = crate::dossiers::stored(last_day.and_time(NaiveTime::from_hms_opt(23, 59, 59).expect("valid time")));
    let day = today.format("%d/%m/%Y").to_string();

    let staff: Vec<(UserRow, String)> = users::table
        .inner_join(units::table)
        .filter(users::active.eq(true))
        .order(users::email.asc())
        .select((UserRow::as_select(), units::path))
        .load(conn)?;
    let mut queued = 0;
    for (user, scope) in staff {
        // What waits for them and has a running clock.
        let statuses: Vec<&str> = waiting_for(&user.role_list())
            .into_iter()
            .filter(|s| Status::parse(s).is_some_and(Status::clock_runs))
            .collect();
        if statuses.is_empty() {
            continue;
        }
        let rows: Vec<(String, String, NaiveDateTime)> = dossiers::table
            .inner_join(procedures::table)
            .filter(
                dossiers::unit_id.eq_any(units::table.select(units::id).filter(units::path.like(format!("{scope}%")))),
            )
            .filter(dossiers::status.eq_any(&statuses))
            // In-progress dossiers wait only for their assignee.
            .filter(dossiers::status.ne(Status::InProgress.as_str()).or(dossiers::assignee_id.eq(&user.id)))
            .filter(dossiers::due_at.le(horizon))
            .order((dossiers::due_at.asc(), dossiers::id.asc()))
            .select((dossiers::code, procedures::name, dossiers::due_at.assume_not_null()))
            .load(conn)?;
        if rows.is_empty() {
            continue;
        }
        let (overdue, soon): (Vec<_>, Vec<_>) = rows.into_iter().partition(|(_, _, due)| *due < now);
        let page = |rows: Vec<(String, String, NaiveDateTime)>| {
            let total = rows.len();
            let lines = rows
                .into_iter()
                .take(PAGE)
                .map(|(code, procedure, due)| DigestLine { code, procedure, due_at: local_time(due) })
                .collect();
            (lines, total)
        };
        notifier.staff_digest(conn, &user, &day, page(overdue), page(soon))?;
        queued += 1;
    }
    Ok(queued)
}
