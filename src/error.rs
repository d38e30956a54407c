//! The one error type of the HTTP layer, rendered as RFC 9457
//! `application/problem+json` with a stable machine `code`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::dossier::{RATING_CHANGEABLE_DAYS, Refusal};
use crate::domain::workflow::Action;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// One invalid field of a request.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    /// JSON path of the field, e.g. `components[0].name`.
    pub field: String,
    pub message: String,
}

/// Defines [`ProblemCode`]: each variant with the code clients see.
macro_rules! problem_codes {
    ($($variant:ident = $code:literal,)*) => {
        /// The stable, machine-readable code of a problem (`Problem.code`):
        /// what a client branches on. Every code is listed in docs/api.md
        /// (a test in tests/http.rs keeps the two together).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum ProblemCode {
            $($variant,)*
        }

        impl ProblemCode {
            pub const ALL: &[ProblemCode] = &[$(ProblemCode::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ProblemCode::$variant => $code,)*
                }
            }
        }
    };
}

problem_codes! {
    AlreadyVerified = "already_verified",
    AmountMismatch = "amount_mismatch",
    BadRequest = "bad_request",
    BodyTimeout = "body_timeout",
    ComplaintAnswered = "complaint_answered",
    Conflict = "conflict",
    DailyUploadQuotaExceeded = "daily_upload_quota_exceeded",
    DossierLocked = "dossier_locked",
    DossierMismatch = "dossier_mismatch",
    DossierQuotaExceeded = "dossier_quota_exceeded",
    EmailNotVerified = "email_not_verified",
    EmailTaken = "email_taken",
    FeeUnpaid = "fee_unpaid",
    SeparationOfDuties = "separation_of_duties",
    Forbidden = "forbidden",
    IdempotencyKeyReused = "idempotency_key_reused",
    IdentityAlreadyVerified = "identity_already_verified",
    IllegalAction = "illegal_action",
    InternalError = "internal_error",
    InvalidCredentials = "invalid_credentials",
    InvalidHeader = "invalid_header",
    InvalidLink = "invalid_link",
    InvalidQuery = "invalid_query",
    InvalidSignature = "invalid_signature",
    InvalidToken = "invalid_token",
    MalformedBody = "malformed_body",
    MalformedJson = "malformed_json",
    MalformedMultipart = "malformed_multipart",
    MethodNotAllowed = "method_not_allowed",
    NationalIdTaken = "national_id_taken",
    NotAssessed = "not_assessed",
    NotDeadLetter = "not_dead_letter",
    NotFound = "not_found",
    NotRateable = "not_rateable",
    NothingToPay = "nothing_to_pay",
    PayloadTooLarge = "payload_too_large",
    PaymentMismatch = "payment_mismatch",
    PaymentNotPending = "payment_not_pending",
    PortalCodeReused = "portal_code_reused",
    DocumentUnavailable = "document_unavailable",
    PreconditionFailed = "precondition_failed",
    ProcedureCodeTaken = "procedure_code_taken",
    ProviderRefReused = "provider_ref_reused",
    RateLimited = "rate_limited",
    RatingLocked = "rating_locked",
    ResultNotValid = "result_not_valid",
    ServiceUnavailable = "service_unavailable",
    StorageFull = "storage_full",
    StorageLow = "storage_low",
    TooManyOpenComplaints = "too_many_open_complaints",
    TooManyUploads = "too_many_uploads",
    Unauthenticated = "unauthenticated",
    UnitCodeTaken = "unit_code_taken",
    UnsupportedFileType = "unsupported_file_type",
    UnsupportedMediaType = "unsupported_media_type",
    ValidationFailed = "validation_failed",
}

impl std::fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// `urn:motcua:problem:{code}`.
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: ProblemCode,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// With `illegal_action`: what the caller may do instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_actions: Option<Vec<Action>>,
}

#[derive(Debug, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ProblemCode,
    pub detail: String,
    pub errors: Vec<FieldError>,
    pub retry_after_secs: Option<u64>,
    pub allowed_actions: Option<Vec<Action>>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ProblemCode, detail: impl Into<String>) -> Self {
        Self { status, code, detail: detail.into(), errors: Vec::new(), retry_after_secs: None, allowed_actions: None }
    }

    pub fn bad_request(code: ProblemCode, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 422 with one message per invalid field.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            _ => format!("{} fields are invalid", errors.len()),
        };
        Self { errors, ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, ProblemCode::ValidationFailed, detail) }
    }

    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError { field: field.into(), message: message.into() }])
    }

    pub fn unauthorized(code: ProblemCode, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, ProblemCode::Forbidden, detail)
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, ProblemCode::NotFound, "The resource does not exist or is not visible to you.")
    }

    pub fn conflict(code: ProblemCode, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    /// 409: the action does not apply to the dossier's current status.
    pub fn illegal_action(
        action: crate::domain::workflow::Action,
        status: crate::domain::workflow::Status,
        allowed: Vec<crate::domain::workflow::Action>,
    ) -> Self {
        Self {
            allowed_actions: Some(allowed),
            ..Self::conflict(
                ProblemCode::IllegalAction,
                format!("`{action}` is not possible while the dossier is {status}."),
            )
        }
    }

    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        Self {
            retry_after_secs: Some(retry_after_secs.max(1)),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, ProblemCode::RateLimited, "Too many attempts; try again later.")
        }
    }

    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ProblemCode::ServiceUnavailable,
            "The service is temporarily unavailable; try again shortly.",
        )
    }

    /// 503 with `Retry-After: 1`: the change was rolled back, try it again.
    pub fn retry_soon() -> Self {
        Self { retry_after_secs: Some(1), ..Self::unavailable() }
    }

    /// 507: the disk holding documents or the database is full. Nothing
    /// changed; an operator must free space.
    pub fn storage_full() -> Self {
        tracing::error!("storage full: a write was refused");
        Self {
            retry_after_secs: Some(60),
            ..Self::new(
                StatusCode::INSUFFICIENT_STORAGE,
                ProblemCode::StorageFull,
                "The service has no room to store this now; nothing was changed. Try again later.",
            )
        }
    }

    /// A failure of the file store: `storage_full` when the disk is full,
    /// internal otherwise.
    pub fn storage(e: std::io::Error) -> Self {
        if crate::storage::is_full(&e) { Self::storage_full() } else { Self::internal(e) }
    }

    /// A failure that is ours, not the caller's: logged here, never shown.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, ProblemCode::InternalError, "An internal error occurred.")
    }

    /// A problem for a bare status produced outside our handlers (unknown
    /// route, wrong method…).
    pub fn from_status(status: StatusCode) -> Self {
        let (code, detail) = match status {
            StatusCode::NOT_FOUND => return Self::not_found(),
            StatusCode::METHOD_NOT_ALLOWED => {
                (ProblemCode::MethodNotAllowed, "This method is not allowed on this resource.")
            }
            StatusCode::PAYLOAD_TOO_LARGE => (ProblemCode::PayloadTooLarge, "The request body is too large."),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                (ProblemCode::UnsupportedMediaType, "The content type is not supported.")
            }
            s if s.is_server_error() => (ProblemCode::InternalError, "An internal error occurred."),
            _ => (ProblemCode::BadRequest, "The request is invalid."),
        };
        Self::new(status, code, detail)
    }

    pub fn problem(&self) -> Problem {
        Problem {
            type_: format!("urn:motcua:problem:{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_string(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code,
            errors: self.errors.clone(),
            allowed_actions: self.allowed_actions.clone(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        res.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        if let Some(secs) = self.retry_after_secs {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        res.body(serde_json::to_string(&self.problem()).unwrap_or_default())
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        use crate::db::backend::{Constraint, unique_violation};
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => Self::not_found(),
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => match unique_violation(&e) {
                Some(Constraint::UserEmail) => {
                    Self::conflict(ProblemCode::EmailTaken, "An account with this e-mail exists.")
                }
                Some(Constraint::UserNationalId) => {
                    Self::conflict(ProblemCode::NationalIdTaken, "A verified account holds this national ID.")
                }
                Some(Constraint::UnitCode) => {
                    Self::conflict(ProblemCode::UnitCodeTaken, "A unit with this code exists.")
                }
                Some(Constraint::ProcedureCode) => {
                    Self::conflict(ProblemCode::ProcedureCodeTaken, "A procedure with this code exists.")
                }
                Some(Constraint::ProviderRef) => Refusal::ProviderRefReused.into(),
                // Invariants the dossier's lock keeps; the database refuses a second effect too.
                Some(Constraint::OneValidResult | Constraint::OnePayment | Constraint::OneRating) | None => {
                    tracing::warn!(error = %e, "unique violation");
                    Self::conflict(
                        ProblemCode::Conflict,
                        "This conflicts with a change made at the same moment; reload and retry.",
                    )
                }
            },
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => Self::unavailable(),
            Error::DatabaseError(_, ref info) if crate::db::backend::is_disk_full(info.as_ref()) => {
                Self::storage_full()
            }
            // Rolled back by the database to break a cycle of waits: nothing
            // changed, and the same request succeeds when sent again.
            Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => Self::retry_soon(),
            Error::DatabaseError(_, info) if info.message().contains("deadlock detected") => {
                tracing::warn!(error = %info.message(), "transaction rolled back to break a deadlock");
                Self::retry_soon()
            }
            // PostgreSQL refuses NUL in text: the caller's input, not our fault.
            Error::DatabaseError(_, info) if info.message().contains("invalid byte sequence") => {
                Self::invalid_field("body", "text may not contain NUL characters")
            }
            other => Self::internal(other),
        }
    }
}

/// A refusal of the rules (`src/domain/dossier.rs`) as the caller sees it.
impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        let unprocessable = |code, detail: &str| Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail);
        match r {
            Refusal::NotNow { action, status, allowed } => Self::illegal_action(action, status, allowed),
            Refusal::NotYours { action } => {
                Self::forbidden(format!("You may not {} this dossier.", action.as_str().replace('_', " ")))
            }
            Refusal::SeparationOfDuties => Self::new(
                StatusCode::FORBIDDEN,
                ProblemCode::SeparationOfDuties,
                "You did an earlier step of this dossier: another approver signs it (separation of duties).",
            ),
            Refusal::FeeUnpaid => {
                Self::conflict(ProblemCode::FeeUnpaid, "The fee must be paid before the result is handed over.")
            }
            Refusal::Invalid { field, message } => Self::invalid_field(field, message),
            Refusal::Forbidden(detail) => Self::forbidden(detail),
            Refusal::DocumentsLocked { status } => Self::conflict(
                ProblemCode::DossierLocked,
                format!("Documents cannot be added while the dossier is {status}."),
            ),
            Refusal::ResultLocked { status } => Self::conflict(
                ProblemCode::DossierLocked,
                format!("A result is prepared while in progress or pending approval, not {status}."),
            ),
            Refusal::ResultNotValid { status } => {
                Self::conflict(ProblemCode::ResultNotValid, format!("The result is already {}.", status.as_str()))
            }
            Refusal::NothingToPay => Self::conflict(ProblemCode::NothingToPay, "This dossier has no fee to pay."),
            Refusal::PaymentNotPending { status } => {
                Self::conflict(ProblemCode::PaymentNotPending, format!("The payment is already {}.", status.as_str()))
            }
            Refusal::ProviderRefReused => Self::conflict(
                ProblemCode::ProviderRefReused,
                "This provider reference is recorded for another payment, dossier, amount or outcome.",
            ),
            Refusal::PaymentMismatch => {
                unprocessable(ProblemCode::PaymentMismatch, "No payment of this provider has this id.")
            }
            Refusal::DossierMismatch => {
                unprocessable(ProblemCode::DossierMismatch, "The payment belongs to another dossier.")
            }
            Refusal::AmountMismatch => {
                unprocessable(ProblemCode::AmountMismatch, "The amount differs from the fee to pay.")
            }
            Refusal::NotRateable { status } => Self::conflict(
                ProblemCode::NotRateable,
                format!("A dossier is rated once returned, rejected or stopped, not while {status}."),
            ),
            Refusal::DossierQuota { max_files, max_bytes } => Self::conflict(
                ProblemCode::DossierQuotaExceeded,
                format!("A dossier holds at most {max_files} files and {max_bytes} bytes."),
            ),
            Refusal::DailyUploadQuota { max_bytes } => Self {
                retry_after_secs: Some(crate::domain::calendar::secs_to_local_midnight(crate::time::now())),
                ..Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    ProblemCode::DailyUploadQuotaExceeded,
                    format!("An account uploads at most {max_bytes} bytes a day; try again tomorrow."),
                )
            },
            Refusal::RatingLocked => Self::conflict(
                ProblemCode::RatingLocked,
                format!("A rating can be changed for {RATING_CHANGEABLE_DAYS} days after it is given."),
            ),
        }
    }
}

/// Maps actix's JSON extractor errors to problems: wrong content type 415,
/// too large 413, unparseable 400, well-formed but wrong shape 422.
pub fn json_error(err: actix_web::error::JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as E;
    let problem = match &err {
        E::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ProblemCode::UnsupportedMediaType,
            "The body must be application/json.",
        ),
        E::Overflow { limit } | E::OverflowKnownLength { limit, .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ProblemCode::PayloadTooLarge,
            format!("The JSON body exceeds the limit of {limit} bytes."),
        ),
        E::Deserialize(e) if e.is_data() => ApiError::invalid_field("body", e.to_string()),
        E::Deserialize(e) => {
            ApiError::bad_request(ProblemCode::MalformedJson, format!("The body is not valid JSON: {e}"))
        }
        E::Payload(e) => crate::http::body_error(e),
        _ => ApiError::bad_request(ProblemCode::MalformedBody, "The request body could not be read."),
    };
    problem.into()
}

pub fn query_error(err: actix_web::error::QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::bad_request(ProblemCode::InvalidQuery, format!("Invalid query string: {err}")).into()
}

/// A path segment that does not parse (e.g. a malformed id) names nothing.
pub fn path_error(_err: actix_web::error::PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::not_found().into()
}

/// Collects field errors and turns them into one 422.
#[derive(Default)]
pub struct Validator(Vec<FieldError>);

impl Validator {
    pub fn check(&mut self, ok: bool, field: &str, message: &str) -> &mut Self {
        if !ok {
            self.0.push(FieldError { field: field.into(), message: message.into() });
        }
        self
    }

    pub fn push(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError { field: field.into(), message: message.into() });
    }

    /// A line of text: 1 to `max` characters, no control characters (which
    /// some backends cannot store).
    pub fn text(&mut self, field: &str, value: &str, max: usize) -> &mut Self {
        self.characters(field, value, max, |_| false, "control characters are not allowed")
    }

    /// Paragraphs of text: like [`Validator::text`], with line breaks
    /// (`\n`) and tabs allowed.
    pub fn paragraphs(&mut self, field: &str, value: &str, max: usize) -> &mut Self {
        let message = "control characters other than line breaks and tabs are not allowed";
        self.characters(field, value, max, |c| c == '\n' || c == '\t', message)
    }

    /// 1 to `max` characters, no control character but those `allowed`.
    fn characters(
        &mut self,
        field: &str,
        value: &str,
        max: usize,
        allowed: fn(char) -> bool,
        message: &str,
    ) -> &mut Self {
        if !(1..=max).contains(&value.chars().count()) {
            self.push(field, format!("between 1 and {max} characters"));
        } else if value.chars().any(|c| c.is_control() && !allowed(c)) {
            self.push(field, message);
        }
        self
    }

    /// A person's or a unit's name: a line of text (see [`Validator::text`])
    /// that `domain::text::check_name` accepts.
    pub fn name(&mut self, field: &str, value: &str, max: usize) -> &mut Self {
        let before = self.0.len();
        self.text(field, value, max);
        if self.0.len() == before
            && let Err(message) = crate::domain::text::check_name(value)
        {
            self.push(field, message);
        }
        self
    }

    /// Takes the value when parsing succeeded; records the error otherwise.
    pub fn parsed<T, E: std::fmt::Display>(&mut self, field: &str, r: Result<T, E>) -> Option<T> {
        r.map_err(|e| self.push(field, e.to_string())).ok()
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() { Ok(()) } else { Err(ApiError::validation(self.0)) }
    }
}

#[cfg(test)]
mod tests {
    use diesel::result::{DatabaseErrorKind, Error};

    use super::*;
    use crate::db::backend::ReportedError;

    fn from_db(kind: DatabaseErrorKind, message: &'static str) -> ApiError {
        Error::DatabaseError(kind, Box::new(ReportedError { message, constraint: None })).into()
    }

    #[test]
    fn a_rolled_back_transaction_asks_for_a_retry_never_a_500() {
        for e in [
            from_db(DatabaseErrorKind::Unknown, "deadlock detected"),
            from_db(DatabaseErrorKind::SerializationFailure, "could not serialize access"),
        ] {
            assert_eq!(
                (e.status, e.code, e.retry_after_secs),
                (StatusCode::SERVICE_UNAVAILABLE, ProblemCode::ServiceUnavailable, Some(1))
            );
        }
    }

    #[test]
    fn every_problem_code_is_documented() {
        let manual = include_str!("../docs/api.md");
        let schema = serde_json::to_value(<ProblemCode as utoipa::PartialSchema>::schema()).unwrap();
        assert_eq!(schema["enum"].as_array().map(Vec::len), Some(ProblemCode::ALL.len()));
        for code in ProblemCode::ALL {
            assert!(manual.contains(&format!("`{code}`")), "docs/api.md lists `{code}`");
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str(), "served as documented");
            assert!(schema["enum"].as_array().unwrap().contains(&code.as_str().into()), "the API document has {code}");
        }
    }

    #[test]
    fn unique_violations_say_which_rule_they_broke() {
        let e = from_db(DatabaseErrorKind::UniqueViolation, "UNIQUE constraint failed: users.email");
        assert_eq!((e.status, e.code), (StatusCode::CONFLICT, ProblemCode::EmailTaken));
        let e = from_db(
            DatabaseErrorKind::UniqueViolation,
            "UNIQUE constraint failed: payments.provider, payments.provider_ref",
        );
        assert_eq!(e.code, ProblemCode::ProviderRefReused);
        let e = from_db(DatabaseErrorKind::UniqueViolation, "UNIQUE constraint failed: results.dossier_id");
        assert_eq!((e.status, e.code), (StatusCode::CONFLICT, ProblemCode::Conflict));
    }
}
