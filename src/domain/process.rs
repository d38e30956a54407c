//! Internal processes (quy trình nội bộ) of procedures: the ordered steps a
//! dossier goes through between reception and result, each done by a role
//! in a unit within an allotted time in working minutes (docs/processes.md).

use std::sync::Arc;

use chrono::{NaiveDateTime, Timelike};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::calendar::{Calendar, OfficeHours, from_local, to_local};
use super::roles::Role;
use super::units::Level;
use super::workflow::{Action, EventAction, Recorded, Status};

/// The units a process serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every unit that performs the procedure.
    All,
    /// The units of a level.
    Level(Level),
    /// One unit.
    Unit(String),
}

impl Scope {
    pub fn encode(&self) -> String {
        match self {
            Scope::All => String::new(),
            Scope::Level(level) => format!("level:{level}"),
            Scope::Unit(id) => format!("unit:{id}"),
        }
    }

    pub fn decode(s: &str) -> Self {
        if let Some(level) = s.strip_prefix("level:").and_then(|l| l.parse().ok()) {
            Scope::Level(level)
        } else if let Some(id) = s.strip_prefix("unit:") {
            Scope::Unit(id.to_string())
        } else {
            Scope::All
        }
    }

    /// How specific it is: a unit's own process beats its level's, which
    /// beats the procedure's; `None` when it does not serve the unit.
    fn rank(&self, unit_id: &str, level: Level) -> Option<u8> {
        match self {
            Scope::Unit(id) if id == unit_id => Some(2),
            Scope::Level(l) if *l == level => Some(1),
            Scope::All => Some(0),
            _ => None,
        }
    }
}

/// Which of the `versions` (scope, version number) of a procedure's
/// processes is in force at unit `unit_id` of `level`: the most specific
/// scope that serves the unit, and its latest version.
pub fn in_force(versions: &[(Scope, i32)], unit_id: &str, level: Level) -> Option<usize> {
    versions
        .iter()
        .enumerate()
        .filter_map(|(i, (scope, version))| scope.rank(unit_id, level).map(|rank| ((rank, *version), i)))
        .max()
        .map(|(_, i)| i)
}

/// What a step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// Examine, verify, prepare (thụ lý, thẩm định).
    Ordinary,
    /// A superior reviews the work (e.g. the head of division).
    Review,
    /// The competent person approves and signs the result.
    Signing,
    /// The desk returns the result.
    Return,
}

impl StepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Ordinary => "ordinary",
            StepKind::Review => "review",
            StepKind::Signing => "signing",
            StepKind::Return => "return",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [StepKind::Ordinary, StepKind::Review, StepKind::Signing, StepKind::Return]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// One step of a process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    pub name: String,
    /// Who performs it: a clerk, a specialist or an approver.
    pub role: Role,
    /// The unit that performs it (an inter-unit step, liên thông); absent:
    /// the unit holding the dossier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_id: Option<String>,
    /// Allotted time in working minutes, counted in office hours
    /// (`dossiers.office_hours`) of working days: 240 is half a day.
    pub allotted_minutes: u32,
    pub kind: StepKind,
}

/// The dossier events that do a step before signing: receiving the dossier,
/// taking it, handing the work over. Whoever recorded one may not sign the
/// result when the process keeps separation of duties.
pub const EARLIER_STEP_ACTIONS: [EventAction; 5] = [
    EventAction::Workflow(Action::Receive),
    EventAction::Other(Recorded::Register),
    EventAction::Workflow(Action::Claim),
    EventAction::Workflow(Action::SubmitForApproval),
    EventAction::Workflow(Action::Forward),
];

/// Most steps a process has.
pub const MAX_STEPS: usize = 20;

/// Why a process cannot be saved: the field and the rule it breaks.
pub type Problems = Vec<(String, &'static str)>;

/// The working minutes a procedure of `processing_days` allows its steps: its
/// days of office hours (a same-day procedure: one day).
pub fn budget(processing_days: u32, minutes_per_day: u32) -> u32 {
    processing_days.max(1).saturating_mul(minutes_per_day)
}

/// Whether `steps` form a process: one to `MAX_STEPS` named steps, at least
/// one ordinary or review step, then exactly one signing step by an
/// approver, then at most a return step by a clerk; the allotments (each at
/// least a minute) add up to no more than the procedure's processing time.
pub fn validate(steps: &[StepSpec], processing_days: u32, minutes_per_day: u32) -> Result<(), Problems> {
    let mut problems = Problems::new();
    if steps.is_empty() || steps.len() > MAX_STEPS {
        problems.push(("steps".into(), "a process has 1 to 20 steps"));
    }
    for (i, step) in steps.iter().enumerate() {
        let field = |name: &str| format!("steps[{i}].{name}");
        let name = step.name.trim();
        if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
            problems.push((field("name"), "1 to 200 characters, no control characters"));
        }
        if !matches!(step.role, Role::Clerk | Role::Specialist | Role::Approver) {
            problems.push((field("role"), "a step is done by a clerk, a specialist or an approver"));
        }
        if step.allotted_minutes == 0 {
            problems.push((field("allotted_minutes"), "a step is allotted at least one working minute"));
        }
        let before = &steps[..i];
        let signed = before.iter().any(|s| s.kind == StepKind::Signing);
        match step.kind {
            StepKind::Ordinary | StepKind::Review if signed => {
                problems.push((field("kind"), "work steps come before the signing step"));
            }
            StepKind::Signing if signed => problems.push((field("kind"), "a process has one signing step")),
            StepKind::Signing if before.is_empty() => {
                problems.push((field("kind"), "at least one ordinary or review step comes before signing"));
            }
            StepKind::Signing if step.role != Role::Approver => {
                problems.push((field("role"), "an approver signs the result"));
            }
            StepKind::Return if !signed || i + 1 != steps.len() => {
                problems.push((field("kind"), "the return step is the last, after signing"));
            }
            StepKind::Return if step.role != Role::Clerk => {
                problems.push((field("role"), "the desk (a clerk) returns the result"));
            }
            _ => {}
        }
    }
    if !steps.is_empty() && !steps.iter().any(|s| s.kind == StepKind::Signing) {
        problems.push(("steps".into(), "a process has a signing step"));
    }
    let total: u64 = steps.iter().map(|s| u64::from(s.allotted_minutes)).sum();
    if total > u64::from(budget(processing_days, minutes_per_day)) {
        problems.push(("steps".into(), "the allotments add up to more than the procedure's processing time"));
    }
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

/// The process of a procedure that has none of its own: today's path, a
/// specialist of the dossier's unit then its approver, sharing the
/// processing time two to one.
pub fn builtin(processing_days: u32, minutes_per_day: u32) -> Vec<StepSpec> {
    let total = budget(processing_days, minutes_per_day);
    let work = (total * 2 / 3).max(1);
    vec![
        StepSpec {
            name: "Thụ lý, thẩm định hồ sơ".into(),
            role: Role::Specialist,
            unit_id: None,
            allotted_minutes: work,
            kind: StepKind::Ordinary,
        },
        StepSpec {
            name: "Phê duyệt, ký kết quả".into(),
            role: Role::Approver,
            unit_id: None,
            allotted_minutes: total - work,
            kind: StepKind::Signing,
        },
    ]
}

/// A version of a process as dossiers follow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub process_id: String,
    pub version: i32,
    pub steps: Arc<[StepSpec]>,
}

/// Where a dossier is in the process it follows (stored in
/// `dossier_processes`): the current step, when it started and its deadline
/// (UTC). Steps without a unit of their own are done at the home unit, the
/// unit whose process it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub route: Route,
    pub home_unit_id: String,
    pub pinned_at: NaiveDateTime,
    /// 0-based index of the current step.
    pub index: usize,
    pub started_at: NaiveDateTime,
    pub due_at: NaiveDateTime,
    /// Who handed the dossier to this step (the one a return for rework
    /// gives it back to).
    pub handed_by: Option<String>,
}

/// What the state machine needs of a dossier's current step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Here {
    pub index: usize,
    pub role: Role,
    pub kind: StepKind,
    /// The kind of the next step, if any.
    pub next: Option<StepKind>,
}

impl Position {
    /// The first step of `route` at `home_unit_id`, started at `at` (UTC).
    pub fn start(route: Route, home_unit_id: &str, at: NaiveDateTime, cal: &Calendar, hours: &OfficeHours) -> Self {
        let mut p = Position {
            route,
            home_unit_id: home_unit_id.to_string(),
            pinned_at: at,
            index: 0,
            started_at: at,
            due_at: at,
            handed_by: None,
        };
        p.enter(0, at, None, cal, hours);
        p
    }

    /// Where a dossier of `status` received before steps were kept stands
    /// in `route`: at the first step, at the signing step while pending
    /// approval, at the return step (else still at signing) once its result
    /// is ready; the step started at `since` (UTC).
    pub fn settled(
        route: Route,
        home_unit_id: &str,
        status: Status,
        since: NaiveDateTime,
        cal: &Calendar,
        hours: &OfficeHours,
    ) -> Self {
        let mut p = Self::start(route, home_unit_id, since, cal, hours);
        let signing = p.find(StepKind::Signing).unwrap_or(0);
        let index = match status {
            Status::PendingApproval => signing,
            Status::ResultReady => p.find(StepKind::Return).unwrap_or(signing),
            _ => 0,
        };
        p.enter(index, since, None, cal, hours);
        p
    }

    pub fn step(&self) -> &StepSpec {
        &self.route.steps[self.index]
    }

    /// The unit that performs step `index`.
    pub fn unit_of(&self, index: usize) -> &str {
        self.route.steps.get(index).and_then(|s| s.unit_id.as_deref()).unwrap_or(&self.home_unit_id)
    }

    pub fn here(&self) -> Here {
        let step = self.step();
        Here {
            index: self.index,
            role: step.role,
            kind: step.kind,
            next: self.route.steps.get(self.index + 1).map(|s| s.kind),
        }
    }

    /// The index of the step of `kind` (the signing step, the return step).
    pub fn find(&self, kind: StepKind) -> Option<usize> {
        self.route.steps.iter().position(|s| s.kind == kind)
    }

    /// Moves to step `index` at `at` (UTC), handed over by `by`: its
    /// deadline is `at` plus its allotted working minutes.
    pub fn enter(&mut self, index: usize, at: NaiveDateTime, by: Option<&str>, cal: &Calendar, hours: &OfficeHours) {
        self.index = index.min(self.route.steps.len() - 1);
        self.started_at = at;
        self.due_at =
            from_local(deadline(cal, hours, to_local(at.and_utc()), self.step().allotted_minutes)).naive_utc();
        self.handed_by = by.map(str::to_string);
    }

    /// The step's clock was paused from `paused` to `resumed` (UTC): its
    /// deadline moves by the working minutes paused.
    pub fn resume(&mut self, paused: NaiveDateTime, resumed: NaiveDateTime, cal: &Calendar, hours: &OfficeHours) {
        let local = |t: NaiveDateTime| to_local(t.and_utc());
        let due = resumed_deadline(cal, hours, local(self.due_at), local(paused), local(resumed));
        self.due_at = from_local(due).naive_utc();
    }
}

/// How far a dossier got with each step of its process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    Done,
    /// The step the dossier is at.
    Current,
    /// Not reached yet.
    Pending,
    /// The dossier ended (rejected, withdrawn, stopped) during this step.
    Interrupted,
    /// The dossier ended before reaching it.
    NotReached,
}

/// The state of each of `steps` of a dossier of `status` at step `index`.
pub fn progress(steps: &[StepSpec], index: usize, status: Status) -> Vec<StepState> {
    use std::cmp::Ordering::*;
    (0..steps.len())
        .map(|i| match i.cmp(&index) {
            Less => StepState::Done,
            // Signed, and no return step: nothing is current.
            Equal
                if status == Status::Returned
                    || (status == Status::ResultReady && steps[i].kind == StepKind::Signing) =>
            {
                StepState::Done
            }
            Equal if status.is_terminal() => StepState::Interrupted,
            Equal => StepState::Current,
            Greater if status.is_terminal() => StepState::NotReached,
            Greater => StepState::Pending,
        })
        .collect()
}

/// How many working minutes a step due at local `due` is late at local
/// `now`, when that is more than `margin_hours` working hours (the late-step
/// alert, `dossiers.step_alert_after_working_hours`); `None` otherwise.
pub fn late_beyond(
    cal: &Calendar,
    hours: &OfficeHours,
    due: NaiveDateTime,
    now: NaiveDateTime,
    margin_hours: u32,
) -> Option<u32> {
    let late = cal.working_minutes_between(hours, due, now);
    (late > margin_hours.saturating_mul(60)).then_some(late)
}

/// A step a change completed, as the step statistics count it
/// (`GET /stats/steps`): which, where, and its deadline (UTC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    /// 0-based.
    pub index: usize,
    pub name: String,
    pub unit_id: String,
    pub due_at: NaiveDateTime,
}

/// The step a dossier's change from `before` (status, position) to `after`
/// completed, if any: a step is completed when the dossier moves on from it
/// — forward to a later step, signed without a return step, or its result
/// returned at the return step. Going back, transfers and endings complete
/// nothing.
pub fn completed(before: (Status, Option<&Position>), after: (Status, Option<&Position>)) -> Option<Completed> {
    let (Some(b), (to, a)) = (before.1, after) else { return None };
    let same_process = a.is_some_and(|a| a.route.process_id == b.route.process_id && a.pinned_at == b.pinned_at);
    let moved_on = same_process && a.is_some_and(|a| a.index > b.index);
    let finished_here = matches!((before.0, to), (Status::PendingApproval, Status::ResultReady))
        || (matches!((before.0, to), (Status::ResultReady, Status::Returned)) && b.step().kind == StepKind::Return);
    (moved_on || (same_process && finished_here)).then(|| Completed {
        index: b.index,
        name: b.step().name.clone(),
        unit_id: b.unit_of(b.index).to_string(),
        due_at: b.due_at,
    })
}

/// Steps completed, completed late, and their working minutes late: what
/// `GET /stats/steps` adds up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct StepTally {
    pub completed: i64,
    pub late: i64,
    /// Working minutes past the deadlines, summed over the late steps.
    pub delay_minutes: i64,
}

impl StepTally {
    /// One step completed `late_minutes` working minutes late (0: in time).
    pub fn one(late_minutes: u32) -> Self {
        Self { completed: 1, late: i64::from(late_minutes > 0), delay_minutes: i64::from(late_minutes) }
    }

    /// Late steps over completed ones.
    pub fn late_rate(&self) -> Option<f64> {
        (self.completed > 0).then(|| self.late as f64 / self.completed as f64)
    }

    /// Working minutes late per late step.
    pub fn average_delay_minutes(&self) -> Option<f64> {
        (self.late > 0).then(|| self.delay_minutes as f64 / self.late as f64)
    }
}

impl std::ops::AddAssign for StepTally {
    fn add_assign(&mut self, o: Self) {
        (self.completed, self.late, self.delay_minutes) =
            (self.completed + o.completed, self.late + o.late, self.delay_minutes + o.delay_minutes);
    }
}

/// The deadline of a step started at local `start`: `minutes` working
/// minutes later.
pub fn deadline(cal: &Calendar, hours: &OfficeHours, start: NaiveDateTime, minutes: u32) -> NaiveDateTime {
    cal.add_working_minutes(hours, start, minutes)
}

/// A step's local `deadline` after its clock paused from `paused` to
/// `resumed`: later by the working minutes paused.
pub fn resumed_deadline(
    cal: &Calendar,
    hours: &OfficeHours,
    deadline: NaiveDateTime,
    paused: NaiveDateTime,
    resumed: NaiveDateTime,
) -> NaiveDateTime {
    cal.add_working_minutes(hours, deadline, cal.working_minutes_between(hours, paused, resumed))
}

/// A dossier event as the control slip reads it (local times).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event<'a> {
    pub at: NaiveDateTime,
    /// The event's action (`receive`, `claim`, `submit_for_approval` …).
    pub action: &'a str,
    /// Who acted.
    pub actor: Option<&'a str>,
    /// The unit holding the dossier when it happened.
    pub unit: Option<&'a str>,
    /// The status it led to.
    pub to_status: &'a str,
    /// The step (from 1) a forward or a return to a step led to.
    pub step: Option<usize>,
}

/// How a step's work compares with its deadline (the "trước hạn / đúng hạn
/// / quá hạn" columns of the control slip).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    /// Done before the deadline, by this many working minutes.
    Early(u32),
    OnTime,
    /// Done this many working minutes after the deadline.
    Late(u32),
    /// Not done yet; late by this many working minutes so far (0: not late).
    Running(u32),
}

impl Timing {
    /// Working minutes past the deadline (0: not late).
    pub fn late_minutes(self) -> u32 {
        match self {
            Self::Late(m) | Self::Running(m) => m,
            Self::Early(_) | Self::OnTime => 0,
        }
    }
}

/// How a step done at `done` compares with its `deadline` (local times),
/// to the minute: late once a working minute past it (past it outside
/// working time is on time), early when done before its minute, on time at
/// it. Steps are allotted working minutes, most less than a day: by date,
/// every step of a same-day process would end "on the day" and none could
/// be early. The control slip, the step statistics (`stats::steps::track`)
/// and the assessment's index 2 all read this. The calendar decides only
/// whether a step past its deadline is late.
pub fn timing(cal: &Calendar, hours: &OfficeHours, deadline: NaiveDateTime, done: NaiveDateTime) -> Timing {
    let minute = |t: NaiveDateTime| t.with_second(0).and_then(|t| t.with_nanosecond(0)).unwrap_or(t);
    match minute(done).cmp(&minute(deadline)) {
        std::cmp::Ordering::Greater => match cal.working_minutes_between(hours, deadline, done) {
            0 => Timing::OnTime,
            late => Timing::Late(late),
        },
        std::cmp::Ordering::Less => Timing::Early(cal.working_minutes_between(hours, done, deadline)),
        std::cmp::Ordering::Equal => Timing::OnTime,
    }
}

/// One handover of the control slip: a step of the process, who passed the
/// dossier on and who held it, when it arrived, its deadline, when and how
/// it was completed, and whether that was early, on time or late.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlipRow {
    /// 1-based position of the step in the process.
    pub step: usize,
    pub handed_over_by: Option<String>,
    pub held_by: Option<String>,
    pub unit: Option<String>,
    pub received_at: NaiveDateTime,
    pub deadline: NaiveDateTime,
    pub completed_at: Option<NaiveDateTime>,
    pub completed_by: Option<String>,
    /// The action that completed the step.
    pub outcome: Option<String>,
    pub timing: Timing,
}

/// The control slip (phiếu kiểm soát quá trình giải quyết hồ sơ, form 06 of
/// Circular 03/2025/TT-VPCP) of a dossier that follows `steps`, from its
/// `events` in order, at local time `now`. Reception opens the first step;
/// `forward` hands the work over to the next step and `return_to_step` back
/// to the step it names, `submit_for_approval` to the signing step,
/// `return_for_rework` back to the work step before it, `approve` to the
/// return step (if any), and `return_result` completes it; a transfer
/// starts the process again at the new unit; a rejection, withdrawal or
/// stop ends the open step. Claims and releases change who holds the step.
/// A supplement request during processing pauses the step's clock: its
/// deadline moves by the working minutes paused.
pub fn slip(
    steps: &[StepSpec],
    events: &[Event<'_>],
    now: NaiveDateTime,
    cal: &Calendar,
    hours: &OfficeHours,
) -> Vec<SlipRow> {
    let signing = steps.iter().position(|s| s.kind == StepKind::Signing);
    let returning = steps.iter().position(|s| s.kind == StepKind::Return);
    let mut rows: Vec<SlipRow> = Vec::new();
    let mut open: Option<usize> = None;
    let mut paused: Option<NaiveDateTime> = None;
    let start = |rows: &mut Vec<SlipRow>, step: usize, e: &Event<'_>| -> Option<usize> {
        let spec = steps.get(step)?;
        rows.push(SlipRow {
            step: step + 1,
            handed_over_by: e.actor.map(str::to_string),
            held_by: None,
            unit: e.unit.map(str::to_string),
            received_at: e.at,
            deadline: deadline(cal, hours, e.at, spec.allotted_minutes),
            completed_at: None,
            completed_by: None,
            outcome: None,
            timing: Timing::Running(0),
        });
        Some(rows.len() - 1)
    };
    for e in events {
        if let (Some(i), Some(unit)) = (open, e.unit) {
            rows[i].unit = Some(unit.to_string());
        }
        let current = open.map(|i| rows[i].step - 1);
        let next = match e.action {
            "receive" | "register" if e.to_status == "received" && current.is_none() => Some(0),
            "transfer" => Some(0),
            "forward" => e.step.map(|n| n.saturating_sub(1)).or(current.map(|c| c + 1)),
            "return_to_step" => e.step.map(|n| n.saturating_sub(1)),
            "submit_for_approval" => signing,
            "return_for_rework" => signing.and_then(|s| s.checked_sub(1)),
            "approve" => returning,
            "return_result" | "reject" | "withdraw" | "stop" => None,
            "claim" => {
                if let Some(i) = open {
                    rows[i].held_by = e.actor.map(str::to_string);
                }
                continue;
            }
            "release" | "assign" => {
                if let Some(i) = open {
                    rows[i].held_by = None;
                }
                continue;
            }
            "request_supplement" if e.to_status == "awaiting_applicant" => {
                paused = Some(e.at);
                continue;
            }
            "supplement" => {
                if let (Some(i), Some(from)) = (open, paused.take()) {
                    rows[i].deadline = resumed_deadline(cal, hours, rows[i].deadline, from, e.at);
                }
                continue;
            }
            _ => continue,
        };
        let closes = !matches!(e.action, "receive" | "register");
        if let (true, Some(i)) = (closes, open.take()) {
            let row = &mut rows[i];
            row.completed_at = Some(e.at);
            row.completed_by = e.actor.map(str::to_string);
            row.outcome = Some(e.action.to_string());
        }
        open = next.and_then(|step| start(&mut rows, step, e));
        if let (Some(i), "transfer") = (open, e.action) {
            // Its unit is the one the dossier moved to: the next event's.
            rows[i].unit = None;
        }
    }
    for row in &mut rows {
        row.timing = match row.completed_at {
            Some(done) => timing(cal, hours, row.deadline, done),
            None => Timing::Running(if now > row.deadline {
                cal.working_minutes_between(hours, row.deadline, now)
            } else {
                0
            }),
        };
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn step(role: Role, minutes: u32, kind: StepKind) -> StepSpec {
        StepSpec { name: "Bước".into(), role, unit_id: None, allotted_minutes: minutes, kind }
    }

    fn fields(steps: &[StepSpec], days: u32) -> Vec<String> {
        validate(steps, days, 450).err().unwrap_or_default().into_iter().map(|(f, _)| f).collect()
    }

    #[test]
    fn a_realistic_process_is_valid() {
        // Desk (4 h) → specialist examines (2 days) → head reviews (4 h) →
        // chairman signs (4 h) → desk returns (1 h): 1,680 minutes, within
        // 4 working days of 450, not within 3.
        let steps = [
            step(Role::Clerk, 240, StepKind::Ordinary),
            step(Role::Specialist, 900, StepKind::Ordinary),
            step(Role::Approver, 240, StepKind::Review),
            step(Role::Approver, 240, StepKind::Signing),
            step(Role::Clerk, 60, StepKind::Return),
        ];
        assert_eq!(validate(&steps, 4, 450), Ok(()));
        assert_eq!(fields(&steps, 3), ["steps"]);
    }

    #[test]
    fn the_shape_of_a_process_is_checked() {
        let work = step(Role::Specialist, 60, StepKind::Ordinary);
        let sign = step(Role::Approver, 60, StepKind::Signing);
        let back = step(Role::Clerk, 60, StepKind::Return);
        assert_eq!(fields(&[], 1), ["steps"]);
        assert_eq!(fields(std::slice::from_ref(&work), 1), ["steps"], "no signing step");
        assert_eq!(fields(std::slice::from_ref(&sign), 1), ["steps[0].kind"], "nothing to sign");
        assert_eq!(fields(&[work.clone(), sign.clone(), sign.clone()], 1), ["steps[2].kind"]);
        assert_eq!(fields(&[work.clone(), sign.clone(), work.clone()], 1), ["steps[2].kind"]);
        assert_eq!(fields(&[work.clone(), back.clone(), sign.clone()], 1), ["steps[1].kind"]);
        assert_eq!(fields(&[work.clone(), sign.clone(), back.clone(), back.clone()], 1), ["steps[2].kind"]);
        let clerk_signs = step(Role::Clerk, 60, StepKind::Signing);
        assert_eq!(fields(&[work.clone(), clerk_signs], 1), ["steps[1].role"]);
        let auditor = step(Role::Auditor, 60, StepKind::Ordinary);
        assert_eq!(fields(&[auditor, sign.clone()], 1), ["steps[0].role"]);
        let unnamed = StepSpec { name: " ".into(), ..work.clone() };
        let nothing = StepSpec { allotted_minutes: 0, ..work.clone() };
        assert_eq!(fields(&[unnamed, nothing, sign.clone()], 1), ["steps[0].name", "steps[1].allotted_minutes"]);
        assert_eq!(fields(&vec![work.clone(); 20].into_iter().chain([sign]).collect::<Vec<_>>(), 9), ["steps"]);
    }

    #[test]
    fn the_most_specific_latest_version_is_in_force() {
        let versions = [
            (Scope::All, 1),
            (Scope::All, 2),
            (Scope::Level(Level::Commune), 1),
            (Scope::Unit("u2".into()), 1),
            (Scope::Unit("u3".into()), 1),
        ];
        assert_eq!(in_force(&versions, "u1", Level::District), Some(1));
        assert_eq!(in_force(&versions, "u1", Level::Commune), Some(2));
        assert_eq!(in_force(&versions, "u2", Level::Commune), Some(3));
        assert_eq!(in_force(&versions[3..], "u1", Level::District), None);
        for scope in [Scope::All, Scope::Level(Level::Province), Scope::Unit("u-1".into())] {
            assert_eq!(Scope::decode(&scope.encode()), scope);
        }
    }

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn event<'a>(time: &str, action: &'a str, actor: &'a str, to: &'a str) -> Event<'a> {
        Event { at: at(time), action, actor: Some(actor), unit: Some("193"), to_status: to, step: None }
    }

    #[test]
    fn the_control_slip_names_the_late_step() {
        let steps = [
            step(Role::Specialist, 900, StepKind::Ordinary),
            step(Role::Approver, 360, StepKind::Signing),
            step(Role::Clerk, 90, StepKind::Return),
        ];
        let events = [
            event("2026-03-02 08:00", "register", "clerk", "received"),
            event("2026-03-02 09:00", "claim", "specialist", "in_progress"),
            event("2026-03-05 10:00", "submit_for_approval", "specialist", "pending_approval"),
            event("2026-03-05 14:00", "approve", "approver", "result_ready"),
        ];
        let (cal, hours) = (Calendar::default(), OfficeHours::default());
        let rows = slip(&steps, &events, at("2026-03-06 08:00"), &cal, &hours);
        assert_eq!(rows.len(), 3);
        // 900 minutes from Monday 08:00: Monday 420, Tuesday 450, Wednesday 30.
        assert_eq!((rows[0].deadline, rows[0].held_by.as_deref()), (at("2026-03-04 08:00"), Some("specialist")));
        assert_eq!(rows[0].timing, Timing::Late(570), "Wednesday 08:00 to Thursday 10:00: 420 + 150");
        assert_eq!(rows[0].outcome.as_deref(), Some("submit_for_approval"));
        // Signed on Thursday, due Friday 08:30: early by Thursday's 180 and Friday's 60.
        assert_eq!((rows[1].deadline, rows[1].timing), (at("2026-03-06 08:30"), Timing::Early(240)));
        assert_eq!(rows[1].handed_over_by.as_deref(), Some("specialist"));
        // The return step, due Thursday 15:30, still open on Friday 08:00.
        assert_eq!((rows[2].completed_at, rows[2].timing), (None, Timing::Running(120)));
    }

    #[test]
    fn a_supplement_pause_moves_the_step_deadline_and_rework_goes_back() {
        let steps = [step(Role::Specialist, 450, StepKind::Ordinary), step(Role::Approver, 450, StepKind::Signing)];
        let events = [
            event("2026-03-02 07:30", "receive", "clerk", "received"),
            event("2026-03-02 09:00", "request_supplement", "specialist", "awaiting_applicant"),
            event("2026-03-04 09:00", "supplement", "citizen", "in_progress"),
            event("2026-03-04 10:00", "submit_for_approval", "specialist", "pending_approval"),
            event("2026-03-04 11:00", "return_for_rework", "approver", "in_progress"),
            event("2026-03-04 16:00", "withdraw", "citizen", "withdrawn"),
        ];
        let rows = slip(&steps, &events, at("2026-03-05 08:00"), &Calendar::default(), &OfficeHours::default());
        // Due Monday 17:00, paused two working days (900 minutes): Wednesday 17:00.
        // Done five working hours before its moved deadline: early, to the minute.
        assert_eq!((rows[0].deadline, rows[0].timing), (at("2026-03-04 17:00"), Timing::Early(300)));
        assert_eq!((rows[1].step, rows[1].outcome.as_deref()), (2, Some("return_for_rework")));
        assert_eq!((rows[2].step, rows[2].outcome.as_deref()), (1, Some("withdraw")));
    }

    #[test]
    fn a_step_is_completed_when_the_dossier_moves_on_from_it() {
        let steps: Arc<[StepSpec]> = vec![
            step(Role::Specialist, 450, StepKind::Ordinary),
            step(Role::Approver, 450, StepKind::Signing),
            step(Role::Clerk, 60, StepKind::Return),
        ]
        .into();
        let route = Route { process_id: "p".into(), version: 1, steps };
        let (cal, hours) = (Calendar::default(), OfficeHours::default());
        let t = at("2026-03-02 08:00");
        let first = Position::start(route.clone(), "u1", t, &cal, &hours);
        let mut signing = first.clone();
        signing.enter(1, t, None, &cal, &hours);
        let mut returning = first.clone();
        returning.enter(2, t, None, &cal, &hours);
        let s = |status, p: &Position| (status, Some(p.clone()));
        let done = |b: (Status, Option<Position>), a: (Status, Option<Position>)| {
            completed((b.0, b.1.as_ref()), (a.0, a.1.as_ref())).map(|c| c.index)
        };
        assert_eq!(done(s(Status::InProgress, &first), s(Status::PendingApproval, &signing)), Some(0));
        assert_eq!(done(s(Status::PendingApproval, &signing), s(Status::ResultReady, &returning)), Some(1));
        assert_eq!(done(s(Status::ResultReady, &returning), s(Status::Returned, &returning)), Some(2));
        assert_eq!(done(s(Status::PendingApproval, &signing), s(Status::InProgress, &first)), None, "back");
        assert_eq!(done(s(Status::InProgress, &first), s(Status::Withdrawn, &first)), None, "ended");
        assert_eq!(done(s(Status::InProgress, &first), s(Status::InProgress, &first)), None, "claimed");
        let elsewhere = Position::start(route, "u2", at("2026-03-03 08:00"), &cal, &hours);
        assert_eq!(done(s(Status::InProgress, &signing), s(Status::Received, &elsewhere)), None, "transferred");
        // Signed without a return step: the signing step is done where it stands.
        assert_eq!(done(s(Status::PendingApproval, &signing), s(Status::ResultReady, &signing)), Some(1));
        assert_eq!(done(s(Status::ResultReady, &signing), s(Status::Returned, &signing)), None, "counted when signed");
    }

    #[test]
    fn a_step_alerts_once_late_beyond_the_margin_in_working_hours() {
        let (cal, hours) = (Calendar::default(), OfficeHours::default());
        // Due Friday 16:00: on Monday 08:30, late by Friday's 60 minutes and Monday's 60.
        let (due, monday) = (at("2026-03-06 16:00"), at("2026-03-09 08:30"));
        assert_eq!(late_beyond(&cal, &hours, due, monday, 1), Some(120));
        assert_eq!(late_beyond(&cal, &hours, due, monday, 2), None, "exactly the margin is not beyond it");
        assert_eq!(late_beyond(&cal, &hours, monday, due, 0), None, "not late");
    }

    proptest! {
        /// The default process is valid for every processing time and
        /// spends it exactly.
        #[test]
        fn the_builtin_process_is_valid_and_spends_the_processing_time(days in 0u32..=365, per_day in 60u32..=1440) {
            let steps = builtin(days, per_day);
            prop_assert_eq!(validate(&steps, days, per_day), Ok(()));
            let total: u32 = steps.iter().map(|s| s.allotted_minutes).sum();
            prop_assert_eq!(total, budget(days, per_day));
        }
    }
}
