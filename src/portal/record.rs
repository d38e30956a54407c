//! Sync records: what the portal is told about a dossier, built from what
//! is stored and queued in the outbox's portal channel in the transaction
//! of the change (`mirror`, called by the write path, `src/dossiers/write.rs`),
//! or on demand for a whole dossier (`resync`). The vocabulary is
//! `domain::portal`; docs/portal.md lists the fields.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{
    dossier_components, dossier_events, dossier_facts, dossier_files, dossier_processes, dossiers, portal_dossiers,
    procedures, units, users,
};
use crate::domain::dossier::{Channel, Digitization, national_status};
use crate::domain::portal::{self, Component, Dossier, Handling, Record};
use crate::domain::workflow::{EventAction, Status};
use crate::notify::outbox::{self, Channel as OutboxChannel, Message};

/// An event of the dossier, as the history needs it: with the name of who
/// acted and of the unit where.
#[derive(Debug, Queryable)]
struct Event {
    at: NaiveDateTime,
    actor_name: Option<String>,
    actor_role: String,
    unit_name: Option<String>,
    action: String,
    from_status: Option<String>,
    to_status: String,
    summary: String,
}

/// The events of dossier `$dossier_id` (filtered further by the caller),
/// with the names of their actors and units, in order.
macro_rules! events_of {
    ($dossier_id:expr) => {
        dossier_events::table
            .left_join(users::table.on(users::id.nullable().eq(dossier_events::actor_id)))
            .left_join(units::table.on(units::id.nullable().eq(dossier_events::unit_id)))
            .filter(dossier_events::dossier_id.eq($dossier_id))
            .order(dossier_events::id.asc())
            .select((
                dossier_events::at,
                users::full_name.nullable(),
                dossier_events::actor_role,
                units::name.nullable(),
                dossier_events::action,
                dossier_events::from_status,
                dossier_events::to_status,
                dossier_events::summary,
            ))
    };
}

impl Event {
    fn mirrored(&self) -> bool {
        match (EventAction::parse(&self.action), Status::parse(&self.to_status)) {
            (Some(action), Some(to)) => {
                portal::mirrored(action, self.from_status.as_deref().and_then(Status::parse), to)
            }
            _ => false,
        }
    }
}

/// Queues a record of dossier `dossier_id` if the change recorded under
/// `audit_id` is one the portal is told about (`domain::portal::mirrored`);
/// its history is that change's events. Call it in the change's transaction,
/// under the dossier's lock.
pub fn mirror(conn: &mut DbConnection, dossier_id: &str, audit_id: &str) -> QueryResult<()> {
    let events: Vec<Event> = events_of!(dossier_id).filter(dossier_events::audit_id.eq(audit_id)).load(conn)?;
    if events.iter().any(Event::mirrored) {
        queue(conn, dossier_id, events)?;
    }
    Ok(())
}

/// Queues a record of dossier `dossier_id` with its whole history: the
/// state the portal should hold now (`motcua portal resync`). It supersedes
/// the dossier's records not yet delivered (dead letters included), which
/// it contains. Call it under the dossier's lock.
pub fn resync(conn: &mut DbConnection, dossier_id: &str) -> QueryResult<()> {
    super::sync::supersede(conn, dossier_id, crate::time::now())?;
    let events: Vec<Event> = events_of!(dossier_id).load(conn)?;
    queue(conn, dossier_id, events)
}

/// The columns of a dossier a record reads.
#[derive(Debug, Queryable)]
struct Stored {
    code: String,
    channel: String,
    applicant_kind: String,
    applicant_name: String,
    status: String,
    submitted_at: NaiveDateTime,
    received_at: Option<NaiveDateTime>,
    due_at: Option<NaiveDateTime>,
    result_at: Option<NaiveDateTime>,
    finished_at: Option<NaiveDateTime>,
    fee_vnd: i64,
    paid_at: Option<NaiveDateTime>,
    payment_channel: Option<String>,
    unit_id: String,
    national_code: Option<String>,
    procedure_code: String,
    procedure_name: String,
    digitized: Option<bool>,
    portal_code: Option<String>,
    home_unit_id: Option<String>,
    step_started_at: Option<NaiveDateTime>,
    step_due_at: Option<NaiveDateTime>,
}

fn queue(conn: &mut DbConnection, dossier_id: &str, events: Vec<Event>) -> QueryResult<()> {
    // With where it is in its process: the unit whose process it follows (an
    // inter-unit step moves the dossier, not its processing unit) and the
    // current step's dates.
    let d: Stored = dossiers::table
        .find(dossier_id)
        .inner_join(procedures::table)
        .left_join(dossier_facts::table)
        .left_join(portal_dossiers::table)
        .left_join(dossier_processes::table)
        .select((
            dossiers::code,
            dossiers::channel,
            dossiers::applicant_kind,
            dossiers::applicant_name,
            dossiers::status,
            dossiers::submitted_at,
            dossiers::received_at,
            dossiers::due_at,
            dossiers::result_at,
            dossiers::finished_at,
            dossiers::fee_vnd,
            dossiers::paid_at,
            dossiers::payment_channel,
            dossiers::unit_id,
            procedures::national_code,
            procedures::code,
            procedures::name,
            dossier_facts::digitized.nullable(),
            portal_dossiers::portal_code.nullable(),
            dossier_processes::unit_id.nullable(),
            dossier_processes::step_started_at.nullable(),
            dossier_processes::step_due_at.nullable(),
        ))
        .first(conn)?;
    let (step_started_at, step_due_at) = (d.step_started_at, d.step_due_at);
    let home = d.home_unit_id.clone().unwrap_or_else(|| d.unit_id.clone());
    let (unit_code, unit_name): (String, String) =
        units::table.find(&home).select((units::code, units::name)).first(conn)?;
    let components = components(conn, dossier_id)?;

    let status = Status::parse(&d.status).expect("statuses are written by the state machine");
    let national = national_status(status, crate::domain::dossier::fee_due(d.fee_vnd, d.paid_at));
    let time = |t: Option<NaiveDateTime>| t.map(portal::time).unwrap_or_default();
    let ended_at = match status {
        Status::ResultReady | Status::Returned => d.result_at,
        Status::Rejected | Status::Withdrawn | Status::Stopped => d.finished_at,
        _ => None,
    };
    let channel = Channel::parse(&d.channel).expect("channels are written by the filing");
    // Each entry's national status after it, and the step the dossier was
    // then at: the fee's part (status 6) and the step are known for the
    // latest state only.
    let last = events.len().saturating_sub(1);
    let history = events
        .into_iter()
        .enumerate()
        .map(|(i, e)| Handling {
            actor: e.actor_name.unwrap_or_else(|| {
                if e.actor_role == "citizen" { d.applicant_name.clone() } else { e.actor_role.clone() }
            }),
            role: e.actor_role,
            at: portal::time(e.at),
            unit: e.unit_name.unwrap_or_default(),
            summary: e.summary,
            status: if i == last { national } else { Status::parse(&e.to_status).map_or(0, Status::national_code) },
            step_started_at: if i == last { time(step_started_at) } else { String::new() },
            step_due_at: if i == last { time(step_due_at) } else { String::new() },
        })
        .collect();
    let local_code = d.portal_code.as_ref().map(|_| d.code.clone());
    let record = Dossier {
        code: d.portal_code.unwrap_or(d.code),
        local_code,
        procedure_code: d.national_code.unwrap_or(d.procedure_code),
        procedure_name: d.procedure_name,
        channel: portal::channel_code(channel),
        applicant: d.applicant_name,
        applicant_kind: portal::applicant_code(&d.applicant_kind),
        submitted_at: portal::time(d.submitted_at),
        received_at: time(d.received_at),
        due_at: time(d.due_at),
        status: national,
        ended_at: time(ended_at),
        returned_at: time((status == Status::Returned).then_some(d.finished_at).flatten()),
        unit_code,
        unit_name,
        digitized: portal::flag(d.digitized.unwrap_or(false)),
        paid_online: portal::flag(d.paid_at.is_some() && d.payment_channel.as_deref() == Some("online")),
        components,
        history,
    };
    let now = crate::time::now();
    let seq = super::sync::next_seq(conn, dossier_id, now)?;
    let id = uuid::Uuid::now_v7().to_string();
    let subject = format!("{} #{seq}: TrangThaiHoSo {}", record.code, record.status);
    let body = Record { service: portal::SERVICE.into(), id: id.clone(), seq, data: vec![record] };
    outbox::queue(
        conn,
        Message {
            channel: OutboxChannel::Portal,
            kind: "portal_sync",
            recipient: "portal",
            subject,
            text_body: serde_json::to_string(&body).expect("serialisable"),
            html_body: String::new(),
            dossier_id: Some(dossier_id),
            seq: Some(seq),
            id,
        },
    )
}

/// The dossier's components, each with its files counted.
fn components(conn: &mut DbConnection, dossier_id: &str) -> QueryResult<Vec<Component>> {
    let rows: Vec<(String, i32, String, bool, String)> = dossier_components::table
        .filter(dossier_components::dossier_id.eq(dossier_id))
        .order(dossier_components::position.asc())
        .select((
            dossier_components::id,
            dossier_components::position,
            dossier_components::name,
            dossier_components::mandatory,
            dossier_components::digitization,
        ))
        .load(conn)?;
    let files: std::collections::HashMap<String, i64> = dossier_files::table
        .filter(dossier_files::dossier_id.eq(dossier_id))
        .group_by(dossier_files::component_id)
        .select((dossier_files::component_id, diesel::dsl::count_star()))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|(id, position, name, mandatory, digitization)| {
            let n = files.get(&id).copied().unwrap_or(0);
            Component::new(position, name, mandatory, Digitization::parse(&digitization), n)
        })
        .collect())
}
