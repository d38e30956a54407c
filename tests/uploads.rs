//! Hostile uploads: each is refused with a problem+json and stores nothing —
//! no file under `files.dir`, no change to the dossier or its events. The
//! bodies are built by hand, so that names and headers are exactly as hostile
//! as a client can make them.

mod common;

use std::time::{Duration, Instant};

use common::flow::*;
use common::{Backend, TestApp, assert_problem, stored_files};
use reqwest::StatusCode;
use serde_json::Value;

on_both_backends!(hostile_uploads_are_refused_and_store_nothing, path_like_names_never_reach_the_file_system);

const BOUNDARY: &str = "motcua-boundary-7MA4YWxkTrZu0gW";

/// One part: its raw header lines (after `Content-Disposition: form-data`)
/// and its bytes.
struct RawPart {
    disposition: Vec<u8>,
    body: Vec<u8>,
}

fn file_part(name: &[u8], body: Vec<u8>) -> RawPart {
    RawPart { disposition: [b"form-data; name=\"file\"; filename=\"", name, b"\""].concat(), body }
}

fn text_part(name: &str, body: &[u8]) -> RawPart {
    RawPart { disposition: format!("form-data; name=\"{name}\"").into_bytes(), body: body.to_vec() }
}

fn multipart(parts: &[RawPart]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        out.extend_from_slice(format!("--{BOUNDARY}\r\nContent-Disposition: ").as_bytes());
        out.extend_from_slice(&p.disposition);
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(&p.body);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    out
}

async fn send(app: &TestApp, token: &str, dossier: &Value, body: Vec<u8>) -> reqwest::Response {
    let cid = dossier["components"][0]["id"].as_str().unwrap();
    let path = format!("/api/v1/dossiers/{}/components/{cid}/files", dossier["id"].as_str().unwrap());
    app.client
        .post(app.url(&path))
        .bearer_auth(token)
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn hostile_uploads_are_refused_and_store_nothing(b: Backend) {
    let app = TestApp::spawn_with(b, |s| s.files.max_bytes = 4096).await;
    let owner = app.token("citizen").await;
    let dossier = file(&app, &owner, BIRTH, "06691").await;
    let files_dir = app.state.settings.files.dir.clone();
    let before = (stored_files(&files_dir), get(&app, &owner, &dossier).await, events(&app, &owner, &dossier).await);

    let bad = |code: &'static str, status: StatusCode, why: &'static str, parts: Vec<RawPart>| {
        (code, status, why, multipart(&parts))
    };
    let big_pdf = [pdf(), vec![b' '; 5000]].concat();
    let mut many_unknown: Vec<RawPart> = (0..5000).map(|i| text_part(&format!("x{i}"), b"1")).collect();
    many_unknown.push(file_part(b"a.pdf", pdf()));
    let mut many_known: Vec<RawPart> = (0..5000).map(|_| text_part("digitization", b"electronic_original")).collect();
    many_known.insert(0, file_part(b"a.pdf", pdf()));
    let cases = vec![
        bad(
            "unsupported_file_type",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "wrong magic bytes",
            vec![file_part(b"to-khai.pdf", b"MZ\x90\x00 this is an executable, not a PDF".to_vec())],
        ),
        bad(
            "unsupported_file_type",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "PDF magic too late",
            vec![file_part(b"a.pdf", [b"\n".to_vec(), pdf()].concat())],
        ),
        bad(
            "unsupported_file_type",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "empty file",
            vec![file_part(b"a.pdf", Vec::new())],
        ),
        bad("payload_too_large", StatusCode::PAYLOAD_TOO_LARGE, "oversized", vec![file_part(b"a.pdf", big_pdf)]),
        bad("validation_failed", StatusCode::UNPROCESSABLE_ENTITY, "5,000 unknown parts", many_unknown),
        bad("validation_failed", StatusCode::UNPROCESSABLE_ENTITY, "5,000 repeated parts", many_known),
        bad(
            "malformed_multipart",
            StatusCode::BAD_REQUEST,
            "a line break in a file name",
            vec![file_part(b"to\r\nkhai.pdf", pdf())],
        ),
        bad(
            "malformed_multipart",
            StatusCode::BAD_REQUEST,
            "a NUL in a file name",
            vec![file_part(b"to\x00khai.pdf", pdf())],
        ),
        bad(
            "validation_failed",
            StatusCode::UNPROCESSABLE_ENTITY,
            "two files",
            vec![file_part(b"a.pdf", pdf()), file_part(b"b.pdf", pdf())],
        ),
        bad(
            "malformed_multipart",
            StatusCode::BAD_REQUEST,
            "a part without a name",
            vec![RawPart { disposition: b"form-data; filename=\"a.pdf\"".to_vec(), body: pdf() }],
        ),
        bad(
            "validation_failed",
            StatusCode::UNPROCESSABLE_ENTITY,
            "no file part",
            vec![text_part("digitization", b"electronic_original")],
        ),
        bad(
            "validation_failed",
            StatusCode::UNPROCESSABLE_ENTITY,
            "non-UTF-8 text",
            vec![file_part(b"a.pdf", pdf()), text_part("digitization", b"\xff\xfe\x00electronic")],
        ),
        bad(
            "validation_failed",
            StatusCode::UNPROCESSABLE_ENTITY,
            "an overlong text part",
            vec![file_part(b"a.pdf", pdf()), text_part("digitization", &[b'a'; 3000])],
        ),
    ];
    for (code, status, why, body) in cases {
        let started = Instant::now();
        let res = send(&app, &owner, &dossier, body).await;
        assert_eq!(res.status(), status, "{why}");
        assert_problem(res, status, code).await;
        assert!(started.elapsed() < Duration::from_secs(5), "{why} took {:?}", started.elapsed());
    }

    // Bodies that are not multipart at all, or break off.
    let cut = multipart(&[file_part(b"a.pdf", pdf())]);
    let truncated = cut[..cut.len() - 10].to_vec();
    let res = send(&app, &owner, &dossier, truncated).await;
    assert_problem(res, StatusCode::BAD_REQUEST, "malformed_multipart").await;
    let cid = dossier["components"][0]["id"].as_str().unwrap();
    let path = format!("/api/v1/dossiers/{}/components/{cid}/files", dossier["id"].as_str().unwrap());
    let res = app.client.post(app.url(&path)).bearer_auth(&owner).body(pdf()).send().await.unwrap();
    assert_problem(res, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;

    let after = (stored_files(&files_dir), get(&app, &owner, &dossier).await, events(&app, &owner, &dossier).await);
    assert_eq!(before, after, "a refused upload changed something");
}

async fn path_like_names_never_reach_the_file_system(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.token("citizen").await;
    let dossier = file(&app, &owner, BIRTH, "06691").await;
    let files_dir = app.state.settings.files.dir.clone();
    // Names are cleaned, not refused (old browsers send whole Windows paths);
    // files are stored by content hash, so no name ever becomes a path. (NUL
    // and line breaks never get this far: see the refusals above.)
    let names: [(&[u8], &str); 5] = [
        (b"../../etc/passwd", "passwd"),
        // Backslashes escaped, as in any quoted-string.
        (b"C:\\\\x\\\\y.pdf", "y.pdf"),
        (b"..\\\\..\\\\windows\\\\win.ini", "win.ini"),
        (b"to\tkhai.pdf", "tokhai.pdf"),
        (b"../", "document"),
    ];
    for (n, (raw, shown)) in names.iter().enumerate() {
        let content = [pdf(), format!("% {n}\n").into_bytes()].concat();
        let res = send(&app, &owner, &dossier, multipart(&[file_part(raw, content)])).await;
        let stored = json_ok(res, StatusCode::CREATED).await;
        let names: Vec<&str> = stored["components"][0]["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["file_name"].as_str())
            .collect();
        assert!(names.contains(shown), "{shown} in {stored}");
    }
    let files = stored_files(&files_dir);
    assert_eq!(files.len(), names.len());
    for f in &files {
        let stem = f.file_name().unwrap().to_str().unwrap();
        assert!(stem.chars().all(|c| c.is_ascii_hexdigit()) && stem.len() == 64, "{}", f.display());
    }
    assert!(!files_dir.join("../../etc/passwd").exists());
}
