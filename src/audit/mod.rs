//! The audit log: every state-changing request that succeeded appends an
//! entry to a hash chain (`src/domain/audit_chain.rs`), through the
//! [`record`] middleware.
//!
//! The entry follows the committed change: the handler's own transaction has
//! committed when its 2xx response reaches the middleware, which then appends
//! in a transaction of its own and only then lets the response go. Appending
//! is serialised across requests and instances — `pg_advisory_xact_lock` on
//! PostgreSQL, the single writer on SQLite — so that each entry takes the
//! previous `seq` + 1 and links to its hash. If appending fails, the error is
//! logged with the request id and the client still gets its 2xx.

pub mod routes;
pub mod summary;

use actix_web::body::{BodySize, EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use chrono::{NaiveDateTime, SecondsFormat};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use futures_util::{StreamExt, stream};
use serde::{Serialize, Serializer};
use tracing_actix_web::RequestId;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::auth::Principal;
use crate::db::DbConnection;
use crate::db::schema::{audit_log, units};
use crate::domain::audit_chain::{self, GENESIS};
use routes::AuditQuery;
use summary::{BodySummary, action_name, summarise};

/// The advisory lock that serialises appends on PostgreSQL (migrations use
/// 7243001).
const CHAIN_LOCK: i64 = 7_243_002;

/// The largest created resource whose `id` is read back as the target.
const MAX_CREATED_BODY: u64 = 64 * 1024;

/// One entry of the audit log, as stored and as listed.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, ToSchema)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    /// Position in the chain: 1, 2, 3 … without gaps.
    pub seq: i64,
    pub id: String,
    /// RFC 3339 UTC with microseconds, exactly as hashed.
    #[serde(serialize_with = "micros_utc")]
    #[schema(value_type = String, format = DateTime)]
    pub at: NaiveDateTime,
    /// The acting account; absent for anonymous callers.
    pub actor_id: Option<String>,
    /// The caller's roles, comma-separated; `anonymous`, or `provider` for
    /// payment callbacks.
    pub actor_role: String,
    /// The actor's unit.
    pub unit_id: Option<String>,
    /// The materialised path of the actor's unit at the time: the entry's scope.
    pub unit_path: Option<String>,
    pub method: String,
    /// The route pattern, e.g. `/api/v1/dossiers/{id}/actions`.
    pub route: String,
    /// Short name, e.g. `units.post` or `dossiers.actions.receive`.
    pub action: String,
    /// The path parameters joined by `/`, or the id of what a POST created.
    pub target: Option<String>,
    /// HTTP status of the answer.
    pub status: i32,
    /// The `x-request-id` of the answer.
    pub request_id: String,
    pub client_address: Option<String>,
    /// What changed, as compact JSON: the body's field names, a few values, never secrets.
    pub summary: String,
    pub prev_hash: String,
    /// Lower-case hex SHA-256 of the entry's canonical form.
    pub hash: String,
}

fn micros_utc<S: Serializer>(at: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&at.and_utc().to_rfc3339_opts(SecondsFormat::Micros, true))
}

impl AuditEntry {
    /// The fields the chain hashes.
    pub fn chain_entry(&self) -> audit_chain::Entry<'_> {
        audit_chain::Entry {
            seq: self.seq,
            id: &self.id,
            at: self.at.and_utc(),
            actor_id: self.actor_id.as_deref(),
            actor_role: &self.actor_role,
            unit_id: self.unit_id.as_deref(),
            unit_path: self.unit_path.as_deref(),
            method: &self.method,
            route: &self.route,
            action: &self.action,
            target: self.target.as_deref(),
            status: self.status,
            request_id: &self.request_id,
            client_address: self.client_address.as_deref(),
            summary: &self.summary,
            prev_hash: &self.prev_hash,
            hash: &self.hash,
        }
    }
}

/// Appends `entry` to the chain; sets its `seq`, `at`, `unit_path` (from its
/// `unit_id`), `prev_hash` and `hash`. Call inside a write transaction: on
/// PostgreSQL the chain lock is held until it commits.
pub fn append(conn: &mut DbConnection, mut entry: AuditEntry) -> QueryResult<AuditEntry> {
    if let DbConnection::Pg(pg) = conn {
        pg.batch_execute(&format!("SELECT pg_advisory_xact_lock({CHAIN_LOCK})"))?;
    }
    entry.unit_path = match &entry.unit_id {
        Some(unit) => units::table.find(unit).select(units::path).first(conn).optional()?,
        None => None,
    };
    let head: Option<(i64, String)> = audit_log::table
        .order(audit_log::seq.desc())
        .select((audit_log::seq, audit_log::hash))
        .first(conn)
        .optional()?;
    let (seq, prev_hash) = head.unwrap_or_else(|| (0, GENESIS.to_string()));
    entry.seq = seq + 1;
    entry.prev_hash = prev_hash;
    entry.at = crate::time::now();
    entry.hash = entry.chain_entry().compute_hash();
    diesel::insert_into(audit_log::table).values(&entry).execute(conn)?;
    Ok(entry)
}

/// What a caller may see: entries of actors in the subtree at `path`, and
/// those without a unit (citizens, anonymous callers) when `root`.
#[derive(Debug, Clone)]
pub struct Scope {
    pub path: String,
    pub root: bool,
}

/// Up to `limit` entries of `scope` matching the filters of `q`, newest
/// first, after (below) the `seq` of `before`.
pub fn page(
    conn: &mut DbConnection,
    scope: &Scope,
    q: &AuditQuery,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<AuditEntry>> {
    let in_subtree = audit_log::unit_path.like(format!("{}%", scope.path));
    let mut sql =
        audit_log::table.select(AuditEntry::as_select()).order(audit_log::seq.desc()).limit(limit).into_boxed();
    sql = if scope.root { sql.filter(in_subtree.or(audit_log::unit_path.is_null())) } else { sql.filter(in_subtree) };
    let f = q.clone();
    if let Some(actor) = f.actor {
        sql = sql.filter(audit_log::actor_id.eq(actor));
    }
    if let Some(action) = f.action {
        sql = sql.filter(audit_log::action.eq(action));
    }
    if let Some(route) = f.route {
        sql = sql.filter(audit_log::route.eq(route));
    }
    if let Some(target) = f.target {
        sql = sql.filter(audit_log::target.eq(target));
    }
    if let Some(status) = f.status {
        sql = sql.filter(audit_log::status.eq(status));
    }
    if let Some(from) = f.from {
        sql = sql.filter(audit_log::at.ge(crate::dossiers::routes::local_midnight(from)));
    }
    if let Some(to) = f.to {
        sql = sql.filter(audit_log::at.lt(crate::dossiers::routes::local_midnight(to)));
    }
    if let Some(before) = before {
        sql = sql.filter(audit_log::seq.lt(before));
    }
    sql.load(conn)
}

/// Up to `limit` entries of the whole chain after `seq`, in chain order.
pub fn chain_after(conn: &mut DbConnection, seq: i64, limit: i64) -> QueryResult<Vec<AuditEntry>> {
    audit_log::table
        .select(AuditEntry::as_select())
        .filter(audit_log::seq.gt(seq))
        .order(audit_log::seq.asc())
        .limit(limit)
        .load(conn)
}

/// Appends an audit entry for every request with a method other than GET,
/// HEAD or OPTIONS that gets a 2xx answer.
pub async fn record(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, Bytes>>, actix_web::Error> {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let state = match req.app_data::<web::Data<AppState>>() {
        Some(state) if !safe => state.clone(),
        _ => return Ok(next.call(req).await?.map_into_left_body()),
    };
    let body = capture_body(&mut req, state.settings.http.json_limit_bytes).await;
    let res = next.call(req).await?;
    if !res.status().is_success() {
        return Ok(res.map_into_left_body());
    }
    let (res, created) = created_id(res).await?;
    let principal = Principal::extract(res.request()).await.ok();
    let entry = describe(res.request(), res.status().as_u16(), &body, created, principal);
    let request_id = entry.request_id.clone();
    if let Err(e) = state.db.write(move |conn| Ok(append(conn, entry)?)).await {
        tracing::error!(request_id = %request_id, error = %e, "appending to the audit log failed");
    }
    Ok(res)
}

/// Summarises the request body. A JSON body within the JSON limit is read and
/// put back for the handler; anything else (uploads) is never buffered.
async fn capture_body(req: &mut ServiceRequest, json_limit: usize) -> BodySummary {
    let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    let length = header(CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    let content_type =
        header(CONTENT_TYPE).map(|ct| ct.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
    let is_json = content_type.as_deref() == Some("application/json");
    let within_limit = length.is_none_or(|n| n <= json_limit as u64);
    let json = if is_json && within_limit { read_json(req, json_limit).await } else { None };
    summarise(content_type.as_deref(), length, json.as_deref())
}

/// Reads the payload up to `limit` bytes and puts it back. Past the limit it
/// stops and puts back what it read followed by the rest, for the handler to
/// refuse.
async fn read_json(req: &mut ServiceRequest, limit: usize) -> Option<Bytes> {
    let mut payload = req.take_payload();
    let mut buf = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        match chunk {
            Ok(chunk) if buf.len() + chunk.len() <= limit => buf.extend_from_slice(&chunk),
            other => {
                let read = stream::iter([Ok(buf.freeze()), other]);
                req.set_payload(Payload::Stream { payload: Box::pin(read.chain(payload)) });
                return None;
            }
        }
    }
    let bytes = buf.freeze();
    req.set_payload(Payload::from(bytes.clone()));
    Some(bytes)
}

/// For a 201 to a route without path parameters, the `id` of what was
/// created (read from a small JSON answer, which is then sent as it was).
async fn created_id<B: MessageBody>(
    res: ServiceResponse<B>,
) -> Result<(ServiceResponse<EitherBody<B, Bytes>>, Option<String>), actix_web::Error> {
    let readable = res.status() == actix_web::http::StatusCode::CREATED
        && res.request().match_info().iter().next().is_none()
        && res.headers().get(CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"))
        && matches!(res.response().body().size(), BodySize::Sized(n) if n <= MAX_CREATED_BODY);
    if !readable {
        return Ok((res.map_into_left_body(), None));
    }
    let (req, response) = res.into_parts();
    let (response, body) = response.into_parts();
    let bytes = actix_web::body::to_bytes(body).await.map_err(|e| {
        let e: Box<dyn std::error::Error> = e.into();
        actix_web::error::ErrorInternalServerError(e.to_string())
    })?;
    let id = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v.get("id").and_then(|id| id.as_str()).map(str::to_string));
    Ok((ServiceResponse::new(req, response.set_body(bytes)).map_into_right_body(), id))
}

/// The entry for a request, before it takes its place in the chain.
fn describe(
    req: &HttpRequest,
    status: u16,
    body: &BodySummary,
    created: Option<String>,
    principal: Option<Principal>,
) -> AuditEntry {
    let route = req.match_pattern().unwrap_or_else(|| req.path().to_string());
    let params: Vec<&str> = req.match_info().iter().map(|(_, v)| v).collect();
    let target = if params.is_empty() { created } else { Some(params.join("/")) }.filter(|t| !t.is_empty());
    let (actor_id, actor_role, unit_id) = match principal {
        Some(p) => {
            let roles: Vec<&str> = p.roles.iter().map(|r| r.as_str()).collect();
            (Some(p.user_id), roles.join(","), p.unit_id)
        }
        None if route.starts_with("/api/v1/payments/callback/") => (None, "provider".to_string(), None),
        None => (None, "anonymous".to_string(), None),
    };
    AuditEntry {
        seq: 0,
        id: uuid::Uuid::now_v7().to_string(),
        at: NaiveDateTime::default(),
        actor_id,
        actor_role,
        unit_id,
        unit_path: None,
        method: req.method().to_string(),
        action: action_name(req.method().as_str(), &route, body.action.as_deref()),
        route,
        target,
        status: i32::from(status),
        request_id: req.extensions().get::<RequestId>().map(ToString::to_string).unwrap_or_default(),
        client_address: req.peer_addr().map(|a| a.ip().to_string()),
        summary: body.text.clone(),
        prev_hash: String::new(),
        hash: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    /// A request whose body arrives in `chunks`.
    fn chunked(chunks: &[&'static str]) -> ServiceRequest {
        let mut req = TestRequest::post().to_srv_request();
        let items: Vec<Result<Bytes, actix_web::error::PayloadError>> =
            chunks.iter().map(|c| Ok(Bytes::from_static(c.as_bytes()))).collect();
        req.set_payload(Payload::Stream { payload: Box::pin(stream::iter(items)) });
        req
    }

    #[actix_web::test]
    async fn json_bodies_are_read_within_the_limit_and_always_put_back_whole() {
        let body = r#"{"action":"receive","note":"x"}"#;
        for (limit, read) in [(body.len(), true), (body.len() - 1, false), (5, false), (0, false)] {
            let mut req = chunked(&[&body[..10], &body[10..20], &body[20..]]);
            let got = read_json(&mut req, limit).await;
            assert_eq!(got.is_some(), read, "limit {limit}");
            assert_eq!(req.extract::<Bytes>().await.unwrap(), body.as_bytes(), "limit {limit}");
        }
        let mut empty = chunked(&[]);
        assert_eq!(read_json(&mut empty, 10).await.as_deref(), Some(&b""[..]));
    }
}
