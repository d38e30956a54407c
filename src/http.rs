//! Cross-cutting HTTP behaviour: every error body is problem+json, every
//! response names its request id.

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
