//! Cross-cutting HTTP behaviour: every error body is problem+json, every
//! response names its request id and carries the security headers; the
//! client's address; downloads' `Content-Disposition`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{HttpMessage, ResponseError};
use futures_util::{Stream, StreamExt};
use tracing_actix_web::RequestId;

use crate::domain::throttle::BodyPace;
use crate::error::{ApiError, PROBLEM_JSON, ProblemCode};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// An encoded NUL in the path names nothing; in the query it is no valid
/// filter (and some backends cannot even compare against it).
fn nul_in_uri(req: &ServiceRequest) -> Option<ApiError> {
    let has_nul = |s: &str| s.to_ascii_lowercase().contains("%00");
    if has_nul(req.path()) {
        Some(ApiError::not_found())
    } else if req.query_string().contains('%') && has_nul(req.query_string()) {
        Some(ApiError::bad_request(ProblemCode::InvalidQuery, "The query string may not contain NUL characters."))
    } else {
        None
    }
}

/// Rewrites error responses that actix produced without a problem body
/// (wrong method, payload limits outside JSON…) into problem+json, and adds
/// `x-request-id`.
pub async fn envelope(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let request_id = req.extensions().get::<RequestId>().map(|id| id.to_string());
    let rejected = nul_in_uri(&req);
    let mut res = if let Some(problem) = rejected {
        req.into_response(problem.error_response()).map_into_right_body()
    } else {
        problem_bodies(next.call(req).await?)
    };
    if let Some(id) = request_id.and_then(|id| HeaderValue::from_str(&id).ok()) {
        res.headers_mut().insert(REQUEST_ID, id);
    }
    for (name, value) in SECURITY_HEADERS {
        res.headers_mut().insert(HeaderName::from_static(name), HeaderValue::from_static(value));
    }
    Ok(res)
}

fn problem_bodies<B>(res: ServiceResponse<B>) -> ServiceResponse<EitherBody<B>> {
    let status = res.status();
    let is_problem = res.headers().get(CONTENT_TYPE).is_some_and(|v| v == PROBLEM_JSON);
    if (status.is_client_error() || status.is_server_error()) && !is_problem {
        let (req, old) = res.into_parts();
        let mut fresh = ApiError::from_status(status).error_response();
        // Keep headers such as `Allow` on a 405.
        for (name, value) in old.headers() {
            if name != CONTENT_TYPE && name != actix_web::http::header::CONTENT_LENGTH {
                fresh.headers_mut().insert(name.clone(), value.clone());
            }
        }
        ServiceResponse::new(req, fresh).map_into_right_body()
    } else {
        res.map_into_left_body()
    }
}

/// Every request body arrives at the pace `http.body_*` settings demand
/// (`domain::throttle::BodyPace`), or its reader gets `body_timeout` and the
/// connection is closed: a client trickling bytes cannot hold a connection.
pub async fn pace_body(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if let Some(state) = req.app_data::<actix_web::web::Data<crate::app::AppState>>() {
        let pace = state.settings.http.body_pace();
        let body = req.take_payload();
        req.set_payload(Payload::Stream { payload: Box::pin(Paced::new(body, pace)) });
    }
    next.call(req).await
}

/// A request body that fails with `TimedOut` once it falls behind its pace.
struct Paced<S> {
    body: S,
    pace: BodyPace,
    started: Instant,
    received: u64,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    failed: bool,
}

impl<S> Paced<S> {
    fn new(body: S, pace: BodyPace) -> Self {
        Self { body, pace, started: Instant::now(), received: 0, timer: None, failed: false }
    }
}

impl<S> Stream for Paced<S>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.failed {
            return Poll::Ready(None);
        }
        match self.body.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                self.received += chunk.len() as u64;
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Pending => {
                let deadline = tokio::time::Instant::from_std(self.started + self.pace.deadline(self.received));
                let timer = self.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if timer.deadline() != deadline {
                    timer.as_mut().reset(deadline);
                }
                if timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.failed = true;
                let slow = std::io::Error::new(std::io::ErrorKind::TimedOut, "request body too slow");
                Poll::Ready(Some(Err(PayloadError::Io(slow))))
            }
            other => other,
        }
    }
}

/// The problem for a request body that could not be read: 408 when it came
/// too slowly (`pace_body`), 400 otherwise.
pub fn body_error(e: &PayloadError) -> ApiError {
    match e {
        PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => ApiError::new(
            actix_web::http::StatusCode::REQUEST_TIMEOUT,
            ProblemCode::BodyTimeout,
            "The request body arrived too slowly and was cut off; send it again on a faster connection.",
        ),
        _ => ApiError::bad_request(ProblemCode::MalformedBody, "The request body could not be read."),
    }
}

/// `Content-Disposition: attachment` for a download named `file_name`
/// (RFC 6266): `filename*` carries the name in UTF-8 — Vietnamese file names
/// intact — and `filename` an ASCII fallback for old clients.
pub fn attachment(file_name: &str) -> actix_web::http::header::ContentDisposition {
    use actix_web::http::header::{Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue};
    let ascii: String = deunicode::deunicode(file_name)
        .chars()
        .map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' })
        .collect();
    ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![
            DispositionParam::Filename(ascii),
            DispositionParam::FilenameExt(ExtendedValue {
                charset: Charset::Ext("UTF-8".into()),
                language_tag: None,
                value: file_name.as_bytes().to_vec(),
            }),
        ],
    }
}

/// A download's body in the API document: a file's bytes (`type: string,
/// format: binary`), which generated clients hand over as a file.
pub struct Binary;

impl utoipa::PartialSchema for Binary {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl utoipa::ToSchema for Binary {}

/// A stored document as a download, streamed from disk in bounded memory
/// (with `Range` support), named `file_name`, with its SHA-256 as the ETag.
pub fn send_file(
    req: &actix_web::HttpRequest,
    file: std::fs::File,
    content_type: &str,
    file_name: &str,
    sha256: &str,
) -> Result<actix_web::HttpResponse, ApiError> {
    let mime: mime::Mime = content_type.parse().map_err(ApiError::internal)?;
    let mut response = actix_files::NamedFile::from_file(file, file_name)
        .map_err(ApiError::storage)?
        .set_content_type(mime)
        .set_content_disposition(attachment(file_name))
        .use_etag(false)
        .use_last_modified(false)
        .into_response(req);
    let etag = format!("\"{sha256}\"").try_into().map_err(ApiError::internal)?;
    response.headers_mut().insert(actix_web::http::header::ETAG, etag);
    Ok(response)
}

/// Headers on every answer: no content sniffing (a stored file is served as
/// its recognised type, never as what a browser guesses), and a policy that
/// lets nothing served here run or load anything, nor be framed.
const SECURITY_HEADERS: [(&str, &str); 2] = [
    ("x-content-type-options", "nosniff"),
    ("content-security-policy", "default-src 'none'; frame-ancestors 'none'; sandbox"),
];

/// The client's address: the peer's, or, when the peer is a trusted proxy
/// (`http.trusted_proxies`), the nearest untrusted address that the proxies
/// recorded in `Forwarded` (RFC 7239) or else `X-Forwarded-For`.
pub fn client_address(req: &actix_web::HttpRequest) -> Option<std::net::IpAddr> {
    let peer = req.peer_addr()?.ip();
    let trusted = req
        .app_data::<actix_web::web::Data<crate::app::AppState>>()
        .map(|s| s.settings.http.trusted_proxies.as_slice())
        .unwrap_or_default();
    Some(forwarded_client(peer, trusted, req.headers()))
}

fn forwarded_client(
    peer: std::net::IpAddr,
    trusted: &[ipnet::IpNet],
    headers: &actix_web::http::header::HeaderMap,
) -> std::net::IpAddr {
    let is_trusted = |ip: &std::net::IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let values = |name: &str| -> Vec<String> {
        headers.get_all(name).filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).map(str::to_string).collect()
    };
    let forwarded: Vec<std::net::IpAddr> = values("forwarded")
        .iter()
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (key, value) = pair.trim().split_once('=')?;
                key.eq_ignore_ascii_case("for").then(|| parse_node(value))?
            })
        })
        .collect();
    let hops = if forwarded.is_empty() {
        values("x-forwarded-for").iter().filter_map(|v| parse_node(v)).collect()
    } else {
        forwarded
    };
    // From the nearest hop outwards: the first address no trusted proxy holds.
    hops.into_iter().rev().find(|ip| !is_trusted(ip)).unwrap_or(peer)
}

/// An address as a proxy writes it: `192.0.2.1`, `"[2001:db8::1]:4711"`, `192.0.2.1:80`.
fn parse_node(raw: &str) -> Option<std::net::IpAddr> {
    let v = raw.trim().trim_matches('"');
    if let Ok(ip) = v.parse() {
        return Some(ip);
    }
    if let Some(rest) = v.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    v.parse::<std::net::SocketAddr>().ok().map(|s| s.ip())
}

/// The request's `Idempotency-Key` (1 to 200 visible characters), if any:
/// repeating a create with it returns what the first one created
/// (`POST /dossiers`, `POST /complaints`).
pub fn idempotency_key(req: &actix_web::HttpRequest) -> Result<Option<String>, ApiError> {
    match req.headers().get("idempotency-key").map(|v| v.to_str()) {
        None => Ok(None),
        Some(Ok(k)) if (1..=200).contains(&k.len()) => Ok(Some(k.to_string())),
        Some(_) => {
            Err(ApiError::bad_request(ProblemCode::InvalidHeader, "Idempotency-Key is 1 to 200 visible characters."))
        }
    }
}

/// What makes two requests with one `Idempotency-Key` the same: the hash of
/// their body's canonical JSON.
pub fn fingerprint(body: &impl serde::Serialize) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(serde_json::to_vec(body).expect("serialisable")))
}

/// 422 `idempotency_key_reused`: the key was used with another request.
pub fn idempotency_key_reused() -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
        ProblemCode::IdempotencyKeyReused,
        "This Idempotency-Key was used with a different request.",
    )
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let proxy: std::net::IpAddr = "10.0.0.5".parse().unwrap();
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        let xff = headers(&[("x-forwarded-for", "203.0.113.9, 198.51.100.7")]);
        // From an untrusted peer the headers mean nothing.
        let stranger: std::net::IpAddr = "192.0.2.44".parse().unwrap();
        assert_eq!(forwarded_client(stranger, &trusted, &xff), stranger);
        // From the proxy: the nearest untrusted hop, not the spoofable first one.
        assert_eq!(forwarded_client(proxy, &trusted, &xff), "198.51.100.7".parse::<std::net::IpAddr>().unwrap());
        let chain = headers(&[("x-forwarded-for", "203.0.113.9, 10.0.0.7")]);
        assert_eq!(forwarded_client(proxy, &trusted, &chain), "203.0.113.9".parse::<std::net::IpAddr>().unwrap());
        let rfc = headers(&[("forwarded", r#"for=192.0.2.60;proto=http, for="[2001:db8:cafe::17]:4711""#)]);
        assert_eq!(forwarded_client(proxy, &trusted, &rfc), "2001:db8:cafe::17".parse::<std::net::IpAddr>().unwrap());
        assert_eq!(forwarded_client(proxy, &trusted, &headers(&[("x-forwarded-for", "garbage")])), proxy);
        assert_eq!(forwarded_client(proxy, &[], &xff), proxy, "no trusted proxies: the peer");
    }
}
