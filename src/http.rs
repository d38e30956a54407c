//! Cross-cutting HTTP behaviour: every error body is problem+json, every
//! response names its request id and carries the security headers; the
//! client's address; downloads' `Content-Disposition`.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError};
use tracing_actix_web::RequestId;

use crate::error::{ApiError, PROBLEM_JSON};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// An encoded NUL in the path names nothing; in the query it is no valid
/// filter (and some backends cannot even compare against it).
fn nul_in_uri(req: &ServiceRequest) -> Option<ApiError> {
    let has_nul = |s: &str| s.to_ascii_lowercase().contains("%00");
    if has_nul(req.path()) {
        Some(ApiError::not_found())
    } else if req.query_string().contains('%') && has_nul(req.query_string()) {
        Some(ApiError::bad_request("invalid_query", "The query string may not contain NUL characters."))
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
