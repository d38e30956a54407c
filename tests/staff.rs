//! Staff accounts and unit-subtree scope.

mod common;

use common::{Backend, TestApp, assert_problem};
use motcua::seed::DEMO_PASSWORD;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    admin_creates_a_district_clerk_who_sees_only_their_subtree,
    staff_creation_is_validated_and_scoped,
    admins_update_staff_and_deactivation_ends_sessions,
);

fn emails(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap().to_string()).collect()
}

async fn admin_creates_a_district_clerk_who_sees_only_their_subtree(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.token("admin").await;
    let ha_long = app.unit_id("193").await;
    let res = app
        .post(
            "/api/v1/admin/users",
            Some(&admin),
            json!({"email": "Clerk.HaLong@QuangNinh.gov.vn", "full_name": "Lê Văn Cường", "password": DEMO_PASSWORD,
                   "roles": ["clerk", "specialist"], "unit_id": ha_long}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["email"], "clerk.halong@quangninh.gov.vn");
    assert_eq!(created["roles"], json!(["clerk", "specialist"]));
    assert_eq!(created["unit_code"], "193");

    // A colleague in another district.
    let mong_cai_token = app.staff_token("clerk.mongcai@quangninh.gov.vn", &["clerk"], "194").await;
    let mong_cai: Value = app.get("/api/v1/me", Some(&mong_cai_token)).await.json().await.unwrap();

    let clerk = app.login("clerk.halong@quangninh.gov.vn", DEMO_PASSWORD).await;
    let clerk = clerk["access_token"].as_str().unwrap();
    let page: Value = app.get("/api/v1/admin/users", Some(clerk)).await.json().await.unwrap();
    assert_eq!(
        emails(&page),
        ["approver@motcua.local", "clerk.halong@quangninh.gov.vn", "clerk@motcua.local", "specialist@motcua.local"]
    );
    let other = format!("/api/v1/admin/users/{}", mong_cai["id"].as_str().unwrap());
    assert_problem(app.get(&other, Some(clerk)).await, StatusCode::NOT_FOUND, "not_found").await;
    let mine = format!("/api/v1/admin/users/{}", created["id"].as_str().unwrap());
    assert_eq!(app.get(&mine, Some(clerk)).await.status(), StatusCode::OK);

    // The province admin sees everyone; filters narrow the list.
    let page: Value = app.get("/api/v1/admin/users?role=specialist", Some(&admin)).await.json().await.unwrap();
    assert_eq!(emails(&page), ["clerk.halong@quangninh.gov.vn", "specialist@motcua.local"]);
    let page: Value = app.get("/api/v1/admin/users?limit=3", Some(&admin)).await.json().await.unwrap();
    assert_eq!(emails(&page).len(), 3);
    let next = page["next_cursor"].as_str().unwrap();
    let rest: Value =
        app.get(&format!("/api/v1/admin/users?limit=10&cursor={next}"), Some(&admin)).await.json().await.unwrap();
    assert_eq!(emails(&rest).len(), 4, "7 staff in all");
    assert!(rest["next_cursor"].is_null());

    // Only administrators write; citizens do not even read.
    let res = app
        .post(
            "/api/v1/admin/users",
            Some(clerk),
            json!({"email": "x@y.vn", "full_name": "X", "password": DEMO_PASSWORD, "roles": ["admin"], "unit_id": ha_long}),
        )
        .await;
    assert_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    let citizen = app.token("citizen").await;
    assert_problem(app.get("/api/v1/admin/users", Some(&citizen)).await, StatusCode::FORBIDDEN, "forbidden").await;
    assert_problem(app.get("/api/v1/admin/users", None).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

async fn staff_creation_is_validated_and_scoped(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.token("admin").await;
    let ha_long = app.unit_id("193").await;
    let mong_cai = app.unit_id("194").await;
    let body = |email: &str, roles: Value, unit: &str| json!({"email": email, "full_name": "Phạm Thu Hà", "password": DEMO_PASSWORD, "roles": roles, "unit_id": unit});

    let res = app.post("/api/v1/admin/users", Some(&admin), body("a@b.vn", json!(["boss"]), &ha_long)).await;
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let res = app.post("/api/v1/admin/users", Some(&admin), body("a@b.vn", json!(["citizen"]), &ha_long)).await;
    let p = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(p["errors"][0]["field"], "roles");
    let res = app.post("/api/v1/admin/users", Some(&admin), body("a@b.vn", json!([]), "no-such-unit")).await;
    let p = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(p["errors"][0]["field"], "roles");
    let res = app.post("/api/v1/admin/users", Some(&admin), body("a@b.vn", json!(["clerk"]), "no-such-unit")).await;
    let p = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(p["errors"][0]["field"], "unit_id");
    let res =
        app.post("/api/v1/admin/users", Some(&admin), body("clerk@motcua.local", json!(["clerk"]), &ha_long)).await;
    assert_problem(res, StatusCode::CONFLICT, "email_taken").await;

    // A district administrator manages only their district.
    let district_admin = app.staff_token("admin.halong@quangninh.gov.vn", &["admin"], "193").await;
    let res = app.post("/api/v1/admin/users", Some(&district_admin), body("c@d.vn", json!(["clerk"]), &mong_cai)).await;
    let p = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(p["errors"][0]["field"], "unit_id");
    let res = app.post("/api/v1/admin/users", Some(&district_admin), body("c@d.vn", json!(["clerk"]), &ha_long)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let page: Value = app.get("/api/v1/admin/users?q=admin", Some(&district_admin)).await.json().await.unwrap();
    assert_eq!(emails(&page), ["admin.halong@quangninh.gov.vn"], "the province admin is out of scope");
}

async fn admins_update_staff_and_deactivation_ends_sessions(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.token("admin").await;
    let tokens = app.login("specialist@motcua.local", DEMO_PASSWORD).await;
    let id = tokens["user"]["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/admin/users/{id}");

    let res =
        app.patch(&path, Some(&admin), json!({"roles": ["specialist", "approver"], "full_name": "Đỗ Minh Đức"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let view: Value = res.json().await.unwrap();
    assert_eq!(view["roles"], json!(["specialist", "approver"]));
    assert_eq!(view["full_name"], "Đỗ Minh Đức");
    // Roles and unit apply to the open session at once, not at its next refresh.
    let access = tokens["access_token"].as_str().unwrap();
    let ha_long_stats = format!("/api/v1/stats?unit={}", app.unit_id("193").await);
    assert_eq!(app.get(&ha_long_stats, Some(access)).await.status(), StatusCode::OK);

    let mong_cai = app.unit_id("194").await;
    let view: Value = app.patch(&path, Some(&admin), json!({"unit_id": mong_cai})).await.json().await.unwrap();
    assert_eq!(view["unit_code"], "194");
    assert_problem(app.get(&ha_long_stats, Some(access)).await, StatusCode::NOT_FOUND, "not_found").await;

    let res = app.patch(&path, Some(&admin), json!({"active": false})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_problem(app.get("/api/v1/me", Some(access)).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let res = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": tokens["refresh_token"]})).await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let res = app
        .post("/api/v1/auth/login", None, json!({"email": "specialist@motcua.local", "password": DEMO_PASSWORD}))
        .await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;

    // No administrator locks themselves out.
    let me: Value = app.get("/api/v1/me", Some(&admin)).await.json().await.unwrap();
    let mine = format!("/api/v1/admin/users/{}", me["id"].as_str().unwrap());
    let res = app.patch(&mine, Some(&admin), json!({"active": false})).await;
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let res = app.patch(&mine, Some(&admin), json!({"roles": ["auditor"]})).await;
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let me_after: Value = app.get("/api/v1/me", Some(&admin)).await.json().await.unwrap();
    assert_eq!(me_after["roles"], json!(["admin"]));
    assert_eq!(me_after["active"], true);

    // A new password works and ends other sessions.
    let clerk = app.login("clerk@motcua.local", DEMO_PASSWORD).await;
    let clerk_path = format!("/api/v1/admin/users/{}", clerk["user"]["id"].as_str().unwrap());
    let res = app.patch(&clerk_path, Some(&admin), json!({"password": "một mật khẩu mới"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": clerk["refresh_token"]})).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    app.login("clerk@motcua.local", "một mật khẩu mới").await;
}
