//! `motcua simulate`: the generated province reproduces its configured mix
//! through `GET /api/v1/stats`, and its dossiers work through the API.

mod common;

use chrono::Datelike;
use common::flow::json_ok;
use common::{Backend, TestApp};
use motcua::domain::units::Level;
use motcua::simulate::{Mix, Options, Report};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(simulated_statistics_reproduce_the_mix, roll_ups_read_any_period_as_the_days);

const YEAR: i32 = 2025;

async fn simulate(app: &TestApp, options: Options) -> Report {
    let state = app.state.clone();
    app.state
        .db
        .run(move |conn| {
            let settings = (&state.settings.dossiers, &state.settings.assessment);
            Ok(motcua::simulate::run(conn, &state.signer, state.files.as_ref(), settings, &options))
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
    // Simulating takes longer than a request may.
    let app = TestApp::spawn_with(b, |s| s.database.operation_timeout_secs = 0).await;
    let mix = Mix::default();
    let options = Options { dossiers: 6_000, seed: 42, year: YEAR, applicants: None, backlog: 10, communes: 2, mix };
    let report = simulate(&app, options).await;
    assert_eq!((report.dossiers, report.history_dossiers), (6_010, 600));

    let auditor = app.token("auditor").await;
    let path = format!("/api/v1/stats?from={YEAR}-01-01&to={}-01-01", YEAR + 1);
    let stats = json_ok(app.get(&path, Some(&auditor)).await, StatusCode::OK).await;
    let f = &stats["total"]["figures"];
    // The standard deviation of the assessments' points at each level.
    let spread: std::collections::HashMap<Level, f64> = app
        .db(|c| {
            use diesel::prelude::*;
            use motcua::db::schema::{dossier_assessments, dossiers, units};
            let rows: Vec<(String, i32)> = dossier_assessments::table
                .inner_join(dossiers::table)
                .inner_join(units::table.on(units::id.eq(dossiers::receiving_unit_id)))
                .select((units::level, dossier_assessments::total))
                .load(c)?;
            let mut by_level: std::collections::HashMap<Level, Vec<f64>> = Default::default();
            for (level, total) in rows {
                by_level.entry(level.parse().unwrap()).or_default().push(f64::from(total));
            }
            Ok(by_level
                .into_iter()
                .map(|(level, xs)| {
                    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
                    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (xs.len() as f64 - 1.0).max(1.0);
                    (level, var.sqrt())
                })
                .collect())
        })
        .await;
    // The figures Quảng Ninh publishes per level (DESIGN.md §6), and its
    // 18-point assessment: 17.7 at each level.
    for row in stats["levels"].as_array().unwrap() {
        let level: Level = row["key"].as_str().unwrap().parse().unwrap();
        let g = &row["figures"];
        close(&g["online_rate"], mix.online.at(level), &format!("online, {level:?}"));
        close(&g["digitization_rate"], mix.digitized.at(level), &format!("digitized, {level:?}"));
        close(&g["e_result_rate"], mix.e_result.at(level), &format!("e-results, {level:?}"));
        // The average within four standard errors of 17.7 (the mix is
        // calibrated on 40,000 dossiers: docs/assessment.md).
        let points = &g["assessment_points"];
        let (average, n) = (points["value"].as_f64().unwrap(), points["denominator"].as_f64().unwrap());
        let sd = spread[&level];
        assert!(n > 50.0, "{level:?}: {points}");
        let tolerance = 4.0 * sd / n.sqrt() + 0.02;
        assert!((average - 17.7).abs() <= tolerance, "assessment, {level:?}: {average} over {n}, ± {tolerance}");
    }
    assert_eq!(stats["levels"].as_array().unwrap().len(), 3);
    // Certified copies from originals: every one requested, done (10,823 of 10,823).
    let copies = &f["certified_copy_rate"];
    assert!(copies["denominator"].as_i64().unwrap() > 0 && copies["numerator"] == copies["denominator"], "{copies}");
    // Fully online: filed, paid and returned online.
    let fully = &f["fully_online_rate"];
    assert!(fully["numerator"].as_i64().unwrap() > 0 && fully["value"].as_f64().unwrap() < 1.0, "{fully}");
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

/// The statistics read a period from the monthly roll-ups and the days
/// outside whole months (`stats::daily::sums`); whatever the period, they
/// count what the daily rows alone count.
async fn roll_ups_read_any_period_as_the_days(b: Backend) {
    use diesel::prelude::*;
    use motcua::domain::daily::{Day, Months};
    use motcua::stats::daily::{Grouping, sums};

    #[derive(QueryableByName)]
    struct DayRow {
        #[diesel(sql_type = diesel::sql_types::Text)]
        day: String,
        #[diesel(embed)]
        counts: Day,
    }

    let app = TestApp::spawn(b).await;
    let options = Options {
        dossiers: 1_500,
        seed: 7,
        year: YEAR,
        applicants: None,
        backlog: 0,
        communes: 0,
        mix: Mix::default(),
    };
    simulate(&app, options).await;
    let d = |s: &str| s.parse::<chrono::NaiveDate>().unwrap();
    let periods = [
        ("2025-01-01", "2026-01-01"),
        ("2024-01-01", "2027-01-01"),
        ("2025-01-15", "2025-03-02"),
        ("2025-02-03", "2025-02-04"),
        ("2025-02-01", "2025-03-01"),
        ("2025-03-31", "2025-04-01"),
        ("2024-12-20", "2025-01-10"),
        ("2025-06-10", "2025-06-10"),
        ("2025-04-30", "2025-12-02"),
    ];
    let (unit_ids, days): (Vec<String>, Vec<(chrono::NaiveDate, Day)>) = app
        .db(|c| {
            use motcua::db::schema::units;
            let ids = units::table.select(units::id).load::<String>(c)?;
            let cols: Vec<String> =
                Day::FLOWS.iter().chain(Day::STOCKS).map(|c| format!("CAST({c} AS BIGINT) AS {c}")).collect();
            let rows: Vec<DayRow> =
                diesel::sql_query(format!("SELECT CAST(day AS TEXT) AS day, {} FROM daily_counts", cols.join(", ")))
                    .load(c)?;
            Ok((ids, rows.into_iter().map(|r| (r.day.parse().unwrap(), r.counts)).collect()))
        })
        .await;
    assert!(days.len() > 300, "a year of days: {}", days.len());
    // What the daily rows alone give for [from, to).
    let window = |from: chrono::NaiveDate, to: chrono::NaiveDate| {
        let mut sum = Day::default();
        for (day, c) in days.iter().filter(|(day, _)| *day < to) {
            sum += if *day >= from { *c } else { c.stocks() };
        }
        sum.counts()
    };
    for (from, to) in periods {
        let (from, to) = (d(from), d(to));
        let ids = unit_ids.clone();
        let (by_unit, by_month) = app
            .db(move |c| {
                let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
                Ok((sums(c, Grouping::Unit, &ids, from, to)?, sums(c, Grouping::Month, &ids, from, to)?))
            })
            .await;
        let mut total = Day::default();
        for (_, c) in by_unit {
            total += c;
        }
        assert_eq!(total.counts(), window(from, to), "{from}..{to}");
        let months = Months::new(by_month.into_iter().map(|(m, c)| (d(&format!("{m}-01")), c)));
        let mut start = from;
        while start < to {
            let next = (start.with_day(1).unwrap() + chrono::Months::new(1)).min(to);
            assert_eq!(months.of(start).counts(), window(start, next), "{start}..{next} of {from}..{to}");
            start = next;
        }
    }
}
