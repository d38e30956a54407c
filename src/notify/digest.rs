//! The staff's daily digest: each active clerk, specialist or approver whose
//! queue holds overdue dossiers, dossiers due within
//! `notifications.digest_soon_working_days` working days, or dossiers whose
//! current step is late or due within `dossiers.due_soon_working_hours`
//! working hours, gets one e-mail listing them. The worker queues the digests once per local day, from
//! `notifications.digest_hour` on, whatever the number of instances.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use diesel::prelude::*;

use super::Notifier;
use super::messages::{DigestLine, local_time};
use crate::auth::users::UserRow;
use crate::config::DossierSettings;
use crate::db::DbConnection;
use crate::db::schema::{dossier_processes, dossiers, procedures, scheduled_runs, units, users};
use crate::domain::workflow::Status;
use crate::error::ApiError;

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
pub fn queue_digests(
    conn: &mut DbConnection,
    notifier: &Notifier,
    dossier_settings: &DossierSettings,
    now: NaiveDateTime,
) -> Result<usize, ApiError> {
    let today = crate::dossiers::local(now).date();
    let calendar = crate::dossiers::calendar_from(conn, now)?;
    let last_day = calendar.add_working_days(today, notifier.settings().digest_soon_working_days);
    let horizon = crate::dossiers::stored(last_day.and_time(NaiveTime::from_hms_opt(23, 59, 59).expect("valid time")));
    // A step is due soon within `dossiers.due_soon_working_hours`.
    let step_horizon = crate::dossiers::stored(calendar.add_working_minutes(
        &dossier_settings.office_hours,
        crate::dossiers::local(now),
        dossier_settings.due_soon_working_hours * 60,
    ));
    let day = today.format("%d/%m/%Y").to_string();

    let staff: Vec<(UserRow, String)> = users::table
        .inner_join(units::table)
        .filter(users::active.eq(true))
        .order(users::email.asc())
        .select((UserRow::as_select(), units::path))
        .load(conn)?;
    let mut queued = 0;
    for (user, scope) in staff {
        // What waits for them and has a running clock, by the earlier of its
        // appointment date and its step's deadline.
        let roles = user.role_list();
        let rows: Vec<(String, String, NaiveDateTime, Option<NaiveDateTime>)> = dossiers::table
            .inner_join(procedures::table)
            .left_join(dossier_processes::table)
            .filter(
                dossiers::unit_id.eq_any(units::table.select(units::id).filter(units::path.like(format!("{scope}%")))),
            )
            .filter(dossiers::status.eq_any(Status::CLOCK_RUNNING.map(Status::as_str)))
            .filter(crate::waiting_for!(&user.id, &roles))
            .filter(dossiers::due_at.le(horizon).or(dossier_processes::step_due_at.le(step_horizon)).assume_not_null())
            .order((dossiers::due_at.asc(), dossiers::id.asc()))
            .select((
                dossiers::code,
                procedures::name,
                dossiers::due_at.assume_not_null(),
                dossier_processes::step_due_at.nullable(),
            ))
            .load(conn)?;
        let rows: Vec<(String, String, NaiveDateTime)> = rows
            .into_iter()
            .map(|(code, procedure, due, step_due)| (code, procedure, step_due.map_or(due, |s| s.min(due))))
            .collect();
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
