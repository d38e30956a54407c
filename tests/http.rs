//! Operations endpoints, the OpenAPI document, and the problem+json answers
//! to malformed requests.

mod common;

use common::{Backend, TestApp, assert_problem};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    health_and_request_ids,
    readiness_follows_the_database,
    metrics_count_requests_by_route,
    malformed_requests_answer_problems_and_change_nothing,
    openapi_lists_every_endpoint,
);

async fn health_and_request_ids(b: Backend) {
    let app = TestApp::spawn(b).await;
    let res = app.get("/healthz", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"status": "ok"}));
    let other = app.get("/healthz", None).await.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_ne!(id, other);
    // Error answers carry one too, so that a citizen's report can be traced.
    assert!(app.get("/nowhere", None).await.headers().contains_key("x-request-id"));
}

async fn readiness_follows_the_database(b: Backend) {
    let app = TestApp::spawn(b).await;
    assert_eq!(app.get("/readyz", None).await.status(), StatusCode::OK);
    match b {
        Backend::Sqlite => {
            let path = app.database_url.strip_prefix("sqlite://").unwrap().to_string();
            let aside = format!("{path}.aside");
            std::fs::rename(&path, &aside).unwrap();
            assert_problem(app.get("/readyz", None).await, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable")
                .await;
            std::fs::rename(&aside, &path).unwrap();
        }
        Backend::Postgres => {
            let (admin_url, name) = motcua::db::split_pg_database(&app.database_url).unwrap();
            let mut admin = PgConnection::establish(&admin_url).unwrap();
            admin
                .batch_execute(&format!(
                    "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false; \
                     SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}';"
                ))
                .unwrap();
            assert_problem(app.get("/readyz", None).await, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable")
                .await;
            // Other requests that need the database fail the same way, not with a 500.
            let res = app.get("/api/v1/units", None).await;
            assert_problem(res, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;
            admin.batch_execute(&format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true")).unwrap();
        }
    }
    // Recovery needs no restart.
    assert_eq!(app.get("/readyz", None).await.status(), StatusCode::OK);
    assert_eq!(app.get("/api/v1/units", None).await.status(), StatusCode::OK);
}

async fn metrics_count_requests_by_route(b: Backend) {
    let app = TestApp::spawn(b).await;
    for _ in 0..3 {
        app.get("/api/v1/units?level=district", None).await;
    }
    app.get("/api/v1/units/unknown-id", None).await;
    // Invented methods add no series: they all count as `other`.
    for n in 0..50 {
        let method = reqwest::Method::from_bytes(format!("X{n:04}").as_bytes()).unwrap();
        app.client.request(method, app.url("/healthz")).send().await.unwrap();
    }
    // The metrics are not on the API's port…
    assert_eq!(app.get("/metrics", None).await.status(), StatusCode::NOT_FOUND);
    // …but on the metrics listener.
    let res = app.metrics.get("/metrics", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = res.text().await.unwrap();
    assert!(text.contains(r#"http_requests_total{method="GET",route="/api/v1/units",status="200"} 3"#), "{text}");
    assert!(text.contains(r#"http_requests_total{method="GET",route="/api/v1/units/{id}",status="404"} 1"#));
    assert!(text.contains("http_request_duration_seconds_bucket{"));
    assert!(text.contains("db_pool_connections "));
    assert!(text.contains("db_pool_idle_connections "));
    let other = text.lines().filter(|l| l.starts_with("http_requests_total{") && l.contains(r#"method="other""#));
    assert_eq!(other.count(), 1, "one series for every invented method: {text}");
    assert!(!text.contains("X0001"), "no invented method is a label");
}

async fn malformed_requests_answer_problems_and_change_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.token("admin").await;
    let post_raw = |path: &str, content_type: &str, body: Vec<u8>| {
        app.client.post(app.url(path)).bearer_auth(&admin).header("content-type", content_type).body(body).send()
    };
    let units_before: Value = app.get("/api/v1/units?limit=200", None).await.json().await.unwrap();

    let res = post_raw("/api/v1/units", "application/json", b"{\"code\": \"999\",".to_vec()).await.unwrap();
    assert_problem(res, StatusCode::BAD_REQUEST, "malformed_json").await;
    let res = post_raw("/api/v1/units", "text/plain", b"code=999".to_vec()).await.unwrap();
    assert_problem(res, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
    let big = format!("{{\"code\": \"999\", \"name\": \"{}\", \"level\": \"commune\"}}", "x".repeat(70_000));
    let res = post_raw("/api/v1/units", "application/json", big.into_bytes()).await.unwrap();
    assert_problem(res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let res =
        post_raw("/api/v1/units", "application/json", br#"{"code": 999, "name": "X", "level": "commune"}"#.to_vec())
            .await
            .unwrap();
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let res =
        post_raw("/api/v1/units", "application/json", br#"{"code": "999", "name": "X", "level": "hamlet"}"#.to_vec())
            .await
            .unwrap();
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    assert_problem(app.get("/api/v1/nowhere", None).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(app.get("/nowhere", None).await, StatusCode::NOT_FOUND, "not_found").await;
    let res = app.delete("/api/v1/units", Some(&admin)).await;
    assert!(res.headers()["allow"].to_str().unwrap().contains("GET"));
    assert_problem(res, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    assert_problem(app.get("/api/v1/units?limit=many", None).await, StatusCode::BAD_REQUEST, "invalid_query").await;
    assert_problem(app.get("/api/v1/units?colour=red", None).await, StatusCode::BAD_REQUEST, "invalid_query").await;
    assert_problem(app.get("/api/v1/units?limit=0", None).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
        .await;

    let units_after: Value = app.get("/api/v1/units?limit=200", None).await.json().await.unwrap();
    assert_eq!(units_before, units_after);
}

/// Every route the application serves, by method and path.
const ENDPOINTS: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("post", "/api/v1/auth/register"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/refresh"),
    ("post", "/api/v1/auth/logout"),
    ("get", "/api/v1/me"),
    ("post", "/api/v1/identity/verifications"),
    ("get", "/api/v1/units"),
    ("post", "/api/v1/units"),
    ("get", "/api/v1/units/{id}"),
    ("patch", "/api/v1/units/{id}"),
    ("get", "/api/v1/procedures"),
    ("post", "/api/v1/procedures"),
    ("get", "/api/v1/procedures/{code}"),
    ("get", "/api/v1/procedures/{code}/processes"),
    ("post", "/api/v1/procedures/{code}/processes"),
    ("get", "/api/v1/processes/{id}"),
    ("patch", "/api/v1/procedures/{code}"),
    ("get", "/api/v1/holidays"),
    ("put", "/api/v1/holidays/{date}"),
    ("delete", "/api/v1/holidays/{date}"),
    ("get", "/api/v1/admin/users"),
    ("post", "/api/v1/admin/users"),
    ("get", "/api/v1/admin/users/{id}"),
    ("get", "/api/v1/delegations"),
    ("post", "/api/v1/delegations"),
    ("post", "/api/v1/delegations/{id}/revoke"),
    ("patch", "/api/v1/admin/users/{id}"),
    ("get", "/api/v1/dossiers"),
    ("post", "/api/v1/dossiers"),
    ("get", "/api/v1/dossiers/{id}"),
    ("get", "/api/v1/dossiers/{id}/events"),
    ("get", "/api/v1/dossiers/{id}/control-slip"),
    ("post", "/api/v1/dossiers/{id}/actions"),
    ("post", "/api/v1/dossiers/{id}/components/{component}/files"),
    ("get", "/api/v1/dossiers/{id}/files/{file}"),
    ("get", "/api/v1/lookup"),
    ("get", "/api/v1/queue"),
    ("post", "/api/v1/queue/claim"),
    ("get", "/api/v1/keys"),
    ("get", "/api/v1/verify/{number}"),
    ("post", "/api/v1/verify"),
    ("get", "/api/v1/dossiers/{id}/result"),
    ("post", "/api/v1/dossiers/{id}/result"),
    ("post", "/api/v1/dossiers/{id}/result/collect"),
    ("post", "/api/v1/dossiers/{id}/result/revoke"),
    ("post", "/api/v1/dossiers/{id}/result/replace"),
    ("get", "/api/v1/me/documents"),
    ("post", "/api/v1/dossiers/{id}/payments"),
    ("post", "/api/v1/payments/callback/{provider}"),
    ("post", "/api/v1/dossiers/{id}/rating"),
    ("get", "/api/v1/ratings"),
    ("get", "/api/v1/dossiers/{id}/assessment"),
    ("get", "/api/v1/complaints"),
    ("post", "/api/v1/complaints"),
    ("get", "/api/v1/complaints/{id}"),
    ("post", "/api/v1/complaints/{id}/answer"),
    ("get", "/api/v1/stats"),
    ("get", "/api/v1/stats/scorecard"),
    ("get", "/api/v1/stats/steps"),
    ("get", "/api/v1/exports/steps.csv"),
    ("get", "/api/v1/exports/steps.xlsx"),
    ("get", "/api/v1/exports/stats.csv"),
    ("get", "/api/v1/exports/stats.xlsx"),
    ("get", "/api/v1/exports/stats.json"),
    ("get", "/api/v1/exports/dossiers.csv"),
    ("get", "/api/v1/exports/dossiers.xlsx"),
    ("get", "/api/v1/exports/audit.csv"),
    ("get", "/api/v1/audit"),
    ("get", "/api/v1/audit/verify"),
    ("get", "/api/v1/auth/verify-email"),
    ("post", "/api/v1/auth/resend-verification"),
    ("post", "/api/v1/auth/password-reset"),
    ("get", "/api/v1/auth/password-reset/confirm"),
    ("post", "/api/v1/auth/password-reset/confirm"),
    ("get", "/api/v1/admin/outbox"),
    ("post", "/api/v1/admin/outbox/{id}/retry"),
    ("post", "/api/v1/portal/dossiers"),
    ("get", "/api/v1/portal/sync"),
];

/// POST endpoints that take no body.
const BODILESS: &[&str] = &[
    "/api/v1/queue/claim",
    "/api/v1/auth/resend-verification",
    "/api/v1/admin/outbox/{id}/retry",
    "/api/v1/dossiers/{id}/result/collect",
    "/api/v1/delegations/{id}/revoke",
];

async fn openapi_lists_every_endpoint(b: Backend) {
    let app = TestApp::spawn(b).await;
    let res = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let mut documented: Vec<(String, String)> = paths
        .iter()
        .flat_map(|(path, ops)| ops.as_object().unwrap().keys().map(move |m| (m.clone(), path.clone())))
        .collect();
    documented.sort();
    let mut expected: Vec<(String, String)> = ENDPOINTS.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    expected.sort();
    assert_eq!(documented, expected);
    let mut ids = std::collections::HashSet::new();
    for (method, path) in ENDPOINTS {
        let op = &doc["paths"][path][method];
        assert!(ids.insert(op["operationId"].as_str().unwrap().to_string()), "{method} {path}: duplicate operationId");
        assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path} has no responses");
        if ["post", "put", "patch"].contains(method) && !BODILESS.contains(path) {
            let content = &op["requestBody"]["content"];
            let multipart = ["/files", "/result", "/replace", "/verify"].iter().any(|end| path.ends_with(end));
            let schema = if multipart { &content["multipart/form-data"] } else { &content["application/json"] };
            assert!(schema["schema"].is_object(), "{method} {path} body");
        }
    }
    // What every operation of a kind answers, documented for generated
    // clients (src/openapi.rs, `Conventions`): endpoints added later too.
    for (method, path) in ENDPOINTS {
        let op = &doc["paths"][path][method];
        let responses = op["responses"].as_object().unwrap();
        for (status, response) in responses.iter().filter(|(s, _)| s.starts_with('4') || s.starts_with('5')) {
            let content = response["content"].as_object();
            assert!(
                content.is_none_or(|c| c.keys().all(|k| k == "application/problem+json")),
                "{method} {path} {status}: errors are problem+json"
            );
        }
        if op["security"].as_array().is_some_and(|s| !s.is_empty()) {
            let unauthorized = &responses["401"]["content"]["application/problem+json"]["schema"]["$ref"];
            assert_eq!(unauthorized, "#/components/schemas/Problem", "{method} {path} documents 401");
        }
        let params = op["parameters"].as_array().map(Vec::as_slice).unwrap_or_default();
        if params.iter().any(|p| p["name"] == "cursor" || p["name"] == "limit") {
            assert!(responses.contains_key("422"), "{method} {path} (a list) documents 422");
        }
        assert!(op["security"].is_array(), "{method} {path} says who may call it");
        for param in params {
            assert!(
                !param["schema"].to_string().contains("\"null\""),
                "{method} {path}: {} is absent, not null",
                param["name"]
            );
        }
        for (status, response) in responses {
            assert!(response["headers"]["x-request-id"].is_object(), "{method} {path} {status}: x-request-id");
            for (media, content) in response["content"].as_object().into_iter().flatten() {
                let schema = &content["schema"];
                assert!(schema.as_object().is_some_and(|s| !s.is_empty()), "{method} {path} {status} {media}: typed");
                if !media.contains("json") {
                    assert_eq!(schema["format"], "binary", "{method} {path} {status} {media}: a file");
                }
            }
        }
    }
    for schema in ["Problem", "UserView", "TokenResponse", "UnitView", "ProcedureSpec", "ProcedureView", "Holiday"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "schema {schema}");
    }
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
}
