//! A small but real SMTP server for the tests: it listens on a free loopback
//! port, speaks EHLO/HELO, AUTH PLAIN, MAIL FROM, RCPT TO, DATA, RSET, NOOP
//! and QUIT, records every message it accepts, and can be stopped (the port
//! then refuses connections) and started again on the same port.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mail_parser::{MessageParser, PartType};

/// A message as the server received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// The envelope: `MAIL FROM` and `RCPT TO`.
    pub from: String,
    pub to: Vec<String>,
    /// The user name of `AUTH PLAIN`, if the client authenticated.
    pub auth: Option<String>,
    pub data: String,
}

/// A received message, parsed.
#[derive(Debug, Clone)]
pub struct Mail {
    pub envelope_to: Vec<String>,
    pub auth: Option<String>,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub message_id: String,
    /// The text/plain part.
    pub text: String,
    /// The text/html part.
    pub html: String,
}

impl Mail {
    fn parse(r: &Received) -> Self {
        let msg = MessageParser::default().parse(r.data.as_bytes()).expect("a parsable message");
        let addr = |a: Option<&mail_parser::Address>| {
            a.and_then(|a| a.first()).and_then(|a| a.address()).unwrap_or_default().to_string()
        };
        let part = |html: bool| -> String {
            let found: Vec<String> = msg
                .parts
                .iter()
                .filter_map(|p| match (&p.body, html) {
                    (PartType::Text(t), false) | (PartType::Html(t), true) => Some(t.replace("\r\n", "\n")),
                    _ => None,
                })
                .collect();
            assert_eq!(found.len(), 1, "exactly one {} part", if html { "HTML" } else { "text" });
            found.into_iter().next().unwrap()
        };
        Self {
            envelope_to: r.to.clone(),
            auth: r.auth.clone(),
            from: addr(msg.from()),
            to: addr(msg.to()),
            subject: msg.subject().unwrap_or_default().to_string(),
            message_id: msg.message_id().unwrap_or_default().to_string(),
            text: part(false),
            html: part(true),
        }
    }

    /// The links of the text part.
    pub fn links(&self) -> Vec<String> {
        self.text
            .split_whitespace()
            .filter(|w| w.starts_with("http://") || w.starts_with("https://"))
            .map(str::to_string)
            .collect()
    }
}

struct Running {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

pub struct SmtpSink {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    running: Option<Running>,
}

impl SmtpSink {
    /// Starts on a free loopback port.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = listener.local_addr().unwrap().port();
        let mut sink = Self { port, received: Arc::default(), running: None };
        sink.serve(listener);
        sink
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops listening: connections are refused until `restart`.
    pub fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop.store(true, Ordering::SeqCst);
            running.thread.join().expect("the accept loop ends");
        }
    }

    /// Listens again on the same port.
    pub fn restart(&mut self) {
        assert!(self.running.is_none(), "the sink is running");
        let listener = TcpListener::bind(("127.0.0.1", self.port)).expect("the sink's port is free again");
        self.serve(listener);
    }

    fn serve(&mut self, listener: TcpListener) {
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, received) = (stop.clone(), self.received.clone());
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let received = received.clone();
                        std::thread::spawn(move || {
                            let _ = session(stream, &received);
                        });
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(5)),
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        self.running = Some(Running { stop, thread });
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Every message received so far, parsed.
    pub fn mails(&self) -> Vec<Mail> {
        self.received().iter().map(Mail::parse).collect()
    }

    /// The messages sent to `address`.
    pub fn mails_to(&self, address: &str) -> Vec<Mail> {
        self.mails().into_iter().filter(|m| m.envelope_to.iter().any(|t| t == address)).collect()
    }

    /// Waits (a bounded time) until `n` messages have arrived; returns them.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Mail> {
        let deadline = Instant::now() + within;
        while self.received.lock().unwrap().len() < n && Instant::now() < deadline {
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
        self.mails()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

fn address(arg: &str) -> String {
    arg.trim().trim_start_matches('<').split('>').next().unwrap_or_default().to_string()
}

fn reply(out: &mut TcpStream, text: &str) -> io::Result<()> {
    out.write_all(format!("{text}\r\n").as_bytes())
}

fn session(stream: TcpStream, received: &Mutex<Vec<Received>>) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    reply(&mut out, "220 sink.motcua.test ESMTP test sink")?;
    let (mut from, mut to, mut auth) = (String::new(), Vec::new(), None);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let command = line.trim_end_matches(['\r', '\n']);
        let verb = command.split(' ').next().unwrap_or_default().to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => reply(&mut out, "250-sink.motcua.test\r\n250-AUTH PLAIN\r\n250 8BITMIME")?,
            "HELO" => reply(&mut out, "250 sink.motcua.test")?,
            "AUTH" => {
                let mut initial = command.get("AUTH PLAIN".len()..).unwrap_or_default().trim().to_string();
                if initial.is_empty() {
                    reply(&mut out, "334 ")?;
                    reader.read_line(&mut initial)?;
                }
                let decoded = STANDARD.decode(initial.trim()).unwrap_or_default();
                let fields: Vec<String> =
                    decoded.split(|b| *b == 0).map(|f| String::from_utf8_lossy(f).into_owned()).collect();
                auth = fields.get(1).cloned();
                reply(&mut out, "235 2.7.0 Authentication successful")?;
            }
            "MAIL" => {
                from = address(command.split_once(':').map_or("", |(_, a)| a));
                to.clear();
                reply(&mut out, "250 2.1.0 OK")?;
            }
            "RCPT" => {
                to.push(address(command.split_once(':').map_or("", |(_, a)| a)));
                reply(&mut out, "250 2.1.5 OK")?;
            }
            "DATA" => {
                reply(&mut out, "354 End data with <CR><LF>.<CR><LF>")?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if reader.read_line(&mut line)? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    // Undo dot-stuffing.
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                }
                received.lock().unwrap().push(Received {
                    from: std::mem::take(&mut from),
                    to: std::mem::take(&mut to),
                    auth: auth.clone(),
                    data,
                });
                reply(&mut out, "250 2.0.0 Queued")?;
            }
            "RSET" => {
                from.clear();
                to.clear();
                reply(&mut out, "250 2.0.0 OK")?;
            }
            "NOOP" => reply(&mut out, "250 2.0.0 OK")?,
            "QUIT" => {
                reply(&mut out, "221 2.0.0 Bye")?;
                return Ok(());
            }
            _ => reply(&mut out, "502 5.5.2 Command not recognised")?,
        }
    }
}
