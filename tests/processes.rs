//! Internal processes of procedures (docs/processes.md): the demo catalogue's
//! processes, new versions saved by the province's administrator and
//! validated, the version a dossier is pinned to, and the default a
//! procedure without one gets.

mod common;

use common::flow::*;
use common::{Backend, TestApp, assert_problem};
use diesel::prelude::*;
use motcua::db::schema::{dossier_events, dossier_processes};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    demo_procedures_have_realistic_processes,
    administrators_save_validated_versions,
    dossiers_keep_the_version_they_were_received_under,
    a_procedure_without_a_process_gets_the_default_once,
    the_control_slip_names_the_late_step,
    who_did_an_earlier_step_does_not_sign,
    a_dossier_moves_step_by_step_across_units,
    steps_go_back_and_their_clocks_pause,
    dossiers_received_before_steps_are_placed_at_one,
    the_queue_filters_steps_due_soon,
    step_statistics_name_the_late_step_and_unit,
    a_desk_receives_for_another_unit_of_the_province,
);

async fn processes(app: &TestApp, code: &str) -> Vec<Value> {
    let res = app.get(&format!("/api/v1/procedures/{code}/processes"), None).await;
    json_ok(res, StatusCode::OK).await.as_array().unwrap().clone()
}

fn steps(minutes: [u32; 3]) -> Value {
    json!([
        {"name": "Chuyên viên thẩm định", "role": "specialist", "allotted_minutes": minutes[0], "kind": "ordinary"},
        {"name": "Trưởng phòng ký", "role": "approver", "allotted_minutes": minutes[1], "kind": "signing"},
        {"name": "Trả kết quả", "role": "clerk", "allotted_minutes": minutes[2], "kind": "return"},
    ])
}

async fn pinned(app: &TestApp, token: &str, d: &Value) -> Value {
    get(app, token, d).await["process"].clone()
}

async fn demo_procedures_have_realistic_processes(b: Backend) {
    let app = TestApp::spawn(b).await;
    let birth = processes(&app, BIRTH).await;
    assert_eq!(birth.len(), 1);
    let p = &birth[0];
    assert_eq!(
        (p["version"].as_i64(), p["latest"].as_bool(), p["builtin"].as_bool()),
        (Some(1), Some(true), Some(false))
    );
    assert_eq!(p["separation_of_duties"], true);
    let kinds: Vec<&str> = p["steps"].as_array().unwrap().iter().map(|s| s["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["ordinary", "signing", "return"]);
    assert_eq!(p["allotted_minutes"], 450, "one working day of office hours");
    let one =
        json_ok(app.get(&format!("/api/v1/processes/{}", p["id"].as_str().unwrap()), None).await, StatusCode::OK).await;
    assert_eq!(&one, p);
    let lltp = processes(&app, "2.000488").await;
    assert!(lltp[0]["steps"].as_array().unwrap().iter().any(|s| s["kind"] == "review"));
    assert_problem(app.get("/api/v1/procedures/9.999999/processes", None).await, StatusCode::NOT_FOUND, "not_found")
        .await;
    assert_problem(app.get("/api/v1/processes/nope", None).await, StatusCode::NOT_FOUND, "not_found").await;
}

async fn administrators_save_validated_versions(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.token("admin").await;
    let path = format!("/api/v1/procedures/{HOUSEHOLD_BUSINESS}/processes");
    let post = |token: Option<String>, body: Value| {
        let (app, path) = (&app, path.clone());
        async move { app.post(&path, token.as_deref(), body).await }
    };

    // Three working days of 450 minutes: 1,350 at most.
    let too_long = json!({"steps": steps([1200, 200, 60])});
    let res = post(Some(admin.clone()), too_long).await;
    let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "steps");
    let unsigned = json!({"steps": [{"name": "Thẩm định", "role": "specialist", "allotted_minutes": 60, "kind": "ordinary"},
                                    {"name": "Ký", "role": "specialist", "allotted_minutes": 60, "kind": "signing"}]});
    let problem = assert_problem(
        post(Some(admin.clone()), unsigned).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "steps[1].role");
    let commune = json!({"level": "commune", "steps": steps([600, 300, 60])});
    let problem =
        assert_problem(post(Some(admin.clone()), commune).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
            .await;
    assert_eq!(problem["errors"][0]["field"], "level", "the procedure is performed by districts");
    let nowhere = json!({"steps": [{"name": "Liên thông", "role": "specialist", "unit_id": "nope",
                                    "allotted_minutes": 60, "kind": "ordinary"},
                                   {"name": "Ký", "role": "approver", "allotted_minutes": 60, "kind": "signing"}]});
    let problem =
        assert_problem(post(Some(admin.clone()), nowhere).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
            .await;
    assert_eq!(problem["errors"][0]["field"], "steps[0].unit_id");
    assert_eq!(processes(&app, HOUSEHOLD_BUSINESS).await.len(), 1, "nothing refused was saved");

    // Only the province's administrator writes.
    let body = json!({"note": "QĐ 123/QĐ-UBND", "steps": steps([900, 390, 60])});
    assert_eq!(post(None, body.clone()).await.status(), StatusCode::UNAUTHORIZED);
    let clerk = app.token("clerk").await;
    assert_problem(post(Some(clerk), body.clone()).await, StatusCode::FORBIDDEN, "forbidden").await;
    let district_admin = app.staff_token("admin.193@example.vn", &["admin"], "193").await;
    assert_problem(post(Some(district_admin), body.clone()).await, StatusCode::FORBIDDEN, "forbidden").await;

    let saved = json_ok(post(Some(admin.clone()), body).await, StatusCode::CREATED).await;
    assert_eq!((saved["version"].as_i64(), saved["latest"].as_bool()), (Some(2), Some(true)));
    assert_eq!((saved["note"].as_str(), saved["allotted_minutes"].as_u64()), (Some("QĐ 123/QĐ-UBND"), Some(1350)));
    let list = processes(&app, HOUSEHOLD_BUSINESS).await;
    assert_eq!(
        list.iter().map(|p| (p["version"].as_i64().unwrap(), p["latest"].as_bool().unwrap())).collect::<Vec<_>>(),
        [(2, true), (1, false)]
    );
    // A unit's own process is numbered within its scope.
    let unit = app.unit_id("193").await;
    let own = json!({"unit_id": unit, "separation_of_duties": false, "steps": steps([600, 300, 60])});
    let own = json_ok(post(Some(admin), own).await, StatusCode::CREATED).await;
    assert_eq!((own["version"].as_i64(), own["unit_id"].as_str()), (Some(1), Some(unit.as_str())));
    assert_eq!(own["separation_of_duties"], false);
}

async fn dossiers_keep_the_version_they_were_received_under(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (admin, clerk, citizen) = (app.token("admin").await, app.token("clerk").await, app.token("citizen").await);
    let v1 = processes(&app, HOUSEHOLD_BUSINESS).await[0]["id"].clone();

    // Filed online: no process until the desk receives it.
    let filed = file(&app, &citizen, HOUSEHOLD_BUSINESS, "193").await;
    assert_eq!(filed["process"], Value::Null);
    let registered = register(&app, &clerk, HOUSEHOLD_BUSINESS, "193").await;
    assert_eq!((registered["process"]["id"].clone(), registered["process"]["version"].as_i64()), (v1.clone(), Some(1)));

    let path = format!("/api/v1/procedures/{HOUSEHOLD_BUSINESS}/processes");
    let v2 = json_ok(app.post(&path, Some(&admin), json!({"steps": steps([900, 390, 60])})).await, StatusCode::CREATED)
        .await["id"]
        .clone();
    let received = act_ok(&app, &clerk, &filed, json!({"action": "receive"})).await;
    assert_eq!(received["process"]["id"], v2, "received after the new version: follows it");
    assert_eq!(pinned(&app, &clerk, &registered).await["id"], v1, "received before: keeps its version");

    // A unit's own process beats the procedure's, for that unit only.
    let unit = app.unit_id("193").await;
    let own = json!({"unit_id": unit, "steps": steps([600, 300, 60])});
    let own = json_ok(app.post(&path, Some(&admin), own).await, StatusCode::CREATED).await["id"].clone();
    assert_eq!(register(&app, &clerk, HOUSEHOLD_BUSINESS, "193").await["process"]["id"], own);
    let other = app.staff_token("clerk.194@example.vn", &["clerk"], "194").await;
    assert_eq!(register(&app, &other, HOUSEHOLD_BUSINESS, "194").await["process"]["id"], v2);
}

async fn a_procedure_without_a_process_gets_the_default_once(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.token("admin").await;
    let spec = json!({
        "code": "9.000077", "name": "Thủ tục thử", "field": "Thử nghiệm", "levels": ["district"],
        "processing_days": 2, "cutoff_hour": 16, "fee_vnd": 0, "online_level": "full",
        "result_is_document": false,
        "components": [{"name": "Đơn", "mandatory": true, "e_copy_accepted": false}],
    });
    json_ok(app.post("/api/v1/procedures", Some(&admin), spec).await, StatusCode::CREATED).await;
    assert!(processes(&app, "9.000077").await.is_empty());
    let clerk = app.token("clerk").await;
    let first = register(&app, &clerk, "9.000077", "193").await;
    let second = register(&app, &clerk, "9.000077", "193").await;
    let list = processes(&app, "9.000077").await;
    assert_eq!(list.len(), 1, "one default, shared");
    let default = &list[0];
    assert_eq!((default["builtin"].as_bool(), default["version"].as_i64()), (Some(true), Some(1)));
    let roles: Vec<&str> = default["steps"].as_array().unwrap().iter().map(|s| s["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["specialist", "approver"], "today's path");
    assert_eq!(default["allotted_minutes"], 900, "two working days of 450 minutes");
    assert_eq!(first["process"]["id"], default["id"]);
    assert_eq!(second["process"]["id"], default["id"]);

    // A shorter processing time: the default follows it, in a new version.
    let patch = app.client.patch(app.url("/api/v1/procedures/9.000077")).bearer_auth(&admin);
    let res = patch.json(&json!({"processing_days": 1})).send().await.unwrap();
    json_ok(res, StatusCode::OK).await;
    let list = processes(&app, "9.000077").await;
    assert_eq!((list[0]["version"].as_i64(), list[0]["allotted_minutes"].as_u64()), (Some(2), Some(450)));
    assert_eq!(list[0]["builtin"], true);
    assert_eq!(pinned(&app, &clerk, &first).await["version"], 1, "dossiers in flight keep theirs");
    // A process of the province's that would no longer fit refuses it.
    let patch = app.client.patch(app.url(&format!("/api/v1/procedures/{HOUSEHOLD_BUSINESS}"))).bearer_auth(&admin);
    let res = patch.json(&json!({"processing_days": 2})).send().await.unwrap();
    let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "processing_days");
    let household =
        json_ok(app.get(&format!("/api/v1/procedures/{HOUSEHOLD_BUSINESS}"), None).await, StatusCode::OK).await;
    assert_eq!(household["processing_days"], 3, "nothing changed");
}

/// Form 06: one row per handover, against the process's allotments — here
/// the specialist's step was late, the signing early, the return still open.
async fn the_control_slip_names_the_late_step(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (clerk, specialist, approver) =
        (app.token("clerk").await, app.token("specialist").await, app.token("approver").await);
    let d = register(&app, &clerk, HOUSEHOLD_BUSINESS, "193").await;
    let path = format!("/api/v1/dossiers/{}/control-slip", d["id"].as_str().unwrap());
    let early = json_ok(app.get(&path, Some(&clerk)).await, StatusCode::OK).await;
    assert_eq!(early["rows"].as_array().unwrap().len(), 1, "the first step is open from reception");
    assert_eq!((early["rows"][0]["timing"].as_str(), early["rows"][0]["step"].as_u64()), (Some("running"), Some(1)));
    act_ok(&app, &specialist, &d, json!({"action": "claim"})).await;
    act_ok(&app, &specialist, &d, json!({"action": "submit_for_approval"})).await;
    act_ok(&app, &approver, &d, json!({"action": "approve"})).await;
    // The same work, as it happened in the week of 2 March 2026 (local times, UTC+7).
    let id = d["id"].as_str().unwrap().to_string();
    let at = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
    let timeline = [
        ("register", at("2026-03-02 01:00")),
        ("claim", at("2026-03-02 02:00")),
        ("submit_for_approval", at("2026-03-05 03:00")),
        ("approve", at("2026-03-05 07:00")),
    ];
    app.db(move |c| {
        for (action, when) in timeline {
            diesel::update(dossier_events::table)
                .filter(dossier_events::dossier_id.eq(&id).and(dossier_events::action.eq(action)))
                .set(dossier_events::at.eq(when))
                .execute(c)?;
        }
        Ok(())
    })
    .await;
    let slip = json_ok(app.get(&path, Some(&clerk)).await, StatusCode::OK).await;
    assert_eq!(slip["dossier_code"], d["code"]);
    assert_eq!((&slip["process"]["id"], &slip["process"]["version"]), (&d["process"]["id"], &d["process"]["version"]));
    let rows = slip["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let first = &rows[0];
    assert_eq!((first["step"].as_u64(), first["kind"].as_str()), (Some(1), Some("ordinary")));
    assert_eq!(
        (first["handed_over_by"].as_str(), first["held_by"].as_str()),
        (Some("Demo clerk"), Some("Demo specialist"))
    );
    assert_eq!(first["deadline"], "2026-03-04T01:00:00Z", "900 working minutes from Monday 08:00");
    assert_eq!((first["timing"].as_str(), first["late_by_minutes"].as_u64()), (Some("late"), Some(570)));
    assert_eq!(first["outcome"], "submit_for_approval");
    assert_eq!(first["unit_code"], "193");
    let signing = &rows[1];
    assert_eq!((signing["kind"].as_str(), signing["completed_by"].as_str()), (Some("signing"), Some("Demo approver")));
    assert_eq!((signing["timing"].as_str(), signing["early_by_minutes"].as_u64()), (Some("early"), Some(240)));
    assert_eq!((rows[2]["kind"].as_str(), rows[2]["timing"].as_str()), (Some("return"), Some("running")));
    assert!(rows[2]["late_by_minutes"].as_u64().unwrap() > 0);
    // Anyone who may see the dossier reads it; others find nothing.
    let citizen = app.token("citizen").await;
    json_ok(app.get(&path, Some(&citizen)).await, StatusCode::OK).await;
    let stranger = app.staff_token("clerk.194@example.vn", &["clerk"], "194").await;
    assert_problem(app.get(&path, Some(&stranger)).await, StatusCode::NOT_FOUND, "not_found").await;
}

/// One account holding the clerk's, the specialist's and the approver's
/// roles receives and works a dossier: it may not sign it too, unless the
/// process waives separation of duties.
async fn who_did_an_earlier_step_does_not_sign(b: Backend) {
    let app = TestApp::spawn(b).await;
    let all = app.staff_token("ca.193@example.vn", &["clerk", "specialist", "approver"], "193").await;
    let d = register(&app, &all, HOUSEHOLD_BUSINESS, "193").await;
    act_ok(&app, &all, &d, json!({"action": "claim"})).await;
    let pending = act_ok(&app, &all, &d, json!({"action": "submit_for_approval"})).await;
    assert!(!pending["allowed_actions"].as_array().unwrap().contains(&json!("approve")));
    assert!(pending["allowed_actions"].as_array().unwrap().contains(&json!("return_for_rework")));
    let res = act(&app, &all, &d, json!({"action": "approve"})).await;
    assert_problem(res, StatusCode::FORBIDDEN, "separation_of_duties").await;
    assert_eq!(get(&app, &all, &d).await["status"], "pending_approval", "nothing changed");
    let approver = app.token("approver").await;
    assert_eq!(act_ok(&app, &approver, &d, json!({"action": "approve"})).await["status"], "result_ready");

    // A unit whose process waives it: the same account signs.
    let admin = app.token("admin").await;
    let unit = app.unit_id("193").await;
    let waived = json!({"unit_id": unit, "separation_of_duties": false, "steps": steps([600, 300, 60])});
    let path = format!("/api/v1/procedures/{HOUSEHOLD_BUSINESS}/processes");
    json_ok(app.post(&path, Some(&admin), waived).await, StatusCode::CREATED).await;
    let d = register(&app, &all, HOUSEHOLD_BUSINESS, "193").await;
    act_ok(&app, &all, &d, json!({"action": "claim"})).await;
    act_ok(&app, &all, &d, json!({"action": "submit_for_approval"})).await;
    assert_eq!(act_ok(&app, &all, &d, json!({"action": "approve"})).await["status"], "result_ready");
}

/// Examine (specialist, 600 min) → review (approver, 240) → the tax
/// office's check at another unit (specialist of Móng Cái standing in for
/// it, 240) → sign (180) → return (60): 1,320 of the 1,350 minutes of three
/// working days.
fn five_steps(other_unit: &str) -> Value {
    json!([
        {"name": "Chuyên viên thẩm định", "role": "specialist", "allotted_minutes": 600, "kind": "ordinary"},
        {"name": "Trưởng phòng xem xét", "role": "approver", "allotted_minutes": 240, "kind": "review"},
        {"name": "Chi cục Thuế xác nhận", "role": "specialist", "unit_id": other_unit, "allotted_minutes": 240,
         "kind": "ordinary"},
        {"name": "Lãnh đạo ký", "role": "approver", "allotted_minutes": 180, "kind": "signing"},
        {"name": "Trả kết quả", "role": "clerk", "allotted_minutes": 60, "kind": "return"},
    ])
}

fn codes(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap().to_string()).collect()
}

async fn queue(app: &TestApp, token: &str) -> Vec<String> {
    codes(&json_ok(app.get("/api/v1/queue", Some(token)).await, StatusCode::OK).await)
}

fn states(d: &Value) -> Vec<String> {
    d["process"]["steps"].as_array().unwrap().iter().map(|s| s["state"].as_str().unwrap().to_string()).collect()
}

/// A five-step process with a step at another unit: each step waits in its
/// queue for its role at its unit, is claimed and forwarded; its deadline
/// is its start plus its allotment; the control slip has a row per step.
async fn a_dossier_moves_step_by_step_across_units(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (admin, clerk, specialist) =
        (app.token("admin").await, app.token("clerk").await, app.token("specialist").await);
    let approver = app.token("approver").await;
    let head = app.staff_token("tp.193@example.vn", &["approver"], "193").await;
    let far = app.staff_token("cv.194@example.vn", &["specialist"], "194").await;
    let (home, other) = (app.unit_id("193").await, app.unit_id("194").await);
    let path = format!("/api/v1/procedures/{HOUSEHOLD_BUSINESS}/processes");
    json_ok(app.post(&path, Some(&admin), json!({"steps": five_steps(&other)})).await, StatusCode::CREATED).await;

    let d = register(&app, &clerk, HOUSEHOLD_BUSINESS, "193").await;
    let code = d["code"].as_str().unwrap().to_string();
    assert_eq!(states(&d), ["current", "pending", "pending", "pending", "pending"]);
    let step = &d["current_step"];
    assert_eq!((step["number"].as_u64(), step["role"].as_str()), (Some(1), Some("specialist")));
    assert_eq!((step["holder"].clone(), step["unit_id"].as_str()), (Value::Null, Some(home.as_str())));
    let started = chrono::DateTime::parse_from_rfc3339(step["started_at"].as_str().unwrap()).unwrap();
    let due = chrono::DateTime::parse_from_rfc3339(step["due_at"].as_str().unwrap()).unwrap();
    assert!(due - started >= chrono::Duration::minutes(600), "600 working minutes from {started}: {due}");

    // Step 1: in the specialists' queue, not the approvers'.
    assert_eq!(queue(&app, &specialist).await, std::slice::from_ref(&code));
    assert!(!queue(&app, &head).await.contains(&code));
    let claimed = json_ok(app.post("/api/v1/queue/claim", Some(&specialist), json!({})).await, StatusCode::OK).await;
    assert_eq!(claimed["code"], code.as_str());
    let me: Value = app.get("/api/v1/me", Some(&specialist)).await.json().await.unwrap();
    assert_eq!(claimed["current_step"]["holder"]["id"], me["id"]);
    // The next step is a review, not the signing.
    let res = act(&app, &specialist, &d, json!({"action": "submit_for_approval"})).await;
    assert_problem(res, StatusCode::CONFLICT, "illegal_action").await;
    // Handed to a named person: one of the review step's role.
    let far_id: Value = app.get("/api/v1/me", Some(&far)).await.json().await.unwrap();
    let res = act(&app, &specialist, &d, json!({"action": "forward", "to": far_id["id"]})).await;
    let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "to");
    let reviewing = act_ok(&app, &specialist, &d, json!({"action": "forward", "note": "Đủ điều kiện"})).await;
    assert_eq!(
        (reviewing["status"].as_str(), reviewing["current_step"]["number"].as_u64()),
        (Some("in_progress"), Some(2))
    );
    assert_eq!(reviewing["current_step"]["holder"], Value::Null, "waiting in the review queue");
    assert_eq!(states(&reviewing)[..2], ["done", "current"]);

    // Step 2: the heads' queue; claimed, forwarded to the other unit.
    assert!(!queue(&app, &specialist).await.contains(&code));
    assert_eq!(queue(&app, &head).await, std::slice::from_ref(&code));
    act_ok(&app, &head, &d, json!({"action": "claim"})).await;
    let res = act(&app, &approver, &d, json!({"action": "forward"})).await;
    assert_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    let moved = act_ok(&app, &head, &d, json!({"action": "forward", "to": far_id["id"]})).await;
    assert_eq!(moved["current_step"]["unit_id"], other.as_str());
    assert_eq!(moved["current_step"]["holder"]["id"], far_id["id"]);
    assert_eq!(moved["unit"]["code"], "194");

    // Step 3 at Móng Cái: its specialist holds it and hands it back for signing.
    assert_eq!(get(&app, &far, &d).await["current_step"]["number"], 3);
    let pending = act_ok(&app, &far, &d, json!({"action": "submit_for_approval"})).await;
    assert_eq!((pending["status"].as_str(), pending["unit"]["code"].as_str()), (Some("pending_approval"), Some("193")));
    // Step 4: the head reviewed it, so another approver signs.
    assert_problem(
        act(&app, &head, &d, json!({"action": "approve"})).await,
        StatusCode::FORBIDDEN,
        "separation_of_duties",
    )
    .await;
    let signed = act_ok(&app, &approver, &d, json!({"action": "approve"})).await;
    assert_eq!(signed["current_step"]["number"], 5, "on to the desk's return step");
    let payments = format!("/api/v1/dossiers/{}/payments", d["id"].as_str().unwrap());
    json_ok(app.post(&payments, Some(&clerk), json!({"channel": "counter"})).await, StatusCode::CREATED).await;
    let returned = act_ok(&app, &clerk, &d, json!({"action": "return_result"})).await;
    assert!(returned["current_step"].is_null());
    assert_eq!(states(&returned), ["done"; 5]);

    let slip = json_ok(
        app.get(&format!("/api/v1/dossiers/{}/control-slip", d["id"].as_str().unwrap()), Some(&clerk)).await,
        StatusCode::OK,
    )
    .await;
    let rows = slip["rows"].as_array().unwrap();
    let outcomes: Vec<(u64, &str)> =
        rows.iter().map(|r| (r["step"].as_u64().unwrap(), r["outcome"].as_str().unwrap())).collect();
    assert_eq!(
        outcomes,
        [(1, "forward"), (2, "forward"), (3, "submit_for_approval"), (4, "approve"), (5, "return_result")]
    );
    assert_eq!(rows[2]["unit_code"], "194");
    assert_eq!(rows[1]["handed_over_by"], rows[0]["completed_by"]);
}

/// A reviewer sends the dossier back to the examination; a supplement
/// request during a step moves its deadline as it moves the appointment.
async fn steps_go_back_and_their_clocks_pause(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (admin, clerk, specialist) =
        (app.token("admin").await, app.token("clerk").await, app.token("specialist").await);
    let citizen = app.token("citizen").await;
    let head = app.staff_token("tp.193@example.vn", &["approver"], "193").await;
    let other = app.unit_id("194").await;
    let path = format!("/api/v1/procedures/{HOUSEHOLD_BUSINESS}/processes");
    json_ok(app.post(&path, Some(&admin), json!({"steps": five_steps(&other)})).await, StatusCode::CREATED).await;

    let d = file(&app, &citizen, HOUSEHOLD_BUSINESS, "193").await;
    act_ok(&app, &clerk, &d, json!({"action": "receive"})).await;
    act_ok(&app, &specialist, &d, json!({"action": "claim"})).await;
    act_ok(&app, &specialist, &d, json!({"action": "forward"})).await;
    act_ok(&app, &head, &d, json!({"action": "claim"})).await;
    for bad in [
        json!({"action": "return_to_step", "step": 2, "reason": "x"}),
        json!({"action": "return_to_step", "step": 0, "reason": "x"}),
    ] {
        let problem =
            assert_problem(act(&app, &head, &d, bad).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
                .await;
        assert_eq!(problem["errors"][0]["field"], "step");
    }
    let back =
        act_ok(&app, &head, &d, json!({"action": "return_to_step", "step": 1, "reason": "Thiếu xác minh"})).await;
    assert_eq!((back["status"].as_str(), back["current_step"]["number"].as_u64()), (Some("in_progress"), Some(1)));
    assert_eq!(back["current_step"]["holder"], Value::Null);
    assert_eq!(queue(&app, &specialist).await, [d["code"].as_str().unwrap().to_string()]);
    let again = act_ok(&app, &specialist, &d, json!({"action": "claim"})).await;
    let due_before = again["current_step"]["due_at"].as_str().unwrap().to_string();

    // Paused for the applicant over a working day: the step's deadline moves
    // by the working minutes paused, as the appointment moves by the days.
    let asked = act_ok(
        &app,
        &specialist,
        &d,
        json!({"action": "request_supplement", "reason": "Bổ sung", "items": ["Bản sao"]}),
    )
    .await;
    assert_eq!(asked["status"], "awaiting_applicant");
    let id = d["id"].as_str().unwrap().to_string();
    // The request was made two working days ago (a Monday 09:00 → the Wednesday).
    app.db(move |c| {
        use motcua::db::schema::dossiers;
        let now = motcua::time::now();
        diesel::update(dossiers::table.find(&id))
            .set(dossiers::paused_at.eq(now - chrono::Duration::days(2)))
            .execute(c)?;
        Ok(())
    })
    .await;
    let resumed = act_ok(&app, &citizen, &d, json!({"action": "supplement"})).await;
    let due_after = resumed["current_step"]["due_at"].as_str().unwrap().to_string();
    assert!(due_after > due_before, "{due_before} → {due_after}");
    assert_eq!(resumed["current_step"]["number"], 1);

    let slip = json_ok(
        app.get(&format!("/api/v1/dossiers/{}/control-slip", d["id"].as_str().unwrap()), Some(&clerk)).await,
        StatusCode::OK,
    )
    .await;
    let outcomes: Vec<&str> = slip["rows"].as_array().unwrap().iter().filter_map(|r| r["outcome"].as_str()).collect();
    assert_eq!(outcomes, ["forward", "return_to_step"]);
}

/// An upgrade: dossiers received before processes existed (no pin), and
/// pins made before steps were kept, get the step their status stands at
/// when the service starts (`processes::settle`), once.
async fn dossiers_received_before_steps_are_placed_at_one(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (clerk, specialist) = (app.token("clerk").await, app.token("specialist").await);
    let received = register(&app, &clerk, HOUSEHOLD_BUSINESS, "193").await;
    let pending = register(&app, &clerk, HOUSEHOLD_BUSINESS, "193").await;
    act_ok(&app, &specialist, &pending, json!({"action": "claim"})).await;
    act_ok(&app, &specialist, &pending, json!({"action": "submit_for_approval"})).await;
    let (a, p) = (received["id"].as_str().unwrap().to_string(), pending["id"].as_str().unwrap().to_string());
    let me: Value = app.get("/api/v1/me", Some(&specialist)).await.json().await.unwrap();
    let specialist_id = me["id"].as_str().unwrap().to_string();
    let settled = app
        .db(move |c| {
            use motcua::db::schema::dossiers;
            diesel::delete(dossier_processes::table.find(&a)).execute(c)?;
            diesel::update(dossier_processes::table.find(&p))
                .set(dossier_processes::step.eq(None::<i32>))
                .execute(c)?;
            // Before steps, the specialist stayed assigned while it waited for approval.
            diesel::update(dossiers::table.find(&p)).set(dossiers::assignee_id.eq(Some(specialist_id))).execute(c)?;
            let hours = motcua::domain::calendar::OfficeHours::default();
            let first = motcua::processes::settle(c, &hours).map_err(|_| diesel::result::Error::RollbackTransaction)?;
            let again = motcua::processes::settle(c, &hours).map_err(|_| diesel::result::Error::RollbackTransaction)?;
            Ok((first, again))
        })
        .await;
    assert_eq!(settled, (2, 0));
    let now = get(&app, &clerk, &received).await;
    assert_eq!(
        (now["current_step"]["number"].as_u64(), now["current_step"]["role"].as_str()),
        (Some(1), Some("specialist"))
    );
    let now = get(&app, &clerk, &pending).await;
    assert_eq!(
        (now["current_step"]["number"].as_u64(), now["current_step"]["kind"].as_str()),
        (Some(2), Some("signing"))
    );
    let approver = app.token("approver").await;
    assert_eq!(act_ok(&app, &approver, &pending, json!({"action": "approve"})).await["current_step"]["number"], 3);
}

/// `GET /queue?due_soon=true`: the dossiers whose current step is due
/// within `dossiers.due_soon_working_hours` (4) working hours, not late yet.
async fn the_queue_filters_steps_due_soon(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (clerk, specialist) = (app.token("clerk").await, app.token("specialist").await);
    let soon = register(&app, &clerk, HOUSEHOLD_BUSINESS, "193").await;
    let later = register(&app, &clerk, HOUSEHOLD_BUSINESS, "193").await;
    let late = register(&app, &clerk, HOUSEHOLD_BUSINESS, "193").await;
    let now = motcua::time::now();
    for (d, due) in [
        (&soon, now + chrono::Duration::minutes(1)),
        (&later, now + chrono::Duration::days(30)),
        (&late, now - chrono::Duration::minutes(1)),
    ] {
        let id = d["id"].as_str().unwrap().to_string();
        app.db(move |c| {
            diesel::update(dossier_processes::table.find(id)).set(dossier_processes::step_due_at.eq(due)).execute(c)
        })
        .await;
    }
    let code = |d: &Value| d["code"].as_str().unwrap().to_string();
    let due_soon = json_ok(app.get("/api/v1/queue?due_soon=true", Some(&specialist)).await, StatusCode::OK).await;
    assert_eq!(codes(&due_soon), [code(&soon)]);
    // A dossier at no step yet (filed online, to receive) is not due soon.
    let citizen = app.token("citizen").await;
    let filed = file(&app, &citizen, HOUSEHOLD_BUSINESS, "193").await;
    let desk = json_ok(app.get("/api/v1/queue?due_soon=false", Some(&clerk)).await, StatusCode::OK).await;
    assert!(codes(&desk).contains(&code(&filed)), "{desk}");
    let rest = json_ok(app.get("/api/v1/queue?due_soon=false", Some(&specialist)).await, StatusCode::OK).await;
    let mut rest = codes(&rest);
    rest.sort();
    let mut expected = vec![code(&later), code(&late)];
    expected.sort();
    assert_eq!(rest, expected);
    assert_eq!(get(&app, &clerk, &late).await["current_step"]["overdue"], true);
    assert_eq!(get(&app, &clerk, &soon).await["current_step"]["overdue"], false);
}

/// `GET /stats/steps` on a hand-counted set: three dossiers examined (one
/// late, at Hạ Long; one at Móng Cái), one signed and returned. The working
/// minutes late are those its control slip reports.
async fn step_statistics_name_the_late_step_and_unit(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (clerk, specialist, approver) =
        (app.token("clerk").await, app.token("specialist").await, app.token("approver").await);
    let far_clerk = app.staff_token("mc.194@example.vn", &["clerk"], "194").await;
    let far = app.staff_token("cv.194@example.vn", &["specialist"], "194").await;
    let late = register(&app, &clerk, HOUSEHOLD_BUSINESS, "193").await;
    let on_time = register(&app, &clerk, HOUSEHOLD_BUSINESS, "193").await;
    let elsewhere = register(&app, &far_clerk, HOUSEHOLD_BUSINESS, "194").await;
    for (token, d) in [(&specialist, &late), (&specialist, &on_time), (&far, &elsewhere)] {
        act_ok(&app, token, d, json!({"action": "claim"})).await;
    }
    // The late one was registered and claimed a month ago: its first step's
    // deadline, as its control slip computes it, is long past.
    let id = late["id"].as_str().unwrap().to_string();
    app.db(move |c| {
        let events: Vec<(String, chrono::NaiveDateTime)> = dossier_events::table
            .filter(dossier_events::dossier_id.eq(id))
            .select((dossier_events::id, dossier_events::at))
            .load(c)?;
        for (event, at) in events {
            diesel::update(dossier_events::table.find(event))
                .set(dossier_events::at.eq(at - chrono::Duration::days(30)))
                .execute(c)?;
        }
        Ok(())
    })
    .await;
    let slip_path = format!("/api/v1/dossiers/{}/control-slip", late["id"].as_str().unwrap());
    let slip = json_ok(app.get(&slip_path, Some(&clerk)).await, StatusCode::OK).await;
    let deadline: chrono::DateTime<chrono::Utc> = slip["rows"][0]["deadline"].as_str().unwrap().parse().unwrap();
    let id = late["id"].as_str().unwrap().to_string();
    app.db(move |c| {
        diesel::update(dossier_processes::table.find(id))
            .set(dossier_processes::step_due_at.eq(deadline.naive_utc()))
            .execute(c)
    })
    .await;
    for (token, d) in [(&specialist, &late), (&specialist, &on_time), (&far, &elsewhere)] {
        act_ok(&app, token, d, json!({"action": "submit_for_approval"})).await;
    }
    act_ok(&app, &approver, &late, json!({"action": "approve"})).await;
    let payments = format!("/api/v1/dossiers/{}/payments", late["id"].as_str().unwrap());
    json_ok(app.post(&payments, Some(&clerk), json!({"channel": "counter"})).await, StatusCode::CREATED).await;
    act_ok(&app, &clerk, &late, json!({"action": "return_result"})).await;
    let slip = json_ok(app.get(&slip_path, Some(&clerk)).await, StatusCode::OK).await;
    let delay = slip["rows"][0]["late_by_minutes"].as_i64().unwrap();
    assert!(delay > 0);

    let auditor = app.token("auditor").await;
    let stats = json_ok(app.get("/api/v1/stats/steps", Some(&auditor)).await, StatusCode::OK).await;
    let line = |r: &Value| {
        (
            r["key"].as_str().unwrap().to_string(),
            r["step"].as_i64().unwrap(),
            r["completed"].as_i64().unwrap(),
            r["late"].as_i64().unwrap(),
            r["delay_minutes"].as_i64().unwrap(),
        )
    };
    let steps: Vec<_> = stats["steps"].as_array().unwrap().iter().map(line).collect();
    let total = |step, completed, late, delay| ("total".to_string(), step, completed, late, delay);
    assert_eq!(steps, [total(1, 3, 1, delay), total(2, 1, 0, 0), total(3, 1, 0, 0)], "most delay first");
    assert_eq!(stats["steps"][0]["average_delay_minutes"].as_f64(), Some(delay as f64));
    assert_eq!(stats["steps"][0]["late_rate"].as_f64(), Some(1.0 / 3.0));
    let (u193, u194) = (app.unit_id("193").await, app.unit_id("194").await);
    let mut rows: Vec<_> = stats["rows"].as_array().unwrap().iter().map(line).collect();
    rows.sort();
    let mut expected =
        vec![(u193.clone(), 1, 2, 1, delay), (u193.clone(), 2, 1, 0, 0), (u193, 3, 1, 0, 0), (u194, 1, 1, 0, 0)];
    expected.sort();
    assert_eq!(rows, expected);

    let by_procedure =
        json_ok(app.get("/api/v1/stats/steps?group_by=procedure", Some(&auditor)).await, StatusCode::OK).await;
    let first = &by_procedure["rows"][0];
    assert_eq!(
        (first["key"].as_str(), first["step"].as_i64(), first["completed"].as_i64()),
        (Some(HOUSEHOLD_BUSINESS), Some(1), Some(3))
    );
    let res = app.get("/api/v1/exports/steps.csv?group_by=level", Some(&auditor)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let csv = res.text().await.unwrap();
    let mut lines = csv.trim_start_matches('\u{feff}').lines();
    assert_eq!(
        lines.next(),
        Some("row,key,label,step,step_name,completed,late,late_rate,total_delay_minutes,average_delay_minutes")
    );
    assert!(lines.any(|l| l.starts_with("row,district,district,1,") && l.contains(",3,1,")), "{csv}");
    // Nothing counted outside the period.
    let before =
        json_ok(app.get("/api/v1/stats/steps?from=2020-01-01&to=2020-02-01", Some(&auditor)).await, StatusCode::OK)
            .await;
    assert_eq!(before["steps"], json!([]));
}

/// Decree 118/2025/NĐ-CP: Móng Cái's desk receives a dossier for Hạ Long.
/// It belongs to Hạ Long — its process, queue and statistics —, the desk
/// keeps read access and shows on the dossier and its control slip.
async fn a_desk_receives_for_another_unit_of_the_province(b: Backend) {
    let app = TestApp::spawn(b).await;
    let desk = app.staff_token("mc.194@example.vn", &["clerk"], "194").await;
    let far = app.staff_token("cv.194@example.vn", &["specialist"], "194").await;
    let (specialist, auditor) = (app.token("specialist").await, app.token("auditor").await);
    let d = register(&app, &desk, HOUSEHOLD_BUSINESS, "193").await;
    assert_eq!((d["unit"]["code"].as_str(), d["receiving_desk"]["code"].as_str()), (Some("193"), Some("194")));
    assert_eq!(d["current_step"]["unit_id"], app.unit_id("193").await.as_str());
    let code = d["code"].as_str().unwrap().to_string();
    assert_eq!(queue(&app, &specialist).await, std::slice::from_ref(&code), "the competent unit's queue");
    assert!(queue(&app, &far).await.is_empty());
    assert_eq!(get(&app, &desk, &d).await["code"], code.as_str(), "the desk keeps read access");
    assert_problem(act(&app, &far, &d, json!({"action": "claim"})).await, StatusCode::FORBIDDEN, "forbidden").await;
    act_ok(&app, &specialist, &d, json!({"action": "claim"})).await;

    let slip_path = format!("/api/v1/dossiers/{}/control-slip", d["id"].as_str().unwrap());
    let slip = json_ok(app.get(&slip_path, Some(&desk)).await, StatusCode::OK).await;
    assert_eq!(slip["receiving_desk"]["code"], "194");
    let first = &slip["rows"][0];
    assert_eq!((first["step"].as_u64(), first["unit_code"].as_str()), (Some(1), Some("193")));
    let me: Value = app.get("/api/v1/me", Some(&desk)).await.json().await.unwrap();
    assert_eq!(first["handed_over_by"], me["full_name"], "handed over by the desk's clerk");

    // Counted for the competent unit.
    let received = |unit: String| {
        let (app, auditor) = (&app, auditor.clone());
        async move {
            let stats =
                json_ok(app.get(&format!("/api/v1/stats?unit={unit}"), Some(&auditor)).await, StatusCode::OK).await;
            stats["total"]["counts"]["received"].as_i64().unwrap()
        }
    };
    assert_eq!(received(app.unit_id("193").await).await, 1);
    assert_eq!(received(app.unit_id("194").await).await, 0);
    // Grouped by the desk that received it: Móng Cái's, within Hạ Long's figures.
    let path = format!("/api/v1/stats?unit={}&group_by=desk", app.unit_id("193").await);
    let by_desk = json_ok(app.get(&path, Some(&auditor)).await, StatusCode::OK).await;
    let rows: Vec<(&str, i64)> = by_desk["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["label"].as_str().unwrap(), r["counts"]["received"].as_i64().unwrap()))
        .collect();
    assert_eq!(rows, [("194 Thành phố Móng Cái", 1)]);
    app.assert_counts_kept().await;
}
