//! A public service under hostile use (docs/security.md): oracles throttled,
//! nothing sensitive in logs or links, bounded resources.

mod common;

use common::flow::*;
use common::server::Server;
use common::{Backend, TestApp, TestDb, assert_problem};
use reqwest::StatusCode;
use serde_json::Value;

on_both_backends!(
    the_public_lookup_is_throttled_per_address_and_per_code,
    registrations_are_throttled_per_address,
    password_reset_takes_the_same_time_for_known_and_unknown_addresses,
    csv_cells_never_read_as_formulas,
    names_and_passwords_are_refused_when_they_deceive_or_are_guessable,
    downloads_name_their_file_and_forbid_sniffing,
);

const NID: &str = "022095001234";

async fn lookup(app: &TestApp, code: &str, national_id: &str) -> reqwest::Response {
    app.get(&format!("/api/v1/lookup?code={code}&national_id={national_id}"), None).await
}

async fn the_public_lookup_is_throttled_per_address_and_per_code(b: Backend) {
    let app = TestApp::spawn_with(b, |s| {
        s.throttle.lookup_failures_per_code = 3;
        s.throttle.lookups_per_minute_per_address = 12;
    })
    .await;
    let clerk = app.token("clerk").await;
    let (d, other) = (register(&app, &clerk, BIRTH, "06691").await, register(&app, &clerk, BIRTH, "06691").await);
    let (code, other_code) = (d["code"].as_str().unwrap(), other["code"].as_str().unwrap());
    assert_eq!(lookup(&app, code, NID).await.status(), StatusCode::OK);
    // Guessing the national ID behind a known code: three wrong guesses lock
    // the code's lookup, the right ID included…
    for guess in ["022095000001", "022095000002", "022095000003"] {
        assert_problem(lookup(&app, code, guess).await, StatusCode::NOT_FOUND, "not_found").await;
    }
    let res = lookup(&app, code, NID).await;
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 60 && retry <= 15 * 60, "locked for the configured while: {retry}");
    assert_problem(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // …not the other codes.
    assert_eq!(lookup(&app, other_code, NID).await.status(), StatusCode::OK);
    // Scanning codes for a known national ID runs out of the address's budget.
    let mut statuses = Vec::new();
    for n in 0..10 {
        statuses.push(lookup(&app, &format!("06691-261130-{:04}", 100 + n), NID).await.status());
    }
    assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
}

/// The real binary's log, after a failed lookup: the national ID is not in it.
#[actix_web::test]
async fn national_ids_and_link_tokens_never_reach_the_log() {
    let (db, dir) = (TestDb::new(Backend::Sqlite), tempfile::tempdir().unwrap());
    let mut server = Server::start(&db.url, dir.path(), &[("RUST_LOG", "info"), ("MOTCUA__LOG__FORMAT", "json")]);
    server.ready().await;
    let api = server.api.clone();
    let res = api.get(&format!("/api/v1/lookup?code=193-261130-0042&national_id={NID}"), None).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = api.get("/api/v1/auth/verify-email?token=a-secret-link-token", None).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let _: Value = api.get("/api/v1/units?q=ha", None).await.json().await.unwrap();
    drop(server);
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    assert!(log.contains("national_id=[redacted]"), "the failed lookup is logged, redacted:\n{log}");
    assert!(!log.contains(NID), "a national ID in the log:\n{log}");
    assert!(!log.contains("a-secret-link-token"), "a link's token in the log:\n{log}");
}

async fn registrations_are_throttled_per_address(b: Backend) {
    let app = TestApp::spawn_with(b, |s| s.throttle.registrations_per_hour_per_address = 3).await;
    for n in 0..3 {
        assert_eq!(
            app.post("/api/v1/auth/register", None, common::citizen(60 + n)).await.status(),
            StatusCode::ACCEPTED
        );
    }
    let res = app.post("/api/v1/auth/register", None, common::citizen(63)).await;
    assert!(res.headers().contains_key("retry-after"));
    assert_problem(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // Nothing was created for the refused one.
    let res = app
        .post(
            "/api/v1/auth/login",
            None,
            serde_json::json!({"email": "citizen63@example.vn", "password": "mật khẩu an toàn"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

async fn password_reset_takes_the_same_time_for_known_and_unknown_addresses(b: Backend) {
    let app = TestApp::spawn_with(b, |s| s.throttle.password_resets_per_hour_per_account = 1000).await;
    let median_ms = |email: &'static str| {
        let app = &app;
        async move {
            let mut times = Vec::new();
            for _ in 0..15 {
                let start = std::time::Instant::now();
                let res = app.post("/api/v1/auth/password-reset", None, serde_json::json!({"email": email})).await;
                assert_eq!(res.status(), StatusCode::ACCEPTED);
                times.push(start.elapsed().as_secs_f64() * 1000.0);
            }
            times.sort_by(f64::total_cmp);
            times[times.len() / 2]
        }
    };
    let (known, unknown) = (median_ms("citizen@motcua.local").await, median_ms("nobody@example.vn").await);
    let floor = motcua::auth::email::RESET_ANSWER_TIME.as_secs_f64() * 1000.0;
    assert!(known >= floor && unknown >= floor, "known {known:.1} ms, unknown {unknown:.1} ms");
    assert!((known - unknown).abs() < floor / 4.0, "known {known:.1} ms, unknown {unknown:.1} ms");
}

async fn csv_cells_never_read_as_formulas(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (admin, clerk, auditor) = (app.token("admin").await, app.token("clerk").await, app.token("auditor").await);
    let formula = r#"=HYPERLINK("http://evil.example","Bấm vào đây")"#;
    let res = app.patch("/api/v1/procedures/1.001193", Some(&admin), serde_json::json!({"name": formula})).await;
    assert_eq!(res.status(), StatusCode::OK);
    register(&app, &clerk, BIRTH, "06691").await;
    for path in ["/api/v1/exports/dossiers.csv", "/api/v1/exports/stats.csv?group_by=procedure"] {
        let body = app.get(path, Some(&auditor)).await.text().await.unwrap();
        let mut reader = csv::Reader::from_reader(body.trim_start_matches('\u{feff}').as_bytes());
        let cells: Vec<String> =
            reader.records().flat_map(|r| r.unwrap().iter().map(String::from).collect::<Vec<_>>()).collect();
        assert!(cells.iter().any(|c| c.contains("HYPERLINK")), "{path}: {body}");
        for cell in cells {
            assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']), "{path}: {cell}");
        }
    }
}

async fn names_and_passwords_are_refused_when_they_deceive_or_are_guessable(b: Backend) {
    let app = TestApp::spawn(b).await;
    let with = |field: &str, value: &str, n: u32| {
        let mut body = common::citizen(n);
        body[field] = serde_json::json!(value);
        body
    };
    for (field, value) in [
        ("full_name", "Nguy\u{202E}n Văn An"),
        ("full_name", "\u{200B}\u{200B}\u{200B}"),
        ("full_name", "12345"),
        ("password", "aaaaaaaaaa"),
        ("password", "password123"),
    ] {
        let res = app.post("/api/v1/auth/register", None, with(field, value, 70)).await;
        let p = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(p["errors"][0]["field"], field, "{value:?}");
    }
    // Nor at the counter, for an applicant's name.
    let clerk = app.token("clerk").await;
    let unit = app.unit_id("193").await;
    let body = serde_json::json!({"procedure_code": HOUSEHOLD_BUSINESS, "unit_id": unit, "channel": "counter",
        "applicant": {"kind": "citizen", "name": "Trần\u{2066}Thị Bình", "national_id": NID}});
    let res = app.post("/api/v1/dossiers", Some(&clerk), body).await;
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

async fn downloads_name_their_file_and_forbid_sniffing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let citizen = app.token("citizen").await;
    let d = file(&app, &citizen, HOUSEHOLD_BUSINESS, "193").await;
    let uploaded = upload(&app, &citizen, &d, 0, pdf(), "Giấy đề nghị đăng ký.pdf", None).await;
    let uploaded: Value = uploaded.json().await.unwrap();
    let file_id = uploaded["components"][0]["files"][0]["id"].as_str().unwrap();
    let res = app.get(&format!("/api/v1/dossiers/{}/files/{file_id}", d["id"].as_str().unwrap()), Some(&citizen)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let header = |name: &str| res.headers()[name].to_str().unwrap().to_string();
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert!(header("content-security-policy").contains("default-src 'none'"));
    let disposition = header("content-disposition");
    assert!(disposition.contains("filename*=UTF-8''Gi%E1%BA%A5y%20%C4%91%E1%BB%81%20ngh%E1%BB%8B"), "{disposition}");
    assert!(disposition.contains(r#"filename="Giay de nghi dang ky.pdf""#), "{disposition}");
    // Every answer carries the same protections, problems included.
    let res = app.get("/api/v1/nowhere", None).await;
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
}
