//! What an anonymous caller can make one instance hold — connections, time,
//! memory, disk — is bounded (issue 13 §1–3), and the service keeps serving
//! everyone else while someone leans on the bounds.

mod common;

use std::time::{Duration, Instant};

use common::{Backend, TestApp, assert_problem};
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

on_both_backends!(
    slow_bodies_are_cut_off_while_everyone_else_is_served,
    uploads_beyond_the_limit_wait_their_turn,
    connections_are_capped,
    verification_stores_nothing,
);

const BOUNDARY: &str = "motcua-limits-boundary";

/// A raw connection that has sent the headers of a `POST /verify` declaring
/// a 10 MB body, and the first bytes of it.
async fn start_slow_upload(address: &str) -> TcpStream {
    let host = address.trim_start_matches("http://");
    let mut conn = TcpStream::connect(host).await.expect("connects");
    let head = format!(
        "POST /api/v1/verify HTTP/1.1\r\nhost: {host}\r\ncontent-type: multipart/form-data; boundary={BOUNDARY}\r\n\
         content-length: 10000000\r\n\r\n--{BOUNDARY}\r\ncontent-disposition: form-data; name=\"file\"; \
         filename=\"scan.pdf\"\r\n\r\n%PDF-1.7\n"
    );
    conn.write_all(head.as_bytes()).await.expect("sends the head");
    conn
}

/// Reads what the server sends until it closes the connection (or `limit`).
async fn read_until_closed(conn: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(limit, async {
        let mut buf = [0u8; 4096];
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok().map(|()| String::from_utf8_lossy(&got).into_owned())
}

/// Three hundred clients trickle a byte a second into `POST /verify`: each
/// is cut off with 408 once its grace period is over, and all the while the
/// service answers logins and reads as usual.
async fn slow_bodies_are_cut_off_while_everyone_else_is_served(b: Backend) {
    let app = TestApp::spawn_with(b, |s| {
        s.http.body_grace_secs = 3;
        s.http.body_min_bytes_per_sec = 1024;
        // Each is read (none is turned away as one upload too many).
        s.files.max_concurrent_uploads = 1000;
    })
    .await;
    let started = Instant::now();
    let mut slow = Vec::new();
    for _ in 0..300 {
        let address = app.address.clone();
        slow.push(tokio::spawn(async move {
            let mut conn = start_slow_upload(&address).await;
            let trickle = async {
                loop {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    if conn.write_all(b"x").await.is_err() {
                        break;
                    }
                }
            };
            // Stops trickling once the server has given up on the body.
            let _ = tokio::time::timeout(Duration::from_secs(30), trickle).await;
            read_until_closed(&mut conn, Duration::from_secs(10)).await
        }));
    }
    // Meanwhile, others log in and read.
    for _ in 0..10 {
        let token = app.token("clerk").await;
        let res = app.get("/api/v1/procedures", Some(&token)).await;
        assert_eq!(res.status(), StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut cut = 0;
    for client in slow {
        let answer = client.await.unwrap().expect("the server closes the connection");
        // The answer, when the client could still read it, is a 408 problem.
        if !answer.is_empty() {
            assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
            assert!(answer.contains("body_timeout"), "{answer}");
        }
        cut += 1;
    }
    assert_eq!(cut, 300);
    // Each went at its grace period (3 s), not at the end of its 10 MB.
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
    let res = app.get("/readyz", None).await;
    assert_eq!(res.status(), StatusCode::OK);
}

fn pdf_form(bytes: &[u8]) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(bytes.to_vec()).file_name("scan.pdf"))
}

/// With room for one upload at a time, a second one is refused at once with
/// 503 and `Retry-After`; once the first is gone, uploads are read again.
async fn uploads_beyond_the_limit_wait_their_turn(b: Backend) {
    let app = TestApp::spawn_with(b, |s| s.files.max_concurrent_uploads = 1).await;
    let first = start_slow_upload(&app.address).await;
    // The first upload is being read when the second arrives.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let res = app.client.post(app.url("/api/v1/verify")).multipart(pdf_form(b"%PDF-1.7 second")).send().await.unwrap();
    assert_eq!(res.headers()["retry-after"], "5");
    assert_problem(res, StatusCode::SERVICE_UNAVAILABLE, "too_many_uploads").await;
    drop(first);
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..50 {
        let res = app.client.post(app.url("/api/v1/verify")).multipart(pdf_form(b"%PDF-1.7 third")).send().await;
        status = res.unwrap().status();
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, StatusCode::OK);
}

/// The API holds at most `http.max_connections` connections: with two
/// taken by clients that never finish, a third waits, and is served as soon
/// as one of them goes.
async fn connections_are_capped(b: Backend) {
    let app = TestApp::spawn_with(b, |s| {
        s.http.workers = 1;
        s.http.max_connections = 2;
    })
    .await;
    let held = [start_slow_upload(&app.address).await, start_slow_upload(&app.address).await];
    tokio::time::sleep(Duration::from_millis(300)).await;
    let quick = reqwest::Client::builder().timeout(Duration::from_secs(1)).build().unwrap();
    assert!(quick.get(app.url("/healthz")).send().await.is_err(), "a third connection was served");
    drop(held);
    let res = quick.get(app.url("/healthz")).send().await.expect("served once a connection is free");
    assert_eq!(res.status(), StatusCode::OK);
}

/// `POST /verify` hashes the upload as it streams and stores nothing.
async fn verification_stores_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let before = stored(&app.state.settings.files.dir);
    let big = [b"%PDF-1.7\n".to_vec(), vec![b'x'; 3 << 20]].concat();
    let res = app.client.post(app.url("/api/v1/verify")).multipart(pdf_form(&big)).send().await.unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["matched"], false);
    assert_eq!(body["sha256"], hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&big)));
    assert_eq!(stored(&app.state.settings.files.dir), before);
}

/// Every file under `dir`, recursively (the store's documents and anything
/// on its way in).
fn stored(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut all: Vec<_> =
        entries.flatten().flat_map(|e| if e.path().is_dir() { stored(&e.path()) } else { vec![e.path()] }).collect();
    all.sort();
    all
}
