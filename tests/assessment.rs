//! The 18-point assessment of dossiers (docs/assessment.md) through HTTP on
//! both backends: computed when the result is issued, each index with its
//! reason, lowered by a substantiated complaint, with the applicant's own
//! answers once they rate, and averaged by `/stats` from the kept counts.

mod common;

use common::flow::*;
use common::{Backend, TestApp, assert_problem};
use diesel::prelude::*;
use motcua::db::schema::{dossier_facts, dossiers};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(a_dossier_is_assessed_when_its_result_is_issued, a_late_counter_dossier_scores_low,);

fn points(a: &Value) -> Vec<i64> {
    a["indices"].as_array().unwrap().iter().map(|i| i["points"].as_i64().unwrap()).collect()
}

async fn assessment(app: &TestApp, token: &str, dossier: &Value) -> reqwest::Response {
    app.get(&format!("/api/v1/dossiers/{}/assessment", dossier["id"].as_str().unwrap()), Some(token)).await
}

/// The average assessment of today's results at unit `code`: (points, dossiers).
async fn average(app: &TestApp, code: &str) -> (i64, i64) {
    let auditor = app.token("auditor").await;
    let today = motcua::dossiers::local(motcua::time::now()).date();
    let unit = app.unit_id(code).await;
    let path = format!("/api/v1/stats?unit={unit}&from={today}&to={}", today.succ_opt().unwrap());
    let f =
        json_ok(app.get(&path, Some(&auditor)).await, StatusCode::OK).await["total"]["figures"]["assessment_points"]
            .clone();
    (f["numerator"].as_i64().unwrap(), f["denominator"].as_i64().unwrap())
}

/// Processes received dossier `d` to its issued result.
async fn to_result(app: &TestApp, c: &Cast, d: &Value) {
    act_ok(app, &c.specialist, d, json!({"action": "claim"})).await;
    act_ok(app, &c.specialist, d, json!({"action": "submit_for_approval"})).await;
    act_ok(app, &c.approver, d, json!({"action": "approve"})).await;
}

async fn a_dossier_is_assessed_when_its_result_is_issued(b: Backend) {
    // The commune's one-stop unit decides its procedures itself (index 5).
    let app = TestApp::spawn_with(b, |s| s.assessment.units_deciding_at_desk = vec!["06691".into()]).await;
    let c = cast(&app).await;
    let d = file(&app, &c.citizen, BIRTH, "06691").await;
    act_ok(&app, &c.clerk, &d, json!({"action": "receive"})).await;
    assert_problem(assessment(&app, &c.citizen, &d).await, StatusCode::CONFLICT, "not_assessed").await;
    to_result(&app, &c, &d).await;

    let a = json_ok(assessment(&app, &c.citizen, &d).await, StatusCode::OK).await;
    assert_eq!(
        a["indices"].as_array().unwrap().iter().map(|i| i["index"].as_i64().unwrap()).collect::<Vec<_>>(),
        (1..=9).collect::<Vec<_>>()
    );
    // Index 2 reads how the process's steps finished against their
    // deadlines, which depends on the hour the test runs: as counted.
    let id = d["id"].as_str().unwrap().to_string();
    let steps: (i32, i32, i32) = app
        .db(move |c| {
            dossier_facts::table
                .find(&id)
                .select((dossier_facts::steps_early, dossier_facts::steps_on_time, dossier_facts::steps_late))
                .first(c)
        })
        .await;
    assert_eq!((steps.0 + steps.1 + steps.2, steps.2), (2, 0), "two steps done, none late: {steps:?}");
    let units_time = if steps.1 > 0 { 1 } else { 2 };
    // 1 early (a day to spare); 3 no supplement; 4 filed online but a paper
    // result; 5 listed; 6 national code; 7 early, no complaint; 8 no
    // complaint at the unit; 9 all its dossiers online, none late.
    assert_eq!(points(&a), [2, units_time, 2, 1, 2, 2, 2, 2, 2], "{a:#}");
    let total = 15 + units_time;
    assert_eq!(a["total"], total);
    assert_eq!(
        (a["max"].as_i64(), a["percent"].as_f64()),
        (Some(18), Some((total as f64 * 1000.0 / 18.0).round() / 10.0))
    );
    assert!(a["indices"][3]["reason"].as_str().unwrap().contains("one-stop desk"), "{a:#}");
    assert_eq!(a["citizen"], Value::Null);
    // Staff who see the dossier see its assessment.
    json_ok(assessment(&app, &c.clerk, &d).await, StatusCode::OK).await;
    assert_eq!(average(&app, "06691").await, (total, 1));

    // A substantiated complaint about it takes index 7, and the statistics follow.
    let k = json_ok(
        app.post(
            "/api/v1/complaints",
            Some(&c.citizen),
            json!({"dossier_id": d["id"], "subject": "Thái độ", "content": "Cán bộ gắt gỏng."}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let answer = json!({"answer": "Đã kiểm điểm cán bộ.", "substantiated": true});
    json_ok(
        app.post(&format!("/api/v1/complaints/{}/answer", k["id"].as_str().unwrap()), Some(&c.clerk), answer).await,
        StatusCode::OK,
    )
    .await;
    let after = json_ok(assessment(&app, &c.citizen, &d).await, StatusCode::OK).await;
    assert_eq!(points(&after)[6], 0);
    assert_eq!(after["total"], total - 2);
    assert_eq!(average(&app, "06691").await, (total - 2, 1));

    // The applicant's own answers join it once they rate.
    act_ok(&app, &c.clerk, &d, json!({"action": "return_result"})).await;
    let rating = json!({"reception": "very_satisfied", "processing_time": "satisfied", "staff_conduct": "dissatisfied", "result": "satisfied"});
    json_ok(
        app.post(&format!("/api/v1/dossiers/{}/rating", d["id"].as_str().unwrap()), Some(&c.citizen), rating).await,
        StatusCode::CREATED,
    )
    .await;
    let rated = json_ok(assessment(&app, &c.citizen, &d).await, StatusCode::OK).await;
    assert_eq!(rated["citizen"]["staff_conduct"], "dissatisfied");
    assert_eq!(rated["citizen"]["satisfied"], false);
    assert_eq!(rated["total"], total - 2, "the citizen's answers do not change the 18 points");
    app.assert_counts_kept().await;
}

async fn a_late_counter_dossier_scores_low(b: Backend) {
    // No unit's one-stop unit decides at the desk (index 5 scores 1).
    let app = TestApp::spawn_with(b, |s| s.assessment.units_deciding_at_desk = Vec::new()).await;
    let c = cast(&app).await;
    let d = register(&app, &c.clerk, HOUSEHOLD_BUSINESS, "193").await;
    // Its appointment date passed three days ago.
    let id = d["id"].as_str().unwrap().to_string();
    app.db(move |c| {
        let past = motcua::time::now() - chrono::Duration::days(3);
        diesel::update(dossiers::table.find(&id))
            .set((dossiers::due_at.eq(past), dossiers::original_due_at.eq(past)))
            .execute(c)
    })
    .await;
    // The move bypassed the write path: count the dossiers again from there.
    app.db(motcua::stats::daily::rebuild).await;
    to_result(&app, &c, &d).await;
    let a = json_ok(assessment(&app, &c.citizen, &d).await, StatusCode::OK).await;
    let p = points(&a);
    // 1 late; 3 no supplement; 4 at the counter; 5 not listed; 7 late;
    // 9 no dossier of Hạ Long received online this year.
    assert_eq!((p[0], p[2], p[3], p[4], p[6], p[8]), (0, 2, 1, 1, 0, 0), "{a:#}");
    assert!(a["indices"][0]["reason"].as_str().unwrap().contains("after the appointment date"));
    assert_eq!(a["total"], p.iter().sum::<i64>());
    // Another citizen's dossier is not theirs to see.
    assert_eq!(app.post("/api/v1/auth/register", None, common::citizen(1)).await.status(), StatusCode::ACCEPTED);
    let other =
        app.login("citizen1@example.vn", "mật khẩu an toàn").await["access_token"].as_str().unwrap().to_string();
    assert_problem(assessment(&app, &other, &d).await, StatusCode::NOT_FOUND, "not_found").await;
    app.assert_counts_kept().await;
}
