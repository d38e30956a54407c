//! The national public service portal (docs/portal.md), against a real HTTP
//! server playing the portal (`common::portal`): every change arrives once,
//! in order, with the documented fields; outages delay but lose nothing;
//! dead letters are retried; two instances deliver each record once;
//! dossiers filed on the portal are refused when bad, filed once, and
//! processed like any other; a period is re-queued on demand.

mod common;

use std::collections::HashSet;

use common::flow::*;
use common::portal::{Mode, PortalSink};
use common::{Backend, PORTAL_TOKEN, TestApp, assert_problem};
use diesel::prelude::*;
use motcua::db::schema::{audit_log, audit_pending, dossiers, outbox, portal_sync};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    a_burst_of_changes_settles_into_one_record,
    every_change_arrives_once_in_order_with_the_documented_fields,
    an_outage_delays_but_loses_nothing,
    a_dead_letter_is_retried_by_an_administrator,
    a_resync_supersedes_a_dead_letter,
    two_instances_deliver_each_record_once,
    portal_filings_are_checked_filed_once_and_processed,
    a_period_is_queued_again_on_demand,
    the_catalogue_keeps_national_codes,
    basic_credentials_reach_the_portal,
    the_portal_is_reached_over_mutual_tls,
);

/// The records the portal accepted for the dossier with `code`.
fn records_of(sink: &PortalSink, code: &str) -> Vec<Value> {
    sink.accepted().into_iter().filter(|r| r["data"][0]["MaHoSo"] == code).collect()
}

/// The national status each record's change left the dossier in: its
/// history's last entry. (A record says the dossier's state when it was
/// built — the courier runs after all changes here — and its history what
/// its change did.)
fn statuses(records: &[Value]) -> Vec<u64> {
    records
        .iter()
        .map(|r| r["data"][0]["QuaTrinhXuLy"].as_array().unwrap().last().unwrap()["TrangThai"].as_u64().unwrap())
        .collect()
}

/// The national status after each entry of the records' histories, in order.
fn history(records: &[Value]) -> Vec<u64> {
    records
        .iter()
        .flat_map(|r| r["data"][0]["QuaTrinhXuLy"].as_array().unwrap())
        .map(|e| e["TrangThai"].as_u64().unwrap())
        .collect()
}

/// The national status each record says the dossier is in.
fn states(records: &[Value]) -> Vec<u64> {
    records.iter().map(|r| r["data"][0]["TrangThaiHoSo"].as_u64().unwrap()).collect()
}

fn seqs(records: &[Value]) -> Vec<u64> {
    records.iter().map(|r| r["ThuTu"].as_u64().unwrap()).collect()
}

fn is_portal_time(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.len() == 14 && s.bytes().all(|b| b.is_ascii_digit()))
}

/// The sync figure of `GET /stats` over the demo province, this year.
async fn sync_figure(app: &TestApp) -> Value {
    let auditor = app.token("auditor").await;
    let stats = json_ok(app.get("/api/v1/stats?group_by=level", Some(&auditor)).await, StatusCode::OK).await;
    stats["portal"].clone()
}

async fn every_change_arrives_once_in_order_with_the_documented_fields(b: Backend) {
    let (app, sink) = TestApp::with_portal(b, |_| {}).await;
    let Cast { citizen, clerk, specialist, approver } = cast(&app).await;
    let d = file(&app, &citizen, BIRTH, "06691").await;
    assert!(sink.requests().is_empty(), "nothing leaves before the courier runs");
    assert_eq!(app.sync().await.sent, 1);
    act_ok(&app, &clerk, &d, json!({"action": "receive"})).await;
    assert_eq!(app.sync().await.sent, 1);
    json_ok(app.post("/api/v1/queue/claim", Some(&specialist), json!({})).await, StatusCode::OK).await;
    act_ok(&app, &specialist, &d, json!({"action": "submit_for_approval", "note": "Hồ sơ hợp lệ"})).await;
    // The approver taking the signing step moves nothing the portal sees.
    json_ok(app.post("/api/v1/queue/claim", Some(&approver), json!({})).await, StatusCode::OK).await;
    act_ok(&app, &approver, &d, json!({"action": "approve"})).await;
    act_ok(&app, &clerk, &d, json!({"action": "return_result"})).await;

    // The four changes after the reception, queued before the courier ran,
    // arrive as one record: the last one's place, all four in its history.
    let round = app.sync().await;
    assert_eq!((round.sent, round.retrying, round.dead, round.outage), (1, 0, 0, false));
    assert_eq!(app.sync().await.sent, 0, "each record is delivered once");
    let code = d["code"].as_str().unwrap();
    let records = records_of(&sink, code);
    assert_eq!(seqs(&records), [1, 2, 6]);
    assert_eq!(history(&records), [1, 2, 4, 4, 9, 10]);
    // A record says the dossier as it is when the courier builds it.
    assert_eq!(states(&records), [1, 2, 10]);
    let ids: HashSet<&str> = records.iter().map(|r| r["MaDongBo"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 3, "one idempotency id per record");
    for (request, record) in sink.requests().iter().zip(&records) {
        assert_eq!(request.path, "/DongBoHoSoMC");
        assert_eq!(request.headers["authorization"], format!("Bearer {PORTAL_TOKEN}"));
        assert_eq!(request.headers["idempotency-key"], record["MaDongBo"].as_str().unwrap());
        assert_eq!(record["service"], "DongBoHoSoMC");
    }
    let first = &records[0]["data"][0];
    assert_eq!(first["MaTTHC"], BIRTH);
    assert_eq!(first["TenTTHC"], "Thủ tục đăng ký khai sinh");
    assert_eq!((first["KenhThucHien"].as_u64(), first["LoaiDoiTuong"].as_u64()), (Some(2), Some(1)));
    assert_eq!(first["ChuHoSo"], "Nguyễn Văn An");
    assert!(is_portal_time(&first["NgayNopHoSo"]));
    assert_eq!((first["NgayTiepNhan"].as_str(), first["NgayHenTra"].as_str()), (Some(""), Some("")));
    assert_eq!(first["DonViXuLy"], "06691");
    assert!(first.get("MaHoSoMotCua").is_none());
    assert_eq!(first["QuaTrinhXuLy"][0]["NguoiXuLy"], "Nguyễn Văn An");
    let components = d["components"].as_array().unwrap().len();
    assert_eq!(first["TaiLieuNop"].as_array().unwrap().len(), components);
    assert_eq!(first["TaiLieuNop"][0]["DuocSoHoa"], 0);

    let received = &records[1]["data"][0];
    assert!(is_portal_time(&received["NgayTiepNhan"]) && is_portal_time(&received["NgayHenTra"]));
    let handling = &received["QuaTrinhXuLy"].as_array().unwrap()[..];
    assert_eq!(handling.len(), 1, "a record carries the history its change added");
    assert_eq!(
        (handling[0]["NguoiXuLy"].as_str(), handling[0]["ChucDanh"].as_str()),
        (Some("Demo clerk"), Some("clerk"))
    );
    assert_eq!(handling[0]["TrangThai"], 2);
    assert!(is_portal_time(&handling[0]["ThoiDiemXuLy"]));
    assert!(is_portal_time(&handling[0]["NgayKetThucTheoQuyDinh"]), "the step's deadline: {handling:?}");
    let rest = &records[2]["data"][0];
    let handling = rest["QuaTrinhXuLy"].as_array().unwrap();
    assert_eq!(handling.len(), 4);
    assert_eq!(handling[0]["TrangThai"], 4, "an earlier change's entry says what that change did");
    assert_eq!(handling[0]["NgayKetThucTheoQuyDinh"], "", "and not the step the dossier is at since");
    assert!(is_portal_time(&rest["NgayKetThucXuLy"]) && is_portal_time(&rest["NgayTra"]));
    assert_eq!(handling[3]["NoiDungXuLy"].as_str().map(str::is_empty), Some(false));

    // The portal's time format is local (UTC+7) `yyyyMMddHHmmss`.
    let received_at = ts(&get(&app, &clerk, &d).await["received_at"]);
    let local = motcua::domain::calendar::to_local(received_at).format("%Y%m%d%H%M%S").to_string();
    assert_eq!(received["NgayTiepNhan"], local);

    let figure = sync_figure(&app).await;
    assert_eq!(figure, json!({"dossiers": 1, "synced": 1, "synced_rate": 100.0, "failed": 0, "overdue": 0}));
}

/// Records wait `portal.settle_ms` before delivery: a burst of changes to
/// one dossier reaches the portal as one record.
async fn a_burst_of_changes_settles_into_one_record(b: Backend) {
    let (app, sink) = TestApp::with_portal(b, |s| s.portal.settle_ms = 1500).await;
    let Cast { citizen, clerk, .. } = cast(&app).await;
    let d = file(&app, &citizen, BIRTH, "06691").await;
    act_ok(&app, &clerk, &d, json!({"action": "receive"})).await;
    assert_eq!(app.sync().await.sent, 0, "the records settle first");
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    assert_eq!(app.sync().await.sent, 1);
    let records = records_of(&sink, d["code"].as_str().unwrap());
    assert_eq!((seqs(&records), history(&records), states(&records)), (vec![2], vec![1, 2], vec![2]));
    assert_eq!(sync_figure(&app).await["synced"], 1);
}

async fn an_outage_delays_but_loses_nothing(b: Backend) {
    let (app, mut sink) = TestApp::with_portal(b, |s| s.portal.max_attempts = 10).await;
    let Cast { citizen, clerk, .. } = cast(&app).await;
    let d = file(&app, &citizen, BIRTH, "06691").await;
    act_ok(&app, &clerk, &d, json!({"action": "receive"})).await;
    // Filed, not yet received: lagging, but not counted in the figure.
    let d2 = file(&app, &citizen, BIRTH, "06691").await;
    let admin = app.token("admin").await;

    // 500: the records wait for their retry, and the one after the first
    // of d waits for it.
    sink.set_mode(Mode::Fail);
    let round = app.sync().await;
    assert_eq!((round.sent, round.retrying, round.outage), (0, 2, false));
    let figure = sync_figure(&app).await;
    assert_eq!(
        (figure["dossiers"].as_i64(), figure["synced"].as_i64(), figure["failed"].as_i64()),
        (Some(1), Some(0), Some(1))
    );
    let failing = json_ok(app.get("/api/v1/portal/sync?state=failed", Some(&admin)).await, StatusCode::OK).await;
    assert_eq!(failing["items"][0]["code"], d["code"]);
    assert_eq!(failing["items"][0]["state"], "failed");
    assert_eq!(
        (failing["items"][0]["latest_seq"].as_i64(), failing["items"][0]["acked_seq"].as_i64()),
        (Some(2), Some(0))
    );
    assert!(failing["items"][0]["last_error"].as_str().unwrap().contains("500"), "{failing}");
    assert_eq!(failing["items"][1]["code"], d2["code"]);
    let first = json_ok(app.get("/api/v1/portal/sync?limit=1", Some(&admin)).await, StatusCode::OK).await;
    assert_eq!(first["items"][0]["code"], d["code"]);
    let path = format!("/api/v1/portal/sync?limit=1&cursor={}", first["next_cursor"].as_str().unwrap());
    let second = json_ok(app.get(&path, Some(&admin)).await, StatusCode::OK).await;
    assert_eq!(second["items"][0]["code"], d2["code"]);
    assert!(second["next_cursor"].is_null());

    // Credentials refused, no answer, a hang past the timeout, a closed
    // port: outages, which pause the channel without giving up on a record.
    for mode in [Mode::Unauthorized, Mode::Drop, Mode::Hang] {
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        sink.set_mode(mode);
        assert!(app.sync().await.outage, "{mode:?}");
    }
    sink.stop();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(app.sync().await.outage);
    assert!(sink.accepted().is_empty());
    let dead: i64 = app.db(|c| outbox::table.filter(outbox::state.eq("dead")).count().get_result(c)).await;
    assert_eq!(dead, 0);

    // Back: everything arrives, in order.
    sink.restart();
    sink.set_mode(Mode::Accept);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    // d's two records became one when first claimed, and d2's.
    assert_eq!(app.sync().await.sent, 2);
    let records = records_of(&sink, d["code"].as_str().unwrap());
    assert_eq!((seqs(&records), history(&records)), (vec![2], vec![1, 2]));
    assert_eq!(sync_figure(&app).await["synced"], 1);
    let pending = json_ok(app.get("/api/v1/portal/sync", Some(&admin)).await, StatusCode::OK).await;
    assert_eq!(pending["items"], json!([]));
}

async fn a_dead_letter_is_retried_by_an_administrator(b: Backend) {
    let (app, sink) = TestApp::with_portal(b, |_| {}).await;
    let Cast { citizen, clerk, .. } = cast(&app).await;
    let d = file(&app, &citizen, BIRTH, "06691").await;
    let admin = app.token("admin").await;

    // The portal refuses the first record for good: a dead letter, and the
    // record after it is held back behind it.
    sink.set_mode(Mode::Refuse);
    let round = app.sync().await;
    assert_eq!((round.sent, round.dead), (0, 1));
    act_ok(&app, &clerk, &d, json!({"action": "receive"})).await;
    assert_eq!(app.sync().await, Default::default(), "the next record waits behind the dead letter");
    let dead =
        json_ok(app.get("/api/v1/admin/outbox?channel=portal&state=dead", Some(&admin)).await, StatusCode::OK).await;
    let letter = &dead["items"][0];
    assert_eq!(
        (letter["channel"].as_str(), letter["seq"].as_i64(), letter["kind"].as_str()),
        (Some("portal"), Some(1), None)
    );
    assert!(letter["last_error"].as_str().unwrap().contains("error_code 1"), "{letter}");
    assert_eq!(sync_figure(&app).await["failed"], 1);

    sink.set_mode(Mode::Accept);
    let path = format!("/api/v1/admin/outbox/{}/retry", letter["id"].as_str().unwrap());
    json_ok(app.post(&path, Some(&admin), json!({})).await, StatusCode::OK).await;
    assert_eq!(app.sync().await.sent, 2);
    let records = records_of(&sink, d["code"].as_str().unwrap());
    assert_eq!(seqs(&records), [1, 2]);
    let figure = sync_figure(&app).await;
    assert_eq!((figure["synced"].as_i64(), figure["failed"].as_i64()), (Some(1), Some(0)));
}

async fn a_resync_supersedes_a_dead_letter(b: Backend) {
    let (app, sink) = TestApp::with_portal(b, |_| {}).await;
    let Cast { citizen, clerk, .. } = cast(&app).await;
    let d = file(&app, &citizen, BIRTH, "06691").await;
    sink.set_mode(Mode::Refuse);
    assert_eq!(app.sync().await.dead, 1);
    act_ok(&app, &clerk, &d, json!({"action": "receive"})).await;

    // The cause fixed, the period is queued again: one record with the
    // whole state replaces the dead letter and the record behind it.
    sink.set_mode(Mode::Accept);
    let today = motcua::domain::calendar::to_local(chrono::Utc::now()).date();
    assert_eq!(motcua::portal::resync(&app.state.db, today, today.succ_opt().unwrap()).await.unwrap(), 1);
    assert_eq!(app.sync().await.sent, 1);
    let records = records_of(&sink, d["code"].as_str().unwrap());
    assert_eq!((seqs(&records), history(&records)), (vec![3], vec![1, 2]));
    assert_eq!(records[0]["data"][0]["QuaTrinhXuLy"].as_array().unwrap().len(), 2, "the whole history");
    let states: Vec<(i32, String)> = app
        .db(|c| {
            outbox::table
                .filter(outbox::channel.eq("portal"))
                .order(outbox::seq.asc())
                .select((outbox::seq.assume_not_null(), outbox::state))
                .load(c)
        })
        .await;
    assert_eq!(states, [(1, "superseded".into()), (2, "superseded".into()), (3, "sent".into())]);
    let figure = sync_figure(&app).await;
    assert_eq!((figure["synced"].as_i64(), figure["failed"].as_i64()), (Some(1), Some(0)));
}

async fn two_instances_deliver_each_record_once(b: Backend) {
    let (app, sink) = TestApp::with_portal(b, |_| {}).await;
    let other = motcua::app::Application::build(app.settings.clone()).await.expect("a second instance");
    let (other_api, other_state) =
        (common::Api::new(format!("http://127.0.0.1:{}", other.port())), other.state.clone());
    actix_web::rt::spawn(other.run_until_stopped());
    let Cast { citizen, clerk, specialist, .. } = cast(&app).await;
    let mut filed = Vec::new();
    for _ in 0..6 {
        filed.push(file(&app, &citizen, BIRTH, "06691").await);
    }
    let other_courier = other_state.portal_courier.clone().unwrap();
    let deliver = || {
        futures_util::future::join_all((0..4).map(|i| {
            let (courier, mine) = (other_courier.clone(), app.state.portal_courier.clone().unwrap());
            async move { if i % 2 == 0 { mine.run_pending().await } else { courier.run_pending().await }.unwrap() }
        }))
    };
    let filings = deliver().await;
    // Twenty receptions of one dossier at once, through both instances: one
    // reception, one record of it.
    let d = filed[0].clone();
    let attempts = (0..20).map(|i| {
        let api = if i % 2 == 0 { app.api.clone() } else { other_api.clone() };
        let (clerk, d) = (clerk.clone(), d.clone());
        async move { act(&api, &clerk, &d, json!({"action": "receive"})).await.status() }
    });
    let answers = futures_util::future::join_all(attempts).await;
    assert_eq!(answers.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{answers:?}");
    for d in &filed[1..] {
        act_ok(&app, &clerk, d, json!({"action": "receive"})).await;
    }

    let receptions = deliver().await;
    let rounds: Vec<_> = filings.iter().chain(&receptions).collect();
    assert_eq!(rounds.iter().map(|r| r.sent).sum::<usize>(), 12, "{rounds:?}");
    let accepted = sink.accepted();
    let ids: HashSet<&str> = accepted.iter().map(|r| r["MaDongBo"].as_str().unwrap()).collect();
    assert_eq!((accepted.len(), ids.len()), (12, 12), "each record once");
    for d in &filed {
        let records = records_of(&sink, d["code"].as_str().unwrap());
        assert_eq!((seqs(&records), history(&records)), (vec![1, 2], vec![1, 2]), "in order");
    }

    // Changes through both instances while both couriers deliver: records
    // built as they are claimed, joined when queued behind one, and each
    // change's history arrives once, in order.
    let claims = (0..6).map(|i| {
        let api = if i % 2 == 0 { app.api.clone() } else { other_api.clone() };
        let specialist = specialist.clone();
        async move { json_ok(api.post("/api/v1/queue/claim", Some(&specialist), json!({})).await, StatusCode::OK).await }
    });
    let (claimed, _) = futures_util::future::join(futures_util::future::join_all(claims), deliver()).await;
    assert_eq!(claimed.len(), 6);
    deliver().await;
    for d in &filed {
        let records = records_of(&sink, d["code"].as_str().unwrap());
        assert_eq!(history(&records), [1, 2, 4], "each change once, in order");
        assert!(seqs(&records).windows(2).all(|w| w[0] < w[1]), "{:?}", seqs(&records));
    }
    let accepted = sink.accepted();
    let ids: HashSet<&str> = accepted.iter().map(|r| r["MaDongBo"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), accepted.len(), "each record once");
    let unsynced: i64 = app
        .db(|c| portal_sync::table.filter(portal_sync::acked_seq.ne(portal_sync::latest_seq)).count().get_result(c))
        .await;
    assert_eq!(unsynced, 0);
}

/// A filing as the portal sends it.
fn filing(portal_code: &str, documents: Value) -> Value {
    json!({
        "portal_code": portal_code,
        "procedure_code": BIRTH,
        "unit_code": "06691",
        "applicant": {"kind": "citizen", "name": "Trần Thị Bình", "national_id": "022195004321",
                      "email": "binh@example.vn", "phone": "0987654321", "address": "Tổ 3, phường Hồng Gai"},
        "form": {"ho_ten_tre": "Trần Văn Cường"},
        "documents": documents,
    })
}

fn inline_pdf(component: i32) -> Value {
    use base64::Engine;
    json!({"component": component, "file_name": "to-khai.pdf",
           "content_base64": base64::engine::general_purpose::STANDARD.encode(pdf())})
}

async fn dossier_count(app: &TestApp) -> i64 {
    app.db(|c| dossiers::table.count().get_result(c)).await
}

async fn portal_filings_are_checked_filed_once_and_processed(b: Backend) {
    let (app, sink) = TestApp::with_portal(b, |_| {}).await;
    let portal = app.portal_token().await;
    let Cast { citizen, clerk, specialist, approver } = cast(&app).await;
    sink.serve_document("/files/giay-chung-sinh.pdf", pdf());
    let documents = json!([inline_pdf(0), {"component": 1, "file_name": "giay-chung-sinh.pdf",
                                           "url": sink.url("/files/giay-chung-sinh.pdf")}]);

    // Refused, creating nothing: other callers, bad payloads, foreign or
    // failing documents.
    let path = "/api/v1/portal/dossiers";
    let good = filing("G22.99-251130-0001", documents.clone());
    assert_problem(app.post(path, None, good.clone()).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert_problem(app.post(path, Some(&citizen), good.clone()).await, StatusCode::FORBIDDEN, "forbidden").await;
    assert_problem(app.post(path, Some(&clerk), good.clone()).await, StatusCode::FORBIDDEN, "forbidden").await;
    let mut bad = good.clone();
    bad["procedure_code"] = json!("1001193");
    assert_problem(app.post(path, Some(&portal), bad).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
        .await;
    let mut bad = good.clone();
    bad["procedure_code"] = json!("9.999999");
    assert_problem(app.post(path, Some(&portal), bad).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
        .await;
    let mut bad = good.clone();
    bad["unit_code"] = json!("nowhere");
    assert_problem(app.post(path, Some(&portal), bad).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
        .await;
    let mut bad = good.clone();
    bad["surprise"] = json!(true);
    assert_problem(app.post(path, Some(&portal), bad).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
        .await;
    let before = sink.requests().len();
    for url in [
        "http://169.254.169.254/latest/meta-data",
        "http://127.0.0.1:1/x.pdf",
        "file:///etc/passwd",
        &format!("http://user:pw@{}/files/giay-chung-sinh.pdf", sink.origin().trim_start_matches("http://")),
    ] {
        let body = filing("G22.99-251130-0002", json!([{"component": 0, "file_name": "x.pdf", "url": url}]));
        let problem = assert_problem(
            app.post(path, Some(&portal), body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], "documents[0].url", "{url}");
    }
    assert_eq!(sink.requests().len(), before, "no foreign address is ever fetched");
    let missing = filing(
        "G22.99-251130-0002",
        json!([{"component": 0, "file_name": "x.pdf", "url": sink.url("/files/none.pdf")}]),
    );
    assert_problem(
        app.post(path, Some(&portal), missing).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "document_unavailable",
    )
    .await;
    let text =
        filing("G22.99-251130-0002", json!([{"component": 0, "file_name": "x.pdf", "content_base64": "aGVsbG8="}]));
    assert_problem(
        app.post(path, Some(&portal), text).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_file_type",
    )
    .await;
    let both = filing("G22.99-251130-0002", json!([{"component": 0, "file_name": "x.pdf"}]));
    assert_problem(app.post(path, Some(&portal), both).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
        .await;
    let bogus = filing(
        "G22.99-251130-0002",
        json!([{"component": 9, "file_name": "x.pdf", "content_base64": inline_pdf(0)["content_base64"]}]),
    );
    assert_problem(app.post(path, Some(&portal), bogus).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
        .await;
    assert_eq!(dossier_count(&app).await, 0);

    // Filed once, whatever the number of identical calls at once.
    let twin = app.twin().await;
    let calls = (0..10).map(|i| {
        let api = if i % 2 == 0 { app.api.clone() } else { twin.clone() };
        let (portal, body) = (portal.clone(), good.clone());
        async move {
            let res = api.post(path, Some(&portal), body).await;
            (res.status(), res.json::<Value>().await.unwrap())
        }
    });
    let answers = futures_util::future::join_all(calls).await;
    assert_eq!(answers.iter().filter(|(s, _)| *s == StatusCode::CREATED).count(), 1, "{answers:?}");
    assert!(answers.iter().all(|(s, _)| *s == StatusCode::CREATED || *s == StatusCode::OK), "{answers:?}");
    let ids: HashSet<&str> = answers.iter().map(|(_, r)| r["dossier_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 1);
    let receipt = &answers[0].1;
    assert_eq!(
        (receipt["portal_code"].as_str(), receipt["national_status"].as_i64()),
        (Some("G22.99-251130-0001"), Some(1))
    );
    assert_eq!(dossier_count(&app).await, 1);
    let mut changed = good.clone();
    changed["form"]["ho_ten_tre"] = json!("Người khác");
    assert_problem(app.post(path, Some(&portal), changed).await, StatusCode::CONFLICT, "portal_code_reused").await;

    // Processed like any other online dossier.
    let d = json!({"id": receipt["dossier_id"]});
    let seen = get(&app, &clerk, &d).await;
    assert_eq!((seen["channel"].as_str(), seen["status"].as_str()), (Some("online"), Some("submitted")));
    assert_eq!(seen["applicant"]["name"], "Trần Thị Bình");
    assert_eq!(seen["components"][0]["digitization"], "electronic_original");
    assert_eq!(seen["components"][1]["files"][0]["file_name"], "giay-chung-sinh.pdf");
    app.sync().await;
    act_ok(&app, &clerk, &d, json!({"action": "receive"})).await;
    json_ok(app.post("/api/v1/queue/claim", Some(&specialist), json!({})).await, StatusCode::OK).await;
    act_ok(&app, &specialist, &d, json!({"action": "submit_for_approval"})).await;
    act_ok(&app, &approver, &d, json!({"action": "approve"})).await;
    act_ok(&app, &clerk, &d, json!({"action": "return_result"})).await;
    app.sync().await;
    let records = records_of(&sink, "G22.99-251130-0001");
    assert_eq!((seqs(&records), statuses(&records)), (vec![1, 6], vec![1, 10]));
    assert_eq!(records[0]["data"][0]["MaHoSoMotCua"], seen["code"]);
    let components = &records[0]["data"][0]["TaiLieuNop"];
    assert_eq!((components[0]["DuocSoHoa"].as_i64(), components[1]["DuocSoHoa"].as_i64()), (Some(1), Some(1)));
    assert_eq!((components[0]["SoTepDinhKem"].as_i64(), components[2]["SoTepDinhKem"].as_i64()), (Some(1), Some(0)));
    assert_eq!(records[0]["data"][0]["HoSoCoThanhPhanSoHoa"], if seen["digitized"] == true { 1 } else { 0 });
    assert_eq!(records[0]["data"][0]["QuaTrinhXuLy"].as_array().unwrap().len(), 3, "filed, and two documents");

    // Every call of the service account is audited, refusals included.
    let audited: i64 = app
        .db(|c| {
            let route = "/api/v1/portal/dossiers";
            let linked: i64 = audit_log::table.filter(audit_log::route.eq(route)).count().get_result(c)?;
            let pending: i64 = audit_pending::table.filter(audit_pending::route.eq(route)).count().get_result(c)?;
            Ok(linked + pending)
        })
        .await;
    assert_eq!(audited, 12 + 10 + 1, "twelve refusals, ten identical calls, one conflict");
}

async fn a_period_is_queued_again_on_demand(b: Backend) {
    // Dossiers of a database that was never connected to the portal.
    let app = TestApp::spawn(b).await;
    let Cast { citizen, clerk, .. } = cast(&app).await;
    let d = file(&app, &citizen, BIRTH, "06691").await;
    act_ok(&app, &clerk, &d, json!({"action": "receive"})).await;
    register(&app, &clerk, HOUSEHOLD_BUSINESS, "193").await;
    let recorded: i64 = app.db(|c| portal_sync::table.count().get_result(c)).await;
    assert_eq!(recorded, 0, "nothing is recorded while the portal is not configured");

    let sink = PortalSink::start();
    let (url, origin) = (sink.url("/DongBoHoSoMC"), sink.origin());
    let app = app
        .restart(|s| {
            s.portal.sync_url = Some(url);
            s.portal.document_origin = Some(origin);
            s.portal.worker_enabled = false;
        })
        .await;
    assert_eq!(sync_figure(&app).await["synced"], 0);
    let today = motcua::domain::calendar::to_local(chrono::Utc::now()).date();
    let yesterday = today.pred_opt().unwrap();
    assert_eq!(motcua::portal::resync(&app.state.db, yesterday, today).await.unwrap(), 0, "another period");
    let queued = motcua::portal::resync(&app.state.db, today, today.succ_opt().unwrap()).await.unwrap();
    assert_eq!(queued, 2);
    assert_eq!(app.sync().await.sent, 2);
    let record = &records_of(&sink, d["code"].as_str().unwrap())[0];
    assert_eq!(record["ThuTu"], 1);
    assert_eq!(record["data"][0]["TrangThaiHoSo"], 2);
    let history: Vec<&str> =
        record["data"][0]["QuaTrinhXuLy"].as_array().unwrap().iter().map(|h| h["ChucDanh"].as_str().unwrap()).collect();
    assert_eq!(history, ["citizen", "clerk"], "the whole history");
    let figure = sync_figure(&app).await;
    assert_eq!((figure["dossiers"].as_i64(), figure["synced"].as_i64()), (Some(2), Some(2)));
}

async fn the_catalogue_keeps_national_codes(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.token("admin").await;
    let p = json_ok(app.get(&format!("/api/v1/procedures/{CONSTRUCTION}"), None).await, StatusCode::OK).await;
    assert_eq!(p["national_code"], CONSTRUCTION);
    let path = format!("/api/v1/procedures/{CONSTRUCTION}");
    let bad = app.patch(&path, Some(&admin), json!({"national_code": "1.01322"})).await;
    let problem = assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "national_code");
    let taken = app.patch(&path, Some(&admin), json!({"national_code": BIRTH})).await;
    assert_problem(taken, StatusCode::CONFLICT, "procedure_code_taken").await;
    let changed =
        json_ok(app.patch(&path, Some(&admin), json!({"national_code": "2.002130"})).await, StatusCode::OK).await;
    assert_eq!(changed["national_code"], "2.002130");
}

async fn basic_credentials_reach_the_portal(b: Backend) {
    let (app, sink) = TestApp::with_portal(b, |s| {
        s.portal.bearer_token = None;
        s.portal.username = Some("quangninh".into());
        s.portal.password = Some(secrecy::SecretString::from("mat-khau-cong".to_string()));
    })
    .await;
    let citizen = app.token("citizen").await;
    file(&app, &citizen, BIRTH, "06691").await;
    assert_eq!(app.sync().await.sent, 1);
    use base64::Engine;
    let expected = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("quangninh:mat-khau-cong"));
    assert_eq!(sink.requests()[0].headers["authorization"], expected);
}

/// A certificate authority of the test, the portal's server configuration
/// (a certificate for `localhost` signed by it, client certificates of the
/// authority required), and the PEM files the province configures: the
/// authority, and its client certificate with its key.
fn mutual_tls(dir: &std::path::Path) -> (rustls::ServerConfig, std::path::PathBuf, std::path::PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
    motcua::portal::client::install_crypto();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "Cổng DVCQG thử nghiệm");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server =
        CertificateParams::new(vec!["localhost".to_string()]).unwrap().signed_by(&server_key, &issuer).unwrap();
    let client_key = KeyPair::generate().unwrap();
    let mut client = CertificateParams::new(Vec::<String>::new()).unwrap();
    client.distinguished_name.push(DnType::CommonName, "motcua Quảng Ninh");
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client = client.signed_by(&client_key, &issuer).unwrap();

    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca_cert.der().clone()).unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder(std::sync::Arc::new(roots)).build().unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into());
    let config = rustls::ServerConfig::builder()
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![server.der().clone()], key)
        .unwrap();
    let (ca_file, client_file) = (dir.join("portal-ca.pem"), dir.join("portal-client.pem"));
    std::fs::write(&ca_file, ca_cert.pem()).unwrap();
    std::fs::write(&client_file, format!("{}{}", client.pem(), client_key.serialize_pem())).unwrap();
    (config, ca_file, client_file)
}

async fn the_portal_is_reached_over_mutual_tls(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (config, ca, client) = mutual_tls(dir.path());
    let sink = PortalSink::start_tls(config);
    let url = sink.url("/DongBoHoSoMC");
    let app = TestApp::spawn_with(b, |s| {
        s.portal.sync_url = Some(url);
        s.portal.ca_certificate = Some(ca);
        s.portal.client_certificate = Some(client);
        s.portal.worker_enabled = false;
        s.portal.settle_ms = 0;
        s.portal.timeout_secs = 2;
    })
    .await;
    let citizen = app.token("citizen").await;
    let d = file(&app, &citizen, BIRTH, "06691").await;
    assert_eq!(app.sync().await.sent, 1);
    let requests = sink.requests();
    assert!(requests[0].certified, "the province presented its certificate");
    assert_eq!(requests[0].json()["data"][0]["MaHoSo"], d["code"]);

    // Without its certificate the province is not let in: nothing arrives.
    let app = app.restart(|s| s.portal.client_certificate = None).await;
    file(&app, &citizen, BIRTH, "06691").await;
    assert!(app.sync().await.outage);
    assert_eq!(sink.requests().len(), 1);
}
