//! E-mail through the transactional outbox, delivered to a real SMTP server
//! (`tests/common/smtp.rs`): every message, the account e-mail flows, an
//! outage, dead letters and their retry, a restart between action and
//! delivery, concurrent workers and the staff digest.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use common::flow::*;
use common::smtp::{Mail, SmtpSink};
use common::{Backend, PUBLIC_BASE_URL, TestApp, assert_problem, citizen};
use diesel::prelude::*;
use motcua::db::schema::{account_tokens, dossier_processes, dossiers, outbox};
use motcua::notify::worker::{Delivery, Worker};
use motcua::seed::DEMO_PASSWORD;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    registration_sends_a_verification_link_that_works_once,
    filing_waits_for_a_verified_address_when_required,
    password_reset_by_email,
    reset_links_expire_and_unknown_addresses_learn_nothing,
    every_dossier_message_reaches_the_applicant,
    english_applicants_get_english_mail,
    received_mail_goes_out_once_across_a_restart,
    smtp_outage_loses_nothing,
    an_smtp_outage_pauses_the_worker_instead_of_failing_every_message,
    an_abandoned_claim_expires,
    dead_letters_after_max_attempts_and_admin_retry,
    concurrent_workers_deliver_each_message_once,
    staff_digest_once_a_day,
    a_late_step_alerts_the_units_approvers_once,
);

/// `dd/mm/yyyy HH:MM` in Vietnam (UTC+7) of an API timestamp.
fn local(ts: &Value) -> String {
    let t: DateTime<Utc> = ts.as_str().unwrap_or_else(|| panic!("a timestamp, not {ts}")).parse().unwrap();
    (t + chrono::Duration::hours(7)).format("%d/%m/%Y %H:%M").to_string()
}

/// The only mail to `address`, with its envelope and headers checked.
fn only_mail_to(sink: &SmtpSink, address: &str) -> Mail {
    let mut mails = sink.mails_to(address);
    let subjects: Vec<&String> = mails.iter().map(|m| &m.subject).collect();
    assert_eq!(mails.len(), 1, "one mail to {address}, got {subjects:?}");
    let mail = mails.remove(0);
    assert_eq!((mail.to.as_str(), mail.from.as_str()), (address, "no-reply@motcua.local"));
    mail
}

/// The link of `mail` whose path starts with `path`; the HTML part has it too.
fn link(mail: &Mail, path: &str) -> String {
    let prefix = format!("{PUBLIC_BASE_URL}{path}");
    let link = mail
        .links()
        .into_iter()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {prefix} link in {}", mail.text));
    assert!(mail.html.contains(&link.replace('&', "&amp;")), "the HTML part links to {link}");
    link
}

fn token_of(link: &str) -> String {
    link.split_once("token=").expect("a token in the link").1.to_string()
}

/// Makes the pending messages due now: time passes, behaviour does not change.
async fn make_due(app: &TestApp) {
    let past = motcua::time::now() - chrono::Duration::seconds(1);
    app.db(move |c| {
        diesel::update(outbox::table.filter(outbox::state.eq("pending")))
            .set(outbox::next_attempt_at.eq(past))
            .execute(c)
    })
    .await;
}

/// `(kind, state, attempts, next_attempt_at)` of every message, oldest first.
async fn outbox_rows(app: &TestApp) -> Vec<(String, String, i32, NaiveDateTime)> {
    app.db(|c| {
        outbox::table
            .order(outbox::id)
            .select((outbox::kind, outbox::state, outbox::attempts, outbox::next_attempt_at))
            .load(c)
    })
    .await
}

/// Registers the account of `body` and returns it as `GET /me` shows it.
async fn register_account(app: &TestApp, body: Value) -> Value {
    json_ok(app.post("/api/v1/auth/register", None, body.clone()).await, StatusCode::ACCEPTED).await;
    let token = access_token(app, body["email"].as_str().unwrap(), body["password"].as_str().unwrap()).await;
    json_ok(app.get("/api/v1/me", Some(&token)).await, StatusCode::OK).await
}

async fn access_token(app: &TestApp, email: &str, password: &str) -> String {
    app.login(email, password).await["access_token"].as_str().unwrap().to_string()
}

/// A counter dossier registered by `clerk` at Hạ Long for an applicant with
/// the given e-mail address (or none).
async fn counter_dossier(app: &TestApp, clerk: &str, procedure: &str, email: Option<&str>) -> Value {
    let unit = app.unit_id("193").await;
    let mut applicant = json!({"kind": "citizen", "name": "Lê Văn Cường", "national_id": "022196000077"});
    if let Some(e) = email {
        applicant["email"] = json!(e);
    }
    let body = json!({"procedure_code": procedure, "unit_id": unit, "channel": "counter", "applicant": applicant});
    json_ok(app.post("/api/v1/dossiers", Some(clerk), body).await, StatusCode::CREATED).await
}

async fn online_birth(app: &TestApp, citizen: &str) -> Value {
    let unit = app.unit_id("06691").await;
    json_ok(
        app.post("/api/v1/dossiers", Some(citizen), json!({"procedure_code": BIRTH, "unit_id": unit})).await,
        StatusCode::CREATED,
    )
    .await
}

async fn registration_sends_a_verification_link_that_works_once(b: Backend) {
    let (app, sink) = TestApp::with_mail(b, |_| {}).await;
    let user = register_account(&app, citizen(1)).await;
    assert_eq!(user["email_verified"], false);
    assert!(sink.received().is_empty(), "queued, not sent, until the worker runs");
    assert_eq!(app.deliver().await, Delivery { sent: 1, ..Default::default() });

    let mail = only_mail_to(&sink, "citizen1@example.vn");
    assert_eq!(mail.envelope_to, ["citizen1@example.vn"]);
    assert_eq!(mail.subject, "Xác thực địa chỉ thư điện tử của bạn");
    assert!(mail.text.contains("Kính gửi Trần Thị Bình") && mail.html.contains("Kính gửi Trần Thị Bình"));
    assert!(mail.text.contains("48 giờ"));
    assert!(mail.message_id.ends_with("@motcua.local"), "{}", mail.message_id);
    assert!(mail.auth.is_none(), "no credentials configured, none sent");
    let link = link(&mail, "/api/v1/auth/verify-email?token=");

    let verified = json_ok(app.follow(&link).await, StatusCode::OK).await;
    assert_eq!(verified, json!({"email": "citizen1@example.vn", "email_verified": true}));
    let me = app.get("/api/v1/me", Some(&access_token(&app, "citizen1@example.vn", "mật khẩu an toàn").await)).await;
    assert_eq!(json_ok(me, StatusCode::OK).await["email_verified"], true);
    assert_problem(app.follow(&link).await, StatusCode::BAD_REQUEST, "invalid_link").await;

    // The database keeps only the token's SHA-256, and the delivered message
    // no longer holds the link.
    let token = token_of(&link);
    let (hashes, bodies) = app
        .db(|c| {
            let hashes: Vec<String> = account_tokens::table.select(account_tokens::token_hash).load(c)?;
            let bodies: Vec<(String, String)> = outbox::table.select((outbox::text_body, outbox::html_body)).load(c)?;
            Ok((hashes, bodies))
        })
        .await;
    assert_eq!(hashes, [motcua::auth::tokens::hash_secret_token(&token)]);
    assert!(bodies.iter().all(|(t, h)| !t.contains(&token) && !h.contains(&token)));

    assert_problem(app.get("/api/v1/auth/verify-email", None).await, StatusCode::BAD_REQUEST, "invalid_query").await;
    let res = app.get("/api/v1/auth/verify-email?token=made-up", None).await;
    assert_problem(res, StatusCode::BAD_REQUEST, "invalid_link").await;

    // Registering the address again: the owner is told, with no working link.
    let mut again = citizen(1);
    again["password"] = json!("một mật khẩu khác hẳn");
    json_ok(app.post("/api/v1/auth/register", None, again).await, StatusCode::ACCEPTED).await;
    assert_eq!(app.deliver().await, Delivery { sent: 1, ..Default::default() });
    let told = sink.mails_to("citizen1@example.vn").pop().unwrap();
    assert_eq!(told.subject, "Địa chỉ thư điện tử của bạn đã có tài khoản");
    assert!(!told.text.contains("token="), "{}", told.text);
}

async fn filing_waits_for_a_verified_address_when_required(b: Backend) {
    let (app, sink) = TestApp::with_mail(b, |s| s.notifications.require_verified_email_to_file = true).await;
    register_account(&app, citizen(2)).await;
    // Unverified accounts log in…
    let token = access_token(&app, "citizen2@example.vn", "mật khẩu an toàn").await;
    let unit = app.unit_id("06691").await;
    let body = json!({"procedure_code": BIRTH, "unit_id": unit});
    // …but do not file.
    let res = app.post("/api/v1/dossiers", Some(&token), body.clone()).await;
    assert_problem(res, StatusCode::FORBIDDEN, "email_not_verified").await;

    // A new link replaces the first one.
    let res = app.post("/api/v1/auth/resend-verification", Some(&token), json!({})).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert_eq!(app.deliver().await.sent, 2);
    let mails = sink.mails_to("citizen2@example.vn");
    assert_eq!(mails.len(), 2);
    let (first, second) = (link(&mails[0], "/api/v1/auth/verify-email"), link(&mails[1], "/api/v1/auth/verify-email"));
    assert_problem(app.follow(&first).await, StatusCode::BAD_REQUEST, "invalid_link").await;
    json_ok(app.follow(&second).await, StatusCode::OK).await;
    json_ok(app.post("/api/v1/dossiers", Some(&token), body.clone()).await, StatusCode::CREATED).await;
    let res = app.post("/api/v1/auth/resend-verification", Some(&token), json!({})).await;
    assert_problem(res, StatusCode::CONFLICT, "already_verified").await;
    let res = app.post("/api/v1/auth/resend-verification", None, json!({})).await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    // With the requirement off (as in local development), unverified citizens file.
    register_account(&app, citizen(3)).await;
    let app = app.restart(|s| s.notifications.require_verified_email_to_file = false).await;
    let other = access_token(&app, "citizen3@example.vn", "mật khẩu an toàn").await;
    json_ok(app.post("/api/v1/dossiers", Some(&other), body).await, StatusCode::CREATED).await;
}

async fn password_reset_by_email(b: Backend) {
    let (app, sink) = TestApp::with_mail(b, |_| {}).await;
    let session = app.login("citizen@motcua.local", DEMO_PASSWORD).await;
    let res = app.post("/api/v1/auth/password-reset", None, json!({"email": " Citizen@Motcua.local "})).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert_eq!(app.deliver().await.sent, 1);
    let mail = only_mail_to(&sink, "citizen@motcua.local");
    assert_eq!(mail.subject, "Đặt lại mật khẩu");
    assert!(mail.text.contains("Nguyễn Văn An") && mail.text.contains("60 phút"));
    let link = link(&mail, "/api/v1/auth/password-reset/confirm?token=");

    // The link works when followed: it shows until when.
    let check = json_ok(app.follow(&link).await, StatusCode::OK).await;
    let expires: DateTime<Utc> = check["expires_at"].as_str().unwrap().parse().unwrap();
    let left = expires - Utc::now();
    assert!(left > chrono::Duration::minutes(55) && left <= chrono::Duration::minutes(60), "{left}");

    let token = token_of(&link);
    let confirm = |password: &str| {
        app.post("/api/v1/auth/password-reset/confirm", None, json!({"token": token, "new_password": password}))
    };
    let p = assert_problem(confirm("short").await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(p["errors"][0]["field"], "new_password");
    assert_eq!(confirm("mật khẩu mới an toàn").await.status(), StatusCode::NO_CONTENT);
    // Once only.
    assert_problem(confirm("một mật khẩu khác nữa").await, StatusCode::BAD_REQUEST, "invalid_link").await;
    assert_problem(app.follow(&link).await, StatusCode::BAD_REQUEST, "invalid_link").await;

    // Every session ended; the new password is the one.
    let res = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": session["refresh_token"]})).await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let res =
        app.post("/api/v1/auth/login", None, json!({"email": "citizen@motcua.local", "password": DEMO_PASSWORD})).await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    app.login("citizen@motcua.local", "mật khẩu mới an toàn").await;
}

async fn reset_links_expire_and_unknown_addresses_learn_nothing(b: Backend) {
    let (app, sink) = TestApp::with_mail(b, |_| {}).await;
    let ask = |email: &str| app.post("/api/v1/auth/password-reset", None, json!({"email": email}));
    let known = ask("specialist@motcua.local").await;
    let unknown = ask("nobody@example.vn").await;
    assert_eq!((known.status(), unknown.status()), (StatusCode::ACCEPTED, StatusCode::ACCEPTED));
    assert_eq!(known.bytes().await.unwrap(), unknown.bytes().await.unwrap(), "the answers are identical");
    // A disabled account is as unknown.
    let admin = app.token("admin").await;
    let clerk_id = app.get("/api/v1/me", Some(&app.token("clerk").await)).await.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = app.patch(&format!("/api/v1/admin/users/{clerk_id}"), Some(&admin), json!({"active": false})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(ask("clerk@motcua.local").await.status(), StatusCode::ACCEPTED);

    assert_eq!(app.deliver().await.sent, 1, "only the known, active address gets a mail");
    assert_eq!(sink.mails().len(), 1);
    assert_eq!(outbox_rows(&app).await.len(), 1);
    let first = link(&only_mail_to(&sink, "specialist@motcua.local"), "/api/v1/auth/password-reset/confirm");

    // A newer link retires the older one.
    assert_eq!(ask("specialist@motcua.local").await.status(), StatusCode::ACCEPTED);
    assert_eq!(app.deliver().await.sent, 1);
    let mails = sink.mails_to("specialist@motcua.local");
    let second = link(&mails[1], "/api/v1/auth/password-reset/confirm");
    assert_problem(app.follow(&first).await, StatusCode::BAD_REQUEST, "invalid_link").await;
    json_ok(app.follow(&second).await, StatusCode::OK).await;

    // An expired link does nothing.
    let past = motcua::time::now() - chrono::Duration::minutes(1);
    app.db(move |c| diesel::update(account_tokens::table).set(account_tokens::expires_at.eq(past)).execute(c)).await;
    assert_problem(app.follow(&second).await, StatusCode::BAD_REQUEST, "invalid_link").await;
    let res = app
        .post(
            "/api/v1/auth/password-reset/confirm",
            None,
            json!({"token": token_of(&second), "new_password": "mật khẩu mới an toàn"}),
        )
        .await;
    assert_problem(res, StatusCode::BAD_REQUEST, "invalid_link").await;
    app.login("specialist@motcua.local", DEMO_PASSWORD).await;

    // Malformed requests are problems, not failures.
    let res = app.post("/api/v1/auth/password-reset", None, json!({"email": 5})).await;
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let res = app.post("/api/v1/auth/password-reset/confirm", None, json!({"token": "x"})).await;
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

async fn every_dossier_message_reaches_the_applicant(b: Backend) {
    let (app, sink) = TestApp::with_mail(b, |_| {}).await;
    let (citizen, clerk, specialist, approver) = (
        app.token("citizen").await,
        app.token("clerk").await,
        app.token("specialist").await,
        app.token("approver").await,
    );

    // Online: supplement requested, received, result ready, rating invitation.
    let d = online_birth(&app, &citizen).await;
    let code = d["code"].as_str().unwrap().to_string();
    let supplement = json!({"action": "request_supplement", "reason": "Thiếu <giấy> chứng sinh",
                            "items": ["Giấy chứng sinh bản chính", "CCCD của cha & mẹ"]});
    act_ok(&app, &clerk, &d, supplement).await;
    act_ok(&app, &citizen, &d, json!({"action": "supplement"})).await;
    let received = act_ok(&app, &clerk, &d, json!({"action": "receive"})).await;
    act_ok(&app, &specialist, &d, json!({"action": "claim"})).await;
    act_ok(&app, &specialist, &d, json!({"action": "submit_for_approval"})).await;
    act_ok(&app, &approver, &d, json!({"action": "approve"})).await;
    act_ok(&app, &clerk, &d, json!({"action": "return_result"})).await;
    assert_eq!(app.deliver().await, Delivery { sent: 4, ..Default::default() });

    let mails = sink.mails_to("citizen@motcua.local");
    let subjects: Vec<&str> = mails.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(
        subjects,
        [
            format!("Hồ sơ {code} cần bổ sung giấy tờ"),
            format!("Giấy tiếp nhận hồ sơ và hẹn trả kết quả: hồ sơ {code}"),
            format!("Hồ sơ {code} đã có kết quả"),
            format!("Mời đánh giá mức độ hài lòng: hồ sơ {code}"),
        ]
    );
    let [asked, receipt, result, rating] = <[Mail; 4]>::try_from(mails).unwrap();
    assert!(asked.text.contains("Lý do: Thiếu <giấy> chứng sinh"), "{}", asked.text);
    assert!(asked.text.contains("- Giấy chứng sinh bản chính\n- CCCD của cha & mẹ"), "{}", asked.text);
    assert!(
        asked.html.contains("Thiếu &lt;giấy&gt; chứng sinh") && asked.html.contains("<li>CCCD của cha &amp; mẹ</li>")
    );

    let unit = d["unit"]["name"].as_str().unwrap();
    for part in [&receipt.text, &receipt.html] {
        assert!(part.contains(&code) && part.contains(unit), "{part}");
        assert!(part.contains(&local(&received["due_at"])), "the appointment date: {part}");
        assert!(part.contains(&local(&received["received_at"])), "the reception time: {part}");
    }
    assert!(receipt.text.contains(&format!("Ngày hẹn trả kết quả: {}", local(&received["due_at"]))));
    // The receipt links to the province's lookup page with the code, never
    // with the national ID (the page asks for it).
    assert_eq!(link(&receipt, "/tra-cuu?ma="), format!("{PUBLIC_BASE_URL}/tra-cuu?ma={code}"));
    assert_eq!(link(&result, "/tra-cuu?ma="), format!("{PUBLIC_BASE_URL}/tra-cuu?ma={code}"));
    for mail in [&receipt, &result] {
        assert!(!mail.text.contains("022095001234") && !mail.html.contains("022095001234"), "{}", mail.text);
    }
    link(&rating, &format!("/api/v1/dossiers/{}/rating", d["id"].as_str().unwrap()));

    // Rejection, with its reason.
    let r = online_birth(&app, &citizen).await;
    act_ok(&app, &clerk, &r, json!({"action": "reject", "reason": "Không thuộc thẩm quyền"})).await;
    // Apology for a counter dossier whose applicant left an address (no
    // account: Vietnamese), after its receipt.
    let c = counter_dossier(&app, &clerk, HOUSEHOLD_BUSINESS, Some("cuong@example.vn")).await;
    let id = c["id"].as_str().unwrap().to_string();
    let late = motcua::time::now() - chrono::Duration::days(2);
    app.db(move |conn| diesel::update(dossiers::table.find(id)).set(dossiers::due_at.eq(late)).execute(conn)).await;
    let new_date = (Utc::now() + chrono::Duration::days(10)).to_rfc3339();
    let sorry = act_ok(
        &app,
        &clerk,
        &c,
        json!({"action": "apologize", "reason": "Chờ xác minh thực địa", "new_due_at": new_date}),
    )
    .await;
    // No address, no mail; and actions without a message send none.
    let silent = counter_dossier(&app, &clerk, HOUSEHOLD_BUSINESS, None).await;
    act_ok(&app, &specialist, &silent, json!({"action": "claim"})).await;
    assert_eq!(app.deliver().await.sent, 3);

    let rejected = sink.mails_to("citizen@motcua.local").pop().unwrap();
    let rcode = r["code"].as_str().unwrap();
    assert_eq!(rejected.subject, format!("Hồ sơ {rcode} không được tiếp nhận"));
    assert!(
        rejected.text.contains("Lý do: Không thuộc thẩm quyền") && rejected.html.contains("Không thuộc thẩm quyền")
    );
    let cmails = sink.mails_to("cuong@example.vn");
    let ccode = c["code"].as_str().unwrap();
    assert_eq!(cmails.len(), 2);
    assert_eq!(cmails[0].subject, format!("Giấy tiếp nhận hồ sơ và hẹn trả kết quả: hồ sơ {ccode}"));
    assert!(cmails[0].text.contains(&local(&c["due_at"])));
    let apology = &cmails[1];
    assert_eq!(apology.subject, format!("Thư xin lỗi và hẹn lại ngày trả kết quả: hồ sơ {ccode}"));
    assert!(apology.text.contains(&format!("Ngày hẹn mới: {}", local(&sorry["due_at"]))), "{}", apology.text);
    assert!(apology.text.contains(&format!("Ngày hẹn ban đầu: {}", local(&c["original_due_at"]))));
    assert!(apology.html.contains(&local(&sorry["due_at"])) && apology.html.contains("Chờ xác minh thực địa"));
    assert_eq!(sink.mails().len(), 7);

    // Each message is filed under its dossier.
    let d_id = d["id"].as_str().unwrap().to_string();
    let filed: i64 =
        app.db(move |conn| outbox::table.filter(outbox::dossier_id.eq(d_id)).count().get_result(conn)).await;
    assert_eq!(filed, 4);
}

async fn english_applicants_get_english_mail(b: Backend) {
    let (app, sink) = TestApp::with_mail(b, |_| {}).await;
    let mut body = citizen(4);
    body["locale"] = json!("en");
    register_account(&app, body).await;
    let token = access_token(&app, "citizen4@example.vn", "mật khẩu an toàn").await;
    let d = online_birth(&app, &token).await;
    let received = act_ok(&app, &app.token("clerk").await, &d, json!({"action": "receive"})).await;
    assert_eq!(app.deliver().await.sent, 2);

    let mails = sink.mails_to("citizen4@example.vn");
    assert_eq!(mails[0].subject, "Verify your e-mail address");
    assert!(mails[0].text.starts_with("Dear Trần Thị Bình,") && mails[0].html.contains("lang=\"en\""));
    let code = d["code"].as_str().unwrap();
    assert_eq!(mails[1].subject, format!("Receipt and appointment: dossier {code}"));
    assert!(mails[1].text.contains(&format!("Result appointment: {}", local(&received["due_at"]))));
    assert!(mails[1].html.contains("Result appointment"));
}

async fn received_mail_goes_out_once_across_a_restart(b: Backend) {
    let (app, sink) = TestApp::with_mail(b, |_| {}).await;
    let d = online_birth(&app, &app.token("citizen").await).await;
    let received = act_ok(&app, &app.token("clerk").await, &d, json!({"action": "receive"})).await;

    // The service stops before delivering; the one that starts on the same
    // database delivers from the background, as `motcua serve` does.
    let app = app
        .restart(|s| {
            s.notifications.worker_enabled = true;
            s.notifications.poll_interval_ms = 50;
        })
        .await;
    sink.wait_for(1, Duration::from_secs(20)).await;
    // A few more rounds of the worker deliver nothing more.
    actix_web::rt::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(app.deliver().await, Delivery::default());

    let mail = only_mail_to(&sink, "citizen@motcua.local");
    let code = d["code"].as_str().unwrap();
    assert_eq!(mail.subject, format!("Giấy tiếp nhận hồ sơ và hẹn trả kết quả: hồ sơ {code}"));
    assert!(mail.text.contains(&format!("Mã hồ sơ: {code}")));
    assert!(mail.text.contains(&format!("Ngày hẹn trả kết quả: {}", local(&received["due_at"]))));
    // (The background worker may also have sent the staff their daily digest.)
    let rows = outbox_rows(&app).await;
    let receipts: Vec<_> = rows.iter().filter(|r| r.0 == "dossier_received").map(|r| (r.1.as_str(), r.2)).collect();
    assert_eq!(receipts, [("sent", 1)]);
}

async fn smtp_outage_loses_nothing(b: Backend) {
    let (app, mut sink) = TestApp::with_mail(b, |_| {}).await;
    sink.stop();
    let clerk = app.token("clerk").await;
    register_account(&app, citizen(5)).await;
    counter_dossier(&app, &clerk, HOUSEHOLD_BUSINESS, Some("an.tran@example.vn")).await;
    let d = online_birth(&app, &app.token("citizen").await).await;
    act_ok(&app, &clerk, &d, json!({"action": "receive"})).await;

    // The server cannot be reached: the round stops at the first message
    // instead of claiming and failing all three.
    let before = motcua::time::now();
    assert_eq!(app.deliver().await, Delivery { retrying: 1, outage: true, ..Default::default() });
    assert!(sink.received().is_empty());
    let rows = outbox_rows(&app).await;
    assert_eq!(rows.len(), 3);
    let tried: Vec<_> = rows.iter().filter(|r| r.2 == 1).collect();
    assert_eq!(tried.len(), 1, "{rows:?}");
    // Backoff: 30 s, half of it random.
    assert!(tried[0].3 >= before + chrono::Duration::seconds(15), "it retries later");
    assert!(rows.iter().all(|r| r.1 == "pending"), "{rows:?}");

    sink.restart();
    make_due(&app).await;
    assert_eq!(app.deliver().await, Delivery { sent: 3, ..Default::default() });
    assert_eq!(app.deliver().await, Delivery::default());
    for address in ["citizen5@example.vn", "an.tran@example.vn", "citizen@motcua.local"] {
        only_mail_to(&sink, address);
    }
    let ids: HashSet<String> = sink.mails().into_iter().map(|m| m.message_id).collect();
    assert_eq!(ids.len(), 3);
    let rows = outbox_rows(&app).await;
    assert!(rows.iter().all(|r| r.1 == "sent"), "{rows:?}");
    assert_eq!(rows.iter().map(|r| r.2).sum::<i32>(), 4, "one failed attempt, three deliveries");
}

/// The background worker during an SMTP outage: it pauses as a whole after
/// each round that cannot reach the server (doubling the pause) — a
/// message or two tried, not the whole outbox every poll — and delivers
/// everything soon after the server is back.
async fn an_smtp_outage_pauses_the_worker_instead_of_failing_every_message(b: Backend) {
    let (app, mut sink) = TestApp::with_mail(b, |s| {
        s.notifications.worker_enabled = true;
        s.notifications.poll_interval_ms = 50;
        s.notifications.backoff_base_secs = 1;
        s.notifications.backoff_max_secs = 2;
    })
    .await;
    sink.stop();
    let accounts = motcua::seed::DEMO_ACCOUNTS.map(|(email, _, _)| email);
    for email in accounts.iter().chain(accounts.iter()) {
        let res = app.post("/api/v1/auth/password-reset", None, json!({"email": email})).await;
        assert_eq!(res.status(), StatusCode::ACCEPTED);
    }
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    let rows = outbox_rows(&app).await;
    assert_eq!(rows.len(), 12);
    let attempts: i32 = rows.iter().map(|r| r.2).sum();
    // Rounds at 0 s, after 0.5–1 s, after 1–2 s more: at most three attempts in 1.5 s.
    assert!((1..=3).contains(&attempts), "{attempts} attempts: {rows:?}");

    sink.restart();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !outbox_rows(&app).await.iter().all(|r| r.1 == "sent") {
        assert!(std::time::Instant::now() < deadline, "{} of 12 delivered after the outage", sink.mails().len());
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(sink.mails().len(), 12);
}

async fn an_abandoned_claim_expires(b: Backend) {
    let (app, sink) = TestApp::with_mail(b, |_| {}).await;
    register_account(&app, citizen(8)).await;
    // A worker claims the message, then dies before delivering it.
    let now = motcua::time::now();
    let lease = now + chrono::Duration::minutes(1);
    let claimed = app
        .db(move |c| motcua::notify::outbox::claim_next(c, motcua::notify::outbox::Channel::Email, now, lease))
        .await;
    assert!(claimed.is_some());
    assert_eq!(app.deliver().await, Delivery::default(), "the claim holds until its lease ends");
    assert!(sink.received().is_empty());

    let past = motcua::time::now() - chrono::Duration::seconds(1);
    app.db(move |c| diesel::update(outbox::table).set(outbox::lease_until.eq(past)).execute(c)).await;
    assert_eq!(app.deliver().await, Delivery { sent: 1, ..Default::default() });
    only_mail_to(&sink, "citizen8@example.vn");
    let rows = outbox_rows(&app).await;
    assert_eq!((rows[0].1.as_str(), rows[0].2), ("sent", 2), "the abandoned attempt counts");
}

async fn dead_letters_after_max_attempts_and_admin_retry(b: Backend) {
    let (app, mut sink) = TestApp::with_mail(b, |s| {
        s.notifications.max_attempts = 3;
        s.smtp.username = Some("motcua-mailer".into());
        s.smtp.password = Some(secrecy::SecretString::from("smtp-hunter2".to_string()));
    })
    .await;
    sink.stop();
    register_account(&app, citizen(6)).await;
    for attempt in 1..=3 {
        make_due(&app).await;
        let round = app.deliver().await;
        if attempt < 3 {
            assert_eq!(round, Delivery { retrying: 1, outage: true, ..Default::default() }, "attempt {attempt}");
        } else {
            assert_eq!(round, Delivery { dead: 1, outage: true, ..Default::default() });
        }
    }
    make_due(&app).await;
    assert_eq!(app.deliver().await, Delivery::default(), "dead letters wait for an administrator");

    let admin = app.token("admin").await;
    let page = json_ok(app.get("/api/v1/admin/outbox?state=dead", Some(&admin)).await, StatusCode::OK).await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let dead = &items[0];
    assert_eq!((dead["kind"].as_str(), dead["state"].as_str()), (Some("verify_email"), Some("dead")));
    assert_eq!((dead["recipient"].as_str(), dead["attempts"].as_i64()), (Some("citizen6@example.vn"), Some(3)));
    let error = dead["last_error"].as_str().unwrap();
    assert!(!error.is_empty() && !error.contains("smtp-hunter2"), "{error}");
    assert!(dead.get("text_body").is_none() && dead.get("html_body").is_none(), "bodies are never shown");
    let id = dead["id"].as_str().unwrap().to_string();
    let retry_path = format!("/api/v1/admin/outbox/{id}/retry");

    // Only the province's administrators manage the outbox.
    let clerk = app.token("clerk").await;
    assert_problem(app.get("/api/v1/admin/outbox", Some(&clerk)).await, StatusCode::FORBIDDEN, "forbidden").await;
    let district_admin = app.staff_token("admin.halong@quangninh.gov.vn", &["admin"], "193").await;
    let res = app.post(&retry_path, Some(&district_admin), json!({})).await;
    assert_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    assert_problem(app.get("/api/v1/admin/outbox", None).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let res = app.get("/api/v1/admin/outbox?state=lost", Some(&admin)).await;
    assert_problem(res, StatusCode::BAD_REQUEST, "invalid_query").await;
    let res = app.post("/api/v1/admin/outbox/no-such-id/retry", Some(&admin), json!({})).await;
    assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;

    sink.restart();
    let again = json_ok(app.post(&retry_path, Some(&admin), json!({})).await, StatusCode::OK).await;
    assert_eq!((again["state"].as_str(), again["attempts"].as_i64()), (Some("pending"), Some(0)));
    assert_problem(app.post(&retry_path, Some(&admin), json!({})).await, StatusCode::CONFLICT, "not_dead_letter").await;
    assert_eq!(app.deliver().await, Delivery { sent: 1, ..Default::default() });
    let mail = only_mail_to(&sink, "citizen6@example.vn");
    assert_eq!(mail.auth.as_deref(), Some("motcua-mailer"), "the configured credentials were used");
    let dead = json_ok(app.get("/api/v1/admin/outbox?state=dead", Some(&admin)).await, StatusCode::OK).await;
    assert_eq!(dead["items"], json!([]));

    // Newest first, a page at a time.
    register_account(&app, citizen(7)).await;
    let first = json_ok(app.get("/api/v1/admin/outbox?limit=1", Some(&admin)).await, StatusCode::OK).await;
    assert_eq!(first["items"][0]["recipient"], "citizen7@example.vn");
    assert_eq!(first["items"][0]["state"], "pending");
    let cursor = first["next_cursor"].as_str().unwrap();
    let path = format!("/api/v1/admin/outbox?limit=1&kind=verify_email&cursor={cursor}");
    let rest = json_ok(app.get(&path, Some(&admin)).await, StatusCode::OK).await;
    assert_eq!(rest["items"][0]["id"], id.as_str());
    assert_eq!(rest["items"][0]["state"], "sent");
    assert!(rest["next_cursor"].is_null());
}

async fn concurrent_workers_deliver_each_message_once(b: Backend) {
    let (app, sink) = TestApp::with_mail(b, |_| {}).await;
    let accounts = motcua::seed::DEMO_ACCOUNTS.map(|(email, _, _)| email);
    for email in accounts.iter().chain(accounts.iter()) {
        let res = app.post("/api/v1/auth/password-reset", None, json!({"email": email})).await;
        assert_eq!(res.status(), StatusCode::ACCEPTED);
    }
    // Two more workers: on PostgreSQL other instances with their own pools;
    // on SQLite, whose single writer is per process, workers of this one.
    let mut workers = Vec::new();
    for _ in 0..2 {
        let db = match b {
            Backend::Postgres => {
                let settings = app.settings.database.clone();
                tokio::task::spawn_blocking(move || motcua::db::Db::connect(&settings)).await.unwrap().unwrap()
            }
            Backend::Sqlite => app.state.db.clone(),
        };
        workers.push(Worker::new(&app.settings, db).unwrap());
    }
    let rounds = workers.iter().chain([app.state.mail_worker.as_ref()]).map(|w| w.run_pending());
    let mut total = Delivery::default();
    for round in futures_util::future::join_all(rounds).await {
        let round = round.unwrap();
        (total.sent, total.retrying, total.dead) =
            (total.sent + round.sent, total.retrying + round.retrying, total.dead + round.dead);
    }
    assert_eq!(total, Delivery { sent: 12, ..Default::default() });

    let mails = sink.mails();
    assert_eq!(mails.len(), 12);
    assert_eq!(mails.iter().map(|m| &m.message_id).collect::<HashSet<_>>().len(), 12, "no message twice");
    for email in accounts {
        assert_eq!(sink.mails_to(email).len(), 2, "{email}");
    }
}

async fn staff_digest_once_a_day(b: Backend) {
    let (app, sink) = TestApp::with_mail(b, |_| {}).await;
    let clerk = app.token("clerk").await;
    let overdue = counter_dossier(&app, &clerk, HOUSEHOLD_BUSINESS, None).await;
    let soon = counter_dossier(&app, &clerk, HOUSEHOLD_BUSINESS, None).await;
    let later = counter_dossier(&app, &clerk, CONSTRUCTION, None).await;

    // Today, in Vietnam, at 06:00 and 08:00 (the digest hour is 07:00).
    let today = (Utc::now() + chrono::Duration::hours(7)).date_naive();
    let at = |hour: u32| today.and_hms_opt(hour, 0, 0).unwrap() - chrono::Duration::hours(7);
    let (early, morning) = (at(6), at(8));
    for (dossier, due) in
        [(&overdue, morning - chrono::Duration::days(1)), (&soon, morning + chrono::Duration::hours(3))]
    {
        let id = dossier["id"].as_str().unwrap().to_string();
        app.db(move |c| diesel::update(dossiers::table.find(id)).set(dossiers::due_at.eq(due)).execute(c)).await;
    }

    let worker = &app.state.mail_worker;
    assert_eq!(worker.digest_if_due(early).await.unwrap(), None, "not before the digest hour");
    // Only the demo specialist has dossiers waiting with a running clock.
    assert_eq!(worker.digest_if_due(morning).await.unwrap(), Some(1));
    assert_eq!(worker.digest_if_due(morning + chrono::Duration::hours(1)).await.unwrap(), None, "once a day");
    let app = app.restart(|_| {}).await;
    assert_eq!(app.state.mail_worker.digest_if_due(morning).await.unwrap(), None, "whatever the instance");
    assert_eq!(app.deliver().await.sent, 1);

    let mail = only_mail_to(&sink, "specialist@motcua.local");
    assert_eq!(mail.subject, format!("Hồ sơ quá hạn và sắp đến hạn ngày {}", today.format("%d/%m/%Y")));
    let code = |d: &Value| d["code"].as_str().unwrap().to_string();
    let text = &mail.text;
    assert!(text.contains("Hồ sơ quá hạn: 1") && text.contains("Hồ sơ sắp đến hạn: 1"), "{text}");
    let (o, s) = (text.find(&code(&overdue)).unwrap(), text.find(&code(&soon)).unwrap());
    assert!(o < s, "overdue first: {text}");
    assert!(!text.contains(&code(&later)) && !mail.html.contains(&code(&later)), "not due soon");
    assert!(mail.html.contains(&code(&overdue)) && mail.html.contains(&code(&soon)));

    // The next day, again.
    let tomorrow = morning + chrono::Duration::days(1);
    assert_eq!(app.state.mail_worker.digest_if_due(tomorrow).await.unwrap(), Some(1));
}

/// Moves the deadline of dossier `d`'s current step to `due`.
async fn step_due(app: &TestApp, d: &Value, due: NaiveDateTime) {
    let id = d["id"].as_str().unwrap().to_string();
    app.db(move |c| {
        diesel::update(dossier_processes::table.find(id)).set(dossier_processes::step_due_at.eq(due)).execute(c)
    })
    .await;
}

/// A step late by more than `dossiers.step_alert_after_working_hours`
/// working hours alerts the approvers of its unit, once whatever the
/// instances; a step late by less does not; the next step is alerted anew.
async fn a_late_step_alerts_the_units_approvers_once(b: Backend) {
    let (app, sink) = TestApp::with_mail(b, |_| {}).await;
    let (clerk, specialist) = (app.token("clerk").await, app.token("specialist").await);
    let late = counter_dossier(&app, &clerk, HOUSEHOLD_BUSINESS, None).await;
    let barely = counter_dossier(&app, &clerk, HOUSEHOLD_BUSINESS, None).await;
    let now = Utc::now().naive_utc();
    // A month late (whatever the holidays), and an hour late (within the margin).
    step_due(&app, &late, now - chrono::Duration::days(30)).await;
    step_due(&app, &barely, now - chrono::Duration::hours(1)).await;

    assert_eq!(app.state.mail_worker.alert_late_steps(now).await.unwrap(), 1);
    assert_eq!(app.state.mail_worker.alert_late_steps(now).await.unwrap(), 0, "once");
    let app = app.restart(|_| {}).await;
    assert_eq!(app.state.mail_worker.alert_late_steps(now).await.unwrap(), 0, "whatever the instance");
    assert_eq!(app.deliver().await.sent, 1);
    let mail = only_mail_to(&sink, "approver@motcua.local");
    let code = late["code"].as_str().unwrap();
    assert_eq!(mail.subject, format!("Bước xử lý quá hạn: hồ sơ {code}"));
    let step = late["current_step"]["name"].as_str().unwrap();
    assert!(mail.text.contains(step) && mail.html.contains(code), "{}", mail.text);
    assert!(!mail.text.contains(barely["code"].as_str().unwrap()));

    // On to the signing step: its own deadline, alerted anew once late.
    act_ok(&app, &specialist, &late, json!({"action": "claim"})).await;
    act_ok(&app, &specialist, &late, json!({"action": "submit_for_approval"})).await;
    let now = Utc::now().naive_utc();
    assert_eq!(app.state.mail_worker.alert_late_steps(now).await.unwrap(), 0, "the new step is not late");
    step_due(&app, &late, now - chrono::Duration::days(30)).await;
    assert_eq!(app.state.mail_worker.alert_late_steps(now).await.unwrap(), 1);
}
