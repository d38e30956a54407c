//! Internal processes of procedures (docs/processes.md): the demo catalogue's
//! processes, new versions saved by the province's administrator and
//! validated, the version a dossier is pinned to, and the default a
//! procedure without one gets.

mod common;

use common::flow::*;
use common::{Backend, TestApp, assert_problem};
use diesel::prelude::*;
use motcua::db::schema::dossier_events;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    demo_procedures_have_realistic_processes,
    administrators_save_validated_versions,
    dossiers_keep_the_version_they_were_received_under,
    a_procedure_without_a_process_gets_the_default_once,
    the_control_slip_names_the_late_step,
    who_did_an_earlier_step_does_not_sign,
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
    assert_eq!(slip["process"], d["process"]);
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
