//! Shared test harness: every test spawns the real application on port 0 with
//! its own database — a fresh SQLite file, or a fresh PostgreSQL database on
//! the server named by `TEST_DATABASE_URL` — and talks to it over HTTP.
#![allow(dead_code)]

pub mod flow;
pub mod portal;
pub mod server;
pub mod smtp;

use std::ops::Deref;
use std::path::Path;

use actix_web::dev::ServerHandle;
use actix_web::web;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use motcua::app::{AppState, Application};
use motcua::config::{Profile, Settings};
use motcua::notify::worker::Delivery;
use motcua::seed::DEMO_PASSWORD;
use reqwest::{Method, Response, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named `async fn(Backend)` once per backend: `name::sqlite`
/// always, `name::postgres` when `TEST_DATABASE_URL` is set.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[actix_web::test]
            async fn sqlite() {
                super::$name($crate::common::Backend::Sqlite).await
            }

            #[actix_web::test]
            async fn postgres() {
                if $crate::common::postgres_url().is_some() {
                    super::$name($crate::common::Backend::Postgres).await
                } else {
                    eprintln!("skipped: TEST_DATABASE_URL is not set");
                }
            }
        }
    )*};
}

pub fn postgres_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty())
}

/// Where a test's database lives — a SQLite file in a directory of its own,
/// or a PostgreSQL database on the `TEST_DATABASE_URL` server — dropped with
/// the test. The database itself is created by whoever connects first.
pub struct TestDb {
    pub url: String,
    place: Place,
}

enum Place {
    Sqlite(tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    pub fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("motcua.sqlite3").display());
                Self { url, place: Place::Sqlite(dir) }
            }
            Backend::Postgres => {
                let base = postgres_url().expect("TEST_DATABASE_URL");
                let (admin_url, _) = motcua::db::split_pg_database(&base).expect("TEST_DATABASE_URL names a database");
                let name = format!("motcua_test_{}", uuid::Uuid::new_v4().simple());
                let at = admin_url.rfind("/postgres").expect("maintenance database in the URL");
                let url = format!("{}/{name}{}", &admin_url[..at], &admin_url[at + "/postgres".len()..]);
                Self { url, place: Place::Postgres { admin_url, name } }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Place::Postgres { admin_url, name } = &self.place
            && let Ok(mut conn) = PgConnection::establish(admin_url)
        {
            let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
        }
    }
}

/// Talks HTTP to one running instance: in-process ([`TestApp`] derefs to
/// it) or the real binary ([`server::Server`]).
#[derive(Clone)]
pub struct Api {
    pub address: String,
    pub client: reqwest::Client,
}

pub struct TestApp {
    pub api: Api,
    /// The metrics listener (`http.metrics_address`).
    pub metrics: Api,
    pub state: web::Data<AppState>,
    pub backend: Backend,
    /// The URL the application was given, for out-of-band checks.
    pub database_url: String,
    /// The settings the application runs with.
    pub settings: Settings,
    server: ServerHandle,
    db: TestDb,
    /// Uploaded documents, in a directory of the test's own.
    files: tempfile::TempDir,
}

impl Deref for TestApp {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

/// Where links in the test applications' e-mails point; [`TestApp::follow`]
/// sends them to the application at hand.
pub const PUBLIC_BASE_URL: &str = "https://dichvucong.motcua.test";

/// The environment of a test instance: port 0, demo data, quick timeouts.
pub const TEST_ENV: &[(&str, &str)] = &[
    ("MOTCUA__HTTP__PORT", "0"),
    ("MOTCUA__HTTP__WORKERS", "2"),
    ("MOTCUA__HTTP__METRICS_ADDRESS", "127.0.0.1:0"),
    ("MOTCUA__SEED__DEMO", "true"),
    ("MOTCUA__DATABASE__POOL_SIZE", "4"),
    ("MOTCUA__DATABASE__CHECKOUT_TIMEOUT_SECS", "1"),
    // Tests log in often from one address; the rate-limit test lowers these.
    ("MOTCUA__THROTTLE__LOGIN_FAILURES_PER_MINUTE_PER_ADDRESS", "10000"),
    ("MOTCUA__THROTTLE__REGISTRATIONS_PER_HOUR_PER_ADDRESS", "10000"),
    ("MOTCUA__THROTTLE__PASSWORD_RESETS_PER_HOUR_PER_ADDRESS", "10000"),
    ("MOTCUA__THROTTLE__LOOKUPS_PER_MINUTE_PER_ADDRESS", "10000"),
    // E-mail is delivered when a test says so (`deliver`), to the sink it
    // starts; nothing listens on port 1.
    ("MOTCUA__NOTIFICATIONS__WORKER_ENABLED", "false"),
    ("MOTCUA__NOTIFICATIONS__PUBLIC_BASE_URL", PUBLIC_BASE_URL),
    ("MOTCUA__NOTIFICATIONS__LOOKUP_PAGE_URL", "https://dichvucong.motcua.test/tra-cuu?ma={code}"),
    ("MOTCUA__SMTP__PORT", "1"),
    ("MOTCUA__SMTP__TIMEOUT_SECS", "5"),
];

/// The bearer token the test portal expects, and the portal's service account.
pub const PORTAL_TOKEN: &str = "portal-bearer-token-for-tests";
pub const PORTAL_ACCOUNT: &str = "dvcqg@portal.motcua.test";
pub const PORTAL_SECRET: &str = "Cong-DVCQG-2025!secret";

/// Settings for a test: local profile and [`TEST_ENV`].
pub fn test_settings() -> Settings {
    let env: Vec<(String, String)> = TEST_ENV.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    Settings::load_from(&dir, Profile::Local, &env).expect("test settings")
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Spawns with settings adjusted by `tweak`.
    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = test_settings();
        let db = TestDb::new(backend);
        let url = db.url.clone();
        settings.database.url = Some(SecretString::from(url.clone()));
        let files = tempfile::tempdir().expect("temp dir");
        settings.files.dir = files.path().join("files");
        settings.results.key_file = files.path().join("signing-key");
        tweak(&mut settings);
        Self::start(settings, backend, url, db, files).await
    }

    /// Spawns with e-mail going to a fresh SMTP sink, and settings adjusted by `tweak`.
    pub async fn with_mail(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> (Self, smtp::SmtpSink) {
        let sink = smtp::SmtpSink::start();
        let port = sink.port();
        let app = Self::spawn_with(backend, |s| {
            s.smtp.host = "127.0.0.1".into();
            s.smtp.port = port;
            tweak(s);
        })
        .await;
        (app, sink)
    }

    async fn start(settings: Settings, backend: Backend, url: String, db: TestDb, files: tempfile::TempDir) -> Self {
        let app = Application::build(settings.clone()).await.expect("application starts");
        let address = format!("http://127.0.0.1:{}", app.port());
        let metrics = Api::new(format!("http://127.0.0.1:{}", app.metrics_port()));
        let (state, server) = (app.state.clone(), app.handle());
        actix_web::rt::spawn(app.run_until_stopped());
        Self { api: Api::new(address), metrics, state, backend, database_url: url, settings, server, db, files }
    }

    /// Stops the service and starts it again on the same database, as an
    /// operator restarting it would (with `tweak`ed settings).
    pub async fn restart(self, tweak: impl FnOnce(&mut Settings)) -> Self {
        let Self { server, mut settings, backend, database_url, db, files, .. } = self;
        server.stop(false).await;
        tweak(&mut settings);
        Self::start(settings, backend, database_url, db, files).await
    }

    /// A second instance of the service on the same database, file store and
    /// signing key — two servers behind one load balancer. It serves until
    /// the test ends.
    pub async fn twin(&self) -> Api {
        let app = Application::build(self.settings.clone()).await.expect("the second instance starts");
        let address = format!("http://127.0.0.1:{}", app.port());
        actix_web::rt::spawn(app.run_until_stopped());
        Api::new(address)
    }

    /// Spawns with dossiers mirrored to a fresh portal sink (delivered when
    /// a test says so, `sync`), and settings adjusted by `tweak`.
    pub async fn with_portal(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> (Self, portal::PortalSink) {
        let sink = portal::PortalSink::start();
        let (url, origin) = (sink.url("/DongBoHoSoMC"), sink.origin());
        let app = Self::spawn_with(backend, |s| {
            s.portal.sync_url = Some(url);
            s.portal.document_origin = Some(origin);
            s.portal.bearer_token = Some(SecretString::from(PORTAL_TOKEN.to_string()));
            s.portal.worker_enabled = false;
            // Due at once: a test's `sync()` delivers what it changed.
            s.portal.settle_ms = 0;
            s.portal.timeout_secs = 2;
            s.portal.backoff_base_secs = 1;
            s.portal.backoff_max_secs = 1;
            s.portal.max_attempts = 3;
            tweak(s);
        })
        .await;
        (app, sink)
    }

    /// Delivers every sync record due now (the portal courier's round, on demand).
    pub async fn sync(&self) -> Delivery {
        let courier = self.state.portal_courier.as_ref().expect("the portal is configured");
        courier.run_pending().await.expect("delivery round")
    }

    /// Creates the portal's service account (`motcua portal account`) and
    /// returns its access token.
    pub async fn portal_token(&self) -> String {
        let new = motcua::staff::NewStaff::portal_account(PORTAL_ACCOUNT, "Cổng Dịch vụ công quốc gia", PORTAL_SECRET)
            .expect("a valid account");
        let hash = motcua::auth::password::hash_blocking(PORTAL_SECRET).expect("hashing");
        self.state
            .db
            .write(move |conn| {
                let unit = motcua::units::find_by_code(conn, "22")?.expect("the demo province");
                new.insert(conn, &unit, hash).map(drop)
            })
            .await
            .expect("the service account is created");
        self.login(PORTAL_ACCOUNT, PORTAL_SECRET).await["access_token"].as_str().unwrap().to_string()
    }

    /// Delivers every e-mail due now (the worker's round, on demand).
    pub async fn deliver(&self) -> Delivery {
        self.state.mail_worker.run_pending().await.expect("delivery round")
    }

    /// Follows an e-mailed link (which names [`PUBLIC_BASE_URL`]) to this application.
    pub async fn follow(&self, link: &str) -> Response {
        let path = link.strip_prefix(PUBLIC_BASE_URL).unwrap_or_else(|| panic!("{link} is not one of ours"));
        self.get(path, None).await
    }

    /// The statistics' daily counts kept by the actions so far are exactly
    /// those recomputed from the dossiers (`motcua stats rebuild`).
    pub async fn assert_counts_kept(&self) {
        let done = self.db(motcua::stats::daily::rebuild).await;
        assert_eq!(done.differing, 0, "daily counts drifted from the dossiers: {done:?}");
    }

    /// Runs `f` against the test's database (to look behind the API, or to move time).
    pub async fn db<T, F>(&self, f: F) -> T
    where
        F: FnOnce(&mut motcua::db::DbConnection) -> diesel::QueryResult<T> + Send + 'static,
        T: Send + 'static,
    {
        self.state.db.run(move |conn| Ok(f(conn)?)).await.expect("database work")
    }
}

impl Api {
    pub fn new(address: String) -> Self {
        motcua::portal::client::install_crypto();
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { address, client }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn request(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Response {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.expect("request sent")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        self.request(Method::POST, path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        self.request(Method::PATCH, path, token, Some(body)).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        self.request(Method::PUT, path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::DELETE, path, token, None).await
    }

    /// Logs in and returns the whole token response.
    pub async fn login(&self, email: &str, password: &str) -> Value {
        let res = self.post("/api/v1/auth/login", None, json!({"email": email, "password": password})).await;
        assert_eq!(res.status(), StatusCode::OK, "login of {email}");
        res.json().await.unwrap()
    }

    /// An access token for a demo account, e.g. `token("admin")`.
    pub async fn token(&self, demo_role: &str) -> String {
        let tokens = self.login(&format!("{demo_role}@motcua.local"), DEMO_PASSWORD).await;
        tokens["access_token"].as_str().unwrap().to_string()
    }

    /// The id of the unit with `code`.
    pub async fn unit_id(&self, code: &str) -> String {
        let page: Value = self.get(&format!("/api/v1/units?q={code}&limit=200"), None).await.json().await.unwrap();
        let unit = page["items"].as_array().unwrap().iter().find(|u| u["code"] == code).expect("unit exists");
        unit["id"].as_str().unwrap().to_string()
    }

    /// Creates a staff account as the demo admin and returns its access token.
    pub async fn staff_token(&self, email: &str, roles: &[&str], unit_code: &str) -> String {
        let admin = self.token("admin").await;
        let unit_id = self.unit_id(unit_code).await;
        let res = self
            .post(
                "/api/v1/admin/users",
                Some(&admin),
                json!({"email": email, "full_name": "Cán bộ thử", "password": DEMO_PASSWORD,
                       "roles": roles, "unit_id": unit_id}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
        self.login(email, DEMO_PASSWORD).await["access_token"].as_str().unwrap().to_string()
    }
}

/// Asserts a problem+json answer with `status` and `code`; returns the body.
/// Every file under `dir`, recursively, sorted (a file store's documents and
/// anything on its way in).
pub fn stored_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut all: Vec<_> = entries
        .flatten()
        .flat_map(|e| if e.path().is_dir() { stored_files(&e.path()) } else { vec![e.path()] })
        .collect();
    all.sort();
    all
}

pub async fn assert_problem(res: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(res.status(), status, "status");
    let ct = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_string());
    assert_eq!(ct.as_deref(), Some("application/problem+json"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_u16());
    assert_eq!(body["type"], format!("urn:motcua:problem:{code}"));
    assert!(body["title"].is_string() && body["detail"].is_string());
    body
}

/// A valid registration body for a citizen; `n` makes it unique.
pub fn citizen(n: u32) -> Value {
    json!({
        "email": format!("citizen{n}@example.vn"),
        "password": "mật khẩu an toàn",
        "full_name": "Trần Thị Bình",
        "national_id": format!("022196{n:06}"),
        "phone": "0987654321",
    })
}
