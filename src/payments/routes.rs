//! `/api/v1/dossiers/{id}/payments` and `/api/v1/payments/callback/{provider}`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::Principal;
use crate::db::DbConnection;
use crate::db::schema::{dossiers, payments};
pub use crate::domain::dossier::PaymentChannel;
use crate::domain::dossier::{self as domain, Callback, PaymentStatus};
use crate::domain::roles::Role;
use crate::dossiers::write::Counting::Counted;
use crate::dossiers::write::{self, Locked};
use crate::dossiers::{Access, NewEvent};
use crate::error::{ApiError, Problem, ProblemCode};
use crate::time::utc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/dossiers/{id}/payments").route(web::post().to(create)))
        .service(web::resource("/payments/callback/{provider}").route(web::post().to(callback)));
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePayment {
    /// `online` (the applicant, through a provider) or `counter` (a clerk records cash).
    pub channel: PaymentChannel,
    /// The provider's name, for online payments.
    pub provider: Option<String>,
}

#[derive(Debug, Serialize, ToSchema, Queryable, Selectable)]
#[diesel(table_name = payments)]
pub struct PaymentRow {
    pub id: String,
    pub dossier_id: String,
    #[schema(value_type = PaymentChannel)]
    pub channel: String,
    pub provider: Option<String>,
    pub provider_ref: Option<String>,
    pub amount_vnd: i64,
    #[schema(value_type = PaymentStatus)]
    pub status: String,
    /// Where the applicant pays (online).
    pub checkout_url: Option<String>,
    #[serde(skip)]
    pub created_at: NaiveDateTime,
    #[serde(skip)]
    pub paid_at: Option<NaiveDateTime>,
    /// This payment settled the dossier's fee (a later one is owed back).
    pub settled_fee: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentView {
    #[serde(flatten)]
    pub payment: PaymentRow,
    pub created_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
}

impl From<PaymentRow> for PaymentView {
    fn from(p: PaymentRow) -> Self {
        Self { created_at: utc(p.created_at), paid_at: p.paid_at.map(utc), payment: p }
    }
}

/// Records the settlement of the locked dossier's fee by `payment`
/// (`domain::dossier::settle`: exactly once), with its event.
fn settle(
    conn: &mut DbConnection,
    audit: &Audit,
    locked: &Locked,
    payment: &PaymentRow,
    actor: Option<&Principal>,
    role: &str,
) -> Result<(), ApiError> {
    let now = crate::time::now();
    let channel = PaymentChannel::parse(&payment.channel).unwrap_or(PaymentChannel::Online);
    let after = domain::settle(&locked.dossier, channel, now)?;
    diesel::update(payments::table.find(&payment.id))
        .set((
            payments::status.eq(PaymentStatus::Paid.as_str()),
            payments::paid_at.eq(now),
            payments::settled_fee.eq(true),
        ))
        .execute(conn)?;
    write::store(conn, &locked.row, &locked.dossier, &after)?;
    NewEvent {
        audit_id: audit.id(),
        dossier_id: &locked.row.id,
        actor,
        role,
        unit_id: Some(&locked.row.unit_id),
        action: crate::domain::workflow::Recorded::Payment.into(),
        from: Some(locked.dossier.status),
        to: locked.dossier.status,
        summary: format!("fee of {} VND paid ({})", payment.amount_vnd, payment.channel),
        payload: serde_json::json!({"payment_id": payment.id, "channel": payment.channel,
                                    "provider": payment.provider, "amount_vnd": payment.amount_vnd}),
    }
    .insert(conn)?;
    Ok(())
}

/// Pay a dossier's fee: the applicant starts an online payment (pending,
/// with the provider's checkout address; 201, or 200 with the payment
/// already pending: a dossier has at most one); a clerk records a counter
/// payment (paid at once). A fee is settled once.
#[utoipa::path(post, path = "/api/v1/dossiers/{id}/payments", tag = "payments", params(("id" = String, Path)),
    request_body = CreatePayment, security(("bearer" = [])),
    responses((status = 201, body = PaymentView, description = "Started or recorded"),
        (status = 200, body = PaymentView, description = "The online payment already pending"),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    audit: Audit,
    id: web::Path<String>,
    body: web::Json<CreatePayment>,
) -> Result<HttpResponse, ApiError> {
    let CreatePayment { channel, provider } = body.into_inner();
    let (st, p) = (state.clone(), principal.clone());
    let (created, payment) =
        write::change(&state, audit, Some(principal), id.into_inner(), Counted, move |conn, audit, locked| {
            match channel {
                PaymentChannel::Online if locked.access != Some(Access::Applicant) => {
                    return Err(ApiError::forbidden("The applicant pays online."));
                }
                PaymentChannel::Counter if locked.access != Some(Access::Acting) || !p.has(Role::Clerk) => {
                    return Err(ApiError::forbidden("A clerk of the unit records counter payments."));
                }
                _ => {}
            }
            domain::may_pay(&locked.dossier)?;
            let pending: Option<PaymentRow> = payments::table
                .filter(
                    payments::dossier_id.eq(&locked.row.id).and(payments::status.eq(PaymentStatus::Pending.as_str())),
                )
                .select(PaymentRow::as_select())
                .first(conn)
                .optional()?;
            if let (PaymentChannel::Online, Some(pending)) = (channel, pending) {
                return Ok((false, pending));
            }
            let payment_id = uuid::Uuid::now_v7().to_string();
            let checkout = match (channel, provider.as_deref()) {
                (PaymentChannel::Online, Some(name)) => {
                    let adapter = st
                        .payments
                        .get(name)
                        .ok_or_else(|| ApiError::invalid_field("provider", "no payment provider with this name"))?;
                    Some(adapter.checkout_url(&payment_id, locked.row.fee_vnd))
                }
                (PaymentChannel::Online, None) => {
                    return Err(ApiError::invalid_field("provider", "an online payment names its provider"));
                }
                (PaymentChannel::Counter, _) => None,
            };
            let counter = channel == PaymentChannel::Counter;
            diesel::insert_into(payments::table)
                .values((
                    payments::id.eq(&payment_id),
                    payments::dossier_id.eq(&locked.row.id),
                    payments::channel.eq(channel.as_str()),
                    payments::provider.eq(provider.filter(|_| !counter)),
                    payments::amount_vnd.eq(locked.row.fee_vnd),
                    // A counter payment is settled below, in this transaction.
                    payments::status.eq(if counter { PaymentStatus::Paid } else { PaymentStatus::Pending }.as_str()),
                    payments::checkout_url.eq(checkout),
                    payments::recorded_by.eq(counter.then(|| p.user_id.clone())),
                    payments::created_at.eq(crate::time::now()),
                ))
                .execute(conn)?;
            let payment: PaymentRow = payments::table.find(&payment_id).select(PaymentRow::as_select()).first(conn)?;
            if counter {
                settle(conn, audit, &locked, &payment, Some(&p), Role::Clerk.as_str())?;
            }
            audit.status(StatusCode::CREATED);
            Ok((true, payments::table.find(&payment_id).select(PaymentRow::as_select()).first::<PaymentRow>(conn)?))
        })
        .await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(HttpResponse::build(status).json(PaymentView::from(payment)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CallbackAck {
    pub payment_id: String,
    #[schema(value_type = PaymentStatus)]
    pub status: String,
}

/// A payment provider reports a result. The raw body must carry the
/// provider's HMAC-SHA256 signature (`X-Signature`, hex). A provider
/// reference is recorded once: the same report again gets the same answer;
/// the reference reused for another payment, dossier, amount or outcome
/// answers 409 `provider_ref_reused`. A new reference must name a pending
/// payment of this provider, its dossier and its amount (422 otherwise; 409
/// `payment_not_pending` once the payment is paid or failed). A payment paid
/// after the fee was settled is recorded, not settled again.
#[utoipa::path(post, path = "/api/v1/payments/callback/{provider}", tag = "payments",
    params(("provider" = String, Path), ("X-Signature" = String, Header, description = "hex HMAC-SHA256 of the body")),
    request_body(content = crate::payments::CallbackResult,
        description = "The provider's report. `X-Signature` signs the exact bytes sent."),
    responses((status = 200, body = CallbackAck), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn callback(
    state: web::Data<AppState>,
    audit: Audit,
    provider: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let name = provider.into_inner();
    let adapter = state.payments.get(&name).ok_or_else(ApiError::not_found)?;
    if !adapter.authenticate(req.headers(), &body) {
        tracing::warn!(provider = %name, "payment callback with a bad signature");
        return Err(ApiError::unauthorized(ProblemCode::InvalidSignature, "The callback's signature is invalid."));
    }
    let report = adapter.parse(&body).map_err(|e| ApiError::invalid_field("body", e))?;
    // The dossier of the payment the report names: the one to lock.
    let (lookup_name, lookup_id) = (name.clone(), report.payment_id.clone());
    let dossier: Option<String> = state
        .db
        .run(move |conn| {
            Ok(payments::table
                .filter(payments::id.eq(&lookup_id).and(payments::provider.eq(&lookup_name)))
                .select(payments::dossier_id)
                .first(conn)
                .optional()?)
        })
        .await?;
    let ack = match dossier {
        Some(id) => {
            write::change(&state, audit, None, id, Counted, move |conn, audit, locked| {
                record_callback(conn, audit, &name, &report, Some(&locked))
            })
            .await?
        }
        // No such payment: nothing to lock, nothing will change.
        None => audit.write(&state, move |conn, audit| record_callback(conn, audit, &name, &report, None)).await?,
    };
    Ok(HttpResponse::Ok().json(ack))
}

/// Applies a provider's report as `domain::dossier::callback` decides;
/// `locked` is the named payment's dossier, when that payment exists.
fn record_callback(
    conn: &mut DbConnection,
    audit: &mut Audit,
    provider: &str,
    report: &crate::payments::CallbackResult,
    locked: Option<&Locked>,
) -> Result<CallbackAck, ApiError> {
    let with_code = |conn: &mut DbConnection, filter: (&str, &str)| -> QueryResult<Option<(PaymentRow, String)>> {
        let (column, value) = filter;
        let base = payments::table.inner_join(dossiers::table).filter(payments::provider.eq(provider)).into_boxed();
        let base = if column == "ref" {
            base.filter(payments::provider_ref.eq(value))
        } else {
            base.filter(payments::id.eq(value))
        };
        base.select((PaymentRow::as_select(), dossiers::code)).first(conn).optional()
    };
    let recorded = with_code(conn, ("ref", &report.provider_ref))?;
    let named = match locked {
        Some(_) => with_code(conn, ("id", &report.payment_id))?,
        None => None,
    };
    fn as_rule((p, code): &(PaymentRow, String)) -> domain::Payment<'_> {
        domain::Payment {
            id: p.id.as_str(),
            dossier_code: code.as_str(),
            amount_vnd: p.amount_vnd,
            status: PaymentStatus::parse(&p.status).unwrap_or(PaymentStatus::Failed),
        }
    }
    let fee_open = locked.is_some_and(|l| domain::may_pay(&l.dossier).is_ok());
    let effect = domain::callback(
        &report.report(),
        recorded.as_ref().map(as_rule).as_ref(),
        named.as_ref().map(as_rule).as_ref(),
        fee_open,
    )?;
    let ack = |p: &PaymentRow, status: PaymentStatus| CallbackAck {
        payment_id: p.id.clone(),
        status: status.as_str().into(),
    };
    match (effect, recorded, named, locked) {
        (Callback::Replay, Some((p, _)), _, _) => {
            audit.target(&p.dossier_id);
            Ok(ack(&p, PaymentStatus::parse(&p.status).unwrap_or(PaymentStatus::Failed)))
        }
        (effect, _, Some((p, _)), Some(locked)) => {
            diesel::update(payments::table.find(&p.id))
                .set(payments::provider_ref.eq(&report.provider_ref))
                .execute(conn)?;
            let status = match effect {
                Callback::Settle => {
                    settle(conn, audit, locked, &p, None, "payment_provider")?;
                    PaymentStatus::Paid
                }
                Callback::PaidAgain => {
                    diesel::update(payments::table.find(&p.id))
                        .set((
                            payments::status.eq(PaymentStatus::Paid.as_str()),
                            payments::paid_at.eq(crate::time::now()),
                        ))
                        .execute(conn)?;
                    PaymentStatus::Paid
                }
                _ => {
                    diesel::update(payments::table.find(&p.id))
                        .set(payments::status.eq(PaymentStatus::Failed.as_str()))
                        .execute(conn)?;
                    PaymentStatus::Failed
                }
            };
            Ok(ack(&p, status))
        }
        _ => Err(ApiError::internal("a callback effect without its payment")),
    }
}
