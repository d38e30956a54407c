//! A public service under hostile use (docs/security.md): oracles throttled,
//! nothing sensitive in logs or links, bounded resources.

mod common;

use common::flow::*;
use common::server::Server;
use common::{Backend, TestApp, TestDb, assert_problem};
use reqwest::StatusCode;
use serde_json::Value;

on_both_backends!(the_public_lookup_is_throttled_per_address_and_per_code, registrations_are_throttled_per_address);

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
