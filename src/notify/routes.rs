//! `/api/v1/admin/outbox`: administrators of the province (a root unit) list
//! the outbox — e-mails and the national portal's sync records, dead
//! letters above all — and put dead letters back in the queue. Bodies are
//! never shown: they may hold a single-use link.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::Kind;
use super::outbox::{self, Channel, OutboxRow, State};
use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::Principal;
use crate::db::schema::outbox as outbox_t;
use crate::domain::roles::Role;
use crate::error::{ApiError, Problem};
use crate::pagination::{Keyset, Page};
use crate::time::utc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/admin/outbox").route(web::get().to(list)))
        .service(web::resource("/admin/outbox/{id}/retry").route(web::post().to(retry)));
}

/// A message of the outbox, without its body.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxView {
    pub id: String,
    pub channel: Channel,
    /// The e-mail's kind; absent for a portal record.
    pub kind: Option<Kind>,
    /// An e-mail address, or `portal`.
    pub recipient: String,
    pub subject: String,
    pub state: State,
    pub attempts: i32,
    /// When a pending message is next tried.
    pub next_attempt_at: DateTime<Utc>,
    /// The last delivery failure.
    pub last_error: Option<String>,
    pub dossier_id: Option<String>,
    /// A portal record's place in its dossier's order.
    pub seq: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl From<OutboxRow> for OutboxView {
    fn from(r: OutboxRow) -> Self {
        Self {
            state: State::parse(&r.state).expect("states are written by the outbox"),
            channel: r.channel(),
            kind: Kind::parse(&r.kind),
            id: r.id,
            recipient: r.recipient,
            subject: r.subject,
            attempts: r.attempts,
            next_attempt_at: utc(r.next_attempt_at),
            last_error: r.last_error,
            dossier_id: r.dossier_id,
            seq: r.seq,
            created_at: utc(r.created_at),
            sent_at: r.sent_at.map(utc),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only messages in this state, e.g. `dead`.
    pub state: Option<State>,
    /// Only messages of this channel.
    pub channel: Option<Channel>,
    /// Only e-mails of this kind.
    pub kind: Option<Kind>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// The outbox is the whole province's: its administrators manage it.
fn require_outbox_admin(principal: &Principal) -> Result<(), ApiError> {
    principal.require_any(&[Role::Admin])?;
    if principal.is_at_root()? {
        Ok(())
    } else {
        Err(ApiError::forbidden("The outbox is managed by administrators of the province."))
    }
}

/// The outbox, newest first (`?state=dead` for the dead letters).
#[utoipa::path(get, path = "/api/v1/admin/outbox", tag = "outbox", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<OutboxView>), (status = 403, body = Problem)))]
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let keyset = Keyset::parse(q.cursor.as_deref(), q.limit)?;
    let (fetch, after) = (keyset.fetch(), keyset.after.clone());
    let rows = state
        .db
        .run(move |conn| {
            require_outbox_admin(&principal)?;
            let mut sql =
                outbox_t::table.select(OutboxRow::as_select()).order(outbox_t::id.desc()).limit(fetch).into_boxed();
            if let Some(s) = q.state {
                sql = sql.filter(outbox_t::state.eq(s.as_str()));
            }
            if let Some(c) = q.channel {
                sql = sql.filter(outbox_t::channel.eq(c.as_str()));
            }
            if let Some(k) = q.kind {
                sql = sql.filter(outbox_t::kind.eq(k.as_str()));
            }
            if let Some(after) = after {
                sql = sql.filter(outbox_t::id.lt(after));
            }
            Ok(sql.load::<OutboxRow>(conn)?)
        })
        .await?;
    let views = rows.into_iter().map(OutboxView::from).collect();
    Ok(HttpResponse::Ok().json(keyset.page(views, |m: &OutboxView| m.id.clone())))
}

/// Put a dead letter back in the queue, with a fresh set of attempts.
#[utoipa::path(post, path = "/api/v1/admin/outbox/{id}/retry", tag = "outbox", params(("id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = OutboxView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn retry(
    state: web::Data<AppState>,
    principal: Principal,
    audit: Audit,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let row = audit
        .write(&state, move |conn, _| {
            require_outbox_admin(&principal)?;
            outbox::retry(conn, &id)
        })
        .await?;
    tracing::info!(id = %row.id, "dead letter queued again");
    Ok(HttpResponse::Ok().json(OutboxView::from(row)))
}
