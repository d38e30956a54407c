//! Notifications: every e-mail is a row of the transactional outbox, rendered
//! and written in the transaction of the change that causes it, then
//! delivered over SMTP by a worker that retries with backoff and gives up
//! into a dead-letter state that administrators list and retry.
//!
//! - `messages`: the [`Notifier`], one function per message, called by the
//!   features (registration, password reset, dossier actions).
//! - `templates`: the message templates under `templates/email/`, embedded.
//! - `outbox`: the table: enqueue, claim with a lease, settle.
//! - `mailer`: SMTP through lettre.
//! - `worker`: the delivery loop (`motcua serve`, `motcua worker`).
//! - `digest`: the staff's daily digest.
//! - `routes`: `/api/v1/admin/outbox`.

pub mod alerts;
pub mod digest;
pub mod mailer;
pub mod messages;
pub mod outbox;
pub mod routes;
pub mod templates;
pub mod worker;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use messages::Notifier;

/// What a message is about; names its templates and is stored with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    VerifyEmail,
    AccountExists,
    PasswordReset,
    DossierReceived,
    SupplementRequested,
    DossierRejected,
    Apology,
    ResultReady,
    RatingInvitation,
    StaffDigest,
    /// To the approvers of a unit: a step of a dossier there is late.
    StepLate,
    /// To a citizen: the unit's answer to their complaint.
    ComplaintAnswered,
}

impl Kind {
    pub const ALL: [Kind; 12] = [
        Kind::VerifyEmail,
        Kind::AccountExists,
        Kind::PasswordReset,
        Kind::DossierReceived,
        Kind::SupplementRequested,
        Kind::DossierRejected,
        Kind::Apology,
        Kind::ResultReady,
        Kind::RatingInvitation,
        Kind::StaffDigest,
        Kind::StepLate,
        Kind::ComplaintAnswered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::VerifyEmail => "verify_email",
            Kind::AccountExists => "account_exists",
            Kind::PasswordReset => "password_reset",
            Kind::DossierReceived => "dossier_received",
            Kind::SupplementRequested => "supplement_requested",
            Kind::DossierRejected => "dossier_rejected",
            Kind::Apology => "apology",
            Kind::ResultReady => "result_ready",
            Kind::RatingInvitation => "rating_invitation",
            Kind::StaffDigest => "staff_digest",
            Kind::StepLate => "step_late",
            Kind::ComplaintAnswered => "complaint_answered",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Messages carrying a single-use link: their bodies are wiped once
    /// delivered, so that the outbox does not keep working credentials.
    pub fn carries_secret(self) -> bool {
        matches!(self, Kind::VerifyEmail | Kind::PasswordReset)
    }
}

/// The language of a message: the recipient account's `locale`, Vietnamese
/// unless it says English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    Vi,
    En,
}

impl Locale {
    pub const ALL: [Locale; 2] = [Locale::Vi, Locale::En];

    pub fn from_account(locale: Option<&str>) -> Self {
        if locale == Some("en") { Locale::En } else { Locale::Vi }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Locale::Vi => "vi",
            Locale::En => "en",
        }
    }
}
