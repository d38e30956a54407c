//! The holiday calendar: public reads by year or range; the province
//! administrator declares and removes days.

mod common;

use chrono::{Datelike, NaiveDate, Weekday};
use common::{Backend, TestApp, assert_problem};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    a_year_lists_tet_and_swapped_working_days,
    seeded_calendar_is_consistent,
    from_to_filters_a_half_open_range,
    invalid_ranges_are_refused,
    admin_declares_and_replaces_days,
    declarations_are_validated_and_change_nothing,
    admin_removes_days,
    only_the_province_admin_maintains_the_calendar,
    a_lone_from_or_to_spans_a_year,
    nul_characters_are_bad_input_not_500,
);

/// Asserts the status and returns the JSON body (shown on failure).
async fn json_of(res: Response, status: StatusCode) -> Value {
    let got = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    serde_json::from_str(&text).unwrap()
}

async fn items(app: &TestApp, query: &str) -> Vec<Value> {
    let list = json_of(app.get(&format!("/api/v1/holidays?{query}"), None).await, StatusCode::OK).await;
    list["items"].as_array().unwrap().clone()
}

fn dates(items: &[Value]) -> Vec<&str> {
    items.iter().map(|d| d["date"].as_str().unwrap()).collect()
}

fn day<'a>(items: &'a [Value], date: &str) -> Option<&'a Value> {
    items.iter().find(|d| d["date"] == date)
}

fn error_fields(problem: &Value) -> Vec<&str> {
    problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect()
}

async fn a_year_lists_tet_and_swapped_working_days(b: Backend) {
    let app = TestApp::spawn(b).await;
    let year = items(&app, "year=2026").await;

    // Tết Bính Ngọ: Monday 16 to Friday 20 February 2026 are holidays.
    for date in ["2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20"] {
        let d = day(&year, date).unwrap_or_else(|| panic!("{date} is a holiday"));
        assert_eq!(d["kind"], "holiday", "{d}");
        assert!(d["name"].as_str().unwrap().contains("Tết Nguyên đán"), "{d}");
    }
    assert_eq!(day(&year, "2026-02-17").unwrap()["name"], "Tết Nguyên đán Bính Ngọ (mùng 1)");
    // Weekends are not listed: they are non-working days anyway.
    assert!(day(&year, "2026-02-14").is_none() && day(&year, "2026-02-22").is_none());

    // Friday 2 January is swapped with Saturday 10 January.
    assert_eq!(day(&year, "2026-01-02").unwrap()["kind"], "holiday");
    let saturday = day(&year, "2026-01-10").expect("the swapped Saturday is listed");
    assert_eq!(saturday["kind"], "working_day");
    assert_eq!(saturday["name"], "Làm bù cho ngày nghỉ thứ Sáu 02/01/2026");
    assert_eq!(day(&year, "2026-09-02").unwrap()["name"], "Quốc khánh");

    // Only 2026, in date order, each with the three documented fields.
    let ds = dates(&year);
    assert!(ds.iter().all(|d| d.starts_with("2026-")), "{ds:?}");
    let mut sorted = ds.clone();
    sorted.sort();
    assert_eq!(ds, sorted);
    for d in &year {
        assert_eq!(d.as_object().unwrap().len(), 3, "{d}");
    }

    // Other years are there too, and the default year is the current one.
    assert_eq!(day(&items(&app, "year=2025").await, "2025-01-29").unwrap()["kind"], "holiday");
    assert!(items(&app, "year=2024").await.is_empty());
    let this_year = chrono::Utc::now().year();
    assert_eq!(items(&app, "").await, items(&app, &format!("year={this_year}")).await);
}

async fn seeded_calendar_is_consistent(b: Backend) {
    let app = TestApp::spawn(b).await;
    let all = items(&app, "from=2025-01-01&to=2028-01-01").await;
    assert!(!all.is_empty());
    for d in &all {
        let date: NaiveDate = d["date"].as_str().unwrap().parse().unwrap();
        let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
        match d["kind"].as_str().unwrap() {
            "holiday" => assert!(!weekend, "a listed holiday falls on a weekday: {d}"),
            "working_day" => assert!(weekend, "a swapped working day falls on a weekend: {d}"),
            other => panic!("unknown kind {other}"),
        }
        assert!(!d["name"].as_str().unwrap().trim().is_empty(), "{d}");
    }
}

async fn from_to_filters_a_half_open_range(b: Backend) {
    let app = TestApp::spawn(b).await;
    assert_eq!(
        dates(&items(&app, "from=2026-02-01&to=2026-03-01").await),
        ["2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20"]
    );
    // `from` is inclusive, `to` exclusive.
    assert_eq!(dates(&items(&app, "from=2026-02-17&to=2026-02-19").await), ["2026-02-17", "2026-02-18"]);
    assert_eq!(dates(&items(&app, "from=2026-02-17&to=2026-02-18").await), ["2026-02-17"]);
    // Across a year boundary.
    assert_eq!(dates(&items(&app, "from=2025-12-01&to=2026-01-11").await), ["2026-01-01", "2026-01-02", "2026-01-10"]);
    assert!(items(&app, "from=2026-03-01&to=2026-04-01").await.is_empty());
    // With both bounds given, the year does not matter.
    assert_eq!(dates(&items(&app, "year=2025&from=2026-02-17&to=2026-02-18").await), ["2026-02-17"]);
    // Ten years is the longest range.
    assert!(!items(&app, "from=2020-01-01&to=2030-01-01").await.is_empty());
}

async fn invalid_ranges_are_refused(b: Backend) {
    let app = TestApp::spawn(b).await;
    for query in [
        "from=2026-03-01&to=2026-02-01",
        "from=2026-02-17&to=2026-02-17",
        "from=2000-01-01&to=2030-01-01",
        "year=2026&from=2027-06-01&to=2027-01-01",
    ] {
        let problem = assert_problem(
            app.get(&format!("/api/v1/holidays?{query}"), None).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), ["to"], "{query}");
    }
    // A year that has no calendar.
    let res = app.get("/api/v1/holidays?year=999999", None).await;
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    // Unparseable parameters.
    for query in ["from=2026-13-40", "to=tomorrow", "year=twenty", "month=2"] {
        let res = app.get(&format!("/api/v1/holidays?{query}"), None).await;
        assert_problem(res, StatusCode::BAD_REQUEST, "invalid_query").await;
    }
}

async fn admin_declares_and_replaces_days(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.token("admin").await;

    let res = app
        .put("/api/v1/holidays/2026-12-24", Some(&admin), json!({"kind": "holiday", "name": "  Nghỉ thử nghiệm  "}))
        .await;
    let declared = json_of(res, StatusCode::OK).await;
    assert_eq!(declared, json!({"date": "2026-12-24", "kind": "holiday", "name": "Nghỉ thử nghiệm"}));
    let december = items(&app, "from=2026-12-01&to=2027-01-01").await;
    assert_eq!(december, [declared]);
    assert_eq!(day(&items(&app, "year=2026").await, "2026-12-24").unwrap()["name"], "Nghỉ thử nghiệm");

    // Putting the same day again replaces it.
    let res = app
        .put("/api/v1/holidays/2026-12-24", Some(&admin), json!({"kind": "holiday", "name": "Nghỉ Giáng sinh"}))
        .await;
    assert_eq!(json_of(res, StatusCode::OK).await["name"], "Nghỉ Giáng sinh");
    let december = items(&app, "from=2026-12-01&to=2027-01-01").await;
    assert_eq!(december, [json!({"date": "2026-12-24", "kind": "holiday", "name": "Nghỉ Giáng sinh"})]);

    // A swapped working Saturday.
    let res =
        app.put("/api/v1/holidays/2026-12-26", Some(&admin), json!({"kind": "working_day", "name": "Làm bù"})).await;
    assert_eq!(json_of(res, StatusCode::OK).await["kind"], "working_day");
    assert_eq!(dates(&items(&app, "from=2026-12-01&to=2027-01-01").await), ["2026-12-24", "2026-12-26"]);

    // A seeded day can be renamed as well.
    let res =
        app.put("/api/v1/holidays/2026-02-17", Some(&admin), json!({"kind": "holiday", "name": "Mùng 1 Tết"})).await;
    assert_eq!(json_of(res, StatusCode::OK).await["name"], "Mùng 1 Tết");
    let february = items(&app, "from=2026-02-01&to=2026-03-01").await;
    assert_eq!(february.len(), 5);
    assert_eq!(day(&february, "2026-02-17").unwrap()["name"], "Mùng 1 Tết");
}

async fn declarations_are_validated_and_change_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.token("admin").await;
    let seeded = items(&app, "from=2025-01-01&to=2028-01-01").await;

    let cases = [
        ("2026-12-23", json!({"kind": "working_day", "name": "Làm bù"}), "kind"), // a Wednesday
        ("2026-12-27", json!({"kind": "holiday", "name": "Nghỉ"}), "kind"),       // a Sunday
        ("2026-12-26", json!({"kind": "holiday", "name": "Nghỉ"}), "kind"),       // a Saturday
        ("2026-12-24", json!({"kind": "holiday", "name": "   "}), "name"),
        ("2026-12-24", json!({"kind": "holiday", "name": "x".repeat(201)}), "name"),
        ("2026-13-40", json!({"kind": "holiday", "name": "Nghỉ"}), "date"),
        ("2026-02-30", json!({"kind": "holiday", "name": "Nghỉ"}), "date"),
        ("24-12-2026", json!({"kind": "holiday", "name": "Nghỉ"}), "date"),
        ("tomorrow", json!({"kind": "holiday", "name": "Nghỉ"}), "date"),
    ];
    for (date, body, field) in cases {
        let res = app.put(&format!("/api/v1/holidays/{date}"), Some(&admin), body).await;
        let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(error_fields(&problem), [field], "{date}");
    }
    // A seeded working Saturday cannot become a holiday, nor a seeded holiday a working day.
    let res = app.put("/api/v1/holidays/2026-01-10", Some(&admin), json!({"kind": "holiday", "name": "Nghỉ"})).await;
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let res = app.put("/api/v1/holidays/2026-02-17", Some(&admin), json!({"kind": "working_day", "name": "Làm"})).await;
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    // Wrong shapes.
    for body in [
        json!({"kind": "vacation", "name": "Nghỉ"}),
        json!({"kind": "holiday"}),
        json!({"kind": "holiday", "name": 24}),
        json!({"kind": "holiday", "name": "Nghỉ", "date": "2026-12-25"}),
    ] {
        let res = app.put("/api/v1/holidays/2026-12-24", Some(&admin), body).await;
        assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }

    assert_eq!(items(&app, "from=2025-01-01&to=2028-01-01").await, seeded);
}

async fn admin_removes_days(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.token("admin").await;

    let res = app.delete("/api/v1/holidays/2026-02-17", Some(&admin)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(res.text().await.unwrap().is_empty());
    let february = items(&app, "from=2026-02-01&to=2026-03-01").await;
    assert_eq!(dates(&february), ["2026-02-16", "2026-02-18", "2026-02-19", "2026-02-20"]);
    // Removing it again, or a day never declared, finds nothing.
    assert_problem(app.delete("/api/v1/holidays/2026-02-17", Some(&admin)).await, StatusCode::NOT_FOUND, "not_found")
        .await;
    assert_problem(app.delete("/api/v1/holidays/2026-12-24", Some(&admin)).await, StatusCode::NOT_FOUND, "not_found")
        .await;
    let res = app.delete("/api/v1/holidays/2026-13-40", Some(&admin)).await;
    let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&problem), ["date"]);

    // A swapped working day is removed the same way; a declared day can be removed.
    assert_eq!(app.delete("/api/v1/holidays/2026-01-10", Some(&admin)).await.status(), StatusCode::NO_CONTENT);
    let res = app.put("/api/v1/holidays/2026-12-24", Some(&admin), json!({"kind": "holiday", "name": "Nghỉ"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.delete("/api/v1/holidays/2026-12-24", Some(&admin)).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(dates(&items(&app, "from=2026-01-01&to=2026-01-31").await), ["2026-01-01", "2026-01-02"]);
    assert!(items(&app, "from=2026-12-01&to=2027-01-01").await.is_empty());

    // Declaring a removed day again brings it back.
    let res =
        app.put("/api/v1/holidays/2026-02-17", Some(&admin), json!({"kind": "holiday", "name": "Mùng 1 Tết"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(items(&app, "from=2026-02-01&to=2026-03-01").await.len(), 5);
}

async fn only_the_province_admin_maintains_the_calendar(b: Backend) {
    let app = TestApp::spawn(b).await;
    let district_admin = app.staff_token("dadmin@x.vn", &["admin"], "193").await;
    let before = items(&app, "from=2025-01-01&to=2028-01-01").await;
    let body = json!({"kind": "holiday", "name": "Nghỉ"});

    let mut refused = vec![district_admin];
    for who in ["clerk", "specialist", "approver", "auditor", "citizen"] {
        refused.push(app.token(who).await);
    }
    for token in &refused {
        let res = app.put("/api/v1/holidays/2026-12-24", Some(token), body.clone()).await;
        assert_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
        let res = app.delete("/api/v1/holidays/2026-02-17", Some(token)).await;
        assert_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let res = app.put("/api/v1/holidays/2026-12-24", None, body.clone()).await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert_problem(app.delete("/api/v1/holidays/2026-02-17", None).await, StatusCode::UNAUTHORIZED, "unauthenticated")
        .await;
    let res = app.put("/api/v1/holidays/2026-12-24", Some("garbage"), body).await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "invalid_token").await;

    // Reading needs no account; nothing changed.
    assert_eq!(items(&app, "from=2025-01-01&to=2028-01-01").await, before);
}

/// With only `from` (or only `to`) the period is the year after (or before) it.
async fn a_lone_from_or_to_spans_a_year(b: Backend) {
    let app = TestApp::spawn(b).await;
    let after = items(&app, "from=2027-03-01").await;
    assert!(day(&after, "2027-04-30").is_some(), "{after:?}");
    assert!(dates(&after).iter().all(|d| *d >= "2027-03-01"), "{after:?}");
    let before = items(&app, "to=2025-02-01").await;
    assert!(day(&before, "2025-01-29").is_some(), "{before:?}");
}

/// PostgreSQL `TEXT` cannot hold U+0000: a NUL is refused as bad input on
/// both backends, never a 500.
async fn nul_characters_are_bad_input_not_500(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.token("admin").await;
    let res =
        app.put("/api/v1/holidays/2026-12-24", Some(&admin), json!({"kind": "holiday", "name": "Nghỉ\u{0}lễ"})).await;
    let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&problem), ["name"]);
    assert!(items(&app, "from=2026-12-01&to=2027-01-01").await.is_empty());
}
