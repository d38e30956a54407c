//! Delegation (docs/delegation.md): roles lent to a colleague of the unit
//! for a period, used with both people recorded, listed, expired, revoked.

mod common;

use common::flow::*;
use common::{Backend, TestApp, assert_problem};
use diesel::prelude::*;
use motcua::db::schema::delegations;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    delegated_roles_are_used_recorded_and_taken_back,
    delegations_are_checked,
    expired_delegations_lend_nothing,
);

fn in_days(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days)).to_rfc3339()
}

async fn me(app: &TestApp, token: &str) -> String {
    app.get("/api/v1/me", Some(token)).await.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string()
}

/// A clerk of Hạ Long (193) who is not a specialist, and their id.
async fn colleague(app: &TestApp) -> (String, String) {
    let token = app.staff_token("clerk2.193@example.vn", &["clerk"], "193").await;
    let id = me(app, &token).await;
    (token, id)
}

async fn lender_id(app: &TestApp, token: &str) -> String {
    me(app, token).await
}

async fn claim(app: &TestApp, token: &str, d: &Value) -> reqwest::Response {
    act(app, token, d, json!({"action": "claim"})).await
}

async fn delegated_roles_are_used_recorded_and_taken_back(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (specialist, clerk) = (app.token("specialist").await, app.token("clerk").await);
    let (deputy, deputy_id) = colleague(&app).await;
    let d1 = register(&app, &clerk, HOUSEHOLD_BUSINESS, "193").await;
    assert_problem(claim(&app, &deputy, &d1).await, StatusCode::FORBIDDEN, "forbidden").await;

    let body = json!({"delegate_id": deputy_id, "roles": ["specialist"], "ends_at": in_days(7), "reason": "Nghỉ phép"});
    let lent = json_ok(app.post("/api/v1/delegations", Some(&specialist), body).await, StatusCode::CREATED).await;
    assert_eq!((lent["in_force"].as_bool(), lent["roles"].clone()), (Some(true), json!(["specialist"])));

    // The deputy works as the specialist, and the event names both.
    let claimed = json_ok(claim(&app, &deputy, &d1).await, StatusCode::OK).await;
    assert_eq!(claimed["assignee_id"], deputy_id.as_str());
    let last = events(&app, &clerk, &d1).await.pop().unwrap();
    assert_eq!(
        (last["actor_id"].as_str(), last["actor_role"].as_str()),
        (Some(deputy_id.as_str()), Some("specialist"))
    );
    let lender = me(&app, &specialist).await;
    assert_eq!(last["on_behalf_of"]["id"], lender.as_str());
    assert_eq!(last["on_behalf_of"]["name"], "Demo specialist");
    // The deputy's own role leaves no such trace.
    let d2 = register(&app, &clerk, HOUSEHOLD_BUSINESS, "193").await;
    act_ok(&app, &deputy, &d2, json!({"action": "assign", "assignee_id": lender_id(&app, &specialist).await})).await;
    assert_eq!(events(&app, &clerk, &d2).await.pop().unwrap()["on_behalf_of"], Value::Null);

    // Both see it; a colleague who is neither does not; the admin of the province does.
    let listed = |token: String| {
        let app = &app;
        async move { json_ok(app.get("/api/v1/delegations", Some(&token)).await, StatusCode::OK).await }
    };
    assert_eq!(listed(specialist.clone()).await["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed(deputy.clone()).await["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed(clerk.clone()).await["items"].as_array().unwrap().len(), 0);
    assert_eq!(listed(app.token("admin").await).await["items"].as_array().unwrap().len(), 1);

    // Taken back: at once.
    let path = format!("/api/v1/delegations/{}/revoke", lent["id"].as_str().unwrap());
    assert_problem(app.post(&path, Some(&clerk), json!({})).await, StatusCode::NOT_FOUND, "not_found").await;
    let revoked = json_ok(app.post(&path, Some(&specialist), json!({})).await, StatusCode::OK).await;
    assert_eq!((revoked["in_force"].as_bool(), revoked["revoked_by"].as_str()), (Some(false), Some(lender.as_str())));
    let d3 = register(&app, &clerk, HOUSEHOLD_BUSINESS, "193").await;
    assert_problem(claim(&app, &deputy, &d3).await, StatusCode::FORBIDDEN, "forbidden").await;
    let again = json_ok(app.post(&path, Some(&specialist), json!({})).await, StatusCode::OK).await;
    assert_eq!(again["revoked_at"], revoked["revoked_at"], "revoking again changes nothing");
    let active = json_ok(app.get("/api/v1/delegations?in_force=true", Some(&specialist)).await, StatusCode::OK).await;
    assert!(active["items"].as_array().unwrap().is_empty());
    let ended =
        json_ok(app.get("/api/v1/delegations?in_force=false&limit=1", Some(&specialist)).await, StatusCode::OK).await;
    assert_eq!(ended["items"][0]["id"], lent["id"]);
}

async fn delegations_are_checked(b: Backend) {
    let app = TestApp::spawn(b).await;
    let specialist = app.token("specialist").await;
    let (_, deputy_id) = colleague(&app).await;
    let elsewhere = app.staff_token("clerk.194@example.vn", &["clerk"], "194").await;
    let elsewhere_id = me(&app, &elsewhere).await;
    let lend = |body: Value| {
        let (app, token) = (&app, specialist.clone());
        async move { app.post("/api/v1/delegations", Some(&token), body).await }
    };
    let cases = [
        (
            json!({"delegate_id": deputy_id, "roles": ["approver"], "ends_at": in_days(7), "reason": "Đi công tác"}),
            "roles",
        ),
        (
            json!({"delegate_id": elsewhere_id, "roles": ["specialist"], "ends_at": in_days(7), "reason": "Đi công tác"}),
            "delegate_id",
        ),
        (
            json!({"delegate_id": deputy_id, "roles": ["specialist"], "ends_at": in_days(120), "reason": "Đi công tác"}),
            "ends_at",
        ),
        (
            json!({"delegate_id": deputy_id, "roles": ["specialist"], "ends_at": in_days(-1), "reason": "Đi công tác"}),
            "ends_at",
        ),
        (json!({"delegate_id": deputy_id, "roles": ["specialist"], "ends_at": in_days(7), "reason": ""}), "reason"),
    ];
    for (body, field) in cases {
        let problem = assert_problem(lend(body).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field);
    }
    let citizen = app.token("citizen").await;
    let body = json!({"delegate_id": deputy_id, "roles": ["specialist"], "ends_at": in_days(7), "reason": "x"});
    assert_problem(app.post("/api/v1/delegations", Some(&citizen), body).await, StatusCode::FORBIDDEN, "forbidden")
        .await;
    let count: i64 = app.db(|c| delegations::table.count().get_result(c)).await;
    assert_eq!(count, 0, "nothing refused was stored");
}

async fn expired_delegations_lend_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (specialist, clerk) = (app.token("specialist").await, app.token("clerk").await);
    let (deputy, deputy_id) = colleague(&app).await;
    let body = json!({"delegate_id": deputy_id, "roles": ["specialist"], "ends_at": in_days(1), "reason": "Nghỉ ốm"});
    json_ok(app.post("/api/v1/delegations", Some(&specialist), body).await, StatusCode::CREATED).await;
    // A day later.
    let ended = chrono::Utc::now().naive_utc() - chrono::Duration::minutes(1);
    app.db(move |c| diesel::update(delegations::table).set(delegations::ends_at.eq(ended)).execute(c)).await;
    let d = register(&app, &clerk, HOUSEHOLD_BUSINESS, "193").await;
    assert_problem(claim(&app, &deputy, &d).await, StatusCode::FORBIDDEN, "forbidden").await;
    let listed = json_ok(app.get("/api/v1/delegations", Some(&deputy)).await, StatusCode::OK).await;
    assert_eq!(listed["items"][0]["in_force"], false);
    let lending = json_ok(app.get("/api/v1/delegations?in_force=true", Some(&deputy)).await, StatusCode::OK).await;
    assert!(lending["items"].as_array().unwrap().is_empty());
}
