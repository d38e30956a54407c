//! Helpers that drive dossiers through the API, shared by the test files.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Api, TestApp};

pub const BIRTH: &str = "1.001193"; // commune level, 1 working day, no fee
pub const HOUSEHOLD_BUSINESS: &str = "1.001612"; // district level, 3 working days, 100,000 VND
pub const CONSTRUCTION: &str = "1.013225"; // district level, 15 working days, 75,000 VND

pub async fn json_ok(res: reqwest::Response, status: StatusCode) -> Value {
    let got = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(got, status, "{body}");
    body
}

/// Access tokens of the demo citizen and the demo staff of Hạ Long (193).
pub struct Cast {
    pub citizen: String,
    pub clerk: String,
    pub specialist: String,
    pub approver: String,
}

pub async fn cast(app: &TestApp) -> Cast {
    Cast {
        citizen: app.token("citizen").await,
        clerk: app.token("clerk").await,
        specialist: app.token("specialist").await,
        approver: app.token("approver").await,
    }
}

/// Files online as `token` for `procedure` at the unit with `unit_code`.
pub async fn file(app: &Api, token: &str, procedure: &str, unit_code: &str) -> Value {
    let unit = app.unit_id(unit_code).await;
    let body = json!({"procedure_code": procedure, "unit_id": unit, "form": {"ho_ten_tre": "Nguyễn Văn Bé"}});
    json_ok(app.post("/api/v1/dossiers", Some(token), body).await, StatusCode::CREATED).await
}

/// Registers a counter dossier as the demo clerk for the demo citizen.
pub async fn register(app: &Api, clerk: &str, procedure: &str, unit_code: &str) -> Value {
    let unit = app.unit_id(unit_code).await;
    let body = json!({
        "procedure_code": procedure, "unit_id": unit, "channel": "counter",
        "applicant": {"kind": "citizen", "name": "Nguyễn Văn An", "national_id": "022095001234",
                      "phone": "0912345678", "address": "Tổ 5, phường Hồng Gai"},
    });
    json_ok(app.post("/api/v1/dossiers", Some(clerk), body).await, StatusCode::CREATED).await
}

pub async fn act(app: &Api, token: &str, dossier: &Value, body: Value) -> reqwest::Response {
    app.post(&format!("/api/v1/dossiers/{}/actions", dossier["id"].as_str().unwrap()), Some(token), body).await
}

pub async fn act_ok(app: &Api, token: &str, dossier: &Value, body: Value) -> Value {
    json_ok(act(app, token, dossier, body).await, StatusCode::OK).await
}

pub async fn events(app: &Api, token: &str, dossier: &Value) -> Vec<Value> {
    let path = format!("/api/v1/dossiers/{}/events", dossier["id"].as_str().unwrap());
    json_ok(app.get(&path, Some(token)).await, StatusCode::OK).await.as_array().unwrap().clone()
}

pub fn steps(events: &[Value]) -> Vec<(String, String, String)> {
    events
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["from_status"].as_str().unwrap_or("-").to_string(),
                e["to_status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

pub fn s(a: &str, f: &str, t: &str) -> (String, String, String) {
    (a.into(), f.into(), t.into())
}

pub async fn get(app: &Api, token: &str, dossier: &Value) -> Value {
    let path = format!("/api/v1/dossiers/{}", dossier["id"].as_str().unwrap());
    json_ok(app.get(&path, Some(token)).await, StatusCode::OK).await
}

pub fn ts(v: &Value) -> chrono::DateTime<chrono::Utc> {
    v.as_str().unwrap().parse().unwrap()
}

pub fn pdf() -> Vec<u8> {
    b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".to_vec()
}

pub async fn upload(
    app: &Api,
    token: &str,
    dossier: &Value,
    component: usize,
    bytes: Vec<u8>,
    name: &str,
    digitization: Option<&str>,
) -> reqwest::Response {
    let cid = dossier["components"][component]["id"].as_str().unwrap();
    let path = format!("/api/v1/dossiers/{}/components/{cid}/files", dossier["id"].as_str().unwrap());
    let mut form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()));
    if let Some(d) = digitization {
        form = form.text("digitization", d.to_string());
    }
    app.client.post(app.url(&path)).bearer_auth(token).multipart(form).send().await.unwrap()
}
