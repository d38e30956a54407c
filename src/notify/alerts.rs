//! Late-step alerts (docs/processes.md): when the current step of a dossier
//! whose clock runs is late by more than
//! `dossiers.step_alert_after_working_hours` working hours, the approvers of
//! the unit doing it get one e-mail, through the outbox. "Once" is the
//! step's `step_alerted_at`, set by a conditional update that only one
//! instance wins and that a new step clears (`processes::store_position`).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use minijinja::context;

use super::Notifier;
use super::messages::local_time;
use crate::auth::users::UserRow;
use crate::config::DossierSettings;
use crate::db::DbConnection;
use crate::db::schema::{dossier_processes, dossiers, procedures, units, users};
use crate::domain::process;
use crate::domain::roles::{self, Role};
use crate::domain::workflow::Status;
use crate::error::ApiError;

/// Steps looked at per round; the next round takes the rest.
const BATCH: i64 = 200;

/// A step late at its deadline, not alerted yet: dossier, step start, deadline.
pub type Late = (String, NaiveDateTime, NaiveDateTime);

/// The steps of dossiers whose clock runs that are past their deadline by
/// more than the margin in hours and not alerted yet (a read: the worker
/// writes only when there are some).
pub fn late_steps(conn: &mut DbConnection, settings: &DossierSettings, now: NaiveDateTime) -> QueryResult<Vec<Late>> {
    // Working time never runs faster than the clock: a step late by more
    // than the margin in working hours is late by more than that in hours.
    let beyond = now - chrono::Duration::hours(i64::from(settings.step_alert_after_working_hours));
    dossier_processes::table
        .inner_join(dossiers::table)
        .filter(dossiers::status.eq_any(Status::CLOCK_RUNNING.map(Status::as_str)))
        .filter(dossier_processes::step_alerted_at.is_null())
        .filter(dossier_processes::step_due_at.lt(beyond))
        .order(dossier_processes::step_due_at.asc())
        .limit(BATCH)
        .select((
            dossier_processes::dossier_id,
            dossier_processes::step_started_at.assume_not_null(),
            dossier_processes::step_due_at.assume_not_null(),
        ))
        .load(conn)
}

/// Alerts the approvers of each of the `late` steps late by more than the
/// margin in working hours at `now`; returns how many steps were alerted.
pub fn alert_late_steps(
    conn: &mut DbConnection,
    notifier: &Notifier,
    settings: &DossierSettings,
    late: &[Late],
    now: NaiveDateTime,
) -> Result<usize, ApiError> {
    let Some(earliest) = late.iter().map(|(_, _, due)| *due).min() else { return Ok(0) };
    let calendar = crate::dossiers::calendar_from(conn, earliest)?;
    let local = crate::dossiers::local;
    let margin = settings.step_alert_after_working_hours;
    let mut alerted = 0;
    for (dossier_id, started_at, due_at) in late {
        let Some(late_minutes) =
            process::late_beyond(&calendar, &settings.office_hours, local(*due_at), local(now), margin)
        else {
            continue;
        };
        // This step, not one that started meanwhile; once, whatever the instances.
        let won = diesel::update(
            dossier_processes::table
                .find(dossier_id)
                .filter(dossier_processes::step_alerted_at.is_null())
                .filter(dossier_processes::step_started_at.eq(started_at)),
        )
        .set(dossier_processes::step_alerted_at.eq(now))
        .execute(conn)?;
        if won == 1 {
            alert(conn, notifier, dossier_id, late_minutes)?;
            alerted += 1;
        }
    }
    Ok(alerted)
}

/// Queues the alert of dossier `dossier_id`'s late step to each active
/// approver of the unit doing it.
fn alert(conn: &mut DbConnection, notifier: &Notifier, dossier_id: &str, late_minutes: u32) -> Result<(), ApiError> {
    let Some(position) = crate::processes::position(conn, dossier_id)? else { return Ok(()) };
    let (code, procedure, unit_id, unit, holder): (String, String, String, String, Option<String>) = dossiers::table
        .find(dossier_id)
        .inner_join(procedures::table)
        .inner_join(units::table.on(units::id.eq(dossiers::unit_id)))
        .select((dossiers::code, procedures::name, units::id, units::name, dossiers::assignee_id))
        .first(conn)?;
    let holder = match holder {
        Some(id) => users::table.find(id).select(users::full_name).first::<String>(conn).optional()?,
        None => None,
    };
    let approvers: Vec<UserRow> = users::table
        .filter(users::unit_id.eq(&unit_id).and(users::active.eq(true)))
        .order(users::email.asc())
        .select(UserRow::as_select())
        .load::<UserRow>(conn)?
        .into_iter()
        .filter(|u| roles::decode(&u.roles).contains(&Role::Approver))
        .collect();
    for approver in &approvers {
        let ctx = context! {
            name => &approver.full_name,
            code => &code,
            procedure => &procedure,
            unit => &unit,
            step => &position.step().name,
            due_at => local_time(position.due_at),
            late_hours => late_minutes / 60,
            holder => holder.as_deref().unwrap_or("—"),
        };
        notifier.step_late(conn, approver, dossier_id, ctx)?;
    }
    Ok(())
}
