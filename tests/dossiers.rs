//! Dossiers end to end: filing, the state machine, events, deadlines,
//! transfers, concurrency control, documents and visibility.

mod common;

use chrono::Timelike;
use common::flow::*;
use common::{Backend, TestApp, assert_problem};
use diesel::prelude::*;
use motcua::db::schema::dossiers;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    online_happy_path_with_its_events,
    counter_registration_reaches_the_citizen,
    supplements_at_intake_and_during_processing,
    rejection_withdrawal_and_stop,
    transfers_keep_code_history_and_clock,
    return_for_rework_and_reassignment,
    apology_of_an_overdue_dossier,
    concurrent_filings_get_consecutive_codes,
    concurrent_claims_never_share_a_dossier,
    idempotent_filing,
    stale_if_match_and_illegal_actions_change_nothing,
    visibility_and_public_lookup,
    documents_and_digitization,
    oversized_uploads_are_refused,
    queues_wait_for_each_role,
    due_date_before_tet_is_hand_computed,
    filing_is_validated,
);

async fn online_happy_path_with_its_events(b: Backend) {
    let app = TestApp::spawn(b).await;
    let Cast { citizen, clerk, specialist, approver } = cast(&app).await;

    let d = file(&app, &citizen, BIRTH, "06691").await;
    assert_eq!(d["status"], "submitted");
    assert_eq!(d["national_status"], 1);
    assert_eq!(d["channel"], "online");
    let today = motcua::domain::calendar::to_local(chrono::Utc::now()).format("%y%m%d").to_string();
    assert_eq!(d["code"], format!("06691-{today}-0001"));
    assert_eq!(d["applicant"]["name"], "Nguyễn Văn An");
    assert_eq!(d["applicant"]["national_id"], "022095001234");
    assert_eq!(d["form"]["ho_ten_tre"], "Nguyễn Văn Bé");
    assert_eq!(d["allowed_actions"], json!(["withdraw"]));
    assert!(d["due_at"].is_null());
    let procedure: Value = app.get(&format!("/api/v1/procedures/{BIRTH}"), None).await.json().await.unwrap();
    let names = |v: &Value| -> Vec<Value> { v.as_array().unwrap().iter().map(|c| c["name"].clone()).collect() };
    assert_eq!(names(&d["components"]), names(&procedure["components"]));
    assert_eq!(d["digitized"], false);

    let received = act_ok(&app, &clerk, &d, json!({"action": "receive"})).await;
    assert_eq!(received["status"], "received");
    assert_eq!(received["national_status"], 2);
    assert!(ts(&received["due_at"]) > ts(&received["received_at"]));
    assert_eq!(received["due_at"], received["original_due_at"]);
    assert_eq!(received["allowed_actions"], json!(["assign", "transfer"]));

    let claimed = json_ok(app.post("/api/v1/queue/claim", Some(&specialist), json!({})).await, StatusCode::OK).await;
    assert_eq!(claimed["id"], d["id"]);
    assert_eq!(claimed["status"], "in_progress");
    assert_eq!(claimed["national_status"], 4);
    let me: Value = app.get("/api/v1/me", Some(&specialist)).await.json().await.unwrap();
    assert_eq!(claimed["assignee_id"], me["id"]);
    assert_eq!(
        claimed["allowed_actions"],
        json!(["request_supplement", "release", "transfer", "submit_for_approval", "forward"])
    );

    act_ok(&app, &specialist, &d, json!({"action": "submit_for_approval", "note": "Hồ sơ hợp lệ"})).await;
    let approved = act_ok(&app, &approver, &d, json!({"action": "approve"})).await;
    assert_eq!(approved["status"], "result_ready");
    assert_eq!(approved["national_status"], 9);
    assert!(approved["result_at"].is_string());
    let returned = act_ok(&app, &clerk, &d, json!({"action": "return_result"})).await;
    assert_eq!(returned["status"], "returned");
    assert_eq!(returned["national_status"], 10);
    assert_eq!(returned["allowed_actions"], json!([]));
    assert!(returned["finished_at"].is_string());

    let slip = events(&app, &citizen, &d).await;
    assert_eq!(
        steps(&slip),
        [
            s("submit", "-", "submitted"),
            s("receive", "submitted", "received"),
            s("claim", "received", "in_progress"),
            s("submit_for_approval", "in_progress", "pending_approval"),
            s("approve", "pending_approval", "result_ready"),
            s("return_result", "result_ready", "returned"),
        ]
    );
    let roles: Vec<&str> = slip.iter().map(|e| e["actor_role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["citizen", "clerk", "specialist", "specialist", "approver", "clerk"]);
    assert_eq!(slip[1]["actor_name"], "Demo clerk");
    assert_eq!(slip[3]["summary"], "Hồ sơ hợp lệ");
    assert!(slip.iter().all(|e| e["unit_code"] == "06691"));
    app.assert_counts_kept().await;
}

async fn counter_registration_reaches_the_citizen(b: Backend) {
    let app = TestApp::spawn(b).await;
    let Cast { citizen, clerk, specialist, approver } = cast(&app).await;
    let d = register(&app, &clerk, HOUSEHOLD_BUSINESS, "193").await;
    assert_eq!(d["status"], "received");
    assert_eq!(d["channel"], "counter");
    assert!(d["due_at"].is_string());
    assert_eq!(d["fee_vnd"], 100000);
    assert_eq!(d["applicant"]["address"], "Tổ 5, phường Hồng Gai");

    // The citizen with that national ID follows it online.
    let mine: Value = app.get("/api/v1/dossiers", Some(&citizen)).await.json().await.unwrap();
    assert_eq!(mine["items"][0]["code"], d["code"]);

    let specialist_id = app.get("/api/v1/me", Some(&specialist)).await.json::<Value>().await.unwrap()["id"].clone();
    let assigned = act_ok(&app, &clerk, &d, json!({"action": "assign", "assignee_id": specialist_id})).await;
    assert_eq!(assigned["status"], "in_progress");
    assert_eq!(assigned["assignee_id"], specialist_id);
    act_ok(&app, &specialist, &d, json!({"action": "submit_for_approval"})).await;
    act_ok(&app, &approver, &d, json!({"action": "approve"})).await;
    let paid = app
        .post(
            &format!("/api/v1/dossiers/{}/payments", d["id"].as_str().unwrap()),
            Some(&clerk),
            json!({"channel": "counter"}),
        )
        .await;
    json_ok(paid, StatusCode::CREATED).await;
    act_ok(&app, &clerk, &d, json!({"action": "return_result"})).await;
    assert_eq!(
        steps(&events(&app, &clerk, &d).await),
        [
            s("register", "-", "received"),
            s("assign", "received", "in_progress"),
            s("submit_for_approval", "in_progress", "pending_approval"),
            s("approve", "pending_approval", "result_ready"),
            s("payment", "result_ready", "result_ready"),
            s("return_result", "result_ready", "returned"),
        ]
    );

    // Only clerks register, only at their units; citizens file online only.
    let unit = app.unit_id("193").await;
    let body = json!({"procedure_code": HOUSEHOLD_BUSINESS, "unit_id": unit, "channel": "postal",
                      "applicant": {"kind": "citizen", "name": "X", "national_id": "022095001234"}});
    assert_problem(
        app.post("/api/v1/dossiers", Some(&citizen), body.clone()).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // Any desk of the province receives for its other units (Decree
    // 118/2025/NĐ-CP); not for another province's.
    let mong_cai = app.unit_id("194").await;
    let mut elsewhere = body.clone();
    elsewhere["unit_id"] = json!(mong_cai);
    let routed = json_ok(app.post("/api/v1/dossiers", Some(&clerk), elsewhere).await, StatusCode::CREATED).await;
    assert_eq!(
        (routed["unit"]["code"].as_str(), routed["receiving_desk"]["code"].as_str()),
        (Some("194"), Some("193"))
    );
    let ba_dinh = app
        .db(|c| {
            use motcua::domain::units::Level;
            let fail = |_| diesel::result::Error::RollbackTransaction;
            let hanoi = motcua::units::create(c, "01", "Thành phố Hà Nội", Level::Province, None).map_err(fail)?;
            let district = motcua::units::create(c, "001", "Quận Ba Đình", Level::District, Some(&hanoi));
            Ok(district.map_err(fail)?.id)
        })
        .await;
    let mut other_province = body.clone();
    other_province["unit_id"] = json!(ba_dinh);
    let p = assert_problem(
        app.post("/api/v1/dossiers", Some(&clerk), other_province).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "unit_id");
    let online = json!({"procedure_code": HOUSEHOLD_BUSINESS, "unit_id": unit});
    assert_problem(app.post("/api/v1/dossiers", Some(&clerk), online).await, StatusCode::FORBIDDEN, "forbidden").await;
    let postal = json_ok(app.post("/api/v1/dossiers", Some(&clerk), body).await, StatusCode::CREATED).await;
    assert_eq!(postal["channel"], "postal");
    assert_eq!(postal["code"].as_str().unwrap()[..4], *"193-");
    app.assert_counts_kept().await;
}

async fn supplements_at_intake_and_during_processing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (citizen, clerk, specialist) =
        (app.token("citizen").await, app.token("clerk").await, app.token("specialist").await);
    let d = file(&app, &citizen, CONSTRUCTION, "193").await;
    assert_eq!(d["national_status"], 6, "a fee is due");
    let paid = app
        .post(
            &format!("/api/v1/dossiers/{}/payments", d["id"].as_str().unwrap()),
            Some(&clerk),
            json!({"channel": "counter"}),
        )
        .await;
    json_ok(paid, StatusCode::CREATED).await;

    let missing = json!({"action": "request_supplement", "reason": "Thiếu bản vẽ", "items": ["Bản vẽ mặt bằng"]});
    let asked = act_ok(&app, &clerk, &d, missing.clone()).await;
    assert_eq!(asked["status"], "supplement_requested");
    assert_eq!(asked["national_status"], 5);
    assert_eq!(asked["allowed_actions"], json!(["reject"]), "the clerk waits, or rejects");
    assert_eq!(get(&app, &citizen, &d).await["allowed_actions"], json!(["supplement", "withdraw"]));
    let back = act_ok(&app, &citizen, &d, json!({"action": "supplement", "note": "Đã bổ sung"})).await;
    assert_eq!(back["status"], "submitted");
    act_ok(&app, &clerk, &d, json!({"action": "receive"})).await;
    let started = act_ok(&app, &specialist, &d, json!({"action": "claim"})).await;
    let due_before = ts(&started["due_at"]);

    let paused = act_ok(&app, &specialist, &d, missing).await;
    assert_eq!(paused["status"], "awaiting_applicant");
    assert_eq!(paused["supplement_requests"], 2);
    assert_eq!(paused["repeated_supplement_request"], true, "a second request is flagged");
    assert_eq!(paused["overdue"], false);

    // The applicant took a week: the clock was paused that long.
    let id = d["id"].as_str().unwrap().to_string();
    let week_ago = motcua::time::now() - chrono::Duration::days(7);
    app.db(move |c| diesel::update(dossiers::table.find(id)).set(dossiers::paused_at.eq(week_ago)).execute(c)).await;
    let resumed = act_ok(&app, &citizen, &d, json!({"action": "supplement"})).await;
    assert_eq!(resumed["status"], "in_progress");
    let holidays: Value = app.get("/api/v1/holidays?from=2025-01-01&to=2030-01-01", None).await.json().await.unwrap();
    let days = |kind: &str| -> Vec<chrono::NaiveDate> {
        holidays["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["kind"] == kind)
            .map(|h| h["date"].as_str().unwrap().parse().unwrap())
            .collect()
    };
    let calendar = motcua::domain::calendar::Calendar::new(days("holiday"), days("working_day"));
    let local = |t: chrono::NaiveDateTime| motcua::domain::calendar::to_local(t.and_utc());
    let paused_days = calendar.working_days_between(local(week_ago).date(), local(motcua::time::now()).date());
    assert!((4..=6).contains(&paused_days), "{paused_days}");
    let due_after = ts(&resumed["due_at"]);
    let expected = calendar.add_working_days(motcua::domain::calendar::to_local(due_before).date(), paused_days);
    assert_eq!(motcua::domain::calendar::to_local(due_after).date(), expected);
    assert_eq!(resumed["original_due_at"], resumed["due_at"], "pauses move both dates");

    assert_eq!(
        steps(&events(&app, &specialist, &d).await),
        [
            s("submit", "-", "submitted"),
            s("payment", "submitted", "submitted"),
            s("request_supplement", "submitted", "supplement_requested"),
            s("supplement", "supplement_requested", "submitted"),
            s("receive", "submitted", "received"),
            s("claim", "received", "in_progress"),
            s("request_supplement", "in_progress", "awaiting_applicant"),
            s("supplement", "awaiting_applicant", "in_progress"),
        ]
    );
    // A supplement request names what is missing.
    let res = act(&app, &specialist, &d, json!({"action": "request_supplement", "reason": "Thiếu", "items": []})).await;
    let p = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(p["errors"][0]["field"], "items");
    app.assert_counts_kept().await;
}

async fn rejection_withdrawal_and_stop(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (citizen, clerk, approver) =
        (app.token("citizen").await, app.token("clerk").await, app.token("approver").await);

    let rejected = file(&app, &citizen, BIRTH, "06691").await;
    let res = act(&app, &clerk, &rejected, json!({"action": "reject"})).await;
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let res = act(&app, &clerk, &rejected, json!({"action": "reject", "reason": "   "})).await;
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let r = act_ok(&app, &clerk, &rejected, json!({"action": "reject", "reason": "Không thuộc thẩm quyền"})).await;
    assert_eq!((r["status"].as_str(), r["national_status"].as_u64()), (Some("rejected"), Some(3)));
    assert_eq!(events(&app, &citizen, &rejected).await[1]["summary"], "Không thuộc thẩm quyền");

    let withdrawn = file(&app, &citizen, BIRTH, "06691").await;
    act_ok(&app, &clerk, &withdrawn, json!({"action": "receive"})).await;
    let w = act_ok(&app, &citizen, &withdrawn, json!({"action": "withdraw", "reason": "Nộp nhầm"})).await;
    assert_eq!((w["status"].as_str(), w["national_status"].as_u64()), (Some("withdrawn"), Some(7)));
    assert_eq!(w["allowed_actions"], json!([]));

    let stopped = register(&app, &clerk, HOUSEHOLD_BUSINESS, "193").await;
    let st = act_ok(&app, &approver, &stopped, json!({"action": "stop", "reason": "Người nộp đã qua đời"})).await;
    assert_eq!((st["status"].as_str(), st["national_status"].as_u64()), (Some("stopped"), Some(8)));
    // Terminal: nothing more.
    let res = act(&app, &citizen, &stopped, json!({"action": "withdraw", "reason": "x"})).await;
    let p = assert_problem(res, StatusCode::CONFLICT, "illegal_action").await;
    assert_eq!(p["allowed_actions"], json!([]));
    app.assert_counts_kept().await;
}

async fn transfers_keep_code_history_and_clock(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (citizen, clerk) = (app.token("citizen").await, app.token("clerk").await);
    let province_clerk = app.staff_token("clerk.tinh@quangninh.gov.vn", &["clerk"], "22").await;
    let d = file(&app, &citizen, BIRTH, "06691").await;
    let received = act_ok(&app, &clerk, &d, json!({"action": "receive"})).await;

    let district = app.unit_id("193").await;
    let province = app.unit_id("22").await;
    let res = act(&app, &clerk, &d, json!({"action": "transfer", "target_unit_id": district})).await;
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let res = act(&app, &clerk, &d, json!({"action": "transfer", "target_unit_id": "nowhere", "reason": "x"})).await;
    let p = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(p["errors"][0]["field"], "target_unit_id");

    let up = act_ok(
        &app,
        &clerk,
        &d,
        json!({"action": "transfer", "target_unit_id": district, "reason": "Liên thông lên huyện"}),
    )
    .await;
    assert_eq!(up["unit"]["code"], "193");
    assert_eq!(up["status"], "received");
    assert_eq!(up["code"], d["code"]);
    assert_eq!(up["due_at"], received["due_at"], "the clock goes on");
    let onward = act_ok(
        &app,
        &clerk,
        &d,
        json!({"action": "transfer", "target_unit_id": province, "reason": "Liên thông lên tỉnh"}),
    )
    .await;
    assert_eq!(onward["unit"]["code"], "22");
    // The district keeps read access but no longer acts.
    assert_eq!(onward["allowed_actions"], json!([]));
    let res = act(&app, &clerk, &d, json!({"action": "transfer", "target_unit_id": district, "reason": "x"})).await;
    assert_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    let list: Value = app.get("/api/v1/dossiers", Some(&clerk)).await.json().await.unwrap();
    assert_eq!(list["items"][0]["unit_code"], "22");

    // The province's desk has it, with its whole history.
    let queue: Value = app.get("/api/v1/queue", Some(&province_clerk)).await.json().await.unwrap();
    assert_eq!(queue["items"].as_array().unwrap().len(), 0, "received dossiers wait for specialists, not clerks");
    let at_province = get(&app, &province_clerk, &d).await;
    assert_eq!(at_province["allowed_actions"], json!(["assign", "transfer"]));
    let slip = events(&app, &province_clerk, &d).await;
    assert_eq!(steps(&slip)[2..], [s("transfer", "received", "received"), s("transfer", "received", "received")]);
    let units: Vec<&str> = slip.iter().map(|e| e["unit_code"].as_str().unwrap()).collect();
    assert_eq!(units, ["06691", "06691", "06691", "193"]);
    assert_eq!(slip[3]["summary"], "Liên thông lên tỉnh");
    // Another district never saw it.
    let mong_cai = app.staff_token("clerk.mongcai@quangninh.gov.vn", &["clerk"], "194").await;
    let path = format!("/api/v1/dossiers/{}", d["id"].as_str().unwrap());
    assert_problem(app.get(&path, Some(&mong_cai)).await, StatusCode::NOT_FOUND, "not_found").await;
    app.assert_counts_kept().await;
}

async fn return_for_rework_and_reassignment(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (clerk, specialist, approver) =
        (app.token("clerk").await, app.token("specialist").await, app.token("approver").await);
    let other = app.staff_token("cv2@quangninh.gov.vn", &["specialist"], "193").await;
    let other_id = app.get("/api/v1/me", Some(&other)).await.json::<Value>().await.unwrap()["id"].clone();
    let d = register(&app, &clerk, HOUSEHOLD_BUSINESS, "193").await;
    act_ok(&app, &specialist, &d, json!({"action": "claim"})).await;
    act_ok(&app, &specialist, &d, json!({"action": "submit_for_approval"})).await;
    let res = act(&app, &approver, &d, json!({"action": "return_for_rework"})).await;
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let back = act_ok(&app, &approver, &d, json!({"action": "return_for_rework", "reason": "Sai tên hộ"})).await;
    assert_eq!(back["status"], "in_progress");

    // The clerk hands it to someone else; the first specialist may no longer act.
    let moved = act_ok(&app, &clerk, &d, json!({"action": "assign", "assignee_id": other_id})).await;
    assert_eq!(moved["assignee_id"], other_id);
    let res = act(&app, &specialist, &d, json!({"action": "submit_for_approval"})).await;
    assert_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    // Assignees must be specialists of the dossier's unit subtree.
    let clerk_id = app.get("/api/v1/me", Some(&clerk)).await.json::<Value>().await.unwrap()["id"].clone();
    let res = act(&app, &clerk, &d, json!({"action": "assign", "assignee_id": clerk_id})).await;
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let far = app.staff_token("cv.mongcai@quangninh.gov.vn", &["specialist"], "194").await;
    let far_id = app.get("/api/v1/me", Some(&far)).await.json::<Value>().await.unwrap()["id"].clone();
    let res = act(&app, &clerk, &d, json!({"action": "assign", "assignee_id": far_id})).await;
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    // Released, it is back in the shared queue.
    let released = act_ok(&app, &other, &d, json!({"action": "release", "reason": "Nghỉ phép"})).await;
    assert_eq!(released["status"], "received");
    assert!(released["assignee_id"].is_null());
    act_ok(&app, &other, &d, json!({"action": "claim"})).await;
    act_ok(&app, &other, &d, json!({"action": "submit_for_approval"})).await;
    act_ok(&app, &approver, &d, json!({"action": "approve"})).await;
    assert_eq!(
        steps(&events(&app, &clerk, &d).await)[1..],
        [
            s("claim", "received", "in_progress"),
            s("submit_for_approval", "in_progress", "pending_approval"),
            s("return_for_rework", "pending_approval", "in_progress"),
            s("assign", "in_progress", "in_progress"),
            s("release", "in_progress", "received"),
            s("claim", "received", "in_progress"),
            s("submit_for_approval", "in_progress", "pending_approval"),
            s("approve", "pending_approval", "result_ready"),
        ]
    );
}

async fn apology_of_an_overdue_dossier(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (citizen, clerk, specialist) =
        (app.token("citizen").await, app.token("clerk").await, app.token("specialist").await);
    let d = register(&app, &clerk, HOUSEHOLD_BUSINESS, "193").await;
    let new_date = (chrono::Utc::now() + chrono::Duration::days(10)).to_rfc3339();
    let apology = json!({"action": "apologize", "reason": "Chờ xác minh", "new_due_at": new_date});
    let p = assert_problem(act(&app, &clerk, &d, apology.clone()).await, StatusCode::CONFLICT, "illegal_action").await;
    assert_eq!(p["allowed_actions"], json!(["assign", "transfer"]));

    // Time passes: the appointment date is behind us.
    let id = d["id"].as_str().unwrap().to_string();
    let late = motcua::time::now() - chrono::Duration::days(2);
    app.db(move |c| {
        diesel::update(dossiers::table.find(id))
            .set((dossiers::due_at.eq(late), dossiers::original_due_at.eq(late), dossiers::queue_at.eq(late)))
            .execute(c)
    })
    .await;
    let overdue = act_ok(&app, &specialist, &d, json!({"action": "claim"})).await;
    assert_eq!(overdue["overdue"], true);
    assert!(overdue["allowed_actions"].as_array().unwrap().contains(&json!("apologize")));
    let list: Value = app.get("/api/v1/dossiers?overdue=true", Some(&clerk)).await.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    let past = json!({"action": "apologize", "reason": "x", "new_due_at": "2020-01-01T00:00:00Z"});
    let p =
        assert_problem(act(&app, &clerk, &d, past).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(p["errors"][0]["field"], "new_due_at");
    let sorry = act_ok(&app, &clerk, &d, apology).await;
    assert_eq!(sorry["status"], "in_progress", "an apology keeps the status");
    let wanted = new_date.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    assert_eq!(ts(&sorry["due_at"]), wanted.with_nanosecond(0).unwrap(), "to the second");
    assert_eq!(ts(&sorry["original_due_at"]), late.and_utc(), "the original date is kept");
    assert_eq!(sorry["overdue"], false);
    let slip = events(&app, &citizen, &d).await;
    let last = slip.last().unwrap();
    assert_eq!((last["action"].as_str(), last["actor_role"].as_str()), (Some("apologize"), Some("clerk")));
    assert!(last["summary"].as_str().unwrap().starts_with("Chờ xác minh — new date "));
    assert_eq!(last["payload"]["reason"], "Chờ xác minh");
}

async fn concurrent_filings_get_consecutive_codes(b: Backend) {
    let app = TestApp::spawn(b).await;
    let citizen = app.token("citizen").await;
    let unit = app.unit_id("06691").await;
    let body = json!({"procedure_code": BIRTH, "unit_id": unit});
    let requests = (0..50).map(|_| app.post("/api/v1/dossiers", Some(&citizen), body.clone()));
    let responses = futures_util::future::join_all(requests).await;
    let mut seqs = Vec::new();
    for res in responses {
        let d = json_ok(res, StatusCode::CREATED).await;
        let code = d["code"].as_str().unwrap();
        assert!(code.starts_with("06691-"), "{code}");
        seqs.push(code.rsplit('-').next().unwrap().parse::<u32>().unwrap());
    }
    seqs.sort();
    assert_eq!(seqs, (1..=50).collect::<Vec<_>>());
}

async fn concurrent_claims_never_share_a_dossier(b: Backend) {
    let app = TestApp::spawn(b).await;
    let clerk = app.token("clerk").await;
    for _ in 0..10 {
        register(&app, &clerk, HOUSEHOLD_BUSINESS, "193").await;
    }
    let mut tokens = Vec::new();
    for i in 0..20 {
        tokens.push(app.staff_token(&format!("cv{i}@quangninh.gov.vn"), &["specialist"], "193").await);
    }
    let claims = tokens.iter().map(|t| app.post("/api/v1/queue/claim", Some(t), json!({})));
    let responses = futures_util::future::join_all(claims).await;
    let (mut ids, mut empty) = (Vec::new(), 0);
    for res in responses {
        match res.status() {
            StatusCode::OK => ids.push(res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string()),
            StatusCode::NO_CONTENT => empty += 1,
            other => panic!("unexpected {other}: {}", res.text().await.unwrap()),
        }
    }
    ids.sort();
    ids.dedup();
    assert_eq!((ids.len(), empty), (10, 10));
    app.assert_counts_kept().await;
}

async fn idempotent_filing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let citizen = app.token("citizen").await;
    let unit = app.unit_id("06691").await;
    let body = json!({"procedure_code": BIRTH, "unit_id": unit, "form": {"a": 1}});
    let post = |body: Value, key: &str| {
        app.client
            .post(app.url("/api/v1/dossiers"))
            .bearer_auth(&citizen)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let first = json_ok(post(body.clone(), "k-1").await.unwrap(), StatusCode::CREATED).await;
    let again = json_ok(post(body.clone(), "k-1").await.unwrap(), StatusCode::CREATED).await;
    assert_eq!(first["id"], again["id"]);
    assert_eq!(first["code"], again["code"]);
    let mut other = body.clone();
    other["form"] = json!({"a": 2});
    assert_problem(post(other, "k-1").await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused").await;
    // Keys are per account: another citizen's same key is another dossier.
    app.post("/api/v1/auth/register", None, common::citizen(9)).await;
    let other_citizen =
        app.login("citizen9@example.vn", "mật khẩu an toàn").await["access_token"].as_str().unwrap().to_string();
    let theirs = app
        .client
        .post(app.url("/api/v1/dossiers"))
        .bearer_auth(&other_citizen)
        .header("Idempotency-Key", "k-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    let theirs = json_ok(theirs, StatusCode::CREATED).await;
    assert_ne!(theirs["id"], first["id"]);
    let list: Value = app.get("/api/v1/dossiers", Some(&citizen)).await.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    // Concurrent retries with one key still make one dossier.
    let retries = (0..5).map(|_| post(json!({"procedure_code": BIRTH, "unit_id": unit}), "k-2"));
    let mut ids = Vec::new();
    for res in futures_util::future::join_all(retries).await {
        ids.push(json_ok(res.unwrap(), StatusCode::CREATED).await["id"].clone());
    }
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
}

async fn stale_if_match_and_illegal_actions_change_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (citizen, clerk) = (app.token("citizen").await, app.token("clerk").await);
    let d = file(&app, &citizen, BIRTH, "06691").await;
    let path = format!("/api/v1/dossiers/{}", d["id"].as_str().unwrap());
    let res = app.get(&path, Some(&clerk)).await;
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(etag, "\"1\"");

    let with = |tag: &str| {
        app.client
            .post(app.url(&format!("{path}/actions")))
            .bearer_auth(&clerk)
            .header("If-Match", tag)
            .json(&json!({"action": "receive"}))
            .send()
    };
    assert_problem(with("\"7\"").await.unwrap(), StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
    assert_eq!(get(&app, &clerk, &d).await["status"], "submitted");
    // The bare version is taken as well as the quoted ETag.
    let ok = with("1").await.unwrap();
    assert_eq!(ok.headers()["etag"].to_str().unwrap(), "\"2\"");
    assert_eq!(ok.json::<Value>().await.unwrap()["status"], "received");
    // The same tag again is stale now, and the refusal says what is current.
    let stale =
        assert_problem(with(&etag).await.unwrap(), StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
    assert!(stale["detail"].as_str().unwrap().contains("version 2 (ETag \"2\")"), "{stale}");

    let p = assert_problem(
        act(&app, &clerk, &d, json!({"action": "approve"})).await,
        StatusCode::CONFLICT,
        "illegal_action",
    )
    .await;
    assert_eq!(p["allowed_actions"], json!(["assign", "transfer"]));
    assert!(p["detail"].as_str().unwrap().contains("received"));
    let res = act(&app, &citizen, &d, json!({"action": "assign", "assignee_id": "x"})).await;
    assert_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    assert_problem(
        act(&app, &clerk, &d, json!({"action": "fly"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let res = act(&app, &clerk, &d, json!({"action": "receive", "colour": "red"})).await;
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let after = get(&app, &clerk, &d).await;
    assert_eq!((after["status"].as_str(), after["version"].as_i64()), (Some("received"), Some(2)));
    assert_eq!(events(&app, &clerk, &d).await.len(), 2);
}

async fn visibility_and_public_lookup(b: Backend) {
    let app = TestApp::spawn(b).await;
    let citizen = app.token("citizen").await;
    let d = file(&app, &citizen, BIRTH, "06691").await;
    let path = format!("/api/v1/dossiers/{}", d["id"].as_str().unwrap());

    app.post("/api/v1/auth/register", None, common::citizen(3)).await;
    let stranger =
        app.login("citizen3@example.vn", "mật khẩu an toàn").await["access_token"].as_str().unwrap().to_string();
    assert_problem(app.get(&path, Some(&stranger)).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(app.get(&format!("{path}/events"), Some(&stranger)).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(
        act(&app, &stranger, &d, json!({"action": "withdraw", "reason": "x"})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let theirs: Value = app.get("/api/v1/dossiers", Some(&stranger)).await.json().await.unwrap();
    assert_eq!(theirs["items"], json!([]));
    let mong_cai = app.staff_token("clerk.mongcai@quangninh.gov.vn", &["clerk"], "194").await;
    assert_problem(app.get(&path, Some(&mong_cai)).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(app.get("/api/v1/dossiers/not-an-id", Some(&citizen)).await, StatusCode::NOT_FOUND, "not_found")
        .await;
    let auditor = app.token("auditor").await;
    assert_eq!(get(&app, &auditor, &d).await["allowed_actions"], json!([]), "auditors read only");

    // Search by code or applicant name, with or without diacritics.
    let clerk = app.token("clerk").await;
    for q in ["nguyen%20van%20an", "Nguy%E1%BB%85n", d["code"].as_str().unwrap()] {
        let found: Value = app.get(&format!("/api/v1/dossiers?q={q}"), Some(&clerk)).await.json().await.unwrap();
        assert_eq!(found["items"].as_array().unwrap().len(), 1, "{q}");
    }
    let none: Value = app.get("/api/v1/dossiers?q=tran%20thi", Some(&clerk)).await.json().await.unwrap();
    assert_eq!(none["items"], json!([]));
    let filtered: Value = app
        .get(&format!("/api/v1/dossiers?status=submitted&procedure={BIRTH}&channel=online"), Some(&clerk))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(filtered["items"].as_array().unwrap().len(), 1);
    let filtered: Value = app.get("/api/v1/dossiers?status=received", Some(&clerk)).await.json().await.unwrap();
    assert_eq!(filtered["items"], json!([]));
    let today = motcua::domain::calendar::to_local(chrono::Utc::now()).date();
    let range = format!("/api/v1/dossiers?from={today}&to={}", today.succ_opt().unwrap());
    assert_eq!(
        app.get(&range, Some(&clerk)).await.json::<Value>().await.unwrap()["items"].as_array().unwrap().len(),
        1
    );
    let range = format!("/api/v1/dossiers?to={today}");
    assert_eq!(app.get(&range, Some(&clerk)).await.json::<Value>().await.unwrap()["items"], json!([]));

    let code = d["code"].as_str().unwrap();
    let res = app.get(&format!("/api/v1/lookup?code={code}&national_id=022095001234"), None).await;
    let found = json_ok(res, StatusCode::OK).await;
    assert_eq!(found, json!({"code": code, "status": "submitted", "national_status": 1, "due_at": null}));
    for bad in [
        format!("code={code}&national_id=022196000003"),
        "code=06691-260101-0001&national_id=022095001234".to_string(),
        "code=junk&national_id=1".to_string(),
    ] {
        assert_problem(app.get(&format!("/api/v1/lookup?{bad}"), None).await, StatusCode::NOT_FOUND, "not_found").await;
    }
    assert_problem(app.get("/api/v1/lookup?code=x", None).await, StatusCode::BAD_REQUEST, "invalid_query").await;
}

async fn documents_and_digitization(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (citizen, clerk) = (app.token("citizen").await, app.token("clerk").await);
    let d = file(&app, &citizen, BIRTH, "06691").await;

    let res = upload(&app, &citizen, &d, 0, b"just some text".to_vec(), "to-khai.pdf", None).await;
    assert_problem(res, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_file_type").await;
    let res = upload(&app, &citizen, &d, 0, pdf(), "../../etc/to-khai.pdf", Some("scanned")).await;
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(get(&app, &citizen, &d).await["version"], 1, "refused uploads change nothing");

    let after =
        json_ok(upload(&app, &citizen, &d, 0, pdf(), "../../etc/to-khai.pdf", None).await, StatusCode::CREATED).await;
    let c0 = &after["components"][0];
    assert_eq!(c0["digitization"], "electronic_original");
    let f = &c0["files"][0];
    assert_eq!(f["file_name"], "to-khai.pdf");
    assert_eq!(f["content_type"], "application/pdf");
    assert_eq!(f["size_bytes"], pdf().len());
    assert_eq!(f["sha256"], motcua::storage::sha256_hex(&pdf()));
    assert_eq!(after["digitized"], false, "one mandatory component left");

    // Stored on disk, content-addressed, and downloadable by who may see it.
    let sha = f["sha256"].as_str().unwrap();
    let stored = app.state.settings.files.dir.join(&sha[..2]).join(&sha[2..4]).join(sha);
    assert_eq!(std::fs::read(stored).unwrap(), pdf());
    let dl = format!("/api/v1/dossiers/{}/files/{}", d["id"].as_str().unwrap(), f["id"].as_str().unwrap());
    let res = app.get(&dl, Some(&clerk)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    assert!(res.headers()["content-disposition"].to_str().unwrap().contains("to-khai.pdf"));
    assert_eq!(res.bytes().await.unwrap().to_vec(), pdf());
    let mong_cai = app.staff_token("clerk.mongcai@quangninh.gov.vn", &["clerk"], "194").await;
    assert_problem(app.get(&dl, Some(&mong_cai)).await, StatusCode::NOT_FOUND, "not_found").await;

    // The clerk digitizes the paper ones at reception.
    act_ok(&app, &clerk, &d, json!({"action": "receive"})).await;
    let res = upload(&app, &citizen, &d, 1, pdf(), "x.pdf", None).await;
    assert_problem(res, StatusCode::CONFLICT, "dossier_locked").await;
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let certifiable = d["components"].as_array().unwrap().iter().position(|c| c["e_copy_accepted"] == true);
    let plain =
        d["components"].as_array().unwrap().iter().position(|c| c["e_copy_accepted"] == false && c["position"] != 0);
    if let Some(i) = certifiable {
        let body = json_ok(
            upload(&app, &clerk, &d, i, png.clone(), "cccd.png", Some("e_copy_certified")).await,
            StatusCode::CREATED,
        )
        .await;
        assert_eq!(body["components"][i]["digitization"], "e_copy_certified");
    }
    if let Some(i) = plain {
        let res = upload(&app, &clerk, &d, i, png.clone(), "giay-chung-sinh.png", Some("e_copy_certified")).await;
        let p = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(p["errors"][0]["field"], "digitization");
    }
    let jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F'];
    let done = json_ok(upload(&app, &clerk, &d, 2, jpeg, "scan.jpg", None).await, StatusCode::CREATED).await;
    assert_eq!(done["components"][2]["digitization"], "scanned");
    let mandatory_digitized = done["components"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["mandatory"] == false || c["digitization"] != "not_digitized");
    assert_eq!(done["digitized"], mandatory_digitized);
    let uploads: Vec<Value> =
        events(&app, &citizen, &d).await.into_iter().filter(|e| e["action"] == "upload").collect();
    assert!(uploads.len() >= 2);
    assert_eq!(uploads[0]["actor_role"], "citizen");
    assert_eq!(uploads[1]["actor_role"], "clerk");

    // Not multipart, or an unknown component.
    let cid = d["components"][0]["id"].as_str().unwrap();
    let path = format!("/api/v1/dossiers/{}/components/{cid}/files", d["id"].as_str().unwrap());
    let res = app.post(&path, Some(&clerk), json!({"file": "x"})).await;
    assert_problem(res, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
    let wrong = format!("/api/v1/dossiers/{}/components/nope/files", d["id"].as_str().unwrap());
    let form = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(pdf()).file_name("a.pdf"));
    let res = app.client.post(app.url(&wrong)).bearer_auth(&clerk).multipart(form).send().await.unwrap();
    assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;
}

async fn oversized_uploads_are_refused(b: Backend) {
    let app = TestApp::spawn_with(b, |s| s.files.max_bytes = 1024).await;
    let citizen = app.token("citizen").await;
    let d = file(&app, &citizen, BIRTH, "06691").await;
    let mut big = pdf();
    big.resize(4096, b' ');
    let res = upload(&app, &citizen, &d, 0, big, "big.pdf", None).await;
    assert_problem(res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let after = get(&app, &citizen, &d).await;
    assert_eq!(after["components"][0]["files"], json!([]));
    assert_eq!(after["version"], 1);
    json_ok(upload(&app, &citizen, &d, 0, pdf(), "small.pdf", None).await, StatusCode::CREATED).await;
}

async fn queues_wait_for_each_role(b: Backend) {
    let app = TestApp::spawn(b).await;
    let Cast { citizen, clerk, specialist, approver } = cast(&app).await;
    let construction = register(&app, &clerk, CONSTRUCTION, "193").await; // due in 15 working days
    let business = register(&app, &clerk, HOUSEHOLD_BUSINESS, "193").await; // due in 3
    let online = file(&app, &citizen, BIRTH, "06691").await;
    let codes = |page: &Value| -> Vec<String> {
        page["items"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap().to_string()).collect()
    };

    let q: Value = app.get("/api/v1/queue", Some(&specialist)).await.json().await.unwrap();
    assert_eq!(
        codes(&q),
        [business["code"].as_str().unwrap(), construction["code"].as_str().unwrap()],
        "earliest due first"
    );
    let q: Value = app.get("/api/v1/queue", Some(&clerk)).await.json().await.unwrap();
    assert_eq!(codes(&q), [online["code"].as_str().unwrap()], "clerks: to receive");
    let q: Value = app.get("/api/v1/queue", Some(&approver)).await.json().await.unwrap();
    assert_eq!(q["items"], json!([]));

    act_ok(&app, &specialist, &construction, json!({"action": "claim"})).await;
    let other = app.staff_token("cv2@quangninh.gov.vn", &["specialist"], "193").await;
    let q: Value = app.get("/api/v1/queue", Some(&other)).await.json().await.unwrap();
    assert_eq!(codes(&q), [business["code"].as_str().unwrap()], "others' work is not in my queue");
    let q: Value = app.get("/api/v1/queue?status=in_progress", Some(&specialist)).await.json().await.unwrap();
    assert_eq!(codes(&q), [construction["code"].as_str().unwrap()]);
    let q: Value = app
        .get(&format!("/api/v1/queue?procedure={HOUSEHOLD_BUSINESS}"), Some(&specialist))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(codes(&q), [business["code"].as_str().unwrap()]);
    let q: Value = app.get("/api/v1/queue?overdue=true", Some(&specialist)).await.json().await.unwrap();
    assert_eq!(q["items"], json!([]));
    let page: Value = app.get("/api/v1/queue?limit=1", Some(&specialist)).await.json().await.unwrap();
    assert_eq!(codes(&page).len(), 1);
    let next = page["next_cursor"].as_str().unwrap();
    let rest: Value =
        app.get(&format!("/api/v1/queue?limit=1&cursor={next}"), Some(&specialist)).await.json().await.unwrap();
    assert_eq!(codes(&rest), [construction["code"].as_str().unwrap()]);
    assert!(rest["next_cursor"].is_null());

    act_ok(&app, &specialist, &construction, json!({"action": "submit_for_approval"})).await;
    let q: Value = app.get("/api/v1/queue", Some(&approver)).await.json().await.unwrap();
    assert_eq!(codes(&q), [construction["code"].as_str().unwrap()]);
    assert_problem(app.get("/api/v1/queue", Some(&citizen)).await, StatusCode::FORBIDDEN, "forbidden").await;
    assert_problem(
        app.post("/api/v1/queue/claim", Some(&citizen), json!({})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // No step of these processes is a clerk's: nothing to claim.
    assert_eq!(app.post("/api/v1/queue/claim", Some(&clerk), json!({})).await.status(), StatusCode::NO_CONTENT);
    // Mong Cai's specialists see nothing of Ha Long's.
    let far = app.staff_token("cv.mongcai@quangninh.gov.vn", &["specialist"], "194").await;
    assert_eq!(app.post("/api/v1/queue/claim", Some(&far), json!({})).await.status(), StatusCode::NO_CONTENT);
}

async fn due_date_before_tet_is_hand_computed(b: Backend) {
    let app = TestApp::spawn(b).await;
    // Friday 13 February 2026, 16:30 in Hạ Long, after the 16:00 cut-off of
    // the 15-working-day construction permit. Tết Bính Ngọ closes offices
    // 16–20 February (and the weekends around it), so the clock starts on
    // Monday 23 February; 15 working days later is Monday 16 March, 17:00.
    let received = chrono::NaiveDate::from_ymd_opt(2026, 2, 13).unwrap().and_hms_opt(9, 30, 0).unwrap(); // 16:30 local
    let due = app
        .state
        .db
        .run(move |conn| {
            let p = motcua::procedures::find_by_code(conn, CONSTRUCTION)?.unwrap().spec;
            let terms = motcua::domain::dossier::Terms::new(p.processing_days, p.cutoff_hour, 17);
            let calendar = motcua::dossiers::calendar_from(conn, received)?;
            Ok(motcua::domain::dossier::due_date(&terms, received, &calendar))
        })
        .await
        .unwrap();
    assert_eq!(due, chrono::NaiveDate::from_ymd_opt(2026, 3, 16).unwrap().and_hms_opt(10, 0, 0).unwrap()); // 17:00 local
}

async fn filing_is_validated(b: Backend) {
    let app = TestApp::spawn(b).await;
    let citizen = app.token("citizen").await;
    let commune = app.unit_id("06691").await;
    let district = app.unit_id("193").await;
    let post = |body: Value| app.post("/api/v1/dossiers", Some(&citizen), body);

    let p = assert_problem(
        post(json!({"procedure_code": "9.999", "unit_id": commune})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "procedure_code");
    let p = assert_problem(
        post(json!({"procedure_code": BIRTH, "unit_id": district})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "unit_id");
    assert!(p["errors"][0]["message"].as_str().unwrap().contains("district"));
    assert_problem(
        post(json!({"procedure_code": BIRTH, "unit_id": commune, "form": []})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let business = json!({"procedure_code": BIRTH, "unit_id": commune, "applicant": {"kind": "business", "name": ""}});
    let p = assert_problem(post(business).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(p["errors"][0]["field"], "applicant.name");
    let rep = json!({"procedure_code": BIRTH, "unit_id": commune,
                     "applicant": {"kind": "representative", "name": "Lê Thị Cúc", "national_id": "022196000003", "phone": "0987000111"}});
    let d = json_ok(post(rep).await, StatusCode::CREATED).await;
    assert_eq!(d["applicant"]["kind"], "representative");
    assert_eq!(d["applicant"]["name"], "Lê Thị Cúc");
    let staff = app.token("auditor").await;
    let res = app.post("/api/v1/dossiers", Some(&staff), json!({"procedure_code": BIRTH, "unit_id": commune})).await;
    assert_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    assert_problem(app.post("/api/v1/dossiers", None, json!({})).await, StatusCode::UNAUTHORIZED, "unauthenticated")
        .await;
    let mine: Value = app.get("/api/v1/dossiers", Some(&citizen)).await.json().await.unwrap();
    assert_eq!(mine["items"].as_array().unwrap().len(), 1, "refused filings left nothing");
}
