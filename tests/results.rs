//! Signed e-results, public verification, revocation and replacement, the
//! document repository with reuse.

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::flow::*;
use common::{Backend, TestApp, assert_problem};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

on_both_backends!(
    approved_results_are_signed_and_verifiable,
    revocation_and_replacement,
    results_are_prepared_by_the_right_people,
    applicants_collect_once_the_fee_is_paid_and_downloads_change_nothing,
    repository_documents_are_reused_without_copies,
);

/// A result PDF, distinct per `n`.
fn result_pdf(n: u32) -> Vec<u8> {
    format!("%PDF-1.7\n% Giấy chứng nhận số {n}\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n").into_bytes()
}

fn form(bytes: Vec<u8>, name: &str, fields: &[(&str, &str)]) -> Form {
    fields.iter().fold(Form::new().part("file", Part::bytes(bytes).file_name(name.to_string())), |f, (k, v)| {
        f.text(k.to_string(), v.to_string())
    })
}

async fn post_form(app: &TestApp, path: &str, token: Option<&str>, form: Form) -> reqwest::Response {
    let mut req = app.client.post(app.url(path)).multipart(form);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

fn path(d: &Value, rest: &str) -> String {
    format!("/api/v1/dossiers/{}{rest}", d["id"].as_str().unwrap())
}

/// Registers a household-business dossier, drafts `pdf` as its result and
/// approves it. Returns the dossier after approval.
async fn approved(app: &TestApp, s: &Cast, pdf: Vec<u8>) -> Value {
    let d = register(app, &s.clerk, HOUSEHOLD_BUSINESS, "193").await;
    act_ok(app, &s.specialist, &d, json!({"action": "claim"})).await;
    let res = post_form(
        app,
        &path(&d, "/result"),
        Some(&s.specialist),
        form(pdf, "gcn.pdf", &[("title", "Giấy chứng nhận đăng ký hộ kinh doanh")]),
    )
    .await;
    let draft = json_ok(res, StatusCode::CREATED).await;
    assert_eq!(draft["title"], "Giấy chứng nhận đăng ký hộ kinh doanh");
    act_ok(app, &s.specialist, &d, json!({"action": "submit_for_approval"})).await;
    act_ok(app, &s.approver, &d, json!({"action": "approve"})).await
}

async fn download(app: &TestApp, token: &str, d: &Value) -> (String, Vec<u8>) {
    let res = app.get(&path(d, "/result"), Some(token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let number = res.headers()["x-result-number"].to_str().unwrap().to_string();
    (number, res.bytes().await.unwrap().to_vec())
}

async fn verify_number(app: &TestApp, number: &str) -> Value {
    json_ok(app.get(&format!("/api/v1/verify/{number}"), None).await, StatusCode::OK).await
}

async fn verify_file(app: &TestApp, bytes: Vec<u8>) -> Value {
    json_ok(post_form(app, "/api/v1/verify", None, form(bytes, "ket-qua.pdf", &[])).await, StatusCode::OK).await
}

/// Checks the signature as an outside tool would: the public key from
/// `/keys`, the canonical form rebuilt by hand from the documented layout.
async fn signature_checks_out(app: &TestApp, v: &Value) -> bool {
    let keys: Value = app.get("/api/v1/keys", None).await.json().await.unwrap();
    let key = keys["keys"].as_array().unwrap().iter().find(|k| k["id"] == v["key_id"]).expect("the key is published");
    assert_eq!(key["algorithm"], "Ed25519");
    let public: [u8; 32] = STANDARD.decode(key["public_key"].as_str().unwrap()).unwrap().try_into().unwrap();
    let signature: [u8; 64] = STANDARD.decode(v["signature"].as_str().unwrap()).unwrap().try_into().unwrap();
    let issued: chrono::DateTime<chrono::Utc> = v["issued_at"].as_str().unwrap().parse().unwrap();
    let canonical = format!(
        "motcua-result-v1\nnumber:{}\ntitle:{}\nissuing_unit_code:{}\nissuing_unit_name:{}\nsigner:{}\nissued_at:{}\nsha256:{}",
        v["number"].as_str().unwrap(),
        v["title"].as_str().unwrap(),
        v["issuing_unit_code"].as_str().unwrap(),
        v["issuing_unit_name"].as_str().unwrap(),
        v["signer"].as_str().unwrap(),
        issued.format("%Y-%m-%dT%H:%M:%SZ"),
        v["sha256"].as_str().unwrap(),
    );
    VerifyingKey::from_bytes(&public).unwrap().verify(canonical.as_bytes(), &Signature::from_bytes(&signature)).is_ok()
}

async fn approved_results_are_signed_and_verifiable(b: Backend) {
    let app = TestApp::spawn(b).await;
    let s = cast(&app).await;
    let d = approved(&app, &s, result_pdf(1)).await;
    assert_eq!(d["status"], "result_ready");

    let (number, bytes) = download(&app, &s.clerk, &d).await;
    let year = motcua::domain::calendar::to_local(chrono::Utc::now()).format("%Y").to_string();
    assert_eq!(number, format!("KQ-193-{year}-000001"));
    assert_eq!(bytes, result_pdf(1));

    let v = verify_number(&app, &number).await;
    assert_eq!(
        (v["status"].as_str(), v["valid"].as_bool(), v["signature_valid"].as_bool()),
        (Some("valid"), Some(true), Some(true))
    );
    assert_eq!(v["title"], "Giấy chứng nhận đăng ký hộ kinh doanh");
    assert_eq!(
        (v["issuing_unit_code"].as_str(), v["issuing_unit_name"].as_str()),
        (Some("193"), Some("Thành phố Hạ Long"))
    );
    assert_eq!(v["signer"], "Demo approver");
    assert_eq!(v["sha256"], motcua::storage::sha256_hex(&result_pdf(1)));
    // Nothing personal beyond what the result states.
    let text = v.to_string();
    for private in ["022095001234", "Nguyễn Văn An", "0912345678", "Tổ 5"] {
        assert!(!text.contains(private), "{private} leaked: {text}");
    }
    assert!(signature_checks_out(&app, &v).await);

    let f = verify_file(&app, bytes.clone()).await;
    assert_eq!(
        (f["matched"].as_bool(), f["result"]["number"].as_str(), f["result"]["valid"].as_bool()),
        (Some(true), Some(number.as_str()), Some(true))
    );
    let mut altered = bytes.clone();
    altered[12] ^= 1;
    let f = verify_file(&app, altered).await;
    assert_eq!((f["matched"].as_bool(), f["result"].is_null()), (Some(false), true));

    // A second result of the unit and year takes the next number.
    let second = approved(&app, &s, result_pdf(2)).await;
    let (next, _) = download(&app, &s.clerk, &second).await;
    assert_eq!(next, format!("KQ-193-{year}-000002"));
    assert_problem(app.get("/api/v1/verify/KQ-193-1999-000001", None).await, StatusCode::NOT_FOUND, "not_found").await;

    // The processing slip and the repository record it.
    let slip = events(&app, &s.clerk, &d).await;
    assert_eq!(slip.last().unwrap()["action"], "approve");
    let citizen = app.token("citizen").await;
    let docs: Value = app.get("/api/v1/me/documents", Some(&citizen)).await.json().await.unwrap();
    let results: Vec<&Value> = docs["items"].as_array().unwrap().iter().filter(|d| d["source"] == "e_result").collect();
    assert_eq!(results.len(), 2);
    assert!(results.iter().any(|r| r["result_number"] == number.as_str() && r["valid"] == true));
}

async fn revocation_and_replacement(b: Backend) {
    let app = TestApp::spawn(b).await;
    let s = cast(&app).await;
    let d = approved(&app, &s, result_pdf(3)).await;
    let (number, bytes) = download(&app, &s.clerk, &d).await;

    // Replace: a new number, both point at each other.
    let res = post_form(
        &app,
        &path(&d, "/result/replace"),
        Some(&s.approver),
        form(result_pdf(4), "gcn-v2.pdf", &[("reason", "Sai địa chỉ kinh doanh")]),
    )
    .await;
    let new = json_ok(res, StatusCode::CREATED).await;
    assert_ne!(new["number"], number.as_str());
    assert_eq!((new["replaces"].as_str(), new["valid"].as_bool()), (Some(number.as_str()), Some(true)));
    assert!(signature_checks_out(&app, &new).await);
    let old = verify_number(&app, &number).await;
    assert_eq!((old["status"].as_str(), old["valid"].as_bool()), (Some("replaced"), Some(false)));
    assert_eq!(old["replaced_by"], new["number"]);
    assert_eq!(old["status_reason"], "Sai địa chỉ kinh doanh");
    assert_eq!(old["signature_valid"], true, "still authentic, just no longer in force");
    let f = verify_file(&app, bytes).await;
    assert_eq!((f["matched"].as_bool(), f["result"]["status"].as_str()), (Some(true), Some("replaced")));

    // Revoke the replacement.
    let res = app.post(&path(&d, "/result/revoke"), Some(&s.approver), json!({"reason": "Hồ sơ giả mạo"})).await;
    let revoked = json_ok(res, StatusCode::OK).await;
    assert_eq!((revoked["status"].as_str(), revoked["valid"].as_bool()), (Some("revoked"), Some(false)));
    let v = verify_number(&app, new["number"].as_str().unwrap()).await;
    assert_eq!((v["status"].as_str(), v["status_reason"].as_str()), (Some("revoked"), Some("Hồ sơ giả mạo")));
    assert!(v["status_changed_at"].is_string());
    let res = app.post(&path(&d, "/result/revoke"), Some(&s.approver), json!({"reason": "again"})).await;
    assert_problem(res, StatusCode::CONFLICT, "result_not_valid").await;

    // Only approvers of the unit, with a reason.
    let res = app.post(&path(&d, "/result/revoke"), Some(&s.clerk), json!({"reason": "x"})).await;
    assert_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app.post(&path(&d, "/result/revoke"), Some(&s.approver), json!({"reason": ""})).await;
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let mong_cai = app.staff_token("ld.mongcai@quangninh.gov.vn", &["approver"], "194").await;
    let res = app.post(&path(&d, "/result/revoke"), Some(&mong_cai), json!({"reason": "x"})).await;
    assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;

    let slip = events(&app, &s.clerk, &d).await;
    let actions: Vec<&str> = slip.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions[actions.len() - 2..], ["replace_result", "revoke_result"]);
    // The repository shows the revoked result as no longer valid.
    let citizen = app.token("citizen").await;
    let docs: Value = app.get("/api/v1/me/documents", Some(&citizen)).await.json().await.unwrap();
    let statuses: Vec<(&str, bool)> = docs["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["source"] == "e_result")
        .map(|d| (d["status"].as_str().unwrap(), d["valid"].as_bool().unwrap()))
        .collect();
    assert_eq!(statuses, [("revoked", false), ("replaced", false)]);
    app.assert_counts_kept().await;
}

async fn results_are_prepared_by_the_right_people(b: Backend) {
    let app = TestApp::spawn(b).await;
    let s = cast(&app).await;
    let d = register(&app, &s.clerk, HOUSEHOLD_BUSINESS, "193").await;
    let draft = |token: String, bytes: Vec<u8>| {
        let app = &app;
        let d = &d;
        async move { post_form(app, &path(d, "/result"), Some(&token), form(bytes, "gcn.pdf", &[])).await }
    };
    // Not yet in progress.
    assert_problem(draft(s.approver.clone(), result_pdf(5)).await, StatusCode::CONFLICT, "dossier_locked").await;
    act_ok(&app, &s.specialist, &d, json!({"action": "claim"})).await;
    assert_problem(draft(s.clerk.clone(), result_pdf(5)).await, StatusCode::FORBIDDEN, "forbidden").await;
    let png = b"\x89PNG\r\n\x1a\n....".to_vec();
    assert_problem(draft(s.specialist.clone(), png).await, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_file_type")
        .await;
    let ok = json_ok(draft(s.specialist.clone(), result_pdf(5)).await, StatusCode::CREATED).await;
    assert_eq!(ok["title"], "Thủ tục đăng ký thành lập hộ kinh doanh", "defaults to the procedure's name");
    // A paper result: approving without a draft issues no e-result.
    let paper = register(&app, &s.clerk, HOUSEHOLD_BUSINESS, "193").await;
    act_ok(&app, &s.specialist, &paper, json!({"action": "claim"})).await;
    act_ok(&app, &s.specialist, &paper, json!({"action": "submit_for_approval"})).await;
    let approved = act_ok(&app, &s.approver, &paper, json!({"action": "approve"})).await;
    assert_eq!(approved["status"], "result_ready");
    assert_problem(app.get(&path(&paper, "/result"), Some(&s.clerk)).await, StatusCode::NOT_FOUND, "not_found").await;
    let keys: Value = app.get("/api/v1/keys", None).await.json().await.unwrap();
    assert_eq!(keys["keys"].as_array().unwrap().len(), 1);
    assert_eq!(keys["keys"][0]["current"], true);
}

async fn applicants_collect_once_the_fee_is_paid_and_downloads_change_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let s = cast(&app).await;
    let citizen = s.citizen.clone();
    let d = approved(&app, &s, result_pdf(6)).await;
    assert_eq!(d["national_status"], 6, "the fee is still due");
    let collect_path = path(&d, "/result/collect");
    let collect = || app.post(&collect_path, Some(&citizen), json!({}));

    // Unpaid: the applicant's copy and the return wait for the fee; staff
    // still read the result they issued.
    assert_problem(app.get(&path(&d, "/result"), Some(&citizen)).await, StatusCode::CONFLICT, "fee_unpaid").await;
    assert_problem(collect().await, StatusCode::CONFLICT, "fee_unpaid").await;
    assert_eq!(download(&app, &s.clerk, &d).await.1, result_pdf(6));
    let res = act(&app, &s.clerk, &d, json!({"action": "return_result"})).await;
    assert_problem(res, StatusCode::CONFLICT, "fee_unpaid").await;
    assert_eq!(get(&app, &citizen, &d).await["status"], "result_ready");

    json_ok(app.post(&path(&d, "/payments"), Some(&s.clerk), json!({"channel": "counter"})).await, StatusCode::CREATED)
        .await;
    // A download is a read: however often a client fetches it, the dossier
    // stays ready for collection.
    let before = get(&app, &citizen, &d).await;
    for _ in 0..3 {
        assert_eq!(download(&app, &citizen, &d).await.1, result_pdf(6));
    }
    assert_eq!(get(&app, &citizen, &d).await, before);
    // Collecting returns it, once.
    let res = collect().await;
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    let after = json_ok(res, StatusCode::OK).await;
    assert_eq!((after["status"].as_str(), after["national_status"].as_u64()), (Some("returned"), Some(10)));
    assert_eq!(etag, format!("\"{}\"", after["version"]));
    let history = events(&app, &citizen, &d).await;
    let last = history.last().unwrap();
    assert_eq!((last["action"].as_str(), last["actor_role"].as_str()), (Some("return_result"), Some("citizen")));
    // A retried collection answers the same and changes nothing.
    assert_eq!(json_ok(collect().await, StatusCode::OK).await, after);
    assert_eq!(events(&app, &citizen, &d).await, history);
    download(&app, &citizen, &d).await;
    // Staff return results at the desk, not through this.
    assert_problem(
        app.post(&path(&d, "/result/collect"), Some(&s.clerk), json!({})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // Strangers see nothing.
    app.post("/api/v1/auth/register", None, common::citizen(4)).await;
    let stranger =
        app.login("citizen4@example.vn", "mật khẩu an toàn").await["access_token"].as_str().unwrap().to_string();
    assert_problem(app.get(&path(&d, "/result"), Some(&stranger)).await, StatusCode::NOT_FOUND, "not_found").await;
    app.assert_counts_kept().await;
}

fn stored_files(app: &TestApp) -> usize {
    fn count(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir)
            .map_or(0, |entries| entries.flatten().map(|e| if e.path().is_dir() { count(&e.path()) } else { 1 }).sum())
    }
    count(&app.state.settings.files.dir)
}

async fn repository_documents_are_reused_without_copies(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (citizen, clerk) = (app.token("citizen").await, app.token("clerk").await);
    let first = file(&app, &citizen, BIRTH, "06691").await;
    json_ok(upload(&app, &citizen, &first, 0, pdf(), "to-khai.pdf", None).await, StatusCode::CREATED).await;
    let docs: Value = app.get("/api/v1/me/documents", Some(&citizen)).await.json().await.unwrap();
    let doc = &docs["items"][0];
    assert_eq!(
        (doc["source"].as_str(), doc["digitization"].as_str()),
        (Some("component"), Some("electronic_original"))
    );
    assert_eq!(doc["source_dossier_code"], first["code"]);
    assert_eq!(doc["document_type"], first["components"][0]["name"]);
    assert_eq!(doc["valid"], true);
    let files_before = stored_files(&app);

    let unit = app.unit_id("06691").await;
    let body = json!({"procedure_code": BIRTH, "unit_id": unit, "reuse": [{"component": 0, "document_id": doc["id"]}]});
    let second = json_ok(app.post("/api/v1/dossiers", Some(&citizen), body).await, StatusCode::CREATED).await;
    let c0 = &second["components"][0];
    assert_eq!(c0["digitization"], "reused");
    assert_eq!(c0["files"][0]["sha256"], doc["sha256"]);
    assert_eq!(stored_files(&app), files_before, "no file was copied");
    // The reused file downloads like any other.
    let dl =
        format!("/api/v1/dossiers/{}/files/{}", second["id"].as_str().unwrap(), c0["files"][0]["id"].as_str().unwrap());
    assert_eq!(app.get(&dl, Some(&citizen)).await.bytes().await.unwrap().to_vec(), pdf());

    // A clerk at the counter reuses it for the same person (by national ID).
    let body = json!({"procedure_code": BIRTH, "unit_id": unit, "channel": "counter",
        "applicant": {"kind": "citizen", "name": "Nguyễn Văn An", "national_id": "022095001234"},
        "reuse": [{"component": 0, "document_id": doc["id"]}]});
    let counter = json_ok(app.post("/api/v1/dossiers", Some(&clerk), body).await, StatusCode::CREATED).await;
    assert_eq!(counter["components"][0]["digitization"], "reused");

    // Nobody else's documents, no unknown components.
    app.post("/api/v1/auth/register", None, common::citizen(5)).await;
    let stranger =
        app.login("citizen5@example.vn", "mật khẩu an toàn").await["access_token"].as_str().unwrap().to_string();
    let body = json!({"procedure_code": BIRTH, "unit_id": unit, "reuse": [{"component": 0, "document_id": doc["id"]}]});
    let p = assert_problem(
        app.post("/api/v1/dossiers", Some(&stranger), body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "reuse[0].document_id");
    let body =
        json!({"procedure_code": BIRTH, "unit_id": unit, "reuse": [{"component": 99, "document_id": doc["id"]}]});
    let p = assert_problem(
        app.post("/api/v1/dossiers", Some(&citizen), body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "reuse[0].component");
    let mine: Value = app.get("/api/v1/dossiers", Some(&citizen)).await.json().await.unwrap();
    assert_eq!(mine["items"].as_array().unwrap().len(), 3, "refused filings left nothing");
    let theirs: Value = app.get("/api/v1/me/documents", Some(&stranger)).await.json().await.unwrap();
    assert_eq!(theirs["items"], json!([]));
    app.assert_counts_kept().await;
}

/// The README's promise: `docs/verify_result.py` (Python, `cryptography`)
/// verifies a result from the published key and canonical form alone.
#[actix_web::test]
async fn an_outside_tool_verifies_a_result() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let s = cast(&app).await;
    let d = approved(&app, &s, result_pdf(7)).await;
    let (number, bytes) = download(&app, &s.clerk, &d).await;
    let dir = tempfile::tempdir().unwrap();
    let address = app.address.clone();
    let run = move |file: &std::path::Path| {
        let out = std::process::Command::new("python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/verify_result.py"))
            .args([address.as_str(), file.to_str().unwrap(), number.as_str()])
            .output()
            .expect("python3 runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let good = dir.path().join("ket-qua.pdf");
    std::fs::write(&good, &bytes).unwrap();
    let bad = dir.path().join("sua.pdf");
    let mut altered = bytes.clone();
    altered[20] ^= 1;
    std::fs::write(&bad, altered).unwrap();
    let (good_path, bad_path) = (good.clone(), bad.clone());
    let ((ok, out), (forged_ok, forged_out)) =
        actix_web::rt::task::spawn_blocking(move || (run(&good_path), run(&bad_path))).await.unwrap();
    assert!(ok, "{out}");
    assert!(out.contains("signature valid"), "{out}");
    assert!(!forged_ok && forged_out.contains("InvalidSignature"), "{forged_out}");
}
