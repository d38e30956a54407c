//! Complaints and petitions (docs/complaints.md) through HTTP on both
//! backends: lodged by a citizen about a dossier or a unit, seen only by
//! them and by staff whose subtree answers it, answered once — whatever the
//! number of concurrent answers across two instances —, e-mailed to the
//! citizen, and counted by `/stats`; bad input refused and nothing stored.

mod common;

use chrono::{NaiveDateTime, NaiveTime};
use common::flow::*;
use common::smtp::SmtpSink;
use common::{Api, Backend, TestApp, assert_problem, citizen};
use diesel::prelude::*;
use motcua::db::schema::complaints;
use motcua::notify::worker::Delivery;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    a_complaint_is_answered_once_mailed_and_counted,
    complaints_are_seen_only_by_their_citizen_and_the_units_in_scope,
    bad_complaints_are_refused_and_change_nothing,
    an_account_holds_at_most_five_open_complaints_whatever_the_concurrency,
    one_idempotency_key_lodges_one_complaint,
    late_answers_and_overdue_complaints_are_counted,
);

async fn lodge(app: &Api, token: &str, body: Value) -> Value {
    json_ok(app.post("/api/v1/complaints", Some(token), body).await, StatusCode::CREATED).await
}

fn about_unit(unit_id: &str, subject: &str) -> Value {
    json!({"unit_id": unit_id, "subject": subject, "content": "Nội dung phản ánh.\nDòng thứ hai."})
}

/// `/stats` of unit `unit` for today, as the demo auditor (province).
async fn complaint_figures(app: &TestApp, unit: &str) -> Value {
    let auditor = app.token("auditor").await;
    let today = motcua::dossiers::local(motcua::time::now()).date();
    let path = format!("/api/v1/stats?unit={unit}&from={today}&to={}", today.succ_opt().unwrap());
    json_ok(app.get(&path, Some(&auditor)).await, StatusCode::OK).await["complaints"].clone()
}

fn stored(v: &Value, field: &str) -> NaiveDateTime {
    ts(&v[field]).naive_utc()
}

async fn a_complaint_is_answered_once_mailed_and_counted(b: Backend) {
    let (app, sink): (TestApp, SmtpSink) = TestApp::with_mail(b, |_| {}).await;
    let twin = app.twin().await;
    let c = cast(&app).await;
    let dossier = file(&app, &c.citizen, HOUSEHOLD_BUSINESS, "193").await;
    let ha_long = app.unit_id("193").await;

    let lodged = lodge(
        &app,
        &c.citizen,
        json!({"dossier_id": dossier["id"], "subject": "Chậm hẹn trả kết quả",
               "content": "Hồ sơ đã quá hẹn.\r\nĐề nghị xem xét."}),
    )
    .await;
    assert_eq!(lodged["state"], "open");
    assert_eq!(lodged["unit_id"], ha_long.as_str(), "the dossier's receiving unit answers");
    assert_eq!(lodged["content"], "Hồ sơ đã quá hẹn.\nĐề nghị xem xét.", "line breaks kept, as \\n");
    assert_eq!(lodged["overdue"], false);
    // Due at the end of the 15th working day after the day it was lodged.
    let (at, due) = (stored(&lodged, "lodged_at"), stored(&lodged, "due_at"));
    let (at_local, due_local) = (motcua::dossiers::local(at), motcua::dossiers::local(due));
    assert_eq!(due_local.time(), NaiveTime::from_hms_opt(17, 0, 0).unwrap());
    let calendar = app.db(move |c| motcua::dossiers::calendar_from(c, at)).await;
    let start = calendar.start_day(at_local, 24);
    assert_eq!(calendar.working_days_between(start, due_local.date()), 15, "{start} → {due_local}");
    let id = lodged["id"].as_str().unwrap().to_string();

    // The unit's queue holds it.
    let queue = json_ok(app.get("/api/v1/complaints?state=open", Some(&c.clerk)).await, StatusCode::OK).await;
    assert_eq!(queue["items"].as_array().unwrap().iter().map(|k| &k["id"]).collect::<Vec<_>>(), [&lodged["id"]]);

    // Twenty answers at once, through two instances: one is final.
    let answers = (0..20).map(|i| {
        let (api, token) =
            if i % 2 == 0 { (app.api.clone(), c.clerk.clone()) } else { (twin.clone(), c.approver.clone()) };
        let path = format!("/api/v1/complaints/{id}/answer");
        let body = json!({"answer": format!("Trả lời số {i}: đơn vị đã chấn chỉnh."), "substantiated": true});
        async move { api.post(&path, Some(&token), body).await }
    });
    let mut ok = Vec::new();
    for res in futures_util::future::join_all(answers).await {
        match res.status() {
            StatusCode::OK => ok.push(res.json::<Value>().await.unwrap()),
            _ => {
                assert_problem(res, StatusCode::CONFLICT, "complaint_answered").await;
            }
        }
    }
    assert_eq!(ok.len(), 1, "exactly one answer wins");
    let answered = &ok[0];
    assert_eq!(answered["state"], "answered");
    assert_eq!(answered["substantiated"], true);
    assert_eq!(answered["answered_on_time"], true);
    let answer = answered["answer"].as_str().unwrap().to_string();

    // What is stored is the winner's answer.
    let row: (String, Option<String>, Option<bool>) = app
        .db(move |c| {
            complaints::table
                .find(&id)
                .select((complaints::state, complaints::answer, complaints::answered_on_time))
                .first(c)
        })
        .await;
    assert_eq!(row, ("answered".to_string(), Some(answer.clone()), Some(true)));

    // The citizen reads the answer, and is e-mailed it once.
    let seen = json_ok(
        app.get(&format!("/api/v1/complaints/{}", lodged["id"].as_str().unwrap()), Some(&c.citizen)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(seen["answer"], answer.as_str());
    // Who answered is the unit's business: staff see it, the citizen does not.
    assert!(answered["answered_by"].is_string(), "{answered}");
    assert!(seen["answered_by"].is_null(), "{seen}");
    let listed = json_ok(app.get("/api/v1/complaints", Some(&c.citizen)).await, StatusCode::OK).await;
    assert!(listed["items"][0]["answered_by"].is_null(), "{listed}");
    assert_eq!(app.deliver().await.sent, 1);
    let mails = sink.mails_to("citizen@motcua.local");
    assert_eq!(mails.len(), 1, "one answer, one mail");
    assert_eq!(mails[0].subject, "Trả lời phản ánh, kiến nghị: Chậm hẹn trả kết quả");
    assert!(mails[0].text.contains(&answer), "{}", mails[0].text);
    assert!(mails[0].text.contains(dossier["code"].as_str().unwrap()));
    assert!(mails[0].text.contains("là có cơ sở"), "{}", mails[0].text);

    let figures = complaint_figures(&app, &ha_long).await;
    assert_eq!(figures["lodged"], 1);
    assert_eq!(figures["answered_on_time"], json!({"numerator": 1, "denominator": 1, "value": 1.0}));
    assert_eq!(figures["on_time"], figures["answered_on_time"]);
    assert_eq!(figures["substantiated"], json!({"numerator": 1, "denominator": 1, "value": 1.0}));
    assert_eq!((figures["open"].as_i64(), figures["open_overdue"].as_i64()), (Some(0), Some(0)));
    assert_eq!(app.deliver().await, Delivery::default(), "nothing more to send");
}

async fn complaints_are_seen_only_by_their_citizen_and_the_units_in_scope(b: Backend) {
    let app = TestApp::spawn(b).await;
    let c = cast(&app).await;
    let mong_cai = app.unit_id("194").await;
    let about_mong_cai = lodge(&app, &c.citizen, about_unit(&mong_cai, "Thái độ cán bộ")).await;
    assert_eq!(about_mong_cai["dossier_id"], Value::Null);
    let path = format!("/api/v1/complaints/{}", about_mong_cai["id"].as_str().unwrap());

    // Another citizen and Hạ Long's staff do not see it; Móng Cái's do.
    assert_eq!(app.post("/api/v1/auth/register", None, citizen(1)).await.status(), StatusCode::ACCEPTED);
    let other =
        app.login("citizen1@example.vn", "mật khẩu an toàn").await["access_token"].as_str().unwrap().to_string();
    let mong_cai_clerk = app.staff_token("clerk.mongcai@example.vn", &["clerk"], "194").await;
    for token in [&other, &c.clerk] {
        assert_problem(app.get(&path, Some(token)).await, StatusCode::NOT_FOUND, "not_found").await;
        let list = json_ok(app.get("/api/v1/complaints", Some(token)).await, StatusCode::OK).await;
        assert_eq!(list["items"], json!([]));
    }
    let answer = json!({"answer": "Đã xem xét.", "substantiated": false});
    let res = app.post(&format!("{path}/answer"), Some(&c.clerk), answer.clone()).await;
    assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;
    json_ok(app.get(&path, Some(&mong_cai_clerk)).await, StatusCode::OK).await;
    // The province's auditor sees it but does not answer.
    let auditor = app.token("auditor").await;
    json_ok(app.get(&path, Some(&auditor)).await, StatusCode::OK).await;
    assert_problem(
        app.post(&format!("{path}/answer"), Some(&auditor), answer.clone()).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let answered =
        json_ok(app.post(&format!("{path}/answer"), Some(&mong_cai_clerk), answer).await, StatusCode::OK).await;
    assert_eq!(answered["substantiated"], false);

    // A citizen lists only their own; `dossier_id` filters.
    let dossier = file(&app, &c.citizen, BIRTH, "06691").await;
    lodge(&app, &c.citizen, json!({"dossier_id": dossier["id"], "subject": "Hỏi", "content": "Khi nào có kết quả?"}))
        .await;
    let mine = json_ok(app.get("/api/v1/complaints", Some(&c.citizen)).await, StatusCode::OK).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 2);
    let path = format!("/api/v1/complaints?dossier_id={}", dossier["id"].as_str().unwrap());
    let of_dossier = json_ok(app.get(&path, Some(&c.citizen)).await, StatusCode::OK).await;
    assert_eq!(of_dossier["items"].as_array().unwrap().len(), 1);
    // Staff page through their queue with a cursor.
    let first = json_ok(app.get("/api/v1/complaints?limit=1", Some(&auditor)).await, StatusCode::OK).await;
    let cursor = first["next_cursor"].as_str().expect("a second page").to_string();
    let second =
        json_ok(app.get(&format!("/api/v1/complaints?limit=1&cursor={cursor}"), Some(&auditor)).await, StatusCode::OK)
            .await;
    assert_ne!(first["items"][0]["id"], second["items"][0]["id"]);
}

async fn bad_complaints_are_refused_and_change_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let c = cast(&app).await;
    let ha_long = app.unit_id("193").await;
    assert_eq!(app.post("/api/v1/auth/register", None, citizen(1)).await.status(), StatusCode::ACCEPTED);
    let other =
        app.login("citizen1@example.vn", "mật khẩu an toàn").await["access_token"].as_str().unwrap().to_string();
    let theirs = file(&app, &other, BIRTH, "06691").await;
    let cases = [
        (
            json!({"unit_id": ha_long, "subject": "x", "content": "y", "extra": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (json!({"subject": "x", "content": "y"}), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        (
            json!({"unit_id": ha_long, "dossier_id": theirs["id"], "subject": "x", "content": "y"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"unit_id": ha_long, "subject": "  ", "content": "y"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"unit_id": ha_long, "subject": "a\u{0}b", "content": "y"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"unit_id": ha_long, "subject": "x", "content": "y\u{7}"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"unit_id": ha_long, "subject": "x".repeat(201), "content": "y"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"unit_id": ha_long, "subject": "x", "content": "y".repeat(4001)}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"unit_id": "no-such-unit", "subject": "x", "content": "y"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (json!({"dossier_id": theirs["id"], "subject": "x", "content": "y"}), StatusCode::NOT_FOUND, "not_found"),
        (json!({"dossier_id": "no-such-dossier", "subject": "x", "content": "y"}), StatusCode::NOT_FOUND, "not_found"),
    ];
    for (body, status, code) in cases {
        let res = app.post("/api/v1/complaints", Some(&c.citizen), body.clone()).await;
        assert_eq!(res.status(), status, "{body}");
        assert_problem(res, status, code).await;
    }
    // Staff do not lodge; nobody lodges without signing in.
    let body = about_unit(&ha_long, "x");
    assert_problem(
        app.post("/api/v1/complaints", Some(&c.clerk), body.clone()).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        app.post("/api/v1/complaints", None, body.clone()).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    // Bad answers and queries.
    let k = lodge(&app, &c.citizen, body).await;
    let path = format!("/api/v1/complaints/{}/answer", k["id"].as_str().unwrap());
    for bad in [
        json!({"answer": "", "substantiated": true}),
        json!({"answer": "x"}),
        json!({"answer": "x", "substantiated": "yes"}),
    ] {
        let res = app.post(&path, Some(&c.clerk), bad.clone()).await;
        assert!(matches!(res.status(), StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY), "{bad}");
    }
    assert_problem(
        app.post(&path, Some(&c.citizen), json!({"answer": "x", "substantiated": true})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let res = app
        .post(
            "/api/v1/complaints/no-such-complaint/answer",
            Some(&c.clerk),
            json!({"answer": "x", "substantiated": true}),
        )
        .await;
    assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(
        app.get("/api/v1/complaints?state=closed", Some(&c.clerk)).await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;

    // Only the one good complaint is stored, still open.
    let stored: Vec<(String, String)> =
        app.db(|c| complaints::table.select((complaints::subject, complaints::state)).load(c)).await;
    assert_eq!(stored, [("x".to_string(), "open".to_string())]);
}

async fn an_account_holds_at_most_five_open_complaints_whatever_the_concurrency(b: Backend) {
    let app = TestApp::spawn(b).await;
    let twin = app.twin().await;
    let c = cast(&app).await;
    let ha_long = app.unit_id("193").await;
    let tries = (0..20).map(|i| {
        let api = if i % 2 == 0 { app.api.clone() } else { twin.clone() };
        let (token, body) = (c.citizen.clone(), about_unit(&ha_long, &format!("Phản ánh {i}")));
        async move { api.post("/api/v1/complaints", Some(&token), body).await }
    });
    let mut created = 0;
    for res in futures_util::future::join_all(tries).await {
        if res.status() == StatusCode::CREATED {
            created += 1;
        } else {
            assert_problem(res, StatusCode::CONFLICT, "too_many_open_complaints").await;
        }
    }
    assert_eq!(created, 5);
    let open: i64 = app.db(|c| complaints::table.count().get_result(c)).await;
    assert_eq!(open, 5);

    // An answer makes room for one more.
    let queue = json_ok(app.get("/api/v1/complaints?state=open&limit=1", Some(&c.clerk)).await, StatusCode::OK).await;
    let path = format!("/api/v1/complaints/{}/answer", queue["items"][0]["id"].as_str().unwrap());
    json_ok(
        app.post(&path, Some(&c.clerk), json!({"answer": "Đã xử lý.", "substantiated": false})).await,
        StatusCode::OK,
    )
    .await;
    lodge(&app, &c.citizen, about_unit(&ha_long, "Thêm")).await;
    let res = app.post("/api/v1/complaints", Some(&c.citizen), about_unit(&ha_long, "Nữa")).await;
    assert_problem(res, StatusCode::CONFLICT, "too_many_open_complaints").await;
}

/// Twenty lodgings with one Idempotency-Key, through two instances: one
/// complaint, the same one answered to all; the key with another request
/// is refused, a bad key too, and nothing more is stored.
async fn one_idempotency_key_lodges_one_complaint(b: Backend) {
    let app = TestApp::spawn(b).await;
    let twin = app.twin().await;
    let c = cast(&app).await;
    let ha_long = app.unit_id("193").await;
    let send = |api: Api, key: &'static str, body: Value| {
        let token = c.citizen.clone();
        async move {
            api.client
                .post(api.url("/api/v1/complaints"))
                .bearer_auth(&token)
                .header("idempotency-key", key)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let tries = (0..20).map(|i| {
        let api = if i % 2 == 0 { app.api.clone() } else { twin.clone() };
        send(api, "lodge-1", about_unit(&ha_long, "Chậm trả kết quả"))
    });
    let mut ids = Vec::new();
    for res in futures_util::future::join_all(tries).await {
        ids.push(json_ok(res, StatusCode::CREATED).await["id"].as_str().unwrap().to_string());
    }
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let res = send(app.api.clone(), "lodge-1", about_unit(&ha_long, "Một phản ánh khác")).await;
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused").await;
    let res = send(app.api.clone(), "", about_unit(&ha_long, "Khoá rỗng")).await;
    assert_problem(res, StatusCode::BAD_REQUEST, "invalid_header").await;
    let stored: i64 = app.db(|c| complaints::table.count().get_result(c)).await;
    assert_eq!(stored, 1);
}

async fn late_answers_and_overdue_complaints_are_counted(b: Backend) {
    let app = TestApp::spawn(b).await;
    let c = cast(&app).await;
    let commune = app.unit_id("06691").await;
    let ids: Vec<String> = {
        let mut ids = Vec::new();
        for subject in ["Một", "Hai", "Ba"] {
            ids.push(lodge(&app, &c.citizen, about_unit(&commune, subject)).await["id"].as_str().unwrap().to_string());
        }
        ids
    };
    // The first two were due three days ago; the third is due later.
    let late = ids[..2].to_vec();
    app.db(move |c| {
        let past = motcua::time::now() - chrono::Duration::days(3);
        diesel::update(complaints::table.filter(complaints::id.eq_any(&late)))
            .set(complaints::due_at.eq(past))
            .execute(c)
    })
    .await;
    let overdue = json_ok(app.get("/api/v1/complaints?overdue=true", Some(&c.clerk)).await, StatusCode::OK).await;
    let mut listed: Vec<&str> =
        overdue["items"].as_array().unwrap().iter().map(|k| k["id"].as_str().unwrap()).collect();
    listed.sort();
    assert_eq!(listed, [ids[0].as_str(), ids[1].as_str()]);
    assert!(overdue["items"].as_array().unwrap().iter().all(|k| k["overdue"] == true));
    let not = json_ok(app.get("/api/v1/complaints?overdue=false", Some(&c.clerk)).await, StatusCode::OK).await;
    assert_eq!(
        not["items"].as_array().unwrap().iter().map(|k| k["id"].as_str().unwrap()).collect::<Vec<_>>(),
        [ids[2].as_str()]
    );

    // Answered late, by date.
    let path = format!("/api/v1/complaints/{}/answer", ids[0]);
    let answered = json_ok(
        app.post(&path, Some(&c.clerk), json!({"answer": "Muộn.", "substantiated": true})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!((answered["answered_on_time"].as_bool(), answered["overdue"].as_bool()), (Some(false), Some(false)));

    let figures = complaint_figures(&app, &commune).await;
    assert_eq!(figures["lodged"], 3);
    assert_eq!(figures["answered_on_time"], json!({"numerator": 0, "denominator": 1, "value": 0.0}));
    assert_eq!(figures["substantiated"], json!({"numerator": 1, "denominator": 1, "value": 1.0}));
    assert_eq!((figures["open"].as_i64(), figures["open_overdue"].as_i64()), (Some(2), Some(1)));
    // Handled within time, as the portal counts: the open one not yet due,
    // of the answered one and the two open.
    assert_eq!(figures["on_time"], json!({"numerator": 1, "denominator": 3, "value": 1.0 / 3.0}));
    // The province's figure holds the commune's.
    let province = app.unit_id("22").await;
    assert_eq!(complaint_figures(&app, &province).await["lodged"], 3);
}
