//! Builds the application: database, state, routes and the bound listener.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, HttpServer, web};
use tracing_actix_web::TracingLogger;

use crate::audit::linker::Linker;
use crate::auth::tokens::TokenKeys;
use crate::config::Settings;
use crate::db::Db;
use crate::error::{self, ApiError};
use crate::notify::Notifier;
use crate::notify::worker::Worker;
use crate::ops::Metrics;
use crate::payments::Providers;
use crate::results::keys::Signer;
use crate::storage::{FileStore, LocalDir};
use crate::throttle::Throttles;

/// What every handler can reach.
pub struct AppState {
    pub settings: Settings,
    pub db: Db,
    pub tokens: TokenKeys,
    /// What one client may do how often (`src/throttle.rs`).
    pub throttles: Throttles,
    pub metrics: Metrics,
    /// The OpenAPI document, rendered once at start-up.
    pub openapi: String,
    /// Where dossier documents are stored.
    pub files: Arc<dyn FileStore>,
    /// Turns to read an upload (`files.max_concurrent_uploads`, `src/upload.rs`).
    pub uploads: tokio::sync::Semaphore,
    /// Signs electronic results.
    pub signer: Signer,
    /// Online payment providers, by name.
    pub payments: Providers,
    /// Queues e-mails in the outbox.
    pub notifier: Notifier,
    /// Delivers the outbox: in the background when `notifications.worker_enabled`,
    /// or on demand (`run_pending`).
    pub mail_worker: Arc<Worker>,
    /// Links recorded audit entries into the hash chain (`src/audit/linker.rs`).
    pub audit_linker: Arc<Linker>,
    /// The national portal: fetches the documents of dossiers filed there.
    pub portal: Arc<crate::portal::client::PortalClient>,
    /// Delivers the sync records, when the portal is configured: in the
    /// background when `portal.worker_enabled`, or on demand.
    pub portal_courier: Option<Arc<crate::portal::PortalCourier>>,
}

pub struct Application {
    port: u16,
    server: Server,
    metrics_port: u16,
    metrics_server: Server,
    pub state: web::Data<AppState>,
}

impl Application {
    /// Connects and migrates the database, seeds demo data when configured,
    /// and binds the listener (port 0 picks a free port).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let db_settings = settings.database.clone();
        let db = tokio::task::spawn_blocking(move || Db::connect(&db_settings)).await??;
        if settings.seed.demo {
            crate::seed::demo(&db).await?;
        }
        let office = settings.dossiers.office_hours.clone();
        db.write(move |conn| crate::processes::settle(conn, &office))
            .await
            .map_err(|e| anyhow::anyhow!("placing dossiers at their process steps: {e}"))?;
        let files: Arc<dyn FileStore> = Arc::new(LocalDir::new(settings.files.dir.clone())?);
        let signer = Signer::load(&settings.results, settings.profile)?;
        let (key_id, public_key) = (signer.key_id.clone(), signer.public_key_b64());
        db.write(move |conn| Ok(crate::results::publish_key(conn, &key_id, &public_key)?))
            .await
            .map_err(|e| anyhow::anyhow!("publishing the signing key: {e}"))?;
        let mail_worker = Arc::new(Worker::new(&settings, db.clone())?);
        let portal = Arc::new(crate::portal::client::PortalClient::new(&settings.portal)?);
        let portal_courier = crate::portal::courier(&settings.portal, &portal, &db);
        let listener = TcpListener::bind((settings.http.host.as_str(), settings.http.port))?;
        let port = listener.local_addr()?.port();
        let metrics_listener = TcpListener::bind(settings.http.metrics_address.as_str())
            .map_err(|e| anyhow::anyhow!("binding http.metrics_address {}: {e}", settings.http.metrics_address))?;
        let metrics_port = metrics_listener.local_addr()?.port();
        let state = web::Data::new(AppState {
            tokens: TokenKeys::new(&settings.auth),
            throttles: Throttles::new(&settings.throttle),
            metrics: Metrics::new(),
            openapi: crate::openapi::document(),
            files,
            uploads: tokio::sync::Semaphore::new(settings.files.max_concurrent_uploads),
            signer,
            payments: crate::payments::providers(&settings.payments),
            notifier: Notifier::new(&settings.notifications),
            mail_worker,
            audit_linker: Arc::default(),
            portal,
            portal_courier,
            db,
            settings,
        });
        let workers = state.settings.http.worker_count();
        let per_worker = state.settings.http.max_connections.div_ceil(workers).max(1);
        let data = state.clone();
        let server = HttpServer::new(move || {
            let http = &data.settings.http;
            App::new()
                .app_data(data.clone())
                // JSON media types as `audit::summary::read_as_json` reads them.
                .app_data(web::JsonConfig::default().limit(http.json_limit_bytes).error_handler(error::json_error))
                .app_data(web::PayloadConfig::new(http.body_limit_bytes))
                .app_data(web::QueryConfig::default().error_handler(error::query_error))
                .app_data(web::PathConfig::default().error_handler(error::path_error))
                // Innermost, inside TracingLogger: sees the request id and the handler's own status.
                .wrap(from_fn(crate::audit::record))
                // Outside the audit, which reads JSON bodies before handlers do.
                .wrap(from_fn(crate::http::pace_body))
                .wrap(from_fn(crate::http::envelope))
                .wrap(from_fn(crate::ops::record))
                .wrap(TracingLogger::<crate::telemetry::RedactingRootSpan>::new())
                .configure(|cfg| routes(cfg, data.settings.portal.max_filing_bytes))
                .default_service(web::to(|| async { ApiError::not_found().into_response() }))
        });
        let server = server.workers(workers).max_connections(per_worker).listen(listener)?.run();
        let data = state.clone();
        let metrics_server =
            HttpServer::new(move || App::new().app_data(data.clone()).configure(crate::ops::configure_metrics))
                .workers(1)
                .listen(metrics_listener)?
                .run();
        tracing::info!(port, metrics_port, backend = ?state.db.backend(), "motcua listening");
        Ok(Self { port, server, metrics_port, metrics_server, state })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the metrics listener (`http.metrics_address`).
    pub fn metrics_port(&self) -> u16 {
        self.metrics_port
    }

    /// A handle that stops the server (tests use it to restart the service).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped, linking audit entries and, when
    /// `notifications.worker_enabled` (`portal.worker_enabled`), delivering
    /// the outbox's e-mails (sync records) in the background; all stop with
    /// the server.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let linker = actix_web::rt::spawn(self.state.audit_linker.clone().run(self.state.db.clone()));
        let metrics = self.metrics_server.handle();
        actix_web::rt::spawn(self.metrics_server);
        let worker = self
            .state
            .settings
            .notifications
            .worker_enabled
            .then(|| actix_web::rt::spawn(self.state.mail_worker.clone().run()));
        let courier = match &self.state.portal_courier {
            Some(courier) if self.state.settings.portal.worker_enabled => {
                Some(actix_web::rt::spawn(courier.clone().run()))
            }
            _ => None,
        };
        let stopped = self.server.await;
        metrics.stop(true).await;
        linker.abort();
        for task in [worker, courier].into_iter().flatten() {
            task.abort();
        }
        stopped
    }
}

/// Every route, by feature: the URL names the folder.
fn routes(cfg: &mut web::ServiceConfig, max_filing_bytes: usize) {
    cfg.configure(crate::ops::configure).service(
        web::scope("/api/v1")
            .route("/openapi.json", web::get().to(openapi))
            .configure(crate::auth::routes::configure)
            .configure(crate::units::routes::configure)
            .configure(crate::procedures::routes::configure)
            .configure(crate::processes::routes::configure)
            .configure(crate::delegations::configure)
            .configure(crate::holidays::routes::configure)
            .configure(crate::staff::routes::configure)
            .configure(crate::dossiers::routes::configure)
            .configure(crate::dossiers::files::configure)
            .configure(crate::assessment::configure)
            .configure(crate::queue::routes::configure)
            .configure(crate::results::routes::configure)
            .configure(crate::repository::routes::configure)
            .configure(crate::payments::routes::configure)
            .configure(crate::ratings::routes::configure)
            .configure(crate::complaints::configure)
            .configure(crate::stats::routes::configure)
            .configure(crate::stats::exports::configure)
            .configure(crate::audit::routes::configure)
            .configure(crate::notify::routes::configure)
            .configure(|cfg| crate::portal::routes::configure(cfg, max_filing_bytes)),
    );
}

async fn openapi(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(state.openapi.clone())
}

trait IntoResponse {
    fn into_response(self) -> HttpResponse;
}

impl IntoResponse for ApiError {
    fn into_response(self) -> HttpResponse {
        actix_web::ResponseError::error_response(&self)
    }
}
