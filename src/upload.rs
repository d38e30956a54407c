//! Reading multipart uploads: one `file` part, streamed through SHA-256 into
//! a temporary file of the store (never held whole in memory), and a few
//! named text parts.

use std::collections::HashMap;
use std::future::{Ready, ready};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;

use actix_multipart::{Multipart, MultipartError};
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, dev::Payload};
use futures_util::future::poll_fn;
use futures_util::{Stream, StreamExt};

use std::io::Write;

use actix_web::web;
use tempfile::NamedTempFile;

use crate::app::AppState;
use crate::error::{ApiError, ProblemCode};
use crate::storage::{DocumentKind, FileStore, Hashing};

pub struct Upload {
    /// The `file` part, hashed as it streamed in.
    pub file: Received,
    /// The client's file name, without any path and control characters.
    pub file_name: String,
    /// The text parts, by name.
    pub fields: HashMap<String, String>,
}

/// A file part: its SHA-256, size and first bytes, and — when kept — the
/// temporary file of the store holding it (`FileStore::keep` stores it).
pub struct Received {
    pub sha256: String,
    pub size: u64,
    head: Vec<u8>,
    content: Option<NamedTempFile>,
}

/// What becomes of a file part's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Written to a temporary file of the store, to be stored.
    File,
    /// Only hashed (`POST /verify`): nothing is written anywhere.
    HashOnly,
}

/// How much of a part is gathered before it is written out, off the async
/// workers: an upload in flight holds about this much memory.
const WRITE_CHUNK: usize = 64 * 1024;

fn multipart_error(e: MultipartError) -> ApiError {
    match e {
        MultipartError::ContentTypeMissing | MultipartError::ContentTypeIncompatible => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ProblemCode::UnsupportedMediaType,
            "Upload files as multipart/form-data.",
        ),
        MultipartError::Payload(e) => crate::http::body_error(&e),
        other => {
            ApiError::bad_request(ProblemCode::MalformedMultipart, format!("The multipart body is invalid: {other}"))
        }
    }
}

fn too_large(max: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ProblemCode::PayloadTooLarge,
        format!("A file is at most {max} bytes."),
    )
}

/// Keeps what is safe to show of a client's file name.
fn clean_file_name(name: Option<&str>) -> String {
    let base = name.unwrap_or_default().rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    if clean.trim().is_empty() { "document".into() } else { clean.trim().to_string() }
}

/// A multipart body that notices the end of the request body. actix-multipart
/// 0.7 stays pending forever when a body ends inside a boundary (a truncated
/// upload; actix-web #3202): after the body's end, a pending part can only
/// mean an incomplete form, and is refused as such.
pub struct Form {
    parts: Multipart,
    ended: Rc<AtomicBool>,
}

impl FromRequest for Form {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let ended = Rc::new(AtomicBool::new(false));
        let flag = ended.clone();
        let mut body = payload.take();
        let body = futures_util::stream::poll_fn(move |cx| {
            let next = body.poll_next_unpin(cx);
            if let Poll::Ready(None) = next {
                flag.store(true, Ordering::Relaxed);
            }
            next
        });
        ready(Ok(Self { parts: Multipart::new(req.headers(), body), ended }))
    }
}

/// The next item of `stream`, or `Incomplete` once the body has ended and
/// the stream still waits for more.
async fn next<S, T>(stream: &mut S, ended: &AtomicBool) -> Result<Option<T>, ApiError>
where
    S: Stream<Item = Result<T, MultipartError>> + Unpin,
{
    let item = poll_fn(|cx| match stream.poll_next_unpin(cx) {
        Poll::Pending if ended.load(Ordering::Relaxed) => Poll::Ready(Some(Err(MultipartError::Incomplete))),
        other => other,
    })
    .await;
    item.transpose().map_err(multipart_error)
}

/// Reads a form with a `file` part of at most `files.max_bytes` bytes and
/// text parts named in `text_fields` (each at most 2 KiB); anything else is
/// refused. At most `files.max_concurrent_uploads` are read at once across
/// the instance; beyond, 503 with `Retry-After`.
pub async fn read(state: &AppState, form: Form, keep: Keep, text_fields: &[&str]) -> Result<Upload, ApiError> {
    const TEXT_MAX: usize = 2048;
    let _turn = state.uploads.try_acquire().map_err(|_| busy())?;
    let max = state.settings.files.max_bytes;
    let Form { mut parts, ended } = form;
    let (mut file, mut file_name, mut fields) = (None, String::new(), HashMap::new());
    while let Some(mut field) = next(&mut parts, &ended).await? {
        let name = field.name().unwrap_or_default().to_string();
        let is_file = name == "file";
        if !is_file && !text_fields.contains(&name.as_str()) {
            let expected = ["file"].iter().chain(text_fields).copied().collect::<Vec<_>>().join(", ");
            return Err(ApiError::invalid_field(&name, format!("unknown form field; expected {expected}")));
        }
        if is_file && file.is_some() || fields.contains_key(&name) {
            return Err(ApiError::invalid_field(&name, "sent twice"));
        }
        if is_file {
            file_name = clean_file_name(field.content_disposition().and_then(|d| d.get_filename()));
            file = Some(receive(state, &mut field, &ended, keep, max).await?);
            continue;
        }
        let mut buf = Vec::new();
        while let Some(chunk) = next(&mut field, &ended).await? {
            if buf.len() + chunk.len() > TEXT_MAX {
                return Err(ApiError::invalid_field(&name, "too long"));
            }
            buf.extend_from_slice(&chunk);
        }
        let text = String::from_utf8(buf).map_err(|_| ApiError::invalid_field(&name, "not UTF-8 text"))?;
        fields.insert(name, text.trim().to_string());
    }
    let file = file.ok_or_else(|| ApiError::invalid_field("file", "a `file` part is required"))?;
    Ok(Upload { file, file_name, fields })
}

fn busy() -> ApiError {
    ApiError {
        retry_after_secs: Some(5),
        ..ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ProblemCode::TooManyUploads,
            "Too many uploads are in progress; send this one again in a few seconds.",
        )
    }
}

/// Streams a file part through the hasher into a temporary file (or
/// nowhere), in `WRITE_CHUNK` pieces written on the blocking pool.
async fn receive(
    state: &AppState,
    field: &mut actix_multipart::Field,
    ended: &AtomicBool,
    keep: Keep,
    max: usize,
) -> Result<Received, ApiError> {
    let temp = match keep {
        Keep::File => {
            let files = state.files.clone();
            Some(web::block(move || files.incoming()).await.map_err(ApiError::internal)?.map_err(ApiError::storage)?)
        }
        Keep::HashOnly => None,
    };
    let mut sink = Hashing::new(temp);
    let mut pending: Vec<u8> = Vec::with_capacity(WRITE_CHUNK);
    loop {
        let chunk = next(field, ended).await?;
        if sink.size() as usize + pending.len() + chunk.as_ref().map_or(0, |c| c.len()) > max {
            return Err(too_large(max));
        }
        let last = chunk.is_none();
        if let Some(chunk) = chunk {
            pending.extend_from_slice(&chunk);
        }
        if pending.len() >= WRITE_CHUNK || last && !pending.is_empty() {
            let (s, p) = web::block(move || {
                let mut sink = sink;
                let mut pending = pending;
                let written = sink.write_all(&pending);
                pending.clear();
                written.map(|()| (sink, pending))
            })
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::storage)?;
            (sink, pending) = (s, p);
        }
        if last {
            break;
        }
    }
    let size = sink.size();
    let (content, sha256, head) = sink.finish();
    Ok(Received { sha256, size, head, content })
}

impl Upload {
    /// The document's kind, recognised by content; 415 for anything else.
    pub fn kind(&self) -> Result<DocumentKind, ApiError> {
        DocumentKind::sniff(&self.file.head).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ProblemCode::UnsupportedFileType,
                "Only PDF, JPEG and PNG documents are accepted (recognised by content, not by name).",
            )
        })
    }

    /// Like `kind`, for documents that must be PDF.
    pub fn pdf(&self) -> Result<(), ApiError> {
        match self.kind()? {
            DocumentKind::Pdf => Ok(()),
            _ => Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ProblemCode::UnsupportedFileType,
                "A result is a PDF document.",
            )),
        }
    }
}

impl Received {
    /// Stores the content (read with `Keep::File`) in `files`; call it on
    /// the blocking pool, inside the change that records it. A crash
    /// between the two leaves an unreferenced file for `motcua files gc`.
    pub fn store(self, files: &dyn FileStore) -> Result<(String, i64), ApiError> {
        let content = self.content.ok_or_else(|| ApiError::internal("an upload read without keeping it"))?;
        files.keep(content, &self.sha256).map_err(ApiError::storage)?;
        Ok((self.sha256, self.size as i64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_paths_and_control_characters() {
        assert_eq!(clean_file_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(clean_file_name(Some("C:\\scans\\to khai.pdf")), "to khai.pdf");
        assert_eq!(clean_file_name(Some("a\u{0}b\n.pdf")), "ab.pdf");
        assert_eq!(clean_file_name(Some("   ")), "document");
        assert_eq!(clean_file_name(None), "document");
    }
}
