//! The audit log: every state-changing request that succeeded records one
//! entry, in the transaction of the change it records (`Audit::write`), so
//! that no committed change lacks its entry — also across `kill -9`.
//!
//! Recording does not take the chain: an entry is written to
//! `audit_pending`, and the linker (`linker.rs`) appends pending entries to
//! the hash chain of `audit_log` (`src/domain/audit_chain.rs`) after they
//! commit, in the order it finds them, one batch at a time under one lock.
//! A global chain appended inside every transaction would hold that lock
//! until each commit and serialise every write of every instance.
//!
//! The [`record`] middleware summarises the request body before the handler
//! runs; the [`Audit`] extractor gives the handler the entry to write.

pub mod linker;
pub mod routes;
pub mod summary;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use chrono::{NaiveDateTime, SecondsFormat};
use diesel::prelude::*;
use futures_util::future::LocalBoxFuture;
use futures_util::{StreamExt, stream};
use serde::{Serialize, Serializer};
use tracing_actix_web::RequestId;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::auth::Principal;
use crate::db::DbConnection;
use crate::db::schema::{audit_log, audit_pending};
use crate::domain::audit_chain;
use crate::error::ApiError;
use routes::AuditFilter;
use summary::{BodySummary, action_name, summarise};

/// One entry of the audit log, as stored and as listed.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, ToSchema)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    /// Position in the chain: 1, 2, 3 … without gaps.
    pub seq: i64,
    pub id: String,
    /// When the change happened; RFC 3339 UTC with microseconds, exactly as hashed.
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

/// An entry recorded with its change, not yet linked into the chain.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_pending)]
pub struct PendingEntry {
    pub id: String,
    pub at: NaiveDateTime,
    pub actor_id: Option<String>,
    pub actor_role: String,
    pub unit_id: Option<String>,
    pub unit_path: Option<String>,
    pub method: String,
    pub route: String,
    pub action: String,
    pub target: Option<String>,
    pub status: i32,
    pub request_id: String,
    pub client_address: Option<String>,
    pub summary: String,
}

impl PendingEntry {
    /// The entry at position `seq` after the entry whose hash is `prev_hash`.
    pub fn link(self, seq: i64, prev_hash: String) -> AuditEntry {
        let mut entry = AuditEntry {
            seq,
            id: self.id,
            at: self.at,
            actor_id: self.actor_id,
            actor_role: self.actor_role,
            unit_id: self.unit_id,
            unit_path: self.unit_path,
            method: self.method,
            route: self.route,
            action: self.action,
            target: self.target,
            status: self.status,
            request_id: self.request_id,
            client_address: self.client_address,
            summary: self.summary,
            prev_hash,
            hash: String::new(),
        };
        entry.hash = entry.chain_entry().compute_hash();
        entry
    }
}

/// The audit entry of the request being handled, to be written with the
/// change it records: `audit.write(&state, |conn, audit| …)`. Every
/// state-changing handler takes one; the [`record`] middleware reports a
/// request answered 2xx without its entry.
pub struct Audit {
    entry: PendingEntry,
    /// Set once the entry is written, or declared not needed.
    done: Arc<AtomicBool>,
    /// The request changed nothing: no entry to write.
    unchanged: bool,
    /// The route has no path parameters: the handler names the target.
    target_from_handler: bool,
    /// The dossiers the request changes are mirrored to the national
    /// portal (`portal.sync_url` is set): the write path queues their sync
    /// records (`src/portal/record.rs`), to be delivered after this delay.
    mirror: Option<chrono::Duration>,
}

/// What the middleware leaves for the extractor.
#[derive(Clone)]
struct Draft {
    summary: BodySummary,
    done: Arc<AtomicBool>,
}

impl Audit {
    /// The entry's id, which the events of the change carry.
    pub fn id(&self) -> &str {
        &self.entry.id
    }

    /// Names what a request without path parameters changed or created.
    pub fn target(&mut self, target: &str) {
        if self.target_from_handler {
            self.entry.target = Some(target.to_string());
        }
    }

    /// Whether the dossiers this request changes are mirrored to the
    /// portal: then, how long their records wait before delivery.
    pub fn mirrors_portal(&self) -> Option<chrono::Duration> {
        self.mirror
    }

    /// The status of the answer, when not 200.
    pub fn status(&mut self, status: StatusCode) {
        self.entry.status = i32::from(status.as_u16());
    }

    /// Runs `f` and writes this entry in one write transaction, then wakes
    /// the linker.
    pub async fn write<T, F>(self, state: &AppState, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection, &mut Audit) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let mut audit = self;
        audit.mirror = state.settings.portal.mirrors();
        let out = state
            .db
            .write(move |conn| {
                let out = f(conn, &mut audit)?;
                if !audit.unchanged {
                    audit.insert(conn)?;
                }
                Ok((out, audit.done))
            })
            .await;
        let (out, done) = out?;
        done.store(true, Ordering::Relaxed);
        state.audit_linker.wake();
        Ok(out)
    }

    /// Writes the entry of a request that changed nothing else.
    pub async fn write_alone(self, state: &AppState) -> Result<(), ApiError> {
        self.write(state, |_, _| Ok(())).await
    }

    /// The request changed nothing after all (`POST /verify` only reads; a
    /// download finds the dossier already returned): no entry.
    pub fn nothing_changed(&mut self) {
        self.unchanged = true;
        self.done.store(true, Ordering::Relaxed);
    }

    fn insert(&mut self, conn: &mut DbConnection) -> QueryResult<()> {
        self.entry.at = crate::time::now();
        diesel::insert_into(audit_pending::table).values(&self.entry).execute(conn).map(drop)
    }
}

impl FromRequest for Audit {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let draft = req
                .extensions()
                .get::<Draft>()
                .cloned()
                .unwrap_or_else(|| Draft { summary: summarise(None, None, None), done: Arc::default() });
            let principal = Principal::extract(&req).await.ok();
            let route = req.match_pattern().unwrap_or_else(|| req.path().to_string());
            let params: Vec<&str> = req.match_info().iter().map(|(_, v)| v).collect();
            let (actor_id, actor_role, unit_id, unit_path) = match principal {
                Some(p) => {
                    let roles: Vec<&str> = p.roles.iter().map(|r| r.as_str()).collect();
                    let path = p.scope().map(str::to_string);
                    (Some(p.user_id), roles.join(","), p.unit_id, path)
                }
                None if route.starts_with("/api/v1/payments/callback/") => (None, "provider".into(), None, None),
                None => (None, "anonymous".into(), None, None),
            };
            let entry = PendingEntry {
                id: uuid::Uuid::now_v7().to_string(),
                at: NaiveDateTime::default(),
                actor_id,
                actor_role,
                unit_id,
                unit_path,
                method: req.method().to_string(),
                action: action_name(req.method().as_str(), &route, draft.summary.action.as_deref()),
                target: Some(params.join("/")).filter(|t| !t.is_empty()),
                route,
                status: 200,
                request_id: req.extensions().get::<RequestId>().map(ToString::to_string).unwrap_or_default(),
                client_address: crate::http::client_address(&req).map(|a| a.to_string()),
                summary: draft.summary.text,
            };
            Ok(Audit {
                target_from_handler: params.is_empty(),
                entry,
                done: draft.done,
                unchanged: false,
                mirror: None,
            })
        })
    }
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
    q: &AuditFilter,
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

/// The first dossier event whose audit entry is neither in the chain nor
/// waiting to be linked.
pub fn unaudited_event(conn: &mut DbConnection) -> QueryResult<Option<routes::UnauditedEvent>> {
    use crate::db::schema::dossier_events;
    let found: Option<(String, String, Option<String>)> = dossier_events::table
        .filter(dossier_events::audit_id.is_not_null())
        .filter(diesel::dsl::not(diesel::dsl::exists(
            audit_log::table.filter(audit_log::id.nullable().eq(dossier_events::audit_id)),
        )))
        .filter(diesel::dsl::not(diesel::dsl::exists(
            audit_pending::table.filter(audit_pending::id.nullable().eq(dossier_events::audit_id)),
        )))
        .select((dossier_events::id, dossier_events::dossier_id, dossier_events::audit_id))
        .order(dossier_events::id.asc())
        .first(conn)
        .optional()?;
    Ok(found.map(|(event_id, dossier_id, audit_id)| routes::UnauditedEvent {
        event_id,
        dossier_id,
        audit_id: audit_id.unwrap_or_default(),
    }))
}

/// Summarises the body of every request with a method other than GET, HEAD
/// or OPTIONS for its audit entry, before the handler runs; afterwards
/// reports (as an error in the log) a 2xx answer to such a request whose
/// handler wrote no entry.
pub async fn record(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let json_limit = state.as_ref().map(|s| s.settings.http.json_limit_bytes);
    let summary = match json_limit {
        Some(limit) if !safe => capture_body(&mut req, limit).await,
        _ => summarise(None, None, None),
    };
    let done = Arc::new(AtomicBool::new(false));
    req.extensions_mut().insert(Draft { summary, done: done.clone() });
    let res = next.call(req).await?;
    if !safe && res.status().is_success() && !done.load(Ordering::Relaxed) {
        let route = res.request().match_pattern().unwrap_or_default();
        tracing::error!(%route, status = %res.status(), "a state-changing request succeeded without its audit entry");
        if let Some(state) = state {
            state.metrics.unaudited_changes.inc();
        }
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
    let is_json = req.mime_type().ok().flatten().is_some_and(|m| summary::read_as_json(&m));
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
