//! What each change does to a dossier (DESIGN.md §4–5): the pure effects
//! that the one write path (`src/dossiers/write.rs`) stores, and that
//! `motcua simulate` (`src/simulate.rs`) replays to build its dossiers.
//!
//! A change reads a [`Dossier`] — the columns the rules decide — and gives
//! back the dossier after it, or a [`Refusal`]. Times are UTC as stored; the
//! working-day calendar counts in local time.

use chrono::{NaiveDateTime, NaiveTime, Timelike};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::calendar::{Calendar, OfficeHours, from_local, to_local};
use super::process::{Position, Route, StepKind};
use super::workflow::{self, Action, Actor, Situation, Status};

/// How a dossier reached the desk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Online,
    Counter,
    Postal,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Counter => "counter",
            Self::Postal => "postal",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Online, Self::Counter, Self::Postal].into_iter().find(|c| c.as_str() == s)
    }
}

/// How a fee was paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentChannel {
    /// The applicant, through a payment provider.
    Online,
    /// Cash at the desk, recorded by a clerk.
    Counter,
}

impl PaymentChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Counter => "counter",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Online, Self::Counter].into_iter().find(|c| c.as_str() == s)
    }
}

/// The digitization status of a component (DESIGN.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Digitization {
    NotDigitized,
    /// A clerk scanned the paper document.
    Scanned,
    /// Certified electronic copy of a paper original.
    ECopyCertified,
    /// Filed electronically by the applicant.
    ElectronicOriginal,
    /// Taken from the applicant's document repository.
    Reused,
}

impl Digitization {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotDigitized => "not_digitized",
            Self::Scanned => "scanned",
            Self::ECopyCertified => "e_copy_certified",
            Self::ElectronicOriginal => "electronic_original",
            Self::Reused => "reused",
        }
    }

    pub fn parse(s: &str) -> Self {
        [Self::Scanned, Self::ECopyCertified, Self::ElectronicOriginal, Self::Reused]
            .into_iter()
            .find(|d| d.as_str() == s)
            .unwrap_or(Self::NotDigitized)
    }
}

/// A dossier is digitized when every mandatory component (`true`) has an
/// electronic form.
pub fn digitized(components: impl IntoIterator<Item = (bool, Digitization)>) -> bool {
    components.into_iter().all(|(mandatory, d)| !mandatory || d != Digitization::NotDigitized)
}

/// A dossier as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dossier {
    pub status: Status,
    /// The unit holding it now.
    pub unit_id: String,
    pub assignee_id: Option<String>,
    pub submitted_at: NaiveDateTime,
    pub received_at: Option<NaiveDateTime>,
    /// The appointment date (ngày hẹn trả).
    pub due_at: Option<NaiveDateTime>,
    /// The appointment date set at reception, moved by pauses, not by apologies.
    pub original_due_at: Option<NaiveDateTime>,
    /// Set while the clock is paused for the applicant.
    pub paused_at: Option<NaiveDateTime>,
    pub result_at: Option<NaiveDateTime>,
    pub finished_at: Option<NaiveDateTime>,
    pub supplement_requests: i32,
    pub fee_vnd: i64,
    /// When and how the fee was settled.
    pub paid_at: Option<NaiveDateTime>,
    pub payment_channel: Option<PaymentChannel>,
    /// An apology was issued for late processing.
    pub apologized: bool,
    /// The result was issued as a signed e-result.
    pub e_result: bool,
    /// Working days from reception to result.
    pub working_days_taken: Option<i32>,
    /// Where it is in the process it follows, once received.
    pub position: Option<Position>,
}

/// Past appointment date `due` at `at`, judged **by date**, as the national
/// portal counts (issue 17, `docs/statistics.md`): on the appointment day
/// itself a dossier is within time whatever the hour; from the next local
/// day it is late.
pub fn past_appointment(due: NaiveDateTime, at: NaiveDateTime) -> bool {
    due < super::calendar::local_day_start(at)
}

/// Late at `now` (the one rule the dossiers' flag, the overdue lists, the
/// apology and the statistics apply): past its appointment date
/// (`past_appointment`) while the clock runs, or paused for the applicant
/// only once already past it. A dossier paused on or before its
/// appointment date is within time while paused. A second supplement
/// request never makes a dossier late (`supplemented_twice`).
pub fn overdue(
    status: Status,
    due_at: Option<NaiveDateTime>,
    paused_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> bool {
    let Some(due) = due_at else { return false };
    if status.clock_runs() {
        past_appointment(due, now)
    } else {
        status == Status::AwaitingApplicant && paused_at.is_some_and(|paused| past_appointment(due, paused))
    }
}

/// Asked to supplement more than once: allowed but flagged (DESIGN.md §5).
/// It counts against on-time processing — such a dossier is never *on
/// time* — but it does not make a dossier late or overdue: only the
/// appointment date does (`overdue`).
pub fn supplemented_twice(supplement_requests: i32) -> bool {
    supplement_requests > 1
}

/// How a dossier stands against its appointment date: the statistics
/// (`domain::daily`), the dossier export and the dossier's flags all read it
/// from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeliness {
    OnTime,
    /// Within time, but asked to supplement twice (`supplemented_twice`):
    /// neither on time nor late.
    SupplementedTwice,
    Late,
}

impl Timeliness {
    fn of(late: bool, supplement_requests: i32) -> Self {
        match (late, supplemented_twice(supplement_requests)) {
            (true, _) => Self::Late,
            (false, true) => Self::SupplementedTwice,
            (false, false) => Self::OnTime,
        }
    }

    /// A dossier whose result was issued at `result`, against appointment
    /// date `due` (the one set at reception and moved by pauses, not by an
    /// apology).
    pub fn finished(due: NaiveDateTime, result: NaiveDateTime, supplement_requests: i32) -> Self {
        Self::of(past_appointment(due, result), supplement_requests)
    }

    /// A dossier still in processing at `at` (`overdue`).
    pub fn open(
        status: Status,
        due: NaiveDateTime,
        paused_at: Option<NaiveDateTime>,
        supplement_requests: i32,
        at: NaiveDateTime,
    ) -> Self {
        Self::of(overdue(status, Some(due), paused_at, at), supplement_requests)
    }
}

/// A fee is to be paid and has not been.
pub fn fee_due(fee_vnd: i64, paid_at: Option<NaiveDateTime>) -> bool {
    fee_vnd > 0 && paid_at.is_none()
}

/// The national portal's status code: 6 (awaiting payment) while a fee is
/// due on an unfinished dossier, else the status's own code.
pub fn national_status(status: Status, fee_due: bool) -> u8 {
    if fee_due && !status.is_terminal() { 6 } else { status.national_code() }
}

impl Dossier {
    pub fn overdue(&self, now: NaiveDateTime) -> bool {
        overdue(self.status, self.due_at, self.paused_at, now)
    }

    pub fn fee_due(&self) -> bool {
        fee_due(self.fee_vnd, self.paid_at)
    }

    pub fn situation(&self, now: NaiveDateTime) -> Situation {
        Situation {
            status: self.status,
            assigned: self.assignee_id.is_some(),
            overdue: self.overdue(now),
            fee_due: self.fee_due(),
            step: self.position.as_ref().map(Position::here),
        }
    }

    pub fn national_status(&self) -> u8 {
        national_status(self.status, self.fee_due())
    }

    /// Queue order: the appointment date once received, the filing time before.
    pub fn queue_at(&self) -> NaiveDateTime {
        self.due_at.unwrap_or(self.submitted_at)
    }
}

/// What a procedure's terms and the office hours fix about dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terms {
    pub processing_days: u32,
    /// Received at or after this local hour, the clock starts the next working day.
    pub cutoff_hour: u32,
    /// The local time at which an appointment day ends.
    pub day_end: NaiveTime,
}

impl Terms {
    /// A procedure's processing days and cut-off hour, with the hour at
    /// which an appointment day ends (`dossiers.day_end_hour`).
    pub fn new(processing_days: i32, cutoff_hour: i32, day_end_hour: u32) -> Self {
        Self {
            processing_days: processing_days.max(0) as u32,
            cutoff_hour: cutoff_hour.max(0) as u32,
            day_end: NaiveTime::from_hms_opt(day_end_hour.min(23), 0, 0).expect("an hour of the day"),
        }
    }
}

/// When a change happens, with the calendar that counts its working days
/// and the office hours that count a step's working minutes.
#[derive(Debug, Clone, Copy)]
pub struct Now<'a> {
    /// UTC, as stored.
    pub at: NaiveDateTime,
    pub calendar: &'a Calendar,
    pub hours: &'a OfficeHours,
}

/// The appointment date of a dossier received at `received` (UTC).
pub fn due_date(terms: &Terms, received: NaiveDateTime, calendar: &Calendar) -> NaiveDateTime {
    let due = calendar.due_at(local(received), terms.processing_days, terms.cutoff_hour, terms.day_end);
    from_local(due).naive_utc()
}

fn local(t: NaiveDateTime) -> NaiveDateTime {
    to_local(t.and_utc())
}

/// A new dossier: filed online (submitted, the clock not started) or
/// registered at a desk (received at once, with its appointment date, at
/// the first step of `route`, the process in force at the unit).
pub fn file(
    channel: Channel,
    unit_id: &str,
    fee_vnd: i64,
    terms: &Terms,
    route: Option<Route>,
    now: Now<'_>,
) -> Dossier {
    let received = (channel != Channel::Online).then_some(now.at);
    let position = received.and(route).map(|route| Position::start(route, unit_id, now.at, now.calendar, now.hours));
    let due = received.map(|r| due_date(terms, r, now.calendar));
    Dossier {
        status: if received.is_some() { Status::Received } else { Status::Submitted },
        unit_id: unit_id.to_string(),
        assignee_id: None,
        submitted_at: now.at,
        received_at: received,
        due_at: due,
        original_due_at: due,
        paused_at: None,
        result_at: None,
        finished_at: None,
        supplement_requests: 0,
        fee_vnd,
        paid_at: None,
        payment_channel: None,
        apologized: false,
        e_result: false,
        working_days_taken: None,
        position,
    }
}

/// How far after now an apology may set the new appointment date.
pub const MAX_APOLOGY_DAYS: i64 = 365;

/// A state-machine action with what the rules need of its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Act {
    /// Onto the first step of `route`, the process in force at its unit.
    Receive {
        route: Route,
    },
    RequestSupplement,
    Supplement,
    Reject,
    /// A clerk hands the dossier to this specialist (checked by the caller:
    /// an active specialist whose scope holds the dossier).
    Assign {
        assignee_id: String,
    },
    /// This specialist takes the dossier.
    Claim {
        by: String,
    },
    Release,
    /// To this unit (checked by the caller: an active unit), onto the first
    /// step of `route`, the process in force there.
    Transfer {
        to_unit_id: String,
        route: Route,
    },
    /// The step's work done: on to the signing step's queue.
    SubmitForApproval,
    /// The step's work done: on to the next step, held by `to` (checked by
    /// the caller: an active user of the step's role and unit) or waiting in
    /// its queue.
    Forward {
        to: Option<String>,
    },
    /// Back to the earlier work step `step` (0-based), into its queue.
    ReturnToStep {
        step: usize,
    },
    ReturnForRework,
    /// With or without a signed e-result (a draft was prepared, or not).
    Approve {
        e_result: bool,
    },
    ReturnResult,
    Withdraw,
    Stop,
    /// A late dossier's new appointment date (UTC).
    Apologize {
        new_due_at: NaiveDateTime,
    },
}

impl Act {
    pub fn action(&self) -> Action {
        match self {
            Self::Receive { .. } => Action::Receive,
            Self::RequestSupplement => Action::RequestSupplement,
            Self::Supplement => Action::Supplement,
            Self::Reject => Action::Reject,
            Self::Assign { .. } => Action::Assign,
            Self::Claim { .. } => Action::Claim,
            Self::Release => Action::Release,
            Self::Transfer { .. } => Action::Transfer,
            Self::SubmitForApproval => Action::SubmitForApproval,
            Self::Forward { .. } => Action::Forward,
            Self::ReturnToStep { .. } => Action::ReturnToStep,
            Self::ReturnForRework => Action::ReturnForRework,
            Self::Approve { .. } => Action::Approve,
            Self::ReturnResult => Action::ReturnResult,
            Self::Withdraw => Action::Withdraw,
            Self::Stop => Action::Stop,
            Self::Apologize { .. } => Action::Apologize,
        }
    }

    /// Whether the effect counts working days or minutes (dates, step
    /// deadlines): only these need the calendar (`apply` with an empty one
    /// gives the same result for the others — a property test below).
    pub fn needs_calendar(&self) -> bool {
        !matches!(
            self,
            Self::RequestSupplement
                | Self::Reject
                | Self::Assign { .. }
                | Self::Claim { .. }
                | Self::Release
                | Self::ReturnResult
                | Self::Withdraw
                | Self::Stop
                | Self::Apologize { .. }
        )
    }
}

/// Why a change does not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The action does not apply in this status; what the caller may do instead.
    NotNow {
        action: Action,
        status: Status,
        allowed: Vec<Action>,
    },
    /// It applies, but not for this caller.
    NotYours {
        action: Action,
    },
    /// The result is returned only once the fee is paid.
    FeeUnpaid,
    /// The caller did an earlier step of the dossier and may not sign it.
    SeparationOfDuties,
    /// A field of the request breaks a rule.
    Invalid {
        field: &'static str,
        message: &'static str,
    },
    /// The caller's role or relation to the dossier does not allow it.
    Forbidden(&'static str),
    /// Documents are not added in this status.
    DocumentsLocked {
        status: Status,
    },
    /// A result is prepared only while in progress or pending approval.
    ResultLocked {
        status: Status,
    },
    /// The current result is already revoked or replaced.
    ResultNotValid {
        status: ResultStatus,
    },
    NothingToPay,
    PaymentNotPending {
        status: PaymentStatus,
    },
    /// The provider's reference is recorded, for another payment or outcome.
    ProviderRefReused,
    /// No payment of this provider has the id the callback names.
    PaymentMismatch,
    DossierMismatch,
    AmountMismatch,
    /// Rated only once returned, rejected or stopped.
    NotRateable {
        status: Status,
    },
    /// The rating can no longer be changed.
    RatingLocked,
    /// The dossier holds as many files, or bytes, as it may.
    DossierQuota {
        max_files: u64,
        max_bytes: u64,
    },
    /// The uploader has uploaded as much as an account may today.
    DailyUploadQuota {
        max_bytes: u64,
    },
}

/// The status `action` by `actor` leads to now, or why not — before any
/// payload is looked at.
pub fn check(d: &Dossier, action: Action, actor: Actor<'_>, now: NaiveDateTime) -> Result<Status, Refusal> {
    let situation = d.situation(now);
    if action == Action::ReturnResult && situation.status == Status::ResultReady && situation.fee_due {
        return Err(Refusal::FeeUnpaid);
    }
    let could_sign = Actor { did_earlier_step: false, ..actor };
    if action == Action::Approve
        && actor.did_earlier_step
        && workflow::transition(situation, action, could_sign).is_ok()
    {
        return Err(Refusal::SeparationOfDuties);
    }
    workflow::transition(situation, action, actor).map_err(|refusal| match refusal {
        workflow::Refusal::NotNow { allowed } => Refusal::NotNow { action, status: d.status, allowed },
        workflow::Refusal::NotYours => Refusal::NotYours { action },
    })
}

/// The dossier after `act` by `actor`, or why not.
pub fn apply(d: &Dossier, act: &Act, actor: Actor<'_>, terms: &Terms, now: Now<'_>) -> Result<Dossier, Refusal> {
    let to = check(d, act.action(), actor, now.at)?;
    let mut n = d.clone();
    n.status = to;
    match act {
        Act::Receive { route } => {
            let due = due_date(terms, now.at, now.calendar);
            (n.received_at, n.due_at, n.original_due_at) = (Some(now.at), Some(due), Some(due));
            n.position = Some(Position::start(route.clone(), &d.unit_id, now.at, now.calendar, now.hours));
        }
        Act::RequestSupplement => {
            n.supplement_requests += 1;
            if to == Status::AwaitingApplicant {
                n.paused_at = Some(now.at);
            }
        }
        Act::Supplement => {
            if let (Some(paused), Some(due)) = (d.paused_at, d.due_at) {
                let push = |t: NaiveDateTime| {
                    from_local(now.calendar.extend_for_pause(local(t), local(paused), local(now.at))).naive_utc()
                };
                n.due_at = Some(push(due));
                n.original_due_at = d.original_due_at.map(push);
                if let Some(position) = &mut n.position {
                    position.resume(paused, now.at, now.calendar, now.hours);
                }
            }
            n.paused_at = None;
        }
        Act::Assign { assignee_id } => n.assignee_id = Some(assignee_id.clone()),
        Act::Claim { by } => n.assignee_id = Some(by.clone()),
        Act::Release => n.assignee_id = None,
        Act::Transfer { to_unit_id, route } => {
            if *to_unit_id == d.unit_id {
                return Err(Refusal::Invalid { field: "target_unit_id", message: "no other active unit with this id" });
            }
            n.unit_id = to_unit_id.clone();
            n.position = Some(Position::start(route.clone(), to_unit_id, now.at, now.calendar, now.hours));
        }
        Act::SubmitForApproval | Act::Forward { .. } | Act::ReturnForRework | Act::ReturnToStep { .. } => {
            let Some(position) = &mut n.position else {
                // Without a process (only in tests of the rules): into the queue.
                n.assignee_id = None;
                return Ok(n);
            };
            let (step, holder, by) = match act {
                Act::ReturnForRework => (position.index.saturating_sub(1), position.handed_by.clone(), None),
                Act::ReturnToStep { step } => {
                    let earlier_work = *step < position.index
                        && matches!(position.route.steps[*step].kind, StepKind::Ordinary | StepKind::Review);
                    if !earlier_work {
                        return Err(Refusal::Invalid { field: "step", message: "an earlier work step of the process" });
                    }
                    (*step, None, None)
                }
                Act::Forward { to } => (position.index + 1, to.clone(), d.assignee_id.as_deref()),
                _ => (position.index + 1, None, d.assignee_id.as_deref()),
            };
            position.enter(step, now.at, by, now.calendar, now.hours);
            n.unit_id = position.unit_of(step).to_string();
            n.assignee_id = holder;
        }
        Act::Approve { e_result } => {
            n.result_at = Some(now.at);
            n.e_result = *e_result;
            n.working_days_taken =
                d.received_at.map(|r| now.calendar.working_days_between(local(r).date(), local(now.at).date()) as i32);
            if let Some(position) = &mut n.position
                && let Some(returning) = position.find(StepKind::Return)
            {
                position.enter(returning, now.at, d.assignee_id.as_deref(), now.calendar, now.hours);
                n.unit_id = position.unit_of(returning).to_string();
            }
        }
        Act::Reject | Act::Withdraw | Act::Stop | Act::ReturnResult => n.finished_at = Some(now.at),
        Act::Apologize { new_due_at } => {
            // Appointment dates are to the second (and stored alike on both backends).
            let new_due = new_due_at.with_nanosecond(0).expect("zero is a valid nanosecond");
            if new_due <= now.at || d.due_at.is_some_and(|due| new_due <= due) {
                return Err(Refusal::Invalid {
                    field: "new_due_at",
                    message: "the new date is later than now and than the current one",
                });
            }
            if new_due > now.at + chrono::Duration::days(MAX_APOLOGY_DAYS) {
                return Err(Refusal::Invalid {
                    field: "new_due_at",
                    message: "an apology moves the appointment by at most a year",
                });
            }
            n.due_at = Some(new_due);
            n.apologized = true;
        }
    }
    // Finished dossiers and dossiers back in the shared queue have no assignee.
    if (to.is_terminal() || to == Status::Received) && !matches!(act, Act::Assign { .. } | Act::Claim { .. }) {
        n.assignee_id = None;
    }
    Ok(n)
}

/// The first of the caller's roles that allows `action`: what the event
/// records (`citizen` for the applicant).
pub fn acting_role(d: &Dossier, action: Action, actor: Actor<'_>, now: NaiveDateTime) -> &'static str {
    if actor.is_applicant {
        return super::roles::Role::Citizen.as_str();
    }
    let s = d.situation(now);
    actor
        .roles
        .iter()
        .find(|r| workflow::permitted(s, action, Actor { roles: std::slice::from_ref(r), ..actor }))
        .map_or("staff", |r| r.as_str())
}

/// The applicant collects a ready e-result (`POST …/result/collect`): the
/// dossier is returned once its fee is settled (DESIGN.md §4,
/// `return_result`). Idempotent: `Ok(None)` when it is already returned,
/// so a retried request answers as the first did and changes nothing.
pub fn collect(d: &Dossier, now: NaiveDateTime) -> Result<Option<Dossier>, Refusal> {
    match d.status {
        Status::Returned => Ok(None),
        Status::ResultReady if d.fee_due() => Err(Refusal::FeeUnpaid),
        Status::ResultReady => {
            Ok(Some(Dossier { status: Status::Returned, finished_at: Some(now), assignee_id: None, ..d.clone() }))
        }
        status => Err(Refusal::NotNow { action: Action::ReturnResult, status, allowed: vec![] }),
    }
}

/// Whether the e-result's file may be handed to the caller: staff who may
/// see the dossier always; the applicant once the fee is settled, since the
/// result is handed over only then (DESIGN.md §5: an unpaid fee is national
/// status 6, awaiting payment).
pub fn release_result(d: &Dossier, to_applicant: bool) -> Result<(), Refusal> {
    if to_applicant && d.fee_due() { Err(Refusal::FeeUnpaid) } else { Ok(()) }
}

/// The dossier's `ETag` at `version`: the version in quotes.
pub fn etag(version: i32) -> String {
    format!("\"{version}\"")
}

/// Whether an `If-Match` header value holds for a dossier at `version`. The
/// dossier's `ETag` is its version in quotes (RFC 9110 §8.8.3); the bare
/// version is accepted too, as is `*` and a weak or listed tag.
pub fn if_match_holds(header: &str, version: i32) -> bool {
    let header = header.trim();
    header == "*"
        || header.split(',').any(|tag| {
            let tag = tag.trim().trim_start_matches("W/");
            let tag = tag.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(tag);
            tag.parse::<i32>() == Ok(version)
        })
}

/// Who adds a document, relative to the dossier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uploader {
    Applicant,
    /// A clerk whose scope holds the dossier.
    Clerk,
    /// Anyone else who may see the dossier.
    Other,
}

/// The digitization status an upload gives its component, or why it is
/// refused: applicants add electronic originals while the dossier is with
/// them; clerks digitize paper documents (scanned by default, or certified
/// copies where the component accepts them) until the dossier is finished.
pub fn upload(
    status: Status,
    who: Uploader,
    requested: Option<Digitization>,
    e_copy_accepted: bool,
) -> Result<Digitization, Refusal> {
    let digitization = match (who, requested) {
        (Uploader::Applicant, None | Some(Digitization::ElectronicOriginal)) => Digitization::ElectronicOriginal,
        (Uploader::Applicant, Some(_)) => {
            return Err(Refusal::Invalid { field: "digitization", message: "applicants upload electronic originals" });
        }
        (Uploader::Clerk, None) => Digitization::Scanned,
        (Uploader::Clerk, Some(Digitization::Reused | Digitization::NotDigitized)) => {
            return Err(Refusal::Invalid { field: "digitization", message: "not a status set by an upload" });
        }
        (Uploader::Clerk, Some(d)) => d,
        (Uploader::Other, _) => {
            return Err(Refusal::Forbidden("Only the applicant or a clerk of the unit uploads documents."));
        }
    };
    let editable = match who {
        Uploader::Applicant => {
            matches!(status, Status::Submitted | Status::SupplementRequested | Status::AwaitingApplicant)
        }
        _ => !status.is_terminal(),
    };
    if !editable {
        return Err(Refusal::DocumentsLocked { status });
    }
    if digitization == Digitization::ECopyCertified && !e_copy_accepted {
        return Err(Refusal::Invalid {
            field: "digitization",
            message: "this component does not accept certified copies",
        });
    }
    Ok(digitization)
}

/// How much may be uploaded: per dossier (files and bytes) and per
/// applicant account per day (`[files]` settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadQuota {
    pub files_per_dossier: u64,
    pub bytes_per_dossier: u64,
    pub bytes_per_account_per_day: u64,
}

/// What is already stored: the dossier's files and bytes, and the bytes the
/// uploader's account uploaded today (local day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UploadUsage {
    pub dossier_files: u64,
    pub dossier_bytes: u64,
    pub account_bytes_today: u64,
}

/// Whether one more file of `size` bytes fits. The daily budget binds
/// applicants only: clerks digitize whole counters' worth of paper.
pub fn admit_upload(quota: UploadQuota, usage: UploadUsage, size: u64, who: Uploader) -> Result<(), Refusal> {
    if usage.dossier_files + 1 > quota.files_per_dossier || usage.dossier_bytes + size > quota.bytes_per_dossier {
        return Err(Refusal::DossierQuota { max_files: quota.files_per_dossier, max_bytes: quota.bytes_per_dossier });
    }
    if who == Uploader::Applicant && usage.account_bytes_today + size > quota.bytes_per_account_per_day {
        return Err(Refusal::DailyUploadQuota { max_bytes: quota.bytes_per_account_per_day });
    }
    Ok(())
}

/// Whether the caller may prepare the result document now: the assigned
/// specialist or an approver of the unit, while in progress or pending approval.
pub fn may_draft_result(status: Status, assignee_or_approver: bool) -> Result<(), Refusal> {
    if !assignee_or_approver {
        return Err(Refusal::Forbidden("The assigned specialist or an approver prepares the result."));
    }
    if !matches!(status, Status::InProgress | Status::PendingApproval) {
        return Err(Refusal::ResultLocked { status });
    }
    Ok(())
}

/// The status of an issued result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResultStatus {
    Valid,
    Revoked,
    Replaced,
}

impl ResultStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Revoked => "revoked",
            Self::Replaced => "replaced",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Valid, Self::Revoked, Self::Replaced].into_iter().find(|r| r.as_str() == s)
    }
}

/// Revoking or replacing a result retires the dossier's current one, which
/// must still be valid: a dossier has at most one valid result.
pub fn retire_result(current: ResultStatus) -> Result<(), Refusal> {
    match current {
        ResultStatus::Valid => Ok(()),
        status => Err(Refusal::ResultNotValid { status }),
    }
}

/// The status of a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Pending,
    Paid,
    Failed,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Paid => "paid",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Paid, Self::Failed].into_iter().find(|p| p.as_str() == s)
    }
}

/// Whether a payment may be started or recorded now: a fee is due on an
/// unfinished dossier.
pub fn may_pay(d: &Dossier) -> Result<(), Refusal> {
    if d.fee_due() && !d.status.is_terminal() { Ok(()) } else { Err(Refusal::NothingToPay) }
}

/// The dossier with its fee settled by a payment of `channel` (exactly once:
/// a dossier whose fee is settled has nothing left to pay).
pub fn settle(d: &Dossier, channel: PaymentChannel, now: NaiveDateTime) -> Result<Dossier, Refusal> {
    may_pay(d)?;
    Ok(Dossier { paid_at: Some(now), payment_channel: Some(channel), ..d.clone() })
}

/// What a provider reports of a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report<'a> {
    pub payment_id: &'a str,
    pub dossier_code: &'a str,
    pub provider_ref: &'a str,
    pub amount_vnd: i64,
    /// `Paid` or `Failed`.
    pub outcome: PaymentStatus,
}

/// A payment as the callback rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment<'a> {
    pub id: &'a str,
    pub dossier_code: &'a str,
    pub amount_vnd: i64,
    pub status: PaymentStatus,
}

/// What a provider's callback does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callback {
    /// The same report again: nothing changes, the same answer.
    Replay,
    /// The payment is paid and settles the dossier's fee.
    Settle,
    /// The payment is paid, but the fee was already settled (owed back).
    PaidAgain,
    /// The payment failed.
    Fail,
}

/// What a callback does, given the payment already holding its reference
/// (`recorded`), else the payment it names (`named`, if that payment exists)
/// and whether its dossier's fee is still to be paid (`fee_open`:
/// [`may_pay`]). A reference is recorded once per provider; a payment takes
/// one reference; a fee is settled once.
pub fn callback(
    report: &Report<'_>,
    recorded: Option<&Payment<'_>>,
    named: Option<&Payment<'_>>,
    fee_open: bool,
) -> Result<Callback, Refusal> {
    if let Some(p) = recorded {
        let same = p.id == report.payment_id
            && p.dossier_code == report.dossier_code
            && p.amount_vnd == report.amount_vnd
            && p.status == report.outcome;
        return if same { Ok(Callback::Replay) } else { Err(Refusal::ProviderRefReused) };
    }
    let p = named.ok_or(Refusal::PaymentMismatch)?;
    if p.dossier_code != report.dossier_code {
        return Err(Refusal::DossierMismatch);
    }
    if p.amount_vnd != report.amount_vnd {
        return Err(Refusal::AmountMismatch);
    }
    if p.status != PaymentStatus::Pending {
        return Err(Refusal::PaymentNotPending { status: p.status });
    }
    Ok(match report.outcome {
        PaymentStatus::Failed | PaymentStatus::Pending => Callback::Fail,
        PaymentStatus::Paid if fee_open => Callback::Settle,
        PaymentStatus::Paid => Callback::PaidAgain,
    })
}

/// How long a rating may be changed after it is first given.
pub const RATING_CHANGEABLE_DAYS: i64 = 7;

/// Whether the applicant's rating is the first one or a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rated {
    First,
    Changed,
}

/// Rating a dossier: once it is returned, rejected or stopped; changeable
/// for [`RATING_CHANGEABLE_DAYS`] after it is first given.
pub fn rate(status: Status, first_rated_at: Option<NaiveDateTime>, now: NaiveDateTime) -> Result<Rated, Refusal> {
    if !matches!(status, Status::Returned | Status::Rejected | Status::Stopped) {
        return Err(Refusal::NotRateable { status });
    }
    match first_rated_at {
        None => Ok(Rated::First),
        Some(at) if now > at + chrono::Duration::days(RATING_CHANGEABLE_DAYS) => Err(Refusal::RatingLocked),
        Some(_) => Ok(Rated::Changed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_fit_their_quotas() {
        let quota = UploadQuota { files_per_dossier: 3, bytes_per_dossier: 100, bytes_per_account_per_day: 150 };
        let used = |dossier_files, dossier_bytes, account_bytes_today| UploadUsage {
            dossier_files,
            dossier_bytes,
            account_bytes_today,
        };
        assert_eq!(admit_upload(quota, used(2, 60, 100), 40, Uploader::Applicant), Ok(()));
        let full = Err(Refusal::DossierQuota { max_files: 3, max_bytes: 100 });
        assert_eq!(admit_upload(quota, used(3, 10, 10), 1, Uploader::Applicant), full);
        assert_eq!(admit_upload(quota, used(2, 60, 100), 41, Uploader::Clerk), full);
        let daily = Err(Refusal::DailyUploadQuota { max_bytes: 150 });
        assert_eq!(admit_upload(quota, used(0, 0, 140), 11, Uploader::Applicant), daily);
        // Clerks digitizing paper are bound by the dossier's quota only.
        assert_eq!(admit_upload(quota, used(0, 0, 10_000), 11, Uploader::Clerk), Ok(()));
    }
    use crate::domain::roles::Role;
    use chrono::NaiveDate;
    use proptest::prelude::*;

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn terms(days: u32) -> Terms {
        Terms { processing_days: days, cutoff_hour: 15, day_end: NaiveTime::from_hms_opt(17, 0, 0).unwrap() }
    }

    /// Tết 2026: 16–20 February off.
    fn tet() -> Calendar {
        Calendar::new((16..=20).map(|d| NaiveDate::from_ymd_opt(2026, 2, d).unwrap()), [])
    }

    const CLERK: Actor<'static> =
        Actor { roles: &[Role::Clerk], is_applicant: false, is_assignee: false, did_earlier_step: false };
    const SPECIALIST: Actor<'static> = Actor { roles: &[Role::Specialist], is_assignee: true, ..CLERK };
    const APPROVER: Actor<'static> = Actor { roles: &[Role::Approver], ..CLERK };
    const APPLICANT: Actor<'static> = Actor { roles: &[Role::Citizen], is_applicant: true, ..CLERK };

    static HOURS: std::sync::LazyLock<OfficeHours> = std::sync::LazyLock::new(OfficeHours::default);

    fn at<'a>(t: &str, cal: &'a Calendar) -> Now<'a> {
        Now { at: dt(t), calendar: cal, hours: &HOURS }
    }

    /// Work, sign, return: the demo processes' shape.
    fn route() -> Route {
        use super::super::process::StepSpec;
        let step = |role, kind| StepSpec { name: "Bước".into(), role, unit_id: None, allotted_minutes: 450, kind };
        Route {
            process_id: "p1".into(),
            version: 1,
            steps: vec![
                step(Role::Specialist, StepKind::Ordinary),
                step(Role::Approver, StepKind::Signing),
                step(Role::Clerk, StepKind::Return),
            ]
            .into(),
        }
    }

    fn receive() -> Act {
        Act::Receive { route: route() }
    }

    #[test]
    fn a_counter_dossier_is_received_with_its_appointment_and_an_online_one_waits() {
        let cal = tet();
        // Friday 13 Feb 2026, 08:00 UTC = 15:00 local: at the cut-off, so the clock starts after Tết.
        let d = file(Channel::Counter, "u1", 0, &terms(3), Some(route()), at("2026-02-13 08:00", &cal));
        assert_eq!(d.status, Status::Received);
        // Start Mon 23 Feb, + 3 working days = Thu 26 Feb, 17:00 local = 10:00 UTC.
        assert_eq!(d.due_at, Some(dt("2026-02-26 10:00")));
        assert_eq!(d.original_due_at, d.due_at);
        let online = file(Channel::Online, "u1", 75_000, &terms(3), Some(route()), at("2026-02-13 08:00", &cal));
        assert_eq!((online.status, online.received_at, online.due_at), (Status::Submitted, None, None));
        assert!(online.fee_due());
        assert_eq!(online.national_status(), 6);
    }

    #[test]
    fn a_life_from_filing_to_return() {
        let cal = Calendar::default();
        let t = terms(2);
        let d = file(Channel::Online, "u1", 0, &t, Some(route()), at("2026-03-02 01:00", &cal));
        let d = apply(&d, &receive(), CLERK, &t, at("2026-03-02 02:00", &cal)).unwrap();
        assert_eq!(d.due_at, Some(dt("2026-03-04 10:00")));
        let d = apply(&d, &Act::Claim { by: "s1".into() }, SPECIALIST, &t, at("2026-03-02 03:00", &cal)).unwrap();
        assert_eq!((d.status, d.assignee_id.as_deref()), (Status::InProgress, Some("s1")));
        // A pause of two working days (Mon → Wed) moves both dates by two.
        let d = apply(&d, &Act::RequestSupplement, SPECIALIST, &t, at("2026-03-02 04:00", &cal)).unwrap();
        assert_eq!(
            (d.status, d.paused_at, d.supplement_requests),
            (Status::AwaitingApplicant, Some(dt("2026-03-02 04:00")), 1)
        );
        let d = apply(&d, &Act::Supplement, APPLICANT, &t, at("2026-03-04 02:00", &cal)).unwrap();
        assert_eq!(
            (d.due_at, d.original_due_at, d.paused_at),
            (Some(dt("2026-03-06 10:00")), Some(dt("2026-03-06 10:00")), None)
        );
        let d = apply(&d, &Act::SubmitForApproval, SPECIALIST, &t, at("2026-03-04 03:00", &cal)).unwrap();
        let d = apply(&d, &Act::Approve { e_result: true }, APPROVER, &t, at("2026-03-05 03:00", &cal)).unwrap();
        assert_eq!((d.status, d.e_result, d.working_days_taken), (Status::ResultReady, true, Some(3)));
        let d = apply(&d, &Act::ReturnResult, CLERK, &t, at("2026-03-05 04:00", &cal)).unwrap();
        assert_eq!(
            (d.status, d.finished_at, d.assignee_id.as_deref()),
            (Status::Returned, Some(dt("2026-03-05 04:00")), None)
        );
    }

    #[test]
    fn an_unpaid_fee_blocks_the_return_until_settled_once() {
        let cal = Calendar::default();
        let mut d = file(Channel::Counter, "u1", 100_000, &terms(1), Some(route()), at("2026-03-02 01:00", &cal));
        d.status = Status::ResultReady;
        let now = at("2026-03-03 01:00", &cal);
        assert_eq!(apply(&d, &Act::ReturnResult, CLERK, &terms(1), now), Err(Refusal::FeeUnpaid));
        assert_eq!(collect(&d, now.at), Err(Refusal::FeeUnpaid));
        assert_eq!(release_result(&d, true), Err(Refusal::FeeUnpaid));
        assert_eq!(release_result(&d, false), Ok(()), "staff see the result they issued");
        let paid = settle(&d, PaymentChannel::Counter, now.at).unwrap();
        assert_eq!((paid.paid_at, paid.payment_channel), (Some(now.at), Some(PaymentChannel::Counter)));
        assert_eq!(settle(&paid, PaymentChannel::Online, now.at), Err(Refusal::NothingToPay));
        assert_eq!(release_result(&paid, true), Ok(()));
        let returned = collect(&paid, now.at).unwrap().unwrap();
        assert_eq!((returned.status, returned.finished_at), (Status::Returned, Some(now.at)));
        assert_eq!(collect(&returned, now.at), Ok(None), "collecting again changes nothing");
        let mut early = paid.clone();
        early.status = Status::InProgress;
        assert!(matches!(collect(&early, now.at), Err(Refusal::NotNow { .. })));
    }

    #[test]
    fn who_did_an_earlier_step_does_not_sign() {
        let cal = Calendar::default();
        let mut d = file(Channel::Counter, "u1", 0, &terms(1), Some(route()), at("2026-03-02 01:00", &cal));
        d.status = Status::PendingApproval;
        let now = at("2026-03-03 01:00", &cal);
        let worked = Actor { did_earlier_step: true, ..APPROVER };
        assert_eq!(check(&d, Action::Approve, worked, now.at), Err(Refusal::SeparationOfDuties));
        assert!(!workflow::allowed_actions(d.situation(now.at), worked).contains(&Action::Approve));
        assert!(workflow::allowed_actions(d.situation(now.at), worked).contains(&Action::ReturnForRework));
        assert_eq!(check(&d, Action::Approve, APPROVER, now.at), Ok(Status::ResultReady));
        // Where approving does not apply, the usual refusal.
        d.status = Status::InProgress;
        assert!(matches!(check(&d, Action::Approve, worked, now.at), Err(Refusal::NotNow { .. })));
    }

    #[test]
    fn if_match_takes_the_etag_or_the_bare_version() {
        for header in ["\"3\"", "3", " 3 ", "W/\"3\"", "*", "\"1\", \"3\"", "1, 3"] {
            assert!(if_match_holds(header, 3), "{header}");
        }
        for header in ["\"2\"", "2", "", "\"3", "three", "\"03x\""] {
            assert!(!if_match_holds(header, 3), "{header}");
        }
    }

    #[test]
    fn apologies_move_the_appointment_later_only() {
        let cal = Calendar::default();
        let mut d = file(Channel::Counter, "u1", 0, &terms(1), Some(route()), at("2026-03-02 01:00", &cal));
        d.status = Status::InProgress;
        let late = at("2026-03-10 01:00", &cal);
        let earlier = Act::Apologize { new_due_at: dt("2026-03-09 01:00") };
        assert!(matches!(
            apply(&d, &earlier, CLERK, &terms(1), late),
            Err(Refusal::Invalid { field: "new_due_at", .. })
        ));
        let far = Act::Apologize { new_due_at: dt("9999-12-31 00:00") };
        assert!(matches!(apply(&d, &far, CLERK, &terms(1), late), Err(Refusal::Invalid { field: "new_due_at", .. })));
        let later = Act::Apologize { new_due_at: dt("2026-03-12 10:00") };
        let after = apply(&d, &later, CLERK, &terms(1), late).unwrap();
        assert_eq!(
            (after.due_at, after.original_due_at, after.apologized),
            (Some(dt("2026-03-12 10:00")), d.original_due_at, true)
        );
        assert!(!after.overdue(late.at));
    }

    /// By date (UTC times; local is UTC+7): due 5 March 17:00 local.
    #[test]
    fn lateness_is_judged_by_date_at_the_days_edges() {
        let due = dt("2026-03-05 10:00");
        // The appointment day, to its last minute: within time.
        assert!(!past_appointment(due, dt("2026-03-05 16:59")), "23:59 local on the day");
        assert!(!past_appointment(due, dt("2026-03-04 17:00")), "00:00 local on the day");
        // From the next local midnight: late.
        assert!(past_appointment(due, dt("2026-03-05 17:00")));
        assert_eq!(Timeliness::finished(due, dt("2026-03-05 16:59"), 0), Timeliness::OnTime);
        assert_eq!(Timeliness::finished(due, dt("2026-03-05 17:00"), 0), Timeliness::Late);
        let next_day = dt("2026-03-05 17:00");
        assert!(overdue(Status::InProgress, Some(due), None, next_day));
        assert!(!overdue(Status::InProgress, Some(due), None, dt("2026-03-05 16:59")));
        assert!(!overdue(Status::Returned, Some(due), None, next_day), "finished: no longer overdue");
    }

    #[test]
    fn a_pause_on_or_before_the_appointment_date_is_within_time() {
        let due = dt("2026-03-05 10:00");
        let later = dt("2026-03-20 03:00");
        let paused_on_the_day = Some(dt("2026-03-05 16:59"));
        assert!(!overdue(Status::AwaitingApplicant, Some(due), paused_on_the_day, later));
        assert_eq!(Timeliness::open(Status::AwaitingApplicant, due, paused_on_the_day, 1, later), Timeliness::OnTime);
        let paused_the_day_after = Some(dt("2026-03-05 17:00"));
        assert!(overdue(Status::AwaitingApplicant, Some(due), paused_the_day_after, later));
        assert_eq!(Timeliness::open(Status::AwaitingApplicant, due, paused_the_day_after, 1, later), Timeliness::Late);
    }

    /// The contradiction issue 17 names: a second supplement request days
    /// before the appointment date made a dossier count as late though the
    /// apology was refused as not overdue. It is now neither on time nor
    /// late, and the apology's refusal agrees.
    #[test]
    fn a_second_supplement_request_is_not_on_time_but_never_late() {
        let cal = Calendar::default();
        let mut d = file(Channel::Counter, "u1", 0, &terms(5), Some(route()), at("2026-03-02 01:00", &cal));
        d.status = Status::InProgress;
        (d.received_at, d.due_at, d.original_due_at) =
            (Some(dt("2026-03-02 01:00")), Some(dt("2026-03-09 10:00")), Some(dt("2026-03-09 10:00")));
        d.supplement_requests = 2;
        let now = at("2026-03-04 03:00", &cal);
        assert!(!d.overdue(now.at));
        let due = d.original_due_at.unwrap();
        assert_eq!(Timeliness::open(d.status, due, None, 2, now.at), Timeliness::SupplementedTwice);
        assert_eq!(Timeliness::finished(due, now.at, 2), Timeliness::SupplementedTwice);
        let apology = Act::Apologize { new_due_at: dt("2026-03-12 10:00") };
        assert!(apply(&d, &apology, CLERK, &terms(5), now).is_err(), "not overdue: no apology");
        // Late, it is late whatever the supplements.
        assert_eq!(Timeliness::finished(due, dt("2026-03-10 03:00"), 2), Timeliness::Late);
    }

    #[test]
    fn transfers_go_elsewhere_and_leave_the_shared_queue_unassigned() {
        let cal = Calendar::default();
        let mut d = file(Channel::Counter, "u1", 0, &terms(1), Some(route()), at("2026-03-02 01:00", &cal));
        d.status = Status::InProgress;
        d.assignee_id = Some("s1".into());
        let now = at("2026-03-02 02:00", &cal);
        let same = Act::Transfer { to_unit_id: "u1".into(), route: route() };
        assert!(matches!(apply(&d, &same, CLERK, &terms(1), now), Err(Refusal::Invalid { .. })));
        let moved =
            apply(&d, &Act::Transfer { to_unit_id: "u2".into(), route: route() }, CLERK, &terms(1), now).unwrap();
        assert_eq!((moved.status, moved.unit_id.as_str(), moved.assignee_id.clone()), (Status::Received, "u2", None));
        assert_eq!(moved.due_at, d.due_at, "the clock keeps running");
    }

    #[test]
    fn refusals_say_why() {
        let cal = Calendar::default();
        let d = file(Channel::Online, "u1", 0, &terms(1), Some(route()), at("2026-03-02 01:00", &cal));
        let now = at("2026-03-02 02:00", &cal);
        assert_eq!(
            apply(&d, &Act::Approve { e_result: false }, CLERK, &terms(1), now),
            Err(Refusal::NotNow {
                action: Action::Approve,
                status: Status::Submitted,
                allowed: vec![Action::Receive, Action::RequestSupplement, Action::Reject]
            })
        );
        assert_eq!(
            apply(&d, &receive(), APPLICANT, &terms(1), now),
            Err(Refusal::NotYours { action: Action::Receive })
        );
        assert_eq!(acting_role(&d, Action::Receive, CLERK, now.at), "clerk");
        assert_eq!(acting_role(&d, Action::Withdraw, APPLICANT, now.at), "citizen");
    }

    #[test]
    fn uploads_by_whom_and_when() {
        use Digitization as D;
        assert_eq!(upload(Status::Submitted, Uploader::Applicant, None, false), Ok(D::ElectronicOriginal));
        assert!(upload(Status::Submitted, Uploader::Applicant, Some(D::Scanned), false).is_err());
        assert_eq!(
            upload(Status::Received, Uploader::Applicant, None, false),
            Err(Refusal::DocumentsLocked { status: Status::Received })
        );
        assert_eq!(upload(Status::InProgress, Uploader::Clerk, None, false), Ok(D::Scanned));
        assert!(upload(Status::InProgress, Uploader::Clerk, Some(D::ECopyCertified), false).is_err());
        assert_eq!(upload(Status::InProgress, Uploader::Clerk, Some(D::ECopyCertified), true), Ok(D::ECopyCertified));
        assert!(upload(Status::InProgress, Uploader::Clerk, Some(D::Reused), true).is_err());
        assert!(upload(Status::Returned, Uploader::Clerk, None, true).is_err());
        assert!(matches!(upload(Status::Submitted, Uploader::Other, None, true), Err(Refusal::Forbidden(_))));
        assert!(digitized([(true, D::Scanned), (false, D::NotDigitized)]));
        assert!(!digitized([(true, D::NotDigitized), (false, D::Scanned)]));
    }

    fn pay<'a>(id: &'a str, status: PaymentStatus) -> Payment<'a> {
        Payment { id, dossier_code: "193-260302-0001", amount_vnd: 100_000, status }
    }

    fn report(payment_id: &str, outcome: PaymentStatus) -> Report<'_> {
        Report { payment_id, dossier_code: "193-260302-0001", provider_ref: "T1", amount_vnd: 100_000, outcome }
    }

    #[test]
    fn callbacks_settle_once_and_replay_the_same() {
        let cal = Calendar::default();
        let d = file(Channel::Online, "u1", 100_000, &terms(1), Some(route()), at("2026-03-02 01:00", &cal));
        let pending = pay("p1", PaymentStatus::Pending);
        let paid = report("p1", PaymentStatus::Paid);
        let open = may_pay(&d).is_ok();
        assert_eq!(callback(&paid, None, Some(&pending), open), Ok(Callback::Settle));
        let settled = settle(&d, PaymentChannel::Online, dt("2026-03-02 02:00")).unwrap();
        assert!(may_pay(&settled).is_err());
        assert_eq!(callback(&paid, None, Some(&pending), false), Ok(Callback::PaidAgain));
        assert_eq!(callback(&report("p1", PaymentStatus::Failed), None, Some(&pending), open), Ok(Callback::Fail));
        // The reference is now recorded: the same report replays; any other use of it is refused.
        let recorded = pay("p1", PaymentStatus::Paid);
        assert_eq!(callback(&paid, Some(&recorded), None, false), Ok(Callback::Replay));
        let reused = Err(Refusal::ProviderRefReused);
        assert_eq!(callback(&report("p2", PaymentStatus::Paid), Some(&recorded), None, open), reused);
        assert_eq!(callback(&report("p1", PaymentStatus::Failed), Some(&recorded), None, open), reused);
        let other_amount = Report { amount_vnd: 1, ..paid.clone() };
        assert_eq!(callback(&other_amount, Some(&recorded), None, open), reused);
        // A new reference for a payment that is no longer pending.
        let not_pending = Err(Refusal::PaymentNotPending { status: PaymentStatus::Paid });
        assert_eq!(callback(&paid, None, Some(&recorded), open), not_pending);
        assert_eq!(callback(&paid, None, None, open), Err(Refusal::PaymentMismatch));
        assert_eq!(callback(&other_amount, None, Some(&pending), open), Err(Refusal::AmountMismatch));
        let other_dossier = Report { dossier_code: "193-260302-0002", ..paid.clone() };
        assert_eq!(callback(&other_dossier, None, Some(&pending), open), Err(Refusal::DossierMismatch));
    }

    #[test]
    fn ratings_once_finished_and_changeable_for_a_week() {
        let now = dt("2026-03-10 01:00");
        assert_eq!(rate(Status::Returned, None, now), Ok(Rated::First));
        assert_eq!(rate(Status::InProgress, None, now), Err(Refusal::NotRateable { status: Status::InProgress }));
        assert_eq!(rate(Status::Stopped, Some(dt("2026-03-04 01:00")), now), Ok(Rated::Changed));
        assert_eq!(rate(Status::Rejected, Some(dt("2026-03-02 01:00")), now), Err(Refusal::RatingLocked));
        assert_eq!(retire_result(ResultStatus::Valid), Ok(()));
        assert_eq!(
            retire_result(ResultStatus::Revoked),
            Err(Refusal::ResultNotValid { status: ResultStatus::Revoked })
        );
        assert!(may_draft_result(Status::InProgress, false).is_err());
        assert_eq!(may_draft_result(Status::Received, true), Err(Refusal::ResultLocked { status: Status::Received }));
    }

    fn arbitrary_dossier() -> impl Strategy<Value = Dossier> {
        (proptest::sample::select(Status::ALL.to_vec()), any::<[bool; 6]>(), 0i64..4_000_000, 0i32..3, 0i64..300_000)
            .prop_map(|(status, flags, secs, supplements, fee)| {
                let t0 = dt("2026-01-05 01:00");
                let t = |k: i64| t0 + chrono::Duration::seconds(secs * k / 4);
                Dossier {
                    status,
                    unit_id: "u1".into(),
                    assignee_id: flags[0].then(|| "s1".into()),
                    submitted_at: t0,
                    received_at: flags[1].then(|| t(1)),
                    due_at: flags[1].then(|| t(2)),
                    original_due_at: flags[1].then(|| t(2)),
                    paused_at: (flags[2] && status == Status::AwaitingApplicant).then(|| t(1)),
                    result_at: None,
                    finished_at: None,
                    supplement_requests: supplements,
                    fee_vnd: fee,
                    paid_at: flags[3].then(|| t(1)),
                    payment_channel: flags[3].then_some(PaymentChannel::Online),
                    apologized: flags[4],
                    e_result: flags[5],
                    working_days_taken: None,
                    // Received: where a dossier of its status stands in a work, sign, return process.
                    position: flags[1].then(|| Position::settled(route(), "u1", status, t(1), &tet(), &HOURS)),
                }
            })
    }

    fn arbitrary_act() -> impl Strategy<Value = Act> {
        (0usize..17, any::<bool>(), 0i64..3_000_000).prop_map(|(i, flag, secs)| match i {
            0 => receive(),
            1 => Act::RequestSupplement,
            2 => Act::Supplement,
            3 => Act::Reject,
            4 => Act::Assign { assignee_id: "s2".into() },
            5 => Act::Claim { by: "s3".into() },
            6 => Act::Release,
            7 => Act::Transfer { to_unit_id: if flag { "u1" } else { "u2" }.into(), route: route() },
            8 => Act::SubmitForApproval,
            9 => Act::ReturnForRework,
            10 => Act::Approve { e_result: flag },
            11 => Act::ReturnResult,
            12 => Act::Withdraw,
            13 => Act::Stop,
            14 => Act::Forward { to: flag.then(|| "s4".into()) },
            15 => Act::ReturnToStep { step: usize::from(flag) },
            _ => Act::Apologize { new_due_at: dt("2026-01-05 01:00") + chrono::Duration::seconds(secs * 2) },
        })
    }

    proptest! {
        /// Any change to any dossier: the new status is the state machine's,
        /// a refused change changes nothing, finished dossiers stay finished
        /// and unassigned, and counters and facts only ever grow.
        #[test]
        fn effects_follow_the_state_machine(d in arbitrary_dossier(), act in arbitrary_act(), roles in proptest::sample::subsequence(Role::STAFF.to_vec(), 0..=5), flags in any::<[bool; 2]>(), later in 0i64..5_000_000) {
            let cal = tet();
            let now = Now { at: d.submitted_at + chrono::Duration::seconds(later), calendar: &cal, hours: &HOURS };
            let actor = Actor { roles: &roles, is_applicant: flags[0], is_assignee: flags[1], did_earlier_step: false };
            let expected = workflow::target(d.situation(now.at), act.action())
                .filter(|_| workflow::permitted(d.situation(now.at), act.action(), actor));
            match apply(&d, &act, actor, &terms(5), now) {
                Ok(n) => {
                    prop_assert_eq!(Some(n.status), expected);
                    prop_assert!(n.supplement_requests >= d.supplement_requests);
                    prop_assert!(n.apologized >= d.apologized);
                    prop_assert_eq!(n.fee_vnd, d.fee_vnd);
                    prop_assert_eq!(n.paid_at, d.paid_at);
                    if n.status.is_terminal() {
                        prop_assert!(n.finished_at.is_some() && n.assignee_id.is_none());
                    }
                    if n.status == Status::Received {
                        prop_assert!(n.assignee_id.is_none() && n.due_at.is_some() == (n.received_at.is_some()));
                    }
                }
                Err(Refusal::NotNow { .. }) => prop_assert!(workflow::target(d.situation(now.at), act.action()).is_none()),
                Err(Refusal::NotYours { .. }) => prop_assert!(expected.is_none()),
                Err(Refusal::FeeUnpaid) => prop_assert!(d.fee_due() && act.action() == Action::ReturnResult),
                Err(Refusal::Invalid { field, .. }) => prop_assert!(["target_unit_id", "new_due_at", "step"].contains(&field)),
                Err(other) => prop_assert!(false, "unexpected refusal {:?}", other),
            }
        }

        /// Only the acts that say so read the calendar.
        #[test]
        fn only_calendar_acts_read_the_calendar(
            d in arbitrary_dossier(),
            act in arbitrary_act().prop_filter("needs no calendar", |a| !a.needs_calendar()),
            later in 0i64..5_000_000,
        ) {
            let (full, empty) = (tet(), Calendar::default());
            let at = d.submitted_at + chrono::Duration::seconds(later);
            let everyone = Actor { roles: &Role::STAFF, is_applicant: true, is_assignee: true, did_earlier_step: false };
            prop_assert_eq!(
                apply(&d, &act, everyone, &terms(5), Now { at, calendar: &full, hours: &HOURS }),
                apply(&d, &act, everyone, &terms(5), Now { at, calendar: &empty, hours: &HOURS })
            );
        }
    }
}
