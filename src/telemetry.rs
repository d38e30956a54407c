//! Structured logs through tracing: human-readable or JSON.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber; `RUST_LOG` overrides the configured filter.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.filter));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match settings.format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Pretty => builder.init(),
    }
}

/// Query parameters whose values never reach a log line: national IDs (the
/// public lookup), the single-use tokens of e-mailed links, secrets.
const SENSITIVE_QUERY_KEYS: [&str; 5] = ["national_id", "token", "password", "refresh_token", "secret"];

/// `path?query` with the values of [`SENSITIVE_QUERY_KEYS`] replaced by `[redacted]`.
pub fn redact_target(path: &str, query: Option<&str>) -> String {
    let Some(query) = query.filter(|q| !q.is_empty()) else { return path.to_string() };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if SENSITIVE_QUERY_KEYS.iter().any(|s| key.eq_ignore_ascii_case(s)) => {
                format!("{key}=[redacted]")
            }
            _ => pair.to_string(),
        })
        .collect();
    format!("{path}?{}", pairs.join("&"))
}

/// The request span of every log line: tracing-actix-web's fields, but the
/// target with its sensitive query values redacted and the client address
/// as `http::client_address` sees it (forwarded headers only from trusted
/// proxies).
pub struct RedactingRootSpan;

impl tracing_actix_web::RootSpanBuilder for RedactingRootSpan {
    fn on_request_start(request: &actix_web::dev::ServiceRequest) -> tracing::Span {
        use actix_web::HttpMessage;
        let route = request.match_pattern().unwrap_or_else(|| "default".into());
        let target = redact_target(request.path(), Some(request.query_string()));
        let client = crate::http::client_address(request.request()).map(|a| a.to_string()).unwrap_or_default();
        let request_id =
            request.extensions().get::<tracing_actix_web::RequestId>().map(ToString::to_string).unwrap_or_default();
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %route,
            http.target = %target,
            http.client_ip = %client,
            request_id = %request_id,
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: actix_web::body::MessageBody>(
        span: tracing::Span,
        outcome: &Result<actix_web::dev::ServiceResponse<B>, actix_web::Error>,
    ) {
        tracing_actix_web::DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_query_values_are_redacted() {
        assert_eq!(
            redact_target("/api/v1/lookup", Some("code=193-261130-0001&national_id=022095001234")),
            "/api/v1/lookup?code=193-261130-0001&national_id=[redacted]"
        );
        assert_eq!(
            redact_target("/api/v1/auth/verify-email", Some("TOKEN=abc")),
            "/api/v1/auth/verify-email?TOKEN=[redacted]"
        );
        assert_eq!(redact_target("/api/v1/units", Some("q=ha")), "/api/v1/units?q=ha");
        assert_eq!(redact_target("/healthz", None), "/healthz");
    }
}
