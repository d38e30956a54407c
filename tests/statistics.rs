//! Ratings, statistics on a hand-built data set, the scorecard, exports.

mod common;

use common::flow::*;
use common::{Backend, TestApp, assert_problem};
use diesel::prelude::*;
use motcua::db::schema::{dossiers, ratings};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    a_rating_flow,
    statistics_match_hand_computed_figures,
    statistics_are_scoped_and_validated,
    exports_open_in_spreadsheets,
    the_portals_counting_rules_agree_everywhere,
);

fn rating(satisfied: bool) -> Value {
    let v = if satisfied { "very_satisfied" } else { "dissatisfied" };
    json!({"reception": "satisfied", "processing_time": v, "staff_conduct": "very_satisfied", "result": "satisfied",
           "comment": "Cán bộ nhiệt tình"})
}

fn rate_path(d: &Value) -> String {
    format!("/api/v1/dossiers/{}/rating", d["id"].as_str().unwrap())
}

/// Approves `d` (received) through claim, submission and approval.
async fn finish(app: &TestApp, d: &Value) -> Value {
    let (specialist, approver) = (app.token("specialist").await, app.token("approver").await);
    act_ok(app, &specialist, d, json!({"action": "claim"})).await;
    act_ok(app, &specialist, d, json!({"action": "submit_for_approval"})).await;
    act_ok(app, &approver, d, json!({"action": "approve"})).await
}

async fn db_set_due_in_past(app: &TestApp, d: &Value) {
    db_set_due(app, d, motcua::time::now() - chrono::Duration::days(3)).await;
}

/// Moves `d`'s appointment date to `due`, as the service edits dossiers:
/// with their daily counts.
async fn db_set_due(app: &TestApp, d: &Value, due: chrono::NaiveDateTime) {
    let id = d["id"].as_str().unwrap().to_string();
    app.db(move |c| {
        let before = motcua::stats::daily::facts(c, &id)?;
        diesel::update(dossiers::table.find(&id))
            .set((dossiers::due_at.eq(due), dossiers::original_due_at.eq(due), dossiers::queue_at.eq(due)))
            .execute(c)?;
        let after = motcua::stats::daily::facts(c, &id)?;
        motcua::stats::daily::moved(c, before.as_ref(), after.as_ref())
    })
    .await;
}

async fn a_rating_flow(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (citizen, clerk) = (app.token("citizen").await, app.token("clerk").await);
    let d = file(&app, &citizen, BIRTH, "06691").await;
    assert_problem(app.post(&rate_path(&d), Some(&citizen), rating(true)).await, StatusCode::CONFLICT, "not_rateable")
        .await;
    act_ok(&app, &clerk, &d, json!({"action": "reject", "reason": "Sai thẩm quyền"})).await;

    assert_problem(app.post(&rate_path(&d), Some(&clerk), rating(true)).await, StatusCode::FORBIDDEN, "forbidden")
        .await;
    let mut bad = rating(true);
    bad["result"] = json!("meh");
    assert_problem(
        app.post(&rate_path(&d), Some(&citizen), bad).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    let first = json_ok(app.post(&rate_path(&d), Some(&citizen), rating(false)).await, StatusCode::CREATED).await;
    assert_eq!((first["satisfied"].as_bool(), first["flagged"].as_bool()), (Some(false), Some(true)));
    assert_eq!(first["dossier_code"], d["code"]);
    // Changeable within the window: still one rating.
    let changed = json_ok(app.post(&rate_path(&d), Some(&citizen), rating(true)).await, StatusCode::OK).await;
    assert_eq!((changed["satisfied"].as_bool(), changed["flagged"].as_bool()), (Some(true), Some(false)));
    assert_eq!(changed["rated_at"], first["rated_at"]);

    // Staff of the unit list them; flagged ones filter out.
    let list: Value = app.get("/api/v1/ratings", Some(&clerk)).await.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let flagged: Value = app.get("/api/v1/ratings?flagged=true", Some(&clerk)).await.json().await.unwrap();
    assert_eq!(flagged["items"], json!([]));
    let mong_cai = app.staff_token("clerk.mongcai@quangninh.gov.vn", &["clerk"], "194").await;
    let theirs: Value = app.get("/api/v1/ratings", Some(&mong_cai)).await.json().await.unwrap();
    assert_eq!(theirs["items"], json!([]));
    assert_problem(app.get("/api/v1/ratings", Some(&citizen)).await, StatusCode::FORBIDDEN, "forbidden").await;

    // Eight days later it is final.
    let id = d["id"].as_str().unwrap().to_string();
    let long_ago = motcua::time::now() - chrono::Duration::days(8);
    app.db(move |c| diesel::update(ratings::table.find(id)).set(ratings::rated_at.eq(long_ago)).execute(c)).await;
    assert_problem(
        app.post(&rate_path(&d), Some(&citizen), rating(false)).await,
        StatusCode::CONFLICT,
        "rating_locked",
    )
    .await;
    let list: Value = app.get("/api/v1/ratings", Some(&clerk)).await.json().await.unwrap();
    assert_eq!(list["items"][0]["satisfied"], true, "unchanged");
}

/// The figure `name` of a statistics row as (numerator, denominator).
fn nd(row: &Value, name: &str) -> (i64, i64) {
    let f = &row["figures"][name];
    (f["numerator"].as_i64().unwrap(), f["denominator"].as_i64().unwrap())
}

/// The Decision's five-group scorecard (config/scorecard-five-groups.toml).
fn five_groups() -> motcua::domain::scorecard::ScorecardConfig {
    #[derive(serde::Deserialize)]
    struct File {
        scorecard: motcua::domain::scorecard::ScorecardConfig,
    }
    toml::from_str::<File>(include_str!("../config/scorecard-five-groups.toml")).unwrap().scorecard
}

async fn statistics_match_hand_computed_figures(b: Backend) {
    // Scored by the five-group formula, whose indicators this data set fills.
    let app = TestApp::spawn_with(b, |s| s.scorecard = five_groups()).await;
    let (citizen, clerk) = (app.token("citizen").await, app.token("clerk").await);
    let mong_cai_clerk = app.staff_token("clerk.mongcai@quangninh.gov.vn", &["clerk"], "194").await;

    // 1. Hồng Gai (commune 06691): online birth registration, digitized,
    //    received, result issued electronically on time, returned, rated satisfied.
    let d1 = file(&app, &citizen, BIRTH, "06691").await;
    for (i, c) in d1["components"].as_array().unwrap().iter().enumerate() {
        if c["mandatory"] == true {
            json_ok(upload(&app, &citizen, &d1, i, pdf(), "giay-to.pdf", None).await, StatusCode::CREATED).await;
        }
    }
    act_ok(&app, &clerk, &d1, json!({"action": "receive"})).await;
    let specialist = app.token("specialist").await;
    act_ok(&app, &specialist, &d1, json!({"action": "claim"})).await;
    let draft =
        reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(pdf()).file_name("kq.pdf"));
    let res = app
        .client
        .post(app.url(&format!("/api/v1/dossiers/{}/result", d1["id"].as_str().unwrap())))
        .bearer_auth(&specialist)
        .multipart(draft)
        .send()
        .await
        .unwrap();
    json_ok(res, StatusCode::CREATED).await;
    act_ok(&app, &specialist, &d1, json!({"action": "submit_for_approval"})).await;
    act_ok(&app, &app.token("approver").await, &d1, json!({"action": "approve"})).await;
    act_ok(&app, &clerk, &d1, json!({"action": "return_result"})).await;
    json_ok(app.post(&rate_path(&d1), Some(&citizen), rating(true)).await, StatusCode::CREATED).await;

    // 2. Hồng Gai: online birth, received, in progress, on time.
    let d2 = file(&app, &citizen, BIRTH, "06691").await;
    act_ok(&app, &clerk, &d2, json!({"action": "receive"})).await;

    // 3. Hạ Long (district 193): counter household business (fee), paid
    //    online, paper result issued late.
    let d3 = register(&app, &clerk, HOUSEHOLD_BUSINESS, "193").await;
    let pay = json_ok(
        app.post(
            &format!("/api/v1/dossiers/{}/payments", d3["id"].as_str().unwrap()),
            Some(&citizen),
            json!({"channel": "online", "provider": "demo"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let report = json!({"payment_id": pay["id"], "dossier_code": d3["code"], "provider_ref": "T-1", "amount_vnd": 100000, "status": "paid"});
    let raw = serde_json::to_vec(&report).unwrap();
    let res = app
        .client
        .post(app.url("/api/v1/payments/callback/demo"))
        .header("x-signature", motcua::payments::sign("insecure-demo-provider-secret", &raw))
        .body(raw)
        .send()
        .await
        .unwrap();
    json_ok(res, StatusCode::OK).await;
    db_set_due_in_past(&app, &d3).await;
    finish(&app, &d3).await;

    // 4. Hạ Long: counter construction permit (fee paid at the counter),
    //    overdue at the period's end, apologized.
    let d4 = register(&app, &clerk, CONSTRUCTION, "193").await;
    json_ok(
        app.post(
            &format!("/api/v1/dossiers/{}/payments", d4["id"].as_str().unwrap()),
            Some(&clerk),
            json!({"channel": "counter"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    db_set_due_in_past(&app, &d4).await;
    let new_due = (chrono::Utc::now() + chrono::Duration::days(5)).to_rfc3339();
    act_ok(&app, &clerk, &d4, json!({"action": "apologize", "reason": "Chờ ý kiến thẩm định", "new_due_at": new_due}))
        .await;

    // 5. Hạ Long: postal household business reusing a document of the
    //    repository; fee unpaid; in progress on time.
    let docs: Value = app.get("/api/v1/me/documents", Some(&citizen)).await.json().await.unwrap();
    let doc = docs["items"].as_array().unwrap().iter().find(|d| d["source"] == "component").unwrap().clone();
    let unit = app.unit_id("193").await;
    let body = json!({"procedure_code": HOUSEHOLD_BUSINESS, "unit_id": unit, "channel": "postal",
        "applicant": {"kind": "citizen", "name": "Nguyễn Văn An", "national_id": "022095001234"},
        "reuse": [{"component": 1, "document_id": doc["id"]}]});
    json_ok(app.post("/api/v1/dossiers", Some(&clerk), body).await, StatusCode::CREATED).await;

    // 6. Hạ Long: online, never received: not counted.
    file(&app, &citizen, CONSTRUCTION, "193").await;

    // 7. Móng Cái (194): counter household business, fee unpaid, in progress.
    register(&app, &mong_cai_clerk, HOUSEHOLD_BUSINESS, "194").await;

    let auditor = app.token("auditor").await;
    let ha_long = app.unit_id("193").await;
    let stats =
        json_ok(app.get(&format!("/api/v1/stats?unit={ha_long}&group_by=unit"), Some(&auditor)).await, StatusCode::OK)
            .await;
    let t = &stats["total"];
    // Received: 1, 2 online; 3, 4 counter; 5 postal.
    assert_eq!(t["figures"]["received"], 5);
    assert_eq!(nd(t, "online_rate"), (2, 5));
    assert_eq!(
        (t["figures"]["received_counter"].as_i64(), t["figures"]["received_postal"].as_i64()),
        (Some(2), Some(1))
    );
    // Digitized: 1 (uploaded everything). Reused: 5.
    assert_eq!(nd(t, "digitization_rate").0, 1 + i64::from(d2["digitized"] == true));
    assert_eq!(nd(t, "reuse_rate"), (1, 5));
    // Fee-bearing received: 3, 4, 5; paid online: 3.
    assert_eq!(nd(t, "online_payment_rate"), (1, 3));
    // Finished: 1 (on time), 3 (late). In progress at the end: 2, 5 on time; 4 late.
    assert_eq!(nd(t, "on_time_rate"), (1 + 2, 2 + 3));
    assert_eq!(nd(t, "average_processing_days"), (0, 2));
    // Results for document procedures: 1 (electronic), 3 (paper).
    assert_eq!(nd(t, "e_result_rate"), (1, 2));
    // Late: 3 and 4; 4 apologized.
    assert_eq!(nd(t, "apology_rate"), (1, 2));
    assert_eq!(nd(t, "satisfaction_rate"), (1, 1));
    // Results issued: 1 and 3, each assessed once (what the assessment
    // says is tested in tests/assessment.rs).
    assert_eq!(t["figures"]["assessment_points"]["denominator"], 2);

    // Per unit and level: Hồng Gai holds 1 and 2, Hạ Long 3, 4 and 5.
    let row = |code: &str| {
        stats["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["label"].as_str().unwrap().starts_with(&format!("{code} ")))
            .unwrap()
            .clone()
    };
    assert_eq!(nd(&row("06691"), "online_rate"), (2, 2));
    assert_eq!(nd(&row("193"), "online_rate"), (0, 3));
    assert_eq!(nd(&row("193"), "on_time_rate"), (1, 3));
    assert_eq!(nd(&row("06658"), "online_rate"), (0, 0));
    let levels: Vec<(String, i64)> = stats["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["key"].as_str().unwrap().to_string(), l["figures"]["received"].as_i64().unwrap()))
        .collect();
    assert_eq!(levels, [("district".to_string(), 3), ("commune".to_string(), 2)]);

    // The province adds Móng Cái.
    let province = json_ok(app.get("/api/v1/stats?group_by=level", Some(&auditor)).await, StatusCode::OK).await;
    assert_eq!(province["total"]["figures"]["received"], 6);
    assert_eq!(nd(&province["total"], "online_payment_rate"), (1, 4));
    let district = province["rows"].as_array().unwrap().iter().find(|r| r["key"] == "district").unwrap();
    assert_eq!(district["figures"]["received"], 4);
    let by_procedure = json_ok(app.get("/api/v1/stats?group_by=procedure", Some(&auditor)).await, StatusCode::OK).await;
    let hkd = by_procedure["rows"].as_array().unwrap().iter().find(|r| r["key"] == HOUSEHOLD_BUSINESS).unwrap();
    assert_eq!(hkd["figures"]["received"], 3);
    let by_month = json_ok(app.get("/api/v1/stats?group_by=month", Some(&auditor)).await, StatusCode::OK).await;
    let month = motcua::domain::calendar::to_local(chrono::Utc::now()).format("%Y-%m").to_string();
    let this = by_month["rows"].as_array().unwrap().iter().find(|r| r["key"] == month.as_str()).unwrap();
    assert_eq!(this["figures"]["received"], 6);
    let earlier: i64 = by_month["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["key"] != month.as_str())
        .map(|r| r["figures"]["received"].as_i64().unwrap())
        .sum();
    assert_eq!(earlier, 0);

    // Scorecard of Hạ Long, hand-computed with the five-group formula:
    // transparency 18 × (1/2) = 9; progress 20 × 3/5 = 12;
    // online 12 × min(1, 0.4/0.8) = 6 + 10 × min(1, (1/3)/0.5) = 6.667;
    // digitization 8 × d + 8 × 1/2 = 4 + 6 × min(1, 0.2/0.8) = 1.5; satisfaction 18.
    let card =
        json_ok(app.get(&format!("/api/v1/stats/scorecard?unit={ha_long}"), Some(&auditor)).await, StatusCode::OK)
            .await;
    let digitization = nd(t, "digitization_rate");
    let expected = 9.0 + 12.0 + 6.0 + 10.0 * (1.0 / 3.0) / 0.5 + 8.0 * digitization.0 as f64 / 5.0 + 4.0 + 1.5 + 18.0;
    assert!((card["total"].as_f64().unwrap() - expected).abs() < 1e-6, "{} vs {expected}", card["total"]);
    let group = |k: &str| card["groups"].as_array().unwrap().iter().find(|g| g["key"] == k).unwrap().clone();
    assert_eq!(group("transparency")["points"], 9.0);
    assert_eq!(group("progress")["points"], 12.0);
    assert_eq!(group("satisfaction")["points"], 18.0);
    let online = group("online_services");
    assert_eq!(online["indicators"][0]["points"], 6.0);
    assert_eq!(
        (online["indicators"][0]["numerator"].as_i64(), online["indicators"][0]["denominator"].as_i64()),
        (Some(2), Some(5))
    );
    assert_eq!(online["indicators"][0]["threshold"], 0.8);
    assert_eq!(online["indicators"][0]["weight"], 12.0);

    // The counts kept action by action are those recomputed from the
    // dossiers; an edit around the service shows, and is mended.
    let rebuild = || app.db(motcua::stats::daily::rebuild);
    let done = rebuild().await;
    assert_eq!(done.differing, 0, "{done:?}");
    assert!(done.rows >= 6, "{done:?}");
    let id = d2["id"].as_str().unwrap().to_string();
    app.db(move |c| diesel::update(dossiers::table.find(id)).set(dossiers::channel.eq("postal")).execute(c)).await;
    assert_eq!(rebuild().await.differing, 1);
    assert_eq!(rebuild().await.differing, 0);
    let stats = json_ok(app.get(&format!("/api/v1/stats?unit={ha_long}"), Some(&auditor)).await, StatusCode::OK).await;
    assert_eq!(stats["total"]["figures"]["received_postal"], 2);
}

async fn statistics_are_scoped_and_validated(b: Backend) {
    let app = TestApp::spawn(b).await;
    let district_auditor = app.staff_token("ktv.halong@quangninh.gov.vn", &["auditor"], "193").await;
    let province = app.unit_id("22").await;
    let mong_cai = app.unit_id("194").await;
    for unit in [&province, &mong_cai] {
        let res = app.get(&format!("/api/v1/stats?unit={unit}"), Some(&district_auditor)).await;
        assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;
    }
    let own = json_ok(app.get("/api/v1/stats", Some(&district_auditor)).await, StatusCode::OK).await;
    assert_eq!(own["unit_code"], "193");
    assert_eq!(own["total"]["figures"]["received"], 0);
    assert!(own["total"]["figures"]["online_rate"]["value"].is_null(), "no ratio without a denominator");
    let approver = app.token("approver").await;
    assert_eq!(app.get("/api/v1/stats/scorecard", Some(&approver)).await.status(), StatusCode::OK);
    for who in ["clerk", "specialist", "citizen"] {
        let token = app.token(who).await;
        assert_problem(app.get("/api/v1/stats", Some(&token)).await, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let auditor = app.token("auditor").await;
    let res = app.get("/api/v1/stats?from=2026-05-01&to=2026-01-01", Some(&auditor)).await;
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_problem(
        app.get("/api/v1/stats?group_by=ward", Some(&auditor)).await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;
    // The portal's six groups, shipped: with nothing received, every rate
    // without a denominator earns its points, but no online service
    // received a dossier; the catalogue's figures are those of /stats.
    let card = json_ok(app.get("/api/v1/stats/scorecard", Some(&auditor)).await, StatusCode::OK).await;
    let stats = json_ok(app.get("/api/v1/stats", Some(&auditor)).await, StatusCode::OK).await;
    let groups = card["groups"].as_array().unwrap();
    assert_eq!(
        groups.iter().map(|g| g["key"].as_str().unwrap()).collect::<Vec<_>>(),
        ["transparency", "progress", "online_services", "online_payment", "digitization", "satisfaction"]
    );
    let published = &groups[0]["indicators"][0];
    assert_eq!(published["figure"], "procedures_published_rate");
    assert_eq!(published["numerator"], stats["procedures"]["published"]["numerator"]);
    assert!(published["denominator"].as_i64().unwrap() > 0, "the catalogue has procedures at these levels");
    let with_dossiers = &groups[2]["indicators"][0];
    assert_eq!((with_dossiers["numerator"].as_i64(), with_dossiers["points"].as_f64()), (Some(0), Some(0.0)));
    let full: f64 =
        groups[1..].iter().filter(|g| g["key"] != "online_services").map(|g| g["points"].as_f64().unwrap()).sum();
    assert_eq!(full, 20.0 + 10.0 + 22.0 + 18.0, "{card}");
}

async fn exports_open_in_spreadsheets(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (citizen, clerk) = (app.token("citizen").await, app.token("clerk").await);
    let d = file(&app, &citizen, BIRTH, "06691").await;
    act_ok(&app, &clerk, &d, json!({"action": "receive"})).await;
    register(&app, &clerk, HOUSEHOLD_BUSINESS, "193").await;
    let auditor = app.token("auditor").await;

    let res = app.get("/api/v1/exports/dossiers.csv", Some(&auditor)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let bytes = res.bytes().await.unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 with a BOM");
    let mut reader = csv::Reader::from_reader(&bytes[3..]);
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(&header[..3], ["code", "procedure_code", "procedure_name"]);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    let first = &rows[0];
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(&first[col("code")], d["code"].as_str().unwrap());
    assert_eq!(&first[col("procedure_name")], "Thủ tục đăng ký khai sinh");
    assert_eq!(&first[col("status")], "received");
    assert_eq!(&first[col("on_time")], "1");
    assert_eq!(&rows[1][col("fee_vnd")], "100000");

    let res = app.get("/api/v1/exports/dossiers.xlsx", Some(&auditor)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = res.bytes().await.unwrap().to_vec();
    let sheet = read_xlsx(bytes);
    assert_eq!(sheet.len(), 3, "header and two rows");
    assert_eq!(sheet[0][0], calamine::Data::String("code".into()));
    assert_eq!(sheet[1][0], calamine::Data::String(d["code"].as_str().unwrap().into()));
    assert!(matches!(sheet[1][col("submitted_at")], calamine::Data::DateTime(_)), "dates are typed");
    assert_eq!(sheet[2][col("fee_vnd")], calamine::Data::Float(100000.0));

    let res = app.get("/api/v1/exports/stats.csv?group_by=level", Some(&auditor)).await;
    let bytes = res.bytes().await.unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"));
    let mut reader = csv::Reader::from_reader(&bytes[3..]);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!((&rows[0][0], &rows[0][3]), ("total", "2"));
    let stats = read_xlsx(app.get("/api/v1/exports/stats.xlsx", Some(&auditor)).await.bytes().await.unwrap().to_vec());
    assert_eq!(stats[1][3], calamine::Data::Float(2.0));
    let json = json_ok(app.get("/api/v1/exports/stats.json", Some(&auditor)).await, StatusCode::OK).await;
    assert_eq!(json["total"]["figures"]["received"], 2);
    assert_problem(app.get("/api/v1/exports/dossiers.json", Some(&auditor)).await, StatusCode::NOT_FOUND, "not_found")
        .await;
    assert_problem(app.get("/api/v1/exports/dossiers.csv", Some(&clerk)).await, StatusCode::FORBIDDEN, "forbidden")
        .await;
}

fn read_xlsx(bytes: Vec<u8>) -> Vec<Vec<calamine::Data>> {
    use calamine::Reader;
    let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    let name = book.sheet_names()[0].clone();
    let range = book.worksheet_range(&name).unwrap();
    range.rows().map(|r| r.to_vec()).collect()
}

/// Issue 17's counting rules, through HTTP: judged by date, a pause on the
/// appointment day within time, a second supplement request not on time but
/// never late — the same for the dossier's flag, the overdue list, the
/// apology and the statistics.
async fn the_portals_counting_rules_agree_everywhere(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (citizen, clerk, specialist) =
        (app.token("citizen").await, app.token("clerk").await, app.token("specialist").await);
    let today = motcua::domain::calendar::local_day_start(motcua::time::now());
    let ask = json!({"action": "request_supplement", "reason": "Thiếu bản sao", "items": ["Bản sao CCCD"]});
    let answer = json!({"action": "supplement", "note": "Đã bổ sung"});
    let new_date = (chrono::Utc::now() + chrono::Duration::days(10)).to_rfc3339();
    let apology = json!({"action": "apologize", "reason": "Chờ xác minh", "new_due_at": new_date});
    let mut dossiers = Vec::new();
    for _ in 0..5 {
        let d = file(&app, &citizen, BIRTH, "06691").await;
        act_ok(&app, &clerk, &d, json!({"action": "receive"})).await;
        act_ok(&app, &specialist, &d, json!({"action": "claim"})).await;
        dossiers.push(d);
    }
    let [due_today, due_before, paused_today, asked_twice, paused_late] = &dossiers[..] else { unreachable!() };
    // Due at the first minute of today: past by the hour, not by the date.
    db_set_due(&app, due_today, today).await;
    db_set_due(&app, due_before, today - chrono::Duration::minutes(1)).await;
    // Paused today, on its appointment day.
    act_ok(&app, &specialist, paused_today, ask.clone()).await;
    db_set_due(&app, paused_today, today).await;
    // Paused today, the day after its appointment date: late while it waits.
    act_ok(&app, &specialist, paused_late, ask.clone()).await;
    db_set_due(&app, paused_late, today - chrono::Duration::minutes(1)).await;
    for _ in 0..2 {
        act_ok(&app, &specialist, asked_twice, ask.clone()).await;
        act_ok(&app, &citizen, asked_twice, answer.clone()).await;
    }

    let overdue = |d: &Value| {
        let (app, clerk, d) = (&app, clerk.clone(), d.clone());
        async move { get(app, &clerk, &d).await["overdue"].as_bool().unwrap() }
    };
    let flags = [
        overdue(due_today).await,
        overdue(due_before).await,
        overdue(paused_today).await,
        overdue(asked_twice).await,
        overdue(paused_late).await,
    ];
    assert_eq!(flags, [false, true, false, false, true]);
    let listed = json_ok(app.get("/api/v1/dossiers?overdue=true", Some(&clerk)).await, StatusCode::OK).await;
    let mut ids: Vec<&str> = listed["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    let mut late = [due_before["id"].as_str().unwrap(), paused_late["id"].as_str().unwrap()];
    late.sort_unstable();
    assert_eq!(ids, late);
    let on_time = json_ok(app.get("/api/v1/dossiers?overdue=false", Some(&clerk)).await, StatusCode::OK).await;
    assert_eq!(on_time["items"].as_array().unwrap().len(), 3);
    assert_eq!(get(&app, &clerk, asked_twice).await["repeated_supplement_request"], true);
    for d in [due_today, asked_twice] {
        assert_problem(act(&app, &clerk, d, apology.clone()).await, StatusCode::CONFLICT, "illegal_action").await;
    }
    act_ok(&app, &clerk, due_before, apology.clone()).await;

    // At the period's end — the start of tomorrow — the one due today is
    // past its date too; the one paused on its date is within time; the one
    // asked twice is not on time, yet not late.
    let auditor = app.token("auditor").await;
    let unit = app.unit_id("06691").await;
    let stats = json_ok(app.get(&format!("/api/v1/stats?unit={unit}"), Some(&auditor)).await, StatusCode::OK).await;
    let t = &stats["total"];
    assert_eq!(nd(t, "on_time_rate"), (1, 5));
    assert_eq!(nd(t, "apology_rate"), (1, 3), "late: due today, due before, paused late; apologized: due before");
    app.assert_counts_kept().await;
}
