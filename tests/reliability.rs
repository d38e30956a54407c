//! Reliability: acknowledged work survives SIGKILL, a database outage answers
//! 503 fast and heals by itself, several instances share one PostgreSQL
//! database, and a backup taken while the service runs restores whole.
//! docs/reliability.md maps each guarantee to its test.

mod common;

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use common::flow::{self, BIRTH, HOUSEHOLD_BUSINESS, pdf, upload};
use common::server::{self, Server};
use common::{Api, Backend, TestApp, TestDb, assert_problem, citizen, postgres_url};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use futures_util::future::join_all;
use motcua::db::Db;
use motcua::db::schema::{dossier_components, dossier_events, dossier_facts, dossiers};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

on_both_backends!(acknowledged_filings_survive_sigkill, a_backup_taken_while_serving_restores_every_dossier_and_file);

/// Communes of Hạ Long that perform the birth registration.
const COMMUNES: [&str; 2] = ["06691", "06673"];

/// Registers citizen `n` and returns an access token.
async fn new_citizen(api: &Api, n: u32) -> String {
    let body = citizen(n);
    let res = api.post("/api/v1/auth/register", None, body.clone()).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let tokens = api.login(body["email"].as_str().unwrap(), body["password"].as_str().unwrap()).await;
    tokens["access_token"].as_str().unwrap().to_string()
}

/// One online filing, with the key that makes its retries safe.
struct Filing {
    key: String,
    body: Value,
}

impl Filing {
    fn new(unit_id: &str) -> Self {
        let body = json!({"procedure_code": BIRTH, "unit_id": unit_id, "form": {"ho_ten_tre": "Nguyễn Văn Bé"}});
        Self { key: uuid::Uuid::new_v4().to_string(), body }
    }

    /// The dossier, or the transport error of a server that went away (the
    /// outcome is then unknown: the filing is in doubt).
    async fn send(&self, api: &Api, token: &str) -> reqwest::Result<Value> {
        let res = api
            .client
            .post(api.url("/api/v1/dossiers"))
            .bearer_auth(token)
            .header("idempotency-key", &self.key)
            .json(&self.body)
            .timeout(Duration::from_secs(10))
            .send()
            .await?;
        let status = res.status();
        let body: Value = res.json().await?;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        Ok(body)
    }
}

/// Files until the server goes away, starting with the filing left in doubt
/// by the previous round. Returns the acknowledged dossiers and the filing
/// now in doubt.
async fn file_until_killed(api: &Api, token: &str, units: &[String], mut next: Filing) -> (Vec<Value>, Filing) {
    let mut acknowledged = Vec::new();
    loop {
        match next.send(api, token).await {
            Ok(dossier) => acknowledged.push(dossier),
            Err(_) => return (acknowledged, next),
        }
        next = Filing::new(&units[acknowledged.len() % units.len()]);
    }
}

/// Codes are unique, and per unit and day numbered 1, 2, 3 … without a gap.
fn assert_consecutive<'a>(codes: impl IntoIterator<Item = &'a str>) {
    let mut by_day: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for code in codes {
        let (unit_day, n) = code.rsplit_once('-').expect("UNIT-YYMMDD-NNNN");
        by_day.entry(unit_day).or_default().push(n.parse().unwrap());
    }
    for (unit_day, mut numbers) in by_day {
        numbers.sort_unstable();
        let expected: Vec<u32> = (1..=numbers.len() as u32).collect();
        assert_eq!(numbers, expected, "codes of {unit_day}");
    }
}

async fn assert_audit_chain_valid(api: &Api) {
    let auditor = api.token("auditor").await;
    let report = flow::json_ok(api.get("/api/v1/audit/verify", Some(&auditor)).await, StatusCode::OK).await;
    assert_eq!(report["valid"], true, "{report}");
}

/// The test's database, opened directly for out-of-band checks.
fn open_directly(url: &str) -> Db {
    let mut settings = common::test_settings();
    settings.database.url = Some(SecretString::from(url.to_string()));
    Db::connect(&settings.database).expect("database opens")
}

const CLIENTS: u32 = 8;
const ROUNDS: u64 = 3;

async fn acknowledged_filings_survive_sigkill(b: Backend) {
    let (db, dir) = (TestDb::new(b), tempfile::tempdir().unwrap());
    let mut server = Server::start(&db.url, dir.path(), &[]);
    server.ready().await;
    let api = server.api.clone();
    let tokens = join_all((0..CLIENTS).map(|n| new_citizen(&api, n))).await;
    let units = join_all(COMMUNES.map(|c| api.unit_id(c))).await;

    // Eight citizens file in a loop; the server is killed mid-load (SIGKILL)
    // and restarted, three times. A filing cut off is retried after the
    // restart with its key: it was either committed (and the retry returns
    // that dossier) or not at all.
    let mut acknowledged: Vec<Value> = Vec::new();
    let mut in_doubt: Vec<Filing> = tokens.iter().map(|_| Filing::new(&units[0])).collect();
    for round in 0..ROUNDS {
        let load = join_all(tokens.iter().zip(in_doubt).map(|(t, f)| file_until_killed(&api, t, &units, f)));
        let kill = async {
            actix_web::rt::time::sleep(Duration::from_millis(700 + 300 * round)).await;
            server.kill();
        };
        let (outcomes, ()) = tokio::join!(load, kill);
        let filed_this_round: usize = outcomes.iter().map(|(acked, _)| acked.len()).sum();
        assert!(filed_this_round > 0, "round {round}: no load before the kill");
        (acknowledged, in_doubt) = outcomes.into_iter().fold((acknowledged, Vec::new()), |(mut all, mut doubt), o| {
            all.extend(o.0);
            doubt.push(o.1);
            (all, doubt)
        });
        server.restart().await;
    }
    for (filing, token) in in_doubt.iter().zip(&tokens) {
        acknowledged.push(filing.send(&api, token).await.expect("the restarted server answers"));
    }

    // Every acknowledged dossier is there, once, whole: its components, its
    // facts row and its submit event; and nothing else was committed.
    let acked: HashMap<String, String> = acknowledged
        .iter()
        .map(|d| (d["id"].as_str().unwrap().to_string(), d["code"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(acked.len(), acknowledged.len(), "each key made its own dossier");
    let components_each = acknowledged[0]["components"].as_array().unwrap().len();
    let (rows, events, components, facts) = open_directly(&db.url)
        .run(|conn| {
            let rows: Vec<(String, String)> = dossiers::table.select((dossiers::id, dossiers::code)).load(conn)?;
            let events: Vec<(String, String)> =
                dossier_events::table.select((dossier_events::dossier_id, dossier_events::action)).load(conn)?;
            let components: Vec<String> =
                dossier_components::table.select(dossier_components::dossier_id).load(conn)?;
            let facts: Vec<String> = dossier_facts::table.select(dossier_facts::dossier_id).load(conn)?;
            Ok((rows, events, components, facts))
        })
        .await
        .unwrap();
    assert_eq!(rows.iter().cloned().collect::<HashMap<_, _>>(), acked);
    assert_consecutive(rows.iter().map(|(_, code)| code.as_str()));
    let mut expected_events: Vec<(String, String)> = acked.keys().map(|id| (id.clone(), "submit".into())).collect();
    let mut events = events;
    expected_events.sort();
    events.sort();
    assert_eq!(events, expected_events, "one submit event per dossier");
    let mut per_dossier: HashMap<&str, usize> = HashMap::new();
    for id in &components {
        *per_dossier.entry(id).or_default() += 1;
    }
    assert!(acked.keys().all(|id| per_dossier.get(id.as_str()) == Some(&components_each)), "components");
    assert_eq!(facts.into_iter().collect::<HashSet<_>>(), acked.keys().cloned().collect::<HashSet<_>>(), "facts");
    // Every committed event has its audit entry, written in its transaction:
    // linked into the chain, or waiting for the linker after the kill.
    let unaudited: i64 = open_directly(&db.url)
        .run(|conn| {
            use motcua::db::schema::{audit_log, audit_pending};
            Ok(dossier_events::table
                .filter(diesel::dsl::not(diesel::dsl::exists(
                    audit_log::table.filter(audit_log::id.nullable().eq(dossier_events::audit_id)),
                )))
                .filter(diesel::dsl::not(diesel::dsl::exists(
                    audit_pending::table.filter(audit_pending::id.nullable().eq(dossier_events::audit_id)),
                )))
                .count()
                .get_result(conn)?)
        })
        .await
        .unwrap();
    assert_eq!(unaudited, 0, "committed events without their audit entry");
    assert_audit_chain_valid(&api).await;
}

/// A loopback TCP proxy to PostgreSQL that the test cuts, drops or
/// restores, after the crate registry's chaos proxy.
struct ChaosProxy {
    addr: SocketAddr,
    upstream: String,
    link: watch::Sender<Link>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Up,
    /// Refused: nothing listens, live connections are closed.
    Cut,
    /// Silent: connections stay open and new ones are accepted, but no byte
    /// goes through either way (a firewall dropping packets) until `Up`.
    Dropped,
}

impl ChaosProxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Self { addr: listener.local_addr().unwrap(), upstream, link: watch::Sender::new(Link::Up) };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let (upstream, link) = (self.upstream.clone(), self.link.subscribe());
        actix_web::rt::spawn(async move {
            loop {
                let mut cut = link.clone();
                let client = tokio::select! {
                    accepted = listener.accept() => accepted.unwrap().0,
                    _ = cut.wait_for(|l| *l == Link::Cut) => return,
                };
                let (upstream, link) = (upstream.clone(), link.clone());
                actix_web::rt::spawn(async move {
                    let Ok(server) = TcpStream::connect(&upstream).await else { return };
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    let mut cut = link.clone();
                    tokio::select! {
                        _ = forward(client_read, server_write, link.clone()) => {}
                        _ = forward(server_read, client_write, link.clone()) => {}
                        _ = cut.wait_for(|l| *l == Link::Cut) => {}
                    }
                });
            }
        });
    }

    /// The database is gone: nothing listens, live connections are closed.
    fn cut(&self) {
        self.link.send_replace(Link::Cut);
    }

    /// The network drops every packet, silently.
    fn drop_packets(&self) {
        self.link.send_replace(Link::Dropped);
    }

    /// The database is back, on the same address.
    async fn restore(&self) {
        let was = self.link.send_replace(Link::Up);
        if was == Link::Cut {
            self.serve(TcpListener::bind(self.addr).await.unwrap());
        }
    }
}

/// Copies `from` to `to`, holding what it read while the link is dropped.
async fn forward(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut link: watch::Receiver<Link>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if link.wait_for(|l| *l == Link::Up).await.is_err() {
            return;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if link.wait_for(|l| *l == Link::Up).await.is_err() || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// `url` with its `host:port` replaced by `addr`; and that `host:port`.
fn through(url: &str, addr: &str) -> (String, String) {
    let start = url.find('@').map_or(url.find("://").unwrap() + 3, |at| at + 1);
    let end = url[start..].find('/').map_or(url.len(), |i| start + i);
    let authority = &url[start..end];
    let authority = if authority.contains(':') { authority.to_string() } else { format!("{authority}:5432") };
    (format!("{}{addr}{}", &url[..start], &url[end..]), authority)
}

/// A test application on PostgreSQL (`base`) reached through a chaos proxy.
async fn behind_proxy(base: &str, tweak: impl FnOnce(&mut motcua::config::Settings)) -> (ChaosProxy, TestApp) {
    let proxy = ChaosProxy::start(through(base, "").1).await;
    let app = TestApp::spawn_with(Backend::Postgres, |s| {
        let direct = s.database.url.as_ref().unwrap().expose_secret().to_string();
        s.database.url = Some(SecretString::from(through(&direct, &proxy.addr.to_string()).0));
        tweak(s);
    })
    .await;
    (proxy, app)
}

#[actix_web::test]
async fn a_database_outage_answers_503_fast_and_heals_by_itself() {
    let Some(base) = postgres_url() else {
        eprintln!("skipped: TEST_DATABASE_URL is not set");
        return;
    };
    let (proxy, app) = behind_proxy(&base, |_| {}).await;
    let timeout = Duration::from_secs(app.state.settings.database.checkout_timeout_secs);
    let citizen = app.token("citizen").await;
    let unit = app.unit_id(COMMUNES[0]).await;
    let filing = json!({"procedure_code": BIRTH, "unit_id": unit});
    flow::json_ok(app.post("/api/v1/dossiers", Some(&citizen), filing.clone()).await, StatusCode::CREATED).await;

    proxy.cut();
    // Reads, writes and readiness, concurrently and repeatedly: each fails
    // within the checkout timeout (plus a margin) with a 503 problem.
    let calls = [
        (Method::GET, "/readyz", None),
        (Method::GET, "/api/v1/units", None),
        (Method::GET, "/api/v1/dossiers", Some(citizen.as_str())),
        (Method::POST, "/api/v1/dossiers", Some(citizen.as_str())),
    ];
    let (app, filing) = (&app, &filing);
    for _ in 0..3 {
        join_all(calls.iter().map(|(method, path, token)| async move {
            let started = Instant::now();
            let body = (*method == Method::POST).then(|| filing.clone());
            let res = app.request(method.clone(), path, *token, body).await;
            let elapsed = started.elapsed();
            assert_problem(res, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;
            assert!(elapsed < timeout + Duration::from_millis(1500), "{method} {path} took {elapsed:?}");
        }))
        .await;
    }

    // Back without a restart: the pool opens fresh connections.
    proxy.restore().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.get("/readyz", None).await.status() != StatusCode::OK {
        assert!(Instant::now() < deadline, "not ready 10 s after the database came back");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.get("/api/v1/units", None).await.status(), StatusCode::OK);
    flow::json_ok(app.post("/api/v1/dossiers", Some(&citizen), filing.clone()).await, StatusCode::CREATED).await;
    let mine = flow::json_ok(app.get("/api/v1/dossiers", Some(&citizen)).await, StatusCode::OK).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 2, "nothing filed during the outage");
}

/// PostgreSQL behind a network that silently drops every packet: readiness
/// answers 503 within 2 s, every request 503 within a few seconds (never a
/// hang), a write caught mid-way is rolled back rather than committed late,
/// and the service heals by itself once the packets flow again.
#[actix_web::test]
async fn a_silent_partition_answers_503_within_seconds_and_heals_by_itself() {
    let Some(base) = postgres_url() else {
        eprintln!("skipped: TEST_DATABASE_URL is not set");
        return;
    };
    let (proxy, app) = behind_proxy(&base, |s| s.database.operation_timeout_secs = 3).await;
    let citizen = app.token("citizen").await;
    let unit = app.unit_id(COMMUNES[0]).await;
    let filing = json!({"procedure_code": BIRTH, "unit_id": unit});
    flow::json_ok(app.post("/api/v1/dossiers", Some(&citizen), filing.clone()).await, StatusCode::CREATED).await;

    proxy.drop_packets();
    let calls = [
        (Method::GET, "/readyz", None, Duration::from_secs(2)),
        (Method::GET, "/api/v1/units", None, Duration::from_secs(4)),
        (Method::GET, "/api/v1/dossiers", Some(citizen.as_str()), Duration::from_secs(4)),
        (Method::POST, "/api/v1/dossiers", Some(citizen.as_str()), Duration::from_secs(4)),
    ];
    let (app, filing) = (&app, &filing);
    for _ in 0..3 {
        join_all(calls.iter().map(|(method, path, token, within)| async move {
            let started = Instant::now();
            let body = (*method == Method::POST).then(|| filing.clone());
            let res = app.request(method.clone(), path, *token, body).await;
            let elapsed = started.elapsed();
            assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "{method} {path}");
            assert!(elapsed < *within, "{method} {path} took {elapsed:?}");
        }))
        .await;
    }

    proxy.restore().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while app.get("/readyz", None).await.status() != StatusCode::OK {
        assert!(Instant::now() < deadline, "not ready 15 s after the network came back");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    flow::json_ok(app.post("/api/v1/dossiers", Some(&citizen), filing.clone()).await, StatusCode::CREATED).await;
    // The filings answered 503 during the partition were not committed once
    // their held packets went through.
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    let mine = flow::json_ok(app.get("/api/v1/dossiers", Some(&citizen)).await, StatusCode::OK).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 2, "{mine}");
}

/// A fixed Ed25519 seed, as production configures one for all instances.
const SHARED_SIGNING_KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

#[actix_web::test]
async fn several_instances_share_one_database() {
    if postgres_url().is_none() {
        eprintln!("skipped: TEST_DATABASE_URL is not set");
        return;
    }
    // Three instances start at once on a database that does not exist yet:
    // one creates, migrates and seeds it while the others wait on its locks.
    let (db, dir) = (TestDb::new(Backend::Postgres), tempfile::tempdir().unwrap());
    let mut servers: Vec<Server> = (0..3)
        .map(|i| {
            let own = dir.path().join(i.to_string());
            std::fs::create_dir(&own).unwrap();
            Server::start(&db.url, &own, &[("MOTCUA__RESULTS__SIGNING_KEY", SHARED_SIGNING_KEY)])
        })
        .collect();
    for s in &mut servers {
        s.ready().await;
    }
    let apis: Vec<&Api> = servers.iter().map(|s| &s.api).collect();
    let at = |i: usize| apis[i % apis.len()];

    let clerk = apis[0].token("clerk").await;
    let citizens = join_all((0..4).map(|n| new_citizen(at(n as usize), n))).await;
    let mut specialists = Vec::new();
    for n in 0..6 {
        specialists.push(at(n).staff_token(&format!("specialist{n}@motcua.local"), &["specialist"], "193").await);
    }

    // Citizens file online, clerks register counter dossiers and specialists
    // claim them, all at once and spread over the instances.
    let registering_done = Cell::new(false);
    let filing = join_all(citizens.iter().enumerate().map(|(n, token)| async move {
        let mut codes = Vec::new();
        for i in 0..10 {
            codes.push(flow::file(at(n + i), token, BIRTH, COMMUNES[0]).await["code"].as_str().unwrap().to_string());
        }
        codes
    }));
    let registering = async {
        let codes = join_all((0..3).map(|n| {
            let clerk = &clerk;
            async move {
                let mut codes = Vec::new();
                for i in 0..10 {
                    let d = flow::register(at(n + i), clerk, HOUSEHOLD_BUSINESS, "193").await;
                    codes.push(d["code"].as_str().unwrap().to_string());
                }
                codes
            }
        }))
        .await;
        registering_done.set(true);
        codes
    };
    let claiming = join_all(specialists.iter().enumerate().map(|(n, token)| {
        let done = &registering_done;
        async move {
            let mut claimed = Vec::new();
            for i in n.. {
                let finished = done.get();
                let res = at(i).request(Method::POST, "/api/v1/queue/claim", Some(token), None).await;
                match res.status() {
                    StatusCode::OK => {
                        claimed.push(res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string())
                    }
                    StatusCode::NO_CONTENT if finished => break,
                    StatusCode::NO_CONTENT => actix_web::rt::time::sleep(Duration::from_millis(20)).await,
                    other => panic!("claim answered {other}: {}", res.text().await.unwrap()),
                }
            }
            claimed
        }
    }));
    let (filed, registered, claimed) = tokio::join!(filing, registering, claiming);

    let codes: Vec<String> = filed.into_iter().chain(registered).flatten().collect();
    assert_eq!(codes.len(), 70);
    assert_eq!(codes.iter().collect::<HashSet<_>>().len(), 70, "no duplicate code");
    assert_consecutive(codes.iter().map(String::as_str));
    let claimed: Vec<String> = claimed.into_iter().flatten().collect();
    assert_eq!(claimed.len(), 30, "every received dossier claimed");
    assert_eq!(claimed.iter().collect::<HashSet<_>>().len(), 30, "no dossier claimed twice");

    // Every instance computes the same statistics, from the same rows.
    let mut totals = Vec::new();
    for api in &apis {
        let auditor = api.token("auditor").await;
        let stats = flow::json_ok(api.get("/api/v1/stats", Some(&auditor)).await, StatusCode::OK).await;
        totals.push(stats["total"].clone());
    }
    assert_eq!(totals[0]["figures"]["received"], 30, "{}", totals[0]);
    assert!(totals.iter().all(|t| t == &totals[0]), "{totals:?}");
    assert_audit_chain_valid(apis[2]).await;
}

/// Restores the backup in `backup` to a fresh database and documents
/// directory; returns the database URL.
fn restore(b: Backend, backup: &Path, restored: &TestDb, files: &Path) -> String {
    motcua::backup::copy_files(&backup.join("files"), files).unwrap();
    match b {
        Backend::Sqlite => {
            let path = restored.url.strip_prefix("sqlite://").unwrap();
            std::fs::create_dir_all(Path::new(path).parent().unwrap()).unwrap();
            std::fs::copy(backup.join(motcua::backup::SQLITE_SNAPSHOT), path).unwrap();
        }
        Backend::Postgres => {
            let (admin_url, name) = motcua::db::split_pg_database(&restored.url).unwrap();
            let mut admin = diesel::PgConnection::establish(&admin_url).unwrap();
            admin.batch_execute(&format!("CREATE DATABASE \"{name}\"")).unwrap();
            let out = std::process::Command::new("pg_restore")
                .args(["--no-owner", "--exit-on-error", "--dbname"])
                .arg(&restored.url)
                .arg(backup.join(motcua::backup::PG_DUMP))
                .output()
                .unwrap();
            assert!(out.status.success(), "pg_restore: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    restored.url.clone()
}

async fn a_backup_taken_while_serving_restores_every_dossier_and_file(b: Backend) {
    if b == Backend::Postgres && std::process::Command::new("pg_dump").arg("--version").output().is_err() {
        eprintln!("skipped: pg_dump is not on PATH");
        return;
    }
    let app = TestApp::spawn(b).await;
    let citizen = app.token("citizen").await;
    let mut filed = Vec::new();
    for i in 0..3 {
        let d = flow::file(&app, &citizen, BIRTH, COMMUNES[i % 2]).await;
        let bytes = [pdf(), format!("% tờ khai {i}\n").into_bytes()].concat();
        let after =
            flow::json_ok(upload(&app, &citizen, &d, 0, bytes.clone(), "to-khai.pdf", None).await, StatusCode::CREATED)
                .await;
        filed.push((
            after["id"].as_str().unwrap().to_string(),
            after["code"].clone(),
            after["components"][0]["files"][0]["id"].as_str().unwrap().to_string(),
            bytes,
        ));
    }

    // The backup runs beside more filings: the service does not stop.
    let backup = tempfile::tempdir().unwrap();
    let to = backup.path().join("nightly");
    let (url, files_dir) = (app.database_url.clone(), app.state.settings.files.dir.display().to_string());
    let to_arg = to.display().to_string();
    let taking = actix_web::rt::task::spawn_blocking(move || {
        let env = [("DATABASE_URL", url.as_str()), ("MOTCUA__FILES__DIR", files_dir.as_str())];
        server::command(&["backup", "--to", &to_arg], &env).output().unwrap()
    });
    let during = async {
        for _ in 0..3 {
            flow::file(&app, &citizen, BIRTH, COMMUNES[0]).await;
        }
    };
    let (out, ()) = tokio::join!(taking, during);
    let out = out.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("documents: 3 copied"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let (restored_db, restored_files) = (TestDb::new(b), tempfile::tempdir().unwrap());
    let restored_url = restore(b, &to, &restored_db, restored_files.path());
    let restored = TestApp::spawn_with(b, |s| {
        s.database.url = Some(SecretString::from(restored_url));
        s.files.dir = restored_files.path().to_path_buf();
    })
    .await;
    let citizen = restored.token("citizen").await;
    for (id, code, file, bytes) in filed {
        let d =
            flow::json_ok(restored.get(&format!("/api/v1/dossiers/{id}"), Some(&citizen)).await, StatusCode::OK).await;
        assert_eq!(d["code"], code);
        let res = restored.get(&format!("/api/v1/dossiers/{id}/files/{file}"), Some(&citizen)).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.bytes().await.unwrap(), bytes);
    }
    assert_audit_chain_valid(&restored).await;
}
