//! Operations: liveness, readiness, Prometheus metrics and the middleware
//! that feeds them.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::error::{ApiError, Problem, ProblemCode};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/healthz").route(web::get().to(healthz)))
        .service(web::resource("/readyz").route(web::get().to(readyz)));
}

/// The metrics listener's only route (`http.metrics_address`).
pub fn configure_metrics(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/metrics").route(web::get().to(metrics)));
}

#[derive(Serialize, ToSchema)]
pub struct Status {
    pub status: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = Status)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Status { status: "ok" })
}

/// Readiness: the database answers, and the file store and the SQLite
/// database have `files.min_free_bytes` free (503 `storage_low` below).
#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses((status = 200, body = Status), (status = 503, body = Problem)))]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.db.ping().await?;
    let st = state.clone();
    web::block(move || low_space(&st)).await.map_err(ApiError::internal)??;
    Ok(HttpResponse::Ok().json(Status { status: "ready" }))
}

/// 503 `storage_low` when a volume the service writes to is nearly full.
fn low_space(state: &AppState) -> Result<(), ApiError> {
    let min = state.settings.files.min_free_bytes;
    let database = state.db.sqlite_file().map(|file| {
        let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
        crate::storage::available_bytes(dir)
    });
    for (what, free) in [("file store", Some(state.files.available_bytes())), ("SQLite database", database)] {
        match free {
            Some(Ok(free)) if free < min => {
                tracing::error!(volume = what, free, min, "free space below files.min_free_bytes");
                return Err(ApiError::new(
                    actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
                    ProblemCode::StorageLow,
                    format!("The {what}'s disk has less free space than files.min_free_bytes."),
                ));
            }
            Some(Err(e)) => return Err(ApiError::internal(e)),
            _ => {}
        }
    }
    Ok(())
}

/// Prometheus text exposition, on the metrics listener (`http.metrics_address`).
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let m = &state.metrics;
    let pool = state.db.pool_state();
    m.pool_connections.set(i64::from(pool.connections));
    m.pool_idle.set(i64::from(pool.idle_connections));
    let mut out = Vec::new();
    TextEncoder::new().encode(&m.registry.gather(), &mut out).map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(out))
}

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool_connections: IntGauge,
    pool_idle: IntGauge,
    /// State-changing requests answered 2xx whose handler wrote no audit
    /// entry (`audit::record`): always 0 unless a handler is wrong.
    pub unaudited_changes: IntCounter,
}

impl Metrics {
    pub fn new() -> Self {
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by method, route and status"),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency by method, route and status"),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let pool_connections =
            IntGauge::new("db_pool_connections", "Open database connections in the pool").expect("valid metric");
        let pool_idle = IntGauge::new("db_pool_idle_connections", "Idle database connections").expect("valid metric");
        let unaudited_changes = IntCounter::new(
            "audit_unrecorded_changes_total",
            "State-changing requests answered 2xx without their audit entry (a defect: alert on any)",
        )
        .expect("valid metric");
        let registry = Registry::new();
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(pool_connections.clone()),
            Box::new(pool_idle.clone()),
            Box::new(unaudited_changes.clone()),
        ] {
            registry.register(c).expect("metric registered once");
        }
        Self { registry, requests, latency, pool_connections, pool_idle, unaudited_changes }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The method as a label: the standard ones by name, anything invented as
/// `other`, so that no request can add a series.
fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method as M;
    [M::GET, M::HEAD, M::POST, M::PUT, M::PATCH, M::DELETE, M::OPTIONS]
        .into_iter()
        .zip(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
        .find(|(m, _)| m == method)
        .map_or("other", |(_, name)| name)
}

/// Counts and times every request by method, route pattern (never the raw
/// path) and status: every label has a bounded set of values.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let method = method_label(req.method());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let res = next.call(req).await?;
    if let Some(state) = state {
        let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".into());
        let status = res.status().as_str().to_string();
        let labels = [method, route.as_str(), status.as_str()];
        state.metrics.requests.with_label_values(&labels).inc();
        state.metrics.latency.with_label_values(&labels).observe(start.elapsed().as_secs_f64());
    }
    Ok(res)
}
