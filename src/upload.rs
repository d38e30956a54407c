//! Reading multipart uploads: one `file` part, held in memory up to a limit,
//! and a few named text parts.

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

use crate::error::ApiError;
use crate::storage::DocumentKind;

pub struct Upload {
    pub bytes: Vec<u8>,
    /// The client's file name, without any path and control characters.
    pub file_name: String,
    /// The text parts, by name.
    pub fields: HashMap<String, String>,
}

fn multipart_error(e: MultipartError) -> ApiError {
    match e {
        MultipartError::ContentTypeMissing | MultipartError::ContentTypeIncompatible => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Upload files as multipart/form-data.",
        ),
        other => ApiError::bad_request("malformed_multipart", format!("The multipart body is invalid: {other}")),
    }
}

fn too_large(max: usize) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", format!("A file is at most {max} bytes."))
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

/// Reads a form with a `file` part of at most `max` bytes and text parts
/// named in `text_fields` (each at most 2 KiB); anything else is refused.
pub async fn read(form: Form, max: usize, text_fields: &[&str]) -> Result<Upload, ApiError> {
    const TEXT_MAX: usize = 2048;
    let Form { mut parts, ended } = form;
    let (mut bytes, mut file_name, mut fields) = (None, String::new(), HashMap::new());
    while let Some(mut field) = next(&mut parts, &ended).await? {
        let name = field.name().unwrap_or_default().to_string();
        let is_file = name == "file";
        if !is_file && !text_fields.contains(&name.as_str()) {
            let expected = ["file"].iter().chain(text_fields).copied().collect::<Vec<_>>().join(", ");
            return Err(ApiError::invalid_field(&name, format!("unknown form field; expected {expected}")));
        }
        if is_file && bytes.is_some() || fields.contains_key(&name) {
            return Err(ApiError::invalid_field(&name, "sent twice"));
        }
        let limit = if is_file { max } else { TEXT_MAX };
        let mut buf = Vec::new();
        while let Some(chunk) = next(&mut field, &ended).await? {
            if buf.len() + chunk.len() > limit {
                return Err(if is_file { too_large(max) } else { ApiError::invalid_field(&name, "too long") });
            }
            buf.extend_from_slice(&chunk);
        }
        if is_file {
            file_name = clean_file_name(field.content_disposition().and_then(|d| d.get_filename()));
            bytes = Some(buf);
        } else {
            let text = String::from_utf8(buf).map_err(|_| ApiError::invalid_field(&name, "not UTF-8 text"))?;
            fields.insert(name, text.trim().to_string());
        }
    }
    let bytes = bytes.ok_or_else(|| ApiError::invalid_field("file", "a `file` part is required"))?;
    Ok(Upload { bytes, file_name, fields })
}

impl Upload {
    /// The document's kind, recognised by content; 415 for anything else.
    pub fn kind(&self) -> Result<DocumentKind, ApiError> {
        DocumentKind::sniff(&self.bytes).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_file_type",
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
                "unsupported_file_type",
                "A result is a PDF document.",
            )),
        }
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
