//! The `motcua` command: migrations, seeding, staff accounts from the shell,
//! the e-mail worker, and start-up refusals.

mod common;

use std::io::Write;
use std::process::{Output, Stdio};

use common::{Backend, TestApp};
use reqwest::StatusCode;
use serde_json::json;

on_both_backends!(
    user_create_makes_an_account_that_logs_in,
    worker_command_delivers_the_outbox,
    portal_commands_make_the_service_account_and_queue_a_period,
);

/// Runs the binary with `stdin` as its input; returns what it printed.
fn motcua(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut cmd = common::server::command(args, env);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("motcua runs");
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

async fn user_create_makes_an_account_that_logs_in(b: Backend) {
    let app = TestApp::spawn(b).await;
    let env = [("DATABASE_URL", app.database_url.as_str())];
    let args = [
        "user",
        "create",
        "--email",
        "Ops@QuangNinh.gov.vn",
        "--role",
        "admin,auditor",
        "--unit",
        "22",
        "--password-stdin",
    ];
    let out = motcua(&args, &env, Some("mật khẩu vận hành\n"));
    assert!(out.status.success(), "{:?} {}", out.status, text(&out.stderr));
    assert!(text(&out.stdout).starts_with("created ops@quangninh.gov.vn"));

    let tokens = app.login("ops@quangninh.gov.vn", "mật khẩu vận hành").await;
    assert_eq!(tokens["user"]["roles"], json!(["auditor", "admin"]));
    assert_eq!(tokens["user"]["unit_code"], "22");

    // Refusals change nothing and say why.
    let out = motcua(&args, &env, Some("mật khẩu vận hành\n"));
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("email_taken"), "{}", text(&out.stderr));
    let bad_unit = ["user", "create", "--email", "x@y.vn", "--role", "clerk", "--unit", "0000", "--password-stdin"];
    let out = motcua(&bad_unit, &env, Some("mật khẩu vận hành"));
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("no unit with this code"));
    let res = app.post("/api/v1/auth/login", None, json!({"email": "x@y.vn", "password": "mật khẩu vận hành"})).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

async fn worker_command_delivers_the_outbox(b: Backend) {
    let (app, sink) = TestApp::with_mail(b, |_| {}).await;
    let res = app.post("/api/v1/auth/password-reset", None, json!({"email": "citizen@motcua.local"})).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let port = sink.port().to_string();
    let env = [
        ("DATABASE_URL", app.database_url.as_str()),
        ("MOTCUA__SMTP__PORT", port.as_str()),
        ("MOTCUA__NOTIFICATIONS__POLL_INTERVAL_MS", "50"),
    ];
    let mut worker =
        common::server::command(&["worker"], &env).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    sink.wait_for(1, std::time::Duration::from_secs(30)).await;
    worker.kill().unwrap();
    worker.wait().unwrap();
    let mails = sink.mails_to("citizen@motcua.local");
    assert_eq!(mails.iter().map(|m| m.subject.as_str()).collect::<Vec<_>>(), ["Đặt lại mật khẩu"]);
}

async fn portal_commands_make_the_service_account_and_queue_a_period(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (citizen, clerk) = (app.token("citizen").await, app.token("clerk").await);
    let d = common::flow::file(&app, &citizen, common::flow::BIRTH, "06691").await;
    common::flow::act_ok(&app, &clerk, &d, json!({"action": "receive"})).await;
    let env = [("DATABASE_URL", app.database_url.as_str())];

    let account = ["portal", "account", "--email", "dvcqg@portal.motcua.test", "--unit", "22", "--secret-stdin"];
    let out = motcua(&account, &env, Some("Cong-DVCQG-2025!secret\n"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let tokens = app.login("dvcqg@portal.motcua.test", "Cong-DVCQG-2025!secret").await;
    assert_eq!(tokens["user"]["roles"], json!(["portal"]));
    let out = motcua(&account, &env, Some("short\n"));
    assert!(!out.status.success() && text(&out.stderr).contains("secret"), "{}", text(&out.stderr));

    let today = motcua::domain::calendar::to_local(chrono::Utc::now()).date();
    let (from, to) = (today.to_string(), today.succ_opt().unwrap().to_string());
    let resync = ["portal", "resync", "--from", from.as_str(), "--to", to.as_str()];
    let out = motcua(&resync, &env, None);
    assert!(!out.status.success() && text(&out.stderr).contains("portal.sync_url"), "{}", text(&out.stderr));
    let sink = common::portal::PortalSink::start();
    let url = sink.url("/DongBoHoSoMC");
    let env = [
        ("DATABASE_URL", app.database_url.as_str()),
        ("MOTCUA__PORTAL__SYNC_URL", url.as_str()),
        ("MOTCUA__PORTAL__POLL_INTERVAL_MS", "50"),
    ];
    let out = motcua(&resync, &env, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "1 dossiers queued for the portal");

    // `motcua worker` delivers the portal's records too.
    let mut worker =
        common::server::command(&["worker"], &env).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let records = sink.wait_for(1, std::time::Duration::from_secs(30)).await;
    worker.kill().unwrap();
    worker.wait().unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["data"][0]["MaHoSo"], d["code"]);
    assert_eq!(records[0]["data"][0]["TrangThaiHoSo"], 2);
}

#[test]
fn migrate_and_seed_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("db.sqlite3").display());
    let env = [("DATABASE_URL", url.as_str())];
    let first = motcua(&["migrate"], &env, None);
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(text(&first.stdout).contains("applied 20250101000001"), "{}", text(&first.stdout));
    let again = motcua(&["migrate"], &env, None);
    assert!(!text(&again.stdout).contains("applied"));
    assert!(text(&again.stdout).contains("up to date"));

    let seeded = motcua(&["seed", "--demo"], &env, None);
    assert_eq!(text(&seeded.stdout).trim(), "demo data seeded", "{}", text(&seeded.stderr));
    let again = motcua(&["seed", "--demo"], &env, None);
    assert_eq!(text(&again.stdout).trim(), "demo data already present");
}

#[test]
fn unsupported_database_urls_are_refused_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    for url in ["mysql://root@127.0.0.1/motcua", "motcua.sqlite3"] {
        let out = motcua(
            &["migrate"],
            &[("DATABASE_URL", url), ("MOTCUA__DATABASE__SQLITE_DIR", dir.path().to_str().unwrap())],
            None,
        );
        assert!(!out.status.success());
        assert!(text(&out.stderr).contains("unsupported scheme"), "{}", text(&out.stderr));
    }
    // Nothing was created on the side.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    assert!(!std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/motcua.sqlite3")).exists());
}

#[test]
fn production_refuses_default_secrets_and_implicit_databases() {
    let out = motcua(&["serve"], &[("MOTCUA_ENV", "production"), ("DATABASE_URL", "postgres://x@127.0.0.1:1/x")], None);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("default JWT secret"), "{}", text(&out.stderr));

    let secret = ("MOTCUA__AUTH__JWT_SECRET", "a-production-secret-of-enough-length-0123456789");
    let out = motcua(&["serve"], &[("MOTCUA_ENV", "production"), secret], None);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("explicit DATABASE_URL"), "{}", text(&out.stderr));

    let db = ("DATABASE_URL", "sqlite:///nonexistent/x");
    let out = motcua(&["serve"], &[("MOTCUA_ENV", "production"), secret, db], None);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("result signing key"), "{}", text(&out.stderr));

    let key = ("MOTCUA__RESULTS__SIGNING_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    let out = motcua(&["seed", "--demo"], &[("MOTCUA_ENV", "production"), secret, key, db], None);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("never seeds demo data"), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains(key.1));
    // The secret itself never appears in what the program prints.
    assert!(!text(&out.stderr).contains(secret.1));
}

#[test]
fn openapi_is_printed_without_a_database() {
    let out = motcua(&["openapi"], &[("DATABASE_URL", "mysql://nowhere")], None);
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
}

#[test]
fn an_empty_database_is_bootstrapped_from_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("db.sqlite3").display());
    let env = [("DATABASE_URL", url.as_str())];
    let unit = |args: &[&str]| motcua(&[&["unit", "create"], args].concat(), &env, None);

    let out = unit(&["--code", "01", "--name", "Thành phố Hà Nội", "--level", "province"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Two-tier: a commune directly under the province.
    let out = unit(&["--code", "00004", "--name", "Phường Ba Đình", "--level", "commune", "--parent", "01"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = unit(&["--code", "002", "--name", "Quận X", "--level", "district", "--parent", "00004"]);
    assert!(text(&out.stderr).contains("cannot sit under a commune"), "{}", text(&out.stderr));
    let out = unit(&["--code", "003", "--name", "Huyện Y", "--level", "district"]);
    assert!(text(&out.stderr).contains("a root unit is a province"), "{}", text(&out.stderr));
    let out = unit(&["--code", "01", "--name", "Again", "--level", "province"]);
    assert!(text(&out.stderr).contains("unit_code_taken"), "{}", text(&out.stderr));

    let args =
        ["user", "create", "--email", "admin@hanoi.gov.vn", "--role", "admin", "--unit", "01", "--password-stdin"];
    let out = motcua(&args, &env, Some("mật khẩu quản trị"));
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn upgrading_counts_the_dossiers_already_there() {
    use diesel::Connection;
    use diesel_migrations::{FileBasedMigrations, MigrationHarness};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite3");
    let url = format!("sqlite://{}", path.display());
    let files = dir.path().join("files");
    let env = [("DATABASE_URL", url.as_str()), ("MOTCUA__FILES__DIR", files.to_str().unwrap())];
    let out = motcua(&["simulate", "--dossiers", "300", "--year", "2025"], &env, None);
    assert!(out.status.success(), "{}", text(&out.stderr));

    // Back to the release before the daily counts, with its dossiers.
    let mut conn = diesel::SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    let migrations = FileBasedMigrations::from_path(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite")).unwrap();
    while conn.revert_last_migration(migrations.clone()).unwrap().to_string() != "20250107000001" {}
    drop(conn);

    let out = motcua(&["migrate"], &env, None);
    assert!(text(&out.stdout).contains("applied 20250107000001"), "{}", text(&out.stderr));
    let out = motcua(&["stats", "rebuild"], &env, None);
    let printed = text(&out.stdout);
    assert!(printed.contains(" rows, 0 differed from the kept counts"), "{printed}{}", text(&out.stderr));
    let rows: usize = printed.trim_start_matches("daily counts rebuilt: ").split(' ').next().unwrap().parse().unwrap();
    assert!(rows > 100, "{printed}");
}
