//! The procedure catalogue: public search and filters, and maintenance by the
//! province administrator only.

mod common;

use std::collections::{BTreeSet, HashSet};

use common::{Backend, TestApp, assert_problem};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    default_list_shows_active_procedures_by_code,
    search_ignores_case_and_diacritics,
    filters_by_level_field_and_online_level,
    cursor_pagination_walks_the_catalogue,
    one_procedure_by_code,
    province_admin_creates_a_procedure,
    duplicate_procedure_codes_conflict,
    procedure_creation_is_validated,
    patch_changes_only_what_it_names,
    invalid_patches_change_nothing,
    deactivated_procedures_leave_the_default_list,
    only_the_province_admin_maintains_the_catalogue,
    nul_characters_are_bad_input_not_500,
);

const ALL: [&str; 9] =
    ["1.000656", "1.000894", "1.001193", "1.001612", "1.013225", "2.000488", "2.000815", "2.000884", "2.001610"];

/// Asserts the status and returns the JSON body (shown on failure).
async fn json_of(res: Response, status: StatusCode) -> Value {
    let got = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    serde_json::from_str(&text).unwrap()
}

fn codes(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|p| p["code"].as_str().unwrap().to_string()).collect()
}

fn error_fields(problem: &Value) -> BTreeSet<String> {
    problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_string()).collect()
}

async fn list(app: &TestApp, query: &str) -> Value {
    json_of(app.get(&format!("/api/v1/procedures?{query}"), None).await, StatusCode::OK).await
}

async fn list_codes(app: &TestApp, query: &str) -> Vec<String> {
    codes(&list(app, query).await)
}

async fn procedure(app: &TestApp, code: &str) -> Value {
    json_of(app.get(&format!("/api/v1/procedures/{code}"), None).await, StatusCode::OK).await
}

/// A valid new procedure.
fn spec(code: &str) -> Value {
    json!({
        "code": code,
        "name": "  Thủ tục cấp giấy phép thử nghiệm  ",
        "field": "Thử nghiệm",
        "levels": ["commune", "district", "commune"],
        "processing_days": 7,
        "cutoff_hour": 16,
        "fee_vnd": 150000,
        "online_level": "partial",
        "result_is_document": true,
        "components": [
            {"name": "Đơn đề nghị theo mẫu", "mandatory": true, "e_copy_accepted": false},
            {"name": "Bản sao Căn cước công dân", "mandatory": true, "e_copy_accepted": true},
            {"name": "Giấy ủy quyền (nếu có)", "mandatory": false, "e_copy_accepted": true},
        ],
    })
}

async fn default_list_shows_active_procedures_by_code(b: Backend) {
    let app = TestApp::spawn(b).await;
    let page = list(&app, "").await;
    assert_eq!(codes(&page), ALL);
    assert!(page["next_cursor"].is_null());
    for p in page["items"].as_array().unwrap() {
        assert_eq!(p["active"], true);
        assert!(p["id"].is_string() && p["name"].is_string() && p["field"].is_string());
        assert!(!p["components"].as_array().unwrap().is_empty(), "{p}");
        assert!(!p["levels"].as_array().unwrap().is_empty(), "{p}");
    }
    assert_eq!(list_codes(&app, "active=true").await, ALL);
    assert_eq!(list_codes(&app, "active=false").await, Vec::<String>::new());
}

async fn search_ignores_case_and_diacritics(b: Backend) {
    let app = TestApp::spawn(b).await;
    for q in ["khai sinh", "KHAI SINH", "đăng ký khai sinh", "dang ky khai sinh", "ĐĂNG KÝ   KHAI SINH", "1.001193"]
    {
        assert_eq!(list_codes(&app, &format!("q={q}")).await, ["1.001193"], "q={q}");
    }
    // The field is searched too, with or without diacritics.
    assert_eq!(list_codes(&app, "q=hộ tịch").await, ["1.000656", "1.000894", "1.001193"]);
    assert_eq!(list_codes(&app, "q=ho tich").await, ["1.000656", "1.000894", "1.001193"]);
    assert_eq!(list_codes(&app, "q=lý lịch tư pháp").await, ["2.000488"]);
    assert_eq!(list_codes(&app, "q=chung thuc").await, ["2.000815", "2.000884"]);
    // LIKE wildcards are searched literally.
    assert_eq!(list_codes(&app, "q=%25").await, Vec::<String>::new());
    assert_eq!(list_codes(&app, "q=_").await, Vec::<String>::new());
    assert_eq!(list_codes(&app, "q=khai sinh con voi").await, Vec::<String>::new());
}

async fn filters_by_level_field_and_online_level(b: Backend) {
    let app = TestApp::spawn(b).await;
    for (level, expected) in [
        ("province", vec!["2.000488", "2.001610"]),
        ("district", vec!["1.001612", "1.013225"]),
        ("commune", vec!["1.000656", "1.000894", "1.001193", "2.000815", "2.000884"]),
    ] {
        let page = list(&app, &format!("level={level}")).await;
        assert_eq!(codes(&page), expected, "level={level}");
        for p in page["items"].as_array().unwrap() {
            assert!(p["levels"].as_array().unwrap().contains(&json!(level)), "{p}");
        }
    }

    // A procedure performed at several levels is found at each of them.
    let admin = app.token("admin").await;
    let mut body = spec("9.000001");
    body["levels"] = json!(["province", "commune"]);
    assert_eq!(app.post("/api/v1/procedures", Some(&admin), body).await.status(), StatusCode::CREATED);
    assert_eq!(list_codes(&app, "level=province").await, ["2.000488", "2.001610", "9.000001"]);
    assert_eq!(list_codes(&app, "level=commune").await.last().map(String::as_str), Some("9.000001"));
    assert!(!list_codes(&app, "level=district").await.contains(&"9.000001".to_string()));

    // The field is an exact sector name.
    assert_eq!(list_codes(&app, "field=Hộ tịch").await, ["1.000656", "1.000894", "1.001193"]);
    assert_eq!(list_codes(&app, "field=Chứng thực").await, ["2.000815", "2.000884"]);
    assert_eq!(list_codes(&app, "field=Không có").await, Vec::<String>::new());

    assert_eq!(list_codes(&app, "online_level=partial").await, ["1.013225", "2.000884", "9.000001"]);
    assert_eq!(list_codes(&app, "online_level=partial&level=commune&field=Chứng thực").await, ["2.000884"]);
    assert_eq!(list_codes(&app, "q=thu tuc&level=province&field=Lý lịch tư pháp").await, ["2.000488"]);

    for query in ["level=village", "online_level=half", "active=perhaps", "sort=name"] {
        let res = app.get(&format!("/api/v1/procedures?{query}"), None).await;
        assert_problem(res, StatusCode::BAD_REQUEST, "invalid_query").await;
    }
}

async fn cursor_pagination_walks_the_catalogue(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut seen: Vec<String> = Vec::new();
    let mut sizes = Vec::new();
    let mut query = "limit=4".to_string();
    loop {
        let page = list(&app, &query).await;
        sizes.push(page["items"].as_array().unwrap().len());
        seen.extend(codes(&page));
        match page["next_cursor"].as_str() {
            Some(c) => query = format!("limit=4&cursor={c}"),
            None => break,
        }
        assert!(sizes.len() < 10, "pagination does not end");
    }
    assert_eq!(sizes, [4, 4, 1]);
    assert_eq!(seen, ALL);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), ALL.len());

    // Filters hold across pages.
    let first = list(&app, "level=commune&limit=3").await;
    assert_eq!(codes(&first), ["1.000656", "1.000894", "1.001193"]);
    let next = list(&app, &format!("level=commune&limit=3&cursor={}", first["next_cursor"].as_str().unwrap())).await;
    assert_eq!(codes(&next), ["2.000815", "2.000884"]);
    assert!(next["next_cursor"].is_null());

    // A page exactly as long as what is left has no cursor.
    assert!(list(&app, "limit=9").await["next_cursor"].is_null());

    for (query, field) in [("limit=0", "limit"), ("limit=201", "limit"), ("cursor=%25%25", "cursor")] {
        let problem = assert_problem(
            app.get(&format!("/api/v1/procedures?{query}"), None).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), BTreeSet::from([field.to_string()]), "{query}");
    }
}

async fn one_procedure_by_code(b: Backend) {
    let app = TestApp::spawn(b).await;
    let p = procedure(&app, "1.001193").await;
    assert_eq!(p["code"], "1.001193");
    assert_eq!(p["name"], "Thủ tục đăng ký khai sinh");
    assert_eq!(p["field"], "Hộ tịch");
    assert_eq!(p["levels"], json!(["commune"]));
    assert_eq!(p["processing_days"], 1);
    assert_eq!(p["cutoff_hour"], 15);
    assert_eq!(p["fee_vnd"], 0);
    assert_eq!(p["online_level"], "full");
    assert_eq!(p["result_is_document"], true);
    assert_eq!(p["active"], true);
    assert!(p["id"].is_string());
    let components = p["components"].as_array().unwrap();
    let names: Vec<&str> = components.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "Tờ khai đăng ký khai sinh theo mẫu",
            "Giấy chứng sinh hoặc giấy tờ thay thế Giấy chứng sinh",
            "Bản sao Căn cước công dân của người đi đăng ký khai sinh",
            "Văn bản ủy quyền có chứng thực (trường hợp ủy quyền đăng ký khai sinh)",
        ]
    );
    assert_eq!(components[2], json!({"name": names[2], "mandatory": true, "e_copy_accepted": true}));
    assert_eq!(components[3]["mandatory"], false);

    // The list shows the same document.
    let listed = list(&app, "q=1.001193").await;
    assert_eq!(listed["items"][0], p);

    for code in ["9.999999", "khai-sinh", "1.00119"] {
        let res = app.get(&format!("/api/v1/procedures/{code}"), None).await;
        assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;
    }
}

async fn province_admin_creates_a_procedure(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.token("admin").await;
    let res = app.post("/api/v1/procedures", Some(&admin), spec("9.000001")).await;
    let created = json_of(res, StatusCode::CREATED).await;
    assert!(created["id"].is_string());
    assert_eq!(created["code"], "9.000001");
    assert_eq!(created["name"], "Thủ tục cấp giấy phép thử nghiệm", "the name is trimmed");
    assert_eq!(created["field"], "Thử nghiệm");
    let levels: BTreeSet<&str> = created["levels"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    assert_eq!(levels, BTreeSet::from(["commune", "district"]));
    assert_eq!(created["levels"].as_array().unwrap().len(), 2, "levels are not repeated");
    assert_eq!(created["processing_days"], 7);
    assert_eq!(created["cutoff_hour"], 16);
    assert_eq!(created["fee_vnd"], 150000);
    assert_eq!(created["online_level"], "partial");
    assert_eq!(created["result_is_document"], true);
    assert_eq!(created["active"], true);
    assert_eq!(created["components"], spec("x")["components"], "components echoed in order");

    // Readable by anyone, found by search and filters.
    assert_eq!(procedure(&app, "9.000001").await, created);
    assert_eq!(list_codes(&app, "q=giay phep thu nghiem").await, ["9.000001"]);
    assert_eq!(list_codes(&app, "field=Thử nghiệm").await, ["9.000001"]);
    assert!(list_codes(&app, "level=district").await.contains(&"9.000001".to_string()));
    assert_eq!(list_codes(&app, "").await.len(), ALL.len() + 1);

    // Fifty components is the most; a free procedure with no deadline is fine.
    let mut big = spec("9.000002");
    big["components"] = json!(
        (0..50)
            .map(|i| json!({"name": format!("Giấy tờ {i}"), "mandatory": i % 2 == 0, "e_copy_accepted": false}))
            .collect::<Vec<_>>()
    );
    big["fee_vnd"] = json!(0);
    big["processing_days"] = json!(0);
    let created = json_of(app.post("/api/v1/procedures", Some(&admin), big.clone()).await, StatusCode::CREATED).await;
    assert_eq!(created["components"], big["components"]);
    assert_eq!(procedure(&app, "9.000002").await["components"][49]["name"], "Giấy tờ 49");
}

async fn duplicate_procedure_codes_conflict(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.token("admin").await;
    let before = procedure(&app, "1.001193").await;
    let mut body = spec("1.001193");
    body["name"] = json!("Thủ tục trùng mã");
    let res = app.post("/api/v1/procedures", Some(&admin), body).await;
    assert_problem(res, StatusCode::CONFLICT, "procedure_code_taken").await;
    assert_eq!(procedure(&app, "1.001193").await, before);

    assert_eq!(app.post("/api/v1/procedures", Some(&admin), spec("9.000001")).await.status(), StatusCode::CREATED);
    let created = procedure(&app, "9.000001").await;
    let mut again = spec("9.000001");
    again["fee_vnd"] = json!(1);
    let res = app.post("/api/v1/procedures", Some(&admin), again).await;
    assert_problem(res, StatusCode::CONFLICT, "procedure_code_taken").await;
    assert_eq!(procedure(&app, "9.000001").await, created);
    assert_eq!(list_codes(&app, "q=trung ma").await, Vec::<String>::new());
    assert_eq!(list_codes(&app, "").await.len(), ALL.len() + 1);
}

async fn procedure_creation_is_validated(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.token("admin").await;
    let post = |body: Value| app.post("/api/v1/procedures", Some(&admin), body);

    // One entry per bad field.
    let mut body = spec("9.000001");
    body["name"] = json!("   ");
    body["processing_days"] = json!(-1);
    body["cutoff_hour"] = json!(25);
    body["levels"] = json!([]);
    body["components"] = json!([]);
    let problem = assert_problem(post(body).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let expected = ["name", "processing_days", "cutoff_hour", "levels", "components"];
    assert_eq!(error_fields(&problem), expected.iter().map(|f| f.to_string()).collect::<BTreeSet<_>>());
    assert_eq!(problem["errors"].as_array().unwrap().len(), expected.len());
    for e in problem["errors"].as_array().unwrap() {
        assert!(!e["message"].as_str().unwrap().is_empty(), "{e}");
    }

    // Each rule on its own.
    let cases: [(&str, Value, &str); 10] = [
        ("code", json!("a b"), "code"),
        ("code", json!(""), "code"),
        ("field", json!(""), "field"),
        ("name", json!("x".repeat(501)), "name"),
        ("processing_days", json!(366), "processing_days"),
        ("cutoff_hour", json!(-1), "cutoff_hour"),
        ("fee_vnd", json!(-1), "fee_vnd"),
        ("fee_vnd", json!(1_000_000_000_001_i64), "fee_vnd"),
        (
            "components",
            json!([{"name": "Đơn", "mandatory": true, "e_copy_accepted": false},
                              {"name": " ", "mandatory": true, "e_copy_accepted": false}]),
            "components[1].name",
        ),
        (
            "components",
            json!(
                (0..51)
                    .map(|i| json!({"name": format!("Giấy tờ {i}"), "mandatory": true, "e_copy_accepted": false}))
                    .collect::<Vec<_>>()
            ),
            "components",
        ),
    ];
    for (key, value, field) in cases {
        let mut body = spec("9.000001");
        body[key] = value;
        let problem = assert_problem(post(body).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(error_fields(&problem), BTreeSet::from([field.to_string()]), "{key}");
    }

    // Wrong shapes: unknown fields (top level or in a component), wrong types,
    // unknown enum values, missing fields.
    let mut unknown = spec("9.000001");
    unknown["active"] = json!(false);
    let mut unknown_in_component = spec("9.000001");
    unknown_in_component["components"][0]["format"] = json!("pdf");
    let mut fee_text = spec("9.000001");
    fee_text["fee_vnd"] = json!("abc");
    let mut days_fraction = spec("9.000001");
    days_fraction["processing_days"] = json!(1.5);
    let mut bad_level = spec("9.000001");
    bad_level["levels"] = json!(["village"]);
    let mut bad_online = spec("9.000001");
    bad_online["online_level"] = json!("half");
    let mut missing = spec("9.000001");
    missing.as_object_mut().unwrap().remove("components");
    let mut missing_flag = spec("9.000001");
    missing_flag["components"][0].as_object_mut().unwrap().remove("mandatory");
    for body in [unknown, unknown_in_component, fee_text, days_fraction, bad_level, bad_online, missing, missing_flag] {
        assert_problem(post(body).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }

    // Nothing was created.
    assert_problem(app.get("/api/v1/procedures/9.000001", None).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(list_codes(&app, "").await, ALL);
}

async fn patch_changes_only_what_it_names(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.token("admin").await;
    let before = procedure(&app, "1.001193").await;
    let components = json!([
        {"name": "Tờ khai điện tử", "mandatory": true, "e_copy_accepted": true},
        {"name": "Giấy chứng sinh", "mandatory": true, "e_copy_accepted": false},
    ]);
    let res = app
        .patch("/api/v1/procedures/1.001193", Some(&admin), json!({"fee_vnd": 5000, "components": components}))
        .await;
    let updated = json_of(res, StatusCode::OK).await;
    assert_eq!(updated["fee_vnd"], 5000);
    assert_eq!(updated["components"], components, "components replaced, in order");
    let mut expected = before.clone();
    expected["fee_vnd"] = json!(5000);
    expected["components"] = components.clone();
    assert_eq!(updated, expected, "absent fields are unchanged");
    assert_eq!(procedure(&app, "1.001193").await, updated);

    // Renaming and changing the levels: search and filters follow.
    let res = app
        .patch(
            "/api/v1/procedures/1.001193",
            Some(&admin),
            json!({"name": "Thủ tục đăng ký khai sinh trực tuyến", "levels": ["district", "commune"],
                   "cutoff_hour": 17, "online_level": "partial", "result_is_document": false}),
        )
        .await;
    let renamed = json_of(res, StatusCode::OK).await;
    assert_eq!(renamed["name"], "Thủ tục đăng ký khai sinh trực tuyến");
    assert_eq!(renamed["cutoff_hour"], 17);
    assert_eq!(renamed["online_level"], "partial");
    assert_eq!(renamed["result_is_document"], false);
    assert_eq!(renamed["fee_vnd"], 5000);
    assert_eq!(renamed["components"], components);
    assert_eq!(renamed["id"], before["id"]);
    assert_eq!(list_codes(&app, "q=khai sinh truc tuyen").await, ["1.001193"]);
    assert!(list_codes(&app, "level=district").await.contains(&"1.001193".to_string()));

    // An empty patch changes nothing.
    let res = app.patch("/api/v1/procedures/1.001193", Some(&admin), json!({})).await;
    assert_eq!(json_of(res, StatusCode::OK).await, renamed);

    // Other procedures are untouched.
    assert_eq!(procedure(&app, "1.000656").await["components"].as_array().unwrap().len(), 3);
}

async fn invalid_patches_change_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.token("admin").await;
    let before = procedure(&app, "1.001193").await;
    let patch = |body: Value| app.patch("/api/v1/procedures/1.001193", Some(&admin), body);

    // A valid change next to an invalid one is not applied either.
    let problem = assert_problem(
        patch(json!({"fee_vnd": 7000, "processing_days": -1, "components": []})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), BTreeSet::from(["processing_days".to_string(), "components".to_string()]));
    for body in [
        json!({"name": ""}),
        json!({"levels": []}),
        json!({"cutoff_hour": 25}),
        json!({"code": "9.000001"}),
        json!({"fee_vnd": "abc"}),
        json!({"active": "no"}),
        json!({"components": [{"name": "Đơn"}]}),
    ] {
        assert_problem(patch(body.clone()).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
    assert_eq!(procedure(&app, "1.001193").await, before);

    let res = app.patch("/api/v1/procedures/9.999999", Some(&admin), json!({"fee_vnd": 1})).await;
    assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(app.get("/api/v1/procedures/9.999999", None).await, StatusCode::NOT_FOUND, "not_found").await;
}

async fn deactivated_procedures_leave_the_default_list(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.token("admin").await;
    let res = app.patch("/api/v1/procedures/1.001193", Some(&admin), json!({"active": false})).await;
    let off = json_of(res, StatusCode::OK).await;
    assert_eq!(off["active"], false);
    assert_eq!(off["name"], "Thủ tục đăng ký khai sinh");

    let default = list_codes(&app, "").await;
    assert_eq!(default.len(), ALL.len() - 1);
    assert!(!default.contains(&"1.001193".to_string()));
    assert_eq!(list_codes(&app, "q=khai sinh").await, Vec::<String>::new());
    assert_eq!(list_codes(&app, "active=false").await, ["1.001193"]);
    assert_eq!(list_codes(&app, "active=false&q=khai sinh").await, ["1.001193"]);
    // Still readable by code, e.g. for dossiers filed before.
    assert_eq!(procedure(&app, "1.001193").await, off);

    // Other changes keep it inactive; reactivation brings it back.
    let res = app.patch("/api/v1/procedures/1.001193", Some(&admin), json!({"fee_vnd": 1000})).await;
    assert_eq!(json_of(res, StatusCode::OK).await["active"], false);
    let res = app.patch("/api/v1/procedures/1.001193", Some(&admin), json!({"active": true})).await;
    assert_eq!(json_of(res, StatusCode::OK).await["active"], true);
    assert_eq!(list_codes(&app, "").await, ALL);
    assert_eq!(list_codes(&app, "active=false").await, Vec::<String>::new());
}

async fn only_the_province_admin_maintains_the_catalogue(b: Backend) {
    let app = TestApp::spawn(b).await;
    let district_admin = app.staff_token("dadmin@x.vn", &["admin"], "193").await;
    let commune_admin = app.staff_token("cadmin@x.vn", &["admin"], "06691").await;
    let before = procedure(&app, "1.001193").await;

    let mut refused = vec![district_admin, commune_admin];
    for who in ["clerk", "specialist", "approver", "auditor", "citizen"] {
        refused.push(app.token(who).await);
    }
    for token in &refused {
        let res = app.post("/api/v1/procedures", Some(token), spec("9.000001")).await;
        assert_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
        let res =
            app.patch("/api/v1/procedures/1.001193", Some(token), json!({"fee_vnd": 5000, "active": false})).await;
        assert_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let res = app.post("/api/v1/procedures", None, spec("9.000001")).await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let res = app.patch("/api/v1/procedures/1.001193", None, json!({"fee_vnd": 5000})).await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let res = app.patch("/api/v1/procedures/1.001193", Some("garbage"), json!({"fee_vnd": 5000})).await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "invalid_token").await;

    // Nothing changed.
    assert_problem(app.get("/api/v1/procedures/9.000001", None).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(procedure(&app, "1.001193").await, before);
    assert_eq!(list_codes(&app, "").await, ALL);
}

/// PostgreSQL `TEXT` cannot hold U+0000: a NUL in a search, a code or a body
/// is refused as bad input on both backends, never a 500, and changes nothing.
async fn nul_characters_are_bad_input_not_500(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.token("admin").await;
    let before = procedure(&app, "1.001193").await;

    for query in ["q=khai%00sinh", "field=H%E1%BB%99%00t%E1%BB%8Bch"] {
        let res = app.get(&format!("/api/v1/procedures?{query}"), None).await;
        let status = res.status();
        let text = res.text().await.unwrap();
        assert!(status == StatusCode::OK || status.is_client_error(), "{query}: {status}: {text}");
    }
    assert_problem(app.get("/api/v1/procedures/1.001193%00", None).await, StatusCode::NOT_FOUND, "not_found").await;

    let mut body = spec("9.000001");
    body["name"] = json!("Thủ tục\u{0}thử");
    body["components"][1]["name"] = json!("Bản sao\u{0}");
    let problem = assert_problem(
        app.post("/api/v1/procedures", Some(&admin), body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), BTreeSet::from(["name".to_string(), "components[1].name".to_string()]));
    let res = app.patch("/api/v1/procedures/1.001193", Some(&admin), json!({"field": "Hộ\u{0}tịch"})).await;
    let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&problem), BTreeSet::from(["field".to_string()]));

    assert_problem(app.get("/api/v1/procedures/9.000001", None).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(procedure(&app, "1.001193").await, before);
}
