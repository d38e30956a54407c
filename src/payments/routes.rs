//! `/api/v1/dossiers/{id}/payments` and `/api/v1/payments/callback/{provider}`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::auth::Principal;
use crate::db::DbConnection;
use crate::db::schema::{dossiers, payments};
use crate::domain::roles::Role;
use crate::dossiers::{Access, DossierRow, NewEvent, load_visible};
use crate::error::{ApiError, Problem};
use crate::time::utc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/dossiers/{id}/payments").route(web::post().to(create)))
        .service(web::resource("/payments/callback/{provider}").route(web::post().to(callback)));
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentChannel {
    Online,
    Counter,
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
    pub channel: String,
    pub provider: Option<String>,
    pub provider_ref: Option<String>,
    pub amount_vnd: i64,
    /// `pending`, `paid` or `failed`.
    pub status: String,
    /// Where the applicant pays (online).
    pub checkout_url: Option<String>,
    #[serde(skip)]
    pub created_at: NaiveDateTime,
    #[serde(skip)]
    pub paid_at: Option<NaiveDateTime>,
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

/// Marks the dossier's fee paid by `payment`, with its event.
fn settle(
    conn: &mut DbConnection,
    dossier: &DossierRow,
    payment: &PaymentRow,
    actor: Option<&Principal>,
    role: &str,
) -> Result<(), ApiError> {
    let now = crate::time::now();
    diesel::update(payments::table.find(&payment.id))
        .set((payments::status.eq("paid"), payments::paid_at.eq(now)))
        .execute(conn)?;
    crate::stats::daily::track(conn, &dossier.id, |conn| {
        diesel::update(dossiers::table.find(&dossier.id))
            .set((
                dossiers::paid_at.eq(now),
                dossiers::payment_channel.eq(&payment.channel),
                dossiers::version.eq(dossiers::version + 1),
                dossiers::updated_at.eq(now),
            ))
            .execute(conn)
    })?;
    NewEvent {
        dossier_id: &dossier.id,
        actor,
        role,
        unit_id: Some(&dossier.unit_id),
        action: "payment",
        from: Some(dossier.status()),
        to: dossier.status(),
        summary: format!("fee of {} VND paid ({})", payment.amount_vnd, payment.channel),
        payload: serde_json::json!({"payment_id": payment.id, "channel": payment.channel,
                                    "provider": payment.provider, "amount_vnd": payment.amount_vnd}),
    }
    .insert(conn)?;
    Ok(())
}

/// Pay a dossier's fee: the applicant starts an online payment (pending,
/// with the provider's checkout address); a clerk records a counter payment
/// (paid at once).
#[utoipa::path(post, path = "/api/v1/dossiers/{id}/payments", tag = "payments", params(("id" = String, Path)),
    request_body = CreatePayment, security(("bearer" = [])),
    responses((status = 201, body = PaymentView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    body: web::Json<CreatePayment>,
) -> Result<HttpResponse, ApiError> {
    let CreatePayment { channel, provider } = body.into_inner();
    let (id, st) = (id.into_inner(), state.clone());
    let payment = state
        .db
        .write(move |conn| {
            let (row, access) = load_visible(conn, &principal, &id)?;
            match channel {
                PaymentChannel::Online if access != Access::Applicant => {
                    return Err(ApiError::forbidden("The applicant pays online."));
                }
                PaymentChannel::Counter if access != Access::Acting || !principal.has(Role::Clerk) => {
                    return Err(ApiError::forbidden("A clerk of the unit records counter payments."));
                }
                _ => {}
            }
            if !row.fee_due() || row.status().is_terminal() {
                return Err(ApiError::conflict("nothing_to_pay", "This dossier has no fee to pay."));
            }
            let payment_id = uuid::Uuid::now_v7().to_string();
            let checkout = match (channel, provider.as_deref()) {
                (PaymentChannel::Online, Some(name)) => {
                    let adapter = st
                        .payments
                        .get(name)
                        .ok_or_else(|| ApiError::invalid_field("provider", "no payment provider with this name"))?;
                    Some(adapter.checkout_url(&payment_id, row.fee_vnd))
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
                    payments::dossier_id.eq(&row.id),
                    payments::channel.eq(if counter { "counter" } else { "online" }),
                    payments::provider.eq(provider.filter(|_| !counter)),
                    payments::amount_vnd.eq(row.fee_vnd),
                    payments::status.eq("pending"),
                    payments::checkout_url.eq(checkout),
                    payments::recorded_by.eq(counter.then(|| principal.user_id.clone())),
                    payments::created_at.eq(crate::time::now()),
                ))
                .execute(conn)?;
            let payment: PaymentRow = payments::table.find(&payment_id).select(PaymentRow::as_select()).first(conn)?;
            if counter {
                settle(conn, &row, &payment, Some(&principal), Role::Clerk.as_str())?;
            }
            Ok(payments::table.find(&payment_id).select(PaymentRow::as_select()).first::<PaymentRow>(conn)?)
        })
        .await?;
    Ok(HttpResponse::Created().json(PaymentView::from(payment)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CallbackAck {
    pub payment_id: String,
    pub status: String,
}

/// A payment provider reports a result. The raw body must carry the
/// provider's HMAC-SHA256 signature (`X-Signature`, hex); the callback is
/// idempotent on the provider's transaction reference, and refused when the
/// amount or the dossier does not match the payment.
#[utoipa::path(post, path = "/api/v1/payments/callback/{provider}", tag = "payments",
    params(("provider" = String, Path), ("X-Signature" = String, Header, description = "hex HMAC-SHA256 of the body")),
    request_body(content = String, description = "The provider's JSON report", content_type = "application/json"),
    responses((status = 200, body = CallbackAck), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn callback(
    state: web::Data<AppState>,
    provider: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let name = provider.into_inner();
    let adapter = state.payments.get(&name).ok_or_else(ApiError::not_found)?;
    if !adapter.authenticate(req.headers(), &body) {
        tracing::warn!(provider = %name, "payment callback with a bad signature");
        return Err(ApiError::unauthorized("invalid_signature", "The callback's signature is invalid."));
    }
    let report = adapter.parse(&body).map_err(|e| ApiError::invalid_field("body", e))?;
    let apply = |report: crate::payments::CallbackResult, name: String| {
        state.db.write(move |conn| record_callback(conn, &name, report))
    };
    let ack = match apply(report.clone(), name.clone()).await {
        // The same report twice at once: the loser finds the winner's record.
        Err(e) if e.code == "already_exists" => apply(report, name).await,
        other => other,
    }?;
    Ok(HttpResponse::Ok().json(ack))
}

fn mismatch(code: &'static str, detail: &str) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
}

fn record_callback(
    conn: &mut DbConnection,
    provider: &str,
    report: crate::payments::CallbackResult,
) -> Result<CallbackAck, ApiError> {
    let known: Option<PaymentRow> = payments::table
        .filter(payments::provider.eq(provider).and(payments::provider_ref.eq(&report.provider_ref)))
        .select(PaymentRow::as_select())
        .first(conn)
        .optional()?;
    if let Some(p) = known {
        // A replay: already recorded, nothing changes.
        return Ok(CallbackAck { payment_id: p.id, status: p.status });
    }
    let payment: PaymentRow = payments::table
        .filter(payments::id.eq(&report.payment_id).and(payments::provider.eq(provider)))
        .select(PaymentRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| mismatch("payment_mismatch", "No payment of this provider has this id."))?;
    let dossier: DossierRow = dossiers::table.find(&payment.dossier_id).select(DossierRow::as_select()).first(conn)?;
    if dossier.code != report.dossier_code {
        return Err(mismatch("dossier_mismatch", "The payment belongs to another dossier."));
    }
    if report.amount_vnd != payment.amount_vnd {
        return Err(mismatch("amount_mismatch", "The amount differs from the fee to pay."));
    }
    if payment.status != "pending" {
        return Err(ApiError::conflict("payment_not_pending", format!("The payment is already {}.", payment.status)));
    }
    diesel::update(payments::table.find(&payment.id))
        .set(payments::provider_ref.eq(&report.provider_ref))
        .execute(conn)?;
    match report.status.as_str() {
        "paid" if dossier.fee_due() => settle(conn, &dossier, &payment, None, "payment_provider")?,
        "paid" => {
            // Paid twice (e.g. online after a counter payment): recorded, the fee was already settled.
            diesel::update(payments::table.find(&payment.id))
                .set((payments::status.eq("paid"), payments::paid_at.eq(crate::time::now())))
                .execute(conn)?;
        }
        "failed" => {
            diesel::update(payments::table.find(&payment.id)).set(payments::status.eq("failed")).execute(conn)?;
        }
        _ => return Err(ApiError::invalid_field("status", "`paid` or `failed`")),
    }
    let status: String = payments::table.find(&payment.id).select(payments::status).first(conn)?;
    Ok(CallbackAck { payment_id: payment.id, status })
}
