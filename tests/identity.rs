//! Identity binding (src/auth/identity.rs): a national ID typed at
//! registration is a claim; only a clerk who has seen the card verifies it,
//! and only a verified account receives the counter dossiers and repository
//! documents of that national ID.

mod common;

use common::flow::*;
use common::{Backend, TestApp, assert_problem, citizen};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    a_claimed_national_id_reaches_nothing_until_a_clerk_verifies_it,
    only_clerks_verify_and_each_number_once,
);

async fn login(app: &TestApp, body: &Value) -> String {
    let tokens = app.login(body["email"].as_str().unwrap(), body["password"].as_str().unwrap()).await;
    tokens["access_token"].as_str().unwrap().to_string()
}

async fn documents(app: &TestApp, token: &str) -> Vec<Value> {
    let page = json_ok(app.get("/api/v1/me/documents", Some(token)).await, StatusCode::OK).await;
    page["items"].as_array().unwrap().clone()
}

async fn dossiers(app: &TestApp, token: &str) -> Vec<Value> {
    let page = json_ok(app.get("/api/v1/dossiers", Some(token)).await, StatusCode::OK).await;
    page["items"].as_array().unwrap().clone()
}

async fn a_claimed_national_id_reaches_nothing_until_a_clerk_verifies_it(b: Backend) {
    let app = TestApp::spawn(b).await;
    let clerk = app.token("clerk").await;
    // Someone with no account files at the counter; the clerk scans a document.
    let owner = citizen(41);
    let unit = app.unit_id("193").await;
    let counter = json!({
        "procedure_code": HOUSEHOLD_BUSINESS, "unit_id": unit, "channel": "counter",
        "applicant": {"kind": "citizen", "name": "Trần Thị Bình", "national_id": owner["national_id"]},
    });
    let d = json_ok(app.post("/api/v1/dossiers", Some(&clerk), counter).await, StatusCode::CREATED).await;
    assert_eq!(upload(&app, &clerk, &d, 0, pdf(), "cccd.pdf", None).await.status(), StatusCode::CREATED);

    // An attacker registers with that national ID: accepted, as a claim.
    let mut attacker = citizen(42);
    attacker["national_id"] = owner["national_id"].clone();
    json_ok(app.post("/api/v1/auth/register", None, attacker.clone()).await, StatusCode::ACCEPTED).await;
    let attacker_token = login(&app, &attacker).await;
    let me = json_ok(app.get("/api/v1/me", Some(&attacker_token)).await, StatusCode::OK).await;
    assert_eq!((&me["national_id"], &me["national_id_verified"]), (&owner["national_id"], &json!(false)));
    // It sees none of the person's dossiers or documents…
    assert!(dossiers(&app, &attacker_token).await.is_empty());
    assert!(documents(&app, &attacker_token).await.is_empty());
    assert_problem(
        app.get(&format!("/api/v1/dossiers/{}", d["id"].as_str().unwrap()), Some(&attacker_token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // …cannot take a document of theirs by reusing it in a filing…
    let clerk_docs: Vec<String> = {
        let id = d["id"].as_str().unwrap().to_string();
        app.db(move |c| {
            use diesel::prelude::*;
            use motcua::db::schema::repository_documents as r;
            r::table.filter(r::source_dossier_id.eq(id)).select(r::id).load(c)
        })
        .await
    };
    assert_eq!(clerk_docs.len(), 1);
    let reuse = json!({"procedure_code": HOUSEHOLD_BUSINESS, "unit_id": unit,
                       "reuse": [{"component": 0, "document_id": clerk_docs[0]}]});
    let p = assert_problem(
        app.post("/api/v1/dossiers", Some(&attacker_token), reuse.clone()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "reuse[0].document_id");
    // …and does not receive the next counter dossier either.
    let later = json!({
        "procedure_code": BIRTH, "unit_id": app.unit_id("06691").await, "channel": "counter",
        "applicant": {"kind": "citizen", "name": "Trần Thị Bình", "national_id": owner["national_id"]},
    });
    let d2 = json_ok(app.post("/api/v1/dossiers", Some(&clerk), later).await, StatusCode::CREATED).await;
    assert!(dossiers(&app, &attacker_token).await.is_empty());

    // The real owner is not blocked by the claim.
    json_ok(app.post("/api/v1/auth/register", None, owner.clone()).await, StatusCode::ACCEPTED).await;
    let owner_token = login(&app, &owner).await;
    assert!(dossiers(&app, &owner_token).await.is_empty(), "unverified: only what it filed itself");

    // At the desk, the clerk sees the card and verifies the owner's account.
    let verify = json!({"email": owner["email"], "national_id": owner["national_id"]});
    let v =
        json_ok(app.post("/api/v1/identity/verifications", Some(&clerk), verify.clone()).await, StatusCode::OK).await;
    assert_eq!((&v["dossiers_bound"], &v["claims_detached"]), (&json!(2), &json!(1)));
    assert_eq!(v["verified_by"], app.get("/api/v1/me", Some(&clerk)).await.json::<Value>().await.unwrap()["id"]);
    assert_eq!(v["verified_unit_id"], unit);

    // The owner now follows both counter dossiers, with their history, and
    // has the document scanned before the verification.
    let mut codes: Vec<Value> = dossiers(&app, &owner_token).await.iter().map(|x| x["code"].clone()).collect();
    codes.sort_by_key(|c| c.to_string());
    let mut expected = vec![d["code"].clone(), d2["code"].clone()];
    expected.sort_by_key(|c| c.to_string());
    assert_eq!(codes, expected);
    let history = events(&app, &owner_token, &d).await;
    assert_eq!(history.last().unwrap()["action"], "bind_applicant");
    assert_eq!(documents(&app, &owner_token).await.len(), 1);
    let me = json_ok(app.get("/api/v1/me", Some(&owner_token)).await, StatusCode::OK).await;
    assert_eq!((&me["national_id_verified"], me["national_id_verified_at"].is_string()), (&json!(true), true));
    // The document can be reused now by its owner.
    json_ok(app.post("/api/v1/dossiers", Some(&owner_token), reuse).await, StatusCode::CREATED).await;

    // The attacker's claim is gone; it still sees nothing, and can no longer
    // claim that number.
    let me = json_ok(app.get("/api/v1/me", Some(&attacker_token)).await, StatusCode::OK).await;
    assert_eq!((&me["national_id"], &me["national_id_verified"]), (&Value::Null, &json!(false)));
    assert!(dossiers(&app, &attacker_token).await.is_empty() && documents(&app, &attacker_token).await.is_empty());
    // A new claim of the number is accepted (registration tells nothing) and
    // binds nothing: the number is verified elsewhere.
    let mut again = citizen(43);
    again["national_id"] = owner["national_id"].clone();
    json_ok(app.post("/api/v1/auth/register", None, again.clone()).await, StatusCode::ACCEPTED).await;
    let late = login(&app, &again).await;
    assert!(dossiers(&app, &late).await.is_empty() && documents(&app, &late).await.is_empty());

    // The verification is in the audit log, by the clerk.
    let auditor = app.token("auditor").await;
    let page =
        json_ok(app.get("/api/v1/audit?action=identity.verifications.post", Some(&auditor)).await, StatusCode::OK)
            .await;
    let entry = &page["items"][0];
    assert_eq!((&entry["actor_role"], &entry["target"]), (&json!("clerk"), &v["user_id"]));
    assert!(!entry["summary"].as_str().unwrap().contains(owner["national_id"].as_str().unwrap()));
    app.assert_counts_kept().await;
}

async fn verify_at(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.post("/api/v1/identity/verifications", Some(token), body).await
}

async fn only_clerks_verify_and_each_number_once(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (clerk, specialist, citizen_token) =
        (app.token("clerk").await, app.token("specialist").await, app.token("citizen").await);
    let person = citizen(51);
    json_ok(app.post("/api/v1/auth/register", None, person.clone()).await, StatusCode::ACCEPTED).await;
    let verify = json!({"email": person["email"], "national_id": person["national_id"]});

    assert_problem(verify_at(&app, &specialist, verify.clone()).await, StatusCode::FORBIDDEN, "forbidden").await;
    assert_problem(verify_at(&app, &citizen_token, verify.clone()).await, StatusCode::FORBIDDEN, "forbidden").await;
    let anonymous = app.post("/api/v1/identity/verifications", None, verify.clone()).await;
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let nobody = json!({"email": "nobody@example.vn", "national_id": person["national_id"]});
    assert_problem(verify_at(&app, &clerk, nobody).await, StatusCode::NOT_FOUND, "not_found").await;
    // Staff accounts are not citizens to verify.
    let staff = json!({"email": "specialist@motcua.local", "national_id": person["national_id"]});
    assert_problem(verify_at(&app, &clerk, staff).await, StatusCode::NOT_FOUND, "not_found").await;
    let bad = json!({"email": person["email"], "national_id": "12345"});
    assert_problem(verify_at(&app, &clerk, bad).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let extra = json!({"email": person["email"], "national_id": person["national_id"], "trust_me": true});
    assert_problem(verify_at(&app, &clerk, extra).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    let first = json_ok(verify_at(&app, &clerk, verify.clone()).await, StatusCode::OK).await;
    // Again with the same number: nothing changes.
    let again = json_ok(verify_at(&app, &clerk, verify.clone()).await, StatusCode::OK).await;
    assert_eq!((&again["verified_at"], &again["dossiers_bound"]), (&first["verified_at"], &json!(0)));
    // Another number for this account, or this number for another account: 409.
    let other_number = json!({"email": person["email"], "national_id": "022196000099"});
    assert_problem(verify_at(&app, &clerk, other_number).await, StatusCode::CONFLICT, "identity_already_verified")
        .await;
    let someone = citizen(52);
    json_ok(app.post("/api/v1/auth/register", None, someone.clone()).await, StatusCode::ACCEPTED).await;
    let taken = json!({"email": someone["email"], "national_id": person["national_id"]});
    assert_problem(verify_at(&app, &clerk, taken).await, StatusCode::CONFLICT, "national_id_taken").await;
}
