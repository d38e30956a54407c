//! Fees: counter payments, online payments through the provider adapter and
//! its authenticated, idempotent callbacks.

mod common;

use common::flow::*;
use common::{Backend, TestApp, assert_problem};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    online_payment_settles_the_fee_once,
    callbacks_are_authenticated_and_checked,
    fees_block_returning_the_result_until_paid,
    who_pays_how,
);

const SECRET: &str = "insecure-demo-provider-secret";

fn pay_path(d: &Value) -> String {
    format!("/api/v1/dossiers/{}/payments", d["id"].as_str().unwrap())
}

async fn callback(app: &TestApp, provider: &str, body: &Value, signature: Option<String>) -> reqwest::Response {
    let raw = serde_json::to_vec(body).unwrap();
    let sig = signature.unwrap_or_else(|| motcua::payments::sign(SECRET, &raw));
    app.client
        .post(app.url(&format!("/api/v1/payments/callback/{provider}")))
        .header("content-type", "application/json")
        .header("x-signature", sig)
        .body(raw)
        .send()
        .await
        .unwrap()
}

async fn payments_of(app: &TestApp, d: &Value) -> Vec<(String, String, Option<String>)> {
    let id = d["id"].as_str().unwrap().to_string();
    app.state
        .db
        .run(move |conn| {
            use diesel::prelude::*;
            use motcua::db::schema::payments;
            Ok(payments::table
                .filter(payments::dossier_id.eq(id))
                .order(payments::id)
                .select((payments::channel, payments::status, payments::provider_ref))
                .load(conn)?)
        })
        .await
        .unwrap()
}

/// An online payment started by the demo citizen for a fresh household-business dossier.
async fn started(app: &TestApp) -> (Value, Value) {
    let citizen = app.token("citizen").await;
    let d = file(app, &citizen, HOUSEHOLD_BUSINESS, "193").await;
    assert_eq!(d["fee_vnd"], 100000);
    let res = app.post(&pay_path(&d), Some(&citizen), json!({"channel": "online", "provider": "demo"})).await;
    let payment = json_ok(res, StatusCode::CREATED).await;
    (d, payment)
}

fn report(d: &Value, payment: &Value, provider_ref: &str, amount: i64) -> Value {
    json!({"payment_id": payment["id"], "dossier_code": d["code"], "provider_ref": provider_ref,
           "amount_vnd": amount, "status": "paid"})
}

async fn online_payment_settles_the_fee_once(b: Backend) {
    let app = TestApp::spawn(b).await;
    let citizen = app.token("citizen").await;
    let (d, payment) = started(&app).await;
    assert_eq!((payment["status"].as_str(), payment["channel"].as_str()), (Some("pending"), Some("online")));
    assert_eq!(payment["amount_vnd"], 100000);
    let checkout = payment["checkout_url"].as_str().unwrap();
    assert!(checkout.contains(payment["id"].as_str().unwrap()) && checkout.contains("amount=100000"), "{checkout}");
    assert_eq!(get(&app, &citizen, &d).await["national_status"], 6);

    let body = report(&d, &payment, "VNPAY-0001", 100000);
    let ack = json_ok(callback(&app, "demo", &body, None).await, StatusCode::OK).await;
    assert_eq!(ack, json!({"payment_id": payment["id"], "status": "paid"}));
    let after = get(&app, &citizen, &d).await;
    assert_eq!((after["payment_channel"].as_str(), after["national_status"].as_u64()), (Some("online"), Some(1)));
    assert!(after["paid_at"].is_string());
    let version = after["version"].clone();

    // The provider retries: same answer, nothing new.
    for _ in 0..3 {
        assert_eq!(json_ok(callback(&app, "demo", &body, None).await, StatusCode::OK).await, ack);
    }
    let replays = futures_util::future::join_all((0..4).map(|_| callback(&app, "demo", &body, None))).await;
    assert!(replays.iter().all(|r| r.status() == StatusCode::OK));
    assert_eq!(payments_of(&app, &d).await, [("online".into(), "paid".into(), Some("VNPAY-0001".into()))]);
    assert_eq!(get(&app, &citizen, &d).await["version"], version);
    let paid_events = events(&app, &citizen, &d).await.into_iter().filter(|e| e["action"] == "payment").count();
    assert_eq!(paid_events, 1);
    // Paid: nothing more to pay.
    let res = app.post(&pay_path(&d), Some(&citizen), json!({"channel": "online", "provider": "demo"})).await;
    assert_problem(res, StatusCode::CONFLICT, "nothing_to_pay").await;
    app.assert_counts_kept().await;
}

async fn callbacks_are_authenticated_and_checked(b: Backend) {
    let app = TestApp::spawn(b).await;
    let citizen = app.token("citizen").await;
    let (d, payment) = started(&app).await;
    let good = report(&d, &payment, "VNPAY-0002", 100000);

    let forged = motcua::payments::sign("guessed-secret", &serde_json::to_vec(&good).unwrap());
    assert_problem(callback(&app, "demo", &good, Some(forged)).await, StatusCode::UNAUTHORIZED, "invalid_signature")
        .await;
    assert_problem(
        callback(&app, "demo", &good, Some("not hex".into())).await,
        StatusCode::UNAUTHORIZED,
        "invalid_signature",
    )
    .await;
    // Signed over other bytes than those sent.
    let sig = motcua::payments::sign(SECRET, &serde_json::to_vec(&report(&d, &payment, "VNPAY-0002", 1)).unwrap());
    assert_problem(callback(&app, "demo", &good, Some(sig)).await, StatusCode::UNAUTHORIZED, "invalid_signature").await;
    assert_problem(callback(&app, "nobody", &good, None).await, StatusCode::NOT_FOUND, "not_found").await;

    let cheap = report(&d, &payment, "VNPAY-0003", 1000);
    assert_problem(callback(&app, "demo", &cheap, None).await, StatusCode::UNPROCESSABLE_ENTITY, "amount_mismatch")
        .await;
    let mut other = good.clone();
    other["dossier_code"] = json!("193-200101-0001");
    assert_problem(callback(&app, "demo", &other, None).await, StatusCode::UNPROCESSABLE_ENTITY, "dossier_mismatch")
        .await;
    let mut unknown = good.clone();
    unknown["payment_id"] = json!("no-such-payment");
    assert_problem(callback(&app, "demo", &unknown, None).await, StatusCode::UNPROCESSABLE_ENTITY, "payment_mismatch")
        .await;
    let raw = b"{not json".to_vec();
    let res = app
        .client
        .post(app.url("/api/v1/payments/callback/demo"))
        .header("x-signature", motcua::payments::sign(SECRET, &raw))
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    // Nothing changed by any of these.
    assert_eq!(payments_of(&app, &d).await, [("online".into(), "pending".into(), None)]);
    let now = get(&app, &citizen, &d).await;
    assert_eq!(
        (now["national_status"].as_u64(), now["paid_at"].is_null(), now["version"].as_u64()),
        (Some(6), true, Some(1))
    );

    // A failure report is recorded; a new attempt can then succeed.
    let mut failed = good.clone();
    failed["status"] = json!("failed");
    failed["provider_ref"] = json!("VNPAY-0004");
    assert_eq!(json_ok(callback(&app, "demo", &failed, None).await, StatusCode::OK).await["status"], "failed");
    assert_problem(callback(&app, "demo", &good, None).await, StatusCode::CONFLICT, "payment_not_pending").await;
    let retry = json_ok(
        app.post(&pay_path(&d), Some(&citizen), json!({"channel": "online", "provider": "demo"})).await,
        StatusCode::CREATED,
    )
    .await;
    let ok = report(&d, &retry, "VNPAY-0005", 100000);
    assert_eq!(json_ok(callback(&app, "demo", &ok, None).await, StatusCode::OK).await["status"], "paid");
}

async fn fees_block_returning_the_result_until_paid(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (clerk, specialist, approver) =
        (app.token("clerk").await, app.token("specialist").await, app.token("approver").await);
    let (d, payment) = started(&app).await;
    act_ok(&app, &clerk, &d, json!({"action": "receive"})).await;
    act_ok(&app, &specialist, &d, json!({"action": "claim"})).await;
    act_ok(&app, &specialist, &d, json!({"action": "submit_for_approval"})).await;
    let ready = act_ok(&app, &approver, &d, json!({"action": "approve"})).await;
    assert_eq!(ready["national_status"], 6);
    assert_eq!(ready["allowed_actions"], json!([]));
    assert_eq!(get(&app, &clerk, &d).await["allowed_actions"], json!([]), "return_result waits for the fee");
    assert_problem(act(&app, &clerk, &d, json!({"action": "return_result"})).await, StatusCode::CONFLICT, "fee_unpaid")
        .await;
    assert_eq!(get(&app, &clerk, &d).await["status"], "result_ready");

    json_ok(callback(&app, "demo", &report(&d, &payment, "VNPAY-0006", 100000), None).await, StatusCode::OK).await;
    let ready = get(&app, &clerk, &d).await;
    assert_eq!(
        (ready["national_status"].as_u64(), ready["allowed_actions"].clone()),
        (Some(9), json!(["return_result"]))
    );
    let returned = act_ok(&app, &clerk, &d, json!({"action": "return_result"})).await;
    assert_eq!(returned["status"], "returned");
    // Procedures without a fee never wait.
    let citizen = app.token("citizen").await;
    let free = file(&app, &citizen, BIRTH, "06691").await;
    assert_eq!((free["fee_vnd"].as_u64(), free["national_status"].as_u64()), (Some(0), Some(1)));
    let res = app.post(&pay_path(&free), Some(&citizen), json!({"channel": "online", "provider": "demo"})).await;
    assert_problem(res, StatusCode::CONFLICT, "nothing_to_pay").await;
    app.assert_counts_kept().await;
}

async fn who_pays_how(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (citizen, clerk) = (app.token("citizen").await, app.token("clerk").await);
    let d = file(&app, &citizen, HOUSEHOLD_BUSINESS, "193").await;
    let res = app.post(&pay_path(&d), Some(&citizen), json!({"channel": "counter"})).await;
    assert_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app.post(&pay_path(&d), Some(&clerk), json!({"channel": "online", "provider": "demo"})).await;
    assert_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app.post(&pay_path(&d), Some(&citizen), json!({"channel": "online", "provider": "bitcoin"})).await;
    let p = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(p["errors"][0]["field"], "provider");
    let res = app.post(&pay_path(&d), Some(&citizen), json!({"channel": "online"})).await;
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let mong_cai = app.staff_token("clerk.mongcai@quangninh.gov.vn", &["clerk"], "194").await;
    let res = app.post(&pay_path(&d), Some(&mong_cai), json!({"channel": "counter"})).await;
    assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;

    let paid =
        json_ok(app.post(&pay_path(&d), Some(&clerk), json!({"channel": "counter"})).await, StatusCode::CREATED).await;
    assert_eq!((paid["channel"].as_str(), paid["status"].as_str()), (Some("counter"), Some("paid")));
    assert!(paid["paid_at"].is_string() && paid["checkout_url"].is_null());
    let after = get(&app, &citizen, &d).await;
    assert_eq!((after["payment_channel"].as_str(), after["national_status"].as_u64()), (Some("counter"), Some(1)));
    let last = events(&app, &citizen, &d).await.pop().unwrap();
    assert_eq!((last["action"].as_str(), last["actor_role"].as_str()), (Some("payment"), Some("clerk")));
    assert_eq!(last["summary"], "fee of 100000 VND paid (counter)");
    app.assert_counts_kept().await;
}
