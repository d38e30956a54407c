//! The one write path under concurrency (src/dossiers/write.rs): for every
//! state-changing endpoint, twenty identical requests and twenty conflicting
//! ones sent at the same moment, alternately to two instances of the service
//! on one database. Each scenario asserts exactly one effect — rows, events,
//! audit entries — answers that agree with it, and daily counts equal to a
//! rebuild from the dossiers.

mod common;

use std::future::Future;

use common::flow::*;
use common::{Api, Backend, TestApp, citizen};
use diesel::prelude::*;
use futures_util::future::join_all;
use motcua::db::schema::{
    audit_log, delegations, dossier_events, dossier_processes, dossier_units, payments, processes, ratings, results,
    users,
};
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

on_both_backends!(
    an_action_takes_effect_once,
    conflicting_actions_take_one_effect,
    queue_claims_hand_out_each_dossier_once,
    uploads_all_land,
    replacements_leave_one_valid_result_and_revocation_happens_once,
    a_fee_is_settled_once,
    a_provider_reference_settles_once,
    counter_and_online_payments_race_for_one_fee,
    first_ratings_make_one_rating_and_counts_stay_exact,
    one_idempotency_key_files_one_dossier,
    collections_return_the_dossier_once,
    identity_verifications_bind_once,
    receptions_make_one_default_process,
    process_versions_saved_at_once_take_consecutive_numbers,
    a_delegation_is_revoked_once,
    a_step_is_forwarded_once_and_its_queue_claimed_once,
);

const N: usize = 20;
const SECRET: &str = "insecure-demo-provider-secret";

/// The service and a second instance on its database.
struct Pair {
    app: TestApp,
    twin: Api,
}

impl Pair {
    async fn start(b: Backend) -> Self {
        let app = TestApp::spawn(b).await;
        let twin = app.twin().await;
        Self { app, twin }
    }

    /// The instance that serves request `i`: they alternate.
    fn api(&self, i: usize) -> &Api {
        if i.is_multiple_of(2) { &self.app.api } else { &self.twin }
    }

    /// `n` requests sent at once, alternating between the instances; each
    /// answer's status and JSON body (`null` when not JSON).
    async fn at_once<'a, F, Fut>(&'a self, n: usize, request: F) -> Vec<(StatusCode, Value)>
    where
        F: Fn(&'a Api, usize) -> Fut,
        Fut: Future<Output = reqwest::Response> + 'a,
    {
        let answers = join_all((0..n).map(|i| request(self.api(i), i))).await;
        join_all(answers.into_iter().map(|res| async move {
            let status = res.status();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }))
        .await
    }

    /// How many events of `action` dossier `d` has.
    async fn events(&self, d: &Value, action: &'static str) -> i64 {
        let id = d["id"].as_str().unwrap().to_string();
        self.app
            .db(move |c| {
                dossier_events::table
                    .filter(dossier_events::dossier_id.eq(id).and(dossier_events::action.eq(action)))
                    .count()
                    .get_result(c)
            })
            .await
    }

    /// How many audit entries name `target` with `action`, once linked.
    async fn audited(&self, target: &str, action: &'static str) -> i64 {
        motcua::audit::linker::link_all(&self.app.state.db).await.unwrap();
        let target = target.to_string();
        self.app
            .db(move |c| {
                audit_log::table
                    .filter(audit_log::target.eq(target).and(audit_log::action.eq(action)))
                    .count()
                    .get_result(c)
            })
            .await
    }

    /// Every event has its audit entry, the chain verifies, and the daily
    /// counts are those a rebuild computes.
    async fn assert_consistent(&self) {
        let auditor = self.app.token("auditor").await;
        let report = json_ok(self.app.get("/api/v1/audit/verify", Some(&auditor)).await, StatusCode::OK).await;
        assert_eq!(report["valid"], true, "{report}");
        self.app.assert_counts_kept().await;
    }
}

fn count(answers: &[(StatusCode, Value)], status: StatusCode) -> usize {
    answers.iter().filter(|(s, _)| *s == status).count()
}

/// The problem codes of the refused answers.
fn codes(answers: &[(StatusCode, Value)]) -> Vec<String> {
    answers
        .iter()
        .filter(|(s, _)| !s.is_success())
        .map(|(_, b)| b["code"].as_str().unwrap_or("?").to_string())
        .collect()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

fn path(d: &Value, rest: &str) -> String {
    format!("/api/v1/dossiers/{}{rest}", d["id"].as_str().unwrap())
}

async fn an_action_takes_effect_once(b: Backend) {
    let pair = Pair::start(b).await;
    let (clerk, citizen) = (pair.app.token("clerk").await, pair.app.token("citizen").await);
    let d = file(&pair.app, &citizen, HOUSEHOLD_BUSINESS, "193").await;
    let answers = pair.at_once(N, |api, _| act(api, &clerk, &d, json!({"action": "receive"}))).await;
    assert_eq!(count(&answers, StatusCode::OK), 1, "{answers:?}");
    assert_eq!(count(&answers, StatusCode::CONFLICT), N - 1);
    assert!(codes(&answers).iter().all(|c| c == "illegal_action"), "{:?}", codes(&answers));
    assert_eq!(pair.events(&d, "receive").await, 1);
    assert_eq!(pair.audited(&id(&d), "dossiers.actions.receive").await, 1);
    let now = get(&pair.app, &clerk, &d).await;
    assert_eq!((now["status"].as_str(), now["version"].as_i64()), (Some("received"), Some(2)));

    // Twenty claims of one dossier by one specialist: one takes it.
    let specialist = pair.app.token("specialist").await;
    let answers = pair.at_once(N, |api, _| act(api, &specialist, &d, json!({"action": "claim"}))).await;
    assert_eq!(count(&answers, StatusCode::OK), 1, "{answers:?}");
    assert_eq!(pair.events(&d, "claim").await, 1);

    // Twenty transfers to one unit: one moves it, the rest find it there.
    let target = pair.app.unit_id("194").await;
    let body = json!({"action": "transfer", "target_unit_id": target, "reason": "Sai thẩm quyền"});
    let answers = pair.at_once(N, |api, _| act(api, &clerk, &d, body.clone())).await;
    assert_eq!(count(&answers, StatusCode::OK), 1, "{answers:?}");
    assert_eq!(pair.events(&d, "transfer").await, 1);
    let id = id(&d);
    let held: i64 =
        pair.app.db(move |c| dossier_units::table.filter(dossier_units::dossier_id.eq(id)).count().get_result(c)).await;
    assert_eq!(held, 2);
    pair.assert_consistent().await;
}

async fn conflicting_actions_take_one_effect(b: Backend) {
    let pair = Pair::start(b).await;
    let (clerk, citizen) = (pair.app.token("clerk").await, pair.app.token("citizen").await);
    let d = file(&pair.app, &citizen, HOUSEHOLD_BUSINESS, "193").await;
    // Receive, reject and request a supplement, withdraw: all at once.
    let answers = pair
        .at_once(N, |api, i| match i % 4 {
            0 => act(api, &clerk, &d, json!({"action": "receive"})),
            1 => act(api, &clerk, &d, json!({"action": "reject", "reason": "Thiếu giấy tờ"})),
            2 => act(api, &clerk, &d, json!({"action": "request_supplement", "reason": "Thiếu", "items": ["Bản sao"]})),
            _ => act(api, &citizen, &d, json!({"action": "withdraw", "reason": "Nộp nhầm"})),
        })
        .await;
    // The successes ran one after the other: their events form one path of
    // the state machine from `submitted`, one event per success, and the
    // dossier ended where the last one left it.
    let successes = answers.iter().filter(|(s, _)| s.is_success()).count();
    let history = events(&pair.app, &clerk, &d).await;
    let changes: Vec<&Value> = history.iter().filter(|e| e["action"] != "submit").collect();
    assert_eq!(changes.len(), successes, "{answers:?}");
    let mut status = json!("submitted");
    for e in &changes {
        assert_eq!(e["from_status"], status, "{history:?}");
        status = e["to_status"].clone();
    }
    assert_eq!(get(&pair.app, &clerk, &d).await["status"], status);
    let terminal = changes.iter().filter(|e| ["rejected", "withdrawn"].contains(&e["to_status"].as_str().unwrap()));
    assert!(terminal.count() <= 1);
    assert!(answers.iter().all(|(s, _)| s.is_success() || *s == StatusCode::CONFLICT), "{answers:?}");
    pair.assert_consistent().await;
}

async fn queue_claims_hand_out_each_dossier_once(b: Backend) {
    let pair = Pair::start(b).await;
    let clerk = pair.app.token("clerk").await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(id(&register(&pair.app, &clerk, BIRTH, "06691").await));
    }
    let specialist = pair.app.token("specialist").await;
    let answers = pair.at_once(N, |api, _| api.post("/api/v1/queue/claim", Some(&specialist), json!({}))).await;
    let mut claimed: Vec<String> = answers.iter().filter(|(s, _)| *s == StatusCode::OK).map(|(_, b)| id(b)).collect();
    claimed.sort();
    ids.sort();
    assert_eq!(claimed, ids, "each dossier once");
    assert_eq!(count(&answers, StatusCode::NO_CONTENT), N - ids.len());
    for d in &ids {
        assert_eq!(pair.events(&json!({"id": d}), "claim").await, 1);
        assert_eq!(pair.audited(d, "queue.claim.post").await, 1);
    }
    pair.assert_consistent().await;
}

async fn uploads_all_land(b: Backend) {
    let pair = Pair::start(b).await;
    let citizen = pair.app.token("citizen").await;
    let d = file(&pair.app, &citizen, HOUSEHOLD_BUSINESS, "193").await;
    let answers = pair.at_once(N, |api, i| upload(api, &citizen, &d, i % 2, pdf(), "don.pdf", None)).await;
    assert_eq!(count(&answers, StatusCode::CREATED), N, "{answers:?}");
    assert_eq!(pair.events(&d, "upload").await, N as i64);
    let now = get(&pair.app, &citizen, &d).await;
    assert_eq!(now["version"], 1 + N as i64, "each upload one version");
    let files: usize = now["components"].as_array().unwrap().iter().map(|c| c["files"].as_array().unwrap().len()).sum();
    assert_eq!(files, N);
    pair.assert_consistent().await;
}

fn result_form(n: usize, fields: &[(&str, &str)]) -> Form {
    let pdf = format!("%PDF-1.7\n% Kết quả số {n}\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n").into_bytes();
    fields.iter().fold(Form::new().part("file", Part::bytes(pdf).file_name("kq.pdf")), |f, (k, v)| {
        f.text(k.to_string(), v.to_string())
    })
}

async fn post_form(api: &Api, path: &str, token: &str, form: Form) -> reqwest::Response {
    api.client.post(api.url(path)).bearer_auth(token).multipart(form).send().await.unwrap()
}

async fn replacements_leave_one_valid_result_and_revocation_happens_once(b: Backend) {
    let pair = Pair::start(b).await;
    let s = cast(&pair.app).await;
    let d = register(&pair.app, &s.clerk, HOUSEHOLD_BUSINESS, "193").await;
    act_ok(&pair.app, &s.specialist, &d, json!({"action": "claim"})).await;
    json_ok(post_form(&pair.app, &path(&d, "/result"), &s.specialist, result_form(0, &[])).await, StatusCode::CREATED)
        .await;
    act_ok(&pair.app, &s.specialist, &d, json!({"action": "submit_for_approval"})).await;
    act_ok(&pair.app, &s.approver, &d, json!({"action": "approve"})).await;

    let replace = path(&d, "/result/replace");
    let answers = pair
        .at_once(N, |api, i| post_form(api, &replace, &s.approver, result_form(i + 1, &[("reason", "Sai tên")])))
        .await;
    // Replacements queue on the dossier: each replaces the one before it.
    assert_eq!(count(&answers, StatusCode::CREATED), N, "{answers:?}");
    let dossier = id(&d);
    let rows: Vec<(String, String, Option<String>, Option<String>)> = pair
        .app
        .db(move |c| {
            results::table
                .filter(results::dossier_id.eq(dossier))
                .order(results::id)
                .select((results::id, results::status, results::replaces_id, results::replaced_by_id))
                .load(c)
        })
        .await;
    assert_eq!(rows.len(), N + 1);
    assert_eq!(rows.iter().filter(|r| r.1 == "valid").count(), 1, "exactly one valid result");
    // One chain: every result but the first replaces exactly one, named once,
    // and is replaced by the one that names it.
    let mut replaced: Vec<&String> = rows.iter().filter_map(|r| r.2.as_ref()).collect();
    replaced.sort();
    replaced.dedup();
    assert_eq!(replaced.len(), N, "no result replaced twice");
    for r in &rows {
        if let Some(next) = &r.3 {
            let successor = rows.iter().find(|x| &x.0 == next).unwrap();
            assert_eq!(successor.2.as_ref(), Some(&r.0));
        }
    }
    assert_eq!(pair.events(&d, "replace_result").await, N as i64);
    let valid = rows.iter().find(|r| r.1 == "valid").unwrap();
    assert!(valid.3.is_none());

    let revoke = path(&d, "/result/revoke");
    let answers = pair.at_once(N, |api, _| api.post(&revoke, Some(&s.approver), json!({"reason": "Cấp nhầm"}))).await;
    assert_eq!(count(&answers, StatusCode::OK), 1, "{answers:?}");
    assert!(codes(&answers).iter().all(|c| c == "result_not_valid"));
    assert_eq!(pair.events(&d, "revoke_result").await, 1);
    assert_eq!(pair.audited(&id(&d), "dossiers.result.revoke.post").await, 1);
    pair.assert_consistent().await;
}

async fn a_fee_is_settled_once(b: Backend) {
    let pair = Pair::start(b).await;
    let (clerk, citizen) = (pair.app.token("clerk").await, pair.app.token("citizen").await);
    // Twenty counter payments of one fee.
    let d = register(&pair.app, &clerk, HOUSEHOLD_BUSINESS, "193").await;
    let pay = path(&d, "/payments");
    let answers = pair.at_once(N, |api, _| api.post(&pay, Some(&clerk), json!({"channel": "counter"}))).await;
    assert_eq!(count(&answers, StatusCode::CREATED), 1, "{answers:?}");
    assert!(codes(&answers).iter().all(|c| c == "nothing_to_pay"));
    assert_eq!(pair.events(&d, "payment").await, 1);
    assert_eq!(paid_payments(&pair.app, &d).await, (1, 1));

    // Twenty starts of an online payment: one pending payment, the same for all.
    let d = file(&pair.app, &citizen, HOUSEHOLD_BUSINESS, "193").await;
    let (body, pay) = (json!({"channel": "online", "provider": "demo"}), path(&d, "/payments"));
    let answers = pair.at_once(N, |api, _| api.post(&pay, Some(&citizen), body.clone())).await;
    assert_eq!(count(&answers, StatusCode::CREATED), 1, "{answers:?}");
    assert_eq!(count(&answers, StatusCode::OK), N - 1);
    let first = &answers[0].1["id"];
    assert!(answers.iter().all(|(_, b)| &b["id"] == first && b["status"] == "pending"));
    pair.assert_consistent().await;
}

/// (payments paid, payments that settled the fee) of dossier `d`.
async fn paid_payments(app: &TestApp, d: &Value) -> (i64, i64) {
    let id = id(d);
    app.db(move |c| {
        let paid = payments::table.filter(payments::dossier_id.eq(&id).and(payments::status.eq("paid")));
        let settled = payments::table.filter(payments::dossier_id.eq(&id).and(payments::settled_fee.eq(true)));
        Ok((paid.count().get_result(c)?, settled.count().get_result(c)?))
    })
    .await
}

async fn callback(api: &Api, body: &Value) -> reqwest::Response {
    let raw = serde_json::to_vec(body).unwrap();
    api.client
        .post(api.url("/api/v1/payments/callback/demo"))
        .header("content-type", "application/json")
        .header("x-signature", motcua::payments::sign(SECRET, &raw))
        .body(raw)
        .send()
        .await
        .unwrap()
}

fn report(d: &Value, payment: &Value, provider_ref: &str) -> Value {
    json!({"payment_id": payment["id"], "dossier_code": d["code"], "provider_ref": provider_ref,
           "amount_vnd": d["fee_vnd"], "status": "paid"})
}

async fn pending_online(pair: &Pair) -> (Value, Value) {
    let citizen = pair.app.token("citizen").await;
    let d = file(&pair.app, &citizen, HOUSEHOLD_BUSINESS, "193").await;
    let res =
        pair.app.post(&path(&d, "/payments"), Some(&citizen), json!({"channel": "online", "provider": "demo"})).await;
    (d, json_ok(res, StatusCode::CREATED).await)
}

async fn a_provider_reference_settles_once(b: Backend) {
    let pair = Pair::start(b).await;
    // One callback, delivered twenty times at once.
    let (d, payment) = pending_online(&pair).await;
    let body = report(&d, &payment, "VNPAY-1");
    let answers = pair.at_once(N, |api, _| callback(api, &body)).await;
    assert_eq!(count(&answers, StatusCode::OK), N, "{answers:?}");
    assert!(answers.iter().all(|(_, b)| b == &json!({"payment_id": payment["id"], "status": "paid"})));
    assert_eq!(pair.events(&d, "payment").await, 1);
    assert_eq!(paid_payments(&pair.app, &d).await, (1, 1));

    // Twenty references for one payment: the first recorded wins.
    let (d, payment) = pending_online(&pair).await;
    let reports: Vec<Value> = (0..N).map(|i| report(&d, &payment, &format!("VNPAY-2-{i}"))).collect();
    let answers = pair.at_once(N, |api, i| callback(api, &reports[i])).await;
    assert_eq!(count(&answers, StatusCode::OK), 1, "{answers:?}");
    assert!(codes(&answers).iter().all(|c| c == "payment_not_pending"));
    assert_eq!(pair.events(&d, "payment").await, 1);
    let winner = answers.iter().position(|(s, _)| *s == StatusCode::OK).unwrap();
    let id = id(&payment);
    let stored: Option<String> =
        pair.app.db(move |c| payments::table.find(id).select(payments::provider_ref).first(c)).await;
    assert_eq!(stored, Some(format!("VNPAY-2-{winner}")));
    // The provider retries the acknowledged reference: the same answer.
    let again =
        json_ok(callback(&pair.app, &report(&d, &payment, &format!("VNPAY-2-{winner}"))).await, StatusCode::OK).await;
    assert_eq!(again["status"], "paid");
    // The reference replayed for another payment changes nothing.
    let (other, other_payment) = pending_online(&pair).await;
    let reused = callback(&pair.app, &report(&other, &other_payment, &format!("VNPAY-2-{winner}"))).await;
    common::assert_problem(reused, StatusCode::CONFLICT, "provider_ref_reused").await;
    assert_eq!(paid_payments(&pair.app, &other).await, (0, 0));
    pair.assert_consistent().await;
}

async fn counter_and_online_payments_race_for_one_fee(b: Backend) {
    let pair = Pair::start(b).await;
    let clerk = pair.app.token("clerk").await;
    let (d, payment) = pending_online(&pair).await;
    // The clerk takes cash while the provider reports the online payment.
    let pay = path(&d, "/payments");
    let reports: Vec<Value> = (0..N).map(|i| report(&d, &payment, &format!("VNPAY-3-{i}"))).collect();
    let (pay, reports, clerk) = (&pay, &reports, &clerk);
    let answers = pair
        .at_once(N, |api, i| async move {
            if i % 2 == 0 {
                api.post(pay, Some(clerk), json!({"channel": "counter"})).await
            } else {
                callback(api, &reports[i]).await
            }
        })
        .await;
    let (paid, settled) = paid_payments(&pair.app, &d).await;
    assert_eq!(settled, 1, "one settlement: {answers:?}");
    assert!(paid <= 2, "at most the cash and the one online payment");
    assert_eq!(pair.events(&d, "payment").await, 1);
    assert!(answers.iter().all(|(s, _)| s.is_success() || *s == StatusCode::CONFLICT), "{answers:?}");
    pair.assert_consistent().await;
}

fn rating(satisfied: bool) -> Value {
    let v = if satisfied { "very_satisfied" } else { "dissatisfied" };
    json!({"reception": v, "processing_time": "satisfied", "staff_conduct": v, "result": "satisfied"})
}

async fn first_ratings_make_one_rating_and_counts_stay_exact(b: Backend) {
    let pair = Pair::start(b).await;
    let (clerk, citizen) = (pair.app.token("clerk").await, pair.app.token("citizen").await);
    let d = file(&pair.app, &citizen, BIRTH, "06691").await;
    act_ok(&pair.app, &clerk, &d, json!({"action": "reject", "reason": "Sai thẩm quyền"})).await;
    let rate = path(&d, "/rating");
    let answers = pair.at_once(N, |api, i| api.post(&rate, Some(&citizen), rating(i % 2 == 0))).await;
    assert_eq!(count(&answers, StatusCode::CREATED), 1, "{answers:?}");
    assert_eq!(count(&answers, StatusCode::OK), N - 1);
    let id = id(&d);
    let rows: i64 = pair.app.db(move |c| ratings::table.filter(ratings::dossier_id.eq(id)).count().get_result(c)).await;
    assert_eq!(rows, 1);
    assert_eq!(pair.events(&d, "rate").await, N as i64);
    let auditor = pair.app.token("auditor").await;
    let stats = json_ok(pair.app.get("/api/v1/stats", Some(&auditor)).await, StatusCode::OK).await;
    let rate = &stats["total"]["figures"]["satisfaction_rate"];
    assert_eq!(rate["denominator"], 1, "{rate}");
    assert!(rate["numerator"] == 0 || rate["numerator"] == 1, "{rate}");
    pair.assert_consistent().await;
}

async fn one_idempotency_key_files_one_dossier(b: Backend) {
    let pair = Pair::start(b).await;
    let citizen = pair.app.token("citizen").await;
    let unit = pair.app.unit_id("06691").await;
    let body = |n: usize| json!({"procedure_code": BIRTH, "unit_id": unit, "form": {"ho_ten_tre": format!("Bé {n}")}});
    let send = |api: &Api, key: &str, b: Value| {
        api.client
            .post(api.url("/api/v1/dossiers"))
            .bearer_auth(&citizen)
            .header("idempotency-key", key)
            .json(&b)
            .send()
    };
    let answers = pair.at_once(N, |api, _| async move { send(api, "key-1", body(1)).await.unwrap() }).await;
    assert_eq!(count(&answers, StatusCode::CREATED), N, "{answers:?}");
    let first = id(&answers[0].1);
    assert!(answers.iter().all(|(_, b)| id(b) == first));
    assert_eq!(pair.events(&json!({"id": first}), "submit").await, 1);

    // One key, two bodies at once: one of them files, the other is refused.
    let answers = pair.at_once(N, |api, i| async move { send(api, "key-2", body(i % 2)).await.unwrap() }).await;
    let filed: Vec<String> = answers.iter().filter(|(s, _)| *s == StatusCode::CREATED).map(|(_, b)| id(b)).collect();
    assert_eq!(filed.len(), N / 2, "{answers:?}");
    assert!(filed.iter().all(|f| *f == filed[0]));
    assert!(codes(&answers).iter().all(|c| c == "idempotency_key_reused"), "{:?}", codes(&answers));
    pair.assert_consistent().await;
}

async fn collections_return_the_dossier_once(b: Backend) {
    let pair = Pair::start(b).await;
    let s = cast(&pair.app).await;
    let d = register(&pair.app, &s.clerk, BIRTH, "06691").await;
    // The commune's staff: the demo specialist and approver work in Hạ Long.
    let specialist = pair.app.staff_token("cv.06691@quangninh.gov.vn", &["specialist"], "06691").await;
    let approver = pair.app.staff_token("ld.06691@quangninh.gov.vn", &["approver"], "06691").await;
    act_ok(&pair.app, &specialist, &d, json!({"action": "claim"})).await;
    json_ok(post_form(&pair.app, &path(&d, "/result"), &specialist, result_form(0, &[])).await, StatusCode::CREATED)
        .await;
    act_ok(&pair.app, &specialist, &d, json!({"action": "submit_for_approval"})).await;
    act_ok(&pair.app, &approver, &d, json!({"action": "approve"})).await;
    let collect = path(&d, "/result/collect");
    let answers = pair.at_once(N, |api, _| api.post(&collect, Some(&s.citizen), json!({}))).await;
    assert_eq!(count(&answers, StatusCode::OK), N, "collecting is idempotent: every retry answers 200");
    assert!(answers.iter().all(|(_, body)| body["status"] == "returned"));
    assert_eq!(pair.events(&d, "return_result").await, 1);
    assert_eq!(pair.audited(&id(&d), "dossiers.result.collect.post").await, 1, "the one request that returned it");
    assert_eq!(get(&pair.app, &s.citizen, &d).await["status"], "returned");
    pair.assert_consistent().await;
}

async fn identity_verifications_bind_once(b: Backend) {
    let pair = Pair::start(b).await;
    let clerk = pair.app.token("clerk").await;
    // Two accounts claim one national ID; a counter dossier carries it.
    let (a, b2) = (citizen(31), citizen(32));
    let mut b2 = b2;
    b2["national_id"] = a["national_id"].clone();
    for body in [&a, &b2] {
        assert_eq!(pair.app.post("/api/v1/auth/register", None, body.clone()).await.status(), StatusCode::ACCEPTED);
    }
    let unit = pair.app.unit_id("193").await;
    let registered = json!({
        "procedure_code": HOUSEHOLD_BUSINESS, "unit_id": unit, "channel": "counter",
        "applicant": {"kind": "citizen", "name": "Trần Thị Bình", "national_id": a["national_id"]},
    });
    let d = json_ok(pair.app.post("/api/v1/dossiers", Some(&clerk), registered).await, StatusCode::CREATED).await;

    // The clerk verifies account A twenty times at once: it is bound once.
    let verify = json!({"email": a["email"], "national_id": a["national_id"]});
    let answers =
        pair.at_once(N, |api, _| api.post("/api/v1/identity/verifications", Some(&clerk), verify.clone())).await;
    assert_eq!(count(&answers, StatusCode::OK), N, "{answers:?}");
    let bound: u64 = answers.iter().map(|(_, b)| b["dossiers_bound"].as_u64().unwrap()).sum();
    assert_eq!(bound, 1);
    assert_eq!(pair.events(&d, "bind_applicant").await, 1);

    // A and B verified for one number at once: one of them holds it.
    let c = citizen(33);
    let mut d2 = citizen(34);
    d2["national_id"] = c["national_id"].clone();
    for body in [&c, &d2] {
        assert_eq!(pair.app.post("/api/v1/auth/register", None, body.clone()).await.status(), StatusCode::ACCEPTED);
    }
    let bodies: Vec<Value> = (0..N)
        .map(|i| json!({"email": if i % 2 == 0 { &c } else { &d2 }["email"], "national_id": c["national_id"]}))
        .collect();
    let answers =
        pair.at_once(N, |api, i| api.post("/api/v1/identity/verifications", Some(&clerk), bodies[i].clone())).await;
    assert_eq!(count(&answers, StatusCode::OK), N / 2, "{answers:?}");
    assert!(codes(&answers).iter().all(|code| code == "national_id_taken"), "{answers:?}");
    let nid = c["national_id"].as_str().unwrap().to_string();
    let holders: i64 =
        pair.app.db(move |conn| users::table.filter(users::national_id.eq(nid)).count().get_result(conn)).await;
    assert_eq!(holders, 1);
    pair.assert_consistent().await;
}

/// Twenty registrations at once for a procedure without a process: one
/// default process is made, and every dossier follows it.
async fn receptions_make_one_default_process(b: Backend) {
    let pair = Pair::start(b).await;
    let (admin, clerk) = (pair.app.token("admin").await, pair.app.token("clerk").await);
    let spec = json!({
        "code": "9.000078", "name": "Thủ tục thử", "field": "Thử nghiệm", "levels": ["district"],
        "processing_days": 1, "cutoff_hour": 16, "fee_vnd": 0, "online_level": "full",
        "result_is_document": false,
        "components": [{"name": "Đơn", "mandatory": true, "e_copy_accepted": false}],
    });
    json_ok(pair.app.post("/api/v1/procedures", Some(&admin), spec).await, StatusCode::CREATED).await;
    let unit = pair.app.unit_id("193").await;
    let body = json!({
        "procedure_code": "9.000078", "unit_id": unit, "channel": "counter",
        "applicant": {"kind": "citizen", "name": "Nguyễn Văn An", "national_id": "022095001234"},
    });
    let answers = pair.at_once(N, |api, _| api.post("/api/v1/dossiers", Some(&clerk), body.clone())).await;
    assert_eq!(count(&answers, StatusCode::CREATED), N, "{:?}", codes(&answers));
    let (made, pinned): (i64, Vec<String>) = pair
        .app
        .db(|c| {
            let made = processes::table.count().get_result::<i64>(c)?;
            let pinned = dossier_processes::table.select(dossier_processes::process_id).distinct().load(c)?;
            Ok((made, pinned))
        })
        .await;
    // The nine demo procedures' processes, and one default.
    assert_eq!(made, 10);
    assert_eq!(pinned.len(), 1, "every registration follows the one default");
    pair.assert_consistent().await;
}

/// Twenty new versions of one process saved at once through two instances:
/// each is saved, with its own number, none skipped.
async fn process_versions_saved_at_once_take_consecutive_numbers(b: Backend) {
    let pair = Pair::start(b).await;
    let admin = pair.app.token("admin").await;
    let path = format!("/api/v1/procedures/{HOUSEHOLD_BUSINESS}/processes");
    let answers = pair
        .at_once(N, |api, i| {
            let body = json!({"note": format!("bản {i}"), "steps": [
                {"name": "Thẩm định", "role": "specialist", "allotted_minutes": 900, "kind": "ordinary"},
                {"name": "Ký", "role": "approver", "allotted_minutes": 360, "kind": "signing"},
            ]});
            api.post(&path, Some(&admin), body)
        })
        .await;
    assert_eq!(count(&answers, StatusCode::CREATED), N, "{:?}", codes(&answers));
    let mut versions: Vec<i64> = answers.iter().map(|(_, v)| v["version"].as_i64().unwrap()).collect();
    versions.sort();
    assert_eq!(versions, (2..=N as i64 + 1).collect::<Vec<_>>(), "after the demo's version 1");
    let stored: i64 = pair.app.db(|c| processes::table.count().get_result(c)).await;
    assert_eq!(stored, 9 + N as i64);
}

/// Twenty revocations of one delegation at once: one takes effect, one audit
/// entry; every answer shows it revoked.
async fn a_delegation_is_revoked_once(b: Backend) {
    let pair = Pair::start(b).await;
    let specialist = pair.app.token("specialist").await;
    let deputy = pair.app.staff_token("clerk2.193@example.vn", &["clerk"], "193").await;
    let me: Value = pair.app.get("/api/v1/me", Some(&deputy)).await.json().await.unwrap();
    let ends = (chrono::Utc::now() + chrono::Duration::days(7)).to_rfc3339();
    let body = json!({"delegate_id": me["id"], "roles": ["specialist"], "ends_at": ends, "reason": "Nghỉ phép"});
    let lent = json_ok(pair.app.post("/api/v1/delegations", Some(&specialist), body).await, StatusCode::CREATED).await;
    let id = lent["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/delegations/{id}/revoke");
    let answers = pair.at_once(N, |api, _| api.post(&path, Some(&specialist), json!({}))).await;
    assert_eq!(count(&answers, StatusCode::OK), N);
    let at = answers[0].1["revoked_at"].clone();
    assert!(at.is_string() && answers.iter().all(|(_, v)| v["revoked_at"] == at && v["in_force"] == false));
    let revoked: Vec<Option<chrono::NaiveDateTime>> =
        pair.app.db(move |c| delegations::table.select(delegations::revoked_at).load(c)).await;
    assert_eq!(revoked.len(), 1);
    assert_eq!(pair.audited(&id, "delegations.revoke.post").await, 1, "the one revocation that took effect");
}

/// Twenty forwards of one step, then twenty claims from the next step's
/// queue by twenty approvers, alternating between two instances: one
/// handover, one holder.
async fn a_step_is_forwarded_once_and_its_queue_claimed_once(b: Backend) {
    let pair = Pair::start(b).await;
    let clerk = pair.app.staff_token("mc.22@example.vn", &["clerk"], "22").await;
    let specialist = pair.app.staff_token("cv.22@example.vn", &["specialist"], "22").await;
    // 2.000488 (criminal record certificate): examine, review, sign, return.
    let d = register(&pair.app, &clerk, "2.000488", "22").await;
    act_ok(&pair.app, &specialist, &d, json!({"action": "claim"})).await;
    let answers = pair.at_once(N, |api, _| act(api, &specialist, &d, json!({"action": "forward"}))).await;
    assert_eq!(count(&answers, StatusCode::OK), 1, "{answers:?}");
    assert!(codes(&answers).iter().all(|c| c == "forbidden"), "the holder let go: {:?}", codes(&answers));
    assert_eq!(pair.events(&d, "forward").await, 1);
    let auditor = pair.app.token("auditor").await;
    let steps = json_ok(pair.app.get("/api/v1/stats/steps", Some(&auditor)).await, StatusCode::OK).await;
    assert_eq!(steps["steps"][0]["completed"], 1, "one step completed: {steps}");
    let now = get(&pair.app, &clerk, &d).await;
    assert_eq!(
        (now["current_step"]["number"].as_u64(), now["current_step"]["role"].as_str()),
        (Some(2), Some("approver"))
    );

    let mut heads = Vec::new();
    for i in 0..N {
        heads.push(pair.app.staff_token(&format!("tp{i}.22@example.vn"), &["approver"], "22").await);
    }
    let answers = pair.at_once(N, |api, i| api.post("/api/v1/queue/claim", Some(&heads[i]), json!({}))).await;
    assert_eq!(count(&answers, StatusCode::OK), 1, "{answers:?}");
    assert_eq!(count(&answers, StatusCode::NO_CONTENT), N - 1);
    assert_eq!(pair.events(&d, "claim").await, 2);
    pair.assert_consistent().await;
}
