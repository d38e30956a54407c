//! The audit log: what state-changing requests record, who may read it, its
//! CSV export, and the hash chain that shows an altered or removed entry.

mod common;

use common::flow::*;
use common::{Backend, TestApp, assert_problem, citizen};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use motcua::db::schema::audit_log;
use motcua::seed::DEMO_PASSWORD;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

on_both_backends!(
    state_changes_are_recorded_with_who_what_and_where,
    reads_failures_and_secrets_stay_out,
    payment_callbacks_are_recorded_as_the_provider,
    auditors_see_their_scope_and_filter_it,
    csv_export_has_the_listed_rows,
    concurrent_writes_keep_a_gap_free_chain,
    verification_names_the_altered_or_missing_entry,
    a_lost_last_entry_is_found_by_its_event,
    no_body_hides_from_the_audit,
);

/// Every entry of the list at `query` (as `token`), following the cursors.
async fn entries(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let (mut all, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let after = cursor.map(|c| format!("&cursor={c}")).unwrap_or_default();
        let path = format!("/api/v1/audit?limit=200{query}{after}");
        let page = json_ok(app.get(&path, Some(token)).await, StatusCode::OK).await;
        all.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return all,
        }
    }
}

fn request_id(res: &Response) -> String {
    res.headers()["x-request-id"].to_str().unwrap().to_string()
}

/// The one entry of the request `id`.
fn entry_of<'a>(all: &'a [Value], id: &str) -> &'a Value {
    let found: Vec<&Value> = all.iter().filter(|e| e["request_id"] == id).collect();
    assert_eq!(found.len(), 1, "one entry for request {id}");
    found[0]
}

async fn user_id(app: &TestApp, token: &str) -> String {
    let me = json_ok(app.get("/api/v1/me", Some(token)).await, StatusCode::OK).await;
    me["id"].as_str().unwrap().to_string()
}

async fn verify(app: &TestApp, token: &str) -> Value {
    json_ok(app.get("/api/v1/audit/verify", Some(token)).await, StatusCode::OK).await
}

async fn state_changes_are_recorded_with_who_what_and_where(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (admin, clerk, citizen_token, auditor) =
        (app.token("admin").await, app.token("clerk").await, app.token("citizen").await, app.token("auditor").await);
    let ha_long = app.unit_id("193").await;

    // An administrator creates a unit.
    let res = app
        .post(
            "/api/v1/units",
            Some(&admin),
            json!({"code": "99901", "name": "Phường Thử", "level": "commune", "parent_id": ha_long}),
        )
        .await;
    let unit_request = request_id(&res);
    let unit = json_ok(res, StatusCode::CREATED).await;

    // A citizen files, a clerk receives.
    let dossier = file(&app, &citizen_token, HOUSEHOLD_BUSINESS, "193").await;
    // An upload is summarised by type and length, not read.
    let res = upload(&app, &citizen_token, &dossier, 0, pdf(), "don.pdf", None).await;
    let upload_request = request_id(&res);
    assert_eq!(res.status(), StatusCode::CREATED);

    let res = act(&app, &clerk, &dossier, json!({"action": "receive", "note": "Đủ hồ sơ"})).await;
    let receive_request = request_id(&res);
    json_ok(res, StatusCode::OK).await;

    // Someone registers an account, anonymously.
    let res = app.post("/api/v1/auth/register", None, citizen(7)).await;
    let register_request = request_id(&res);
    json_ok(res, StatusCode::ACCEPTED).await;
    let registered = {
        let token = app.login("citizen7@example.vn", "mật khẩu an toàn").await["access_token"].clone();
        json_ok(app.get("/api/v1/me", token.as_str()).await, StatusCode::OK).await
    };

    let all = entries(&app, &auditor, "").await;
    let admin_id = user_id(&app, &admin).await;
    let e = entry_of(&all, &unit_request);
    assert_eq!(e["actor_id"], admin_id.as_str());
    assert_eq!(e["actor_role"], "admin");
    assert_eq!(e["unit_path"].as_str().unwrap().matches('/').count(), 2, "the province: {e}");
    assert_eq!(
        (&e["method"], &e["route"], &e["action"]),
        (&json!("POST"), &json!("/api/v1/units"), &json!("units.post"))
    );
    assert_eq!(e["target"], unit["id"], "the created unit");
    assert_eq!(e["status"], 201);
    assert_eq!(e["client_address"], "127.0.0.1");
    assert_eq!(
        e["summary"],
        r#"{"fields":["code","level","name","parent_id"],"values":{"level":"commune","parent_id":""#.to_string()
            + &ha_long
            + r#""}}"#
    );

    let e = entry_of(&all, &receive_request);
    assert_eq!(e["actor_id"], user_id(&app, &clerk).await.as_str());
    assert_eq!(e["actor_role"], "clerk");
    assert_eq!(e["unit_id"], ha_long.as_str());
    assert!(e["unit_path"].as_str().unwrap().ends_with(&format!("/{ha_long}/")));
    assert_eq!(e["route"], "/api/v1/dossiers/{id}/actions");
    assert_eq!(e["action"], "dossiers.actions.receive");
    assert_eq!(e["target"], dossier["id"]);
    assert_eq!(e["status"], 200);
    assert_eq!(e["summary"], r#"{"fields":["action","note"],"values":{"action":"receive"}}"#);

    let e = entry_of(&all, &register_request);
    assert_eq!((&e["actor_id"], &e["actor_role"], &e["unit_id"]), (&Value::Null, &json!("anonymous"), &Value::Null));
    assert_eq!(e["action"], "auth.register.post");
    assert_eq!(e["target"], registered["id"]);

    let e = entry_of(&all, &upload_request);
    assert_eq!(e["actor_role"], "citizen");
    assert_eq!(e["route"], "/api/v1/dossiers/{id}/components/{component}/files");
    let component = dossier["components"][0]["id"].as_str().unwrap();
    assert_eq!(e["target"], format!("{}/{component}", dossier["id"].as_str().unwrap()));
    let summary: Value = serde_json::from_str(e["summary"].as_str().unwrap()).unwrap();
    assert_eq!(summary["content_type"], "multipart/form-data");
    assert!(summary["bytes"].as_u64().unwrap() > pdf().len() as u64);

    // Entries are newest first, consecutive, linked and well-formed.
    let seqs: Vec<i64> = all.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).rev().collect::<Vec<_>>());
    for pair in all.windows(2) {
        assert_eq!(pair[1]["hash"], pair[0]["prev_hash"]);
    }
    assert_eq!(all.last().unwrap()["prev_hash"], "0".repeat(64));
    assert!(all.iter().all(|e| e["at"].as_str().unwrap().ends_with('Z') && e["hash"].as_str().unwrap().len() == 64));
    let report = verify(&app, &auditor).await;
    assert_eq!(report["valid"], true);
    assert_eq!(report["entries"], all.len());
    assert_eq!(report["head_hash"], all[0]["hash"]);
}

async fn reads_failures_and_secrets_stay_out(b: Backend) {
    let app = TestApp::spawn(b).await;
    let auditor = app.token("auditor").await;
    let clerk = app.token("clerk").await;
    let registration = citizen(8);
    let password = registration["password"].as_str().unwrap().to_string();
    assert_eq!(app.post("/api/v1/auth/register", None, registration.clone()).await.status(), StatusCode::ACCEPTED);
    let tokens = app.login(registration["email"].as_str().unwrap(), &password).await;
    let refreshed = json_ok(
        app.post("/api/v1/auth/refresh", None, json!({"refresh_token": tokens["refresh_token"]})).await,
        StatusCode::OK,
    )
    .await;
    let before = entries(&app, &auditor, "").await;

    // Reads and refused requests add nothing.
    for path in ["/api/v1/units", "/api/v1/dossiers", "/api/v1/audit", "/api/v1/audit/verify", "/api/v1/me"] {
        assert_eq!(app.get(path, Some(&auditor)).await.status(), StatusCode::OK, "{path}");
    }
    let mut invalid = registration.clone();
    invalid["national_id"] = json!("12345");
    assert_problem(
        app.post("/api/v1/auth/register", None, invalid).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let wrong = json!({"email": registration["email"], "password": "not the password"});
    assert_problem(app.post("/api/v1/auth/login", None, wrong).await, StatusCode::UNAUTHORIZED, "invalid_credentials")
        .await;
    let dossier = register(&app, &clerk, HOUSEHOLD_BUSINESS, "193").await;
    let after_filing = entries(&app, &auditor, "").await;
    assert_eq!(after_filing.len(), before.len() + 1, "only the filing");
    let res = act(&app, &clerk, &dossier, json!({"action": "receive"})).await;
    assert_problem(res, StatusCode::CONFLICT, "illegal_action").await;
    let res = app.post("/api/v1/units", Some(&clerk), json!({"code": "1", "name": "X", "level": "commune"})).await;
    assert_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    assert_problem(app.delete("/api/v1/nowhere", None).await, StatusCode::NOT_FOUND, "not_found").await;
    let after = entries(&app, &auditor, "").await;
    assert_eq!(after, after_filing);

    // Logins and refreshes are anonymous and name no one.
    let logins: Vec<&Value> = after.iter().filter(|e| e["action"] == "auth.login.post").collect();
    assert!(!logins.is_empty());
    for e in &logins {
        assert_eq!((&e["actor_id"], &e["actor_role"], &e["target"]), (&Value::Null, &json!("anonymous"), &Value::Null));
        assert_eq!(e["summary"], r#"{"fields":["email","password"]}"#);
    }

    // No password, token or personal detail anywhere, in the list or the export.
    let csv = app.get("/api/v1/exports/audit.csv", Some(&auditor)).await.text().await.unwrap();
    let listed = serde_json::to_string(&after).unwrap();
    let secrets = [
        password.as_str(),
        DEMO_PASSWORD,
        tokens["refresh_token"].as_str().unwrap(),
        tokens["access_token"].as_str().unwrap(),
        refreshed["refresh_token"].as_str().unwrap(),
        registration["email"].as_str().unwrap(),
        registration["national_id"].as_str().unwrap(),
        "auditor@motcua.local",
    ];
    for secret in secrets {
        assert!(!listed.contains(secret) && !csv.contains(secret), "{secret} was recorded");
    }
}

async fn callback(app: &TestApp, body: &Value, secret: &str) -> Response {
    let raw = serde_json::to_vec(body).unwrap();
    app.client
        .post(app.url("/api/v1/payments/callback/demo"))
        .header("content-type", "application/json")
        .header("x-signature", motcua::payments::sign(secret, &raw))
        .body(raw)
        .send()
        .await
        .unwrap()
}

async fn payment_callbacks_are_recorded_as_the_provider(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (citizen_token, auditor) = (app.token("citizen").await, app.token("auditor").await);
    let d = file(&app, &citizen_token, HOUSEHOLD_BUSINESS, "193").await;
    let path = format!("/api/v1/dossiers/{}/payments", d["id"].as_str().unwrap());
    let res = app.post(&path, Some(&citizen_token), json!({"channel": "online", "provider": "demo"})).await;
    let payment = json_ok(res, StatusCode::CREATED).await;
    let report = json!({"payment_id": payment["id"], "dossier_code": d["code"], "provider_ref": "VNPAY-1",
                        "amount_vnd": 100000, "status": "paid"});
    let before = entries(&app, &auditor, "").await;
    let res = callback(&app, &report, "forged secret").await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "invalid_signature").await;
    assert_eq!(entries(&app, &auditor, "").await, before);

    // The provider signs the raw body, which reaches the handler unchanged.
    let res = callback(&app, &report, "insecure-demo-provider-secret").await;
    let id = request_id(&res);
    assert_eq!(json_ok(res, StatusCode::OK).await["status"], "paid");
    let all = entries(&app, &auditor, "").await;
    let e = entry_of(&all, &id);
    assert_eq!((&e["actor_id"], &e["actor_role"]), (&Value::Null, &json!("provider")));
    assert_eq!((&e["action"], &e["target"]), (&json!("payments.callback.post"), &json!("demo")));
    assert_eq!(
        e["summary"],
        r#"{"fields":["amount_vnd","dossier_code","payment_id","provider_ref","status"],"values":{"status":"paid"}}"#
    );
    let started = all.iter().find(|e| e["action"] == "dossiers.payments.post").unwrap();
    assert_eq!(started["target"], d["id"]);
    assert_eq!(
        started["summary"],
        r#"{"fields":["channel","provider"],"values":{"channel":"online","provider":"demo"}}"#
    );
}

async fn auditors_see_their_scope_and_filter_it(b: Backend) {
    let app = TestApp::spawn(b).await;
    let district_auditor = app.staff_token("auditor.halong@quangninh.gov.vn", &["auditor"], "193").await;
    let mong_cai_clerk = app.staff_token("clerk.mongcai@quangninh.gov.vn", &["clerk"], "194").await;
    let (admin, clerk, citizen_token, auditor) =
        (app.token("admin").await, app.token("clerk").await, app.token("citizen").await, app.token("auditor").await);
    let d1 = register(&app, &clerk, HOUSEHOLD_BUSINESS, "193").await;
    let d2 = register(&app, &clerk, CONSTRUCTION, "193").await;
    register(&app, &mong_cai_clerk, HOUSEHOLD_BUSINESS, "194").await;
    file(&app, &citizen_token, HOUSEHOLD_BUSINESS, "193").await;
    let ha_long = app.unit_id("193").await;
    app.patch(&format!("/api/v1/units/{ha_long}"), Some(&admin), json!({"name": "Thành phố Hạ Long (mới)"})).await;

    // The district auditor sees the entries of actors in Hạ Long only.
    let mine = entries(&app, &district_auditor, "").await;
    let clerk_id = user_id(&app, &clerk).await;
    assert_eq!(mine.len(), 2, "{mine:?}");
    assert!(mine.iter().all(|e| e["actor_id"] == clerk_id.as_str() && e["action"] == "dossiers.post"));
    let everything = entries(&app, &auditor, "").await;
    assert!(everything.len() > mine.len() + 5);
    assert!(everything.iter().any(|e| e["actor_role"] == "citizen" && e["unit_path"].is_null()));
    assert!(everything.iter().any(|e| e["actor_role"] == "anonymous"));
    assert_eq!(everything, entries(&app, &admin, "").await, "a root administrator sees the same");

    // Filters, and pages newest first.
    let by_clerk = entries(&app, &auditor, &format!("&actor={clerk_id}")).await;
    assert_eq!(by_clerk, mine);
    let about_d1 = entries(&app, &auditor, &format!("&target={}", d1["id"].as_str().unwrap())).await;
    assert_eq!(about_d1.len(), 1);
    assert_eq!(about_d1[0]["target"], d1["id"]);
    let created = entries(&app, &auditor, "&status=201&action=dossiers.post").await;
    assert_eq!(created.len(), 4);
    let patched = entries(&app, &auditor, "&route=/api/v1/units/{id}").await;
    assert_eq!(patched.len(), 1);
    assert_eq!(patched[0]["target"], ha_long.as_str());
    let today = motcua::domain::calendar::to_local(chrono::Utc::now()).date();
    let (yesterday, tomorrow) = (today.pred_opt().unwrap(), today.succ_opt().unwrap());
    assert_eq!(entries(&app, &auditor, &format!("&from={today}&to={tomorrow}")).await, everything);
    assert!(entries(&app, &auditor, &format!("&to={today}&from={yesterday}")).await.is_empty());
    let page = json_ok(app.get("/api/v1/audit?limit=1", Some(&district_auditor)).await, StatusCode::OK).await;
    assert_eq!(page["items"][0]["target"], d2["id"], "the newest first");
    let next = page["next_cursor"].as_str().unwrap();
    let page = json_ok(
        app.get(&format!("/api/v1/audit?limit=1&cursor={next}"), Some(&district_auditor)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page["items"][0]["target"], d1["id"]);
    assert!(page["next_cursor"].is_null());

    // Only auditors and administrators; the chain only for a root unit.
    assert_problem(app.get("/api/v1/audit", Some(&clerk)).await, StatusCode::FORBIDDEN, "forbidden").await;
    assert_problem(app.get("/api/v1/audit", Some(&citizen_token)).await, StatusCode::FORBIDDEN, "forbidden").await;
    assert_problem(app.get("/api/v1/audit", None).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert_problem(app.get("/api/v1/audit/verify", Some(&district_auditor)).await, StatusCode::FORBIDDEN, "forbidden")
        .await;
    assert_problem(app.get("/api/v1/audit/verify", Some(&clerk)).await, StatusCode::FORBIDDEN, "forbidden").await;
    assert_problem(app.get("/api/v1/audit?status=abc", Some(&auditor)).await, StatusCode::BAD_REQUEST, "invalid_query")
        .await;
    assert_problem(
        app.get("/api/v1/audit?cursor=!!", Some(&auditor)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}

async fn csv_export_has_the_listed_rows(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (auditor, clerk) = (app.token("auditor").await, app.token("clerk").await);
    let dossier = register(&app, &clerk, HOUSEHOLD_BUSINESS, "193").await;
    act_ok(
        &app,
        &clerk,
        &dossier,
        json!({"action": "assign", "assignee_id": user_id(&app, &app.token("specialist").await).await}),
    )
    .await;
    let listed = entries(&app, &auditor, "").await;

    let res = app.get("/api/v1/exports/audit.csv", Some(&auditor)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(res.headers()["content-disposition"].to_str().unwrap().contains("audit.csv"));
    let bytes = res.bytes().await.unwrap();
    assert!(bytes.starts_with("\u{feff}".as_bytes()), "a BOM for spreadsheets");
    let mut reader = csv::Reader::from_reader(&bytes[3..]);
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(header[..3], ["seq", "id", "at"]);
    assert_eq!(header.len(), 17);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), listed.len());
    for (row, entry) in rows.iter().zip(&listed) {
        for (i, name) in header.iter().enumerate() {
            let expected = match &entry[name] {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert_eq!(row[i], expected, "{name}");
        }
    }

    // Anyone can check the export: each hash is the SHA-256 of the documented
    // canonical form, rebuilt from the row (an empty cell of a nullable column is null).
    let nullable = ["actor_id", "unit_id", "unit_path", "target", "client_address"];
    for row in &rows {
        let mut fields = vec![json!("motcua-audit-v1")];
        for (name, cell) in header.iter().zip(row.iter()).take(16) {
            fields.push(match name.as_str() {
                "seq" | "status" => json!(cell.parse::<i64>().unwrap()),
                n if nullable.contains(&n) && cell.is_empty() => Value::Null,
                _ => json!(cell),
            });
        }
        let canonical = serde_json::to_string(&fields).unwrap();
        assert_eq!(hex::encode(Sha256::digest(canonical.as_bytes())), row[16]);
    }

    // Filters apply to the export; paging does not, and the list has no CSV form.
    let res = app.get("/api/v1/exports/audit.csv?action=dossiers.actions.assign", Some(&auditor)).await;
    let text = res.text().await.unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains("dossiers.actions.assign") && text.contains(dossier["id"].as_str().unwrap()));
    let empty = app.get("/api/v1/exports/audit.csv?status=500", Some(&auditor)).await.text().await.unwrap();
    assert_eq!(empty.trim_start_matches('\u{feff}').trim_end(), header.join(","));
    let res = app.get("/api/v1/exports/audit.csv?limit=5", Some(&auditor)).await;
    assert_problem(res, StatusCode::BAD_REQUEST, "invalid_query").await;
    let res = app.get("/api/v1/audit?format=csv", Some(&auditor)).await;
    assert_problem(res, StatusCode::BAD_REQUEST, "invalid_query").await;
    let res = app.get("/api/v1/exports/audit.csv", Some(&clerk)).await;
    assert_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
}

async fn concurrent_writes_keep_a_gap_free_chain(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (admin, auditor) = (app.token("admin").await, app.token("auditor").await);
    // 30 weekdays of 2027 made holidays at once.
    let days = (0..60).map(|i| chrono::NaiveDate::from_ymd_opt(2027, 8, 2).unwrap() + chrono::Days::new(i));
    let weekdays = days.filter(|d| chrono::Datelike::weekday(d).number_from_monday() <= 5).take(30);
    let requests = weekdays.map(|day| {
        let body = json!({"kind": "holiday", "name": format!("Ngày nghỉ thử {day}")});
        let (app, admin) = (&app, &admin);
        async move { app.put(&format!("/api/v1/holidays/{day}"), Some(admin), body).await.status() }
    });
    for status in futures_util::future::join_all(requests).await {
        assert!(status.is_success(), "{status}");
    }
    let all = entries(&app, &auditor, "").await;
    assert_eq!(all.iter().filter(|e| e["action"] == "holidays.put").count(), 30);
    let seqs: Vec<i64> = all.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=all.len() as i64).rev().collect::<Vec<_>>());
    let report = verify(&app, &auditor).await;
    assert_eq!(report, json!({"valid": true, "entries": all.len(), "head_hash": all[0]["hash"]}));
}

/// Runs raw SQL against the test's database.
async fn sql(app: &TestApp, statements: &'static str) {
    app.state.db.run(move |conn| Ok(conn.batch_execute(statements)?)).await.unwrap();
}

async fn verification_names_the_altered_or_missing_entry(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (admin, auditor) = (app.token("admin").await, app.token("auditor").await);
    for day in ["2027-09-06", "2027-09-07", "2027-09-08"] {
        let body = json!({"kind": "holiday", "name": "Nghỉ"});
        assert!(app.put(&format!("/api/v1/holidays/{day}"), Some(&admin), body).await.status().is_success());
    }
    let report = verify(&app, &auditor).await;
    assert_eq!(report["valid"], true);
    let n = report["entries"].as_u64().unwrap();
    assert!(n >= 5);
    let third: String = app
        .state
        .db
        .run(|conn| Ok(audit_log::table.filter(audit_log::seq.eq(3)).select(audit_log::summary).first(conn)?))
        .await
        .unwrap();

    // The table refuses changes…
    let set = |summary: String| {
        move |conn: &mut motcua::db::DbConnection| {
            diesel::update(audit_log::table.filter(audit_log::seq.eq(3)))
                .set(audit_log::summary.eq(summary))
                .execute(conn)
        }
    };
    let refused = app.state.db.run(move |conn| Ok(set("x".into())(conn).is_err())).await.unwrap();
    assert!(refused, "audit_log is append-only");

    // … but whoever drops its guard is caught by the chain.
    match b {
        Backend::Sqlite => sql(&app, "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete").await,
        Backend::Postgres => sql(&app, "DROP TRIGGER audit_log_no_update_or_delete ON audit_log").await,
    }
    app.db(set("x".into())).await;
    let report = verify(&app, &auditor).await;
    assert_eq!(report["valid"], false);
    assert_eq!(report["entries_checked"], 3);
    assert_eq!(report["first_broken"]["seq"], 3);
    assert_eq!(report["first_broken"]["reason"], "hash mismatch");
    let id: String = app
        .state
        .db
        .run(|conn| Ok(audit_log::table.filter(audit_log::seq.eq(3)).select(audit_log::id).first(conn)?))
        .await
        .unwrap();
    assert_eq!(report["first_broken"]["id"], id.as_str());

    // Put back, the chain verifies again; a removed entry is a gap.
    app.db(set(third)).await;
    assert_eq!(verify(&app, &auditor).await["valid"], true);
    app.db(|conn| diesel::delete(audit_log::table.filter(audit_log::seq.eq(4))).execute(conn)).await;
    let report = verify(&app, &auditor).await;
    assert_eq!(report["valid"], false);
    assert_eq!(report["first_broken"]["seq"], 5);
    assert_eq!(report["first_broken"]["reason"], "gap in sequence");

    // New entries still append after the last one.
    let body = json!({"kind": "holiday", "name": "Nghỉ"});
    assert!(app.put("/api/v1/holidays/2027-09-09", Some(&admin), body).await.status().is_success());
    let newest = json_ok(app.get("/api/v1/audit?limit=1", Some(&auditor)).await, StatusCode::OK).await;
    assert_eq!(newest["items"][0]["seq"].as_u64().unwrap(), n + 1);
}

async fn a_lost_last_entry_is_found_by_its_event(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (citizen, clerk, auditor) = (app.token("citizen").await, app.token("clerk").await, app.token("auditor").await);
    let d = file(&app, &citizen, HOUSEHOLD_BUSINESS, "193").await;
    act_ok(&app, &clerk, &d, json!({"action": "receive"})).await;
    assert_eq!(verify(&app, &auditor).await["valid"], true);
    // The receive's entry is the chain's last: removing it leaves no gap…
    let last: String =
        app.db(|conn| audit_log::table.order(audit_log::seq.desc()).select(audit_log::id).first(conn)).await;
    match b {
        Backend::Sqlite => sql(&app, "DROP TRIGGER audit_log_no_delete").await,
        Backend::Postgres => sql(&app, "DROP TRIGGER audit_log_no_update_or_delete ON audit_log").await,
    }
    let gone = last.clone();
    app.db(move |conn| diesel::delete(audit_log::table.find(gone)).execute(conn)).await;
    // …but the receive event names it.
    let report = verify(&app, &auditor).await;
    assert_eq!(report["valid"], false, "{report}");
    assert_eq!(report["unaudited_event"]["audit_id"], last.as_str());
    assert_eq!(report["unaudited_event"]["dossier_id"], d["id"]);
}

async fn no_body_hides_from_the_audit(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (admin, auditor, clerk, citizen) =
        (app.token("admin").await, app.token("auditor").await, app.token("clerk").await, app.token("citizen").await);
    let clerk_id = user_id(&app, &clerk).await;
    let send = |method: reqwest::Method, path: String, token: &str, ct: &str, body: &'static str| {
        app.client.request(method, app.url(&path)).bearer_auth(token).header("content-type", ct).body(body).send()
    };
    // A body that is not JSON to the handlers is refused.
    let grant = r#"{"roles":["clerk","admin"]}"#;
    let path = format!("/api/v1/admin/users/{clerk_id}");
    let res = send(reqwest::Method::PATCH, path.clone(), &admin, "text/plain", grant).await.unwrap();
    assert_problem(res, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
    // Every JSON media type the handlers read is read by the audit too: a
    // role grant sent as merge-patch is recorded with its values.
    let res = send(reqwest::Method::PATCH, path, &admin, "application/merge-patch+json", grant).await.unwrap();
    json_ok(res, StatusCode::OK).await;
    let granted = entries(&app, &auditor, "&action=admin.users.patch").await;
    assert_eq!(granted.len(), 1);
    assert_eq!(granted[0]["summary"], r#"{"fields":["roles"],"values":{"roles":["clerk","admin"]}}"#);
    // An action under a `+json` type is named by its action.
    let d = file(&app, &citizen, HOUSEHOLD_BUSINESS, "193").await;
    let path = format!("/api/v1/dossiers/{}/actions", d["id"].as_str().unwrap());
    let res = send(reqwest::Method::POST, path, &clerk, "application/x+json; charset=utf-8", r#"{"action":"receive"}"#)
        .await
        .unwrap();
    json_ok(res, StatusCode::OK).await;
    let received = entries(&app, &auditor, "&action=dossiers.actions.receive").await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["summary"], r#"{"fields":["action"],"values":{"action":"receive"}}"#);

    // An action without a payload refuses unknown fields too.
    let specialist = app.token("specialist").await;
    let res = act(&app, &specialist, &d, json!({"action": "claim", "assignee_id": "x", "status": "returned"})).await;
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(get(&app, &clerk, &d).await["status"], "received");
}
