//! `motcua simulate`: the generated province reproduces its configured mix
//! through `GET /api/v1/stats`, and its dossiers work through the API.

mod common;

use common::flow::json_ok;
use common::{Backend, TestApp};
use motcua::simulate::{Mix, Options, Report};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(simulated_statistics_reproduce_the_mix);

const YEAR: i32 = 2025;

async fn simulate(app: &TestApp, options: Options) -> Report {
    let state = app.state.clone();
    app.state
        .db
        .run(move |conn| {
            Ok(motcua::simulate::run(conn, &state.signer, state.files.as_ref(), &state.settings.dossiers, &options))
        })
        .await
        .expect("database")
        .expect("simulation")
}

/// `value` is within four standard errors of `share` over `n` draws.
fn close(figure: &Value, share: f64, name: &str) {
    let n = figure["denominator"].as_f64().unwrap();
    let value = figure["value"].as_f64().unwrap();
    let tolerance = 4.0 * (share * (1.0 - share) / n).sqrt() + 0.005;
    assert!((value - share).abs() <= tolerance, "{name}: {value} over {n}, expected {share} ± {tolerance}");
}

async fn simulated_statistics_reproduce_the_mix(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mix = Mix::default();
    let options = Options { dossiers: 2_000, seed: 42, year: YEAR, applicants: None, backlog: 10, communes: 2, mix };
    let report = simulate(&app, options).await;
    assert_eq!((report.dossiers, report.history_dossiers), (2_010, 200));

    let auditor = app.token("auditor").await;
    let path = format!("/api/v1/stats?from={YEAR}-01-01&to={}-01-01", YEAR + 1);
    let stats = json_ok(app.get(&path, Some(&auditor)).await, StatusCode::OK).await;
    let f = &stats["total"]["figures"];
    close(&f["online_rate"], mix.online, "online");
    close(&f["digitization_rate"], mix.digitized, "digitized");
    close(&f["e_result_rate"], mix.e_result, "e-results");
    close(&f["reuse_rate"], mix.reuse, "reuse");
    close(&f["online_payment_rate"], mix.online_payment, "online payment");
    close(&f["satisfaction_rate"], mix.satisfaction, "satisfaction");
    let scorecard = json_ok(
        app.get(&format!("/api/v1/stats/scorecard?from={YEAR}-01-01&to={}-01-01", YEAR + 1), Some(&auditor)).await,
        StatusCode::OK,
    )
    .await;
    assert!(scorecard["total"].as_f64().unwrap() > 80.0, "{scorecard}");

    // Every received dossier follows its procedure's process (docs/processes.md).
    let (received, pinned): (i64, i64) = app
        .db(|c| {
            use diesel::prelude::*;
            use motcua::db::schema::{dossier_processes, dossiers};
            let received = dossiers::table.filter(dossiers::received_at.is_not_null()).count().get_result(c)?;
            Ok((received, dossier_processes::table.count().get_result(c)?))
        })
        .await;
    assert_eq!(pinned, received);
    // Their steps were completed, some late: the step statistics see them.
    let path = format!("/api/v1/stats/steps?from={YEAR}-01-01&to={}-01-01", YEAR + 1);
    let steps = json_ok(app.get(&path, Some(&auditor)).await, StatusCode::OK).await;
    let sum = |field: &str| steps["steps"].as_array().unwrap().iter().map(|r| r[field].as_i64().unwrap()).sum::<i64>();
    assert!(sum("completed") > 2_000 && sum("late") > 0 && sum("delay_minutes") > 0, "{steps}");

    // A simulated dossier: its events, its public lookup, its signed result.
    let list = json_ok(app.get("/api/v1/dossiers?status=returned&limit=1", Some(&auditor)).await, StatusCode::OK).await;
    let dossier = &list["items"][0];
    let id = dossier["id"].as_str().unwrap();
    let events = json_ok(app.get(&format!("/api/v1/dossiers/{id}/events"), Some(&auditor)).await, StatusCode::OK).await;
    let actions: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"approve") && actions.contains(&"return_result"), "{actions:?}");
    let full = json_ok(app.get(&format!("/api/v1/dossiers/{id}"), Some(&auditor)).await, StatusCode::OK).await;
    let national_id = full["applicant"]["national_id"].as_str().unwrap();
    let lookup = format!("/api/v1/lookup?code={}&national_id={national_id}", dossier["code"].as_str().unwrap());
    let found = json_ok(app.get(&lookup, None).await, StatusCode::OK).await;
    assert_eq!(found["status"], "returned");
    let number: String = {
        let id = id.to_string();
        app.state
            .db
            .run(move |conn| Ok(motcua::results::current(conn, &id)?.map(|r| r.number)))
            .await
            .unwrap()
            .unwrap_or_default()
    };
    if !number.is_empty() {
        let verified = json_ok(app.get(&format!("/api/v1/verify/{number}"), None).await, StatusCode::OK).await;
        assert_eq!((verified["valid"].as_bool(), verified["signature_valid"].as_bool()), (Some(true), Some(true)));
    }

    // The backlog waits in the queues: a province specialist claims one and acts on it.
    let specialist = app.staff_token("specialist.sim@quangninh.gov.vn", &["specialist"], "22").await;
    let claimed = json_ok(app.post("/api/v1/queue/claim", Some(&specialist), json!({})).await, StatusCode::OK).await;
    assert_eq!(claimed["status"], "in_progress");
    let path = format!("/api/v1/dossiers/{}/actions", claimed["id"].as_str().unwrap());
    let done = json_ok(app.post(&path, Some(&specialist), json!({"action": "forward"})).await, StatusCode::OK).await;
    assert_eq!(done["current_step"]["number"], 2, "on to the next step of its process");

    // Codes continue after the simulated ones, in a fresh sequence for today.
    let citizen = app.token("citizen").await;
    let filed = common::flow::file(&app, &citizen, common::flow::BIRTH, "06691").await;
    assert!(filed["code"].as_str().unwrap().ends_with("-0001"));
}
