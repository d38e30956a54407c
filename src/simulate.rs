//! `motcua simulate`: fills a database with a realistic province — the demo
//! hierarchy (plus generated communes if asked), the catalogue, applicants
//! and a year of dossiers whose mix of channels, states, delays, supplements,
//! transfers, digitization, e-results, reuse, payments and ratings follows
//! [`Mix`] (defaults: the Quảng Ninh 2024 figures of DESIGN.md §6).
//!
//! Each dossier's life is planned by the pure [`timeline`] (sampled draws →
//! the steps of the state machine, cut at the simulation's horizon) and
//! written as the application writes it: the dossier, its facts, units,
//! components, events, payment, rating, signed e-result and repository
//! entries, and the sequences that keep codes and result numbers gap-free
//! afterwards. Rows go in with multi-row inserts, a few thousand dossiers per
//! transaction.
//!
//! Simplifications, on purpose: digitized components carry their status but
//! no uploaded file (only reused components list a file, as filing does);
//! every e-result points at one shared PDF in the file store; every simulated
//! account (applicants `applicant{n}@sim.motcua.local`, staff
//! `{role}.{unit code}@sim.motcua.local`) shares one argon2 hash of the demo
//! password, computed once — hashing a million passwords would take days.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use anyhow::{Context, bail};
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike};
use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

use crate::assessment::AssessmentRow;
use crate::auth::users::UserRow;
use crate::db::DbConnection;
use crate::db::schema::{
    dossier_components, dossier_events, dossier_facts, dossier_files, dossier_units, dossiers, payments, procedures,
    ratings, sequences, users,
};
use crate::domain::assessment::{Assessment, Inputs, Pace, Steps, UnitComplaints, UnitOnline};
use crate::domain::calendar::{Calendar, OfficeHours};
use crate::domain::dossier::{self as domain, Act, Channel, Dossier, Now, PaymentChannel, Timeliness};
use crate::domain::dossier_code::DossierCode;
use crate::domain::process::{self, Route, StepKind, StepTally};
use crate::domain::result_form::result_number;
use crate::domain::roles::Role;
use crate::domain::text::fold;
use crate::domain::units::Level;
use crate::domain::workflow::Actor;
use crate::domain::workflow::Status;
use crate::dossiers::{Digitization, DossierRow, calendar_from, local, stored};
use crate::procedures::ProcedureView;
use crate::repository::DocumentRow;
use crate::results::ResultRow;
use crate::results::keys::Signer;
use crate::storage::FileStore;
use crate::units::UnitRow;

/// A share that the province publishes per level of the receiving unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PerLevel {
    pub province: f64,
    pub district: f64,
    pub commune: f64,
}

impl PerLevel {
    /// The same share at every level.
    pub fn all(share: f64) -> Self {
        Self { province: share, district: share, commune: share }
    }

    pub fn at(&self, level: Level) -> f64 {
        match level {
            Level::Province => self.province,
            Level::District => self.district,
            Level::Commune => self.commune,
        }
    }
}

/// The shares that shape the simulated year. The first seven are the
/// published figures `GET /api/v1/stats` reproduces.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mix {
    /// Dossiers filed online (the rest at the counter or by post).
    pub online: PerLevel,
    /// Dossiers whose every mandatory component has an electronic form.
    pub digitized: PerLevel,
    /// Results of document-issuing procedures issued as signed e-results.
    pub e_result: PerLevel,
    /// Results of the procedures certifying copies from originals issued as
    /// signed electronic copies.
    pub certified_copies: f64,
    /// Dossiers taking a component from the applicant's repository.
    pub reuse: f64,
    /// Fee-bearing dossiers paid online.
    pub online_payment: f64,
    /// Ratings with no criterion dissatisfied.
    pub satisfaction: f64,
    /// Dossiers whose result comes by the appointment date.
    pub on_time: f64,
    /// Late dossiers whose applicant gets an apology.
    pub apology: f64,
    /// Online dossiers asked for a supplement at intake.
    pub intake_supplement: f64,
    /// Dossiers asked for a supplement during processing (the clock
    /// pauses), per level of the receiving unit.
    pub processing_supplement: PerLevel,
    /// Dossiers transferred to another unit of the same level.
    pub transfer: f64,
    /// Online dossiers rejected at intake.
    pub rejected: f64,
    /// Dossiers withdrawn by the applicant during processing.
    pub withdrawn: f64,
    /// Dossiers stopped by the approver.
    pub stopped: f64,
    /// Finished dossiers that their applicant rates.
    pub rated: f64,
}

impl Default for Mix {
    /// DESIGN.md §6, Quảng Ninh 2023–2024: online 98.55% (province), 98.6%
    /// (district), 97% (commune); digitized 99.1%, 99.3%, 98.2%; e-results
    /// 97.8%, 93.9%, 96.5%; certified e-copies 10,823 of 10,823; reuse
    /// 78.01%; online payment 57.4%; satisfaction 98%. The on-time share
    /// and the supplements are set so that the 18-point assessment averages
    /// 17.7 at each level (docs/assessment.md); the rest are plausible guesses.
    fn default() -> Self {
        Self {
            online: PerLevel { province: 0.9855, district: 0.986, commune: 0.97 },
            digitized: PerLevel { province: 0.991, district: 0.993, commune: 0.982 },
            e_result: PerLevel { province: 0.978, district: 0.939, commune: 0.965 },
            certified_copies: 1.0,
            reuse: 0.7801,
            online_payment: 0.574,
            satisfaction: 0.98,
            on_time: 1.0,
            apology: 0.8,
            intake_supplement: 0.03,
            processing_supplement: PerLevel { province: 0.17, district: 0.13, commune: 0.05 },
            transfer: 0.02,
            rejected: 0.005,
            withdrawn: 0.003,
            stopped: 0.002,
            rated: 0.3,
        }
    }
}

impl Mix {
    pub fn validate(&self) -> anyhow::Result<()> {
        let levels = [Level::Province, Level::District, Level::Commune];
        let per_level = [("online", self.online), ("digitized", self.digitized), ("e-result", self.e_result)]
            .into_iter()
            .flat_map(|(name, v)| levels.map(|l| (name, v.at(l))));
        let shares = [
            ("certified-copies", self.certified_copies),
            ("reuse", self.reuse),
            ("online-payment", self.online_payment),
            ("satisfaction", self.satisfaction),
            ("on-time", self.on_time),
        ];
        for (name, v) in per_level.chain(shares) {
            if !(0.0..=1.0).contains(&v) {
                bail!("--{name} is a share between 0 and 1, not {v}");
            }
        }
        Ok(())
    }
}

/// What to simulate.
#[derive(Debug, Clone)]
pub struct Options {
    pub dossiers: u64,
    pub seed: u64,
    /// The simulated year; dossiers are received from 1 January to the end
    /// of the year or now, whichever comes first.
    pub year: i32,
    /// Citizen accounts filing them (default: one per ten dossiers).
    pub applicants: Option<u64>,
    /// Extra dossiers received on the last day and left in the queue,
    /// unclaimed (for queue benchmarks).
    pub backlog: u64,
    /// Generated communes added under the districts, round-robin.
    pub communes: u32,
    pub mix: Mix,
}

/// What was written.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub dossiers: u64,
    pub history_dossiers: u64,
    pub applicants: u64,
    pub events: u64,
    pub results: u64,
    pub seconds: f64,
}

/// The independent draws that decide one dossier's life.
#[derive(Debug, Clone, Default)]
pub struct Draws {
    pub online: bool,
    pub intake_supplement: bool,
    pub rejected: bool,
    /// Left in the queue once received.
    pub backlog: bool,
    pub transfer: bool,
    pub processing_supplement: bool,
    /// Working days the clock stays paused for a processing supplement (≥ 1).
    pub pause_days: u32,
    pub withdrawn: bool,
    pub stopped: bool,
    pub late: bool,
    /// Working days past the appointment date when late (≥ 1).
    pub late_days: u32,
    pub apology: bool,
    /// Share of the processing time used when on time, in [0, 1).
    pub pace: f64,
    pub paid_online: bool,
    pub rated: bool,
    pub satisfied: bool,
    /// Minutes between filing online and reception.
    pub lead_minutes: i64,
    /// Minutes between steps, and hours before the result is collected.
    pub gap_minutes: i64,
    pub collect_hours: i64,
    /// The result is issued as a signed e-result (if the procedure's result is a document).
    pub e_result: bool,
}

impl Draws {
    /// The draws of a dossier received at a unit of `level`.
    pub fn sample(rng: &mut impl Rng, mix: &Mix, level: Level) -> Self {
        fn p(rng: &mut impl Rng, x: f64) -> bool {
            rng.random_bool(x.clamp(0.0, 1.0))
        }
        let online = p(rng, mix.online.at(level));
        Self {
            online,
            intake_supplement: online && p(rng, mix.intake_supplement),
            rejected: online && p(rng, mix.rejected),
            backlog: false,
            transfer: p(rng, mix.transfer),
            processing_supplement: p(rng, mix.processing_supplement.at(level)),
            pause_days: rng.random_range(1..=3),
            withdrawn: p(rng, mix.withdrawn),
            stopped: p(rng, mix.stopped),
            late: !p(rng, mix.on_time),
            late_days: rng.random_range(1..=5),
            apology: p(rng, mix.apology),
            pace: rng.random_range(0.0..1.0),
            paid_online: p(rng, mix.online_payment),
            rated: p(rng, mix.rated),
            satisfied: p(rng, mix.satisfaction),
            lead_minutes: rng.random_range(30..=1800),
            gap_minutes: rng.random_range(20..=180),
            collect_hours: rng.random_range(1..=72),
            e_result: p(rng, mix.e_result.at(level)),
        }
    }
}

/// Which unit a step happens at: where the dossier was received, or where
/// it was transferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    Receiving,
    Target,
}

/// What a step does: a change the rules of `src/domain/dossier.rs` apply.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Filed online, or registered at the counter.
    File(Channel),
    Act(Act),
    /// The fee settled, online or at the counter.
    Pay(PaymentChannel),
    /// The applicant rates the finished dossier.
    Rate,
}

impl Change {
    /// The event's action, as the service names it.
    pub fn name(&self) -> &'static str {
        match self {
            Change::File(Channel::Online) => "submit",
            Change::File(_) => "register",
            Change::Act(act) => act.action().as_str(),
            Change::Pay(_) => "payment",
            Change::Rate => "rate",
        }
    }
}

/// One step of a dossier's life (local time), with the statuses the rules
/// gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub change: Change,
    pub from: Option<Status>,
    pub to: Status,
    pub at: NaiveDateTime,
    pub role: Role,
    pub unit: At,
    /// The process step it completed (`domain::process::completed`), and
    /// how against its deadline (`process::timing`), for the step
    /// statistics and the assessment.
    pub completed: Option<(process::Completed, process::Timing)>,
}

/// The units and people a timeline names (ids as stored).
#[derive(Debug, Clone)]
pub struct Cast {
    pub receiving_unit: String,
    pub target_unit: String,
    /// The specialist of the receiving unit and of the target.
    pub specialists: [String; 2],
    /// The process the procedure's dossiers follow, and the office hours
    /// that count its steps' working minutes.
    pub route: Route,
    pub hours: OfficeHours,
}

/// A dossier's life cut at the horizon: its steps, and the dossier the
/// rules make of them.
#[derive(Debug, Clone)]
pub struct Timeline {
    pub steps: Vec<Step>,
    /// `None` when nothing happened before the horizon.
    pub dossier: Option<Dossier>,
    /// UTC, as stored.
    pub rated_at: Option<NaiveDateTime>,
}

impl Timeline {
    pub fn transferred(&self) -> bool {
        self.steps.iter().any(|s| matches!(s.change, Change::Act(Act::Transfer { .. })))
    }
}

/// The procedure's terms as the timeline needs them.
#[derive(Debug, Clone, Copy)]
pub struct Terms {
    pub dates: domain::Terms,
    pub fee_vnd: i64,
    /// The procedure's result is a document (an e-result may be issued).
    pub document_result: bool,
}

/// Applies steps as the service would, keeping time strictly increasing.
struct Script<'a> {
    steps: Vec<Step>,
    dossier: Option<Dossier>,
    unit: At,
    terms: Terms,
    calendar: &'a Calendar,
    cast: &'a Cast,
}

impl Script<'_> {
    fn last(&self) -> NaiveDateTime {
        self.steps.last().map(|s| s.at).expect("a script starts with a step")
    }

    fn dossier(&self) -> &Dossier {
        self.dossier.as_ref().expect("filed first")
    }

    /// The appointment date now (local).
    fn due(&self) -> NaiveDateTime {
        local(self.dossier().due_at.expect("received"))
    }

    /// Applies `change` by `role` at local time `at` (moved after the last
    /// step); the rules refusing it is a bug of the plan.
    fn push(&mut self, change: Change, at: NaiveDateTime, role: Role) -> NaiveDateTime {
        let at = match self.steps.last() {
            Some(s) => at.max(s.at + Duration::minutes(1)),
            None => at,
        };
        let now = Now { at: stored(at), calendar: self.calendar, hours: &self.cast.hours };
        let from = self.dossier.as_ref().map(|d| d.status);
        let actor = Actor {
            roles: &[role],
            is_applicant: role == Role::Citizen,
            is_assignee: matches!(role, Role::Specialist | Role::Approver),
            did_earlier_step: false,
        };
        let after = match (&change, &self.dossier) {
            (Change::File(channel), None) => {
                let (unit, route) = (&self.cast.receiving_unit, Some(self.cast.route.clone()));
                domain::file(*channel, unit, self.terms.fee_vnd, &self.terms.dates, route, now)
            }
            (Change::Act(act), Some(d)) => domain::apply(d, act, actor, &self.terms.dates, now)
                .unwrap_or_else(|r| panic!("the plan takes {act:?} from {:?}: {r:?}", d.status)),
            (Change::Pay(channel), Some(d)) => domain::settle(d, *channel, now.at).expect("a fee is due"),
            (Change::Rate, Some(d)) => {
                domain::rate(d.status, None, now.at).expect("rated once finished");
                d.clone()
            }
            (change, d) => panic!("{change:?} on {d:?}"),
        };
        let completed = self.dossier.as_ref().and_then(|before| {
            let done =
                process::completed((before.status, before.position.as_ref()), (after.status, after.position.as_ref()))?;
            let timing = process::timing(self.calendar, &self.cast.hours, local(done.due_at), at);
            Some((done, timing))
        });
        self.steps.push(Step { change, from, to: after.status, at, role, unit: self.unit, completed });
        self.dossier = Some(after);
        at
    }

    fn act(&mut self, act: Act, at: NaiveDateTime, role: Role) -> NaiveDateTime {
        self.push(Change::Act(act), at, role)
    }
}

/// Plans the life of a dossier received (or rejected at intake) at local
/// time `received`, then keeps the steps up to `horizon` and replays them:
/// every column of the dossier comes from the rules' effects.
pub fn timeline(
    d: &Draws,
    terms: Terms,
    cal: &Calendar,
    cast: &Cast,
    received: NaiveDateTime,
    horizon: NaiveDateTime,
) -> Timeline {
    let gap = Duration::minutes(d.gap_minutes);
    let mut s = Script { steps: Vec::new(), dossier: None, unit: At::Receiving, terms, calendar: cal, cast };
    if d.online {
        let submitted = received - Duration::minutes(d.lead_minutes);
        s.push(Change::File(Channel::Online), submitted, Role::Citizen);
        if d.intake_supplement {
            s.act(Act::RequestSupplement, submitted + gap / 3, Role::Clerk);
            s.act(Act::Supplement, submitted + gap * 2 / 3, Role::Citizen);
        }
        if d.rejected {
            s.act(Act::Reject, received, Role::Clerk);
            return finish(d, s, horizon);
        }
        s.act(Act::Receive { route: cast.route.clone() }, received, Role::Clerk);
    } else {
        s.push(Change::File(Channel::Counter), received, Role::Clerk);
    }
    if terms.fee_vnd > 0 {
        let channel = if d.paid_online { PaymentChannel::Online } else { PaymentChannel::Counter };
        s.push(Change::Pay(channel), received + Duration::minutes(5), Role::Citizen);
    }
    if d.backlog {
        return finish(d, s, horizon);
    }
    let mut specialist = &cast.specialists[0];
    if d.transfer {
        let transfer = Act::Transfer { to_unit_id: cast.target_unit.clone(), route: cast.route.clone() };
        s.act(transfer, received + gap / 2, Role::Clerk);
        s.unit = At::Target;
        specialist = &cast.specialists[1];
    }
    let claimed = s.act(Act::Claim { by: specialist.clone() }, s.last() + gap, Role::Specialist);
    if d.withdrawn || d.stopped {
        let at = cal.add_working_days(claimed.date(), 1).and_time(claimed.time());
        if d.withdrawn {
            s.act(Act::Withdraw, at, Role::Citizen);
        } else {
            s.act(Act::Stop, at, Role::Approver);
        }
        return finish(d, s, horizon);
    }
    let mut paused_days = 0;
    if d.processing_supplement && !d.intake_supplement {
        let paused = s.act(Act::RequestSupplement, claimed + gap, Role::Specialist);
        let resumed = cal.add_working_days(paused.date(), d.pause_days).and_hms_opt(9, 0, 0).expect("time");
        let resumed = s.act(Act::Supplement, resumed, Role::Citizen);
        paused_days = cal.working_days_between(paused.date(), resumed.date());
    }
    let days = terms.dates.processing_days;
    let taken = if d.late { days + paused_days + d.late_days } else { (f64::from(days) * d.pace) as u32 + paused_days };
    let hour = 8 + (d.gap_minutes % 8) as u32;
    let start = cal.start_day(received, terms.dates.cutoff_hour);
    let result_day = cal.add_working_days(start, taken).max(s.last().date());
    let mut result = result_day.and_hms_opt(hour, (d.lead_minutes % 60) as u32, 0).expect("time");
    // The process's steps up to the signing, from reception: a dossier on
    // time has its result by the end of their allotments.
    let signing = cast.route.steps.iter().position(|st| st.kind == StepKind::Signing).unwrap_or(1);
    let allotted: Vec<u64> =
        cast.route.steps.iter().take(signing + 1).map(|st| u64::from(st.allotted_minutes)).collect();
    let total = allotted.iter().sum::<u64>().max(1);
    if !d.late {
        result = result.min(cal.add_working_minutes(&cast.hours, received, u32::try_from(total).unwrap_or(u32::MAX)));
    }
    if result <= s.last() + gap {
        result = s.last() + gap * 2;
    }
    let due = s.due();
    // Overdue from the morning after the appointment date (judged by date).
    let overdue = (due.date() + Duration::days(1)).and_hms_opt(8, 0, 0).expect("time");
    if d.late && d.apology && result > overdue + Duration::hours(1) {
        let new_due = cal.add_working_days(due.date(), d.late_days + 1).and_time(terms.dates.day_end);
        s.act(Act::Apologize { new_due_at: stored(new_due) }, overdue, Role::Specialist);
    }
    // Through the process's work steps: each forwarded to the next step's
    // queue and claimed there (review steps by the unit's approver), then on
    // to the signing step.
    // The working time from reception to the result is shared among the
    // steps up to the signing in proportion to their allotments, as staff
    // who keep to them share it: a step ends before its deadline unless
    // the dossier is late.
    let available = u64::from(cal.working_minutes_between(&cast.hours, received, result));
    let done = |step: usize| {
        let share = available * allotted.iter().take(step + 1).sum::<u64>() / total;
        cal.add_working_minutes(&cast.hours, received, u32::try_from(share).unwrap_or(u32::MAX)).min(result - gap / 2)
    };
    for step in 1..signing {
        let forwarded = s.act(Act::Forward { to: None }, done(step - 1), cast.route.steps[step - 1].role);
        s.act(Act::Claim { by: specialist.clone() }, forwarded + gap / 8, cast.route.steps[step].role);
    }
    let by = cast.route.steps[signing - 1].role;
    s.act(Act::SubmitForApproval, done(signing - 1), by);
    let approved = s.act(Act::Approve { e_result: d.e_result && terms.document_result }, result, Role::Approver);
    s.act(Act::ReturnResult, approved + Duration::hours(d.collect_hours), Role::Clerk);
    finish(d, s, horizon)
}

/// Adds the rating, cuts at the horizon and replays what is left.
fn finish(d: &Draws, mut s: Script<'_>, horizon: NaiveDateTime) -> Timeline {
    let status = s.dossier().status;
    if d.rated && matches!(status, Status::Returned | Status::Rejected | Status::Stopped) {
        let at = s.last() + Duration::hours(d.collect_hours / 2 + 1);
        s.push(Change::Rate, at, Role::Citizen);
    }
    let kept: Vec<Step> = s.steps.into_iter().filter(|step| step.at < horizon).collect();
    let mut replay = Script { steps: Vec::new(), dossier: None, unit: At::Receiving, ..s };
    let mut rated_at = None;
    for step in kept {
        replay.unit = step.unit;
        if step.change == Change::Rate {
            rated_at = Some(stored(step.at));
        }
        replay.push(step.change, step.at, step.role);
    }
    Timeline { steps: replay.steps, dossier: replay.dossier, rated_at }
}

/// `n` items spread over `days` as evenly as whole numbers allow.
pub fn spread(n: u64, days: usize) -> Vec<u64> {
    let d = days as u64;
    (0..d).map(|i| n * (i + 1) / d - n * i / d).collect()
}

/// A valid CCCD of Quảng Ninh (022) for applicant `n`: men born in the 1960s–90s.
pub fn national_id(n: u64) -> String {
    format!("0220{:02}{:06}", 60 + (n / 1_000_000) % 40, n % 1_000_000)
}

pub fn applicant_email(n: u64) -> String {
    format!("applicant{n}@sim.motcua.local")
}

/// Simulated staff: one clerk, specialist and approver per unit.
pub fn staff_email(role: Role, unit_code: &str) -> String {
    format!("{}.{}@sim.motcua.local", role.as_str(), unit_code.to_lowercase())
}

/// A tiny but valid PDF: the file every simulated e-result points at.
const RESULT_PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n\
2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n\
trailer<</Root 1 0 R>>\n%%EOF\n";

/// Rows per multi-row INSERT: within SQLite's 32,766 bound parameters for
/// the widest table (dossiers, 32 columns).
const ROWS_PER_STATEMENT: usize = 1000;
/// Dossiers per transaction.
const DOSSIERS_PER_TRANSACTION: usize = 2000;

#[derive(Insertable)]
#[diesel(table_name = dossier_facts)]
struct FactsRow {
    dossier_id: String,
    digitized: bool,
    reused: bool,
    e_result: bool,
    apologized: bool,
    working_days_taken: Option<i32>,
    steps_early: i32,
    steps_on_time: i32,
    steps_late: i32,
}

/// Where a received dossier is in its process (`src/processes/mod.rs`).
#[derive(Insertable)]
#[diesel(table_name = crate::db::schema::dossier_processes)]
struct PinRow {
    dossier_id: String,
    process_id: String,
    pinned_at: NaiveDateTime,
    unit_id: Option<String>,
    step: Option<i32>,
    step_role: Option<&'static str>,
    step_started_at: Option<NaiveDateTime>,
    step_due_at: Option<NaiveDateTime>,
    handed_by: Option<String>,
    step_alerted_at: Option<NaiveDateTime>,
}

#[derive(Insertable)]
#[diesel(table_name = dossier_units)]
struct DossierUnitRow {
    dossier_id: String,
    unit_id: String,
}

#[derive(Insertable)]
#[diesel(table_name = dossier_components)]
struct ComponentRow {
    id: String,
    dossier_id: String,
    position: i32,
    name: String,
    mandatory: bool,
    e_copy_accepted: bool,
    digitization: &'static str,
    reused_document_id: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = dossier_files)]
struct FileRow {
    id: String,
    dossier_id: String,
    component_id: String,
    sha256: String,
    size_bytes: i64,
    content_type: &'static str,
    file_name: String,
    uploaded_by: String,
    created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = dossier_events)]
struct EventRow {
    id: String,
    dossier_id: String,
    at: NaiveDateTime,
    actor_id: Option<String>,
    actor_role: &'static str,
    unit_id: Option<String>,
    action: &'static str,
    from_status: Option<&'static str>,
    to_status: &'static str,
    summary: String,
    payload: &'static str,
}

#[derive(Insertable)]
#[diesel(table_name = payments)]
struct PaymentRow {
    id: String,
    dossier_id: String,
    channel: &'static str,
    provider: Option<&'static str>,
    provider_ref: Option<String>,
    amount_vnd: i64,
    status: &'static str,
    checkout_url: Option<String>,
    recorded_by: Option<String>,
    created_at: NaiveDateTime,
    paid_at: Option<NaiveDateTime>,
    settled_fee: bool,
}

#[derive(Insertable)]
#[diesel(table_name = ratings)]
struct RatingRow {
    dossier_id: String,
    rated_by: String,
    reception: &'static str,
    processing_time: &'static str,
    staff_conduct: &'static str,
    result: &'static str,
    comment: Option<String>,
    satisfied: bool,
    flagged: bool,
    rated_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// The rows of one transaction.
#[derive(Default)]
struct Batch {
    dossiers: Vec<DossierRow>,
    pins: Vec<PinRow>,
    facts: Vec<FactsRow>,
    units: Vec<DossierUnitRow>,
    components: Vec<ComponentRow>,
    files: Vec<FileRow>,
    events: Vec<EventRow>,
    payments: Vec<PaymentRow>,
    ratings: Vec<RatingRow>,
    results: Vec<ResultRow>,
    documents: Vec<DocumentRow>,
    assessments: Vec<AssessmentRow>,
}

/// Multi-row inserts of `$rows` into `$table`, a statement per
/// `ROWS_PER_STATEMENT` rows.
macro_rules! insert_all {
    ($conn:expr, $table:expr, $rows:expr) => {
        for chunk in $rows.chunks(ROWS_PER_STATEMENT) {
            crate::insert_rows!(&mut *$conn, $table, chunk)?;
        }
    };
}

impl Batch {
    fn write(&self, conn: &mut DbConnection) -> QueryResult<()> {
        use crate::db::schema::{repository_documents, results};
        insert_all!(conn, dossiers::table, self.dossiers);
        insert_all!(conn, crate::db::schema::dossier_processes::table, self.pins);
        insert_all!(conn, dossier_facts::table, self.facts);
        insert_all!(conn, dossier_units::table, self.units);
        insert_all!(conn, dossier_components::table, self.components);
        insert_all!(conn, dossier_files::table, self.files);
        insert_all!(conn, dossier_events::table, self.events);
        insert_all!(conn, payments::table, self.payments);
        insert_all!(conn, ratings::table, self.ratings);
        insert_all!(conn, results::table, self.results);
        insert_all!(conn, repository_documents::table, self.documents);
        insert_all!(conn, crate::db::schema::dossier_assessments::table, self.assessments);
        Ok(())
    }
}

/// A simulated staff member of a unit.
#[derive(Clone)]
struct Staff {
    id: String,
    name: String,
}

/// A unit able to receive dossiers, with its staff.
struct Desk {
    unit: UnitRow,
    level: Level,
    clerk: Staff,
    specialist: Staff,
    approver: Staff,
}

impl Desk {
    fn staff(&self, role: Role) -> &Staff {
        match role {
            Role::Specialist => &self.specialist,
            Role::Approver => &self.approver,
            _ => &self.clerk,
        }
    }
}

struct Applicant {
    user_id: String,
    email: String,
    name: String,
    national_id: String,
}

/// Everything the writer reads, loaded once.
struct World<'a> {
    assessment: &'a crate::config::AssessmentSettings,
    desks: Vec<Desk>,
    procedures: Vec<ProcedureView>,
    /// The process the dossiers of each procedure (same index) follow.
    routes: Vec<Option<Route>>,
    office_hours: OfficeHours,
    applicants: Vec<Applicant>,
    signer: &'a Signer,
    result_sha256: String,
    result_size: i64,
    day_end_hour: u32,
    /// Local time now: nothing is simulated after it.
    now: NaiveDateTime,
}

/// What the writer changes as it goes.
struct Tally {
    /// Last number of each sequence (name, period).
    sequences: HashMap<(String, String), i32>,
    /// Sequences changed since the last commit.
    touched: Vec<(String, String)>,
    /// A document of each applicant's repository, from an earlier dossier.
    documents: Vec<Option<String>>,
    /// Step statistics per (local day, unit, procedure, step, step name).
    steps: BTreeMap<(NaiveDate, String, String, i32, String), StepTally>,
    /// Each receiving unit's online service so far in each year, for the
    /// assessment's index 9: dossiers received, online, finished late.
    units: HashMap<(String, i32), UnitOnline>,
    report: Report,
}

impl Tally {
    fn next(&mut self, name: String, period: String) -> i32 {
        let key = (name, period);
        let n = self.sequences.entry(key.clone()).or_insert(0);
        *n += 1;
        let n = *n;
        self.touched.push(key);
        n
    }

    /// Stores the sequences touched since the last call: update, or insert when new.
    fn save_sequences(&mut self, conn: &mut DbConnection) -> QueryResult<()> {
        self.touched.sort();
        self.touched.dedup();
        for key in std::mem::take(&mut self.touched) {
            let value = self.sequences[&key];
            let updated = diesel::update(sequences::table.find((&key.0, &key.1)))
                .set(sequences::last_value.eq(value))
                .execute(conn)?;
            if updated == 0 {
                diesel::insert_into(sequences::table)
                    .values((sequences::name.eq(&key.0), sequences::period.eq(&key.1), sequences::last_value.eq(value)))
                    .execute(conn)?;
            }
        }
        Ok(())
    }
}

/// Fills the database as `options` say. Runs on the calling thread (call it
/// off the async workers); the demo data must be seeded already.
pub fn run(
    conn: &mut DbConnection,
    signer: &Signer,
    files: &dyn FileStore,
    (dossiers, assessment): (&crate::config::DossierSettings, &crate::config::AssessmentSettings),
    options: &Options,
) -> anyhow::Result<Report> {
    options.mix.validate()?;
    let now = local(crate::time::now());
    if NaiveDate::from_ymd_opt(options.year, 1, 1).context("year out of range")?.and_hms_opt(0, 0, 0) > Some(now) {
        bail!("{} has not begun yet", options.year);
    }
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(options.seed);
    let hash = crate::auth::password::hash_blocking(crate::seed::DEMO_PASSWORD)?;
    add_communes(conn, options.communes).map_err(|e| anyhow::anyhow!("generating communes: {e}"))?;
    let desks = load_desks(conn, &hash)?;
    let procedure_rows = procedures::table
        .filter(procedures::active.eq(true))
        .order(procedures::code)
        .select(crate::procedures::ProcedureRow::as_select())
        .load(conn)?;
    let procedures = crate::procedures::views(conn, procedure_rows)?;
    if procedures.is_empty() || desks.is_empty() {
        bail!("nothing to simulate on: seed the demo data first (motcua seed --demo)");
    }
    let applicant_count = options.applicants.unwrap_or(options.dossiers / 10).max(1);
    let applicants = add_applicants(conn, applicant_count, &hash)?;
    let sequences = sequences::table
        .select((sequences::name, sequences::period, sequences::last_value))
        .load::<(String, String, i32)>(conn)?
        .into_iter()
        .map(|(n, p, v)| ((n, p), v))
        .collect();
    let result_sha256 = files.put(RESULT_PDF).context("storing the e-result file")?;
    // The process each procedure's dossiers follow, in force at a desk that performs it.
    let mut routes = Vec::with_capacity(procedures.len());
    for p in &procedures {
        let route = match desks.iter().find(|d| p.spec.levels.contains(&d.level)) {
            Some(desk) => Some(
                crate::processes::route(conn, &p.id, &desk.unit.id, &dossiers.office_hours)
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
            ),
            None => None,
        };
        routes.push(route);
    }
    let day_end_hour = dossiers.day_end_hour;
    let world = World {
        assessment,
        desks,
        routes,
        office_hours: dossiers.office_hours.clone(),
        procedures,
        applicants,
        signer,
        result_sha256,
        result_size: RESULT_PDF.len() as i64,
        day_end_hour,
        now,
    };
    let mut tally = Tally {
        sequences,
        touched: Vec::new(),
        documents: vec![None; world.applicants.len()],
        steps: BTreeMap::new(),
        units: HashMap::new(),
        report: Report { applicants: applicant_count, ..Report::default() },
    };

    // Each applicant's history: one dossier of the year before, whose first
    // document enters their repository, so that this year's dossiers can reuse it.
    let history_mix = Mix { reuse: 0.0, rejected: 0.0, withdrawn: 0.0, stopped: 0.0, ..options.mix };
    let history: Vec<(usize, bool)> = (0..world.applicants.len()).map(|a| (a, false)).collect();
    simulate_year(conn, &world, &mut tally, &mut rng, &history_mix, options.year - 1, &history)?;
    tally.report.history_dossiers = tally.report.dossiers;

    let mut plan: Vec<(usize, bool)> =
        (0..options.dossiers).map(|_| (rng.random_range(0..world.applicants.len()), false)).collect();
    plan.extend((0..options.backlog).map(|_| (rng.random_range(0..world.applicants.len()), true)));
    simulate_year(conn, &world, &mut tally, &mut rng, &options.mix, options.year, &plan)?;
    crate::stats::daily::rebuild(conn)?;
    write_step_counts(conn, &tally.steps)?;
    crate::db::backend::analyze(conn, None)?;
    let mut report = tally.report;
    report.dossiers -= report.history_dossiers;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The step statistics of the simulated dossiers (`src/stats/steps.rs`).
fn write_step_counts(
    conn: &mut DbConnection,
    steps: &BTreeMap<(NaiveDate, String, String, i32, String), StepTally>,
) -> QueryResult<()> {
    use crate::db::schema::step_counts;
    let rows: Vec<_> = steps
        .iter()
        .map(|((day, unit, procedure, step, name), t)| {
            (
                step_counts::day.eq(*day),
                step_counts::unit_id.eq(unit),
                step_counts::procedure_id.eq(procedure),
                step_counts::step.eq(*step),
                step_counts::step_name.eq(name),
                step_counts::completed.eq(t.completed as i32),
                step_counts::late.eq(t.late as i32),
                step_counts::delay_minutes.eq(t.delay_minutes),
            )
        })
        .collect();
    for chunk in rows.chunks(1000) {
        crate::insert_rows!(conn, step_counts::table, chunk)?;
    }
    Ok(())
}

/// Generated communes `SIM0001…`, spread over the districts.
fn add_communes(conn: &mut DbConnection, count: u32) -> Result<(), crate::error::ApiError> {
    use crate::db::schema::units;
    let districts: Vec<UnitRow> = units::table
        .filter(units::level.eq(Level::District.as_str()).and(units::active.eq(true)))
        .order(units::code)
        .select(UnitRow::as_select())
        .load(conn)?;
    for n in 1..=count {
        let Some(parent) = districts.get(n as usize % districts.len().max(1)) else { break };
        let code = format!("SIM{n:04}");
        if crate::units::find_by_code(conn, &code)?.is_none() {
            crate::units::create(conn, &code, &format!("Xã mô phỏng {n}"), Level::Commune, Some(parent))?;
        }
    }
    Ok(())
}

fn insert_user(conn: &mut DbConnection, row: &UserRow) -> QueryResult<String> {
    match crate::auth::users::find_by_email(conn, &row.email)? {
        Some(existing) => Ok(existing.id),
        None => diesel::insert_into(users::table).values(row).execute(conn).map(|_| row.id.clone()),
    }
}

fn user(
    email: String,
    name: String,
    hash: &str,
    roles: &str,
    unit: Option<&str>,
    national_id: Option<String>,
) -> UserRow {
    let now = crate::time::now();
    UserRow {
        id: uuid::Uuid::now_v7().to_string(),
        email,
        password_hash: hash.to_string(),
        full_name: name,
        phone: None,
        roles: roles.into(),
        unit_id: unit.map(str::to_string),
        active: true,
        locale: "vi".into(),
        email_verified_at: Some(now),
        created_at: now,
        updated_at: now,
        // Simulated applicants were verified at a desk.
        national_id_verified_at: national_id.as_ref().map(|_| now),
        national_id,
        national_id_claim: None,
        national_id_verified_by: None,
        national_id_verified_unit_id: None,
    }
}

/// The active units with a clerk, a specialist and an approver each.
fn load_desks(conn: &mut DbConnection, hash: &str) -> anyhow::Result<Vec<Desk>> {
    use crate::db::schema::units;
    let rows: Vec<UnitRow> =
        units::table.filter(units::active.eq(true)).order(units::code).select(UnitRow::as_select()).load(conn)?;
    let mut desks = Vec::new();
    crate::db::backend::write_transaction(conn, |conn| {
        for unit in rows {
            let mut staff = |role: Role, title: &str| -> QueryResult<Staff> {
                let name = format!("{title} {}", unit.name);
                let row = user(staff_email(role, &unit.code), name.clone(), hash, role.as_str(), Some(&unit.id), None);
                Ok(Staff { id: insert_user(conn, &row)?, name })
            };
            let (clerk, specialist, approver) = (
                staff(Role::Clerk, "Cán bộ một cửa")?,
                staff(Role::Specialist, "Chuyên viên")?,
                staff(Role::Approver, "Lãnh đạo")?,
            );
            desks.push(Desk { level: unit.level(), unit, clerk, specialist, approver });
        }
        QueryResult::Ok(())
    })?;
    Ok(desks)
}

const FAMILY_NAMES: [&str; 8] = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi"];
const GIVEN_NAMES: [&str; 8] =
    ["Văn An", "Thị Bình", "Văn Cường", "Thị Dung", "Minh Đức", "Thu Hà", "Quang Huy", "Ngọc Lan"];

/// Citizen accounts `applicant{n}`, created in batches (kept when present).
fn add_applicants(conn: &mut DbConnection, count: u64, hash: &str) -> anyhow::Result<Vec<Applicant>> {
    let existing: HashMap<String, String> = users::table
        .filter(users::email.like("applicant%@sim.motcua.local"))
        .select((users::email, users::id))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let mut out = Vec::new();
    let mut fresh = Vec::new();
    for n in 0..count {
        let email = applicant_email(n);
        let name = format!(
            "{} {}",
            FAMILY_NAMES[n as usize % FAMILY_NAMES.len()],
            GIVEN_NAMES[(n as usize / FAMILY_NAMES.len()) % GIVEN_NAMES.len()]
        );
        let national_id = national_id(n);
        let user_id = match existing.get(&email) {
            Some(id) => id.clone(),
            None => {
                let row =
                    user(email.clone(), name.clone(), hash, Role::Citizen.as_str(), None, Some(national_id.clone()));
                let id = row.id.clone();
                fresh.push(row);
                id
            }
        };
        out.push(Applicant { user_id, email, name, national_id });
    }
    for chunk in fresh.chunks(DOSSIERS_PER_TRANSACTION * 5) {
        crate::db::backend::write_transaction(conn, |conn| {
            insert_all!(conn, users::table, chunk);
            QueryResult::Ok(())
        })?;
    }
    Ok(out)
}

/// Writes the dossiers of `plan` (applicant, backlog?) received over the
/// working days of `year` up to now, in date order.
fn simulate_year(
    conn: &mut DbConnection,
    world: &World<'_>,
    tally: &mut Tally,
    rng: &mut StdRng,
    mix: &Mix,
    year: i32,
    plan: &[(usize, bool)],
) -> anyhow::Result<()> {
    let start = NaiveDate::from_ymd_opt(year, 1, 1).context("year out of range")?;
    let calendar = calendar_from(conn, stored(start.and_hms_opt(0, 0, 0).expect("midnight")))?;
    let horizon =
        NaiveDate::from_ymd_opt(year + 1, 1, 1).expect("year").and_hms_opt(0, 0, 0).expect("midnight").min(world.now);
    let days: Vec<NaiveDate> = start
        .iter_days()
        .take_while(|d| d.year() == year && d.and_hms_opt(17, 0, 0).expect("time") < horizon)
        .filter(|d| calendar.is_working_day(*d))
        .collect();
    let Some(last_day) = days.last().copied() else { bail!("no working day of {year} has passed yet") };
    let (regular, backlog): (Vec<_>, Vec<_>) = plan.iter().partition(|(_, b)| !b);
    let mut received: Vec<(NaiveDateTime, usize, bool)> = Vec::with_capacity(plan.len());
    let mut items = regular.iter();
    for (day, n) in days.iter().zip(spread(regular.len() as u64, days.len())) {
        let mut today: Vec<_> = items
            .by_ref()
            .take(n as usize)
            .map(|(a, _)| {
                (day.and_hms_opt(7, 30, 0).expect("time") + Duration::seconds(rng.random_range(0..34_200)), *a, false)
            })
            .collect();
        today.sort_by_key(|(t, _, _)| *t);
        received.extend(today);
    }
    for (a, _) in backlog {
        received.push((
            last_day.and_hms_opt(9, 0, 0).expect("time") + Duration::seconds(rng.random_range(0..25_000)),
            a,
            true,
        ));
    }
    // The e-result share of the other procedures' results, so that all of
    // a level's results, certified copies included, come to its share.
    let other_e_results = {
        let share = |level: Level| {
            let documents = |certifying: bool| {
                let at_level = world.procedures.iter().filter(|p| p.spec.levels.contains(&level));
                at_level.filter(|p| p.spec.result_is_document && p.spec.certifies_copies == certifying).count() as f64
            };
            let (certifying, others) = (documents(true), documents(false));
            let all = mix.e_result.at(level);
            if others == 0.0 { all } else { all + (all - mix.certified_copies) * certifying / others }
        };
        PerLevel { province: share(Level::Province), district: share(Level::District), commune: share(Level::Commune) }
    };
    for chunk in received.chunks(DOSSIERS_PER_TRANSACTION) {
        let mut batch = Batch::default();
        for &(at, applicant, backlog) in chunk {
            let desk = rng.random_range(0..world.desks.len());
            let level = world.desks[desk].level;
            let mut draws = Draws { backlog, ..Draws::sample(rng, mix, level) };
            let reuse = rng.random_bool(mix.reuse.clamp(0.0, 1.0));
            let digitized = rng.random_bool(mix.digitized.at(level).clamp(0.0, 1.0));
            let choices: Vec<usize> =
                (0..world.procedures.len()).filter(|&p| world.procedures[p].spec.levels.contains(&level)).collect();
            let Some(&procedure) = choices.choose(rng) else { continue };
            draws.e_result = if world.procedures[procedure].spec.certifies_copies {
                rng.random_bool(mix.certified_copies.clamp(0.0, 1.0))
            } else {
                rng.random_bool(other_e_results.at(level).clamp(0.0, 1.0))
            };
            let target = draws.transfer.then(|| {
                let same: Vec<usize> = (0..world.desks.len())
                    .filter(|&i| i != desk && world.desks[i].level == world.desks[desk].level)
                    .collect();
                same.choose(rng).copied()
            });
            let dossier = Planned { at, applicant, desk, target: target.flatten(), procedure, reuse, digitized };
            add_dossier(world, tally, &mut batch, &calendar, &draws, horizon, &dossier);
        }
        let report = &mut tally.report;
        report.dossiers += batch.dossiers.len() as u64;
        report.events += batch.events.len() as u64;
        report.results += batch.results.len() as u64;
        tracing::info!(year, dossiers = report.dossiers, "simulated");
        crate::db::backend::write_transaction(conn, |conn| {
            batch.write(conn)?;
            tally.save_sequences(conn)
        })?;
    }
    Ok(())
}

/// One dossier to write.
struct Planned {
    at: NaiveDateTime,
    applicant: usize,
    desk: usize,
    target: Option<usize>,
    procedure: usize,
    reuse: bool,
    digitized: bool,
}

fn add_dossier(
    world: &World<'_>,
    tally: &mut Tally,
    batch: &mut Batch,
    calendar: &Calendar,
    draws: &Draws,
    horizon: NaiveDateTime,
    d: &Planned,
) {
    let procedure = &world.procedures[d.procedure];
    let spec = &procedure.spec;
    let draws = Draws { transfer: d.target.is_some(), ..draws.clone() };
    let terms = Terms {
        dates: domain::Terms::new(spec.processing_days, spec.cutoff_hour, world.day_end_hour),
        fee_vnd: spec.fee_vnd,
        document_result: spec.result_is_document,
    };
    let receiving = &world.desks[d.desk];
    let target = &world.desks[d.target.unwrap_or(d.desk)];
    let Some(route) = world.routes[d.procedure].clone() else { return };
    let cast = Cast {
        receiving_unit: receiving.unit.id.clone(),
        target_unit: target.unit.id.clone(),
        specialists: [receiving.specialist.id.clone(), target.specialist.id.clone()],
        route,
        hours: world.office_hours.clone(),
    };
    let life = timeline(&draws, terms, calendar, &cast, d.at, horizon);
    let (Some(dossier), Some(first)) = (&life.dossier, life.steps.first()) else { return };
    let current = if life.transferred() { target } else { receiving };
    let (receiving_id, receiving_code, current_id) =
        (receiving.unit.id.clone(), receiving.unit.code.clone(), current.unit.id.clone());
    let submitted = first.at;
    let seq = tally.next(format!("dossier:{receiving_id}"), DossierCode::day_key(submitted.date()));
    let code = DossierCode::new(&receiving_code, submitted.date(), seq as u32).to_string();
    let applicant = &world.applicants[d.applicant];
    let id = uuid::Uuid::now_v7().to_string();
    let online = draws.online;
    let row = DossierRow {
        id: id.clone(),
        search_text: fold(&format!("{code} {}", applicant.name)),
        code: code.clone(),
        procedure_id: procedure.id.clone(),
        unit_id: dossier.unit_id.clone(),
        receiving_unit_id: receiving_id.clone(),
        applicant_user_id: Some(applicant.user_id.clone()),
        applicant_kind: "citizen".into(),
        applicant_name: applicant.name.clone(),
        applicant_national_id: Some(applicant.national_id.clone()),
        applicant_email: online.then(|| applicant.email.clone()),
        applicant_phone: None,
        applicant_address: Some("Tỉnh Quảng Ninh".into()),
        form_data: "{}".into(),
        channel: if online { Channel::Online } else { Channel::Counter }.as_str().into(),
        status: dossier.status.as_str().into(),
        assignee_id: dossier.assignee_id.clone(),
        submitted_at: dossier.submitted_at,
        received_at: dossier.received_at,
        due_at: dossier.due_at,
        original_due_at: dossier.original_due_at,
        paused_at: dossier.paused_at,
        result_at: dossier.result_at,
        finished_at: dossier.finished_at,
        supplement_requests: dossier.supplement_requests,
        fee_vnd: dossier.fee_vnd,
        version: life.steps.iter().filter(|s| s.change != Change::Rate).count() as i32,
        queue_at: dossier.queue_at(),
        created_at: dossier.submitted_at,
        updated_at: stored(life.steps.last().map_or(submitted, |s| s.at)),
        paid_at: dossier.paid_at,
        payment_channel: dossier.payment_channel.map(|c| c.as_str().to_string()),
    };

    // Components: electronic originals online, scans at the counter; one
    // mandatory component left on paper when the dossier is not digitized;
    // the first taken from the repository when reused.
    let reused_document = if d.reuse { tally.documents[d.applicant].clone() } else { None };
    let paper = (!d.digitized).then(|| spec.components.iter().rposition(|c| c.mandatory)).flatten().filter(|&p| p > 0);
    let mut first_component = None;
    for (i, c) in spec.components.iter().enumerate() {
        let component_id = uuid::Uuid::now_v7().to_string();
        let reused = i == 0 && reused_document.is_some();
        let digitization = if reused {
            Digitization::Reused
        } else if Some(i) == paper || (!c.mandatory && i % 2 == 1) {
            Digitization::NotDigitized
        } else if online {
            Digitization::ElectronicOriginal
        } else if c.e_copy_accepted {
            Digitization::ECopyCertified
        } else {
            Digitization::Scanned
        };
        if reused {
            batch.files.push(FileRow {
                id: uuid::Uuid::now_v7().to_string(),
                dossier_id: id.clone(),
                component_id: component_id.clone(),
                sha256: world.result_sha256.clone(),
                size_bytes: world.result_size,
                content_type: "application/pdf",
                file_name: format!("{}.pdf", fold(&c.name).replace(' ', "-")),
                uploaded_by: applicant.user_id.clone(),
                created_at: row.submitted_at,
            });
        }
        if i == 0 {
            first_component = Some((c.name.clone(), digitization));
        }
        batch.components.push(ComponentRow {
            id: component_id,
            dossier_id: id.clone(),
            position: i as i32,
            name: c.name.clone(),
            mandatory: c.mandatory,
            e_copy_accepted: c.e_copy_accepted,
            digitization: digitization.as_str(),
            reused_document_id: if reused { reused_document.clone() } else { None },
        });
    }
    // The applicant's first digitized document enters their repository.
    if let (None, Some((name, digitization))) = (&tally.documents[d.applicant], &first_component)
        && *digitization != Digitization::NotDigitized
    {
        let doc = DocumentRow {
            id: uuid::Uuid::now_v7().to_string(),
            owner_user_id: row.applicant_user_id.clone(),
            owner_national_id: row.applicant_national_id.clone(),
            source: crate::repository::DocumentSource::Component.as_str().into(),
            document_type: name.clone(),
            digitization: Some(digitization.as_str().into()),
            sha256: world.result_sha256.clone(),
            content_type: "application/pdf".into(),
            size_bytes: world.result_size,
            file_name: format!("{}.pdf", fold(name).replace(' ', "-")),
            source_dossier_id: id.clone(),
            result_id: None,
            created_at: row.submitted_at,
        };
        tally.documents[d.applicant] = Some(doc.id.clone());
        batch.documents.push(doc);
    }
    let digitized = !spec.components.iter().enumerate().any(|(i, c)| c.mandatory && Some(i) == paper);

    // Events, with the staff of the unit where each step happened.
    // The steps completed, on the local day they were.
    for (at, (done, timing)) in life.steps.iter().filter_map(|step| step.completed.as_ref().map(|c| (step.at, c))) {
        let key = (at.date(), done.unit_id.clone(), procedure.id.clone(), done.index as i32 + 1, done.name.clone());
        *tally.steps.entry(key).or_default() += StepTally::one(timing.late_minutes());
    }
    for step in &life.steps {
        let desk = match step.unit {
            At::Receiving => receiving,
            At::Target => current,
        };
        let actor =
            if step.role == Role::Citizen { applicant.user_id.clone() } else { desk.staff(step.role).id.clone() };
        batch.events.push(EventRow {
            id: uuid::Uuid::now_v7().to_string(),
            dossier_id: id.clone(),
            at: stored(step.at),
            actor_id: Some(actor),
            actor_role: step.role.as_str(),
            unit_id: Some(desk.unit.id.clone()),
            action: step.change.name(),
            from_status: step.from.map(Status::as_str),
            to_status: step.to.as_str(),
            summary: step.change.name().replace('_', " "),
            payload: "{}",
        });
    }
    if life.transferred() {
        batch.units.push(DossierUnitRow { dossier_id: id.clone(), unit_id: current_id.clone() });
    }
    batch.units.push(DossierUnitRow { dossier_id: id.clone(), unit_id: receiving_id });

    if let Some(paid) = row.paid_at {
        let online_payment = dossier.payment_channel == Some(PaymentChannel::Online);
        batch.payments.push(PaymentRow {
            id: uuid::Uuid::now_v7().to_string(),
            dossier_id: id.clone(),
            channel: if online_payment { "online" } else { "counter" },
            provider: online_payment.then_some("demo"),
            provider_ref: online_payment.then(|| format!("SIM-{code}")),
            amount_vnd: spec.fee_vnd,
            status: "paid",
            checkout_url: None,
            recorded_by: (!online_payment).then(|| receiving.clerk.id.clone()),
            created_at: paid,
            paid_at: Some(paid),
            settled_fee: true,
        });
    }
    if let Some(rated) = life.rated_at {
        let (good, bad) = if draws.satisfied { ("very_satisfied", "satisfied") } else { ("satisfied", "dissatisfied") };
        batch.ratings.push(RatingRow {
            dossier_id: id.clone(),
            rated_by: applicant.user_id.clone(),
            reception: good,
            processing_time: bad,
            staff_conduct: good,
            result: good,
            comment: None,
            satisfied: draws.satisfied,
            flagged: !draws.satisfied,
            rated_at: rated,
            updated_at: rated,
        });
    }

    // The result: signed when the rules issued it as an e-result, else paper.
    if let Some(result_at) = dossier.result_at.filter(|_| dossier.e_result) {
        let issued_at = result_at.with_nanosecond(0).expect("zero nanoseconds");
        let result_at = local(result_at);
        let seq = tally.next(format!("result:{current_id}"), result_at.year().to_string());
        let mut result = ResultRow {
            id: uuid::Uuid::now_v7().to_string(),
            number: result_number(&current.unit.code, result_at.year(), seq as u32),
            dossier_id: id.clone(),
            title: spec.name.clone(),
            issuing_unit_id: current_id.clone(),
            issuing_unit_code: current.unit.code.clone(),
            issuing_unit_name: current.unit.name.clone(),
            signer_id: current.approver.id.clone(),
            signer_name: current.approver.name.clone(),
            issued_at,
            sha256: world.result_sha256.clone(),
            size_bytes: world.result_size,
            file_name: format!("{code}.pdf"),
            key_id: world.signer.key_id.clone(),
            signature: String::new(),
            status: "valid".into(),
            status_reason: None,
            status_changed_at: None,
            replaces_id: None,
            replaced_by_id: None,
        };
        let canonical = result.fields().canonical().expect("catalogue names have no line breaks");
        result.signature = world.signer.sign(canonical.as_bytes());
        batch.documents.push(DocumentRow {
            id: uuid::Uuid::now_v7().to_string(),
            owner_user_id: row.applicant_user_id.clone(),
            owner_national_id: row.applicant_national_id.clone(),
            source: crate::repository::DocumentSource::EResult.as_str().into(),
            document_type: result.title.clone(),
            digitization: None,
            sha256: result.sha256.clone(),
            content_type: "application/pdf".into(),
            size_bytes: result.size_bytes,
            file_name: result.file_name.clone(),
            source_dossier_id: id.clone(),
            result_id: Some(result.id.clone()),
            created_at: issued_at,
        });
        batch.results.push(result);
    }
    // Its steps against their deadlines, and its assessment when its result
    // was issued, with the steps done by then (`domain::assessment`).
    let (mut steps, mut by_result) = (Steps::default(), Steps::default());
    for (at, (_, timing)) in life.steps.iter().filter_map(|s| s.completed.as_ref().map(|c| (stored(s.at), c))) {
        let pace = Pace::of_step(*timing);
        steps.add(pace);
        if dossier.result_at.is_some_and(|r| at <= r) {
            by_result.add(pace);
        }
    }
    let offered = world.procedures.iter().filter(|p| p.spec.levels.contains(&receiving.level)).count() as i64;
    // The unit's year so far, as the statistics count it: dossiers
    // received by the year of their reception, finished late by the year of
    // their result. (Dossiers are written in the order they are received,
    // so a dossier finished late counts from its reception on.)
    let unit_year = |t: NaiveDateTime| (receiving.unit.id.clone(), local(t).year());
    if let Some(received) = dossier.received_at {
        let unit = tally.units.entry(unit_year(received)).or_default();
        unit.received += 1;
        unit.received_online += i64::from(online);
    }
    if let (Some(result_at), Some(due)) = (dossier.result_at, dossier.original_due_at) {
        let unit = tally.units.entry(unit_year(result_at)).or_default();
        let inputs = Inputs {
            due,
            result_at,
            steps: by_result,
            supplement_requests: dossier.supplement_requests,
            filed_online: online,
            e_result: dossier.e_result,
            level: receiving.level,
            decides_at_desk: world.assessment.decides_at_desk(&receiving.unit.code),
            national_code: spec.national_code.is_some(),
            substantiated_complaint: false,
            unit_complaints: UnitComplaints::default(),
            unit_online: UnitOnline { procedures: offered, procedures_online: offered, ..*unit },
        };
        batch.assessments.push(AssessmentRow::new(&id, &Assessment::assess(&inputs), result_at));
        unit.late += i64::from(Timeliness::finished(due, result_at, dossier.supplement_requests) == Timeliness::Late);
    }
    batch.facts.push(FactsRow {
        dossier_id: id,
        digitized,
        reused: reused_document.is_some(),
        e_result: dossier.e_result,
        apologized: dossier.apologized,
        working_days_taken: dossier.working_days_taken,
        steps_early: steps.early,
        steps_on_time: steps.on_time,
        steps_late: steps.late,
    });
    if let Some(p) = &dossier.position {
        batch.pins.push(PinRow {
            dossier_id: row.id.clone(),
            process_id: p.route.process_id.clone(),
            pinned_at: p.pinned_at,
            unit_id: Some(p.home_unit_id.clone()),
            step: Some(p.index as i32),
            step_role: Some(p.step().role.as_str()),
            step_started_at: Some(p.started_at),
            step_due_at: Some(p.due_at),
            handed_by: None,
            // A simulated step already late counts as alerted: loading a year
            // does not flood the outbox with its late steps.
            step_alerted_at: (p.due_at < stored(world.now)).then_some(p.due_at),
        });
    }
    batch.dossiers.push(row);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn terms() -> Terms {
        Terms { dates: domain::Terms::new(3, 16, 17), fee_vnd: 100_000, document_result: true }
    }

    fn cast() -> Cast {
        Cast {
            receiving_unit: "u1".into(),
            target_unit: "u2".into(),
            specialists: ["s1".into(), "s2".into()],
            route: Route { process_id: "p1".into(), version: 1, steps: crate::domain::process::builtin(3, 450).into() },
            hours: OfficeHours::default(),
        }
    }

    fn life(d: &Draws, horizon: &str) -> Timeline {
        timeline(d, terms(), &Calendar::default(), &cast(), dt("2025-03-03 10:00"), dt(horizon))
    }

    fn plain() -> Draws {
        Draws {
            online: true,
            pause_days: 2,
            late_days: 2,
            pace: 0.5,
            lead_minutes: 120,
            gap_minutes: 60,
            collect_hours: 24,
            e_result: true,
            ..Draws::default()
        }
    }

    fn actions(t: &Timeline) -> Vec<&'static str> {
        t.steps.iter().map(|s| s.change.name()).collect()
    }

    fn local_opt(t: Option<NaiveDateTime>) -> Option<NaiveDateTime> {
        t.map(local)
    }

    const FAR: &str = "2030-01-01 00:00";

    #[test]
    fn an_online_dossier_runs_its_course_on_time() {
        let t = life(&plain(), FAR);
        assert_eq!(
            actions(&t),
            ["submit", "receive", "payment", "claim", "submit_for_approval", "approve", "return_result"]
        );
        let d = t.dossier.as_ref().unwrap();
        assert_eq!(d.status, Status::Returned);
        assert_eq!(local_opt(d.due_at), Some(dt("2025-03-06 17:00")));
        assert!(d.result_at.unwrap() <= d.due_at.unwrap());
        assert!(t.steps.windows(2).all(|w| w[0].at < w[1].at && Some(w[0].to) == w[1].from));
        assert!(d.assignee_id.is_none() && d.finished_at.is_some() && d.paid_at.is_some());
        assert_eq!((d.e_result, d.working_days_taken.is_some()), (true, true));
        let late: Vec<u32> =
            t.steps.iter().filter_map(|s| s.completed.as_ref()).map(|(_, t)| t.late_minutes()).collect();
        assert_eq!(late, [0, 0], "each step on time");
    }

    #[test]
    fn late_dossiers_are_late_and_apologized_for() {
        let t = life(&Draws { late: true, apology: true, ..plain() }, FAR);
        let d = t.dossier.as_ref().unwrap();
        assert!(d.result_at.unwrap() > d.original_due_at.unwrap());
        assert!(d.apologized && d.due_at > d.original_due_at);
        assert!(actions(&t).contains(&"apologize"));
        // The work step is what ran late, and the step statistics see it.
        let done: Vec<(usize, bool)> =
            t.steps.iter().filter_map(|s| s.completed.as_ref()).map(|(c, t)| (c.index, t.late_minutes() > 0)).collect();
        assert_eq!(done[0], (0, true), "{done:?}");
        assert_eq!(done.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [0, 1], "examined, then signed");
    }

    #[test]
    fn a_paused_clock_moves_the_appointment() {
        let t = life(&Draws { processing_supplement: true, ..plain() }, FAR);
        let d = t.dossier.as_ref().unwrap();
        assert_eq!(d.supplement_requests, 1);
        assert!(local_opt(d.original_due_at).unwrap() > dt("2025-03-06 17:00"));
        assert!(d.result_at.unwrap() <= d.original_due_at.unwrap());
    }

    #[test]
    fn the_horizon_cuts_a_life_short() {
        let t = life(&plain(), "2025-03-03 10:30");
        assert_eq!(actions(&t), ["submit", "receive", "payment"]);
        let d = t.dossier.as_ref().unwrap();
        assert_eq!(d.status, Status::Received);
        assert!(d.result_at.is_none() && d.finished_at.is_none() && d.assignee_id.is_none());
        let t = life(&Draws { online: false, backlog: true, ..plain() }, FAR);
        assert_eq!((actions(&t), t.dossier.unwrap().status), (vec!["register", "payment"], Status::Received));
        assert!(life(&plain(), "2025-03-01 00:00").dossier.is_none(), "nothing before the horizon");
    }

    #[test]
    fn rejections_transfers_and_ratings() {
        let t = life(&Draws { rejected: true, rated: true, satisfied: true, ..plain() }, FAR);
        assert_eq!(actions(&t), ["submit", "reject", "rate"]);
        let d = t.dossier.as_ref().unwrap();
        assert!(d.received_at.is_none() && t.rated_at.is_some() && d.finished_at.is_some());
        let t = life(&Draws { transfer: true, stopped: true, ..plain() }, FAR);
        let d = t.dossier.as_ref().unwrap();
        assert!(t.transferred() && d.status == Status::Stopped && d.unit_id == "u2");
        assert_eq!(t.steps.last().unwrap().unit, At::Target);
    }

    #[test]
    fn every_sampled_life_is_one_the_rules_allow() {
        // `Script::push` panics on any change the rules refuse.
        let mut rng = StdRng::seed_from_u64(11);
        let mix = Mix { withdrawn: 0.1, stopped: 0.1, transfer: 0.2, rejected: 0.1, ..Mix::default() };
        for _ in 0..2_000 {
            let t = life(&Draws::sample(&mut rng, &mix, Level::District), FAR);
            assert!(t.dossier.is_some());
        }
    }

    #[test]
    fn sampled_mixes_follow_their_shares() {
        let mut rng = StdRng::seed_from_u64(7);
        let mix = Mix::default();
        let draws: Vec<Draws> = (0..20_000).map(|_| Draws::sample(&mut rng, &mix, Level::Commune)).collect();
        let share = |f: fn(&Draws) -> bool| draws.iter().filter(|d| f(d)).count() as f64 / draws.len() as f64;
        assert!((share(|d| d.online) - mix.online.commune).abs() < 0.005);
        assert!((share(|d| d.paid_online) - mix.online_payment).abs() < 0.02);
        assert!((share(|d| d.satisfied) - mix.satisfaction).abs() < 0.01);
        assert!(Mix { reuse: 1.5, ..mix }.validate().is_err());
        assert!(Mix { e_result: PerLevel { district: -0.1, ..mix.e_result }, ..mix }.validate().is_err());
    }

    #[test]
    fn spreading_and_identities() {
        assert_eq!(spread(10, 4), [2, 3, 2, 3]);
        assert_eq!(spread(3, 5).iter().sum::<u64>(), 3);
        for n in [0, 1, 999_999, 1_000_000, 39_999_999] {
            assert!(crate::domain::identity::NationalId::parse(&national_id(n)).is_ok(), "{n}");
        }
        assert_ne!(national_id(1), national_id(1_000_001));
        assert_eq!(staff_email(Role::Clerk, "SIM0001"), "clerk.sim0001@sim.motcua.local");
    }
}
