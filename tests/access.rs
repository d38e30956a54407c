//! The access matrix: every endpoint of the API × every kind of caller → the
//! status it gets. 401 without a valid token, 403 for a role that lacks the
//! right, 404 for what the caller may not see (never revealing that it
//! exists). Requests are valid in shape, so that the status reflects access;
//! a 409 means "allowed, but not in the dossier's current state".

mod common;

use common::flow::*;
use common::{Backend, TestApp, citizen};
use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(every_endpoint_for_every_caller);

/// The callers, in the order of each row's expectations.
const CALLERS: [&str; 12] = [
    "owner",
    "other citizen",
    "clerk",
    "specialist",
    "approver",
    "auditor",
    "clerk@194",
    "specialist@194",
    "approver@194",
    "auditor@194",
    "admin",
    "anonymous",
];

/// What a row sends.
enum Body {
    None,
    Json(Value),
    /// A multipart form: a `file` part holding a PDF, and these text parts.
    Pdf(&'static [(&'static str, &'static str)]),
    /// A new citizen's registration, unique per caller.
    Registration,
    /// A refresh token of its own, freshly issued for each caller.
    FreshRefreshToken,
}

struct Row {
    method: Method,
    /// `{name}` is replaced by the fixture's value of that name; `{fresh}` by
    /// a dossier registered for each caller (for a row whose success would
    /// change what the next caller meets).
    path: &'static str,
    body: Body,
    /// One status per caller, in the order of `CALLERS`.
    expect: &'static str,
}

fn row(method: Method, path: &'static str, body: Body, expect: &'static str) -> Row {
    Row { method, path, body, expect }
}

/// What the rows refer to: a dossier of the demo citizen at commune 06691
/// (Hạ Long, 193), in progress with a document; one with a signed result;
/// one returned (to be rated).
struct Fixture {
    values: Vec<(&'static str, String)>,
    clerk: String,
}

impl Fixture {
    fn fill(&self, template: &str) -> String {
        self.values.iter().fold(template.to_string(), |p, (k, v)| p.replace(&format!("{{{k}}}"), v))
    }
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

async fn prepare(app: &TestApp, tokens: &[Option<String>]) -> Fixture {
    let token = |name: &str| tokens[CALLERS.iter().position(|c| *c == name).unwrap()].clone().unwrap();
    let (owner, clerk, specialist, approver) = (token("owner"), token("clerk"), token("specialist"), token("approver"));

    let d1 = file(app, &owner, BIRTH, "06691").await;
    let uploaded = json_ok(upload(app, &owner, &d1, 0, pdf(), "to-khai.pdf", None).await, StatusCode::CREATED).await;
    act_ok(app, &clerk, &d1, json!({"action": "receive"})).await;
    act_ok(app, &specialist, &d1, json!({"action": "claim"})).await;

    let d2 = register(app, &clerk, HOUSEHOLD_BUSINESS, "193").await;
    act_ok(app, &specialist, &d2, json!({"action": "claim"})).await;
    let draft = app
        .client
        .post(app.url(&format!("/api/v1/dossiers/{}/result", id(&d2))))
        .bearer_auth(&specialist)
        .multipart(Form::new().part("file", Part::bytes(pdf()).file_name("kq.pdf")))
        .send()
        .await
        .unwrap();
    json_ok(draft, StatusCode::CREATED).await;
    act_ok(app, &specialist, &d2, json!({"action": "submit_for_approval"})).await;
    act_ok(app, &approver, &d2, json!({"action": "approve"})).await;
    let result = app.get(&format!("/api/v1/dossiers/{}/result", id(&d2)), Some(&clerk)).await;
    let number = result.headers()["x-result-number"].to_str().unwrap().to_string();

    let d3 = register(app, &clerk, BIRTH, "06691").await;
    act_ok(app, &specialist, &d3, json!({"action": "claim"})).await;
    act_ok(app, &specialist, &d3, json!({"action": "submit_for_approval"})).await;
    act_ok(app, &approver, &d3, json!({"action": "approve"})).await;
    act_ok(app, &clerk, &d3, json!({"action": "return_result"})).await;

    let complaint = json!({"dossier_id": id(&d1), "subject": "Chậm hẹn", "content": "Hồ sơ chưa được xử lý."});
    let k1 = json_ok(app.post("/api/v1/complaints", Some(&owner), complaint).await, StatusCode::CREATED).await;

    let me_clerk: Value = app.get("/api/v1/me", Some(&clerk)).await.json().await.unwrap();
    let commune: Value =
        app.get(&format!("/api/v1/units/{}", app.unit_id("06691").await), None).await.json().await.unwrap();
    let values = vec![
        ("d1", id(&d1)),
        ("c1", d1["components"][0]["id"].as_str().unwrap().to_string()),
        ("f1", id(uploaded["components"][0]["files"].as_array().unwrap().last().unwrap())),
        ("code1", d1["code"].as_str().unwrap().to_string()),
        ("d2", id(&d2)),
        ("k1", id(&k1)),
        ("number2", number),
        ("d3", id(&d3)),
        ("u193", app.unit_id("193").await),
        ("u06691", id(&commune)),
        ("commune_name", commune["name"].as_str().unwrap().to_string()),
        ("clerk_id", id(&me_clerk)),
    ];
    Fixture { values, clerk }
}

/// The callers' tokens, in the order of `CALLERS`.
async fn callers(app: &TestApp) -> Vec<Option<String>> {
    assert_eq!(app.post("/api/v1/auth/register", None, citizen(1)).await.status(), StatusCode::ACCEPTED);
    let other = app.login("citizen1@example.vn", "mật khẩu an toàn").await;
    let mut tokens = vec![
        Some(app.token("citizen").await),
        other["access_token"].as_str().map(str::to_string),
        Some(app.token("clerk").await),
        Some(app.token("specialist").await),
        Some(app.token("approver").await),
        Some(app.staff_token("auditor.193@example.vn", &["auditor"], "193").await),
    ];
    for role in ["clerk", "specialist", "approver", "auditor"] {
        tokens.push(Some(app.staff_token(&format!("{role}.194@example.vn"), &[role], "194").await));
    }
    tokens.extend([Some(app.token("admin").await), None]);
    tokens
}

fn rows() -> Vec<Row> {
    use Body::{FreshRefreshToken, Json, Pdf, Registration};
    let none = || Body::None;
    let login = json!({"email": "citizen@motcua.local", "password": motcua::seed::DEMO_PASSWORD});
    let (get, post, patch, put, delete) = (Method::GET, Method::POST, Method::PATCH, Method::PUT, Method::DELETE);
    // Callers:     own oth clk spe apr aud clk spe apr aud adm anon
    //                              (193)               (194)
    let admin_only_201 = "403 403 403 403 403 403 403 403 403 403 201 401";
    let admin_only_200 = "403 403 403 403 403 403 403 403 403 403 200 401";
    let everyone = "200 200 200 200 200 200 200 200 200 200 200 200";
    let signed_in = "200 200 200 200 200 200 200 200 200 200 200 401";
    let staff = "403 403 200 200 200 200 200 200 200 200 200 401";
    let sees_d1 = "200 404 200 200 200 200 404 404 404 404 200 401";
    let statistics = "403 403 403 403 200 200 403 403 404 404 200 401";
    vec![
        // auth: open to all; a bearer token changes nothing.
        row(post.clone(), "/api/v1/auth/register", Registration, "202 202 202 202 202 202 202 202 202 202 202 202"),
        row(post.clone(), "/api/v1/auth/login", Json(login), everyone),
        row(post.clone(), "/api/v1/auth/refresh", FreshRefreshToken, everyone),
        row(post.clone(), "/api/v1/auth/logout", FreshRefreshToken, "204 204 204 204 204 204 204 204 204 204 204 204"),
        row(get.clone(), "/api/v1/me", none(), signed_in),
        // A clerk of any unit verifies a citizen's national ID at the desk.
        row(
            post.clone(),
            "/api/v1/identity/verifications",
            Json(json!({"email": "citizen1@example.vn", "national_id": citizen(1)["national_id"]})),
            "403 403 200 403 403 403 200 403 403 403 403 401",
        ),
        // Public reference data.
        row(get.clone(), "/api/v1/units", none(), everyone),
        row(get.clone(), "/api/v1/units/{u193}", none(), everyone),
        row(get.clone(), "/api/v1/procedures", none(), everyone),
        row(get.clone(), "/api/v1/procedures/1.001193", none(), everyone),
        row(get.clone(), "/api/v1/procedures/1.001193/processes", none(), everyone),
        row(get.clone(), "/api/v1/holidays?year=2026", none(), everyone),
        row(get.clone(), "/api/v1/keys", none(), everyone),
        row(get.clone(), "/api/v1/verify/{number2}", none(), everyone),
        row(post.clone(), "/api/v1/verify", Pdf(&[]), everyone),
        row(get.clone(), "/api/v1/lookup?code={code1}&national_id=022095001234", none(), everyone),
        // Staff accounts: staff read within scope.
        row(get.clone(), "/api/v1/admin/users", none(), staff),
        row(get.clone(), "/api/v1/delegations", none(), staff),
        row(get.clone(), "/api/v1/admin/users/{clerk_id}", none(), "403 403 200 200 200 200 404 404 404 404 200 401"),
        // Dossiers: the applicant and staff whose subtree holds them.
        row(get.clone(), "/api/v1/dossiers", none(), signed_in),
        row(get.clone(), "/api/v1/dossiers/{d1}", none(), sees_d1),
        row(get.clone(), "/api/v1/dossiers/{d1}/events", none(), sees_d1),
        row(get.clone(), "/api/v1/dossiers/{d1}/control-slip", none(), sees_d1),
        row(get.clone(), "/api/v1/dossiers/{d1}/files/{f1}", none(), sees_d1),
        // The applicant's copy waits for the fee (unpaid here); staff read it.
        row(get.clone(), "/api/v1/dossiers/{d2}/result", none(), "409 404 200 200 200 200 404 404 404 404 200 401"),
        row(get.clone(), "/api/v1/me/documents", none(), signed_in),
        row(get.clone(), "/api/v1/queue", none(), "403 403 200 200 200 403 200 200 200 403 403 401"),
        row(get.clone(), "/api/v1/ratings", none(), staff),
        // Statistics: auditors, approvers and administrators, of a unit in scope.
        row(get.clone(), "/api/v1/stats?unit={u193}", none(), statistics),
        row(get.clone(), "/api/v1/stats/scorecard?unit={u193}", none(), statistics),
        row(get.clone(), "/api/v1/stats/steps?unit={u193}", none(), statistics),
        row(get.clone(), "/api/v1/exports/steps.csv?unit={u193}", none(), statistics),
        row(get.clone(), "/api/v1/exports/stats.csv?unit={u193}", none(), statistics),
        row(get.clone(), "/api/v1/exports/dossiers.csv?unit={u193}", none(), statistics),
        row(get.clone(), "/api/v1/audit", none(), "403 403 403 403 403 200 403 403 403 200 200 401"),
        row(get.clone(), "/api/v1/exports/audit.csv", none(), "403 403 403 403 403 200 403 403 403 200 200 401"),
        row(get.clone(), "/api/v1/audit/verify", none(), admin_only_200),
        // Administration: the province's administrator.
        row(
            post.clone(),
            "/api/v1/units",
            Json(json!({"code": "99901", "name": "Phường Thử", "level": "commune", "parent_id": "{u193}"})),
            admin_only_201,
        ),
        row(patch.clone(), "/api/v1/units/{u06691}", Json(json!({"name": "{commune_name}"})), admin_only_200),
        row(post.clone(), "/api/v1/procedures", Json(procedure_spec()), admin_only_201),
        row(patch.clone(), "/api/v1/procedures/1.001193", Json(json!({"processing_days": 1})), admin_only_200),
        row(
            post.clone(),
            "/api/v1/procedures/1.001193/processes",
            Json(json!({"steps": [
                {"name": "Thẩm định", "role": "specialist", "allotted_minutes": 240, "kind": "ordinary"},
                {"name": "Ký", "role": "approver", "allotted_minutes": 120, "kind": "signing"},
            ]})),
            admin_only_201,
        ),
        row(
            put.clone(),
            "/api/v1/holidays/2026-12-24",
            Json(json!({"kind": "holiday", "name": "Nghỉ thử"})),
            admin_only_200,
        ),
        row(delete, "/api/v1/holidays/2026-12-24", none(), "403 403 403 403 403 403 403 403 403 403 204 401"),
        row(
            post.clone(),
            "/api/v1/admin/users",
            Json(json!({"email": "new.clerk@example.vn", "full_name": "Cán bộ mới",
                        "password": motcua::seed::DEMO_PASSWORD, "roles": ["clerk"], "unit_id": "{u193}"})),
            admin_only_201,
        ),
        row(patch, "/api/v1/admin/users/{clerk_id}", Json(json!({"full_name": "Cán bộ một cửa"})), admin_only_200),
        // Dossier work.
        row(
            post.clone(),
            "/api/v1/dossiers",
            Json(json!({"procedure_code": BIRTH, "unit_id": "{u06691}", "form": {"ho_ten_tre": "Bé"}})),
            "201 201 403 403 403 403 403 403 403 403 403 401",
        ),
        row(
            post.clone(),
            "/api/v1/dossiers/{fresh}/actions",
            Json(json!({"action": "claim"})),
            "403 404 403 200 403 403 404 404 404 404 403 401",
        ),
        row(
            post.clone(),
            "/api/v1/dossiers/{d1}/components/{c1}/files",
            Pdf(&[]),
            "409 404 201 403 403 403 404 404 404 404 403 401",
        ),
        row(post.clone(), "/api/v1/dossiers/{d1}/result", Pdf(&[]), "403 404 403 201 201 403 404 404 404 404 403 401"),
        row(
            post.clone(),
            "/api/v1/dossiers/{d2}/result/replace",
            Pdf(&[("reason", "Sai chính tả")]),
            "403 404 403 403 201 403 404 404 404 404 403 401",
        ),
        row(
            post.clone(),
            "/api/v1/dossiers/{d2}/result/collect",
            none(),
            "409 404 403 403 403 403 404 404 404 404 403 401",
        ),
        row(
            post.clone(),
            "/api/v1/dossiers/{d2}/result/revoke",
            Json(json!({"reason": "Cấp nhầm"})),
            "403 404 403 403 200 403 404 404 404 404 403 401",
        ),
        row(
            post.clone(),
            "/api/v1/dossiers/{d2}/payments",
            Json(json!({"channel": "counter"})),
            "403 404 201 403 403 403 404 404 404 404 403 401",
        ),
        row(
            post.clone(),
            "/api/v1/payments/callback/demo",
            Json(json!({"payment_id": "x", "dossier_code": "{code1}", "provider_ref": "r", "amount_vnd": 1,
                        "status": "paid"})),
            "401 401 401 401 401 401 401 401 401 401 401 401",
        ),
        row(
            post.clone(),
            "/api/v1/dossiers/{d3}/rating",
            Json(json!({"reception": "satisfied", "processing_time": "satisfied",
                        "staff_conduct": "very_satisfied", "result": "satisfied"})),
            "201 404 403 403 403 403 404 404 404 404 403 401",
        ),
        // The national portal: its service account files (none of these
        // callers is it); administrators see which mirrors lag.
        row(
            post.clone(),
            "/api/v1/portal/dossiers",
            Json(json!({"portal_code": "G22-1", "procedure_code": "1.001193", "unit_code": "06691",
                        "applicant": {"kind": "citizen", "name": "Trần Thị Bình", "national_id": "022195004321"}})),
            "403 403 403 403 403 403 403 403 403 403 403 401",
        ),
        row(get.clone(), "/api/v1/portal/sync", none(), admin_only_200),
        // The assessment of a dossier whose result was issued: who sees the dossier.
        row(get.clone(), "/api/v1/dossiers/{d3}/assessment", none(), "200 404 200 200 200 200 404 404 404 404 200 401"),
        // Complaints: citizens lodge about their own dossiers; staff whose
        // subtree answers them see and answer them, once.
        row(get.clone(), "/api/v1/complaints", none(), signed_in),
        row(get.clone(), "/api/v1/complaints/{k1}", none(), sees_d1),
        row(
            post.clone(),
            "/api/v1/complaints",
            Json(json!({"dossier_id": "{d1}", "subject": "Thái độ", "content": "Cán bộ hướng dẫn chưa rõ."})),
            "201 404 403 403 403 403 403 403 403 403 403 401",
        ),
        row(
            post.clone(),
            "/api/v1/complaints/{k1}/answer",
            Json(json!({"answer": "Đơn vị đã chấn chỉnh.", "substantiated": true})),
            "403 403 200 409 409 403 404 404 404 403 409 401",
        ),
        // Last: it takes whatever is waiting in the queue.
        row(post, "/api/v1/queue/claim", none(), "403 403 204 200 204 403 204 204 204 403 403 401"),
    ]
}

fn procedure_spec() -> Value {
    json!({
        "code": "9.000099", "name": "Thủ tục thử", "field": "Thử nghiệm", "levels": ["commune"],
        "processing_days": 3, "cutoff_hour": 16, "fee_vnd": 0, "online_level": "full",
        "result_is_document": false,
        "components": [{"name": "Đơn", "mandatory": true, "e_copy_accepted": false}],
    })
}

/// Fills `{name}` placeholders inside a JSON body.
fn fill_json(fixture: &Fixture, v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(fixture.fill(s)),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), fill_json(fixture, v))).collect()),
        other => other.clone(),
    }
}

async fn send(app: &TestApp, fixture: &Fixture, row: &Row, token: Option<&str>, n: usize) -> StatusCode {
    let mut path = fixture.fill(row.path);
    if path.contains("{fresh}") {
        let fresh = register(app, &fixture.clerk, BIRTH, "06691").await;
        path = path.replace("{fresh}", &id(&fresh));
    }
    let mut req = app.client.request(row.method.clone(), app.url(&path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req = match &row.body {
        Body::None => req,
        Body::Json(v) => req.json(&fill_json(fixture, v)),
        Body::Pdf(fields) => req.multipart(
            fields
                .iter()
                .fold(Form::new().part("file", Part::bytes(pdf()).file_name("a.pdf")), |f, (k, v)| f.text(*k, *v)),
        ),
        Body::Registration => req.json(&citizen(100 + n as u32)),
        Body::FreshRefreshToken => {
            let tokens = app.login("citizen@motcua.local", motcua::seed::DEMO_PASSWORD).await;
            req.json(&json!({"refresh_token": tokens["refresh_token"]}))
        }
    };
    req.send().await.unwrap().status()
}

async fn every_endpoint_for_every_caller(b: Backend) {
    let app = TestApp::spawn(b).await;
    let tokens = callers(&app).await;
    let fixture = prepare(&app, &tokens).await;
    let mut wrong = Vec::new();
    let mut n = 0;
    for row in rows() {
        let expected: Vec<u16> = row.expect.split_whitespace().map(|s| s.parse().unwrap()).collect();
        assert_eq!(expected.len(), CALLERS.len(), "{} {}", row.method, row.path);
        for ((caller, token), want) in CALLERS.iter().zip(&tokens).zip(expected) {
            n += 1;
            let got = send(&app, &fixture, &row, token.as_deref(), n).await;
            if got.as_u16() != want {
                wrong.push(format!("{} {} as {caller}: expected {want}, got {got}", row.method, row.path));
            }
        }
    }
    assert!(wrong.is_empty(), "{} cells differ:\n{}", wrong.len(), wrong.join("\n"));
    // Every state-changing request answered 2xx wrote its audit entry.
    let metrics = app.metrics.get("/metrics", None).await.text().await.unwrap();
    assert!(metrics.lines().any(|l| l == "audit_unrecorded_changes_total 0"), "{metrics}");
}
