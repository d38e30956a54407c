//! `/api/v1/audit`: the audit log for auditors and administrators, in their
//! scope, as JSON pages; `/api/v1/exports/audit.csv`, the same as CSV;
//! `/api/v1/audit/verify` recomputes the whole chain.

use actix_web::{HttpResponse, web};
use chrono::NaiveDate;
use futures_util::{StreamExt, stream};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{AuditEntry, Scope, chain_after, page};
use crate::app::AppState;
use crate::auth::Principal;
use crate::domain::audit_chain::{Broken, Verifier};
use crate::domain::roles::Role;
use crate::error::{ApiError, Problem};
use crate::pagination::{Keyset, Page};

/// Entries per database read of an export or a verification.
const BATCH: i64 = 1000;

/// The CSV columns: the JSON fields of an entry, in order.
const CSV_HEADER: [&str; 17] = [
    "seq",
    "id",
    "at",
    "actor_id",
    "actor_role",
    "unit_id",
    "unit_path",
    "method",
    "route",
    "action",
    "target",
    "status",
    "request_id",
    "client_address",
    "summary",
    "prev_hash",
    "hash",
];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/audit").route(web::get().to(list)))
        .service(web::resource("/exports/audit.csv").route(web::get().to(export)))
        .service(web::resource("/audit/verify").route(web::get().to(verify)));
}

/// The filters of the audit log, shared by its page and its CSV export.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditFilter {
    /// Only entries of this account (user id).
    pub actor: Option<String>,
    /// Only this action, e.g. `units.post` or `dossiers.actions.receive`.
    pub action: Option<String>,
    /// Only this route pattern, e.g. `/api/v1/dossiers/{id}/actions`.
    pub route: Option<String>,
    /// Only entries about this target (e.g. a dossier id).
    pub target: Option<String>,
    /// Only entries with this HTTP status.
    pub status: Option<i32>,
    /// On or after this local date (YYYY-MM-DD).
    pub from: Option<NaiveDate>,
    /// Before this local date (YYYY-MM-DD).
    pub to: Option<NaiveDate>,
}

/// A page of the audit log: its filters (`AuditFilter`, repeated because a
/// query string cannot flatten typed fields) and the position.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub route: Option<String>,
    pub target: Option<String>,
    pub status: Option<i32>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

impl AuditQuery {
    fn split(self) -> (AuditFilter, Option<String>, Option<i64>) {
        let AuditQuery { actor, action, route, target, status, from, to, cursor, limit } = self;
        (AuditFilter { actor, action, route, target, status, from, to }, cursor, limit)
    }
}

/// The caller's scope; auditors and administrators only.
fn scope_of(principal: &Principal) -> Result<Scope, ApiError> {
    principal.require_any(&[Role::Auditor, Role::Admin])?;
    Ok(Scope { path: principal.scope_path()?, root: principal.is_at_root()? })
}

/// The audit log of the caller's scope, newest first: entries of actors
/// whose unit lies in the caller's subtree; entries without a unit
/// (citizens, anonymous callers, payment providers) only for a root unit.
/// Every matching entry as CSV: `GET /exports/audit.csv`.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<AuditEntry>), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let (filter, cursor, limit) = query.into_inner().split();
    let scope = scope_of(&principal)?;
    super::linker::link_all(&state.db).await?;
    let keyset = Keyset::parse(cursor.as_deref(), limit)?;
    let before = keyset
        .after
        .as_deref()
        .map(|c| c.parse::<i64>().map_err(|_| ApiError::invalid_field("cursor", "not a cursor returned by this API")))
        .transpose()?;
    let fetch = keyset.fetch();
    let rows = state.db.run(move |conn| Ok(page(conn, &scope, &filter, before, fetch)?)).await?;
    Ok(HttpResponse::Ok().json(keyset.page(rows, |e| e.seq.to_string())))
}

/// Every entry of the caller's scope that matches the filters, newest first,
/// as CSV (UTF-8 with BOM, a header row, the columns of the JSON entries).
/// Streams, reading a batch at a time: a big log is never held in memory. A
/// database failure during the stream cuts it (and is logged); the scope was
/// read before answering, so an unreachable database gets a problem answer.
#[utoipa::path(get, path = "/api/v1/exports/audit.csv", tag = "audit", params(AuditFilter), security(("bearer" = [])),
    responses((status = 200, description = "The matching entries",
            body = inline(crate::http::Binary), content_type = "text/csv",
            headers(("Content-Disposition" = String, description = "`attachment; filename=audit.csv`"))),
        (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn export(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<AuditFilter>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let scope = scope_of(&principal)?;
    super::linker::link_all(&state.db).await?;
    let mut head = "\u{feff}".as_bytes().to_vec();
    head.extend(csv_rows(&[], true)?);
    // The state is the `seq` to read below (None: from the newest); None ends.
    let rows = stream::unfold(Some(None), move |before: Option<Option<i64>>| {
        let (state, scope, q) = (state.clone(), scope.clone(), q.clone());
        async move {
            let before = before?;
            match state.db.run(move |conn| Ok(page(conn, &scope, &q, before, BATCH)?)).await {
                Err(e) => {
                    tracing::error!(error = %e, "the audit export stopped");
                    Some((Err(e), None))
                }
                Ok(rows) if rows.is_empty() => None,
                Ok(rows) => {
                    let next = rows.last().filter(|_| rows.len() as i64 == BATCH).map(|last| Some(last.seq));
                    Some((csv_rows(&rows, false).map(web::Bytes::from), next))
                }
            }
        }
    });
    let body = stream::once(async move { Ok::<_, ApiError>(web::Bytes::from(head)) }).chain(rows);
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(crate::http::attachment("audit.csv"))
        .streaming(body))
}

/// `rows` as CSV lines, after the header line when `header`.
fn csv_rows(rows: &[AuditEntry], header: bool) -> Result<Vec<u8>, ApiError> {
    let mut out = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
    if header {
        out.write_record(CSV_HEADER).map_err(ApiError::internal)?;
    }
    for row in rows {
        // The entry's JSON fields in header order; no cell reads as a formula.
        let fields = serde_json::to_value(row).map_err(ApiError::internal)?;
        let cells = CSV_HEADER.iter().map(|name| match &fields[*name] {
            serde_json::Value::Null => String::new(),
            serde_json::Value::String(s) => crate::domain::text::spreadsheet_safe(s).into_owned(),
            other => other.to_string(),
        });
        out.write_record(cells).map_err(ApiError::internal)?;
    }
    out.into_inner().map_err(ApiError::internal)
}

/// The answer of a verification.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyReport {
    pub valid: bool,
    /// Valid chain: how many entries it has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries: Option<u64>,
    /// Valid chain: the hash of its last entry (64 zeros when empty). Keep it:
    /// a later chain that no longer contains it has lost its tail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head_hash: Option<String>,
    /// Broken chain: the entries read, the broken one included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries_checked: Option<u64>,
    /// Broken chain: the first entry that does not verify.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_broken: Option<Broken>,
    /// A dossier event whose audit entry is not in the log (removed, or
    /// never written): the chain alone cannot show a lost last entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unaudited_event: Option<UnauditedEvent>,
}

/// An event of a dossier that names an audit entry the log does not hold.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnauditedEvent {
    pub event_id: String,
    pub dossier_id: String,
    /// The missing entry's id.
    pub audit_id: String,
}

/// Recomputes the whole chain in `seq` order and names the first broken
/// entry: `gap in sequence` (an entry is missing or out of order), `broken
/// link` (its `prev_hash` is not the previous entry's hash) or `hash
/// mismatch` (its fields were altered); then checks that every dossier
/// event's audit entry is in the log (`unaudited_event`). Auditors and
/// administrators of a root unit only.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit", security(("bearer" = [])),
    responses((status = 200, body = VerifyReport), (status = 403, body = Problem)))]
pub async fn verify(state: web::Data<AppState>, principal: Principal) -> Result<HttpResponse, ApiError> {
    if !scope_of(&principal)?.root {
        return Err(ApiError::forbidden("Verifying the whole chain needs an auditor or administrator of a root unit."));
    }
    super::linker::link_all(&state.db).await?;
    let (mut verifier, mut last) = (Verifier::default(), 0);
    loop {
        // Hashing runs beside the read, on the blocking pool.
        let (v, read, outcome) = state
            .db
            .run(move |conn| {
                let rows = chain_after(conn, last, BATCH)?;
                let outcome = rows.iter().try_for_each(|row| verifier.check(&row.chain_entry()));
                Ok((verifier, rows.last().map(|r| (r.seq, rows.len() as i64)), outcome))
            })
            .await?;
        verifier = v;
        if let Err(broken) = outcome {
            return Ok(HttpResponse::Ok().json(VerifyReport {
                valid: false,
                entries: None,
                head_hash: None,
                entries_checked: Some(verifier.checked()),
                first_broken: Some(broken),
                unaudited_event: None,
            }));
        }
        match read {
            Some((seq, n)) if n == BATCH => last = seq,
            _ => break,
        }
    }
    let unaudited_event = state.db.run(|conn| Ok(super::unaudited_event(conn)?)).await?;
    Ok(HttpResponse::Ok().json(VerifyReport {
        valid: unaudited_event.is_none(),
        entries: Some(verifier.checked()),
        head_hash: Some(verifier.head_hash().to_string()),
        entries_checked: None,
        first_broken: None,
        unaudited_event,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_rows_follow_the_header_and_hold_no_formula() {
        let entry = AuditEntry {
            seq: 1,
            id: "i".into(),
            at: chrono::NaiveDateTime::default(),
            actor_id: None,
            actor_role: "anonymous".into(),
            unit_id: None,
            unit_path: None,
            method: "POST".into(),
            route: "/r".into(),
            action: "r.post".into(),
            target: Some("=HYPERLINK(\"x\")".into()),
            status: 201,
            request_id: "q".into(),
            client_address: None,
            summary: "{}".into(),
            prev_hash: "p".into(),
            hash: "h".into(),
        };
        let text = String::from_utf8(csv_rows(&[entry], true).unwrap()).unwrap();
        assert_eq!(text.lines().next().unwrap(), CSV_HEADER.join(","));
        assert_eq!(
            text.lines().nth(1).unwrap(),
            r#"1,i,1970-01-01T00:00:00.000000Z,,anonymous,,,POST,/r,r.post,"'=HYPERLINK(""x"")",201,q,,{},p,h"#
        );
    }
}
