//! The [`Notifier`]: one function per message. Each renders its message in
//! the recipient's language and queues it in the caller's transaction, so
//! that the message exists exactly when the change that causes it does.

use std::sync::Arc;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::Serialize;

use super::templates::render;
use super::{Kind, Locale, outbox};
use crate::auth::users::UserRow;
use crate::config::NotificationSettings;
use crate::db::DbConnection;
use crate::db::schema::{dossiers, procedures, units, users};
use crate::dossiers::DossierRow;
use crate::dossiers::actions::ActionRequest;
use crate::error::ApiError;

/// Queues the messages; cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    settings: Arc<NotificationSettings>,
}

/// A dossier line of the staff digest.
#[derive(Debug, Clone, Serialize)]
pub struct DigestLine {
    pub code: String,
    pub procedure: String,
    /// Local appointment date, `dd/mm/yyyy HH:MM`.
    pub due_at: String,
}

/// Local time as the messages show it: `dd/mm/yyyy HH:MM` (Asia/Ho_Chi_Minh).
pub fn local_time(t: NaiveDateTime) -> String {
    crate::dossiers::local(t).format("%d/%m/%Y %H:%M").to_string()
}

/// The province's public lookup page for a dossier
/// (`notifications.lookup_page_url` with the code filled in), if it has one.
/// The page asks for the national ID: a link never carries it.
pub fn lookup_link(settings: &NotificationSettings, row: &DossierRow) -> Option<String> {
    settings.lookup_page_url.as_ref().map(|page| page.replace("{code}", &row.code))
}

/// Where anyone checks a result: the public verification of its e-result,
/// or, for a paper result, the dossier's lookup page.
pub fn result_verification_link(
    settings: &NotificationSettings,
    row: &DossierRow,
    number: Option<&str>,
) -> Option<String> {
    match number {
        Some(number) => Some(format!("{}/api/v1/verify/{number}", settings.public_base_url)),
        None => lookup_link(settings, row),
    }
}

/// Where the applicant rates the handling of a dossier (`POST /dossiers/{id}/rating`).
pub fn rating_link(base: &str, row: &DossierRow) -> String {
    format!("{base}/api/v1/dossiers/{}/rating", row.id)
}

/// A dossier's applicant as a recipient, with what every dossier message shows.
struct DossierMail {
    row: DossierRow,
    recipient: String,
    locale: Locale,
    procedure: String,
    unit: String,
}

impl DossierMail {
    /// `None` when the applicant gave no e-mail address: nothing to send.
    fn load(conn: &mut DbConnection, dossier_id: &str) -> Result<Option<Self>, ApiError> {
        let (row, procedure, unit): (DossierRow, String, String) = dossiers::table
            .inner_join(procedures::table)
            .inner_join(units::table.on(units::id.eq(dossiers::unit_id)))
            .filter(dossiers::id.eq(dossier_id))
            .select((DossierRow::as_select(), procedures::name, units::name))
            .first(conn)?;
        let Some(recipient) = row.applicant_email.clone() else { return Ok(None) };
        let locale: Option<String> = match &row.applicant_user_id {
            Some(user) => users::table.find(user).select(users::locale).first(conn).optional()?,
            None => None,
        };
        Ok(Some(Self { row, recipient, locale: Locale::from_account(locale.as_deref()), procedure, unit }))
    }

    fn context(&self) -> Value {
        context! {
            name => &self.row.applicant_name,
            code => &self.row.code,
            procedure => &self.procedure,
            unit => &self.unit,
        }
    }
}

impl Notifier {
    pub fn new(settings: &NotificationSettings) -> Self {
        Self { settings: Arc::new(settings.clone()) }
    }

    pub fn settings(&self) -> &NotificationSettings {
        &self.settings
    }

    fn base(&self) -> &str {
        &self.settings.public_base_url
    }

    fn queue(
        &self,
        conn: &mut DbConnection,
        kind: Kind,
        locale: Locale,
        recipient: &str,
        dossier_id: Option<&str>,
        ctx: Value,
    ) -> Result<(), ApiError> {
        let message = render(kind, locale, ctx).map_err(ApiError::internal)?;
        outbox::enqueue(conn, kind, recipient, message, dossier_id)?;
        Ok(())
    }

    fn queue_for_dossier(
        &self,
        conn: &mut DbConnection,
        kind: Kind,
        dossier_id: &str,
        extra: impl FnOnce(&Self, &DossierMail) -> Value,
    ) -> Result<(), ApiError> {
        let Some(mail) = DossierMail::load(conn, dossier_id)? else { return Ok(()) };
        let ctx = context! { ..extra(self, &mail), ..mail.context() };
        self.queue(conn, kind, mail.locale, &mail.recipient, Some(dossier_id), ctx)
    }

    /// The link that verifies `user`'s e-mail address with `token`.
    pub fn verify_email(&self, conn: &mut DbConnection, user: &UserRow, token: &str) -> Result<(), ApiError> {
        let ctx = context! {
            name => &user.full_name,
            link => format!("{}/api/v1/auth/verify-email?token={token}", self.base()),
            ttl_hours => self.settings.verification_ttl_hours,
        };
        self.queue(conn, Kind::VerifyEmail, Locale::from_account(Some(&user.locale)), &user.email, None, ctx)
    }

    /// To the owner of an address someone tried to register again: sign in,
    /// or choose a new password (no link that works by itself).
    pub fn account_exists(&self, conn: &mut DbConnection, user: &UserRow) -> Result<(), ApiError> {
        let ctx = context! {
            name => &user.full_name,
            link => format!("{}/api/v1/auth/password-reset", self.base()),
        };
        self.queue(conn, Kind::AccountExists, Locale::from_account(Some(&user.locale)), &user.email, None, ctx)
    }

    /// The link that lets `user` choose a new password with `token`.
    pub fn password_reset(&self, conn: &mut DbConnection, user: &UserRow, token: &str) -> Result<(), ApiError> {
        let ctx = context! {
            name => &user.full_name,
            link => format!("{}/api/v1/auth/password-reset/confirm?token={token}", self.base()),
            ttl_minutes => self.settings.password_reset_ttl_minutes,
        };
        self.queue(conn, Kind::PasswordReset, Locale::from_account(Some(&user.locale)), &user.email, None, ctx)
    }

    /// The receipt with the code and the appointment date: on `receive`, and
    /// on counter or postal registration.
    pub fn dossier_received(&self, conn: &mut DbConnection, dossier_id: &str) -> Result<(), ApiError> {
        self.queue_for_dossier(conn, Kind::DossierReceived, dossier_id, |n, m| {
            context! {
                received_at => m.row.received_at.map(local_time).unwrap_or_default(),
                due_at => m.row.due_at.map(local_time).unwrap_or_default(),
                lookup_link => lookup_link(&n.settings, &m.row),
            }
        })
    }

    /// The message that a dossier action sends, if any, once the action is applied.
    pub fn after_action(
        &self,
        conn: &mut DbConnection,
        dossier_id: &str,
        request: &ActionRequest,
    ) -> Result<(), ApiError> {
        match request {
            ActionRequest::Receive { .. } => self.dossier_received(conn, dossier_id),
            ActionRequest::RequestSupplement { reason, items } => {
                self.queue_for_dossier(conn, Kind::SupplementRequested, dossier_id, |_, _| {
                    context! { reason => reason.trim(), items => items.iter().map(|i| i.trim().to_string()).collect::<Vec<_>>() }
                })
            }
            ActionRequest::Reject { reason } => {
                self.queue_for_dossier(conn, Kind::DossierRejected, dossier_id, |_, _| {
                    context! { reason => reason.trim() }
                })
            }
            ActionRequest::Apologize { reason, .. } => {
                self.queue_for_dossier(conn, Kind::Apology, dossier_id, |_, m| {
                    context! {
                        reason => reason.trim(),
                        original_due_at => m.row.original_due_at.map(local_time).unwrap_or_default(),
                        new_due_at => m.row.due_at.map(local_time).unwrap_or_default(),
                    }
                })
            }
            ActionRequest::Approve { .. } => {
                let number = crate::results::current(conn, dossier_id)?.map(|r| r.number);
                self.queue_for_dossier(conn, Kind::ResultReady, dossier_id, |n, m| {
                    context! { verification_link => result_verification_link(&n.settings, &m.row, number.as_deref()) }
                })
            }
            ActionRequest::ReturnResult { .. } => {
                self.queue_for_dossier(conn, Kind::RatingInvitation, dossier_id, |n, m| {
                    context! { rating_link => rating_link(n.base(), &m.row) }
                })
            }
            ActionRequest::Supplement { .. }
            | ActionRequest::Assign { .. }
            | ActionRequest::Claim {}
            | ActionRequest::Release { .. }
            | ActionRequest::Transfer { .. }
            | ActionRequest::SubmitForApproval { .. }
            | ActionRequest::ReturnForRework { .. }
            | ActionRequest::Forward { .. }
            | ActionRequest::ReturnToStep { .. }
            | ActionRequest::Withdraw { .. }
            | ActionRequest::Stop { .. } => Ok(()),
        }
    }

    /// A staff member's daily digest: `overdue` and `soon` list at most a
    /// page each of the `*_total` dossiers.
    pub fn staff_digest(
        &self,
        conn: &mut DbConnection,
        user: &UserRow,
        day: &str,
        (overdue, overdue_total): (Vec<DigestLine>, usize),
        (soon, soon_total): (Vec<DigestLine>, usize),
    ) -> Result<(), ApiError> {
        let ctx = context! {
            name => &user.full_name,
            day,
            overdue => Value::from(Serde(&overdue)),
            overdue_total,
            soon => Value::from(Serde(&soon)),
            soon_total,
        };
        self.queue(conn, Kind::StaffDigest, Locale::from_account(Some(&user.locale)), &user.email, None, ctx)
    }

    /// Tells `approver` that a step of dossier `dossier_id` is late
    /// (`alerts::alert_late_steps` builds `ctx`).
    pub fn step_late(
        &self,
        conn: &mut DbConnection,
        approver: &UserRow,
        dossier_id: &str,
        ctx: Value,
    ) -> Result<(), ApiError> {
        let locale = Locale::from_account(Some(&approver.locale));
        self.queue(conn, Kind::StepLate, locale, &approver.email, Some(dossier_id), ctx)
    }

    /// The unit's answer to a complaint, to the citizen who lodged it.
    pub fn complaint_answered(
        &self,
        conn: &mut DbConnection,
        applicant_id: &str,
        complaint: &crate::complaints::ComplaintView,
    ) -> Result<(), ApiError> {
        use crate::db::schema::{dossiers, units, users};
        let (email, name, locale): (String, String, String) =
            users::table.find(applicant_id).select((users::email, users::full_name, users::locale)).first(conn)?;
        let unit: String = units::table.find(&complaint.unit_id).select(units::name).first(conn)?;
        let code: Option<String> = match &complaint.dossier_id {
            Some(id) => Some(dossiers::table.find(id).select(dossiers::code).first(conn)?),
            None => None,
        };
        let ctx = context! {
            name => name,
            unit => unit,
            code => code,
            subject => &complaint.subject,
            lodged_at => local_time(complaint.lodged_at.naive_utc()),
            answer => complaint.answer.as_deref().unwrap_or_default(),
            substantiated => complaint.substantiated.unwrap_or(false),
        };
        let locale = Locale::from_account(Some(&locale));
        self.queue(conn, Kind::ComplaintAnswered, locale, &email, complaint.dossier_id.as_deref(), ctx)
    }
}
