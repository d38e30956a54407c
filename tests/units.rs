//! The administrative tree: public reads and search, cursor pagination, and
//! administrator writes confined to their subtree.

mod common;

use std::collections::HashSet;

use common::{Backend, TestApp, assert_problem};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    units_are_listed_and_filtered,
    search_ignores_case_and_diacritics,
    cursor_pagination_walks_every_unit_once,
    bad_list_parameters_are_refused,
    one_unit_by_id,
    admin_creates_a_commune,
    duplicate_unit_codes_conflict,
    unit_creation_is_validated,
    two_tier_communes_sit_directly_under_the_province,
    admin_renames_and_deactivates_a_unit,
    admin_moves_a_commune_to_another_district,
    invalid_moves_are_refused_and_change_nothing,
    writes_need_an_administrator,
    district_admin_is_confined_to_its_subtree,
    nul_characters_are_bad_input_not_500,
);

/// Asserts the status and returns the JSON body (shown on failure).
async fn json_of(res: Response, status: StatusCode) -> Value {
    let got = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    serde_json::from_str(&text).unwrap()
}

fn codes(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|u| u["code"].as_str().unwrap().to_string()).collect()
}

fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_string()).collect()
}

async fn list_codes(app: &TestApp, query: &str) -> Vec<String> {
    codes(&json_of(app.get(&format!("/api/v1/units?{query}"), None).await, StatusCode::OK).await)
}

async fn unit(app: &TestApp, id: &str) -> Value {
    json_of(app.get(&format!("/api/v1/units/{id}"), None).await, StatusCode::OK).await
}

const DISTRICTS: [&str; 13] =
    ["193", "194", "195", "196", "198", "199", "200", "201", "202", "203", "205", "206", "207"];

async fn units_are_listed_and_filtered(b: Backend) {
    let app = TestApp::spawn(b).await;

    // The default page holds 50 of the 54 demo units and says more follow.
    let page = json_of(app.get("/api/v1/units", None).await, StatusCode::OK).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 50);
    assert!(page["next_cursor"].is_string(), "{page}");

    assert_eq!(list_codes(&app, "level=province").await, ["22"]);
    assert_eq!(list_codes(&app, "level=district").await, DISTRICTS);
    assert_eq!(list_codes(&app, "level=commune&limit=200").await.len(), 40);
    assert_eq!(list_codes(&app, "root=true").await, ["22"]);

    let province = app.unit_id("22").await;
    let ha_long = app.unit_id("193").await;
    assert_eq!(list_codes(&app, &format!("parent={province}&limit=200")).await, DISTRICTS);
    assert_eq!(list_codes(&app, &format!("parent={ha_long}")).await, ["06658", "06673", "06691", "07030"]);
    assert_eq!(list_codes(&app, &format!("parent={ha_long}&level=district")).await, Vec::<String>::new());
    assert_eq!(list_codes(&app, "parent=no-such-unit").await, Vec::<String>::new());

    // Every item carries the documented fields; the children name their parent.
    let page = json_of(app.get(&format!("/api/v1/units?parent={ha_long}"), None).await, StatusCode::OK).await;
    for u in page["items"].as_array().unwrap() {
        assert_eq!(u["level"], "commune");
        assert_eq!(u["parent_id"], ha_long.as_str());
        assert_eq!(u["active"], true);
        assert!(u["id"].is_string() && u["name"].is_string() && u["created_at"].is_string());
    }
    assert!(page["next_cursor"].is_null());
}

async fn search_ignores_case_and_diacritics(b: Backend) {
    let app = TestApp::spawn(b).await;
    for q in ["ha long", "Hạ Long", "HẠ LONG", "  hạ   long ", "Thành phố Hạ Long", "thanh pho ha long"] {
        assert_eq!(list_codes(&app, &format!("q={q}")).await, ["193"], "q={q}");
    }
    // Codes are searched too.
    assert_eq!(list_codes(&app, "q=06691").await, ["06691"]);
    // Diacritics-free search finds the unit written with them.
    assert_eq!(list_codes(&app, "q=mong cai").await, ["194"]);
    assert_eq!(list_codes(&app, "q=Đồng Tâm").await, ["06844"]);
    // Filters combine with the search.
    assert_eq!(list_codes(&app, "q=cam&level=district").await, ["195"]);
    // LIKE wildcards are searched literally.
    assert_eq!(list_codes(&app, "q=%25").await, Vec::<String>::new());
    assert_eq!(list_codes(&app, "q=_").await, Vec::<String>::new());
    assert_eq!(list_codes(&app, "q=no such place").await, Vec::<String>::new());
}

async fn cursor_pagination_walks_every_unit_once(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            None => "/api/v1/units?limit=5".to_string(),
            Some(c) => format!("/api/v1/units?limit=5&cursor={c}"),
        };
        let page = json_of(app.get(&path, None).await, StatusCode::OK).await;
        pages += 1;
        let got = codes(&page);
        assert!(!got.is_empty() && got.len() <= 5, "{page}");
        seen.extend(got);
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        assert!(pages < 100, "pagination does not end");
    }
    assert_eq!(pages, 11);
    assert_eq!(seen.len(), 54);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 54, "no duplicates");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "ordered by code");
    assert_eq!(seen.first().map(String::as_str), Some("06658"));
    assert_eq!(seen.last().map(String::as_str), Some("22"));

    // Filters hold across pages too.
    let first = json_of(app.get("/api/v1/units?level=district&limit=10", None).await, StatusCode::OK).await;
    let rest_path = format!("/api/v1/units?level=district&limit=10&cursor={}", first["next_cursor"].as_str().unwrap());
    let rest = json_of(app.get(&rest_path, None).await, StatusCode::OK).await;
    assert_eq!([codes(&first), codes(&rest)].concat(), DISTRICTS);
    assert!(rest["next_cursor"].is_null());
}

async fn bad_list_parameters_are_refused(b: Backend) {
    let app = TestApp::spawn(b).await;
    for (query, field) in [("limit=0", "limit"), ("limit=201", "limit"), ("cursor=!!", "cursor")] {
        let problem = assert_problem(
            app.get(&format!("/api/v1/units?{query}"), None).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), [field], "{query}");
    }
    for query in ["level=village", "root=maybe", "limit=ten", "colour=red"] {
        let res = app.get(&format!("/api/v1/units?{query}"), None).await;
        assert_problem(res, StatusCode::BAD_REQUEST, "invalid_query").await;
    }
}

async fn one_unit_by_id(b: Backend) {
    let app = TestApp::spawn(b).await;
    let id = app.unit_id("193").await;
    let u = unit(&app, &id).await;
    assert_eq!(u["id"], id.as_str());
    assert_eq!(u["code"], "193");
    assert_eq!(u["name"], "Thành phố Hạ Long");
    assert_eq!(u["level"], "district");
    assert_eq!(u["parent_id"], app.unit_id("22").await.as_str());
    assert_eq!(u["active"], true);
    assert!(u["created_at"].as_str().unwrap().ends_with('Z'), "{u}");

    let province = unit(&app, &app.unit_id("22").await).await;
    assert!(province["parent_id"].is_null());
    assert_eq!(province["level"], "province");

    let unknown = "01900000-0000-7000-8000-000000000000";
    assert_problem(app.get(&format!("/api/v1/units/{unknown}"), None).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(app.get("/api/v1/units/not-an-id", None).await, StatusCode::NOT_FOUND, "not_found").await;
}

async fn admin_creates_a_commune(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.token("admin").await;
    let ha_long = app.unit_id("193").await;
    let res = app
        .post(
            "/api/v1/units",
            Some(&admin),
            json!({"code": "06999", "name": "  Phường Hà Khánh  ", "level": "commune", "parent_id": ha_long}),
        )
        .await;
    let created = json_of(res, StatusCode::CREATED).await;
    assert_eq!(created["code"], "06999");
    assert_eq!(created["name"], "Phường Hà Khánh", "the name is trimmed");
    assert_eq!(created["level"], "commune");
    assert_eq!(created["parent_id"], ha_long.as_str());
    assert_eq!(created["active"], true);
    let id = created["id"].as_str().unwrap();
    assert!(!id.is_empty());

    // It is there for everyone to read, and found by search and by parent.
    assert_eq!(unit(&app, id).await, created);
    assert_eq!(list_codes(&app, "q=ha khanh").await, ["06999"]);
    assert_eq!(list_codes(&app, &format!("parent={ha_long}")).await, ["06658", "06673", "06691", "06999", "07030"]);
    assert_eq!(list_codes(&app, "limit=200").await.len(), 55);
}

async fn duplicate_unit_codes_conflict(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.token("admin").await;
    let ha_long = app.unit_id("193").await;
    let mong_cai = app.unit_id("194").await;
    let body = json!({"code": "06999", "name": "Phường Mới", "level": "commune", "parent_id": ha_long});
    assert_eq!(app.post("/api/v1/units", Some(&admin), body).await.status(), StatusCode::CREATED);

    for (code, parent) in [("06999", &ha_long), ("06999", &mong_cai), ("06691", &mong_cai), ("193", &ha_long)] {
        let body = json!({"code": code, "name": "Trùng mã", "level": "commune", "parent_id": parent});
        let res = app.post("/api/v1/units", Some(&admin), body).await;
        assert_problem(res, StatusCode::CONFLICT, "unit_code_taken").await;
    }
    // A district code used again for a district.
    let body = json!({"code": "194", "name": "Trùng mã", "level": "district", "parent_id": app.unit_id("22").await});
    assert_problem(app.post("/api/v1/units", Some(&admin), body).await, StatusCode::CONFLICT, "unit_code_taken").await;

    // Nothing was created; the originals are untouched.
    assert_eq!(list_codes(&app, "limit=200").await.len(), 55);
    assert_eq!(list_codes(&app, "q=trung ma").await, Vec::<String>::new());
    assert_eq!(unit(&app, &app.unit_id("06691").await).await["name"], "Phường Hồng Gai");
}

async fn unit_creation_is_validated(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.token("admin").await;
    let province = app.unit_id("22").await;
    let ha_long = app.unit_id("193").await;
    let hong_gai = app.unit_id("06691").await;

    // Levels only sit under strictly higher levels (roots are the CLI's).
    for (level, parent) in [
        ("district", &hong_gai),
        ("commune", &hong_gai),
        ("district", &ha_long),
        ("province", &province),
        ("province", &ha_long),
    ] {
        let body = json!({"code": "X1", "name": "Đơn vị thử", "level": level, "parent_id": parent});
        let problem = assert_problem(
            app.post("/api/v1/units", Some(&admin), body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), ["level"], "{level} under {parent:?}");
    }

    // Codes: 1 to 16 ASCII letters, digits, `.` or `-`.
    for code in ["", "a b", "12345678901234567", "mã", "06/99", "%"] {
        let body = json!({"code": code, "name": "Đơn vị thử", "level": "commune", "parent_id": ha_long});
        let problem = assert_problem(
            app.post("/api/v1/units", Some(&admin), body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), ["code"], "{code:?}");
    }

    // Both the code and the name at once.
    let body = json!({"code": "a b", "name": "   ", "level": "commune", "parent_id": ha_long});
    let problem = assert_problem(
        app.post("/api/v1/units", Some(&admin), body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["code", "name"]);
    let body = json!({"code": "X2", "name": "x".repeat(201), "level": "commune", "parent_id": ha_long});
    let problem = assert_problem(
        app.post("/api/v1/units", Some(&admin), body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["name"]);

    // A parent that does not exist.
    let body = json!({"code": "X3", "name": "Đơn vị thử", "level": "commune", "parent_id": "no-such-unit"});
    let problem = assert_problem(
        app.post("/api/v1/units", Some(&admin), body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["parent_id"]);

    // Wrong shapes: unknown level, unknown field, wrong type, missing field.
    for body in [
        json!({"code": "X4", "name": "Đơn vị thử", "level": "village", "parent_id": ha_long}),
        json!({"code": "X4", "name": "Đơn vị thử", "level": "commune", "parent_id": ha_long, "active": false}),
        json!({"code": 6999, "name": "Đơn vị thử", "level": "commune", "parent_id": ha_long}),
        json!({"code": "X4", "level": "commune", "parent_id": ha_long}),
    ] {
        let res = app.post("/api/v1/units", Some(&admin), body.clone()).await;
        assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }

    // Nothing was created.
    assert_eq!(list_codes(&app, "limit=200").await.len(), 54);
    assert_eq!(list_codes(&app, "q=don vi thu").await, Vec::<String>::new());
}

async fn two_tier_communes_sit_directly_under_the_province(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.token("admin").await;
    let province = app.unit_id("22").await;
    let body = json!({"code": "22001", "name": "Phường Hạ Long", "level": "commune", "parent_id": province});
    let created = json_of(app.post("/api/v1/units", Some(&admin), body).await, StatusCode::CREATED).await;
    assert_eq!(created["parent_id"], province.as_str());
    assert_eq!(created["level"], "commune");
    let children = list_codes(&app, &format!("parent={province}&level=commune")).await;
    assert_eq!(children, ["22001"]);
    // A commune is found by its name next to the former district of the same name.
    assert_eq!(list_codes(&app, "q=hạ long").await, ["193", "22001"]);

    // Even the province administrator starts no other tree through the API:
    // it would lie outside every scope (roots come from `motcua unit create`).
    let body = json!({"code": "99", "name": "Tỉnh Thử Nghiệm", "level": "province"});
    assert_problem(app.post("/api/v1/units", Some(&admin), body).await, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(list_codes(&app, "root=true").await, ["22"]);
    assert_eq!(list_codes(&app, "root=false&limit=200").await.len(), 54);
}

async fn admin_renames_and_deactivates_a_unit(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.token("admin").await;
    let id = app.unit_id("06658").await;
    let before = unit(&app, &id).await;

    let res = app.patch(&format!("/api/v1/units/{id}"), Some(&admin), json!({"name": " Phường Cao Thắng "})).await;
    let renamed = json_of(res, StatusCode::OK).await;
    assert_eq!(renamed["name"], "Phường Cao Thắng");
    assert_eq!(renamed["code"], "06658");
    assert_eq!(renamed["parent_id"], before["parent_id"]);
    assert_eq!(renamed["created_at"], before["created_at"]);
    assert_eq!(unit(&app, &id).await, renamed);

    // Search follows the new name, with or without diacritics.
    assert_eq!(list_codes(&app, "q=cao thang").await, ["06658"]);
    assert_eq!(list_codes(&app, "q=Cao Thắng").await, ["06658"]);
    assert_eq!(list_codes(&app, "q=cao xanh").await, Vec::<String>::new());

    // An empty name is refused and changes nothing.
    let res = app.patch(&format!("/api/v1/units/{id}"), Some(&admin), json!({"name": "  "})).await;
    let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&problem), ["name"]);
    let res = app.patch(&format!("/api/v1/units/{id}"), Some(&admin), json!({"code": "X"})).await;
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(unit(&app, &id).await, renamed);

    // Deactivation, seen through the `active` filter.
    let res = app.patch(&format!("/api/v1/units/{id}"), Some(&admin), json!({"active": false})).await;
    let inactive = json_of(res, StatusCode::OK).await;
    assert_eq!(inactive["active"], false);
    assert_eq!(inactive["name"], "Phường Cao Thắng", "absent fields are unchanged");
    assert_eq!(list_codes(&app, "active=false").await, ["06658"]);
    assert!(!list_codes(&app, "active=true&limit=200").await.contains(&"06658".to_string()));

    // An unknown unit.
    let res = app.patch("/api/v1/units/no-such-unit", Some(&admin), json!({"name": "X"})).await;
    assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;
}

async fn admin_moves_a_commune_to_another_district(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.token("admin").await;
    let ha_long_admin = app.staff_token("dadmin@x.vn", &["admin"], "193").await;
    let mong_cai_admin = app.staff_token("madmin@x.vn", &["admin"], "194").await;
    let (ha_long, mong_cai) = (app.unit_id("193").await, app.unit_id("194").await);
    let id = app.unit_id("06691").await;
    let path = format!("/api/v1/units/{id}");

    // Before: Hồng Gai is Hạ Long's, not Móng Cái's.
    assert_eq!(app.patch(&path, Some(&ha_long_admin), json!({"active": true})).await.status(), StatusCode::OK);
    assert_problem(
        app.patch(&path, Some(&mong_cai_admin), json!({"active": true})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    let moved = json_of(app.patch(&path, Some(&admin), json!({"parent_id": mong_cai})).await, StatusCode::OK).await;
    assert_eq!(moved["parent_id"], mong_cai.as_str());
    assert_eq!(moved["code"], "06691");
    assert_eq!(moved["name"], "Phường Hồng Gai");
    assert_eq!(unit(&app, &id).await["parent_id"], mong_cai.as_str());
    assert_eq!(list_codes(&app, &format!("parent={ha_long}")).await, ["06658", "06673", "07030"]);
    assert_eq!(list_codes(&app, &format!("parent={mong_cai}")).await, ["06691", "06709", "06712", "06721"]);

    // The scopes follow the tree: Hạ Long's administrator lost it, Móng Cái's gained it.
    assert_problem(
        app.patch(&path, Some(&ha_long_admin), json!({"active": true})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let res = app.patch(&path, Some(&mong_cai_admin), json!({"name": "Phường Hồng Gai (Móng Cái)"})).await;
    assert_eq!(json_of(res, StatusCode::OK).await["parent_id"], mong_cai.as_str());

    // Moving to the current parent is a no-op; moving under the province (two tiers) works.
    let res = app.patch(&path, Some(&admin), json!({"parent_id": mong_cai})).await;
    assert_eq!(json_of(res, StatusCode::OK).await["parent_id"], mong_cai.as_str());
    let province = app.unit_id("22").await;
    let res = app.patch(&path, Some(&admin), json!({"parent_id": province})).await;
    assert_eq!(json_of(res, StatusCode::OK).await["parent_id"], province.as_str());
    assert_problem(
        app.patch(&path, Some(&mong_cai_admin), json!({"active": true})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // The province administrator still sees it.
    assert_eq!(app.patch(&path, Some(&admin), json!({"active": true})).await.status(), StatusCode::OK);
}

async fn invalid_moves_are_refused_and_change_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.token("admin").await;
    let ha_long = app.unit_id("193").await;
    let mong_cai = app.unit_id("194").await;
    let hong_gai = app.unit_id("06691").await;
    let bai_chay = app.unit_id("06673").await;
    let province = app.unit_id("22").await;
    let before_ha_long = unit(&app, &ha_long).await;
    let before_hong_gai = unit(&app, &hong_gai).await;

    let cases = [
        (&ha_long, &hong_gai, "parent_id"), // under its own descendant
        (&ha_long, &ha_long, "parent_id"),  // under itself
        (&province, &ha_long, "parent_id"), // a root under its descendant
        (&hong_gai, &bai_chay, "level"),    // a commune under a commune
        (&ha_long, &mong_cai, "level"),     // a district under a district
        (&hong_gai, &"no-such-unit".to_string(), "parent_id"),
    ];
    for (id, parent, field) in cases {
        // A rename in the same request is rolled back with the refused move.
        let res = app
            .patch(&format!("/api/v1/units/{id}"), Some(&admin), json!({"name": "Đổi tên", "parent_id": parent}))
            .await;
        let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(error_fields(&problem), [field], "{id} under {parent}");
    }
    assert_eq!(unit(&app, &ha_long).await, before_ha_long);
    assert_eq!(unit(&app, &hong_gai).await, before_hong_gai);
    assert_eq!(list_codes(&app, "q=doi ten").await, Vec::<String>::new());
    assert_eq!(list_codes(&app, &format!("parent={ha_long}")).await, ["06658", "06673", "06691", "07030"]);
}

async fn writes_need_an_administrator(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ha_long = app.unit_id("193").await;
    let hong_gai = app.unit_id("06691").await;
    let before = unit(&app, &hong_gai).await;
    let body = json!({"code": "06999", "name": "Phường Mới", "level": "commune", "parent_id": ha_long});

    for who in ["clerk", "specialist", "approver", "auditor", "citizen"] {
        let token = app.token(who).await;
        let res = app.post("/api/v1/units", Some(&token), body.clone()).await;
        assert_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
        let res = app.patch(&format!("/api/v1/units/{hong_gai}"), Some(&token), json!({"name": "Đổi tên"})).await;
        assert_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    }
    assert_problem(app.post("/api/v1/units", None, body.clone()).await, StatusCode::UNAUTHORIZED, "unauthenticated")
        .await;
    let res = app.patch(&format!("/api/v1/units/{hong_gai}"), None, json!({"name": "Đổi tên"})).await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let res = app.post("/api/v1/units", Some("garbage"), body).await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "invalid_token").await;

    assert_eq!(list_codes(&app, "q=06999").await, Vec::<String>::new());
    assert_eq!(unit(&app, &hong_gai).await, before);
}

async fn district_admin_is_confined_to_its_subtree(b: Backend) {
    let app = TestApp::spawn(b).await;
    let dadmin = app.staff_token("dadmin@x.vn", &["admin"], "193").await;
    let mong_cai = app.unit_id("194").await;
    let ka_long = app.unit_id("06709").await;
    let province = app.unit_id("22").await;
    let hong_gai = app.unit_id("06691").await;
    let (before_mong_cai, before_ka_long, before_province) =
        (unit(&app, &mong_cai).await, unit(&app, &ka_long).await, unit(&app, &province).await);

    // Units outside the subtree do not exist for them.
    for id in [&mong_cai, &ka_long, &province] {
        let res =
            app.patch(&format!("/api/v1/units/{id}"), Some(&dadmin), json!({"name": "Đổi tên", "active": false})).await;
        assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;
    }
    assert_eq!(unit(&app, &mong_cai).await, before_mong_cai);
    assert_eq!(unit(&app, &ka_long).await, before_ka_long);
    assert_eq!(unit(&app, &province).await, before_province);

    // No root units, and nothing under another district.
    let res =
        app.post("/api/v1/units", Some(&dadmin), json!({"code": "98", "name": "Tỉnh Mới", "level": "province"})).await;
    assert_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    let body = json!({"code": "06998", "name": "Phường Mới", "level": "commune", "parent_id": mong_cai});
    let problem = assert_problem(
        app.post("/api/v1/units", Some(&dadmin), body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["parent_id"]);
    // Nor moves out of the subtree.
    let res = app.patch(&format!("/api/v1/units/{hong_gai}"), Some(&dadmin), json!({"parent_id": mong_cai})).await;
    let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&problem), ["parent_id"]);
    assert_eq!(list_codes(&app, "root=true").await, ["22"]);
    assert_eq!(list_codes(&app, "q=06998").await, Vec::<String>::new());
    assert_eq!(list_codes(&app, &format!("parent={mong_cai}")).await, ["06709", "06712", "06721"]);

    // Inside their subtree they administer normally.
    let ha_long = app.unit_id("193").await;
    let body = json!({"code": "06997", "name": "Phường Mới", "level": "commune", "parent_id": ha_long});
    assert_eq!(
        json_of(app.post("/api/v1/units", Some(&dadmin), body).await, StatusCode::CREATED).await["code"],
        "06997"
    );
    let res =
        app.patch(&format!("/api/v1/units/{hong_gai}"), Some(&dadmin), json!({"name": "Phường Hồng Gai mới"})).await;
    assert_eq!(json_of(res, StatusCode::OK).await["name"], "Phường Hồng Gai mới");
}

/// A read with bad input answers 200 with nothing found, or a 4xx problem;
/// never a 5xx.
async fn assert_harmless(res: Response) {
    let status = res.status();
    let text = res.text().await.unwrap();
    assert!(status == StatusCode::OK || status.is_client_error(), "{status}: {text}");
    if status == StatusCode::OK {
        let page: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(page["items"], json!([]), "{text}");
    }
}

/// PostgreSQL `TEXT` cannot hold U+0000: a NUL in a query string, a path or
/// a body is refused as bad input on both backends, never a 500, and changes
/// nothing.
async fn nul_characters_are_bad_input_not_500(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.token("admin").await;
    let ha_long = app.unit_id("193").await;
    let before = unit(&app, &ha_long).await;

    for query in ["q=a%00b", "parent=a%00b", "cursor=YQA"] {
        assert_harmless(app.get(&format!("/api/v1/units?{query}"), None).await).await;
    }
    assert_problem(app.get("/api/v1/units/a%00b", None).await, StatusCode::NOT_FOUND, "not_found").await;

    let body = json!({"code": "06999", "name": "Phường\u{0}Mới", "level": "commune", "parent_id": ha_long});
    let problem = assert_problem(
        app.post("/api/v1/units", Some(&admin), body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["name"]);
    let res = app.patch(&format!("/api/v1/units/{ha_long}"), Some(&admin), json!({"name": "Hạ\u{0}Long"})).await;
    let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&problem), ["name"]);
    let res = app.patch(&format!("/api/v1/units/{ha_long}"), Some(&admin), json!({"parent_id": "a\u{0}b"})).await;
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    assert_eq!(list_codes(&app, "q=06999").await, Vec::<String>::new());
    assert_eq!(unit(&app, &ha_long).await, before);
}
