//! Sync records: what the portal is told about a dossier. A change the
//! portal is told about queues its record's place in the dossier's order
//! in its own transaction (`mirror`, called by the write path,
//! `src/dossiers/write.rs`), as `motcua portal resync` does for a whole
//! dossier (`resync`); the courier builds the records of a claimed batch
//! together, from what is stored then (`build`), and keeps each body so that
//! retries send the same bytes. The vocabulary is `domain::portal`;
//! docs/portal.md lists the fields.

use std::collections::HashMap;

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{
    dossier_components, dossier_events, dossier_facts, dossier_files, dossier_processes, dossiers, portal_dossiers,
    portal_sync, procedures, units, users,
};
use crate::domain::dossier::{Channel, Digitization, national_status};
use crate::domain::portal::{self, Component, Dossier, Handling, Record};
use crate::domain::workflow::{EventAction, Status};
use crate::notify::outbox::{self, Channel as OutboxChannel, Message, OutboxRow};

/// An event of a dossier, as the history needs it: with the name of who
/// acted and of the unit where.
#[derive(Debug, Queryable)]
struct Event {
    dossier_id: String,
    audit_id: Option<String>,
    at: NaiveDateTime,
    actor_name: Option<String>,
    actor_role: String,
    unit_name: Option<String>,
    to_status: String,
    summary: String,
}

/// The events matching `$filter`, with the names of their actors and units,
/// in order.
macro_rules! events {
    ($filter:expr) => {
        dossier_events::table
            .left_join(users::table.on(users::id.nullable().eq(dossier_events::actor_id)))
            .left_join(units::table.on(units::id.nullable().eq(dossier_events::unit_id)))
            .filter($filter)
            .order(dossier_events::id.asc())
            .select((
                dossier_events::dossier_id,
                dossier_events::audit_id,
                dossier_events::at,
                users::full_name.nullable(),
                dossier_events::actor_role,
                units::name.nullable(),
                dossier_events::to_status,
                dossier_events::summary,
            ))
    };
}

/// Whether an event, as stored, is one the portal is told about
/// (`domain::portal::mirrored`).
fn mirrored(action: &str, from: Option<&str>, to: &str) -> bool {
    match (EventAction::parse(action), Status::parse(to)) {
        (Some(action), Some(to)) => portal::mirrored(action, from.and_then(Status::parse), to),
        _ => false,
    }
}

/// Queues the record of dossier `dossier_id` if the change recorded under
/// `audit_id` is one the portal is told about: its place in the dossier's
/// order, to be built when delivered (`build`), with that change's events as
/// its history, due after `settle` (`portal.settle_ms`). Call it in the
/// change's transaction, under the dossier's lock.
pub fn mirror(conn: &mut DbConnection, dossier_id: &str, audit_id: &str, settle: Duration) -> QueryResult<()> {
    let changes: Vec<(String, Option<String>, String)> = dossier_events::table
        .filter(dossier_events::dossier_id.eq(dossier_id).and(dossier_events::audit_id.eq(audit_id)))
        .select((dossier_events::action, dossier_events::from_status, dossier_events::to_status))
        .load(conn)?;
    if changes.iter().any(|(action, from, to)| mirrored(action, from.as_deref(), to)) {
        queue(conn, dossier_id, Some(audit_id), settle)?;
    }
    Ok(())
}

/// Queues a record of dossier `dossier_id` with its whole history: the
/// state the portal should hold now (`motcua portal resync`). It supersedes
/// the dossier's records not yet delivered (dead letters included), which
/// it contains. Call it under the dossier's lock.
pub fn resync(conn: &mut DbConnection, dossier_id: &str) -> QueryResult<()> {
    super::sync::supersede(conn, dossier_id, crate::time::now())?;
    queue(conn, dossier_id, None, Duration::zero())
}

/// Queues the next record of `dossier_id`, not yet built: its history is the
/// events of `audit_id`, or with none the dossier's whole history.
fn queue(conn: &mut DbConnection, dossier_id: &str, audit_id: Option<&str>, settle: Duration) -> QueryResult<()> {
    let now = crate::time::now();
    let seq = super::sync::next_seq(conn, dossier_id, now)?;
    outbox::queue(
        conn,
        Message {
            channel: OutboxChannel::Portal,
            kind: "portal_sync",
            recipient: "portal",
            subject: format!("#{seq}"),
            text_body: String::new(),
            html_body: String::new(),
            dossier_id: Some(dossier_id),
            seq: Some(seq),
            audit_id,
            due_at: now + settle,
            id: uuid::Uuid::now_v7().to_string(),
        },
    )
}

/// The columns of a dossier a record reads: with where it is in its
/// process — the unit whose process it follows (an inter-unit step moves
/// the dossier, not its processing unit) and the current step's dates.
#[derive(Debug, Queryable)]
struct Stored {
    id: String,
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
    latest_seq: Option<i32>,
}

/// What the records of a batch read, one query per table for the batch.
struct Batch {
    dossiers: HashMap<String, Stored>,
    units: HashMap<String, (String, String)>,
    components: HashMap<String, Vec<Component>>,
    events: HashMap<String, Vec<Event>>,
}

/// Builds the claimed portal records not built yet (a retry keeps its
/// body), from what is stored now, and stores their bodies. Run it in the
/// claim's transaction (`notify::worker::Transport::prepare`).
///
/// A record says the dossier's state when it is built. The records of its
/// dossier queued after it and not built yet **join** it
/// (`sync::join_later`): it takes the latest one's place in the order and
/// their changes' events into its history, so that a portal that fell
/// behind receives a dossier's latest state once, with its whole history,
/// rather than each state it went through.
pub fn build(conn: &mut DbConnection, rows: &mut [OutboxRow]) -> QueryResult<()> {
    let mut todo: Vec<&mut OutboxRow> =
        rows.iter_mut().filter(|r| r.channel() == OutboxChannel::Portal && r.text_body.is_empty()).collect();
    if todo.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = todo.iter().filter_map(|r| r.dossier_id.clone()).collect();
    let mut later = super::sync::join_later(conn, &ids)?;
    let mut plans = Vec::with_capacity(todo.len());
    for row in todo.iter_mut() {
        let Some(dossier_id) = row.dossier_id.clone() else { continue };
        // The changes whose events are its history; `None`: the whole
        // history (a resync is among them).
        let mut audits = row.audit_id.clone().map(|a| vec![a]);
        let joined = later.remove(&dossier_id).unwrap_or_default();
        // Stored with its body (`outbox::complete`).
        if let Some(&(last, _)) = joined.last() {
            row.seq = Some(last);
        }
        for (_, audit) in joined {
            match (audits.as_mut(), audit) {
                (Some(audits), Some(audit)) => audits.push(audit),
                _ => audits = None,
            }
        }
        plans.push(Plan { dossier_id, audits });
    }
    let mut batch = Batch::load(conn, &plans)?;
    for (row, plan) in todo.into_iter().zip(plans) {
        let mut events = batch.events.remove(&plan.dossier_id).unwrap_or_default();
        if let Some(audits) = &plan.audits {
            events.retain(|e| e.audit_id.as_ref().is_some_and(|a| audits.contains(a)));
        }
        let seq = row.seq.unwrap_or_default();
        let record = batch.record(&plan.dossier_id, seq, events);
        row.subject = format!("{} #{seq}: TrangThaiHoSo {}", record.code, record.status);
        row.text_body = serde_json::to_string(&Record {
            service: portal::SERVICE.into(),
            id: row.id.clone(),
            seq,
            data: vec![record],
        })
        .expect("serialisable");
        outbox::complete(conn, row)?;
    }
    Ok(())
}

/// What a claimed record covers.
struct Plan {
    dossier_id: String,
    /// The changes whose events are its history; `None`: the dossier's whole history.
    audits: Option<Vec<String>>,
}

impl Batch {
    fn load(conn: &mut DbConnection, plans: &[Plan]) -> QueryResult<Self> {
        let ids: Vec<&str> = plans.iter().map(|p| p.dossier_id.as_str()).collect();
        // Changes' events; for a whole history, all the dossier's.
        let changes: Vec<&str> = plans.iter().flat_map(|p| p.audits.iter().flatten()).map(String::as_str).collect();
        let whole: Vec<&str> = plans.iter().filter(|p| p.audits.is_none()).map(|p| p.dossier_id.as_str()).collect();
        let mut events: Vec<Event> = Vec::new();
        if !changes.is_empty() {
            events = events!(dossier_events::dossier_id.eq_any(&ids).and(dossier_events::audit_id.eq_any(&changes)))
                .load(conn)?;
        }
        if !whole.is_empty() {
            events.extend(events!(dossier_events::dossier_id.eq_any(&whole)).load::<Event>(conn)?);
        }
        let mut by_dossier: HashMap<String, Vec<Event>> = HashMap::new();
        for event in events {
            by_dossier.entry(event.dossier_id.clone()).or_default().push(event);
        }
        let dossiers: Vec<Stored> = dossiers::table
            .filter(dossiers::id.eq_any(&ids))
            .inner_join(procedures::table)
            .left_join(dossier_facts::table)
            .left_join(portal_dossiers::table)
            .left_join(dossier_processes::table)
            .left_join(portal_sync::table)
            .select((
                dossiers::id,
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
                portal_sync::latest_seq.nullable(),
            ))
            .load(conn)?;
        let homes: Vec<&str> = dossiers.iter().map(Stored::home).collect();
        let units: HashMap<String, (String, String)> = units::table
            .filter(units::id.eq_any(&homes))
            .select((units::id, (units::code, units::name)))
            .load(conn)?
            .into_iter()
            .collect();
        let components = components(conn, &ids)?;
        Ok(Self {
            dossiers: dossiers.into_iter().map(|d| (d.id.clone(), d)).collect(),
            units,
            components,
            events: by_dossier,
        })
    }

    /// Record `seq` of dossier `dossier_id`, with `events` as its history.
    fn record(&mut self, dossier_id: &str, seq: i32, events: Vec<Event>) -> Dossier {
        let d = self.dossiers.get(dossier_id).expect("a record's dossier exists");
        let (unit_code, unit_name) = self.units.get(d.home()).cloned().unwrap_or_default();
        let status = Status::parse(&d.status).expect("statuses are written by the state machine");
        let national = national_status(status, crate::domain::dossier::fee_due(d.fee_vnd, d.paid_at));
        let time = |t: Option<NaiveDateTime>| t.map(portal::time).unwrap_or_default();
        let ended_at = match status {
            Status::ResultReady | Status::Returned => d.result_at,
            Status::Rejected | Status::Withdrawn | Status::Stopped => d.finished_at,
            _ => None,
        };
        let channel = Channel::parse(&d.channel).expect("channels are written by the filing");
        // Each entry's national status after it. The latest record's last
        // entry is the dossier now: with the fee's part (status 6) and the
        // step it is at.
        let current = d.latest_seq == Some(seq);
        let last = events.len().saturating_sub(1);
        let history = events
            .into_iter()
            .enumerate()
            .map(|(i, e)| {
                let now = current && i == last;
                Handling {
                    actor: e.actor_name.unwrap_or_else(|| {
                        if e.actor_role == "citizen" { d.applicant_name.clone() } else { e.actor_role.clone() }
                    }),
                    role: e.actor_role,
                    at: portal::time(e.at),
                    unit: e.unit_name.unwrap_or_default(),
                    summary: e.summary,
                    status: if now { national } else { Status::parse(&e.to_status).map_or(0, Status::national_code) },
                    step_started_at: if now { time(d.step_started_at) } else { String::new() },
                    step_due_at: if now { time(d.step_due_at) } else { String::new() },
                }
            })
            .collect();
        Dossier {
            code: d.portal_code.clone().unwrap_or_else(|| d.code.clone()),
            local_code: d.portal_code.as_ref().map(|_| d.code.clone()),
            procedure_code: d.national_code.clone().unwrap_or_else(|| d.procedure_code.clone()),
            procedure_name: d.procedure_name.clone(),
            channel: portal::channel_code(channel),
            applicant: d.applicant_name.clone(),
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
            components: self.components.get(dossier_id).cloned().unwrap_or_default(),
            history,
        }
    }
}

impl Stored {
    /// The unit whose process the dossier follows.
    fn home(&self) -> &str {
        self.home_unit_id.as_deref().unwrap_or(&self.unit_id)
    }
}

/// The components of dossiers `ids`, each with its files counted.
fn components(conn: &mut DbConnection, ids: &[&str]) -> QueryResult<HashMap<String, Vec<Component>>> {
    let rows: Vec<(String, String, i32, String, bool, String)> = dossier_components::table
        .filter(dossier_components::dossier_id.eq_any(ids))
        .order((dossier_components::dossier_id.asc(), dossier_components::position.asc()))
        .select((
            dossier_components::dossier_id,
            dossier_components::id,
            dossier_components::position,
            dossier_components::name,
            dossier_components::mandatory,
            dossier_components::digitization,
        ))
        .load(conn)?;
    let files: HashMap<String, i64> = dossier_files::table
        .filter(dossier_files::dossier_id.eq_any(ids))
        .group_by(dossier_files::component_id)
        .select((dossier_files::component_id, diesel::dsl::count_star()))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect();
    let mut out: HashMap<String, Vec<Component>> = HashMap::new();
    for (dossier_id, id, position, name, mandatory, digitization) in rows {
        let n = files.get(&id).copied().unwrap_or(0);
        out.entry(dossier_id).or_default().push(Component::new(
            position,
            name,
            mandatory,
            Digitization::parse(&digitization),
            n,
        ));
    }
    Ok(out)
}
