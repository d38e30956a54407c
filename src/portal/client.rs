//! The national portal over HTTPS: delivers sync records (the outbox's
//! portal channel, `src/notify/worker.rs`) and fetches the documents of
//! dossiers filed there. Authentication is configuration (`[portal]`): a
//! bearer token or basic credentials, with an optional client certificate
//! and an extra authority to trust. Redirects are never followed.

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use diesel::QueryResult;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};

use crate::config::PortalSettings;
use crate::db::DbConnection;
use crate::notify::outbox::{Channel, OutboxRow};
use crate::notify::worker::{Failure, Transport};
use crate::storage::{FileStore, Hashing};

enum Auth {
    None,
    Bearer(SecretString),
    Basic(String, SecretString),
}

pub struct PortalClient {
    http: reqwest::Client,
    sync_url: Option<String>,
    /// `scheme://host[:port]` documents may come from.
    document_origin: Option<reqwest::Url>,
    auth: Auth,
    /// The credentials go with document requests too: the documents come
    /// from the origin of `sync_url`.
    auth_documents: bool,
}

/// Why a document could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("documents are fetched only from the portal's own address")]
    ForeignOrigin,
    #[error("the portal answered {0}")]
    Status(u16),
    #[error("the document is larger than {0} bytes")]
    TooLarge(u64),
    #[error("the portal could not be reached: {0}")]
    Unreachable(String),
    #[error("the document could not be stored: {0}")]
    Storage(#[from] std::io::Error),
}

/// rustls's cryptography: the ring provider (which lettre also uses),
/// installed once per process. reqwest (built without a provider of its
/// own) needs it before any client is built: [`PortalClient::new`] calls
/// it, and so must a process that builds other clients first.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl PortalClient {
    pub fn new(s: &PortalSettings) -> anyhow::Result<Self> {
        install_crypto();
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(s.timeout_secs))
            .connect_timeout(Duration::from_secs(s.timeout_secs.min(10)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("motcua/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &s.ca_certificate {
            let pem = std::fs::read(path).with_context(|| format!("portal.ca_certificate {}", path.display()))?;
            for cert in reqwest::Certificate::from_pem_bundle(&pem).context("portal.ca_certificate")? {
                builder = builder.add_root_certificate(cert);
            }
        }
        if let Some(path) = &s.client_certificate {
            let pem = std::fs::read(path).with_context(|| format!("portal.client_certificate {}", path.display()))?;
            builder = builder.identity(reqwest::Identity::from_pem(&pem).context("portal.client_certificate")?);
        }
        let auth = match (&s.bearer_token, &s.username, &s.password) {
            (Some(token), _, _) => Auth::Bearer(token.clone()),
            (None, Some(user), Some(password)) => Auth::Basic(user.clone(), password.clone()),
            _ => Auth::None,
        };
        let parse = |u: &str| reqwest::Url::parse(u).context("portal.sync_url, portal.document_origin");
        let sync_origin = s.sync_url.as_deref().map(parse).transpose()?.map(|u| u.origin());
        let document_origin = s.document_origin.as_deref().or(s.sync_url.as_deref()).map(parse).transpose()?;
        let auth_documents = sync_origin.is_some() && document_origin.as_ref().map(|u| u.origin()) == sync_origin;
        Ok(Self { http: builder.build()?, sync_url: s.sync_url.clone(), document_origin, auth, auth_documents })
    }

    fn authorised(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.auth {
            Auth::None => request,
            Auth::Bearer(token) => request.bearer_auth(token.expose_secret()),
            Auth::Basic(user, password) => request.basic_auth(user, Some(password.expose_secret())),
        }
    }

    /// Whether `url` is on the portal's document origin: same scheme, host
    /// and port, no credentials in it.
    pub fn may_fetch(&self, url: &str) -> bool {
        let (Some(origin), Ok(url)) = (&self.document_origin, reqwest::Url::parse(url)) else { return false };
        url.scheme() == origin.scheme()
            && url.host_str() == origin.host_str()
            && url.port_or_known_default() == origin.port_or_known_default()
            && url.username().is_empty()
            && url.password().is_none()
    }

    /// Fetches the document at `url` (on the portal's origin) into a
    /// temporary file of `files`, hashed as it streams, at most `max` bytes.
    pub async fn fetch(&self, url: &str, files: &dyn FileStore, max: u64) -> Result<Hashing, FetchError> {
        if !self.may_fetch(url) {
            return Err(FetchError::ForeignOrigin);
        }
        let request = self.http.get(url);
        let request = if self.auth_documents { self.authorised(request) } else { request };
        let mut response = request.send().await.map_err(|e| FetchError::Unreachable(without_url(e)))?;
        if response.status() != StatusCode::OK {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        if response.content_length().is_some_and(|n| n > max) {
            return Err(FetchError::TooLarge(max));
        }
        let mut sink = Hashing::new(Some(files.incoming()?));
        let mut gathered: Vec<u8> = Vec::new();
        loop {
            let chunk = response.chunk().await.map_err(|e| FetchError::Unreachable(without_url(e)))?;
            let done = chunk.is_none();
            if let Some(bytes) = chunk {
                if sink.size() + (gathered.len() + bytes.len()) as u64 > max {
                    return Err(FetchError::TooLarge(max));
                }
                gathered.extend_from_slice(&bytes);
            }
            // Written out off the async workers, 64 KiB at a time (as uploads are, src/upload.rs).
            if gathered.len() >= 64 * 1024 || (done && !gathered.is_empty()) {
                let chunk = std::mem::take(&mut gathered);
                sink = tokio::task::spawn_blocking(move || sink.write_all(&chunk).map(|_| sink))
                    .await
                    .map_err(|e| std::io::Error::other(e.to_string()))??;
            }
            if done {
                return Ok(sink);
            }
        }
    }
}

/// reqwest's error, without the URL it names (a document URL may carry a
/// token), fit to store: bounded length.
fn without_url(e: reqwest::Error) -> String {
    let timeout = e.is_timeout();
    let message = e.without_url().to_string();
    let message = if timeout { format!("timed out: {message}") } else { message };
    message.chars().take(300).collect()
}

impl Transport for PortalClient {
    const CHANNEL: Channel = Channel::Portal;

    /// Posts the record with its id as `Idempotency-Key`. A 2xx whose body
    /// says an `error_code` other than `0` (how the portal's services answer
    /// a refusal), or a 400, 409, 410, 413, 415 or 422, refuses this record
    /// for good; 5xx, 408 and 429 are retried; 401, 403, 404 and 405 — the
    /// credentials or the address are wrong, not the record — and no answer
    /// at all are an outage: the channel pauses instead of giving up on
    /// record after record.
    /// Builds the records claimed for the first time (`record::build`).
    fn prepare(conn: &mut DbConnection, rows: &mut [OutboxRow]) -> QueryResult<()> {
        super::record::build(conn, rows)
    }

    async fn send(&self, row: &OutboxRow) -> Result<(), Failure> {
        let url = self.sync_url.as_deref().ok_or_else(|| Failure {
            permanent: false,
            outage: true,
            message: "portal.sync_url is not configured".into(),
        })?;
        let request = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", &row.id)
            .body(row.text_body.clone());
        let response = self.authorised(request).send().await.map_err(|e| Failure {
            permanent: false,
            outage: true,
            message: without_url(e),
        })?;
        let status = response.status();
        let body = answer(response).await;
        let said: String = body.chars().take(300).collect();
        if status.is_success() {
            let refused = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| match v.get("error_code") {
                    Some(serde_json::Value::String(code)) => Some(code.clone()),
                    Some(serde_json::Value::Number(code)) => Some(code.to_string()),
                    _ => None,
                })
                .filter(|code| code != "0");
            return match refused {
                None => Ok(()),
                Some(code) => Err(Failure {
                    permanent: true,
                    outage: false,
                    message: format!("the portal refused the record (error_code {code}): {said}"),
                }),
            };
        }
        let message = format!("the portal answered {status}: {said}");
        let outage = matches!(status.as_u16(), 401 | 403 | 404 | 405);
        let permanent = matches!(status.as_u16(), 400 | 409 | 410 | 413 | 415 | 422);
        Err(Failure { permanent, outage, message })
    }
}

/// The first 4 KiB of an answer's body, as text: enough to say why, and
/// never more whatever the portal sends.
async fn answer(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk[..chunk.len().min(4096 - body.len())]);
        if body.len() >= 4096 {
            break;
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}
