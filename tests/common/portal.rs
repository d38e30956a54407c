//! A small but real HTTP server that plays the national portal for the
//! tests: it records every request it gets (method, path, headers, body)
//! and answers as told — accept, 500, a refusal in the portal's own way
//! (`error_code` 1), hang past the client's timeout, or close the
//! connection without a word — and serves documents at paths the test
//! names. It can be stopped (the port then refuses connections) and
//! started again on the same port, and it can speak TLS, asking for a
//! client certificate (`start_tls`).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How the portal answers a sync record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Accept,
    /// 500 Internal Server Error.
    Fail,
    /// 200 with `{"error_code": "1"}`: a refusal for good.
    Refuse,
    /// 401: the credentials are refused.
    Unauthorized,
    /// Reads the request and never answers.
    Hang,
    /// Closes the connection without answering.
    Drop,
}

/// A request as the server received it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    /// What the server answered (0: nothing).
    pub answered: u16,
    /// A sync record it accepted.
    pub accepted: bool,
    /// It came over TLS with a client certificate.
    pub certified: bool,
}

impl Request {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

#[derive(Default)]
struct Inner {
    mode: Option<Mode>,
    requests: Vec<Request>,
    documents: HashMap<String, Vec<u8>>,
}

pub struct PortalSink {
    port: u16,
    inner: Arc<Mutex<Inner>>,
    running: Arc<AtomicBool>,
    tls: Option<Arc<rustls::ServerConfig>>,
}

impl PortalSink {
    pub fn start() -> Self {
        Self::listen(None)
    }

    /// A sink speaking TLS with `config` (which may require a client certificate).
    pub fn start_tls(config: rustls::ServerConfig) -> Self {
        Self::listen(Some(Arc::new(config)))
    }

    fn listen(tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = listener.local_addr().unwrap().port();
        let sink = Self { port, inner: Arc::default(), running: Arc::new(AtomicBool::new(true)), tls };
        sink.serve(listener);
        sink
    }

    fn serve(&self, listener: TcpListener) {
        let (inner, running, tls) = (self.inner.clone(), self.running.clone(), self.tls.clone());
        listener.set_nonblocking(true).unwrap();
        std::thread::spawn(move || {
            while running.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (inner, tls) = (inner.clone(), tls.clone());
                        stream.set_nonblocking(false).unwrap();
                        stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
                        std::thread::spawn(move || match tls {
                            None => handle(stream, &inner, false),
                            Some(config) => {
                                let connection = rustls::ServerConnection::new(config).unwrap();
                                let mut tls = rustls::StreamOwned::new(connection, stream);
                                // The handshake, before anything is read: a
                                // client without an acceptable certificate
                                // is refused here and recorded nowhere.
                                while tls.conn.is_handshaking() {
                                    if tls.conn.complete_io(&mut tls.sock).is_err() {
                                        return;
                                    }
                                }
                                let certified = tls.conn.peer_certificates().is_some_and(|c| !c.is_empty());
                                handle(tls, &inner, certified)
                            }
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
    }

    /// `http://127.0.0.1:port`, or `https://localhost:port` with TLS.
    pub fn origin(&self) -> String {
        match self.tls {
            None => format!("http://127.0.0.1:{}", self.port),
            Some(_) => format!("https://localhost:{}", self.port),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin())
    }

    pub fn set_mode(&self, mode: Mode) {
        self.inner.lock().unwrap().mode = Some(mode);
    }

    /// Serves `bytes` at `path` (GET).
    pub fn serve_document(&self, path: &str, bytes: Vec<u8>) {
        self.inner.lock().unwrap().documents.insert(path.to_string(), bytes);
    }

    pub fn requests(&self) -> Vec<Request> {
        self.inner.lock().unwrap().requests.clone()
    }

    /// The sync records it accepted, in order.
    pub fn accepted(&self) -> Vec<Value> {
        self.requests().into_iter().filter(|r| r.accepted).map(|r| r.json()).collect()
    }

    /// The accepted records once there are `n`, waiting at most `within`.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Value> {
        let deadline = Instant::now() + within;
        loop {
            let accepted = self.accepted();
            if accepted.len() >= n || Instant::now() > deadline {
                return accepted;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops listening: the port refuses connections until `restart`.
    pub fn stop(&mut self) {
        self.running.store(false, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(50));
    }

    pub fn restart(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)) {
                Ok(l) => break l,
                Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => panic!("rebinding port {}: {e}", self.port),
            }
        };
        self.running = Arc::new(AtomicBool::new(true));
        self.serve(listener);
    }
}

fn handle(mut stream: impl Read + Write, inner: &Mutex<Inner>, certified: bool) {
    let mut reader = BufReader::new(&mut stream);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or_default().to_string(), parts.next().unwrap_or_default().to_string());
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let length: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok();
    drop(reader);
    let (mode, document) = {
        let inner = inner.lock().unwrap();
        (inner.mode.unwrap_or(Mode::Accept), inner.documents.get(&path).cloned())
    };
    let (status, reply): (u16, Vec<u8>) = if method == "GET" {
        match document {
            Some(bytes) => (200, bytes),
            None => (404, b"not found".to_vec()),
        }
    } else {
        match mode {
            Mode::Accept => (200, br#"{"error_code":"0","message":"OK"}"#.to_vec()),
            Mode::Refuse => (200, br#"{"error_code":"1","message":"MaTTHC khong ton tai"}"#.to_vec()),
            Mode::Fail => (500, b"internal error".to_vec()),
            Mode::Unauthorized => (401, b"token expired".to_vec()),
            Mode::Hang | Mode::Drop => (0, Vec::new()),
        }
    };
    let accepted = mode == Mode::Accept && method == "POST";
    inner.lock().unwrap().requests.push(Request { method, path, headers, body, answered: status, accepted, certified });
    match (status, mode) {
        (0, Mode::Hang) => std::thread::sleep(Duration::from_secs(30)),
        (0, _) => {}
        _ => {
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                reply.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&reply);
            let _ = stream.flush();
        }
    }
}
