//! The dossier state machine of DESIGN.md §4: which action leads from which
//! status to which, and who may take it.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::process::{Here, StepKind};
use super::roles::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Submitted,
    SupplementRequested,
    Received,
    InProgress,
    AwaitingApplicant,
    PendingApproval,
    ResultReady,
    Returned,
    Rejected,
    Withdrawn,
    Stopped,
}

impl Status {
    pub const ALL: [Status; 11] = [
        Status::Submitted,
        Status::SupplementRequested,
        Status::Received,
        Status::InProgress,
        Status::AwaitingApplicant,
        Status::PendingApproval,
        Status::ResultReady,
        Status::Returned,
        Status::Rejected,
        Status::Withdrawn,
        Status::Stopped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Submitted => "submitted",
            Status::SupplementRequested => "supplement_requested",
            Status::Received => "received",
            Status::InProgress => "in_progress",
            Status::AwaitingApplicant => "awaiting_applicant",
            Status::PendingApproval => "pending_approval",
            Status::ResultReady => "result_ready",
            Status::Returned => "returned",
            Status::Rejected => "rejected",
            Status::Withdrawn => "withdrawn",
            Status::Stopped => "stopped",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Returned | Status::Rejected | Status::Withdrawn | Status::Stopped)
    }

    /// The statuses in which the clock runs against the desk: only these
    /// can be overdue.
    pub const CLOCK_RUNNING: [Status; 3] = [Status::Received, Status::InProgress, Status::PendingApproval];

    pub fn clock_runs(self) -> bool {
        Self::CLOCK_RUNNING.contains(&self)
    }

    /// Received by the desk and not yet finished: the clock runs (or is paused).
    pub fn is_in_processing(self) -> bool {
        matches!(self, Status::Received | Status::InProgress | Status::AwaitingApplicant | Status::PendingApproval)
    }

    /// Status code of the national public-service portal. Code 6 (awaiting
    /// payment) depends on the fee, not on the status.
    pub fn national_code(self) -> u8 {
        match self {
            Status::Submitted => 1,
            Status::Received => 2,
            Status::Rejected => 3,
            Status::InProgress | Status::PendingApproval => 4,
            Status::SupplementRequested | Status::AwaitingApplicant => 5,
            Status::Withdrawn => 7,
            Status::Stopped => 8,
            Status::ResultReady => 9,
            Status::Returned => 10,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Receive,
    RequestSupplement,
    Supplement,
    Reject,
    Assign,
    Claim,
    Release,
    Transfer,
    SubmitForApproval,
    ReturnForRework,
    Approve,
    ReturnResult,
    Withdraw,
    Stop,
    Apologize,
    Forward,
    ReturnToStep,
}

impl Action {
    pub const ALL: [Action; 17] = [
        Action::Receive,
        Action::RequestSupplement,
        Action::Supplement,
        Action::Reject,
        Action::Assign,
        Action::Claim,
        Action::Release,
        Action::Transfer,
        Action::SubmitForApproval,
        Action::ReturnForRework,
        Action::Approve,
        Action::ReturnResult,
        Action::Withdraw,
        Action::Stop,
        Action::Apologize,
        Action::Forward,
        Action::ReturnToStep,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Receive => "receive",
            Action::RequestSupplement => "request_supplement",
            Action::Supplement => "supplement",
            Action::Reject => "reject",
            Action::Assign => "assign",
            Action::Claim => "claim",
            Action::Release => "release",
            Action::Transfer => "transfer",
            Action::SubmitForApproval => "submit_for_approval",
            Action::ReturnForRework => "return_for_rework",
            Action::Approve => "approve",
            Action::ReturnResult => "return_result",
            Action::Withdraw => "withdraw",
            Action::Stop => "stop",
            Action::Apologize => "apologize",
            Action::Forward => "forward",
            Action::ReturnToStep => "return_to_step",
        }
    }

    /// Whether the action can change what the statistics count (dates,
    /// supplement requests, facts). Moving a dossier between people, units
    /// and the approval step does not: its counts stay where they are.
    pub fn is_counted(self) -> bool {
        !matches!(
            self,
            Action::Assign
                | Action::Claim
                | Action::Release
                | Action::Transfer
                | Action::SubmitForApproval
                | Action::ReturnForRework
                | Action::Forward
                | Action::ReturnToStep
        )
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a dossier event records (`GET /dossiers/{id}/events`): an action of
/// the state machine, or another change of the dossier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(untagged)]
pub enum EventAction {
    Workflow(Action),
    Other(Recorded),
}

/// A change of a dossier outside the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Recorded {
    /// Filed online by the applicant.
    Submit,
    /// Registered by a clerk at the desk or from the post.
    Register,
    /// A document added.
    Upload,
    /// The applicant's account bound after a clerk checked the national ID.
    BindApplicant,
    /// A payment recorded.
    Payment,
    /// The applicant's rating.
    Rate,
    RevokeResult,
    ReplaceResult,
}

impl EventAction {
    pub fn as_str(self) -> &'static str {
        match self {
            EventAction::Workflow(action) => action.as_str(),
            EventAction::Other(Recorded::Submit) => "submit",
            EventAction::Other(Recorded::Register) => "register",
            EventAction::Other(Recorded::Upload) => "upload",
            EventAction::Other(Recorded::BindApplicant) => "bind_applicant",
            EventAction::Other(Recorded::Payment) => "payment",
            EventAction::Other(Recorded::Rate) => "rate",
            EventAction::Other(Recorded::RevokeResult) => "revoke_result",
            EventAction::Other(Recorded::ReplaceResult) => "replace_result",
        }
    }

    /// The action an event recorded, from its stored name.
    pub fn parse(s: &str) -> Option<Self> {
        use Recorded::*;
        Action::ALL
            .into_iter()
            .map(EventAction::Workflow)
            .chain(
                [Submit, Register, Upload, BindApplicant, Payment, Rate, RevokeResult, ReplaceResult]
                    .map(EventAction::Other),
            )
            .find(|a| a.as_str() == s)
    }
}

impl From<Action> for EventAction {
    fn from(action: Action) -> Self {
        EventAction::Workflow(action)
    }
}

impl From<Recorded> for EventAction {
    fn from(other: Recorded) -> Self {
        EventAction::Other(other)
    }
}

/// What the dossier is now, as far as the rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Situation {
    pub status: Status,
    pub assigned: bool,
    /// Past its appointment date without a result.
    pub overdue: bool,
    /// A fee is still to be paid: the result cannot be returned.
    pub fee_due: bool,
    /// The step of its process it is at (docs/processes.md); `None` before
    /// reception, and for a dossier received before processes existed, which
    /// follows the default path (a specialist's step, then signing).
    pub step: Option<Here>,
}

impl Situation {
    /// The role of whoever does the current step.
    pub fn step_role(&self) -> Role {
        match (self.step, self.status) {
            (Some(here), _) => here.role,
            (None, Status::PendingApproval) => Role::Approver,
            (None, _) => Role::Specialist,
        }
    }

    /// The kind of the step after the current one.
    fn next_step(&self) -> Option<StepKind> {
        match self.step {
            Some(here) => here.next,
            None => Some(StepKind::Signing),
        }
    }

    /// At the first step of the process (or before any).
    fn at_first_step(&self) -> bool {
        self.step.is_none_or(|here| here.index == 0)
    }
}

/// Who asks, relative to the dossier.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub roles: &'a [Role],
    /// The dossier's applicant (owner of the account that filed it).
    pub is_applicant: bool,
    /// The specialist the dossier is assigned to.
    pub is_assignee: bool,
    /// The dossier's process keeps separation of duties and the caller did
    /// an earlier step of it: they may not sign its result (docs/processes.md).
    pub did_earlier_step: bool,
}

/// The status `action` leads to from `s`, whoever asks; None when the
/// action does not apply now.
pub fn target(s: Situation, action: Action) -> Option<Status> {
    use Status::*;
    let work_next = matches!(s.next_step(), Some(StepKind::Ordinary | StepKind::Review));
    let signing_next = s.next_step() == Some(StepKind::Signing);
    match (action, s.status) {
        (Action::Receive, Submitted) => Some(Received),
        (Action::RequestSupplement, Submitted) => Some(SupplementRequested),
        (Action::RequestSupplement, InProgress) => Some(AwaitingApplicant),
        (Action::Supplement, SupplementRequested) => Some(Submitted),
        (Action::Supplement, AwaitingApplicant) => Some(InProgress),
        (Action::Reject, Submitted | SupplementRequested) => Some(Rejected),
        (Action::Assign, Received | InProgress) => Some(InProgress),
        // Waiting in its step's queue: the first step's (received), a later
        // work step's, or the signing step's.
        (Action::Claim, Received) if !s.assigned => Some(InProgress),
        (Action::Claim, InProgress | PendingApproval) if !s.assigned => Some(s.status),
        (Action::Release, InProgress) if s.assigned && s.at_first_step() => Some(Received),
        (Action::Release, InProgress | PendingApproval) if s.assigned => Some(s.status),
        (Action::Transfer, Received | InProgress) => Some(Received),
        (Action::SubmitForApproval, InProgress) if signing_next => Some(PendingApproval),
        (Action::Forward, InProgress) if signing_next => Some(PendingApproval),
        (Action::Forward, InProgress) if work_next => Some(InProgress),
        (Action::ReturnForRework, PendingApproval) => Some(InProgress),
        (Action::ReturnToStep, InProgress | PendingApproval) if !s.at_first_step() => Some(InProgress),
        (Action::Approve, PendingApproval) => Some(ResultReady),
        (Action::ReturnResult, ResultReady) if !s.fee_due => Some(Returned),
        (
            Action::Withdraw,
            Submitted | SupplementRequested | Received | InProgress | AwaitingApplicant | PendingApproval,
        ) => Some(Withdrawn),
        (Action::Stop, Received | InProgress | AwaitingApplicant) => Some(Stopped),
        (Action::Apologize, st) if s.overdue && !st.is_terminal() && st != ResultReady => Some(st),
        _ => None,
    }
}

/// Whether `actor` may take `action` (assuming it applies to the status).
pub fn permitted(s: Situation, action: Action, actor: Actor<'_>) -> bool {
    let has = |r: Role| actor.roles.contains(&r);
    // Holds the current step: its holder, in the step's role.
    let holds = actor.is_assignee && has(s.step_role());
    // Signs: an approver, of a dossier nobody else holds.
    let signs = has(Role::Approver) && (!s.assigned || actor.is_assignee);
    match action {
        Action::Receive | Action::Reject | Action::Assign | Action::ReturnResult => has(Role::Clerk),
        Action::RequestSupplement => match s.status {
            Status::Submitted => has(Role::Clerk),
            _ => holds,
        },
        Action::Supplement | Action::Withdraw => actor.is_applicant,
        Action::Claim => has(s.step_role()),
        Action::Release => has(Role::Clerk) || holds,
        Action::Transfer => match s.status {
            Status::Received => has(Role::Clerk) || has(Role::Specialist),
            _ => has(Role::Clerk) || holds,
        },
        Action::SubmitForApproval | Action::Forward => holds,
        Action::ReturnToStep => match s.status {
            Status::PendingApproval => signs,
            _ => holds,
        },
        Action::Approve => signs && !actor.did_earlier_step,
        Action::ReturnForRework => signs,
        Action::Stop => has(Role::Approver),
        Action::Apologize => has(Role::Clerk) || has(Role::Specialist),
    }
}

/// The actions `actor` may take now.
pub fn allowed_actions(s: Situation, actor: Actor<'_>) -> Vec<Action> {
    Action::ALL.into_iter().filter(|a| target(s, *a).is_some() && permitted(s, *a, actor)).collect()
}

#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not possible from the current status (409), with what the caller can do instead.
    NotNow { allowed: Vec<Action> },
    /// Possible now, but not for this caller (403).
    NotYours,
}

/// The status after `action`, or why not.
pub fn transition(s: Situation, action: Action, actor: Actor<'_>) -> Result<Status, Refusal> {
    match target(s, action) {
        None => Err(Refusal::NotNow { allowed: allowed_actions(s, actor) }),
        Some(_) if !permitted(s, action, actor) => Err(Refusal::NotYours),
        Some(to) => Ok(to),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action as A;
    use Status as S;
    use proptest::prelude::*;

    const EVERYONE: [Role; 5] = [Role::Clerk, Role::Specialist, Role::Approver, Role::Auditor, Role::Admin];

    fn sit(status: Status) -> Situation {
        Situation { status, assigned: status == S::InProgress, overdue: false, fee_due: false, step: None }
    }

    fn all_powerful() -> Actor<'static> {
        Actor { roles: &EVERYONE, is_applicant: true, is_assignee: true, did_earlier_step: false }
    }

    /// The table of DESIGN.md §4, written out independently of `target`.
    fn design_table() -> Vec<(Action, Status, Status)> {
        use Status::*;
        let mut t = vec![
            (A::Receive, Submitted, Received),
            (A::RequestSupplement, Submitted, SupplementRequested),
            (A::RequestSupplement, InProgress, AwaitingApplicant),
            (A::Supplement, SupplementRequested, Submitted),
            (A::Supplement, AwaitingApplicant, InProgress),
            (A::Reject, Submitted, Rejected),
            (A::Reject, SupplementRequested, Rejected),
            (A::Assign, Received, InProgress),
            (A::Assign, InProgress, InProgress),
            (A::Release, InProgress, Received),
            (A::Transfer, Received, Received),
            (A::Transfer, InProgress, Received),
            (A::SubmitForApproval, InProgress, PendingApproval),
            (A::Forward, InProgress, PendingApproval),
            (A::ReturnForRework, PendingApproval, InProgress),
            (A::Approve, PendingApproval, ResultReady),
            (A::ReturnResult, ResultReady, Returned),
            (A::Stop, Received, Stopped),
            (A::Stop, InProgress, Stopped),
            (A::Stop, AwaitingApplicant, Stopped),
        ];
        for from in [Submitted, SupplementRequested, Received, InProgress, AwaitingApplicant, PendingApproval] {
            t.push((A::Withdraw, from, Withdrawn));
        }
        t
    }

    #[test]
    fn every_legal_action_from_every_status_and_nothing_else() {
        let table = design_table();
        for status in S::ALL {
            for action in A::ALL.into_iter().filter(|a| *a != A::Claim && *a != A::Apologize) {
                let expected = table.iter().find(|(a, from, _)| *a == action && *from == status).map(|(_, _, to)| *to);
                assert_eq!(target(sit(status), action), expected, "{action} from {status}");
                let result = transition(sit(status), action, all_powerful());
                match expected {
                    Some(to) => assert_eq!(result, Ok(to)),
                    None => assert!(matches!(result, Err(Refusal::NotNow { .. })), "{action} from {status}"),
                }
            }
        }
    }

    #[test]
    fn claims_take_only_unassigned_dossiers_waiting_at_a_step() {
        let received = Situation { status: S::Received, assigned: false, overdue: false, fee_due: false, step: None };
        assert_eq!(target(received, A::Claim), Some(S::InProgress));
        assert_eq!(target(Situation { assigned: true, ..received }, A::Claim), None);
        for status in [S::InProgress, S::PendingApproval] {
            assert_eq!(target(Situation { status, ..received }, A::Claim), Some(status), "{status}");
            assert_eq!(target(Situation { status, assigned: true, ..received }, A::Claim), None, "{status}");
        }
        for status in S::ALL.into_iter().filter(|s| ![S::Received, S::InProgress, S::PendingApproval].contains(s)) {
            assert_eq!(target(Situation { status, ..received }, A::Claim), None, "{status}");
        }
    }

    /// A four-step process: examine (specialist), review (approver), sign, return.
    fn at_step(status: Status, index: usize, assigned: bool) -> Situation {
        let kinds = [StepKind::Ordinary, StepKind::Review, StepKind::Signing, StepKind::Return];
        let roles = [Role::Specialist, Role::Approver, Role::Approver, Role::Clerk];
        let step = Here { index, role: roles[index], kind: kinds[index], next: kinds.get(index + 1).copied() };
        Situation { status, assigned, overdue: false, fee_due: false, step: Some(step) }
    }

    #[test]
    fn steps_decide_where_a_forward_goes_and_who_works_them() {
        let holder =
            |roles: &'static [Role]| Actor { roles, is_applicant: false, is_assignee: true, did_earlier_step: false };
        let other = |roles: &'static [Role]| Actor { is_assignee: false, ..holder(roles) };
        // Examining: forward to the review step (still in progress), not yet to signing.
        let examining = at_step(S::InProgress, 0, true);
        assert_eq!(target(examining, A::Forward), Some(S::InProgress));
        assert_eq!(target(examining, A::SubmitForApproval), None);
        assert_eq!(target(examining, A::ReturnToStep), None, "nothing earlier");
        assert!(permitted(examining, A::Forward, holder(&[Role::Specialist])));
        assert!(!permitted(examining, A::Forward, other(&[Role::Specialist])));
        // Waiting for review: claimed by an approver, not by a specialist.
        let review_queue = at_step(S::InProgress, 1, false);
        assert!(permitted(review_queue, A::Claim, other(&[Role::Approver])));
        assert!(!permitted(review_queue, A::Claim, other(&[Role::Specialist])));
        assert_eq!(target(review_queue, A::Release), None, "nobody holds it");
        // Reviewing: on to signing, or back to the examination.
        let reviewing = at_step(S::InProgress, 1, true);
        assert_eq!(target(reviewing, A::Forward), Some(S::PendingApproval));
        assert_eq!(target(reviewing, A::SubmitForApproval), Some(S::PendingApproval));
        assert_eq!(target(reviewing, A::ReturnToStep), Some(S::InProgress));
        assert_eq!(target(reviewing, A::Release), Some(S::InProgress), "back to the review queue");
        assert!(!permitted(reviewing, A::Forward, holder(&[Role::Specialist])), "a review is an approver's");
        // Signing: any approver while nobody holds it, only its holder once claimed.
        let signing = at_step(S::PendingApproval, 2, false);
        assert!(permitted(signing, A::Approve, other(&[Role::Approver])));
        assert!(permitted(signing, A::ReturnToStep, other(&[Role::Approver])));
        let held = at_step(S::PendingApproval, 2, true);
        assert!(!permitted(held, A::Approve, other(&[Role::Approver])));
        assert!(permitted(held, A::Approve, holder(&[Role::Approver])));
    }

    #[test]
    fn apologies_only_for_overdue_unfinished_dossiers_and_keep_the_status() {
        for status in S::ALL {
            let overdue = Situation { status, assigned: false, overdue: true, fee_due: false, step: None };
            let expected = (!status.is_terminal() && status != S::ResultReady).then_some(status);
            assert_eq!(target(overdue, A::Apologize), expected, "{status}");
            assert_eq!(target(sit(status), A::Apologize), None, "{status} not overdue");
        }
    }

    #[test]
    fn terminal_statuses_allow_nothing() {
        for status in S::ALL.into_iter().filter(|s| s.is_terminal()) {
            let s = Situation { status, assigned: false, overdue: true, fee_due: true, step: None };
            assert!(allowed_actions(s, all_powerful()).is_empty(), "{status}");
        }
    }

    #[test]
    fn roles_decide_who_acts() {
        let clerk = Actor { roles: &[Role::Clerk], is_applicant: false, is_assignee: false, did_earlier_step: false };
        let specialist = Actor { roles: &[Role::Specialist], ..clerk };
        let assignee = Actor { is_assignee: true, ..specialist };
        let approver = Actor { roles: &[Role::Approver], ..clerk };
        let applicant = Actor { roles: &[Role::Citizen], is_applicant: true, ..clerk };
        let auditor = Actor { roles: &[Role::Auditor], ..clerk };

        assert_eq!(allowed_actions(sit(S::Submitted), clerk), [A::Receive, A::RequestSupplement, A::Reject]);
        assert_eq!(allowed_actions(sit(S::Submitted), applicant), [A::Withdraw]);
        assert_eq!(transition(sit(S::Submitted), A::Receive, applicant), Err(Refusal::NotYours));
        let received = Situation { status: S::Received, assigned: false, overdue: false, fee_due: false, step: None };
        assert_eq!(allowed_actions(received, specialist), [A::Claim, A::Transfer]);
        assert_eq!(allowed_actions(received, clerk), [A::Assign, A::Transfer]);
        assert_eq!(allowed_actions(sit(S::InProgress), specialist), Vec::<Action>::new());
        assert_eq!(
            allowed_actions(sit(S::InProgress), assignee),
            [A::RequestSupplement, A::Release, A::Transfer, A::SubmitForApproval, A::Forward]
        );
        assert_eq!(allowed_actions(sit(S::PendingApproval), approver), [A::Claim, A::ReturnForRework, A::Approve]);
        assert_eq!(allowed_actions(sit(S::InProgress), approver), [A::Stop]);
        assert_eq!(allowed_actions(sit(S::AwaitingApplicant), applicant), [A::Supplement, A::Withdraw]);
        assert_eq!(allowed_actions(sit(S::ResultReady), clerk), [A::ReturnResult]);
        assert_eq!(allowed_actions(sit(S::ResultReady), applicant), Vec::<Action>::new());
        for status in S::ALL {
            let s = Situation { status, assigned: true, overdue: true, fee_due: false, step: None };
            assert!(allowed_actions(s, auditor).is_empty(), "auditors only read");
        }
    }

    #[test]
    fn refusals_list_what_is_allowed() {
        let clerk = Actor { roles: &[Role::Clerk], is_applicant: false, is_assignee: false, did_earlier_step: false };
        assert_eq!(
            transition(sit(S::Submitted), A::Approve, clerk),
            Err(Refusal::NotNow { allowed: vec![A::Receive, A::RequestSupplement, A::Reject] })
        );
    }

    #[test]
    fn an_unpaid_fee_blocks_returning_the_result_and_nothing_else() {
        let unpaid = Situation { status: S::ResultReady, assigned: false, overdue: false, fee_due: true, step: None };
        assert_eq!(target(unpaid, A::ReturnResult), None);
        assert_eq!(target(Situation { fee_due: false, ..unpaid }, A::ReturnResult), Some(S::Returned));
        for status in S::ALL.into_iter().filter(|s| *s != S::ResultReady) {
            for action in A::ALL {
                let due = Situation { status, assigned: false, overdue: false, fee_due: true, step: None };
                assert_eq!(target(due, action), target(Situation { fee_due: false, ..due }, action));
            }
        }
    }

    #[test]
    fn event_actions_read_back() {
        for a in Action::ALL {
            assert_eq!(EventAction::parse(EventAction::Workflow(a).as_str()), Some(EventAction::Workflow(a)));
        }
        assert_eq!(EventAction::parse("payment"), Some(EventAction::Other(Recorded::Payment)));
        assert_eq!(EventAction::parse("replace_result"), Some(EventAction::Other(Recorded::ReplaceResult)));
        assert_eq!(EventAction::parse("nothing"), None);
    }

    #[test]
    fn national_codes() {
        let codes: Vec<u8> = S::ALL.iter().map(|s| s.national_code()).collect();
        assert_eq!(codes, [1, 5, 2, 4, 5, 4, 9, 10, 3, 7, 8]);
        for s in S::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
    }

    proptest! {
        /// Any status name, and any situation × action × caller: never a
        /// panic, and a transition happens exactly when the action applies
        /// now and the caller may take it.
        #[test]
        fn arbitrary_situations_never_panic(
            name in "\\PC{0,24}", status in proptest::sample::select(Status::ALL.to_vec()),
            action in proptest::sample::select(Action::ALL.to_vec()),
            flags in any::<[bool; 5]>(), roles in proptest::sample::subsequence([&[Role::Citizen][..], &Role::STAFF].concat(), 0..=6),
        ) {
            prop_assert_eq!(Status::parse(&name).map(Status::as_str), Status::ALL.iter().map(|s| s.as_str()).find(|s| *s == name));
            let s = Situation { status, assigned: flags[0], overdue: flags[1], fee_due: flags[2], step: None };
            let actor = Actor { roles: &roles, is_applicant: flags[3], is_assignee: flags[4], did_earlier_step: false };
            let expected = target(s, action).filter(|_| permitted(s, action, actor));
            prop_assert_eq!(transition(s, action, actor).ok(), expected);
            prop_assert_eq!(allowed_actions(s, actor).contains(&action), expected.is_some());
        }
    }
}
